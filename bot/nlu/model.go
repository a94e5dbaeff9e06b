// Package nlu is an embedded intent classifier for chat messages, in pure
// Go: it learns a tenant's intents from a few examples each, in seconds,
// and tells which intent a new message expresses, how sure it is, whether
// the message is out of scope (about none of the intents), and whether it
// is Spanish or English.
//
// Texts are normalized (case, accents, punctuation, repeated letters, chat
// spellings), then described by TF-IDF weights of word n-grams,
// skip-bigrams and character n-grams (with thousands of examples, also of
// the words' stems, alone and in pairs). One linear support vector machine
// per intent (one-vs-rest, trained by dual coordinate descent) scores
// them; with thousands of examples, a small neural network (one hidden
// layer, trained by Adam with dropout) adds its log-probabilities to the
// scores, and the share of the text's words the model does not know is
// taken off them; a softmax with a scale fitted on held-out predictions
// turns the scores into probabilities; a threshold on the best probability
// (with thousands of examples, on the two best together) decides what is
// out of scope. Training is deterministic: the same examples,
// options and seed give byte-identical models, whatever the number of
// goroutines used.
package nlu

import (
	"math"
	"slices"
	"sync"
)

// Model is a trained intent classifier. A Model is never modified after
// Train or Load, and its methods are safe for concurrent use.
type Model struct {
	intents []string
	feat    *features
	// weights[k*len(intents)+c] is the weight of feature k for intent c,
	// times rowScale[k]; the last row is the bias.
	weights   []int16
	rowScale  []float32
	cal       calibration
	threshold float64
	net       *network // nil for none
	// unknown is taken off the score of every intent times the share of
	// the text's words that the model does not know (0 for none): text
	// about something else tends to have words no example has.
	unknown float64
	// twoBest makes the threshold apply to the two best probabilities
	// together (see Prediction.InScope).
	twoBest bool
	pool    *sync.Pool
}

// Prediction is what Classify makes of a text.
type Prediction struct {
	Intent     string  `json:"intent"`     // best intent, or "" when OutOfScope
	Confidence float64 `json:"confidence"` // calibrated probability of the best intent, 0..1
	// InScope is what the threshold applies to: Confidence, or, for a
	// model trained on thousands of examples, the two best probabilities
	// together, so that a text torn between two close intents is not
	// taken for one about none of them.
	InScope    float64 `json:"in_scope"`
	OutOfScope bool    `json:"out_of_scope"` // InScope is below the model's threshold
	Ranking    []Score `json:"ranking"`      // top intents, best first (at most 5)
	Language   string  `json:"language"`     // "es", "en" or "" (unknown)
}

// Score is the probability of one intent.
type Score struct {
	Intent     string  `json:"intent"`
	Confidence float64 `json:"confidence"`
}

// rankingSize is the most intents a Prediction ranks.
const rankingSize = 5

func newPool() *sync.Pool {
	return &sync.Pool{New: func() any { return new(scratch) }}
}

// Intents returns the intents the model knows, sorted.
func (m *Model) Intents() []string { return slices.Clone(m.intents) }

// Threshold returns the value of Prediction.InScope below which Classify
// reports a text as out of scope.
func (m *Model) Threshold() float64 { return m.threshold }

// WithThreshold returns a copy of m, sharing its weights, that uses the
// threshold t.
func (m *Model) WithThreshold(t float64) *Model {
	c := *m
	c.threshold = t
	return &c
}

// Classify returns the intents that text most likely expresses, best
// first, with their probabilities, and its language. Only the first 4 KiB
// of text are read. A text without words, or about none of the intents,
// gets a low confidence and is out of scope.
func (m *Model) Classify(text string) Prediction {
	s := m.pool.Get().(*scratch)
	defer m.pool.Put(s)
	if len(text) > maxTextBytes {
		text = text[:maxTextBytes]
	}
	s.norm = appendNormalized(s.norm[:0], text)
	probs := m.probabilities(s, s.norm)
	var p Prediction
	p.Language, _ = detectLanguage(text, s.norm)
	p.Ranking = make([]Score, 0, min(rankingSize, len(probs)))
	for range min(rankingSize, len(probs)) {
		best := -1
		for c, v := range probs {
			if v >= 0 && (best < 0 || v > probs[best]) {
				best = c
			}
		}
		p.Ranking = append(p.Ranking, Score{Intent: m.intents[best], Confidence: probs[best]})
		probs[best] = -1
	}
	p.Confidence = p.Ranking[0].Confidence
	p.InScope = p.Confidence
	if m.twoBest && len(p.Ranking) > 1 {
		p.InScope += p.Ranking[1].Confidence
	}
	p.OutOfScope = p.InScope < m.threshold
	if !p.OutOfScope {
		p.Intent = p.Ranking[0].Intent
	}
	return p
}

// scores sets s.scores to the linear scores of the normalized text.
func (m *Model) scores(s *scratch, norm []byte) []float64 {
	m.feat.vectorize(s, norm)
	sc := m.scoreVector(s)
	if m.net != nil {
		m.net.addTo(s, sc)
	}
	if m.unknown > 0 && s.words > 0 {
		p := m.unknown * float64(s.unknown) / float64(s.words)
		for c := range sc {
			sc[c] -= p
		}
	}
	return sc
}

// scoreVector sets s.scores to the linear scores of the vector in s,
// without the network's.
func (m *Model) scoreVector(s *scratch) []float64 {
	nc := len(m.intents)
	s.scores = slices.Grow(s.scores[:0], nc)[:nc]
	sc := s.scores
	nf := len(m.rowScale) - 1
	bias := m.weights[nf*nc:]
	bs := float64(m.rowScale[nf])
	for c := range sc {
		sc[c] = bs * float64(bias[c])
	}
	for i, k := range s.idx {
		v := float32(float64(s.val[i]) * float64(m.rowScale[k]))
		row := m.weights[int(k)*nc : int(k)*nc+nc]
		for c, w := range row {
			sc[c] += float64(v * float32(w))
		}
	}
	return sc
}

// probabilities returns the calibrated probabilities of the intents for
// the normalized text, in s.scores.
func (m *Model) probabilities(s *scratch, norm []byte) []float64 {
	sc := m.scores(s, norm)
	m.cal.apply(sc)
	return sc
}

// calibration turns linear scores into probabilities: a softmax of the
// scores times Scale, over the intents and a background "none of them"
// whose score is Background. A text whose scores are all low thus gets low
// probabilities, however they compare with each other.
type calibration struct {
	Scale, Background float64
}

// apply replaces the scores x by their probabilities.
func (c calibration) apply(x []float64) {
	hi := c.Background
	for _, v := range x {
		hi = max(hi, v)
	}
	sum := math.Exp(c.Scale * (c.Background - hi))
	for i, v := range x {
		x[i] = math.Exp(c.Scale * (v - hi))
		sum += x[i]
	}
	for i := range x {
		x[i] /= sum
	}
}

// quantize returns w (rows of nc weights) as int16 rows with one scale
// per row.
func quantize(w []float32, nc int) ([]int16, []float32) {
	rows := len(w) / nc
	q := make([]int16, len(w))
	scales := make([]float32, rows)
	for r := range rows {
		row := w[r*nc : r*nc+nc]
		hi := 0.0
		for _, v := range row {
			hi = max(hi, math.Abs(float64(v)))
		}
		if hi == 0 {
			continue
		}
		s := float32(hi / math.MaxInt16)
		scales[r] = s
		for c, v := range row {
			q[r*nc+c] = int16(max(-math.MaxInt16, min(math.MaxInt16, math.Round(float64(v)/float64(s)))))
		}
	}
	return q, scales
}

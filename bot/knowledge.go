package bot

import (
	"math"
	"strings"

	"conversa/bot/nlu"
)

// knowledgeIndex finds articles by their words (BM25 over title, questions
// and answer) when the classifier recognizes no intent.
type knowledgeIndex struct {
	docs  []kbDoc
	df    map[string]int
	avgdl float64
}

type kbDoc struct {
	id    string
	tf    map[string]int
	title map[string]bool
	n     int
}

// BM25 parameters, and what a match must reach to be an answer: a minimum
// score, and a minimum share of the question's content words found in the
// article (so that one shared word is not an answer).
const (
	bm25K1       = 1.2
	bm25B        = 0.75
	kbMinScore   = 1.5
	kbMinCovered = 0.6
)

func newKnowledgeIndex(articles []Article, lang string) *knowledgeIndex {
	ix := &knowledgeIndex{df: map[string]int{}}
	total := 0
	for _, a := range articles {
		d := kbDoc{id: a.ID, tf: map[string]int{}, title: map[string]bool{}}
		add := func(s string, title bool) {
			for _, w := range contentWords(s) {
				d.tf[w]++
				d.n++
				if title {
					d.title[w] = true
				}
			}
		}
		for _, t := range a.Title {
			add(t, true)
		}
		for _, xs := range a.Questions {
			for _, x := range xs {
				add(x, true)
			}
		}
		for _, t := range a.Answer {
			add(t, false)
		}
		for w := range d.tf {
			ix.df[w]++
		}
		total += d.n
		ix.docs = append(ix.docs, d)
	}
	if len(ix.docs) > 0 {
		ix.avgdl = float64(total) / float64(len(ix.docs))
	}
	return ix
}

// search returns the best article for a question, or "".
func (ix *knowledgeIndex) search(q string) (string, float64) {
	if ix == nil || len(ix.docs) == 0 {
		return "", 0
	}
	words := contentWords(q)
	if len(words) == 0 {
		return "", 0
	}
	best, bestScore, bestCovered := "", 0.0, 0.0
	n := float64(len(ix.docs))
	for _, d := range ix.docs {
		score, covered := 0.0, 0
		for _, w := range words {
			tf := float64(d.tf[w])
			if tf == 0 {
				continue
			}
			covered++
			idf := math.Log(1 + (n-float64(ix.df[w])+0.5)/(float64(ix.df[w])+0.5))
			s := idf * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*float64(d.n)/ix.avgdl))
			if d.title[w] {
				s *= 1.5
			}
			score += s
		}
		if score > bestScore {
			best, bestScore, bestCovered = d.id, score, float64(covered)/float64(len(words))
		}
	}
	if bestScore < kbMinScore || bestCovered < kbMinCovered {
		return "", bestScore
	}
	return best, bestScore
}

// contentWords returns the normalized words of s without stopwords, with
// a light plural folding.
func contentWords(s string) []string {
	var out []string
	for w := range strings.FieldsSeq(nlu.Normalize(s)) {
		if len(w) < 3 || stopwords[w] {
			continue
		}
		if len(w) > 4 && strings.HasSuffix(w, "es") {
			w = w[:len(w)-2]
		} else if len(w) > 3 && strings.HasSuffix(w, "s") {
			w = w[:len(w)-1]
		}
		out = append(out, w)
	}
	return out
}

var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for w := range strings.FieldsSeq(`
		que cual cuales como cuando donde quien para por con sin los las del una uno unos unas
		este esta estos estas ese esa eso esos esas hay son soy eres tiene tengo tienen puedo
		puede pueden quiero quisiera necesito saber mis tus sus nos les mas muy tambien pero
		porque pues entonces hola gracias favor usted ustedes ella ellos algo alguna alguno
		the and for are was were what which when where who how can could would should does did
		have has had you your yours our ours they them their this that these those there here
		with without from into about want need know please hello thanks any some will just not
	`) {
		m[w] = true
	}
	return m
}()

package nlu

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
)

// Example is one training text and the intent it expresses.
type Example struct {
	Text   string `json:"text"`
	Intent string `json:"intent"`
}

// Options tune Train and CrossValidate. The zero value of every field
// picks a default that suits both small tenant bots and data sets of
// thousands of examples; the defaults were chosen on the validation split
// of CLINC150.
type Options struct {
	// Seed makes training reproducible: the same examples, options and
	// Seed give byte-identical models.
	Seed int64
	// OutOfScope are optional texts that belong to no intent. Train uses
	// them to choose the threshold; they are not training examples.
	OutOfScope []string

	// Threshold, when above 0, is the model's threshold; otherwise Train
	// chooses it on held-out predictions (see TargetRejection).
	Threshold float64
	// TargetRejection is the share of in-scope texts that the threshold
	// Train chooses may reject, estimated on held-out predictions, when no
	// OutOfScope texts are given (default 0.03). With OutOfScope texts,
	// Train maximizes the mean of the in-scope accuracy and the share of
	// out-of-scope texts rejected, rejecting at most MaxRejection (default
	// 0.10) of the in-scope texts. Either way, with few held-out
	// predictions the threshold is drawn toward 0.5, as if 100 more
	// predictions had chosen 0.5.
	TargetRejection, MaxRejection float64
	// Scale multiplies the linear scores before the softmax that turns
	// them into probabilities, a softmax over the intents and a background
	// (none of them). With Scale 0, Train picks the background's score
	// among a few values as the one that best tells apart, on held-out
	// predictions, examples of known intents from out-of-scope texts and
	// examples of intents the held-out model left out; then it fits the
	// scale by maximum likelihood.
	Scale float64
	// Folds is the number of folds of the internal cross-validation that
	// fits Scale and Threshold (default 5). With more than 3,000 examples
	// only the first fold is held out, to keep training fast.
	Folds int

	// C is the cost of a training error in the linear SVMs (default 1);
	// PositiveWeight multiplies it for an intent's own examples (default
	// 2), against the imbalance of one-vs-rest.
	C, PositiveWeight float64
	// WordNgrams is the longest word n-gram, 1 to 3 (default 2).
	WordNgrams int
	// NoSkipBigrams turns off the pairs of a word and the word after next.
	NoSkipBigrams bool
	// NoStems turns off the features of word stems, which Train adds for
	// at least 3,000 examples: each word with its inflectional suffix
	// stripped ("charging" and "charges" give "charg"), alone and in
	// pairs of consecutive words.
	NoStems bool
	// CharMin and CharMax bound the length of the character n-grams taken
	// inside each word padded with spaces (default 2 and 4); CharMax < 0
	// turns them off.
	CharMin, CharMax int
	// CharWeight is the weight of the character n-grams against the words
	// (default 1).
	CharWeight float64
	// MinDF drops the features of fewer training texts than MinDF (default
	// 1).
	MinDF int
	// Workers bounds the goroutines Train uses (default GOMAXPROCS). It
	// does not change the model.
	Workers int

	// network is 1 to add a neural network to the SVMs, -1 not to, 0 to
	// add one for at least networkMinExamples examples.
	network int
	// unknown is the model's penalty for unknown words (see Model), < 0
	// for none, 0 for unknownPenalty with at least networkMinExamples
	// examples and none with fewer.
	unknown float64
	// stems is 1 to add the features of word stems, -1 not to, 0 to add
	// them for at least networkMinExamples examples (-1 with NoStems).
	stems int
	// tolerance is the SVMs' stopping tolerance, 0 for svmLooseTolerance
	// with at least networkMinExamples examples and svmTolerance with
	// fewer.
	tolerance float64
	// twoBest makes the threshold apply to the two best probabilities
	// together (see Prediction.InScope); forData sets it for at least
	// networkMinExamples examples.
	twoBest bool
}

// unknownPenalty is the penalty for unknown words of models trained on
// many examples, chosen on the validation split of CLINC150 (where it
// raised the out-of-scope recall by about 5 points at the same accuracy).
// It is 2 since the features of word stems, which made more words known
// and cost about 7 points of out-of-scope recall at the penalty of 1; 2
// won back 5 of them (seeds 1 to 3). With few examples many in-scope
// words are unknown too, so small bots have none.
const unknownPenalty = 2

func (o Options) withDefaults() Options {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.TargetRejection, 0.03)
	def(&o.MaxRejection, 0.10)
	def(&o.C, 1)
	def(&o.PositiveWeight, 2)
	def(&o.CharWeight, 1)
	o.CharWeight = min(o.CharWeight, maxCharWeight)
	o.unknown = min(o.unknown, maxUnknown)
	o.C = min(o.C, 1e3)
	o.PositiveWeight = min(o.PositiveWeight, 1e3)
	if o.Scale > 0 {
		o.Scale = max(minScale, min(o.Scale, maxScale))
	}
	if o.Folds < 2 {
		o.Folds = 5
	}
	if o.WordNgrams <= 0 {
		o.WordNgrams = 2
	}
	o.WordNgrams = min(o.WordNgrams, 3)
	if o.CharMin <= 0 {
		o.CharMin = 2
	}
	if o.CharMax == 0 {
		o.CharMax = 4
	}
	o.CharMax = min(o.CharMax, maxCharGram)
	o.CharMin = min(o.CharMin, maxCharGram)
	if o.CharMax < 0 || o.CharMax < o.CharMin {
		o.CharMax = 0
	}
	if o.MinDF <= 0 {
		o.MinDF = 1
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// forData settles what depends on the number of examples.
func (o Options) forData(d *dataset) Options {
	if o.network == 0 {
		o.network = -1
		if len(d.labels) >= networkMinExamples {
			o.network = 1
		}
	}
	if o.unknown == 0 {
		o.unknown = -1
		if len(d.labels) >= networkMinExamples {
			o.unknown = unknownPenalty
		}
	}
	if o.NoStems {
		o.stems = -1
	}
	if o.stems == 0 {
		o.stems = -1
		if len(d.labels) >= networkMinExamples {
			o.stems = 1
		}
	}
	o.twoBest = len(d.labels) >= networkMinExamples
	if o.tolerance <= 0 {
		o.tolerance = svmTolerance
		if len(d.labels) >= networkMinExamples {
			o.tolerance = svmLooseTolerance
		}
	}
	return o
}

// ErrInvalid is wrapped by the errors that Train, CrossValidate and Load
// return for input they cannot use.
var ErrInvalid = errors.New("invalid input")

// dataset is training data as the solvers use it.
type dataset struct {
	intents []string
	texts   [][]byte // normalized
	raw     []string
	labels  []int32
}

func newDataset(examples []Example) (*dataset, error) {
	seen := map[string]bool{}
	for i, e := range examples {
		if e.Intent == "" {
			return nil, fmt.Errorf("%w: example %d has no intent", ErrInvalid, i)
		}
		seen[e.Intent] = true
	}
	if len(seen) < 2 {
		return nil, fmt.Errorf("%w: %d intents, need at least 2", ErrInvalid, len(seen))
	}
	d := &dataset{}
	for in := range seen {
		d.intents = append(d.intents, in)
	}
	slices.Sort(d.intents)
	id := make(map[string]int32, len(d.intents))
	for i, in := range d.intents {
		id[in] = int32(i)
	}
	d.texts = make([][]byte, len(examples))
	d.raw = make([]string, len(examples))
	d.labels = make([]int32, len(examples))
	for i, e := range examples {
		text := e.Text
		if len(text) > maxTextBytes {
			text = text[:maxTextBytes]
		}
		d.texts[i] = appendNormalized(nil, text)
		if len(d.texts[i]) == 0 {
			return nil, fmt.Errorf("%w: example %d (%q) has no words", ErrInvalid, i, e.Text)
		}
		d.raw[i] = e.Text
		d.labels[i] = id[e.Intent]
	}
	return d, nil
}

// subset returns the examples of d at idx, keeping all of d's intents.
func (d *dataset) subset(idx []int) *dataset {
	s := &dataset{intents: d.intents}
	for _, i := range idx {
		s.texts = append(s.texts, d.texts[i])
		s.raw = append(s.raw, d.raw[i])
		s.labels = append(s.labels, d.labels[i])
	}
	return s
}

// Train learns a model from examples, which must name at least two
// intents, each example with a text that has words. It chooses the scale
// of the probabilities and the out-of-scope threshold on held-out
// predictions of an internal cross-validation (see Options). It returns an
// error wrapping ErrInvalid for unusable examples, and ctx's error when
// ctx ends first.
func Train(ctx context.Context, examples []Example, opts Options) (*Model, error) {
	d, err := newDataset(examples)
	if err != nil {
		return nil, err
	}
	opts = opts.withDefaults().forData(d)
	cal := calibration{Scale: opts.Scale, Background: defaultBackground}
	threshold := opts.Threshold
	if cal.Scale <= 0 || threshold <= 0 {
		runs := opts.Folds
		if len(d.labels) > 3000 {
			runs = 1
		}
		h, err := heldOut(ctx, d, opts.Folds, runs, true, opts, opts.OutOfScope)
		if err != nil {
			return nil, err
		}
		if cal.Scale <= 0 {
			cal = h.fitCalibration(opts.Workers)
		}
		if threshold <= 0 {
			threshold = h.threshold(cal, opts)
		}
	}
	m, err := fit(ctx, d, opts)
	if err != nil {
		return nil, err
	}
	m.cal = cal
	m.threshold = min(threshold, 1)
	return m, nil
}

// The SVMs' dual coordinate descent stops when the projected gradients
// span less than the tolerance, or after svmMaxPasses passes. With at least
// networkMinExamples examples the looser tolerance cuts the SVMs'
// training time by about a third (761 passes instead of 1,962 over the 150
// intents of CLINC150) at the same accuracy on its validation split, where
// the network's scores are added to theirs; small bots keep the tighter
// one, which costs them little.
const (
	svmTolerance      = 0.1
	svmLooseTolerance = 1
	svmMaxPasses      = 1000
)

// fit trains the features and weights of a model on d; the caller sets
// its scale and threshold.
func fit(ctx context.Context, d *dataset, o Options) (*Model, error) {
	f := &features{WordMax: o.WordNgrams, Skip: !o.NoSkipBigrams, CharMin: o.CharMin, CharMax: o.CharMax, CharWeight: o.CharWeight, Stems: o.stems > 0}
	f.fit(d.texts, o.MinDF)
	x, sq := f.matrix(d.texts)
	nc := len(d.intents)
	weights, err := trainOvR(ctx, x, sq, d.labels, nc, o)
	if err != nil {
		return nil, err
	}
	q, rs := quantize(weights, nc)
	m := &Model{intents: d.intents, feat: f, weights: q, rowScale: rs, cal: calibration{Scale: defaultScale, Background: defaultBackground}, unknown: max(o.unknown, 0), twoBest: o.twoBest, pool: newPool()}
	if o.network > 0 {
		m.net, err = trainNetwork(ctx, x, d.labels, nc, o.Workers, newRNG(o.Seed, 1<<34), defaultNet)
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// trainOvR trains one linear SVM per intent (one-vs-rest) on the rows of
// x, one intent per goroutine, and returns their weights: weights[k*nc+c]
// is the weight of feature k for intent c, the last row the bias.
func trainOvR(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) ([]float32, error) {
	nf := x.cols
	weights := make([]float32, (nf+1)*nc)
	stop := func() bool { return ctx.Err() != nil }
	classes := make(chan int)
	var wg sync.WaitGroup
	for range min(o.Workers, nc) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			y := make([]int8, x.len())
			cost := make([]float64, x.len())
			w := make([]float64, nf+1)
			for c := range classes {
				for i, l := range labels {
					y[i], cost[i] = -1, o.C
					if int(l) == c {
						y[i], cost[i] = 1, o.C*o.PositiveWeight
					}
				}
				clear(w)
				svmBinary(x, sq, y, cost, 1, o.tolerance, svmMaxPasses, newRNG(o.Seed, uint64(c)), w, stop)
				// Each goroutine writes its own classes' column.
				for k, v := range w {
					weights[k*nc+c] = float32(v)
				}
			}
		}()
	}
	for c := range nc {
		if ctx.Err() != nil {
			break
		}
		classes <- c
	}
	close(classes)
	wg.Wait()
	return weights, ctx.Err()
}

// matrix vectorizes the normalized texts; it also returns the squared
// norm of each row.
func (f *features) matrix(texts [][]byte) (*matrix, []float64) {
	x := &matrix{rows: make([]int, 1, len(texts)+1), cols: len(f.keys)}
	sq := make([]float64, len(texts))
	var s scratch
	for i, t := range texts {
		f.vectorize(&s, t)
		x.idx = append(x.idx, s.idx...)
		x.val = append(x.val, s.val...)
		x.rows = append(x.rows, len(x.idx))
		for _, v := range s.val {
			sq[i] += float64(v) * float64(v)
		}
	}
	return x, sq
}

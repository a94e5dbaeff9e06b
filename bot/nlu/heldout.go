package nlu

import (
	"context"
	"math"
	"slices"
	"sync"
)

// folds assigns each example of d to one of k folds, stratified by intent:
// each intent's examples, shuffled by seed, are dealt round-robin, each
// intent starting where the previous one stopped, so that intents with
// fewer than k examples spread over the folds.
func folds(d *dataset, k int, seed int64) []int {
	byIntent := make([][]int32, len(d.intents))
	for i, l := range d.labels {
		byIntent[l] = append(byIntent[l], int32(i))
	}
	fold := make([]int, len(d.labels))
	next := 0
	for c, idx := range byIntent {
		newRNG(seed, uint64(c)+1<<32).shuffle(idx)
		for _, i := range idx {
			fold[i] = next
			next = (next + 1) % k
		}
	}
	return fold
}

// dropRuns returns, for each of nc intents, the run of k-fold held-out
// training that leaves it out entirely (about one intent in k per run,
// shuffled by seed), or -1 for none: all -1 without dropIntents or with
// too few intents left.
func dropRuns(nc, k int, seed int64, dropIntents bool) []int {
	dropRun := make([]int, nc)
	for c := range dropRun {
		dropRun[c] = -1
	}
	if dropIntents && nc-(nc+k-1)/k >= 3 {
		order := make([]int32, nc)
		for c := range order {
			order[c] = int32(c)
		}
		newRNG(seed, 1<<33).shuffle(order)
		for rank, c := range order {
			dropRun[c] = rank % k
		}
	}
	return dropRun
}

// held holds held-out predictions: the raw scores of examples predicted by
// a model that did not see them.
type held struct {
	scores [][]float64 // per example; nil when not held out
	labels []int32
	known  []bool      // the model had the example's intent
	oos    [][]float64 // the caller's out-of-scope texts, once per model
}

// heldOut trains a model on all folds but one, for the first runs of k
// folds, and records the scores of the held-out examples and of the
// out-of-scope texts. With dropIntents, each model also leaves out about
// one intent in k entirely (each intent once over k runs), so that the
// held-out examples of those intents show how texts about something the
// model does not know score.
func heldOut(ctx context.Context, d *dataset, k, runs int, dropIntents bool, o Options, outOfScope []string) (*held, error) {
	fold := folds(d, k, o.Seed)
	nc := len(d.intents)
	dropRun := dropRuns(nc, k, o.Seed, dropIntents)
	h := &held{scores: make([][]float64, len(d.labels)), labels: d.labels, known: make([]bool, len(d.labels))}
	oosNorm := make([][]byte, len(outOfScope))
	for i, t := range outOfScope {
		if len(t) > maxTextBytes {
			t = t[:maxTextBytes]
		}
		oosNorm[i] = appendNormalized(nil, t)
	}
	for f := range min(runs, k) {
		var train, test []int
		for i, fi := range fold {
			switch {
			case fi == f:
				test = append(test, i)
			case dropRun[d.labels[i]] != f:
				train = append(train, i)
			}
		}
		if len(test) == 0 || len(train) == 0 {
			continue
		}
		sub := d.subset(train)
		present := make([]bool, nc)
		for _, l := range sub.labels {
			present[l] = true
		}
		m, err := fit(ctx, sub, o)
		if err != nil {
			return nil, err
		}
		var s scratch
		for _, i := range test {
			h.scores[i] = slices.Clone(m.scores(&s, d.texts[i]))
			h.known[i] = present[d.labels[i]]
		}
		for _, t := range oosNorm {
			h.oos = append(h.oos, slices.Clone(m.scores(&s, t)))
		}
	}
	return h, nil
}

// Calibration when held-out predictions cannot tell (too few examples):
// the background sits at the margin of the negative examples.
const (
	defaultScale      = 5
	defaultBackground = -1
)

// backgrounds are the scores of the background that fitCalibration
// tries: -1 is the margin of the SVMs' negative examples, 0 their boundary.
var backgrounds = []float64{-1, -0.75, -0.5, -0.25, 0}

// fitCalibration returns the calibration of the held-out predictions: the
// background, among backgrounds, under which the best probability tells
// best (largest area under the ROC curve) the examples of intents the model
// knew from the out-of-scope texts and the examples of intents it did not
// know; and, for that background, the scale that maximizes the likelihood
// of the known examples' intents. Without such negatives, the background
// is -1. It uses up to workers goroutines.
func (h *held) fitCalibration(workers int) calibration {
	var rows, negatives [][]float64
	var labels []int32
	for i, sc := range h.scores {
		switch {
		case sc == nil:
		case h.known[i]:
			rows = append(rows, sc)
			labels = append(labels, h.labels[i])
		default:
			negatives = append(negatives, sc)
		}
	}
	negatives = append(negatives, h.oos...)
	if len(rows) == 0 {
		return calibration{Scale: defaultScale, Background: defaultBackground}
	}
	fitScale := func(background float64) calibration {
		nll := func(logScale float64) float64 {
			c := calibration{Scale: math.Exp(logScale), Background: background}
			sum := 0.0
			for i, sc := range rows {
				hi := c.Background
				for _, v := range sc {
					hi = max(hi, v)
				}
				z := math.Exp(c.Scale * (c.Background - hi))
				for _, v := range sc {
					z += math.Exp(c.Scale * (v - hi))
				}
				sum += math.Log(z) - c.Scale*(sc[labels[i]]-hi)
			}
			return sum
		}
		return calibration{Scale: math.Exp(golden(math.Log(0.5), math.Log(100), nll)), Background: background}
	}
	if len(negatives) == 0 {
		return fitScale(defaultBackground)
	}
	// Each background on its own goroutine, up to workers at a time.
	cals := make([]calibration, len(backgrounds))
	aucs := make([]float64, len(backgrounds))
	sem := make(chan struct{}, max(1, workers))
	var wg sync.WaitGroup
	for k, b := range backgrounds {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c := fitScale(b)
			pos := make([]float64, len(rows))
			for i, sc := range rows {
				pos[i], _ = confidence(sc, c)
			}
			neg := make([]float64, len(negatives))
			for i, sc := range negatives {
				neg[i], _ = confidence(sc, c)
			}
			cals[k], aucs[k] = c, auc(pos, neg)
		}()
	}
	wg.Wait()
	var best calibration
	bestAUC := -1.0
	for k, c := range cals {
		if aucs[k] > bestAUC+1e-9 {
			best, bestAUC = c, aucs[k]
		}
	}
	return best
}

// auc returns the probability that a value of pos is above one of neg,
// counting ties as one half. It sorts both.
func auc(pos, neg []float64) float64 {
	slices.Sort(pos)
	slices.Sort(neg)
	sum := 0.0
	j, k := 0, 0 // neg[:j] < v, neg[:k] <= v
	for _, v := range pos {
		for j < len(neg) && neg[j] < v {
			j++
		}
		for k < len(neg) && neg[k] <= v {
			k++
		}
		sum += float64(j) + float64(k-j)/2
	}
	return sum / float64(len(pos)*len(neg))
}

// golden returns the x in [lo, hi] that minimizes the unimodal f, by
// golden-section search.
func golden(lo, hi float64, f func(float64) float64) float64 {
	const g = 0.6180339887498949
	a, b := hi-g*(hi-lo), lo+g*(hi-lo)
	fa, fb := f(a), f(b)
	for range 30 {
		if fa < fb {
			hi, b, fb = b, a, fa
			a = hi - g*(hi-lo)
			fa = f(a)
		} else {
			lo, a, fa = a, b, fb
			b = lo + g*(hi-lo)
			fb = f(b)
		}
	}
	return (lo + hi) / 2
}

// threshold chooses the model's threshold from the held-out predictions
// with calibration c, as Options describes.
func (h *held) threshold(c calibration, o Options) float64 {
	var in []judged
	for i, sc := range h.scores {
		if sc == nil || !h.known[i] {
			continue
		}
		conf, best := inScope(sc, c, o.twoBest)
		in = append(in, judged{conf: conf, correct: int32(best) == h.labels[i]})
	}
	if len(in) == 0 {
		return priorThreshold
	}
	var t float64
	if len(h.oos) == 0 {
		// The TargetRejection quantile of the confidences, interpolated.
		confs := make([]float64, len(in))
		for i, j := range in {
			confs[i] = j.conf
		}
		slices.Sort(confs)
		pos := o.TargetRejection * float64(len(confs)-1)
		i := int(pos)
		t = confs[i]
		if i+1 < len(confs) {
			t += (pos - float64(i)) * (confs[i+1] - confs[i])
		}
	} else {
		oos := make([]float64, len(h.oos))
		for i, sc := range h.oos {
			oos[i], _ = inScope(sc, c, o.twoBest)
		}
		t = bestThreshold(in, oos, 1/float64(len(in)), 1/float64(len(oos)), o.MaxRejection)
	}
	// Few held-out predictions say little: draw t toward the prior.
	n := float64(len(in))
	return (n*t + priorWeight*priorThreshold) / (n + priorWeight)
}

// The threshold that Train falls back to, with the weight of priorWeight
// held-out predictions: 0.5 is where an intent is as likely as all other
// intents and none of them together.
const (
	priorThreshold = 0.5
	priorWeight    = 100
)

// confidence returns the best probability of the scores and its intent.
func confidence(scores []float64, c calibration) (float64, int) {
	p := slices.Clone(scores)
	c.apply(p)
	best := 0
	for i, v := range p {
		if v > p[best] {
			best = i
		}
	}
	return p[best], best
}

// inScope returns what the threshold applies to for the scores (see
// Prediction.InScope): the best probability, plus the second best with
// twoBest; and the best intent.
func inScope(scores []float64, c calibration, twoBest bool) (float64, int) {
	p := slices.Clone(scores)
	c.apply(p)
	best, second := 0, -1
	for i, v := range p {
		switch {
		case v > p[best]:
			best, second = i, best
		case i != best && (second < 0 || v > p[second]):
			second = i
		}
	}
	conf := p[best]
	if twoBest && second >= 0 {
		conf += p[second]
	}
	return conf, best
}

// judged is a held-out in-scope prediction.
type judged struct {
	conf    float64
	correct bool
}

// bestThreshold returns the threshold that maximizes inWeight times the
// number of in-scope texts accepted with their right intent plus oosWeight
// times the number of out-of-scope texts rejected, among thresholds that
// reject at most maxRejection of the in-scope texts; the lowest such
// threshold, midway between two confidences.
func bestThreshold(in []judged, oos []float64, inWeight, oosWeight, maxRejection float64) float64 {
	type item struct {
		conf    float64
		in      bool
		correct bool
	}
	items := make([]item, 0, len(in)+len(oos))
	for _, j := range in {
		items = append(items, item{j.conf, true, j.correct})
	}
	for _, c := range oos {
		items = append(items, item{conf: c})
	}
	slices.SortStableFunc(items, func(a, b item) int {
		switch {
		case a.conf < b.conf:
			return -1
		case a.conf > b.conf:
			return 1
		}
		return 0
	})
	// Rejecting items[:j]: start with j = 0, nothing rejected.
	score := 0.0
	for _, j := range in {
		if j.correct {
			score += inWeight
		}
	}
	best, bestJ := score, 0
	rejected := 0
	for j := 1; j <= len(items); j++ {
		it := items[j-1]
		if it.in {
			rejected++
			if it.correct {
				score -= inWeight
			}
		} else {
			score += oosWeight
		}
		if float64(rejected) > maxRejection*float64(len(in)) {
			break
		}
		if j < len(items) && items[j].conf == it.conf {
			continue // not a boundary between two confidences
		}
		if score > best+1e-12 {
			best, bestJ = score, j
		}
	}
	switch {
	case bestJ == 0:
		if len(items) == 0 {
			return 0
		}
		return items[0].conf / 2
	case bestJ == len(items):
		return (items[bestJ-1].conf + 1) / 2
	}
	return (items[bestJ-1].conf + items[bestJ].conf) / 2
}

// ChooseThreshold returns the threshold that m should use, chosen as in
// the "oos-threshold" protocol of Larson et al. (2019): the one that
// maximizes the accuracy of m on inScope together with outOfScope, where
// an in-scope text counts as right when it gets its intent with an
// InScope of at least the threshold and an out-of-scope text when it gets
// less. With no texts
// it returns m's threshold.
func ChooseThreshold(m *Model, inScope []Example, outOfScope []string) float64 {
	if len(inScope)+len(outOfScope) == 0 {
		return m.threshold
	}
	in := make([]judged, len(inScope))
	for i, e := range inScope {
		p := m.Classify(e.Text)
		in[i] = judged{conf: p.InScope, correct: p.Ranking[0].Intent == e.Intent}
	}
	oos := make([]float64, len(outOfScope))
	for i, t := range outOfScope {
		oos[i] = m.Classify(t).InScope
	}
	return bestThreshold(in, oos, 1, 1, 1)
}

package nlu

import (
	"bytes"
	"context"
	"testing"
)

// TestLooseTolerance trains the SVMs of one intent of a synthetic data set
// with the tight and the loose tolerance: the loose one stops after fewer
// passes, with a weight vector that classifies the training examples as
// the tight one does.
func TestLooseTolerance(t *testing.T) {
	ex := synthetic(30, networkMinExamples)
	d, err := newDataset(ex)
	if err != nil {
		t.Fatal(err)
	}
	f := &features{WordMax: 2, Skip: true, CharMin: 2, CharMax: 4, CharWeight: 1}
	f.fit(d.texts, 1)
	x, sq := f.matrix(d.texts)
	y := make([]int8, x.len())
	cost := make([]float64, x.len())
	for i, l := range d.labels {
		y[i], cost[i] = -1, 1
		if l == 0 {
			y[i], cost[i] = 1, 2
		}
	}
	train := func(tolerance float64) ([]float64, int) {
		w := make([]float64, x.cols+1)
		passes := svmBinary(x, sq, y, cost, 1, tolerance, svmMaxPasses, newRNG(1, 0), w, func() bool { return false })
		return w, passes
	}
	tight, tightPasses := train(svmTolerance)
	loose, loosePasses := train(svmLooseTolerance)
	if loosePasses >= tightPasses {
		t.Errorf("the loose tolerance took %d passes, the tight one %d", loosePasses, tightPasses)
	}
	score := func(w []float64, i int) float64 {
		s := w[len(w)-1]
		for k := x.rows[i]; k < x.rows[i+1]; k++ {
			s += w[x.idx[k]] * float64(x.val[k])
		}
		return s
	}
	differ := 0
	for i := range x.len() {
		if (score(tight, i) > 0) != (score(loose, i) > 0) {
			differ++
		}
	}
	t.Logf("passes: tight %d, loose %d; %d of %d examples differ", tightPasses, loosePasses, differ, x.len())
	if differ > x.len()/100 {
		t.Errorf("the two tolerances disagree on %d of %d training examples", differ, x.len())
	}
}

// TestLargeBotIsDeterministic trains a data set large enough for the
// loose tolerance and the stems (without the network, which TestNetwork
// covers) with 1 and 2 workers: the same bytes, and a model that
// classifies held-out examples.
func TestLargeBotIsDeterministic(t *testing.T) {
	ex := synthetic(30, networkMinExamples+600)
	train, test := ex[:networkMinExamples], ex[networkMinExamples:]
	fit := func(workers int) *Model {
		m, err := Train(context.Background(), train, Options{Seed: 5, Workers: workers, Scale: 5, Threshold: 0.1, network: -1})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := fit(1), fit(2)
	if !a.feat.Stems {
		t.Error("a large bot has no stems")
	}
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if !bytes.Equal(ab, bb) {
		t.Fatal("the model depends on the number of workers")
	}
	right := 0
	for _, e := range test {
		if a.Classify(e.Text).Ranking[0].Intent == e.Intent {
			right++
		}
	}
	t.Logf("%d of %d held-out examples right", right, len(test))
	if right < len(test)*9/10 {
		t.Errorf("%d of %d held-out examples classified right", right, len(test))
	}
}

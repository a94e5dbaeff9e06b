package nlu

import (
	"math"
	"testing"
)

// TestInScope checks what the threshold applies to, on scores whose
// probabilities are known: the best alone, or the two best together.
func TestInScope(t *testing.T) {
	c := calibration{Scale: 1, Background: 0}
	scores := []float64{1, 3, 2}
	z := math.E + math.Exp(3) + math.Exp(2) + 1 // the background's score is 0
	p1, p2 := math.Exp(3)/z, math.Exp(2)/z
	if got, best := inScope(scores, c, false); best != 1 || math.Abs(got-p1) > 1e-12 {
		t.Errorf("inScope(best alone) = %v, %d; want %v, 1", got, best, p1)
	}
	if got, best := inScope(scores, c, true); best != 1 || math.Abs(got-(p1+p2)) > 1e-12 {
		t.Errorf("inScope(two best) = %v, %d; want %v, 1", got, best, p1+p2)
	}
	if got, _ := inScope([]float64{2}, c, true); math.Abs(got-math.Exp(2)/(math.Exp(2)+1)) > 1e-12 {
		t.Errorf("inScope of one intent = %v", got)
	}
}

// TestTwoBestForData checks that models of thousands of examples, and only
// they, put the threshold on the two best probabilities.
func TestTwoBestForData(t *testing.T) {
	for _, n := range []int{networkMinExamples - 1, networkMinExamples} {
		d, err := newDataset(synthetic(100, n))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := (Options{}).withDefaults().forData(d).twoBest, n >= networkMinExamples; got != want {
			t.Errorf("%d examples: twoBest %v, want %v", n, got, want)
		}
	}
}

// TestTwoBest checks that a model with twoBest rejects by the two best
// probabilities together, that ChooseThreshold follows it, and that the
// flag survives MarshalBinary and Load, which refuses it in version 4.
func TestTwoBest(t *testing.T) {
	m := trainedToy(t)
	if m.twoBest {
		t.Fatal("a small bot has twoBest")
	}
	two := *m
	two.twoBest = true
	const text = "quiero pagar con la tarjeta perdida"
	p, q := m.Classify(text), two.Classify(text)
	checkPrediction(t, m, p)
	checkPrediction(t, &two, q)
	if q.Confidence != p.Confidence || !(q.InScope > p.InScope) {
		t.Fatalf("two best: confidence %v in scope %v; best alone: %v %v", q.Confidence, q.InScope, p.Confidence, p.InScope)
	}
	th := (q.Confidence + q.InScope) / 2
	if !m.WithThreshold(th).Classify(text).OutOfScope || two.WithThreshold(th).Classify(text).OutOfScope {
		t.Errorf("threshold %v between the best probability %v and the two best %v: not rejected by the best alone only", th, q.Confidence, q.InScope)
	}

	in := []Example{{"hola amigo", "greet"}, {"perdí la tarjeta", "card_lost"}, {"pagar factura", "billing"}}
	oos := []string{"asdkjh", "what is the capital of france"}
	tt := two.WithThreshold(ChooseThreshold(&two, in, oos))
	for _, e := range in {
		if p := tt.Classify(e.Text); p.Intent != e.Intent {
			t.Errorf("with threshold %.3f, Classify(%q) = %+v", tt.Threshold(), e.Text, p)
		}
	}
	for _, s := range oos {
		if p := tt.Classify(s); !p.OutOfScope {
			t.Errorf("with threshold %.3f, %q is in scope: %+v", tt.Threshold(), s, p)
		}
	}

	b, err := two.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if !l.twoBest {
		t.Error("twoBest lost by MarshalBinary and Load")
	}
	if got, want := l.Classify(text), q; !equalPredictions(got, want) {
		t.Errorf("Classify after Load = %+v, before %+v", got, want)
	}
	if _, err := Load(resumWithVersion(b, 4)); err == nil {
		t.Error("Load accepted the TwoBest flag in a version 4 model")
	}
	b, _ = m.MarshalBinary()
	if l, err := Load(resumWithVersion(b, 4)); err != nil || l.twoBest {
		t.Errorf("Load of a version 4 model: %v, twoBest %v", err, l != nil && l.twoBest)
	}
}

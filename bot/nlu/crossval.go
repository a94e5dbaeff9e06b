package nlu

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Report is the result of CrossValidate.
type Report struct {
	Examples int     `json:"examples"`
	Intents  int     `json:"intents"`
	Folds    int     `json:"folds"`
	Accuracy float64 `json:"accuracy"` // share of held-out examples whose best intent is right
	MacroF1  float64 `json:"macro_f1"`
	// PerIntent is sorted by intent.
	PerIntent []IntentScore `json:"per_intent"`
	// Confusions are the mistakes that matter: an intent taken for another
	// at least twice, or for at least a tenth of its examples; most
	// frequent first.
	Confusions []Confusion `json:"confusions"`
	// Conflicts are texts that are the same once normalized but labeled
	// with different intents.
	Conflicts []Conflict `json:"conflicts"`
	// Threshold is the threshold chosen on the held-out predictions, as
	// Train chooses it, and InScopeRejected the share of held-out examples
	// whose confidence falls below it.
	Threshold       float64 `json:"threshold"`
	InScopeRejected float64 `json:"in_scope_rejected"`
}

// IntentScore is how well the held-out examples of one intent did.
type IntentScore struct {
	Intent    string  `json:"intent"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"` // examples of the intent
}

// Confusion counts the held-out examples of Expected predicted as
// Predicted, with up to three of their texts.
type Confusion struct {
	Expected  string   `json:"expected"`
	Predicted string   `json:"predicted"`
	Count     int      `json:"count"`
	Examples  []string `json:"examples"`
}

// Conflict is a text labeled with more than one intent.
type Conflict struct {
	Text    string   `json:"text"`
	Intents []string `json:"intents"`
}

// CrossValidate estimates how well a model trained on examples with opts
// classifies texts it has not seen: stratified k-fold cross-validation
// (k defaults to 5 when below 2, and is at most the number of examples),
// deterministic by opts.Seed. An intent with fewer examples than k still
// gets all its examples held out once each; when one is the only example
// of its intent, the model cannot get it right, which the report shows.
// It returns an error wrapping ErrInvalid for unusable examples, and ctx's
// error when ctx ends first.
func CrossValidate(ctx context.Context, examples []Example, k int, opts Options) (*Report, error) {
	d, err := newDataset(examples)
	if err != nil {
		return nil, err
	}
	if k < 2 {
		k = 5
	}
	k = min(k, len(examples))
	opts = opts.withDefaults().forData(d)
	h, err := heldOut(ctx, d, k, k, false, opts, opts.OutOfScope)
	if err != nil {
		return nil, err
	}
	nc := len(d.intents)
	r := &Report{Examples: len(examples), Intents: nc, Folds: k}

	pred := make([]int32, len(d.labels))
	correct := 0
	for i, sc := range h.scores {
		pred[i] = int32(argmax(sc))
		if pred[i] == d.labels[i] {
			correct++
		}
	}
	r.Accuracy = float64(correct) / float64(len(pred))

	tp := make([]int, nc)
	predicted := make([]int, nc)
	support := make([]int, nc)
	for i, l := range d.labels {
		support[l]++
		predicted[pred[i]]++
		if pred[i] == l {
			tp[l]++
		}
	}
	for c, in := range d.intents {
		s := IntentScore{Intent: in, Support: support[c]}
		if predicted[c] > 0 {
			s.Precision = float64(tp[c]) / float64(predicted[c])
		}
		if support[c] > 0 {
			s.Recall = float64(tp[c]) / float64(support[c])
		}
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
		r.PerIntent = append(r.PerIntent, s)
		r.MacroF1 += s.F1 / float64(nc)
	}

	pairs := map[[2]int32]*Confusion{}
	for i, l := range d.labels {
		if pred[i] == l {
			continue
		}
		key := [2]int32{l, pred[i]}
		c := pairs[key]
		if c == nil {
			c = &Confusion{Expected: d.intents[l], Predicted: d.intents[pred[i]]}
			pairs[key] = c
		}
		c.Count++
		if len(c.Examples) < 3 {
			c.Examples = append(c.Examples, d.raw[i])
		}
	}
	for key, c := range pairs {
		if c.Count >= 2 || float64(c.Count) >= 0.1*float64(support[key[0]]) {
			r.Confusions = append(r.Confusions, *c)
		}
	}
	slices.SortFunc(r.Confusions, func(a, b Confusion) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		if a.Expected != b.Expected {
			return strings.Compare(a.Expected, b.Expected)
		}
		return strings.Compare(a.Predicted, b.Predicted)
	})

	r.Conflicts = conflicts(d)

	cal := h.fitCalibration(opts.Workers)
	r.Threshold = opts.Threshold
	if r.Threshold <= 0 {
		r.Threshold = h.threshold(cal, opts)
	}
	known, rejected := 0, 0
	for i, sc := range h.scores {
		if sc == nil || !h.known[i] {
			continue
		}
		known++
		if conf, _ := inScope(sc, cal, opts.twoBest); conf < r.Threshold {
			rejected++
		}
	}
	if known > 0 {
		r.InScopeRejected = float64(rejected) / float64(known)
	}
	return r, nil
}

// conflicts returns the texts of d labeled with more than one intent,
// sorted by text.
func conflicts(d *dataset) []Conflict {
	type entry struct {
		text    string
		intents []string
	}
	byText := map[string]*entry{}
	var order []*entry
	for i, t := range d.texts {
		e := byText[string(t)]
		if e == nil {
			e = &entry{text: d.raw[i]}
			byText[string(t)] = e
			order = append(order, e)
		}
		if in := d.intents[d.labels[i]]; !slices.Contains(e.intents, in) {
			e.intents = append(e.intents, in)
		}
	}
	var out []Conflict
	for _, e := range order {
		if len(e.intents) > 1 {
			slices.Sort(e.intents)
			out = append(out, Conflict{Text: e.text, Intents: e.intents})
		}
	}
	slices.SortStableFunc(out, func(a, b Conflict) int { return strings.Compare(a.Text, b.Text) })
	return out
}

func argmax(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// WriteText writes r for people: the totals, a table of the intents,
// then the confusions and the conflicts.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Cross-validation: %d examples, %d intents, %d folds\n", r.Examples, r.Intents, r.Folds)
	fmt.Fprintf(&b, "Accuracy %.1f%%, macro F1 %.3f\n", 100*r.Accuracy, r.MacroF1)
	fmt.Fprintf(&b, "Out-of-scope threshold %.3f: rejects %.1f%% of the held-out examples\n\n", r.Threshold, 100*r.InScopeRejected)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "intent\tprecision\trecall\tF1\texamples\t")
	for _, s := range r.PerIntent {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%d\t\n", s.Intent, s.Precision, s.Recall, s.F1, s.Support)
	}
	tw.Flush()
	if len(r.Confusions) > 0 {
		b.WriteString("\nConfusions (expected -> predicted):\n")
		for _, c := range r.Confusions {
			q := make([]string, len(c.Examples))
			for i, e := range c.Examples {
				q[i] = fmt.Sprintf("%q", e)
			}
			fmt.Fprintf(&b, "  %d x %s -> %s: %s\n", c.Count, c.Expected, c.Predicted, strings.Join(q, ", "))
		}
	}
	if len(r.Conflicts) > 0 {
		b.WriteString("\nConflicts (the same text with different intents):\n")
		for _, c := range r.Conflicts {
			fmt.Fprintf(&b, "  %q: %s\n", c.Text, strings.Join(c.Intents, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

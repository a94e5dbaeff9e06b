//go:build nluharness

package nlu

// A harness for choosing the classifier's hyperparameters on CLINC150's
// validation split without retraining for every variant: TestHarnessSave
// trains each component of the scores (the one-vs-rest SVMs, the network,
// variants of them) once per seed, on the training split (15,000 examples)
// and on Train's internal held-out split (the first of 5 folds, leaving
// out one intent in 5), and saves each query's scores; TestHarnessEval
// recombines them as Train does (a weighted sum minus the penalty for
// unknown words, the calibration fitted on the held-out scores, the
// threshold on the two best probabilities chosen on val + oos_val) and
// prints the figures on val + oos_val. It never reads test.
//
//	NLU_DATA=../../../shared/data/clinc150/data_full.json NLU_DIR=/tmp/nluh NLU_SEEDS=1,2,3 \
//	  NLU_COMPS=svm,net go test -tags nluharness -run HarnessSave -timeout 1h ./bot/nlu
//	NLU_DIR=/tmp/nluh NLU_SEEDS=1,2,3 NLU_EVAL='svm:1,net:0.4;svm:1,net:0.5' \
//	  go test -tags nluharness -run HarnessEval -v ./bot/nlu

import (
	"cmp"
	"context"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clincSplits are the parts of data_full.json the harness reads.
type clincSplits struct {
	Train  [][2]string `json:"train"`
	Val    [][2]string `json:"val"`
	OOSVal [][2]string `json:"oos_val"`
}

// harnessBase is what does not depend on the components: the held-out
// and val rows' labels (-1 for out of scope), whether the held-out model
// knew the intent, and each row's share of unknown words.
type harnessBase struct {
	HeldLabels, ValLabels []int32
	HeldKnown             []bool
	HeldUnk, ValUnk       []float64
}

// harnessComp is one component's scores of the held-out and val rows.
type harnessComp struct {
	Held, Val [][]float64
	CPU       time.Duration // wall time of the two trainings, in fact
}

// scorer scores the vector in s.
type scorer func(s *scratch) []float64

// harnessComps train each component on the rows of x.
var harnessComps = map[string]func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error){
	"svm": func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
		w, err := trainOvR(ctx, x, sq, labels, nc, o)
		return linearScorer(w, nc), err
	},
	"net":             netComp(defaultNet),
	"cs":              csComp(1, 0.1, 50),
	"cs05":            csComp(0.5, 0.1, 50),
	"cs02":            csComp(0.2, 0.1, 50),
	"cs05e5":          csComp(0.5, 0.5, 50),
	"cs05p8":          csComp(0.5, 0.1, 8),
	"netl9":           netComp(netParams{hidden: networkHidden, epochs: networkEpochs, rate: networkRate, dropout: networkDropout, learned: 0.9}),
	"netd6":           netComp(netParams{hidden: networkHidden, epochs: networkEpochs, rate: networkRate, dropout: 0.6, learned: networkLearned}),
	"ovo":             ovoComp,
	"netaug4":         netAugComp(withEpochs(defaultNet, 4)),
	"netaug6":         netAugComp(withEpochs(defaultNet, 6)),
	"oossplice10":     netOOSComp(defaultNet, "splice", 10),
	"oossplice20":     netOOSComp(defaultNet, "splice", 20),
	"oosrand10":       netOOSComp(defaultNet, "rand", 10),
	"oosrand20":       netOOSComp(defaultNet, "rand", 20),
	"oosmix10":        netOOSComp(defaultNet, "mix", 10),
	"oosmix20":        netOOSComp(defaultNet, "mix", 20),
	"net128":          netComp(withHidden(defaultNet, 128)),
	"oossplice10h128": netOOSComp(withHidden(defaultNet, 128), "splice", 10),
	"oosrand20h128":   netOOSComp(withHidden(defaultNet, 128), "rand", 20),
	"oosmix10h128":    netOOSComp(withHidden(defaultNet, 128), "mix", 10),
	"oossplice10e6":   netOOSComp(withEpochs(defaultNet, 6), "splice", 10),
	"oosrand20e6":     netOOSComp(withEpochs(defaultNet, 6), "rand", 20),
	"net6":            netComp(withEpochs(defaultNet, 6)),
	"net10":           netComp(withEpochs(defaultNet, 10)),
	"oosmix10e10":     netOOSComp(withEpochs(defaultNet, 10), "mix", 10),
	"oossplice10e10":  netOOSComp(withEpochs(defaultNet, 10), "splice", 10),
	"oosrand20e10":    netOOSComp(withEpochs(defaultNet, 10), "rand", 20),
}

func withHidden(p netParams, h int) netParams {
	p.hidden = h
	return p
}

// netOOSComp trains a network with one more class, out of scope, on the
// training rows and per100 synthetic texts per 100 of them, made by kind:
// "splice", the first half of a training text's words then the second half
// of another intent's text; "rand", words drawn from the training texts
// (as many as a training text drawn at random has); "mix", the feature
// vectors of two texts of different intents, halved and added. Its scores
// are the intents' log-probabilities, so that a text the network takes for
// out of scope has all of them lower (pseudo-outlier exposure).
func netOOSComp(p netParams, kind string, per100 int) func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
	return func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
		f, texts := harnessTexts.f, harnessTexts.texts
		r := newRNG(o.Seed, 1<<37)
		aug := &matrix{rows: slices.Clone(x.rows), idx: slices.Clone(x.idx), val: slices.Clone(x.val), cols: x.cols}
		augLabels := slices.Clone(labels)
		var vocab []string
		for _, t := range texts {
			vocab = append(vocab, strings.Fields(string(t))...)
		}
		other := func(a int) int {
			for {
				if b := r.intn(len(texts)); labels[b] != labels[a] {
					return b
				}
			}
		}
		var s scratch
		for range len(labels) * per100 / 100 {
			switch kind {
			case "splice":
				a := r.intn(len(texts))
				b := other(a)
				wa, wb := strings.Fields(string(texts[a])), strings.Fields(string(texts[b]))
				words := append(slices.Clone(wa[:(len(wa)+1)/2]), wb[len(wb)/2:]...)
				f.vectorize(&s, []byte(strings.Join(words, " ")))
				aug.idx = append(aug.idx, s.idx...)
				aug.val = append(aug.val, s.val...)
			case "rand":
				words := make([]string, len(strings.Fields(string(texts[r.intn(len(texts))]))))
				for k := range words {
					words[k] = vocab[r.intn(len(vocab))]
				}
				f.vectorize(&s, []byte(strings.Join(words, " ")))
				aug.idx = append(aug.idx, s.idx...)
				aug.val = append(aug.val, s.val...)
			case "mix":
				a := r.intn(len(texts))
				for _, i := range []int{a, other(a)} {
					for k := x.rows[i]; k < x.rows[i+1]; k++ {
						aug.idx = append(aug.idx, x.idx[k])
						aug.val = append(aug.val, x.val[k]/2)
					}
				}
			}
			aug.rows = append(aug.rows, len(aug.idx))
			augLabels = append(augLabels, int32(nc))
		}
		p.weight = 1
		n, err := trainNetwork(ctx, aug, augLabels, nc+1, o.Workers, newRNG(o.Seed, 1<<34), p)
		if err != nil {
			return nil, err
		}
		return func(s *scratch) []float64 {
			sc := make([]float64, nc+1)
			n.addTo(s, sc)
			return sc[:nc]
		}, nil
	}
}

// ovoPairs are the pairs of intents whose one-vs-one SVMs "ovo" trains:
// set by TestHarnessSave from the held-out confusions of svm + 0.4 net.
var ovoPairs [][2]int32

// ovoComp trains one SVM per pair of ovoPairs on the two intents' rows;
// a row's score k is the pair k's SVM score (positive for the first).
func ovoComp(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
	type sparse struct {
		w    map[int32]float64
		bias float64
	}
	ws := make([]sparse, len(ovoPairs))
	w := make([]float64, x.cols+1)
	for k, pr := range ovoPairs {
		sub := &matrix{rows: []int{0}, cols: x.cols}
		var ssq []float64
		var y []int8
		var cost []float64
		for i, l := range labels {
			if l != pr[0] && l != pr[1] {
				continue
			}
			sub.idx = append(sub.idx, x.idx[x.rows[i]:x.rows[i+1]]...)
			sub.val = append(sub.val, x.val[x.rows[i]:x.rows[i+1]]...)
			sub.rows = append(sub.rows, len(sub.idx))
			ssq = append(ssq, sq[i])
			y = append(y, map[bool]int8{true: 1, false: -1}[l == pr[0]])
			cost = append(cost, o.C)
		}
		clear(w)
		svmBinary(sub, ssq, y, cost, 1, svmTolerance, svmMaxPasses, newRNG(o.Seed, uint64(k)), w, func() bool { return false })
		sp := sparse{w: map[int32]float64{}, bias: w[len(w)-1]}
		for _, j := range sub.idx {
			if w[j] != 0 {
				sp.w[j] = w[j]
			}
		}
		ws[k] = sp
	}
	return func(s *scratch) []float64 {
		out := make([]float64, len(ws))
		for k, sp := range ws {
			v := sp.bias
			for i, j := range s.idx {
				v += sp.w[j] * float64(s.val[i])
			}
			out[k] = v
		}
		return out
	}, ctx.Err()
}

func withEpochs(p netParams, e int) netParams {
	p.epochs = e
	return p
}

// harnessTexts are the normalized training texts of the rows of the
// matrix that the next component trains on, and their features.
var harnessTexts struct {
	f     *features
	texts [][]byte
}

// netAugComp trains a network on the training rows and, for each of them
// with at least 3 words, a copy with one word (chosen at random) left
// out: word dropout as augmentation.
func netAugComp(p netParams) func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
	return func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
		f, texts := harnessTexts.f, harnessTexts.texts
		r := newRNG(o.Seed, 1<<36)
		aug := &matrix{rows: slices.Clone(x.rows), idx: slices.Clone(x.idx), val: slices.Clone(x.val), cols: x.cols}
		augLabels := slices.Clone(labels)
		var s scratch
		for i, t := range texts {
			words := strings.Fields(string(t))
			if len(words) < 3 {
				continue
			}
			k := r.intn(len(words))
			words = append(words[:k], words[k+1:]...)
			f.vectorize(&s, []byte(strings.Join(words, " ")))
			aug.idx = append(aug.idx, s.idx...)
			aug.val = append(aug.val, s.val...)
			aug.rows = append(aug.rows, len(aug.idx))
			augLabels = append(augLabels, labels[i])
		}
		return netComp(p)(ctx, aug, nil, augLabels, nc, o)
	}
}

func netComp(p netParams) func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
	return func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
		p.weight = 1
		n, err := trainNetwork(ctx, x, labels, nc, o.Workers, newRNG(o.Seed, 1<<34), p)
		if err != nil {
			return nil, err
		}
		return func(s *scratch) []float64 {
			sc := make([]float64, nc)
			n.addTo(s, sc)
			return sc
		}, nil
	}
}

func csComp(c, eps float64, passes int) func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
	return func(ctx context.Context, x *matrix, sq []float64, labels []int32, nc int, o Options) (scorer, error) {
		w := make([]float64, (x.cols+1)*nc)
		start := time.Now()
		it := svmCrammerSinger(x, sq, labels, nc, c, 1, eps, passes, newRNG(o.Seed, 1<<35), w, func() bool { return ctx.Err() != nil })
		fmt.Printf("crammer-singer C=%g: %d passes, %v\n", c, it, time.Since(start))
		w32 := make([]float32, len(w))
		for i, v := range w {
			w32[i] = float32(v)
		}
		return linearScorer(w32, nc), ctx.Err()
	}
}

// linearScorer scores with weights laid out as trainOvR's, quantized as a
// model stores them.
func linearScorer(w []float32, nc int) scorer {
	q, rs := quantize(w, nc)
	m := &Model{intents: make([]string, nc), weights: q, rowScale: rs}
	return func(s *scratch) []float64 { return slices.Clone(m.scoreVector(s)) }
}

func harnessEnv(t *testing.T, name string) string {
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set", name)
	}
	return v
}

func harnessSeeds(t *testing.T) []int64 {
	var seeds []int64
	for _, f := range strings.Split(harnessEnv(t, "NLU_SEEDS"), ",") {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, n)
	}
	return seeds
}

// harnessData returns the training set, the held-out split's training
// subset and rows (as Train's heldOut makes them with one run), and the
// val rows (val then oos_val, label -1).
func harnessData(t *testing.T, seed int64) (full, sub *dataset, heldTexts [][]byte, base harnessBase, valTexts [][]byte) {
	b, err := os.ReadFile(harnessEnv(t, "NLU_DATA"))
	if err != nil {
		t.Fatal(err)
	}
	var c clincSplits
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	ex := make([]Example, len(c.Train))
	for i, it := range c.Train {
		ex[i] = Example{Text: it[0], Intent: it[1]}
	}
	full, err = newDataset(ex)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Seed: seed}.withDefaults().forData(full)
	const k = 5
	fold := folds(full, k, o.Seed)
	dropRun := dropRuns(len(full.intents), k, o.Seed, true)
	var train []int
	for i, fi := range fold {
		switch {
		case fi == 0:
			heldTexts = append(heldTexts, full.texts[i])
			base.HeldLabels = append(base.HeldLabels, full.labels[i])
			base.HeldKnown = append(base.HeldKnown, dropRun[full.labels[i]] != 0)
		case dropRun[full.labels[i]] != 0:
			train = append(train, i)
		}
	}
	sub = full.subset(train)
	id := map[string]int32{}
	for i, in := range full.intents {
		id[in] = int32(i)
	}
	for _, it := range c.Val {
		valTexts = append(valTexts, appendNormalized(nil, it[0]))
		base.ValLabels = append(base.ValLabels, id[it[1]])
	}
	for _, it := range c.OOSVal {
		valTexts = append(valTexts, appendNormalized(nil, it[0]))
		base.ValLabels = append(base.ValLabels, -1)
	}
	return full, sub, heldTexts, base, valTexts
}

func harnessFeatures(d *dataset, o Options) (*features, *matrix, []float64) {
	f := &features{WordMax: o.WordNgrams, Skip: !o.NoSkipBigrams, CharMin: o.CharMin, CharMax: o.CharMax, CharWeight: o.CharWeight, Stems: o.stems > 0}
	f.fit(d.texts, o.MinDF)
	x, sq := f.matrix(d.texts)
	return f, x, sq
}

func gobSave(t *testing.T, path string, v any) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := gob.NewEncoder(f).Encode(v); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func gobLoad(t *testing.T, path string, v any) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := gob.NewDecoder(f).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestHarnessSave(t *testing.T) {
	dir := harnessEnv(t, "NLU_DIR")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, seed := range harnessSeeds(t) {
		full, sub, heldTexts, base, valTexts := harnessData(t, seed)
		o := Options{Seed: seed}.withDefaults().forData(full)
		fh, xh, sqh := harnessFeatures(sub, o)
		ff, xf, sqf := harnessFeatures(full, o)
		unk := func(f *features, texts [][]byte) []float64 {
			var s scratch
			out := make([]float64, len(texts))
			for i, tx := range texts {
				f.vectorize(&s, tx)
				if s.words > 0 {
					out[i] = float64(s.unknown) / float64(s.words)
				}
			}
			return out
		}
		base.HeldUnk, base.ValUnk = unk(fh, heldTexts), unk(ff, valTexts)
		gobSave(t, filepath.Join(dir, fmt.Sprintf("seed%d-base.gob", seed)), base)
		for _, name := range strings.Split(harnessEnv(t, "NLU_COMPS"), ",") {
			path := filepath.Join(dir, fmt.Sprintf("seed%d-%s.gob", seed, name))
			if _, err := os.Stat(path); err == nil {
				continue
			}
			if name == "ovo" {
				// The pairs come from svm's and net's held-out scores,
				// which must be saved first.
				ovoPairs = harnessConfusions(t, dir, seed, base)
				gobSave(t, filepath.Join(dir, fmt.Sprintf("seed%d-ovopairs.gob", seed)), ovoPairs)
				fmt.Printf("seed %d: %d pairs\n", seed, len(ovoPairs))
			}
			compName, variant, _ := strings.Cut(name, "@")
			train := harnessComps[compName]
			vo := o
			if variant != "" {
				for _, kv := range strings.Split(variant, "+") {
					key, val, _ := strings.Cut(kv, "=")
					v, err := strconv.ParseFloat(val, 64)
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					switch key {
					case "cw":
						vo.CharWeight = v
					case "cmin":
						vo.CharMin = int(v)
					case "cmax":
						vo.CharMax = int(v)
					case "word":
						vo.WordNgrams = int(v)
					case "c":
						vo.C = v
					case "pw":
						vo.PositiveWeight = v
					default:
						t.Fatalf("%s: unknown option %q", name, key)
					}
				}
			}
			fh, xh, sqh, ff, xf, sqf := fh, xh, sqh, ff, xf, sqf
			if variant != "" {
				fh, xh, sqh = harnessFeatures(sub, vo)
				ff, xf, sqf = harnessFeatures(full, vo)
			}
			o := vo
			if train == nil {
				t.Fatalf("no component %q", name)
			}
			start := time.Now()
			var comp harnessComp
			score := func(f *features, sc scorer, texts [][]byte) [][]float64 {
				var s scratch
				out := make([][]float64, len(texts))
				for i, tx := range texts {
					f.vectorize(&s, tx)
					out[i] = sc(&s)
				}
				return out
			}
			harnessTexts.f, harnessTexts.texts = fh, sub.texts
			sh, err := train(ctx, xh, sqh, sub.labels, len(full.intents), o)
			if err != nil {
				t.Fatal(err)
			}
			comp.Held = score(fh, sh, heldTexts)
			harnessTexts.f, harnessTexts.texts = ff, full.texts
			sf, err := train(ctx, xf, sqf, full.labels, len(full.intents), o)
			if err != nil {
				t.Fatal(err)
			}
			comp.Val = score(ff, sf, valTexts)
			comp.CPU = time.Since(start)
			gobSave(t, path, comp)
			fmt.Printf("seed %d %s: %v\n", seed, name, comp.CPU)
		}
	}
}

// harnessConfusions returns the pairs of intents (right, predicted) of
// the held-out rows that svm + 0.4 net gets wrong, or gets right with the
// second best as the pair's other intent, sorted.
func harnessConfusions(t *testing.T, dir string, seed int64, base harnessBase) [][2]int32 {
	var svm, net harnessComp
	gobLoad(t, filepath.Join(dir, fmt.Sprintf("seed%d-svm.gob", seed)), &svm)
	gobLoad(t, filepath.Join(dir, fmt.Sprintf("seed%d-net.gob", seed)), &net)
	seen := map[[2]int32]bool{}
	for i, sc := range svm.Held {
		if !base.HeldKnown[i] {
			continue
		}
		best, second := int32(-1), int32(-1)
		v := func(c int32) float64 { return sc[c] + 0.4*net.Held[i][c] }
		for c := range int32(len(sc)) {
			switch {
			case best < 0 || v(c) > v(best):
				best, second = c, best
			case second < 0 || v(c) > v(second):
				second = c
			}
		}
		l := base.HeldLabels[i]
		var pr [2]int32
		switch {
		case best != l:
			pr = [2]int32{min(l, best), max(l, best)}
		case v(best)-v(second) < 0.5:
			pr = [2]int32{min(l, second), max(l, second)}
		default:
			continue
		}
		seen[pr] = true
	}
	pairs := slices.Collect(maps.Keys(seen))
	slices.SortFunc(pairs, func(a, b [2]int32) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	return pairs
}

// harnessFigures are a combination's figures on val + oos_val.
type harnessFigures struct {
	raw, acc, recall, rejected float64
	atRecall                   [3]float64 // in-scope accuracy at 60, 70, 80% OOS recall
}

func TestHarnessEval(t *testing.T) {
	dir := harnessEnv(t, "NLU_DIR")
	seeds := harnessSeeds(t)
	for _, spec := range strings.Split(harnessEnv(t, "NLU_EVAL"), ";") {
		var sum harnessFigures
		line := fmt.Sprintf("%-40s", spec)
		for _, seed := range seeds {
			fg := harnessCombine(t, dir, seed, spec)
			line += fmt.Sprintf(" | %.2f %.2f/%.0f [%.2f %.2f %.2f]", 100*fg.raw, 100*fg.acc, 100*fg.recall, 100*fg.atRecall[0], 100*fg.atRecall[1], 100*fg.atRecall[2])
			sum.raw += fg.raw / float64(len(seeds))
			sum.acc += fg.acc / float64(len(seeds))
			sum.recall += fg.recall / float64(len(seeds))
			for k := range sum.atRecall {
				sum.atRecall[k] += fg.atRecall[k] / float64(len(seeds))
			}
		}
		line += fmt.Sprintf(" || mean %.2f %.2f/%.1f [%.2f %.2f %.2f]", 100*sum.raw, 100*sum.acc, 100*sum.recall, 100*sum.atRecall[0], 100*sum.atRecall[1], 100*sum.atRecall[2])
		fmt.Println(line)
	}
}

// harnessCombine evaluates spec, "name:weight,..." with the special names
// unk (the penalty for unknown words, default 2) and one (the threshold on
// the best probability alone when 1).
func harnessCombine(t *testing.T, dir string, seed int64, spec string) harnessFigures {
	var base harnessBase
	gobLoad(t, filepath.Join(dir, fmt.Sprintf("seed%d-base.gob", seed)), &base)
	unkW, twoBest, calVal, ovoW := 2.0, true, false, 0.0
	var heldSc, val [][]float64
	for _, term := range strings.Split(spec, ",") {
		name, ws, _ := strings.Cut(term, ":")
		w, err := strconv.ParseFloat(ws, 64)
		if err != nil {
			t.Fatalf("%q: %v", term, err)
		}
		switch name {
		case "unk":
			unkW = w
			continue
		case "one":
			twoBest = w == 0
			continue
		case "calval": // an upper bound: the calibration fitted on val itself
			calVal = w == 1
			continue
		case "ovo":
			ovoW = w
			continue
		}
		var c harnessComp
		gobLoad(t, filepath.Join(dir, fmt.Sprintf("seed%d-%s.gob", seed, name)), &c)
		add := func(dst *[][]float64, src [][]float64) {
			if *dst == nil {
				*dst = make([][]float64, len(src))
				for i, r := range src {
					(*dst)[i] = make([]float64, len(r))
				}
			}
			for i, r := range src {
				for k, v := range r {
					(*dst)[i][k] += w * v
				}
			}
		}
		add(&heldSc, c.Held)
		add(&val, c.Val)
	}
	for i := range heldSc {
		for k := range heldSc[i] {
			heldSc[i][k] -= unkW * base.HeldUnk[i]
		}
	}
	for i := range val {
		for k := range val[i] {
			val[i][k] -= unkW * base.ValUnk[i]
		}
	}
	if ovoW != 0 {
		var pairs [][2]int32
		gobLoad(t, filepath.Join(dir, fmt.Sprintf("seed%d-ovopairs.gob", seed)), &pairs)
		var c harnessComp
		gobLoad(t, filepath.Join(dir, fmt.Sprintf("seed%d-ovo.gob", seed)), &c)
		pairIndex := map[[2]int32]int{}
		for k, pr := range pairs {
			pairIndex[pr] = k
		}
		apply := func(rows, ovo [][]float64) {
			for i, sc := range rows {
				best, second := -1, -1
				for c, v := range sc {
					switch {
					case best < 0 || v > sc[best]:
						best, second = c, best
					case second < 0 || v > sc[second]:
						second = c
					}
				}
				pr := [2]int32{int32(min(best, second)), int32(max(best, second))}
				if k, ok := pairIndex[pr]; ok {
					sc[pr[0]] += ovoW * ovo[i][k]
					sc[pr[1]] -= ovoW * ovo[i][k]
				}
			}
		}
		apply(heldSc, c.Held)
		apply(val, c.Val)
	}
	h := &held{scores: heldSc, labels: base.HeldLabels, known: base.HeldKnown}
	cal := h.fitCalibration(2)
	if calVal {
		v := &held{labels: base.ValLabels, known: make([]bool, len(val))}
		for i, sc := range val {
			if base.ValLabels[i] >= 0 {
				v.scores = append(v.scores, sc)
				v.known[len(v.scores)-1] = true
				v.labels[len(v.scores)-1] = base.ValLabels[i]
			} else {
				v.oos = append(v.oos, sc)
			}
		}
		v.labels, v.known = v.labels[:len(v.scores)], v.known[:len(v.scores)]
		cal = v.fitCalibration(2)
	}
	fmt.Printf("seed %d %s: scale %.3f background %.2f\n", seed, spec, cal.Scale, cal.Background)
	var in []judged
	var oos []float64
	right := 0
	for i, sc := range val {
		conf, best := inScope(sc, cal, twoBest)
		if base.ValLabels[i] < 0 {
			oos = append(oos, conf)
			continue
		}
		ok := int32(best) == base.ValLabels[i]
		if ok {
			right++
		}
		in = append(in, judged{conf: conf, correct: ok})
	}
	var fg harnessFigures
	fg.raw = float64(right) / float64(len(in))
	th := bestThreshold(in, oos, 1, 1, 1)
	at := func(th float64) (acc, recall, rej float64) {
		for _, j := range in {
			switch {
			case j.conf < th:
				rej++
			case j.correct:
				acc++
			}
		}
		for _, c := range oos {
			if c < th {
				recall++
			}
		}
		return acc / float64(len(in)), recall / float64(len(oos)), rej / float64(len(in))
	}
	fg.acc, fg.recall, fg.rejected = at(th)
	sorted := slices.Sorted(slices.Values(oos))
	for k, r := range []float64{0.6, 0.7, 0.8} {
		// The lowest threshold that rejects a share r of oos.
		n := int(r*float64(len(sorted)) + 0.999999)
		th := sorted[n-1] + 1e-12
		fg.atRecall[k], _, _ = at(th)
	}
	return fg
}

// svmCrammerSinger trains the multiclass linear SVM of Crammer and Singer
// (2001) on the rows of x with labels, by the sequential dual method of
// Keerthi et al. (2008) with shrinking, as LIBLINEAR's MCSVM_CS: all
// intents' weights jointly, one example at a time. It adds into w (rows of
// nc weights by feature, the last row the bias, whose feature has value
// bias) and returns the number of passes.
func svmCrammerSinger(x *matrix, sqnorm []float64, labels []int32, nc int, c, bias, eps float64, maxIter int, r *rng, w []float64, stop func() bool) int {
	l := x.len()
	alpha := make([]float64, l*nc)
	alphaIndex := make([]int32, l*nc)
	yIndex := make([]int32, l)
	activeI := make([]int32, l)
	index := make([]int32, l)
	qd := make([]float64, l)
	for i := range l {
		for m := range nc {
			alphaIndex[i*nc+m] = int32(m)
		}
		yIndex[i] = labels[i]
		activeI[i] = int32(nc)
		index[i] = int32(i)
		qd[i] = sqnorm[i] + bias*bias
	}
	g := make([]float64, nc)
	b := make([]float64, nc)
	dsort := make([]float64, nc)
	alphaNew := make([]float64, nc)
	dInd := make([]int32, nc)
	dVal := make([]float64, nc)
	wb := x.cols * nc
	active := l
	epsShrink := max(10*eps, 1)
	fromAll := true
	iter := 0
	shrunk := func(m int32, yi int32, a, minG float64) bool {
		bound := 0.0
		if m == yi {
			bound = c
		}
		return a == bound && g[m] < minG
	}
	for iter < maxIter {
		if iter%4 == 3 && stop() {
			break
		}
		stopping := math.Inf(-1)
		r.shuffle(index[:active])
		for s := 0; s < active; s++ {
			i := int(index[s])
			ai := qd[i]
			if ai <= 0 {
				continue
			}
			al := alpha[i*nc : i*nc+nc]
			ax := alphaIndex[i*nc : i*nc+nc]
			n := activeI[i]
			idx, val := x.idx[x.rows[i]:x.rows[i+1]], x.val[x.rows[i]:x.rows[i+1]]
			for m := range n {
				g[m] = 1
			}
			if yIndex[i] < n {
				g[yIndex[i]] = 0
			}
			for k, j := range idx {
				row := w[int(j)*nc : int(j)*nc+nc]
				v := float64(val[k])
				for m := range n {
					g[m] += row[ax[m]] * v
				}
			}
			row := w[wb : wb+nc]
			for m := range n {
				g[m] += row[ax[m]] * bias
			}
			minG, maxG := math.Inf(1), math.Inf(-1)
			for m := range n {
				if al[ax[m]] < 0 && g[m] < minG {
					minG = g[m]
				}
				maxG = max(maxG, g[m])
			}
			yi := yIndex[i]
			if yi < n && al[labels[i]] < c && g[yi] < minG {
				minG = g[yi]
			}
			for m := int32(0); m < n; m++ {
				if !shrunk(m, yIndex[i], al[ax[m]], minG) {
					continue
				}
				n--
				for n > m {
					if !shrunk(n, yIndex[i], al[ax[n]], minG) {
						ax[m], ax[n] = ax[n], ax[m]
						g[m], g[n] = g[n], g[m]
						if yIndex[i] == n {
							yIndex[i] = m
						} else if yIndex[i] == m {
							yIndex[i] = n
						}
						break
					}
					n--
				}
			}
			activeI[i] = n
			if n <= 1 {
				active--
				index[s], index[active] = index[active], index[s]
				s--
				continue
			}
			if maxG-minG <= 1e-12 {
				continue
			}
			stopping = max(stopping, maxG-minG)
			for m := range n {
				b[m] = g[m] - ai*al[ax[m]]
			}
			// The sub-problem of example i (Keerthi et al. 2008).
			yi = yIndex[i]
			copy(dsort, b[:n])
			if yi < n {
				dsort[yi] += ai * c
			}
			slices.SortFunc(dsort[:n], func(p, q float64) int { return cmp.Compare(q, p) })
			beta := dsort[0] - ai*c
			k := int32(1)
			for ; k < n && beta < float64(k)*dsort[k]; k++ {
				beta += dsort[k]
			}
			beta /= float64(k)
			for m := range n {
				if m == yi {
					alphaNew[m] = min(c, (beta-b[m])/ai)
				} else {
					alphaNew[m] = min(0, (beta-b[m])/ai)
				}
			}
			nz := 0
			for m := range n {
				d := alphaNew[m] - al[ax[m]]
				al[ax[m]] = alphaNew[m]
				if math.Abs(d) >= 1e-12 {
					dInd[nz], dVal[nz] = ax[m], d
					nz++
				}
			}
			for k, j := range idx {
				row := w[int(j)*nc : int(j)*nc+nc]
				v := float64(val[k])
				for t := range nz {
					row[dInd[t]] += dVal[t] * v
				}
			}
			for t := range nz {
				w[wb+int(dInd[t])] += dVal[t] * bias
			}
		}
		iter++
		if stopping < epsShrink {
			if stopping < eps && fromAll {
				break
			}
			active = l
			for i := range activeI {
				activeI[i] = int32(nc)
			}
			epsShrink = max(epsShrink/2, eps)
			fromAll = true
		} else {
			fromAll = false
		}
	}
	return iter
}

// Command nlu measures the intent classifier of bot/nlu on CLINC150
// (Larson et al. 2019) with the paper's "oos-threshold" protocol, next to
// NLP.js on the same data.
//
// For the full training set and for its first 10 examples per intent: train
// on `train` only (out-of-scope examples are not used), choose the
// out-of-scope threshold on `val` + `oos_val` with nlu.ChooseThreshold, and
// report on `test` the in-scope accuracy (a rejected query is wrong) and
// the share of queries wrongly rejected, on `oos_test` the out-of-scope
// recall, the training time and the latency of each Classify call. It also
// shows how the threshold that Train chooses by itself, without validation
// data, does on the same test queries. With -nlpjs it runs
// bench/nlu/nlpjs/clinc.js (NLP.js) on the same data and prints its row in
// the same table.
//
//	go run ./bench/nlu [-data PATH] [-nlpjs=true] [-seed 1]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"conversa/bench"
	"conversa/bot/nlu"
)

// config is the command line.
type config struct {
	data         string
	nlpjs        bool
	nlpjsSet     bool // -nlpjs was given explicitly
	nlpjsTimeout time.Duration
	seed         int64
	workers      int
	val          bool // also report the figures on val + oos_val
	test         bool // report the figures on test + oos_test
	small        bool // also train on 10 examples per intent
}

func main() {
	var cfg config
	flag.StringVar(&cfg.data, "data", "", "CLINC150 data_full.json (default: ../shared/data/clinc150/data_full.json from the module root)")
	flag.BoolVar(&cfg.nlpjs, "nlpjs", true, "also run NLP.js (bench/nlu/nlpjs, needs node and npm)")
	flag.DurationVar(&cfg.nlpjsTimeout, "nlpjs-timeout", 30*time.Minute, "time limit of each NLP.js run, npm ci included")
	flag.Int64Var(&cfg.seed, "seed", 1, "training seed")
	flag.IntVar(&cfg.workers, "workers", 0, "goroutines that train (default GOMAXPROCS)")
	flag.BoolVar(&cfg.val, "val", false, "also report the figures on val + oos_val (for choosing hyperparameters)")
	flag.BoolVar(&cfg.test, "test", true, "report the figures on test + oos_test (false: val only, with -val)")
	flag.BoolVar(&cfg.small, "small", true, "also train on the first 10 examples per intent")
	flag.Parse()
	flag.Visit(func(f *flag.Flag) { cfg.nlpjsSet = cfg.nlpjsSet || f.Name == "nlpjs" })
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nlu:", err)
		os.Exit(1)
	}
}

// moduleRoot returns the nearest directory, from the working directory up,
// that holds a go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory: run the benchmark from the repository")
		}
		dir = parent
	}
}

// dataset is CLINC150's data_full.json: each item is [text, intent].
type dataset struct {
	Train    [][2]string `json:"train"`
	Val      [][2]string `json:"val"`
	Test     [][2]string `json:"test"`
	OOSVal   [][2]string `json:"oos_val"`
	OOSTest  [][2]string `json:"oos_test"`
	OOSTrain [][2]string `json:"oos_train"`
}

func readDataset(path string) (*dataset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dataset
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(d.Train) == 0 || len(d.Val) == 0 || len(d.Test) == 0 || len(d.OOSVal) == 0 || len(d.OOSTest) == 0 {
		return nil, fmt.Errorf("%s lacks one of train, val, test, oos_val, oos_test", path)
	}
	return &d, nil
}

func examples(items [][2]string) []nlu.Example {
	out := make([]nlu.Example, len(items))
	for i, it := range items {
		out[i] = nlu.Example{Text: it[0], Intent: it[1]}
	}
	return out
}

func texts(items [][2]string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it[0]
	}
	return out
}

// firstPerIntent keeps the first n examples of each intent, in file order.
func firstPerIntent(ex []nlu.Example, n int) []nlu.Example {
	seen := map[string]int{}
	var out []nlu.Example
	for _, e := range ex {
		if seen[e.Intent] < n {
			seen[e.Intent]++
			out = append(out, e)
		}
	}
	return out
}

// result is one system on one training set.
type result struct {
	system, version string
	err             error
	trainWall       time.Duration
	trainCPU        time.Duration // 0 when unknown
	accuracy        float64       // in-scope, at the threshold
	oosRecall       float64
	rejected        float64 // share of in-scope test queries rejected
	threshold       float64
	p50, p99        time.Duration
	modelBytes      int
	raw             float64       // in-scope accuracy without a threshold; ours only
	own             *ownThreshold // ours only
	val             *figures      // on val + oos_val, with -val; ours only
}

// figures are our classifier's on val + oos_val, at the threshold chosen
// on them.
type figures struct {
	raw, accuracy, oosRecall, rejected, threshold float64
}

// ownThreshold is how Train's own threshold does on the test queries.
type ownThreshold struct {
	threshold, accuracy, oosRecall, rejected float64
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if cfg.data == "" {
		cfg.data = filepath.Join(root, "..", "shared", "data", "clinc150", "data_full.json")
	}
	cfg.data, err = filepath.Abs(cfg.data)
	if err != nil {
		return err
	}
	d, err := readDataset(cfg.data)
	if err != nil {
		return err
	}
	for _, line := range bench.Machine() {
		fmt.Fprintln(out, line)
	}
	fmt.Fprintf(out, "data:    %s (train %d, val %d + oos_val %d, test %d + oos_test %d)\n",
		cfg.data, len(d.Train), len(d.Val), len(d.OOSVal), len(d.Test), len(d.OOSTest))
	fmt.Fprintf(out, "seed:    %d\n\n", cfg.seed)

	variants := []struct {
		name      string
		perIntent int
	}{{"Full (100 per intent)", 0}, {"10 per intent", 10}}
	if !cfg.small {
		variants = variants[:1]
	}
	var rows [][]result
	failed := false
	for _, v := range variants {
		train := examples(d.Train)
		if v.perIntent > 0 {
			train = firstPerIntent(train, v.perIntent)
		}
		fmt.Fprintf(os.Stderr, "nlu: %s: training on %d examples\n", v.name, len(train))
		ours, err := evaluate(ctx, d, train, cfg)
		if err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
		row := []result{ours}
		if cfg.nlpjs && cfg.test {
			fmt.Fprintf(os.Stderr, "nlu: %s: running NLP.js\n", v.name)
			r := runNLPjs(ctx, root, cfg, v.perIntent)
			failed = failed || r.err != nil
			row = append(row, r)
		}
		rows = append(rows, row)
	}

	if cfg.val {
		fmt.Fprintln(out, "On val + oos_val, at the threshold chosen on them (accuracy without a threshold: raw):")
		fmt.Fprintln(out, "\n| training set | train (wall) | train (CPU) | raw accuracy | in-scope accuracy | OOS recall | in-scope rejected | threshold | p99 | model |")
		fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for i, row := range rows {
			r, v := row[0], row[0].val
			fmt.Fprintf(out, "| %s | %s | %s | %.2f%% | %.2f%% | %.1f%% | %.2f%% | %.3f | %s | %s |\n",
				variants[i].name, seconds(r.trainWall), seconds(r.trainCPU), 100*v.raw, 100*v.accuracy, 100*v.oosRecall,
				100*v.rejected, v.threshold, bench.Ms(r.p99), bench.MiB(int64(r.modelBytes)))
		}
		fmt.Fprintln(out)
	}
	if !cfg.test {
		return nil
	}
	fmt.Fprintln(out, "| training set | system | train (wall) | train (CPU) | in-scope accuracy | OOS recall | in-scope rejected | threshold | p50 | p99 | model |")
	fmt.Fprintln(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for i, row := range rows {
		for _, r := range row {
			name := r.system
			if r.version != "" {
				name += " " + r.version
			}
			if r.err != nil {
				fmt.Fprintf(out, "| %s | %s | error: %s |||||||||\n", variants[i].name, name, oneLine(r.err.Error()))
				continue
			}
			cpu, size := "-", "-"
			if r.trainCPU > 0 {
				cpu = seconds(r.trainCPU)
			}
			if r.modelBytes > 0 {
				size = bench.MiB(int64(r.modelBytes))
			}
			fmt.Fprintf(out, "| %s | %s | %s | %s | %.1f%% | %.1f%% | %.1f%% | %.3f | %s | %s | %s |\n",
				variants[i].name, name, seconds(r.trainWall), cpu, 100*r.accuracy, 100*r.oosRecall, 100*r.rejected,
				r.threshold, bench.Ms(r.p50), bench.Ms(r.p99), size)
		}
	}

	fmt.Fprintln(out, "\nWith the threshold Train chooses by itself (internal cross-validation, no validation data):")
	fmt.Fprintln(out, "\n| training set | threshold | in-scope accuracy | OOS recall | in-scope rejected |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|")
	for i, row := range rows {
		o := row[0].own
		fmt.Fprintf(out, "| %s | %.3f | %.1f%% | %.1f%% | %.1f%% |\n", variants[i].name, o.threshold, 100*o.accuracy, 100*o.oosRecall, 100*o.rejected)
	}

	full := rows[0][0]
	fmt.Fprintf(out, "\nIn-scope test accuracy without a threshold (Full): %.2f%%\n", 100*full.raw)
	fmt.Fprintln(out, "\nTargets (Full):")
	target := func(name string, ok bool, got string) {
		verdict := "met"
		if !ok {
			verdict = "MISSED"
		}
		fmt.Fprintf(out, "- %s: %s (%s)\n", name, verdict, got)
	}
	target("in-scope accuracy >= 94.0% with OOS recall >= 55%", full.accuracy >= 0.94 && full.oosRecall >= 0.55,
		fmt.Sprintf("%.1f%% with %.1f%%", 100*full.accuracy, 100*full.oosRecall))
	target("training under 20 s on this machine", full.trainWall < 20*time.Second, seconds(full.trainWall)+" wall")
	target("classification p99 under 1 ms", full.p99 < time.Millisecond, bench.Ms(full.p99))
	if failed && cfg.nlpjsSet {
		return errors.New("NLP.js failed (see the table)")
	}
	return nil
}

// evaluate trains our classifier on train and measures it on d.
func evaluate(ctx context.Context, d *dataset, train []nlu.Example, cfg config) (result, error) {
	r := result{system: "conversa bot/nlu"}
	cpu0, cpuErr := bench.CPUTime(os.Getpid())
	start := time.Now()
	m, err := nlu.Train(ctx, train, nlu.Options{Seed: cfg.seed, Workers: cfg.workers})
	r.trainWall = time.Since(start)
	if err != nil {
		return r, err
	}
	if cpu1, err := bench.CPUTime(os.Getpid()); err == nil && cpuErr == nil {
		r.trainCPU = cpu1 - cpu0
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return r, err
	}
	r.modelBytes = len(b)

	r.threshold = nlu.ChooseThreshold(m, examples(d.Val), texts(d.OOSVal))
	tuned := m.WithThreshold(r.threshold)
	for _, it := range d.Val[:min(200, len(d.Val))] { // warm-up
		tuned.Classify(it[0])
	}
	if cfg.val {
		v := &figures{threshold: r.threshold}
		conf, top, _ := classify(tuned, d.Val, d.OOSVal)
		v.raw = rawAccuracy(d.Val, top)
		v.accuracy, v.oosRecall, v.rejected = score(d.Val, d.OOSVal, conf, top, r.threshold)
		r.val = v
	}
	if !cfg.test {
		_, _, lat := classify(tuned, d.Val, d.OOSVal)
		s := bench.Summarize(lat)
		r.p50, r.p99 = s.P50, s.P99
		return r, nil
	}
	conf, top, lat := classify(tuned, d.Test, d.OOSTest)
	s := bench.Summarize(lat)
	r.p50, r.p99 = s.P50, s.P99
	r.accuracy, r.oosRecall, r.rejected = score(d.Test, d.OOSTest, conf, top, r.threshold)
	r.raw = rawAccuracy(d.Test, top)

	own := &ownThreshold{threshold: m.Threshold()}
	own.accuracy, own.oosRecall, own.rejected = score(d.Test, d.OOSTest, conf, top, m.Threshold())
	r.own = own
	return r, nil
}

// classify returns the InScope values (what the threshold applies to) of
// the in-scope then the out-of-scope
// queries, the best intent of each in-scope query, and the latency of
// each Classify call.
func classify(m *nlu.Model, in, oos [][2]string) (conf []float64, top []string, lat []time.Duration) {
	for _, it := range in {
		t0 := time.Now()
		p := m.Classify(it[0])
		lat = append(lat, time.Since(t0))
		conf = append(conf, p.InScope)
		top = append(top, p.Ranking[0].Intent)
	}
	for _, it := range oos {
		t0 := time.Now()
		p := m.Classify(it[0])
		lat = append(lat, time.Since(t0))
		conf = append(conf, p.InScope)
	}
	return conf, top, lat
}

// rawAccuracy is the share of the in-scope queries whose best intent is
// right, whatever its confidence.
func rawAccuracy(in [][2]string, top []string) float64 {
	right := 0
	for i, it := range in {
		if top[i] == it[1] {
			right++
		}
	}
	return float64(right) / float64(len(in))
}

// score returns in-scope accuracy, OOS recall and the share of in-scope
// queries rejected at threshold t, from the confidences of the in-scope
// queries then the out-of-scope queries, and the best intents of the
// in-scope queries.
func score(in, oosItems [][2]string, conf []float64, top []string, t float64) (acc, recall, rejected float64) {
	right, rej, oos := 0, 0, 0
	for i, it := range in {
		switch {
		case conf[i] < t:
			rej++
		case top[i] == it[1]:
			right++
		}
	}
	for i := range oosItems {
		if conf[len(in)+i] < t {
			oos++
		}
	}
	n := float64(len(in))
	return float64(right) / n, float64(oos) / float64(len(oosItems)), float64(rej) / n
}

// nlpjsResult is the line clinc.js prints.
type nlpjsResult struct {
	Name            string  `json:"name"`
	Version         string  `json:"version"`
	TrainSeconds    float64 `json:"train_seconds"`
	InScopeAccuracy float64 `json:"in_scope_accuracy"`
	OOSRecall       float64 `json:"oos_recall"`
	InScopeRejected float64 `json:"in_scope_rejected"`
	Threshold       float64 `json:"threshold"`
	LatencyP50Ms    float64 `json:"latency_p50_ms"`
	LatencyP99Ms    float64 `json:"latency_p99_ms"`
}

// runNLPjs runs bench/nlu/nlpjs/clinc.js in a cached copy of that folder
// with its dependencies installed by npm ci.
func runNLPjs(ctx context.Context, root string, cfg config, perIntent int) result {
	r := result{system: "nlp.js"}
	ctx, cancel := context.WithTimeout(ctx, cfg.nlpjsTimeout)
	defer cancel()
	dir, err := nlpjsDir(ctx, root)
	if err != nil {
		r.err = err
		return r
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "clinc.js"),
		"--data", cfg.data, "--per-intent", fmt.Sprint(perIntent), "--seed", fmt.Sprint(cfg.seed))
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		r.err = fmt.Errorf("node clinc.js: %w: %s", err, lastLine(stderr.String()))
		return r
	}
	line := lastLine(stdout.String())
	var j nlpjsResult
	if err := json.Unmarshal([]byte(line), &j); err != nil {
		r.err = fmt.Errorf("node clinc.js printed %q: %w", line, err)
		return r
	}
	if j.Name != "" {
		r.system = j.Name
	}
	r.version = j.Version
	r.trainWall = time.Duration(j.TrainSeconds * float64(time.Second))
	r.accuracy, r.oosRecall, r.rejected, r.threshold = j.InScopeAccuracy, j.OOSRecall, j.InScopeRejected, j.Threshold
	r.p50 = time.Duration(j.LatencyP50Ms * float64(time.Millisecond))
	r.p99 = time.Duration(j.LatencyP99Ms * float64(time.Millisecond))
	return r
}

// nlpjsDir returns a copy of bench/nlu/nlpjs in the user's cache directory
// with node_modules installed by "npm ci", made once per content of
// package.json and package-lock.json; clinc.js is copied afresh each time.
func nlpjsDir(ctx context.Context, root string) (string, error) {
	src := filepath.Join(root, "bench", "nlu", "nlpjs")
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s not found on PATH", tool)
		}
	}
	h := sha256.New()
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "conversa-bench", "nlpjs-"+hex.EncodeToString(h.Sum(nil))[:16])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".js") && !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
			return "", err
		}
	}
	done := filepath.Join(dir, ".npm-ci-done")
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	fmt.Fprintf(os.Stderr, "nlu: npm ci in %s\n", dir)
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm ci: %w: %s", err, lastLine(string(b)))
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return "", err
	}
	return dir, nil
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	last := ""
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

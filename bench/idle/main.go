// Command idle measures the resident memory (RSS) of an idle
// "conversa serve --demo" on the embedded store: a fresh data directory,
// no traffic but a health check, then again after the demo page and the
// widget script have been served once.
//
//	go run ./bench/idle [-wait 5s] [-samples 5] [-runs 1]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"conversa/bench"
)

// targetRSS is the target for an idle node: 60 MB.
const targetRSS = 60_000_000

// config is the command line.
type config struct {
	bin     string
	wait    time.Duration
	samples int
	every   time.Duration
	runs    int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "conversa binary to run (default: bin/conversa if newer than the sources, else a fresh build)")
	flag.DurationVar(&cfg.wait, "wait", 5*time.Second, "idle time after start-up (and after the page) before sampling")
	flag.IntVar(&cfg.samples, "samples", 5, "RSS samples per measurement")
	flag.DurationVar(&cfg.every, "every", time.Second, "time between samples")
	flag.IntVar(&cfg.runs, "runs", 1, "fresh nodes to measure, one after the other")
	flag.Parse()
	if cfg.samples < 1 || cfg.runs < 1 {
		fmt.Fprintln(os.Stderr, "idle: -samples and -runs must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "idle:", err)
		os.Exit(1)
	}
}

// measurement is one fresh node's memory.
type measurement struct {
	startup               time.Duration // process start -> URL printed
	idleMin, idleMax      int64
	servedMin, servedMax  int64
	peak                  int64 // VmHWM at the end
	heapInuse, stackInuse float64
	goroutines            float64
}

func run(ctx context.Context, cfg config) error {
	if _, err := bench.RaiseFileLimit(); err != nil {
		return err
	}
	fmt.Println("== idle: RSS of conversa serve --demo on the embedded store")
	for _, l := range bench.Machine() {
		fmt.Println(l)
	}
	tmp, err := os.MkdirTemp("", "conversa-bench-idle-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cfg.bin == "" {
		if cfg.bin, err = bench.Binary(ctx, tmp, os.Stdout); err != nil {
			return err
		}
	}
	var ms []measurement
	for i := range cfg.runs {
		m, err := measure(ctx, cfg, filepath.Join(tmp, "data-"+strconv.Itoa(i)))
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}

	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "run\tstart-up\tidle RSS min\tidle RSS max\tafter page RSS min\tafter page RSS max\tpeak RSS\theap in use\tstacks\tgoroutines\t")
	worst := int64(0)
	for i, m := range ms {
		fmt.Fprintf(w, "%d\t%.0f ms\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t\n", i+1, float64(m.startup.Microseconds())/1000,
			bench.MiB(m.idleMin), bench.MiB(m.idleMax), bench.MiB(m.servedMin), bench.MiB(m.servedMax), bench.MiB(m.peak),
			bench.MiB(int64(m.heapInuse)), bench.MiB(int64(m.stackInuse)), m.goroutines)
		worst = max(worst, m.idleMax, m.servedMax)
	}
	w.Flush()
	fmt.Printf("(%d samples %s apart, %s after start-up and again %s after GET /webchat/demo and /webchat/widget.js;\n", cfg.samples, cfg.every, cfg.wait, cfg.wait)
	fmt.Println(" peak: VmHWM; heap, stacks and goroutines: /metrics at the end)")
	fmt.Printf("target \"idle RSS under 60 MB\": %s (highest sample %s = %.1f MB)\n", metOr(worst < targetRSS), bench.MiB(worst), float64(worst)/1e6)
	return nil
}

// measure starts a node on a fresh data directory and measures it.
func measure(ctx context.Context, cfg config, dir string) (m measurement, err error) {
	begin := time.Now()
	node, err := bench.Start(ctx, cfg.bin, "serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "warn")
	if err != nil {
		return m, err
	}
	m.startup = time.Since(begin)
	defer func() { err = errors.Join(err, node.Stop()) }()
	fmt.Printf("node: %s (pid %d), data in %s\n", node.URL, node.Pid(), dir)
	client := &http.Client{Timeout: 10 * time.Second}
	if err := sleep(ctx, cfg.wait); err != nil {
		return m, err
	}
	if err := get(ctx, client, node.URL+"/healthz"); err != nil {
		return m, err
	}
	if m.idleMin, m.idleMax, err = bench.SampleRSS(ctx, node.Pid(), cfg.samples, cfg.every); err != nil {
		return m, err
	}
	for _, path := range []string{"/webchat/demo?channel=demo-web", "/webchat/widget.js"} {
		if err := get(ctx, client, node.URL+path); err != nil {
			return m, err
		}
	}
	if err := sleep(ctx, cfg.wait); err != nil {
		return m, err
	}
	if m.servedMin, m.servedMax, err = bench.SampleRSS(ctx, node.Pid(), cfg.samples, cfg.every); err != nil {
		return m, err
	}
	if m.peak, err = bench.PeakRSS(node.Pid()); err != nil {
		return m, err
	}
	metrics, err := bench.Scrape(ctx, client, node.URL)
	if err != nil {
		return m, err
	}
	m.heapInuse, _ = metrics.Sum("go_memstats_heap_inuse_bytes")
	m.stackInuse, _ = metrics.Sum("go_memstats_stack_inuse_bytes")
	m.goroutines, _ = metrics.Sum("go_goroutines")
	return m, nil
}

// get fetches url and reads the whole answer, which must be 200.
func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func metOr(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

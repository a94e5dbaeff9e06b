// Command webchat measures conversa's web-chat channel through the widget
// protocol, as a browser speaks it:
//
//   - latency: -visitors visitors each send -messages messages one after
//     the other, and the time from sending a message to the first frame of
//     the demo bot's reply on the socket is measured, on the embedded store
//     and, when TEST_POSTGRES_URL and TEST_VALKEY_URL are set, on
//     PostgreSQL with Valkey;
//   - memory: the node's RSS before and after opening -conns idle
//     connections, for new visitors (no contact yet) and for visitors that
//     wrote once (a contact, so an event subscription per connection).
//
// The node is the real binary, "conversa serve --demo", on loopback.
//
//	go run ./bench/webchat [-visitors 50] [-messages 20] [-conns 10000]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"conversa/bench"
)

// demoChannel is the demo tenant's web-chat channel.
const demoChannel = "demo-web"

// config is the command line.
type config struct {
	bin         string
	postgresURL string
	valkeyURL   string
	visitors    int
	messages    int
	conns       int
	parallel    int
	settle      time.Duration
	samples     int
	memory      bool
	postgres    bool
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "conversa binary to run (default: bin/conversa if newer than the sources, else a fresh build)")
	flag.StringVar(&cfg.postgresURL, "postgres-url", os.Getenv("TEST_POSTGRES_URL"), "PostgreSQL server for the second latency run (default $TEST_POSTGRES_URL)")
	flag.StringVar(&cfg.valkeyURL, "valkey-url", os.Getenv("TEST_VALKEY_URL"), "Valkey server for the second latency run (default $TEST_VALKEY_URL)")
	flag.IntVar(&cfg.visitors, "visitors", 50, "concurrent visitors in the latency runs")
	flag.IntVar(&cfg.messages, "messages", 20, "messages each visitor sends, one after the other (the node allows 30 a minute)")
	flag.IntVar(&cfg.conns, "conns", 10000, "idle connections in the memory runs")
	flag.IntVar(&cfg.parallel, "parallel", 100, "connections opened at once")
	flag.DurationVar(&cfg.settle, "settle", 5*time.Second, "wait before sampling the node's memory")
	flag.IntVar(&cfg.samples, "samples", 5, "RSS samples, a second apart, per measurement (the smallest counts)")
	flag.BoolVar(&cfg.memory, "memory", true, "measure the memory of idle connections")
	flag.BoolVar(&cfg.postgres, "postgres", true, "also measure latency on PostgreSQL + Valkey, when their URLs are set")
	flag.Parse()
	if cfg.visitors < 1 || cfg.messages < 1 || cfg.conns < 1 || cfg.parallel < 1 || cfg.samples < 1 {
		fmt.Fprintln(os.Stderr, "webchat: -visitors, -messages, -conns, -parallel and -samples must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "webchat:", err)
		os.Exit(1)
	}
}

// serveArgs returns the command line of every node, with the store's
// flags: the demo tenant, loopback on a free port, quiet logs, and a
// new-visitor limit the benchmark cannot reach (all its visitors come from
// 127.0.0.1).
func serveArgs(storeArgs ...string) []string {
	return append([]string{
		"serve", "--demo", "--addr", "127.0.0.1:0", "--log-level", "warn",
		"--webchat-visitors-per-minute", "1000000", "--shutdown-timeout", "10s",
	}, storeArgs...)
}

func run(ctx context.Context, cfg config) error {
	limit, err := bench.RaiseFileLimit()
	if err != nil {
		return err
	}
	fmt.Println("== webchat: the widget protocol over WebSocket on loopback")
	for _, l := range bench.Machine() {
		fmt.Println(l)
	}
	fmt.Printf("open files limit: %d\n", limit)
	tmp, err := os.MkdirTemp("", "conversa-bench-webchat-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cfg.bin == "" {
		if cfg.bin, err = bench.Binary(ctx, tmp, os.Stdout); err != nil {
			return err
		}
	}
	fmt.Println()

	var lats []latencyResult
	var mems []memoryResult
	if err := runEmbedded(ctx, cfg, filepath.Join(tmp, "embedded"), &lats, &mems); err != nil {
		return err
	}
	if cfg.postgres && cfg.postgresURL != "" && cfg.valkeyURL != "" {
		lat, err := runPostgres(ctx, cfg, filepath.Join(tmp, "postgres"))
		if err != nil {
			return err
		}
		lats = append(lats, lat)
	} else if cfg.postgres {
		fmt.Println("PostgreSQL + Valkey: skipped (set TEST_POSTGRES_URL and TEST_VALKEY_URL)")
	}
	return report(cfg, lats, mems)
}

// runEmbedded runs the latency and memory measurements on the embedded
// store. The visitors with a contact are measured on a second node on the
// same data, so that the memory freed by preparing them does not hide the
// growth.
func runEmbedded(ctx context.Context, cfg config, dir string, lats *[]latencyResult, mems *[]memoryResult) (err error) {
	args := serveArgs("--data-dir", dir)
	node, err := bench.Start(ctx, cfg.bin, args...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, node.Stop()) }()
	wg := newWidget(node.URL, demoChannel, cfg.parallel)
	fmt.Printf("embedded store: %s (pid %d), data in %s\n", node.URL, node.Pid(), dir)
	if err := warmUp(ctx, wg, node.Pid()); err != nil {
		return err
	}
	if cfg.memory {
		fmt.Printf("memory (a): %d new visitors ...\n", cfg.conns)
		m, err := measureMemory(ctx, node, wg, "(a) new visitors, no contact", make([]string, cfg.conns), cfg)
		if err != nil {
			return err
		}
		*mems = append(*mems, m)
		if err := waitForConns(ctx, node, wg, 0); err != nil {
			return err
		}
	}
	fmt.Printf("latency: %d visitors x %d messages ...\n", cfg.visitors, cfg.messages)
	*lats = append(*lats, measureLatency(ctx, wg, "embedded SQLite", node.Pid(), cfg.visitors, cfg.messages))
	if !cfg.memory {
		return nil
	}

	fmt.Printf("memory (b): preparing %d visitors that write one message ...\n", cfg.conns)
	begin := time.Now()
	tokens, err := prepareVisitors(ctx, wg, cfg.conns, cfg.parallel)
	if err != nil {
		return err
	}
	wrote := time.Since(begin)
	drained, err := waitForJobs(ctx, node, wg, 10*time.Minute)
	if err != nil {
		return err
	}
	fmt.Printf("  %d first messages acked in %.1f s; the bot's replies were delivered %.1f s later\n", len(tokens), wrote.Seconds(), drained.Seconds())
	if err := node.Stop(); err != nil {
		return err
	}

	node2, err := bench.Start(ctx, cfg.bin, args...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, node2.Stop()) }()
	wg2 := newWidget(node2.URL, demoChannel, cfg.parallel)
	fmt.Printf("memory (b): %d visitors with a contact, on a restarted node (pid %d) ...\n", len(tokens), node2.Pid())
	if err := warmUp(ctx, wg2, node2.Pid()); err != nil {
		return err
	}
	m, err := measureMemory(ctx, node2, wg2, "(b) visitors with a contact", tokens, cfg)
	if err != nil {
		return err
	}
	*mems = append(*mems, m)
	return nil
}

// runPostgres runs the latency measurement on PostgreSQL and Valkey, in a
// new database and under a new key prefix, both removed at the end.
func runPostgres(ctx context.Context, cfg config, dir string) (_ latencyResult, err error) {
	db, err := bench.CreateTempDB(ctx, cfg.postgresURL)
	if err != nil {
		return latencyResult{}, err
	}
	defer func() { err = errors.Join(err, db.Drop(ctx)) }()
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "bench-" + hex.EncodeToString(b)
	defer func() {
		if _, derr := deleteKeys(ctx, cfg.valkeyURL, prefix); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete the Valkey keys under %s: %w", prefix, derr))
		}
	}()
	version, err := valkeyVersion(ctx, cfg.valkeyURL)
	if err != nil {
		return latencyResult{}, fmt.Errorf("valkey: %w", err)
	}
	store := []string{"--database-url", db.URL, "--encryption-key", bench.EncryptionKey, "--valkey-url", cfg.valkeyURL, "--valkey-prefix", prefix, "--data-dir", dir}
	if _, err := bench.Command(ctx, cfg.bin, append([]string{"migrate"}, store...)...); err != nil {
		return latencyResult{}, err
	}
	node, err := bench.Start(ctx, cfg.bin, serveArgs(store...)...)
	if err != nil {
		return latencyResult{}, err
	}
	defer func() { err = errors.Join(err, node.Stop()) }()
	fmt.Printf("PostgreSQL + Valkey: %s (pid %d), database %s, %s, key prefix %s\n", node.URL, node.Pid(), db.Name, version, prefix)
	wg := newWidget(node.URL, demoChannel, cfg.parallel)
	if err := warmUp(ctx, wg, node.Pid()); err != nil {
		return latencyResult{}, err
	}
	fmt.Printf("latency: %d visitors x %d messages ...\n", cfg.visitors, cfg.messages)
	return measureLatency(ctx, wg, "PostgreSQL + Valkey", node.Pid(), cfg.visitors, cfg.messages), nil
}

// warmUp checks the node's health and has one visitor exchange a message
// with the bot.
func warmUp(ctx context.Context, wg *widget, pid int) error {
	if m, err := bench.Scrape(ctx, wg.client, wg.base); err != nil {
		return err
	} else if _, ok := m.Sum("conversa_webchat_connections"); !ok {
		return errors.New("the node's /metrics has no conversa_webchat_connections")
	}
	r := measureLatency(ctx, wg, "warm-up", pid, 1, 1)
	if r.failed > 0 {
		return fmt.Errorf("warm-up: %s", r.firstErr)
	}
	return nil
}

// waitForConns waits until the node counts n open web-chat connections.
func waitForConns(ctx context.Context, node *bench.Node, wg *widget, n float64) error {
	deadline := time.Now().Add(time.Minute)
	for {
		m, err := bench.Scrape(ctx, wg.client, node.URL)
		if err != nil {
			return err
		}
		got, _ := m.Sum("conversa_webchat_connections")
		if got == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the node still counts %v web-chat connections, not %v", got, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// report prints the results and the verdict on the memory target. It
// returns an error if some measurement had failures.
func report(cfg config, lats []latencyResult, mems []memoryResult) error {
	var failures []error
	fmt.Println()
	fmt.Println("latency: a visitor's message -> the first frame of the bot's reply on the socket")
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "store\treplies\tmsg/s\tp50\tp90\tp99\tmax\tack p50\tack p99\tfirst reply p50\tserver CPU/msg\tmachine busy\tfailed\t")
	for _, l := range lats {
		perMsg := "-"
		if l.reply.N > 0 {
			perMsg = fmt.Sprintf("%.0f µs", float64(l.serverCPU.Microseconds())/float64(l.reply.N))
		}
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%d\t\n", l.store, l.reply.N, float64(l.reply.N)/l.elapsed.Seconds(),
			bench.Ms(l.reply.P50), bench.Ms(l.reply.P90), bench.Ms(l.reply.P99), bench.Ms(l.reply.Max),
			bench.Ms(l.ack.P50), bench.Ms(l.ack.P99), bench.Ms(l.first.P50), perMsg, 100*l.busy, l.failed)
		if l.failed > 0 {
			failures = append(failures, fmt.Errorf("latency on %s: %d visitors failed; the first: %s", l.store, l.failed, l.firstErr))
		}
	}
	w.Flush()
	fmt.Printf("(%d visitors at once, each waiting for the reply before its next message; msg/s = replies / wall time;\n", cfg.visitors)
	fmt.Println(" first reply: the reply to a visitor's first message, which creates the contact and conversation;")
	fmt.Println(" server CPU/msg: the node's CPU time per reply, /proc/<pid>/stat; machine busy: both cores, clients included)")
	if len(mems) == 0 {
		return errors.Join(failures...)
	}

	fmt.Println()
	fmt.Printf("memory of idle connections (embedded store; smallest of %d RSS samples, %s after the last change)\n", cfg.samples, cfg.settle)
	w = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "case\topened\tfailed\topen time\tRSS before\tRSS after\tRSS/conn\theap/conn\tstacks/conn\tgoroutines/conn\tconversa_webchat_connections\t")
	for _, m := range mems {
		fmt.Fprintf(w, "%s\t%d\t%d\t%.1f s\t%s\t%s\t%.1f KiB\t%.1f KiB\t%.1f KiB\t%.2f\t%.0f\t\n", m.name, m.opened, m.failed, m.openTime.Seconds(),
			bench.MiB(m.before.rssMin), bench.MiB(m.after.rssMin),
			m.perConn(float64(m.before.rssMin), float64(m.after.rssMin))/1024,
			m.perConn(m.before.heapInuse, m.after.heapInuse)/1024,
			m.perConn(m.before.stackInuse, m.after.stackInuse)/1024,
			m.perConn(m.before.goroutines, m.after.goroutines), m.after.conns)
		if m.failed > 0 {
			failures = append(failures, fmt.Errorf("memory %s: %d connections failed; the first: %s", m.name, m.failed, m.firstErr))
		}
	}
	w.Flush()
	fmt.Println("(heap: go_memstats_heap_inuse_bytes, stacks: go_memstats_stack_inuse_bytes, goroutines: go_goroutines, from /metrics)")
	for _, m := range mems {
		b := m.perConn(float64(m.before.rssMin), float64(m.after.rssMin))
		fmt.Printf("target \"under 30 KB (30,000 bytes) per idle connection\", %s: %s (%.0f bytes = %.1f KiB)\n", m.name, metOr(b < 30000), b, b/1024)
	}
	return errors.Join(failures...)
}

func metOr(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

// Command ingest measures how fast conversa takes inbound messages over
// HTTP, and how long the sender waits for the acknowledgement.
//
// A load generator on loopback keeps -concurrency clients POSTing
// channel-neutral messages to /api/v1/inbound, from -contacts distinct
// senders picked at random, over keep-alive connections. It drives, in the
// same run and against the same PostgreSQL server:
//
//   - baseline: an HTTP handler in this process that decodes the same JSON
//     body and stores it with one plain INSERT (autocommit, durable commit);
//   - conversa on PostgreSQL: the real binary, "conversa serve --workers 0",
//     so that only the ingest path runs (the route jobs pile up);
//   - conversa on the embedded SQLite store.
//
// Each run warms up for -warmup, then measures -duration: messages per
// second acknowledged with 2xx, and the latency from sending a request to
// reading the whole answer. The baseline and conversa on PostgreSQL
// alternate for -rounds rounds. TEST_POSTGRES_URL names the server; each
// run makes its own database and drops it at the end.
//
//	go run ./bench/ingest [-duration 10s] [-concurrency 64] [-contacts 10000]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"conversa/bench"
)

// config is the command line.
type config struct {
	bin          string
	postgresURL  string
	duration     time.Duration
	warmup       time.Duration
	concurrency  int
	contacts     int
	rounds       int
	baselinePool int
	seed         bool
	sqlite       bool
	maxErrorRate float64
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "conversa binary to run (default: bin/conversa if newer than the sources, else a fresh build)")
	flag.StringVar(&cfg.postgresURL, "postgres-url", os.Getenv("TEST_POSTGRES_URL"), "PostgreSQL server to make the benchmark database on (default $TEST_POSTGRES_URL)")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured time of each run")
	flag.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "unmeasured load before each run")
	flag.IntVar(&cfg.concurrency, "concurrency", 64, "concurrent clients, each with its own keep-alive connection")
	flag.IntVar(&cfg.contacts, "contacts", 10000, "distinct senders")
	flag.IntVar(&cfg.rounds, "rounds", 2, "rounds of baseline and conversa on PostgreSQL, alternating (and runs on SQLite)")
	flag.IntVar(&cfg.baselinePool, "baseline-pool", 4, "connections of the baseline's pgx pool (conversa's pgxpool default is max(4, CPUs))")
	flag.BoolVar(&cfg.seed, "seed", true, "first send one unmeasured message per contact, so that measured messages go to existing contacts")
	flag.BoolVar(&cfg.sqlite, "sqlite", true, "also measure conversa on the embedded SQLite store")
	flag.Float64Var(&cfg.maxErrorRate, "max-error-rate", 0.001, "fail if more than this fraction of measured requests are not 2xx")
	flag.Parse()
	if cfg.concurrency < 1 || cfg.contacts < 1 || cfg.rounds < 1 || cfg.baselinePool < 1 || cfg.duration <= 0 || cfg.warmup < 0 {
		fmt.Fprintln(os.Stderr, "ingest: -concurrency, -contacts, -rounds, -baseline-pool and -duration must be positive")
		os.Exit(2)
	}
	if cfg.postgresURL == "" {
		fmt.Fprintln(os.Stderr, "ingest: set TEST_POSTGRES_URL or -postgres-url (scripts/services .test/env writes it)")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) (err error) {
	limit, err := bench.RaiseFileLimit()
	if err != nil {
		return err
	}
	fmt.Println("== ingest: POST /api/v1/inbound on loopback")
	for _, l := range bench.Machine() {
		fmt.Println(l)
	}
	fmt.Printf("open files limit: %d\n", limit)
	tmp, err := os.MkdirTemp("", "conversa-bench-ingest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cfg.bin == "" {
		if cfg.bin, err = bench.Binary(ctx, tmp, os.Stdout); err != nil {
			return err
		}
	}

	db, err := bench.CreateTempDB(ctx, cfg.postgresURL)
	if err != nil {
		return err
	}
	defer func() {
		if derr := db.Drop(ctx); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	fmt.Printf("database: %s (dropped at the end)\n", db.Name)
	fmt.Printf("load:    %d clients, %d contacts, warm-up %s, measured %s per run, %d rounds\n\n",
		cfg.concurrency, cfg.contacts, cfg.warmup, cfg.duration, cfg.rounds)

	b := &benchmark{cfg: cfg, tmp: tmp}
	return b.run(ctx, db)
}

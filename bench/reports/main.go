// Command reports measures issue 11's reports on PostgreSQL at the issue's
// size: 30 tenants, 1,000,000 conversations and 10,000,000 messages over
// about three months.
//
// It first makes sure the benchmark database exists: conversa_bench_reports
// (or conversa_bench_reports_<scale> with -scale), kept between runs and
// generated again only when it is missing, of another generator version or
// size, or interrupted (a marker row records what was generated). The
// generator opens the database as the product's store (the real
// migrations), creates tenants, channel accounts, teams, queues and agents
// through it, and writes contacts, identities, conversations, messages
// (directions, authors, channels, the bot's analysis of inbound messages,
// delivery failures), routing history, PQR cases and surveys with COPY,
// with the daily and hourly shape of each tenant's time zone. The time
// the generation took is printed and kept in the marker.
//
// Then it measures, on that data:
//
//   - the backfill that builds the aggregates, timed;
//
//   - the dashboard's queries: the report of today and of the last 7 days,
//     and the live view, for random tenants, -runs times each (p50, p99,
//     max; target p99 < 300 ms);
//
//   - a month's report for every tenant (target < 2 s);
//
//   - sustained: a conversa node ingests messages on POST /api/v1/inbound
//     from -concurrency clients for -sustain alone, then for -sustain
//     while -reports-per-minute month reports run for random tenants and
//     the rollup keeps the aggregates up to date; the slowdown of ingest is
//     the target (at most 10%).
//
//     go run ./bench/reports [-scale 1] [-runs 200] [-sustain 2m] [-reports-per-minute 100]
//
// The "now" of the generated history is the moment it was generated: the
// reports of "today" and "the last 7 days" end there, so a kept database
// measures the same periods on every run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"conversa/bench"
)

type config struct {
	bin              string
	postgresURL      string
	dbName           string
	scale            float64
	jobs             int
	regenerate       bool
	generateOnly     bool
	runs             int
	sustain          time.Duration
	alone            time.Duration
	warmup           time.Duration
	concurrency      int
	senders          int
	reportsPerMinute int
	rollupEvery      time.Duration
	rounds           int
	rate             int
	backfill         bool
	uncached         bool
	seed             uint64
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "conversa binary to run (default: bin/conversa if newer than the sources, else a fresh build)")
	flag.StringVar(&cfg.postgresURL, "postgres-url", os.Getenv("TEST_POSTGRES_URL"), "PostgreSQL server of the benchmark database (default $TEST_POSTGRES_URL)")
	flag.StringVar(&cfg.dbName, "db", "", "name of the kept benchmark database (default conversa_bench_reports, with the scale appended when not 1)")
	flag.Float64Var(&cfg.scale, "scale", 1, "size of the data: 1 is the issue's 1,000,000 conversations and 10,000,000 messages; 0.01 a quick run")
	flag.IntVar(&cfg.jobs, "jobs", 2, "tenants generated at once")
	flag.BoolVar(&cfg.regenerate, "regenerate", false, "generate the database again even if it is up to date")
	flag.BoolVar(&cfg.generateOnly, "generate-only", false, "only make sure the database is generated")
	flag.IntVar(&cfg.runs, "runs", 200, "timed runs of each dashboard query")
	flag.DurationVar(&cfg.sustain, "sustain", 2*time.Minute, "length of each sustained phase (ingest alone, then with reports); the issue's figure is 30m")
	flag.DurationVar(&cfg.alone, "alone", 0, "length of the phase of ingest alone, when not -sustain (a shorter baseline before a 30m phase with reports)")
	flag.DurationVar(&cfg.warmup, "warmup", 15*time.Second, "unmeasured ingest before the sustained phases")
	flag.IntVar(&cfg.concurrency, "concurrency", 16, "ingest clients in the sustained phases")
	flag.IntVar(&cfg.senders, "senders", 3000, "distinct senders of the sustained ingest, spread over the tenants")
	flag.IntVar(&cfg.reportsPerMinute, "reports-per-minute", 100, "month reports per minute in the second sustained phase")
	flag.DurationVar(&cfg.rollupEvery, "rollup-every", time.Second, "pause between rollups in the sustained phases")
	flag.IntVar(&cfg.rounds, "rounds", 1, "alternate the two sustained phases this many times, each -sustain/rounds long, the phase with reports first in every other round (so that other load, and a drift of the machine's speed, weigh on both)")
	flag.IntVar(&cfg.rate, "rate", 0, "ingest at this steady rate, messages/s, in the sustained phases (0: as fast as the node answers)")
	flag.BoolVar(&cfg.backfill, "backfill", true, "rebuild the aggregates with the backfill first (false: measure on those the last run left)")
	flag.BoolVar(&cfg.uncached, "uncached", false, "the sustained reports cover 30 days ending at a random hour of the last month, so that each is computed (none is served from the figures kept)")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the random tenants and periods of the measurements")
	flag.Parse()
	if cfg.scale <= 0 || cfg.scale > 10 || cfg.jobs < 1 || cfg.runs < 1 || cfg.concurrency < 1 || cfg.senders < tenantCount ||
		cfg.reportsPerMinute < 0 || cfg.rounds < 1 || cfg.rate < 0 || cfg.sustain <= 0 || cfg.alone < 0 || cfg.warmup < 0 || cfg.rollupEvery <= 0 {
		fmt.Fprintln(os.Stderr, "reports: -scale must be in (0, 10], -jobs, -runs, -concurrency and -sustain positive, -senders at least 30")
		os.Exit(2)
	}
	if cfg.postgresURL == "" {
		fmt.Fprintln(os.Stderr, "reports: set TEST_POSTGRES_URL or -postgres-url (scripts/services .test/env writes it)")
		os.Exit(2)
	}
	if cfg.dbName == "" {
		cfg.dbName = "conversa_bench_reports"
		if cfg.scale != 1 {
			cfg.dbName += "_" + strings.NewReplacer(".", "_", "-", "_").Replace(fmt.Sprint(cfg.scale))
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, cfg)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reports:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	fmt.Println("== reports: issue 11's reports on PostgreSQL")
	for _, l := range bench.Machine() {
		fmt.Println(l)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Println("load:   ", strings.Join(strings.Fields(string(b))[:3], " "))
	}
	store, dbURL, ds, tenants, err := openData(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Printf("data:    %s: %d tenants, %d contacts, %d conversations, %d messages, %d handoffs, %d cases, %d surveys, %d failed; %s; history %s to %s\n",
		cfg.dbName, ds.Tenants, ds.Contacts, ds.Conversations, ds.Messages, ds.Handoffs, ds.Cases, ds.Surveys, ds.Failed, ds.Size,
		ds.Start.Format("2006-01-02"), ds.End.Format(time.RFC3339))
	if cfg.generateOnly {
		return nil
	}
	return measure(ctx, cfg, store, dbURL, ds, tenants)
}

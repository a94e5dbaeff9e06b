package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // reads the embedded store's file after the run

	"conversa/bench"
)

// benchmark is one run of the whole ingest benchmark.
type benchmark struct {
	cfg     config
	tmp     string
	ids     atomic.Int64 // provider ids, unique over the run
	results []result
	notes   []string
}

// result is one measured run of one target.
type result struct {
	round  int
	target *target
	stats  loadStats
	// batch is the transactions that stored the run's messages; zero
	// when unknown.
	batch batchStats
}

// batchStats describes how conversa grouped messages into transactions.
type batchStats struct {
	msgs, txs, max int64
}

const (
	nameBaseline = "baseline (PostgreSQL INSERT)"
	namePG       = "conversa (PostgreSQL)"
	nameTwilio   = "conversa, Twilio webhooks (PostgreSQL)"
	nameSQLite   = "conversa (embedded SQLite)"
)

func (b *benchmark) run(ctx context.Context, db *bench.TempDB) (err error) {
	cfg := b.cfg
	pg, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		return err
	}
	defer pg.Close(context.WithoutCancel(ctx))
	var version, syncCommit string
	if err := pg.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return err
	}
	if err := pg.QueryRow(ctx, "SHOW synchronous_commit").Scan(&syncCommit); err != nil {
		return err
	}
	fmt.Printf("postgres: %s, synchronous_commit=%s\n", version, syncCommit)
	if syncCommit != "on" {
		return fmt.Errorf("synchronous_commit is %q; the benchmark measures durable commits (on)", syncCommit)
	}

	bl, err := startBaseline(ctx, db.URL, cfg.baselinePool)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	defer func() { err = errors.Join(err, bl.close(ctx)) }()
	var blSync string
	if err := bl.pool.QueryRow(ctx, "SHOW synchronous_commit").Scan(&blSync); err != nil || blSync != "on" {
		return fmt.Errorf("baseline pool: synchronous_commit %q, %v", blSync, err)
	}
	base := &target{name: nameBaseline, url: bl.url, channelID: 1, client: newClient(cfg.concurrency)}
	fmt.Printf("baseline: net/http in this process, pgx pool of %d connections, one INSERT per request\n", cfg.baselinePool)

	dir := filepath.Join(b.tmp, "postgres")
	node, conv, err := startProduct(ctx, cfg.bin, dir, namePG,
		[]string{"--database-url", db.URL, "--encryption-key", bench.EncryptionKey, "--data-dir", filepath.Join(dir, "data")}, true, cfg.concurrency)
	if err != nil {
		return fmt.Errorf("conversa on PostgreSQL: %w", err)
	}
	defer func() { err = errors.Join(err, node.Stop()) }()
	fmt.Printf("conversa: %s (pid %d), %s\n", node.URL, node.Pid(), "serve --workers 0")
	tw := twilioTarget(node, cfg.concurrency)
	if err := b.seed(ctx, conv); err != nil {
		return err
	}
	if err := b.seed(ctx, tw); err != nil {
		return err
	}
	for r := 1; r <= cfg.rounds; r++ {
		if err := b.measure(ctx, r, base, pg); err != nil {
			return err
		}
		if err := b.measure(ctx, r, conv, pg); err != nil {
			return err
		}
		if err := b.measure(ctx, r, tw, pg); err != nil {
			return err
		}
	}
	if err := b.checkPostgres(ctx, pg, base, conv, tw); err != nil {
		return err
	}
	if err := node.Stop(); err != nil {
		return err
	}

	if cfg.sqlite {
		if err := b.runSQLite(ctx); err != nil {
			return err
		}
	}
	return b.report()
}

// runSQLite measures conversa on the embedded store, then checks that every
// acknowledged message is in its file.
func (b *benchmark) runSQLite(ctx context.Context) (err error) {
	dir := filepath.Join(b.tmp, "sqlite")
	data := filepath.Join(dir, "data")
	node, conv, err := startProduct(ctx, b.cfg.bin, dir, nameSQLite, []string{"--data-dir", data}, false, b.cfg.concurrency)
	if err != nil {
		return fmt.Errorf("conversa on SQLite: %w", err)
	}
	defer func() { err = errors.Join(err, node.Stop()) }()
	fmt.Printf("conversa: %s (pid %d), embedded store in %s\n", node.URL, node.Pid(), data)
	if err := b.seed(ctx, conv); err != nil {
		return err
	}
	for r := 1; r <= b.cfg.rounds; r++ {
		if err := b.measure(ctx, r, conv, nil); err != nil {
			return err
		}
	}
	if err := node.Stop(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "conversa.db")+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var stored int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM messages").Scan(&stored); err != nil {
		return fmt.Errorf("count the embedded store's messages: %w", err)
	}
	b.check(nameSQLite, stored, conv.acked.Load())
	return nil
}

// seed runs the seeding phase on t, if enabled, and notes its speed: every
// message of it creates a contact and a conversation.
func (b *benchmark) seed(ctx context.Context, t *target) error {
	if !b.cfg.seed {
		return nil
	}
	d, err := seed(ctx, t, b.cfg, &b.ids)
	if err != nil {
		return err
	}
	b.note("%s: seeded %d new contacts (one message each, not measured) in %.1f s: %.0f msg/s",
		t.name, b.cfg.contacts, d.Seconds(), float64(b.cfg.contacts)/d.Seconds())
	return nil
}

// measure runs the load against t once and records the result. pg, when
// set, is the benchmark database, for WAL statistics and, on conversa's
// tables, the batch sizes.
func (b *benchmark) measure(ctx context.Context, round int, t *target, pg *pgx.Conn) error {
	fmt.Printf("round %d: %s ...\n", round, t.name)
	var first int64
	product := pg != nil && (t.name == namePG || t.name == nameTwilio)
	if product {
		if err := pg.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM messages").Scan(&first); err != nil {
			return err
		}
	}
	snap := func() (window, error) {
		w := window{at: time.Now(), walSyncs: -1}
		var err error
		if t.pid != 0 {
			if w.serverCPU, err = bench.CPUTime(t.pid); err != nil {
				return w, err
			}
		}
		if w.benchCPU, err = bench.CPUTime(os.Getpid()); err != nil {
			return w, err
		}
		if w.cpu, err = bench.ReadCPUStat(); err != nil {
			return w, err
		}
		if pg != nil {
			if w.pgCPU, err = bench.CPUTimeOfCommand("postgres"); err != nil {
				return w, err
			}
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if pg.QueryRow(qctx, "SELECT wal_sync FROM pg_stat_wal").Scan(&w.walSyncs) != nil {
				w.walSyncs = -1 // PostgreSQL before 14
			}
		}
		return w, nil
	}
	stats, err := load(ctx, t, b.cfg, &b.ids, snap)
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	res := result{round: round, target: t, stats: stats}
	if product {
		err := pg.QueryRow(ctx, `SELECT coalesce(sum(n), 0), count(*), coalesce(max(n), 0)
			FROM (SELECT count(*) AS n FROM messages WHERE id > $1 GROUP BY xmin::text) batches`, first).
			Scan(&res.batch.msgs, &res.batch.txs, &res.batch.max)
		if err != nil {
			return fmt.Errorf("batch sizes: %w", err)
		}
	}
	b.results = append(b.results, res)
	return nil
}

// checkPostgres checks that every acknowledged message is stored.
func (b *benchmark) checkPostgres(ctx context.Context, pg *pgx.Conn, base, conv, tw *target) error {
	var baseRows, msgs, jobs int64
	if err := pg.QueryRow(ctx, "SELECT count(*) FROM baseline_messages").Scan(&baseRows); err != nil {
		return err
	}
	if err := pg.QueryRow(ctx, "SELECT (SELECT count(*) FROM messages), (SELECT count(*) FROM jobs)").Scan(&msgs, &jobs); err != nil {
		return err
	}
	b.check(nameBaseline, baseRows, base.acked.Load())
	b.check(namePG+" and "+nameTwilio, msgs, conv.acked.Load()+tw.acked.Load())
	b.note("%s: %d route jobs queued for %d messages (no workers ran)", namePG, jobs, msgs)
	return nil
}

// check notes whether a target stored as many messages as it acknowledged.
func (b *benchmark) check(name string, stored, acked int64) {
	verdict := "OK"
	if stored != acked {
		verdict = "MISMATCH"
	}
	b.note("%s: %d messages acknowledged with 2xx, %d stored: %s", name, acked, stored, verdict)
}

func (b *benchmark) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

// report prints the results and the verdicts on the targets. It returns an
// error if some run failed too many requests.
func (b *benchmark) report() error {
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "round\ttarget\tmsg/s\tp50\tp90\tp99\tmax\terrors\tserver CPU/msg\tpostgres CPU/msg\tbench CPU/msg\tmachine busy\tmsgs/WAL sync\tmsgs/commit (max)\t")
	var failed []string
	for _, r := range b.results {
		s := r.stats
		lat := bench.Summarize(s.latencies)
		window := s.end.at.Sub(s.start.at)
		rate := float64(s.ok) / window.Seconds()
		perMsg := func(d time.Duration) string {
			if s.ok == 0 {
				return "-"
			}
			return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(s.ok))
		}
		server := "-"
		if r.target.pid != 0 {
			server = perMsg(s.end.serverCPU - s.start.serverCPU)
		}
		pgCPU := "-"
		if s.start.pgCPU > 0 {
			pgCPU = perMsg(s.end.pgCPU - s.start.pgCPU)
		}
		wal := "-"
		if n := s.end.walSyncs - s.start.walSyncs; s.start.walSyncs >= 0 && n > 0 {
			wal = fmt.Sprintf("%.1f", float64(s.ok)/float64(n))
		}
		batch := "-"
		switch {
		case r.target.name == nameBaseline:
			batch = "1 (1)"
		case r.batch.txs > 0:
			batch = fmt.Sprintf("%.1f (%d)", float64(r.batch.msgs)/float64(r.batch.txs), r.batch.max)
		}
		errs := fmt.Sprint(s.failed)
		if s.warmFailed > 0 {
			errs += fmt.Sprintf(" (+%d outside)", s.warmFailed)
		}
		fmt.Fprintf(w, "%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t%s\t%s\t\n",
			r.round, r.target.name, rate, bench.Ms(lat.P50), bench.Ms(lat.P90), bench.Ms(lat.P99), bench.Ms(lat.Max),
			errs, server, pgCPU, perMsg(s.end.benchCPU-s.start.benchCPU), 100*s.end.cpu.BusySince(s.start.cpu), wal, batch)
		if n := s.ok + s.failed; n == 0 || float64(s.failed) > b.cfg.maxErrorRate*float64(n) {
			failed = append(failed, fmt.Sprintf("round %d %s: %d of %d requests failed; the first: %s", r.round, r.target.name, s.failed, n, s.firstFailed))
		}
	}
	w.Flush()
	fmt.Println()
	fmt.Println("server CPU/msg: CPU time of the conversa process per acknowledged message (user+system, /proc/<pid>/stat).")
	fmt.Println("postgres CPU/msg: all processes named postgres on this machine (server, backends, WAL writer).")
	fmt.Println("bench CPU/msg: this process (load generator, and for the baseline also its handler). machine busy: both cores.")
	fmt.Println("msgs/WAL sync: acknowledged messages per WAL flush of the whole PostgreSQL server (pg_stat_wal.wal_sync).")
	fmt.Println("msgs/commit: messages stored per transaction (distinct xmin of the run's message rows, warm-up included).")
	for _, n := range b.notes {
		fmt.Println(n)
	}
	fmt.Println()
	b.verdicts()
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintln(os.Stderr, f)
		}
		return fmt.Errorf("more than %.1f%% of the measured requests failed in %d runs", 100*b.cfg.maxErrorRate, len(failed))
	}
	return nil
}

// verdicts compares conversa on PostgreSQL with the baseline, round by
// round, and checks the latency target.
func (b *benchmark) verdicts() {
	rate := func(r result) float64 {
		return float64(r.stats.ok) / r.stats.end.at.Sub(r.stats.start.at).Seconds()
	}
	byRound := map[int]map[string]result{}
	for _, r := range b.results {
		if byRound[r.round] == nil {
			byRound[r.round] = map[string]result{}
		}
		byRound[r.round][r.target.name] = r
	}
	var sumRatio float64
	var worstP99 time.Duration
	met := 0
	for round := 1; round <= b.cfg.rounds; round++ {
		base, conv := byRound[round][nameBaseline], byRound[round][namePG]
		ratio := rate(conv) / rate(base)
		sumRatio += ratio
		if ratio >= 1 {
			met++
		}
		p99 := bench.Summarize(conv.stats.latencies).P99
		worstP99 = max(worstP99, p99)
		fmt.Printf("round %d: conversa (PostgreSQL) %.0f msg/s = %.2f x baseline %.0f msg/s; ack p99 %s\n",
			round, rate(conv), ratio, rate(base), bench.Ms(p99))
	}
	mean := sumRatio / float64(b.cfg.rounds)
	fmt.Printf("target \"at least as fast as the baseline\": %s (%d of %d rounds, mean ratio %.2f)\n",
		metOr(mean >= 1), met, b.cfg.rounds, mean)
	fmt.Printf("target \"ack p99 under 100 ms\" (PostgreSQL): %s (worst round %s)\n", metOr(worstP99 < 100*time.Millisecond), bench.Ms(worstP99))

	// Twilio's webhooks, against the core ingest path of the same node.
	var twRatio float64
	var twP99 time.Duration
	for round := 1; round <= b.cfg.rounds; round++ {
		conv, tw := byRound[round][namePG], byRound[round][nameTwilio]
		ratio := rate(tw) / rate(conv)
		twRatio += ratio
		p99 := bench.Summarize(tw.stats.latencies).P99
		twP99 = max(twP99, p99)
		fmt.Printf("round %d: Twilio webhooks %.0f msg/s = %.2f x the core ingest path %.0f msg/s; ack p99 %s\n",
			round, rate(tw), ratio, rate(conv), bench.Ms(p99))
	}
	twRatio /= float64(b.cfg.rounds)
	fmt.Printf("target \"Twilio webhooks at least 0.8 of the core ingest rate\": %s (mean ratio %.2f)\n", metOr(twRatio >= 0.8), twRatio)
	fmt.Printf("target \"Twilio webhook ack p99 under 100 ms\": %s (worst round %s)\n", metOr(twP99 < 100*time.Millisecond), bench.Ms(twP99))
	var sqliteP99 time.Duration
	for _, r := range b.results {
		if r.target.name == nameSQLite {
			sqliteP99 = max(sqliteP99, bench.Summarize(r.stats.latencies).P99)
		}
	}
	if sqliteP99 > 0 {
		fmt.Printf("embedded SQLite, for reference: worst ack p99 %s\n", bench.Ms(sqliteP99))
	}
}

func metOr(ok bool) string {
	if ok {
		return "MET"
	}
	return "MISSED"
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/bench"
	"conversa/reports"
	"conversa/storage/postgres"
)

// keyName names the API keys the sustained phases create (and delete).
const keyName = "bench-reports"

// senderPrefix starts the addresses of the sustained phases' senders, so
// that their contacts can be found and deleted afterwards.
const senderPrefix = "load-"

// loadText is every sustained message's text.
const loadText = "Hola, quisiera saber el estado de mi pedido 48213, por favor."

// sample is one ingest request: when it was sent (since the load began),
// how long the answer took, and whether it was a 2xx.
type sample struct {
	at, d int64
	ok    bool
}

// sustainTenant is a tenant's API access for the load.
type sustainTenant struct {
	tenantInfo
	key string
}

// sustain measures ingest through a conversa node for cfg.sustain alone,
// then for cfg.sustain with cfg.reportsPerMinute month reports, the rollup
// running throughout.
func sustain(ctx context.Context, cfg config, store *postgres.Store, dbURL string, tenants []tenantInfo, ds dataset) (err error) {
	if cfg.alone == 0 {
		cfg.alone = cfg.sustain
	}
	pace := "as fast as the node answers"
	if cfg.rate > 0 {
		pace = fmt.Sprintf("at %d messages/s", cfg.rate)
	}
	kind := "month reports (the last month: the figures of each tenant's are kept after the first)"
	if cfg.uncached {
		kind = "30-day reports of random periods (each computed)"
	}
	fmt.Printf("\n-- sustained: ingest %s by %d clients alone for %s, then with %d %s a minute for %s, in %d alternating rounds; rollup every %s\n",
		pace, cfg.concurrency, cfg.alone, cfg.reportsPerMinute, kind, cfg.sustain, cfg.rounds, cfg.rollupEvery)
	tmp, err := os.MkdirTemp("", "conversa-bench-reports-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cfg.bin == "" {
		if cfg.bin, err = bench.Binary(ctx, tmp, os.Stdout); err != nil {
			return err
		}
	}
	storeArgs := []string{"--database-url", dbURL, "--encryption-key", bench.EncryptionKey, "--data-dir", filepath.Join(tmp, "data")}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	since := time.Now()
	defer func() { err = errors.Join(err, cleanup(context.WithoutCancel(ctx), conn, since)) }()

	var load []sustainTenant
	for _, t := range tenants {
		out, err := bench.Command(ctx, cfg.bin, append([]string{"apikey", "create", "--tenant", t.Slug, "--name", keyName}, storeArgs...)...)
		if err != nil {
			return err
		}
		load = append(load, sustainTenant{tenantInfo: t, key: strings.TrimSpace(out)})
	}
	node, err := bench.Start(ctx, cfg.bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--workers", "0", "--log-level", "warn",
		"--api-requests-per-minute", "100000000", "--shutdown-timeout", "10s"}, storeArgs...)...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, node.Stop()) }()
	fmt.Printf("conversa: %s (pid %d), serve --workers 0: only the ingest path runs; the rollup runs in this process\n", node.URL, node.Pid())

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: cfg.concurrency, MaxIdleConnsPerHost: cfg.concurrency, IdleConnTimeout: time.Minute, DisableCompression: true}}
	run := time.Now().UnixNano()
	var ids atomic.Int64
	post := func(ctx context.Context, sender int) (bool, error) {
		t := load[senderTenant(sender, cfg.senders, load)]
		b, _ := json.Marshal(map[string]any{"channel_id": t.Accounts["api"], "from": senderPrefix + strconv.Itoa(sender),
			"id": fmt.Sprintf("load-%d-%d", run, ids.Add(1)), "text": loadText})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, node.URL+"/api/v1/inbound", bytes.NewReader(b))
		if err != nil {
			return false, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+t.key)
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		if resp.StatusCode/100 != 2 {
			return false, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
		}
		return true, nil
	}

	// Every sender writes once, so that the measured messages go to
	// known contacts with an open conversation, the common case.
	t0 := time.Now()
	if err := seedSenders(ctx, cfg, post); err != nil {
		return err
	}
	fmt.Printf("seeded %d senders in %s\n", cfg.senders, time.Since(t0).Round(time.Millisecond))

	pipe := reports.NewPipeline(store, reports.PipelineConfig{})
	rctx, stopRollup := context.WithCancel(ctx)
	var folded, rollups atomic.Int64
	rollupDone := make(chan error, 1)
	go func() {
		for rctx.Err() == nil {
			res, err := pipe.Rollup(rctx)
			if err != nil {
				if rctx.Err() == nil {
					rollupDone <- fmt.Errorf("rollup: %w", err)
					return
				}
				break
			}
			folded.Add(int64(res.Rows))
			rollups.Add(1)
			if !res.More {
				select {
				case <-rctx.Done():
				case <-time.After(cfg.rollupEvery):
				}
			}
		}
		rollupDone <- nil
	}()
	defer stopRollup()
	// Bring the aggregates up to date before measuring.
	if _, err := waitCaughtUp(ctx, conn, 5*time.Minute); err != nil {
		return err
	}

	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	begin := time.Now()
	var mu sync.Mutex
	var samples []sample
	var firstErr atomic.Value
	var wg sync.WaitGroup
	// With -rate, the clients send at that steady rate (a tick each, the
	// ticks no client is ready for are lost); without, as fast as the
	// node answers.
	var ticks <-chan time.Time
	if cfg.rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(cfg.rate))
		defer t.Stop()
		ticks = t.C
	}
	for w := range cfg.concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(cfg.seed, uint64(w)+100))
			var mine []sample
			for lctx.Err() == nil {
				if ticks != nil {
					select {
					case <-ticks:
					case <-lctx.Done():
						continue
					}
				}
				sent := time.Now()
				ok, err := post(lctx, rng.IntN(cfg.senders))
				if lctx.Err() != nil {
					break
				}
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
				}
				mine = append(mine, sample{at: int64(sent.Sub(begin)), d: int64(time.Since(sent)), ok: ok})
			}
			mu.Lock()
			samples = append(samples, mine...)
			mu.Unlock()
		})
	}

	type phase struct {
		name       string
		start, end time.Time
		maxLag     int64
		folded     int64
		rollups    int64
		reports    []time.Duration
		skipped    int
		failed     int
	}
	lagDuring := func(p *phase, d time.Duration, during func(context.Context)) error {
		pctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		f0, r0 := folded.Load(), rollups.Load()
		p.start = time.Now()
		done := make(chan struct{})
		go func() {
			defer close(done)
			if during != nil {
				during(pctx)
			}
		}()
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for pctx.Err() == nil {
			select {
			case <-pctx.Done():
			case <-tick.C:
				if lag, err := rollupLag(ctx, conn); err == nil {
					p.maxLag = max(p.maxLag, lag)
				}
			}
		}
		<-done
		p.end = time.Now()
		p.folded, p.rollups = folded.Load()-f0, rollups.Load()-r0
		return ctx.Err()
	}

	warm := phase{name: "warm-up"}
	if err := lagDuring(&warm, cfg.warmup, nil); err != nil {
		return err
	}
	rrng := rand.New(rand.NewPCG(cfg.seed, 5))
	svc := reports.NewService(store)
	// reportLoad starts a month's report of a random tenant every
	// 60/reportsPerMinute seconds until ctx ends, at most 16 at once.
	reportLoad := func(p *phase) func(context.Context) {
		return func(pctx context.Context) {
			if cfg.reportsPerMinute == 0 {
				<-pctx.Done()
				return
			}
			var rmu sync.Mutex
			var inflight sync.WaitGroup
			var running atomic.Int32
			tick := time.NewTicker(time.Minute / time.Duration(cfg.reportsPerMinute))
			defer tick.Stop()
			for {
				select {
				case <-pctx.Done():
					inflight.Wait()
					return
				case <-tick.C:
				}
				if running.Load() >= 16 {
					p.skipped++
					continue
				}
				t := tenants[rrng.IntN(len(tenants))]
				q := month(t, ds.End)
				if cfg.uncached {
					// 30 days ending at one of the 744 hours before
					// the month's end.
					q.To = q.To.Add(-time.Duration(rrng.IntN(744)) * time.Hour)
					q.From = q.To.AddDate(0, 0, -30)
				}
				running.Add(1)
				inflight.Go(func() {
					defer running.Add(-1)
					d, _, err := timeReport(ctx, svc, q)
					rmu.Lock()
					defer rmu.Unlock()
					if err != nil {
						p.failed++
						return
					}
					p.reports = append(p.reports, d)
				})
			}
		}
	}
	// The phases alternate -rounds times, so that a change of the
	// machine's other load weighs on both alike.
	each, eachAlone := cfg.sustain/time.Duration(cfg.rounds), cfg.alone/time.Duration(cfg.rounds)
	var alones, withs []*phase
	// Odd rounds run the phase with reports first (alone, with, with,
	// alone, ...), so that a drift of the machine's speed during the run
	// (the tables growing, autovacuum) weighs on both phases alike.
	for r := range cfg.rounds {
		alone := &phase{name: fmt.Sprintf("ingest alone, round %d", r+1)}
		with := &phase{name: fmt.Sprintf("with %d reports/min, round %d", cfg.reportsPerMinute, r+1)}
		runAlone := func() error { return lagDuring(alone, eachAlone, nil) }
		runWith := func() error { return lagDuring(with, each, reportLoad(with)) }
		first, second := runAlone, runWith
		if r%2 == 1 {
			first, second = runWith, runAlone
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		alones, withs = append(alones, alone), append(withs, with)
	}
	stopLoad()
	wg.Wait()
	lagEnd, _ := rollupLag(ctx, conn)
	catchUp, err := waitCaughtUp(ctx, conn, 5*time.Minute)
	if err != nil {
		return err
	}
	stopRollup()
	if err := <-rollupDone; err != nil {
		return err
	}

	// measured returns the latencies of the 2xx answers sent and
	// received within the phases, and the count of the others.
	measured := func(ps []*phase) ([]time.Duration, int, time.Duration) {
		var lat []time.Duration
		failed := 0
		var length time.Duration
		for _, p := range ps {
			length += p.end.Sub(p.start)
			from, to := int64(p.start.Sub(begin)), int64(p.end.Sub(begin))
			for _, s := range samples {
				switch {
				case s.at < from || s.at+s.d > to:
				case !s.ok:
					failed++
				default:
					lat = append(lat, time.Duration(s.d))
				}
			}
		}
		return lat, failed, length
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tmessages\tmsg/s\tfailed\tp50\tp99\tmax\treports\treport p50\treport p99\treport max\trollups\trows folded\tmax lag (msgs)\t")
	row := func(name string, ps []*phase) float64 {
		lat, failed, length := measured(ps)
		s := bench.Summarize(lat)
		rate := float64(s.N) / length.Seconds()
		var reps []time.Duration
		var skipped, repFailed int
		var rollupsN, foldedN, maxLag int64
		for _, p := range ps {
			reps = append(reps, p.reports...)
			skipped, repFailed = skipped+p.skipped, repFailed+p.failed
			rollupsN, foldedN, maxLag = rollupsN+p.rollups, foldedN+p.folded, max(maxLag, p.maxLag)
		}
		reportCols := "-\t-\t-\t-"
		if reps != nil {
			r := bench.Summarize(reps)
			reportCols = fmt.Sprintf("%d (%d skipped, %d failed)\t%s\t%s\t%s", r.N, skipped, repFailed, bench.Ms(r.P50), bench.Ms(r.P99), bench.Ms(r.Max))
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t\n", name, s.N, rate, failed, bench.Ms(s.P50), bench.Ms(s.P99), bench.Ms(s.Max),
			reportCols, rollupsN, foldedN, maxLag)
		return rate
	}
	if cfg.rounds > 1 {
		for r := range cfg.rounds {
			row(alones[r].name, alones[r:r+1])
			row(withs[r].name, withs[r:r+1])
		}
	}
	rateAlone := row(fmt.Sprintf("ingest alone, %s in all", cfg.alone), alones)
	rateWith := row(fmt.Sprintf("with %d reports/min, %s in all", cfg.reportsPerMinute, cfg.sustain), withs)
	tw.Flush()
	if v := firstErr.Load(); v != nil {
		fmt.Println("first failed request:", v)
	}
	slow := 1 - rateWith/rateAlone
	fmt.Printf("ingest slowdown under reports: %.1f%% of the rate (target at most %.0f%%: %s)", 100*slow, 100*slowdownTarget, verdict(slow <= slowdownTarget))
	if cfg.rate > 0 {
		la, _, _ := measured(alones)
		lw, _, _ := measured(withs)
		fmt.Printf("; at a steady rate the slowdown shows in the latency: p50 %s, p99 %s alone; p50 %s, p99 %s with reports",
			bench.Ms(bench.Summarize(la).P50), bench.Ms(bench.Summarize(la).P99), bench.Ms(bench.Summarize(lw).P50), bench.Ms(bench.Summarize(lw).P99))
	}
	fmt.Println()
	fmt.Printf("rollup: %d messages behind when the load stopped, caught up %s later\n", lagEnd, catchUp.Round(time.Millisecond))
	return nil
}

// senderTenant returns the tenant of a sender: senders are spread over
// the tenants by their share of the data.
func senderTenant(sender, senders int, load []sustainTenant) int {
	u := (float64(sender) + 0.5) / float64(senders)
	for i, t := range load {
		if u < t.Share {
			return i
		}
		u -= t.Share
	}
	return len(load) - 1
}

// seedSenders sends one message from each sender.
func seedSenders(ctx context.Context, cfg config, post func(context.Context, int) (bool, error)) error {
	var next atomic.Int64
	errs := make(chan error, cfg.concurrency)
	var wg sync.WaitGroup
	for range cfg.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				s := int(next.Add(1) - 1)
				if s >= cfg.senders {
					return
				}
				if _, err := post(ctx, s); err != nil {
					errs <- fmt.Errorf("seed sender %d: %w", s, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(<-errs, ctx.Err())
}

// rollupLag returns how many message ids are above the rollup's
// watermark.
func rollupLag(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var lag int64
	err := conn.QueryRow(ctx, `SELECT greatest(0, coalesce((SELECT max(id) FROM messages), 0) - (SELECT watermark FROM report_state))`).Scan(&lag)
	return lag, err
}

// waitCaughtUp waits until the rollup has folded every message (and the
// outbox), polling; it returns how long that took.
func waitCaughtUp(ctx context.Context, conn *pgx.Conn, limit time.Duration) (time.Duration, error) {
	t0 := time.Now()
	for {
		lag, err := rollupLag(ctx, conn)
		if err != nil {
			return 0, err
		}
		var outbox int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM report_events`).Scan(&outbox); err != nil {
			return 0, err
		}
		if lag == 0 && outbox == 0 {
			return time.Since(t0), nil
		}
		if time.Since(t0) > limit {
			return 0, fmt.Errorf("the rollup is %d messages and %d outbox rows behind after %s", lag, outbox, limit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// cleanup deletes what the sustained phases added, so that the kept
// database stays as generated: the senders' contacts, conversations and
// messages, the route jobs their messages queued, and the API keys. The
// aggregates are rebuilt by the next run's backfill.
func cleanup(ctx context.Context, conn *pgx.Conn, since time.Time) error {
	t0 := time.Now()
	_, err := conn.Exec(ctx, `
		CREATE TEMP TABLE load_contacts ON COMMIT DROP AS
			SELECT DISTINCT tenant_id, contact_id AS id FROM identities WHERE channel = 'api' AND address LIKE '`+senderPrefix+`%';
		CREATE TEMP TABLE load_conversations ON COMMIT DROP AS
			SELECT c.tenant_id, c.id FROM conversations c JOIN load_contacts l ON c.tenant_id = l.tenant_id AND c.contact_id = l.id;
		DELETE FROM messages m USING load_conversations l WHERE m.conversation_id = l.id;
		DELETE FROM bot_sessions b USING load_conversations l WHERE b.tenant_id = l.tenant_id AND b.conversation_id = l.id;
		DELETE FROM report_events e USING load_conversations l WHERE e.conversation_id = l.id;
		DELETE FROM conversations c USING load_conversations l WHERE c.id = l.id;
		DELETE FROM identities i USING load_contacts l WHERE i.tenant_id = l.tenant_id AND i.contact_id = l.id;
		DELETE FROM contacts c USING load_contacts l WHERE c.id = l.id;
		DELETE FROM api_keys WHERE name = '`+keyName+`';
		DELETE FROM jobs WHERE created_at >= '`+since.UTC().Format(time.RFC3339Nano)+`';`)
	if err != nil {
		return fmt.Errorf("delete the load's rows: %w", err)
	}
	fmt.Printf("deleted the load's contacts, messages, jobs and keys in %s\n", time.Since(t0).Round(time.Millisecond))
	return nil
}

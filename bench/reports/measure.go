package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/bench"
	"conversa/reports"
	"conversa/storage/postgres"
)

// Targets of issue 11.
const (
	dashboardTarget = 300 * time.Millisecond // p99 of any dashboard query
	monthTarget     = 2 * time.Second        // a month's report
	slowdownTarget  = 0.10                   // of ingest, under 100 reports a minute
)

// verdict says whether a figure meets its target.
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// measure runs the measurements on the generated data.
func measure(ctx context.Context, cfg config, store *postgres.Store, dbURL string, ds dataset, tenants []tenantInfo) error {
	svc := reports.NewService(store)
	rng := rand.New(rand.NewPCG(cfg.seed, 3))

	// The aggregates, built from the source tables by the real backfill.
	if cfg.backfill {
		fmt.Printf("\n-- backfill: every tenant, %s to %s\n", ds.Start.Format("2006-01-02"), time.Now().UTC().Format(time.RFC3339))
		t0 := time.Now()
		if err := svc.Backfill(ctx, 0, ds.Start, time.Now().UTC().Add(time.Hour)); err != nil {
			return fmt.Errorf("backfill: %w", err)
		}
		took := time.Since(t0)
		fmt.Printf("backfill took %s (%.0f messages/s)\n", took.Round(time.Millisecond), float64(ds.Messages)/took.Seconds())
	} else {
		fmt.Println("\n-- no backfill (-backfill=false): the aggregates the last run left")
	}
	if err := check(ctx, svc, dbURL, tenants[0], ds); err != nil {
		return err
	}

	// The dashboard's queries and a month's report.
	fmt.Printf("\n-- dashboard queries, one at a time, random tenants (%d runs each after 10 unmeasured)\n", cfg.runs)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\truns\tp50\tp90\tp99\tmax\ttarget\tfailed\t")
	today := func(t tenantInfo) reports.Query {
		loc := zone(t)
		end := ds.End.In(loc)
		return reports.Query{TenantID: t.ID, From: dayOf(end), To: ds.End, Location: loc}
	}
	week := func(t tenantInfo) reports.Query {
		loc := zone(t)
		end := ds.End.In(loc)
		return reports.Query{TenantID: t.ID, From: dayOf(end).AddDate(0, 0, -6), To: ds.End, Location: loc}
	}
	var failedQueries []func()
	report := func(of func(tenantInfo) reports.Query) func(tenantInfo) error {
		return func(t tenantInfo) error {
			_, err := svc.Report(ctx, of(t))
			return err
		}
	}
	live := func(t tenantInfo) error {
		_, err := svc.Live(ctx, t.ID, zone(t), nil)
		return err
	}
	for _, q := range []struct {
		name string
		do   func(tenantInfo) error
	}{{"report of today", report(today)}, {"report of the last 7 days", report(week)}, {"live view (now)", live}} {
		lat, failed, err := timeRuns(ctx, tenants, rng, cfg.runs, q.do)
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		failedQueries = append(failedQueries, func() { failed.print(q.name) })
		s := bench.Summarize(lat)
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\tp99 < %s: %s\t%s\t\n", q.name, s.N, bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max),
			bench.Ms(dashboardTarget), verdict(s.P99 < dashboardTarget && failed.n == 0), failed)
	}
	tw.Flush()
	for _, f := range failedQueries {
		f()
	}

	fmt.Printf("\n-- a month's report (%s in each tenant's zone), every tenant, 3 rounds\n", prevMonthName(ds.End))
	var lat []time.Duration
	var big time.Duration
	failed := &failures{}
	for range 3 {
		for i, t := range tenants {
			// A service of its own each time: computed, not the figures
			// a service keeps of a settled period (measured below).
			d, _, err := timeReport(ctx, reports.NewService(store), month(t, ds.End))
			if err != nil {
				failed.add(fmt.Errorf("%s: %w", t.Slug, err))
				continue
			}
			lat = append(lat, d)
			if i == 0 {
				big = max(big, d)
			}
		}
	}
	s := bench.Summarize(lat)
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\truns\tp50\tp90\tp99\tmax\ttarget\tfailed\t")
	fmt.Fprintf(tw, "month report\t%d\t%s\t%s\t%s\t%s\tmax < %s: %s\t%s\t\n", s.N, bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max),
		bench.Ms(monthTarget), verdict(s.Max < monthTarget && failed.n == 0), failed)
	fmt.Fprintf(tw, "  of the largest tenant (%s, %.1f%% of the data), slowest of 3\t\t\t\t\t%s\t\t\n", tenants[0].Slug, 100*tenants[0].Share, bench.Ms(big))

	// The same reports from one service, which keeps the figures of a
	// settled period: the first of each tenant computes them (not
	// measured), the next three read the revision, the cases and the
	// surveys.
	var again []time.Duration
	for round := range 4 {
		for _, t := range tenants {
			d, _, err := timeReport(ctx, svc, month(t, ds.End))
			if err != nil {
				failed.add(fmt.Errorf("%s: %w", t.Slug, err))
				continue
			}
			if round > 0 {
				again = append(again, d)
			}
		}
	}
	a := bench.Summarize(again)
	fmt.Fprintf(tw, "month report again (the figures kept)\t%d\t%s\t%s\t%s\t%s\t\t\t\n", a.N, bench.Ms(a.P50), bench.Ms(a.P90), bench.Ms(a.P99), bench.Ms(a.Max))
	tw.Flush()
	failed.print("month report")

	return sustain(ctx, cfg, store, dbURL, tenants, ds)
}

// zone returns a tenant's time zone.
func zone(t tenantInfo) *time.Location {
	loc, err := time.LoadLocation(t.Zone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// dayOf returns the start of t's day, in t's location.
func dayOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, t.Location())
}

// month is the query of the calendar month before end's, in the tenant's
// zone: a whole month of generated history.
func month(t tenantInfo, end time.Time) reports.Query {
	loc := zone(t)
	e := end.In(loc)
	first := time.Date(e.Year(), e.Month(), 1, 0, 0, 0, 0, loc)
	return reports.Query{TenantID: t.ID, From: first.AddDate(0, -1, 0), To: first, Location: loc}
}

func prevMonthName(end time.Time) string {
	return time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -1, 0).Format("January 2006")
}

// timeReport times one report.
func timeReport(ctx context.Context, svc *reports.Service, q reports.Query) (time.Duration, reports.Report, error) {
	t0 := time.Now()
	r, err := svc.Report(ctx, q)
	return time.Since(t0), r, err
}

// timeRuns times runs calls of do for random tenants, after 10
// unmeasured. A call that fails is counted, not timed; the first error is
// kept.
func timeRuns(ctx context.Context, tenants []tenantInfo, rng *rand.Rand, runs int, do func(tenantInfo) error) ([]time.Duration, *failures, error) {
	var lat []time.Duration
	f := &failures{}
	for i := range runs + 10 {
		t0 := time.Now()
		err := do(tenants[rng.IntN(len(tenants))])
		d := time.Since(t0)
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		switch {
		case err != nil:
			f.add(err)
		case i >= 10:
			lat = append(lat, d)
		}
	}
	return lat, f, nil
}

// failures counts the reports that failed and keeps the first error.
type failures struct {
	n     int
	first error
}

func (f *failures) add(err error) {
	if f.n == 0 {
		f.first = err
	}
	f.n++
}

func (f *failures) String() string { return fmt.Sprint(f.n) }

// print says what the first failure was, if any.
func (f *failures) print(name string) {
	if f.n > 0 {
		fmt.Printf("%s: %d failed; the first: %v\n", name, f.n, f.first)
	}
}

// check compares a month's report of the largest tenant with counts of
// the source tables, so that the figures timed are the real ones.
func check(ctx context.Context, svc *reports.Service, dbURL string, t tenantInfo, ds dataset) error {
	q := month(t, ds.End)
	d, r, err := timeReport(ctx, svc, q)
	if err != nil {
		return fmt.Errorf("month report: %w", err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var in, out, convs, cases int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE direction = 'in'), count(*) FILTER (WHERE direction = 'out')
		FROM messages WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3`, t.ID, q.From, q.To).Scan(&in, &out); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM conversations WHERE tenant_id = $1 AND opened_at >= $2 AND opened_at < $3`,
		t.ID, q.From, q.To).Scan(&convs); err != nil {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM cases WHERE tenant_id = $1 AND filed_at >= $2 AND filed_at < $3`,
		t.ID, q.From, q.To).Scan(&cases); err != nil {
		return err
	}
	fmt.Printf("check:   %s's report of %s (first run, %s): %d conversations, %d messages in, %d out, %d cases, %d handoffs, %d intents listed; the tables: %d, %d, %d, %d\n",
		t.Slug, prevMonthName(ds.End), bench.Ms(d), r.Conversations, r.MessagesIn, r.MessagesOut, r.Cases.Filed, r.Bot.Handoffs, len(r.Bot.TopIntents), convs, in, out, cases)
	if r.MessagesIn != in || r.MessagesOut != out || r.Conversations != convs || r.Cases.Filed != cases {
		return fmt.Errorf("the report's figures differ from the tables'")
	}
	return nil
}

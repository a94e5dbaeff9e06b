// Command cases measures the PQR case store on PostgreSQL at the size of a
// large contact center: one tenant with 1,000,000 cases among 30 tenants,
// and the escalation jobs of every open case. It times, through
// storage/postgres itself, the case lists agents and supervisors filter
// most, the lookup of a case by its filing number (what the bot does when
// a customer asks "¿cómo va mi radicado?"), and a pass of the escalation
// worker over the due escalation jobs.
//
//	go run ./bench/cases [-postgres-url URL] [-cases 1000000] [-tenants 30] [-queries 300]
//
// The data are written with COPY, in a temporary database dropped at the
// end.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/bench"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/storage/postgres"
)

type config struct {
	postgresURL string
	cases       int // of the large tenant
	others      int // cases of each other tenant
	tenants     int
	queries     int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.postgresURL, "postgres-url", os.Getenv("TEST_POSTGRES_URL"), "PostgreSQL server to make the benchmark database on (default $TEST_POSTGRES_URL)")
	flag.IntVar(&cfg.cases, "cases", 1_000_000, "cases of the large tenant")
	flag.IntVar(&cfg.others, "others", 10_000, "cases of each other tenant")
	flag.IntVar(&cfg.tenants, "tenants", 30, "tenants, the large one included")
	flag.IntVar(&cfg.queries, "queries", 300, "timed runs of each query")
	flag.Parse()
	if cfg.postgresURL == "" {
		fmt.Fprintln(os.Stderr, "cases: set TEST_POSTGRES_URL or -postgres-url (scripts/services .test/env writes it)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "cases:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	db, err := bench.CreateTempDB(ctx, cfg.postgresURL)
	if err != nil {
		return err
	}
	defer db.Drop(ctx)
	store, err := db.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer store.Close()

	fmt.Println("== cases: PQR lists, lookups and escalation on PostgreSQL")
	for _, line := range bench.Machine() {
		fmt.Println(line)
	}
	now := time.Now().UTC().Truncate(time.Second)
	start := time.Now()
	d, err := load(ctx, db.URL, store, cfg, now)
	if err != nil {
		return err
	}
	fmt.Printf("loaded %d cases (%d of tenant %d) and %d escalation jobs (%d due) in %s\n\n",
		d.total, cfg.cases, d.big, d.jobs, d.due, time.Since(start).Round(time.Second))

	r := rand.New(rand.NewPCG(7, 7))
	open := []handoff.CaseStatus{handoff.Radicado, handoff.EnTramite, handoff.Escalado, handoff.Reabierto}
	queries := []struct {
		name string
		f    func() handoff.CaseFilter
	}{
		{"newest cases, first page", func() handoff.CaseFilter { return handoff.CaseFilter{} }},
		{"open cases (4 statuses)", func() handoff.CaseFilter { return handoff.CaseFilter{Status: open} }},
		{"escalated cases", func() handoff.CaseFilter { return handoff.CaseFilter{Status: []handoff.CaseStatus{handoff.Escalado}} }},
		{"quejas", func() handoff.CaseFilter { return handoff.CaseFilter{Type: []handoff.CaseType{handoff.Queja}} }},
		{"open quejas on WhatsApp", func() handoff.CaseFilter {
			return handoff.CaseFilter{Status: open, Type: []handoff.CaseType{handoff.Queja}, Channel: "whatsapp"}
		}},
		{"filed in the last 7 days", func() handoff.CaseFilter { return handoff.CaseFilter{FiledFrom: now.AddDate(0, 0, -7)} }},
		{"filed in a past month", func() handoff.CaseFilter {
			from := now.AddDate(0, -1-r.IntN(20), 0)
			return handoff.CaseFilter{FiledFrom: from, FiledTo: from.AddDate(0, 1, 0)}
		}},
		{"overdue", func() handoff.CaseFilter { return handoff.CaseFilter{OverdueAt: now} }},
		{"a contact's cases", func() handoff.CaseFilter { return handoff.CaseFilter{ContactID: 1 + r.Int64N(d.contacts)} }},
		{"page 20 of open cases", nil}, // walks the cursor, timing the 20th page
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\truns\trows/page\tp50\tp90\tp99\tmax\t")
	for _, q := range queries {
		var lat []time.Duration
		rows := 0
		for range cfg.queries {
			if q.f == nil {
				var before int64
				for page := range 20 {
					t0 := time.Now()
					cs, err := store.ListCases(ctx, d.big, handoff.CaseFilter{Status: open, Before: before})
					if err != nil {
						return err
					}
					if page == 19 {
						lat = append(lat, time.Since(t0))
						rows += len(cs)
					}
					if len(cs) == 0 {
						break
					}
					before = cs[len(cs)-1].ID
				}
				continue
			}
			f := q.f()
			t0 := time.Now()
			cs, err := store.ListCases(ctx, d.big, f)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			lat = append(lat, time.Since(t0))
			rows += len(cs)
		}
		s := bench.Summarize(lat)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n", q.name, len(lat), rows/max(len(lat), 1), bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max))
	}

	// The old shape of a date-range list, ordered by ID alone, in the same
	// run, and the plans of both.
	if err := oldDateShape(ctx, db.URL, tw, d.big, now, r, cfg.queries); err != nil {
		return err
	}

	var lat []time.Duration
	for range cfg.queries * 3 {
		year := d.firstYear + r.IntN(d.lastYear-d.firstYear+1)
		n := 1 + r.IntN(d.perYear[year])
		rad := handoff.FormatRadicado("PQR", year, int64(n))
		t0 := time.Now()
		if _, err := store.CaseByRadicado(ctx, d.big, rad); err != nil {
			return fmt.Errorf("lookup %s: %w", rad, err)
		}
		lat = append(lat, time.Since(t0))
	}
	s := bench.Summarize(lat)
	fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n", "case by radicado", len(lat), 1, bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max))
	tw.Flush()

	// A pass of the escalation worker: claim every due escalation job, 100
	// at a time, and complete it, as the worker does after escalating.
	fmt.Println()
	for pass := 1; pass <= 2; pass++ {
		t0 := time.Now()
		claimed, batches := 0, 0
		var claimLat []time.Duration
		for {
			c0 := time.Now()
			jobs, err := store.ClaimJobs(ctx, []string{handoff.JobCaseEscalation}, 100, time.Minute)
			if err != nil {
				return err
			}
			claimLat = append(claimLat, time.Since(c0))
			if len(jobs) == 0 {
				break
			}
			batches++
			claimed += len(jobs)
			for _, j := range jobs {
				if err := store.CompleteJob(ctx, j); err != nil {
					return err
				}
			}
		}
		cs := bench.Summarize(claimLat)
		var scan time.Duration
		for _, l := range claimLat {
			scan += l
		}
		fmt.Printf("escalation pass %d: %d due jobs among %d pending, in %d claims of up to 100: finding and leasing them took %s in all (a claim: p50 %s, p99 %s); with completing each, one commit per job, %s\n",
			pass, claimed, d.jobs, batches+1, bench.Ms(scan), bench.Ms(cs.P50), bench.Ms(cs.P99), time.Since(t0).Round(time.Millisecond))
		if pass == 1 {
			// The next pass finds the due jobs of one more minute.
			if err := addDue(ctx, db.URL, d, now, 2000); err != nil {
				return err
			}
		}
	}
	return nil
}

// data describes what load wrote.
type data struct {
	big                 int64 // the large tenant
	total, jobs, due    int
	contacts            int64
	firstYear, lastYear int
	perYear             map[int]int // radicados of the large tenant by year
	nextJobRef          int64
}

// Shares of the generated cases, as a contact center sees them.
var (
	types    = weighted[handoff.CaseType]{{handoff.Peticion, 45}, {handoff.Queja, 25}, {handoff.Reclamo, 20}, {handoff.Informacion, 5}, {handoff.Sugerencia, 3}, {handoff.Felicitacion, 2}}
	statuses = weighted[handoff.CaseStatus]{{handoff.Cerrado, 62}, {handoff.Resuelto, 14}, {handoff.EnTramite, 14}, {handoff.Radicado, 6}, {handoff.Escalado, 3}, {handoff.Reabierto, 1}}
	channels = weighted[string]{{"whatsapp", 40}, {"webchat", 25}, {"email", 20}, {"sms", 10}, {"voice", 5}}
)

type weighted[T any] []struct {
	v T
	w int
}

func (ws weighted[T]) pick(r *rand.Rand) T {
	total := 0
	for _, x := range ws {
		total += x.w
	}
	n := r.IntN(total)
	for _, x := range ws {
		if n < x.w {
			return x.v
		}
		n -= x.w
	}
	return ws[0].v
}

// load creates the tenants and COPYs their cases, filed over the last two
// years in order, and the escalation jobs of the open ones.
func load(ctx context.Context, url string, store *postgres.Store, cfg config, now time.Time) (*data, error) {
	d := &data{perYear: map[int]int{}, contacts: int64(cfg.cases / 5)}
	var tenants []int64
	for i := range cfg.tenants {
		t := conversation.Tenant{Slug: "tenant-" + strconv.Itoa(i+1), Name: "Tenant " + strconv.Itoa(i+1), Language: "es", Region: "CO", TimeZone: "America/Bogota"}
		if err := t.Validate(); err != nil {
			return nil, err
		}
		t, err := store.CreateTenant(ctx, t)
		if err != nil {
			return nil, err
		}
		tenants = append(tenants, t.ID)
	}
	d.big = tenants[0]
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))

	r := rand.New(rand.NewPCG(1, 2))
	span := 2 * 365 * 24 * time.Hour
	d.firstYear, d.lastYear = now.Add(-span).Year(), now.Year()
	var caseRows, jobRows [][]any
	id := int64(0)
	flush := func() error {
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"cases"}, []string{"id", "tenant_id", "radicado", "type", "status", "contact_id",
			"channel", "subject", "term_days", "due", "filed_at", "updated_at", "version"}, pgx.CopyFromRows(caseRows)); err != nil {
			return fmt.Errorf("copy cases: %w", err)
		}
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{"jobs"}, []string{"tenant_id", "kind", "ref", "key", "payload", "state", "run_at",
			"max_attempts", "created_at", "updated_at"}, pgx.CopyFromRows(jobRows)); err != nil {
			return fmt.Errorf("copy jobs: %w", err)
		}
		caseRows, jobRows = caseRows[:0], jobRows[:0]
		return nil
	}
	for ti, tenant := range tenants {
		n := cfg.others
		if ti == 0 {
			n = cfg.cases
		}
		perYear := map[int]int{}
		for i := range n {
			id++
			filed := now.Add(-span + time.Duration(float64(span)*float64(i)/float64(n)))
			typ, status := types.pick(r), statuses.pick(r)
			if filed.After(now.AddDate(0, -2, 0)) && (status == handoff.Cerrado || status == handoff.Resuelto) && r.IntN(2) == 0 {
				status = handoff.EnTramite // recent cases are more often open
			}
			term := handoff.DefaultTerms[typ]
			if term == 0 {
				term = 15
			}
			due := filed.AddDate(0, 0, term*7/5)
			perYear[filed.Year()]++
			rad := handoff.FormatRadicado("PQR", filed.Year(), int64(perYear[filed.Year()]))
			caseRows = append(caseRows, []any{id, tenant, rad, string(typ), string(status), 1 + r.Int64N(d.contacts),
				channels.pick(r), "Caso " + rad, term, due, filed, filed, int64(1)})
			if status != handoff.Cerrado && status != handoff.Resuelto {
				for level, share := range []float64{0.7, 0.9, 1.0} {
					at := filed.Add(time.Duration(float64(due.Sub(filed)) * share))
					if at.Before(now) {
						continue // an open case's past escalations already ran
					}
					jobRows = append(jobRows, []any{tenant, handoff.JobCaseEscalation, id,
						fmt.Sprintf("case:%d:escalation:%d:%d", id, level, at.Unix()), []byte(strconv.Itoa(level)), "pending", at, 5, filed, filed})
					d.jobs++
				}
			}
			if len(caseRows) == 20_000 {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
		if ti == 0 {
			d.perYear = perYear
		}
		d.total += n
	}
	if err := flush(); err != nil {
		return nil, err
	}
	d.nextJobRef = id
	if _, err := conn.Exec(ctx, `SELECT setval('cases_id_seq', $1)`, id); err != nil {
		return nil, err
	}
	// The jobs due now: the escalations that came due while the worker was
	// busy, about as many as a minute of a large contact center brings.
	if err := addDue(ctx, url, d, now, 5000); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		return nil, err
	}
	return d, nil
}

// addDue moves n future escalation jobs of the large tenant to now.
func addDue(ctx context.Context, url string, d *data, now time.Time, n int) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tag, err := conn.Exec(ctx, `UPDATE jobs SET run_at = $1 WHERE id IN (
		SELECT id FROM jobs WHERE state = 'pending' AND run_at > $1 AND tenant_id = $2 ORDER BY run_at LIMIT $3)`, now, d.big, n)
	d.due += int(tag.RowsAffected())
	return err
}

// dateSQL is a list of a date range in the shape storage/postgres used
// before migration 0011 (ORDER BY id DESC) and in the one it uses now.
const (
	oldDateSQL = `SELECT * FROM cases WHERE tenant_id = $1 AND filed_at >= $2 AND filed_at < $3 ORDER BY id DESC LIMIT 50`
	newDateSQL = `SELECT * FROM cases WHERE tenant_id = $1 AND filed_at >= $2 AND filed_at < $3 ORDER BY filed_at DESC, id DESC LIMIT 50`
)

// oldDateShape times "filed in a past month" in the old query shape, as a
// row of the table, and prints the plans of both shapes for one month.
func oldDateShape(ctx context.Context, url string, tw *tabwriter.Writer, tenant int64, now time.Time, r *rand.Rand, runs int) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var lat []time.Duration
	rows := 0
	for range runs {
		from := now.AddDate(0, -1-r.IntN(20), 0)
		t0 := time.Now()
		rs, err := conn.Query(ctx, oldDateSQL, tenant, from, from.AddDate(0, 1, 0))
		if err != nil {
			return err
		}
		for rs.Next() {
			rows++
		}
		if rs.Close(); rs.Err() != nil {
			return rs.Err()
		}
		lat = append(lat, time.Since(t0))
	}
	s := bench.Summarize(lat)
	fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n", "past month, old shape (by id)", len(lat), rows/max(len(lat), 1), bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max))
	tw.Flush()
	from := now.AddDate(0, -12, 0)
	for _, q := range []struct{ name, sql string }{{"old", oldDateSQL}, {"new", newDateSQL}} {
		rs, err := conn.Query(ctx, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) "+q.sql, tenant, from, from.AddDate(0, 1, 0))
		if err != nil {
			return err
		}
		fmt.Printf("\nplan of a past month, %s shape:\n", q.name)
		for rs.Next() {
			var line string
			if err := rs.Scan(&line); err != nil {
				rs.Close()
				return err
			}
			fmt.Println("  " + line)
		}
		rs.Close()
		if rs.Err() != nil {
			return rs.Err()
		}
	}
	fmt.Println()
	return nil
}

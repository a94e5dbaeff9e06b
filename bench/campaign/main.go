// Command campaign measures notifications at campaign scale on PostgreSQL,
// through notify, notify/campaign and storage/postgres themselves:
//
//   - planning: a campaign to a segment of 100,000 contacts (one tenant;
//     each with SMS and WhatsApp identities, one in ten in Madrid's time
//     zone, one in a hundred opted out of SMS) is created, which reads the
//     segment a page at a time, plans every contact by the notification
//     rules (channel chain, identities, accounts, consent, quiet hours in
//     the contact's zone) and stores the recipients. Target: under 10 s.
//
//   - render: 100,000 notifications are scheduled and run on the batch
//     path, as a campaign's release does it: notify.Service.NotifyBatch of
//     -batch requests (validation, idempotency keys, the notifications and
//     their one job), then that JobNotifyBatch job claimed from the store
//     and run (NotifyBatchJob: quiet hours, frequency cap, channel choice,
//     consent, the template rendered for the channel and language, the
//     conversations opened, the messages and their delivery jobs queued,
//     the outcomes recorded), by several workers at once. Target: 100,000
//     a minute on 2 cores. A secondary line measures -single more on the
//     one-at-a-time path (Notify, then NotifyJob), for comparison.
//
//     go run ./bench/campaign [-postgres-url URL] [-contacts 100000] [-render 100000] [-batch 500] [-workers 2] [-single 2000]
//
// The data are written by INSERT ... SELECT in a temporary database dropped
// at the end. Nothing is sent to a provider: the deliveries stay queued.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"conversa/bench"
	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/campaign"
	"conversa/storage/memory"
	"conversa/storage/postgres"
	"conversa/templates"
)

type config struct {
	postgresURL string
	contacts    int
	render      int
	workers     int
	batch       int
	single      int
	cpuprofile  string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.postgresURL, "postgres-url", os.Getenv("TEST_POSTGRES_URL"), "PostgreSQL server to make the benchmark database on (default $TEST_POSTGRES_URL)")
	flag.IntVar(&cfg.contacts, "contacts", 100_000, "contacts in the campaign's segment")
	flag.IntVar(&cfg.render, "render", 100_000, "notifications rendered and queued (at most -contacts)")
	flag.IntVar(&cfg.workers, "workers", 2, "batches run at once")
	flag.StringVar(&cfg.cpuprofile, "cpuprofile", "", "write a CPU profile of the batch render to this file")
	flag.IntVar(&cfg.batch, "batch", 500, "notifications per batch (at most notify.MaxBatch)")
	flag.IntVar(&cfg.single, "single", 2000, "notifications run one at a time by 8 workers after the batches, for comparison (0: none), taken from -render when the contacts are too few for both")
	flag.Parse()
	if cfg.postgresURL == "" {
		fmt.Fprintln(os.Stderr, "campaign: set TEST_POSTGRES_URL or -postgres-url (scripts/services .test/env writes it)")
		os.Exit(2)
	}
	cfg.render = min(cfg.render, cfg.contacts)
	cfg.batch = max(1, min(cfg.batch, notify.MaxBatch))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "campaign:", err)
		os.Exit(1)
	}
}

const reminder = `purpose: reminder
variables:
  name: {sample: "Ana", required: true}
  when: {sample: "mañana a las 10", required: true}
variants:
  - channel: whatsapp
    language: es
    text: "Hola {{.name}}, recuerde su cita {{.when}}."
  - channel: sms
    language: es
    text: "{{.name}}: recuerde su cita {{.when}}. Responda STOP para no recibir mas."
  - channel: default
    language: es
    text: "Hola {{.name}}, recuerde su cita {{.when}}."
`

// A Tuesday at 10:00 in Bogotá, 16:00 in Madrid: outside quiet hours.
var morning = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)

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
	shared := memory.New()
	conv, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: shared})
	if err != nil {
		return err
	}
	tpls := templates.NewService(store)
	now := func() time.Time { return morning }
	notifier, err := notify.New(store, notify.Deps{Conversations: store, Sender: conv, Templates: tpls}, notify.Config{Now: now})
	if err != nil {
		return err
	}
	campaigns, err := campaign.New(campaign.Deps{Store: store, Tenants: store, Notifier: notifier}, campaign.Config{Now: now})
	if err != nil {
		return err
	}

	fmt.Println("== campaign: planning and rendering notifications on PostgreSQL")
	for _, line := range bench.Machine() {
		fmt.Println(line)
	}
	start := time.Now()
	tenant, err := load(ctx, db.URL, store, tpls, cfg.contacts)
	if err != nil {
		return err
	}
	fmt.Printf("loaded %d contacts (SMS and WhatsApp identities, 10%% in Madrid, 1%% opted out of SMS) in %s\n\n",
		cfg.contacts, time.Since(start).Round(time.Millisecond))

	// Planning.
	t0 := time.Now()
	c, err := campaigns.CreateFromSegment(ctx, tenant, campaign.Spec{Name: "bench", Purpose: "reminder",
		Data: map[string]string{"name": "cliente", "when": "el lunes"}, Throttle: campaign.Throttle{PerSecond: 100}})
	if err != nil {
		return err
	}
	planned := time.Since(t0)
	rep, err := campaigns.Report(ctx, tenant, c.ID)
	if err != nil {
		return err
	}
	if _, err := campaigns.Cancel(ctx, tenant, c.ID); err != nil {
		return err
	}

	// Rendering and queueing, in batches, as a campaign's release does.
	ids, err := contactIDs(ctx, db.URL, tenant, cfg.render+cfg.single)
	if err != nil {
		return err
	}
	// The one-at-a-time path takes the last -single, the batches the rest.
	single := ids[len(ids)-min(cfg.single, len(ids)/2):]
	ids = ids[:min(cfg.render, len(ids)-len(single))]
	stopProfile, err := startProfile(cfg.cpuprofile)
	if err != nil {
		return err
	}
	t1 := time.Now()
	done, err := runBatches(ctx, store, notifier, tenant, ids, cfg)
	rendered := time.Since(t1)
	stopProfile()
	if err != nil {
		return err
	}
	t2 := time.Now()
	singles, err := runSingles(ctx, notifier, tenant, single, 8)
	singleTime := time.Since(t2)
	if err != nil {
		return err
	}
	var statuses = map[notify.Status]int{}
	err = pgxQuery(ctx, db.URL, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT status, count(*) FROM notifications GROUP BY status`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s notify.Status
			var n int
			if err := rows.Scan(&s, &n); err != nil {
				return err
			}
			statuses[s] = n
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tcount\ttime\trate\ttarget")
	fmt.Fprintf(tw, "campaign planned (segment read, plan, recipients stored)\t%d\t%s\t%.0f contacts/s\t100,000 in < 10 s\n",
		rep.Recipients, planned.Round(time.Millisecond), float64(rep.Recipients)/planned.Seconds())
	fmt.Fprintf(tw, "notifications scheduled, rendered and queued in batches of %d (%d workers)\t%d\t%s\t%.0f /min\t100,000 /min\n",
		cfg.batch, cfg.workers, done, rendered.Round(time.Millisecond), float64(done)/rendered.Minutes())
	if singles > 0 {
		fmt.Fprintf(tw, "the same one at a time (Notify + NotifyJob, 8 workers)\t%d\t%s\t%.0f /min\t\n",
			singles, singleTime.Round(time.Millisecond), float64(singles)/singleTime.Minutes())
	}
	tw.Flush()
	fmt.Printf("\nplan: %d planned, %d opted out, %d failed %v\n", rep.Planned, rep.OptedOut, rep.Failed, rep.FailedBy)
	fmt.Printf("notifications by status: %v\n", statuses)
	if statuses[notify.StatusScheduled] > 0 {
		return fmt.Errorf("%d notifications were left scheduled", statuses[notify.StatusScheduled])
	}
	return nil
}

// startProfile starts a CPU profile into path, when set; the function
// returned stops it.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// runBatches schedules the notifications of ids in batches and runs each
// batch's job, claimed from the store as the Worker claims it, with
// cfg.workers batches at once. It returns how many notifications were
// decided.
func runBatches(ctx context.Context, store *postgres.Store, notifier *notify.Service, tenant int64, ids []int64, cfg config) (int, error) {
	batches := slices.Collect(slices.Chunk(ids, cfg.batch))
	var next, done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for range cfg.workers {
		g.Go(func() error {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(batches)) {
					return nil
				}
				reqs := make([]notify.Request, len(batches[i]))
				for k, contact := range batches[i] {
					reqs[k] = request(tenant, contact)
				}
				res, err := notifier.NotifyBatch(gctx, tenant, reqs)
				if err != nil {
					return err
				}
				for _, r := range res {
					if r.Err != nil {
						return r.Err
					}
				}
				if _, err := runBatchJob(gctx, store, notifier, &done); err != nil {
					return err
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return int(done.Load()), err
	}
	// A worker may have run another's job: run those left.
	for {
		ran, err := runBatchJob(ctx, store, notifier, &done)
		if err != nil || !ran {
			return int(done.Load()), err
		}
	}
}

// runBatchJob claims one due batch job, as the Worker would, runs and
// completes it, and adds its notifications to done. It reports whether
// there was one.
func runBatchJob(ctx context.Context, store *postgres.Store, notifier *notify.Service, done *atomic.Int64) (bool, error) {
	js, err := store.ClaimJobs(ctx, []string{notify.JobNotifyBatch}, 1, time.Minute)
	if err != nil || len(js) == 0 {
		return false, err
	}
	j := js[0]
	if err := notifier.NotifyBatchJob(ctx, j); err != nil {
		return true, err
	}
	if err := store.CompleteJob(ctx, j); err != nil {
		return true, err
	}
	ids, err := notify.BatchIDs(j)
	if err != nil {
		return true, err
	}
	done.Add(int64(len(ids)))
	return true, nil
}

// runSingles schedules and runs the notifications of ids one at a time,
// workers at once, and returns how many ran.
func runSingles(ctx context.Context, notifier *notify.Service, tenant int64, ids []int64, workers int) (int, error) {
	var next, sent atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ids)) {
					return nil
				}
				if err := notifyOne(ctx, notifier, tenant, ids[i]); err != nil {
					return err
				}
				sent.Add(1)
			}
		})
	}
	err := g.Wait()
	return int(sent.Load()), err
}

func request(tenant, contact int64) notify.Request {
	return notify.Request{TenantID: tenant, ContactID: contact, Purpose: "reminder",
		Data: map[string]string{"name": fmt.Sprintf("Cliente %d", contact), "when": "el lunes a las 10"}, IdempotencyKey: fmt.Sprintf("bench-%d", contact)}
}

// notifyOne schedules and runs one notification, as the API and the job
// worker would.
func notifyOne(ctx context.Context, notifier *notify.Service, tenant, contact int64) error {
	n, err := notifier.Notify(ctx, request(tenant, contact))
	if err != nil {
		return err
	}
	return notifier.NotifyJob(ctx, conversation.Job{TenantID: tenant, Kind: notify.JobNotify, Ref: n.ID, RunAt: n.Due})
}

// load makes the tenant, its SMS account, template and contacts.
func load(ctx context.Context, url string, store *postgres.Store, tpls *templates.Service, contacts int) (int64, error) {
	tn := conversation.Tenant{Slug: "bench", Name: "Bench", Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	if err := tn.Validate(); err != nil {
		return 0, err
	}
	tn, err := store.CreateTenant(ctx, tn)
	if err != nil {
		return 0, err
	}
	sms, err := store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelSMS, Key: "+15550002222", Name: "SMS"})
	if err != nil {
		return 0, err
	}
	if _, _, _, err := tpls.Save(ctx, tn.ID, "reminder", "reminder.yaml", []byte(reminder)); err != nil {
		return 0, err
	}
	err = pgxQuery(ctx, url, func(conn *pgx.Conn) error {
		for _, q := range []string{
			`INSERT INTO contacts (tenant_id, name, language, attributes, created_at, updated_at)
			 SELECT $1, 'Cliente ' || g, 'es',
			   jsonb_build_object('city', CASE WHEN g % 2 = 0 THEN 'bogota' ELSE 'cali' END)
			   || CASE WHEN g % 10 = 0 THEN '{"time_zone": "Europe/Madrid"}'::jsonb ELSE '{}'::jsonb END,
			   now(), now()
			 FROM generate_series(1, $2::int) g`,
			`INSERT INTO identities (tenant_id, channel, address, contact_id, created_at)
			 SELECT $1, ch, '+57300' || lpad(id::text, 7, '0'), id, now()
			 FROM contacts, unnest(ARRAY['whatsapp', 'sms']) ch WHERE tenant_id = $1 AND $2::int > 0`,
			`INSERT INTO consent_changes (tenant_id, account_id, contact_id, channel, address, opted_out, source, at)
			 SELECT $1, ` + fmt.Sprint(sms.ID) + `, id, 'sms', '+57300' || lpad(id::text, 7, '0'), true, 'keyword:STOP', now()
			 FROM contacts WHERE tenant_id = $1 AND id % 100 = 0 AND $2::int > 0`,
		} {
			if _, err := conn.Exec(ctx, q, tn.ID, contacts); err != nil {
				return err
			}
		}
		_, err := conn.Exec(ctx, `ANALYZE`)
		return err
	})
	return tn.ID, err
}

// contactIDs returns the first n contacts of the tenant who did not opt
// out.
func contactIDs(ctx context.Context, url string, tenant int64, n int) ([]int64, error) {
	var ids []int64
	err := pgxQuery(ctx, url, func(conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, `SELECT id FROM contacts WHERE tenant_id = $1 AND id % 100 <> 0 ORDER BY id LIMIT $2`, tenant, n)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	return ids, err
}

func pgxQuery(ctx context.Context, url string, fn func(*pgx.Conn) error) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return fn(conn)
}

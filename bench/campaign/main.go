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
//   - render: 100,000 notifications are scheduled (notify.Service.Notify:
//     validation, idempotency key, the notification and its job) and run
//     (NotifyJob: quiet hours, frequency cap, channel choice, consent,
//     the template rendered for the channel and language, the message and
//     its delivery job queued), by several workers at once, as the job
//     worker runs them. Target: 100,000 a minute on 2 cores.
//
//     go run ./bench/campaign [-postgres-url URL] [-contacts 100000] [-render 100000] [-workers 8]
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
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

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
}

func main() {
	var cfg config
	flag.StringVar(&cfg.postgresURL, "postgres-url", os.Getenv("TEST_POSTGRES_URL"), "PostgreSQL server to make the benchmark database on (default $TEST_POSTGRES_URL)")
	flag.IntVar(&cfg.contacts, "contacts", 100_000, "contacts in the campaign's segment")
	flag.IntVar(&cfg.render, "render", 100_000, "notifications rendered and queued (at most -contacts)")
	flag.IntVar(&cfg.workers, "workers", 8, "notifications run at once")
	flag.Parse()
	if cfg.postgresURL == "" {
		fmt.Fprintln(os.Stderr, "campaign: set TEST_POSTGRES_URL or -postgres-url (scripts/services .test/env writes it)")
		os.Exit(2)
	}
	cfg.render = min(cfg.render, cfg.contacts)
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

	// Rendering and queueing.
	ids, err := contactIDs(ctx, db.URL, tenant, cfg.render)
	if err != nil {
		return err
	}
	var next, sent, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	t1 := time.Now()
	var wg sync.WaitGroup
	for range cfg.workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ids)) || ctx.Err() != nil {
					return
				}
				err := notifyOne(ctx, notifier, tenant, ids[i])
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				sent.Add(1)
			}
		})
	}
	wg.Wait()
	rendered := time.Since(t1)
	if ctx.Err() != nil {
		return ctx.Err()
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
	fmt.Fprintf(tw, "notifications scheduled, rendered and queued (%d workers)\t%d\t%s\t%.0f /min\t100,000 /min\n",
		cfg.workers, sent.Load(), rendered.Round(time.Millisecond), float64(sent.Load())/rendered.Minutes())
	tw.Flush()
	fmt.Printf("\nplan: %d planned, %d opted out, %d failed %v\n", rep.Planned, rep.OptedOut, rep.Failed, rep.FailedBy)
	fmt.Printf("notifications by status: %v\n", statuses)
	if failed.Load() > 0 {
		return fmt.Errorf("%d notifications failed, the first: %w", failed.Load(), firstErr)
	}
	return nil
}

// notifyOne schedules and runs one notification, as the API and the job
// worker would.
func notifyOne(ctx context.Context, notifier *notify.Service, tenant, contact int64) error {
	n, err := notifier.Notify(ctx, notify.Request{TenantID: tenant, ContactID: contact, Purpose: "reminder",
		Data: map[string]string{"name": fmt.Sprintf("Cliente %d", contact), "when": "el lunes a las 10"}, IdempotencyKey: fmt.Sprintf("bench-%d", contact)})
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

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"conversa/bench"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/storage/postgres"
)

// generatorVersion changes whenever the generated data would: a kept
// database of another version is generated again.
const generatorVersion = 1

// Full-size figures of issue 11; -scale multiplies the conversations and
// so the contacts and messages. There are always 30 tenants.
const (
	fullConversations = 1_000_000
	tenantCount       = 30
	window            = 92 * 24 * time.Hour // about 3 months of history
	chunkSize         = 4000                // conversations per COPY transaction
)

// dataset describes a generated database, as its marker row records it.
type dataset struct {
	Version       int       `json:"version"`
	Scale         float64   `json:"scale"`
	Tenants       int       `json:"tenants"`
	Contacts      int64     `json:"contacts"`
	Conversations int64     `json:"conversations"`
	Messages      int64     `json:"messages"`
	Handoffs      int64     `json:"handoffs"`
	Cases         int64     `json:"cases"`
	Surveys       int64     `json:"surveys"`
	Failed        int64     `json:"failed"`
	Start         time.Time `json:"start"` // first moment of the history
	End           time.Time `json:"end"`   // the generation's "now": the history's end
	Took          string    `json:"took"`
	Size          string    `json:"size,omitempty"`
}

// tenantInfo is what the measurements need of a generated tenant.
type tenantInfo struct {
	ID       int64
	Slug     string
	Zone     string
	Share    float64
	Accounts map[string]int64 // channel kind to account id
}

// openData returns the kept benchmark database of the config's scale,
// generating it first when it is missing, of another generator version or
// incomplete. The store is migrated (newer migrations apply to kept data).
func openData(ctx context.Context, cfg config) (*postgres.Store, string, dataset, []tenantInfo, error) {
	u, err := url.Parse(cfg.postgresURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, "", dataset{}, nil, fmt.Errorf("not a postgres:// URL: %q", cfg.postgresURL)
	}
	u.Path = "/" + cfg.dbName
	u.RawPath = ""
	dbURL := u.String()
	admin, err := pgx.Connect(ctx, cfg.postgresURL)
	if err != nil {
		return nil, "", dataset{}, nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))

	ds, ok, err := readMarker(ctx, admin, dbURL, cfg.dbName)
	if err != nil {
		return nil, "", dataset{}, nil, err
	}
	var drift []string
	if ok {
		if drift, err = migrationDrift(ctx, dbURL); err != nil {
			return nil, "", dataset{}, nil, err
		}
	}
	keep := ok && ds.Version == generatorVersion && ds.Scale == cfg.scale && !cfg.regenerate
	switch {
	case keep && len(drift) == 1 && drift[0] == reportsMigration:
		// Only the report pipeline's derived tables changed: made again
		// by the migration, filled again by the backfill.
		fmt.Printf("data:    migration %s changed since it was applied: its objects are made again\n", reportsMigration)
		if err := undoReports(ctx, dbURL); err != nil {
			return nil, "", dataset{}, nil, err
		}
	case keep && len(drift) > 0:
		fmt.Printf("data:    migrations %v changed since they were applied: generating the database again\n", drift)
		keep = false
	}
	if keep {
		fmt.Printf("data:    kept database %s (generated %s in %s)\n", cfg.dbName, ds.End.Format(time.RFC3339), ds.Took)
	} else {
		if ok {
			fmt.Printf("data:    database %s is of version %d scale %g: generating it again\n", cfg.dbName, ds.Version, ds.Scale)
		}
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{cfg.dbName}.Sanitize()+" WITH (FORCE)"); err != nil {
			return nil, "", dataset{}, nil, err
		}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cfg.dbName}.Sanitize()); err != nil {
			return nil, "", dataset{}, nil, err
		}
		if ds, err = generate(ctx, dbURL, cfg); err != nil {
			return nil, "", dataset{}, nil, fmt.Errorf("generate: %w", err)
		}
	}
	store, err := openStore(ctx, dbURL)
	if err != nil {
		return nil, "", dataset{}, nil, err
	}
	if err := recordMigrations(ctx, dbURL); err != nil {
		store.Close()
		return nil, "", dataset{}, nil, err
	}
	if err := deriveHandoffs(ctx, dbURL); err != nil {
		store.Close()
		return nil, "", dataset{}, nil, err
	}
	tenants, err := readTenants(ctx, dbURL)
	if err != nil {
		store.Close()
		return nil, "", dataset{}, nil, err
	}
	var size string
	if err := admin.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size($1))", cfg.dbName).Scan(&size); err == nil {
		ds.Size = size
	}
	return store, dbURL, ds, tenants, nil
}

// readMarker reads the marker of a generated database; ok is false when
// the database or its marker is missing.
func readMarker(ctx context.Context, admin *pgx.Conn, dbURL, name string) (dataset, bool, error) {
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil || !exists {
		return dataset{}, false, err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return dataset{}, false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var raw []byte
	err = conn.QueryRow(ctx, "SELECT info FROM bench_reports_marker").Scan(&raw)
	if err != nil {
		return dataset{}, false, nil // no marker: an interrupted generation
	}
	var ds dataset
	if err := json.Unmarshal(raw, &ds); err != nil {
		return dataset{}, false, nil
	}
	return ds, true, nil
}

// openStore opens the database as the product's store, with the benchmark
// nodes' encryption key, and migrates it.
func openStore(ctx context.Context, dbURL string) (*postgres.Store, error) {
	key, err := hex.DecodeString(bench.EncryptionKey)
	if err != nil {
		return nil, err
	}
	sealer, err := conversation.NewSealer(key)
	if err != nil {
		return nil, err
	}
	store, err := postgres.Open(ctx, postgres.Config{URL: dbURL, Sealer: sealer})
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	if err := sealer.CheckKey(ctx, store); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// reportsMigration is the migration of the report pipeline, whose tables
// hold only what the backfill rebuilds.
const reportsMigration = "0020_reports.sql"

// migrationSums returns the SHA-256 of each PostgreSQL migration of the
// source tree, by file name.
func migrationSums(ctx context.Context) (map[string]string, error) {
	root, err := bench.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(root, "storage", "postgres", "migrations", "*.sql"))
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		sums[filepath.Base(f)] = hex.EncodeToString(sum[:])
	}
	return sums, nil
}

// migrationDrift returns the migrations applied to the kept database whose
// text has changed since (a migration edited on a branch before it is
// released): the schema may then differ from what the store expects.
func migrationDrift(ctx context.Context, dbURL string) ([]string, error) {
	sums, err := migrationSums(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('bench_reports_migrations') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT name, sha256 FROM bench_reports_migrations ORDER BY name`)
	if err != nil {
		return nil, err
	}
	type applied struct{ name, sum string }
	as, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (applied, error) {
		var a applied
		return a, r.Scan(&a.name, &a.sum)
	})
	if err != nil {
		return nil, err
	}
	var drift []string
	for _, a := range as {
		if sum, ok := sums[a.name]; ok && sum != a.sum {
			drift = append(drift, a.name)
		}
	}
	return drift, nil
}

// recordMigrations records the text of the migrations just applied.
func recordMigrations(ctx context.Context, dbURL string) error {
	sums, err := migrationSums(ctx)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_reports_migrations (name text PRIMARY KEY, sha256 text NOT NULL)`); err != nil {
		return err
	}
	for name, sum := range sums {
		if _, err := conn.Exec(ctx, `INSERT INTO bench_reports_migrations (name, sha256) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256`, name, sum); err != nil {
			return err
		}
	}
	return nil
}

// undoReports drops what the report pipeline's migration made (its
// report_* tables and functions, their triggers, its index on cases) and
// forgets that it was applied, so that Migrate applies its new text.
func undoReports(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, `DO $$
		DECLARE r record;
		BEGIN
			FOR r IN SELECT relname FROM pg_class WHERE relkind = 'r' AND relname LIKE 'report\_%' AND relnamespace = 'public'::regnamespace LOOP
				EXECUTE 'DROP TABLE ' || quote_ident(r.relname) || ' CASCADE';
			END LOOP;
			FOR r IN SELECT proname FROM pg_proc WHERE proname LIKE 'report\_%' AND pronamespace = 'public'::regnamespace LOOP
				EXECUTE 'DROP FUNCTION ' || quote_ident(r.proname) || '() CASCADE';
			END LOOP;
		END $$;
		DROP INDEX IF EXISTS cases_tenant_due;
		DELETE FROM schema_migrations WHERE version = 20;`)
	if err != nil {
		return fmt.Errorf("drop the report pipeline's objects: %w", err)
	}
	return nil
}

// deriveHandoffs writes the records of every generated handoff that
// migration 0020's trigger on routing_entries keeps (report_handoffs), when
// the schema has them and they are missing: the generator writes the
// routing history, and routing entries only of conversations still
// waiting or assigned, as the store leaves them. The reasons vary by
// conversation.
func deriveHandoffs(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists, empty bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('report_handoffs') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return err
	}
	if err := conn.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM report_handoffs)`).Scan(&empty); err != nil || !empty {
		return err
	}
	tag, err := conn.Exec(ctx, `INSERT INTO report_handoffs (tenant_id, conversation_id, queue_id, reason, intent, at)
		SELECT tenant_id, conversation_id, queue_id,
			CASE WHEN conversation_id % 20 < 12 THEN 'asked_for_agent' WHEN conversation_id % 20 < 16 THEN 'fallback'
				WHEN conversation_id % 20 < 19 THEN 'negative_sentiment' ELSE 'business_hours' END,
			CASE WHEN conversation_id % 20 < 12 THEN 'talk_to_agent' ELSE '' END, enqueued_at
		FROM (SELECT tenant_id, conversation_id, queue_id, enqueued_at FROM routing_history
			UNION ALL SELECT tenant_id, conversation_id, queue_id, enqueued_at FROM routing_entries WHERE state = 'waiting') h
		ORDER BY enqueued_at`)
	if err != nil {
		return fmt.Errorf("derive report_handoffs: %w", err)
	}
	fmt.Printf("data:    %d handoff records written as migration 0020's trigger would have\n", tag.RowsAffected())
	return nil
}

// readTenants reads the generated tenants and their accounts.
func readTenants(ctx context.Context, dbURL string) ([]tenantInfo, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT t.id, t.slug, t.time_zone, a.kind, a.id FROM tenants t JOIN channel_accounts a ON a.tenant_id = t.id
		WHERE t.slug LIKE 'bench-%' ORDER BY t.id, a.id`)
	if err != nil {
		return nil, err
	}
	var out []tenantInfo
	for rows.Next() {
		var id, acct int64
		var slug, zone, kind string
		if err := rows.Scan(&id, &slug, &zone, &kind, &acct); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			out = append(out, tenantInfo{ID: id, Slug: slug, Zone: zone, Accounts: map[string]int64{}})
		}
		out[len(out)-1].Accounts[kind] = acct
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	shares := tenantShares()
	for i := range out {
		out[i].Share = shares[i]
	}
	if len(out) != tenantCount {
		return nil, fmt.Errorf("the database has %d bench tenants, want %d", len(out), tenantCount)
	}
	return out, nil
}

// tenantShares returns each tenant's share of the conversations: a few
// large client companies and many small ones (Zipf-like).
func tenantShares() []float64 {
	w := make([]float64, tenantCount)
	total := 0.0
	for i := range w {
		w[i] = 1 / math.Pow(float64(i+1), 0.9)
		total += w[i]
	}
	for i := range w {
		w[i] /= total
	}
	return w
}

// plan is one tenant's part of the generation.
type plan struct {
	tenantInfo
	idx           int
	loc           *time.Location
	tl            *timeline
	conversations int // n
	contacts      int // k: contact i%k has conversation i; those i >= k are second conversations
	convBase      int64
	contactBase   int64
	agents        []handoff.Agent
	queues        []int64
	teams         []int64
}

// generate fills the empty database of dbURL.
func generate(ctx context.Context, dbURL string, cfg config) (dataset, error) {
	begin := time.Now()
	store, err := openStore(ctx, dbURL)
	if err != nil {
		return dataset{}, err
	}
	defer store.Close()
	end := time.Now().UTC().Truncate(time.Second)
	start := end.Add(-window).Truncate(time.Hour)
	total := int(math.Round(fullConversations * cfg.scale))
	if total < tenantCount*10 {
		return dataset{}, fmt.Errorf("-scale %g makes %d conversations; at least %d", cfg.scale, total, tenantCount*10)
	}
	fmt.Printf("generating %d tenants, %d conversations, about %d messages over %s to %s (%d workers)\n",
		tenantCount, total, total*10, start.Format("2006-01-02"), end.Format("2006-01-02 15:04"), cfg.jobs)

	plans, err := setupTenants(ctx, store, total, start, end)
	if err != nil {
		return dataset{}, err
	}
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return dataset{}, err
	}
	pc.MaxConns = int32(cfg.jobs + 1)
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pc.ConnConfig.RuntimeParams["maintenance_work_mem"] = "256MB"
	// History is written as it would be after the fact: no trigger fires
	// (the report pipeline's outbox is for what happens from now on, and
	// the backfill reads the tables), and the foreign keys, all satisfied
	// by construction, are not checked row by row.
	pc.ConnConfig.RuntimeParams["session_replication_role"] = "replica"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return dataset{}, err
	}
	defer pool.Close()

	t0 := time.Now()
	indexes, err := dropIndexes(ctx, pool)
	if err != nil {
		return dataset{}, err
	}
	var (
		mu           sync.Mutex
		ds           = dataset{Version: generatorVersion, Scale: cfg.scale, Tenants: tenantCount, Start: start, End: end}
		next         = make(chan *plan)
		errs         = make(chan error, cfg.jobs)
		wg           sync.WaitGroup
		gctx, cancel = context.WithCancel(ctx)
	)
	defer cancel()
	for range cfg.jobs {
		wg.Go(func() {
			for p := range next {
				c, err := fillTenant(gctx, pool, p, start, end)
				if err != nil {
					errs <- fmt.Errorf("tenant %s: %w", p.Slug, err)
					cancel()
					return
				}
				mu.Lock()
				ds.add(c)
				fmt.Printf("  %s: %d conversations, %d messages (%s so far)\n", p.Slug, c.Conversations, c.Messages, time.Since(t0).Round(time.Second))
				mu.Unlock()
			}
		})
	}
feed:
	for _, p := range plans {
		select {
		case next <- p:
		case <-gctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := errors.Join(<-errs, ctx.Err()); err != nil {
		return dataset{}, err
	}
	fmt.Printf("rows written in %s; building indexes\n", time.Since(t0).Round(time.Second))
	t1 := time.Now()
	if err := finish(ctx, pool, indexes); err != nil {
		return dataset{}, err
	}
	fmt.Printf("indexes, sequences, filing numbers and VACUUM ANALYZE in %s\n", time.Since(t1).Round(time.Second))
	ds.Took = time.Since(begin).Round(time.Second).String()
	raw, err := json.Marshal(ds)
	if err != nil {
		return dataset{}, err
	}
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_reports_marker (info jsonb NOT NULL); INSERT INTO bench_reports_marker VALUES ('`+string(raw)+`')`); err != nil {
		return dataset{}, err
	}
	fmt.Printf("generated in %s: %d contacts, %d conversations, %d messages, %d handoffs, %d cases, %d surveys, %d failed messages\n",
		ds.Took, ds.Contacts, ds.Conversations, ds.Messages, ds.Handoffs, ds.Cases, ds.Surveys, ds.Failed)
	return ds, nil
}

func (ds *dataset) add(c dataset) {
	ds.Contacts += c.Contacts
	ds.Conversations += c.Conversations
	ds.Messages += c.Messages
	ds.Handoffs += c.Handoffs
	ds.Cases += c.Cases
	ds.Surveys += c.Surveys
	ds.Failed += c.Failed
}

// setupTenants creates the tenants, their channel accounts, teams, queues
// and agents through the store, and plans their conversations: id ranges
// are given out here so that tenants can be filled in parallel.
func setupTenants(ctx context.Context, store *postgres.Store, total int, start, end time.Time) ([]*plan, error) {
	shares := tenantShares()
	var plans []*plan
	var convBase, contactBase int64
	for i := range tenantCount {
		zone := zones[i%len(zones)]
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return nil, err
		}
		t, err := store.CreateTenant(ctx, conversation.Tenant{Slug: fmt.Sprintf("bench-%02d", i+1), Name: fmt.Sprintf("Empresa %02d", i+1),
			Language: "es", Region: "CO", TimeZone: zone})
		if err != nil {
			return nil, err
		}
		p := &plan{tenantInfo: tenantInfo{ID: t.ID, Slug: t.Slug, Zone: zone, Share: shares[i], Accounts: map[string]int64{}}, idx: i, loc: loc}
		for _, c := range channelMix {
			a := conversation.ChannelAccount{TenantID: t.ID, Kind: conversation.ChannelKind(c.kind), Key: accountKey(c.kind, i), Name: c.kind}
			if c.kind == "api" {
				a.Settings = map[string]string{"webhook_url": "https://example.com/hook", "webhook_secret": "bench-webhook-secret-0123456789"}
			}
			if a, err = store.CreateChannelAccount(ctx, a); err != nil {
				return nil, err
			}
			p.Accounts[c.kind] = a.ID
		}
		for _, name := range []string{"Ventas", "Soporte"} {
			tm, err := store.CreateTeam(ctx, handoff.Team{TenantID: t.ID, Name: name})
			if err != nil {
				return nil, err
			}
			p.teams = append(p.teams, tm.ID)
		}
		for q, name := range []string{"general", "facturacion", "reclamos"} {
			qu, err := store.CreateQueue(ctx, handoff.Queue{TenantID: t.ID, Name: name, Strategy: handoff.StrategyLongestIdle,
				TeamID: p.teams[q%2], AcceptTimeout: handoff.DefaultAcceptTimeout})
			if err != nil {
				return nil, err
			}
			p.queues = append(p.queues, qu.ID)
		}
		agents := 4 + int(math.Round(120*shares[i]))
		for a := range agents {
			role := handoff.RoleAgent
			switch a {
			case 0:
				role = handoff.RoleAdmin
			case 1, 2:
				role = handoff.RoleSupervisor
			}
			ag, err := store.CreateAgent(ctx, handoff.Agent{TenantID: t.ID, Name: personName(a + i), Email: fmt.Sprintf("agente%d@%s.example", a, t.Slug),
				Role: role, Skills: []string{"orders"}, Teams: []int64{p.teams[a%2]}, Capacity: 4})
			if err != nil {
				return nil, err
			}
			p.agents = append(p.agents, ag)
		}
		p.conversations = max(10, int(math.Round(float64(total)*shares[i])))
		p.contacts = p.conversations * 10 / 14
		p.convBase, p.contactBase = convBase, contactBase
		convBase += int64(p.conversations)
		contactBase += int64(p.contacts)
		p.tl = newTimeline(start, end, loc)
		plans = append(plans, p)
	}
	return plans, nil
}

// accountKey is a channel account's key, unique per kind.
func accountKey(kind string, tenant int) string {
	switch kind {
	case "whatsapp", "sms", "voice":
		return fmt.Sprintf("+1500555%04d", tenant)
	case "email":
		return fmt.Sprintf("soporte@empresa%02d.example", tenant+1)
	}
	return fmt.Sprintf("bench-%s-%02d", kind, tenant+1)
}

// address is a contact's address on a channel.
func address(kind string, contact int) string {
	switch kind {
	case "whatsapp", "sms", "voice":
		return fmt.Sprintf("+573%09d", contact)
	case "email":
		return fmt.Sprintf("cliente%d@correo.example", contact)
	case "telegram":
		return strconv.Itoa(100000000 + contact)
	case "webchat":
		return fmt.Sprintf("wc_%08x", contact)
	}
	return fmt.Sprintf("cliente-%d", contact)
}

// The columns of the tables written with COPY.
var (
	contactCols  = []string{"id", "tenant_id", "name", "language", "created_at", "updated_at"}
	identityCols = []string{"tenant_id", "channel", "address", "contact_id", "created_at"}
	convCols     = []string{"id", "tenant_id", "contact_id", "state", "channel", "channel_account_id", "assignee_id", "last_seq",
		"last_message_at", "opened_at", "closed_at", "updated_at"}
	msgCols = []string{"tenant_id", "conversation_id", "contact_id", "seq", "direction", "author_kind", "author_id", "author_name",
		"channel", "channel_account_id", "parts", "body", "provider_id", "status", "failure_code", "failure_message", "created_at", "updated_at", "analysis"}
	historyCols = []string{"tenant_id", "conversation_id", "queue_id", "agent_id", "enqueued_at", "assigned_at", "released_at", "disposition"}
	entryCols   = []string{"conversation_id", "tenant_id", "queue_id", "priority", "state", "agent_id", "version", "enqueued_at", "assigned_at", "reason", "intent"}
	caseCols    = []string{"id", "tenant_id", "radicado", "type", "status", "contact_id", "conversation_id", "channel", "subject", "description",
		"term_days", "due", "filed_at", "updated_at", "version", "assignee_id", "team_id"}
	caseEventCols = []string{"tenant_id", "case_id", "kind", "actor", "from_status", "to_status", "created_at"}
	surveyCols    = []string{"tenant_id", "contact_id", "kind", "purpose", "notification_id", "status", "ttl_seconds", "channel", "conversation_id",
		"sent_at", "expires_at", "score", "answered_at", "answer_channel", "created_at"}
)

// chunk is the rows of a run of a tenant's conversations.
type chunk struct {
	contacts, identities, convs, msgs, history, entries, cases, caseEvents, surveys [][]any
}

// fillTenant writes a tenant's contacts, conversations and everything that
// hangs from them, chunkSize conversations per transaction.
func fillTenant(ctx context.Context, pool *pgxpool.Pool, p *plan, start, end time.Time) (dataset, error) {
	rng := rand.New(rand.NewPCG(uint64(p.idx)+1, 7))
	n, k := p.conversations, p.contacts
	opened := make([]time.Time, n)
	for i := range opened {
		opened[i] = p.tl.at(rng)
	}
	// A contact's second conversation comes after the first.
	for i := k; i < n; i++ {
		if opened[i].Before(opened[i-k]) {
			opened[i], opened[i-k] = opened[i-k], opened[i]
		}
	}
	firstChannel := make([]string, k)
	load := make([]int, len(p.agents))
	var ds dataset
	for lo := 0; lo < n; lo += chunkSize {
		var c chunk
		for i := lo; i < min(n, lo+chunkSize); i++ {
			conversationRows(p, i, opened[i], firstChannel, load, end, &c, &ds)
		}
		if err := c.write(ctx, pool); err != nil {
			return dataset{}, err
		}
	}
	// Agents who hold conversations are available, with their load; a
	// third of the others are online too.
	for a, ag := range p.agents {
		status := "offline"
		if load[a] > 0 || a%3 == 0 {
			status = "available"
		}
		if _, err := pool.Exec(ctx, `UPDATE agents SET status = $3, load = $4, status_since = $5, idle_since = $5, seen_at = $5 WHERE tenant_id = $1 AND id = $2`,
			p.ID, ag.ID, status, load[a], end.Add(-time.Duration(a+1)*7*time.Minute)); err != nil {
			return dataset{}, err
		}
	}
	ds.Contacts = int64(k)
	ds.Conversations = int64(n)
	return ds, nil
}

// conversationRows generates conversation i of the plan, its messages,
// routing, case and survey, into c.
func conversationRows(p *plan, i int, opened time.Time, firstChannel []string, load []int, end time.Time, c *chunk, ds *dataset) {
	n, k := p.conversations, p.contacts
	cid := p.convBase + int64(i) + 1
	rng := rand.New(rand.NewPCG(uint64(cid), 11))
	ci := i % k
	contactID := p.contactBase + int64(ci) + 1
	name := personName(ci)
	ch := pickChannel(rng)
	if i < k {
		firstChannel[ci] = ch
		c.contacts = append(c.contacts, []any{contactID, p.ID, name, "es", opened, opened})
		c.identities = append(c.identities, []any{p.ID, ch, address(ch, ci), contactID, opened})
	} else if ch != firstChannel[ci] {
		c.identities = append(c.identities, []any{p.ID, ch, address(ch, ci), contactID, opened})
	}
	account := p.Accounts[ch]
	latest := i >= k || i+k >= n
	open := latest && opened.After(end.Add(-90*time.Minute))
	handed := rng.Float64() < 0.05
	msgs := 2 + rng.IntN(16)
	if rng.Float64() < 0.36 {
		msgs++
	}
	// handAt is the seq of the bot's message that hands the conversation
	// over, after one to three exchanges.
	handAt := 0
	agent := -1
	waiting := false
	if handed {
		msgs += 4
		handAt = min(2+2*rng.IntN(3), msgs-2)
		agent = rng.IntN(len(p.agents))
		if open {
			agent = slices.IndexFunc(load, func(l int) bool { return l < 4 })
			if agent < 0 {
				waiting = true
				msgs = handAt + 1
			} else {
				load[agent]++
			}
		}
	}
	queue := p.queues[rng.IntN(len(p.queues))]
	clamp := func(t time.Time) time.Time {
		if t.After(end.Add(-time.Second)) {
			return end.Add(-time.Second)
		}
		return t
	}
	at := opened
	var enqueued, assigned, filed time.Time
	var firstText string
	for seq := 1; seq <= msgs; seq++ {
		in := seq%2 == 1
		afterHand := handed && seq > handAt
		switch {
		case seq == 1:
		case in:
			at = at.Add(expDuration(rng, time.Minute, 5*time.Second))
		case afterHand && assigned.IsZero():
			assigned = clamp(at.Add(expDuration(rng, 3*time.Minute, 10*time.Second)))
			at = assigned.Add(expDuration(rng, 30*time.Second, 5*time.Second))
		case afterHand:
			at = at.Add(expDuration(rng, time.Minute, 10*time.Second))
		default:
			at = at.Add(time.Second + time.Duration(rng.Int64N(int64(2*time.Second))))
		}
		at = clamp(at)
		if in {
			text, analysis := inboundText(rng, seq, handed && seq == handAt-1)
			if firstText == "" {
				firstText = text
			}
			c.msgs = append(c.msgs, []any{p.ID, cid, contactID, int64(seq), "in", "contact", int64(0), name, ch, account,
				partsJSON(text), text, fmt.Sprintf("i%d-%d", cid, seq), "received", "", "", at, at, analysis})
			continue
		}
		var text, author, authorName string
		var authorID int64
		switch {
		case afterHand:
			text, author, authorID, authorName = agentReplies[rng.IntN(len(agentReplies))], "agent", p.agents[agent].ID, p.agents[agent].Name
		case handed && seq == handAt:
			text, author = "Te comunico con un asesor.", "bot"
			enqueued = at
		default:
			text, author = botReplies[rng.IntN(len(botReplies)-1)], "bot"
		}
		status, code, msg := outboundStatus(rng, ch)
		if status == "failed" {
			ds.Failed++
		}
		c.msgs = append(c.msgs, []any{p.ID, cid, contactID, int64(seq), "out", author, authorID, authorName, ch, account,
			partsJSON(text), text, fmt.Sprintf("o%d-%d", cid, seq), status, code, msg, at, clamp(at.Add(3 * time.Second)), nil})
		if filed.IsZero() && seq >= 4 {
			filed = at
		}
	}
	last := at
	state, assignee := "closed", int64(0)
	var closed any
	closedAt := clamp(last.Add(expDuration(rng, 20*time.Minute, time.Minute)))
	switch {
	case !open:
		closed = closedAt
	case waiting:
		state = "queued"
	case handed:
		state, assignee = "agent", p.agents[agent].ID
	default:
		state = "bot"
	}
	updated := last
	if closed != nil {
		updated = closedAt
	}
	c.convs = append(c.convs, []any{cid, p.ID, contactID, state, ch, account, assignee, int64(msgs), last, opened, closed, updated})
	ds.Messages += int64(msgs)

	if handed {
		ds.Handoffs++
		switch {
		case waiting:
			c.entries = append(c.entries, []any{cid, p.ID, queue, 0, "waiting", int64(0), int64(1), enqueued, nil, "asked_for_agent", "talk_to_agent"})
		case open:
			c.entries = append(c.entries, []any{cid, p.ID, queue, 0, "assigned", p.agents[agent].ID, int64(2), enqueued, assigned, "asked_for_agent", "talk_to_agent"})
			c.history = append(c.history, []any{p.ID, cid, queue, p.agents[agent].ID, enqueued, assigned, nil, ""})
		default:
			c.history = append(c.history, []any{p.ID, cid, queue, p.agents[agent].ID, enqueued, assigned, closedAt, "resolved"})
		}
	}
	if filed.IsZero() {
		filed = last
	}
	if rng.Float64() < 0.01 {
		caseRows(p, rng, cid, contactID, ch, firstText, filed, end, c)
		ds.Cases++
	}
	if closed != nil && closedAt.Add(10*time.Minute).Before(end) {
		if handed && rng.Float64() < 0.4 {
			surveyRow(p, rng, cid, contactID, ch, "csat", closedAt, end, c)
			ds.Surveys++
		} else if rng.Float64() < 0.02 {
			surveyRow(p, rng, cid, contactID, ch, "nps", closedAt, end, c)
			ds.Surveys++
		}
	}
}

// inboundText returns a customer's message and the bot's analysis of it:
// mostly a known intent, about one in eight not understood.
func inboundText(rng *rand.Rand, seq int, wantsAgent bool) (string, string) {
	sentiment := "neutral"
	score := 0.0
	if rng.Float64() < 0.15 {
		sentiment, score = "negative", -0.6
	}
	if !wantsAgent && rng.Float64() < 0.13 {
		text := unrecognized[rng.IntN(len(unrecognized))]
		return text, fmt.Sprintf(`{"language":"es","confidence":%.2f,"out_of_scope":true,"sentiment":%q,"sentiment_score":%g,"bot_version":3}`,
			0.2+rng.Float64()*0.3, sentiment, score)
	}
	in := intents[pickIntent(rng)]
	if wantsAgent {
		in = intents[8]
	} else if seq == 1 && rng.Float64() < 0.4 {
		in = intents[3] // many open with a greeting
	}
	text := in.phrases[rng.IntN(len(in.phrases))]
	return text, fmt.Sprintf(`{"language":"es","intent":%q,"confidence":%.2f,"sentiment":%q,"sentiment_score":%g,"bot_version":3}`,
		in.name, 0.6+rng.Float64()*0.39, sentiment, score)
}

// outboundStatus returns the delivery status of an outbound message: one
// in fifty fails with a code of its channel.
func outboundStatus(rng *rand.Rand, ch string) (status, code, msg string) {
	u := rng.Float64()
	switch {
	case u < 0.02:
		f := deliveryFailures[ch][rng.IntN(len(deliveryFailures[ch]))]
		return "failed", f[0], f[1]
	case u < 0.5:
		return "read", "", ""
	case u < 0.85:
		return "delivered", "", ""
	}
	return "sent", "", ""
}

func partsJSON(text string) string {
	b, _ := json.Marshal([]conversation.Part{conversation.TextPart(text)})
	return string(b)
}

// caseRows files a PQR from conversation cid: its status follows its age,
// most answered within their term, some late and some overdue now.
func caseRows(p *plan, rng *rand.Rand, cid, contactID int64, ch, text string, filed, end time.Time, c *chunk) {
	ct := caseTypes[pickCaseType(rng)]
	due := filed.Add(time.Duration(ct.term) * 24 * time.Hour * 7 / 5)
	resolved := filed.Add(time.Duration((0.2 + 1.0*rng.Float64()) * float64(due.Sub(filed))))
	status := "radicado"
	events := [][]any{{p.ID, cid, "filed", "bot", "", "radicado", filed}}
	last := filed
	step := func(from, to string, at time.Time) {
		events = append(events, []any{p.ID, cid, "status", "agent", from, to, at})
		status, last = to, at
	}
	if worked := filed.Add(expDuration(rng, 12*time.Hour, time.Hour)); worked.Before(end) {
		step("radicado", "en_tramite", worked)
		if resolved.Before(end) && resolved.After(worked) {
			step("en_tramite", "resuelto", resolved)
			if closedAt := resolved.Add(48 * time.Hour); closedAt.Before(end) && rng.Float64() < 0.8 {
				step("resuelto", "cerrado", closedAt)
			}
		}
	}
	agent := p.agents[rng.IntN(len(p.agents))]
	c.cases = append(c.cases, []any{cid, p.ID, fmt.Sprintf("TMP-%d", cid), ct.name, status, contactID, cid, ch, "Caso de " + ct.name, text,
		ct.term, due, filed, last, int64(len(events)), agent.ID, agent.Teams[0]})
	c.caseEvents = append(c.caseEvents, events...)
}

// surveyRow asks a CSAT or NPS survey after a conversation closed; under
// half are answered.
func surveyRow(p *plan, rng *rand.Rand, cid, contactID int64, ch, kind string, closed, end time.Time, c *chunk) {
	sent := closed.Add(5 * time.Minute)
	ttl := 24 * time.Hour
	expires := sent.Add(ttl)
	status, score := "sent", 0
	var answered any
	if at := sent.Add(expDuration(rng, 30*time.Minute, 20*time.Second)); rng.Float64() < 0.45 && at.Before(end) {
		status, answered = "answered", at
		u := rng.Float64()
		if kind == "csat" {
			score = 5
			for _, cut := range []struct {
				p float64
				s int
			}{{0.10, 1}, {0.18, 2}, {0.30, 3}, {0.55, 4}} {
				if u < cut.p {
					score = cut.s
					break
				}
			}
		} else {
			score = min(10, int(u*13))
		}
	} else if expires.Before(end) {
		status = "expired"
	}
	note := cid * 2
	if kind == "nps" {
		note++
	}
	answerChannel := ""
	if answered != nil {
		answerChannel = ch
	}
	c.surveys = append(c.surveys, []any{p.ID, contactID, kind, kind + "_survey", note, status, int64(ttl / time.Second), ch, cid,
		sent, expires, score, answered, answerChannel, sent})
}

// write copies the chunk's rows in one transaction.
func (c *chunk) write(ctx context.Context, pool *pgxpool.Pool) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, t := range []struct {
			table string
			cols  []string
			rows  [][]any
		}{
			{"contacts", contactCols, c.contacts}, {"identities", identityCols, c.identities}, {"conversations", convCols, c.convs},
			{"messages", msgCols, c.msgs}, {"routing_history", historyCols, c.history}, {"routing_entries", entryCols, c.entries},
			{"cases", caseCols, c.cases}, {"case_events", caseEventCols, c.caseEvents}, {"surveys", surveyCols, c.surveys},
		} {
			if len(t.rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.table}, t.cols, pgx.CopyFromRows(t.rows)); err != nil {
				return fmt.Errorf("copy %s: %w", t.table, err)
			}
		}
		return nil
	})
}

// bulkTables are the tables whose secondary indexes are dropped while they
// are loaded and built again after: much faster than keeping them up to
// date row by row, and the same indexes in the end.
var bulkTables = []string{"contacts", "identities", "conversations", "messages", "routing_history", "routing_entries", "cases", "case_events", "surveys"}

// dropIndexes drops the bulk tables' indexes that back no constraint and
// returns their definitions.
func dropIndexes(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
		JOIN pg_class t ON t.oid = i.indrelid
		WHERE t.relname = ANY($1) AND t.relnamespace = 'public'::regnamespace
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`, bulkTables)
	if err != nil {
		return nil, err
	}
	type index struct{ name, def string }
	idx, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var x index
		return x, r.Scan(&x.name, &x.def)
	})
	if err != nil {
		return nil, err
	}
	var defs []string
	for _, x := range idx {
		if _, err := pool.Exec(ctx, "DROP INDEX "+x.name); err != nil {
			return nil, err
		}
		defs = append(defs, x.def)
	}
	return defs, nil
}

// finish builds the dropped indexes, moves the sequences past the
// explicit ids, numbers the cases by filing time as the store does, and
// vacuums and analyzes what was loaded.
func finish(ctx context.Context, pool *pgxpool.Pool, indexes []string) error {
	for _, def := range indexes {
		t := time.Now()
		if _, err := pool.Exec(ctx, def); err != nil {
			return fmt.Errorf("%s: %w", def, err)
		}
		fmt.Printf("  %s (%s)\n", def[strings.Index(def, "INDEX ")+6:strings.Index(def, " ON ")], time.Since(t).Round(time.Millisecond))
	}
	stmts := []string{
		`SELECT setval(pg_get_serial_sequence('contacts', 'id'), (SELECT max(id) FROM contacts))`,
		`SELECT setval(pg_get_serial_sequence('conversations', 'id'), (SELECT max(id) FROM conversations))`,
		`SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT coalesce(max(id), 1) FROM cases))`,
		// Filing numbers PQR-<year>-<n>, in filing order per tenant and year.
		`UPDATE cases c SET radicado = handoff_number FROM (
			SELECT id, 'PQR-' || extract(year FROM filed_at AT TIME ZONE 'UTC')::int || '-' ||
				lpad((row_number() OVER (PARTITION BY tenant_id, extract(year FROM filed_at AT TIME ZONE 'UTC') ORDER BY filed_at, id))::text, 6, '0') AS handoff_number
			FROM cases) n WHERE n.id = c.id`,
		`INSERT INTO case_sequences (tenant_id, year, last)
			SELECT tenant_id, extract(year FROM filed_at AT TIME ZONE 'UTC')::int, count(*) FROM cases GROUP BY 1, 2`,
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	t := time.Now()
	for _, table := range bulkTables {
		if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+table); err != nil {
			return err
		}
	}
	fmt.Printf("  VACUUM (ANALYZE) (%s)\n", time.Since(t).Round(time.Millisecond))
	return nil
}

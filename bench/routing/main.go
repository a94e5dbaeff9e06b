// Command routing measures how fast the handoff router assigns waiting
// conversations on PostgreSQL at the size of a large contact center: one
// tenant with 10,000 conversations waiting in 20 queues (each needing a
// topic, a language and a product skill; one in twenty a VIP) and 500
// agents of capacity 3 with a few skills each, away at the start.
//
// It times, through handoff.Router and storage/postgres themselves, what
// an agent's console waits for when the agent becomes available: from
// SetStatus(available) until the waiting conversations the agent may serve
// are offered to them, up to their capacity (the best first: priority,
// then time waited). The agent then goes away again, which puts the offers
// back, so the queues stay at 10,000. It runs the agents one at a time and
// then with several at once on the same pool, as many consoles do, and
// times a conversation that arrives while agents are free (the choice of
// the longest-idle agent with the queue's skills).
//
//	go run ./bench/routing [-postgres-url URL] [-conversations 10000] [-agents 500] [-queues 20] [-rounds 1000] [-concurrency 8]
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
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/bench"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/storage/memory"
	"conversa/storage/postgres"
)

type config struct {
	postgresURL   string
	conversations int
	agents        int
	queues        int
	rounds        int
	concurrency   int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.postgresURL, "postgres-url", os.Getenv("TEST_POSTGRES_URL"), "PostgreSQL server to make the benchmark database on (default $TEST_POSTGRES_URL)")
	flag.IntVar(&cfg.conversations, "conversations", 10_000, "waiting conversations")
	flag.IntVar(&cfg.agents, "agents", 500, "agents")
	flag.IntVar(&cfg.queues, "queues", 20, "queues")
	flag.IntVar(&cfg.rounds, "rounds", 1000, "timed agents becoming available, in each mode")
	flag.IntVar(&cfg.concurrency, "concurrency", 8, "agents becoming available at once, in the concurrent mode")
	flag.Parse()
	if cfg.postgresURL == "" {
		fmt.Fprintln(os.Stderr, "routing: set TEST_POSTGRES_URL or -postgres-url (scripts/services .test/env writes it)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "routing:", err)
		os.Exit(1)
	}
}

var (
	topics   = []string{"billing", "orders", "tech", "sales", "returns"}
	langs    = []string{"es", "en"}
	products = []string{"fiber", "mobile"}
)

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
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: shared})
	if err != nil {
		return err
	}
	router := handoff.NewRouter(store, svc, store, handoff.RouterConfig{})

	fmt.Println("== routing: assignment when an agent becomes available, on PostgreSQL")
	for _, line := range bench.Machine() {
		fmt.Println(line)
	}
	start := time.Now()
	tenant, agents, err := load(ctx, db.URL, store, router, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("loaded %d waiting conversations in %d queues and %d agents (capacity 3) in %s\n\n",
		cfg.conversations, cfg.queues, len(agents), time.Since(start).Round(time.Millisecond))

	// One cycle: available (timed), then away, which returns the offers.
	cycle := func(a int64) (time.Duration, int, error) {
		t0 := time.Now()
		got, err := router.SetStatus(ctx, tenant, a, handoff.StatusAvailable)
		d := time.Since(t0)
		if err != nil {
			return 0, 0, err
		}
		if _, err := router.SetStatus(ctx, tenant, a, handoff.StatusAway); err != nil {
			return 0, 0, err
		}
		return d, got.Load, nil
	}
	// Warm the pool and the caches of PostgreSQL.
	for i := range min(50, len(agents)) {
		if _, _, err := cycle(agents[i]); err != nil {
			return err
		}
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "agent becomes available\truns\theld after\tp50\tp90\tp99\tmax\t")
	r := rand.New(rand.NewPCG(3, 3))
	var lat []time.Duration
	offers := 0
	for range cfg.rounds {
		d, n, err := cycle(agents[r.IntN(len(agents))])
		if err != nil {
			return err
		}
		lat = append(lat, d)
		offers += n
	}
	row(tw, "one at a time", lat, offers)

	lat, offers = nil, 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, cfg.concurrency)
	per := cfg.rounds / cfg.concurrency
	for w := range cfg.concurrency {
		wg.Go(func() {
			// Each worker cycles its own agents: one console per agent.
			var mine []int64
			for i := w; i < len(agents); i += cfg.concurrency {
				mine = append(mine, agents[i])
			}
			for i := range per {
				a := mine[i%len(mine)]
				d, n, err := cycle(a)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				lat, offers = append(lat, d), offers+n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	row(tw, fmt.Sprintf("%d at once", cfg.concurrency), lat, offers)
	tw.Flush()

	// A conversation arrives while agents are free: choosing and locking
	// the longest-idle agent with the queue's skills, then the offer.
	fmt.Println()
	for i, a := range agents {
		if i%5 == 0 { // a fifth of the agents available
			if _, _, err := store.SetAgentStatus(ctx, tenant, a, handoff.StatusAvailable, time.Now()); err != nil {
				return err
			}
		}
	}
	queues, err := store.ListQueues(ctx, tenant)
	if err != nil {
		return err
	}
	lat = nil
	offered := 0
	next := int64(cfg.conversations)
	for range cfg.rounds {
		next++
		q := queues[r.IntN(len(queues))]
		e, _, err := store.Enqueue(ctx, handoff.Entry{TenantID: tenant, ConversationID: next, QueueID: q.ID, EnqueuedAt: time.Now()})
		if err != nil {
			return err
		}
		t0 := time.Now()
		e, err = store.OfferEntry(ctx, tenant, e.ConversationID, handoff.Eligibility{QueueID: q.ID, Strategy: q.Strategy, Skills: q.Skills, Timeout: q.AcceptTimeout}, time.Now())
		lat = append(lat, time.Since(t0))
		if err != nil {
			return err
		}
		if e.State == handoff.EntryOffered {
			offered++
			// Free the agent again, so that a fifth stay free.
			if _, err := store.Release(ctx, tenant, e.ConversationID, "bench", time.Now()); err != nil {
				return err
			}
		}
	}
	s := bench.Summarize(lat)
	fmt.Printf("a conversation arrives (%d agents free): offered at once in %d of %d; p50 %s, p90 %s, p99 %s, max %s\n",
		len(agents)/5, offered, len(lat), bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max))
	return nil
}

func row(tw *tabwriter.Writer, name string, lat []time.Duration, held int) {
	s := bench.Summarize(lat)
	fmt.Fprintf(tw, "%s\t%d\t%.2f\t%s\t%s\t%s\t%s\t\n", name, len(lat), float64(held)/float64(max(len(lat), 1)),
		bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max))
}

// load creates the tenant and its queues through the router, and COPYs
// the agents and the waiting conversations.
func load(ctx context.Context, url string, store *postgres.Store, router *handoff.Router, cfg config) (int64, []int64, error) {
	t := conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	if err := t.Validate(); err != nil {
		return 0, nil, err
	}
	t, err := store.CreateTenant(ctx, t)
	if err != nil {
		return 0, nil, err
	}
	var queues []int64
	for i := range cfg.queues {
		strategy := handoff.StrategyLongestIdle
		if i%4 == 3 {
			strategy = handoff.StrategyRoundRobin
		}
		q, err := router.CreateQueue(ctx, handoff.Queue{TenantID: t.ID, Name: fmt.Sprintf("queue %d", i+1), Strategy: strategy,
			Skills: []string{topics[i%len(topics)], langs[(i/len(topics))%len(langs)], products[(i/(len(topics)*len(langs)))%len(products)]}})
		if err != nil {
			return 0, nil, err
		}
		queues = append(queues, q.ID)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC()
	var rows [][]any
	for i := range cfg.agents {
		skills := []string{topics[r.IntN(len(topics))], topics[r.IntN(len(topics))], "es", products[r.IntN(len(products))]}
		if r.IntN(10) < 3 {
			skills = append(skills, "en")
		}
		if r.IntN(2) == 0 {
			skills = append(skills, products[r.IntN(len(products))])
		}
		skills, err := handoff.NormalizeSkills("skills", skills)
		if err != nil {
			return 0, nil, err
		}
		since := now.Add(-time.Duration(r.IntN(3600)) * time.Second)
		rows = append(rows, []any{t.ID, fmt.Sprintf("Agent %d", i+1), fmt.Sprintf("agent%d@acme.example", i+1), "agent",
			handoff.JoinList(skills), handoff.JoinList(nil), 3, "away", since, 0, since, now, now})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"agents"}, []string{"tenant_id", "name", "email", "role", "skills", "teams",
		"capacity", "status", "status_since", "load", "idle_since", "created_at", "updated_at"}, pgx.CopyFromRows(rows)); err != nil {
		return 0, nil, fmt.Errorf("copy agents: %w", err)
	}
	rows = rows[:0]
	for i := range cfg.conversations {
		priority := 0
		if r.IntN(20) == 0 {
			priority = 10 // a VIP
		}
		enqueued := now.Add(-time.Hour + time.Duration(i)*time.Hour/time.Duration(cfg.conversations))
		rows = append(rows, []any{int64(i + 1), t.ID, queues[r.IntN(len(queues))], priority, "waiting", int64(0), int64(1), enqueued, "bench"})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"routing_entries"}, []string{"conversation_id", "tenant_id", "queue_id", "priority",
		"state", "agent_id", "version", "enqueued_at", "reason"}, pgx.CopyFromRows(rows)); err != nil {
		return 0, nil, fmt.Errorf("copy waiting conversations: %w", err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE`); err != nil {
		return 0, nil, err
	}
	agents, err := store.ListAgents(ctx, t.ID)
	if err != nil {
		return 0, nil, err
	}
	ids := make([]int64, len(agents))
	for i, a := range agents {
		ids[i] = a.ID
	}
	return t.ID, ids, nil
}

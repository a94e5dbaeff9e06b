// Command contact360 measures the customer 360 view (handoff.Views) of a
// contact with a long history: 200 conversations and 10,000 messages (35
// from the customer and 15 answers in each), 20 cases and 100 notes,
// among 2,000 other contacts with 10 messages each, on PostgreSQL and on
// the embedded SQLite store.
//
// It times what the console waits for when an agent opens the contact:
// handoff.Views.ContactView with the latest 50 messages (the contact,
// every conversation with its counts, first and last message times and
// assignee, the messages, the cases and the notes), one request at a time
// and then several at once; and a page of 50 older messages after the
// view's cursor, as the console loads when the agent scrolls back.
//
//	go run ./bench/contact360 [-postgres-url URL] [-rounds 300] [-concurrency 4] [-sqlite=true]
//
// The data are written through the stores' own Ingest, Send and
// CreateCase, in a temporary PostgreSQL database dropped at the end (kept
// with -keep) and a temporary SQLite file. Nothing runs ANALYZE: the view
// is timed right after the load, before PostgreSQL's autovacuum has
// statistics of the new rows, the worst case for its plans.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"text/tabwriter"
	"time"

	"conversa/bench"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/storage/sqlite"
)

type config struct {
	postgresURL   string
	conversations int
	messages      int // per conversation
	others        int
	rounds        int
	concurrency   int
	sqlite        bool
	keep          bool
}

// store is what the benchmark writes and reads: both stores are one.
type store interface {
	conversation.Store
	handoff.RoutingStore
	handoff.ConsoleStore
	handoff.CaseStore
	handoff.ViewStore
}

func main() {
	var cfg config
	flag.StringVar(&cfg.postgresURL, "postgres-url", os.Getenv("TEST_POSTGRES_URL"), "PostgreSQL server to make the benchmark database on (default $TEST_POSTGRES_URL)")
	flag.IntVar(&cfg.conversations, "conversations", 200, "conversations of the contact")
	flag.IntVar(&cfg.messages, "messages", 50, "messages per conversation")
	flag.IntVar(&cfg.others, "others", 2000, "other contacts, with 10 messages each")
	flag.IntVar(&cfg.rounds, "rounds", 300, "timed views, in each mode")
	flag.IntVar(&cfg.concurrency, "concurrency", 4, "views at once, in the concurrent mode")
	flag.BoolVar(&cfg.sqlite, "sqlite", true, "also measure the embedded SQLite store")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the PostgreSQL database, for EXPLAIN, and print its URL")
	flag.Parse()
	if cfg.postgresURL == "" {
		fmt.Fprintln(os.Stderr, "contact360: set TEST_POSTGRES_URL or -postgres-url (scripts/services .test/env writes it)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "contact360:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	fmt.Println("== contact360: the customer 360 view of a contact with a long history")
	for _, line := range bench.Machine() {
		fmt.Println(line)
	}
	db, err := bench.CreateTempDB(ctx, cfg.postgresURL)
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Println("database kept:", db.URL)
	} else {
		defer db.Drop(ctx)
	}
	pg, err := db.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer pg.Close()
	if err := measure(ctx, "PostgreSQL", pg, cfg); err != nil {
		return err
	}
	if !cfg.sqlite {
		return nil
	}
	dir, err := os.MkdirTemp("", "contact360-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	lite, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "conversa.db")})
	if err != nil {
		return err
	}
	defer lite.Close()
	return measure(ctx, "SQLite", lite, cfg)
}

func measure(ctx context.Context, name string, s store, cfg config) error {
	fmt.Printf("\n-- %s\n", name)
	start := time.Now()
	tenant, contact, err := load(ctx, s, cfg)
	if err != nil {
		return err
	}
	fmt.Printf("loaded a contact with %d conversations and %d messages, %d other contacts, in %s\n",
		cfg.conversations, cfg.conversations*cfg.messages, cfg.others, time.Since(start).Round(time.Millisecond))
	views := handoff.NewViews(s)
	view := func() (time.Duration, handoff.ContactView, error) {
		t0 := time.Now()
		v, err := views.ContactView(ctx, tenant, contact, handoff.DefaultViewMessages)
		return time.Since(t0), v, err
	}
	_, v, err := view()
	if err != nil {
		return err
	}
	fmt.Printf("the view: %d conversations, %d messages, %d cases, %d notes\n\n", len(v.Conversations), len(v.Messages), len(v.Cases), len(v.Notes))
	if len(v.Conversations) != cfg.conversations || v.MessagesBefore == nil {
		return fmt.Errorf("%s: the view has %d conversations, cursor %v", name, len(v.Conversations), v.MessagesBefore)
	}
	for range 20 { // warm the caches
		if _, _, err := view(); err != nil {
			return err
		}
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\truns\tp50\tp90\tp99\tmax\t")
	var lat []time.Duration
	for range cfg.rounds {
		d, _, err := view()
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	row(tw, "view, one at a time", lat)

	lat = nil
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, cfg.concurrency)
	for range cfg.concurrency {
		wg.Go(func() {
			for range cfg.rounds / cfg.concurrency {
				d, _, err := view()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	row(tw, fmt.Sprintf("view, %d at once", cfg.concurrency), lat)

	lat = nil
	for range cfg.rounds {
		t0 := time.Now()
		ms, err := s.ListMessages(ctx, tenant, conversation.MessageFilter{ContactID: contact, Newest: true, Before: v.MessagesBefore, Limit: 50})
		lat = append(lat, time.Since(t0))
		if err != nil {
			return err
		}
		if len(ms) != 50 {
			return fmt.Errorf("%s: an older page has %d messages", name, len(ms))
		}
	}
	row(tw, "50 older messages", lat)
	return tw.Flush()
}

func row(tw *tabwriter.Writer, name string, lat []time.Duration) {
	s := bench.Summarize(lat)
	fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t\n", name, s.N, bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max))
}

// load writes the tenant, the other contacts, then the contact's history:
// each conversation's customer messages in one Ingest, its answers in one
// Send, then it is closed (the last one stays with an agent).
func load(ctx context.Context, s store, cfg config) (tenantID, contactID int64, err error) {
	t := conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	if err := t.Validate(); err != nil {
		return 0, 0, err
	}
	if t, err = s.CreateTenant(ctx, t); err != nil {
		return 0, 0, err
	}
	acct, err := s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: t.ID, Kind: conversation.ChannelWebchat, Key: "acme-web", Name: "Web"})
	if err != nil {
		return 0, 0, err
	}
	in := func(from, id, text string) conversation.IngestRequest {
		return conversation.IngestRequest{TenantID: t.ID, AccountID: acct.ID, Inbound: conversation.Inbound{Channel: acct.Kind, Account: acct.Key,
			From: from, ProviderID: id, Parts: []conversation.Part{conversation.TextPart(text)}}}
	}
	ingest := func(reqs []conversation.IngestRequest) (conversation.IngestResult, error) {
		res, err := s.Ingest(ctx, reqs)
		if err != nil {
			return conversation.IngestResult{}, err
		}
		for _, r := range res {
			if r.Err != nil {
				return conversation.IngestResult{}, r.Err
			}
		}
		return res[len(res)-1], nil
	}
	var batch []conversation.IngestRequest
	for c := range cfg.others {
		for m := range 10 {
			batch = append(batch, in(fmt.Sprintf("other-%d", c), fmt.Sprintf("o-%d-%d", c, m), "Hola, ¿cómo va mi pedido?"))
		}
		if len(batch) >= 500 || c == cfg.others-1 {
			if _, err := ingest(batch); err != nil {
				return 0, 0, fmt.Errorf("ingest others: %w", err)
			}
			batch = batch[:0]
		}
	}
	agent := handoff.Agent{TenantID: t.ID, Name: "Ana Gómez", Email: "ana@acme.example", Capacity: 3}
	if err := agent.Validate(); err != nil {
		return 0, 0, err
	}
	if agent, err = s.CreateAgent(ctx, agent); err != nil {
		return 0, 0, err
	}
	inbound := cfg.messages * 7 / 10
	var last conversation.IngestResult
	for c := range cfg.conversations {
		batch = batch[:0]
		for m := range inbound {
			batch = append(batch, in("carla", fmt.Sprintf("c-%d-%d", c, m), fmt.Sprintf("Mensaje %d sobre el pedido %d: no ha llegado y necesito saber cuándo llega.", m, 48000+c)))
		}
		if last, err = ingest(batch); err != nil {
			return 0, 0, fmt.Errorf("ingest the contact's messages: %w", err)
		}
		var outs []conversation.Outbound
		for m := range cfg.messages - inbound {
			outs = append(outs, conversation.Outbound{TenantID: t.ID, ConversationID: last.Conversation.ID, Author: conversation.Author{Kind: conversation.AuthorBot},
				Parts: []conversation.Part{conversation.TextPart(fmt.Sprintf("Respuesta %d: tu pedido está en camino.", m))}})
		}
		if _, err := s.Send(ctx, outs); err != nil {
			return 0, 0, fmt.Errorf("send answers: %w", err)
		}
		if c%10 == 0 {
			if _, err := s.CreateNote(ctx, handoff.Note{TenantID: t.ID, ConversationID: last.Conversation.ID, AgentID: agent.ID, Body: "Cliente frecuente; revisar envíos."}); err != nil {
				return 0, 0, err
			}
		}
		to := conversation.StateClosed
		if c == cfg.conversations-1 {
			to = conversation.StateAgent
		}
		if _, err := s.TransitionConversation(ctx, t.ID, last.Conversation.ID, conversation.Transition{From: last.Conversation.State, To: to, AssigneeID: agent.ID}); err != nil {
			return 0, 0, fmt.Errorf("close a conversation: %w", err)
		}
	}
	contact := last.Message.ContactID
	for i := range 20 {
		filed := time.Now().AddDate(0, 0, -i*10)
		c := handoff.Case{TenantID: t.ID, Type: handoff.Queja, Status: handoff.Radicado, ContactID: contact, Channel: string(acct.Kind),
			Description: "El pedido no llegó", TermDays: 15, Due: filed.AddDate(0, 0, 21), FiledAt: filed}
		if err := s.CreateCase(ctx, &c, "PQR", handoff.CaseEvent{Kind: "filed", Actor: "bot", To: handoff.Radicado}); err != nil {
			return 0, 0, fmt.Errorf("file a case: %w", err)
		}
	}
	for range 80 {
		if _, err := s.CreateNote(ctx, handoff.Note{TenantID: t.ID, ConversationID: last.Conversation.ID, AgentID: agent.ID, Body: "Seguimiento."}); err != nil {
			return 0, 0, err
		}
	}
	return t.ID, contact, nil
}

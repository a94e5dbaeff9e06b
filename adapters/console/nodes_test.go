package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"conversa/adapters/console"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/internal/testenv"
	"conversa/reports"
	"conversa/storage/postgres"
	"conversa/storage/valkey"
)

// TestConsoleAcrossNodes runs two nodes on one PostgreSQL database and one
// Valkey: an agent whose console is on node B gets, live, the offer of a
// conversation queued on node A and the customer's messages ingested on
// node A.
func TestConsoleAcrossNodes(t *testing.T) {
	ctx := t.Context()
	dbURL := testenv.PostgresURL(t)
	vkURL, prefix := testenv.ValkeyURL(t)
	type node struct {
		store  *postgres.Store
		svc    *conversation.Service
		router *handoff.Router
		srv    *httptest.Server
	}
	var nodes []node
	for i := range 2 {
		s, err := postgres.Open(ctx, postgres.Config{URL: dbURL})
		must(t, err)
		t.Cleanup(func() { s.Close() })
		if i == 0 {
			_, err := s.Migrate(ctx)
			must(t, err)
		}
		vk, err := valkey.Open(ctx, valkey.Config{URL: vkURL, Prefix: prefix})
		must(t, err)
		t.Cleanup(vk.Close)
		runCtx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go vk.Run(runCtx)
		svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: s, Bus: vk, Dedup: vk})
		must(t, err)
		router := handoff.NewRouter(s, svc, s, handoff.RouterConfig{Bus: vk})
		c, err := console.New(console.Config{}, console.Deps{Console: s, Service: svc, Store: s, Router: router, Routing: s, Bus: vk, Limiter: vk, Views: handoff.NewViews(s), Reports: reports.NewService(s)})
		must(t, err)
		go c.Run(runCtx)
		mux := http.NewServeMux()
		c.Routes(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		nodes = append(nodes, node{store: s, svc: svc, router: router, srv: srv})
	}
	a, b := nodes[0], nodes[1]
	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	must(t, tn.Validate())
	tn, err := a.store.CreateTenant(ctx, tn)
	must(t, err)
	_, err = a.store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelAPI, Key: "crm"})
	must(t, err)
	q, err := a.router.CreateQueue(ctx, handoff.Queue{TenantID: tn.ID, Name: "General"})
	must(t, err)
	ana, err := a.router.CreateAgent(ctx, handoff.Agent{TenantID: tn.ID, Name: "Ana", Email: "ana@example.com", Capacity: 2})
	must(t, err)

	// Ana's console is on node B.
	token, sess, err := handoff.NewSession(tn.ID, ana.ID, time.Now(), time.Hour)
	must(t, err)
	must(t, b.store.CreateAgentSession(ctx, sess))
	e := &env{srv: b.srv}
	br := e.browser(t)
	br.c.Jar.SetCookies(mustURL(t, b.srv.URL), []*http.Cookie{{Name: "conversa_session", Value: token, Path: "/"}})
	br.csrf = sess.CSRF
	ws, _, err := dial(t, br, b.srv.URL, sess.CSRF)
	must(t, err)
	defer ws.CloseNow()
	next(t, ws, "hello")
	_, err = b.router.SetStatus(ctx, tn.ID, ana.ID, handoff.StatusAvailable)
	must(t, err)

	// A customer writes on node A and is handed to agents there.
	res, err := a.svc.Ingest(ctx, conversation.Inbound{Channel: conversation.ChannelAPI, Account: "crm", From: "carla", ProviderID: "c1",
		Parts: []conversation.Part{conversation.TextPart("necesito ayuda")}})
	must(t, err)
	conv := res.Conversation
	_, err = a.router.Enqueue(ctx, tn.ID, conv.ID, handoff.QueueRequest{QueueID: q.ID})
	must(t, err)
	for {
		f := next(t, ws, "routing")
		if f.Routing.Entry != nil && f.Routing.Entry.ConversationID == conv.ID && f.Routing.Entry.State == handoff.EntryOffered {
			break
		}
	}
	send(t, ws, map[string]any{"type": "watch", "conversation_id": conv.ID})
	next(t, ws, "watching")
	_, err = a.svc.Ingest(ctx, conversation.Inbound{Channel: conversation.ChannelAPI, Account: "crm", From: "carla", ProviderID: "c2",
		Parts: []conversation.Part{conversation.TextPart("¿hay alguien?")}})
	must(t, err)
	if f := next(t, ws, "message"); f.Message == nil || f.Message.Text != "¿hay alguien?" {
		t.Fatalf("node B's console got %+v", f)
	}
}

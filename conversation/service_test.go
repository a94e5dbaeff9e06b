package conversation_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conversa/bot"
	"conversa/channels"
	"conversa/channels/apichannel"
	"conversa/channels/webchat"
	"conversa/conversation"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// receiver is the tenant's system behind an api channel: it records the
// webhooks it gets and answers with the status respond returns.
type receiver struct {
	srv     *httptest.Server
	mu      sync.Mutex
	got     []apichannel.Webhook
	respond func(n int) (status int, retryAfter string)
	calls   atomic.Int32
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{respond: func(int) (int, string) { return http.StatusOK, "" }}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(r.calls.Add(1))
		body, _ := io.ReadAll(req.Body)
		status, after := r.respond(n)
		if status < 300 {
			var wh apichannel.Webhook
			if err := json.Unmarshal(body, &wh); err != nil {
				t.Errorf("webhook body: %v", err)
			}
			r.mu.Lock()
			r.got = append(r.got, wh)
			r.mu.Unlock()
		}
		if after != "" {
			w.Header().Set("Retry-After", after)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() []apichannel.Webhook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]apichannel.Webhook(nil), r.got...)
}

// env is a service on a real store and shared state, with a tenant that has
// an api channel (to the receiver) and a web-chat channel.
type env struct {
	store   *sqlite.Store
	shared  *memory.Shared
	svc     *conversation.Service
	worker  *conversation.Worker
	tenant  conversation.Tenant
	api     conversation.ChannelAccount
	web     conversation.ChannelAccount
	hook    *receiver
	wakeups atomic.Int32
}

func newEnv(t *testing.T, b conversation.Bot) *env {
	t.Helper()
	return newEnvWith(t, func(*sqlite.Store) conversation.Bot { return b })
}

// newEngineEnv is newEnv with the dialogue engine on the same store: the
// built-in bot (small talk, handoff) answers.
func newEngineEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, func(s *sqlite.Store) conversation.Bot { return bot.NewEngine(s, s, s, bot.Config{}) })
}

func newEnvWith(t *testing.T, newBot func(*sqlite.Store) conversation.Bot) *env {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, shared: memory.New(), hook: newReceiver(t)}
	e.worker, err = conversation.NewWorker(store, conversation.WorkerConfig{
		Concurrency: 4, PollInterval: 20 * time.Millisecond, RetryBase: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var reg *channels.Registry
	e.svc, err = conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{
		Store: store, Bus: e.shared, Bot: newBot(store), Dedup: e.shared,
		Sender: senderFunc(func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
			return reg.Send(ctx, d)
		}),
		JobsAdded: func() {
			e.wakeups.Add(1)
			e.worker.Wake()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	wc, err := webchat.New(webchat.Config{Secret: make([]byte, 32)}, e.svc, store, e.shared, e.shared)
	if err != nil {
		t.Fatal(err)
	}
	if reg, err = channels.NewRegistry(wc, apichannel.New(apichannel.Config{AllowPrivate: true})); err != nil {
		t.Fatal(err)
	}
	e.worker.Handle(conversation.JobRoute, e.svc.RouteJob)
	e.worker.Handle(conversation.JobDeliver, e.svc.DeliverJob)

	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.tenant, err = store.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	e.api, err = store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelAPI, Key: "crm",
		Settings: map[string]string{apichannel.SettingWebhookURL: e.hook.srv.URL, apichannel.SettingWebhookSecret: "0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.web, err = store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelWebchat, Key: "acme-web"}); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs the worker until the test ends.
func (e *env) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.worker.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
}

func (e *env) inbound(from, id, text string) conversation.Inbound {
	return conversation.Inbound{Channel: conversation.ChannelAPI, Account: "crm", From: from, FromName: "Ana", ProviderID: id,
		Parts: []conversation.Part{conversation.TextPart(text)}}
}

type senderFunc func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error)

func (f senderFunc) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	return f(ctx, d)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func nextEvent(t *testing.T, sub *conversation.Subscription) conversation.Event {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		var e conversation.Event
		if err := json.Unmarshal(m.Payload, &e); err != nil {
			t.Fatal(err)
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	panic("unreachable")
}

func TestIngest(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	sub, err := e.shared.Subscribe(ctx, conversation.TenantTopic(e.tenant.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	res, err := e.svc.Ingest(ctx, e.inbound("user-1", "m1", "hola"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Duplicate || !res.NewConversation || res.Message.ID == 0 || res.Message.TenantID != e.tenant.ID {
		t.Fatalf("result = %+v", res)
	}
	if ev := nextEvent(t, sub); ev.Type != conversation.EventConversationUpdated || ev.Conversation.ID != res.Conversation.ID {
		t.Fatalf("first event = %+v, want the new conversation", ev)
	}
	if ev := nextEvent(t, sub); ev.Type != conversation.EventMessageCreated || ev.Message.ID != res.Message.ID || ev.ContactID != res.Message.ContactID {
		t.Fatalf("second event = %+v, want the message", ev)
	}
	if e.wakeups.Load() != 1 {
		t.Fatalf("the worker was woken %d times, want 1", e.wakeups.Load())
	}

	// A duplicate is reported, not stored, and wakes nobody.
	dup, err := e.svc.Ingest(ctx, e.inbound("user-1", "m1", "hola"))
	if err != nil || !dup.Duplicate {
		t.Fatalf("duplicate = %+v, %v", dup, err)
	}
	if e.wakeups.Load() != 1 {
		t.Fatal("a duplicate woke the worker")
	}

	for name, tc := range map[string]struct {
		in   conversation.Inbound
		code string
	}{
		"unknown account":  {conversation.Inbound{Channel: conversation.ChannelAPI, Account: "nope", From: "u", ProviderID: "1", Parts: []conversation.Part{conversation.TextPart("x")}}, conversation.ENOTFOUND},
		"wrong kind":       {conversation.Inbound{Channel: conversation.ChannelWebchat, Account: "crm", From: "u", ProviderID: "1", Parts: []conversation.Part{conversation.TextPart("x")}}, conversation.ENOTFOUND},
		"no provider id":   {conversation.Inbound{Channel: conversation.ChannelAPI, Account: "crm", From: "u", Parts: []conversation.Part{conversation.TextPart("x")}}, conversation.EINVALID},
		"empty text":       {conversation.Inbound{Channel: conversation.ChannelAPI, Account: "crm", From: "u", ProviderID: "1", Parts: []conversation.Part{conversation.TextPart("  ")}}, conversation.EINVALID},
		"invalid UTF-8":    {conversation.Inbound{Channel: conversation.ChannelAPI, Account: "crm", From: "u", ProviderID: "1", Parts: []conversation.Part{conversation.TextPart("\xff\xfe")}}, conversation.EINVALID},
		"text over limit":  {conversation.Inbound{Channel: conversation.ChannelAPI, Account: "crm", From: "u", ProviderID: "1", Parts: []conversation.Part{conversation.TextPart(string(make([]byte, 1<<20)))}}, conversation.ETOOLARGE},
		"bad phone number": {conversation.Inbound{Channel: conversation.ChannelSMS, Account: "crm", From: "300 123", ProviderID: "1", Parts: []conversation.Part{conversation.TextPart("x")}}, conversation.EINVALID},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.Ingest(ctx, tc.in)
			if conversation.ErrorCode(err) != tc.code {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
		})
	}

	acct := e.api
	acct.Disabled = true
	if _, err := e.store.UpdateChannelAccount(ctx, acct); err != nil {
		t.Fatal(err)
	}
	fresh, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: e.store, Bus: e.shared})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Ingest(ctx, e.inbound("user-1", "m9", "hola")); conversation.ErrorCode(err) != conversation.EFORBIDDEN {
		t.Fatalf("ingest at a disabled account: %v, want forbidden", err)
	}
}

func TestIngestConcurrentUsesFewTransactions(t *testing.T) {
	e := newEnv(t, nil)
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if _, err := e.svc.Ingest(context.Background(), e.inbound("user-"+strconv.Itoa(i%20), "m"+strconv.Itoa(i), "hola "+strconv.Itoa(i))); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var total int
	for c := int64(0); ; {
		cs, err := e.store.ListContacts(t.Context(), e.tenant.ID, conversation.ContactFilter{BeforeID: c, Limit: 200})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		for _, ct := range cs {
			ms, err := e.store.ListMessages(t.Context(), e.tenant.ID, conversation.MessageFilter{ContactID: ct.ID, Limit: 200})
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range ms {
				if m.Seq != int64(i+1) {
					t.Fatalf("contact %d: message %d has seq %d", ct.ID, i, m.Seq)
				}
			}
			total += len(ms)
		}
		c = cs[len(cs)-1].ID
	}
	if total != n {
		t.Fatalf("stored %d messages, want %d", total, n)
	}
}

func TestBotAnswersAndReplyIsDelivered(t *testing.T) {
	e := newEngineEnv(t)
	e.run(t)
	ctx := t.Context()
	res, err := e.svc.Ingest(ctx, e.inbound("user-1", "m1", "hola, ¿cuál es el horario?"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reply at the webhook", func() bool { return len(e.hook.received()) == 1 })
	wh := e.hook.received()[0]
	if wh.To != "user-1" || wh.Message.Author.Kind != conversation.AuthorBot || wh.Message.ConversationID != res.Conversation.ID {
		t.Fatalf("webhook = %+v", wh)
	}
	eventually(t, "the reply marked delivered", func() bool {
		m, err := e.store.Message(ctx, e.tenant.ID, wh.Message.ID)
		return err == nil && m.Status == conversation.StatusDelivered
	})
	eventually(t, "no jobs left", func() bool {
		counts, err := e.store.JobCounts(ctx)
		return err == nil && len(counts) == 0
	})
}

func TestHandoffAction(t *testing.T) {
	e := newEngineEnv(t)
	e.run(t)
	res, err := e.svc.Ingest(t.Context(), e.inbound("user-1", "m1", "quiero hablar con un agente"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the conversation queued", func() bool {
		c, err := e.store.Conversation(t.Context(), e.tenant.ID, res.Conversation.ID)
		return err == nil && c.State == conversation.StateQueued
	})
	eventually(t, "the handoff reply", func() bool { return len(e.hook.received()) == 1 })

	// The bot stays quiet while the conversation is not its own.
	if _, err := e.svc.Ingest(t.Context(), e.inbound("user-1", "m2", "hola?")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the route job done", func() bool {
		counts, _ := e.store.JobCounts(t.Context())
		return len(counts) == 0
	})
	if n := len(e.hook.received()); n != 1 {
		t.Fatalf("the bot answered in a queued conversation: %d webhooks", n)
	}
}

// failingBot always fails, to check that nobody is left unanswered.
type failingBot struct{ calls atomic.Int32 }

func (b *failingBot) Respond(context.Context, conversation.Turn) (conversation.Response, error) {
	b.calls.Add(1)
	return conversation.Response{}, errors.New("model unavailable")
}

func TestBotFailureHandsOff(t *testing.T) {
	fb := &failingBot{}
	e := newEnv(t, fb)
	e.run(t)
	res, err := e.svc.Ingest(t.Context(), e.inbound("user-1", "m1", "hola"))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the conversation handed to agents", func() bool {
		c, err := e.store.Conversation(t.Context(), e.tenant.ID, res.Conversation.ID)
		return err == nil && c.State == conversation.StateQueued
	})
	if got := fb.calls.Load(); got != conversation.RouteMaxAttempts {
		t.Fatalf("the bot was tried %d times, want %d", got, conversation.RouteMaxAttempts)
	}
}

func (e *env) conversationWithContact(t *testing.T) conversation.Conversation {
	t.Helper()
	res, err := e.svc.Ingest(t.Context(), e.inbound("user-1", "seed", "hola"))
	if err != nil {
		t.Fatal(err)
	}
	return res.Conversation
}

func (e *env) send(t *testing.T, conv conversation.Conversation, text string) conversation.Message {
	t.Helper()
	res, err := e.svc.Send(t.Context(), conversation.Outbound{TenantID: e.tenant.ID, ConversationID: conv.ID,
		Author: conversation.Author{Kind: conversation.AuthorAgent, Name: "Luis"}, Parts: []conversation.Part{conversation.TextPart(text)}})
	if err != nil {
		t.Fatal(err)
	}
	return res[0].Message
}

func (e *env) message(t *testing.T, id int64) conversation.Message {
	t.Helper()
	m, err := e.store.Message(t.Context(), e.tenant.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDeliveryRetriesAndFailures(t *testing.T) {
	t.Run("retry-after is honoured", func(t *testing.T) {
		e := newEnv(t, nil)
		var mu sync.Mutex
		var at []time.Time
		e.hook.respond = func(n int) (int, string) {
			mu.Lock()
			at = append(at, time.Now())
			mu.Unlock()
			if n == 1 {
				return http.StatusTooManyRequests, "2"
			}
			return http.StatusOK, ""
		}
		e.run(t)
		m := e.send(t, e.conversationWithContact(t), "hola")
		eventually(t, "the message delivered", func() bool { return e.message(t, m.ID).Status == conversation.StatusDelivered })
		mu.Lock()
		defer mu.Unlock()
		// The worker waited the provider's 2 seconds, not its own 10 ms backoff.
		if len(at) != 2 || at[1].Sub(at[0]) < 2*time.Second-50*time.Millisecond {
			t.Fatalf("calls at %v: want a second call 2s after the first", at)
		}
	})

	t.Run("permanent failure", func(t *testing.T) {
		e := newEnv(t, nil)
		e.hook.respond = func(int) (int, string) { return http.StatusNotFound, "" }
		e.run(t)
		m := e.send(t, e.conversationWithContact(t), "hola")
		eventually(t, "the message failed", func() bool { return e.message(t, m.ID).Status == conversation.StatusFailed })
		got := e.message(t, m.ID)
		if got.Failure == nil || got.Failure.Code != "404" {
			t.Fatalf("failure = %+v, want the provider's 404", got.Failure)
		}
		if n := e.hook.calls.Load(); n != 1 {
			t.Fatalf("a permanent failure was tried %d times", n)
		}
		// The job is marked failed right after the message.
		eventually(t, "one failed delivery job", func() bool {
			counts, err := e.store.JobCounts(t.Context())
			return err == nil && len(counts) == 1 && counts[0].State == conversation.JobFailed && counts[0].Kind == conversation.JobDeliver
		})
	})

	t.Run("temporary failures until the last attempt", func(t *testing.T) {
		e := newEnv(t, nil)
		e.hook.respond = func(int) (int, string) { return http.StatusBadGateway, "" }
		e.run(t)
		m := e.send(t, e.conversationWithContact(t), "hola")
		eventually(t, "the message failed", func() bool { return e.message(t, m.ID).Status == conversation.StatusFailed })
		if n := e.hook.calls.Load(); n != conversation.DeliverMaxAttempts {
			t.Fatalf("tried %d times, want %d", n, conversation.DeliverMaxAttempts)
		}
		if f := e.message(t, m.ID).Failure; f == nil || f.Code != "502" {
			t.Fatalf("failure = %+v, want the last 502", f)
		}
	})

	t.Run("recovers after temporary failures", func(t *testing.T) {
		e := newEnv(t, nil)
		e.hook.respond = func(n int) (int, string) {
			if n < 3 {
				return http.StatusInternalServerError, ""
			}
			return http.StatusOK, ""
		}
		e.run(t)
		m := e.send(t, e.conversationWithContact(t), "hola")
		eventually(t, "the message delivered", func() bool { return e.message(t, m.ID).Status == conversation.StatusDelivered })
		if got := e.message(t, m.ID); got.Failure != nil {
			t.Fatalf("a delivered message keeps the failure %+v", got.Failure)
		}
	})
}

func TestTransitions(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	conv := e.conversationWithContact(t)
	sub, err := e.shared.Subscribe(ctx, conversation.ContactTopic(e.tenant.ID, conv.ContactID))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	steps := []struct {
		name  string
		do    func() (conversation.Conversation, error)
		state conversation.State
		code  string
	}{
		{"assign", func() (conversation.Conversation, error) { return e.svc.Assign(ctx, e.tenant.ID, conv.ID, 7) }, conversation.StateAgent, ""},
		{"assign without agent", func() (conversation.Conversation, error) { return e.svc.Assign(ctx, e.tenant.ID, conv.ID, 0) }, "", conversation.EINVALID},
		{"reassign", func() (conversation.Conversation, error) { return e.svc.Assign(ctx, e.tenant.ID, conv.ID, 8) }, conversation.StateAgent, ""},
		{"reopen an open conversation", func() (conversation.Conversation, error) { return e.svc.Reopen(ctx, e.tenant.ID, conv.ID) }, "", conversation.ECONFLICT},
		{"queue", func() (conversation.Conversation, error) { return e.svc.Queue(ctx, e.tenant.ID, conv.ID) }, conversation.StateQueued, ""},
		{"back to the bot", func() (conversation.Conversation, error) { return e.svc.ReturnToBot(ctx, e.tenant.ID, conv.ID) }, conversation.StateBot, ""},
		{"close", func() (conversation.Conversation, error) { return e.svc.Close(ctx, e.tenant.ID, conv.ID) }, conversation.StateClosed, ""},
		{"queue a closed conversation", func() (conversation.Conversation, error) { return e.svc.Queue(ctx, e.tenant.ID, conv.ID) }, "", conversation.ECONFLICT},
		{"bot for a closed conversation", func() (conversation.Conversation, error) { return e.svc.ReturnToBot(ctx, e.tenant.ID, conv.ID) }, "", conversation.ECONFLICT},
		{"reopen", func() (conversation.Conversation, error) { return e.svc.Reopen(ctx, e.tenant.ID, conv.ID) }, conversation.StateBot, ""},
		{"another tenant's id", func() (conversation.Conversation, error) { return e.svc.Close(ctx, e.tenant.ID+1, conv.ID) }, "", conversation.ENOTFOUND},
	}
	for _, s := range steps {
		c, err := s.do()
		if s.code != "" {
			if conversation.ErrorCode(err) != s.code {
				t.Fatalf("%s: err %v, want %s", s.name, err, s.code)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if c.State != s.state {
			t.Fatalf("%s: state %s, want %s", s.name, c.State, s.state)
		}
		if ev := nextEvent(t, sub); ev.Type != conversation.EventConversationUpdated || ev.Conversation.State != s.state {
			t.Fatalf("%s: event %+v", s.name, ev)
		}
	}
	if err := e.svc.Typing(ctx, e.tenant.ID, conv.ID, conversation.Author{Kind: conversation.AuthorAgent, Name: "Luis"}, true); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, sub); ev.Type != conversation.EventTyping || !ev.Typing.On || ev.Typing.Author.Name != "Luis" {
		t.Fatalf("typing event = %+v", ev)
	}
}

func TestSendValidates(t *testing.T) {
	e := newEnv(t, nil)
	conv := e.conversationWithContact(t)
	for name, out := range map[string]conversation.Outbound{
		"no parts":       {TenantID: e.tenant.ID, ConversationID: conv.ID, Author: conversation.Author{Kind: conversation.AuthorBot}},
		"contact author": {TenantID: e.tenant.ID, ConversationID: conv.ID, Author: conversation.Author{Kind: conversation.AuthorContact}, Parts: []conversation.Part{conversation.TextPart("x")}},
		"bad button":     {TenantID: e.tenant.ID, ConversationID: conv.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{{Type: conversation.PartButtons, Buttons: []conversation.Button{{ID: "a"}}}}},
		"media no url":   {TenantID: e.tenant.ID, ConversationID: conv.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{{Type: conversation.PartMedia, Media: &conversation.Media{ContentType: "image/png"}}}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := e.svc.Send(t.Context(), out); conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("err = %v, want invalid", err)
			}
		})
	}
}

func TestUpdateStatusPublishesChanges(t *testing.T) {
	e := newEnv(t, nil)
	conv := e.conversationWithContact(t)
	m := e.send(t, conv, "hola")
	sub, err := e.shared.Subscribe(t.Context(), conversation.TenantTopic(e.tenant.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := e.svc.UpdateStatus(t.Context(), conversation.StatusUpdate{TenantID: e.tenant.ID, MessageID: m.ID, Status: conversation.StatusRead}); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, sub); ev.Type != conversation.EventMessageUpdated || ev.Message.Status != conversation.StatusRead {
		t.Fatalf("event = %+v", ev)
	}
	// A late status changes nothing and says nothing.
	if _, err := e.svc.UpdateStatus(t.Context(), conversation.StatusUpdate{TenantID: e.tenant.ID, MessageID: m.ID, Status: conversation.StatusSent}); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-sub.C():
		t.Fatalf("a late status published %s", msg.Payload)
	default:
	}
	if _, err := e.svc.UpdateStatus(t.Context(), conversation.StatusUpdate{TenantID: e.tenant.ID, MessageID: m.ID, Status: conversation.StatusQueued}); conversation.ErrorCode(err) != conversation.EINVALID {
		t.Fatalf("moving back to queued: %v, want invalid", err)
	}
}

func TestIngestClampsFutureTimes(t *testing.T) {
	e := newEnv(t, nil)
	in := e.inbound("user-1", "m1", "hola")
	in.ReceivedAt = time.Now().Add(240 * time.Hour)
	res, err := e.svc.Ingest(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Message.CreatedAt.After(time.Now()) || res.Conversation.LastMessageAt.After(time.Now()) {
		t.Fatalf("a message from the future is dated %v", res.Message.CreatedAt)
	}
}

package apichannel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/channels"
	"conversa/channels/apichannel"
	"conversa/channels/channeltest"
	"conversa/conversation"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

const secret = "s3cret-of-the-tenant"

// post is one request a webhook received.
type post struct {
	header http.Header
	body   []byte
	at     time.Time
}

// hook is a tenant's webhook endpoint: it records every post and answers
// with what answer says (200 when nil).
type hook struct {
	srv    *httptest.Server
	posts  chan post
	mu     sync.Mutex
	answer http.HandlerFunc
}

func newHook(t *testing.T) *hook {
	h := &hook{posts: make(chan post, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.posts <- post{header: r.Header.Clone(), body: body, at: time.Now()}
		h.mu.Lock()
		answer := h.answer
		h.mu.Unlock()
		if answer != nil {
			answer(w, r)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) answerWith(f http.HandlerFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.answer = f
}

func (h *hook) next(ctx context.Context) (post, error) {
	select {
	case p := <-h.posts:
		return p, nil
	case <-ctx.Done():
		return post{}, fmt.Errorf("no webhook post: %w", ctx.Err())
	}
}

// env is one node serving an api channel: an SQLite store, in-process
// shared state, the conversation service with its worker and the channels
// registry as its sender.
type env struct {
	t      *testing.T
	store  *sqlite.Store
	svc    *conversation.Service
	ch     *apichannel.Channel
	hook   *hook
	tenant conversation.Tenant
	acct   conversation.ChannelAccount
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatal(err)
	}
	shared := memory.New()
	ch := apichannel.New(apichannel.Config{Timeout: 5 * time.Second, AllowPrivate: true})
	registry, err := channels.NewRegistry(ch)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := conversation.NewWorker(store, conversation.WorkerConfig{
		PollInterval: 20 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, DrainTimeout: 2 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{
		Store: store, Bus: shared, Dedup: shared, Sender: registry, JobsAdded: worker.Wake,
	})
	if err != nil {
		t.Fatal(err)
	}
	worker.Handle(conversation.JobRoute, svc.RouteJob)
	worker.Handle(conversation.JobDeliver, svc.DeliverJob)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
		store.Close()
	})

	e := &env{t: t, store: store, svc: svc, ch: ch, hook: newHook(t)}
	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.tenant, err = store.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	a := conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelAPI, Key: "acme-crm", Name: "CRM", Settings: map[string]string{
		apichannel.SettingWebhookURL: e.hook.srv.URL + "/conversa", apichannel.SettingWebhookSecret: secret,
	}}
	if err := registry.ValidateAccount(&a); err != nil {
		t.Fatal(err)
	}
	if e.acct, err = store.CreateChannelAccount(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	return e
}

// ingest hands the service a message from user, as the REST API does with
// what a tenant's system posts to POST /api/v1/inbound.
func (e *env) ingest(ctx context.Context, user, providerID, text string) (conversation.IngestResult, error) {
	return e.svc.Ingest(ctx, conversation.Inbound{
		Channel: conversation.ChannelAPI, Account: e.acct.Key, From: user, ProviderID: providerID,
		Parts: []conversation.Part{conversation.TextPart(text)},
	})
}

// webhook checks a post's signature and decodes it.
func webhook(p post, now time.Time) (apichannel.Webhook, error) {
	if err := apichannel.Verify([]byte(secret), p.header.Get(apichannel.SignatureHeader), p.body, now, 5*time.Minute); err != nil {
		return apichannel.Webhook{}, fmt.Errorf("signature: %w", err)
	}
	var w apichannel.Webhook
	if err := json.Unmarshal(p.body, &w); err != nil {
		return apichannel.Webhook{}, err
	}
	return w, nil
}

func TestChannel(t *testing.T) {
	channeltest.TestChannel(t, func(t *testing.T) channeltest.Harness {
		e := newEnv(t)
		first, err := e.ingest(t.Context(), "user-42", "setup-1", "hola")
		if err != nil {
			t.Fatal(err)
		}
		contact, err := e.store.Contact(t.Context(), e.tenant.ID, first.Message.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		to := conversation.Identity{Channel: conversation.ChannelAPI, Address: "user-42"}
		last := conversation.MessagePos{ConversationID: first.Message.ConversationID, Seq: first.Message.Seq}
		return channeltest.Harness{
			Channel: e.ch,
			Account: e.acct,
			Contact: contact,
			To:      to,
			Receive: func(ctx context.Context) ([]conversation.Part, error) {
				p, err := e.hook.next(ctx)
				if err != nil {
					return nil, err
				}
				w, err := webhook(p, time.Now())
				if err != nil {
					return nil, err
				}
				if w.Event != "message" || w.To != to.Address {
					return nil, fmt.Errorf("webhook %+v, want a message to %s", w, to.Address)
				}
				return w.Message.Parts, nil
			},
			// The tenant's system posts what its users write to the REST
			// API (POST /api/v1/inbound), which hands it to Ingest: that is
			// the channel's entry point.
			Inject: func(ctx context.Context, providerID, text string) error {
				_, err := e.ingest(ctx, to.Address, providerID, text)
				return err
			},
			Ingested: func(ctx context.Context) (conversation.Message, error) {
				for {
					ms, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{ContactID: contact.ID, After: &last, Limit: 1})
					if err != nil {
						return conversation.Message{}, err
					}
					if len(ms) > 0 {
						last = conversation.MessagePos{ConversationID: ms[0].ConversationID, Seq: ms[0].Seq}
						if ms[0].Direction == conversation.DirectionIn {
							return ms[0], nil
						}
						continue
					}
					select {
					case <-ctx.Done():
						return conversation.Message{}, ctx.Err()
					case <-time.After(5 * time.Millisecond):
					}
				}
			},
			InvalidSettings: []map[string]string{
				{apichannel.SettingWebhookURL: "https://hooks.example.com/x", apichannel.SettingWebhookSecret: secret, "timeout": "5s"},
				{apichannel.SettingWebhookURL: "https://hooks.example.com/x", apichannel.SettingWebhookSecret: "short"},
				{apichannel.SettingWebhookURL: "ftp://hooks.example.com/x", apichannel.SettingWebhookSecret: secret},
				{apichannel.SettingWebhookSecret: secret},
			},
		}
	})
}

func TestSignature(t *testing.T) {
	t.Parallel()
	key := []byte(secret)
	body := []byte(`{"event":"message","to":"user-42"}`)
	now := time.Unix(1_780_000_000, 0)
	good := apichannel.Sign(key, now, body)
	ts, sig, _ := strings.Cut(good, ",")

	tests := []struct {
		name   string
		key    []byte
		header string
		body   []byte
		at     time.Time
		ok     bool
	}{
		{name: "round trip", key: key, header: good, body: body, at: now, ok: true},
		{name: "received later, within tolerance", key: key, header: good, body: body, at: now.Add(5 * time.Minute), ok: true},
		{name: "clock behind, within tolerance", key: key, header: good, body: body, at: now.Add(-5 * time.Minute), ok: true},
		{name: "fields in another order", key: key, header: sig + "," + ts, body: body, at: now, ok: true},
		{name: "tampered body", key: key, header: good, body: []byte(`{"event":"message","to":"user-43"}`), at: now},
		{name: "truncated body", key: key, header: good, body: body[:len(body)-1], at: now},
		{name: "wrong secret", key: []byte("another-secret-entirely"), header: good, body: body, at: now},
		{name: "too old", key: key, header: good, body: body, at: now.Add(5*time.Minute + time.Second)},
		{name: "from the future", key: key, header: good, body: body, at: now.Add(-5*time.Minute - time.Second)},
		{name: "replayed with a new time", key: key, header: "t=" + strconv.FormatInt(now.Unix()+60, 10) + "," + sig, body: body, at: now},
		{name: "empty header", key: key, header: "", body: body, at: now},
		{name: "no signature", key: key, header: ts, body: body, at: now},
		{name: "no time", key: key, header: sig, body: body, at: now},
		{name: "time not a number", key: key, header: "t=yesterday," + sig, body: body, at: now},
		{name: "signature not hex", key: key, header: ts + ",v1=zz", body: body, at: now},
		{name: "empty signature", key: key, header: ts + ",v1=", body: body, at: now},
		{name: "signature of another scheme", key: key, header: ts + ",v0=" + strings.TrimPrefix(sig, "v1="), body: body, at: now},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := apichannel.Verify(tt.key, tt.header, tt.body, tt.at, 5*time.Minute)
			if (err == nil) != tt.ok {
				t.Fatalf("verify %q: %v, want ok=%v", tt.header, err, tt.ok)
			}
		})
	}
}

// delivery is a message to user-42 through an api account whose webhook is
// url.
func delivery(url string) conversation.Delivery {
	acct := conversation.ChannelAccount{ID: 3, TenantID: 1, Kind: conversation.ChannelAPI, Key: "acme-crm", Settings: map[string]string{
		apichannel.SettingWebhookURL: url, apichannel.SettingWebhookSecret: secret,
	}}
	return conversation.Delivery{
		Message: conversation.Message{
			ID: 77, TenantID: 1, ConversationID: 5, ContactID: 9, Seq: 2, Direction: conversation.DirectionOut,
			Author: conversation.Author{Kind: conversation.AuthorAgent, ID: 4, Name: "Ana"}, Channel: conversation.ChannelAPI,
			ChannelAccountID: 3, Parts: []conversation.Part{conversation.TextPart("Su pedido sale hoy")}, Status: conversation.StatusQueued,
		},
		Account: acct,
		To:      conversation.Identity{Channel: conversation.ChannelAPI, Address: "user-42"},
	}
}

func TestSendStatus(t *testing.T) {
	t.Parallel()
	ch := apichannel.New(apichannel.Config{AllowPrivate: true, Timeout: 500 * time.Millisecond})
	inHalfAMinute := time.Now().Add(30 * time.Second)
	// elsewhere is where redirects point; it must never be posted to.
	elsewhere := newHook(t)

	type want struct {
		status    conversation.Status // of the receipt, on success
		code      string              // of the DeliveryError
		permanent bool
		// retryAfter is the least and most RetryAfter.
		retryAfter [2]time.Duration
	}
	answer := func(status int, header ...string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				w.Header().Set(header[i], header[i+1])
			}
			w.WriteHeader(status)
			io.WriteString(w, `{"ok":false}`)
		}
	}
	tests := []struct {
		name   string
		answer http.HandlerFunc
		want   want
	}{
		{name: "200", answer: answer(200), want: want{status: conversation.StatusDelivered}},
		{name: "204", answer: answer(204), want: want{status: conversation.StatusDelivered}},
		{name: "202", answer: answer(202), want: want{status: conversation.StatusDelivered}},
		{name: "429 in 7 seconds", answer: answer(429, "Retry-After", "7"), want: want{code: "429", retryAfter: [2]time.Duration{7 * time.Second, 7 * time.Second}}},
		{name: "429 without Retry-After", answer: answer(429), want: want{code: "429"}},
		{name: "429 in a century", answer: answer(429, "Retry-After", "3153600000000"), want: want{code: "429", retryAfter: [2]time.Duration{time.Hour, time.Hour}}},
		{name: "503 at a date", answer: answer(503, "Retry-After", inHalfAMinute.UTC().Format(http.TimeFormat)), want: want{code: "503", retryAfter: [2]time.Duration{20 * time.Second, 30 * time.Second}}},
		{name: "503 at a past date", answer: answer(503, "Retry-After", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)), want: want{code: "503"}},
		{name: "503 with a garbled Retry-After", answer: answer(503, "Retry-After", "soon"), want: want{code: "503"}},
		{name: "400", answer: answer(400), want: want{code: "400", permanent: true}},
		{name: "401", answer: answer(401), want: want{code: "401", permanent: true}},
		{name: "404", answer: answer(404), want: want{code: "404", permanent: true}},
		{name: "410", answer: answer(410), want: want{code: "410", permanent: true}},
		{name: "500", answer: answer(500), want: want{code: "500"}},
		{name: "502", answer: answer(502), want: want{code: "502"}},
		{name: "302", answer: answer(302, "Location", elsewhere.srv.URL+"/moved"), want: want{code: "302", permanent: true}},
		{name: "307", answer: answer(307, "Location", elsewhere.srv.URL+"/moved"), want: want{code: "307", permanent: true}},
		{name: "308", answer: answer(308, "Location", elsewhere.srv.URL+"/moved"), want: want{code: "308", permanent: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHook(t)
			h.answerWith(tt.answer)
			d := delivery(h.srv.URL + "/conversa")
			r, err := ch.Send(t.Context(), d)
			if tt.want.status != "" {
				if err != nil || r.Status != tt.want.status {
					t.Fatalf("send: %+v, %v; want a receipt %s", r, err, tt.want.status)
				}
			} else {
				de, ok := errors.AsType[*conversation.DeliveryError](err)
				if !ok {
					t.Fatalf("send: %+v, %v; want a *DeliveryError", r, err)
				}
				if de.Code != tt.want.code || de.Permanent != tt.want.permanent || de.RetryAfter < tt.want.retryAfter[0] || de.RetryAfter > tt.want.retryAfter[1] {
					t.Fatalf("error %+v, want code %s, permanent %v, retry after %v", de, tt.want.code, tt.want.permanent, tt.want.retryAfter)
				}
			}

			// What was posted: the message, signed, with its id.
			p, err := h.next(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			w, err := webhook(p, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if w.Event != "message" || w.To != "user-42" || w.Message.ID != d.Message.ID || w.Message.Text() != "Su pedido sale hoy" {
				t.Fatalf("webhook %+v, want message 77 to user-42", w)
			}
			if got := p.header.Get("X-Conversa-Delivery"); got != "77" {
				t.Fatalf("X-Conversa-Delivery %q, want 77", got)
			}
			if ct := p.header.Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
	// Redirects were not followed.
	select {
	case p := <-elsewhere.posts:
		t.Fatalf("a redirect was followed: %s", p.body)
	default:
	}
}

func TestSendFailures(t *testing.T) {
	t.Parallel()
	ch := apichannel.New(apichannel.Config{AllowPrivate: true, Timeout: 300 * time.Millisecond})
	temporary := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("send succeeded")
		}
		if de, ok := errors.AsType[*conversation.DeliveryError](err); ok && de.Permanent {
			t.Fatalf("error %v is permanent, want temporary", err)
		}
	}
	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = ch.Send(t.Context(), delivery("http://"+addr+"/conversa"))
		temporary(t, err)
	})
	t.Run("no answer in time", func(t *testing.T) {
		t.Parallel()
		h := newHook(t)
		h.answerWith(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		start := time.Now()
		_, err := ch.Send(t.Context(), delivery(h.srv.URL))
		temporary(t, err)
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("send took %v with a 300ms timeout", d)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		h := newHook(t)
		ctx, cancel := context.WithCancel(t.Context())
		h.answerWith(func(w http.ResponseWriter, r *http.Request) { cancel(); <-r.Context().Done() })
		_, err := ch.Send(ctx, delivery(h.srv.URL))
		temporary(t, err)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want one that says the context was cancelled", err)
		}
	})
	t.Run("bad URL", func(t *testing.T) {
		t.Parallel()
		_, err := ch.Send(t.Context(), delivery("http://[::1"))
		if de, ok := errors.AsType[*conversation.DeliveryError](err); !ok || !de.Permanent {
			t.Fatalf("error %v, want a permanent delivery error", err)
		}
	})
}

func TestPrivateAddresses(t *testing.T) {
	t.Parallel()
	ch := apichannel.New(apichannel.Config{})
	account := func(url string) *conversation.ChannelAccount {
		return &conversation.ChannelAccount{Kind: conversation.ChannelAPI, Key: "acme-crm", Settings: map[string]string{
			apichannel.SettingWebhookURL: url, apichannel.SettingWebhookSecret: secret,
		}}
	}
	refused := []string{
		"http://127.0.0.1/hook", "http://127.8.9.10:8080/hook", "http://localhost/hook", "http://LOCALHOST:8080/hook",
		"http://localhost./hook", "http://api.localhost/hook", "http://10.0.0.1/hook", "http://172.16.5.4/hook",
		"http://192.168.1.10/hook", "http://[::1]/hook", "http://[::ffff:127.0.0.1]/hook", "http://[fe80::1]/hook",
		"http://[fd00:ec2::254]/hook", "http://169.254.169.254/latest/meta-data", "http://100.100.100.200/latest/meta-data",
		"http://0.0.0.0/hook", "http://0.1.2.3/hook", "http://198.18.0.1/hook", "http://240.0.0.1/hook",
		"http://[64:ff9b::a00:1]/hook", "http://[2002:a00:1::1]/hook",
	}
	for _, u := range refused {
		t.Run("refuses "+u, func(t *testing.T) {
			t.Parallel()
			err := ch.ValidateAccount(account(u))
			if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "settings.webhook_url" {
				t.Fatalf("validate: %v, want settings.webhook_url invalid", err)
			}
		})
	}
	allowed := []string{
		"https://93.184.215.14/hook", "http://8.8.8.8:8080/hook", "https://[2606:4700::1111]/hook",
		"https://hooks.example.com/conversa", "https://[64:ff9b::808:808]/hook",
	}
	for _, u := range allowed {
		t.Run("allows "+u, func(t *testing.T) {
			t.Parallel()
			if err := ch.ValidateAccount(account(u)); err != nil {
				t.Fatalf("validate: %v", err)
			}
		})
	}

	// An account stored before, or a name that resolves to a private
	// address, is refused when dialling, before any connection is made.
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run("send to "+host, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			_, err = ch.Send(t.Context(), delivery("http://"+net.JoinHostPort(host, port)+"/hook"))
			if de, ok := errors.AsType[*conversation.DeliveryError](err); !ok || !de.Permanent {
				t.Fatalf("send: %v, want a permanent delivery error", err)
			}
			// A connection made would be waiting to be accepted.
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(200 * time.Millisecond))
			if c, err := ln.Accept(); err == nil {
				c.Close()
				t.Fatal("the channel connected to the private address")
			}
		})
	}
}

func TestValidateAccount(t *testing.T) {
	t.Parallel()
	ch := apichannel.New(apichannel.Config{})
	tests := []struct {
		name     string
		settings map[string]string
		field    string // "" when valid
	}{
		{name: "valid", settings: map[string]string{"webhook_url": "https://hooks.example.com/conversa", "webhook_secret": strings.Repeat("k", 16)}},
		{name: "unknown setting", settings: map[string]string{"webhook_url": "https://hooks.example.com/conversa", "webhook_secret": secret, "retries": "3"}, field: "settings.retries"},
		{name: "short secret", settings: map[string]string{"webhook_url": "https://hooks.example.com/conversa", "webhook_secret": strings.Repeat("k", 15)}, field: "settings.webhook_secret"},
		{name: "no secret", settings: map[string]string{"webhook_url": "https://hooks.example.com/conversa"}, field: "settings.webhook_secret"},
		{name: "no URL", settings: map[string]string{"webhook_secret": secret}, field: "settings.webhook_url"},
		{name: "not a URL", settings: map[string]string{"webhook_url": "hooks example", "webhook_secret": secret}, field: "settings.webhook_url"},
		{name: "relative URL", settings: map[string]string{"webhook_url": "/conversa", "webhook_secret": secret}, field: "settings.webhook_url"},
		{name: "no host", settings: map[string]string{"webhook_url": "https:///conversa", "webhook_secret": secret}, field: "settings.webhook_url"},
		{name: "other scheme", settings: map[string]string{"webhook_url": "ftp://hooks.example.com/conversa", "webhook_secret": secret}, field: "settings.webhook_url"},
		{name: "unparsable", settings: map[string]string{"webhook_url": "http://[::1", "webhook_secret": secret}, field: "settings.webhook_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ch.ValidateAccount(&conversation.ChannelAccount{Kind: conversation.ChannelAPI, Key: "k", Settings: tt.settings})
			if tt.field == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				return
			}
			if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != tt.field {
				t.Fatalf("validate: %v, want %s invalid", err, tt.field)
			}
		})
	}
}

// TestDelivery follows replies through the service, the worker and the
// channel to the tenant's webhook.
func TestDelivery(t *testing.T) {
	t.Parallel()
	send := func(e *env, text string) conversation.Message {
		t.Helper()
		res, err := e.ingest(t.Context(), "user-42", "in-"+text, "hola")
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.svc.Send(t.Context(), conversation.Outbound{
			TenantID: e.tenant.ID, ConversationID: res.Message.ConversationID,
			Author: conversation.Author{Kind: conversation.AuthorAgent, ID: 4, Name: "Ana"}, Parts: []conversation.Part{conversation.TextPart(text)},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Message
	}
	status := func(e *env, id int64, want conversation.Status) conversation.Message {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			m, err := e.store.Message(t.Context(), e.tenant.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status == want {
				return m
			}
			if time.Now().After(deadline) {
				t.Fatalf("message %d is %s, want %s", id, m.Status, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	t.Run("delivered", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		m := send(e, "Su pedido sale hoy")
		p, err := e.hook.next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		w, err := webhook(p, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if got := p.header.Get("X-Conversa-Delivery"); got != strconv.FormatInt(m.ID, 10) || w.Message.ID != m.ID || w.To != "user-42" {
			t.Fatalf("post for %q, message %d to %q: want message %d to user-42", got, w.Message.ID, w.To, m.ID)
		}
		status(e, m.ID, conversation.StatusDelivered)
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.hook.answerWith(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) })
		m := status(e, send(e, "¿Sigue ahí?").ID, conversation.StatusFailed)
		if m.Failure == nil || m.Failure.Code != "404" {
			t.Fatalf("failure %+v, want the webhook's 404", m.Failure)
		}
		if n := len(e.hook.posts); n != 1 {
			t.Fatalf("%d posts, want 1: a refusal is not retried", n)
		}
	})
	t.Run("retried after Retry-After", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		var once sync.Once
		e.hook.answerWith(func(w http.ResponseWriter, r *http.Request) {
			busy := false
			once.Do(func() { busy = true })
			if busy {
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
			}
		})
		m := send(e, "Gracias por esperar")
		first, err := e.hook.next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		second, err := e.hook.next(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// The worker's own backoff is 20 to 100 ms: the wait is the
		// webhook's.
		if gap := second.at.Sub(first.at); gap < 900*time.Millisecond {
			t.Fatalf("retried after %v, want the second the webhook asked for", gap)
		}
		if first.header.Get("X-Conversa-Delivery") != second.header.Get("X-Conversa-Delivery") {
			t.Fatal("the retry carries another delivery id")
		}
		status(e, m.ID, conversation.StatusDelivered)
	})
}

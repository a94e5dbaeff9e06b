package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conversa/channels"
	"conversa/conversation"
	"conversa/storage/media"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// Test credentials: the format of real ones, valid nowhere.
const (
	testToken  = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
	testSecret = "s3cret_of-the-bot"
	testBot    = "acme_support_bot"
	testChat   = 4242
)

// envOptions tunes a test environment.
type envOptions struct {
	// cfg is changed by the environment: APIURL, PublicURL, Logger.
	cfg Config
	// settings replace the account's settings.
	settings map[string]string
	// apiURL, when set, is the Bot API server instead of the fake.
	apiURL string
	// run starts the channel's Run.
	run bool
	// locker is the channel's Locker, and limiter its shared Limiter.
	locker  conversation.Locker
	limiter conversation.Limiter
}

// env is one node serving a Telegram channel: an SQLite store, in-process
// shared state, the media store, the conversation service with its worker
// delivering through the channels registry, the channel's routes on an
// httptest server, and the fake Bot API.
type env struct {
	t     *testing.T
	store *sqlite.Store
	media *media.Dir
	// mediaDir is the media store's directory.
	mediaDir string
	svc      *conversation.Service
	ch       *Channel
	api      *fakeAPI
	srv      *httptest.Server
	logs     *syncBuffer
	tenant   conversation.Tenant
	acct     conversation.ChannelAccount
	nextID   atomic.Int64
}

func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	mediaDir := t.TempDir()
	files, err := media.Open(mediaDir)
	if err != nil {
		t.Fatal(err)
	}
	shared := memory.New()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	worker, err := conversation.NewWorker(store, conversation.WorkerConfig{
		PollInterval: 20 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, DrainTimeout: 2 * time.Second,
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	var registry *channels.Registry
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{
		Store: store, Bus: shared, Dedup: shared, Logger: logger, JobsAdded: worker.Wake,
		Sender: senderFunc(func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
			return registry.Send(ctx, d)
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, media: files, mediaDir: mediaDir, svc: svc, logs: logs}
	e.nextID.Store(1000)
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux)
	cfg := opts.cfg
	cfg.Logger = logger
	if opts.apiURL != "" {
		cfg.APIURL = opts.apiURL
	} else {
		e.api = newFakeAPI(t)
		cfg.APIURL = e.api.srv.URL
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = e.srv.URL
	}
	if cfg.ChatInterval == 0 {
		cfg.ChatInterval = time.Millisecond
	}
	setDefault(&cfg.PollPause, 20*time.Millisecond)
	setDefault(&cfg.AccountsInterval, 50*time.Millisecond)
	setDefault(&cfg.RequestTimeout, 5*time.Second)
	setDefault(&cfg.PollTimeout, 2*time.Second)
	e.ch, err = New(cfg, Deps{Service: svc, Accounts: store, Media: files, Locker: opts.locker, Limiter: opts.limiter})
	if err != nil {
		t.Fatal(err)
	}
	if registry, err = channels.NewRegistry(e.ch); err != nil {
		t.Fatal(err)
	}
	e.ch.Routes(mux)
	worker.Handle(conversation.JobRoute, svc.RouteJob)
	worker.Handle(conversation.JobDeliver, svc.DeliverJob)

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := worker.Run(ctx); err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	if opts.run {
		wg.Go(func() {
			if err := e.ch.Run(ctx); err != nil {
				t.Errorf("channel Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		wg.Wait()
		e.srv.Close()
		store.Close()
		if strings.Contains(logs.String(), testToken[10:]) {
			t.Errorf("a log line shows the bot token:\n%s", logs.String())
		}
	})

	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.tenant, err = store.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	settings := opts.settings
	if settings == nil {
		settings = map[string]string{SettingBotToken: testToken, SettingWebhookSecret: testSecret}
	}
	e.acct = e.createAccount(testBot, settings)
	return e
}

// createAccount stores an account of the tenant, validated as the API does.
func (e *env) createAccount(key string, settings map[string]string) conversation.ChannelAccount {
	e.t.Helper()
	a := conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelTelegram, Key: key, Name: "Telegram", Settings: settings}
	if err := a.Validate(); err != nil {
		e.t.Fatal(err)
	}
	if err := e.ch.ValidateAccount(&a); err != nil {
		e.t.Fatal(err)
	}
	a, err := e.store.CreateChannelAccount(e.t.Context(), a)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

type senderFunc func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error)

func (f senderFunc) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	return f(ctx, d)
}

// post sends body to the account's webhook with the secret header (none
// when secret is empty) and returns the status.
func (e *env) post(key, secret, body string) int {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.srv.URL+RoutePrefix+key, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(SecretHeader, secret)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// textUpdate is a Telegram text message update from chat.
func (e *env) textUpdate(chat int64, text string) (updateID int64, body string) {
	id := e.nextID.Add(1)
	b, _ := json.Marshal(map[string]any{
		"update_id": id,
		"message": map[string]any{
			"message_id": id, "date": time.Now().Unix(), "text": text,
			"from": map[string]any{"id": chat, "is_bot": false, "first_name": "Ana", "last_name": "Gómez", "language_code": "es"},
			"chat": map[string]any{"id": chat, "type": "private", "first_name": "Ana", "last_name": "Gómez"},
		},
	})
	return id, string(b)
}

// messages returns the stored messages of the tenant, oldest first.
func (e *env) messages() []conversation.Message {
	e.t.Helper()
	ms, err := e.store.ListMessages(e.t.Context(), e.tenant.ID, conversation.MessageFilter{Limit: conversation.MaxLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

// inbound returns the stored inbound messages.
func (e *env) inbound() []conversation.Message {
	var in []conversation.Message
	for _, m := range e.messages() {
		if m.Direction == conversation.DirectionIn {
			in = append(in, m)
		}
	}
	return in
}

// contact returns the contact of a chat.
func (e *env) contact(chat int64) conversation.Contact {
	e.t.Helper()
	c, err := e.store.ContactByIdentity(e.t.Context(), e.tenant.ID, conversation.Identity{Channel: conversation.ChannelTelegram, Address: fmt.Sprint(chat)})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// reply sends parts to the contact's conversation as an agent; the worker
// delivers it.
func (e *env) reply(conversationID int64, parts ...conversation.Part) conversation.Message {
	e.t.Helper()
	res, err := e.svc.Send(e.t.Context(), conversation.Outbound{
		TenantID: e.tenant.ID, ConversationID: conversationID,
		Author: conversation.Author{Kind: conversation.AuthorAgent, ID: 7, Name: "Luis"}, Parts: parts,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return res[0].Message
}

// waitStatus waits until the stored message reaches status.
func (e *env) waitStatus(id int64, status conversation.Status) conversation.Message {
	e.t.Helper()
	var m conversation.Message
	waitFor(e.t, fmt.Sprintf("message %d to be %s", id, status), func() bool {
		var err error
		if m, err = e.store.Message(e.t.Context(), e.tenant.ID, id); err != nil {
			e.t.Fatal(err)
		}
		return m.Status == status
	})
	return m
}

// waitFor polls cond until it holds, failing t after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

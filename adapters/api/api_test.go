package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"conversa/adapters/analytics"
	"conversa/adapters/api"
	"conversa/billing"
	"conversa/bot"
	"conversa/channels"
	"conversa/channels/apichannel"
	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/campaign"
	"conversa/notify/prefs"
	"conversa/notify/survey"
	notifywebhook "conversa/notify/webhook"
	"conversa/reports"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
	"conversa/templates"
)

// bodyLimit is the MaxBodyBytes of every test API.
const bodyLimit = 256 << 10

// waitFor bounds everything a test waits for.
const waitFor = 10 * time.Second

// env is one running API on a fresh store, with everything it uses real:
// SQLite in a temporary directory, in-process shared state, the
// conversation service, and an HTTP server.
type env struct {
	store  *sqlite.Store
	shared *memory.Shared
	svc    *conversation.Service
	// notifier is the notification service, when the options ask for it.
	notifier *notify.Service
	api      *api.API
	srv      *httptest.Server
	// stopAPI cancels the context of api.Run; runDone gets Run's result.
	stopAPI context.CancelFunc
	runDone chan error
}

type envOptions struct {
	cfg api.Config
	// bot answers conversations in the bot state; with a bot or a sender,
	// a Worker runs the route and deliver jobs.
	bot    conversation.Bot
	sender conversation.Sender
	// engine sets bot to the dialogue engine on the test's store.
	engine bool
	// noDedup leaves out the de-duplication fast path, so that duplicates
	// are found by the store.
	noDedup bool
	// templates gives the API the template service on the test's store.
	templates bool
	// notifications gives the API the notification service (and the
	// template service) on the test's store, whose clock is now (default
	// time.Now).
	notifications bool
	now           func() time.Time
	// campaigns gives the API the campaign service too (with
	// notifications).
	campaigns bool
	// webhooks gives the API the webhook service, with private addresses
	// allowed unless privateRefused.
	webhooks, privateRefused bool
	// surveys gives the API the survey service (with notifications), on
	// the built-in survey templates.
	surveys bool
	// preferences gives the API the preference service.
	preferences bool
	// analytics gives the API the analytics export's destinations, with
	// private addresses allowed unless privateRefused.
	analytics bool
	// billing gives the API the billing service, in Bogotá, on the
	// clock now.
	billing bool
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	shared := memory.New()

	o.notifications = o.notifications || o.surveys
	if o.engine {
		o.bot = bot.NewEngine(store, store, store, bot.Config{})
	}
	var worker *conversation.Worker
	jobsAdded := func() {}
	if o.bot != nil || o.sender != nil {
		worker, err = conversation.NewWorker(store, conversation.WorkerConfig{
			Concurrency: 4, PollInterval: 50 * time.Millisecond,
			RetryBase: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, DrainTimeout: time.Second,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		jobsAdded = worker.Wake
	}
	deps := conversation.Deps{Store: store, Bus: shared, Bot: o.bot, Sender: o.sender, Dedup: shared, JobsAdded: jobsAdded}
	if o.noDedup {
		deps.Dedup = nil
	}
	svc, err := conversation.NewService(conversation.ServiceConfig{}, deps)
	if err != nil {
		t.Fatal(err)
	}
	if worker != nil {
		worker.Handle(conversation.JobRoute, svc.RouteJob)
		worker.Handle(conversation.JobDeliver, svc.DeliverJob)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- worker.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}

	if o.cfg.MaxBodyBytes == 0 {
		o.cfg.MaxBodyBytes = bodyLimit
	}
	if o.templates || o.notifications {
		o.cfg.Templates, o.cfg.TemplateStore = templates.NewService(store), store
	}
	var notifier *notify.Service
	if o.notifications {
		notifier, err = notify.New(store, notify.Deps{Conversations: store, Sender: svc, Templates: templates.NewService(store)}, notify.Config{Now: o.now})
		if err != nil {
			t.Fatal(err)
		}
		o.cfg.Notifications = notifier
		if o.campaigns {
			cs, err := campaign.New(campaign.Deps{Store: store, Tenants: store, Notifier: notifier, Bus: shared}, campaign.Config{Now: o.now})
			if err != nil {
				t.Fatal(err)
			}
			o.cfg.Campaigns = cs
		}
		if o.surveys {
			withDefaults, err := notify.New(store, notify.Deps{Conversations: store, Sender: svc, Templates: templates.NewService(store).Defaults()}, notify.Config{Now: o.now})
			if err != nil {
				t.Fatal(err)
			}
			if o.cfg.Surveys, err = survey.New(store, withDefaults, store, survey.Config{Now: o.now}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if o.webhooks {
		if o.cfg.Webhooks, err = notifywebhook.New(store, notifywebhook.Config{AllowPrivate: !o.privateRefused}); err != nil {
			t.Fatal(err)
		}
	}
	if o.preferences {
		o.cfg.Preferences = prefs.New(store, prefs.Config{})
	}
	if o.analytics {
		if o.cfg.Analytics, err = analytics.New(store, analytics.Config{AllowPrivate: !o.privateRefused}); err != nil {
			t.Fatal(err)
		}
	}
	if o.cfg.Reports == nil {
		o.cfg.Reports = reports.NewService(store)
	}
	if o.billing {
		if o.cfg.Billing, err = billing.New(store, store, billing.Config{Now: o.now}); err != nil {
			t.Fatal(err)
		}
	}
	a, err := api.New(o.cfg, svc, store, shared, shared)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{store: store, shared: shared, svc: svc, notifier: notifier, api: a, srv: srv, stopAPI: cancel, runDone: make(chan error, 1)}
	go func() { e.runDone <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel() // ends event streams, so that Close does not wait for them
		srv.Close()
	})
	return e
}

// tenant is a tenant with an api channel, a web-chat channel and an API key.
type tenant struct {
	conversation.Tenant
	key     string // the bearer token
	keyID   string
	api     conversation.ChannelAccount
	webchat conversation.ChannelAccount
	secret  string // the api channel's webhook secret
}

// newTenant creates a tenant; replies on its api channel go to webhookURL.
func (e *env) newTenant(t *testing.T, slug, webhookURL string) tenant {
	t.Helper()
	ctx := t.Context()
	tn := conversation.Tenant{Slug: slug, Name: "Tenant " + slug}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	tn, err := e.store.CreateTenant(ctx, tn)
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	if webhookURL == "" {
		webhookURL = "http://127.0.0.1:1/unused"
	}
	secret := "secret-of-" + slug + "-0123456789"
	apiAcct, err := e.store.CreateChannelAccount(ctx, conversation.ChannelAccount{
		TenantID: tn.ID, Kind: conversation.ChannelAPI, Key: slug + "-api", Name: "API",
		Settings: map[string]string{apichannel.SettingWebhookURL: webhookURL, apichannel.SettingWebhookSecret: secret},
	})
	if err != nil {
		t.Fatalf("create api channel: %v", err)
	}
	wc, err := e.store.CreateChannelAccount(ctx, conversation.ChannelAccount{
		TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: slug + "-widget", Name: "Widget",
	})
	if err != nil {
		t.Fatalf("create webchat channel: %v", err)
	}
	key, rec := api.NewKey(tn.ID, "test")
	if _, err := e.store.CreateAPIKey(ctx, rec); err != nil {
		t.Fatalf("create API key: %v", err)
	}
	return tenant{Tenant: tn, key: key, keyID: rec.ID, api: apiAcct, webchat: wc, secret: secret}
}

// ingest stores a message from contact `from` on tn's api channel.
func (e *env) ingest(t *testing.T, tn tenant, from, id, text string) conversation.IngestResult {
	t.Helper()
	res, err := e.svc.Ingest(t.Context(), conversation.Inbound{
		Channel: conversation.ChannelAPI, Account: tn.api.Key, From: from, ProviderID: id,
		Parts: []conversation.Part{conversation.TextPart(text)},
	})
	if err != nil {
		t.Fatalf("ingest %s from %s: %v", id, from, err)
	}
	return res
}

// response is a read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

// rawBody is a request body sent as is.
type rawBody []byte

// do sends a request with key as bearer token (none when empty). body is
// sent as is when it is a rawBody, as JSON otherwise; headers are name,
// value pairs that override the defaults.
func (e *env) do(t *testing.T, method, path, key string, body any, headers ...string) response {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, ok := body.(rawBody)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// decode parses the JSON body of r, failing unless its status is want.
func decode[T any](t *testing.T, r response, want int) T {
	t.Helper()
	var v T
	if r.status != want {
		t.Fatalf("status %d, want %d; body: %s", r.status, want, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, r.body, err)
	}
	return v
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// wantError checks that r is an error response with status, code and field.
func wantError(t *testing.T, r response, status int, code, field string) errorBody {
	t.Helper()
	eb := decode[errorBody](t, r, status)
	if eb.Error.Code != code || eb.Error.Field != field || eb.Error.Message == "" {
		t.Fatalf("error %+v, want code %q, field %q and a message", eb.Error, code, field)
	}
	return eb
}

type page[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

// walk reads every page of the list at path (which has a query string),
// limit items at a time, and returns the pages.
func walk[T any](t *testing.T, e *env, key, path string, limit int) [][]T {
	t.Helper()
	var pages [][]T
	cursor := ""
	for range 100 {
		p := path + "&limit=" + strconv.Itoa(limit)
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		pg := decode[page[T]](t, e.do(t, "GET", p, key, nil), http.StatusOK)
		if len(pg.Data) > limit {
			t.Fatalf("%s: %d items, more than the limit", p, len(pg.Data))
		}
		pages = append(pages, pg.Data)
		if pg.NextCursor == "" {
			return pages
		}
		if len(pg.Data) == 0 {
			t.Fatalf("%s: an empty page has a next_cursor", p)
		}
		cursor = pg.NextCursor
	}
	t.Fatalf("%s: more than 100 pages", path)
	return nil
}

func ids[T any](items []T, id func(T) int64) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	id, secret, _ := strings.Cut(strings.TrimPrefix(tn.key, "cnv_"), "_")
	otherSecret := strings.Repeat("A", len(secret))
	other, _ := api.NewKey(tn.ID, "never stored")

	for _, tc := range []struct {
		name   string
		header string // Authorization; empty sends none
	}{
		{"missing header", ""},
		{"other scheme", "Basic " + tn.key},
		{"not a key", "Bearer hello"},
		{"malformed id", "Bearer cnv_" + strings.Repeat("z", len(id)) + "_" + secret},
		{"short secret", "Bearer cnv_" + id + "_" + secret[:10]},
		{"wrong secret", "Bearer cnv_" + id + "_" + otherSecret},
		{"unknown key", "Bearer " + other},
		{"key with a trailing character", "Bearer " + tn.key + "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r response
			if tc.header == "" {
				r = e.do(t, "GET", "/api/v1/channels", "", nil)
			} else {
				r = e.do(t, "GET", "/api/v1/channels", "", nil, "Authorization", tc.header)
			}
			wantError(t, r, http.StatusUnauthorized, conversation.EUNAUTHORIZED, "")
			if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", h)
			}
		})
	}
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "Bearer "} {
		t.Run("valid key with scheme "+scheme, func(t *testing.T) {
			t.Parallel()
			r := e.do(t, "GET", "/api/v1/channels", "", nil, "Authorization", scheme+" "+tn.key)
			pg := decode[page[json.RawMessage]](t, r, http.StatusOK)
			if len(pg.Data) != 2 {
				t.Errorf("%d channels, want the tenant's 2", len(pg.Data))
			}
		})
	}
}

func TestRevokedKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: api.Config{KeyCacheTTL: time.Nanosecond}})
	tn := e.newTenant(t, "acme", "")
	if r := e.do(t, "GET", "/api/v1/contacts", tn.key, nil); r.status != http.StatusOK {
		t.Fatalf("before revoking: status %d: %s", r.status, r.body)
	}
	if err := e.store.RevokeAPIKey(t.Context(), tn.ID, tn.keyID); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "GET", "/api/v1/contacts", tn.key, nil)
	wantError(t, r, http.StatusUnauthorized, conversation.EUNAUTHORIZED, "")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("no WWW-Authenticate header")
	}
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := channelEnv(t)
	a := e.newTenant(t, "tenant-a", "")
	b := e.newTenant(t, "tenant-b", "")
	ctx := t.Context()

	resA := e.ingest(t, a, "ana", "a-1", "secreto de ana zanahoria")
	sentA, err := e.svc.Send(ctx, conversation.Outbound{TenantID: a.ID, ConversationID: resA.Conversation.ID,
		Author: conversation.Author{Kind: conversation.AuthorAgent}, Parts: []conversation.Part{conversation.TextPart("respuesta zanahoria")}})
	if err != nil {
		t.Fatal(err)
	}
	closedA := e.ingest(t, a, "berta", "a-2", "otro secreto zanahoria")
	if _, err := e.svc.Close(ctx, a.ID, closedA.Conversation.ID); err != nil {
		t.Fatal(err)
	}
	resB := e.ingest(t, b, "bob", "b-1", "hello from bob")

	contactA, convA, msgA := resA.Message.ContactID, resA.Conversation.ID, resA.Message.ID
	beforeContact, _ := e.store.Contact(ctx, a.ID, contactA)
	beforeConvs, _ := e.store.ListConversations(ctx, a.ID, conversation.ConversationFilter{})
	beforeMsgs, _ := e.store.ListMessages(ctx, a.ID, conversation.MessageFilter{})
	beforeChannels, _ := e.store.ListChannelAccounts(ctx, a.ID)
	if _, err := e.svc.RecordConsent(ctx, conversation.ConsentChange{TenantID: a.ID, AccountID: a.api.ID, ContactID: contactA,
		Channel: conversation.ChannelAPI, Address: "ana", OptedOut: true, Source: "test"}); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"GET", fmt.Sprintf("/api/v1/contacts/%d", contactA), nil},
		{"PATCH", fmt.Sprintf("/api/v1/contacts/%d", contactA), map[string]any{"name": "Mallory", "attributes": map[string]string{"x": "y"}}},
		{"GET", fmt.Sprintf("/api/v1/conversations/%d", convA), nil},
		{"GET", fmt.Sprintf("/api/v1/conversations/%d/messages", convA), nil},
		{"POST", fmt.Sprintf("/api/v1/conversations/%d/messages", convA), map[string]any{"text": "from b"}},
		{"POST", fmt.Sprintf("/api/v1/conversations/%d/assign", convA), map[string]any{"agent_id": 1}},
		{"POST", fmt.Sprintf("/api/v1/conversations/%d/queue", convA), nil},
		{"POST", fmt.Sprintf("/api/v1/conversations/%d/bot", convA), nil},
		{"POST", fmt.Sprintf("/api/v1/conversations/%d/close", convA), nil},
		{"POST", fmt.Sprintf("/api/v1/conversations/%d/reopen", closedA.Conversation.ID), nil},
		{"POST", fmt.Sprintf("/api/v1/conversations/%d/typing", convA), map[string]any{"on": true}},
		{"GET", fmt.Sprintf("/api/v1/messages/%d", msgA), nil},
		{"GET", fmt.Sprintf("/api/v1/messages/%d", sentA[0].Message.ID), nil},
		{"POST", "/api/v1/inbound", map[string]any{"channel_id": a.api.ID, "from": "eve", "id": "b-x", "text": "hola"}},
		{"GET", fmt.Sprintf("/api/v1/channels/%d", a.api.ID), nil},
		{"PATCH", fmt.Sprintf("/api/v1/channels/%d", a.api.ID), map[string]any{"settings": map[string]string{"webhook_url": "https://evil.example.com"}}},
		{"GET", fmt.Sprintf("/api/v1/contacts/%d/consent", contactA), nil},
		{"POST", fmt.Sprintf("/api/v1/contacts/%d/consent", contactA), map[string]any{"channel_id": b.api.ID, "opted_out": false}},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			wantError(t, e.do(t, tc.method, tc.path, b.key, tc.body), http.StatusNotFound, conversation.ENOTFOUND, "")
		})
	}
	t.Run("nothing changed", func(t *testing.T) {
		afterContact, _ := e.store.Contact(ctx, a.ID, contactA)
		afterConvs, _ := e.store.ListConversations(ctx, a.ID, conversation.ConversationFilter{})
		afterMsgs, _ := e.store.ListMessages(ctx, a.ID, conversation.MessageFilter{})
		afterChannels, _ := e.store.ListChannelAccounts(ctx, a.ID)
		if !jsonEqual(t, beforeContact, afterContact) || !jsonEqual(t, beforeConvs, afterConvs) || !jsonEqual(t, beforeMsgs, afterMsgs) ||
			!jsonEqual(t, beforeChannels, afterChannels) {
			t.Errorf("tenant A's data changed:\ncontact %+v -> %+v\nconversations %+v -> %+v\nmessages %d -> %d\nchannels %+v -> %+v",
				beforeContact, afterContact, beforeConvs, afterConvs, len(beforeMsgs), len(afterMsgs), beforeChannels, afterChannels)
		}
		if out, _ := e.store.OptedOut(ctx, a.ID, a.api.ID, "ana"); !out {
			t.Error("contact ana of tenant A opted back in")
		}
		if cs, _ := e.store.ListConsent(ctx, b.ID, conversation.ConsentFilter{}); len(cs) != 0 {
			t.Errorf("tenant B has consent changes %+v", cs)
		}
		bMsgs, _ := e.store.ListMessages(ctx, b.ID, conversation.MessageFilter{})
		if len(bMsgs) != 1 {
			t.Errorf("tenant B has %d messages, want its 1", len(bMsgs))
		}
	})

	type tenantScoped struct {
		ID       int64 `json:"id"`
		TenantID int64 `json:"tenant_id"`
	}
	for _, tc := range []struct {
		path string
		want []int64
	}{
		{"/api/v1/contacts?limit=200", []int64{resB.Message.ContactID}},
		{"/api/v1/conversations?limit=200", []int64{resB.Conversation.ID}},
		{"/api/v1/messages/search?q=zanahoria", nil},
		{"/api/v1/messages/search?q=hello", []int64{resB.Message.ID}},
		{fmt.Sprintf("/api/v1/messages/search?q=zanahoria&conversation_id=%d", convA), nil},
		{fmt.Sprintf("/api/v1/conversations?contact_id=%d", contactA), nil},
	} {
		t.Run("list "+tc.path, func(t *testing.T) {
			pg := decode[page[tenantScoped]](t, e.do(t, "GET", tc.path, b.key, nil), http.StatusOK)
			got := ids(pg.Data, func(x tenantScoped) int64 { return x.ID })
			if !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
			for _, x := range pg.Data {
				if x.TenantID != b.ID {
					t.Errorf("item %d of tenant %d in tenant %d's list", x.ID, x.TenantID, b.ID)
				}
			}
		})
	}
	t.Run("channels", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/channels", b.key, nil)
		pg := decode[page[channelView]](t, r, http.StatusOK)
		got := ids(pg.Data, func(c channelView) int64 { return c.ID })
		if want := []int64{b.api.ID, b.webchat.ID}; !slices.Equal(got, want) {
			t.Errorf("channel ids %v, want %v", got, want)
		}
		if bytes.Contains(r.body, []byte(b.secret)) || pg.Data[0].Settings["webhook_secret"] != "(set)" {
			t.Errorf("the channel list shows the webhook secret: %s", r.body)
		}
	})
}

// channelView is what the API shows of a channel.
type channelView struct {
	ID        int64                    `json:"id"`
	Kind      conversation.ChannelKind `json:"kind"`
	Key       string                   `json:"key"`
	Name      string                   `json:"name"`
	Settings  map[string]string        `json:"settings"`
	Disabled  bool                     `json:"disabled"`
	CreatedAt time.Time                `json:"created_at"`
}

// jsonEqual compares a and b as JSON, which is how clients see them.
func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

func TestContacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	const n = 7
	for i := range n {
		e.ingest(t, tn, fmt.Sprintf("user-%d", i), fmt.Sprintf("m-%d", i), "hola")
	}
	stored, err := e.store.ListContacts(t.Context(), tn.ID, conversation.ContactFilter{Limit: conversation.MaxLimit})
	if err != nil || len(stored) != n {
		t.Fatalf("stored contacts: %d, %v", len(stored), err)
	}
	want := ids(stored, func(c conversation.Contact) int64 { return c.ID })

	for _, limit := range []int{1, 3, n, n + 1} {
		t.Run(fmt.Sprintf("pages of %d", limit), func(t *testing.T) {
			t.Parallel()
			var got []int64
			for _, p := range walk[conversation.Contact](t, e, tn.key, "/api/v1/contacts?", limit) {
				got = append(got, ids(p, func(c conversation.Contact) int64 { return c.ID })...)
			}
			if !slices.Equal(got, want) {
				t.Errorf("walked ids %v, want %v (newest first, no gaps or duplicates)", got, want)
			}
		})
	}

	t.Run("get", func(t *testing.T) {
		t.Parallel()
		c := decode[conversation.Contact](t, e.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d", want[0]), tn.key, nil), http.StatusOK)
		if !jsonEqual(t, c, stored[0]) {
			t.Errorf("got %+v, want %+v", c, stored[0])
		}
		if len(c.Identities) != 1 || c.Identities[0].Channel != conversation.ChannelAPI {
			t.Errorf("identities %+v, want the api identity", c.Identities)
		}
	})

	t.Run("get missing", func(t *testing.T) {
		t.Parallel()
		for _, id := range []string{"999999", "0", "-1", "abc"} {
			wantError(t, e.do(t, "GET", "/api/v1/contacts/"+id, tn.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
		}
	})

	t.Run("patch", func(t *testing.T) {
		t.Parallel()
		id := want[1]
		path := fmt.Sprintf("/api/v1/contacts/%d", id)
		steps := []struct {
			name  string
			body  string
			check func(t *testing.T, c conversation.Contact)
		}{
			{"name and language", `{"name":"  Ana María  ","language":"es-CO"}`, func(t *testing.T, c conversation.Contact) {
				if c.Name != "Ana María" || c.Language != "es" {
					t.Errorf("name %q language %q, want %q and %q", c.Name, c.Language, "Ana María", "es")
				}
			}},
			{"attributes", `{"attributes":{"plan":"gold","tier":"1"}}`, func(t *testing.T, c conversation.Contact) {
				if c.Name != "Ana María" || c.Language != "es" {
					t.Errorf("name %q language %q changed", c.Name, c.Language)
				}
				if len(c.Attributes) != 2 || c.Attributes["plan"] != "gold" || c.Attributes["tier"] != "1" {
					t.Errorf("attributes %v", c.Attributes)
				}
			}},
			{"merge and remove", `{"attributes":{"tier":"","city":"Bogotá"}}`, func(t *testing.T, c conversation.Contact) {
				if len(c.Attributes) != 2 || c.Attributes["plan"] != "gold" || c.Attributes["city"] != "Bogotá" {
					t.Errorf("attributes %v, want plan and city", c.Attributes)
				}
			}},
			{"language underscore", `{"language":"EN_us"}`, func(t *testing.T, c conversation.Contact) {
				if c.Language != "en" {
					t.Errorf("language %q, want en", c.Language)
				}
			}},
			{"clear language", `{"language":""}`, func(t *testing.T, c conversation.Contact) {
				if c.Language != "" {
					t.Errorf("language %q, want none", c.Language)
				}
			}},
		}
		for _, s := range steps {
			c := decode[conversation.Contact](t, e.do(t, "PATCH", path, tn.key, rawBody(s.body)), http.StatusOK)
			s.check(t, c)
			st, err := e.store.Contact(t.Context(), tn.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(t, c, st) {
				t.Errorf("%s: answered %+v, stored %+v", s.name, c, st)
			}
		}
	})

	t.Run("patch rejected", func(t *testing.T) {
		t.Parallel()
		id := want[2]
		path := fmt.Sprintf("/api/v1/contacts/%d", id)
		before, _ := e.store.Contact(t.Context(), tn.ID, id)
		for _, tc := range []struct {
			name, body  string
			status      int
			code, field string
		}{
			{"long name", `{"name":"` + strings.Repeat("ñ", conversation.MaxNameLength+1) + `"}`, 400, conversation.EINVALID, "name"},
			{"bad language", `{"language":"español!"}`, 400, conversation.EINVALID, "language"},
			{"bad attribute name", `{"attributes":{"no spaces":"x"}}`, 400, conversation.EINVALID, "attributes"},
			{"long attribute", `{"attributes":{"bio":"` + strings.Repeat("x", conversation.MaxAttributeValue+1) + `"}}`, 413, conversation.ETOOLARGE, "attributes.bio"},
			{"NUL in attribute", `{"attributes":{"bio":"a\u0000b"}}`, 400, conversation.EINVALID, "attributes.bio"},
			{"wrong type", `{"name":42}`, 400, conversation.EINVALID, "name"},
			{"unknown field", `{"nickname":"x"}`, 400, conversation.EINVALID, "nickname"},
			{"empty body", ``, 400, conversation.EINVALID, ""},
			{"not an object", `["name"]`, 400, conversation.EINVALID, ""},
			{"trailing data", `{"name":"Eve"}}`, 400, conversation.EINVALID, ""},
		} {
			wantError(t, e.do(t, "PATCH", path, tn.key, rawBody(tc.body)), tc.status, tc.code, tc.field)
		}
		after, _ := e.store.Contact(t.Context(), tn.ID, id)
		if !jsonEqual(t, before, after) {
			t.Errorf("a rejected patch changed the contact: %+v -> %+v", before, after)
		}
	})

	t.Run("bad list parameters", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ query, field string }{
			{"cursor=%21%21%21", "cursor"},
			{"cursor=" + "bm90IGpzb24", "cursor"}, // base64 of "not json"
			{"limit=201", "limit"},
			{"limit=-1", "limit"},
			{"limit=ten", "limit"},
		} {
			wantError(t, e.do(t, "GET", "/api/v1/contacts?"+tc.query, tn.key, nil), http.StatusBadRequest, conversation.EINVALID, tc.field)
		}
	})
}

func TestConversations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	ctx := t.Context()
	// One conversation per state, and a contact with a closed conversation
	// and a newer open one.
	states := []conversation.State{conversation.StateBot, conversation.StateQueued, conversation.StateAgent, conversation.StateClosed}
	byState := map[conversation.State]int64{}
	for i, s := range states {
		res := e.ingest(t, tn, fmt.Sprintf("c%d", i), fmt.Sprintf("m%d", i), "hola")
		var err error
		switch s {
		case conversation.StateQueued:
			_, err = e.svc.Queue(ctx, tn.ID, res.Conversation.ID)
		case conversation.StateAgent:
			_, err = e.svc.Assign(ctx, tn.ID, res.Conversation.ID, 5)
		case conversation.StateClosed:
			_, err = e.svc.Close(ctx, tn.ID, res.Conversation.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
		byState[s] = res.Conversation.ID
	}
	again := e.ingest(t, tn, "c3", "m-again", "otra vez")
	if again.Conversation.ID == byState[conversation.StateClosed] {
		t.Fatal("a message after closing did not open a new conversation")
	}
	all, err := e.store.ListConversations(ctx, tn.ID, conversation.ConversationFilter{Limit: conversation.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	convID := func(c conversation.Conversation) int64 { return c.ID }

	for _, tc := range []struct {
		name  string
		query string
		want  func(c conversation.Conversation) bool
	}{
		{"all", "", func(conversation.Conversation) bool { return true }},
		{"bot", "state=bot", func(c conversation.Conversation) bool { return c.State == conversation.StateBot }},
		{"queued", "state=queued", func(c conversation.Conversation) bool { return c.State == conversation.StateQueued }},
		{"agent", "state=agent", func(c conversation.Conversation) bool { return c.State == conversation.StateAgent }},
		{"closed", "state=closed", func(c conversation.Conversation) bool { return c.State == conversation.StateClosed }},
		{"contact", fmt.Sprintf("contact_id=%d", again.Message.ContactID), func(c conversation.Conversation) bool { return c.ContactID == again.Message.ContactID }},
		{"contact and state", fmt.Sprintf("contact_id=%d&state=closed", again.Message.ContactID), func(c conversation.Conversation) bool {
			return c.ContactID == again.Message.ContactID && c.State == conversation.StateClosed
		}},
	} {
		t.Run("list "+tc.name, func(t *testing.T) {
			t.Parallel()
			var want []int64
			for _, c := range all {
				if tc.want(c) {
					want = append(want, c.ID)
				}
			}
			if len(want) == 0 {
				t.Fatal("the fixture has no such conversation")
			}
			for _, limit := range []int{1, 2, 50} {
				var got []int64
				for _, p := range walk[conversation.Conversation](t, e, tn.key, "/api/v1/conversations?"+tc.query, limit) {
					got = append(got, ids(p, convID)...)
				}
				if !slices.Equal(got, want) {
					t.Errorf("limit %d: ids %v, want %v", limit, got, want)
				}
			}
		})
	}

	t.Run("bad filters", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ query, field string }{
			{"state=open", "state"},
			{"contact_id=x", "contact_id"},
			{"cursor=e30x", "cursor"},
		} {
			wantError(t, e.do(t, "GET", "/api/v1/conversations?"+tc.query, tn.key, nil), http.StatusBadRequest, conversation.EINVALID, tc.field)
		}
	})

	t.Run("get", func(t *testing.T) {
		t.Parallel()
		for _, c := range all {
			got := decode[conversation.Conversation](t, e.do(t, "GET", fmt.Sprintf("/api/v1/conversations/%d", c.ID), tn.key, nil), http.StatusOK)
			if !jsonEqual(t, got, c) {
				t.Errorf("got %+v, want %+v", got, c)
			}
		}
		wantError(t, e.do(t, "GET", "/api/v1/conversations/424242", tn.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
	})

	t.Run("transitions", func(t *testing.T) {
		t.Parallel()
		// Another tenant, so that the lists above do not see the changes.
		mover := e.newTenant(t, "mover", "")
		res := e.ingest(t, mover, "mover", "mv-1", "hola")
		base := fmt.Sprintf("/api/v1/conversations/%d/", res.Conversation.ID)
		for _, step := range []struct {
			action   string
			body     any
			status   int
			state    conversation.State // after the step
			assignee int64
		}{
			{"assign", map[string]any{"agent_id": 7}, 200, conversation.StateAgent, 7},
			{"assign", map[string]any{"agent_id": 8}, 200, conversation.StateAgent, 8},
			{"reopen", nil, 409, conversation.StateAgent, 8},
			{"queue", nil, 200, conversation.StateQueued, 0},
			{"bot", nil, 200, conversation.StateBot, 0},
			{"bot", nil, 200, conversation.StateBot, 0},
			{"close", nil, 200, conversation.StateClosed, 0},
			{"queue", nil, 409, conversation.StateClosed, 0},
			{"bot", nil, 409, conversation.StateClosed, 0},
			{"assign", map[string]any{"agent_id": 7}, 409, conversation.StateClosed, 0},
			{"reopen", nil, 200, conversation.StateBot, 0},
			{"reopen", nil, 409, conversation.StateBot, 0},
		} {
			r := e.do(t, "POST", base+step.action, mover.key, step.body)
			if step.status == http.StatusOK {
				c := decode[conversation.Conversation](t, r, http.StatusOK)
				if c.State != step.state || c.AssigneeID != step.assignee {
					t.Errorf("%s: state %s assignee %d, want %s and %d", step.action, c.State, c.AssigneeID, step.state, step.assignee)
				}
				if step.state == conversation.StateClosed && c.ClosedAt.IsZero() {
					t.Errorf("%s: closed without closed_at", step.action)
				}
			} else {
				wantError(t, r, step.status, conversation.ECONFLICT, "")
			}
			st, err := e.store.Conversation(ctx, mover.ID, res.Conversation.ID)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != step.state || st.AssigneeID != step.assignee {
				t.Errorf("after %s: stored state %s assignee %d, want %s and %d", step.action, st.State, st.AssigneeID, step.state, step.assignee)
			}
		}
	})

	t.Run("assign rejected", func(t *testing.T) {
		t.Parallel()
		path := fmt.Sprintf("/api/v1/conversations/%d/assign", byState[conversation.StateBot])
		for _, tc := range []struct {
			name, body string
			field      string
		}{
			{"no agent", `{}`, "agent_id"},
			{"zero agent", `{"agent_id":0}`, "agent_id"},
			{"negative agent", `{"agent_id":-3}`, "agent_id"},
			{"string agent", `{"agent_id":"7"}`, "agent_id"},
			{"no body", ``, ""},
		} {
			wantError(t, e.do(t, "POST", path, tn.key, rawBody(tc.body)), http.StatusBadRequest, conversation.EINVALID, tc.field)
		}
		st, _ := e.store.Conversation(ctx, tn.ID, byState[conversation.StateBot])
		if st.State != conversation.StateBot {
			t.Errorf("state %s after rejected assigns", st.State)
		}
	})
}

func TestMessages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	ctx := t.Context()

	t.Run("list", func(t *testing.T) {
		t.Parallel()
		const n = 7
		var conv int64
		for i := range n {
			conv = e.ingest(t, tn, "lister", fmt.Sprintf("l-%d", i), fmt.Sprintf("mensaje %d", i)).Conversation.ID
		}
		e.ingest(t, tn, "someone-else", "other-1", "not in the list")
		stored, err := e.store.ListMessages(ctx, tn.ID, conversation.MessageFilter{ConversationID: conv, Limit: conversation.MaxLimit})
		if err != nil || len(stored) != n {
			t.Fatalf("stored %d messages, %v", len(stored), err)
		}
		asc := ids(stored, func(m conversation.Message) int64 { return m.Seq })
		desc := slices.Clone(asc)
		slices.Reverse(desc)
		for _, tc := range []struct {
			order string
			want  []int64
		}{{"", asc}, {"asc", asc}, {"desc", desc}} {
			for _, limit := range []int{1, 2, 3, n, 50} {
				var got []int64
				pages := walk[conversation.Message](t, e, tn.key, fmt.Sprintf("/api/v1/conversations/%d/messages?order=%s", conv, tc.order), limit)
				for _, p := range pages {
					for _, m := range p {
						if m.ConversationID != conv {
							t.Fatalf("message %d of conversation %d listed", m.ID, m.ConversationID)
						}
					}
					got = append(got, ids(p, func(m conversation.Message) int64 { return m.Seq })...)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("order %q limit %d: seqs %v, want %v", tc.order, limit, got, tc.want)
				}
			}
		}
		first := decode[page[conversation.Message]](t, e.do(t, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?limit=1", conv), tn.key, nil), http.StatusOK)
		if len(first.Data) != 1 || !jsonEqual(t, first.Data[0], stored[0]) {
			t.Errorf("first message %+v, want %+v", first.Data, stored[0])
		}
		wantError(t, e.do(t, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?order=up", conv), tn.key, nil), 400, conversation.EINVALID, "order")
		wantError(t, e.do(t, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages?cursor=xyz", conv), tn.key, nil), 400, conversation.EINVALID, "cursor")
		wantError(t, e.do(t, "GET", "/api/v1/conversations/987654/messages", tn.key, nil), 404, conversation.ENOTFOUND, "")
	})

	t.Run("send", func(t *testing.T) {
		t.Parallel()
		conv := e.ingest(t, tn, "sender", "s-1", "hola").Conversation
		for _, tc := range []struct {
			name   string
			body   string
			author conversation.Author
			parts  []conversation.Part
		}{
			{"text", `{"text":"¡Hola! ¿En qué te ayudo?"}`, conversation.Author{Kind: conversation.AuthorAgent},
				[]conversation.Part{conversation.TextPart("¡Hola! ¿En qué te ayudo?")}},
			{"buttons", `{"parts":[{"type":"buttons","text":"¿Qué prefieres?","buttons":[{"id":"a","title":"Opción A"},{"title":" Opción B "}]}],"author":{"kind":"bot"}}`,
				conversation.Author{Kind: conversation.AuthorBot},
				[]conversation.Part{{Type: conversation.PartButtons, Text: "¿Qué prefieres?", Buttons: []conversation.Button{{ID: "a", Title: "Opción A"}, {ID: "Opción B", Title: "Opción B"}}}}},
			{"named agent", `{"text":"hi","author":{"kind":"agent","id":3,"name":" Laura "}}`, conversation.Author{Kind: conversation.AuthorAgent, ID: 3, Name: "Laura"},
				[]conversation.Part{conversation.TextPart("hi")}},
		} {
			r := e.do(t, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID), tn.key, rawBody(tc.body))
			m := decode[conversation.Message](t, r, http.StatusCreated)
			if m.Status != conversation.StatusQueued || m.Direction != conversation.DirectionOut || m.ConversationID != conv.ID ||
				m.Channel != conversation.ChannelAPI || m.ChannelAccountID != tn.api.ID {
				t.Errorf("%s: message %+v", tc.name, m)
			}
			if !jsonEqual(t, m.Author, tc.author) || !jsonEqual(t, m.Parts, tc.parts) {
				t.Errorf("%s: author %+v parts %+v, want %+v and %+v", tc.name, m.Author, m.Parts, tc.author, tc.parts)
			}
			st, err := e.store.Message(ctx, tn.ID, m.ID)
			if err != nil || !jsonEqual(t, st, m) {
				t.Errorf("%s: stored %+v (%v), answered %+v", tc.name, st, err, m)
			}
			got := decode[conversation.Message](t, e.do(t, "GET", fmt.Sprintf("/api/v1/messages/%d", m.ID), tn.key, nil), http.StatusOK)
			if !jsonEqual(t, got, m) {
				t.Errorf("%s: GET gives %+v, want %+v", tc.name, got, m)
			}
		}
	})

	t.Run("idempotent", func(t *testing.T) {
		t.Parallel()
		conv := e.ingest(t, tn, "retrier", "r-1", "hola").Conversation
		path := fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID)
		first := e.do(t, "POST", path, tn.key, map[string]string{"text": "una vez"}, "Idempotency-Key", "order-42")
		m1 := decode[conversation.Message](t, first, http.StatusCreated)
		if first.header.Get("Idempotent-Replayed") != "" {
			t.Error("the first send says it was replayed")
		}
		again := e.do(t, "POST", path, tn.key, map[string]string{"text": "una vez"}, "Idempotency-Key", "order-42")
		m2 := decode[conversation.Message](t, again, http.StatusOK)
		if again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("Idempotent-Replayed %q, want true", again.header.Get("Idempotent-Replayed"))
		}
		if !jsonEqual(t, m1, m2) || m1.IdempotencyKey != "order-42" {
			t.Errorf("replay gave %+v, want %+v", m2, m1)
		}
		other := decode[conversation.Message](t, e.do(t, "POST", path, tn.key, map[string]string{"text": "una vez"}, "Idempotency-Key", "order-43"), http.StatusCreated)
		if other.ID == m1.ID {
			t.Error("another key replayed the first message")
		}
		ms, _ := e.store.ListMessages(ctx, tn.ID, conversation.MessageFilter{ConversationID: conv.ID})
		if len(ms) != 3 { // the inbound one and two sends
			t.Errorf("%d messages stored, want 3", len(ms))
		}
	})

	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		conv := e.ingest(t, tn, "rejects", "x-1", "hola").Conversation
		closed := e.ingest(t, tn, "closer", "x-2", "hola").Conversation
		if _, err := e.svc.Close(ctx, tn.ID, closed.ID); err != nil {
			t.Fatal(err)
		}
		path := fmt.Sprintf("/api/v1/conversations/%d/messages", conv.ID)
		// Just over the text limit, within the body limit.
		long := strings.Repeat("a", conversation.MaxTextBytes+1)
		huge := `{"text":"` + strings.Repeat("a", 1<<20) + `"}`
		for _, tc := range []struct {
			name        string
			path        string
			body        string
			contentType string
			status      int
			code, field string
		}{
			{"closed conversation", fmt.Sprintf("/api/v1/conversations/%d/messages", closed.ID), `{"text":"hola"}`, "", 409, conversation.ECONFLICT, ""},
			{"unknown conversation", "/api/v1/conversations/99999/messages", `{"text":"hola"}`, "", 404, conversation.ENOTFOUND, ""},
			{"contact author", path, `{"text":"hola","author":{"kind":"contact"}}`, "", 400, conversation.EINVALID, "author.kind"},
			{"unknown author", path, `{"text":"hola","author":{"kind":"robot"}}`, "", 400, conversation.EINVALID, "author.kind"},
			{"text and parts", path, `{"text":"hola","parts":[{"type":"text","text":"hola"}]}`, "", 400, conversation.EINVALID, "text"},
			{"neither", path, `{}`, "", 400, conversation.EINVALID, "text"},
			{"blank text", path, `{"text":"   "}`, "", 400, conversation.EINVALID, "text"},
			{"NUL in text", path, `{"text":"a\u0000b"}`, "", 400, conversation.EINVALID, "text"},
			{"unknown field", path, `{"text":"hola","priority":"high"}`, "", 400, conversation.EINVALID, "priority"},
			{"wrong type", path, `{"text":["hola"]}`, "", 400, conversation.EINVALID, "text"},
			{"malformed", path, `{"text":"hola"`, "", 400, conversation.EINVALID, ""},
			{"trailing data", path, `{"text":"hola"} {"text":"again"}`, "", 400, conversation.EINVALID, ""},
			{"trailing bracket", path, `{"text":"hola"}]`, "", 400, conversation.EINVALID, ""},
			{"array body", path, `[{"text":"hola"}]`, "", 400, conversation.EINVALID, ""},
			{"invalid UTF-8", path, "{\"text\":\"caf\xe9\"}", "", 400, conversation.EINVALID, ""},
			{"payload", path, `{"parts":[{"type":"text","text":"x","payload":"p"}]}`, "", 400, conversation.EINVALID, "parts"},
			{"button without title", path, `{"parts":[{"type":"buttons","buttons":[{"id":"a"}]}]}`, "", 400, conversation.EINVALID, "parts[0].buttons[0].title"},
			{"text over the limit", path, `{"text":"` + long + `"}`, "", 413, conversation.ETOOLARGE, "text"},
			{"parts over the limit", path, `{"parts":[{"type":"text","text":"` + long[:conversation.MaxTextBytes/2] + `"},{"type":"text","text":"` + long[:conversation.MaxTextBytes/2+1] + `"}]}`, "", 413, conversation.ETOOLARGE, "parts[1].text"},
			{"text/plain", path, `{"text":"hola"}`, "text/plain", 400, conversation.EINVALID, ""},
			{"negative account", path, `{"text":"hola","account_id":-1}`, "", 400, conversation.EINVALID, "account_id"},
			{"other tenant's account", path, `{"text":"hola","account_id":999}`, "", 404, conversation.ENOTFOUND, ""},
			{"account without identity", path, fmt.Sprintf(`{"text":"hola","account_id":%d}`, tn.webchat.ID), "", 400, conversation.EINVALID, "account_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var hdr []string
				if tc.contentType != "" {
					hdr = []string{"Content-Type", tc.contentType}
				}
				wantError(t, e.do(t, "POST", tc.path, tn.key, rawBody(tc.body), hdr...), tc.status, tc.code, tc.field)
			})
		}
		t.Run("body not an object", func(t *testing.T) {
			for _, body := range []string{`[{"text":"hola"}]`, `"hola"`, `42`} {
				eb := wantError(t, e.do(t, "POST", path, tn.key, rawBody(body)), 400, conversation.EINVALID, "")
				if !strings.Contains(eb.Error.Message, "JSON object") || strings.Contains(eb.Error.Message, "api.") {
					t.Errorf("%s: message %q, want one that asks for a JSON object without naming Go types", body, eb.Error.Message)
				}
			}
		})
		t.Run("body over the limit", func(t *testing.T) {
			eb := wantError(t, e.do(t, "POST", path, tn.key, rawBody(huge)), 413, conversation.ETOOLARGE, "")
			if !strings.Contains(eb.Error.Message, strconv.Itoa(bodyLimit)) {
				t.Errorf("message %q does not state the limit of %d bytes", eb.Error.Message, bodyLimit)
			}
		})
		for _, c := range []int64{conv.ID, closed.ID} {
			ms, _ := e.store.ListMessages(ctx, tn.ID, conversation.MessageFilter{ConversationID: c})
			if len(ms) != 1 {
				t.Errorf("conversation %d has %d messages after rejected sends, want 1", c, len(ms))
			}
		}
	})
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	var complaints []conversation.IngestResult
	for i, text := range []string{
		"Quiero poner una QUEJA, mi pedido no llegó",
		"otra queja: el pedido llegó roto",
		"Queja número tres sobre el pedido",
		"pregunta sobre el horario",
		"Mi PEDIDO llegó tarde, ¡qué queja!",
	} {
		res := e.ingest(t, tn, fmt.Sprintf("s%d", i%2), fmt.Sprintf("q-%d", i), text)
		if strings.Contains(strings.ToLower(text), "queja") {
			complaints = append(complaints, res)
		}
	}
	newestFirst := func(rs []conversation.IngestResult) []int64 {
		out := ids(rs, func(r conversation.IngestResult) int64 { return r.Message.ID })
		slices.Sort(out)
		slices.Reverse(out)
		return out
	}
	allComplaints := newestFirst(complaints)
	var inConv []conversation.IngestResult
	for _, c := range complaints {
		if c.Conversation.ID == complaints[0].Conversation.ID {
			inConv = append(inConv, c)
		}
	}
	var llego []conversation.IngestResult
	for _, c := range complaints {
		if strings.Contains(c.Message.Text(), "lleg") {
			llego = append(llego, c)
		}
	}

	for _, tc := range []struct {
		name, query string
		want        []int64
	}{
		{"lower case", "q=queja", allComplaints},
		{"upper case with accent", "q=" + url.QueryEscape("QUÉJA"), allComplaints},
		{"words without accents", "q=" + url.QueryEscape("llego queja"), newestFirst(llego)},
		{"prefix", "q=quej", allComplaints},
		{"conversation", fmt.Sprintf("q=queja&conversation_id=%d", complaints[0].Conversation.ID), newestFirst(inConv)},
		{"no match", "q=factura", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, limit := range []int{1, 2, 50} {
				var got []int64
				for _, p := range walk[conversation.Message](t, e, tn.key, "/api/v1/messages/search?"+tc.query, limit) {
					got = append(got, ids(p, func(m conversation.Message) int64 { return m.ID })...)
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("limit %d: ids %v, want %v", limit, got, tc.want)
				}
			}
		})
	}
	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ query, field string }{
			{"", "q"},
			{"q=", "q"},
			{"q=" + url.QueryEscape("¡¿!?"), "q"},
			{"q=" + strings.Repeat("a", 501), "q"},
			{"q=queja&cursor=nope", "cursor"},
			{"q=queja&conversation_id=-2", "conversation_id"},
			{"q=queja&limit=1000", "limit"},
		} {
			wantError(t, e.do(t, "GET", "/api/v1/messages/search?"+tc.query, tn.key, nil), 400, conversation.EINVALID, tc.field)
		}
	})
}

type inboundResponse struct {
	Duplicate    bool                       `json:"duplicate"`
	Message      *conversation.Message      `json:"message"`
	Conversation *conversation.Conversation `json:"conversation"`
}

func TestInbound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		noDedup bool
	}{
		{"duplicate found by the fast path", false},
		{"duplicate found by the store", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{noDedup: tc.noDedup})
			tn := e.newTenant(t, "acme", "")
			body := map[string]any{"channel_id": tn.api.ID, "from": "customer-17", "from_name": " Carla ", "id": "ext-1", "text": "hola", "language": "es-CO"}
			created := decode[inboundResponse](t, e.do(t, "POST", "/api/v1/inbound", tn.key, body), http.StatusCreated)
			m, c := created.Message, created.Conversation
			if created.Duplicate || m == nil || c == nil {
				t.Fatalf("response %+v", created)
			}
			if m.Direction != conversation.DirectionIn || m.Status != conversation.StatusReceived || m.ProviderID != "ext-1" ||
				m.ChannelAccountID != tn.api.ID || m.Author.Kind != conversation.AuthorContact || m.ConversationID != c.ID ||
				c.State != conversation.StateBot || c.ContactID != m.ContactID || m.Seq != 1 || c.LastSeq != 1 {
				t.Errorf("message %+v in conversation %+v", m, c)
			}
			contact, err := e.store.Contact(t.Context(), tn.ID, m.ContactID)
			if err != nil {
				t.Fatal(err)
			}
			if contact.Name != "Carla" || contact.Language != "es" || len(contact.Identities) != 1 ||
				contact.Identities[0] != (conversation.Identity{Channel: conversation.ChannelAPI, Address: "customer-17"}) {
				t.Errorf("contact %+v", contact)
			}
			stored, err := e.store.Message(t.Context(), tn.ID, m.ID)
			if err != nil || !jsonEqual(t, stored, *m) {
				t.Errorf("stored %+v (%v), answered %+v", stored, err, m)
			}

			dup := decode[inboundResponse](t, e.do(t, "POST", "/api/v1/inbound", tn.key, body), http.StatusOK)
			if !dup.Duplicate || dup.Conversation != nil {
				t.Errorf("duplicate response %+v", dup)
			}
			if dup.Message != nil && !jsonEqual(t, dup.Message, m) {
				t.Errorf("duplicate's message %+v, want the stored %+v", dup.Message, m)
			}
			if tc.noDedup && dup.Message == nil {
				t.Error("the store found the duplicate, but the response does not show the stored message")
			}
			ms, _ := e.store.ListMessages(t.Context(), tn.ID, conversation.MessageFilter{})
			if len(ms) != 1 {
				t.Errorf("%d messages stored, want 1", len(ms))
			}
		})
	}

	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		tn := e.newTenant(t, "acme", "")
		disabled := tn.api
		disabled.Key, disabled.Disabled = "acme-disabled", true
		disabled.ID = 0
		disabled, err := e.store.CreateChannelAccount(t.Context(), disabled)
		if err != nil {
			t.Fatal(err)
		}
		ok := func(mod func(m map[string]any)) map[string]any {
			m := map[string]any{"channel_id": tn.api.ID, "from": "customer-1", "id": "ext-9", "text": "hola"}
			mod(m)
			return m
		}
		for _, tc := range []struct {
			name        string
			body        any
			status      int
			code, field string
		}{
			{"webchat channel", ok(func(m map[string]any) { m["channel_id"] = tn.webchat.ID }), 400, conversation.EINVALID, "channel_id"},
			{"no channel", ok(func(m map[string]any) { delete(m, "channel_id") }), 400, conversation.EINVALID, "channel_id"},
			{"unknown channel", ok(func(m map[string]any) { m["channel_id"] = 98765 }), 404, conversation.ENOTFOUND, ""},
			{"disabled channel", ok(func(m map[string]any) { m["channel_id"] = disabled.ID }), 403, conversation.EFORBIDDEN, ""},
			{"no from", ok(func(m map[string]any) { delete(m, "from") }), 400, conversation.EINVALID, "from"},
			{"bad from", ok(func(m map[string]any) { m["from"] = "has spaces" }), 400, conversation.EINVALID, "from"},
			{"no id", ok(func(m map[string]any) { delete(m, "id") }), 400, conversation.EINVALID, "id"},
			{"id with control characters", ok(func(m map[string]any) { m["id"] = "a\nb" }), 400, conversation.EINVALID, "id"},
			{"no text", ok(func(m map[string]any) { delete(m, "text") }), 400, conversation.EINVALID, "text"},
			{"blank text", ok(func(m map[string]any) { m["text"] = " \n " }), 400, conversation.EINVALID, "text"},
			{"text and parts", ok(func(m map[string]any) { m["parts"] = []any{map[string]any{"type": "text", "text": "x"}} }), 400, conversation.EINVALID, "text"},
			{"bad language", ok(func(m map[string]any) { m["language"] = "??" }), 400, conversation.EINVALID, "language"},
			{"unknown field", ok(func(m map[string]any) { m["channel"] = "api" }), 400, conversation.EINVALID, "channel"},
			{"bad received_at", ok(func(m map[string]any) { m["received_at"] = "yesterday" }), 400, conversation.EINVALID, ""},
			{"future received_at", ok(func(m map[string]any) { m["received_at"] = time.Now().Add(time.Hour) }), 400, conversation.EINVALID, "received_at"},
			{"text over the limit", ok(func(m map[string]any) { m["text"] = strings.Repeat("é", conversation.MaxTextBytes/2+1) }), 413, conversation.ETOOLARGE, "text"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, e.do(t, "POST", "/api/v1/inbound", tn.key, tc.body), tc.status, tc.code, tc.field)
			})
		}
		if ms, _ := e.store.ListMessages(t.Context(), tn.ID, conversation.MessageFilter{}); len(ms) != 0 {
			t.Errorf("%d messages stored by rejected requests", len(ms))
		}
		// A past received_at is when the message was written.
		at := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		res := decode[inboundResponse](t, e.do(t, "POST", "/api/v1/inbound", tn.key, ok(func(m map[string]any) { m["received_at"] = at })), http.StatusCreated)
		if !res.Message.CreatedAt.Equal(at) || !res.Conversation.LastMessageAt.Equal(at) {
			t.Errorf("created_at %v, last_message_at %v, want %v", res.Message.CreatedAt, res.Conversation.LastMessageAt, at)
		}
	})
}

// webhook is a tenant's system receiving replies on its api channel.
type webhook struct {
	srv      *httptest.Server
	received chan apichannel.Webhook
	bad      atomic.Int32 // posts with a bad signature
}

func newWebhook(t *testing.T, secret func() string) *webhook {
	wh := &webhook{received: make(chan apichannel.Webhook, 16)}
	wh.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if err := apichannel.Verify([]byte(secret()), r.Header.Get(apichannel.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			wh.bad.Add(1)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var hook apichannel.Webhook
		if err := json.Unmarshal(body, &hook); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		wh.received <- hook
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(wh.srv.Close)
	return wh
}

// TestInboundBotRepliesOnWebhook follows a message end to end: posted to
// /inbound, routed to the demo bot, whose reply is delivered to the api
// channel's webhook with a valid signature and then marked delivered.
func TestInboundBotRepliesOnWebhook(t *testing.T) {
	t.Parallel()
	reg, err := channels.NewRegistry(apichannel.New(apichannel.Config{AllowPrivate: true}))
	if err != nil {
		t.Fatal(err)
	}
	var secret atomic.Value
	wh := newWebhook(t, func() string { return secret.Load().(string) })
	e := newEnv(t, envOptions{engine: true, sender: reg})
	tn := e.newTenant(t, "acme", wh.srv.URL+"/hooks/conversa")
	secret.Store(tn.secret)

	created := decode[inboundResponse](t, e.do(t, "POST", "/api/v1/inbound", tn.key,
		map[string]any{"channel_id": tn.api.ID, "from": "user-77", "id": "ext-100", "text": "hola, buenos días"}), http.StatusCreated)

	var hook apichannel.Webhook
	select {
	case hook = <-wh.received:
	case <-time.After(waitFor):
		t.Fatalf("no reply reached the webhook in %v (%d badly signed posts)", waitFor, wh.bad.Load())
	}
	if wh.bad.Load() != 0 {
		t.Errorf("%d posts with a bad signature", wh.bad.Load())
	}

	// The reply is the built-in bot's greeting (the tenant trained none).
	m := hook.Message
	if hook.Event != "message" || hook.To != "user-77" || m.ConversationID != created.Conversation.ID ||
		m.Direction != conversation.DirectionOut || m.Author.Kind != conversation.AuthorBot || m.ChannelAccountID != tn.api.ID {
		t.Errorf("webhook %+v", hook)
	}
	if want := []conversation.Part{conversation.TextPart("¡Hola! ¿En qué te puedo ayudar?")}; !jsonEqual(t, m.Parts, want) {
		t.Errorf("reply parts %+v, want the built-in greeting %+v", m.Parts, want)
	}

	// The API shows the reply, delivered, after the inbound message.
	deadline := time.Now().Add(waitFor)
	for {
		pg := decode[page[conversation.Message]](t, e.do(t, "GET", fmt.Sprintf("/api/v1/conversations/%d/messages", created.Conversation.ID), tn.key, nil), http.StatusOK)
		if len(pg.Data) == 2 && pg.Data[1].ID == m.ID && pg.Data[1].Status == conversation.StatusDelivered {
			if pg.Data[0].ID != created.Message.ID {
				t.Errorf("first message %d, want the inbound %d", pg.Data[0].ID, created.Message.ID)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("messages %+v: want the inbound one and the delivered reply", pg.Data)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case extra := <-wh.received:
		t.Errorf("a second webhook post: %+v", extra)
	default:
	}
}

func TestTyping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "other", "")
	conv := e.ingest(t, tn, "typist", "t-1", "hola").Conversation
	sub, err := e.shared.Subscribe(t.Context(), conversation.TenantTopic(tn.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	otherSub, err := e.shared.Subscribe(t.Context(), conversation.TenantTopic(other.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer otherSub.Close()

	for _, on := range []bool{true, false} {
		r := e.do(t, "POST", fmt.Sprintf("/api/v1/conversations/%d/typing", conv.ID), tn.key, map[string]any{"on": on, "author_name": " Laura "})
		if r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("status %d body %q, want 204 and no body", r.status, r.body)
		}
		select {
		case msg := <-sub.C():
			var ev conversation.Event
			if err := json.Unmarshal(msg.Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type != conversation.EventTyping || ev.TenantID != tn.ID || ev.ConversationID != conv.ID || ev.ContactID != conv.ContactID ||
				ev.Typing == nil || ev.Typing.On != on || ev.Typing.Author != (conversation.Author{Kind: conversation.AuthorAgent, Name: "Laura"}) {
				t.Errorf("event %s", msg.Payload)
			}
		case <-time.After(waitFor):
			t.Fatal("no typing event")
		}
	}
	wantError(t, e.do(t, "POST", "/api/v1/conversations/4444/typing", tn.key, map[string]any{"on": true}), 404, conversation.ENOTFOUND, "")
	wantError(t, e.do(t, "POST", fmt.Sprintf("/api/v1/conversations/%d/typing", conv.ID), tn.key, map[string]any{"on": "yes"}), 400, conversation.EINVALID, "on")
	wantError(t, e.do(t, "POST", fmt.Sprintf("/api/v1/conversations/%d/typing", conv.ID), tn.key, map[string]any{"on": true, "author_name": strings.Repeat("x", conversation.MaxNameLength+1)}), 400, conversation.EINVALID, "author_name")
	wantError(t, e.do(t, "POST", fmt.Sprintf("/api/v1/conversations/%d/typing", conv.ID), tn.key, rawBody(`{"on":true,"author_name":"a\u0000"}`)), 400, conversation.EINVALID, "author_name")
	select {
	case msg := <-otherSub.C():
		t.Errorf("another tenant got an event: %s", msg.Payload)
	case msg := <-sub.C():
		t.Errorf("a rejected request published %s", msg.Payload)
	default:
	}
}

// sse is an open event stream.
type sse struct {
	resp  *http.Response
	lines chan string
}

// openEvents connects to the event stream and waits until it is live.
func (e *env) openEvents(t *testing.T, key, query string) *sse {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, Content-Type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	s := &sse{resp: resp, lines: make(chan string, 64)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
	}()
	// The stream's first line is sent after it subscribed.
	if l, ok := s.next(t); !ok || !strings.HasPrefix(l, "retry:") {
		t.Fatalf("first line %q, want retry:", l)
	}
	return s
}

func (s *sse) next(t *testing.T) (string, bool) {
	t.Helper()
	select {
	case l, ok := <-s.lines:
		return l, ok
	case <-time.After(waitFor):
		t.Fatal("the event stream is silent")
		return "", false
	}
}

// event reads the next event, skipping comments.
func (s *sse) event(t *testing.T) (string, conversation.Event) {
	t.Helper()
	var name, data string
	for {
		l, ok := s.next(t)
		if !ok {
			t.Fatal("the event stream ended")
		}
		switch {
		case l == "" && name != "":
			var ev conversation.Event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("event data %q: %v", data, err)
			}
			return name, ev
		case strings.HasPrefix(l, "event: "):
			name = strings.TrimPrefix(l, "event: ")
		case strings.HasPrefix(l, "data: "):
			data = strings.TrimPrefix(l, "data: ")
		}
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: api.Config{Heartbeat: 20 * time.Millisecond}})
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "other", "")
	c1 := e.ingest(t, tn, "one", "e-1", "hola").Conversation
	c2 := e.ingest(t, tn, "two", "e-2", "hola").Conversation
	oc := e.ingest(t, other, "x", "o-1", "hola").Conversation
	send := func(t *testing.T, key string, conv int64, text string) conversation.Message {
		return decode[conversation.Message](t, e.do(t, "POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), key, map[string]string{"text": text}), http.StatusCreated)
	}

	t.Run("all of the tenant", func(t *testing.T) {
		s := e.openEvents(t, tn.key, "")
		send(t, other.key, oc.ID, "not for acme")
		m := send(t, tn.key, c1.ID, "uno")
		name, ev := s.event(t)
		if name != string(conversation.EventMessageCreated) || ev.Type != conversation.EventMessageCreated || ev.Message == nil || !jsonEqual(t, *ev.Message, m) {
			t.Fatalf("event %s %+v, want message.created of %+v", name, ev, m)
		}
		res := e.ingest(t, tn, "two", "e-3", "otra")
		name, ev = s.event(t)
		if name != string(conversation.EventMessageCreated) || ev.Message == nil || ev.Message.ID != res.Message.ID {
			t.Fatalf("event %s %+v, want message.created of the inbound %d", name, ev, res.Message.ID)
		}
	})

	t.Run("one conversation", func(t *testing.T) {
		s := e.openEvents(t, tn.key, fmt.Sprintf("?conversation_id=%d", c2.ID))
		send(t, tn.key, c1.ID, "a otra conversación")
		m := send(t, tn.key, c2.ID, "dos")
		name, ev := s.event(t)
		if name != string(conversation.EventMessageCreated) || ev.ConversationID != c2.ID || ev.Message == nil || ev.Message.ID != m.ID {
			t.Fatalf("event %s %+v, want message.created of %d in conversation %d", name, ev, m.ID, c2.ID)
		}
	})

	t.Run("heartbeat", func(t *testing.T) {
		s := e.openEvents(t, tn.key, "")
		for {
			l, ok := s.next(t)
			if !ok {
				t.Fatal("the stream ended")
			}
			if strings.HasPrefix(l, ":") {
				break
			}
		}
	})

	t.Run("bad filter", func(t *testing.T) {
		wantError(t, e.do(t, "GET", "/api/v1/events?conversation_id=abc", tn.key, nil), 400, conversation.EINVALID, "conversation_id")
	})
}

func TestEventsEndWhenRunStops(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	streams := []*sse{e.openEvents(t, tn.key, ""), e.openEvents(t, tn.key, "?conversation_id=1")}
	e.stopAPI()
	select {
	case err := <-e.runDone:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Run did not return")
	}
	for i, s := range streams {
		deadline := time.After(waitFor)
	read:
		for {
			select {
			case _, ok := <-s.lines:
				if !ok {
					break read
				}
			case <-deadline:
				t.Fatalf("stream %d still open after Run stopped", i)
			}
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	const limit = 3
	e := newEnv(t, envOptions{cfg: api.Config{RequestsPerMinute: limit}})
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "other", "")
	for i := range limit {
		if r := e.do(t, "GET", "/api/v1/contacts", tn.key, nil); r.status != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, r.status)
		}
	}
	r := e.do(t, "GET", "/api/v1/contacts", tn.key, nil)
	wantError(t, r, http.StatusTooManyRequests, conversation.ERATELIMIT, "")
	retry, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 60 {
		t.Errorf("Retry-After %q, want 1 to 60 seconds", r.header.Get("Retry-After"))
	}
	if r := e.do(t, "GET", "/api/v1/contacts", other.key, nil); r.status != http.StatusOK {
		t.Errorf("another key was limited too: status %d", r.status)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	for _, tc := range []struct{ method, path, key string }{
		{"GET", "/api/v1/nothing", tn.key},
		{"GET", "/api/v2/contacts", ""},
		{"DELETE", "/api/v1/contacts/1/x", tn.key},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			t.Parallel()
			eb := wantError(t, e.do(t, tc.method, tc.path, tc.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
			if !strings.Contains(eb.Error.Message, tc.path) {
				t.Errorf("message %q does not name the path", eb.Error.Message)
			}
		})
	}
}

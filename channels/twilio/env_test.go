package twilio

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/bot"
	"conversa/channels"
	"conversa/conversation"
	"conversa/storage/media"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// Test credentials: twilio-go takes only alphanumeric ones.
const (
	testAccountSID = "AC0123456789abcdef0123456789abcdef"
	testAuthToken  = "5ad1c0ffee5ad1c0ffee5ad1c0ffee00"
	testPublicURL  = "https://conversa.example.com"
	smsNumber      = "+15017122661"
	waNumber       = "+14155238886"
	customer       = "+573001234567"
	// templateSID is an approved WhatsApp template of the tests.
	templateSID = "HX0123456789abcdef0123456789abcdef"
)

// fakeTwilio is Twilio's REST API as far as the channel uses it: the
// Messages resource (recording what it is sent) and media files behind
// Basic auth that redirect to a CDN, in Twilio's documented wire format.
type fakeTwilio struct {
	t   *testing.T
	srv *httptest.Server

	mu    sync.Mutex
	sent  []url.Values
	calls int
	// respond, if set, answers the nth call (from 1) to the Messages
	// resource instead of accepting it: a status, a body, a Retry-After.
	respond func(n int) (status int, body, retryAfter string)
	// hang makes the Messages resource never answer.
	hang bool
	// beforeAnswer runs with an accepted message before the answer.
	beforeAnswer func(form url.Values, sid string)
	files        map[string]fakeFile
	received     chan url.Values
}

type fakeFile struct {
	contentType string
	data        []byte
}

func newFakeTwilio(t *testing.T) *fakeTwilio {
	f := &fakeTwilio{t: t, files: map[string]fakeFile{}, received: make(chan url.Values, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{account}/Messages.json", f.messages)
	mux.HandleFunc("GET /2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}", f.media)
	mux.HandleFunc("GET /cdn/{media}", f.cdn)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTwilio) twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status})
}

func (f *fakeTwilio) messages(w http.ResponseWriter, r *http.Request) {
	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth || user != testAccountSID || pass != testAuthToken || r.PathValue("account") != testAccountSID {
		f.twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if err := r.ParseForm(); err != nil {
		f.twilioError(w, http.StatusBadRequest, 21000, "bad form")
		return
	}
	f.mu.Lock()
	f.calls++
	n, respond, hang := f.calls, f.respond, f.hang
	f.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	if respond != nil {
		if status, body, after := respond(n); status != 0 {
			if after != "" {
				w.Header().Set("Retry-After", after)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
	}
	sid := fmt.Sprintf("SM%032x", n)
	if f.beforeAnswer != nil {
		f.beforeAnswer(r.PostForm, sid)
	}
	f.mu.Lock()
	f.sent = append(f.sent, r.PostForm)
	f.mu.Unlock()
	f.received <- r.PostForm
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"sid": sid, "account_sid": testAccountSID, "status": "queued", "direction": "outbound-api",
		"to": r.PostForm.Get("To"), "from": r.PostForm.Get("From"), "body": r.PostForm.Get("Body"),
		"num_media": fmt.Sprint(len(r.PostForm["MediaUrl"])), "api_version": "2010-04-01",
		"uri": "/2010-04-01/Accounts/" + testAccountSID + "/Messages/" + sid + ".json",
	})
}

func (f *fakeTwilio) media(w http.ResponseWriter, r *http.Request) {
	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth || user != testAccountSID || pass != testAuthToken {
		f.twilioError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if _, exists := f.files[r.PathValue("media")]; !exists {
		f.twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	http.Redirect(w, r, "/cdn/"+r.PathValue("media"), http.StatusTemporaryRedirect)
}

func (f *fakeTwilio) cdn(w http.ResponseWriter, r *http.Request) {
	file, exists := f.files[r.PathValue("media")]
	if !exists {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", file.contentType)
	w.Write(file.data)
}

// addFile serves a file of a message and returns its Twilio URL.
func (f *fakeTwilio) addFile(messageSID, id, contentType string, data []byte) string {
	f.files[id] = fakeFile{contentType: contentType, data: data}
	return f.srv.URL + "/2010-04-01/Accounts/" + testAccountSID + "/Messages/" + messageSID + "/Media/" + id
}

func (f *fakeTwilio) sentForms() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

func (f *fakeTwilio) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// next waits for the next message Twilio accepted.
func (f *fakeTwilio) next(ctx context.Context) (url.Values, error) {
	select {
	case v := <-f.received:
		return v, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no message reached Twilio: %w", ctx.Err())
	}
}

// envOptions tune a test environment.
type envOptions struct {
	cfg Config
	// engine answers with the built-in dialogue engine.
	engine bool
	// sms and whatsapp are extra settings of the two accounts.
	sms, whatsapp map[string]string
}

// env is a deployment of one node: the SQLite store, in-process shared
// state, the conversation service with its worker, the media store, the
// Twilio channels behind an httptest server, and a fake Twilio.
type env struct {
	t      *testing.T
	store  *sqlite.Store
	svc    *conversation.Service
	media  *media.Dir
	tw     *Twilio
	twilio *fakeTwilio
	srv    *httptest.Server
	logs   *syncBuffer
	tenant conversation.Tenant
	sms    conversation.ChannelAccount
	wa     conversation.ChannelAccount
}

func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	shared := memory.New()
	worker, err := conversation.NewWorker(store, conversation.WorkerConfig{
		Concurrency: 4, PollInterval: 20 * time.Millisecond, RetryBase: 5 * time.Millisecond, RetryMax: 10 * time.Millisecond, DrainTimeout: 2 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b conversation.Bot
	if opts.engine {
		b = bot.NewEngine(store, store, store, bot.Config{})
	}
	var registry *channels.Registry
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{
		Store: store, Bus: shared, Dedup: shared, Bot: b,
		Sender: senderFunc(func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
			return registry.Send(ctx, d)
		}),
		JobsAdded: worker.Wake,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir, err := media.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, svc: svc, media: dir, twilio: newFakeTwilio(t), logs: &syncBuffer{}}
	cfg := opts.cfg
	cfg.PublicURL = testPublicURL
	if cfg.APIBaseURL == "" {
		cfg.APIBaseURL = e.twilio.srv.URL
	}
	cfg.Logger = slog.New(slog.NewTextHandler(e.logs, nil))
	if e.tw, err = New(cfg, svc, dir); err != nil {
		t.Fatal(err)
	}
	if registry, err = channels.NewRegistry(e.tw.SMS(), e.tw.WhatsApp()); err != nil {
		t.Fatal(err)
	}
	worker.Handle(conversation.JobRoute, svc.RouteJob)
	worker.Handle(conversation.JobDeliver, svc.DeliverJob)
	mux := http.NewServeMux()
	registry.Routes(mux) // both channels: the routes are registered once
	e.srv = httptest.NewServer(mux)

	workCtx, stopWork := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := worker.Run(workCtx); err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	t.Cleanup(func() {
		stopWork()
		wg.Wait()
		e.srv.Close()
		store.Close()
	})

	tn := conversation.Tenant{Slug: "acme", Name: "ACME"}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.tenant, err = store.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	e.sms = e.createAccount(conversation.ChannelSMS, smsNumber, opts.sms)
	e.wa = e.createAccount(conversation.ChannelWhatsApp, waNumber, opts.whatsapp)
	return e
}

type senderFunc func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error)

func (f senderFunc) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	return f(ctx, d)
}

func baseSettings(extra map[string]string) map[string]string {
	s := map[string]string{SettingAccountSID: testAccountSID, SettingAuthToken: testAuthToken}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// createAccount stores an account, validated as the admin API does.
func (e *env) createAccount(kind conversation.ChannelKind, number string, extra map[string]string) conversation.ChannelAccount {
	e.t.Helper()
	a := conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: kind, Key: number, Name: string(kind), Settings: baseSettings(extra)}
	if err := a.Validate(); err != nil {
		e.t.Fatal(err)
	}
	ch := e.tw.SMS()
	if kind == conversation.ChannelWhatsApp {
		ch = e.tw.WhatsApp()
	}
	if err := ch.ValidateAccount(&a); err != nil {
		e.t.Fatal(err)
	}
	a, err := e.store.CreateChannelAccount(e.t.Context(), a)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// sign computes Twilio's X-Twilio-Signature of a POST: HMAC-SHA1 with the
// auth token over the URL followed by each parameter's name and value, in
// name order, in base64.
func sign(token, u string, form url.Values) string {
	mac := hmac.New(sha1.New, []byte(token))
	io.WriteString(mac, u)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range form {
			if !yield(k) {
				return
			}
		}
	}) {
		io.WriteString(mac, k+form.Get(k))
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// post sends a webhook as Twilio does, signed for the public URL of
// pathQuery with the test auth token unless signature is given.
func (e *env) post(pathQuery string, form url.Values, signature ...string) (int, string) {
	e.t.Helper()
	sig := sign(testAuthToken, testPublicURL+pathQuery, form)
	if len(signature) > 0 {
		sig = signature[0]
	}
	return e.postRaw(pathQuery, "application/x-www-form-urlencoded", form.Encode(), sig)
}

func (e *env) postRaw(pathQuery, contentType, body, sig string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.srv.URL+pathQuery, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	req.Header.Set("I-Twilio-Idempotency-Token", "test")
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// inboundForm is Twilio's incoming-message webhook for a message from the
// customer to number (with "whatsapp:" for WhatsApp).
func inboundForm(kind conversation.ChannelKind, sid, body string) url.Values {
	prefix, to := "", smsNumber
	if kind == conversation.ChannelWhatsApp {
		prefix, to = "whatsapp:", waNumber
	}
	f := url.Values{
		"MessageSid": {sid}, "SmsMessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {testAccountSID},
		"From": {prefix + customer}, "To": {prefix + to}, "Body": {body}, "NumMedia": {"0"},
		"NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
	}
	if kind == conversation.ChannelWhatsApp {
		f.Set("ProfileName", "Ana María")
		f.Set("WaId", strings.TrimPrefix(customer, "+"))
		f.Set("MessageType", "text")
	} else {
		f.Set("FromCountry", "CO")
	}
	return f
}

// sid returns a message sid of the tests.
func sid(n int) string { return fmt.Sprintf("SM%032x", 0xabc000+n) }

// messages returns the stored messages of the tenant's account.
func (e *env) messages(acct conversation.ChannelAccount) []conversation.Message {
	e.t.Helper()
	ms, err := e.store.ListMessages(e.t.Context(), e.tenant.ID, conversation.MessageFilter{AccountID: acct.ID, Limit: conversation.MaxLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

// contact returns the customer's contact.
func (e *env) contact(kind conversation.ChannelKind) conversation.Contact {
	e.t.Helper()
	c, err := e.store.ContactByIdentity(e.t.Context(), e.tenant.ID, conversation.Identity{Channel: kind, Address: customer})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// reply sends text to the customer's conversation as an agent, through the
// account; the worker delivers it.
func (e *env) reply(acct conversation.ChannelAccount, text string, parts ...conversation.Part) conversation.Message {
	e.t.Helper()
	convs, err := e.store.ListConversations(e.t.Context(), e.tenant.ID, conversation.ConversationFilter{ContactID: e.contact(acct.Kind).ID})
	if err != nil || len(convs) == 0 {
		e.t.Fatalf("the customer's conversation: %v", err)
	}
	if text != "" {
		parts = append([]conversation.Part{conversation.TextPart(text)}, parts...)
	}
	res, err := e.svc.Send(e.t.Context(), conversation.Outbound{
		TenantID: e.tenant.ID, ConversationID: convs[0].ID, AccountID: acct.ID,
		Author: conversation.Author{Kind: conversation.AuthorAgent, ID: 7, Name: "Ana"}, Parts: parts,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return res[0].Message
}

// waitMessage waits until the stored message satisfies cond.
func (e *env) waitMessage(id int64, what string, cond func(conversation.Message) bool) conversation.Message {
	e.t.Helper()
	var m conversation.Message
	waitFor(e.t, what, func() bool {
		var err error
		if m, err = e.store.Message(e.t.Context(), e.tenant.ID, id); err != nil {
			e.t.Fatal(err)
		}
		return cond(m)
	})
	return m
}

// waitStatus waits until the stored message reaches status.
func (e *env) waitStatus(id int64, status conversation.Status) conversation.Message {
	e.t.Helper()
	return e.waitMessage(id, fmt.Sprintf("message %d to be %s", id, status), func(m conversation.Message) bool { return m.Status == status })
}

// idle waits until no job is left: every route and delivery has run.
func (e *env) idle() {
	e.t.Helper()
	waitFor(e.t, "no jobs left", func() bool {
		counts, err := e.store.JobCounts(e.t.Context())
		if err != nil {
			e.t.Fatal(err)
		}
		for _, c := range counts {
			if c.State != conversation.JobFailed && c.Count > 0 {
				return false
			}
		}
		return true
	})
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

// syncBuffer collects log lines from concurrent writers.
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

// sleep waits a moment between polls, or returns ctx's error.
func sleep(ctx context.Context) error {
	t := time.NewTimer(5 * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

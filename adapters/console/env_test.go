package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"conversa/adapters/console"
	"conversa/billing"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/reports"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// env is the console on the real SQLite store, the real conversation
// service and router, and in-process shared state, served over HTTP, with
// two tenants.
type env struct {
	store   *sqlite.Store
	shared  *memory.Shared
	svc     *conversation.Service
	router  *handoff.Router
	console *console.Console
	billing *billing.Service
	srv     *httptest.Server
	tenant  conversation.Tenant
	other   conversation.Tenant
	n       int
}

const password = "correct horse battery"

func newEnv(t *testing.T, cfg console.Config) *env {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	must(t, err)
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, shared: memory.New()}
	e.svc, err = conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: e.shared, Dedup: e.shared})
	must(t, err)
	e.router = handoff.NewRouter(store, e.svc, store, handoff.RouterConfig{Bus: e.shared})
	// Billing's clock is November 5, 2026: October is over.
	e.billing, err = billing.New(store, store, billing.Config{Now: func() time.Time { return time.Date(2026, 11, 5, 17, 0, 0, 0, time.UTC) }})
	must(t, err)
	e.console, err = console.New(cfg, console.Deps{Console: store, Service: e.svc, Store: store, Router: e.router, Routing: store, Bus: e.shared, Limiter: e.shared, Views: handoff.NewViews(store),
		Reports: reports.NewService(store), Billing: e.billing})
	must(t, err)
	mux := http.NewServeMux()
	e.console.Routes(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	runCtx, cancel := context.WithCancel(context.Background())
	go e.console.Run(runCtx)
	t.Cleanup(cancel)
	e.tenant = e.newTenant(t, "acme")
	e.other = e.newTenant(t, "rival")
	return e
}

func (e *env) newTenant(t *testing.T, slug string) conversation.Tenant {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: "Tenant " + slug, Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	must(t, tn.Validate())
	tn, err := e.store.CreateTenant(t.Context(), tn)
	must(t, err)
	_, err = e.store.CreateChannelAccount(t.Context(), conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelAPI, Key: slug + "-crm"})
	must(t, err)
	return tn
}

// conversation opens a conversation of a new contact named name by
// ingesting text.
func (e *env) conversation(t *testing.T, tn conversation.Tenant, name, text string) conversation.Conversation {
	t.Helper()
	e.n++
	from := fmt.Sprintf("user-%d", e.n)
	res, err := e.svc.Ingest(t.Context(), conversation.Inbound{Channel: conversation.ChannelAPI, Account: tn.Slug + "-crm", From: from,
		ProviderID: from + ":1", Parts: []conversation.Part{conversation.TextPart(text)}})
	must(t, err)
	_, err = e.store.UpdateContact(t.Context(), tn.ID, res.Conversation.ContactID, conversation.ContactUpdate{Name: &name})
	must(t, err)
	return res.Conversation
}

// say ingests another message of the conversation's contact.
func (e *env) say(t *testing.T, tn conversation.Tenant, conv conversation.Conversation, text string) {
	t.Helper()
	c, err := e.store.Contact(t.Context(), tn.ID, conv.ContactID)
	must(t, err)
	e.n++
	_, err = e.svc.Ingest(t.Context(), conversation.Inbound{Channel: conversation.ChannelAPI, Account: tn.Slug + "-crm", From: c.Identities[0].Address,
		ProviderID: fmt.Sprintf("m-%d", e.n), Parts: []conversation.Part{conversation.TextPart(text)}})
	must(t, err)
}

func (e *env) agent(t *testing.T, tn conversation.Tenant, name string, role handoff.Role) handoff.Agent {
	t.Helper()
	a, err := e.router.CreateAgent(t.Context(), handoff.Agent{TenantID: tn.ID, Name: name, Email: strings.ToLower(strings.Fields(name)[0]) + "@example.com", Capacity: 3, Role: role})
	must(t, err)
	hash, err := handoff.HashPassword(password)
	must(t, err)
	must(t, e.store.SetPassword(t.Context(), tn.ID, a.ID, hash))
	return a
}

func (e *env) queue(t *testing.T, tn conversation.Tenant, name string) handoff.Queue {
	t.Helper()
	q, err := e.router.CreateQueue(t.Context(), handoff.Queue{TenantID: tn.ID, Name: name, Strategy: handoff.StrategyManual})
	must(t, err)
	return q
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, logged in or not.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser(t *testing.T) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// session starts a session of a without the login form, cheaply.
func (e *env) session(t *testing.T, a handoff.Agent) *browser {
	t.Helper()
	token, s, err := handoff.NewSession(a.TenantID, a.ID, time.Now(), time.Hour)
	must(t, err)
	must(t, e.store.CreateAgentSession(t.Context(), s))
	b := e.browser(t)
	u, _ := url.Parse(e.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "conversa_session", Value: token, Path: "/"}})
	b.csrf = s.CSRF
	return b
}

var (
	loginTokenRE = regexp.MustCompile(`name="login_token" value="([^"]+)"`)
	csrfRE       = regexp.MustCompile(`data-csrf="([^"]*)"`)
)

// login logs in through the form.
func (b *browser) login(t *testing.T, email, pw string, extra ...string) *http.Response {
	t.Helper()
	_, body := b.get(t, "/console/login")
	m := loginTokenRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no login token in %s", body)
	}
	form := url.Values{"login_token": {m[1]}, "email": {email}, "password": {pw}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	resp := b.post(t, "/console/login", form, false)
	if resp.StatusCode == http.StatusSeeOther {
		_, page := b.get(t, "/console/")
		if m := csrfRE.FindStringSubmatch(page); m != nil {
			b.csrf = m[1]
		}
	}
	return resp
}

func (b *browser) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := b.c.Do(req)
	must(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(t, req)
}

// post sends a form, with the session's CSRF token when withCSRF.
func (b *browser) post(t *testing.T, path string, form url.Values, withCSRF bool) *http.Response {
	t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if withCSRF {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.srv.URL)
	resp, _ := b.do(t, req)
	return resp
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func context5s(t *testing.T) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), 5*time.Second)
}

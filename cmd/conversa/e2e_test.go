package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"conversa/adapters/api"
	"conversa/conversation"
)

// syncBuffer is a bytes.Buffer safe to read while the program writes it.
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

// serving is "conversa serve" running in-process.
type serving struct {
	out  *syncBuffer
	url  string
	stop func() error
}

// serve runs "conversa serve" with args until the test ends, and waits
// until it listens.
func serve(t *testing.T, env map[string]string, args ...string) *serving {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), environment{
			getenv: func(k string) string { return env[k] }, environ: environ,
			stdout: out, stderr: io.Discard,
		})
	}()
	s := &serving{out: out}
	var once sync.Once
	var err error
	s.stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { s.stop() })
	re := regexp.MustCompile(`running on (http://\S+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case err := <-done:
			t.Fatalf("serve stopped before listening: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not start within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// demoKey returns the demo API key a first start prints, after the line
// serve waits for.
func (s *serving) demoKey(t *testing.T) string {
	t.Helper()
	re := regexp.MustCompile(`cnv_[A-Za-z0-9_-]+`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if key := re.FindString(s.out.String()); key != "" {
			return key
		}
		if time.Now().After(deadline) {
			t.Fatalf("no demo API key printed:\n%s", s.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, url string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}
	s := serve(t, env, "--demo")
	key := s.demoKey(t) // the banner's last part
	out := s.out.String()
	for _, want := range []string{s.url + "/webchat/demo?channel=demo-web", s.url + "/healthz", s.url + "/readyz", s.url + "/api/"} {
		if !strings.Contains(out, want) {
			t.Errorf("the banner lacks %s:\n%s", want, out)
		}
	}
	if code, _, body := get(t, s.url+"/webchat/demo?channel=demo-web"); code != 200 || !strings.Contains(body, `src="/webchat/widget.js" data-channel="demo-web"`) {
		t.Fatalf("demo page: %d\n%s", code, body)
	}
	if code, _, body := get(t, s.url+"/webchat/demo?channel=demo-web&lang=en"); code != 200 || !strings.Contains(body, `<html lang="en">`) {
		t.Fatalf("English demo page: %d", code)
	}
	if code, _, body := get(t, s.url+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, _, body := get(t, s.url+"/readyz"); code != 200 || !strings.Contains(body, `"store":"ok"`) {
		t.Fatalf("readyz: %d %s", code, body)
	}
	if code, _, body := get(t, s.url+"/api/v1/channels", "Authorization", "Bearer "+key); code != 200 || !strings.Contains(body, "demo-web") {
		t.Fatalf("the printed key does not work: %d %s", code, body)
	}
	if code, _, _ := get(t, s.url+"/"); code != 200 {
		t.Fatalf("index: %d", code)
	}
	// The email channel's unsubscribe links are mounted; a forged one is refused.
	if code, _, body := get(t, s.url+"/channels/email/unsubscribe/1.1.1.survey.0123456789abcdef0123456789abcdef"); code != 404 || !strings.Contains(body, "Invalid link") {
		t.Fatalf("forged unsubscribe link: %d %s", code, body)
	}
	// The template routes reach the template service on the node's store.
	tpl := "purpose: survey\nvariables:\n  name: {sample: Ana}\nvariants:\n  - {channel: default, language: es, text: \"Hola {{.name}}\"}\n"
	req, _ := http.NewRequest("PUT", s.url+"/api/v1/templates/survey", strings.NewReader(tpl))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("save a template: status %d", resp.StatusCode)
	}
	if code, _, body := get(t, s.url+"/api/v1/templates/survey", "Authorization", "Bearer "+key); code != 200 || !strings.Contains(body, `"version":1`) {
		t.Fatalf("read the template: %d %s", code, body)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("serve returned %v after a clean stop", err)
	}

	// A second start finds the demo in place: no second tenant, no new key.
	s = serve(t, env, "--demo")
	if out := s.out.String(); strings.Contains(out, "cnv_") || !strings.Contains(out, "apikey create --tenant demo") {
		t.Fatalf("the second start:\n%s", out)
	}
	store := storeAt(t, dir)
	if ts, err := store.ListTenants(t.Context()); err != nil || len(ts) != 1 {
		t.Fatalf("tenants after two starts: %v, %v", ts, err)
	}
	if as, err := store.ListChannelAccounts(t.Context(), 1); err != nil || len(as) != 1 {
		t.Fatalf("channels after two starts: %v, %v", as, err)
	}
}

// widget speaks the web-chat protocol, as widget.js does.
type widget struct {
	t     *testing.T
	conn  *websocket.Conn
	token string
	seen  map[float64]bool // message ids shown, as the widget keeps them
}

func openWidget(t *testing.T, base, channel, token string) *widget {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"token": token})
	resp, err := http.Post(base+"/webchat/"+channel+"/session", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sess struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&sess); err != nil || resp.StatusCode != 200 {
		t.Fatalf("session: %d %v", resp.StatusCode, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/webchat/"+channel+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	w := &widget{t: t, conn: conn, token: sess.Token, seen: map[float64]bool{}}
	w.send(map[string]any{"type": "hello", "token": sess.Token, "lang": "es"})
	if f := w.next("welcome"); f["visitor"] == nil {
		t.Fatalf("welcome = %v", f)
	}
	return w
}

func (w *widget) send(f map[string]any) {
	w.t.Helper()
	b, _ := json.Marshal(f)
	if err := w.conn.Write(w.t.Context(), websocket.MessageText, b); err != nil {
		w.t.Fatal(err)
	}
}

// next returns the next frame of type typ, skipping others.
func (w *widget) next(typ string) map[string]any {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := w.conn.Read(ctx)
		if err != nil {
			w.t.Fatalf("waiting for a %s frame: %v", typ, err)
		}
		var f map[string]any
		json.Unmarshal(b, &f)
		if f["type"] == typ {
			return f
		}
	}
}

// reply returns the next outbound message the widget shows. Like the
// widget, it shows a message once, however many frames carry it.
func (w *widget) reply() map[string]any {
	w.t.Helper()
	for {
		m := w.next("message")["message"].(map[string]any)
		id := m["id"].(float64)
		if m["direction"] == "out" && !w.seen[id] {
			w.seen[id] = true
			return m
		}
	}
}

func textOf(m map[string]any) string {
	var b strings.Builder
	for _, p := range m["parts"].([]any) {
		part := p.(map[string]any)
		if s, ok := part["text"].(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

func TestWidgetConversation(t *testing.T) {
	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": t.TempDir(), "CONVERSA_LOG_LEVEL": "warn"}, "--demo")
	w := openWidget(t, s.url, "demo-web", "")
	w.send(map[string]any{"type": "message", "id": "c1", "text": "hola"})
	ack := w.next("ack")
	if ack["id"] != "c1" || ack["message"] == nil {
		t.Fatalf("ack = %v", ack)
	}
	reply := w.reply()
	if !strings.Contains(textOf(reply), "Servicios Andinos") || reply["author"].(map[string]any)["kind"] != "bot" {
		t.Fatalf("bot reply = %v", reply)
	}

	code, header, _ := get(t, s.url+"/healthz", "X-Request-ID", "trace-abc.1")
	if code != 200 || header.Get("X-Request-ID") != "trace-abc.1" {
		t.Fatalf("request id not echoed: %q", header.Get("X-Request-ID"))
	}
	if _, header, _ := get(t, s.url+"/healthz", "X-Request-ID", "bad id with spaces"); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(header.Get("X-Request-ID")) {
		t.Fatalf("an unusable request id was not replaced: %q", header.Get("X-Request-ID"))
	}

	// The widget shows the reply as it is sent, a moment before the
	// delivery is recorded: read the metrics until they settle.
	var metrics string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, metrics = get(t, s.url+"/metrics"); strings.Contains(metrics, `conversa_delivery_total{channel="webchat",outcome="sent"} 1`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, want := range []string{
		`conversa_ingest_total{channel="webchat",outcome="stored"} 1`,
		`conversa_ingest_duration_seconds_count{channel="webchat"} 1`,
		`conversa_delivery_total{channel="webchat",outcome="sent"} 1`,
		`conversa_webchat_connections 1`,
		`conversa_http_requests_total{route="GET /healthz",status="200"}`,
		`conversa_jobs{kind="deliver",state="pending"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestGracefulShutdownFinishesDeliveries(t *testing.T) {
	dir := t.TempDir()
	arrived := make(chan struct{})
	release := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		close(arrived)
		<-release
	}))
	defer hook.Close()

	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "error", "CONVERSA_ALLOW_PRIVATE_WEBHOOKS": "true"}, "--shutdown-timeout", "20s")
	store := storeAt(t, dir)
	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	tn.Validate()
	tn, err := store.CreateTenant(t.Context(), tn)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := store.CreateChannelAccount(t.Context(), conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelAPI, Key: "crm",
		Settings: map[string]string{"webhook_url": hook.URL, "webhook_secret": "0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	key, rec := api.NewKey(tn.ID, "test")
	if _, err := store.CreateAPIKey(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	// The contact writes "agente": the bot answers once and hands off.
	body := fmt.Sprintf(`{"channel_id":%d,"from":"u1","id":"m1","text":"agente"}`, acct.ID)
	req, _ := http.NewRequest("POST", s.url+"/api/v1/inbound", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("inbound: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()

	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the reply never reached the webhook")
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	select {
	case err := <-stopped:
		t.Fatalf("the server stopped (%v) with a delivery in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	msgs, err := store.ListMessages(t.Context(), tn.ID, conversation.MessageFilter{})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("messages = %v, %v", msgs, err)
	}
	if msgs[1].Direction != conversation.DirectionOut || msgs[1].Status != conversation.StatusDelivered {
		t.Fatalf("the reply in flight at shutdown ended %s, want delivered", msgs[1].Status)
	}
}

// TestTrustedProxies: behind a trusted proxy, each client has its own
// limit of new web-chat visitors, read from X-Forwarded-For; from a peer
// that is not trusted the header changes nothing, so a client cannot pick
// its own address.
func TestTrustedProxies(t *testing.T) {
	newVisitor := func(s *serving, forwardedFor string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", s.url+"/webchat/demo-web/session", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", forwardedFor)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	env := func(proxies string) map[string]string {
		return map[string]string{"CONVERSA_DATA_DIR": t.TempDir(), "CONVERSA_LOG_LEVEL": "warn",
			"CONVERSA_WEBCHAT_VISITORS_PER_MINUTE": "2", "CONVERSA_TRUSTED_PROXIES": proxies}
	}

	behind := serve(t, env("127.0.0.1, ::1"), "--demo")
	for i, tt := range []struct {
		forwardedFor string
		want         int
	}{
		{"198.51.100.1", 200}, {"198.51.100.1", 200}, {"198.51.100.1", 429},
		// Another client behind the same proxy has a limit of its own,
		// even when it puts the first client's address before its own.
		{"198.51.100.1, 203.0.113.5", 200},
	} {
		if code := newVisitor(behind, tt.forwardedFor); code != tt.want {
			t.Fatalf("request %d behind the proxy, from %s: %d; want %d", i+1, tt.forwardedFor, code, tt.want)
		}
	}

	direct := serve(t, env(""), "--demo")
	for i, forwardedFor := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		want := 200
		if i == 2 {
			want = 429
		}
		if code := newVisitor(direct, forwardedFor); code != want {
			t.Fatalf("request %d with no trusted proxy, claiming %s: %d; want %d", i+1, forwardedFor, code, want)
		}
	}
}

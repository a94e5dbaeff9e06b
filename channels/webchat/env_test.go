package webchat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"conversa/bot"
	"conversa/channels"
	"conversa/conversation"
	"conversa/examples"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// testSecret signs the visitor tokens of every test environment.
var testSecret = []byte("0123456789abcdef0123456789abcdef")

// envOptions tunes a test environment. Zero values take the package
// defaults.
type envOptions struct {
	cfg Config
	bot conversation.Bot
	// engine answers with the dialogue engine on the test's store, the
	// example bot active for every tenant made by newEnv.
	engine bool
	// settings are the settings of the environment's account.
	settings map[string]string
	// wrap, if set, wraps the conversation service the channel uses.
	wrap func(Service) Service
}

// env is a whole web-chat deployment of one node: an SQLite store in a
// temporary directory, in-process shared state, the conversation service
// with its worker, the channels registry as the service's sender, and the
// channel served by an httptest server.
type env struct {
	t      *testing.T
	store  *sqlite.Store
	shared *memory.Shared
	svc    *conversation.Service
	ch     *Channel
	srv    *httptest.Server
	tenant conversation.Tenant
	acct   conversation.ChannelAccount
	// stop ends the channel's Run, as a server shutdown does.
	stop context.CancelFunc
}

func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatal(err)
	}
	shared := memory.New()
	if opts.engine {
		opts.bot = exampleEngine(t, store)
	}
	worker, err := conversation.NewWorker(store, conversation.WorkerConfig{
		PollInterval: 20 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, DrainTimeout: 2 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var registry *channels.Registry
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{
		Store: store, Bus: shared, Dedup: shared, Bot: opts.bot,
		Sender: senderFunc(func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
			return registry.Send(ctx, d)
		}),
		JobsAdded: worker.Wake,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := opts.cfg
	cfg.Secret = testSecret
	var chSvc Service = svc
	if opts.wrap != nil {
		chSvc = opts.wrap(svc)
	}
	ch, err := New(cfg, chSvc, store, shared, shared)
	if err != nil {
		t.Fatal(err)
	}
	if registry, err = channels.NewRegistry(ch); err != nil {
		t.Fatal(err)
	}
	worker.Handle(conversation.JobRoute, svc.RouteJob)
	worker.Handle(conversation.JobDeliver, svc.DeliverJob)

	mux := http.NewServeMux()
	ch.Routes(mux)
	srv := httptest.NewServer(mux)

	runCtx, stop := context.WithCancel(ctx)
	workCtx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := ch.Run(runCtx); err != nil {
			t.Errorf("channel Run: %v", err)
		}
	})
	wg.Go(func() {
		if err := worker.Run(workCtx); err != nil {
			t.Errorf("worker Run: %v", err)
		}
	})
	e := &env{t: t, store: store, shared: shared, svc: svc, ch: ch, srv: srv, stop: stop}
	t.Cleanup(func() {
		// Shut down as the server does: the channel closes its sockets,
		// the worker drains; then nothing touches the store any more.
		stop()
		stopWork()
		wg.Wait()
		waitFor(t, "web-chat connections to end", func() bool { return ch.conns.Load() == 0 })
		srv.Close()
		store.Close()
	})

	e.tenant = e.createTenant("acme")
	e.acct = e.createAccount(e.tenant.ID, "acme-web", opts.settings)
	if eng, ok := opts.bot.(*bot.Engine); ok {
		src, err := examples.Bot("servicios")
		if err != nil {
			t.Fatal(err)
		}
		v, _, err := eng.Train(ctx, e.tenant, src, "example")
		if err != nil {
			t.Fatal(err)
		}
		if err := eng.Activate(ctx, e.tenant, v.Number); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// exampleEngine is the dialogue engine with the example bot's custom
// action.
func exampleEngine(t *testing.T, store *sqlite.Store) *bot.Engine {
	t.Helper()
	balance := bot.ActionFunc(func(context.Context, bot.ActionContext) (bot.ActionResult, error) {
		return bot.ActionResult{Slots: map[string]string{"balance": "50.000", "due_date": "1 de enero"}}, nil
	})
	none := bot.ActionFunc(func(context.Context, bot.ActionContext) (bot.ActionResult, error) {
		return bot.ActionResult{}, errors.New("no cases here")
	})
	return bot.NewEngine(store, store, store, bot.Config{Folds: -1, Actions: map[string]bot.Action{"demo_balance": balance, "case_status": none}})
}

type senderFunc func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error)

func (f senderFunc) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	return f(ctx, d)
}

func (e *env) createTenant(slug string) conversation.Tenant {
	e.t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: strings.ToUpper(slug)}
	if err := tn.Validate(); err != nil {
		e.t.Fatal(err)
	}
	tn, err := e.store.CreateTenant(e.t.Context(), tn)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// createAccount stores a web-chat account, validated as the admin API does.
func (e *env) createAccount(tenantID int64, key string, settings map[string]string) conversation.ChannelAccount {
	e.t.Helper()
	a := conversation.ChannelAccount{TenantID: tenantID, Kind: conversation.ChannelWebchat, Key: key, Name: "Web " + key, Settings: settings}
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

// session asks the server for a visitor token of the account with key,
// renewing token when it is not empty.
func (e *env) session(key, token string) sessionResponse {
	e.t.Helper()
	res, body := e.post("/webchat/"+key+"/session", fmt.Sprintf(`{"token":%q}`, token), nil)
	if res.StatusCode != http.StatusOK {
		e.t.Fatalf("session: %s %s", res.Status, body)
	}
	var s sessionResponse
	if err := json.Unmarshal(body, &s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) post(path, body string, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return e.do(req, header)
}

func (e *env) get(path string, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req, header)
}

func (e *env) do(req *http.Request, header http.Header) (*http.Response, []byte) {
	e.t.Helper()
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, body
}

// contact returns the stored contact of a visitor.
func (e *env) contact(visitor string) conversation.Contact {
	e.t.Helper()
	c, err := e.store.ContactByIdentity(e.t.Context(), e.tenant.ID, conversation.Identity{Channel: conversation.ChannelWebchat, Address: visitor})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// messages returns the stored messages of a contact.
func (e *env) messages(contactID int64) []conversation.Message {
	e.t.Helper()
	ms, err := e.store.ListMessages(e.t.Context(), e.tenant.ID, conversation.MessageFilter{ContactID: contactID, Limit: conversation.MaxLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

// agentReply sends text to the conversation as an agent, through the
// service; the worker delivers it.
func (e *env) agentReply(conversationID int64, text string) conversation.Message {
	e.t.Helper()
	res, err := e.svc.Send(e.t.Context(), conversation.Outbound{
		TenantID: e.tenant.ID, ConversationID: conversationID,
		Author: conversation.Author{Kind: conversation.AuthorAgent, ID: 7, Name: "Ana"},
		Parts:  []conversation.Part{conversation.TextPart(text)},
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
		m, err = e.store.Message(e.t.Context(), e.tenant.ID, id)
		if err != nil {
			e.t.Fatal(err)
		}
		return m.Status == status
	})
	return m
}

// waitFor polls cond until it holds, failing t after a deadline.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// frame is a server frame as the widget reads it (see static/widget.js).
type frame struct {
	Type     string         `json:"type"`
	Visitor  string         `json:"visitor"`
	Messages []wireMsg      `json:"messages"`
	Message  *wireMsg       `json:"message"`
	ID       string         `json:"id"`
	On       *bool          `json:"on"`
	Author   *wireMsgAuthor `json:"author"`
	State    string         `json:"state"`
	Code     string         `json:"code"`
	Error    string         `json:"error"`
}

type wireMsg struct {
	ID             int64               `json:"id"`
	ConversationID int64               `json:"conversation_id"`
	Seq            int64               `json:"seq"`
	Direction      string              `json:"direction"`
	Author         wireMsgAuthor       `json:"author"`
	Parts          []conversation.Part `json:"parts"`
	Status         string              `json:"status"`
	ClientID       string              `json:"client_id"`
}

type wireMsgAuthor struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// client is a widget's socket: it reads every frame in the background, as
// the browser does, so that pings are answered and closes are seen.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan frame
	done   chan struct{}
	err    error // why reading ended; set before done closes
	// shown are the replies reply returned.
	shown map[int64]bool
}

// dial opens a socket to the account with key without saying hello.
func (e *env) dial(key string, opts *websocket.DialOptions) *client {
	e.t.Helper()
	ws, res, err := websocket.Dial(e.t.Context(), "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/webchat/"+key+"/ws", opts)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		e.t.Fatalf("dial: %v (HTTP %d)", err, status)
	}
	ws.SetReadLimit(-1)
	c := &client{t: e.t, ws: ws, frames: make(chan frame, 4096), done: make(chan struct{}), shown: map[int64]bool{}}
	e.t.Cleanup(func() { ws.CloseNow() })
	go c.readLoop()
	return c
}

// tryDial attempts a socket to the account with key from a page at origin
// and returns the HTTP status of the upgrade.
func (e *env) tryDial(key, origin string) int {
	e.t.Helper()
	opts := &websocket.DialOptions{HTTPHeader: http.Header{}}
	if origin != "" {
		opts.HTTPHeader.Set("Origin", origin)
	}
	ws, res, err := websocket.Dial(e.t.Context(), "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/webchat/"+key+"/ws", opts)
	if err == nil {
		ws.CloseNow()
	}
	if res == nil {
		e.t.Fatalf("dial: %v", err)
	}
	return res.StatusCode
}

func (c *client) readLoop() {
	defer close(c.done)
	defer close(c.frames)
	for {
		_, data, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			c.err = fmt.Errorf("undecodable frame %q: %w", data, err)
			return
		}
		c.frames <- f
	}
}

// connect opens a socket and says hello with token, returning the welcome.
func (e *env) connect(key, token string, resume *conversation.MessagePos) (*client, frame) {
	e.t.Helper()
	c := e.dial(key, nil)
	hello := map[string]any{"type": "hello", "token": token, "lang": "es-CO"}
	if resume != nil {
		hello["resume"] = resume
	}
	c.send(hello)
	w := c.next()
	if w.Type != "welcome" {
		e.t.Fatalf("first frame %+v, want welcome", w)
	}
	return c, w
}

func (c *client) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(websocket.MessageText, b)
}

func (c *client) sendRaw(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.t.Fatalf("write frame: %v", err)
	}
}

// message sends a visitor's message frame.
func (c *client) message(id, text string) {
	c.t.Helper()
	c.send(map[string]any{"type": "message", "id": id, "text": text})
}

// next returns the next frame, failing after a deadline or if the socket
// ends first.
func (c *client) next() frame {
	c.t.Helper()
	f, err := c.nextCtx(c.t.Context(), 10*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	return f
}

func (c *client) nextCtx(ctx context.Context, d time.Duration) (frame, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case f, ok := <-c.frames:
		if !ok {
			return frame{}, fmt.Errorf("socket ended: %v", c.err)
		}
		return f, nil
	case <-timer.C:
		return frame{}, errors.New("no frame in time")
	case <-ctx.Done():
		return frame{}, ctx.Err()
	}
}

// await returns the first frame that matches, skipping others.
func (c *client) await(what string, match func(frame) bool) frame {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := c.nextCtx(c.t.Context(), time.Until(deadline))
		if err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(f) {
			return f
		}
	}
}

// ack waits for the ack of the message with client id.
func (c *client) ack(id string) frame {
	c.t.Helper()
	return c.await("ack "+id, func(f frame) bool {
		if f.Type == "error" && f.ID == id {
			c.t.Fatalf("message %s refused: %s %s", id, f.Code, f.Error)
		}
		return f.Type == "ack" && f.ID == id
	})
}

// reply waits for a message frame of an outbound message it has not
// returned before: like the widget, it ignores a message shown twice.
func (c *client) reply() wireMsg {
	c.t.Helper()
	f := c.await("a reply", func(f frame) bool {
		return f.Type == "message" && f.Message != nil && f.Message.Direction == "out" && !c.shown[f.Message.ID]
	})
	c.shown[f.Message.ID] = true
	return *f.Message
}

// closed waits for the socket to end and returns its close status (-1 if
// it ended without a close frame).
func (c *client) closed() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.t.Fatal("the server did not close the socket")
	}
	return websocket.CloseStatus(c.err)
}

// noFrameBefore checks that no bad frame arrives before the frame that
// marks the end of the wait, which probe causes. The probe must travel the
// same path as what it bounds (the reader's answers, or the contact's
// events), whose frames keep their order.
func (c *client) noFrameBefore(probe func(), end, bad func(frame) bool) {
	c.t.Helper()
	probe()
	for {
		f := c.next()
		if bad(f) {
			c.t.Fatalf("unexpected frame %+v", f)
		}
		if end(f) {
			return
		}
	}
}

// gauge returns the value of a gauge in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// jsonBody is a JSON request body of n bytes.
func jsonBody(n int) string {
	var b bytes.Buffer
	b.WriteString(`{"token":"`)
	for b.Len() < n-2 {
		b.WriteByte('x')
	}
	b.WriteString(`"}`)
	return b.String()
}

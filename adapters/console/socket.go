package console

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"conversa/conversation"
	"conversa/handoff"
)

// maxFrame bounds a frame from the browser.
const maxFrame = 4 << 10

// clientFrame is what a console sends on its socket:
//
//	{"type":"watch","conversation_id":7}            follow a conversation's messages and typing
//	{"type":"typing","conversation_id":7,"on":true} the agent types in the reply box
//	{"type":"ping"}                                 keep alive
//	{"type":"dashboard"}                            say when the dashboard's figures change (supervisors)
type clientFrame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
	On             bool   `json:"on"`
}

// serverFrame is what the console's socket sends: hello, message,
// typing, conversation (its state changed), routing (offers, assignments,
// agents), pong and error. Hello comes once the socket listens to the
// agent's and the tenant's events, so a page that refreshes on it misses
// no change.
type serverFrame struct {
	Type           string                `json:"type"`
	ConversationID int64                 `json:"conversation_id,omitempty"`
	Message        *wireMessage          `json:"message,omitempty"`
	On             *bool                 `json:"on,omitempty"`
	Author         *conversation.Author  `json:"author,omitempty"`
	State          conversation.State    `json:"state,omitempty"`
	Routing        *handoff.RoutingEvent `json:"routing,omitempty"`
	Code           string                `json:"code,omitempty"`
	Error          string                `json:"error,omitempty"`
}

// wireMessage is a message as the console's script shows it; the script
// sets it as text, never as markup.
type wireMessage struct {
	ID        int64                    `json:"id"`
	Direction conversation.Direction   `json:"direction"`
	Author    conversation.Author      `json:"author"`
	Channel   conversation.ChannelKind `json:"channel"`
	Text      string                   `json:"text"`
	Status    conversation.Status      `json:"status"`
	At        time.Time                `json:"at"`
}

// socket serves the live updates of one console tab: the agent's routing
// events (and the tenant's, which inbox and supervisor pages refresh on),
// and the messages and typing of the conversation it watches. The socket
// is the agent's presence: while it is open the router hears from the
// agent; when it closes and no other console of the agent is heard from
// within a touch interval and a half, the agent goes offline (see left). Only the console's own pages may open it: the Origin must be
// this host and the CSRF token of the session must come along.
func (c *Console) socket(w http.ResponseWriter, r *http.Request, rq *request) error {
	if tok := r.URL.Query().Get("csrf"); tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(rq.session.CSRF)) != 1 {
		c.log.Warn("console socket without its token", "tenant", rq.agent.TenantID, "agent", rq.agent.ID)
		return conversation.Errorf(conversation.EFORBIDDEN, "the socket needs the page's token")
	}
	ws, err := websocket.Accept(w, r, nil) // same origin only
	if err != nil {
		c.log.Info("console socket refused", "err", err, "origin", r.Header.Get("Origin"))
		return nil
	}
	ws.SetReadLimit(maxFrame)
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	stop := context.AfterFunc(c.stop, func() { ws.Close(websocket.StatusGoingAway, "server restarting") })
	defer stop()
	a := *rq.agent
	cn := &consoleConn{c: c, ws: ws, agent: a, out: make(chan []byte, c.cfg.WriteQueue), done: make(chan struct{})}
	defer cn.end()
	sub, err := c.deps.Bus.Subscribe(ctx, handoff.AgentTopic(a.TenantID, a.ID), handoff.RoutingTopic(a.TenantID))
	if err != nil {
		ws.Close(websocket.StatusInternalError, "server error")
		return nil
	}
	cn.follow(sub, "")
	if err := c.deps.Router.Touch(ctx, a.TenantID, a.ID); err != nil {
		c.log.Warn("console presence", "err", err)
	}
	go cn.write(ctx)
	cn.touching.Go(func() { cn.touch(ctx) })
	cn.send(serverFrame{Type: "hello"})
	cn.read(ctx)
	// The socket's last touch is over before the moment it closed is
	// taken, so that left does not mistake it for another console.
	cn.end()
	cn.touching.Wait()
	c.left(a, c.deps.Router.Now())
	return nil
}

// left sets the agent offline when, a touch interval and a half after one
// of their consoles closed at at, no other console of theirs has been
// heard from. A node that stops meanwhile leaves that to the router's
// sweep, as it does for a node that goes away.
func (c *Console) left(a handoff.Agent, at time.Time) {
	time.AfterFunc(c.cfg.TouchInterval*3/2, func() {
		if c.stop.Err() != nil {
			return
		}
		ctx, cancel := context.WithTimeout(c.stop, 10*time.Second)
		defer cancel()
		gone, err := c.deps.Router.GoneSince(ctx, a.TenantID, a.ID, at)
		for try := 1; err != nil && try < 3 && ctx.Err() == nil; try++ {
			time.Sleep(time.Duration(try) * 100 * time.Millisecond) // a busy store
			gone, err = c.deps.Router.GoneSince(ctx, a.TenantID, a.ID, at)
		}
		switch {
		case err != nil && c.stop.Err() == nil:
			c.log.Warn("console presence", "tenant", a.TenantID, "agent", a.ID, "err", err)
		case gone:
			c.log.Info("agent offline: their console closed", "tenant", a.TenantID, "agent", a.ID)
		}
	})
}

type consoleConn struct {
	c     *Console
	ws    *websocket.Conn
	agent handoff.Agent
	out   chan []byte
	done  chan struct{}

	mu      sync.Mutex
	subs    []*conversation.Subscription
	watched *conversation.Subscription
	conv    int64
	ended   bool
	// dashboard is set once the socket follows the dashboard's changes.
	dashboard bool

	endOnce  sync.Once
	touching sync.WaitGroup // the touch goroutine
}

// end stops the subscriptions, the writer and the touches, once however
// often it is called.
func (cn *consoleConn) end() {
	cn.endOnce.Do(func() {
		cn.mu.Lock()
		cn.ended = true
		subs := cn.subs
		cn.subs = nil
		cn.mu.Unlock()
		for _, s := range subs {
			s.Close()
		}
		close(cn.done)
		cn.ws.CloseNow()
	})
}

// touch tells the router the agent is at the console until it closes.
func (cn *consoleConn) touch(ctx context.Context) {
	t := time.NewTicker(cn.c.cfg.TouchInterval)
	defer t.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-t.C:
			if err := cn.c.deps.Router.Touch(ctx, cn.agent.TenantID, cn.agent.ID); err != nil {
				cn.c.log.Warn("console presence", "err", err)
			}
		}
	}
}

// follow forwards a subscription's events as frames until it ends; kind
// "watch" marks the one of the watched conversation.
func (cn *consoleConn) follow(sub *conversation.Subscription, kind string) {
	cn.mu.Lock()
	if cn.ended {
		cn.mu.Unlock()
		sub.Close()
		return
	}
	cn.subs = append(cn.subs, sub)
	if kind == "watch" {
		if cn.watched != nil {
			cn.watched.Close()
		}
		cn.watched = sub
	}
	cn.mu.Unlock()
	go func() {
		for m := range sub.C() {
			if f, ok := cn.frame(m); ok {
				cn.send(f)
			}
		}
		if err := sub.Err(); err != nil {
			// Events may be lost: the page reconnects and reads the store.
			cn.c.log.Info("console events interrupted; closing", "err", err)
			cn.ws.Close(websocket.StatusTryAgainLater, "events interrupted; reconnect")
		}
	}()
}

// frame turns a bus message into what the browser shows: routing events
// of the agent's tenant, and the watched conversation's contact's messages,
// typing and state.
func (cn *consoleConn) frame(m conversation.BusMessage) (serverFrame, bool) {
	var probe struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(m.Payload, &probe) != nil {
		return serverFrame{}, false
	}
	switch probe.Type {
	case handoff.EventEntry, handoff.EventEntryRemoved, handoff.EventAgent:
		var ev handoff.RoutingEvent
		if json.Unmarshal(m.Payload, &ev) != nil || ev.TenantID != cn.agent.TenantID {
			return serverFrame{}, false
		}
		return serverFrame{Type: "routing", Routing: &ev}, true
	}
	var e conversation.Event
	if json.Unmarshal(m.Payload, &e) != nil || e.TenantID != cn.agent.TenantID {
		return serverFrame{}, false
	}
	switch {
	case e.Message != nil:
		w := toWire(*e.Message)
		return serverFrame{Type: "message", ConversationID: e.Message.ConversationID, Message: &w}, true
	case e.Type == conversation.EventTyping && e.Typing != nil && e.Typing.Author.Kind == conversation.AuthorContact:
		on := e.Typing.On
		return serverFrame{Type: "typing", ConversationID: e.ConversationID, On: &on, Author: &conversation.Author{Kind: e.Typing.Author.Kind}}, true
	case e.Type == conversation.EventConversationUpdated && e.Conversation != nil:
		return serverFrame{Type: "conversation", ConversationID: e.Conversation.ID, State: e.Conversation.State}, true
	}
	return serverFrame{}, false
}

func toWire(m conversation.Message) wireMessage {
	return wireMessage{ID: m.ID, Direction: m.Direction, Author: conversation.Author{Kind: m.Author.Kind, Name: m.Author.Name},
		Channel: m.Channel, Text: m.Text(), Status: m.Status, At: m.CreatedAt}
}

// send queues a frame; a browser that lets WriteQueue frames pile up is
// too slow, and its socket closes (the page reconnects and reloads).
func (cn *consoleConn) send(f serverFrame) {
	b, err := json.Marshal(f)
	if err != nil {
		return
	}
	select {
	case cn.out <- b:
	case <-cn.done:
	default:
		cn.c.log.Info("console browser too slow; closing", "agent", cn.agent.ID)
		cn.ws.CloseNow()
	}
}

func (cn *consoleConn) write(ctx context.Context) {
	for {
		select {
		case <-cn.done:
			return
		case b := <-cn.out:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := cn.ws.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				cn.ws.CloseNow()
				return
			}
		}
	}
}

// read handles the browser's frames, at most FramesPerSecond (FrameBurst
// at once): a flood closes the socket with a policy violation.
func (cn *consoleConn) read(ctx context.Context) {
	limit := rate.NewLimiter(rate.Limit(cn.c.cfg.FramesPerSecond), cn.c.cfg.FrameBurst)
	for {
		typ, data, err := cn.ws.Read(ctx)
		if err != nil {
			return
		}
		if !limit.Allow() {
			cn.c.log.Warn("console socket flood; closing", "tenant", cn.agent.TenantID, "agent", cn.agent.ID)
			cn.ws.Close(websocket.StatusPolicyViolation, "too many frames")
			return
		}
		if typ != websocket.MessageText {
			cn.ws.Close(websocket.StatusUnsupportedData, "frames are JSON text")
			return
		}
		f, err := decodeClientFrame(data)
		if err != nil {
			cn.fail(err)
			continue
		}
		if err := cn.handle(ctx, f); err != nil {
			cn.fail(err)
		}
	}
}

// decodeClientFrame reads one frame from the browser: a single JSON
// object of a known type, with no unknown fields, naming a conversation by
// a positive id when its type needs one. Returns EINVALID otherwise.
func decodeClientFrame(data []byte) (clientFrame, error) {
	var f clientFrame
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return clientFrame{}, conversation.Errorf(conversation.EINVALID, "a frame is a JSON object of type, conversation_id and on")
	}
	if dec.More() || dec.InputOffset() != int64(len(bytes.TrimRight(data, " \t\r\n"))) {
		return clientFrame{}, conversation.Errorf(conversation.EINVALID, "a frame is one JSON object")
	}
	switch f.Type {
	case "ping", "dashboard":
	case "watch", "typing":
		if f.ConversationID <= 0 {
			return clientFrame{}, conversation.FieldError("conversation_id", "is required")
		}
	default:
		return clientFrame{}, conversation.Errorf(conversation.EINVALID, "unknown frame type %q", f.Type)
	}
	return f, nil
}

func (cn *consoleConn) fail(err error) {
	code := conversation.ErrorCode(err)
	msg := conversation.ErrorMessage(err)
	if code == conversation.EINTERNAL {
		cn.c.log.Error("console socket frame failed", "err", err)
		msg = "internal error"
	}
	cn.send(serverFrame{Type: "error", Code: code, Error: msg})
}

func (cn *consoleConn) handle(ctx context.Context, f clientFrame) error {
	a := &cn.agent
	switch f.Type {
	case "ping":
		cn.send(serverFrame{Type: "pong"})
		return nil
	case "dashboard":
		return cn.watchDashboard(ctx)
	}
	conv, err := cn.c.deps.Store.Conversation(ctx, a.TenantID, f.ConversationID)
	if err != nil {
		return err
	}
	_, read, answer, err := cn.c.access(ctx, a, conv)
	if err != nil {
		return err
	}
	if f.Type == "typing" {
		if !answer {
			return conversation.Errorf(conversation.EFORBIDDEN, "the conversation is not assigned to you")
		}
		return cn.c.deps.Service.Typing(ctx, a.TenantID, conv.ID, conversation.Author{Kind: conversation.AuthorAgent, ID: a.ID, Name: a.Name}, f.On)
	}
	if !read {
		return conversation.Errorf(conversation.EFORBIDDEN, "the conversation is not assigned to you")
	}
	sub, err := cn.c.deps.Bus.Subscribe(ctx, conversation.ContactTopic(a.TenantID, conv.ContactID))
	if err != nil {
		return err
	}
	cn.follow(sub, "watch")
	cn.send(serverFrame{Type: "watching", ConversationID: conv.ID})
	return nil
}

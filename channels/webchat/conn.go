package webchat

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"conversa/conversation"
)

// Close codes the widget acts on: 4401 makes it start over with a new
// visitor token; the standard codes make it reconnect with backoff.
const (
	closeBadToken     websocket.StatusCode = 4401
	closeWrongChannel websocket.StatusCode = 4403
)

// serveSocket runs one widget connection until it ends; see conn.
func (c *Channel) serveSocket(w http.ResponseWriter, r *http.Request) {
	acct, err := c.svc.Account(r.Context(), conversation.ChannelWebchat, r.PathValue("key"))
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	// The token in the hello frame, not a cookie, authenticates the
	// visitor, so any page may connect unless the account names its
	// origins.
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if hosts, _ := parseOrigins(acct.Settings[SettingAllowedOrigins]); len(hosts) > 0 {
		opts = &websocket.AcceptOptions{OriginPatterns: hosts}
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		c.logger.Info("web-chat upgrade refused", "err", err, "origin", r.Header.Get("Origin"))
		return
	}
	ws.SetReadLimit(maxFrameBytes)
	c.conns.Add(1)
	cn := &conn{ch: c, ws: ws, acct: acct}
	// The connection outlives the request: keep the request's values (its
	// id, for the log), not its end.
	ctx := context.WithoutCancel(r.Context())
	if !cn.hello(ctx) {
		cn.end()
		return
	}
	// A hijacked connection needs no handler: return, and let a goroutine
	// with a fresh, small stack read the socket, instead of this one, grown
	// by the upgrade and the hello.
	go cn.run(ctx)
}

// conn is one widget connection. After the hello, a reader goroutine reads
// the browser's frames; it is the only goroutine an idle connection keeps.
// Frames for the browser wait in a bounded queue, the visitor's events in
// their subscription's bounded buffer; a writer goroutine runs while either
// has something, and exits when both are empty. Nothing waits for the
// browser but the writer: a frame that finds the queue full, or events that
// overflow the subscription, close the connection, and the widget
// reconnects and resumes.
type conn struct {
	ch   *Channel
	ws   *websocket.Conn
	acct conversation.ChannelAccount

	// Set in hello, before a writer starts.
	visitor string
	lang    string
	// contact is the visitor's contact once known; the reader's only.
	contact int64
	// conv is the visitor's latest conversation, for typing indicators.
	conv atomic.Int64

	mu      sync.Mutex
	queue   [][]byte                      // frames for the browser, at most cfg.WriteQueue
	sub     *conversation.Subscription    // the contact's events, once a contact
	pingDue bool                          // the ping timer fired
	writing bool                          // a writer runs
	ended   bool                          // serve is returning: start no writer
	ping    *time.Timer                   // fires every cfg.PingInterval
	writers sync.WaitGroup                // the writer, to wait for at the end
	shown   map[int64]conversation.Status // the writer's: statuses shown, to show each once
}

// run reads the browser's frames until the connection ends.
func (cn *conn) run(ctx context.Context) {
	// Shutdown closes the socket; the reader then returns.
	stop := context.AfterFunc(cn.ch.stopCtx, func() {
		cn.ws.Close(websocket.StatusGoingAway, "server restarting")
	})
	defer stop()
	defer cn.end()
	cn.mu.Lock()
	cn.ping = time.AfterFunc(cn.ch.cfg.PingInterval, cn.pingTimer)
	cn.mu.Unlock()
	cn.read(ctx)
}

// end stops the timers and the subscription and waits for the writer.
func (cn *conn) end() {
	cn.mu.Lock()
	cn.ended = true
	sub, ping := cn.sub, cn.ping
	cn.mu.Unlock()
	if ping != nil {
		ping.Stop()
	}
	if sub != nil {
		sub.Close() // outside mu: the hub calls back into kick
	}
	cn.writers.Wait()
	cn.ws.CloseNow()
	cn.ch.conns.Add(-1)
}

// hello reads the first frame, checks the token, subscribes to the
// visitor's events and sends the welcome with the history. It reports
// whether the connection goes on.
func (cn *conn) hello(ctx context.Context) bool {
	c := cn.ch
	// Not a deadline on Read: an expired Read drops the TCP connection
	// without a close frame, and the widget would not learn why.
	late := time.AfterFunc(c.cfg.HelloTimeout, func() {
		cn.ws.Close(websocket.StatusPolicyViolation, "no hello in time")
	})
	_, data, err := cn.ws.Read(ctx)
	if !late.Stop() {
		return false
	}
	if err != nil {
		cn.ws.Close(websocket.StatusPolicyViolation, "expected hello")
		return false
	}
	f, err := decodeClientFrame(data)
	if err != nil || f.Type != "hello" {
		cn.ws.Close(websocket.StatusPolicyViolation, "the first frame must be a valid hello")
		return false
	}
	tok, err := verifyToken(c.cfg.Secret, f.Token, time.Now())
	if err != nil {
		cn.ws.Close(closeBadToken, err.Error())
		return false
	}
	if tok.Account != cn.acct.ID {
		cn.ws.Close(closeWrongChannel, "the visitor token belongs to another channel")
		return false
	}
	cn.visitor, cn.lang = tok.Visitor, f.Lang

	welcome := serverFrame{Type: "welcome", Visitor: cn.visitor, Messages: []wireMessage{}}
	var sub *conversation.Subscription
	contact, err := c.store.ContactByIdentity(ctx, cn.acct.TenantID, conversation.Identity{Channel: conversation.ChannelWebchat, Address: cn.visitor})
	switch {
	case err == nil:
		// Subscribe before reading the history, so nothing falls between;
		// the widget ignores what it already has.
		if sub, err = c.bus.Subscribe(ctx, conversation.ContactTopic(cn.acct.TenantID, contact.ID)); err != nil {
			return cn.fail(err)
		}
		cn.contact = contact.ID
		convs, err := c.store.ListConversations(ctx, cn.acct.TenantID, conversation.ConversationFilter{ContactID: contact.ID, Limit: 1})
		if err != nil {
			sub.Close()
			return cn.fail(err)
		}
		if len(convs) > 0 && convs[0].State.Open() {
			welcome.State = convs[0].State
			cn.conv.Store(convs[0].ID)
		}
		if welcome.Messages, err = c.history(ctx, cn.acct, contact.ID, cn.visitor, f.Resume); err != nil {
			sub.Close()
			return cn.fail(err)
		}
	case !conversation.IsNotFound(err):
		return cn.fail(err)
	}
	// The welcome goes first; the events wait in the subscription.
	cn.send(welcome)
	if sub != nil {
		cn.follow(sub)
	}
	return true
}

func (cn *conn) fail(err error) bool {
	cn.ch.logger.Error("web-chat connection failed", "err", err, "account", cn.acct.ID)
	cn.ws.Close(websocket.StatusInternalError, "server error")
	return false
}

// subscribeNew subscribes a new visitor to the events of the contact their
// first message made, m's, and sends what happened between that message
// and the subscription, such as a quick reply.
func (cn *conn) subscribeNew(ctx context.Context, m conversation.Message) error {
	c := cn.ch
	sub, err := c.bus.Subscribe(ctx, conversation.ContactTopic(cn.acct.TenantID, m.ContactID))
	if err != nil {
		return err
	}
	cn.contact = m.ContactID
	missed, err := c.history(ctx, cn.acct, m.ContactID, cn.visitor, &conversation.MessagePos{ConversationID: m.ConversationID, Seq: m.Seq})
	if err != nil {
		sub.Close()
		return err
	}
	for i := range missed {
		cn.send(serverFrame{Type: "message", Message: &missed[i]})
	}
	cn.follow(sub)
	return nil
}

// follow hands sub to the writer: its events become frames after what is
// already queued.
func (cn *conn) follow(sub *conversation.Subscription) {
	cn.mu.Lock()
	ended := cn.ended
	if !ended {
		cn.sub = sub
	}
	cn.mu.Unlock()
	if ended {
		sub.Close()
		return
	}
	sub.Notify(cn.kick)
}

// read handles the browser's frames until the connection ends.
func (cn *conn) read(ctx context.Context) {
	c := cn.ch
	frames := rate.NewLimiter(rate.Limit(c.cfg.FramesPerSecond), c.cfg.FrameBurst)
	for {
		typ, data, err := cn.ws.Read(ctx)
		if err != nil {
			return
		}
		if !frames.Allow() {
			c.logger.Warn("web-chat frame flood; closing", "account", cn.acct.ID, "visitor", cn.visitor)
			cn.ws.Close(websocket.StatusPolicyViolation, "too many frames")
			return
		}
		if typ != websocket.MessageText {
			cn.ws.Close(websocket.StatusUnsupportedData, "frames are JSON text")
			return
		}
		// The work of a frame (decoding, the store, the bus) runs on a
		// goroutine of its own, so that the reader, which lives as long as
		// the connection, keeps a small stack. Frames are still handled one
		// at a time, in order.
		done := make(chan struct{})
		go func() {
			defer close(done)
			cn.handle(ctx, data)
		}()
		<-done
	}
}

// handle acts on one frame from the browser.
func (cn *conn) handle(ctx context.Context, data []byte) {
	f, err := decodeClientFrame(data)
	if err != nil {
		cn.sendError(f.ID, err)
		return
	}
	switch f.Type {
	case "message":
		cn.message(ctx, f)
	case "typing":
		cn.typing(ctx, f.On)
	case "receipt":
		cn.receipt(ctx, f)
	case "hello":
		cn.sendError("", &protocolError{Code: "bad_frame", Message: "hello was already said"})
	}
}

func (cn *conn) message(ctx context.Context, f clientFrame) {
	c := cn.ch
	ok, _, err := c.limiter.Allow(ctx, "webchat:msg:"+cn.visitor, c.cfg.MessagesPerMinute, time.Minute)
	if err != nil {
		c.logger.Warn("rate limiter unavailable", "err", err)
	} else if !ok {
		cn.sendError(f.ID, &protocolError{Code: "rate_limited", Message: "too many messages; wait a moment"})
		return
	}
	res, err := c.svc.Ingest(ctx, conversation.Inbound{
		Channel: conversation.ChannelWebchat, Account: cn.acct.Key, From: cn.visitor,
		ProviderID: cn.visitor + ":" + f.ID, Language: cn.lang,
		Parts: []conversation.Part{{Type: conversation.PartText, Text: f.Text, Payload: f.Payload}},
	})
	if err != nil {
		if conversation.ErrorCode(err) == conversation.EINTERNAL {
			c.logger.Error("web-chat ingest failed", "err", err, "account", cn.acct.ID)
		}
		cn.sendError(f.ID, err)
		return
	}
	ack := serverFrame{Type: "ack", ID: f.ID}
	if !res.Duplicate {
		m := toWire(res.Message, cn.visitor)
		ack.Message = &m
		cn.conv.Store(res.Message.ConversationID)
	}
	cn.send(ack)
	if !res.Duplicate && cn.contact == 0 {
		if err := cn.subscribeNew(ctx, res.Message); err != nil {
			c.logger.Error("web-chat subscribe failed", "err", err, "account", cn.acct.ID)
			cn.ws.Close(websocket.StatusInternalError, "server error")
		}
	}
}

func (cn *conn) typing(ctx context.Context, on bool) {
	conv := cn.conv.Load()
	if conv == 0 {
		return
	}
	if err := cn.ch.svc.Typing(ctx, cn.acct.TenantID, conv, conversation.Author{Kind: conversation.AuthorContact}, on); err != nil {
		cn.ch.logger.Warn("web-chat typing", "err", err)
	}
}

// receipt records that the widget showed (delivered) or the visitor saw
// (read) a reply; only replies to this visitor on this account count.
func (cn *conn) receipt(ctx context.Context, f clientFrame) {
	c := cn.ch
	m, err := c.store.Message(ctx, cn.acct.TenantID, f.MessageID)
	if err != nil || m.ContactID != cn.contact || m.ChannelAccountID != cn.acct.ID || m.Direction != conversation.DirectionOut {
		cn.sendError("", &protocolError{Code: "not_found", Message: "no such message"})
		return
	}
	if _, err := c.svc.UpdateStatus(ctx, conversation.StatusUpdate{TenantID: cn.acct.TenantID, MessageID: m.ID, Status: f.Status}); err != nil {
		c.logger.Warn("web-chat receipt", "err", err)
	}
}

// send queues a frame for the browser. A browser that lets the queue fill
// is too slow: the connection closes at once, without a close handshake
// that the browser would not read either, and the widget resumes on
// reconnect. It is safe for concurrent use.
func (cn *conn) send(f serverFrame) {
	b, err := json.Marshal(f)
	if err != nil {
		cn.ch.logger.Error("encode web-chat frame", "err", err)
		return
	}
	cn.mu.Lock()
	full := len(cn.queue) >= cn.ch.cfg.WriteQueue
	if !full {
		cn.queue = append(cn.queue, b)
	}
	cn.mu.Unlock()
	if full {
		cn.ch.logger.Info("web-chat browser too slow; closing", "account", cn.acct.ID, "visitor", cn.visitor)
		cn.ws.CloseNow()
		return
	}
	cn.kick()
}

func (cn *conn) sendError(id string, err error) {
	f := serverFrame{Type: "error", ID: id, Code: conversation.ErrorCode(err), Error: conversation.ErrorMessage(err)}
	if pe, ok := errors.AsType[*protocolError](err); ok {
		f.Code, f.Error = pe.Code, pe.Message
	}
	cn.send(f)
}

// pingTimer asks the writer for a ping.
func (cn *conn) pingTimer() {
	cn.mu.Lock()
	cn.pingDue = true
	cn.mu.Unlock()
	cn.kick()
}

// kick starts a writer unless one runs. It never blocks: the bus calls it.
func (cn *conn) kick() {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.writing || cn.ended {
		return
	}
	cn.writing = true
	cn.writers.Go(cn.write)
}

// write sends what is waiting, in order: queued frames, then the
// visitor's events, then a due ping; and returns when nothing is left.
func (cn *conn) write() {
	for {
		var frame []byte
		var ev conversation.BusMessage
		var event, ended, ping bool
		cn.mu.Lock()
		switch {
		case len(cn.queue) > 0:
			frame = cn.queue[0]
			cn.queue[0] = nil
			cn.queue = cn.queue[1:]
			if len(cn.queue) == 0 {
				cn.queue = nil // let an idle connection hold no queue
			}
		case cn.sub != nil && cn.hasEvent(&ev, &ended):
			event = true
		case cn.pingDue:
			cn.pingDue, ping = false, true
		default:
			cn.writing = false
			cn.mu.Unlock()
			return
		}
		cn.mu.Unlock()

		switch {
		case ended:
			// Events may have been lost: the widget reconnects and reads
			// the store.
			err := cn.sub.Err()
			cn.ch.logger.Info("web-chat events interrupted; closing", "err", err, "account", cn.acct.ID)
			if errors.Is(err, conversation.ErrSlowSubscriber) {
				cn.ws.CloseNow()
			} else {
				cn.ws.Close(websocket.StatusTryAgainLater, "events interrupted; reconnect")
			}
			cn.stopWriting()
			return
		case event:
			if f, ok := cn.showEvent(ev.Payload); ok {
				frame, _ = json.Marshal(f)
			}
		case ping:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := cn.ws.Ping(ctx)
			cancel()
			if err != nil {
				cn.ws.CloseNow()
				cn.stopWriting()
				return
			}
			cn.mu.Lock()
			if !cn.ended {
				cn.ping.Reset(cn.ch.cfg.PingInterval)
			}
			cn.mu.Unlock()
		}
		if frame != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := cn.ws.Write(ctx, websocket.MessageText, frame)
			cancel()
			if err != nil {
				cn.ws.CloseNow()
				cn.stopWriting()
				return
			}
		}
	}
}

// hasEvent takes the next event of the subscription without waiting, or
// reports that it ended. cn.mu must be held.
func (cn *conn) hasEvent(ev *conversation.BusMessage, ended *bool) bool {
	select {
	case m, ok := <-cn.sub.C():
		*ev, *ended = m, !ok
		return true
	default:
		return false
	}
}

// stopWriting ends the writer for good after the connection failed.
func (cn *conn) stopWriting() {
	cn.mu.Lock()
	cn.ended = true
	cn.writing = false
	cn.queue = nil
	cn.mu.Unlock()
}

// showEvent turns an event into a frame, once per message status: a reply
// is published by the channel as it is sent and by the service once
// stored.
func (cn *conn) showEvent(payload []byte) (serverFrame, bool) {
	f, ok := cn.eventFrame(payload)
	if !ok || f.Message == nil {
		return f, ok
	}
	m := f.Message
	if cn.shown[m.ID] == m.Status {
		return f, false
	}
	if cn.shown == nil || len(cn.shown) >= 256 {
		cn.shown = map[int64]conversation.Status{}
	}
	cn.shown[m.ID] = m.Status
	return f, true
}

// eventFrame turns a domain event into what the widget shows: the
// visitor's own messages (from any tab), replies on this account once they
// are sent and as their status moves, the other side typing, and the
// conversation's state.
func (cn *conn) eventFrame(payload []byte) (serverFrame, bool) {
	var e conversation.Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return serverFrame{}, false
	}
	switch {
	case e.Message != nil && e.Message.ChannelAccountID == cn.acct.ID:
		m := e.Message
		show := (e.Type == conversation.EventMessageCreated && m.Direction == conversation.DirectionIn) ||
			(e.Type == conversation.EventMessageUpdated && m.Direction == conversation.DirectionOut &&
				m.Status != conversation.StatusQueued && m.Status != conversation.StatusFailed)
		if !show {
			return serverFrame{}, false
		}
		w := toWire(*m, cn.visitor)
		return serverFrame{Type: "message", Message: &w}, true
	case e.Type == conversation.EventTyping && e.Typing != nil && e.Typing.Author.Kind != conversation.AuthorContact:
		on := e.Typing.On
		return serverFrame{Type: "typing", On: &on, Author: &conversation.Author{Kind: e.Typing.Author.Kind, Name: e.Typing.Author.Name}}, true
	case e.Type == conversation.EventConversationUpdated && e.Conversation != nil:
		cn.conv.Store(e.Conversation.ID)
		return serverFrame{Type: "conversation", State: e.Conversation.State}, true
	}
	return serverFrame{}, false
}

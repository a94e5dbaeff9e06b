package webchat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"conversa/conversation"
)

func TestSocketHello(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{HelloTimeout: 100 * time.Millisecond}})
	other := e.createAccount(e.tenant.ID, "acme-other", nil)
	s := e.session(e.acct.Key, "")
	ofOther := e.session(other.Key, "")
	expired := signToken(testSecret, visitorToken{Account: e.acct.ID, Visitor: s.Visitor, Expires: time.Now().Add(-time.Second).Unix()})

	tests := []struct {
		name string
		// first is the first frame; nil sends nothing.
		first []byte
		want  websocket.StatusCode
	}{
		{name: "no hello in time", want: websocket.StatusPolicyViolation},
		{name: "a message first", first: []byte(`{"type":"message","id":"m","text":"hola"}`), want: websocket.StatusPolicyViolation},
		{name: "not JSON", first: []byte(`hello`), want: websocket.StatusPolicyViolation},
		{name: "hello without token", first: []byte(`{"type":"hello"}`), want: websocket.StatusPolicyViolation},
		{name: "bad token", first: []byte(`{"type":"hello","token":"` + s.Token + `x"}`), want: closeBadToken},
		{name: "expired token", first: []byte(`{"type":"hello","token":"` + expired + `"}`), want: closeBadToken},
		{name: "token of another account", first: []byte(`{"type":"hello","token":"` + ofOther.Token + `"}`), want: closeWrongChannel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := e.dial(e.acct.Key, nil)
			if tt.first != nil {
				c.sendRaw(websocket.MessageText, tt.first)
			}
			if got := c.closed(); got != tt.want {
				t.Fatalf("closed with %v (%v), want %v", got, c.err, tt.want)
			}
		})
	}
	t.Run("unknown account", func(t *testing.T) {
		t.Parallel()
		if status := e.tryDial("nobody", ""); status != http.StatusNotFound {
			t.Fatalf("upgrade answered %d, want 404", status)
		}
	})
	t.Run("new visitor", func(t *testing.T) {
		t.Parallel()
		s := e.session(e.acct.Key, "")
		_, w := e.connect(e.acct.Key, s.Token, nil)
		if w.Visitor != s.Visitor || len(w.Messages) != 0 || w.State != "" {
			t.Fatalf("welcome %+v, want visitor %s with nothing yet", w, s.Visitor)
		}
	})
}

// TestSocketConversation follows a visitor talking to the demo bot.
func TestSocketConversation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{engine: true})
	s := e.session(e.acct.Key, "")
	c, _ := e.connect(e.acct.Key, s.Token, nil)

	c.message("m1", "hola")
	ack := c.ack("m1")
	m := ack.Message
	if m == nil || m.ID == 0 || m.ConversationID == 0 || m.Seq != 1 || m.ClientID != "m1" || m.Direction != "in" || m.Status != "received" {
		t.Fatalf("ack %+v, want the stored message with seq 1 and client id m1", ack.Message)
	}
	stored, err := e.store.Message(t.Context(), e.tenant.ID, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.ProviderID != s.Visitor+":m1" || stored.Text() != "hola" {
		t.Fatalf("stored %+v, want the visitor's message", stored)
	}

	// The greeting comes with buttons.
	r := c.reply()
	if r.Status != "sent" || r.Author.Kind != "bot" || r.ConversationID != m.ConversationID || r.Seq <= m.Seq || len(r.Parts) != 1 {
		t.Fatalf("reply %+v, want a sent bot message after the visitor's", r)
	}
	if p := r.Parts[0]; p.Type != conversation.PartButtons || len(p.Buttons) != 4 || p.Buttons[0].ID != "check_balance" || p.Buttons[3].ID != "agent" {
		t.Fatalf("reply part %+v, want the menu's buttons", p)
	}

	// A tap on a button answers with its payload.
	c.send(map[string]any{"type": "message", "id": "m2", "text": r.Parts[0].Buttons[0].Title, "payload": r.Parts[0].Buttons[0].ID})
	m2 := c.ack("m2").Message
	stored, err = e.store.Message(t.Context(), e.tenant.ID, m2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Parts) != 1 || stored.Parts[0].Payload != "check_balance" || stored.Parts[0].Text != "Consultar saldo" {
		t.Fatalf("stored parts %+v, want the button's title and payload", stored.Parts)
	}
	if r := c.reply(); !strings.Contains(conversation.PartsText(r.Parts), "número de cuenta") {
		t.Fatalf("reply %q, want the question for the account number", conversation.PartsText(r.Parts))
	}
}

// TestSocketFirstMessage checks that a new visitor, who has no contact when
// the socket opens, sees a reply that was sent before the socket followed
// the contact their first message made.
func TestSocketFirstMessage(t *testing.T) {
	t.Parallel()
	var e *env
	e = newEnv(t, envOptions{engine: true, wrap: func(svc Service) Service {
		return slowIngest{Service: svc, after: func(ctx context.Context, res conversation.IngestResult) {
			// Hold the ack until the bot's reply has gone out; the test
			// fails on the missing reply if it never does.
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			for ctx.Err() == nil {
				ms, err := e.store.ListMessages(ctx, res.Message.TenantID, conversation.MessageFilter{ConversationID: res.Message.ConversationID, Delivered: true})
				if err == nil && len(ms) == 2 {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}}
	}})
	s := e.session(e.acct.Key, "")
	c, _ := e.connect(e.acct.Key, s.Token, nil)
	c.message("m1", "hola")
	c.ack("m1")
	if r := c.reply(); len(r.Parts) == 0 || r.Parts[0].Type != conversation.PartButtons {
		t.Fatalf("reply %+v, want the greeting", r)
	}
}

// slowIngest is the conversation service with a pause after each ingest.
type slowIngest struct {
	Service
	after func(ctx context.Context, res conversation.IngestResult)
}

func (s slowIngest) Ingest(ctx context.Context, in conversation.Inbound) (conversation.IngestResult, error) {
	res, err := s.Service.Ingest(ctx, in)
	if err == nil && !res.Duplicate {
		s.after(ctx, res)
	}
	return res, err
}

func TestSocketDuplicate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := e.session(e.acct.Key, "")
	c, _ := e.connect(e.acct.Key, s.Token, nil)
	c.message("once", "hola")
	first := c.ack("once")
	if first.Message == nil {
		t.Fatal("the first ack has no message")
	}
	// The widget re-sends what it has no ack for after a reconnect.
	c.ws.CloseNow()
	c, _ = e.connect(e.acct.Key, s.Token, nil)
	c.message("once", "hola")
	if again := c.ack("once"); again.Message != nil {
		t.Fatalf("second ack %+v, want one without a new message", again.Message)
	}
	// And again on the same socket.
	c.message("once", "hola")
	c.ack("once")
	if ms := e.messages(e.contact(s.Visitor).ID); len(ms) != 1 {
		t.Fatalf("%d messages stored, want 1", len(ms))
	}
}

func TestSocketResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{engine: true})
	s := e.session(e.acct.Key, "")
	c, _ := e.connect(e.acct.Key, s.Token, nil)
	c.message("m1", "hola")
	c.ack("m1")
	greeting := c.reply()
	last := conversation.MessagePos{ConversationID: greeting.ConversationID, Seq: greeting.Seq}
	if err := c.ws.Close(websocket.StatusNormalClosure, "page closed"); err != nil {
		t.Fatal(err)
	}

	// While the visitor is away, an agent answers twice.
	missed := []conversation.Message{
		e.agentReply(greeting.ConversationID, "Soy Ana, ¿sigues ahí?"),
		e.agentReply(greeting.ConversationID, "Te escribo por aquí"),
	}
	for _, m := range missed {
		e.waitStatus(m.ID, conversation.StatusSent)
	}

	t.Run("resume", func(t *testing.T) {
		_, w := e.connect(e.acct.Key, s.Token, &last)
		// The missed messages, with the latest few again (the widget shows
		// each once), in order.
		got := ids(w.Messages)
		if len(got) < 2 || fmt.Sprint(got[len(got)-2:]) != fmt.Sprint([]int64{missed[0].ID, missed[1].ID}) {
			t.Fatalf("welcome messages %v, want them to end with the missed %d and %d", got, missed[0].ID, missed[1].ID)
		}
		if !slices.IsSortedFunc(w.Messages, func(a, b wireMsg) int { return int(a.Seq - b.Seq) }) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("welcome %v: want each message once, in order", got)
		}
		if m := w.Messages[len(w.Messages)-2]; m.Author.Name != "Ana" || m.Status != "sent" || w.State != "bot" {
			t.Fatalf("welcome %+v, want Ana's sent reply in a bot conversation", w)
		}
	})
	t.Run("a reply sent after a later one", func(t *testing.T) {
		// A scheduled reply takes a seq now and is sent later, after a
		// reply with a higher seq that the widget already saw.
		c, _ := e.connect(e.acct.Key, s.Token, &last)
		res, err := e.svc.Send(t.Context(), conversation.Outbound{
			TenantID: e.tenant.ID, ConversationID: greeting.ConversationID,
			Author: conversation.Author{Kind: conversation.AuthorSystem},
			Parts:  []conversation.Part{conversation.TextPart("recordatorio")}, SendAt: time.Now().Add(300 * time.Millisecond),
		})
		if err != nil {
			t.Fatal(err)
		}
		early := e.agentReply(greeting.ConversationID, "respuesta inmediata")
		seen := c.reply()
		for seen.ID != early.ID {
			seen = c.reply()
		}
		if err := c.ws.Close(websocket.StatusNormalClosure, "page closed"); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(res[0].Message.ID, conversation.StatusSent)
		_, w := e.connect(e.acct.Key, s.Token, &conversation.MessagePos{ConversationID: seen.ConversationID, Seq: seen.Seq})
		if !slices.Contains(ids(w.Messages), res[0].Message.ID) {
			t.Fatalf("resuming after seq %d lost the reply with seq %d sent later: welcome %v", seen.Seq, res[0].Message.Seq, ids(w.Messages))
		}
	})
	t.Run("full history", func(t *testing.T) {
		_, w := e.connect(e.acct.Key, s.Token, nil)
		var want []int64
		for _, m := range e.messages(e.contact(s.Visitor).ID) {
			want = append(want, m.ID)
		}
		if len(want) < 4 || fmt.Sprint(ids(w.Messages)) != fmt.Sprint(want) {
			t.Fatalf("welcome messages %v, want all of them in order: %v", ids(w.Messages), want)
		}
		if !slices.IsSortedFunc(w.Messages, func(a, b wireMsg) int { return int(a.Seq - b.Seq) }) {
			t.Fatalf("welcome out of order: %+v", w.Messages)
		}
	})
}

func ids(ms []wireMsg) []int64 {
	out := []int64{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestSocketTyping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := e.session(e.acct.Key, "")
	c, _ := e.connect(e.acct.Key, s.Token, nil)
	c.message("m1", "hola")
	m1 := c.ack("m1").Message

	t.Run("agent to widget", func(t *testing.T) {
		if err := e.svc.Typing(t.Context(), e.tenant.ID, m1.ConversationID, conversation.Author{Kind: conversation.AuthorAgent, ID: 7, Name: "Ana"}, true); err != nil {
			t.Fatal(err)
		}
		f := c.await("typing", func(f frame) bool { return f.Type == "typing" })
		if f.On == nil || !*f.On || f.Author == nil || f.Author.Kind != "agent" || f.Author.Name != "Ana" {
			t.Fatalf("typing frame %+v, want Ana typing", f)
		}
	})
	t.Run("visitor to agents", func(t *testing.T) {
		sub, err := e.shared.Subscribe(t.Context(), conversation.TenantTopic(e.tenant.ID))
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		c.send(map[string]any{"type": "typing", "on": true})
		select {
		case bm := <-sub.C():
			var ev conversation.Event
			if err := json.Unmarshal(bm.Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type != conversation.EventTyping || ev.Typing == nil || !ev.Typing.On || ev.Typing.Author.Kind != conversation.AuthorContact ||
				ev.ConversationID != m1.ConversationID || ev.ContactID != e.contact(s.Visitor).ID {
				t.Fatalf("event %+v, want the contact typing in conversation %d", ev, m1.ConversationID)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no typing event")
		}
		// The visitor's own typing is not echoed to the widget: the bot's,
		// published after it, is the first the widget sees.
		c.noFrameBefore(func() {
			if err := e.svc.Typing(t.Context(), e.tenant.ID, m1.ConversationID, conversation.Author{Kind: conversation.AuthorBot}, true); err != nil {
				t.Fatal(err)
			}
		}, func(f frame) bool { return f.Type == "typing" && f.Author != nil && f.Author.Kind == "bot" },
			func(f frame) bool { return f.Type == "typing" && (f.Author == nil || f.Author.Kind != "bot") })
	})
}

func TestSocketReceipts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	visitor := func() (*client, wireMsg, conversation.Message) {
		s := e.session(e.acct.Key, "")
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		c.message("m1", "hola")
		m := *c.ack("m1").Message
		r := e.agentReply(m.ConversationID, "Hola")
		if got := c.reply(); got.ID != r.ID {
			t.Fatalf("reply %d, want %d", got.ID, r.ID)
		}
		return c, m, r
	}
	a, aMsg, aReply := visitor()
	_, _, bReply := visitor()

	for _, status := range []conversation.Status{conversation.StatusDelivered, conversation.StatusRead} {
		a.send(map[string]any{"type": "receipt", "message_id": aReply.ID, "status": status})
		e.waitStatus(aReply.ID, status)
		// The widget sees its reply move on.
		a.await("the reply "+string(status), func(f frame) bool {
			return f.Type == "message" && f.Message.ID == aReply.ID && f.Message.Status == string(status)
		})
	}

	refused := []struct {
		name string
		id   int64
	}{
		{"another contact's reply", bReply.ID},
		{"the visitor's own message", aMsg.ID},
		{"no such message", bReply.ID + 1000},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			a.send(map[string]any{"type": "receipt", "message_id": tt.id, "status": "read"})
			f := a.await("an error", func(f frame) bool { return f.Type == "error" })
			if f.Code != "not_found" {
				t.Fatalf("error %+v, want not_found", f)
			}
		})
	}
	// The error is sent after the refusal, so the store is as it was.
	for id, want := range map[int64]conversation.Status{bReply.ID: conversation.StatusSent, aMsg.ID: conversation.StatusReceived} {
		if m, err := e.store.Message(t.Context(), e.tenant.ID, id); err != nil || m.Status != want {
			t.Fatalf("message %d is %s (%v), want %s", id, m.Status, err, want)
		}
	}
}

func TestSocketLimits(t *testing.T) {
	t.Parallel()
	t.Run("frame flood", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{cfg: Config{FramesPerSecond: 1, FrameBurst: 3}})
		s := e.session(e.acct.Key, "")
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		for range 10 {
			if err := c.ws.Write(t.Context(), websocket.MessageText, []byte(`{"type":"typing","on":true}`)); err != nil {
				break // the server closed first
			}
		}
		if got := c.closed(); got != websocket.StatusPolicyViolation {
			t.Fatalf("closed with %v (%v), want policy violation", got, c.err)
		}
	})
	t.Run("message rate", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{cfg: Config{MessagesPerMinute: 2}})
		s := e.session(e.acct.Key, "")
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		c.message("m1", "uno")
		c.ack("m1")
		c.message("m2", "dos")
		c.ack("m2")
		c.message("m3", "tres")
		f := c.await("m3's answer", func(f frame) bool { return f.ID == "m3" })
		if f.Type != "error" || f.Code != "rate_limited" {
			t.Fatalf("answer to m3 %+v, want a rate_limited error", f)
		}
		// The socket stays open.
		c.send(map[string]any{"type": "receipt", "message_id": 999999, "status": "read"})
		// Frames of the stored messages may come first.
		if f := c.await("the receipt's error", func(f frame) bool { return f.Type == "error" }); f.Code != "not_found" {
			t.Fatalf("frame %+v, want the receipt's error", f)
		}
		if ms := e.messages(e.contact(s.Visitor).ID); len(ms) != 2 {
			t.Fatalf("%d messages stored, want 2", len(ms))
		}
	})
	t.Run("frame too big", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		s := e.session(e.acct.Key, "")
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		big := `{"type":"message","id":"big","text":"` + strings.Repeat("a", 1<<20) + `"}`
		// The server may close before it has read the whole frame.
		c.ws.Write(t.Context(), websocket.MessageText, []byte(big))
		if got := c.closed(); got != websocket.StatusMessageTooBig {
			t.Fatalf("closed with %v (%v), want message too big", got, c.err)
		}
	})
	t.Run("message too long", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		s := e.session(e.acct.Key, "")
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		c.message("long", strings.Repeat("é", MaxTextLength+1))
		f := c.next()
		if f.Type != "error" || f.Code != "too_long" || f.ID != "long" {
			t.Fatalf("frame %+v, want a too_long error for message long", f)
		}
		if _, err := e.store.ContactByIdentity(t.Context(), e.tenant.ID, conversation.Identity{Channel: conversation.ChannelWebchat, Address: s.Visitor}); !conversation.IsNotFound(err) {
			t.Fatalf("contact lookup: %v, want nothing stored", err)
		}
		// At the limit, the message is taken.
		c.message("max", strings.Repeat("é", MaxTextLength))
		c.ack("max")
	})
	t.Run("invalid UTF-8", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		s := e.session(e.acct.Key, "")
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		c.sendRaw(websocket.MessageText, []byte("{\"type\":\"message\",\"id\":\"m\",\"text\":\"\xc3\x28\"}"))
		if f := c.next(); f.Type != "error" || f.Code != "bad_frame" {
			t.Fatalf("frame %+v, want a bad_frame error", f)
		}
		c.message("m", "hola")
		c.ack("m")
	})
	t.Run("binary frame", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, envOptions{})
		s := e.session(e.acct.Key, "")
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		c.sendRaw(websocket.MessageBinary, []byte(`{"type":"typing","on":true}`))
		if got := c.closed(); got != websocket.StatusUnsupportedData {
			t.Fatalf("closed with %v (%v), want unsupported data", got, c.err)
		}
	})
}

// TestSocketSlowConsumer fills the queue of a widget that reads nothing.
func TestSocketSlowConsumer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{cfg: Config{WriteQueue: 4}})
	slow := e.session(e.acct.Key, "")
	c, _ := e.connect(e.acct.Key, slow.Token, nil)
	c.message("m1", "hola")
	m1 := c.ack("m1").Message
	contactID := e.contact(slow.Visitor).ID
	// The visitor's second tab reads its welcome and then nothing: frames
	// pile up in its socket, then in the server's queue.
	e.dialStalled(e.acct.Key, slow.Token)
	waitFor(t, "two connections", func() bool { return e.ch.conns.Load() == 2 })
	c.ws.CloseNow()
	waitFor(t, "one connection", func() bool { return e.ch.conns.Load() == 1 })

	fine := e.session(e.acct.Key, "")
	other, _ := e.connect(e.acct.Key, fine.Token, nil)
	other.message("m1", "hola")
	other.ack("m1")

	// Publish as the service does, replies of 30 KB each, from one
	// goroutine: it must never wait for the stalled widget.
	reply := conversation.Message{
		ID: 1 << 40, TenantID: e.tenant.ID, ConversationID: m1.ConversationID, ContactID: contactID, Seq: 1 << 20,
		Direction: conversation.DirectionOut, Author: conversation.Author{Kind: conversation.AuthorAgent}, Channel: conversation.ChannelWebchat,
		ChannelAccountID: e.acct.ID, Parts: []conversation.Part{conversation.TextPart(strings.Repeat("x", 30<<10))}, Status: conversation.StatusSent,
	}
	payload, err := json.Marshal(conversation.Event{Type: conversation.EventMessageUpdated, Message: &reply})
	if err != nil {
		t.Fatal(err)
	}
	published := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		for range 400 {
			e.shared.Publish(context.Background(), conversation.ContactTopic(e.tenant.ID, contactID), payload)
		}
		published <- time.Since(start)
	}()
	select {
	case d := <-published:
		t.Logf("published 12 MB of events in %v", d)
	case <-time.After(5 * time.Second):
		t.Fatal("the publisher was blocked")
	}
	start := time.Now()
	waitFor(t, "the stalled widget to be dropped", func() bool { return e.ch.conns.Load() == 1 })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the stalled widget was dropped %v after the events", d)
	}

	// The other visitor goes on.
	other.message("m2", "¿sigues ahí?")
	other.ack("m2")
}

// dialStalled connects a widget that says hello, reads the welcome and
// never reads again.
func (e *env) dialStalled(key, token string) {
	e.t.Helper()
	ws, _, err := websocket.Dial(e.t.Context(), "ws"+strings.TrimPrefix(e.srv.URL, "http")+"/webchat/"+key+"/ws", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ws.CloseNow() })
	hello, _ := json.Marshal(map[string]any{"type": "hello", "token": token})
	if err := ws.Write(e.t.Context(), websocket.MessageText, hello); err != nil {
		e.t.Fatal(err)
	}
	// The welcome follows the subscription to the visitor's events.
	if _, data, err := ws.Read(e.t.Context()); err != nil || !strings.Contains(string(data), `"welcome"`) {
		e.t.Fatalf("first frame %s (%v), want the welcome", data, err)
	}
}

func TestSocketShutdown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	var clients []*client
	for range 3 {
		s := e.session(e.acct.Key, "")
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		clients = append(clients, c)
	}
	e.stop()
	for i, c := range clients {
		if got := c.closed(); got != websocket.StatusGoingAway {
			t.Errorf("client %d closed with %v (%v), want going away", i, got, c.err)
		}
	}
}

func TestSocketMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	e := newEnv(t, envOptions{cfg: Config{Registerer: reg}})
	open := func(want float64) {
		t.Helper()
		waitFor(t, fmt.Sprintf("%v connections", want), func() bool { return gauge(t, reg, "conversa_webchat_connections") == want })
	}
	open(0)
	var clients []*client
	for i := range 3 {
		s := e.session(e.acct.Key, "")
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		clients = append(clients, c)
		open(float64(i + 1))
	}
	for i, c := range clients {
		c.ws.Close(websocket.StatusNormalClosure, "")
		open(float64(len(clients) - i - 1))
	}
	// Registering a second channel on the same registry is an error, not a
	// panic.
	if _, err := New(Config{Secret: testSecret, Registerer: reg}, e.svc, e.store, e.shared, e.shared); err == nil {
		t.Fatal("a second channel registered the same metric")
	}
}

// TestSend hands messages straight to the channel, as the worker does.
func TestSend(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := e.session(e.acct.Key, "")
	c, _ := e.connect(e.acct.Key, s.Token, nil)
	c.message("m1", "hola")
	m1 := c.ack("m1").Message
	contact := e.contact(s.Visitor)
	to := conversation.Identity{Channel: conversation.ChannelWebchat, Address: s.Visitor}
	delivery := func(id int64, acct conversation.ChannelAccount, to conversation.Identity) conversation.Delivery {
		return conversation.Delivery{
			Message: conversation.Message{
				ID: id, TenantID: e.tenant.ID, ConversationID: m1.ConversationID, ContactID: contact.ID, Seq: 50 + id,
				Direction: conversation.DirectionOut, Author: conversation.Author{Kind: conversation.AuthorAgent, Name: "Ana"},
				Channel: conversation.ChannelWebchat, ChannelAccountID: acct.ID, Parts: []conversation.Part{conversation.TextPart(fmt.Sprint("respuesta ", id))},
				Status: conversation.StatusQueued,
			},
			Account: acct, Contact: contact, To: to,
		}
	}

	t.Run("to an open widget", func(t *testing.T) {
		r, err := e.ch.Send(t.Context(), delivery(1001, e.acct, to))
		if err != nil || r.Status != conversation.StatusSent {
			t.Fatalf("send: %+v, %v; want sent", r, err)
		}
		if m := c.reply(); m.ID != 1001 || m.Status != "sent" || conversation.PartsText(m.Parts) != "respuesta 1001" {
			t.Fatalf("widget shows %+v, want message 1001 sent", m)
		}
	})
	// sendProbe sends a message the widget shows, after what it must not
	// show; shows tells the frame of a message.
	sendProbe := func(id int64) func() {
		return func() {
			if _, err := e.ch.Send(t.Context(), delivery(id, e.acct, to)); err != nil {
				t.Fatal(err)
			}
		}
	}
	shows := func(id int64) func(frame) bool {
		return func(f frame) bool { return f.Type == "message" && f.Message.ID == id }
	}
	t.Run("through another account", func(t *testing.T) {
		other := e.createAccount(e.tenant.ID, "acme-other", nil)
		if _, err := e.ch.Send(t.Context(), delivery(1002, other, to)); err != nil {
			t.Fatal(err)
		}
		// Only the widgets of the account the message goes through show it.
		c.noFrameBefore(sendProbe(1005), shows(1005), shows(1002))
	})
	refused := []struct {
		name string
		to   conversation.Identity
	}{
		{"an identity on another channel", conversation.Identity{Channel: conversation.ChannelSMS, Address: "+573001234567"}},
		{"a malformed visitor id", conversation.Identity{Channel: conversation.ChannelWebchat, Address: "v_123"}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.ch.Send(t.Context(), delivery(1003, e.acct, tt.to))
			if de, ok := errors.AsType[*conversation.DeliveryError](err); !ok || !de.Permanent {
				t.Fatalf("send: %v, want a permanent delivery error", err)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := e.ch.Send(ctx, delivery(1004, e.acct, to)); !errors.Is(err, context.Canceled) {
			t.Fatalf("send: %v, want the context's error", err)
		}
		c.noFrameBefore(sendProbe(1006), shows(1006), shows(1004))
	})
}

func TestSocketShowsEachStatusOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	s := e.session(e.acct.Key, "")
	c, _ := e.connect(e.acct.Key, s.Token, nil)
	c.message("m1", "hola")
	m1 := c.ack("m1").Message
	r := e.agentReply(m1.ConversationID, "hola, soy Ana")
	got := c.reply()
	if got.ID != r.ID {
		t.Fatalf("reply %d, want %d", got.ID, r.ID)
	}
	// The reply is published when it is queued, by the channel when it
	// sends it, and when it is marked sent. Which comes first depends on
	// the scheduler; each status may reach the widget once only.
	e.waitStatus(r.ID, conversation.StatusSent)
	if err := e.svc.Typing(t.Context(), e.tenant.ID, m1.ConversationID, conversation.Author{Kind: conversation.AuthorAgent, Name: "Ana"}, true); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{got.Status: true}
	echoed := false
	for {
		f := c.next()
		if f.Type == "typing" {
			break
		}
		// The visitor's own message comes back from the bus too (for the
		// visitor's other tabs), once, and may come after the reply.
		if f.Type == "message" && f.Message != nil && f.Message.ID == m1.ID && !echoed {
			echoed = true
			continue
		}
		if f.Type != "message" || f.Message == nil || f.Message.ID != r.ID || seen[f.Message.Status] {
			var m any
			if f.Message != nil {
				m = *f.Message
			}
			t.Fatalf("a frame before the typing indicator: %+v, message %+v (statuses shown: %v); want each status of the reply once", f, m, seen)
		}
		seen[f.Message.Status] = true
	}
}

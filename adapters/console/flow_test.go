package console_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/net/html"

	"conversa/adapters/console"
	"conversa/conversation"
	"conversa/handoff"
)

func id(n int64) string { return strconv.FormatInt(n, 10) }

// TestConversationFlow: an agent picks a waiting conversation, reads it,
// replies (the customer's channel gets the message), adds a note, and
// transfers it to a colleague, who closes it; another tenant's ids are not
// found, and an agent may not act on a colleague's conversation.
func TestConversationFlow(t *testing.T) {
	e := newEnv(t, console.Config{})
	ctx := t.Context()
	q := e.queue(t, e.tenant, "General")
	ana := e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)
	beto := e.agent(t, e.tenant, "Beto Agent", handoff.RoleAgent)
	conv := e.conversation(t, e.tenant, "Carla", "quiero hablar con alguien")
	_, err := e.router.Enqueue(ctx, e.tenant.ID, conv.ID, handoff.QueueRequest{QueueID: q.ID, Reason: "asked for a person"})
	must(t, err)
	rival := e.conversation(t, e.other, "Rita", "hola")

	a := e.session(t, ana)
	if resp := a.post(t, "/console/status", url.Values{"status": {"available"}}, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status: %d", resp.StatusCode)
	}
	_, inbox := a.get(t, "/console/")
	if !strings.Contains(inbox, "Carla") || !strings.Contains(inbox, "/console/conversations/"+id(conv.ID)+"/pick") {
		t.Fatalf("the inbox does not offer the waiting conversation to pick")
	}
	// Not yet the agent's: a reply is forbidden.
	if resp := a.post(t, "/console/conversations/"+id(conv.ID)+"/reply", url.Values{"text": {"hola"}}, true); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("reply before picking: %d", resp.StatusCode)
	}
	if resp := a.post(t, "/console/conversations/"+id(conv.ID)+"/pick", nil, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("pick: %d", resp.StatusCode)
	}
	resp, page := a.get(t, "/console/conversations/"+id(conv.ID))
	if resp.StatusCode != 200 || !strings.Contains(page, "quiero hablar con alguien") || !strings.Contains(page, `id="reply"`) {
		t.Fatalf("conversation page: %d", resp.StatusCode)
	}
	if resp := a.post(t, "/console/conversations/"+id(conv.ID)+"/reply", url.Values{"text": {"Hola Carla, soy Ana"}}, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reply: %d", resp.StatusCode)
	}
	msgs, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{ConversationID: conv.ID})
	must(t, err)
	last := msgs[len(msgs)-1]
	if last.Direction != conversation.DirectionOut || last.Text() != "Hola Carla, soy Ana" || last.Author.Kind != conversation.AuthorAgent || last.Author.ID != ana.ID {
		t.Fatalf("the reply stored: %+v", last)
	}
	if resp := a.post(t, "/console/conversations/"+id(conv.ID)+"/reply", url.Values{"text": {"  "}}, true); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("empty reply: %d", resp.StatusCode)
	}
	if resp := a.post(t, "/console/conversations/"+id(conv.ID)+"/notes", url.Values{"body": {"cliente VIP, paciencia"}}, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("note: %d", resp.StatusCode)
	}
	if _, page := a.get(t, "/console/conversations/"+id(conv.ID)); !strings.Contains(page, "cliente VIP, paciencia") {
		t.Fatalf("the note is not shown")
	}

	// Another tenant's conversation is not found, for every action.
	for _, p := range []string{"reply", "accept", "pick", "transfer", "close", "notes"} {
		if resp := a.post(t, "/console/conversations/"+id(rival.ID)+"/"+p, url.Values{"text": {"x"}, "body": {"x"}, "agent": {id(beto.ID)}}, true); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s on another tenant's conversation: %d, want 404", p, resp.StatusCode)
		}
	}
	if resp, _ := a.get(t, "/console/conversations/"+id(rival.ID)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another tenant's conversation page: %d", resp.StatusCode)
	}
	// Another tenant's agent as the transfer's target is not found.
	rivalAgent := e.agent(t, e.other, "Rolo Rival", handoff.RoleAgent)
	if resp := a.post(t, "/console/conversations/"+id(conv.ID)+"/transfer", url.Values{"agent": {id(rivalAgent.ID)}}, true); resp.StatusCode != http.StatusNotFound {
		t.Errorf("transfer to another tenant's agent: %d, want 404", resp.StatusCode)
	}

	// Beto may not act on Ana's conversation.
	b := e.session(t, beto)
	_, err = e.router.SetStatus(ctx, e.tenant.ID, beto.ID, handoff.StatusAvailable)
	must(t, err)
	if resp := b.post(t, "/console/conversations/"+id(conv.ID)+"/close", nil, true); resp.StatusCode != http.StatusForbidden {
		t.Errorf("closing a colleague's conversation: %d, want 403", resp.StatusCode)
	}
	if resp, _ := b.get(t, "/console/conversations/"+id(conv.ID)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("reading a colleague's conversation: %d, want 403", resp.StatusCode)
	}

	// Ana transfers to Beto with a note; Beto closes it, back to the bot.
	if resp := a.post(t, "/console/conversations/"+id(conv.ID)+"/transfer", url.Values{"agent": {id(beto.ID)}, "note": {"te la paso"}}, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("transfer: %d", resp.StatusCode)
	}
	if _, page := b.get(t, "/console/"); !strings.Contains(page, "te la paso") {
		t.Fatalf("Beto's inbox does not show the transferred conversation with its note")
	}
	if resp := b.post(t, "/console/conversations/"+id(conv.ID)+"/close", url.Values{"disposition": {"resolved"}, "return_to_bot": {"1"}}, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close: %d", resp.StatusCode)
	}
	got, err := e.store.Conversation(ctx, e.tenant.ID, conv.ID)
	must(t, err)
	if got.State != conversation.StateBot {
		t.Fatalf("closed with return to bot: state %s", got.State)
	}
}

// xss are payloads that must stay text wherever they are shown.
var xss = []string{
	`<script>alert(1)</script>`,
	`<img src=x onerror=alert(1)>`,
	`"><svg onload=alert(1)>`,
	`'><iframe src=javascript:alert(1)>`,
	`javascript:alert(1)`,
	`<a href="javascript:alert(1)">x</a>`,
	`{{.}}<style>body{display:none}</style>`,
	"http://ok.example/\"onmouseover=alert(1)//",
}

// TestXSSCorpus puts the payloads in a contact's name, attributes and
// messages, a note, an agent's, team's and queue's name and a canned
// response, renders every console page, and checks that no payload became
// markup: no element or attribute the console does not write itself.
func TestXSSCorpus(t *testing.T) {
	e := newEnv(t, console.Config{})
	ctx := t.Context()
	payload := strings.Join(xss, " ")
	team, err := e.router.CreateTeam(ctx, handoff.Team{TenantID: e.tenant.ID, Name: xss[1]})
	must(t, err)
	_ = team
	q, err := e.router.CreateQueue(ctx, handoff.Queue{TenantID: e.tenant.ID, Name: xss[0], Strategy: handoff.StrategyManual})
	must(t, err)
	admin := e.agent(t, e.tenant, "Alba Admin", handoff.RoleAdmin)
	evil, err := e.router.CreateAgent(ctx, handoff.Agent{TenantID: e.tenant.ID, Name: xss[2], Email: "evil@example.com", Capacity: 2})
	must(t, err)
	_ = evil
	var convs []conversation.Conversation
	for i, p := range xss {
		c := e.conversation(t, e.tenant, p, payload)
		_, err := e.store.UpdateContact(ctx, e.tenant.ID, c.ContactID, conversation.ContactUpdate{Attributes: map[string]string{"note" + id(int64(i)): p}})
		must(t, err)
		_, err = e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{QueueID: q.ID, Reason: p})
		must(t, err)
		convs = append(convs, c)
	}
	_, err = e.router.SetStatus(ctx, e.tenant.ID, admin.ID, handoff.StatusAvailable)
	must(t, err)
	_, err = e.router.Pick(ctx, e.tenant.ID, admin.ID, convs[0].ID)
	must(t, err)
	_, err = e.store.CreateNote(ctx, handoff.Note{TenantID: e.tenant.ID, ConversationID: convs[0].ID, AgentID: admin.ID, Body: payload})
	must(t, err)
	_, err = e.store.CreateCanned(ctx, handoff.Canned{TenantID: e.tenant.ID, Code: "/x", Title: xss[3], Body: xss[0] + " {{contact.name}}"})
	must(t, err)
	_, err = e.svc.Send(ctx, conversation.Outbound{TenantID: e.tenant.ID, ConversationID: convs[0].ID, Author: conversation.Author{Kind: conversation.AuthorAgent, ID: admin.ID, Name: xss[4]}, Parts: []conversation.Part{conversation.TextPart(payload)}})
	must(t, err)

	b := e.session(t, admin)
	pages := []string{"/console/", "/console/supervisor", "/console/admin/agents", "/console/admin/queues", "/console/admin/canned"}
	for _, c := range convs {
		pages = append(pages, "/console/conversations/"+id(c.ID))
	}
	for _, p := range pages {
		resp, body := b.get(t, p)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
		checkMarkup(t, p, body)
	}
	// The payload is shown, as text.
	if _, body := b.get(t, "/console/conversations/"+id(convs[0].ID)); !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("the payload is not shown escaped")
	}
}

// checkMarkup fails on any element, attribute or URL the console's own
// templates do not produce.
func checkMarkup(t *testing.T, page, body string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		switch tok.Data {
		case "img", "svg", "iframe", "style", "object", "embed":
			t.Errorf("%s: a <%s> element", page, tok.Data)
		case "script":
			for _, a := range tok.Attr {
				if a.Key == "src" && a.Val != "/console/static/console.js" {
					t.Errorf("%s: a script from %s", page, a.Val)
				}
			}
		}
		for _, a := range tok.Attr {
			if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
				t.Errorf("%s: <%s %s=%q>", page, tok.Data, a.Key, a.Val)
			}
			if (a.Key == "href" || a.Key == "src" || a.Key == "action") && !(strings.HasPrefix(a.Val, "/") || strings.HasPrefix(a.Val, "http://") || strings.HasPrefix(a.Val, "https://") || strings.HasPrefix(a.Val, "mailto:")) {
				t.Errorf("%s: <%s %s=%q>", page, tok.Data, a.Key, a.Val)
			}
			if tok.Data == "a" && a.Key == "href" && strings.HasPrefix(a.Val, "http") {
				rel := ""
				for _, b := range tok.Attr {
					if b.Key == "rel" {
						rel = b.Val
					}
				}
				if rel != "noopener noreferrer nofollow" {
					t.Errorf("%s: a link to %s with rel %q", page, a.Val, rel)
				}
			}
		}
	}
}

// dial opens the console socket of a session.
func dial(t *testing.T, b *browser, origin, csrf string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(b.e.srv.URL, "http") + "/console/ws?csrf=" + url.QueryEscape(csrf)
	h := http.Header{"Origin": {origin}}
	for _, c := range b.c.Jar.Cookies(mustURL(t, b.e.srv.URL)) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	return websocket.Dial(t.Context(), u, &websocket.DialOptions{HTTPHeader: h})
}

type frame struct {
	Type           string `json:"type"`
	ConversationID int64  `json:"conversation_id"`
	Code           string `json:"code"`
	On             *bool  `json:"on"`
	Message        *struct {
		ID   int64  `json:"id"`
		Text string `json:"text"`
	} `json:"message"`
	Routing *handoff.RoutingEvent `json:"routing"`
}

// next reads frames until one of typ.
func next(t *testing.T, ws *websocket.Conn, typ string) frame {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context5s(t)
		_, data, err := ws.Read(ctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		var f frame
		must(t, json.Unmarshal(data, &f))
		if f.Type == typ {
			return f
		}
	}
	t.Fatalf("no %s frame", typ)
	return frame{}
}

func send(t *testing.T, ws *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context5s(t)
	defer cancel()
	must(t, ws.Write(ctx, websocket.MessageText, b))
}

// TestSocket: the socket needs the session, the page's token and the
// console's origin; it brings the watched conversation's messages and
// typing and the agent's routing events; another tenant's ids are not
// found; it is the agent's presence; a flood closes it.
func TestSocket(t *testing.T) {
	e := newEnv(t, console.Config{FramesPerSecond: 5, FrameBurst: 10})
	ctx := t.Context()
	q := e.queue(t, e.tenant, "General")
	ana := e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)
	conv := e.conversation(t, e.tenant, "Carla", "hola")
	_, err := e.router.Enqueue(ctx, e.tenant.ID, conv.ID, handoff.QueueRequest{QueueID: q.ID})
	must(t, err)
	_, err = e.router.SetStatus(ctx, e.tenant.ID, ana.ID, handoff.StatusAvailable)
	must(t, err)
	_, err = e.router.Pick(ctx, e.tenant.ID, ana.ID, conv.ID)
	must(t, err)
	rival := e.conversation(t, e.other, "Rita", "hola")
	a := e.session(t, ana)

	if _, resp, err := dial(t, a, e.srv.URL, "wrong"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("socket with a wrong token: %v %v", resp, err)
	}
	if _, resp, err := dial(t, a, "https://evil.example", a.csrf); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("socket from another origin: %v %v", resp, err)
	}
	if _, resp, err := dial(t, e.browser(t), e.srv.URL, a.csrf); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("socket without a session: %v %v", resp, err)
	}
	ws, _, err := dial(t, a, e.srv.URL, a.csrf)
	must(t, err)
	defer ws.CloseNow()
	next(t, ws, "hello")
	if got, err := e.store.Agent(ctx, ana.TenantID, ana.ID); err != nil || got.SeenAt.IsZero() {
		t.Fatalf("the socket did not touch the agent's presence: %+v %v", got, err)
	}

	// Another tenant's conversation is not found.
	send(t, ws, map[string]any{"type": "watch", "conversation_id": rival.ID})
	if f := next(t, ws, "error"); f.Code != conversation.ENOTFOUND {
		t.Fatalf("watching another tenant's conversation: %+v", f)
	}
	send(t, ws, map[string]any{"type": "typing", "conversation_id": rival.ID, "on": true})
	if f := next(t, ws, "error"); f.Code != conversation.ENOTFOUND {
		t.Fatalf("typing in another tenant's conversation: %+v", f)
	}

	send(t, ws, map[string]any{"type": "watch", "conversation_id": conv.ID})
	next(t, ws, "watching")
	e.say(t, e.tenant, conv, "¿sigues ahí?")
	if f := next(t, ws, "message"); f.Message == nil || f.Message.Text != "¿sigues ahí?" {
		t.Fatalf("message frame %+v", f)
	}
	must(t, e.svc.Typing(ctx, e.tenant.ID, conv.ID, conversation.Author{Kind: conversation.AuthorContact}, true))
	if f := next(t, ws, "typing"); f.On == nil || !*f.On || f.ConversationID != conv.ID {
		t.Fatalf("typing frame %+v", f)
	}
	// The agent's typing reaches the customer's side.
	sub, err := e.shared.Subscribe(ctx, conversation.ContactTopic(e.tenant.ID, conv.ContactID))
	must(t, err)
	defer sub.Close()
	send(t, ws, map[string]any{"type": "typing", "conversation_id": conv.ID, "on": true})
	select {
	case m := <-sub.C():
		var ev conversation.Event
		must(t, json.Unmarshal(m.Payload, &ev))
		if ev.Type != conversation.EventTyping || ev.Typing.Author.Kind != conversation.AuthorAgent || !ev.Typing.On {
			t.Fatalf("the agent's typing: %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the agent's typing was not published")
	}
	// Routing events of the agent.
	_, err = e.router.SetStatus(ctx, e.tenant.ID, ana.ID, handoff.StatusBusy)
	must(t, err)
	if f := next(t, ws, "routing"); f.Routing == nil || f.Routing.TenantID != e.tenant.ID {
		t.Fatalf("routing frame %+v", f)
	}

	// A flood is closed with a policy violation.
	for i := 0; i < 50; i++ {
		wctx, cancel := context5s(t)
		err := ws.Write(wctx, websocket.MessageText, []byte(`{"type":"ping"}`))
		cancel()
		if err != nil {
			break
		}
	}
	for {
		rctx, cancel := context5s(t)
		_, _, err := ws.Read(rctx)
		cancel()
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("a flood ended the socket with %v, want a policy violation", err)
			}
			break
		}
	}
}

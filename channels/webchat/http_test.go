package webchat

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
)

func TestSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{settings: map[string]string{
		SettingTitle: "Acme", SettingColor: "#0b7a75", SettingGreetingES: "¡Hola!", SettingGreetingEN: "Hi!",
	}})
	other := e.createAccount(e.tenant.ID, "acme-other", nil)
	disabled := conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelWebchat, Key: "acme-off", Name: "Off", Disabled: true}
	if _, err := e.store.CreateChannelAccount(t.Context(), disabled); err != nil {
		t.Fatal(err)
	}
	first := e.session(e.acct.Key, "")
	ofOther := e.session(other.Key, "")
	expired := signToken(testSecret, visitorToken{Account: e.acct.ID, Visitor: first.Visitor, Expires: time.Now().Add(-time.Minute).Unix()})

	// decode checks a session answer and returns its token's claims.
	decode := func(t *testing.T, body []byte) (sessionResponse, visitorToken) {
		t.Helper()
		var s sessionResponse
		if err := json.Unmarshal(body, &s); err != nil {
			t.Fatal(err)
		}
		tok, err := verifyToken(testSecret, s.Token, time.Now())
		if err != nil {
			t.Fatalf("the session's token: %v", err)
		}
		if tok.Account != e.acct.ID || tok.Visitor != s.Visitor || !visitorIDOK(s.Visitor) {
			t.Fatalf("token %+v for visitor %q, want account %d", tok, s.Visitor, e.acct.ID)
		}
		if d := time.Until(s.ExpiresAt) - 365*24*time.Hour; d > time.Minute || d < -time.Minute {
			t.Fatalf("expires at %v, want a year from now", s.ExpiresAt)
		}
		return s, tok
	}

	tests := []struct {
		name   string
		key    string
		body   string
		status int
		// visitor is the visitor the answer must name: "" for any new one.
		visitor string
	}{
		{name: "new visitor without a body", key: e.acct.Key, status: http.StatusOK},
		{name: "new visitor with an empty token", key: e.acct.Key, body: `{"token":""}`, status: http.StatusOK},
		{name: "renewal keeps the visitor", key: e.acct.Key, body: fmt.Sprintf(`{"token":%q}`, first.Token), status: http.StatusOK, visitor: first.Visitor},
		{name: "token of another account", key: e.acct.Key, body: fmt.Sprintf(`{"token":%q}`, ofOther.Token), status: http.StatusOK},
		{name: "expired token", key: e.acct.Key, body: fmt.Sprintf(`{"token":%q}`, expired), status: http.StatusOK},
		{name: "forged token", key: e.acct.Key, body: `{"token":"eyJhIjoxfQ.AAAA"}`, status: http.StatusOK},
		{name: "body of 4 KiB", key: e.acct.Key, body: jsonBody(4 << 10), status: http.StatusOK},
		{name: "body over 4 KiB", key: e.acct.Key, body: jsonBody(4<<10 + 1), status: http.StatusRequestEntityTooLarge},
		{name: "malformed JSON", key: e.acct.Key, body: `{"token":`, status: http.StatusBadRequest},
		{name: "not an object", key: e.acct.Key, body: `["token"]`, status: http.StatusBadRequest},
		{name: "unknown account", key: "nobody", status: http.StatusNotFound},
		{name: "disabled account", key: "acme-off", status: http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := e.post("/webchat/"+tt.key+"/session", tt.body, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("status %s %s, want %d", res.Status, body, tt.status)
			}
			if tt.status != http.StatusOK {
				var answer struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(body, &answer); err != nil || answer.Error.Code == "" {
					t.Fatalf("error body %s: want a JSON error with a code", body)
				}
				return
			}
			s, _ := decode(t, body)
			switch {
			case tt.visitor != "" && s.Visitor != tt.visitor:
				t.Fatalf("visitor %s, want %s kept", s.Visitor, tt.visitor)
			case tt.visitor == "" && (s.Visitor == first.Visitor || s.Visitor == ofOther.Visitor):
				t.Fatalf("visitor %s, want a new one", s.Visitor)
			}
			if s.Title != "Acme" || s.Color != "#0b7a75" || s.Greeting["es"] != "¡Hola!" || s.Greeting["en"] != "Hi!" {
				t.Fatalf("widget settings %+v, want the account's", s)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	restricted := e.createAccount(e.tenant.ID, "acme-shop", map[string]string{SettingAllowedOrigins: "https://shop.example.com https://*.acme.test"})

	tests := []struct {
		name   string
		method string
		key    string
		origin string
		status int
		// allowed says the answer grants the origin.
		allowed bool
	}{
		{name: "any origin", method: http.MethodPost, key: e.acct.Key, origin: "https://anywhere.test", status: http.StatusOK, allowed: true},
		{name: "preflight of any origin", method: http.MethodOptions, key: e.acct.Key, origin: "https://anywhere.test", status: http.StatusNoContent, allowed: true},
		{name: "no origin", method: http.MethodPost, key: e.acct.Key, status: http.StatusOK},
		{name: "listed origin", method: http.MethodPost, key: restricted.Key, origin: "https://shop.example.com", status: http.StatusOK, allowed: true},
		{name: "listed origin in capitals", method: http.MethodPost, key: restricted.Key, origin: "https://SHOP.example.com", status: http.StatusOK, allowed: true},
		{name: "origin matching a pattern", method: http.MethodPost, key: restricted.Key, origin: "https://www.acme.test", status: http.StatusOK, allowed: true},
		{name: "preflight of a listed origin", method: http.MethodOptions, key: restricted.Key, origin: "https://shop.example.com", status: http.StatusNoContent, allowed: true},
		{name: "unlisted origin", method: http.MethodPost, key: restricted.Key, origin: "https://evil.test", status: http.StatusForbidden},
		{name: "unlisted port", method: http.MethodPost, key: restricted.Key, origin: "https://shop.example.com:8443", status: http.StatusForbidden},
		{name: "preflight of an unlisted origin", method: http.MethodOptions, key: restricted.Key, origin: "https://evil.test", status: http.StatusForbidden},
		{name: "opaque origin", method: http.MethodPost, key: restricted.Key, origin: "null", status: http.StatusForbidden},
		{name: "unknown account", method: http.MethodOptions, key: "nobody", origin: "https://anywhere.test", status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, e.srv.URL+"/webchat/"+tt.key+"/session", strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			res, body := e.do(req, h)
			if res.StatusCode != tt.status {
				t.Fatalf("status %s %s, want %d", res.Status, body, tt.status)
			}
			got := res.Header.Get("Access-Control-Allow-Origin")
			if tt.allowed != (got == tt.origin && got != "") {
				t.Fatalf("Access-Control-Allow-Origin %q for origin %q, want allowed=%v", got, tt.origin, tt.allowed)
			}
			if tt.allowed {
				if !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") || !strings.Contains(res.Header.Get("Vary"), "Origin") {
					t.Fatalf("CORS headers %v: want Authorization allowed and Vary: Origin", res.Header)
				}
			}
		})
	}

	// The socket decides alike: a page that may get a session may connect.
	for _, tt := range []struct {
		origin string
		ok     bool
	}{{"https://www.acme.test", true}, {"https://shop.example.com", true}, {"https://evil.test", false}} {
		t.Run("socket from "+tt.origin, func(t *testing.T) {
			t.Parallel()
			status := e.tryDial(restricted.Key, tt.origin)
			if (status == http.StatusSwitchingProtocols) != tt.ok {
				t.Fatalf("upgrade answered %d, want allowed=%v", status, tt.ok)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	other := e.createAccount(e.tenant.ID, "acme-other", nil)
	s := e.session(e.acct.Key, "")
	c, _ := e.connect(e.acct.Key, s.Token, nil)
	c.message("m1", "hola")
	m1 := c.ack("m1").Message
	reply := e.agentReply(m1.ConversationID, "Hola, soy Ana")
	e.waitStatus(reply.ID, conversation.StatusSent)
	c.message("m2", "gracias")
	m2 := c.ack("m2").Message
	// A scheduled reply is still queued: the visitor has not seen it.
	if _, err := e.svc.Send(t.Context(), conversation.Outbound{
		TenantID: e.tenant.ID, ConversationID: m1.ConversationID, Author: conversation.Author{Kind: conversation.AuthorAgent, ID: 7},
		Parts: []conversation.Part{conversation.TextPart("mañana")}, SendAt: time.Now().Add(time.Hour),
	}); err != nil {
		t.Fatal(err)
	}

	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	expired := signToken(testSecret, visitorToken{Account: e.acct.ID, Visitor: s.Visitor, Expires: time.Now().Add(-time.Second).Unix()})
	ofOther := e.session(other.Key, "")
	stranger := e.session(e.acct.Key, "")

	tests := []struct {
		name   string
		query  string
		header http.Header
		status int
		// want are the ids of the messages answered, in order.
		want []int64
	}{
		{name: "no token", status: http.StatusUnauthorized},
		{name: "not a bearer token", header: http.Header{"Authorization": {"Basic " + s.Token}}, status: http.StatusUnauthorized},
		{name: "invalid token", header: bearer(s.Token + "x"), status: http.StatusUnauthorized},
		{name: "expired token", header: bearer(expired), status: http.StatusUnauthorized},
		{name: "token of another account", header: bearer(ofOther.Token), status: http.StatusForbidden},
		{name: "everything", header: bearer(s.Token), status: http.StatusOK, want: []int64{m1.ID, reply.ID, m2.ID}},
		// After a position come the later messages and the latest few again,
		// for replies sent out of order: here, all three.
		{name: "after the first message", header: bearer(s.Token), query: fmt.Sprintf("?after_conversation=%d&after_seq=%d", m1.ConversationID, m1.Seq), status: http.StatusOK, want: []int64{m1.ID, reply.ID, m2.ID}},
		{name: "after the last message", header: bearer(s.Token), query: fmt.Sprintf("?after_conversation=%d&after_seq=%d", m2.ConversationID, m2.Seq), status: http.StatusOK, want: []int64{m1.ID, reply.ID, m2.ID}},
		{name: "after an earlier conversation", header: bearer(s.Token), query: fmt.Sprintf("?after_conversation=%d&after_seq=999", m1.ConversationID-1), status: http.StatusOK, want: []int64{m1.ID, reply.ID, m2.ID}},
		{name: "half a position", header: bearer(s.Token), query: "?after_seq=1", status: http.StatusBadRequest},
		{name: "negative position", header: bearer(s.Token), query: "?after_conversation=-1&after_seq=0", status: http.StatusBadRequest},
		{name: "a visitor who never wrote", header: bearer(stranger.Token), status: http.StatusOK, want: []int64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := e.get("/webchat/"+e.acct.Key+"/history"+tt.query, tt.header)
			if res.StatusCode != tt.status {
				t.Fatalf("status %s %s, want %d", res.Status, body, tt.status)
			}
			if tt.status == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if tt.want == nil {
				return
			}
			var answer struct{ Messages []wireMsg }
			if err := json.Unmarshal(body, &answer); err != nil {
				t.Fatal(err)
			}
			got := []int64{}
			for _, m := range answer.Messages {
				got = append(got, m.ID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("messages %v, want %v", got, tt.want)
			}
			for _, m := range answer.Messages {
				if m.Direction == "in" && m.ClientID == "" {
					t.Fatalf("own message %d without its client id", m.ID)
				}
			}
		})
	}
}

func TestStaticPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	// The account's name is the tenant's to choose: the page escapes it.
	named := conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelWebchat, Key: "acme-demo", Name: `<script>alert("x")</script>`}
	if _, err := e.store.CreateChannelAccount(t.Context(), named); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		status int
		ctype  string
		want   []string
		not    []string
	}{
		{name: "widget", path: "/webchat/widget.js", status: http.StatusOK, ctype: "text/javascript", want: []string{"data-channel", "'/ws'"}},
		{name: "demo", path: "/webchat/demo?channel=acme-web", status: http.StatusOK, ctype: "text/html",
			want: []string{`<script src="/webchat/widget.js" data-channel="acme-web" defer></script>`, `<html lang="es">`}},
		{name: "demo in English", path: "/webchat/demo?channel=acme-web&lang=en", status: http.StatusOK, ctype: "text/html", want: []string{`<html lang="en">`, "web-chat demo"}},
		{name: "demo escapes the name", path: "/webchat/demo?channel=acme-demo", status: http.StatusOK, ctype: "text/html",
			want: []string{"&lt;script&gt;alert("}, not: []string{`<script>alert(`}},
		{name: "demo of an unknown channel", path: "/webchat/demo?channel=nobody", status: http.StatusNotFound},
		{name: "demo without a channel", path: "/webchat/demo", status: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, body := e.get(tt.path, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("status %s, want %d", res.Status, tt.status)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
				t.Fatalf("content type %q, want %s", ct, tt.ctype)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("body lacks %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(string(body), n) {
					t.Errorf("body has %q", n)
				}
			}
		})
	}
}

package webchat

import (
	"cmp"
	"context"
	"encoding/json"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// Routes implements channels.Webhooks:
//
//	GET  /webchat/widget.js          the widget
//	GET  /webchat/demo?channel=KEY   a page that embeds the widget
//	POST /webchat/{key}/session      a visitor token, new or renewed
//	GET  /webchat/{key}/history      the visitor's messages (Bearer token)
//	GET  /webchat/{key}/ws           the widget's WebSocket
func (c *Channel) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /webchat/widget.js", c.serveWidget)
	mux.HandleFunc("GET /webchat/demo", c.serveDemo)
	mux.HandleFunc("POST /webchat/{key}/session", c.cors(c.serveSession))
	mux.HandleFunc("OPTIONS /webchat/{key}/session", c.cors(nil))
	mux.HandleFunc("GET /webchat/{key}/history", c.cors(c.serveHistory))
	mux.HandleFunc("OPTIONS /webchat/{key}/history", c.cors(nil))
	mux.HandleFunc("GET /webchat/{key}/ws", c.serveSocket)
}

func (c *Channel) serveWidget(w http.ResponseWriter, r *http.Request) {
	js, err := static.ReadFile("static/widget.js")
	if err != nil {
		http.Error(w, "widget missing", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(js)
}

var demoPage = template.Must(template.ParseFS(static, "static/demo.html"))

func (c *Channel) serveDemo(w http.ResponseWriter, r *http.Request) {
	key := r.URL.Query().Get("channel")
	acct, err := c.svc.Account(r.Context(), conversation.ChannelWebchat, key)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	lang := "es"
	if r.URL.Query().Get("lang") == "en" {
		lang = "en"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := demoPage.Execute(w, map[string]string{"Lang": lang, "Channel": acct.Key, "Name": acct.Name}); err != nil {
		c.logger.Error("render demo page", "err", err)
	}
}

// cors answers cross-origin requests from the pages that embed the widget:
// any origin, unless the account lists allowed origins. No cookies are
// involved; the visitor token travels in the body or header. A nil next
// answers only the preflight.
func (c *Channel) cors(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" {
			acct, err := c.svc.Account(r.Context(), conversation.ChannelWebchat, r.PathValue("key"))
			if err != nil {
				c.writeError(w, r, err)
				return
			}
			if hosts, _ := parseOrigins(acct.Settings[SettingAllowedOrigins]); len(hosts) > 0 && !originAllowed(origin, r.Host, hosts) {
				writeJSONError(w, http.StatusForbidden, "forbidden", "this page may not embed the widget")
				return
			}
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.Header().Add("Vary", "Origin")
		}
		if next == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next(w, r)
	}
}

// originAllowed reports whether a page at origin may use the widget of an
// account that allows hosts. It decides as the WebSocket handshake does
// (websocket.AcceptOptions.OriginPatterns), so that a page never gets a
// session whose socket would be refused, or the other way round: the
// server's own pages are allowed, and each host is a case-insensitive
// path.Match pattern such as *.example.com.
func originAllowed(origin, serverHost string, hosts []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, serverHost) {
		return true
	}
	for _, h := range hosts {
		if ok, _ := path.Match(strings.ToLower(h), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}

type sessionRequest struct {
	Token string `json:"token"`
}

type sessionResponse struct {
	Token     string            `json:"token"`
	Visitor   string            `json:"visitor"`
	ExpiresAt time.Time         `json:"expires_at"`
	Title     string            `json:"title,omitempty"`
	Color     string            `json:"color,omitempty"`
	Greeting  map[string]string `json:"greeting,omitempty"`
}

// serveSession renews the visitor's token, or makes a new visitor when the
// token is missing, invalid, expired or of another account.
func (c *Channel) serveSession(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	acct, err := c.svc.Account(ctx, conversation.ChannelWebchat, r.PathValue("key"))
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	var req sessionRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "too_large", "the request body is at most 4 KiB")
		return
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			writeJSONError(w, http.StatusBadRequest, "invalid", "the body is not a JSON object with a token")
			return
		}
	}
	now := time.Now()
	tok, err := verifyToken(c.cfg.Secret, req.Token, now)
	if err != nil || tok.Account != acct.ID {
		ok, retry, err := c.limiter.Allow(ctx, "webchat:session:"+clientIP(r), c.cfg.NewVisitorsPerMinute, time.Minute)
		if err != nil {
			c.logger.Warn("rate limiter unavailable", "err", err)
		} else if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
			writeJSONError(w, http.StatusTooManyRequests, "rate_limited", "too many new visitors from this address")
			return
		}
		tok = visitorToken{Account: acct.ID, Visitor: newVisitorID()}
	}
	tok.Expires = now.Add(c.cfg.TokenTTL).Unix()
	writeJSON(w, http.StatusOK, sessionResponse{
		Token:     signToken(c.cfg.Secret, tok),
		Visitor:   tok.Visitor,
		ExpiresAt: time.Unix(tok.Expires, 0).UTC(),
		Title:     acct.Settings[SettingTitle],
		Color:     acct.Settings[SettingColor],
		Greeting:  greetings(acct),
	})
}

func greetings(acct conversation.ChannelAccount) map[string]string {
	g := map[string]string{}
	if s := acct.Settings[SettingGreetingES]; s != "" {
		g["es"] = s
	}
	if s := acct.Settings[SettingGreetingEN]; s != "" {
		g["en"] = s
	}
	return g
}

// serveHistory returns the visitor's messages after a position, for
// clients that poll instead of holding a socket. It answers 401 to a
// missing, invalid or expired token and 403 to a token of another account.
func (c *Channel) serveHistory(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	acct, err := c.svc.Account(ctx, conversation.ChannelWebchat, r.PathValue("key"))
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok, err := verifyToken(c.cfg.Secret, raw, time.Now())
	switch {
	case err != nil:
		w.Header().Set("WWW-Authenticate", `Bearer realm="webchat"`)
		writeJSONError(w, http.StatusUnauthorized, "unauthorized", err.Error())
		return
	case tok.Account != acct.ID:
		writeJSONError(w, http.StatusForbidden, "forbidden", "the visitor token belongs to another channel")
		return
	}
	var after *conversation.MessagePos
	if q := r.URL.Query(); q.Has("after_conversation") || q.Has("after_seq") {
		conv, err1 := strconv.ParseInt(q.Get("after_conversation"), 10, 64)
		seq, err2 := strconv.ParseInt(q.Get("after_seq"), 10, 64)
		if err1 != nil || err2 != nil || conv < 0 || seq < 0 {
			writeJSONError(w, http.StatusBadRequest, "invalid", "after_conversation and after_seq must be non-negative integers")
			return
		}
		after = &conversation.MessagePos{ConversationID: conv, Seq: seq}
	}
	contactID, err := c.contactOf(ctx, acct, tok.Visitor)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	msgs, err := c.history(ctx, acct, contactID, tok.Visitor, after)
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": msgs})
}

// history returns what the visitor has seen or may see on this account:
// their messages and the delivered replies, in order. Without a position it
// returns the latest; with one, the messages after it and also the latest
// few, because replies are sent concurrently and one with an earlier seq
// may have been sent after the position was taken. The widget shows each
// message once.
func (c *Channel) history(ctx context.Context, acct conversation.ChannelAccount, contactID int64, visitor string, after *conversation.MessagePos) ([]wireMessage, error) {
	if contactID == 0 {
		return []wireMessage{}, nil
	}
	f := conversation.MessageFilter{ContactID: contactID, AccountID: acct.ID, Delivered: true, Limit: historyLimit, Newest: true}
	if after != nil {
		f.Limit = resumeOverlap
	}
	msgs, err := c.store.ListMessages(ctx, acct.TenantID, f)
	if err != nil {
		return nil, err
	}
	if after != nil {
		f.Newest, f.After, f.Limit = false, after, historyLimit
		later, err := c.store.ListMessages(ctx, acct.TenantID, f)
		if err != nil {
			return nil, err
		}
		msgs = mergeMessages(msgs, later)
	}
	out := make([]wireMessage, len(msgs))
	for i, m := range msgs {
		out[i] = toWire(m, visitor)
	}
	return out, nil
}

// mergeMessages merges two lists in (conversation, seq) order, once each.
func mergeMessages(a, b []conversation.Message) []conversation.Message {
	seen := make(map[int64]bool, len(a)+len(b))
	var out []conversation.Message
	for _, m := range append(a, b...) {
		if !seen[m.ID] {
			seen[m.ID] = true
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(x, y conversation.Message) int {
		return cmp.Or(cmp.Compare(x.ConversationID, y.ConversationID), cmp.Compare(x.Seq, y.Seq))
	})
	return out
}

// contactOf returns the id of the visitor's contact, or 0 before their
// first message.
func (c *Channel) contactOf(ctx context.Context, acct conversation.ChannelAccount, visitor string) (int64, error) {
	contact, err := c.store.ContactByIdentity(ctx, acct.TenantID, conversation.Identity{Channel: conversation.ChannelWebchat, Address: visitor})
	if conversation.IsNotFound(err) {
		return 0, nil
	}
	return contact.ID, err
}

// resumeOverlap is how many of the latest messages a resuming widget gets
// again, to catch replies sent out of order.
const resumeOverlap = 20

const historyLimit = 100

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// writeError answers with the status of err's code, logging internal
// errors.
func (c *Channel) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch conversation.ErrorCode(err) {
	case conversation.ENOTFOUND:
		status = http.StatusNotFound
	case conversation.EFORBIDDEN:
		status = http.StatusForbidden
	case conversation.EINVALID:
		status = http.StatusBadRequest
	default:
		c.logger.Error("web-chat request failed", "path", r.URL.Path, "err", err)
	}
	writeJSONError(w, status, conversation.ErrorCode(err), conversation.ErrorMessage(err))
}

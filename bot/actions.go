package bot

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"conversa/conversation"
)

// Action is a custom action written in Go, that a definition names in an
// intent or a flow step. Run must return when ctx ends and be safe for
// concurrent use; an error makes the flow go to the step's on_error.
type Action interface {
	Run(ctx context.Context, c ActionContext) (ActionResult, error)
}

// ActionFunc adapts a function to Action.
type ActionFunc func(ctx context.Context, c ActionContext) (ActionResult, error)

// Run calls f.
func (f ActionFunc) Run(ctx context.Context, c ActionContext) (ActionResult, error) { return f(ctx, c) }

// ActionContext is the conversation as an action sees it.
type ActionContext struct {
	Action       string
	Tenant       conversation.Tenant
	Conversation conversation.Conversation
	Contact      conversation.Contact
	Message      conversation.Message
	// Channel is the channel the customer is on.
	Channel  conversation.ChannelKind
	Intent   string
	Language string
	// Slots are the values collected so far; the action must not modify
	// the map.
	Slots map[string]string
}

// ActionResult is what an action hands back: slots to set, and optionally
// a response to say.
type ActionResult struct {
	Slots map[string]string
	// Say names a response of the definition.
	Say string
}

// httpAction is a compiled HTTP action.
type httpAction struct {
	name    string
	url     string
	timeout time.Duration
	secret  []byte
	result  map[string]string
}

const (
	defaultActionTimeout = 5 * time.Second
	maxActionTimeout     = 30 * time.Second
	maxActionResponse    = 1 << 20
)

func newHTTPAction(a *ActionDef) (*httpAction, error) {
	u, err := url.Parse(a.HTTP.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("url %q must be an absolute http(s) URL", a.HTTP.URL)
	}
	if u.User != nil {
		return nil, errors.New("the url must not hold credentials; use secret")
	}
	h := &httpAction{name: a.Name, url: u.String(), timeout: defaultActionTimeout, secret: []byte(a.HTTP.Secret), result: a.HTTP.Result}
	if a.HTTP.Timeout != "" {
		d, err := time.ParseDuration(a.HTTP.Timeout)
		if err != nil || d <= 0 || d > maxActionTimeout {
			return nil, fmt.Errorf("timeout %q must be a duration up to %s, like 3s", a.HTTP.Timeout, maxActionTimeout)
		}
		h.timeout = d
	}
	return h, nil
}

// actionRequest is the JSON body of an HTTP action call.
type actionRequest struct {
	Action         string            `json:"action"`
	Tenant         string            `json:"tenant"`
	ConversationID int64             `json:"conversation_id"`
	MessageID      int64             `json:"message_id"`
	Channel        string            `json:"channel"`
	Contact        actionContact     `json:"contact"`
	Intent         string            `json:"intent,omitempty"`
	Language       string            `json:"language"`
	Text           string            `json:"text"`
	Slots          map[string]string `json:"slots"`
}

type actionContact struct {
	ID         int64             `json:"id"`
	Name       string            `json:"name,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// run calls the client's endpoint and maps its JSON answer into slots.
func (h *httpAction) run(ctx context.Context, client *http.Client, c ActionContext) (ActionResult, error) {
	body, err := json.Marshal(actionRequest{
		Action: h.name, Tenant: c.Tenant.Slug, ConversationID: c.Conversation.ID, MessageID: c.Message.ID,
		Channel: string(c.Channel), Intent: c.Intent, Language: c.Language, Text: c.Message.Text(), Slots: c.Slots,
		Contact: actionContact{ID: c.Contact.ID, Name: c.Contact.Name, Attributes: c.Contact.Attributes},
	})
	if err != nil {
		return ActionResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return ActionResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Conversa-Action/1")
	if len(h.secret) > 0 {
		req.Header.Set("X-Conversa-Signature", Sign(h.secret, time.Now(), body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return ActionResult{}, fmt.Errorf("call action %s: %w", h.name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxActionResponse+1))
	if err != nil {
		return ActionResult{}, fmt.Errorf("read action %s answer: %w", h.name, err)
	}
	if resp.StatusCode/100 != 2 {
		return ActionResult{}, fmt.Errorf("action %s answered %s", h.name, resp.Status)
	}
	if len(data) > maxActionResponse {
		return ActionResult{}, fmt.Errorf("action %s answered more than %d bytes", h.name, maxActionResponse)
	}
	out := ActionResult{Slots: map[string]string{}}
	if len(h.result) == 0 {
		return out, nil
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return ActionResult{}, fmt.Errorf("action %s answered invalid JSON: %w", h.name, err)
	}
	for _, slot := range sortedKeys(h.result) {
		if v, ok := lookupPath(doc, h.result[slot]); ok {
			out.Slots[slot] = v
		}
	}
	return out, nil
}

// lookupPath reads a dotted path ("account.balance", "items.0.name") of a
// decoded JSON document as text.
func lookupPath(doc any, path string) (string, bool) {
	cur := doc
	for part := range strings.SplitSeq(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[part]
			if !ok {
				return "", false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(v) {
				return "", false
			}
			cur = v[i]
		default:
			return "", false
		}
	}
	switch v := cur.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "", false
	}
	b, err := json.Marshal(cur)
	return string(b), err == nil
}

// Sign returns the X-Conversa-Signature of a request body sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256 of "<unix>.<body>">".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// NewActionClient returns the HTTP client of HTTP actions. Unless
// allowPrivate, it refuses to connect to loopback, private, link-local and
// other non-public addresses, whatever a name resolves to, so that a bot
// definition cannot reach the network Conversa runs in.
func NewActionClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("refusing to connect to %s", address)
			}
			if a := ap.Addr().Unmap(); !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
				return fmt.Errorf("refusing to connect to the non-public address %s", a)
			}
			return nil
		}
	}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: maxActionTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       60 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("action endpoints must not redirect")
		},
	}
}

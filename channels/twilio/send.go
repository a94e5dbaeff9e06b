package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"conversa/conversation"
)

// maxBodyChars is the longest Body the Messages API takes.
const maxBodyChars = 1600

// whatsAppWindow is how long after a contact's last message WhatsApp
// allows free-form messages.
const whatsAppWindow = 24 * time.Hour

// Failure codes of sends this channel refuses before calling Twilio.
const (
	// FailureOutsideWindow: a free-form WhatsApp message more than 24 hours
	// after the contact last wrote, and no fallback template.
	FailureOutsideWindow = "outside_window"
	// FailureUnsupported: content Twilio cannot carry as given.
	FailureUnsupported = "unsupported_content"
	// FailureTimeout: Twilio did not answer in time.
	FailureTimeout = "timeout"
)

// send delivers d through the Messages API.
func (t *Twilio) send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return conversation.Receipt{}, err
	}
	kind := d.Account.Kind
	set, err := parseSettings(kind, d.Account.Settings)
	if err != nil {
		return conversation.Receipt{}, &conversation.DeliveryError{Code: "invalid_settings", Message: "the account's settings are invalid: " + conversation.ErrorMessage(err), Permanent: true}
	}
	to := d.To.Address
	if !e164RE.MatchString(to) {
		return conversation.Receipt{}, &conversation.DeliveryError{Code: "invalid_address", Message: fmt.Sprintf("%q is not an E.164 phone number", to), Permanent: true}
	}
	prefix := ""
	if kind == conversation.ChannelWhatsApp {
		prefix = "whatsapp:"
	}
	p := &openapi.CreateMessageParams{}
	p.SetPathAccountSid(set.accountSID)
	p.SetTo(prefix + to)
	if set.serviceSID != "" {
		p.SetMessagingServiceSid(set.serviceSID)
	} else {
		p.SetFrom(prefix + d.Account.Key)
	}
	cb := t.publicURL() + StatusPath
	if d.Message.ID > 0 {
		cb += "?" + StatusParam + "=" + strconv.FormatInt(d.Message.ID, 10)
	}
	p.SetStatusCallback(cb)

	template := kind == conversation.ChannelWhatsApp && !withinWindow(d.LastInbound)
	if template && d.Message.Meta[conversation.MetaContentSID] != "" {
		// The message names its own approved template (a notification
		// rendered from one).
		p.SetContentSid(d.Message.Meta[conversation.MetaContentSID])
		if v := d.Message.Meta[conversation.MetaContentVariables]; v != "" {
			vars, err := contentVariables(v)
			if err != nil {
				return conversation.Receipt{}, &conversation.DeliveryError{Code: FailureUnsupported, Permanent: true, Message: err.Error()}
			}
			p.SetContentVariables(vars)
		}
	} else if template {
		if set.templateSID == "" {
			last := "has never written"
			if !d.LastInbound.IsZero() {
				last = "last wrote " + d.LastInbound.UTC().Format(time.RFC3339)
			}
			return conversation.Receipt{}, &conversation.DeliveryError{Code: FailureOutsideWindow, Permanent: true,
				Message: "WhatsApp allows free-form messages only within 24 hours of the contact's last message, and the contact " + last +
					"; set template_content_sid on the account to send an approved template instead"}
		}
		p.SetContentSid(set.templateSID)
		if set.templateVars != "" {
			p.SetContentVariables(set.templateVars)
		}
	} else if sid, text, ok := quickReply(kind, set, d.Message.Parts); ok {
		vars, _ := json.Marshal(map[string]string{"1": text})
		p.SetContentSid(sid)
		p.SetContentVariables(string(vars))
	} else if err := t.content(p, kind, d.Message.TenantID, d.Message.Parts); err != nil {
		return conversation.Receipt{}, err
	}

	if err := t.pacer.wait(ctx, string(kind)+":"+d.Account.Key, set.rate); err != nil {
		return conversation.Receipt{}, fmt.Errorf("wait for the sender's pace: %w", err)
	}
	user, password := set.credentials()
	call := &apiCall{ctx: ctx, base: t.cfg.Transport, rewrite: t.rewrite()}
	c := &client.Client{
		Credentials: client.NewCredentials(user, password),
		// As twilio-go's own client: its timeout, and no redirects.
		HTTPClient: &http.Client{Transport: call, Timeout: t.cfg.RequestTimeout, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
	c.SetAccountSid(set.accountSID)
	msg, err := openapi.NewApiServiceWithClient(c).CreateMessage(p)
	if err != nil {
		return conversation.Receipt{}, t.sendError(ctx, call, err)
	}
	r := conversation.Receipt{Status: conversation.StatusSent}
	if msg.Sid != nil {
		r.ProviderID = *msg.Sid
	}
	if template {
		t.logger.Info("whatsapp message sent as the fallback template: outside the 24-hour window", "account", d.Account.ID, "message", d.Message.ID)
	}
	return r, nil
}

// withinWindow reports whether a free-form WhatsApp message may be sent
// to a contact who last wrote at last.
func withinWindow(last time.Time) bool {
	return !last.IsZero() && time.Since(last) < whatsAppWindow
}

// content sets the Body and MediaUrl of p from parts. Twilio's Messages
// API carries text and files by URL (a file of the media store by a
// signed link that expires after a day); buttons, locations and contact
// cards become text.
func (t *Twilio) content(p *openapi.CreateMessageParams, kind conversation.ChannelKind, tenantID int64, parts []conversation.Part) error {
	var texts, media []string
	for _, part := range parts {
		switch part.Type {
		case conversation.PartMedia:
			u := ""
			if part.Media != nil {
				u = part.Media.URL
				if u == "" && part.Media.Key != "" && t.cfg.Links != nil {
					u = t.cfg.Links.URL(tenantID, *part.Media, 24*time.Hour)
				}
			}
			if u == "" {
				return &conversation.DeliveryError{Code: FailureUnsupported, Permanent: true,
					Message: "Twilio fetches files by public URL, and this file has none"}
			}
			media = append(media, u)
			if part.Text != "" {
				texts = append(texts, part.Text)
			}
		default:
			if s := partText(part); s != "" {
				texts = append(texts, s)
			}
		}
	}
	body := strings.Join(texts, "\n\n")
	switch {
	case kind == conversation.ChannelWhatsApp && len(media) > 1:
		return &conversation.DeliveryError{Code: FailureUnsupported, Permanent: true, Message: "a WhatsApp message carries at most one file"}
	case len(media) > maxMedia:
		return &conversation.DeliveryError{Code: FailureUnsupported, Permanent: true, Message: fmt.Sprintf("a message carries at most %d files", maxMedia)}
	case utf8.RuneCountInString(body) > maxBodyChars:
		return &conversation.DeliveryError{Code: FailureUnsupported, Permanent: true, Message: fmt.Sprintf("the text is longer than the %d characters Twilio takes", maxBodyChars)}
	case body == "" && len(media) == 0:
		return &conversation.DeliveryError{Code: FailureUnsupported, Permanent: true, Message: "the message has nothing Twilio can send"}
	}
	if body != "" {
		p.SetBody(body)
	}
	if len(media) > 0 {
		p.SetMediaUrl(media)
	}
	return nil
}

// partText renders a part as text.
func partText(p conversation.Part) string {
	var lines []string
	if p.Text != "" {
		lines = append(lines, p.Text)
	}
	for i, b := range p.Buttons {
		lines = append(lines, fmt.Sprintf("%d. %s", i+1, b.Title))
	}
	if l := p.Location; l != nil {
		for _, s := range []string{l.Name, l.Address} {
			if s != "" {
				lines = append(lines, s)
			}
		}
		lines = append(lines, fmt.Sprintf("geo:%s,%s", strconv.FormatFloat(l.Latitude, 'f', -1, 64), strconv.FormatFloat(l.Longitude, 'f', -1, 64)))
	}
	if c := p.Contact; c != nil {
		if c.Name != "" {
			lines = append(lines, c.Name)
		}
		lines = append(lines, c.Phones...)
		lines = append(lines, c.Emails...)
	}
	return strings.Join(lines, "\n")
}

// sendError translates a failed call: too many requests is retried after
// Twilio's wait, a 5xx or a timeout is retried, any other refusal is
// permanent.
func (t *Twilio) sendError(ctx context.Context, call *apiCall, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("send twilio message: %w", ctx.Err())
	}
	status := call.status
	code, msg := "", ""
	if re, isRest := errors.AsType[*client.TwilioRestError](err); isRest {
		code, msg = strconv.Itoa(re.Code), re.Message
		if re.Status != 0 {
			status = re.Status
		}
	}
	if code == "" || code == "0" {
		code = ""
	}
	switch {
	case status == http.StatusTooManyRequests || code == "20429" || code == "21611":
		if msg == "" {
			msg = "Twilio refused the message: too many requests"
		}
		return &conversation.DeliveryError{Code: or(code, "20429"), Message: msg, RetryAfter: retryAfter(call.retryAfter, t.cfg.RetryAfter)}
	case status >= 500:
		return &conversation.DeliveryError{Code: or(code, "http_"+strconv.Itoa(status)), Message: fmt.Sprintf("Twilio answered HTTP %d: %s", status, or(msg, http.StatusText(status)))}
	case status >= 400:
		return &conversation.DeliveryError{Code: or(code, "http_"+strconv.Itoa(status)), Message: or(msg, http.StatusText(status)), Permanent: true}
	}
	if ne, isNet := errors.AsType[net.Error](err); isNet && ne.Timeout() {
		return &conversation.DeliveryError{Code: FailureTimeout, Message: fmt.Sprintf("Twilio did not answer within %s", t.cfg.RequestTimeout)}
	}
	return fmt.Errorf("send twilio message: %w", err)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// retryAfter reads a Retry-After header, in seconds or as a date.
func retryAfter(h string, def time.Duration) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && s > 0 {
		return min(time.Duration(s)*time.Second, time.Hour)
	}
	if at, err := http.ParseTime(h); err == nil {
		if d := time.Until(at); d > 0 {
			return min(d, time.Hour)
		}
	}
	return def
}

// apiCall is the transport of one REST call: it carries the caller's
// context (twilio-go takes none), points the request at the configured
// base URL, and notes the response's status and Retry-After, which
// twilio-go's errors drop.
type apiCall struct {
	ctx        context.Context
	base       http.RoundTripper
	rewrite    *url.URL
	status     int
	retryAfter string
}

func (c *apiCall) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(c.ctx)
	if c.rewrite != nil {
		req.URL.Scheme, req.URL.Host = c.rewrite.Scheme, c.rewrite.Host
		req.URL.Path = strings.TrimRight(c.rewrite.Path, "/") + req.URL.Path
		req.Host = ""
	}
	res, err := c.base.RoundTrip(req)
	if err == nil {
		c.status, c.retryAfter = res.StatusCode, res.Header.Get("Retry-After")
	}
	return res, err
}

// rewrite returns the base URL requests go to instead of Twilio's, nil for
// Twilio's own.
func (t *Twilio) rewrite() *url.URL {
	if t.cfg.APIBaseURL == DefaultAPIBaseURL {
		return nil
	}
	return t.apiBase
}

// contentVariables turns the values of a template's {{1}}, {{2}}, ... as
// the notification service gives them, a JSON array of strings, into the
// JSON object Twilio takes ({"1": "Ana", "2": ...}).
func contentVariables(array string) (string, error) {
	var vals []string
	if err := json.Unmarshal([]byte(array), &vals); err != nil {
		return "", fmt.Errorf("the message's content variables are not a JSON array of strings: %v", err)
	}
	obj := make(map[string]string, len(vals))
	for i, v := range vals {
		obj[strconv.Itoa(i+1)] = v
	}
	b, err := json.Marshal(obj)
	return string(b), err
}

// quickReply finds the account's quick-reply template for a WhatsApp
// message of text with buttons: the message is one text part with
// buttons, or text parts and then the part with them, and the account
// maps those buttons' ids to a template. It returns the template and the
// message's text, its body.
func quickReply(kind conversation.ChannelKind, set settings, parts []conversation.Part) (sid, text string, ok bool) {
	if kind != conversation.ChannelWhatsApp || len(set.quickReplies) == 0 || len(parts) == 0 {
		return "", "", false
	}
	last := parts[len(parts)-1]
	if len(last.Buttons) == 0 {
		return "", "", false
	}
	var texts []string
	for i, p := range parts {
		if p.Type != conversation.PartText || (i < len(parts)-1 && len(p.Buttons) > 0) {
			return "", "", false
		}
		if p.Text != "" {
			texts = append(texts, p.Text)
		}
	}
	ids := make([]string, len(last.Buttons))
	for i, b := range last.Buttons {
		ids[i] = b.ID
	}
	sid, ok = set.quickReplies[strings.Join(ids, ",")]
	if !ok || len(texts) == 0 {
		return "", "", false
	}
	return sid, strings.Join(texts, "\n\n"), true
}

package twilio

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// emptyTwiML answers a webhook with nothing for Twilio to do.
const emptyTwiML = `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`

func ok(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	io.WriteString(w, emptyTwiML)
}

// refuse answers a webhook with an error status and logs why.
func (t *Twilio) refuse(w http.ResponseWriter, r *http.Request, status int, reason string, args ...any) {
	args = append([]any{"status", status, "path", r.URL.Path, "reason", reason}, args...)
	if status >= 500 {
		t.logger.Error("twilio webhook failed", args...)
	} else {
		t.logger.Warn("twilio webhook refused", args...)
	}
	http.Error(w, http.StatusText(status), status)
}

// readForm reads a webhook's url-encoded body. It answers the request
// itself and returns false when the body is not a well-formed form within
// the size limit. A key given twice is refused: Twilio never sends one, and
// a signature covers only one value per key.
func (t *Twilio) readForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || ct != "application/x-www-form-urlencoded" {
		t.refuse(w, r, http.StatusUnsupportedMediaType, "the body is not a url-encoded form")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.cfg.MaxBodyBytes))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			t.refuse(w, r, http.StatusRequestEntityTooLarge, "the body is too large")
		} else {
			t.refuse(w, r, http.StatusBadRequest, "the body could not be read", "err", err)
		}
		return nil, false
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.refuse(w, r, http.StatusBadRequest, "the body is not a url-encoded form", "err", err)
		return nil, false
	}
	for k, vs := range form {
		if len(vs) > 1 {
			t.refuse(w, r, http.StatusBadRequest, "a form field is repeated", "field", truncate(k, 64))
			return nil, false
		}
	}
	return form, true
}

// account finds the account of kind with key and reads its settings. It
// answers the request itself and returns false when there is none.
func (t *Twilio) account(w http.ResponseWriter, r *http.Request, kind conversation.ChannelKind, key string) (conversation.ChannelAccount, settings, bool) {
	acct, err := t.svc.Account(r.Context(), kind, key)
	switch conversation.ErrorCode(err) {
	case "":
	case conversation.ENOTFOUND:
		t.refuse(w, r, http.StatusNotFound, "no account has the receiving number", "kind", kind, "number", key)
		return acct, settings{}, false
	case conversation.EFORBIDDEN:
		t.refuse(w, r, http.StatusNotFound, "the account of the receiving number is disabled", "kind", kind, "number", key)
		return acct, settings{}, false
	default:
		t.refuse(w, r, http.StatusServiceUnavailable, "find the account", "kind", kind, "number", key, "err", err)
		return acct, settings{}, false
	}
	set, err := parseSettings(acct.Kind, acct.Settings)
	if err != nil {
		t.refuse(w, r, http.StatusInternalServerError, "the account's settings are invalid", "account", acct.ID, "err", err)
		return acct, settings{}, false
	}
	return acct, set, true
}

// authentic checks the request's X-Twilio-Signature with the account's
// auth token over the URL Twilio called, and that the form names the
// account. It answers the request itself and returns false otherwise.
func (t *Twilio) authentic(w http.ResponseWriter, r *http.Request, form url.Values, acct conversation.ChannelAccount, set settings) bool {
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" || !validSignature(set.authToken, t.publicURL()+r.URL.RequestURI(), form, sig) {
		t.refuse(w, r, http.StatusForbidden, "missing or wrong X-Twilio-Signature", "account", acct.ID, "url", t.publicURL()+r.URL.RequestURI())
		return false
	}
	if form.Get("AccountSid") != set.accountSID {
		t.refuse(w, r, http.StatusForbidden, "the message belongs to another Twilio account", "account", acct.ID)
		return false
	}
	return true
}

// handleMessage is the webhook of inbound messages.
func (t *Twilio) handleMessage(w http.ResponseWriter, r *http.Request) {
	form, good := t.readForm(w, r)
	if !good {
		return
	}
	kind, key, err := address("To", form.Get("To"))
	if err != nil {
		t.refuse(w, r, http.StatusBadRequest, conversation.ErrorMessage(err))
		return
	}
	acct, set, good := t.account(w, r, kind, key)
	if !good || !t.authentic(w, r, form, acct, set) {
		return
	}
	in, err := parseInbound(form)
	if errors.Is(err, errNoContent) {
		t.logger.Info("twilio message with nothing to store ignored", "account", acct.ID, "sid", form.Get("MessageSid"), "type", truncate(form.Get("MessageType"), 32))
		ok(w)
		return
	}
	if err != nil {
		t.refuse(w, r, http.StatusBadRequest, "malformed message", "account", acct.ID, "err", err)
		return
	}
	// Once the request is authentic, finish even if Twilio stops waiting
	// (after 15 s it gives up, and does not retry).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), t.cfg.MediaTimeout+30*time.Second)
	defer cancel()
	seen := strconv.FormatInt(acct.ID, 10) + ":" + in.ProviderID
	if t.recent.has(seen) {
		// A replay: the store drops it; its files need not be fetched.
		for _, p := range in.Parts {
			if p.Media != nil {
				p.Media.URL, p.Media.Note = "", "file not fetched: the message was already received"
			}
		}
	} else if err := t.fetchMedia(ctx, acct, set, in.Parts); err != nil {
		t.refuse(w, r, http.StatusInternalServerError, "store a file of the message", "account", acct.ID, "sid", in.ProviderID, "err", err)
		return
	}
	res, err := t.svc.Ingest(ctx, in)
	if err != nil {
		status := http.StatusInternalServerError
		switch conversation.ErrorCode(err) {
		case conversation.EINVALID, conversation.ETOOLARGE:
			status = http.StatusBadRequest
		case conversation.ENOTFOUND, conversation.EFORBIDDEN:
			status = http.StatusNotFound
		}
		t.refuse(w, r, status, "ingest the message", "account", acct.ID, "sid", in.ProviderID, "err", err)
		return
	}
	t.recent.add(seen)
	if !res.Duplicate {
		if err := t.keyword(ctx, acct, set, in, res); err != nil {
			t.refuse(w, r, http.StatusInternalServerError, "act on an SMS keyword", "account", acct.ID, "sid", in.ProviderID, "err", err)
			return
		}
	}
	ok(w)
}

// keyword acts on an SMS carrier keyword: STOP and START are recorded in
// the consent ledger, HELP is answered with the account's help text. The
// bot never sees them (see conversation.InboundKeyword).
func (t *Twilio) keyword(ctx context.Context, acct conversation.ChannelAccount, set settings, in conversation.Inbound, res conversation.IngestResult) error {
	kw, isKeyword := conversation.InboundKeyword(conversation.Message{Channel: in.Channel, Direction: conversation.DirectionIn, Parts: in.Parts})
	if !isKeyword {
		return nil
	}
	switch kw {
	case conversation.KeywordStop, conversation.KeywordStart:
		word := strings.ToUpper(strings.TrimRight(strings.TrimSpace(in.Parts[0].Text), ".!¡?¿ "))
		_, err := t.svc.RecordConsent(ctx, conversation.ConsentChange{
			TenantID: acct.TenantID, AccountID: acct.ID, ContactID: res.Message.ContactID,
			Channel: conversation.ChannelSMS, Address: in.From, OptedOut: kw == conversation.KeywordStop,
			Source: "keyword:" + word, ProviderID: in.ProviderID,
		})
		if err != nil {
			return err
		}
		t.logger.Info("sms consent recorded", "account", acct.ID, "contact", res.Message.ContactID, "keyword", word)
	case conversation.KeywordHelp:
		_, err := t.svc.Send(ctx, conversation.Outbound{
			TenantID: acct.TenantID, ConversationID: res.Message.ConversationID,
			Author: conversation.Author{Kind: conversation.AuthorBot}, AccountID: acct.ID,
			Parts: []conversation.Part{conversation.TextPart(set.helpText)}, IdempotencyKey: "help:" + in.ProviderID,
			// Carriers require the answer to HELP even after a STOP.
			Meta: map[string]string{conversation.MetaKeywordReply: "HELP"},
		})
		return err
	}
	return nil
}

// StatusParam is the query parameter of the status callback URL that names
// the stored message, so that a callback that overtakes the send's own
// record still finds its message.
const StatusParam = "message"

// handleStatus is the webhook of status callbacks. A callback about a
// message Conversa does not know (sent by other software from the same
// number) is answered 200 and logged: Twilio does not retry callbacks, and
// an error would only fill the account's debugger.
func (t *Twilio) handleStatus(w http.ResponseWriter, r *http.Request) {
	form, good := t.readForm(w, r)
	if !good {
		return
	}
	rep, err := parseStatus(form)
	if err != nil {
		t.refuse(w, r, http.StatusBadRequest, conversation.ErrorMessage(err), "field", conversation.ErrorField(err))
		return
	}
	acct, set, good := t.account(w, r, rep.Kind, rep.Sender)
	if !good || !t.authentic(w, r, form, acct, set) {
		return
	}
	if rep.Ignored {
		ok(w)
		return
	}
	u := conversation.StatusUpdate{TenantID: acct.TenantID, AccountID: acct.ID, ProviderID: rep.SID, Status: rep.Status, Failure: rep.Failure}
	if id, err := strconv.ParseInt(r.URL.Query().Get(StatusParam), 10, 64); err == nil && id > 0 {
		u.MessageID, u.SetProviderID = id, rep.SID
	}
	_, err = t.svc.UpdateStatus(r.Context(), u)
	switch conversation.ErrorCode(err) {
	case "":
	case conversation.ENOTFOUND, conversation.ECONFLICT:
		t.logger.Info("twilio status of an unknown message ignored", "account", acct.ID, "sid", rep.SID, "message", u.MessageID, "err", err)
	default:
		t.refuse(w, r, http.StatusInternalServerError, "record the status", "account", acct.ID, "sid", rep.SID, "err", err)
		return
	}
	ok(w)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// validSignature checks X-Twilio-Signature as Twilio computes it: the
// base64 of the HMAC-SHA1, keyed with the auth token, of the URL followed
// by every form field's name and value in name order. Twilio signs the URL
// it called, with or without the default port, so both are accepted, as
// twilio-go's RequestValidator does; this does the same work once per
// candidate URL, without the validator's allocations (it was a sixth of the
// webhook's CPU).
func validSignature(token, u string, form url.Values, sig string) bool {
	want, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || len(want) != sha1.Size {
		return false
	}
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	mac := hmac.New(sha1.New, []byte(token))
	sign := func(u string) []byte {
		mac.Reset()
		io.WriteString(mac, u)
		for _, k := range keys {
			io.WriteString(mac, k)
			if vs := form[k]; len(vs) > 0 {
				io.WriteString(mac, vs[0])
			}
		}
		return mac.Sum(nil)
	}
	if hmac.Equal(sign(u), want) {
		return true
	}
	other, ok := otherPortForm(u)
	return ok && hmac.Equal(sign(other), want)
}

// otherPortForm returns u with its scheme's default port added, or removed
// when it is there.
func otherPortForm(u string) (string, bool) {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "", false
	}
	def := map[string]string{"https": "443", "http": "80"}[p.Scheme]
	switch port := p.Port(); {
	case def == "":
		return "", false
	case port == "":
		p.Host = net.JoinHostPort(p.Hostname(), def)
	case port == def:
		p.Host = p.Hostname()
		if strings.Contains(p.Host, ":") {
			p.Host = "[" + p.Host + "]"
		}
	default:
		return "", false
	}
	return p.String(), true
}

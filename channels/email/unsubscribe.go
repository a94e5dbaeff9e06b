package email

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"conversa/conversation"
)

// Notification emails (messages with conversation.MetaPurpose) carry
// List-Unsubscribe headers (RFC 2369) with a one-click link (RFC 8058): a
// POST to the link, or an email to the mailbox with the mailto's subject,
// opts the contact's address out of that purpose's messages from the
// account, in the consent ledger, with source "email". The link holds a
// signed token of the tenant, account, contact and purpose, so it is
// verified without reading the store and cannot be changed to name
// another contact, purpose or tenant.

// UnsubscribePath is where the one-click links point, under the public URL.
const UnsubscribePath = "/channels/email/unsubscribe/"

// unsubscribeSubject starts the subject of the mailto link's email.
const unsubscribeSubject = "unsubscribe "

// unsubscribe is what an unsubscribe token names.
type unsubscribe struct {
	tenantID, accountID, contactID int64
	purpose                        string
}

// unsubscribeToken returns the token of u: its ids and purpose, then 32
// hex digits of their HMAC, separated by dots.
func (c *Channel) unsubscribeToken(u unsubscribe) string {
	body := fmt.Sprintf("%d.%d.%d.%s", u.tenantID, u.accountID, u.contactID, u.purpose)
	return body + "." + c.unsubscribeMAC(body)
}

func (c *Channel) unsubscribeMAC(body string) string {
	mac := hmac.New(sha256.New, c.cfg.TokenKey)
	mac.Write([]byte("unsubscribe:" + body))
	return hex.EncodeToString(mac.Sum(nil))[:32]
}

// verifyUnsubscribe returns what a token names, if it is one of ours.
func (c *Channel) verifyUnsubscribe(token string) (unsubscribe, bool) {
	if len(token) > 200 {
		return unsubscribe{}, false
	}
	body, mac, ok := cutLast(token, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(c.unsubscribeMAC(body))) {
		return unsubscribe{}, false
	}
	f := strings.Split(body, ".")
	if len(f) != 4 || !conversation.ValidPurpose(f[3]) {
		return unsubscribe{}, false
	}
	var ids [3]int64
	for i := range ids {
		id, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil || id <= 0 {
			return unsubscribe{}, false
		}
		ids[i] = id
	}
	return unsubscribe{tenantID: ids[0], accountID: ids[1], contactID: ids[2], purpose: f[3]}, true
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// listUnsubscribe returns the List-Unsubscribe header of a notification
// email to a contact: the one-click https link when the public URL is
// known, and the mailto link to the account's mailbox.
func (c *Channel) listUnsubscribe(u unsubscribe, mailbox string) (header string, oneClick bool) {
	token := c.unsubscribeToken(u)
	mailto := "<mailto:" + mailbox + "?subject=" + url.PathEscape(unsubscribeSubject+token) + ">"
	base := *c.public.Load()
	if base == "" {
		return mailto, false
	}
	return "<" + base + UnsubscribePath + token + ">, " + mailto, true
}

// Routes implements channels.Webhooks: the unsubscribe links' page (GET)
// and one-click endpoint (POST).
func (c *Channel) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+UnsubscribePath+"{token}", c.unsubscribePage)
	mux.HandleFunc("POST "+UnsubscribePath+"{token}", c.unsubscribePost)
}

var unsubscribeTmpl = template.Must(template.New("unsubscribe").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{.Title}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:520px;margin:48px auto;padding:0 16px;color:#1d2433}button{font:inherit;padding:8px 16px}</style>
</head><body>
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{if .Form}}<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">{{.Button}}</button></form>{{end}}
</body></html>`))

type unsubscribeView struct {
	Lang, Title, Text, Button string
	Form                      bool
}

func (c *Channel) renderUnsubscribe(w http.ResponseWriter, status int, v unsubscribeView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	if err := unsubscribeTmpl.Execute(w, v); err != nil {
		c.logger.Warn("unsubscribe page not written", "err", err)
	}
}

var badLink = unsubscribeView{Lang: "es", Title: "Enlace no válido / Invalid link",
	Text: "Este enlace para darse de baja no es válido. / This unsubscribe link is not valid."}

// unsubscribePage shows what the link does, with a button that does it: a
// GET changes nothing, since mail scanners follow links.
func (c *Channel) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	u, ok := c.verifyUnsubscribe(r.PathValue("token"))
	if !ok {
		c.logger.Info("unsubscribe link refused: bad token", "remote", r.RemoteAddr)
		c.renderUnsubscribe(w, http.StatusNotFound, badLink)
		return
	}
	c.renderUnsubscribe(w, http.StatusOK, unsubscribeView{Lang: "es", Form: true,
		Title:  "Darse de baja / Unsubscribe",
		Text:   fmt.Sprintf("¿Dejar de recibir por email los mensajes «%s»? / Stop receiving “%s” messages by email?", u.purpose, u.purpose),
		Button: "Darme de baja / Unsubscribe"})
}

// unsubscribePost records the opt-out: once, however often it is posted.
func (c *Channel) unsubscribePost(w http.ResponseWriter, r *http.Request) {
	u, ok := c.verifyUnsubscribe(r.PathValue("token"))
	if !ok {
		c.logger.Info("unsubscribe refused: bad token", "remote", r.RemoteAddr)
		c.renderUnsubscribe(w, http.StatusNotFound, badLink)
		return
	}
	// The body (RFC 8058: List-Unsubscribe=One-Click) says nothing the
	// token does not; it is read, within a limit, and not required.
	_, _ = io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 4<<10))
	err := c.optOut(r.Context(), u, "")
	switch code := conversation.ErrorCode(err); {
	case err == nil:
		c.renderUnsubscribe(w, http.StatusOK, unsubscribeView{Lang: "es", Title: "Listo / Done",
			Text: fmt.Sprintf("Ya no recibirá por email los mensajes «%s». / You will no longer receive “%s” messages by email.", u.purpose, u.purpose)})
	case code == conversation.ENOTFOUND || code == conversation.EINVALID:
		c.logger.Info("unsubscribe refused", "tenant", u.tenantID, "account", u.accountID, "contact", u.contactID, "err", err)
		c.renderUnsubscribe(w, http.StatusNotFound, badLink)
	default:
		c.logger.Error("unsubscribe not recorded", "tenant", u.tenantID, "account", u.accountID, "contact", u.contactID, "err", err)
		c.renderUnsubscribe(w, http.StatusServiceUnavailable, unsubscribeView{Lang: "es", Title: "Error",
			Text: "No se pudo registrar; inténtelo de nuevo. / It could not be recorded; please try again."})
	}
}

// optOut records, unless already recorded, u's contact's opt-out of u's
// purpose on u's account, at the contact's email address. Returns
// ENOTFOUND when the contact, its email address or the account is gone.
func (c *Channel) optOut(ctx context.Context, u unsubscribe, providerID string) error {
	if c.deps.Service == nil || c.deps.Store == nil {
		return fmt.Errorf("email channel: unsubscribing needs a service and a store")
	}
	contact, err := c.deps.Store.Contact(ctx, u.tenantID, u.contactID)
	if err != nil {
		return err
	}
	id, ok := contact.IdentityOn(conversation.ChannelEmail)
	if !ok {
		return &conversation.Error{Code: conversation.ENOTFOUND, Message: "the contact has no email address"}
	}
	out, err := c.deps.Store.OptedOutOf(ctx, u.tenantID, u.accountID, id.Address, u.purpose)
	if err != nil || out {
		return err
	}
	_, err = c.deps.Service.RecordConsent(ctx, conversation.ConsentChange{TenantID: u.tenantID, AccountID: u.accountID, ContactID: contact.ID,
		Channel: conversation.ChannelEmail, Address: id.Address, OptedOut: true, Purpose: u.purpose, Source: "email", ProviderID: providerID})
	if err == nil {
		c.logger.Info("opted out by email", "tenant", u.tenantID, "account", u.accountID, "contact", contact.ID, "purpose", u.purpose)
	}
	return err
}

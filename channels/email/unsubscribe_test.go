package email_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"conversa/channels/email"
	"conversa/conversation"
	"conversa/notify"
	"conversa/templates"
)

var notifyTemplates = map[string]string{
	"case_resolved": `purpose: case_resolved
variables:
  radicado: {sample: "PQR-2026-000123", required: true}
variants:
  - channel: email
    language: es
    subject: "Tu caso {{.radicado}}"
    text: "Tu caso {{.radicado}} fue resuelto."
    html: "<h1>Caso resuelto</h1><p>Tu caso <b>{{.radicado}}</b> fue resuelto.</p>"
`,
	"reminder": `purpose: reminder
variants:
  - channel: email
    language: es
    subject: "Recordatorio"
    text: "Recuerda tu cita."
`,
}

// notifyEnv is env with the notification service on its worker, and the
// channel's unsubscribe links served over HTTP.
type notifyEnv struct {
	*env
	notify *notify.Service
	web    *httptest.Server
}

func newNotifyEnv(t *testing.T) *notifyEnv {
	n := &notifyEnv{}
	// 17:00 UTC, noon in Bogotá: outside the default quiet hours in both.
	noon := time.Date(2026, 3, 10, 17, 0, 0, 0, time.UTC)
	n.env = newEnv(t, envOptions{noBot: true, handle: func(e *env, w *conversation.Worker) {
		var err error
		n.notify, err = notify.New(e.store, notify.Deps{Conversations: e.store, Sender: e.svc, Templates: templates.NewService(e.store)},
			notify.Config{Now: func() time.Time { return noon }, JobsAdded: w.Wake})
		if err != nil {
			t.Fatal(err)
		}
		w.Handle(notify.JobNotify, n.notify.NotifyJob)
	}})
	mux := http.NewServeMux()
	n.ch.Routes(mux)
	n.web = httptest.NewServer(mux)
	t.Cleanup(n.web.Close)
	n.ch.SetPublicURL(n.web.URL + "/")
	for purpose, src := range notifyTemplates {
		if _, _, _, err := templates.NewService(n.store).Save(t.Context(), n.tenant.ID, purpose, purpose+".yaml", []byte(src)); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// contact makes the customer a contact, as their first email would.
func (n *notifyEnv) contact(ctx context.Context, addr string) conversation.Contact {
	n.t.Helper()
	res, err := n.svc.Ingest(ctx, conversation.Inbound{Channel: conversation.ChannelEmail, Account: n.acct.Key, From: addr, ProviderID: "first-" + addr,
		Meta: map[string]string{conversation.MetaNoReply: "test"}, Parts: []conversation.Part{conversation.TextPart("hola")}})
	if err != nil {
		n.t.Fatal(err)
	}
	c, err := n.store.Contact(ctx, n.tenant.ID, res.Message.ContactID)
	if err != nil {
		n.t.Fatal(err)
	}
	return c
}

// send asks for a notification and waits until it is done.
func (n *notifyEnv) send(ctx context.Context, c conversation.Contact, purpose, key string, data map[string]string) notify.Notification {
	n.t.Helper()
	got, err := n.notify.Notify(ctx, notify.Request{TenantID: n.tenant.ID, ContactID: c.ID, Purpose: purpose, Data: data, IdempotencyKey: key})
	if err != nil {
		n.t.Fatal(err)
	}
	for {
		if got, err = n.notify.Get(ctx, n.tenant.ID, got.ID); err != nil {
			n.t.Fatal(err)
		}
		if got.Status == notify.StatusSent || got.Status == notify.StatusUndeliverable {
			return got
		}
		select {
		case <-ctx.Done():
			n.t.Fatalf("notification %+v not done", got)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var unsubscribeHeader = regexp.MustCompile(`^<(https?://[^>]+)>, <mailto:([^>?]+)\?subject=([^>]+)>$`)

// TestUnsubscribe: a notification email arrives in the customer's real
// mailbox with List-Unsubscribe (an https one-click link and a mailto) and
// List-Unsubscribe-Post; a GET of the link changes nothing, a POST records
// the opt-out of that purpose in the consent ledger once however often it
// comes, and the next notification of the purpose skips email. The mailto
// of another purpose, sent as a mail client would, opts out of that one.
// An automatic reply carries no List-Unsubscribe; a tampered link is 404.
func TestUnsubscribe(t *testing.T) {
	n := newNotifyEnv(t)
	ctx := deadline(t, 90*time.Second)
	cust := n.customer("avisos")
	contact := n.contact(ctx, cust.addr)

	first := n.send(ctx, contact, "case_resolved", "n1", map[string]string{"radicado": "PQR-2026-000042"})
	if first.Status != notify.StatusSent || first.Channel != conversation.ChannelEmail {
		t.Fatalf("notification %+v", first)
	}
	raw, err := cust.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	msg := readEmail(t, raw)
	if got := msg.GetHeader("Subject"); got != "Tu caso PQR-2026-000042" {
		t.Errorf("subject %q", got)
	}
	// The template's HTML variant is the HTML part, its data escaped; its
	// text variant the plain text.
	if !strings.Contains(msg.HTML, "<h1>Caso resuelto</h1><p>Tu caso <b>PQR-2026-000042</b> fue resuelto.</p>") || !strings.Contains(msg.Text, "Tu caso PQR-2026-000042 fue resuelto.") {
		t.Errorf("body: html\n%s\ntext\n%s", msg.HTML, msg.Text)
	}
	if got := msg.GetHeader("Auto-Submitted"); got != "auto-generated" {
		t.Errorf("Auto-Submitted %q, want auto-generated", got)
	}
	if got := msg.GetHeader("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", got)
	}
	h := unfold(msg.GetHeader("List-Unsubscribe"))
	m := unsubscribeHeader.FindStringSubmatch(h)
	if m == nil || !strings.HasPrefix(m[1], n.web.URL+email.UnsubscribePath) || m[2] != n.support {
		t.Fatalf("List-Unsubscribe %q", h)
	}
	link := m[1]

	// A tampered link: another contact's id, the same signature.
	tampered := strings.Replace(link, "."+itoa(contact.ID)+".", "."+itoa(contact.ID+1)+".", 1)
	for _, u := range []string{tampered, n.web.URL + email.UnsubscribePath + "x", link + "0"} {
		if code, _ := do(t, http.MethodPost, u); code != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", u, code)
		}
	}
	// GET shows the page and records nothing.
	code, body := do(t, http.MethodGet, link)
	if code != http.StatusOK || !strings.Contains(body, `<form method="post">`) || !strings.Contains(body, "case_resolved") {
		t.Errorf("GET: %d\n%s", code, body)
	}
	if cs := n.consent(ctx, contact); len(cs) != 0 {
		t.Fatalf("a GET recorded %+v", cs)
	}
	for range 2 {
		if code, body := do(t, http.MethodPost, link); code != http.StatusOK || !strings.Contains(body, "case_resolved") {
			t.Errorf("POST: %d\n%s", code, body)
		}
	}
	cs := n.consent(ctx, contact)
	if len(cs) != 1 || !cs[0].OptedOut || cs[0].Purpose != "case_resolved" || cs[0].Source != "email" || cs[0].Address != cust.addr || cs[0].AccountID != n.acct.ID {
		t.Fatalf("consent ledger %+v, want one opt-out of case_resolved from email", cs)
	}

	second := n.send(ctx, contact, "case_resolved", "n2", map[string]string{"radicado": "PQR-2026-000043"})
	skippedEmail := false
	for _, s := range second.Skipped {
		skippedEmail = skippedEmail || s.Channel == conversation.ChannelEmail && s.Code == notify.SkipPurposeOptOut
	}
	if second.Status != notify.StatusUndeliverable || !skippedEmail {
		t.Errorf("the next notification: %+v, want email skipped as opted out", second)
	}

	// Another purpose still goes out; its mailto opts out of it.
	third := n.send(ctx, contact, "reminder", "n3", nil)
	if third.Status != notify.StatusSent {
		t.Fatalf("reminder %+v", third)
	}
	if raw, err = cust.next(ctx); err != nil {
		t.Fatal(err)
	}
	m = unsubscribeHeader.FindStringSubmatch(unfold(readEmail(t, raw).GetHeader("List-Unsubscribe")))
	if m == nil {
		t.Fatalf("reminder List-Unsubscribe %q", readEmail(t, raw).GetHeader("List-Unsubscribe"))
	}
	subject, err := url.PathUnescape(m[3])
	if err != nil {
		t.Fatal(err)
	}
	n.sendTo(ctx, cust.addr, m[2], "baja-1@cliente.test", subject, "", nil)
	for {
		cs = n.consent(ctx, contact)
		if len(cs) == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the mailto unsubscribe was not recorded: %+v", cs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if cs[0].Purpose != "reminder" || !cs[0].OptedOut || cs[0].Source != "email" || cs[0].ProviderID != "baja-1@cliente.test" {
		t.Errorf("mailto opt-out %+v", cs[0])
	}
	in := n.inbound(ctx, 2)
	if in[1].Meta[conversation.MetaNoReply] != "unsubscribe request" {
		t.Errorf("the unsubscribe email's meta %v", in[1].Meta)
	}
	n.idle(ctx)
	// Two notifications went out, nothing answered the unsubscribe email.
	if out := n.outbound(ctx); len(out) != 2 {
		t.Errorf("%d outbound messages, want the 2 notifications", len(out))
	}
}

func (n *notifyEnv) consent(ctx context.Context, c conversation.Contact) []conversation.ConsentChange {
	n.t.Helper()
	cs, err := n.store.ListConsent(ctx, n.tenant.ID, conversation.ConsentFilter{ContactID: c.ID})
	if err != nil {
		n.t.Fatal(err)
	}
	return cs
}

func do(t *testing.T, method, u string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Body = io.NopCloser(strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func unfold(h string) string { return strings.Join(strings.Fields(h), " ") }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

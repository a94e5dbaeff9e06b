package email_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"conversa/channels/email"
	"conversa/conversation"
)

// TestAutomatedMailNotAnswered: an out-of-office reply, a mailing-list
// post, a bounce of someone else's mail and an email without a usable
// sender are stored with no_reply and never answered; a person's email
// after them is.
func TestAutomatedMailNotAnswered(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := deadline(t, 60*time.Second)
	for _, f := range []string{"out_of_office", "mailing_list", "bounce_dsn", "injected_from"} {
		raw, err := os.ReadFile(filepath.Join("testdata", f+".eml"))
		if err != nil {
			t.Fatal(err)
		}
		e.appendRaw("INBOX", raw)
	}
	cust := e.customer("persona")
	e.send(ctx, cust.addr, "persona-1@cliente.test", "Hola", "hola", nil)
	if _, err := cust.next(ctx); err != nil {
		t.Fatal(err)
	}
	in := e.inbound(ctx, 5)
	e.idle(ctx)
	want := map[string]string{
		"carlos.ruiz@empresa.test":   "Auto-Submitted: auto-generated",
		"boletin@lista.test":         "Precedence: list",
		"mailer-daemon@mx.acme.test": "DSN",
		"ana@example.test":           "",
	}
	conv := map[int64]string{}
	for _, m := range in {
		contact, err := e.store.Contact(ctx, e.tenant.ID, m.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		addr := contact.Identities[0].Address
		conv[m.ConversationID] = addr
		if reason, ok := want[addr]; ok && reason != "" && m.Meta[conversation.MetaNoReply] != reason {
			t.Errorf("%s: no_reply %q, want %q", addr, m.Meta[conversation.MetaNoReply], reason)
		}
		if addr == "ana@example.test" && (strings.ContainsAny(contact.Name, "\r\n") || m.Meta[email.MetaProblems] == "") {
			t.Errorf("injected From: contact name %q, problems %q", contact.Name, m.Meta[email.MetaProblems])
		}
	}
	out := e.outbound(ctx)
	if len(out) != 2 {
		t.Errorf("%d outbound messages, want the answers to the person's email and to ana's", len(out))
	}
	for _, m := range out {
		if a := conv[m.ConversationID]; a != cust.addr && a != "ana@example.test" {
			t.Errorf("an automatic answer went to %s", a)
		}
	}
}

// TestBounceMarksFailed: the bot answers a sender whose mailbox does not
// exist; the server accepts the reply, then bounces it with a DSN to the
// support mailbox; the reply becomes failed with the bounce's diagnostic,
// and the bounce itself is stored, unanswered.
func TestBounceMarksFailed(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := deadline(t, 60*time.Second)
	ghost := "fantasma-" + strings.Split(e.support, "-")[1] // no such user
	e.send(ctx, ghost, "fantasma-1@cliente.test", "Hola", "hola", nil)
	var out []conversation.Message
	for len(out) == 0 {
		out = e.outbound(ctx)
		if ctx.Err() != nil {
			t.Fatal("no answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := e.waitStatus(ctx, out[0].ID, conversation.StatusFailed)
	if m.Failure == nil || !strings.HasPrefix(m.Failure.Code, "bounce 5.1.1") || !strings.Contains(m.Failure.Message, "User doesn't exist") {
		t.Errorf("failure %+v, want the bounce's status and diagnostic", m.Failure)
	}
	in := e.inbound(ctx, 2)
	if in[1].Meta[conversation.MetaNoReply] != "DSN" || in[1].Meta[email.MetaBounceOf] != m.ProviderID {
		t.Errorf("bounce meta %v, want DSN of %s", in[1].Meta, m.ProviderID)
	}
	e.idle(ctx)
	if n := len(e.outbound(ctx)); n != 1 {
		t.Errorf("%d outbound messages: the bounce was answered", n)
	}
}

// TestRecipientRejected: the SMTP server refuses the recipient; the
// answer is failed at once with the server's reply.
func TestRecipientRejected(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := deadline(t, 60*time.Second)
	e.send(ctx, "rejected-"+strings.Split(e.support, "-")[1], "rechazo-1@cliente.test", "Hola", "hola", nil)
	var out []conversation.Message
	for len(out) == 0 {
		out = e.outbound(ctx)
		if ctx.Err() != nil {
			t.Fatal("no answer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	m := e.waitStatus(ctx, out[0].ID, conversation.StatusFailed)
	if m.Failure == nil || m.Failure.Code != "550" || !strings.Contains(m.Failure.Message, "5.1.1") || !strings.Contains(strings.ToLower(m.Failure.Message), "mailbox unavailable") || strings.Contains(m.Failure.Message, `"`) {
		t.Errorf("failure %+v, want the server's 550 reply", m.Failure)
	}
}

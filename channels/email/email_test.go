package email_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jhillyerd/enmime/v2"

	"conversa/channels/channeltest"
	"conversa/channels/email"
	"conversa/conversation"
)

func readEmail(t *testing.T, raw []byte) *enmime.Envelope {
	t.Helper()
	env, err := enmime.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read email: %v\n%s", err, raw)
	}
	return env
}

func ids(s string) string { return strings.Trim(strings.TrimSpace(s), "<>") }

// TestRoundTrip: a customer's email reaches the support mailbox through
// Postfix, Conversa picks it up over IDLE, the bot answers over SMTP, and
// the answer lands in the customer's mailbox as a reply in the thread. The
// customer's reply continues the conversation; the bot's second automatic
// answer is held back by the per-sender limit; an agent's answer is not
// automatic and continues the thread.
func TestRoundTrip(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := deadline(t, 60*time.Second)
	cust := e.customer("cliente")

	e.send(ctx, cust.addr, "consulta-1@cliente.test", "Consulta", "hola", nil)
	raw, err := cust.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reply := readEmail(t, raw)
	if got := reply.GetHeader("Subject"); got != "Re: Consulta" {
		t.Errorf("subject %q, want Re: Consulta", got)
	}
	if got := ids(reply.GetHeader("In-Reply-To")); got != "consulta-1@cliente.test" {
		t.Errorf("In-Reply-To %q", got)
	}
	if got := reply.GetHeader("References"); !strings.Contains(got, "<consulta-1@cliente.test>") {
		t.Errorf("References %q", got)
	}
	if got := reply.GetHeader("Auto-Submitted"); got != "auto-replied" {
		t.Errorf("Auto-Submitted %q, want auto-replied", got)
	}
	if ct := reply.Root.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type %q, want multipart/alternative", ct)
	}
	if err := contains(reply.Text, "¡Hola! ¿En qué te puedo ayudar?", "consulta"); err != nil && !strings.Contains(reply.Text, "hola") {
		t.Errorf("text %q: %v", reply.Text, err)
	}
	if err := contains(reply.HTML, "¡Hola! ¿En qué te puedo ayudar?", "<blockquote"); err != nil {
		t.Errorf("HTML %q: %v", reply.HTML, err)
	}
	from, _ := reply.AddressList("From")
	if len(from) != 1 || from[0].Address != e.support || from[0].Name != "Soporte Acme" {
		t.Errorf("From %v", from)
	}
	replyTo, _ := reply.AddressList("Reply-To")
	if len(replyTo) != 1 || !strings.Contains(replyTo[0].Address, "+c_") {
		t.Errorf("Reply-To %v, want a reply address with the conversation's token", replyTo)
	}

	in := e.inbound(ctx, 1)[0]
	if in.Meta[conversation.MetaSubject] != "Consulta" || in.Meta[email.MetaMessageID] != "consulta-1@cliente.test" || in.Meta[email.MetaEML] == "" {
		t.Errorf("inbound meta %v", in.Meta)
	}
	if got := conversation.PartsText(in.Parts); got != "hola" {
		t.Errorf("inbound text %q", got)
	}
	rc, err := e.media.Open(ctx, e.tenant.ID, in.Meta[email.MetaEML])
	if err != nil {
		t.Fatalf("raw email: %v", err)
	}
	if eml := readAll(rc); !strings.Contains(eml, "Message-ID: <consulta-1@cliente.test>") {
		t.Errorf("stored raw email:\n%s", eml)
	}
	rc.Close()
	out := e.outbound(ctx)
	if len(out) != 1 {
		t.Fatalf("%d outbound messages, want 1", len(out))
	}
	sent := e.waitStatus(ctx, out[0].ID, conversation.StatusSent)
	if sent.ProviderID != ids(reply.GetHeader("Message-Id")) {
		t.Errorf("provider id %q, reply Message-ID %q", sent.ProviderID, reply.GetHeader("Message-Id"))
	}

	// The customer answers the reply, to its Reply-To.
	e.sendTo(ctx, cust.addr, replyTo[0].Address, "consulta-2@cliente.test", "Re: Consulta", "gracias\n\n"+quoteOf(reply.Text),
		map[string]string{"In-Reply-To": "<" + sent.ProviderID + ">", "References": "<consulta-1@cliente.test> <" + sent.ProviderID + ">"})
	second := e.inbound(ctx, 2)[1]
	if second.ConversationID != in.ConversationID {
		t.Errorf("the reply went to conversation %d, want %d", second.ConversationID, in.ConversationID)
	}
	if got := conversation.PartsText(second.Parts); got != "gracias" {
		t.Errorf("reply text %q: quoted history not stripped", got)
	}
	if second.Meta[email.MetaReplyToken] != fmt.Sprint(in.ConversationID) {
		t.Errorf("reply token meta %q, want the conversation %d", second.Meta[email.MetaReplyToken], in.ConversationID)
	}
	// The bot answers "gracias", but one automatic reply already went to
	// this sender within autoreply_interval: the answer is not sent.
	e.idle(ctx)
	out = e.outbound(ctx)
	if len(out) != 2 {
		t.Fatalf("%d outbound messages, want 2", len(out))
	}
	limited := e.waitStatus(ctx, out[1].ID, conversation.StatusFailed)
	if limited.Failure == nil || limited.Failure.Code != email.CodeAutoreplyLimit {
		t.Errorf("second automatic reply: %+v, want failed with %s", limited.Failure, email.CodeAutoreplyLimit)
	}

	// An agent answers from the console.
	res, err := e.svc.Send(ctx, conversation.Outbound{TenantID: e.tenant.ID, ConversationID: in.ConversationID,
		Author: conversation.Author{Kind: conversation.AuthorAgent, ID: 7, Name: "Luis"}, Parts: []conversation.Part{conversation.TextPart("Hola, le atiende Luis.\nSu pedido sale mañana <b>sin falta</b>.")}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err = cust.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	agent := readEmail(t, raw)
	if got := agent.GetHeader("Auto-Submitted"); got != "" {
		t.Errorf("an agent's answer carries Auto-Submitted: %s", got)
	}
	if got := ids(agent.GetHeader("In-Reply-To")); got != "consulta-2@cliente.test" {
		t.Errorf("agent In-Reply-To %q, want the customer's latest email", got)
	}
	if got := agent.GetHeader("References"); !strings.Contains(got, "<consulta-1@cliente.test>") || !strings.Contains(got, "<"+sent.ProviderID+">") || !strings.Contains(got, "<consulta-2@cliente.test>") {
		t.Errorf("agent References %q: the thread is broken", got)
	}
	if got := agent.GetHeader("Subject"); got != "Re: Consulta" {
		t.Errorf("agent subject %q", got)
	}
	if !strings.Contains(agent.HTML, "&lt;b&gt;sin falta&lt;/b&gt;") || strings.Contains(agent.HTML, "<b>sin falta") {
		t.Errorf("the agent's text is not escaped in the HTML:\n%s", agent.HTML)
	}
	e.waitStatus(ctx, res[0].Message.ID, conversation.StatusSent)
}

func quoteOf(text string) string {
	var b strings.Builder
	b.WriteString("El lun, 3 nov 2025 a las 10:15, Soporte Acme <soporte@conversa.test> escribió:\n")
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		b.WriteString("> " + l + "\n")
	}
	return b.String()
}

// sendTo is send to another address of the mailbox (its reply address).
func (e *env) sendTo(ctx context.Context, from, to, id, subject, text string, header map[string]string) {
	e.t.Helper()
	support := e.support
	e.support = to
	defer func() { e.support = support }()
	e.send(ctx, from, id, subject, text, header)
}

// TestChannel runs the suite every channel passes. Inject is the real
// entry point: an email through Postfix into the watched mailbox; Receive
// reads the customer's real mailbox.
func TestChannel(t *testing.T) {
	channeltest.TestChannel(t, func(t *testing.T) channeltest.Harness {
		e := newEnv(t, envOptions{noBot: true})
		cust := e.customer("suite")
		// The contact exists before the suite starts.
		res, err := e.svc.Ingest(t.Context(), conversation.Inbound{Channel: conversation.ChannelEmail, Account: e.acct.Key, From: cust.addr, ProviderID: "setup", Parts: []conversation.Part{conversation.TextPart("hola")}})
		if err != nil {
			t.Fatal(err)
		}
		contact, err := e.store.Contact(t.Context(), e.tenant.ID, res.Message.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		last := conversation.MessagePos{ConversationID: res.Message.ConversationID, Seq: res.Message.Seq}
		return channeltest.Harness{
			Channel: e.ch,
			Account: e.acct,
			Contact: contact,
			To:      conversation.Identity{Channel: conversation.ChannelEmail, Address: cust.addr},
			Receive: func(ctx context.Context) ([]conversation.Part, error) {
				raw, err := cust.next(ctx)
				if err != nil {
					return nil, err
				}
				return []conversation.Part{conversation.TextPart(email.Parse(raw).Text)}, nil
			},
			Inject: func(ctx context.Context, providerID, text string) error {
				e.send(ctx, cust.addr, providerID+"@cliente.test", "Suite", text, nil)
				return nil
			},
			Ingested: func(ctx context.Context) (conversation.Message, error) {
				for {
					ms, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{ContactID: contact.ID, After: &last, Limit: 1})
					if err != nil {
						return conversation.Message{}, err
					}
					if len(ms) > 0 {
						last = conversation.MessagePos{ConversationID: ms[0].ConversationID, Seq: ms[0].Seq}
						if ms[0].Direction == conversation.DirectionIn {
							return ms[0], nil
						}
						continue
					}
					select {
					case <-ctx.Done():
						return conversation.Message{}, ctx.Err()
					case <-time.After(10 * time.Millisecond):
					}
				}
			},
			InvalidSettings: []map[string]string{
				{email.SettingIMAPHost: "imap.example.com", email.SettingIMAPUser: "u", email.SettingIMAPPassword: "p", email.SettingSMTPHost: "smtp.example.com", email.SettingIMAPTLS: email.TLSNone},
				{email.SettingIMAPHost: "imap.example.com", email.SettingIMAPUser: "u", email.SettingIMAPPassword: "p", email.SettingSMTPHost: "smtp.example.com", email.SettingInsecureSkipVerify: "true"},
				{email.SettingIMAPHost: "imap.example.com", email.SettingIMAPUser: "u", email.SettingSMTPHost: "smtp.example.com"},
				{email.SettingIMAPHost: "imap.example.com", email.SettingIMAPUser: "u", email.SettingIMAPPassword: "p"},
				{email.SettingIMAPHost: "imap.example.com", email.SettingIMAPUser: "u", email.SettingIMAPPassword: "p", email.SettingSMTPHost: "smtp.example.com", "imap_timeout": "5s"},
				{email.SettingIMAPHost: "imap.example.com", email.SettingIMAPUser: "u", email.SettingIMAPPassword: "p", email.SettingSMTPHost: "smtp.example.com", email.SettingAutoreplyInterval: "0s"},
				{email.SettingIMAPHost: "imap.example.com", email.SettingIMAPUser: "u", email.SettingIMAPPassword: "p", email.SettingSMTPHost: "smtp.example.com", email.SettingSMTPTLS: "ssl3"},
			},
		}
	})
}

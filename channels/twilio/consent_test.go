package twilio

import (
	"net/http"
	"testing"

	"conversa/conversation"
)

// TestSMSKeywords runs the carrier keywords end to end through the
// webhook, the service, the bot and the store: HELP is answered with the
// account's help text, STOP is recorded and no message reaches the
// contact any more (the bot does not answer it), START lifts it.
func TestSMSKeywords(t *testing.T) {
	const help = "ACME: ayuda en acme.example/ayuda. Responda STOP para no recibir más mensajes."
	e := newEnv(t, envOptions{engine: true, sms: map[string]string{SettingHelpText: help, SettingMessagesPerSecond: "100"}})
	inbound := func(n int, body string) {
		t.Helper()
		if status, resp := e.post(MessagesPath, inboundForm(conversation.ChannelSMS, sid(n), body)); status != http.StatusOK {
			t.Fatalf("%q: %d %s", body, status, resp)
		}
		e.idle()
	}

	// The bot answers an ordinary message.
	inbound(1, "hola")
	sent := len(e.twilio.sentForms())
	if sent == 0 {
		t.Fatal("the bot did not answer hola")
	}

	// HELP: the help text, and nothing from the bot.
	inbound(2, "help")
	forms := e.twilio.sentForms()
	if len(forms) != sent+1 || forms[sent].Get("Body") != help || forms[sent].Get("To") != customer {
		t.Fatalf("after HELP Twilio got %v, want only the help text", forms[sent:])
	}
	sent++
	var reply conversation.Message
	for _, m := range e.messages(e.sms) {
		if m.IdempotencyKey == "help:"+sid(2) {
			reply = m
		}
	}
	if reply.Author.Kind != conversation.AuthorBot || reply.Status != conversation.StatusSent {
		t.Fatalf("help reply %+v", reply)
	}

	// STOP, twice (Twilio retried): recorded once, no answer.
	inbound(3, "Stop")
	inbound(3, "Stop")
	if n := len(e.twilio.sentForms()); n != sent {
		t.Fatalf("STOP was answered: %v", e.twilio.sentForms()[sent:])
	}
	contact := e.contact(conversation.ChannelSMS)
	ledger, err := e.store.ListConsent(t.Context(), e.tenant.ID, conversation.ConsentFilter{AccountID: e.sms.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(ledger) != 1 || !ledger[0].OptedOut || ledger[0].Source != "keyword:STOP" || ledger[0].ProviderID != sid(3) ||
		ledger[0].ContactID != contact.ID || ledger[0].Address != customer || ledger[0].Channel != conversation.ChannelSMS {
		t.Fatalf("ledger %+v", ledger)
	}
	// A message that merely contains the word is no keyword.
	inbound(4, "please stop calling me")
	if n := len(e.twilio.sentForms()); n != sent {
		t.Fatal("a reply reached an opted-out contact")
	}
	m := e.reply(e.sms, "¿Sigue ahí?")
	m = e.waitStatus(m.ID, conversation.StatusFailed)
	if m.Failure == nil || m.Failure.Code != conversation.FailureOptedOut {
		t.Fatalf("reply to an opted-out contact: %+v", m.Failure)
	}
	if n := len(e.twilio.sentForms()); n != sent {
		t.Fatal("Twilio got a message for an opted-out contact")
	}

	// START (here its synonym UNSTOP) lets messages through again.
	inbound(5, "unstop")
	out, err := e.svc.OptedOut(t.Context(), e.tenant.ID, e.sms.ID, customer)
	if err != nil || out {
		t.Fatalf("opted out after UNSTOP: %v %v", out, err)
	}
	m = e.reply(e.sms, "Bienvenido de nuevo")
	e.waitStatus(m.ID, conversation.StatusSent)
	if forms := e.twilio.sentForms(); forms[len(forms)-1].Get("Body") != "Bienvenido de nuevo" {
		t.Fatalf("Twilio got %v", forms[len(forms)-1])
	}
}

// TestSMSHelpDefault: without help_text, HELP gets the default bilingual
// text.
func TestSMSHelpDefault(t *testing.T) {
	e := newEnv(t, envOptions{})
	if status, _ := e.post(MessagesPath, inboundForm(conversation.ChannelSMS, sid(1), "INFO")); status != http.StatusOK {
		t.Fatal(status)
	}
	f, err := e.twilio.next(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if f.Get("Body") != DefaultHelpText {
		t.Fatalf("help text %q", f.Get("Body"))
	}
}

// TestWhatsAppKeywordsAreText: WhatsApp has no carrier keywords; STOP is
// a message like any other.
func TestWhatsAppKeywordsAreText(t *testing.T) {
	e := newEnv(t, envOptions{})
	if status, _ := e.post(MessagesPath, inboundForm(conversation.ChannelWhatsApp, sid(1), "STOP")); status != http.StatusOK {
		t.Fatal(status)
	}
	e.idle()
	ledger, err := e.store.ListConsent(t.Context(), e.tenant.ID, conversation.ConsentFilter{})
	if err != nil || len(ledger) != 0 {
		t.Fatalf("ledger %+v %v", ledger, err)
	}
}

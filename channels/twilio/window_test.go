package twilio

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
)

// customerWrote stores a WhatsApp message from the customer received at
// at. The webhook cannot date a message in the past, so this goes through
// the service as the webhook does.
func (e *env) customerWrote(at time.Time) {
	e.t.Helper()
	_, err := e.svc.Ingest(e.t.Context(), conversation.Inbound{
		Channel: conversation.ChannelWhatsApp, Account: waNumber, From: customer, ProviderID: sid(int(at.Unix() % 1000)),
		Parts: []conversation.Part{conversation.TextPart("hola")}, ReceivedAt: at,
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestWhatsAppWindow: free-form messages go within 24 hours of the
// contact's last message; outside it the account's template goes instead,
// or, without one, the send fails and says why.
func TestWhatsAppWindow(t *testing.T) {
	t.Run("inside", func(t *testing.T) {
		e := newEnv(t, envOptions{whatsapp: map[string]string{SettingTemplateContentSID: templateSID}})
		if status, _ := e.post(MessagesPath, inboundForm(conversation.ChannelWhatsApp, sid(1), "hola")); status != http.StatusOK {
			t.Fatal(status)
		}
		m := e.reply(e.wa, "Claro, le ayudo")
		e.waitStatus(m.ID, conversation.StatusSent)
		f := e.twilio.sentForms()[0]
		if f.Get("Body") != "Claro, le ayudo" || f.Get("ContentSid") != "" || f.Get("To") != "whatsapp:"+customer || f.Get("From") != "whatsapp:"+waNumber {
			t.Fatalf("Twilio got %v", f)
		}
	})

	t.Run("outside without a template", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		e.customerWrote(time.Now().Add(-25 * time.Hour))
		m := e.reply(e.wa, "¿Sigue interesado?")
		m = e.waitStatus(m.ID, conversation.StatusFailed)
		if m.Failure == nil || m.Failure.Code != FailureOutsideWindow || !strings.Contains(m.Failure.Message, "24 hours") ||
			!strings.Contains(m.Failure.Message, "template_content_sid") {
			t.Fatalf("failure %+v, want one that says why", m.Failure)
		}
		if n := e.twilio.callCount(); n != 0 {
			t.Fatalf("Twilio was called %d times", n)
		}
	})

	t.Run("outside with the fallback template", func(t *testing.T) {
		vars := `{"1":"ACME","2":"su pedido"}`
		e := newEnv(t, envOptions{whatsapp: map[string]string{SettingTemplateContentSID: templateSID, SettingTemplateVariables: vars}})
		e.customerWrote(time.Now().Add(-25 * time.Hour))
		m := e.reply(e.wa, "¿Sigue interesado?")
		e.waitStatus(m.ID, conversation.StatusSent)
		f := e.twilio.sentForms()[0]
		var got map[string]string
		if err := json.Unmarshal([]byte(f.Get("ContentVariables")), &got); err != nil || got["1"] != "ACME" {
			t.Fatalf("ContentVariables %q: %v", f.Get("ContentVariables"), err)
		}
		if f.Get("ContentSid") != templateSID || f.Has("Body") || f.Get("To") != "whatsapp:"+customer {
			t.Fatalf("Twilio got %v, want the template alone", f)
		}
	})

	t.Run("outside with the message's own template", func(t *testing.T) {
		e := newEnv(t, envOptions{whatsapp: map[string]string{SettingTemplateContentSID: templateSID}})
		own := "HX" + strings.Repeat("ab", 16)
		d := conversation.Delivery{
			Message: conversation.Message{ID: 9, Parts: []conversation.Part{conversation.TextPart("Su caso fue resuelto")},
				Meta: map[string]string{conversation.MetaContentSID: own, conversation.MetaContentVariables: `["Ana","PQR-2026-000001"]`}},
			Account: e.wa, To: conversation.Identity{Channel: conversation.ChannelWhatsApp, Address: customer},
			LastInbound: time.Now().Add(-48 * time.Hour),
		}
		if _, err := e.tw.WhatsApp().Send(t.Context(), d); err != nil {
			t.Fatal(err)
		}
		f := e.twilio.sentForms()[0]
		if f.Get("ContentSid") != own || f.Get("ContentVariables") != `{"1":"Ana","2":"PQR-2026-000001"}` || f.Has("Body") {
			t.Fatalf("Twilio got %v; want the message's template", f)
		}
	})

	t.Run("never wrote", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		_, err := e.tw.WhatsApp().Send(t.Context(), conversation.Delivery{
			Message: conversation.Message{ID: 9, Parts: []conversation.Part{conversation.TextPart("hola")}},
			Account: e.wa, To: conversation.Identity{Channel: conversation.ChannelWhatsApp, Address: customer},
		})
		de, isDelivery := errors.AsType[*conversation.DeliveryError](err)
		if !isDelivery || !de.Permanent || de.Code != FailureOutsideWindow || !strings.Contains(de.Message, "never written") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("SMS has no window", func(t *testing.T) {
		e := newEnv(t, envOptions{})
		if _, err := e.tw.SMS().Send(t.Context(), conversation.Delivery{
			Message: conversation.Message{ID: 9, Parts: []conversation.Part{conversation.TextPart("hola")}},
			Account: e.sms, To: conversation.Identity{Channel: conversation.ChannelSMS, Address: customer},
		}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestWhatsAppQuickReplies: buttons the account maps to a quick-reply
// content template go as that template, with the message's text as its
// body; other buttons go as numbered options.
func TestWhatsAppQuickReplies(t *testing.T) {
	menu := "HX" + strings.Repeat("cd", 16)
	e := newEnv(t, envOptions{whatsapp: map[string]string{SettingQuickReplies: `{"billing,support": "` + menu + `"}`, SettingMessagesPerSecond: "1000"}})
	buttons := func(ids ...string) conversation.Part {
		p := conversation.TextPart("¿En qué te ayudamos?")
		for _, id := range ids {
			p.Buttons = append(p.Buttons, conversation.Button{ID: id, Title: strings.ToUpper(id)})
		}
		return p
	}
	if _, err := e.tw.WhatsApp().Send(t.Context(), delivery(e.wa, buttons("billing", "support"))); err != nil {
		t.Fatal(err)
	}
	f := e.twilio.sentForms()[0]
	if f.Get("ContentSid") != menu || f.Get("ContentVariables") != `{"1":"¿En qué te ayudamos?"}` || f.Has("Body") {
		t.Fatalf("Twilio got %v; want the quick-reply template", f)
	}
	if _, err := e.tw.WhatsApp().Send(t.Context(), delivery(e.wa, buttons("billing", "agent"))); err != nil {
		t.Fatal(err)
	}
	f = e.twilio.sentForms()[1]
	if f.Has("ContentSid") || f.Get("Body") != "¿En qué te ayudamos?\n1. BILLING\n2. AGENT" {
		t.Fatalf("Twilio got %v; want numbered options", f)
	}
	// The setting is checked.
	for _, bad := range []string{`{"a": "HX1"}`, `[]`, `{"": "` + menu + `"}`} {
		a := conversation.ChannelAccount{Kind: conversation.ChannelWhatsApp, Key: waNumber, Settings: baseSettings(map[string]string{SettingQuickReplies: bad})}
		if err := e.tw.WhatsApp().ValidateAccount(&a); conversation.ErrorField(err) != "settings."+SettingQuickReplies {
			t.Errorf("quick_replies %s: %v; want refused", bad, err)
		}
	}
}

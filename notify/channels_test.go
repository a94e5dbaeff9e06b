package notify_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

const ana = "+573001234567"

var resolved = map[string]string{"name": "Ana", "radicado": "PQR-2026-000001"}

// TestChannelSelection runs each fallback path: the channel the
// notification went through, what was skipped and why, and the message
// as the channel will get it.
func TestChannelSelection(t *testing.T) {
	recent := afternoon.Add(-time.Hour)   // inside WhatsApp's window
	old := afternoon.Add(-48 * time.Hour) // outside it

	t.Run("the preferred channel first", func(t *testing.T) {
		e := newEnv(t)
		e.write(t, conversation.ChannelWhatsApp, ana, recent)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		e.setAttr(t, c, notify.AttrPreferredChannel, "sms")
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		if n.Status != notify.StatusSent || n.Channel != conversation.ChannelSMS || len(n.Skipped) != 0 {
			t.Fatalf("notification %+v", n)
		}
		m := e.message(t, n)
		if m.Channel != conversation.ChannelSMS || m.ChannelAccountID != e.accounts[conversation.ChannelSMS].ID ||
			m.Text() != "Ana, su caso PQR-2026-000001 fue resuelto." || m.Author.Kind != conversation.AuthorSystem ||
			m.IdempotencyKey != notify.MessageKey(n.ID) || m.Meta[conversation.MetaPurpose] != "case_resolved" || m.Status != conversation.StatusQueued {
			t.Fatalf("message %+v", m)
		}
	})

	t.Run("WhatsApp inside the window: the free-form text", func(t *testing.T) {
		e := newEnv(t)
		c := e.write(t, conversation.ChannelWhatsApp, ana, recent)
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		m := e.message(t, n)
		if n.Channel != conversation.ChannelWhatsApp || m.Text() != "Hola Ana, tu caso PQR-2026-000001 fue resuelto." ||
			m.Meta[conversation.MetaContentSID] != "" {
			t.Fatalf("notification %+v, message %+v", n, m)
		}
	})

	t.Run("no identity: the next channel", func(t *testing.T) {
		e := newEnv(t)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		if n.Channel != conversation.ChannelSMS || !slices.Equal(codes(n), []string{"whatsapp:no_identity"}) {
			t.Fatalf("notification %+v", n)
		}
	})

	t.Run("no enabled account: the next channel", func(t *testing.T) {
		e := newEnv(t)
		e.write(t, conversation.ChannelWhatsApp, ana, recent)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		wa := e.accounts[conversation.ChannelWhatsApp]
		wa.Disabled = true
		_, err := e.store.UpdateChannelAccount(t.Context(), wa)
		must(t, err)
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		if n.Channel != conversation.ChannelSMS || !slices.Equal(codes(n), []string{"whatsapp:no_account"}) {
			t.Fatalf("notification %+v", n)
		}
	})

	t.Run("opted out of the sender: the next channel", func(t *testing.T) {
		e := newEnv(t)
		e.write(t, conversation.ChannelWhatsApp, ana, recent)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		e.optOut(t, c, conversation.ChannelWhatsApp, "")
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		if n.Channel != conversation.ChannelSMS || !slices.Equal(codes(n), []string{"whatsapp:opted_out"}) ||
			n.Skipped[0].AccountID != e.accounts[conversation.ChannelWhatsApp].ID {
			t.Fatalf("notification %+v", n)
		}
	})

	t.Run("opted out of the purpose: the next channel, other purposes still come", func(t *testing.T) {
		e := newEnv(t)
		e.write(t, conversation.ChannelWhatsApp, ana, recent)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		e.optOut(t, c, conversation.ChannelWhatsApp, "survey")
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "survey", Data: map[string]string{"name": "Ana"}}))
		if n.Channel != conversation.ChannelSMS || !slices.Equal(codes(n), []string{"whatsapp:opted_out_purpose"}) {
			t.Fatalf("survey %+v", n)
		}
		n = e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		if n.Channel != conversation.ChannelWhatsApp || len(n.Skipped) != 0 {
			t.Fatalf("case_resolved %+v", n)
		}
	})

	t.Run("WhatsApp outside the window without an approved template: the next channel", func(t *testing.T) {
		e := newEnv(t)
		e.write(t, conversation.ChannelWhatsApp, ana, old)
		c := e.write(t, conversation.ChannelSMS, ana, old)
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "reminder", Data: map[string]string{"when": "mañana a las 10"}}))
		if n.Channel != conversation.ChannelSMS || !slices.Equal(codes(n), []string{"whatsapp:whatsapp_window"}) ||
			!strings.Contains(n.Skipped[0].Reason, "24-hour window") {
			t.Fatalf("notification %+v", n)
		}
	})

	t.Run("WhatsApp outside the window with an approved template: the template", func(t *testing.T) {
		e := newEnv(t)
		c := e.write(t, conversation.ChannelWhatsApp, ana, old)
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		m := e.message(t, n)
		if n.Channel != conversation.ChannelWhatsApp || m.Meta[conversation.MetaContentSID] != "HXb5b62575e6e4ff6129ad7c8efe1f983e" ||
			m.Meta[conversation.MetaContentVariables] != `["Ana","PQR-2026-000001"]` ||
			m.Text() != "Hola Ana, tu caso PQR-2026-000001 fue resuelto." {
			t.Fatalf("notification %+v, message %+v", n, m)
		}
	})

	t.Run("email: subject and HTML for the channel", func(t *testing.T) {
		e := newEnv(t)
		c := e.write(t, conversation.ChannelEmail, "ana@example.com", recent)
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		m := e.message(t, n)
		if n.Channel != conversation.ChannelEmail ||
			!slices.Equal(codes(n), []string{"whatsapp:no_identity", "sms:no_identity", "telegram:no_identity"}) ||
			m.Meta[conversation.MetaSubject] != "Tu caso PQR-2026-000001" ||
			m.Meta[conversation.MetaHTML] != "<p>Hola Ana: tu caso <b>PQR-2026-000001</b> fue resuelto.</p>" ||
			m.Text() != "Hola Ana: tu caso PQR-2026-000001 fue resuelto." {
			t.Fatalf("notification %+v, message %+v", n, m)
		}
	})

	t.Run("a template without the channel's variant: the next channel", func(t *testing.T) {
		e := newEnv(t)
		e.write(t, conversation.ChannelWhatsApp, ana, recent)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "sms_only"}))
		if n.Channel != conversation.ChannelSMS || !slices.Equal(codes(n), []string{"whatsapp:no_variant"}) {
			t.Fatalf("notification %+v", n)
		}
	})

	t.Run("the caller's channels replace the chain", func(t *testing.T) {
		e := newEnv(t)
		e.write(t, conversation.ChannelWhatsApp, ana, recent)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		e.setAttr(t, c, notify.AttrPreferredChannel, "whatsapp")
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved,
			Channels: []conversation.ChannelKind{conversation.ChannelTelegram, conversation.ChannelSMS}}))
		if n.Channel != conversation.ChannelSMS || !slices.Equal(codes(n), []string{"telegram:no_identity"}) {
			t.Fatalf("notification %+v", n)
		}
	})

	t.Run("the tenant's chain", func(t *testing.T) {
		e := newEnv(t)
		e.write(t, conversation.ChannelWhatsApp, ana, recent)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		must(t, e.svc.PutPolicy(t.Context(), e.tenant.ID, notify.Policy{Fallback: []conversation.ChannelKind{conversation.ChannelSMS, conversation.ChannelWhatsApp}}))
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		if n.Channel != conversation.ChannelSMS || len(n.Skipped) != 0 {
			t.Fatalf("notification %+v", n)
		}
	})

	t.Run("no reachable channel: undeliverable, with every reason", func(t *testing.T) {
		e := newEnv(t)
		e.write(t, conversation.ChannelWhatsApp, ana, recent)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		e.optOut(t, c, conversation.ChannelWhatsApp, "")
		e.optOut(t, c, conversation.ChannelSMS, "case_resolved")
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		want := []string{"whatsapp:opted_out", "sms:opted_out_purpose", "telegram:no_identity", "email:no_identity", "webchat:no_identity"}
		if n.Status != notify.StatusUndeliverable || !slices.Equal(codes(n), want) || n.MessageID != 0 || n.Channel != "" {
			t.Fatalf("notification %+v; want undeliverable with %v", n, want)
		}
		for _, s := range n.Skipped {
			if s.Reason == "" {
				t.Errorf("skip %+v has no reason", s)
			}
		}
		msgs, err := e.store.ListMessages(t.Context(), e.tenant.ID, conversation.MessageFilter{ContactID: c.ID})
		must(t, err)
		for _, m := range msgs {
			if m.Direction == conversation.DirectionOut {
				t.Fatalf("an undeliverable notification sent %+v", m)
			}
		}
		list, err := e.svc.List(t.Context(), e.tenant.ID, notify.Filter{ContactID: c.ID, Status: notify.StatusUndeliverable})
		must(t, err)
		if len(list) != 1 || list[0].ID != n.ID || len(list[0].Skipped) != 5 {
			t.Fatalf("listed %+v", list)
		}
	})

	t.Run("into the contact's open conversation, or a new one", func(t *testing.T) {
		e := newEnv(t)
		c := e.write(t, conversation.ChannelSMS, ana, recent)
		open, err := e.store.ListConversations(t.Context(), e.tenant.ID, conversation.ConversationFilter{ContactID: c.ID})
		must(t, err)
		n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		if n.ConversationID != open[0].ID {
			t.Fatalf("sent into conversation %d, want the open %d", n.ConversationID, open[0].ID)
		}
		_, err = e.conv.Close(t.Context(), e.tenant.ID, open[0].ID)
		must(t, err)
		n2 := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}))
		conv, err := e.store.Conversation(t.Context(), e.tenant.ID, n2.ConversationID)
		must(t, err)
		if n2.Status != notify.StatusSent || conv.ID == open[0].ID || conv.State != conversation.StateBot || conv.Channel != conversation.ChannelSMS {
			t.Fatalf("after close: %+v in %+v", n2, conv)
		}
	})
}

package twilio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"

	"conversa/channels"
	"conversa/channels/channeltest"
	"conversa/conversation"
)

func TestChannelSMS(t *testing.T) {
	channeltest.TestChannel(t, func(t *testing.T) channeltest.Harness { return harness(t, conversation.ChannelSMS) })
}

func TestChannelWhatsApp(t *testing.T) {
	channeltest.TestChannel(t, func(t *testing.T) channeltest.Harness { return harness(t, conversation.ChannelWhatsApp) })
}

// windowed is the WhatsApp channel given the contact's last inbound time
// from the store, as the core's DeliverJob gives it: the suite's
// deliveries do not carry one.
type windowed struct {
	channels.Channel
	e *env
}

func (w windowed) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	if d.LastInbound.IsZero() {
		last, err := w.e.store.LastInbound(ctx, d.Account.TenantID, d.Contact.ID, d.Account.ID)
		if err != nil {
			return conversation.Receipt{}, err
		}
		d.LastInbound = last
	}
	return w.Channel.Send(ctx, d)
}

// harnessSID turns the suite's provider ids into Twilio message sids.
func harnessSID(providerID string) string {
	h := sha256.Sum256([]byte(providerID))
	return "SM" + hex.EncodeToString(h[:16])
}

func harness(t *testing.T, kind conversation.ChannelKind) channeltest.Harness {
	e := newEnv(t, envOptions{})
	acct, ch := e.sms, e.tw.SMS()
	prefix := ""
	if kind == conversation.ChannelWhatsApp {
		acct, ch, prefix = e.wa, windowed{e.tw.WhatsApp(), e}, "whatsapp:"
	}
	// The customer writes first: the contact exists, and WhatsApp's
	// window is open.
	if status, body := e.post(MessagesPath, inboundForm(kind, sid(0), "hola")); status != http.StatusOK {
		t.Fatalf("first message: %d %s", status, body)
	}
	seen := map[int64]bool{}
	for _, m := range e.messages(acct) {
		seen[m.ID] = true
	}
	return channeltest.Harness{
		Channel: ch,
		Account: acct,
		Contact: e.contact(kind),
		To:      conversation.Identity{Channel: kind, Address: customer},
		Receive: func(ctx context.Context) ([]conversation.Part, error) {
			f, err := e.twilio.next(ctx)
			if err != nil {
				return nil, err
			}
			if f.Get("To") != prefix+customer || f.Get("From") != prefix+acct.Key {
				return nil, fmt.Errorf("Twilio got a message from %s to %s", f.Get("From"), f.Get("To"))
			}
			var parts []conversation.Part
			if b := f.Get("Body"); b != "" {
				parts = append(parts, conversation.TextPart(b))
			}
			for _, u := range f["MediaUrl"] {
				parts = append(parts, conversation.Part{Type: conversation.PartMedia, Media: &conversation.Media{URL: u}})
			}
			return parts, nil
		},
		Inject: func(ctx context.Context, providerID, text string) error {
			if status, body := e.post(MessagesPath, inboundForm(kind, harnessSID(providerID), text)); status != http.StatusOK {
				return fmt.Errorf("webhook answered %d %s", status, body)
			}
			return nil
		},
		Ingested: func(ctx context.Context) (conversation.Message, error) {
			for {
				for _, m := range e.messages(acct) {
					if m.Direction == conversation.DirectionIn && !seen[m.ID] {
						seen[m.ID] = true
						return m, nil
					}
				}
				if err := sleep(ctx); err != nil {
					return conversation.Message{}, fmt.Errorf("no message ingested: %w", err)
				}
			}
		},
		InvalidSettings: []map[string]string{
			{},
			{SettingAuthToken: testAuthToken},
			{SettingAccountSID: "AC123", SettingAuthToken: testAuthToken},
			{SettingAccountSID: testAccountSID},
			{SettingAccountSID: testAccountSID, SettingAuthToken: "not a token!"},
			baseSettings(map[string]string{SettingAPIKeySID: "SK0123456789abcdef0123456789abcdef"}),
			baseSettings(map[string]string{SettingMessagingServiceSID: "MG1"}),
			baseSettings(map[string]string{SettingMessagesPerSecond: "0"}),
			baseSettings(map[string]string{SettingMessagesPerSecond: "NaN"}),
			baseSettings(map[string]string{"colour": "blue"}),
			baseSettings(map[string]string{SettingTemplateVariables: `{"1":"x"}`}),
			baseSettings(map[string]string{SettingTemplateContentSID: "HX1"}),
		},
	}
}

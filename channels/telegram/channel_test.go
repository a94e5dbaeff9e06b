package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"conversa/channels/channeltest"
	"conversa/conversation"
)

// invalidSettings are account settings the channel must refuse.
var invalidSettings = []map[string]string{
	{},
	{SettingBotToken: "123456:short", SettingWebhookSecret: testSecret},
	{SettingBotToken: "abc:" + testToken[10:], SettingWebhookSecret: testSecret},
	{SettingBotToken: testToken},
	{SettingBotToken: testToken, SettingMode: ModeWebhook, SettingWebhookSecret: ""},
	{SettingBotToken: testToken, SettingWebhookSecret: "has spaces"},
	{SettingBotToken: testToken, SettingWebhookSecret: strings.Repeat("a", 257)},
	{SettingBotToken: testToken, SettingMode: "push"},
	{SettingBotToken: testToken, SettingMode: ModePolling, SettingMessagesPerSecond: "0"},
	{SettingBotToken: testToken, SettingMode: ModePolling, SettingMessagesPerSecond: "1001"},
	{SettingBotToken: testToken, SettingMode: ModePolling, SettingMessagesPerSecond: "fast"},
	{SettingBotToken: testToken, SettingMode: ModePolling, SettingFormat: "html"},
	{SettingBotToken: testToken, SettingMode: ModePolling, "token": testToken},
}

// partsOf reads a send call the way the chat shows it: its text or
// caption, and its inline keyboard as buttons.
func partsOf(c apiCall) ([]conversation.Part, error) {
	text := c.Fields["text"]
	if text == "" {
		text = c.Fields["caption"]
	}
	markup := c.Fields["reply_markup"]
	if markup == "" {
		return []conversation.Part{conversation.TextPart(text)}, nil
	}
	var kb struct {
		InlineKeyboard [][]struct {
			Text         string `json:"text"`
			CallbackData string `json:"callback_data"`
		} `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(markup), &kb); err != nil {
		return nil, fmt.Errorf("reply_markup %q: %w", markup, err)
	}
	p := conversation.Part{Type: conversation.PartButtons, Text: text}
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			p.Buttons = append(p.Buttons, conversation.Button{ID: b.CallbackData, Title: b.Text})
		}
	}
	return []conversation.Part{p}, nil
}

// ingested waits for the next inbound message of the contact after *last.
func (e *env) ingested(ctx context.Context, contactID int64, last *conversation.MessagePos) (conversation.Message, error) {
	for {
		ms, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{ContactID: contactID, After: last, Limit: 1})
		if err != nil {
			return conversation.Message{}, err
		}
		if len(ms) > 0 {
			*last = conversation.MessagePos{ConversationID: ms[0].ConversationID, Seq: ms[0].Seq}
			if ms[0].Direction == conversation.DirectionIn {
				return ms[0], nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return conversation.Message{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestChannel runs the channel suite with updates posted to the webhook
// and sends received by the fake Bot API.
func TestChannel(t *testing.T) {
	channeltest.TestChannel(t, func(t *testing.T) channeltest.Harness {
		e := newEnv(t, envOptions{})
		_, body := e.textUpdate(testChat, "hola")
		if st := e.post(testBot, testSecret, body); st != http.StatusOK {
			t.Fatalf("first message: HTTP %d", st)
		}
		first := e.inbound()[0]
		contact := e.contact(testChat)
		last := conversation.MessagePos{ConversationID: first.ConversationID, Seq: first.Seq}
		return channeltest.Harness{
			Channel: e.ch,
			Account: e.acct,
			Contact: contact,
			To:      conversation.Identity{Channel: conversation.ChannelTelegram, Address: fmt.Sprint(testChat)},
			Receive: func(ctx context.Context) ([]conversation.Part, error) {
				c, err := e.api.next(ctx, "sendMessage", "sendPhoto", "sendDocument")
				if err != nil {
					return nil, err
				}
				if c.Token != testToken || c.Fields["chat_id"] != fmt.Sprint(testChat) {
					return nil, fmt.Errorf("sent with token %q to chat %q", c.Token, c.Fields["chat_id"])
				}
				return partsOf(c)
			},
			Inject: func(ctx context.Context, providerID, text string) error {
				_, body := e.textUpdate(testChat, text)
				if st := e.post(testBot, testSecret, body); st != http.StatusOK {
					return fmt.Errorf("webhook answered %d", st)
				}
				return nil
			},
			Ingested: func(ctx context.Context) (conversation.Message, error) {
				return e.ingested(ctx, contact.ID, &last)
			},
			InvalidSettings: invalidSettings,
		}
	})
}

func TestValidateAccountKey(t *testing.T) {
	ch := newEnv(t, envOptions{}).ch
	for _, tt := range []struct {
		key string
		ok  bool
	}{
		{"acme_support_bot", true},
		{"@AcmeBot", true},
		{"acme", false},
		{"acme_support", false},
		{"1acme_bot", false},
		{"acme-bot", false},
		{"a" + strings.Repeat("b", 31) + "bot", false},
	} {
		a := conversation.ChannelAccount{Kind: conversation.ChannelTelegram, Key: tt.key,
			Settings: map[string]string{SettingBotToken: testToken, SettingMode: ModePolling}}
		err := ch.ValidateAccount(&a)
		if (err == nil) != tt.ok {
			t.Errorf("key %q: got %v, want ok=%v", tt.key, err, tt.ok)
		}
		if err == nil && (strings.HasPrefix(a.Key, "@") || a.Settings[SettingFormat] != FormatPlain) {
			t.Errorf("key %q normalized to %q, format %q", tt.key, a.Key, a.Settings[SettingFormat])
		}
		if err != nil && strings.Contains(err.Error(), testToken) {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	a := conversation.ChannelAccount{Kind: conversation.ChannelTelegram, Key: testBot, Settings: map[string]string{SettingBotToken: testToken, SettingWebhookSecret: testSecret}}
	if err := ch.ValidateAccount(&a); err != nil || a.Settings[SettingMode] != ModeWebhook {
		t.Fatalf("default mode: %v, %q", err, a.Settings[SettingMode])
	}
}

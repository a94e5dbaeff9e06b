package telegram

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"conversa/conversation"
	"conversa/storage/memory"
)

var pollingSettings = map[string]string{SettingBotToken: testToken, SettingMode: ModePolling}

func TestLongPolling(t *testing.T) {
	e := newEnv(t, envOptions{settings: pollingSettings, run: true, locker: memory.New()})
	ctx := timeout(t)
	// Polling starts by dropping the webhook, then holds getUpdates.
	if _, err := e.api.next(ctx, "deleteWebhook"); err != nil {
		t.Fatal(err)
	}
	first, err := e.api.next(ctx, "getUpdates")
	if err != nil {
		t.Fatal(err)
	}
	if first.Token != testToken || first.Fields["timeout"] != "2" || !strings.Contains(first.Fields["allowed_updates"], "callback_query") {
		t.Fatalf("getUpdates %v", first.Fields)
	}
	for i, text := range []string{"hola", "quiero poner una queja"} {
		id, body := e.textUpdate(testChat, text)
		e.api.push(id, body)
		// The next poll confirms the update only once it is stored.
		c, err := e.api.next(ctx, "getUpdates")
		if err != nil {
			t.Fatal(err)
		}
		if c.Fields["offset"] != fmt.Sprint(id+1) {
			t.Fatalf("poll after update %d asks from %s", id, c.Fields["offset"])
		}
		if in := e.inbound(); len(in) != i+1 || in[i].Text() != text {
			t.Fatalf("stored %d messages when update %d was confirmed", len(in), id)
		}
	}
	// An update delivered twice (a poll retried, or also posted to the
	// webhook) is stored once.
	id, body := e.textUpdate(testChat, "duplicada")
	var u map[string]any
	json.Unmarshal([]byte(body), &u)
	e.api.push(id, body)
	if _, err := e.api.next(ctx, "getUpdates"); err != nil {
		t.Fatal(err)
	}
	u["update_id"] = id + 1
	again, _ := json.Marshal(u)
	e.api.push(id+1, string(again))
	c, err := e.api.next(ctx, "getUpdates")
	if err != nil {
		t.Fatal(err)
	}
	if c.Fields["offset"] != fmt.Sprint(id+2) {
		t.Fatalf("offset %s", c.Fields["offset"])
	}
	if n := len(e.inbound()); n != 3 {
		t.Fatalf("%d messages, want 3", n)
	}
	e.api.mu.Lock()
	max := e.api.maxPolling
	e.api.mu.Unlock()
	if max != 1 {
		t.Fatalf("%d getUpdates at once", max)
	}
}

func TestLongPollingInvalidUpdateSkipped(t *testing.T) {
	e := newEnv(t, envOptions{settings: pollingSettings, run: true})
	ctx := timeout(t)
	if _, err := e.api.next(ctx, "getUpdates"); err != nil {
		t.Fatal(err)
	}
	e.api.push(7, `{"update_id":7,"message":{"message_id":1,"text":"no chat"}}`)
	id, body := e.textUpdate(testChat, "después")
	e.api.push(id, body)
	waitFor(t, "the valid update", func() bool { return len(e.inbound()) == 1 })
	c, err := e.api.next(ctx, "getUpdates")
	if err != nil {
		t.Fatal(err)
	}
	if c.Fields["offset"] != "8" && c.Fields["offset"] != fmt.Sprint(id+1) {
		t.Fatalf("offset %s", c.Fields["offset"])
	}
	waitFor(t, "a log line for the skipped update", func() bool {
		return strings.Contains(e.logs.String(), "telegram update skipped: invalid")
	})
}

// TestPollingFollowsAccounts checks that Run stops polling a bot whose
// account leaves polling mode, and starts polling a new one.
func TestPollingFollowsAccounts(t *testing.T) {
	e := newEnv(t, envOptions{settings: pollingSettings, run: true})
	ctx := timeout(t)
	if _, err := e.api.next(ctx, "getUpdates"); err != nil {
		t.Fatal(err)
	}
	other := "987654321:BBHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
	e.createAccount("acme_ventas_bot", map[string]string{SettingBotToken: other, SettingMode: ModePolling})
	waitFor(t, "polling of the new bot", func() bool {
		c, err := e.api.next(ctx, "getUpdates")
		return err != nil || c.Token == other
	})
	e.acct.Settings = map[string]string{SettingBotToken: testToken, SettingMode: ModeWebhook, SettingWebhookSecret: testSecret}
	if _, err := e.store.UpdateChannelAccount(t.Context(), e.acct); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first bot's poller to stop", func() bool {
		return strings.Contains(e.logs.String(), "telegram polling stops") && strings.Contains(e.logs.String(), "account="+testBot)
	})
}

func TestSetWebhook(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{PublicURL: "https://chat.acme.example/"}})
	if err := e.ch.SetWebhook(t.Context(), e.acct); err != nil {
		t.Fatal(err)
	}
	c, err := e.api.next(timeout(t), "setWebhook")
	if err != nil {
		t.Fatal(err)
	}
	if c.Token != testToken {
		t.Fatalf("token %q", c.Token)
	}
	want := map[string]string{
		"url":             "https://chat.acme.example/channels/telegram/" + testBot,
		"secret_token":    testSecret,
		"allowed_updates": `["message","edited_message","callback_query"]`,
	}
	for k, v := range want {
		if c.Fields[k] != v {
			t.Errorf("%s = %q, want %q", k, c.Fields[k], v)
		}
	}
	if len(c.Fields) != len(want) {
		t.Errorf("fields %v, want only %v", c.Fields, want)
	}

	polling := e.acct
	polling.Settings = pollingSettings
	if err := e.ch.SetWebhook(t.Context(), polling); conversation.ErrorCode(err) != conversation.EINVALID {
		t.Fatalf("SetWebhook of a polling account: %v", err)
	}
	e.api.failWith(func(apiCall) *apiError {
		return &apiError{Status: 400, Code: 400, Description: "Bad Request: bad webhook: HTTPS url must be provided for webhook"}
	})
	if err := e.ch.SetWebhook(t.Context(), e.acct); err == nil || !strings.Contains(err.Error(), "HTTPS url must be provided") || strings.Contains(err.Error(), testToken) {
		t.Fatalf("refused setWebhook: %v", err)
	}
}

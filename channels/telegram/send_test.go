package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/storage/memory"
)

// delivery is a message of parts to the test chat.
func (e *env) delivery(parts ...conversation.Part) conversation.Delivery {
	return conversation.Delivery{
		Message: conversation.Message{ID: 1, TenantID: e.tenant.ID, Direction: conversation.DirectionOut, Channel: conversation.ChannelTelegram, Parts: parts},
		Account: e.acct,
		To:      conversation.Identity{Channel: conversation.ChannelTelegram, Address: fmt.Sprint(testChat)},
	}
}

func TestSendInlineKeyboard(t *testing.T) {
	e := newEnv(t, envOptions{})
	r, err := e.ch.Send(t.Context(), e.delivery(conversation.Part{Type: conversation.PartButtons, Text: "¿Qué necesita?", Buttons: []conversation.Button{
		{ID: "billing", Title: "Facturas"}, {ID: "support", Title: "Soporte técnico"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.api.next(timeout(t), "sendMessage")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != conversation.StatusSent || r.ProviderID == "" || !strings.HasPrefix(r.ProviderID, fmt.Sprint(testChat)+":") {
		t.Fatalf("receipt %+v", r)
	}
	if c.Fields["text"] != "¿Qué necesita?" || c.Fields["parse_mode"] != "" || c.Fields["chat_id"] != fmt.Sprint(testChat) {
		t.Fatalf("sendMessage %v", c.Fields)
	}
	var markup map[string]any
	if err := json.Unmarshal([]byte(c.Fields["reply_markup"]), &markup); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"inline_keyboard": []any{
		[]any{map[string]any{"text": "Facturas", "callback_data": "billing"}},
		[]any{map[string]any{"text": "Soporte técnico", "callback_data": "support"}},
	}}
	if fmt.Sprint(markup) != fmt.Sprint(want) {
		t.Fatalf("reply_markup %s, want %v", c.Fields["reply_markup"], want)
	}

	// An id Telegram cannot carry fails at once, saying why.
	_, err = e.ch.Send(t.Context(), e.delivery(conversation.Part{Type: conversation.PartButtons, Text: "x", Buttons: []conversation.Button{
		{ID: strings.Repeat("b", 65), Title: "Largo"},
	}}))
	de, ok := errors.AsType[*conversation.DeliveryError](err)
	if !ok || !de.Permanent || !strings.Contains(de.Message, "64 bytes") {
		t.Fatalf("long button id: %v", err)
	}
}

func TestSendText(t *testing.T) {
	for _, tt := range []struct {
		name, format, text, want, mode string
	}{
		{"plain", FormatPlain, "Total: $1.500 (IVA incl.) - pague *hoy*", "Total: $1.500 (IVA incl.) - pague *hoy*", ""},
		{"markdown", FormatMarkdown, "Total: $1.500 (IVA incl.) - pague *hoy* en_linea `PQR-2026-000123`",
			`Total: $1\.500 \(IVA incl\.\) \- pague *hoy* en\_linea ` + "`PQR-2026-000123`", "MarkdownV2"},
		{"markdown reserved only", FormatMarkdown, `a_b [x](y) #1 + 2 = 3! {k} | ~s~ > q \`, `a\_b \[x\]\(y\) \#1 \+ 2 \= 3\! \{k\} \| \~s\~ \> q \\`, "MarkdownV2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{settings: map[string]string{SettingBotToken: testToken, SettingWebhookSecret: testSecret, SettingFormat: tt.format}})
			if _, err := e.ch.Send(t.Context(), e.delivery(conversation.TextPart(tt.text))); err != nil {
				t.Fatal(err)
			}
			c, err := e.api.next(timeout(t), "sendMessage")
			if err != nil {
				t.Fatal(err)
			}
			if c.Fields["text"] != tt.want || c.Fields["parse_mode"] != tt.mode {
				t.Fatalf("sent %q (%q), want %q (%q)", c.Fields["text"], c.Fields["parse_mode"], tt.want, tt.mode)
			}
		})
	}
}

func TestSendLongText(t *testing.T) {
	e := newEnv(t, envOptions{})
	long := strings.Repeat("Su caso está en trámite. ", 400) // 10,000 characters
	if _, err := e.ch.Send(t.Context(), e.delivery(conversation.TextPart(long))); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 3 {
		c, err := e.api.next(timeout(t), "sendMessage")
		if err != nil {
			t.Fatal(err)
		}
		if n := len([]rune(c.Fields["text"])); n > maxMessageText {
			t.Fatalf("a message of %d characters", n)
		}
		got = append(got, c.Fields["text"])
	}
	if strings.Join(strings.Fields(strings.Join(got, " ")), " ") != strings.TrimSpace(long) {
		t.Fatal("the pieces do not make up the text")
	}
}

func TestSendMedia(t *testing.T) {
	e := newEnv(t, envOptions{})
	stored, err := e.media.Put(t.Context(), e.tenant.ID, conversation.Media{ContentType: "application/pdf", Filename: "radicado.pdf"}, strings.NewReader("%PDF-1.7 radicado"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		media          conversation.Media
		method, field  string
		value, caption string
	}{
		{conversation.Media{ContentType: "image/jpeg", URL: "https://cdn.acme.example/factura.jpg"}, "sendPhoto", "photo", "https://cdn.acme.example/factura.jpg", "Su factura"},
		{conversation.Media{ContentType: "application/pdf", URL: "https://cdn.acme.example/contrato.pdf"}, "sendDocument", "document", "https://cdn.acme.example/contrato.pdf", "Su contrato"},
		{conversation.Media{ContentType: "audio/mpeg", URL: "https://cdn.acme.example/aviso.mp3"}, "sendAudio", "audio", "https://cdn.acme.example/aviso.mp3", ""},
		{stored, "sendDocument", "document", "attach:radicado.pdf", "Su radicado"},
	} {
		t.Run(tt.method+" "+tt.value, func(t *testing.T) {
			if _, err := e.ch.Send(t.Context(), e.delivery(conversation.Part{Type: conversation.PartMedia, Text: tt.caption, Media: &tt.media})); err != nil {
				t.Fatal(err)
			}
			c, err := e.api.next(timeout(t), "sendPhoto", "sendDocument", "sendAudio", "sendVoice", "sendMessage")
			if err != nil {
				t.Fatal(err)
			}
			if c.Method != tt.method || c.Fields[tt.field] != tt.value || c.Fields["caption"] != tt.caption {
				t.Fatalf("%s %v, want %s with %s=%s", c.Method, c.Fields, tt.method, tt.field, tt.value)
			}
			if tt.media.Key != "" && string(c.Files[tt.field]) != "%PDF-1.7 radicado" {
				t.Fatalf("uploaded %q", c.Files[tt.field])
			}
		})
	}
}

// sendError sends a text while the fake answers sendMessage with e, and
// returns Send's error.
func sendError(t *testing.T, e *env, fail *apiError) error {
	t.Helper()
	e.api.failWith(func(c apiCall) *apiError {
		if c.Method == "sendMessage" {
			return fail
		}
		return nil
	})
	_, err := e.ch.Send(t.Context(), e.delivery(conversation.TextPart("hola")))
	return err
}

func TestSendRefused(t *testing.T) {
	for _, tt := range []struct {
		name      string
		fail      apiError
		permanent bool
		code, msg string
	}{
		{"blocked by the user", apiError{Status: 403, Code: 403, Description: "Forbidden: bot was blocked by the user"}, true, "403", "Forbidden: bot was blocked by the user"},
		{"chat not found", apiError{Status: 400, Code: 400, Description: "Bad Request: chat not found"}, true, "400", "Bad Request: chat not found"},
		{"revoked token", apiError{Status: 401, Code: 401, Description: "Unauthorized"}, true, "401", "Unauthorized"},
		{"server error", apiError{Status: 500, Code: 500, Description: "Internal Server Error"}, false, "", ""},
		{"bad gateway", apiError{Status: 502, Code: 502, Description: "Bad Gateway"}, false, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			err := sendError(t, e, &tt.fail)
			if err == nil {
				t.Fatal("no error")
			}
			de, ok := errors.AsType[*conversation.DeliveryError](err)
			if tt.permanent != (ok && de.Permanent) {
				t.Fatalf("error %v: permanent=%v, want %v", err, ok && de.Permanent, tt.permanent)
			}
			if tt.permanent && (de.Code != tt.code || de.Message != tt.msg) {
				t.Fatalf("error %+v", de)
			}
		})
	}
}

func TestSendTimeout(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{RequestTimeout: 100 * time.Millisecond}})
	err := sendError(t, e, &apiError{Hang: true})
	if _, ok := errors.AsType[*conversation.DeliveryError](err); ok || err == nil {
		t.Fatalf("a timeout gave %v, want a temporary error", err)
	}
}

func TestSend429(t *testing.T) {
	e := newEnv(t, envOptions{})
	var n atomic.Int32
	e.api.failWith(func(c apiCall) *apiError {
		if c.Method == "sendMessage" && n.Add(1) == 1 {
			return &apiError{Status: 429, Code: 429, Description: "Too Many Requests: retry after 1", RetryAfter: 1}
		}
		return nil
	})
	if _, err := e.ch.Send(t.Context(), e.delivery(conversation.TextPart("hola"))); err != nil {
		t.Fatal(err)
	}
	first, err := e.api.next(timeout(t), "sendMessage")
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.api.next(timeout(t), "sendMessage")
	if err != nil {
		t.Fatal(err)
	}
	if gap := second.At.Sub(first.At); gap < time.Second {
		t.Fatalf("retried after %v, before the retry_after of 1s", gap)
	}

	// A retry_after beyond MaxWait goes back to the job queue with it.
	e.api.failWith(func(c apiCall) *apiError {
		return &apiError{Status: 429, Code: 429, Description: "Too Many Requests: retry after 35", RetryAfter: 35}
	})
	_, err = e.ch.Send(t.Context(), e.delivery(conversation.TextPart("otra")))
	de, ok := errors.AsType[*conversation.DeliveryError](err)
	if !ok || de.Permanent || de.RetryAfter != 35*time.Second {
		t.Fatalf("long 429: %v", err)
	}
	// And the chat stays quiet meanwhile: the next send is told to wait.
	e.api.failWith(nil)
	_, err = e.ch.Send(t.Context(), e.delivery(conversation.TextPart("y otra")))
	if de, ok := errors.AsType[*conversation.DeliveryError](err); !ok || de.RetryAfter <= 30*time.Second {
		t.Fatalf("send during the wait: %v", err)
	}
}

func TestSendPaced(t *testing.T) {
	const interval = 300 * time.Millisecond
	e := newEnv(t, envOptions{cfg: Config{ChatInterval: interval}})
	start := time.Now()
	for i := range 3 {
		if _, err := e.ch.Send(t.Context(), e.delivery(conversation.TextPart(fmt.Sprint("mensaje ", i)))); err != nil {
			t.Fatal(err)
		}
	}
	// Each turn is booked at least an interval after the one before, so
	// the i-th message cannot reach Telegram before start + i intervals.
	for i := range 3 {
		c, err := e.api.next(timeout(t), "sendMessage")
		if err != nil {
			t.Fatal(err)
		}
		if earliest := start.Add(time.Duration(i) * interval); c.At.Before(earliest) {
			t.Fatalf("message %d arrived %v after the first send, before its turn at %v", i, c.At.Sub(start), earliest.Sub(start))
		}
	}
}

// TestDeliveryFails follows replies through the service: a refusal or a
// provider that keeps failing ends in failed with the reason; a 429 is
// retried until it goes.
func TestDeliveryFails(t *testing.T) {
	for _, tt := range []struct {
		name   string
		fail   apiError
		reason string
	}{
		{"blocked", apiError{Status: 403, Code: 403, Description: "Forbidden: bot was blocked by the user"}, "Forbidden: bot was blocked by the user"},
		{"server error", apiError{Status: 500, Code: 500, Description: "Internal Server Error"}, "500 Internal Server Error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			_, body := e.textUpdate(testChat, "hola")
			if st := e.post(testBot, testSecret, body); st != http.StatusOK {
				t.Fatal(st)
			}
			var calls atomic.Int32
			e.api.failWith(func(c apiCall) *apiError {
				if c.Method == "sendMessage" {
					calls.Add(1)
					return &tt.fail
				}
				return nil
			})
			m := e.reply(e.inbound()[0].ConversationID, conversation.TextPart("Hola, le atiende Luis"))
			m = e.waitStatus(m.ID, conversation.StatusFailed)
			if m.Failure == nil || !strings.Contains(m.Failure.Message, tt.reason) {
				t.Fatalf("failure %+v, want %q", m.Failure, tt.reason)
			}
			if tt.fail.Status >= 500 && calls.Load() != conversation.DeliverMaxAttempts {
				t.Fatalf("tried %d times, want %d", calls.Load(), conversation.DeliverMaxAttempts)
			}
			if tt.fail.Status < 500 && calls.Load() != 1 {
				t.Fatalf("a permanent refusal was tried %d times", calls.Load())
			}
		})
	}
}

func TestDelivery429(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxWait: 100 * time.Millisecond}})
	_, body := e.textUpdate(testChat, "hola")
	if st := e.post(testBot, testSecret, body); st != http.StatusOK {
		t.Fatal(st)
	}
	var calls atomic.Int32
	e.api.failWith(func(c apiCall) *apiError {
		if c.Method == "sendMessage" && calls.Add(1) <= 2 {
			return &apiError{Status: 429, Code: 429, Description: "Too Many Requests: retry after 1", RetryAfter: 1}
		}
		return nil
	})
	m := e.reply(e.inbound()[0].ConversationID, conversation.TextPart("Hola"))
	m = e.waitStatus(m.ID, conversation.StatusSent)
	if m.ProviderID == "" {
		t.Fatal("no provider id")
	}
	var at []time.Time
	for range 3 {
		c, err := e.api.next(timeout(t), "sendMessage")
		if err != nil {
			t.Fatal(err)
		}
		at = append(at, c.At)
	}
	for i := 1; i < 3; i++ {
		if gap := at[i].Sub(at[i-1]); gap < time.Second {
			t.Fatalf("attempt %d came %v after a retry_after of 1s", i+1, gap)
		}
	}
}

// TestSendPacedAcrossNodes: with a limiter shared by the nodes, a send on
// one node takes the chat's turn for all of them: another node, whose own
// pace is untouched, waits for the next turn.
func TestSendPacedAcrossNodes(t *testing.T) {
	shared := memory.New()
	const interval = 2 * time.Second
	e := newEnv(t, envOptions{cfg: Config{ChatInterval: interval}, limiter: shared})
	other, err := New(Config{APIURL: e.api.srv.URL, PublicURL: e.srv.URL, ChatInterval: interval},
		Deps{Service: e.svc, Accounts: e.store, Media: e.media, Limiter: shared})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ch.Send(t.Context(), e.delivery(conversation.TextPart("uno"))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := other.Send(ctx, e.delivery(conversation.TextPart("dos"))); err == nil {
		t.Fatal("the second node sent to the chat within its interval")
	}
	if _, err := e.api.next(timeout(t), "sendMessage"); err != nil {
		t.Fatal(err)
	}
	quick, cancelQuick := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancelQuick()
	if c, err := e.api.next(quick, "sendMessage"); err == nil {
		t.Fatalf("Telegram got a second message %v within the interval", c.Fields)
	}
	// Given its turn, the other node sends.
	if _, err := other.Send(t.Context(), e.delivery(conversation.TextPart("dos"))); err != nil {
		t.Fatal(err)
	}
	if c, err := e.api.next(timeout(t), "sendMessage"); err != nil || c.Fields["text"] != "dos" {
		t.Fatalf("Telegram got %v, %v; want the second message", c.Fields, err)
	}
}

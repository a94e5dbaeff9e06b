package telegram

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"conversa/channels"
	"conversa/conversation"
)

func TestWebhookSecret(t *testing.T) {
	for _, tt := range []struct {
		name     string
		secret   string
		polling  bool
		status   int
		accepted bool
	}{
		{"right", testSecret, false, http.StatusOK, true},
		{"missing", "", false, http.StatusForbidden, false},
		{"wrong", "s3cret_of-the-boT", false, http.StatusForbidden, false},
		{"prefix", testSecret[:5], false, http.StatusForbidden, false},
		{"polling account", testSecret, true, http.StatusForbidden, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			settings := map[string]string{SettingBotToken: testToken, SettingWebhookSecret: testSecret}
			if tt.polling {
				settings[SettingMode] = ModePolling
			}
			e := newEnv(t, envOptions{settings: settings})
			_, body := e.textUpdate(testChat, "hola")
			if got := e.post(testBot, tt.secret, body); got != tt.status {
				t.Fatalf("HTTP %d, want %d", got, tt.status)
			}
			if n := len(e.messages()); (n == 1) != tt.accepted || n > 1 {
				t.Fatalf("%d messages stored, accepted=%v", n, tt.accepted)
			}
			if !tt.accepted && !strings.Contains(e.logs.String(), "missing or wrong secret token") {
				t.Fatalf("no log line for the refusal:\n%s", e.logs)
			}
		})
	}
}

func TestWebhookReplay(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, body := e.textUpdate(testChat, "mi pedido no llegó")
	for i := range 3 {
		if st := e.post(testBot, testSecret, body); st != http.StatusOK {
			t.Fatalf("post %d: HTTP %d", i, st)
		}
	}
	if in := e.inbound(); len(in) != 1 || in[0].Text() != "mi pedido no llegó" {
		t.Fatalf("stored %+v, want the message once", in)
	}
}

func TestWebhookRefusals(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{MaxBodyBytes: 4096}})
	for _, tt := range []struct {
		name, key, body string
		status          int
		log             string
	}{
		{"unknown bot", "other_bot", `{"update_id":1}`, http.StatusNotFound, "unknown bot"},
		{"not JSON", testBot, `update_id=1`, http.StatusBadRequest, "malformed update"},
		{"no update id", testBot, `{"message":{"message_id":1,"chat":{"id":1},"text":"x"}}`, http.StatusBadRequest, "malformed update"},
		{"two updates", testBot, `{"update_id":1}{"update_id":2}`, http.StatusBadRequest, "malformed update"},
		{"no chat", testBot, `{"update_id":3,"message":{"message_id":1,"text":"x"}}`, http.StatusBadRequest, "malformed update"},
		{"too large", testBot, `{"update_id":4,"message":{"message_id":1,"chat":{"id":1},"text":"` + strings.Repeat("x", 5000) + `"}}`, http.StatusRequestEntityTooLarge, "body too large"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if st := e.post(tt.key, testSecret, tt.body); st != tt.status {
				t.Fatalf("HTTP %d, want %d", st, tt.status)
			}
			if !strings.Contains(e.logs.String(), tt.log) {
				t.Fatalf("no log line %q:\n%s", tt.log, e.logs)
			}
		})
	}
	if n := len(e.messages()); n != 0 {
		t.Fatalf("%d messages stored from refused updates", n)
	}
}

func TestWebhookDisabledAccount(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.acct.Disabled = true
	if _, err := e.store.UpdateChannelAccount(t.Context(), e.acct); err != nil {
		t.Fatal(err)
	}
	// The service has not read the account yet, so it reads it disabled.
	_, body := e.textUpdate(testChat, "hola")
	if st := e.post(testBot, testSecret, body); st != http.StatusForbidden {
		t.Fatalf("HTTP %d, want 403", st)
	}
}

// postFile posts a golden update to the webhook.
func (e *env) postFile(name string) int {
	e.t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "updates", name+".json"))
	if err != nil {
		e.t.Fatal(err)
	}
	return e.post(testBot, testSecret, string(data))
}

func TestWebhookKinds(t *testing.T) {
	e := newEnv(t, envOptions{})
	jpeg := append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte("j"), 500)...)
	e.api.addFile("AgADBAADr6cxG-large", jpeg)
	e.api.addFile("AwADBAADbXXXXXXXXXXXGBdhD2l6_XX", []byte("OggS voice, mp3 or pdf bytes"))

	for _, tt := range []struct {
		name  string
		check func(t *testing.T, m conversation.Message)
	}{
		{"text", func(t *testing.T, m conversation.Message) {
			if m.Text() != "/start" || m.ProviderID != "1111111:1365" {
				t.Fatalf("got %q %q", m.Text(), m.ProviderID)
			}
		}},
		{"photo", func(t *testing.T, m conversation.Message) { e.checkKept(t, m, "image/jpeg", jpeg) }},
		{"voice", func(t *testing.T, m conversation.Message) {
			e.checkKept(t, m, "audio/ogg", []byte("OggS voice, mp3 or pdf bytes"))
		}},
		{"audio", func(t *testing.T, m conversation.Message) {
			e.checkKept(t, m, "audio/mpeg", []byte("OggS voice, mp3 or pdf bytes"))
		}},
		{"document", func(t *testing.T, m conversation.Message) {
			e.checkKept(t, m, "application/pdf", []byte("OggS voice, mp3 or pdf bytes"))
			if m.Parts[0].Media.Filename != "Factura 2026-03.pdf" || m.Parts[0].Text != "adjunto la factura" {
				t.Fatalf("document part %+v", m.Parts[0])
			}
		}},
		{"location", func(t *testing.T, m conversation.Message) {
			if l := m.Parts[0].Location; l == nil || l.Latitude != 4.60971 || l.Longitude != -74.08175 {
				t.Fatalf("location %+v", m.Parts)
			}
		}},
		{"contact", func(t *testing.T, m conversation.Message) {
			if c := m.Parts[0].Contact; c == nil || c.Name != "María Pérez" || len(c.Phones) != 1 || c.Phones[0] != "+573001234567" {
				t.Fatalf("contact %+v", m.Parts)
			}
		}},
		{"callback_query", func(t *testing.T, m conversation.Message) {
			if p := m.Parts[0]; p.Text != "Facturas" || p.Payload != "billing" || m.ProviderID != "cb:4382bfdwdsb323b2d9" {
				t.Fatalf("button press stored as %+v (%s)", p, m.ProviderID)
			}
			c, err := e.api.next(timeout(t), "answerCallbackQuery")
			if err != nil {
				t.Fatal(err)
			}
			if c.Fields["callback_query_id"] != "4382bfdwdsb323b2d9" {
				t.Fatalf("answered %v", c.Fields)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.inbound())
			if st := e.postFile(tt.name); st != http.StatusOK {
				t.Fatalf("HTTP %d", st)
			}
			in := e.inbound()
			if len(in) != before+1 {
				t.Fatalf("%d inbound messages, want %d", len(in), before+1)
			}
			m := in[len(in)-1]
			if m.Channel != conversation.ChannelTelegram || m.ChannelAccountID != e.acct.ID {
				t.Fatalf("stored %+v", m)
			}
			tt.check(t, m)
		})
	}
	// Every message is in the one conversation of the contact.
	conv := e.inbound()[0].ConversationID
	for _, m := range e.inbound() {
		if m.ConversationID != conv {
			t.Fatalf("message %d in conversation %d, want %d", m.ID, m.ConversationID, conv)
		}
	}
	// An edit of the first message (1365) changes it, and adds nothing.
	before := e.inbound()
	if st := e.postFile("edited_message"); st != http.StatusOK {
		t.Fatalf("edit: HTTP %d", st)
	}
	after := e.inbound()
	if len(after) != len(before) {
		t.Fatalf("%d inbound messages after the edit, want %d", len(after), len(before))
	}
	if orig := after[0]; orig.Text() != "Edited text" || orig.Meta[conversation.MetaOriginal] != "/start" || orig.Meta[conversation.MetaEditedAt] == "" {
		t.Fatalf("the edited message reads %q, meta %v", orig.Text(), orig.Meta)
	}
	// A replayed edit changes nothing more.
	if st := e.postFile("edited_message"); st != http.StatusOK || len(e.inbound()) != len(before) {
		t.Fatalf("replayed edit: HTTP %d, %d messages", st, len(e.inbound()))
	}
}

// TestEditOfUnknownMessage: an edit of a message that was never stored
// (sent before the bot was connected) is stored as a message of its own.
func TestEditOfUnknownMessage(t *testing.T) {
	e := newEnv(t, envOptions{})
	if st := e.postFile("edited_message"); st != http.StatusOK {
		t.Fatalf("HTTP %d", st)
	}
	in := e.inbound()
	if len(in) != 1 || in[0].Text() != "Edited text" || in[0].ProviderID != "1111111:1365:edit:10008" {
		t.Fatalf("stored %+v", in)
	}
}

// checkKept checks that the message's one media part is a stored file with
// the content Telegram served.
func (e *env) checkKept(t *testing.T, m conversation.Message, contentType string, want []byte) {
	t.Helper()
	if len(m.Parts) != 1 || m.Parts[0].Media == nil {
		t.Fatalf("parts %+v", m.Parts)
	}
	md := m.Parts[0].Media
	if md.Key == "" || md.URL != "" || md.Note != "" || md.ContentType != contentType || md.Size != int64(len(want)) {
		t.Fatalf("media %+v, want a stored %s of %d bytes", md, contentType, len(want))
	}
	r, err := e.media.Open(t.Context(), e.tenant.ID, md.Key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("stored %d bytes that differ from the %d served", len(got), len(want))
	}
}

func TestWebhookIgnored(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, name := range []string{"unknown_kind", "sticker"} {
		if st := e.postFile(name); st != http.StatusOK {
			t.Fatalf("%s: HTTP %d, want 200 so that Telegram does not resend", name, st)
		}
	}
	if n := len(e.messages()); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
	for _, want := range []string{"kind=message_reaction", "a sticker"} {
		if !strings.Contains(e.logs.String(), want) {
			t.Fatalf("no log line with %q:\n%s", want, e.logs)
		}
	}
}

// mediaUpdate is a document message of the given type and declared size.
func mediaUpdate(updateID, messageID int, fileID, mimeType string, size int) string {
	return `{"update_id":` + itoa(updateID) + `,"message":{"message_id":` + itoa(messageID) +
		`,"date":1441645532,"chat":{"id":4242,"type":"private","first_name":"Ana"},"from":{"id":4242,"is_bot":false,"first_name":"Ana"},` +
		`"caption":"mire esto","document":{"file_id":"` + fileID + `","file_name":"x.bin","mime_type":"` + mimeType + `","file_size":` + itoa(size) + `}}}`
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestMediaNotKept(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{Media: channels.MediaPolicy{MaxBytes: 1 << 20}}})
	big := bytes.Repeat([]byte("%PDF"), 300<<10) // 1.2 MB
	e.api.addFile("big-undeclared", big)
	e.api.addFile("exe", []byte("MZ\x90\x00"))
	e.api.failWith(func(c apiCall) *apiError {
		if c.Method == "getFile" && c.Fields["file_id"] == "gone" {
			return &apiError{Status: 400, Code: 400, Description: "Bad Request: wrong file_id or the file is temporarily unavailable"}
		}
		return nil
	})
	for i, tt := range []struct {
		name, fileID, mime string
		size               int
		note               string
		getFile            bool
	}{
		{"declared over the policy", "big-declared", "application/pdf", 5 << 20, "larger than the 1 MB", false},
		{"far over the policy", "huge", "application/pdf", 200 << 20, "larger than the 1 MB", false},
		{"undeclared over the policy", "big-undeclared", "application/pdf", 0, "larger than the 1 MB", true},
		{"forbidden type", "exe", "application/x-msdownload", 4, "files of type application/x-msdownload are not accepted", false},
		{"refused by Telegram", "gone", "application/pdf", 10, "Telegram did not provide it", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for len(e.api.calls) > 0 {
				<-e.api.calls
			}
			if st := e.post(testBot, testSecret, mediaUpdate(20000+i, 500+i, tt.fileID, tt.mime, tt.size)); st != http.StatusOK {
				t.Fatalf("HTTP %d", st)
			}
			in := e.inbound()
			m := in[len(in)-1]
			if m.ProviderID != "4242:"+itoa(500+i) {
				t.Fatalf("last message %s", m.ProviderID)
			}
			md := m.Parts[0].Media
			if md == nil || md.Key != "" || md.URL != "" || !strings.Contains(md.Note, tt.note) || m.Parts[0].Text != "mire esto" {
				t.Fatalf("part %+v media %+v, want no file and a note %q", m.Parts[0], md, tt.note)
			}
			if md.Size > conversation.MaxMediaSize {
				t.Fatalf("size %d", md.Size)
			}
			called := false
			for len(e.api.calls) > 0 {
				if c := <-e.api.calls; c.Method == "getFile" {
					called = true
				}
			}
			if called != tt.getFile {
				t.Fatalf("getFile called: %v, want %v", called, tt.getFile)
			}
		})
	}
	// Nothing was stored in the media store.
	entries, _ := filepath.Glob(filepath.Join(e.mediaDir, "*", "*"))
	for _, p := range entries {
		if !strings.HasPrefix(filepath.Base(p), ".") {
			t.Fatalf("file stored: %s", p)
		}
	}
}

func TestMediaOverDownloadLimit(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{Media: channels.MediaPolicy{MaxBytes: 50 << 20}}})
	if st := e.post(testBot, testSecret, mediaUpdate(30000, 600, "huge", "application/pdf", 30<<20)); st != http.StatusOK {
		t.Fatalf("HTTP %d", st)
	}
	md := e.inbound()[0].Parts[0].Media
	if md.Key != "" || !strings.Contains(md.Note, "larger than the 20 MB Telegram lets bots download") || md.Size != 30<<20 {
		t.Fatalf("media %+v", md)
	}
	for len(e.api.calls) > 0 {
		if c := <-e.api.calls; c.Method == "getFile" {
			t.Fatal("getFile called for a file the Bot API does not serve")
		}
	}
}

func TestMediaDownloadFails(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.api.addFile("flaky", []byte("%PDF-1.7"))
	var calls int
	e.api.failWith(func(c apiCall) *apiError {
		if c.Method == "getFile" {
			calls++
			return &apiError{Status: 500, Code: 500, Description: "Internal Server Error"}
		}
		return nil
	})
	if st := e.post(testBot, testSecret, mediaUpdate(30001, 601, "flaky", "application/pdf", 8)); st != http.StatusOK {
		t.Fatalf("HTTP %d", st)
	}
	md := e.inbound()[0].Parts[0].Media
	if md.Key != "" || !strings.Contains(md.Note, "the download from Telegram failed") {
		t.Fatalf("media %+v", md)
	}
	if calls != downloadAttempts {
		t.Fatalf("getFile tried %d times, want %d", calls, downloadAttempts)
	}
}

package twilio

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"conversa/channels"
	"conversa/conversation"
)

// TestInboundSignature: a webhook without the right signature is refused
// with 403 and nothing is stored; the right one is stored.
func TestInboundSignature(t *testing.T) {
	e := newEnv(t, envOptions{})
	form := inboundForm(conversation.ChannelWhatsApp, sid(1), "hola")
	tampered := inboundForm(conversation.ChannelWhatsApp, sid(1), "hola")
	tampered.Set("Body", "adiós")
	tests := []struct {
		name, path string
		form       url.Values
		sig        string
	}{
		{"missing", MessagesPath, form, ""},
		{"another token", MessagesPath, form, sign("ffffffffffffffffffffffffffffffff", testPublicURL+MessagesPath, form)},
		{"another URL", MessagesPath, form, sign(testAuthToken, "https://evil.example.com"+MessagesPath, form)},
		{"the local URL, not the public one", MessagesPath, form, sign(testAuthToken, e.srv.URL+MessagesPath, form)},
		{"another query", MessagesPath + "?x=1", form, sign(testAuthToken, testPublicURL+MessagesPath, form)},
		{"tampered body", MessagesPath, tampered, sign(testAuthToken, testPublicURL+MessagesPath, form)},
		{"garbage", MessagesPath, form, "not base64 at all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, _ := e.postRaw(tt.path, "application/x-www-form-urlencoded", tt.form.Encode(), tt.sig); status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", status)
			}
		})
	}
	if ms := e.messages(e.wa); len(ms) != 0 {
		t.Fatalf("stored %d messages from refused webhooks", len(ms))
	}
	if !strings.Contains(e.logs.String(), "X-Twilio-Signature") {
		t.Fatalf("no log line about the signature:\n%s", e.logs)
	}

	// Another Twilio account's message, signed with that account's token
	// configured by mistake here, names the wrong AccountSid.
	other := inboundForm(conversation.ChannelWhatsApp, sid(2), "hola")
	other.Set("AccountSid", "ACffffffffffffffffffffffffffffffff")
	if status, _ := e.post(MessagesPath, other); status != http.StatusForbidden {
		t.Fatalf("another account's message: status %d, want 403", status)
	}

	// The query string is part of what Twilio signs.
	if status, body := e.post(MessagesPath+"?tenant=acme", form); status != http.StatusOK || !strings.Contains(body, "<Response>") {
		t.Fatalf("signed webhook: %d %s", status, body)
	}
	ms := e.messages(e.wa)
	if len(ms) != 1 || ms[0].ProviderID != sid(1) || conversation.PartsText(ms[0].Parts) != "hola" {
		t.Fatalf("stored %+v", ms)
	}
}

// TestInboundReplay: Twilio's retry of a webhook is answered 200 and
// stored once.
func TestInboundReplay(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, kind := range []conversation.ChannelKind{conversation.ChannelSMS, conversation.ChannelWhatsApp} {
		for range 3 {
			if status, body := e.post(MessagesPath, inboundForm(kind, sid(7), "mi pedido")); status != http.StatusOK {
				t.Fatalf("%s: %d %s", kind, status, body)
			}
		}
	}
	// One message per account: the same sid on two accounts is two
	// messages, and one contact (the same phone number).
	if sms, wa := e.messages(e.sms), e.messages(e.wa); len(sms) != 1 || len(wa) != 1 || sms[0].ContactID != wa[0].ContactID {
		t.Fatalf("stored %d SMS and %d WhatsApp messages, want 1 and 1 of one contact", len(sms), len(wa))
	}
}

// TestInboundUnknownNumber: a message to a number no account has is
// refused with 404 and a log line that names the number.
func TestInboundUnknownNumber(t *testing.T) {
	e := newEnv(t, envOptions{})
	form := inboundForm(conversation.ChannelSMS, sid(1), "hola")
	form.Set("To", "+15550001111")
	if status, _ := e.post(MessagesPath, form); status != http.StatusNotFound {
		t.Fatalf("status %d, want 404", status)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "+15550001111") || !strings.Contains(logs, "no account has the receiving number") {
		t.Fatalf("no log line names the number:\n%s", logs)
	}
	// The WhatsApp number is not an SMS number.
	form.Set("To", waNumber)
	if status, _ := e.post(MessagesPath, form); status != http.StatusNotFound {
		t.Fatalf("the WhatsApp number by SMS: status %d, want 404", status)
	}
	if len(e.messages(e.sms))+len(e.messages(e.wa)) != 0 {
		t.Fatal("a message to an unknown number was stored")
	}
}

// TestInboundMalformed: malformed webhooks get 4xx, a log line, and store
// nothing.
func TestInboundMalformed(t *testing.T) {
	e := newEnv(t, envOptions{})
	good := inboundForm(conversation.ChannelSMS, sid(1), "hola")
	signed := func(f url.Values) (string, string) {
		return f.Encode(), sign(testAuthToken, testPublicURL+MessagesPath, f)
	}
	tests := []struct {
		name   string
		status int
		req    func() (contentType, body, sig string)
	}{
		{"JSON body", http.StatusUnsupportedMediaType, func() (string, string, string) {
			return "application/json", `{"Body":"hola"}`, "x"
		}},
		{"too large", http.StatusRequestEntityTooLarge, func() (string, string, string) {
			f := inboundForm(conversation.ChannelSMS, sid(2), strings.Repeat("a", 70<<10))
			b, s := signed(f)
			return "application/x-www-form-urlencoded", b, s
		}},
		{"bad escape", http.StatusBadRequest, func() (string, string, string) {
			return "application/x-www-form-urlencoded", "Body=%zz", "x"
		}},
		{"repeated field", http.StatusBadRequest, func() (string, string, string) {
			b, s := signed(good)
			return "application/x-www-form-urlencoded", b + "&Body=otro", s
		}},
		{"no To", http.StatusBadRequest, func() (string, string, string) {
			f := inboundForm(conversation.ChannelSMS, sid(3), "hola")
			f.Del("To")
			b, s := signed(f)
			return "application/x-www-form-urlencoded", b, s
		}},
		{"signed but malformed", http.StatusBadRequest, func() (string, string, string) {
			f := inboundForm(conversation.ChannelSMS, sid(4), "hola")
			f.Set("NumMedia", "-1")
			b, s := signed(f)
			return "application/x-www-form-urlencoded", b, s
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, body, sig := tt.req()
			if status, _ := e.postRaw(MessagesPath, ct, body, sig); status != tt.status {
				t.Fatalf("status %d, want %d", status, tt.status)
			}
		})
	}
	if n := len(e.messages(e.sms)); n != 0 {
		t.Fatalf("stored %d messages", n)
	}
	if n := strings.Count(e.logs.String(), "twilio webhook refused"); n != len(tests) {
		t.Fatalf("%d log lines for %d refusals:\n%s", n, len(tests), e.logs)
	}
	// A WhatsApp reaction has nothing to store: accepted, ignored.
	f := readForm(t, "testdata/inbound/whatsapp-reaction.form")
	if status, _ := e.post(MessagesPath, f); status != http.StatusOK || len(e.messages(e.wa)) != 0 {
		t.Fatalf("reaction: status %d, %d messages", status, len(e.messages(e.wa)))
	}
}

// TestInboundMedia: files are downloaded with the account's credentials
// through Twilio's redirect and kept in the media store; a file too large
// or of a forbidden type, or one Twilio no longer has, leaves the message
// with a note and nothing stored.
func TestInboundMedia(t *testing.T) {
	e := newEnv(t, envOptions{cfg: Config{Media: channels.MediaPolicy{MaxBytes: 1 << 20}}})
	photo := bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0}, 1000)
	big := make([]byte, 1<<20+1)
	msid := "MM" + strings.Repeat("0", 31) + "1"
	form := inboundForm(conversation.ChannelSMS, msid, "la factura y la foto")
	form.Set("NumMedia", "4")
	files := []struct{ id, ct string }{
		{"ME0", "image/jpeg"}, {"ME1", "application/x-msdownload"}, {"ME2", "video/mp4"}, {"ME3", "image/png"},
	}
	data := [][]byte{photo, []byte("MZ..."), big, nil}
	for i, f := range files {
		u := e.twilio.addFile(msid, f.id, f.ct, data[i])
		if data[i] == nil {
			delete(e.twilio.files, f.id) // Twilio lost it
		}
		form.Set("MediaUrl"+string(rune('0'+i)), u)
		form.Set("MediaContentType"+string(rune('0'+i)), f.ct)
	}
	if status, body := e.post(MessagesPath, form); status != http.StatusOK {
		t.Fatalf("%d %s", status, body)
	}
	ms := e.messages(e.sms)
	if len(ms) != 1 || len(ms[0].Parts) != 4 {
		t.Fatalf("stored %+v", ms)
	}
	parts := ms[0].Parts
	if parts[0].Text != "la factura y la foto" {
		t.Fatalf("caption %q", parts[0].Text)
	}
	kept := parts[0].Media
	if kept.Key == "" || kept.URL != "" || kept.Note != "" || kept.ContentType != "image/jpeg" || kept.Size != int64(len(photo)) {
		t.Fatalf("photo %+v", kept)
	}
	r, err := e.media.Open(t.Context(), e.tenant.ID, kept.Key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, photo) {
		t.Fatal("the stored photo differs from Twilio's")
	}
	for i, want := range []string{"files of type application/x-msdownload are not accepted", "larger than the 1 MB accepted", "Twilio answered HTTP 404"} {
		m := parts[i+1].Media
		if m.Key != "" || m.URL != "" || !strings.Contains(m.Note, want) {
			t.Errorf("file %d: %+v, want a note %q and no file", i+1, m, want)
		}
	}

	// A replay downloads nothing again and stores nothing more.
	delete(e.twilio.files, "ME0")
	if status, _ := e.post(MessagesPath, form); status != http.StatusOK || len(e.messages(e.sms)) != 1 {
		t.Fatalf("replay: status %d, %d messages", status, len(e.messages(e.sms)))
	}
}

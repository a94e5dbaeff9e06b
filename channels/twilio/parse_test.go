package twilio

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"conversa/conversation"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata")

// goldenInbound is what a golden file records of an incoming-message form.
type goldenInbound struct {
	Inbound *conversation.Inbound `json:"inbound,omitempty"`
	Ignored string                `json:"ignored,omitempty"`
}

// readForm reads a form body of testdata, as Twilio posts it.
func readForm(t testing.TB, path string) url.Values {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(bytes.TrimSpace(b)))
	if err != nil {
		t.Fatal(err)
	}
	return form
}

// golden compares v, as indented JSON, with the file at path, or rewrites
// the file with -update.
func golden(t *testing.T, path string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func forms(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.form"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no forms in testdata/%s: %v", dir, err)
	}
	return files
}

// TestParseInboundGolden reads Twilio's incoming-message webhooks (SMS,
// MMS, WhatsApp text, image, voice note, location, button reply, reaction)
// into the normalized message.
func TestParseInboundGolden(t *testing.T) {
	for _, path := range forms(t, "inbound") {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".form"), func(t *testing.T) {
			in, err := parseInbound(readForm(t, path))
			var g goldenInbound
			switch {
			case errors.Is(err, errNoContent):
				g.Ignored = err.Error()
			case err != nil:
				t.Fatal(err)
			default:
				g.Inbound = &in
			}
			golden(t, strings.TrimSuffix(path, ".form")+".json", g)
		})
	}
}

// TestParseStatusGolden reads Twilio's status callbacks.
func TestParseStatusGolden(t *testing.T) {
	for _, path := range forms(t, "status") {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".form"), func(t *testing.T) {
			r, err := parseStatus(readForm(t, path))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, strings.TrimSuffix(path, ".form")+".json", r)
		})
	}
}

// TestParseInboundRefuses names what makes an incoming-message form
// malformed.
func TestParseInboundRefuses(t *testing.T) {
	good := readForm(t, "testdata/inbound/whatsapp-image.form")
	tests := []struct {
		name, field string
		change      func(url.Values)
	}{
		{"no To", "To", func(f url.Values) { f.Del("To") }},
		{"To not a number", "To", func(f url.Values) { f.Set("To", "whatsapp:acme") }},
		{"another channel", "To", func(f url.Values) { f.Set("To", "messenger:+14155238886") }},
		{"From of another kind", "From", func(f url.Values) { f.Set("From", "+573001234567") }},
		{"short code", "From", func(f url.Values) { f.Set("From", "whatsapp:12345") }},
		{"no sid", "MessageSid", func(f url.Values) { f.Del("MessageSid") }},
		{"bad sid", "MessageSid", func(f url.Values) { f.Set("MessageSid", "SM1'; drop table messages") }},
		{"NumMedia not a number", "NumMedia", func(f url.Values) { f.Set("NumMedia", "one") }},
		{"NumMedia too large", "NumMedia", func(f url.Values) { f.Set("NumMedia", "11") }},
		{"NumMedia without the file", "MediaUrl1", func(f url.Values) { f.Set("NumMedia", "2") }},
		{"media URL not http", "MediaUrl0", func(f url.Values) { f.Set("MediaUrl0", "file:///etc/passwd") }},
		{"latitude out of range", "Latitude", func(f url.Values) { f.Set("Latitude", "91"); f.Set("Longitude", "0") }},
		{"latitude infinite", "Latitude", func(f url.Values) { f.Set("Latitude", "Inf"); f.Set("Longitude", "0") }},
		{"longitude alone", "Latitude", func(f url.Values) { f.Set("Longitude", "0") }},
		{"body not UTF-8", "parts[0].text", func(f url.Values) { f.Set("Body", "caf\xe9") }},
		{"name too long", "from_name", func(f url.Values) { f.Set("ProfileName", strings.Repeat("a", 201)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := url.Values{}
			for k, v := range good {
				f[k] = append([]string(nil), v...)
			}
			tt.change(f)
			_, err := parseInbound(f)
			if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != tt.field {
				t.Fatalf("got %v (field %q), want invalid %s", err, conversation.ErrorField(err), tt.field)
			}
		})
	}
}

// FuzzParseInbound checks that no form panics the parser, and that what it
// accepts the conversation service accepts too.
func FuzzParseInbound(f *testing.F) {
	files, _ := filepath.Glob("testdata/inbound/*.form")
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(bytes.TrimSpace(b)))
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		in, err := parseInbound(form)
		if err != nil {
			if !errors.Is(err, errNoContent) && conversation.ErrorCode(err) != conversation.EINVALID && conversation.ErrorCode(err) != conversation.ETOOLARGE {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again := in
		if err := again.Validate(); err != nil {
			t.Fatalf("accepted a message the service refuses: %v", err)
		}
		for _, p := range in.Parts {
			if p.Media != nil && p.Media.URL == "" {
				t.Fatalf("media part without a URL: %+v", p)
			}
		}
	})
}

// FuzzParseStatus checks that no form panics the status parser, and that
// what it reports the service accepts.
func FuzzParseStatus(f *testing.F) {
	files, _ := filepath.Glob("testdata/status/*.form")
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(bytes.TrimSpace(b)))
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		r, err := parseStatus(form)
		if err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if r.Ignored {
			return
		}
		if !r.Status.Valid() || r.Status == conversation.StatusReceived || r.Status == conversation.StatusQueued {
			t.Fatalf("status %q is no outbound status", r.Status)
		}
		if f := r.Failure; f != nil && (len(f.Message) > conversation.MaxShortField || strings.ContainsRune(f.Message, 0) || !utf8Valid(f.Message)) {
			t.Fatalf("failure %q cannot be stored", f.Message)
		}
	})
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

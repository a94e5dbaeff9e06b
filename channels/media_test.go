package channels_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"conversa/channels"
	"conversa/conversation"
	"conversa/storage/media"
)

func TestMediaPolicyKeep(t *testing.T) {
	store, err := media.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := channels.MediaPolicy{MaxBytes: 1 << 20}
	ctx := t.Context()
	for _, c := range []struct {
		name        string
		contentType string
		size        int64 // declared by the provider
		body        int   // bytes actually sent
		kept        bool
		note        string
	}{
		{"a photo", "image/jpeg", 5000, 5000, true, ""},
		{"a voice note with codec parameters", "audio/ogg; codecs=opus", -1, 20000, true, ""},
		{"exactly the limit", "application/pdf", 0, 1 << 20, true, ""},
		{"declared too large", "video/mp4", 2 << 20, 10, false, "larger than the 1 MB"},
		{"too large though not declared", "video/mp4", 0, 1<<20 + 1, false, "larger than the 1 MB"},
		{"an executable", "application/x-msdownload", 100, 100, false, "type application/x-msdownload are not accepted"},
		{"no type", "", 100, 100, false, "type unknown are not accepted"},
		{"html", "text/html", 100, 100, false, "not accepted"},
		{"a malformed type", "image/jpeg;;=", 100, 100, false, "type image/jpeg;;= are not accepted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := bytes.Repeat([]byte{'x'}, c.body)
			m, err := p.Keep(ctx, store, 1, conversation.Media{ContentType: c.contentType, Size: c.size, URL: "https://provider.example/file", Filename: "f"}, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if m.URL != "" {
				t.Errorf("URL = %q; the provider's URL must not be kept", m.URL)
			}
			if !c.kept {
				if m.Key != "" || !strings.Contains(m.Note, c.note) {
					t.Fatalf("Keep = %+v; want no key and a note with %q", m, c.note)
				}
				if err := conversation.ValidateParts([]conversation.Part{{Type: conversation.PartMedia, Media: &m}}); err != nil {
					t.Fatalf("a part with the note is invalid: %v", err)
				}
				return
			}
			if m.Key == "" || m.Note != "" || m.Size != int64(c.body) {
				t.Fatalf("Keep = %+v; want a key and size %d", m, c.body)
			}
			rc, err := store.Open(ctx, 1, m.Key)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, body) {
				t.Fatalf("stored %d bytes; want %d", len(got), len(body))
			}
		})
	}
}

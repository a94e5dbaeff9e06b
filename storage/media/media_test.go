package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conversa/conversation"
)

func TestPutOpen(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testPutOpen(t, d)
}

// testPutOpen is what every media store must do.
func testPutOpen(t *testing.T, d conversation.MediaStore) {
	ctx := t.Context()
	in := conversation.Media{ContentType: "image/jpeg", Filename: "foto.jpg", URL: "https://api.twilio.com/x"}
	m, err := d.Put(ctx, 7, in, strings.NewReader("jpeg bytes"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Key) != keyLen || m.Size != 10 || m.URL != "" || m.ContentType != "image/jpeg" || m.Filename != "foto.jpg" {
		t.Fatalf("Put = %+v; want a key, size 10, no URL, type and name kept", m)
	}
	rc, err := d.Open(ctx, 7, m.Key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "jpeg bytes" {
		t.Fatalf("Open read %q", b)
	}
	if m2, err := d.Put(ctx, 7, in, strings.NewReader("x")); err != nil || m2.Key == m.Key {
		t.Fatalf("second Put = %+v, %v; want a new key", m2, err)
	}

	// Another tenant, or a key that is not one, is not found.
	for _, c := range []struct {
		tenant int64
		key    string
	}{{8, m.Key}, {7, "../7/" + m.Key}, {7, strings.Repeat("0", keyLen)}, {7, ""}, {0, m.Key}, {7, strings.ToUpper(m.Key)}} {
		if _, err := d.Open(ctx, c.tenant, c.key); conversation.ErrorCode(err) != conversation.ENOTFOUND {
			t.Errorf("Open(%d, %q) = %v; want not found", c.tenant, c.key, err)
		}
	}
}

func TestPutFailureLeavesNothing(t *testing.T) {
	root := t.TempDir()
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(make([]byte, 1000)), errReader{boom})
	if _, err := d.Put(t.Context(), 3, conversation.Media{ContentType: "audio/ogg"}, r); !errors.Is(err, boom) {
		t.Fatalf("Put of a failing reader = %v; want %v", err, boom)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := d.Put(ctx, 3, conversation.Media{ContentType: "audio/ogg"}, strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with an ended context = %v; want context.Canceled", err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "3"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("failed puts left %d files", len(entries))
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

package email

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// TestParseGolden parses every email of testdata/ and compares the result
// with the JSON beside it (go test -run TestParseGolden -update rewrites
// them).
func TestParseGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(Parse(raw), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(f, ".eml") + ".json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
			}
		})
	}
}

// FuzzParse checks that no input makes Parse panic or return what the
// conversation model would refuse.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add([]byte("From: a@b\r\n\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n--x--"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := Parse(raw)
		for name, s := range map[string]string{"text": e.Text, "subject": e.Subject, "from": e.From, "from_name": e.FromName, "message_id": e.MessageID} {
			if !utf8.ValidString(s) {
				t.Fatalf("%s is not UTF-8: %q", name, s)
			}
			if name != "text" && strings.ContainsAny(s, "\r\n\x00") {
				t.Fatalf("%s holds a line break or NUL: %q", name, s)
			}
		}
		if strings.ContainsRune(e.Text, 0) || strings.Contains(e.Text, "\r") {
			t.Fatalf("text holds NUL or CR: %q", e.Text)
		}
		if len(e.Text) > maxTextBytes || len(e.Subject) > maxSubjectBytes || len(e.FromName) > 800 {
			t.Fatalf("unbounded field: text %d, subject %d, name %d bytes", len(e.Text), len(e.Subject), len(e.FromName))
		}
		if e.From != "" && (e.From != strings.ToLower(e.From) || !strings.Contains(e.From, "@")) {
			t.Fatalf("from %q is not a lower-case address", e.From)
		}
		for _, id := range append([]string{e.MessageID, e.InReplyTo}, e.References...) {
			if id != "" && !validID(id) {
				t.Fatalf("invalid message id %q", id)
			}
		}
		if len(e.References) > maxReferences {
			t.Fatalf("%d references", len(e.References))
		}
		if e.Bounce != nil && e.Automated == "" {
			t.Fatalf("a bounce not marked automated")
		}
	})
}

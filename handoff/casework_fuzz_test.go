package handoff_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"conversa/handoff"
)

func TestCleanFilename(t *testing.T) {
	for in, want := range map[string]string{
		"factura.pdf":                     "factura.pdf",
		`C:\Users\ana\recibo 1.jpg`:       "recibo 1.jpg",
		"../../etc/passwd":                "passwd",
		"\"><script>x</script>.png":       "script.png",
		".htaccess":                       "htaccess",
		"a\x00b\nc\u202etxt.exe":          "abctxt.exe",
		"":                                "",
		"/":                               "",
		strings.Repeat("é", 300) + ".pdf": strings.Repeat("é", 196) + ".pdf",
	} {
		if got := handoff.CleanFilename(in); got != want {
			t.Errorf("CleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCleanFilename: whatever a client sends, the name is a short, valid,
// printable base name, and cleaning it again changes nothing.
func FuzzCleanFilename(f *testing.F) {
	for _, s := range []string{"factura.pdf", `..\..\x.png`, "\x00\xff", "a/b/c", ".", "..", " . .x", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := handoff.CleanFilename(in)
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > 200 || strings.ContainsAny(got, "/\\\"'<>") ||
			strings.HasPrefix(got, ".") || strings.ContainsFunc(got, unicode.IsControl) {
			t.Fatalf("CleanFilename(%q) = %q", in, got)
		}
		if again := handoff.CleanFilename(got); again != got {
			t.Fatalf("CleanFilename(%q) = %q, then %q", in, got, again)
		}
	})
}

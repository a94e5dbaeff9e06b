package telegram

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

// seedUpdates adds the golden inputs to a fuzz corpus.
func seedUpdates(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "updates", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no updates in testdata: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"update_id":1,"message":{"message_id":1,"chat":{"id":1},"text":"\u0000"}}`))
	f.Add([]byte(`{"update_id":1,"callback_query":{"id":"x","from":{"id":1},"data":""}}`))
}

// FuzzParseUpdate feeds the webhook's parser anything: it must not panic,
// and what it accepts, the core must accept too.
func FuzzParseUpdate(f *testing.F) {
	seedUpdates(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := parseUpdate(data)
		if err != nil {
			if !isParse(err) {
				t.Fatalf("a parse failure that is not a parseError: %v", err)
			}
			return
		}
		if u.ID <= 0 {
			t.Fatalf("accepted update id %d", u.ID)
		}
		if (u.Inbound == nil) == (u.Ignored == "") {
			t.Fatalf("an update must be either a message or ignored: %+v", u)
		}
		if u.Inbound != nil {
			checkValid(t, u)
		}
	})
}

// FuzzParseUpdates feeds the getUpdates answer parser anything.
func FuzzParseUpdates(f *testing.F) {
	f.Add([]byte(`{"ok":true,"result":[{"update_id":5,"message":{}},{"nope":1},{"update_id":6}]}`))
	f.Add([]byte(`{"ok":false,"error_code":409,"description":"Conflict: terminated by other getUpdates request"}`))
	f.Add([]byte(`<html>502</html>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		us, err := parseUpdates(200, data)
		if err != nil {
			return
		}
		for _, u := range us {
			if u.id <= 0 || len(u.data) == 0 {
				t.Fatalf("accepted %+v", u)
			}
		}
	})
}

// unescape undoes escapeMarkdownV2.
func unescape(s string) string {
	var b strings.Builder
	esc := false
	for _, r := range s {
		if r == '\\' && !esc {
			esc = true
			continue
		}
		esc = false
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzMarkdownV2 checks that escaped text reads back as written, that every
// reserved character outside entities is escaped, and that the converter
// never panics.
func FuzzMarkdownV2(f *testing.F) {
	for _, s := range []string{"Total: $1.500 (IVA incl.) - pague *hoy*", "snake_case_name", "`code` and \\", "*", "_a_ *b* `c`", "a*b*c", "2*3 = 6!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		esc := escapeMarkdownV2(s)
		if got := unescape(esc); got != s {
			t.Fatalf("escape(%q) = %q reads back as %q", s, esc, got)
		}
		out := markdownV2(s)
		if !utf8.ValidString(out) {
			t.Fatalf("markdownV2(%q) = %q is not UTF-8", s, out)
		}
		// Outside code entities, a reserved character is either escaped or
		// a marker; markers come in pairs.
		markers := map[rune]int{}
		inCode, escaped := false, false
		for _, r := range out {
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == '`':
				inCode = !inCode
			case inCode:
			case r == '*' || r == '_':
				markers[r]++
			case r < utf8.RuneSelf && strings.ContainsRune(markdownSpecial, r):
				t.Fatalf("markdownV2(%q) = %q leaves %q unescaped", s, out, r)
			}
		}
		if inCode || markers['*']%2 != 0 || markers['_']%2 != 0 {
			t.Fatalf("markdownV2(%q) = %q has unpaired markers", s, out)
		}
	})
}

// FuzzSplitText checks that long texts are cut into pieces Telegram takes,
// losing nothing but the spaces at the cuts.
func FuzzSplitText(f *testing.F) {
	f.Add(strings.Repeat("hola mundo ", 50), 64)
	f.Add(strings.Repeat("👋", 40), 7)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if !utf8.ValidString(s) || max < 2 || max > 5000 {
			return
		}
		pieces := splitText(s, max)
		for _, p := range pieces {
			if n := len(utf16.Encode([]rune(p))); n > max || p == "" {
				t.Fatalf("piece %q has %d units (max %d)", p, n, max)
			}
		}
		squash := func(s string) string { return strings.Join(strings.Fields(s), "") }
		if got, want := squash(strings.Join(pieces, "")), squash(s); got != want {
			t.Fatalf("split %q lost text: %q", s, pieces)
		}
	})
}

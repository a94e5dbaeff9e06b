package handoff_test

import (
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

func TestPasswords(t *testing.T) {
	h, err := handoff.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") || strings.Contains(h, "correct") {
		t.Fatalf("hash %q is not in PHC form", h)
	}
	h2, err := handoff.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tt := range []struct {
		hash, pw string
		want     bool
	}{
		{h, "correct horse battery", true},
		{h2, "correct horse battery", true},
		{h, "correct horse batterz", false},
		{h, "", false},
		{"", "", false},
		{"", "correct horse battery", false},
		{strings.Replace(h, "argon2id", "argon2i", 1), "correct horse battery", false},
		{strings.Replace(h, "m=65536", "m=99999999", 1), "correct horse battery", false}, // refused, not computed
		{strings.Replace(h, "t=3", "t=0", 1), "correct horse battery", false},
		{h[:len(h)-4], "correct horse battery", false},
		{h + "$", "correct horse battery", false},
	} {
		if got := handoff.CheckPassword(tt.hash, tt.pw); got != tt.want {
			t.Errorf("CheckPassword(%q, %q) = %v, want %v", tt.hash, tt.pw, got, tt.want)
		}
	}
	for _, pw := range []string{"", "short", "123456789", "          ", strings.Repeat("x", handoff.MaxPasswordLength+1), "abcdefghi\xff"} {
		if _, err := handoff.HashPassword(pw); conversation.ErrorCode(err) != conversation.EINVALID {
			t.Errorf("HashPassword(%q) = %v, want invalid", pw, err)
		}
	}
	if _, err := handoff.HashPassword("ñandú ñandú"); err != nil { // 11 characters, 15 bytes
		t.Errorf("HashPassword of a non-ASCII password: %v", err)
	}
}

// FuzzCheckPassword feeds CheckPassword stored hashes it did not make: it
// never panics, and only the hash of the password matches.
func FuzzCheckPassword(f *testing.F) {
	h, err := handoff.HashPassword("correct horse battery")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(h, "correct horse battery")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "x")
	f.Add("$argon2id$v=19$m=,t=,p=$$", "")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		if handoff.CheckPassword(hash, pw) && hash == h && pw != "correct horse battery" {
			t.Fatalf("%q matched the hash of another password", pw)
		}
	})
}

func TestNewSession(t *testing.T) {
	at := time.Date(2026, 3, 9, 15, 0, 0, 999, time.FixedZone("COT", -5*3600))
	tok, s, err := handoff.NewSession(3, 7, at, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tok2, s2, err := handoff.NewSession(3, 7, at, 8*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if tok == tok2 || s.CSRF == s2.CSRF || s.CSRF == tok || len(tok) != 43 {
		t.Fatalf("tokens %q %q, csrf %q %q", tok, tok2, s.CSRF, s2.CSRF)
	}
	if s.TokenHash != handoff.HashToken(tok) || len(s.TokenHash) != 64 || s.TenantID != 3 || s.AgentID != 7 {
		t.Fatalf("session %+v", s)
	}
	if s.CreatedAt.Location() != time.UTC || !s.ExpiresAt.Equal(at.Add(8*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("times %v %v", s.CreatedAt, s.ExpiresAt)
	}
}

func TestNoteValidate(t *testing.T) {
	ok := handoff.Note{ConversationID: 1, AgentID: 2, Body: "  hola  "}
	if err := ok.Validate(); err != nil || ok.Body != "hola" {
		t.Fatalf("Validate = %v, %q", err, ok.Body)
	}
	for name, n := range map[string]handoff.Note{
		"empty":           {ConversationID: 1, AgentID: 2, Body: " \n "},
		"too long":        {ConversationID: 1, AgentID: 2, Body: strings.Repeat("a", handoff.MaxNoteBody+1)},
		"bad utf-8":       {ConversationID: 1, AgentID: 2, Body: "a\xffb"},
		"no conversation": {AgentID: 2, Body: "x"},
		"no author":       {ConversationID: 1, Body: "x"},
	} {
		if err := n.Validate(); conversation.ErrorCode(err) != conversation.EINVALID {
			t.Errorf("%s: Validate = %v, want invalid", name, err)
		}
	}
}

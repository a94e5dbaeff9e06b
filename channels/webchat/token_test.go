package webchat

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestToken(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_780_000_000, 0)
	claims := visitorToken{Account: 7, Visitor: newVisitorID(), Expires: now.Add(time.Hour).Unix()}
	good := signToken(testSecret, claims)
	payload, sig, _ := strings.Cut(good, ".")

	// flip changes one character of s at i to another base64url character.
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	// forge signs a payload that is not a token's with the right secret.
	forge := func(raw string) string {
		p := base64.RawURLEncoding.EncodeToString([]byte(raw))
		return p + "." + base64.RawURLEncoding.EncodeToString(tokenMAC(testSecret, p))
	}

	tests := []struct {
		name  string
		token string
		at    time.Time
		want  error
	}{
		{name: "round trip", token: good, at: now},
		{name: "last second", token: good, at: now.Add(time.Hour - time.Second)},
		{name: "expired", token: good, at: now.Add(time.Hour), want: errExpiredToken},
		{name: "long expired", token: good, at: now.Add(400 * 24 * time.Hour), want: errExpiredToken},
		{name: "tampered payload", token: flip(payload, 5) + "." + sig, at: now, want: errBadToken},
		{name: "other claims, old signature", token: base64.RawURLEncoding.EncodeToString([]byte(`{"a":8,"v":"`+claims.Visitor+`","e":1780003600}`)) + "." + sig, at: now, want: errBadToken},
		{name: "tampered signature", token: payload + "." + flip(sig, 3), at: now, want: errBadToken},
		// The last character of a 32-byte MAC in unpadded base64 carries
		// two unused bits: a lenient decoder would accept other spellings.
		{name: "respelled signature", token: payload + "." + sig[:len(sig)-1] + respell(sig[len(sig)-1]), at: now, want: errBadToken},
		{name: "truncated signature", token: payload + "." + sig[:len(sig)-2], at: now, want: errBadToken},
		{name: "another secret", token: signToken([]byte("another secret of at least 32 bytes!"), claims), at: now, want: errBadToken},
		{name: "no signature", token: payload, at: now, want: errBadToken},
		{name: "empty", token: "", at: now, want: errBadToken},
		{name: "too long", token: good + strings.Repeat("A", 512), at: now, want: errBadToken},
		{name: "signed junk", token: forge(`not json`), at: now, want: errBadToken},
		{name: "signed token without account", token: forge(`{"v":"` + claims.Visitor + `","e":1780003600}`), at: now, want: errBadToken},
		{name: "signed token with a bad visitor", token: forge(`{"a":7,"v":"v_nothex","e":1780003600}`), at: now, want: errBadToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := verifyToken(testSecret, tt.token, tt.at)
			if !errors.Is(err, tt.want) {
				t.Fatalf("verify: %v, want %v", err, tt.want)
			}
			if tt.want == nil && got != claims {
				t.Fatalf("claims %+v, want %+v", got, claims)
			}
		})
	}
}

// respell returns another base64url character with the same upper four
// bits as c: the same last byte to a lenient decoder.
func respell(c byte) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, c)
	return string(alphabet[i^1])
}

func TestNewVisitorID(t *testing.T) {
	t.Parallel()
	a, b := newVisitorID(), newVisitorID()
	if !visitorIDOK(a) || !visitorIDOK(b) || a == b {
		t.Fatalf("visitor ids %q and %q: want two distinct valid ids", a, b)
	}
}

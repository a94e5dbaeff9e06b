package webchat

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// A visitor token names one visitor of one web-chat account. The widget
// keeps it in the browser's localStorage; it is the visitor's only
// credential, so a visitor reads only their own conversation. It is an
// HMAC-SHA256-signed claim set, verifiable on any node that shares the
// secret.
type visitorToken struct {
	Account int64  `json:"a"`
	Visitor string `json:"v"`
	Expires int64  `json:"e"` // Unix seconds
}

var (
	errBadToken     = errors.New("invalid visitor token")
	errExpiredToken = errors.New("expired visitor token")
)

const tokenContext = "conversa.webchat.visitor.v1."

func signToken(secret []byte, t visitorToken) string {
	payload, _ := json.Marshal(t) // three plain fields always encode
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(tokenMAC(secret, p))
}

func tokenMAC(secret []byte, payload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(tokenContext + payload))
	return m.Sum(nil)
}

// verifyToken checks the signature and expiry of raw.
func verifyToken(secret []byte, raw string, now time.Time) (visitorToken, error) {
	if len(raw) > 512 {
		return visitorToken{}, errBadToken
	}
	p, sig, ok := strings.Cut(raw, ".")
	if !ok {
		return visitorToken{}, errBadToken
	}
	// Strict: a token has one spelling, so a signature's unused bits cannot
	// be flipped to make another valid token.
	mac, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || !hmac.Equal(mac, tokenMAC(secret, p)) {
		return visitorToken{}, errBadToken
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(p)
	if err != nil {
		return visitorToken{}, errBadToken
	}
	var t visitorToken
	if err := json.Unmarshal(payload, &t); err != nil || t.Account <= 0 || !visitorIDOK(t.Visitor) {
		return visitorToken{}, errBadToken
	}
	if now.Unix() >= t.Expires {
		return visitorToken{}, errExpiredToken
	}
	return t, nil
}

// newVisitorID returns a random visitor id: the address of the visitor's
// web-chat identity.
func newVisitorID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "v_" + hex.EncodeToString(b)
}

func visitorIDOK(v string) bool {
	if len(v) != 34 || !strings.HasPrefix(v, "v_") {
		return false
	}
	_, err := hex.DecodeString(v[2:])
	return err == nil
}

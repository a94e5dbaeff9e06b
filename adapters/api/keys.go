package api

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"conversa/conversation"
)

// An API key reads "cnv_<id>_<secret>": the id is public and names the
// stored key; the secret is 32 random bytes of which only a SHA-256 hash is
// stored. A slow password hash is not needed: the secret is random, not
// chosen by a person.
const keyPrefix = "cnv_"

// NewKey makes a key for tenantID. It returns the key to show once to the
// user and the record to store.
func NewKey(tenantID int64, name string) (string, conversation.APIKey) {
	id := make([]byte, 8)
	secret := make([]byte, 32)
	rand.Read(id)
	rand.Read(secret)
	k := conversation.APIKey{
		ID:       hex.EncodeToString(id),
		TenantID: tenantID,
		Name:     name,
	}
	s := base64.RawURLEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(s))
	k.Hash = sum[:]
	return keyPrefix + k.ID + "_" + s, k
}

// parseKey splits a presented key into its id and secret.
func parseKey(raw string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(raw, keyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 43 {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// keyMatches reports, in constant time, whether secret hashes to k.Hash.
func keyMatches(k conversation.APIKey, secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], k.Hash) == 1
}

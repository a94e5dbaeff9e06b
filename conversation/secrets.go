package conversation

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"strings"
)

// IsSecretSetting reports whether a channel account setting holds a
// credential: its name contains "token", "secret" or "password", or ends
// in "_key". Secret settings are encrypted at rest and never shown.
func IsSecretSetting(name string) bool {
	return strings.Contains(name, "token") || strings.Contains(name, "secret") ||
		strings.Contains(name, "password") || strings.HasSuffix(name, "_key")
}

// sealedPrefix marks an encrypted setting value: "enc:v1:" and the base64
// of nonce and ciphertext.
const sealedPrefix = "enc:v1:"

// Sealer encrypts the secret settings of channel accounts with AES-256-GCM,
// each value bound to its account and setting name, so that a value copied
// to another account or setting does not open. Stores hold one and seal on
// write, open on read; callers see plain settings.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a sealer with a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("encryption key: %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

func settingAAD(kind ChannelKind, key, name string) []byte {
	return []byte("conversa channel setting\x00" + string(kind) + "\x00" + key + "\x00" + name)
}

// Seal returns a copy of the settings of the account (kind, key) with the
// secret values encrypted. A nil Sealer returns them as they are.
func (s *Sealer) Seal(kind ChannelKind, key string, settings map[string]string) map[string]string {
	if s == nil || settings == nil {
		return settings
	}
	out := maps.Clone(settings)
	for name, v := range settings {
		if !IsSecretSetting(name) || v == "" || strings.HasPrefix(v, sealedPrefix) {
			continue
		}
		nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(v)+s.aead.Overhead())
		rand.Read(nonce)
		out[name] = sealedPrefix + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(v), settingAAD(kind, key, name)))
	}
	return out
}

// ErrSealed is returned for a setting that cannot be decrypted: it was
// encrypted with another key, or the store has no key.
var ErrSealed = errors.New("an encrypted setting cannot be decrypted with the configured encryption key")

// Open returns settings with the sealed values decrypted in place. Values
// stored before encryption was configured are returned as they are. A nil
// Sealer cannot open a sealed value.
func (s *Sealer) Open(kind ChannelKind, key string, settings map[string]string) error {
	for name, v := range settings {
		if !strings.HasPrefix(v, sealedPrefix) {
			continue
		}
		if s == nil {
			return fmt.Errorf("settings.%s of %s account %s: %w", name, kind, key, ErrSealed)
		}
		b, err := base64.RawStdEncoding.DecodeString(v[len(sealedPrefix):])
		if err != nil || len(b) < s.aead.NonceSize() {
			return fmt.Errorf("settings.%s of %s account %s: %w", name, kind, key, ErrSealed)
		}
		plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], settingAAD(kind, key, name))
		if err != nil {
			return fmt.Errorf("settings.%s of %s account %s: %w", name, kind, key, ErrSealed)
		}
		settings[name] = string(plain)
	}
	return nil
}

package conversation

import (
	"bytes"
	"context"
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
		out[name] = s.seal(settingAAD(kind, key, name), v)
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
		plain, ok := s.open(settingAAD(kind, key, name), v)
		if !ok {
			return fmt.Errorf("settings.%s of %s account %s: %w", name, kind, key, ErrSealed)
		}
		settings[name] = plain
	}
	return nil
}

// seal encrypts v bound to aad.
func (s *Sealer) seal(aad []byte, v string) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(v)+s.aead.Overhead())
	rand.Read(nonce)
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(v), aad))
}

// open decrypts a sealed value bound to aad; false when it does not open.
func (s *Sealer) open(aad []byte, v string) (string, bool) {
	b, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(v, sealedPrefix))
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", false
	}
	plain, err := s.aead.Open(nil, b[:s.aead.NonceSize()], b[s.aead.NonceSize():], aad)
	if err != nil {
		return "", false
	}
	return string(plain), true
}

// IsSealed reports whether v is a value a Sealer encrypted.
func IsSealed(v string) bool { return strings.HasPrefix(v, sealedPrefix) }

// SealValue encrypts one secret bound to purpose (such as "webhook secret"
// and its tenant's id), so that it opens only with the same purpose. An
// empty or already sealed value, or a nil Sealer, returns v as it is.
func (s *Sealer) SealValue(purpose, v string) string {
	if s == nil || v == "" || IsSealed(v) {
		return v
	}
	return s.seal(valueAAD(purpose), v)
}

// OpenValue decrypts a value SealValue sealed with the same purpose. A
// value stored in the clear (before encryption was configured) is returned
// as it is. Returns ErrSealed when it does not open: another key or
// purpose, or a nil Sealer.
func (s *Sealer) OpenValue(purpose, v string) (string, error) {
	if !IsSealed(v) {
		return v, nil
	}
	if s == nil {
		return "", fmt.Errorf("%s: %w", purpose, ErrSealed)
	}
	plain, ok := s.open(valueAAD(purpose), v)
	if !ok {
		return "", fmt.Errorf("%s: %w", purpose, ErrSealed)
	}
	return plain, nil
}

// SealBytes encrypts b bound to purpose, as SealValue a string, for binary
// columns: the prefix of sealed values, then the nonce and the ciphertext,
// unencoded. Empty or already sealed input, or a nil Sealer, returns b as
// it is.
func (s *Sealer) SealBytes(purpose string, b []byte) []byte {
	if s == nil || len(b) == 0 || IsSealedBytes(b) {
		return b
	}
	ns := s.aead.NonceSize()
	out := make([]byte, len(sealedPrefix)+ns, len(sealedPrefix)+ns+len(b)+s.aead.Overhead())
	copy(out, sealedPrefix)
	nonce := out[len(sealedPrefix):]
	rand.Read(nonce)
	return s.aead.Seal(out, nonce, b, valueAAD(purpose))
}

// OpenBytes decrypts what SealBytes sealed with the same purpose. Bytes
// stored in the clear (before encryption was configured) are returned as
// they are. Returns ErrSealed when they do not open: another key or
// purpose, or a nil Sealer.
func (s *Sealer) OpenBytes(purpose string, b []byte) ([]byte, error) {
	if !IsSealedBytes(b) {
		return b, nil
	}
	if s == nil {
		return nil, fmt.Errorf("%s: %w", purpose, ErrSealed)
	}
	b = b[len(sealedPrefix):]
	ns := s.aead.NonceSize()
	if len(b) < ns {
		return nil, fmt.Errorf("%s: %w", purpose, ErrSealed)
	}
	plain, err := s.aead.Open(nil, b[:ns], b[ns:], valueAAD(purpose))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", purpose, ErrSealed)
	}
	return plain, nil
}

// IsSealedBytes reports whether b is what SealBytes returns for non-empty
// input.
func IsSealedBytes(b []byte) bool { return bytes.HasPrefix(b, []byte(sealedPrefix)) }

func valueAAD(purpose string) []byte {
	return []byte("conversa sealed value\x00" + purpose)
}

// KeySettings keeps the key check. conversation.Store implements it.
type KeySettings interface {
	InitSetting(ctx context.Context, name, value string) (string, error)
}

// keyCheckSetting names the setting that holds a value sealed with the
// database's key.
const keyCheckSetting = "encryption_key_check"

// CheckKey proves that the Sealer has the key the store's secrets were
// sealed with: the first check stores a sealed value, every later one
// opens it. Returns ErrSealed, wrapped in a message that says what to do,
// when the key is another: a server must refuse to start rather than fail
// on each secret later. A nil Sealer has nothing to check.
func (s *Sealer) CheckKey(ctx context.Context, settings KeySettings) error {
	if s == nil {
		return nil
	}
	stored, err := settings.InitSetting(ctx, keyCheckSetting, s.SealValue(keyCheckSetting, keyCheckSetting))
	if err != nil {
		return fmt.Errorf("check the encryption key: %w", err)
	}
	if v, err := s.OpenValue(keyCheckSetting, stored); err != nil || v != keyCheckSetting {
		return fmt.Errorf("encryption_key is not the key this database's secrets were encrypted with: %w", ErrSealed)
	}
	return nil
}

package conversation_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"conversa/conversation"
)

func TestIsSecretSetting(t *testing.T) {
	for name, want := range map[string]bool{
		"auth_token": true, "bot_token": true, "webhook_secret": true, "api_key_secret": true, "password": true,
		"smtp_password": true, "signing_key": true,
		"account_sid": false, "api_key_sid": false, "webhook_url": false, "help_text": false, "mode": false, "key": false,
	} {
		if got := conversation.IsSecretSetting(name); got != want {
			t.Errorf("IsSecretSetting(%q) = %v; want %v", name, got, want)
		}
	}
}

func TestSealer(t *testing.T) {
	s, err := conversation.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]string{"account_sid": "AC0123", "auth_token": "s3cr3t", "webhook_secret": "", "help_text": "Ayuda"}
	sealed := s.Seal(conversation.ChannelSMS, "+15005550006", in)
	if in["auth_token"] != "s3cr3t" {
		t.Fatal("Seal changed its argument")
	}
	if !strings.HasPrefix(sealed["auth_token"], "enc:v1:") || strings.Contains(sealed["auth_token"], "s3cr3t") {
		t.Fatalf("auth_token sealed as %q", sealed["auth_token"])
	}
	if sealed["account_sid"] != "AC0123" || sealed["help_text"] != "Ayuda" || sealed["webhook_secret"] != "" {
		t.Fatalf("plain settings changed: %v", sealed)
	}
	if again := s.Seal(conversation.ChannelSMS, "+15005550006", sealed); again["auth_token"] != sealed["auth_token"] {
		t.Fatal("Seal sealed a sealed value twice")
	}
	if s2 := s.Seal(conversation.ChannelSMS, "+15005550006", in); s2["auth_token"] == sealed["auth_token"] {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}

	opened := map[string]string{}
	for k, v := range sealed {
		opened[k] = v
	}
	if err := s.Open(conversation.ChannelSMS, "+15005550006", opened); err != nil {
		t.Fatal(err)
	}
	if opened["auth_token"] != "s3cr3t" || opened["account_sid"] != "AC0123" {
		t.Fatalf("Open = %v", opened)
	}

	// Bound to its account and setting, and to the key.
	other, _ := conversation.NewSealer(bytes.Repeat([]byte{8}, 32))
	for name, open := range map[string]func(map[string]string) error{
		"another account": func(m map[string]string) error { return s.Open(conversation.ChannelSMS, "+15005550007", m) },
		"another kind":    func(m map[string]string) error { return s.Open(conversation.ChannelWhatsApp, "+15005550006", m) },
		"another key":     func(m map[string]string) error { return other.Open(conversation.ChannelSMS, "+15005550006", m) },
		"no key": func(m map[string]string) error {
			return (*conversation.Sealer)(nil).Open(conversation.ChannelSMS, "+15005550006", m)
		},
		"moved setting": func(m map[string]string) error {
			m["webhook_secret"] = m["auth_token"]
			delete(m, "auth_token")
			return s.Open(conversation.ChannelSMS, "+15005550006", m)
		},
	} {
		m := map[string]string{"auth_token": sealed["auth_token"]}
		if err := open(m); !errors.Is(err, conversation.ErrSealed) {
			t.Errorf("%s: Open = %v; want ErrSealed", name, err)
		}
	}
	// Values stored before encryption was configured still read.
	legacy := map[string]string{"auth_token": "plain"}
	if err := s.Open(conversation.ChannelSMS, "x", legacy); err != nil || legacy["auth_token"] != "plain" {
		t.Fatalf("legacy value: %v, %v", legacy, err)
	}
	if _, err := conversation.NewSealer([]byte("short")); err == nil {
		t.Fatal("NewSealer accepted a 5-byte key")
	}
}

func TestSealValue(t *testing.T) {
	s, _ := conversation.NewSealer(bytes.Repeat([]byte{7}, 32))
	other, _ := conversation.NewSealer(bytes.Repeat([]byte{8}, 32))
	sealed := s.SealValue("webhook secret 1", "whsec_0123456789")
	if !conversation.IsSealed(sealed) || strings.Contains(sealed, "whsec_0123456789") {
		t.Fatalf("sealed as %q", sealed)
	}
	if again := s.SealValue("webhook secret 1", sealed); again != sealed {
		t.Error("a sealed value was sealed again")
	}
	if v, err := s.OpenValue("webhook secret 1", sealed); err != nil || v != "whsec_0123456789" {
		t.Fatalf("OpenValue = %q, %v", v, err)
	}
	if v, err := s.OpenValue("webhook secret 1", "clear-from-before"); err != nil || v != "clear-from-before" {
		t.Errorf("a clear value opens as %q, %v; want it as it is", v, err)
	}
	for name, open := range map[string]func() (string, error){
		"another purpose": func() (string, error) { return s.OpenValue("webhook secret 2", sealed) },
		"another key":     func() (string, error) { return other.OpenValue("webhook secret 1", sealed) },
		"no key":          func() (string, error) { return (*conversation.Sealer)(nil).OpenValue("webhook secret 1", sealed) },
		"garbage":         func() (string, error) { return s.OpenValue("webhook secret 1", "enc:v1:!!") },
	} {
		if v, err := open(); !errors.Is(err, conversation.ErrSealed) || v != "" {
			t.Errorf("%s: OpenValue = %q, %v; want ErrSealed", name, v, err)
		}
	}
}

func TestSealBytes(t *testing.T) {
	s, _ := conversation.NewSealer(bytes.Repeat([]byte{7}, 32))
	other, _ := conversation.NewSealer(bytes.Repeat([]byte{8}, 32))
	plain := []byte(`{"bot.yaml":"secret: hmac-key-0123"}`)
	sealed := s.SealBytes("bot source 1", plain)
	if !conversation.IsSealedBytes(sealed) || bytes.Contains(sealed, []byte("hmac-key-0123")) {
		t.Fatalf("sealed as %q", sealed)
	}
	if !bytes.Equal(plain, []byte(`{"bot.yaml":"secret: hmac-key-0123"}`)) {
		t.Fatal("SealBytes changed its input")
	}
	if again := s.SealBytes("bot source 1", sealed); !bytes.Equal(again, sealed) {
		t.Error("sealed bytes were sealed again")
	}
	if twice := s.SealBytes("bot source 1", plain); bytes.Equal(twice, sealed) {
		t.Error("two seals of the same bytes are equal: the nonce is not random")
	}
	if b, err := s.OpenBytes("bot source 1", sealed); err != nil || !bytes.Equal(b, plain) {
		t.Fatalf("OpenBytes = %q, %v", b, err)
	}
	if b, err := s.OpenBytes("bot source 1", []byte(`{"clear":"from before"}`)); err != nil || string(b) != `{"clear":"from before"}` {
		t.Errorf("clear bytes open as %q, %v; want them as they are", b, err)
	}
	if b := s.SealBytes("bot source 1", nil); b != nil {
		t.Errorf("nil sealed as %q", b)
	}
	if b := (*conversation.Sealer)(nil).SealBytes("bot source 1", plain); !bytes.Equal(b, plain) {
		t.Errorf("no key sealed as %q; want the bytes as they are", b)
	}
	for name, open := range map[string]func() ([]byte, error){
		"another purpose": func() ([]byte, error) { return s.OpenBytes("bot source 2", sealed) },
		"another key":     func() ([]byte, error) { return other.OpenBytes("bot source 1", sealed) },
		"no key":          func() ([]byte, error) { return (*conversation.Sealer)(nil).OpenBytes("bot source 1", sealed) },
		"short":           func() ([]byte, error) { return s.OpenBytes("bot source 1", []byte("enc:v1:abc")) },
		"tampered": func() ([]byte, error) {
			bad := bytes.Clone(sealed)
			bad[len(bad)-1] ^= 1
			return s.OpenBytes("bot source 1", bad)
		},
	} {
		if b, err := open(); !errors.Is(err, conversation.ErrSealed) || b != nil {
			t.Errorf("%s: OpenBytes = %q, %v; want ErrSealed", name, b, err)
		}
	}
}

package conversationtest

import (
	"bytes"
	"errors"
	"testing"

	"conversa/conversation"
)

// TestSealedSettings checks that a store encrypts the secret settings of
// channel accounts at rest. open returns a store on one database, the same
// for every call within the test, with the given sealer.
func TestSealedSettings(t *testing.T, open func(t *testing.T, sealer *conversation.Sealer) conversation.Store) {
	ctx := t.Context()
	keyA, _ := conversation.NewSealer(bytes.Repeat([]byte{1}, 32))
	keyB, _ := conversation.NewSealer(bytes.Repeat([]byte{2}, 32))
	s := open(t, keyA)
	f := newFixture(t, s, "sealed")
	settings := map[string]string{"account_sid": "AC" + "0123456789abcdef0123456789abcdef", "auth_token": "tok-123", "help_text": "Ayuda"}
	a, err := s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: f.tenant.ID, Kind: conversation.ChannelWhatsApp, Key: "+15005550006", Settings: settings})
	must(t, err)
	if a.Settings["auth_token"] != "tok-123" || a.Settings["account_sid"] != settings["account_sid"] {
		t.Fatalf("created account settings = %v; want them as given", a.Settings)
	}
	for name, read := range map[string]func() (conversation.ChannelAccount, error){
		"ChannelAccount":      func() (conversation.ChannelAccount, error) { return s.ChannelAccount(ctx, f.tenant.ID, a.ID) },
		"ChannelAccountByKey": func() (conversation.ChannelAccount, error) { return s.ChannelAccountByKey(ctx, a.Kind, a.Key) },
		"ListChannelAccounts": func() (conversation.ChannelAccount, error) {
			as, err := s.ListChannelAccounts(ctx, f.tenant.ID)
			if err != nil || len(as) == 0 {
				return conversation.ChannelAccount{}, err
			}
			return as[len(as)-1], nil
		},
	} {
		got, err := read()
		if err != nil || got.Settings["auth_token"] != "tok-123" || got.Settings["help_text"] != "Ayuda" {
			t.Errorf("%s = %v, %v; want the token decrypted", name, got.Settings, err)
		}
	}

	// An update that names the account by id only keeps it readable.
	upd, err := s.UpdateChannelAccount(ctx, conversation.ChannelAccount{ID: a.ID, TenantID: f.tenant.ID, Name: "WA",
		Settings: map[string]string{"account_sid": settings["account_sid"], "auth_token": "tok-456"}})
	must(t, err)
	if upd.Settings["auth_token"] != "tok-456" {
		t.Fatalf("updated settings = %v", upd.Settings)
	}

	// Without the key, or with another, the token does not open: it is not
	// stored in the clear.
	for name, sealer := range map[string]*conversation.Sealer{"no key": nil, "another key": keyB} {
		other := open(t, sealer)
		if _, err := other.ChannelAccount(ctx, f.tenant.ID, a.ID); !errors.Is(err, conversation.ErrSealed) {
			t.Errorf("%s: ChannelAccount = %v; want ErrSealed", name, err)
		}
		// Accounts without secrets still read.
		if got, err := other.ChannelAccount(ctx, f.tenant.ID, f.sms.ID); err != nil || got.Key != f.sms.Key {
			t.Errorf("%s: an account without secrets = %+v, %v", name, got, err)
		}
	}
}

package main

import (
	"path/filepath"
	"testing"

	"conversa/bot"
	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/prefs"
	"conversa/storage/sqlite"
)

// TestPreferenceAction: set_preference changes the contact's preferences
// from the slots a flow collected and fills the answer; bad slots and a
// missing service fail, so the flow takes its on_error.
func TestPreferenceAction(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tn, err := store.CreateTenant(ctx, conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWhatsApp, Key: "+15550001111"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.Ingest(ctx, []conversation.IngestRequest{{TenantID: tn.ID, AccountID: acct.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelWhatsApp, Account: acct.Key, From: "+573001112233", ProviderID: "m1",
		Parts: []conversation.Part{conversation.TextPart("quiero cambiar mis preferencias")}}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	contact, err := store.Contact(ctx, tn.ID, res[0].Message.ContactID)
	if err != nil {
		t.Fatal(err)
	}
	run := func(a bot.Action, slots map[string]string) (bot.ActionResult, error) {
		return a.Run(ctx, bot.ActionContext{Action: "set_preference", Tenant: tn, Contact: contact, Message: res[0].Message,
			Channel: conversation.ChannelWhatsApp, Language: "es", Slots: slots})
	}
	action := preferenceAction(prefs.New(store, prefs.Config{}))

	got, err := run(action, map[string]string{"preference": "prefer", "preference_channel": "WhatsApp"})
	if err != nil || got.Slots["preference_reply"] != "Listo: te enviaremos las notificaciones por WhatsApp." {
		t.Fatalf("prefer: %+v, %v", got, err)
	}
	if c, _ := store.Contact(ctx, tn.ID, contact.ID); c.Attributes[notify.AttrPreferredChannel] != "whatsapp" {
		t.Fatalf("the preferred channel is %q", c.Attributes[notify.AttrPreferredChannel])
	}
	got, err = run(action, map[string]string{"preference": "opt_out", "preference_topic": "promociones"})
	if err != nil || got.Slots["preference_reply"] != "Listo: no te enviaremos más promociones. Puedes cambiarlo cuando quieras." {
		t.Fatalf("opt out: %+v, %v", got, err)
	}
	if out, err := store.OptedOutOf(ctx, tn.ID, acct.ID, "+573001112233", "marketing"); err != nil || !out {
		t.Fatalf("opted out of marketing: %v, %v", out, err)
	}
	for _, slots := range []map[string]string{
		{"preference": "borrar"},
		{"preference": "prefer"},
		{"preference": "prefer", "preference_channel": "paloma"},
		{"preference": "opt_out", "preference_topic": "chismes"},
	} {
		if got, err := run(action, slots); err == nil {
			t.Errorf("slots %v: %+v, want an error", slots, got)
		}
	}
	if _, err := run(preferenceAction(nil), map[string]string{"preference": "show"}); err == nil {
		t.Error("the action without a service did not fail")
	}
}

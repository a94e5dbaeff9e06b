package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"conversa/channels/email"
	"conversa/conversation"
	"conversa/internal/testenv"
	"conversa/notify"
	"conversa/notify/campaign"
	"conversa/notify/prefs"
)

// TestPreferencesEndToEnd follows a web-chat customer of the demo tenant,
// who also has an email address, as they change their preferences by
// writing: "quiero recibir notificaciones por correo" makes email their
// preferred channel, and a notification without channels then reaches
// their mailbox; "no quiero recibir encuestas" opts them out of surveys,
// and a CSAT survey is then undeliverable as opted out on every channel.
// The consent ledger and the preferences of the API show both changes.
func TestPreferencesEndToEnd(t *testing.T) {
	mail := testenv.Mail(t)
	dir := t.TempDir()
	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}, "--demo")
	w := openWidget(t, s.url, "demo-web", "")
	say := func(text string) string {
		t.Helper()
		w.send(map[string]any{"type": "message", "id": fmt.Sprint(time.Now().UnixNano()), "text": text})
		w.next("ack")
		return textOf(w.reply())
	}
	say("hola")

	key := s.demoKey(t)
	ctx := t.Context()
	st := storeAt(t, dir)
	const tenantID = 1
	// Notifications go out at once, whatever the hour of the test.
	if err := st.PutPolicy(ctx, tenantID, notify.Policy{QuietHours: &notify.QuietHours{Start: "00:00", End: "00:00"}}); err != nil {
		t.Fatal(err)
	}
	support, pw := mail.AddUser(t, "avisos")
	ana, anaPW := mail.AddUser(t, "ana")
	imapHost, imapPort, _ := net.SplitHostPort(mail.IMAPAddr)
	smtpHost, smtpPort, _ := net.SplitHostPort(mail.SMTPAddr)
	mailbox, err := st.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tenantID, Kind: conversation.ChannelEmail, Key: support, Name: "Avisos",
		Settings: map[string]string{email.SettingIMAPHost: imapHost, email.SettingIMAPPort: imapPort, email.SettingIMAPTLS: email.TLSNone,
			email.SettingIMAPUser: support, email.SettingIMAPPassword: pw,
			email.SettingSMTPHost: smtpHost, email.SettingSMTPPort: smtpPort, email.SettingSMTPTLS: email.TLSNone}})
	if err != nil {
		t.Fatal(err)
	}
	var contacts struct{ Data []conversation.Contact }
	apiGet(t, s.url, key, "/api/v1/contacts", &contacts)
	if len(contacts.Data) != 1 {
		t.Fatalf("contacts %+v", contacts)
	}
	contact := contacts.Data[0]
	web, _ := contact.IdentityOn(conversation.ChannelWebchat)
	if _, err := st.ImportContacts(ctx, tenantID, []campaign.ContactImport{{Identities: []conversation.Identity{
		web, {Channel: conversation.ChannelEmail, Address: ana}}}}); err != nil {
		t.Fatal(err)
	}

	if got := say("Quiero recibir notificaciones por correo"); got != "Listo: te enviaremos las notificaciones por correo." {
		t.Fatalf("answer to the preference: %q", got)
	}
	api := func(method, path, body string, want int, v any) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		if strings.HasPrefix(path, "/api/v1/templates/") {
			req.Header.Set("Content-Type", "application/yaml")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want || (v != nil && json.Unmarshal(b, v) != nil) {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
	}
	api("PUT", "/api/v1/templates/aviso", `purpose: aviso
variants:
  - channel: default
    language: es
    text: "Tu pedido va en camino."
`, http.StatusCreated, nil)
	var n notify.Notification
	api("POST", "/api/v1/notifications", fmt.Sprintf(`{"contact_id":%d,"purpose":"aviso"}`, contact.ID), http.StatusAccepted, &n)
	waitUntil(t, "the notification is sent", func() bool {
		api("GET", fmt.Sprintf("/api/v1/notifications/%d", n.ID), "", http.StatusOK, &n)
		return n.Status != notify.StatusScheduled
	})
	if n.Status != notify.StatusSent || n.Channel != conversation.ChannelEmail || n.AccountID != mailbox.ID {
		t.Fatalf("the notification went %s on %s (account %d), want email on %d: %+v", n.Status, n.Channel, n.AccountID, mailbox.ID, n)
	}
	waitUntil(t, "the notification reaches the customer's mailbox", func() bool {
		for _, m := range readInbox(t, mail.IMAPAddr, ana, anaPW) {
			if bytes.Contains(m, []byte("Tu pedido va en camino.")) {
				return true
			}
		}
		return false
	})

	if got := say("no quiero recibir encuestas"); got != "Listo: no te enviaremos más encuestas. Puedes cambiarlo cuando quieras." {
		t.Fatalf("answer to the opt-out: %q", got)
	}
	api("POST", "/api/v1/surveys", fmt.Sprintf(`{"kind":"csat","contact_id":%d}`, contact.ID), http.StatusAccepted, nil)
	var list struct{ Data []notify.Notification }
	waitUntil(t, "the survey's notification is decided", func() bool {
		api("GET", fmt.Sprintf("/api/v1/notifications?contact_id=%d&purpose=survey_csat", contact.ID), "", http.StatusOK, &list)
		return len(list.Data) == 1 && list.Data[0].Status != notify.StatusScheduled
	})
	sv := list.Data[0]
	var skipped []string
	for _, sk := range sv.Skipped {
		skipped = append(skipped, string(sk.Channel)+":"+sk.Code)
	}
	if sv.Status != notify.StatusUndeliverable || !slices.Contains(skipped, "email:"+notify.SkipPurposeOptOut) ||
		!slices.Contains(skipped, "webchat:"+notify.SkipPurposeOptOut) || sv.MessageID != 0 {
		t.Fatalf("the survey after the opt-out: %s, skipped %v", sv.Status, skipped)
	}

	var ledger struct{ Data []conversation.ConsentChange }
	api("GET", fmt.Sprintf("/api/v1/contacts/%d/consent", contact.ID), "", http.StatusOK, &ledger)
	byChannel := map[conversation.ChannelKind][]string{}
	for _, c := range ledger.Data {
		if !c.OptedOut || c.Source != "bot:webchat" || c.At.IsZero() || c.ContactID != contact.ID {
			t.Errorf("ledger entry %+v", c)
		}
		byChannel[c.Channel] = append(byChannel[c.Channel], c.Purpose)
	}
	for _, k := range []conversation.ChannelKind{conversation.ChannelEmail, conversation.ChannelWebchat} {
		slices.Sort(byChannel[k])
		if !slices.Equal(byChannel[k], sorted(prefs.TopicSurveys.Purposes())) {
			t.Errorf("%s opt-outs %v, want %v", k, byChannel[k], prefs.TopicSurveys.Purposes())
		}
	}
	var p prefs.Preferences
	api("GET", fmt.Sprintf("/api/v1/contacts/%d/preferences", contact.ID), "", http.StatusOK, &p)
	if p.PreferredChannel != conversation.ChannelEmail || len(p.Channels) != 2 || !slices.Contains(p.Channels[0].OptedOutPurposes, "survey_csat") ||
		p.TimeZone == "" {
		t.Fatalf("preferences %+v", p)
	}
	if got := say("¿Cuáles son mis preferencias de notificación?"); !strings.HasPrefix(got, "Tu canal preferido es correo. Pediste no recibir: encuestas por ") {
		t.Fatalf("answer to the question: %q", got)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// waitUntil polls cond until it holds, for at most 15 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

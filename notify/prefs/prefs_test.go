package prefs_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/campaign"
	"conversa/notify/prefs"
	"conversa/storage/sqlite"
)

// env is the preferences service on the real SQLite store, with a Spanish
// tenant that has web chat, WhatsApp and email accounts (no SMS).
type env struct {
	store    *sqlite.Store
	svc      *prefs.Service
	tenant   conversation.Tenant
	accounts map[conversation.ChannelKind]conversation.ChannelAccount
	n        int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	must(t, err)
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, svc: prefs.New(store, prefs.Config{}), accounts: map[conversation.ChannelKind]conversation.ChannelAccount{}}
	e.tenant = e.createTenant(t, "acme")
	// In a fixed order: preferences list the accounts in the order they were made.
	for _, a := range []conversation.ChannelAccount{
		{Kind: conversation.ChannelWebchat, Key: "acme-web"},
		{Kind: conversation.ChannelWhatsApp, Key: "+15550001111"},
		{Kind: conversation.ChannelEmail, Key: "avisos@acme.example"},
	} {
		a.TenantID = e.tenant.ID
		a, err := store.CreateChannelAccount(ctx, a)
		must(t, err)
		e.accounts[a.Kind] = a
	}
	return e
}

func (e *env) createTenant(t *testing.T, slug string) conversation.Tenant {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: slug, Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	must(t, tn.Validate())
	tn, err := e.store.CreateTenant(t.Context(), tn)
	must(t, err)
	return tn
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// turn stores a message from addr on the account of kind and returns the
// turn the route job would offer the interceptors.
func (e *env) turn(t *testing.T, kind conversation.ChannelKind, addr, text string) conversation.Turn {
	t.Helper()
	ctx := t.Context()
	e.n++
	a := e.accounts[kind]
	res, err := e.store.Ingest(ctx, []conversation.IngestRequest{{TenantID: e.tenant.ID, AccountID: a.ID, Inbound: conversation.Inbound{
		Channel: kind, Account: a.Key, From: addr, ProviderID: "m" + string(rune('A'+e.n)), Parts: []conversation.Part{conversation.TextPart(text)}}}})
	must(t, err)
	must(t, res[0].Err)
	tn, err := e.store.Tenant(ctx, e.tenant.ID)
	must(t, err)
	c, err := e.store.Contact(ctx, e.tenant.ID, res[0].Message.ContactID)
	must(t, err)
	conv, err := e.store.Conversation(ctx, e.tenant.ID, res[0].Message.ConversationID)
	must(t, err)
	return conversation.Turn{Tenant: tn, Conversation: conv, Contact: c, Message: res[0].Message}
}

// withEmail gives a contact an email address too, as an import of the
// tenant's contacts does.
func (e *env) withEmail(t *testing.T, c conversation.Contact, addr string) {
	t.Helper()
	_, err := e.store.ImportContacts(t.Context(), e.tenant.ID, []campaign.ContactImport{{
		Identities: append(slices.Clone(c.Identities), conversation.Identity{Channel: conversation.ChannelEmail, Address: addr})}})
	must(t, err)
}

// ledger returns the tenant's consent changes of a contact as
// "channel:purpose:out|in:source", oldest first.
func (e *env) ledger(t *testing.T, contactID int64) []string {
	t.Helper()
	cs, err := e.store.ListConsent(t.Context(), e.tenant.ID, conversation.ConsentFilter{ContactID: contactID})
	must(t, err)
	var out []string
	for _, c := range slices.Backward(cs) {
		state := "in"
		if c.OptedOut {
			state = "out"
		}
		if c.At.IsZero() {
			t.Errorf("consent change %d has no time", c.ID)
		}
		out = append(out, string(c.Channel)+":"+c.Purpose+":"+state+":"+c.Source)
	}
	return out
}

// intercept offers t to the service and returns the one reply's text, or
// fails the test when the message is not taken.
func (e *env) intercept(t *testing.T, tr conversation.Turn) string {
	t.Helper()
	handled, replies, err := e.svc.Intercept(t.Context(), tr)
	must(t, err)
	if !handled || len(replies) != 1 || len(replies[0]) != 1 {
		t.Fatalf("Intercept(%q) = %v, %v", tr.Message.Text(), handled, replies)
	}
	return replies[0][0].Text
}

func TestInterceptPreferredChannel(t *testing.T) {
	e := newEnv(t)
	web := e.turn(t, conversation.ChannelWebchat, "visitor-1", "prefiero SMS")
	if got := e.intercept(t, web); got != "Lo siento, no enviamos mensajes por SMS." {
		t.Errorf("SMS, which the tenant has no account of: %q", got)
	}
	web = e.turn(t, conversation.ChannelWebchat, "visitor-1", "quiero recibir notificaciones por correo")
	if got := e.intercept(t, web); got != "Aún no conocemos tu correo. Escríbenos desde tu correo a avisos@acme.example y lo guardaremos." {
		t.Errorf("email, with no address known: %q", got)
	}
	if c, _ := e.store.Contact(t.Context(), e.tenant.ID, web.Contact.ID); c.Attributes[notify.AttrPreferredChannel] != "" {
		t.Errorf("a preference that cannot be kept was set: %v", c.Attributes)
	}

	wa := e.turn(t, conversation.ChannelWhatsApp, "+573001112233", "Mándenme los avisos por WhatsApp, por favor")
	for range 2 { // a retried message answers the same
		if got := e.intercept(t, wa); got != "Listo: te enviaremos las notificaciones por WhatsApp." {
			t.Errorf("WhatsApp: %q", got)
		}
	}
	p, err := e.svc.Get(t.Context(), e.tenant.ID, wa.Contact.ID)
	must(t, err)
	if p.PreferredChannel != conversation.ChannelWhatsApp || !slices.Equal(p.Reachable, []conversation.ChannelKind{conversation.ChannelWhatsApp}) ||
		p.TimeZone != "America/Bogota" {
		t.Errorf("preferences %+v", p)
	}
	if l := e.ledger(t, wa.Contact.ID); len(l) != 0 {
		t.Errorf("a channel preference wrote the ledger: %v", l)
	}
}

// TestInterceptConsent: opt-outs and opt-ins written on WhatsApp reach
// the ledger with their source and time, a topic's on every channel the
// contact is reachable on, every message's on the account written to; a
// retried message records nothing more; the confirmation of an opt-out is
// a keyword reply; the contact sees the result by asking.
func TestInterceptConsent(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	first := e.turn(t, conversation.ChannelWhatsApp, "+573001112233", "hola")
	e.withEmail(t, first.Contact, "ana@example.com")
	say := func(text string) (conversation.Turn, string) {
		t.Helper()
		tr := e.turn(t, conversation.ChannelWhatsApp, "+573001112233", text)
		return tr, e.intercept(t, tr)
	}
	const (
		surveysWA    = "whatsapp:case_survey:out:bot:whatsapp whatsapp:survey:out:bot:whatsapp whatsapp:survey_csat:out:bot:whatsapp whatsapp:survey_nps:out:bot:whatsapp"
		surveysEmail = "email:case_survey:out:bot:whatsapp email:survey:out:bot:whatsapp email:survey_csat:out:bot:whatsapp email:survey_nps:out:bot:whatsapp"
	)
	tr, got := say("no quiero recibir encuestas")
	if got != "Listo: no te enviaremos más encuestas. Puedes cambiarlo cuando quieras." {
		t.Errorf("surveys: %q", got)
	}
	if m := e.svc.ReplyMeta(tr); m[conversation.MetaKeywordReply] == "" {
		t.Errorf("the confirmation of an opt-out is no keyword reply: %v", m)
	}
	if again := e.intercept(t, tr); again != got {
		t.Errorf("the retried message answered %q", again)
	}
	l := e.ledger(t, tr.Contact.ID)
	if byChannel := sortedJoin(l); byChannel != sortedJoin(strings.Fields(surveysWA+" "+surveysEmail)) {
		t.Fatalf("ledger after the surveys' opt-out:\n%s", strings.Join(l, "\n"))
	}

	_, got = say("No quiero recibir más notificaciones.")
	if got != "Listo: no te enviaremos más mensajes por este canal. Puedes cambiarlo cuando quieras." {
		t.Errorf("everything: %q", got)
	}
	p, err := e.svc.Get(ctx, e.tenant.ID, tr.Contact.ID)
	must(t, err)
	if len(p.Channels) != 2 || !p.Channels[0].OptedOut || p.Channels[0].Channel != conversation.ChannelWhatsApp || p.Channels[1].OptedOut ||
		!slices.Equal(p.Channels[1].OptedOutPurposes, []string{"case_survey", "survey", "survey_csat", "survey_nps"}) {
		t.Errorf("preferences after the opt-out of everything on WhatsApp: %+v", p.Channels)
	}

	_, got = say("quiero volver a recibir notificaciones")
	if got != "Listo: volverás a recibir mensajes por este canal." {
		t.Errorf("back in: %q", got)
	}
	_, got = say("Quisiera volver a recibir las encuestas por correo")
	if got != "Listo: volverás a recibir encuestas por correo." {
		t.Errorf("surveys by email back in: %q", got)
	}
	p, err = e.svc.Get(ctx, e.tenant.ID, tr.Contact.ID)
	must(t, err)
	if p.Channels[0].OptedOut || len(p.Channels[0].OptedOutPurposes) != 4 || len(p.Channels[1].OptedOutPurposes) != 0 || p.Channels[1].Changed.IsZero() {
		t.Errorf("preferences after both opt-ins: %+v", p.Channels)
	}
	if _, got = say("¿Cuáles son mis preferencias de notificación?"); got != "No tienes un canal preferido. Pediste no recibir: encuestas por WhatsApp. Zona horaria: America/Bogota." {
		t.Errorf("the preferences told: %q", got)
	}
	// In English for a contact who speaks it.
	_, err = e.store.UpdateContact(ctx, e.tenant.ID, tr.Contact.ID, conversation.ContactUpdate{Language: ptr("en")})
	must(t, err)
	if _, got = say("send me notifications by email"); got != "Done: we will send you notifications by email." {
		t.Errorf("in English: %q", got)
	}
	if _, got = say("what are my notification settings?"); got != "Your preferred channel is email. You asked not to receive: surveys by WhatsApp. Time zone: America/Bogota." {
		t.Errorf("the preferences told in English: %q", got)
	}
	if _, got = say("stop sending me surveys by text"); got != "Sorry, we do not send messages by SMS." {
		t.Errorf("a channel the tenant has no account of: %q", got)
	}
}

// TestInterceptNotOurs: what is no preference request, or no customer's
// text, is left to the bot and changes nothing.
func TestInterceptNotOurs(t *testing.T) {
	e := newEnv(t)
	for _, text := range []string{"mi correo no funciona", "quiero poner una queja por correo", "no quiero hablar con un bot", "STOP"} {
		tr := e.turn(t, conversation.ChannelWhatsApp, "+573001112233", text)
		handled, replies, err := e.svc.Intercept(t.Context(), tr)
		if handled || replies != nil || err != nil {
			t.Errorf("Intercept(%q) = %v, %v, %v", text, handled, replies, err)
		}
	}
	tr := e.turn(t, conversation.ChannelWhatsApp, "+573001112233", "prefiero whatsapp")
	tr.Message.Direction = conversation.DirectionOut
	if handled, _, _ := e.svc.Intercept(t.Context(), tr); handled {
		t.Error("an outbound message was taken")
	}
	tr.Message.Direction, tr.Message.Parts = conversation.DirectionIn, append(tr.Message.Parts, conversation.TextPart("y otra cosa"))
	if handled, _, _ := e.svc.Intercept(t.Context(), tr); handled {
		t.Error("a message of two parts was taken")
	}
	c, err := e.store.Contact(t.Context(), e.tenant.ID, tr.Contact.ID)
	must(t, err)
	if len(c.Attributes) != 0 || len(e.ledger(t, c.ID)) != 0 {
		t.Errorf("messages not taken changed the contact: %v, %v", c.Attributes, e.ledger(t, c.ID))
	}
}

// TestUpdate: the API's changes are validated whole before anything is
// written, and name the bad field; another tenant's contact is not found.
func TestUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	tr := e.turn(t, conversation.ChannelWhatsApp, "+573001112233", "hola")
	id := tr.Contact.ID
	sms, email := conversation.ChannelSMS, conversation.ChannelEmail
	for _, tc := range []struct {
		name  string
		ch    prefs.Change
		field string
	}{
		{"unknown preferred channel", prefs.Change{PreferredChannel: ptr(conversation.ChannelKind("fax"))}, "preferred_channel"},
		{"unreachable preferred channel", prefs.Change{PreferredChannel: &email}, "preferred_channel"},
		{"unreachable consent channel", prefs.Change{PreferredChannel: ptr(conversation.ChannelWhatsApp),
			Consent: []prefs.ConsentUpdate{{OptedOut: true}, {Channel: sms, OptedOut: true}}}, "consent[1].channel"},
		{"bad purpose", prefs.Change{Consent: []prefs.ConsentUpdate{{Purposes: []string{"Survey"}, OptedOut: true}}}, "consent[0].purposes[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.ch.Source = "api"
			_, err := e.svc.Update(ctx, e.tenant.ID, id, tc.ch)
			if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != tc.field {
				t.Fatalf("Update: %v (field %q), want EINVALID naming %s", err, conversation.ErrorField(err), tc.field)
			}
			c, _ := e.store.Contact(ctx, e.tenant.ID, id)
			if len(c.Attributes) != 0 || len(e.ledger(t, id)) != 0 {
				t.Fatalf("a refused change changed %v, %v", c.Attributes, e.ledger(t, id))
			}
		})
	}
	p, err := e.svc.Update(ctx, e.tenant.ID, id, prefs.Change{PreferredChannel: ptr(conversation.ChannelWhatsApp), Source: "api",
		Consent: []prefs.ConsentUpdate{{Purposes: []string{"reminder"}, OptedOut: true}}})
	must(t, err)
	if p.PreferredChannel != conversation.ChannelWhatsApp || len(p.Channels) != 1 || !slices.Equal(p.Channels[0].OptedOutPurposes, []string{"reminder"}) {
		t.Errorf("after the update: %+v", p)
	}
	if l := e.ledger(t, id); !slices.Equal(l, []string{"whatsapp:reminder:out:api"}) {
		t.Errorf("ledger %v", l)
	}
	p, err = e.svc.Update(ctx, e.tenant.ID, id, prefs.Change{PreferredChannel: ptr(conversation.ChannelKind("")), Source: "api"})
	if err != nil || p.PreferredChannel != "" {
		t.Errorf("clearing the preferred channel: %+v, %v", p, err)
	}

	other := e.createTenant(t, "other")
	if _, err := e.svc.Get(ctx, other.ID, id); !conversation.IsNotFound(err) {
		t.Errorf("another tenant read the contact's preferences: %v", err)
	}
	if _, err := e.svc.Update(ctx, other.ID, id, prefs.Change{PreferredChannel: ptr(conversation.ChannelWhatsApp), Source: "api"}); !conversation.IsNotFound(err) {
		t.Errorf("another tenant changed the contact's preferences: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func sortedJoin(s []string) string {
	s = slices.Clone(s)
	slices.Sort(s)
	return strings.Join(s, " ")
}

// TestInterceptDisabledAccount: an opt-out written on an account disabled
// since is answered with why, and records nothing.
func TestInterceptDisabledAccount(t *testing.T) {
	e := newEnv(t)
	tr := e.turn(t, conversation.ChannelWhatsApp, "+573001112233", "no quiero recibir más mensajes")
	a := e.accounts[conversation.ChannelWhatsApp]
	a.Disabled = true
	_, err := e.store.UpdateChannelAccount(t.Context(), a)
	must(t, err)
	if got := e.intercept(t, tr); got != "Lo siento, no enviamos mensajes por WhatsApp." {
		t.Errorf("on a disabled account: %q", got)
	}
	if l := e.ledger(t, tr.Contact.ID); len(l) != 0 {
		t.Errorf("ledger %v", l)
	}
}

package notify_test

import (
	"path/filepath"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
	"conversa/templates"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// env is the notification service on the real SQLite store, the real
// conversation and template services, with a tenant (Spanish, Colombia)
// that has WhatsApp, SMS, Telegram and email accounts and the templates of
// testTemplates.
type env struct {
	store     *sqlite.Store
	conv      *conversation.Service
	templates *templates.Service
	svc       *notify.Service
	clock     *clock
	tenant    conversation.Tenant
	accounts  map[conversation.ChannelKind]conversation.ChannelAccount
}

// A Tuesday afternoon in Bogotá, months before the tests' real time, so that
// messages stored "at" it are in the past.
var afternoon = time.Date(2026, 3, 10, 15, 0, 0, 0, mustZone("America/Bogota"))

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// testTemplates are the tenant's templates by purpose.
var testTemplates = map[string]string{
	"case_resolved": `purpose: case_resolved
variables:
  name: {sample: "Ana", required: true}
  radicado: {sample: "PQR-2026-000123", required: true}
variants:
  - channel: whatsapp
    language: es
    text: "Hola {{.name}}, tu caso {{.radicado}} fue resuelto."
    content_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e
    content_variables: [name, radicado]
  - channel: email
    language: es
    subject: "Tu caso {{.radicado}}"
    text: "Hola {{.name}}: tu caso {{.radicado}} fue resuelto."
    html: "<p>Hola {{.name}}: tu caso <b>{{.radicado}}</b> fue resuelto.</p>"
  - channel: default
    language: es
    text: "{{.name}}, su caso {{.radicado}} fue resuelto."
`,
	"reminder": `purpose: reminder
variables:
  when: {sample: "mañana a las 10", required: true}
variants:
  - channel: whatsapp
    language: es
    text: "Recuerda tu cita {{.when}}."
  - channel: default
    language: es
    text: "Recuerde su cita {{.when}}."
`,
	"survey": `purpose: survey
variables:
  name: {sample: "Ana"}
variants:
  - channel: default
    language: es
    text: "Hola {{.name}}, califica nuestra atencion de 1 a 5."
`,
	"outage": `purpose: outage
urgent: true
variants:
  - channel: default
    language: es
    text: "Corte de servicio en tu zona. Trabajamos para restablecerlo."
`,
	"sms_only": `purpose: sms_only
variants:
  - channel: sms
    language: es
    text: "Solo por SMS."
`,
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil, nil)
}

// newEnvWith builds the env with the conversation service's sender and the
// function that wakes a worker, when given.
func newEnvWith(t *testing.T, sender conversation.Sender, wake func()) *env {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, clock: &clock{t: afternoon}, templates: templates.NewService(store),
		accounts: map[conversation.ChannelKind]conversation.ChannelAccount{}}
	shared := memory.New()
	e.conv, err = conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: shared, Sender: sender, JobsAdded: wake})
	if err != nil {
		t.Fatal(err)
	}
	e.svc, err = notify.New(store, notify.Deps{Conversations: store, Sender: e.conv, Templates: e.templates},
		notify.Config{Now: e.clock.now, JobsAdded: wake})
	if err != nil {
		t.Fatal(err)
	}
	tn := conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	must(t, tn.Validate())
	if e.tenant, err = store.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	// In a fixed order, so account ids, and every list in their order, repeat.
	for _, a := range []conversation.ChannelAccount{
		{Kind: conversation.ChannelWhatsApp, Key: "+15550001111"},
		{Kind: conversation.ChannelSMS, Key: "+15550002222"},
		{Kind: conversation.ChannelTelegram, Key: "acme_bot"},
		{Kind: conversation.ChannelEmail, Key: "avisos@acme.example"},
	} {
		a.TenantID, a.Name = e.tenant.ID, string(a.Kind)
		a, err := store.CreateChannelAccount(ctx, a)
		must(t, err)
		e.accounts[a.Kind] = a
	}
	for purpose, src := range testTemplates {
		if _, _, _, err := e.templates.Save(ctx, e.tenant.ID, purpose, purpose+".yaml", []byte(src)); err != nil {
			t.Fatalf("template %s: %v", purpose, err)
		}
	}
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// write stores a message from addr on the tenant's account of kind,
// received at, and returns the contact (the same for one phone number on
// every phone channel).
func (e *env) write(t *testing.T, kind conversation.ChannelKind, addr string, at time.Time) conversation.Contact {
	t.Helper()
	a := e.accounts[kind]
	res, err := e.store.Ingest(t.Context(), []conversation.IngestRequest{{TenantID: e.tenant.ID, AccountID: a.ID, Inbound: conversation.Inbound{
		Channel: kind, Account: a.Key, From: addr, ProviderID: addr + at.String(), ReceivedAt: at,
		Parts: []conversation.Part{conversation.TextPart("hola")}}}})
	must(t, err)
	must(t, res[0].Err)
	c, err := e.store.Contact(t.Context(), e.tenant.ID, res[0].Message.ContactID)
	must(t, err)
	return c
}

// setAttr sets a contact attribute.
func (e *env) setAttr(t *testing.T, c conversation.Contact, name, value string) {
	t.Helper()
	_, err := e.store.UpdateContact(t.Context(), e.tenant.ID, c.ID, conversation.ContactUpdate{Attributes: map[string]string{name: value}})
	must(t, err)
}

// optOut records an opt-out of the contact's address on the account of
// kind, of every message (purpose "") or of one purpose.
func (e *env) optOut(t *testing.T, c conversation.Contact, kind conversation.ChannelKind, purpose string) {
	t.Helper()
	id, _ := c.IdentityOn(kind)
	_, err := e.conv.RecordConsent(t.Context(), conversation.ConsentChange{TenantID: e.tenant.ID, AccountID: e.accounts[kind].ID,
		ContactID: c.ID, Channel: kind, Address: id.Address, OptedOut: true, Source: "bot", Purpose: purpose})
	must(t, err)
}

// notify asks for a notification and fails the test on error.
func (e *env) notify(t *testing.T, r notify.Request) notify.Notification {
	t.Helper()
	r.TenantID = e.tenant.ID
	n, err := e.svc.Notify(t.Context(), r)
	must(t, err)
	return n
}

// run runs the notification's job as the Worker would, and returns the
// notification after it.
func (e *env) run(t *testing.T, n notify.Notification) notify.Notification {
	t.Helper()
	if err := e.svc.NotifyJob(t.Context(), conversation.Job{TenantID: n.TenantID, Kind: notify.JobNotify, Ref: n.ID, RunAt: n.Due}); err != nil {
		t.Fatalf("job: %v", err)
	}
	got, err := e.svc.Get(t.Context(), n.TenantID, n.ID)
	must(t, err)
	return got
}

// message returns the message a notification sent.
func (e *env) message(t *testing.T, n notify.Notification) conversation.Message {
	t.Helper()
	if n.MessageID == 0 {
		t.Fatalf("notification %d sent no message: %+v", n.ID, n)
	}
	m, err := e.store.Message(t.Context(), e.tenant.ID, n.MessageID)
	must(t, err)
	return m
}

// codes returns the skip codes of a notification by channel.
func codes(n notify.Notification) []string {
	var out []string
	for _, s := range n.Skipped {
		out = append(out, string(s.Channel)+":"+s.Code)
	}
	return out
}

package handoff_test

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/bot"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/notify"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
	"conversa/templates"
)

// syncClock is a settable test clock safe for concurrent use.
type syncClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *syncClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *syncClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// notifier adapts the notification service to handoff.Notifier, as
// cmd/conversa does.
type notifier struct{ svc *notify.Service }

func (n notifier) Notify(ctx context.Context, x handoff.Notice) (int64, error) {
	got, err := n.svc.Notify(ctx, notify.Request{TenantID: x.TenantID, ContactID: x.ContactID, Purpose: x.Purpose, Data: x.Data, IdempotencyKey: x.Key})
	return got.ID, err
}

// outcome is what handoff learns of a notification, as cmd/conversa tells
// it.
func outcome(n notify.Notification) handoff.NoticeOutcome {
	var reasons []string
	for _, s := range n.Skipped {
		reasons = append(reasons, string(s.Channel)+": "+s.Reason)
	}
	if n.Note != "" {
		reasons = append(reasons, n.Note)
	}
	return handoff.NoticeOutcome{TenantID: n.TenantID, ID: n.ID, Key: n.IdempotencyKey, Purpose: n.Purpose, Status: string(n.Status), Reason: strings.Join(reasons, "; ")}
}

// caseEnv is the case service with every real collaborator: the SQLite
// store, the conversation service with the built-in bot and the cases as
// its interceptor, the notification service with the built-in templates,
// and a tenant (Spanish, Colombia) with web-chat, SMS, WhatsApp and api
// accounts.
type caseEnv struct {
	store  *sqlite.Store
	conv   *conversation.Service
	notify *notify.Service
	cases  *handoff.Cases
	clock  *syncClock
	tenant conversation.Tenant
	accts  map[conversation.ChannelKind]conversation.ChannelAccount
	n      int
}

// A Tuesday afternoon in Bogotá, outside quiet hours.
var tuesday = time.Date(2026, 3, 10, 15, 0, 0, 0, mustZone("America/Bogota"))

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func newCaseEnv(t *testing.T, cfg handoff.CasesConfig) *caseEnv {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &caseEnv{store: store, clock: &syncClock{t: tuesday}, accts: map[conversation.ChannelKind]conversation.ChannelAccount{}}
	cfg.Now, cfg.Tenants, cfg.Contacts, cfg.Surveys, cfg.Messages = e.clock.now, store, store, store, store
	var n notifier
	cfg.Notifier = &n
	e.cases = handoff.NewCases(store, cfg)
	e.conv, err = conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{
		Store: store, Bus: memory.New(), Bot: bot.NewEngine(store, store, store, bot.Config{}),
		Interceptors: []conversation.Interceptor{e.cases},
		Actions:      map[string]conversation.ActionHandler{conversation.ActionCreateCase: e.cases},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.notify, err = notify.New(store, notify.Deps{Conversations: store, Sender: buttonSender{e.conv}, Templates: templates.NewService(store).Defaults()},
		notify.Config{Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	n.svc = e.notify
	tn := conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if e.tenant, err = store.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	for kind, key := range map[conversation.ChannelKind]string{conversation.ChannelWebchat: "acme-web", conversation.ChannelSMS: "+15550002222",
		conversation.ChannelWhatsApp: "+15550001111", conversation.ChannelAPI: "crm"} {
		a, err := store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: kind, Key: key, Name: string(kind)})
		if err != nil {
			t.Fatal(err)
		}
		e.accts[kind] = a
	}
	return e
}

// buttonSender is the conversation service with the survey's buttons, as
// cmd/conversa wires it.
type buttonSender struct{ svc *conversation.Service }

func (b buttonSender) Send(ctx context.Context, outs ...conversation.Outbound) ([]conversation.SendResult, error) {
	outs, err := handoff.SurveyButtons(ctx, outs, func(ctx context.Context, tenantID, id int64) (conversation.ChannelKind, error) {
		a, err := b.svc.AccountByID(ctx, tenantID, id)
		return a.Kind, err
	})
	if err != nil {
		return nil, err
	}
	return b.svc.Send(ctx, outs...)
}

// write ingests a message from addr on the account of kind, runs its route
// job twice (a retry must change nothing), and returns it.
func (e *caseEnv) write(t *testing.T, kind conversation.ChannelKind, addr string, parts ...conversation.Part) conversation.Message {
	t.Helper()
	e.n++
	res, err := e.conv.Ingest(t.Context(), conversation.Inbound{Channel: kind, Account: e.accts[kind].Key, From: addr,
		ProviderID: addr + ":" + time.Duration(e.n).String(), Parts: parts})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.conv.RouteJob(t.Context(), conversation.Job{TenantID: e.tenant.ID, Kind: conversation.JobRoute, Ref: res.Message.ID, Attempt: 1, MaxAttempts: 5}); err != nil {
			t.Fatal(err)
		}
	}
	return res.Message
}

func text(s string) conversation.Part { return conversation.TextPart(s) }

// runNotices runs the due notification jobs as the worker does, telling
// the cases each outcome, until none is left, and returns the
// notifications decided, oldest first.
func (e *caseEnv) runNotices(t *testing.T) []notify.Notification {
	t.Helper()
	var done []notify.Notification
	for range 10 {
		ns, err := e.notify.List(t.Context(), e.tenant.ID, notify.Filter{Status: notify.StatusScheduled})
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) == 0 {
			return done
		}
		for i := len(ns) - 1; i >= 0; i-- {
			if err := e.notify.NotifyJob(t.Context(), conversation.Job{TenantID: e.tenant.ID, Kind: notify.JobNotify, Ref: ns[i].ID}); err != nil {
				t.Fatal(err)
			}
			n, err := e.notify.Get(t.Context(), e.tenant.ID, ns[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the job may run again
				if err := e.cases.NoticeDone(t.Context(), outcome(n)); err != nil {
					t.Fatal(err)
				}
			}
			done = append(done, n)
		}
	}
	t.Fatal("notifications keep coming")
	return nil
}

// sent returns the text of the message a notification sent, with its
// buttons' payloads.
func (e *caseEnv) sent(t *testing.T, n notify.Notification) (string, []string) {
	t.Helper()
	if n.Status != notify.StatusSent {
		t.Fatalf("notification %s not sent: %+v", n.Purpose, n)
	}
	m, err := e.store.Message(t.Context(), e.tenant.ID, n.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range m.Parts {
		for _, b := range p.Buttons {
			ids = append(ids, b.ID)
		}
	}
	return m.Text(), ids
}

// replies returns the texts of the outbound messages of a conversation
// after the message m, in order.
func (e *caseEnv) replies(t *testing.T, m conversation.Message) []string {
	t.Helper()
	ms, err := e.store.ListMessages(t.Context(), e.tenant.ID, conversation.MessageFilter{ConversationID: m.ConversationID,
		After: &conversation.MessagePos{ConversationID: m.ConversationID, Seq: m.Seq}})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range ms {
		if x.Direction == conversation.DirectionOut {
			out = append(out, x.Text())
		}
	}
	return out
}

// notes returns a case's history as "kind: note" lines.
func (e *caseEnv) notes(t *testing.T, id int64) []string {
	t.Helper()
	hist, err := e.store.CaseHistory(t.Context(), e.tenant.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range hist {
		out = append(out, ev.Kind+": "+string(ev.To)+" "+ev.Note)
	}
	return out
}

func (e *caseEnv) file(t *testing.T, contact int64) handoff.Case {
	t.Helper()
	c, err := e.cases.File(t.Context(), e.tenant, handoff.Filing{Type: handoff.Queja, ContactID: contact, Description: "Me cobraron dos veces.", Actor: "api:k1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func purposes(ns []notify.Notification) string {
	var ps []string
	for _, n := range ns {
		ps = append(ps, n.Purpose+":"+string(n.Status))
	}
	return strings.Join(ps, ",")
}

func hasLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// TestCaseNotifications: the customer hears of their case's filing (unless
// the bot filed it in their conversation), its moves, its extension with
// the reason, and its resolution with the answer, then the survey with
// buttons, on their channel, through the notification service and the
// built-in templates; each once, however often the jobs run.
func TestCaseNotifications(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	ctx := t.Context()
	hello := e.write(t, conversation.ChannelWebchat, "visitor-1", text("hola"))
	contact := hello.ContactID

	// Filed on Tuesday 10 March 2026: 15 business days skip San José
	// (Monday 23 March).
	c := e.file(t, contact)
	ns := e.runNotices(t)
	if purposes(ns) != "case_filed:sent" {
		t.Fatalf("after filing: %s", purposes(ns))
	}
	if got, _ := e.sent(t, ns[0]); got != "Hola, radicamos tu queja con el número "+c.Radicado+". Recibirás respuesta a más tardar el 1 de abril de 2026." ||
		ns[0].Channel != conversation.ChannelWebchat || ns[0].IdempotencyKey != "case:1:filed:1" {
		t.Fatalf("case_filed %q on %s, key %q", got, ns[0].Channel, ns[0].IdempotencyKey)
	}

	// Filed by the bot in the conversation: the bot's answer says it all.
	e.write(t, conversation.ChannelWebchat, "visitor-1", text("quiero poner una queja"))
	if _, err := e.cases.HandleAction(ctx, conversation.Turn{Tenant: e.tenant, Contact: conversation.Contact{ID: contact}, Message: hello},
		conversation.Action{Name: conversation.ActionCreateCase, Params: map[string]string{"type": "reclamo", "description": "no llegó"}}); err != nil {
		t.Fatal(err)
	}
	if ns := e.runNotices(t); len(ns) != 0 {
		t.Fatalf("a case the bot filed notified: %s", purposes(ns))
	}

	if _, err := e.cases.Transition(ctx, e.tenant.ID, c.ID, handoff.EnTramite, "agent:luis", "revisando"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cases.Extend(ctx, e.tenant, c.ID, 10, "Esperamos la respuesta del área de facturación.", "agent:luis"); err != nil {
		t.Fatal(err)
	}
	// Ten business days more skip Holy Thursday and Good Friday.
	ns = e.runNotices(t)
	if purposes(ns) != "case_status:sent,case_extended:sent" {
		t.Fatalf("after moving and extending: %s", purposes(ns))
	}
	if got, _ := e.sent(t, ns[0]); got != "Hola, tu caso "+c.Radicado+" está en trámite. Recibirás respuesta a más tardar el 1 de abril de 2026." {
		t.Errorf("case_status %q", got)
	}
	if got, _ := e.sent(t, ns[1]); got != "Hola, necesitamos 10 días hábiles más para responder tu caso "+c.Radicado+
		": Esperamos la respuesta del área de facturación. Recibirás respuesta a más tardar el 17 de abril de 2026." {
		t.Errorf("case_extended %q", got)
	}

	if _, err := e.cases.Resolve(ctx, e.tenant.ID, c.ID, " ", "agent:luis"); conversation.ErrorField(err) != "answer" {
		t.Fatalf("a resolution without an answer: %v", err)
	}
	resolved, err := e.cases.Resolve(ctx, e.tenant.ID, c.ID, "Reembolsamos el cobro doble a tu tarjeta.", "agent:luis")
	if err != nil || resolved.Status != handoff.Resuelto {
		t.Fatalf("resolve: %+v, %v", resolved, err)
	}
	if _, err := e.cases.Resolve(ctx, e.tenant.ID, c.ID, "otra vez", "agent:luis"); !conversation.IsConflict(err) {
		t.Fatalf("resolving a resolved case: %v", err)
	}
	if a, err := e.cases.Answer(ctx, e.tenant.ID, c.ID); err != nil || a != "Reembolsamos el cobro doble a tu tarjeta." {
		t.Fatalf("answer %q, %v", a, err)
	}
	ns = e.runNotices(t)
	if purposes(ns) != "case_resolved:sent,case_survey:sent" {
		t.Fatalf("after resolving: %s", purposes(ns))
	}
	got, _ := e.sent(t, ns[0])
	survey, buttons := e.sent(t, ns[1])
	if got != "Hola, tu caso "+c.Radicado+" fue resuelto. Respuesta: Reembolsamos el cobro doble a tu tarjeta." ||
		!strings.HasPrefix(survey, "¿Cómo calificarías la atención de tu caso "+c.Radicado+"? Responde de 1 (muy mala) a 5 (excelente).") ||
		strings.Join(buttons, ",") != "csat:1,csat:2,csat:3,csat:4,csat:5" || ns[1].MessageID < ns[0].MessageID {
		t.Fatalf("resolution %q, then survey %q with buttons %v", got, survey, buttons)
	}
	surveys, err := e.cases.Surveys(ctx, e.tenant.ID, c.ID)
	if err != nil || len(surveys) != 1 || !surveys[0].AnsweredAt.IsZero() || !surveys[0].ExpiresAt.Equal(tuesday.Add(72*time.Hour)) {
		t.Fatalf("surveys %+v, %v", surveys, err)
	}
	if h := e.notes(t, c.ID); !hasLine(h, "resolved: resuelto Reembolsamos el cobro doble a tu tarjeta.") {
		t.Fatalf("history %q", h)
	}
}

// TestUndeliverableNotice: a case whose contact has no channel to be
// notified on records the undeliverable notification, with why, in its
// history; once, however often the job's outcome is told.
func TestUndeliverableNotice(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	// A contact known only on the tenant's own api channel, which is not in
	// the notification chain.
	m := e.write(t, conversation.ChannelAPI, "user-7", text("hola"))
	c := e.file(t, m.ContactID)
	ns := e.runNotices(t)
	if purposes(ns) != "case_filed:undeliverable" {
		t.Fatalf("notices %s", purposes(ns))
	}
	h := e.notes(t, c.ID)
	n := 0
	for _, l := range h {
		if strings.Contains(l, "notification undeliverable: case_filed (notification ") {
			n++
			if !strings.Contains(l, "webchat: the contact has no webchat address") || !strings.Contains(l, "no channel could take it") {
				t.Errorf("the reasons are missing: %q", l)
			}
		}
	}
	if n != 1 {
		t.Fatalf("history %q: want one undeliverable notification", h)
	}
	// Resolving it: the resolution is undeliverable too, and no survey is
	// asked.
	if _, err := e.cases.Resolve(t.Context(), e.tenant.ID, c.ID, "Listo.", "agent:luis"); err != nil {
		t.Fatal(err)
	}
	if ns := e.runNotices(t); purposes(ns) != "case_resolved:undeliverable" {
		t.Fatalf("after resolving: %s", purposes(ns))
	}
	if !hasLine(e.notes(t, c.ID), "notification undeliverable: case_resolved") {
		t.Fatalf("history %q", e.notes(t, c.ID))
	}
}

// TestEscalationNotice: the customer hears of the first raise of their
// case to escalado, once, and not of the later levels.
func TestEscalationNotice(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	hello := e.write(t, conversation.ChannelWebchat, "visitor-1", text("hola"))
	c := e.file(t, hello.ContactID)
	e.runNotices(t)
	e.clock.add(21 * 24 * time.Hour) // Tuesday 31 March: past 70% and 90% of the term
	for _, level := range []string{"0", "0", "1"} {
		if err := e.cases.EscalateJob(t.Context(), conversation.Job{TenantID: e.tenant.ID, Kind: handoff.JobCaseEscalation, Ref: c.ID,
			Payload: []byte(level), RunAt: e.clock.now()}); err != nil {
			t.Fatal(err)
		}
	}
	if h := e.notes(t, c.ID); count(h, "escalated: ") != 2 {
		t.Fatalf("history %q: want two levels", h)
	}
	ns := e.runNotices(t)
	if purposes(ns) != "case_status:sent" {
		t.Fatalf("notices %s", purposes(ns))
	}
	if got, _ := e.sent(t, ns[0]); got != "Hola, tu caso "+c.Radicado+" fue escalado a un supervisor. Recibirás respuesta a más tardar el 1 de abril de 2026." {
		t.Fatalf("case_status %q", got)
	}
}

package handoff_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/notify"
	"conversa/storage/memory"
)

// mustCase returns the case of a call that must succeed:
// mustCase(t)(cases.Pause(…)).
func mustCase(t *testing.T) func(handoff.Case, error) handoff.Case {
	return func(c handoff.Case, err error) handoff.Case {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func eventsOf(t *testing.T, e *caseEnv, id int64, kind string) []handoff.CaseEvent {
	t.Helper()
	hist, err := e.store.CaseHistory(t.Context(), e.tenant.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []handoff.CaseEvent
	for _, ev := range hist {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func (e *caseEnv) fileType(t *testing.T, contact int64, typ handoff.CaseType) handoff.Case {
	t.Helper()
	c, err := e.cases.File(t.Context(), e.tenant, handoff.Filing{Type: typ, ContactID: contact, Description: "No llegó el pedido", Actor: "api:k"})
	return mustCase(t)(c, err)
}

func (e *caseEnv) agent(t *testing.T, name, email string, role handoff.Role, teams ...int64) handoff.Agent {
	t.Helper()
	a := handoff.Agent{TenantID: e.tenant.ID, Name: name, Email: email, Role: role, Teams: teams}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := e.store.CreateAgent(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *caseEnv) team(t *testing.T, tenantID int64, name string) handoff.Team {
	t.Helper()
	tm, err := e.store.CreateTeam(t.Context(), handoff.Team{TenantID: tenantID, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestAssignCase(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	e.cases = handoff.NewCases(e.store, handoff.CasesConfig{Now: e.clock.now, Agents: e.store})
	ctx := t.Context()
	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID
	billing, orders := e.team(t, e.tenant.ID, "Facturación"), e.team(t, e.tenant.ID, "Pedidos")
	ana := e.agent(t, "Ana", "ana@acme.co", handoff.RoleAgent, billing.ID)
	c := e.fileType(t, contact, handoff.Queja)
	other := e.fileType(t, contact, handoff.Reclamo)

	c = mustCase(t)(e.cases.Assign(ctx, e.tenant.ID, c.ID, ana.ID, billing.ID, "agent:lina"))
	if c.AssigneeID != ana.ID || c.TeamID != billing.ID {
		t.Fatalf("assigned case = agent %d team %d", c.AssigneeID, c.TeamID)
	}
	evs := eventsOf(t, e, c.ID, "assigned")
	if len(evs) != 1 || evs[0].Actor != "agent:lina" || evs[0].Note != "to agent "+itoa(ana.ID)+" (Ana) and team "+itoa(billing.ID)+" (Facturación)" {
		t.Fatalf("assignment events %+v", evs)
	}
	// The same assignment again changes nothing and records nothing.
	mustCase(t)(e.cases.Assign(ctx, e.tenant.ID, c.ID, ana.ID, billing.ID, "agent:lina"))
	if n := len(eventsOf(t, e, c.ID, "assigned")); n != 1 {
		t.Fatalf("a repeated assignment recorded %d events", n)
	}
	mustCase(t)(e.cases.Assign(ctx, e.tenant.ID, other.ID, 0, orders.ID, "agent:lina"))

	for _, tt := range []struct {
		name string
		f    handoff.CaseFilter
		want []int64
	}{
		{"Ana's", handoff.CaseFilter{AssigneeID: ana.ID}, []int64{c.ID}},
		{"orders'", handoff.CaseFilter{TeamID: orders.ID}, []int64{other.ID}},
	} {
		got, err := e.store.ListCases(ctx, e.tenant.ID, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, x := range got {
			ids = append(ids, x.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s cases = %v, want %v", tt.name, ids, tt.want)
		}
	}

	// Another tenant's agent and team are unknown here; the case of
	// another tenant is not found.
	bravo, err := e.store.CreateTenant(ctx, conversation.Tenant{Slug: "bravo", Name: "Bravo"})
	if err != nil {
		t.Fatal(err)
	}
	theirTeam := e.team(t, bravo.ID, "Soporte")
	theirAgent, err := e.store.CreateAgent(ctx, handoff.Agent{TenantID: bravo.ID, Name: "Beto", Role: handoff.RoleAgent, Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name          string
		agent, team   int64
		field, reason string
	}{
		{"another tenant's agent", theirAgent.ID, 0, "agent_id", ""},
		{"another tenant's team", 0, theirTeam.ID, "team_id", ""},
		{"an agent outside the team", ana.ID, orders.ID, "agent_id", "is not in team"},
		{"a negative id", -1, 0, "agent_id", ""},
	} {
		_, err := e.cases.Assign(ctx, e.tenant.ID, c.ID, tt.agent, tt.team, "agent:lina")
		var ce *conversation.Error
		if conversation.ErrorCode(err) != conversation.EINVALID || !asError(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: error %v, want invalid %s", tt.name, err, tt.field)
		}
	}
	_, err = e.cases.Assign(ctx, bravo.ID, c.ID, 0, theirTeam.ID, "api:b")
	wantCode(t, err, conversation.ENOTFOUND, "assigning another tenant's case")
	if got, _ := e.store.Case(ctx, e.tenant.ID, c.ID); got.AssigneeID != ana.ID || got.TeamID != billing.ID {
		t.Fatalf("a refused assignment changed the case: %+v", got)
	}

	// Unassigned.
	c = mustCase(t)(e.cases.Assign(ctx, e.tenant.ID, c.ID, 0, 0, "agent:lina"))
	if evs := eventsOf(t, e, c.ID, "assigned"); c.AssigneeID != 0 || c.TeamID != 0 || evs[len(evs)-1].Note != "unassigned" {
		t.Fatalf("unassigned case %+v, events %+v", c, evs)
	}
}

func TestCaseNotes(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	ctx := t.Context()
	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID
	c := e.fileType(t, contact, handoff.Queja)
	e.runNotices(t)
	before, err := e.notify.List(ctx, e.tenant.ID, notify.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := e.cases.AddNote(ctx, e.tenant.ID, c.ID, "agent:ana", "  El cliente <b>ya</b> llamó dos veces  ")
	if err != nil {
		t.Fatal(err)
	}
	if ev.Note != "El cliente <b>ya</b> llamó dos veces" || ev.Actor != "agent:ana" || !ev.CreatedAt.Equal(e.clock.now()) {
		t.Fatalf("note = %+v", ev)
	}
	notes := eventsOf(t, e, c.ID, "internal_note")
	if len(notes) != 1 || notes[0].Note != ev.Note || notes[0].Actor != "agent:ana" {
		t.Fatalf("notes in history %+v", notes)
	}
	// Never sent to the customer.
	if got := e.runNotices(t); len(got) != 0 {
		t.Fatalf("a note sent notifications %+v", got)
	}
	after, _ := e.notify.List(ctx, e.tenant.ID, notify.Filter{})
	if len(after) != len(before) {
		t.Fatalf("a note asked for notifications: %d, then %d", len(before), len(after))
	}
	for _, tt := range []struct{ name, author, body, code string }{
		{"empty", "agent:ana", "   ", conversation.EINVALID},
		{"too long", "agent:ana", strings.Repeat("a", handoff.MaxNote+1), conversation.EINVALID},
		{"not UTF-8", "agent:ana", "\xff", conversation.EINVALID},
		{"no author", "", "hola", conversation.EINVALID},
	} {
		_, err := e.cases.AddNote(ctx, e.tenant.ID, c.ID, tt.author, tt.body)
		wantCode(t, err, tt.code, tt.name)
	}
	_, err = e.cases.AddNote(ctx, e.tenant.ID+1, c.ID, "agent:ana", "hola")
	wantCode(t, err, conversation.ENOTFOUND, "a note on another tenant's case")
}

// claimOne claims the one due escalation job at now and checks when it was
// due.
func (e *caseEnv) claimOne(t *testing.T, now, due string) conversation.Job {
	t.Helper()
	e.clock.set(atBogota(t, now))
	jobs, err := e.store.ClaimJobs(t.Context(), []string{handoff.JobCaseEscalation}, 10, time.Minute)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claimed %d escalation jobs at %s, want 1 (%v)", len(jobs), now, err)
	}
	if got := jobs[0].RunAt.In(mustZone("America/Bogota")).Format("2006-01-02 15:04"); got != due {
		t.Fatalf("escalation job due %s, want %s", got, due)
	}
	return jobs[0]
}

func (e *caseEnv) escalate(t *testing.T, j conversation.Job) {
	t.Helper()
	for range 2 { // a retried job does everything once
		if err := e.cases.EscalateJob(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.CompleteJob(t.Context(), j); err != nil {
		t.Fatal(err)
	}
}

func atBogota(t *testing.T, s string) time.Time {
	t.Helper()
	x, err := time.ParseInLocation("2006-01-02 15:04", s, mustZone("America/Bogota"))
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestPauseResumesWithDaysLeft(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	e.cases = handoff.NewCases(e.store, handoff.CasesConfig{Now: e.clock.now, Jobs: e.store, Tenants: e.store})
	ctx := t.Context()
	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID

	// Filed Tuesday 1 September 2026: due the 22nd, 70% at the end of the
	// 15th. Paused on Thursday the 3rd (two days used), resumed on
	// Thursday the 10th: five business days later, 13 left.
	e.clock.set(atBogota(t, "2026-09-01 10:00"))
	c := e.fileType(t, contact, handoff.Queja)
	e.clock.set(atBogota(t, "2026-09-03 11:00"))
	c = mustCase(t)(e.cases.Pause(ctx, e.tenant.ID, c.ID, "Falta la copia de la factura", "agent:ana"))
	if c.PausedAt.IsZero() || c.PauseReason != "Falta la copia de la factura" {
		t.Fatalf("paused case %+v", c)
	}
	_, err := e.cases.Pause(ctx, e.tenant.ID, c.ID, "otra vez", "agent:ana")
	wantCode(t, err, conversation.ECONFLICT, "pausing a paused case")
	over, err := e.store.ListCases(ctx, e.tenant.ID, handoff.CaseFilter{OverdueAt: atBogota(t, "2026-09-25 00:00")})
	if err != nil || len(over) != 0 {
		t.Fatalf("a paused case is listed overdue: %v %v", over, err)
	}

	// The 70% job comes while paused: nothing escalates.
	e.escalate(t, e.claimOne(t, "2026-09-16 00:00", "2026-09-15 23:59"))
	if n := len(eventsOf(t, e, c.ID, "escalated")); n != 0 {
		t.Fatalf("a paused case escalated %d times", n)
	}

	e.clock.set(atBogota(t, "2026-09-10 09:00"))
	c = mustCase(t)(e.cases.Resume(ctx, e.tenant, c.ID, "agent:ana"))
	if got := c.Due.In(mustZone("America/Bogota")).Format("2006-01-02 15:04"); got != "2026-09-29 23:59" || c.PausedUnits != 5 || !c.PausedAt.IsZero() {
		t.Fatalf("resumed case due %s, paused %d days, paused at %v", got, c.PausedUnits, c.PausedAt)
	}
	evs := eventsOf(t, e, c.ID, "resumed")
	if len(evs) != 1 || evs[0].Note != "after 5 business days paused (resume): 13 business days left, due 2026-09-29" {
		t.Fatalf("resume events %+v", evs)
	}
	_, err = e.cases.Resume(ctx, e.tenant, c.ID, "agent:ana")
	wantCode(t, err, conversation.ECONFLICT, "resuming a running case")

	// The 70% level moved five business days: the 22nd.
	e.escalate(t, e.claimOne(t, "2026-09-23 00:00", "2026-09-22 23:59"))
	if evs := eventsOf(t, e, c.ID, "escalated"); len(evs) != 1 || evs[0].Note != "to lead at 70% of the term" {
		t.Fatalf("escalations %+v", evs)
	}
	e.claimOne(t, "2026-09-26 00:00", "2026-09-25 23:59") // 90%: the 13th day plus five
}

func TestPauseRestartRule(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	ctx := t.Context()
	e.cases = handoff.NewCases(e.store, handoff.CasesConfig{Now: e.clock.now, Jobs: e.store, Tenants: e.store, Policies: e.store})
	if err := e.cases.PutPolicy(ctx, e.tenant.ID, handoff.CasePolicy{Rules: handoff.CaseRules{Pause: handoff.PauseRestart}}); err != nil {
		t.Fatal(err)
	}
	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID
	e.clock.set(atBogota(t, "2026-09-01 10:00"))
	c := e.fileType(t, contact, handoff.Queja)
	e.clock.set(atBogota(t, "2026-09-03 11:00"))
	mustCase(t)(e.cases.Pause(ctx, e.tenant.ID, c.ID, "Falta el número de pedido", "agent:ana"))
	e.clock.set(atBogota(t, "2026-09-10 09:00"))
	c = mustCase(t)(e.cases.Resume(ctx, e.tenant, c.ID, "agent:ana"))
	// The whole term again from the 10th: 15 business days end on 1 October.
	if got := c.Due.In(mustZone("America/Bogota")).Format(time.DateOnly); got != "2026-10-01" {
		t.Fatalf("restarted case due %s, want 2026-10-01", got)
	}
}

// TestCustomerAnswerResumes: the customer's next message resumes the term,
// unless the tenant resumes by hand.
func TestCustomerAnswerResumes(t *testing.T) {
	for _, manual := range []bool{false, true} {
		e := newCaseEnv(t, handoff.CasesConfig{})
		ctx := t.Context()
		msg := e.write(t, conversation.ChannelWebchat, "v1", text("hola"))
		e.clock.set(atBogota(t, "2026-09-01 10:00"))
		c := e.fileType(t, msg.ContactID, handoff.Queja)
		e.cases = handoff.NewCases(e.store, handoff.CasesConfig{Now: e.clock.now, Tenants: e.store,
			Rules: handoff.CaseRules{ManualResume: manual}})
		e.clock.set(atBogota(t, "2026-09-03 11:00"))
		mustCase(t)(e.cases.Pause(ctx, e.tenant.ID, c.ID, "Envíanos la factura", "agent:ana"))
		e.clock.set(atBogota(t, "2026-09-08 16:00"))
		answer := msg
		answer.ID, answer.CreatedAt, answer.Parts = msg.ID+100, e.clock.now(), []conversation.Part{text("adjunto la factura")}
		if _, _, err := e.cases.Intercept(ctx, conversation.Turn{Tenant: e.tenant, Contact: conversation.Contact{ID: msg.ContactID}, Message: answer}); err != nil {
			t.Fatal(err)
		}
		got, err := e.store.Case(ctx, e.tenant.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if manual != !got.PausedAt.IsZero() {
			t.Fatalf("manual=%v: paused at %v after the customer's answer", manual, got.PausedAt)
		}
		if !manual {
			evs := eventsOf(t, e, c.ID, "resumed")
			if len(evs) != 1 || evs[0].Actor != handoff.ActorContact+itoa(msg.ContactID) || got.PausedUnits != 3 {
				t.Fatalf("resume by the customer: %+v, paused %d days", evs, got.PausedUnits)
			}
		}
	}
}

func TestHourTerms(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	ctx := t.Context()
	e.cases = handoff.NewCases(e.store, handoff.CasesConfig{Now: e.clock.now, Jobs: e.store, Tenants: e.store,
		Rules: handoff.CaseRules{TermHours: map[handoff.CaseType]int{handoff.Queja: 4}}})
	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID
	for _, tt := range []struct{ name, filed, due string }{
		{"a working afternoon", "2026-11-17 10:00", "2026-11-17 14:00"},
		{"an evening", "2026-11-17 19:30", "2026-11-18 12:00"},
		{"a Friday afternoon", "2026-11-20 15:00", "2026-11-23 10:00"},
		{"a Sunday", "2026-11-22 11:00", "2026-11-23 12:00"},
		{"before a holiday Monday", "2026-11-13 16:00", "2026-11-17 11:00"},
		{"the year end", "2026-12-31 14:00", "2027-01-04 09:00"},
	} {
		e.clock.set(atBogota(t, tt.filed))
		c := e.fileType(t, contact, handoff.Queja)
		if got := c.Due.In(mustZone("America/Bogota")).Format("2006-01-02 15:04"); got != tt.due || c.TermHours != 4 || c.TermDays != 0 {
			t.Errorf("%s: filed %s, due %s (term %dh %dd), want %s", tt.name, tt.filed, got, c.TermHours, c.TermDays, tt.due)
		}
	}
	c := e.fileType(t, contact, handoff.Peticion)
	if c.TermHours != 0 || c.TermDays != 15 {
		t.Fatalf("a petición has a term of %dh %dd, want 15 days", c.TermHours, c.TermDays)
	}
	_, err := e.cases.Extend(ctx, e.tenant, e.fileType(t, contact, handoff.Queja).ID, 2, "más tiempo", "agent:ana")
	wantCode(t, err, conversation.ECONFLICT, "extending a term in hours")
}

// TestHourTermEscalationAndPause: the levels of a term in hours fall in
// business hours, and a pause moves them by the business time it lasted.
// (The job store claims by the real clock: these dates are past.)
func TestHourTermEscalationAndPause(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	ctx := t.Context()
	e.cases = handoff.NewCases(e.store, handoff.CasesConfig{Now: e.clock.now, Jobs: e.store, Tenants: e.store,
		Rules: handoff.CaseRules{TermHours: map[handoff.CaseType]int{handoff.Queja: 4}}})
	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID
	// Friday 13 November 15:00: two hours that day, two on Tuesday from
	// 08:00 (Monday is a holiday; the default hours are 08:00 to 17:00).
	// 70% is 2h48m in: Tuesday 08:48.
	e.clock.set(atBogota(t, "2026-11-13 15:00"))
	c := e.fileType(t, contact, handoff.Queja)
	e.escalate(t, e.claimOne(t, "2026-11-17 08:50", "2026-11-17 08:48"))
	e.clock.set(atBogota(t, "2026-11-17 09:00"))
	mustCase(t)(e.cases.Pause(ctx, e.tenant.ID, c.ID, "Falta la foto del producto", "agent:ana"))
	e.clock.set(atBogota(t, "2026-11-17 13:00"))
	c = mustCase(t)(e.cases.Resume(ctx, e.tenant, c.ID, "agent:ana"))
	if got := c.Due.In(mustZone("America/Bogota")).Format("2006-01-02 15:04"); got != "2026-11-17 14:00" || c.PausedUnits != 240 {
		t.Fatalf("resumed: due %s, paused %d minutes; want 14:00 and 240", got, c.PausedUnits)
	}
	if evs := eventsOf(t, e, c.ID, "resumed"); len(evs) != 1 || evs[0].Note != "after 4h0m0s of business hours paused (resume): 1h0m0s left, due 2026-11-17 14:00" {
		t.Fatalf("resume events %+v", evs)
	}
	// Two 90% jobs wait: the one scheduled before the pause (09:36), and
	// the one of the moved level (13:36). At 13:36 both run; the level is
	// reached once.
	e.clock.set(atBogota(t, "2026-11-17 13:36"))
	jobs, err := e.store.ClaimJobs(ctx, []string{handoff.JobCaseEscalation}, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var due []string
	for _, j := range jobs {
		due = append(due, j.RunAt.In(mustZone("America/Bogota")).Format("15:04"))
		e.escalate(t, j)
	}
	slices.Sort(due)
	if !slices.Equal(due, []string{"09:36", "13:36"}) {
		t.Fatalf("90%% jobs due at %v, want 09:36 and 13:36", due)
	}
	if evs := eventsOf(t, e, c.ID, "escalated"); len(evs) != 2 || evs[1].Note != "to supervisor at 90% of the term" {
		t.Fatalf("escalations %+v", evs)
	}
}

func (c *syncClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func asError(err error, target **conversation.Error) bool { return errors.As(err, target) }

// TestEscalationTellsTheChain: each level's people are told once, by
// email from the tenant's email account (they are staff, no contacts)
// and on their console's topic, and it is recorded; the team lead is the
// case's team's supervisor.
func TestEscalationTellsTheChain(t *testing.T) {
	e := newStaffEnv(t, true)
	ctx := t.Context()
	bus := memory.New()
	billing, orders := e.team(t, e.tenant.ID, "Facturación"), e.team(t, e.tenant.ID, "Pedidos")
	linaAddr, _ := e.mail.AddUser(t, "lina")
	martaAddr, _ := e.mail.AddUser(t, "marta")
	ana := e.agent(t, "Ana", "", handoff.RoleAgent, billing.ID)
	lead := e.agent(t, "Lina", linaAddr, handoff.RoleSupervisor, billing.ID)
	otherLead := e.agent(t, "Omar", "", handoff.RoleSupervisor, orders.ID) // no email address
	boss := e.agent(t, "Marta", martaAddr, handoff.RoleAdmin)

	sub, err := bus.Subscribe(ctx, handoff.AgentTopic(e.tenant.ID, lead.ID), handoff.AgentTopic(e.tenant.ID, ana.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var n notifier
	n.svc = e.notify
	e.cases = handoff.NewCases(e.store, handoff.CasesConfig{Now: e.clock.now, Jobs: e.store, Tenants: e.store, Contacts: e.store,
		Notifier: &n, Agents: e.store, Bus: bus, Staff: &staffNotifier{e.staff}})

	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID
	e.clock.set(atBogota(t, "2026-09-01 10:00"))
	c := e.fileType(t, contact, handoff.Queja)
	mustCase(t)(e.cases.Assign(ctx, e.tenant.ID, c.ID, ana.ID, billing.ID, "agent:lina"))
	e.runNotices(t)

	e.escalate(t, e.claimOne(t, "2026-09-16 00:00", "2026-09-15 23:59"))
	select {
	case m := <-sub.C():
		var ev map[string]any
		if err := json.Unmarshal(m.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		if m.Topic != handoff.AgentTopic(e.tenant.ID, lead.ID) || ev["type"] != handoff.CaseEventType || ev["radicado"] != c.Radicado || ev["level"] != "lead" {
			t.Fatalf("console event %s %s", m.Topic, m.Payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the team lead's console was not told")
	}
	select {
	case m := <-sub.C():
		t.Fatalf("a second console event %s %s (the assignee is no lead; a retry tells nobody again)", m.Topic, m.Payload)
	default:
	}
	// At midnight: staff emails wait for no quiet hours.
	if errs := e.runStaffJobs(t); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("level 1 staff email jobs: %v", errs)
	}
	sent, err := e.staff.List(ctx, e.tenant.ID, notify.StaffFilter{Status: notify.StatusSent})
	if err != nil || len(sent) != 1 || sent[0].To != linaAddr || sent[0].Data["radicado"] != c.Radicado || sent[0].Data["share"] != "70" {
		t.Fatalf("level 1 staff emails %+v, %v", sent, err)
	}

	// 90%: every supervisor; Omar has no email address, which is recorded.
	e.escalate(t, e.claimOne(t, "2026-09-19 00:00", "2026-09-18 23:59"))
	// Breach: the admins.
	e.escalate(t, e.claimOne(t, "2026-09-23 00:00", "2026-09-22 23:59"))
	notices := eventsOf(t, e.caseEnv, c.ID, "level_notice")
	want := []string{
		"level 1 (lead): told agent " + itoa(lead.ID) + " (email, console)",
		"level 2 (supervisor): told agent " + itoa(lead.ID) + " (email, console); agent " + itoa(otherLead.ID) + " (email not sent: agent " + itoa(otherLead.ID) + " has no email address, console)",
		"level 3 (manager): told agent " + itoa(boss.ID) + " (email, console)",
	}
	var got []string
	for _, ev := range notices {
		got = append(got, ev.Note)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("level notices\n got %q\nwant %q", got, want)
	}
	if errs := e.runStaffJobs(t); len(errs) != 2 {
		t.Fatalf("levels 2 and 3 ran %d staff email jobs, want 2", len(errs))
	}
	if sent, _ := e.staff.List(ctx, e.tenant.ID, notify.StaffFilter{Status: notify.StatusSent}); len(sent) != 3 {
		t.Fatalf("%d staff emails sent, want 3", len(sent))
	}
	if ns, _ := e.notify.List(ctx, e.tenant.ID, notify.Filter{Purpose: handoff.PurposeEscalated}); len(ns) != 0 {
		t.Fatalf("%d escalation notifications to contacts", len(ns))
	}
}

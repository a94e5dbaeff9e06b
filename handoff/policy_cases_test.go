package handoff_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/storage/sqlite"
)

// policyEnv is two tenants of one store, A with its own case policy and B
// on the server's settings, and the case service of a node.
type policyEnv struct {
	store *sqlite.Store
	cases *handoff.Cases
	clock *clock
	a, b  conversation.Tenant
	// contacts by tenant ID.
	contacts map[int64]int64
}

// policyA is tenant A's policy: a queja answered in 5 business days, a
// company day off on Friday 4 September 2026, a two-level chain, reclamos
// urgent, denuncias in 4 business hours, and extensions of at most 3 days.
var policyA = handoff.CasePolicy{
	Terms:    map[handoff.CaseType]int{handoff.Queja: 5},
	Holidays: []string{"2026-09-04"},
	Rules:    handoff.CaseRules{TermHours: map[handoff.CaseType]int{handoff.Denuncia: 4}},
	Levels: []handoff.Level{
		{At: 0.4, To: "lead", Notify: []string{handoff.TargetTeamLead}},
		{At: 1, To: "manager", Notify: []string{"role:admin"}},
	},
	UrgentTypes:      []handoff.CaseType{handoff.Reclamo},
	MaxExtensionDays: 3,
}

func newPolicyEnv(t *testing.T) *policyEnv {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &policyEnv{store: store, clock: &clock{atBogota(t, "2026-09-01 10:00")}, contacts: map[int64]int64{}}
	e.cases = e.node()
	for i, slug := range []string{"acme", "globex"} {
		tn, err := store.CreateTenant(ctx, conversation.Tenant{Slug: slug, Name: slug, Language: "es", Region: "CO", TimeZone: "America/Bogota"})
		if err != nil {
			t.Fatal(err)
		}
		acct, err := store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: slug + "-web", Name: "Web"})
		if err != nil {
			t.Fatal(err)
		}
		res, err := store.Ingest(ctx, []conversation.IngestRequest{{TenantID: tn.ID, AccountID: acct.ID, Inbound: conversation.Inbound{
			Channel: conversation.ChannelWebchat, Account: acct.Key, From: "visitor", ProviderID: slug + "-m1", Parts: []conversation.Part{conversation.TextPart("hola")},
		}}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res[0].Err)
		}
		e.contacts[tn.ID] = res[0].Message.ContactID
		if i == 0 {
			e.a = tn
		} else {
			e.b = tn
		}
	}
	if err := e.cases.PutPolicy(ctx, e.a.ID, policyA); err != nil {
		t.Fatal(err)
	}
	return e
}

// node returns a case service on the env's store, as another node runs it.
func (e *policyEnv) node() *handoff.Cases {
	return handoff.NewCases(e.store, handoff.CasesConfig{Now: e.clock.now, Jobs: e.store, Tenants: e.store, Policies: e.store})
}

func (e *policyEnv) file(t *testing.T, cases *handoff.Cases, tn conversation.Tenant, typ handoff.CaseType) handoff.Case {
	t.Helper()
	c, err := cases.File(t.Context(), tn, handoff.Filing{Type: typ, ContactID: e.contacts[tn.ID], Description: "No llegó el pedido", Actor: "api:k"})
	return mustCase(t)(c, err)
}

// claim claims the due escalation jobs (the store claims by the real
// clock: these dates are past) and returns those of case c with their run
// times and levels, in Bogotá.
func (e *policyEnv) claim(t *testing.T, c handoff.Case) ([]string, []conversation.Job) {
	t.Helper()
	at, jobs := e.claimAll(t)
	return at[c.ID], jobs[c.ID]
}

// claimAll claims the due escalation jobs and returns them by case.
func (e *policyEnv) claimAll(t *testing.T) (map[int64][]string, map[int64][]conversation.Job) {
	t.Helper()
	jobs, err := e.store.ClaimJobs(t.Context(), []string{handoff.JobCaseEscalation}, 50, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	at, byCase := map[int64][]string{}, map[int64][]conversation.Job{}
	for _, j := range jobs {
		at[j.Ref] = append(at[j.Ref], j.RunAt.In(mustZone("America/Bogota")).Format("2006-01-02 15:04")+" level "+string(j.Payload))
		byCase[j.Ref] = append(byCase[j.Ref], j)
	}
	return at, byCase
}

func dueOf(c handoff.Case) string {
	return c.Due.In(mustZone("America/Bogota")).Format("2006-01-02 15:04")
}

// TestPolicyTermsAndHolidays: filed at the same moment, A's queja is due in
// 5 business days that skip its company day, B's in the law's 15.
func TestPolicyTermsAndHolidays(t *testing.T) {
	e := newPolicyEnv(t)
	a := e.file(t, e.cases, e.a, handoff.Queja)
	b := e.file(t, e.cases, e.b, handoff.Queja)
	// From Wednesday 2 September: 2, 3, (4 off), 7, 8, 9.
	if a.TermDays != 5 || dueOf(a) != "2026-09-09 23:59" {
		t.Errorf("A's queja: %d days, due %s; want 5, 2026-09-09 23:59", a.TermDays, dueOf(a))
	}
	if b.TermDays != 15 || dueOf(b) != "2026-09-22 23:59" {
		t.Errorf("B's queja: %d days, due %s; want 15, 2026-09-22 23:59", b.TermDays, dueOf(b))
	}
	// A type A leaves alone keeps the law's term, on A's calendar: 15
	// business days from the 2nd without the 4th end on the 23rd.
	if p := e.file(t, e.cases, e.a, handoff.Peticion); p.TermDays != 15 || dueOf(p) != "2026-09-23 23:59" {
		t.Errorf("A's petición: %d days, due %s; want 15, 2026-09-23 23:59", p.TermDays, dueOf(p))
	}
	// A's denuncia is in business hours, which skip its day off: Thursday
	// 16:00 to 17:00, then Monday 08:00 to 11:00.
	e.clock.t = atBogota(t, "2026-09-03 16:00")
	if d := e.file(t, e.cases, e.a, handoff.Denuncia); d.TermHours != 4 || dueOf(d) != "2026-09-07 11:00" {
		t.Errorf("A's denuncia: %dh, due %s; want 4h, 2026-09-07 11:00", d.TermHours, dueOf(d))
	}
	if d := e.file(t, e.cases, e.b, handoff.Denuncia); d.TermHours != 0 || d.TermDays != 15 {
		t.Errorf("B's denuncia: %dh %dd, want 15 days", d.TermHours, d.TermDays)
	}
}

// TestPolicyEscalation: A's chain is scheduled at its shares of A's term,
// B's at the server's; a job scheduled under an old chain follows the
// current one.
func TestPolicyEscalation(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := t.Context()
	a := e.file(t, e.cases, e.a, handoff.Queja)
	b := e.file(t, e.cases, e.b, handoff.Queja)
	// 40% of 5 days is 2: the end of Thursday the 3rd.
	all, claimed := e.claimAll(t)
	if !slices.Equal(all[a.ID], []string{"2026-09-03 23:59 level 0"}) {
		t.Fatalf("A's escalation jobs %v", all[a.ID])
	}
	if !slices.Equal(all[b.ID], []string{"2026-09-15 23:59 level 0"}) {
		t.Fatalf("B's escalation jobs %v (the server's 70%%: the 10th business day)", all[b.ID])
	}
	jobs := claimed[a.ID]
	e.clock.t = atBogota(t, "2026-09-04 00:00")
	if err := e.cases.EscalateJob(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
	must(t, e.store.CompleteJob(ctx, jobs[0]))
	before, err := e.store.CaseHistory(ctx, e.a.ID, a.ID)
	must(t, err)
	if ev := before[1]; ev.Kind != "escalated" || ev.Note != "to lead at 40% of the term" {
		t.Fatalf("event after filing %+v", ev)
	}
	at, jobs := e.claim(t, a)
	if !slices.Equal(at, []string{"2026-09-09 23:59 level 1"}) {
		t.Fatalf("A's next escalation %v", at)
	}

	// A's new chain has one level, at 60% of the term. The job of level 1
	// finds none and does nothing; the due date stays.
	p := policyA
	p.Levels = []handoff.Level{{At: 0.6, To: "supervisor"}}
	must(t, e.cases.PutPolicy(ctx, e.a.ID, p))
	e.clock.t = atBogota(t, "2026-09-10 00:00")
	if err := e.cases.EscalateJob(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
	if got, err := e.store.CaseHistory(ctx, e.a.ID, a.ID); err != nil || len(got) != len(before) {
		t.Fatalf("a job of a level gone recorded %+v, %v", got, err)
	}
	if c, err := e.store.Case(ctx, e.a.ID, a.ID); err != nil || !c.Due.Equal(a.Due) || c.TermDays != 5 {
		t.Fatalf("after a new policy the case is %+v, %v; its term changed", c, err)
	}

	// A case filed before the change, whose level 0 job is due at 40%,
	// waits for the new level 0 at 60% (3 of 5 days: the 7th).
	e.clock.t = atBogota(t, "2026-09-01 10:00")
	must(t, e.cases.PutPolicy(ctx, e.a.ID, policyA))
	old := e.file(t, e.cases, e.a, handoff.Queja)
	must(t, e.cases.PutPolicy(ctx, e.a.ID, p))
	_, jobs = e.claim(t, old)
	e.clock.t = atBogota(t, "2026-09-04 00:00")
	if err := e.cases.EscalateJob(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}
	must(t, e.store.CompleteJob(ctx, jobs[0]))
	if at, _ := e.claim(t, old); !slices.Equal(at, []string{"2026-09-07 23:59 level 0"}) {
		t.Fatalf("the old job rescheduled at %v", at)
	}
}

// TestPolicyUrgentTypes: A's urgent types take the place of the server's.
func TestPolicyUrgentTypes(t *testing.T) {
	e := newPolicyEnv(t)
	for _, tt := range []struct {
		tn     conversation.Tenant
		typ    handoff.CaseType
		status handoff.CaseStatus
	}{
		{e.a, handoff.Reclamo, handoff.Escalado},
		{e.a, handoff.Peticion, handoff.Radicado},
		{e.b, handoff.Reclamo, handoff.Radicado},
		{e.b, handoff.Denuncia, handoff.Escalado},
	} {
		c := e.file(t, e.cases, tt.tn, tt.typ)
		if c.Status != tt.status || (tt.status == handoff.Escalado) != (c.Priority == handoff.PriorityUrgent) {
			t.Errorf("%s's %s: status %s, priority %q; want %s", tt.tn.Slug, tt.typ, c.Status, c.Priority, tt.status)
		}
	}
	c := e.file(t, e.cases, e.a, handoff.Reclamo)
	hist, err := e.store.CaseHistory(t.Context(), e.a.ID, c.ID)
	if err != nil || len(hist) < 2 || hist[1].Note != "to lead at filing: urgent (a reclamo is urgent)" {
		t.Fatalf("history of A's reclamo %+v, %v", hist, err)
	}
	// It starts at A's first level: the next job is A's level 1, the
	// breach of the law's 15 days on A's calendar.
	if at, _ := e.claim(t, c); !slices.Equal(at, []string{"2026-09-23 23:59 level 1"}) {
		t.Fatalf("A's urgent reclamo scheduled %v", at)
	}
}

// TestPolicyExtensionMaximum: A allows 3 days of extension, B the law's
// maximum, the term.
func TestPolicyExtensionMaximum(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := t.Context()
	a := e.file(t, e.cases, e.a, handoff.Queja)
	_, err := e.cases.Extend(ctx, e.a, a.ID, 4, "Esperamos al proveedor", "agent:ana")
	if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "days" {
		t.Fatalf("A's extension of 4 days: %v, want EINVALID days", err)
	}
	// 3 business days after the 9th: 10, 11, 14.
	if a = mustCase(t)(e.cases.Extend(ctx, e.a, a.ID, 3, "Esperamos al proveedor", "agent:ana")); dueOf(a) != "2026-09-14 23:59" {
		t.Fatalf("A's extended case due %s, want 2026-09-14 23:59", dueOf(a))
	}
	b := e.file(t, e.cases, e.b, handoff.Queja)
	if _, err := e.cases.Extend(ctx, e.b, b.ID, 16, "Esperamos al proveedor", "agent:ana"); conversation.ErrorField(err) != "days" {
		t.Fatalf("B's extension beyond the law: %v", err)
	}
	if b = mustCase(t)(e.cases.Extend(ctx, e.b, b.ID, 15, "Esperamos al proveedor", "agent:ana")); b.ExtendedDays != 15 {
		t.Fatalf("B's extension %+v", b)
	}
}

// TestPolicyCache: the node that stores a policy applies it at once;
// another node within PolicyTTL by the injected clock.
func TestPolicyCache(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := t.Context()
	other := e.node()
	if c := e.file(t, other, e.a, handoff.Queja); c.TermDays != 5 {
		t.Fatalf("the other node files A's queja in %d days, want 5", c.TermDays)
	}
	p := policyA
	p.Terms = map[handoff.CaseType]int{handoff.Queja: 7}
	must(t, e.cases.PutPolicy(ctx, e.a.ID, p))
	if c := e.file(t, e.cases, e.a, handoff.Queja); c.TermDays != 7 {
		t.Fatalf("after PutPolicy this node files in %d days, want 7", c.TermDays)
	}
	if c := e.file(t, other, e.a, handoff.Queja); c.TermDays != 5 {
		t.Fatalf("within the TTL the other node files in %d days, want its cached 5", c.TermDays)
	}
	e.clock.t = e.clock.t.Add(handoff.DefaultPolicyTTL)
	if c := e.file(t, other, e.a, handoff.Queja); c.TermDays != 7 {
		t.Fatalf("after the TTL the other node files in %d days, want 7", c.TermDays)
	}
}

// TestPolicyView: Policy shows what is stored and what applies, per
// tenant; a bad policy is refused naming its field and changes nothing.
func TestPolicyView(t *testing.T) {
	e := newPolicyEnv(t)
	ctx := t.Context()
	va, err := e.cases.Policy(ctx, e.a.ID)
	must(t, err)
	if va.Stored == nil || va.Stored.Terms[handoff.Queja] != 5 || va.Effective.Terms[handoff.Queja] != 5 ||
		va.Effective.Terms[handoff.Consulta] != 30 || va.Effective.Rules.Pause != handoff.PauseResume ||
		!slices.Equal(va.Effective.UrgentTypes, []handoff.CaseType{handoff.Reclamo}) || len(va.Effective.Levels) != 2 {
		t.Fatalf("A's policy %+v", va)
	}
	va.Effective.Terms[handoff.Queja] = 99 // the caller's copy
	vb, err := e.cases.Policy(ctx, e.b.ID)
	must(t, err)
	if vb.Stored != nil || vb.Effective.Terms[handoff.Queja] != 15 || len(vb.Effective.Levels) != 3 ||
		!slices.Equal(vb.Effective.UrgentTypes, []handoff.CaseType{handoff.Denuncia}) || vb.Effective.MaxExtensionDays != 0 {
		t.Fatalf("B's policy %+v", vb)
	}
	err = e.cases.PutPolicy(ctx, e.b.ID, handoff.CasePolicy{Holidays: []string{"2026-13-01"}})
	if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "holidays[0]" {
		t.Fatalf("bad holiday: %v", err)
	}
	if _, err := e.store.CasePolicy(ctx, e.b.ID); !conversation.IsNotFound(err) {
		t.Fatalf("a refused policy was stored: %v", err)
	}
	if err := e.cases.PutPolicy(ctx, e.b.ID+100, policyA); !conversation.IsNotFound(err) {
		t.Fatalf("policy of no tenant: %v", err)
	}
	if va, _ = e.cases.Policy(ctx, e.a.ID); va.Effective.Terms[handoff.Queja] != 5 {
		t.Fatalf("a caller changed the cached policy: %+v", va.Effective.Terms)
	}
	none := handoff.NewCases(e.store, handoff.CasesConfig{})
	if err := none.PutPolicy(ctx, e.a.ID, policyA); conversation.ErrorCode(err) != conversation.EUNAVAILABLE {
		t.Fatalf("PutPolicy without a store: %v", err)
	}
}

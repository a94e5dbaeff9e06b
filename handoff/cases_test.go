package handoff_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/storage/sqlite"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newCases(t *testing.T) (*handoff.Cases, *sqlite.Store, conversation.Tenant, int64, *clock) {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tenant, err := store.CreateTenant(t.Context(), conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := store.CreateChannelAccount(t.Context(), conversation.ChannelAccount{TenantID: tenant.ID, Kind: conversation.ChannelWebchat, Key: "acme-web", Name: "Web"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.Ingest(t.Context(), []conversation.IngestRequest{{TenantID: tenant.ID, AccountID: acct.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelWebchat, Account: acct.Key, From: "visitor-1", ProviderID: "m1", Parts: []conversation.Part{conversation.TextPart("quiero poner una queja")},
	}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	bogota, _ := time.LoadLocation("America/Bogota")
	clk := &clock{time.Date(2026, 11, 2, 10, 0, 0, 0, bogota)} // a holiday Monday
	return handoff.NewCases(store, handoff.CasesConfig{Now: clk.now}), store, tenant, res[0].Message.ContactID, clk
}

func TestFileCase(t *testing.T) {
	cases, store, tenant, contact, _ := newCases(t)
	valid := handoff.Filing{Type: handoff.Queja, ContactID: contact, Channel: "webchat", Description: "Me cobraron dos veces la factura de octubre.", Fields: map[string]string{"email": "ana@example.com"}, Actor: "bot"}

	for name, tt := range map[string]struct {
		mutate func(*handoff.Filing)
		field  string
	}{
		"no type":          {func(f *handoff.Filing) { f.Type = "" }, "type"},
		"unknown type":     {func(f *handoff.Filing) { f.Type = "tutela" }, "type"},
		"no contact":       {func(f *handoff.Filing) { f.ContactID = 0 }, "contact_id"},
		"no description":   {func(f *handoff.Filing) { f.Description = "  " }, "description"},
		"huge description": {func(f *handoff.Filing) { f.Description = strings.Repeat("a", 10001) }, "description"},
		"no actor":         {func(f *handoff.Filing) { f.Actor = "" }, "actor"},
	} {
		t.Run(name, func(t *testing.T) {
			f := valid
			tt.mutate(&f)
			_, err := cases.File(t.Context(), tenant, f)
			if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != tt.field {
				t.Fatalf("err = %v, want invalid %s", err, tt.field)
			}
		})
	}

	c, err := cases.File(t.Context(), tenant, valid)
	if err != nil {
		t.Fatal(err)
	}
	// Filed on a holiday Monday: 15 business days from Tuesday 3 November,
	// skipping Monday 16 November, end on Tuesday 24 November in Bogotá.
	if c.Radicado != "PQR-2026-000001" || c.Status != handoff.Radicado || c.TermDays != 15 ||
		c.Due.Format("2006-01-02 15:04 MST") != "2026-11-24 23:59 -05" {
		t.Fatalf("case %+v (due %s)", c, c.Due)
	}
	second, err := cases.File(t.Context(), tenant, valid)
	if err != nil || second.Radicado != "PQR-2026-000002" {
		t.Fatalf("second case %q, %v", second.Radicado, err)
	}
	got, err := store.CaseByRadicado(t.Context(), tenant.ID, "PQR-2026-000001")
	if err != nil || got.ID != c.ID || got.Fields["email"] != "ana@example.com" {
		t.Fatalf("by radicado: %+v, %v", got, err)
	}
	hist, err := store.CaseHistory(t.Context(), tenant.ID, c.ID)
	if err != nil || len(hist) != 1 || hist[0].Kind != "filed" || hist[0].Actor != "bot" {
		t.Fatalf("history %+v, %v", hist, err)
	}
}

func TestCaseTransitionsAndExtension(t *testing.T) {
	cases, store, tenant, contact, clk := newCases(t)
	c, err := cases.File(t.Context(), tenant, handoff.Filing{Type: handoff.Peticion, ContactID: contact, Description: "Solicito copia de mi contrato.", Actor: "agent:ana"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = cases.Transition(t.Context(), tenant.ID, c.ID, handoff.EnTramite, "agent:ana", "tomado"); err != nil || c.Status != handoff.EnTramite {
		t.Fatalf("to en_tramite: %+v, %v", c, err)
	}
	_, err = cases.Transition(t.Context(), tenant.ID, c.ID, handoff.Cerrado, "agent:ana", "")
	if !conversation.IsConflict(err) || !strings.Contains(err.Error(), "allowed: escalado, resuelto") {
		t.Fatalf("en_tramite → cerrado: %v", err)
	}

	// The extension: at most the first term, with a reason, once.
	if _, err := cases.Extend(t.Context(), tenant, c.ID, 16, "falta información", "agent:ana"); conversation.ErrorField(err) != "days" {
		t.Fatalf("16 days: %v", err)
	}
	if _, err := cases.Extend(t.Context(), tenant, c.ID, 10, " ", "agent:ana"); conversation.ErrorField(err) != "reason" {
		t.Fatalf("no reason: %v", err)
	}
	ext, err := cases.Extend(t.Context(), tenant, c.ID, 10, "Esperamos la respuesta del área de facturación.", "agent:ana")
	if err != nil {
		t.Fatal(err)
	}
	// From Tuesday 24 November, 10 business days skip Tuesday 8 December.
	if got := ext.Due.Format("2006-01-02 15:04"); got != "2026-12-09 23:59" || ext.ExtendedDays != 10 {
		t.Fatalf("extended due %s, %+v", got, ext)
	}
	if _, err := cases.Extend(t.Context(), tenant, c.ID, 5, "otra vez", "agent:ana"); !conversation.IsConflict(err) {
		t.Fatalf("a second extension: %v", err)
	}

	// An extension after the term ended is refused.
	late, err := cases.File(t.Context(), tenant, handoff.Filing{Type: handoff.Informacion, ContactID: contact, Description: "Certificado de paz y salvo.", Actor: "api:crm"})
	if err != nil {
		t.Fatal(err)
	}
	clk.t = late.Due.Add(time.Minute)
	if _, err := cases.Extend(t.Context(), tenant, late.ID, 5, "tarde", "agent:ana"); !conversation.IsConflict(err) || !strings.Contains(err.Error(), "must come before") {
		t.Fatalf("a late extension: %v", err)
	}

	hist, err := store.CaseHistory(t.Context(), tenant.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range hist {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "filed,status,extended" || hist[1].From != handoff.Radicado || hist[1].To != handoff.EnTramite || hist[1].Note != "tomado" {
		t.Fatalf("history %+v", hist)
	}
}

// TestCreateCaseAction files the case the bot asks for, answers with the
// filing number and due date, and files it once however often the route
// job runs.
func TestCreateCaseAction(t *testing.T) {
	cases, store, tenant, contact, _ := newCases(t)
	turn := conversation.Turn{
		Tenant:       tenant,
		Conversation: conversation.Conversation{ID: 7, TenantID: tenant.ID},
		Contact:      conversation.Contact{ID: contact, TenantID: tenant.ID},
		Message:      conversation.Message{ID: 42, Channel: conversation.ChannelWebchat, Parts: []conversation.Part{conversation.TextPart("ana@example.com")}},
	}
	action := conversation.Action{Name: conversation.ActionCreateCase, Params: map[string]string{
		"type": "queja", "language": "es", "channel": "webchat", "flow": "complaint",
		"description": "Me cobraron dos veces.", "email": "ana@example.com",
	}}
	var replies []string
	for range 2 {
		parts, err := cases.HandleAction(t.Context(), turn, action)
		if err != nil {
			t.Fatal(err)
		}
		replies = append(replies, parts[0].Text)
	}
	want := "Tu caso quedó radicado con el número PQR-2026-000001. Recibirás respuesta a más tardar el 24 de noviembre de 2026."
	if replies[0] != want || replies[1] != want {
		t.Fatalf("replies %q, want twice %q", replies, want)
	}
	c, err := store.CaseBySource(t.Context(), tenant.ID, "message:42")
	if err != nil || c.Type != handoff.Queja || c.Description != "Me cobraron dos veces." || c.ConversationID != 7 ||
		c.Fields["email"] != "ana@example.com" || c.Fields["flow"] != "" || c.Channel != "webchat" {
		t.Fatalf("case %+v, %v", c, err)
	}
	if _, err := store.CaseByRadicado(t.Context(), tenant.ID, "PQR-2026-000002"); !conversation.IsNotFound(err) {
		t.Fatalf("a second case was filed: %v", err)
	}

	// An unknown type files a petition; English gets English; a message
	// without a description gives its text.
	turn.Message.ID = 43
	parts, err := cases.HandleAction(t.Context(), turn, conversation.Action{Name: conversation.ActionCreateCase, Params: map[string]string{"type": "tutela", "language": "en"}})
	if err != nil || parts[0].Text != "Your case was filed with number PQR-2026-000002. You will get an answer by November 24, 2026 at the latest." {
		t.Fatalf("%+v, %v", parts, err)
	}
	c, _ = store.CaseBySource(t.Context(), tenant.ID, "message:43")
	if c.Type != handoff.Peticion || c.Description != "ana@example.com" {
		t.Fatalf("case %+v", c)
	}
}

// TestEscalation files a case and runs its escalation jobs as the worker
// would, with the service's clock at each level: each level is recorded
// once, a late run says so, the next level is scheduled, an extension moves
// the breach, and an answered case is left alone. The case is filed in the
// past, so that the store finds every job due.
func TestEscalation(t *testing.T) {
	_, store, tenant, contact, clk := newCases(t)
	cases := handoff.NewCases(store, handoff.CasesConfig{Now: clk.now, Jobs: store, Tenants: store})
	bogota, _ := time.LoadLocation("America/Bogota")
	at := func(s string) time.Time {
		x, err := time.ParseInLocation("2006-01-02 15:04", s, bogota)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	must := func(c handoff.Case, err error) handoff.Case {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	claim := func(now, due string) conversation.Job {
		t.Helper()
		clk.t = at(now)
		jobs, err := store.ClaimJobs(t.Context(), []string{handoff.JobCaseEscalation}, 10, time.Minute)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claimed %d escalation jobs, want 1 (%v)", len(jobs), err)
		}
		if got := jobs[0].RunAt.In(bogota).Format("2006-01-02 15:04"); got != due {
			t.Fatalf("escalation job due %s, want %s", got, due)
		}
		return jobs[0]
	}
	run := func(j conversation.Job) {
		t.Helper()
		if err := cases.EscalateJob(t.Context(), j); err != nil {
			t.Fatal(err)
		}
	}

	// Filed Tuesday 1 September 2026: 15 business days end on the 22nd;
	// 70% is the end of the 10th (the 15th), 90% of the 13th (the 18th).
	clk.t = at("2026-09-01 10:00")
	c := must(cases.File(t.Context(), tenant, handoff.Filing{Type: handoff.Queja, ContactID: contact, Description: "No llegó el técnico.", Actor: "bot"}))
	j := claim("2026-09-16 00:00", "2026-09-15 23:59")
	run(j)
	run(j) // a retried job records nothing twice
	if got := must(store.Case(t.Context(), tenant.ID, c.ID)); got.Status != handoff.Escalado {
		t.Fatalf("status %s, want escalado", got.Status)
	}
	store.CompleteJob(t.Context(), j)

	j = claim("2026-09-19 09:00", "2026-09-18 23:59") // nine hours late
	run(j)
	store.CompleteJob(t.Context(), j)
	var notes []string
	hist, err := store.CaseHistory(t.Context(), tenant.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range hist {
		if e.Kind == "escalated" {
			notes = append(notes, e.Note)
		}
	}
	if len(notes) != 2 || notes[0] != "to lead at 70% of the term" || notes[1] != "to supervisor at 90% of the term (ran 9h0m0s late: no node was running at the time)" {
		t.Fatalf("escalations %q", notes)
	}

	// Extended by 5 business days before the breach: the breach job, run
	// at the old due date, schedules itself at the new one, the 29th.
	must(cases.Extend(t.Context(), tenant, c.ID, 5, "esperamos al proveedor", "agent:ana"))
	j = claim("2026-09-23 00:00", "2026-09-22 23:59")
	run(j)
	store.CompleteJob(t.Context(), j)
	j = claim("2026-09-30 00:00", "2026-09-29 23:59")

	// Once answered, nothing escalates.
	must(cases.Transition(t.Context(), tenant.ID, c.ID, handoff.Resuelto, "agent:ana", "respondido"))
	run(j)
	hist, _ = store.CaseHistory(t.Context(), tenant.ID, c.ID)
	if last := hist[len(hist)-1]; last.Kind != "status" || last.To != handoff.Resuelto {
		t.Fatalf("an answered case escalated: %+v", last)
	}
}

func TestLookup(t *testing.T) {
	cases, _, tenant, contact, _ := newCases(t)
	c, err := cases.File(t.Context(), tenant, handoff.Filing{Type: handoff.Queja, ContactID: contact, Channel: "webchat",
		Description: "Me cobraron dos veces la factura de octubre.", Actor: "bot",
		Fields: map[string]string{"email": "Ana.Perez@example.com", "document": "1.020.304.050"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	other := contact + 1000
	for _, tt := range []struct {
		name     string
		contact  int64
		radicado string
		proof    string
		found    bool
	}{
		{"the owner, in a sentence", contact, "¿cómo va el " + c.Radicado + "?", "", true},
		{"the owner, spaced", contact, "pqr 2026 1", "", true},
		{"another contact", other, c.Radicado, "", false},
		{"another contact with the email", other, c.Radicado, " ana.perez@EXAMPLE.com ", true},
		{"another contact with the document", other, c.Radicado, "1020304050", true},
		{"another contact with the document spaced", other, c.Radicado, "1 020 304-050", true},
		{"another contact with a wrong email", other, c.Radicado, "ana@example.com", false},
		{"another contact with a short proof", other, c.Radicado, "050", false},
		{"a number that does not exist", contact, "PQR-2026-000999", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cases.LookupVerified(ctx, tenant.ID, tt.contact, tt.radicado, tt.proof)
			if tt.found {
				if err != nil || got.ID != c.ID {
					t.Fatalf("LookupVerified = %+v, %v; want the case", got, err)
				}
				return
			}
			if !conversation.IsNotFound(err) {
				t.Fatalf("LookupVerified = %+v, %v; want not found", got, err)
			}
		})
	}
	if _, err := cases.Lookup(ctx, tenant.ID, contact, "no hay número"); conversation.ErrorCode(err) != conversation.EINVALID {
		t.Fatalf("Lookup without a number = %v; want invalid", err)
	}
}

func TestUrgentCasesStartHigher(t *testing.T) {
	_, store, tenant, contact, clk := newCases(t)
	cases := handoff.NewCases(store, handoff.CasesConfig{Now: clk.now, Jobs: store, Tenants: store, Contacts: store})
	ctx := t.Context()
	file := func(f handoff.Filing) (handoff.Case, []string, int) {
		t.Helper()
		f.ContactID, f.Actor = contact, "bot"
		if f.Description == "" {
			f.Description = "Me cobraron dos veces."
		}
		c, err := cases.File(ctx, tenant, f)
		if err != nil {
			t.Fatal(err)
		}
		hist, err := store.CaseHistory(ctx, tenant.ID, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var notes []string
		for _, e := range hist {
			if e.Kind == "escalated" {
				notes = append(notes, e.Note)
			}
		}
		// The first escalation scheduled: the test clock is weeks behind
		// the store's, so it is due at once.
		jobs, err := store.ClaimJobs(ctx, []string{handoff.JobCaseEscalation}, 10, time.Minute)
		if err != nil || len(jobs) != 1 || jobs[0].Ref != c.ID {
			t.Fatalf("claimed %+v, %v; want the one escalation of case %d", jobs, err, c.ID)
		}
		level, _ := strconv.Atoi(string(jobs[0].Payload))
		if err := store.CompleteJob(ctx, jobs[0]); err != nil {
			t.Fatal(err)
		}
		return c, notes, level
	}

	c, notes, level := file(handoff.Filing{Type: handoff.Queja})
	if c.Status != handoff.Radicado || c.Priority != "" || len(notes) != 0 || level != 0 {
		t.Fatalf("an ordinary queja: status %s, priority %q, escalations %q, first level %d", c.Status, c.Priority, notes, level)
	}
	for name, tt := range map[string]struct {
		filing handoff.Filing
		vip    bool
		why    string
	}{
		"a denuncia":            {handoff.Filing{Type: handoff.Denuncia}, false, "a denuncia is urgent"},
		"filed as urgent":       {handoff.Filing{Type: handoff.Queja, Priority: handoff.PriorityUrgent}, false, "filed as urgent"},
		"from a VIP customer":   {handoff.Filing{Type: handoff.Reclamo}, true, "a VIP contact"},
		"of a high triage risk": {handoff.Filing{Type: handoff.Reclamo, Fields: map[string]string{handoff.FieldRisk: "High"}}, false, "triage risk high"},
	} {
		t.Run(name, func(t *testing.T) {
			vip := ""
			if tt.vip {
				vip = "true"
			}
			if _, err := store.UpdateContact(ctx, tenant.ID, contact, conversation.ContactUpdate{Attributes: map[string]string{"vip": vip}}); err != nil {
				t.Fatal(err)
			}
			c, notes, level := file(tt.filing)
			if c.Status != handoff.Escalado || c.Priority != handoff.PriorityUrgent || level != 1 ||
				len(notes) != 1 || notes[0] != "to lead at filing: urgent ("+tt.why+")" {
				t.Fatalf("status %s, priority %q, escalations %q, first scheduled level %d; want escalado to the lead at filing, then level 1", c.Status, c.Priority, notes, level)
			}
		})
	}
}

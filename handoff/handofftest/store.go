// Package handofftest holds the contract suite that every handoff.CaseStore
// must pass.
package handofftest

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// prefix is the filing number prefix the suite files cases under.
const prefix = "PQR"

// TestCaseStore runs the handoff.CaseStore contract. newStore returns an
// empty store of its own for every subtest, as the conversation.Store that
// holds its tenants, contacts and conversations and the handoff.CaseStore
// under test (usually the same value); subtests run in parallel.
//
// Beyond the interface's words, the suite requires that times are kept to
// the microsecond, that Fields without entries come back as an empty map or
// nil, and that CaseHistory of a case that is not the tenant's returns
// ENOTFOUND.
func TestCaseStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, handoff.CaseStore)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cs conversation.Store, s handoff.CaseStore)
	}{
		{"Radicados", testRadicados},
		{"ConcurrentCreate", testConcurrentCreate},
		{"RoundTrip", testRoundTrip},
		{"FirstEvent", testFirstEvent},
		{"Update", testUpdate},
		{"UpdateConflict", testUpdateConflict},
		{"ConcurrentUpdate", testConcurrentUpdate},
		{"TenantIsolation", testTenantIsolation},
		{"Source", testSource},
		{"List", testList},
		{"WorkFields", testWorkFields},
		{"ListWork", testListWork},
		{"DateRangeOrder", testDateRangeOrder},
		{"Attachments", testAttachments},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs, s := newStore(t)
			tt.fn(t, cs, s)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantNotFound(t *testing.T, err error, what string) {
	t.Helper()
	if !conversation.IsNotFound(err) {
		t.Fatalf("%s: error %v, want not found", what, err)
	}
}

func wantConflict(t *testing.T, err error, what string) {
	t.Helper()
	if !conversation.IsConflict(err) {
		t.Fatalf("%s: error %v, want conflict", what, err)
	}
}

// fixture is a tenant with one contact and its conversation.
type fixture struct {
	tenant conversation.Tenant
	conv   conversation.Conversation
}

// newFixture creates a tenant and, through ingest, a contact and its
// conversation.
func newFixture(t *testing.T, cs conversation.Store, slug string) fixture {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: "Tenant " + slug}
	must(t, tn.Validate())
	tn, err := cs.CreateTenant(t.Context(), tn)
	must(t, err)
	acct, err := cs.CreateChannelAccount(t.Context(), conversation.ChannelAccount{
		TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: slug + "-web", Name: "Web",
	})
	must(t, err)
	res, err := cs.Ingest(t.Context(), []conversation.IngestRequest{{
		TenantID: tn.ID, AccountID: acct.ID,
		Inbound: conversation.Inbound{
			Channel: acct.Kind, Account: acct.Key, From: "visitor", ProviderID: "visitor:1",
			Parts: []conversation.Part{conversation.TextPart("quiero poner una queja")},
		},
	}})
	must(t, err)
	must(t, res[0].Err)
	return fixture{tenant: tn, conv: res[0].Conversation}
}

// filedAt is a filing time in Bogotá with nanoseconds, which the store keeps
// to the microsecond.
var filedAt = time.Date(2026, time.March, 9, 10, 15, 30, 123456789, time.FixedZone("COT", -5*3600))

// newCase returns a case of the fixture filed at, to be created.
func (f fixture) newCase(at time.Time) *handoff.Case {
	return &handoff.Case{
		TenantID: f.tenant.ID, Type: handoff.Queja, Status: handoff.Radicado,
		ContactID: f.conv.ContactID, ConversationID: f.conv.ID, Channel: string(f.conv.Channel),
		Description: "El pedido llegó incompleto", TermDays: 15,
		Due: at.AddDate(0, 0, 21), FiledAt: at,
	}
}

func filed() handoff.CaseEvent {
	return handoff.CaseEvent{Kind: "filed", Actor: "bot", To: handoff.Radicado}
}

func create(t *testing.T, s handoff.CaseStore, c *handoff.Case) *handoff.Case {
	t.Helper()
	must(t, s.CreateCase(t.Context(), c, prefix, filed()))
	return c
}

func micro(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// diffCase describes how got differs from want, whose times count to the
// microsecond; "" if they are the same case.
func diffCase(got, want handoff.Case) string {
	var d []string
	if !got.Due.Equal(micro(want.Due)) {
		d = append(d, fmt.Sprintf("Due %v, want %v", got.Due, micro(want.Due)))
	}
	if !got.FiledAt.Equal(micro(want.FiledAt)) {
		d = append(d, fmt.Sprintf("FiledAt %v, want %v", got.FiledAt, micro(want.FiledAt)))
	}
	if !got.UpdatedAt.Equal(micro(want.UpdatedAt)) {
		d = append(d, fmt.Sprintf("UpdatedAt %v, want %v", got.UpdatedAt, micro(want.UpdatedAt)))
	}
	if !got.PausedAt.Equal(micro(want.PausedAt)) {
		d = append(d, fmt.Sprintf("PausedAt %v, want %v", got.PausedAt, micro(want.PausedAt)))
	}
	if !maps.Equal(got.Fields, want.Fields) {
		d = append(d, fmt.Sprintf("Fields %q, want %q", got.Fields, want.Fields))
	}
	got.Due, got.FiledAt, got.UpdatedAt, got.PausedAt, got.Fields = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
	want.Due, want.FiledAt, want.UpdatedAt, want.PausedAt, want.Fields = time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
	if !reflect.DeepEqual(got, want) {
		d = append(d, fmt.Sprintf("\n got  %+v\n want %+v", got, want))
	}
	return strings.Join(d, "; ")
}

// wantStored checks that the store holds c, by ID and by filing number.
func wantStored(t *testing.T, s handoff.CaseStore, c handoff.Case) {
	t.Helper()
	got, err := s.Case(t.Context(), c.TenantID, c.ID)
	must(t, err)
	if d := diffCase(got, c); d != "" {
		t.Errorf("Case %d: %s", c.ID, d)
	}
	got, err = s.CaseByRadicado(t.Context(), c.TenantID, c.Radicado)
	must(t, err)
	if d := diffCase(got, c); d != "" {
		t.Errorf("CaseByRadicado %s: %s", c.Radicado, d)
	}
}

func history(t *testing.T, s handoff.CaseStore, c *handoff.Case) []handoff.CaseEvent {
	t.Helper()
	evs, err := s.CaseHistory(t.Context(), c.TenantID, c.ID)
	must(t, err)
	return evs
}

func kinds(evs []handoff.CaseEvent) []string {
	ks := make([]string, len(evs))
	for i, ev := range evs {
		ks[i] = ev.Kind
	}
	return ks
}

func testRadicados(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	a := newFixture(t, cs, "alpha")
	b := newFixture(t, cs, "bravo")
	// 23:30 in Bogotá on New Year's Eve is already 2027 in UTC.
	newYear := time.Date(2026, time.December, 31, 23, 30, 0, 0, time.FixedZone("COT", -5*3600))
	ids := map[int64]bool{}
	// Interleaved, so that a shared sequence would show.
	for i, want := range []struct {
		f        fixture
		at       time.Time
		radicado string
	}{
		{a, filedAt, "PQR-2026-000001"},
		{a, filedAt, "PQR-2026-000002"},
		{b, filedAt, "PQR-2026-000001"},
		{a, newYear, "PQR-2027-000001"},
		{a, filedAt.Add(time.Hour), "PQR-2026-000003"},
		{b, newYear.AddDate(0, 1, 0), "PQR-2027-000001"},
		{a, newYear, "PQR-2027-000002"},
		{b, filedAt, "PQR-2026-000002"},
	} {
		c := create(t, s, want.f.newCase(want.at))
		if c.Radicado != want.radicado {
			t.Fatalf("case %d of %s: Radicado %s, want %s", i, want.f.tenant.Slug, c.Radicado, want.radicado)
		}
		if c.ID == 0 || ids[c.ID] {
			t.Fatalf("case %d: ID %d, want a new one", i, c.ID)
		}
		ids[c.ID] = true
		if c.Version != 1 {
			t.Fatalf("case %d: Version %d, want 1", i, c.Version)
		}
		if c.UpdatedAt.IsZero() {
			t.Fatalf("case %d: UpdatedAt is not set", i)
		}
	}
	missing := a.newCase(filedAt)
	missing.TenantID = b.tenant.ID + 1000
	wantNotFound(t, s.CreateCase(t.Context(), missing, prefix, filed()), "CreateCase of a missing tenant")
	// Another prefix is the tenant's choice; the sequence is the tenant's
	// and the year's, and the failed create took no number.
	c := b.newCase(filedAt)
	must(t, s.CreateCase(t.Context(), c, "RAD", filed()))
	if c.Radicado != "RAD-2026-000003" {
		t.Fatalf("third 2026 case of bravo: Radicado %s, want RAD-2026-000003", c.Radicado)
	}
}

func testConcurrentCreate(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	f := newFixture(t, cs, "acme")
	const n = 8
	radicados := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c := f.newCase(filedAt)
			errs[i] = s.CreateCase(t.Context(), c, prefix, filed())
			radicados[i] = c.Radicado
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	slices.Sort(radicados)
	for i, r := range radicados {
		if want := handoff.FormatRadicado(prefix, 2026, int64(i+1)); r != want {
			t.Fatalf("concurrent filing numbers %v, want %s-2026-000001 to -%06d without gaps", radicados, prefix, n)
		}
	}
	// Every one is stored under its number.
	for _, r := range radicados {
		c, err := s.CaseByRadicado(t.Context(), f.tenant.ID, r)
		must(t, err)
		if c.Radicado != r {
			t.Fatalf("CaseByRadicado(%s) = %s", r, c.Radicado)
		}
	}
}

func testRoundTrip(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	f := newFixture(t, cs, "acme")
	full := &handoff.Case{
		TenantID: f.tenant.ID, Type: handoff.Reclamo, Status: handoff.EnTramite,
		ContactID: f.conv.ContactID, ConversationID: f.conv.ID, Channel: "webchat",
		Subject:     "Cobro doble — factura Nº 12",
		Description: "Me cobraron dos veces.\nAdjunto \"soporte\" 'pago' \\ 100% ✓",
		Fields: map[string]string{
			"documento": "CC 1.020.304.050", "correo": "ana@example.com", "vacío": "",
			"json": `{"a":[1,2]}`, "multilínea": "línea 1\nlínea 2\t✓",
		},
		Priority: "alta", TermDays: 15,
		Due:          time.Date(2026, time.March, 31, 23, 59, 59, 999999999, time.UTC),
		ExtendedDays: 7, ExtensionNote: "Se requiere concepto de facturación",
		FiledAt: filedAt,
	}
	want := *full
	create(t, s, full)
	want.ID, want.Radicado, want.Version, want.UpdatedAt = full.ID, full.Radicado, 1, full.UpdatedAt
	if d := diffCase(*full, want); d != "" {
		t.Fatalf("CreateCase changed what it stores: %s", d)
	}
	wantStored(t, s, want)

	// The least a case has: no conversation, channel, subject, fields,
	// priority or extension.
	bare := &handoff.Case{
		TenantID: f.tenant.ID, Type: handoff.Peticion, Status: handoff.Radicado, ContactID: f.conv.ContactID,
		TermDays: 15, Due: filedAt.AddDate(0, 0, 21), FiledAt: filedAt,
	}
	create(t, s, bare)
	got, err := s.Case(t.Context(), f.tenant.ID, bare.ID)
	must(t, err)
	if len(got.Fields) != 0 {
		t.Fatalf("Fields of a case without them = %q", got.Fields)
	}
	got.Fields = nil
	if d := diffCase(got, *bare); d != "" {
		t.Fatalf("bare case: %s", d)
	}
	_, err = s.Case(t.Context(), f.tenant.ID, bare.ID+1000)
	wantNotFound(t, err, "Case of a missing ID")
	_, err = s.CaseByRadicado(t.Context(), f.tenant.ID, "PQR-2026-999999")
	wantNotFound(t, err, "CaseByRadicado of a missing number")
}

func testFirstEvent(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	f := newFixture(t, cs, "acme")
	c := f.newCase(filedAt)
	first := handoff.CaseEvent{Kind: "filed", Actor: "bot", To: handoff.Radicado, Note: "radicado por el bot", CreatedAt: filedAt}
	must(t, s.CreateCase(t.Context(), c, prefix, first))
	evs := history(t, s, c)
	if len(evs) != 1 {
		t.Fatalf("history of a new case = %+v, want its first event", evs)
	}
	ev := evs[0]
	if ev.ID == 0 || ev.CaseID != c.ID || ev.Kind != first.Kind || ev.Actor != first.Actor || ev.From != "" ||
		ev.To != first.To || ev.Note != first.Note || !ev.CreatedAt.Equal(micro(filedAt)) {
		t.Fatalf("first event = %+v, want %+v of case %d", ev, first, c.ID)
	}
}

func testUpdate(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	f := newFixture(t, cs, "acme")
	c := create(t, s, f.newCase(filedAt))
	stored := *c
	before := time.Now()

	c.Status, c.Subject, c.Priority = handoff.EnTramite, "Pedido incompleto", "media"
	c.Fields = map[string]string{"pedido": "A-77"}
	must(t, s.UpdateCase(t.Context(), c, handoff.CaseEvent{Kind: "status", Actor: "agent:ana", From: handoff.Radicado, To: handoff.EnTramite}))
	if c.Version != 2 {
		t.Fatalf("Version after an update = %d, want 2", c.Version)
	}
	if c.UpdatedAt.Before(before.Add(-time.Second)) || c.UpdatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("UpdatedAt %v, want about now (%v)", c.UpdatedAt, before)
	}
	if c.ID != stored.ID || c.Radicado != stored.Radicado || !c.FiledAt.Equal(micro(stored.FiledAt)) {
		t.Fatalf("update changed the case's identity: %+v, was %+v", c, stored)
	}
	wantStored(t, s, *c)

	c.Status, c.ExtendedDays, c.ExtensionNote = handoff.Escalado, 10, "Requiere visita técnica"
	c.Due = c.Due.AddDate(0, 0, 14)
	c.Fields = nil
	must(t, s.UpdateCase(t.Context(), c, handoff.CaseEvent{Kind: "extended", Actor: "agent:ana", Note: "10 días más"}))
	if c.Version != 3 {
		t.Fatalf("Version after a second update = %d, want 3", c.Version)
	}
	wantStored(t, s, *c)

	// The history, oldest first.
	evs := history(t, s, c)
	if got := kinds(evs); !slices.Equal(got, []string{"filed", "status", "extended"}) {
		t.Fatalf("history kinds = %v, want filed, status, extended", got)
	}
	for i, ev := range evs {
		if ev.CaseID != c.ID {
			t.Errorf("event %d of case %d has CaseID %d", i, c.ID, ev.CaseID)
		}
		if i > 0 && (ev.ID <= evs[i-1].ID || ev.CreatedAt.Before(evs[i-1].CreatedAt)) {
			t.Errorf("event %d (%d at %v) listed after %d at %v", i, ev.ID, ev.CreatedAt, evs[i-1].ID, evs[i-1].CreatedAt)
		}
	}
	if ev := evs[1]; ev.Actor != "agent:ana" || ev.From != handoff.Radicado || ev.To != handoff.EnTramite {
		t.Errorf("status event = %+v", ev)
	}
	if ev := evs[2]; ev.Note != "10 días más" || ev.From != "" || ev.To != "" {
		t.Errorf("extension event = %+v", ev)
	}
}

func testUpdateConflict(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	f := newFixture(t, cs, "acme")
	c := create(t, s, f.newCase(filedAt))
	stale := *c
	c.Status = handoff.EnTramite
	must(t, s.UpdateCase(t.Context(), c, handoff.CaseEvent{Kind: "status", Actor: "agent:ana", From: handoff.Radicado, To: handoff.EnTramite}))

	stale.Status, stale.Subject = handoff.Resuelto, "stale"
	err := s.UpdateCase(t.Context(), &stale, handoff.CaseEvent{Kind: "status", Actor: "agent:bob", From: handoff.Radicado, To: handoff.Resuelto})
	wantConflict(t, err, "UpdateCase of a stale version")
	if stale.Version != 1 {
		t.Fatalf("failed update set Version %d", stale.Version)
	}
	wantStored(t, s, *c)
	if got := kinds(history(t, s, c)); !slices.Equal(got, []string{"filed", "status"}) {
		t.Fatalf("history after a conflict = %v, want filed, status", got)
	}
	// A version from the future conflicts too.
	future := *c
	future.Version = 99
	wantConflict(t, s.UpdateCase(t.Context(), &future, handoff.CaseEvent{Kind: "note"}), "UpdateCase of a future version")
	wantStored(t, s, *c)
}

func testConcurrentUpdate(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	f := newFixture(t, cs, "acme")
	c := create(t, s, f.newCase(filedAt))
	const n = 8
	errs := make([]error, n)
	cases := make([]handoff.Case, n)
	var wg sync.WaitGroup
	for i := range n {
		cases[i] = *c
		cases[i].Subject = fmt.Sprint("writer ", i)
		wg.Go(func() {
			errs[i] = s.UpdateCase(t.Context(), &cases[i], handoff.CaseEvent{Kind: "note", Actor: "agent:ana", Note: cases[i].Subject})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both updated version 1", winner, i)
			}
			winner = i
		case !conversation.IsConflict(err):
			t.Fatalf("writer %d: %v, want success or conflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer updated the case")
	}
	wantStored(t, s, cases[winner])
	evs := history(t, s, c)
	if len(evs) != 2 || evs[1].Note != cases[winner].Subject {
		t.Fatalf("history = %+v, want the first event and the winner's", evs)
	}
}

func testTenantIsolation(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	ctx := t.Context()
	a := newFixture(t, cs, "alpha")
	b := newFixture(t, cs, "bravo")
	c := create(t, s, a.newCase(filedAt))
	other := create(t, s, b.newCase(filedAt))
	if c.Radicado != other.Radicado {
		t.Fatalf("first cases of two tenants: %s and %s, want the same number", c.Radicado, other.Radicado)
	}

	_, err := s.Case(ctx, b.tenant.ID, c.ID)
	wantNotFound(t, err, "Case of another tenant")
	got, err := s.CaseByRadicado(ctx, b.tenant.ID, c.Radicado)
	must(t, err)
	if got.ID != other.ID {
		t.Fatalf("CaseByRadicado(bravo, %s) = case %d, want bravo's %d", c.Radicado, got.ID, other.ID)
	}
	_, err = s.CaseByRadicado(ctx, b.tenant.ID, "PQR-2026-000002")
	wantNotFound(t, err, "CaseByRadicado of a number only another tenant has")
	create(t, s, a.newCase(filedAt)) // alpha's PQR-2026-000002
	_, err = s.CaseByRadicado(ctx, b.tenant.ID, "PQR-2026-000002")
	wantNotFound(t, err, "CaseByRadicado of another tenant's number")

	foreign := *c
	foreign.TenantID, foreign.Status = b.tenant.ID, handoff.Cerrado
	err = s.UpdateCase(ctx, &foreign, handoff.CaseEvent{Kind: "status", Actor: "agent:eve", To: handoff.Cerrado})
	wantNotFound(t, err, "UpdateCase of another tenant's case")
	_, err = s.CaseHistory(ctx, b.tenant.ID, c.ID)
	wantNotFound(t, err, "CaseHistory of another tenant's case")
	_, err = s.CaseHistory(ctx, a.tenant.ID, c.ID+1000)
	wantNotFound(t, err, "CaseHistory of a missing case")
	missing := *c
	missing.ID += 1000
	wantNotFound(t, s.UpdateCase(ctx, &missing, handoff.CaseEvent{Kind: "note"}), "UpdateCase of a missing case")

	// Alpha's case is as it was.
	wantStored(t, s, *c)
	if got := kinds(history(t, s, c)); !slices.Equal(got, []string{"filed"}) {
		t.Fatalf("history of alpha's case = %v, want filed", got)
	}
}

// testSource checks that a case's source is unique per tenant: a second
// filing from the same source is a conflict that takes no number, and the
// case is found by its source.
func testSource(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	a := newFixture(t, cs, "src-a")
	b := newFixture(t, cs, "src-b")
	_, err := s.CaseBySource(t.Context(), a.tenant.ID, "message:1")
	wantNotFound(t, err, "no case of that source yet")
	_, err = s.CaseBySource(t.Context(), a.tenant.ID, "")
	wantNotFound(t, err, "the empty source")

	first := a.newCase(filedAt)
	first.Source = "message:1"
	create(t, s, first)
	again := a.newCase(filedAt)
	again.Source = "message:1"
	wantConflict(t, s.CreateCase(t.Context(), again, prefix, filed()), "a second case of one source")

	got, err := s.CaseBySource(t.Context(), a.tenant.ID, "message:1")
	must(t, err)
	if got.ID != first.ID || got.Source != "message:1" {
		t.Fatalf("by source: %+v, want case %d", got, first.ID)
	}
	// The conflict took no number; cases without a source never conflict;
	// another tenant may use the same source.
	next := create(t, s, a.newCase(filedAt))
	other := create(t, s, a.newCase(filedAt))
	if next.Radicado != prefix+"-2026-000002" || other.Radicado != prefix+"-2026-000003" {
		t.Fatalf("numbers after the conflict: %s, %s", next.Radicado, other.Radicado)
	}
	theirs := b.newCase(filedAt)
	theirs.Source = "message:1"
	create(t, s, theirs)
	_, err = s.CaseBySource(t.Context(), b.tenant.ID, "message:2")
	wantNotFound(t, err, "another source")
}

// testList checks ListCases: each filter alone and together, newest first,
// pages through the cursor, the limit, overdue cases and the tenant's scope.
func testList(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	ctx := t.Context()
	a := newFixture(t, cs, "list-a")
	b := newFixture(t, cs, "list-b")
	day := func(n int) time.Time { return filedAt.AddDate(0, 0, n) }
	other := a.conv.ContactID + 1000 // contacts have no foreign key
	specs := []struct {
		typ     handoff.CaseType
		status  handoff.CaseStatus
		channel string
		contact int64
		filed   time.Time
		due     time.Time
	}{
		{handoff.Queja, handoff.Radicado, "webchat", a.conv.ContactID, day(0), day(10)},       // 0: overdue at day 20
		{handoff.Reclamo, handoff.EnTramite, "whatsapp", other, day(1), day(30)},              // 1
		{handoff.Peticion, handoff.Resuelto, "webchat", a.conv.ContactID, day(2), day(5)},     // 2: past due but answered
		{handoff.Queja, handoff.Escalado, "telegram", other, day(3), day(15)},                 // 3: overdue at day 20
		{handoff.Consulta, handoff.Cerrado, "webchat", other, day(4), day(6)},                 // 4: past due but closed
		{handoff.Queja, handoff.Reabierto, "whatsapp", a.conv.ContactID, day(5), day(19)},     // 5: overdue at day 20
		{handoff.Reclamo, handoff.Radicado, "webchat", a.conv.ContactID, day(6), day(20)},     // 6: due exactly then
		{handoff.Sugerencia, handoff.EnTramite, "", a.conv.ContactID, day(7), day(40)},        // 7
		{handoff.Queja, handoff.Radicado, "webchat", a.conv.ContactID, day(8), day(1).Add(1)}, // 8: overdue at day 20
	}
	ids := make([]int64, len(specs))
	for i, sp := range specs {
		c := a.newCase(sp.filed)
		c.Type, c.Status, c.Channel, c.ContactID, c.Due = sp.typ, sp.status, sp.channel, sp.contact, sp.due
		ids[i] = create(t, s, c).ID
	}
	foreign := create(t, s, b.newCase(day(3))) // a queja in webchat, radicado, of bravo

	// want lists the IDs of the specs by index, newest first.
	want := func(idx ...int) []int64 {
		out := make([]int64, len(idx))
		for i, n := range idx {
			out[i] = ids[n]
		}
		slices.Sort(out)
		slices.Reverse(out)
		return out
	}
	list := func(f handoff.CaseFilter) []int64 {
		t.Helper()
		got, err := s.ListCases(ctx, a.tenant.ID, f)
		must(t, err)
		out := make([]int64, len(got))
		for i, c := range got {
			if c.TenantID != a.tenant.ID {
				t.Fatalf("ListCases(%+v) returned case %d of tenant %d", f, c.ID, c.TenantID)
			}
			out[i] = c.ID
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    handoff.CaseFilter
		want []int64
	}{
		{"all", handoff.CaseFilter{}, want(0, 1, 2, 3, 4, 5, 6, 7, 8)},
		{"one status", handoff.CaseFilter{Status: []handoff.CaseStatus{handoff.Radicado}}, want(0, 6, 8)},
		{"two statuses", handoff.CaseFilter{Status: []handoff.CaseStatus{handoff.EnTramite, handoff.Cerrado}}, want(1, 4, 7)},
		{"type", handoff.CaseFilter{Type: []handoff.CaseType{handoff.Queja}}, want(0, 3, 5, 8)},
		{"two types", handoff.CaseFilter{Type: []handoff.CaseType{handoff.Reclamo, handoff.Consulta}}, want(1, 4, 6)},
		{"channel", handoff.CaseFilter{Channel: "whatsapp"}, want(1, 5)},
		{"contact", handoff.CaseFilter{ContactID: other}, want(1, 3, 4)},
		{"filed from", handoff.CaseFilter{FiledFrom: day(6)}, want(6, 7, 8)},
		{"filed to", handoff.CaseFilter{FiledTo: day(2)}, want(0, 1)},
		{"filed between", handoff.CaseFilter{FiledFrom: day(2), FiledTo: day(4).Add(time.Microsecond)}, want(2, 3, 4)},
		{"overdue", handoff.CaseFilter{OverdueAt: day(20)}, want(0, 3, 5, 8)},
		{"before", handoff.CaseFilter{Before: ids[3]}, want(0, 1, 2)},
		{"limit", handoff.CaseFilter{Limit: 2}, want(7, 8)},
		{"combined", handoff.CaseFilter{
			Status: []handoff.CaseStatus{handoff.Radicado, handoff.Reabierto, handoff.Escalado},
			Type:   []handoff.CaseType{handoff.Queja}, Channel: "webchat", ContactID: a.conv.ContactID,
			FiledFrom: day(0), FiledTo: day(9), OverdueAt: day(20),
		}, want(0, 8)},
		{"combined with cursor", handoff.CaseFilter{Type: []handoff.CaseType{handoff.Queja}, OverdueAt: day(20), Before: ids[8], Limit: 2}, want(3, 5)},
		{"nothing", handoff.CaseFilter{Channel: "email"}, want()},
		{"unknown status", handoff.CaseFilter{Status: []handoff.CaseStatus{"nope"}}, want()},
	} {
		if got := list(tt.f); !slices.Equal(got, tt.want) {
			t.Errorf("%s: ListCases(%+v) = %v, want %v", tt.name, tt.f, got, tt.want)
		}
	}

	// Pages through the cursor cover every case once, newest first.
	var paged []int64
	f := handoff.CaseFilter{Limit: 4}
	for range 10 {
		page := list(f)
		paged = append(paged, page...)
		if len(page) < f.Limit {
			break
		}
		f.Before = page[len(page)-1]
	}
	if all := want(0, 1, 2, 3, 4, 5, 6, 7, 8); !slices.Equal(paged, all) {
		t.Fatalf("pages of 4 = %v, want %v", paged, all)
	}

	// Listed cases are whole.
	got, err := s.ListCases(ctx, a.tenant.ID, handoff.CaseFilter{Limit: 1})
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("ListCases with limit 1 = %d cases", len(got))
	}
	stored, err := s.Case(ctx, a.tenant.ID, got[0].ID)
	must(t, err)
	if d := diffCase(got[0], stored); d != "" {
		t.Fatalf("listed case differs from the stored one: %s", d)
	}

	// The default limit is 50, the most 500.
	many := newFixture(t, cs, "list-many")
	for range 60 {
		create(t, s, many.newCase(filedAt))
	}
	for _, tt := range []struct{ limit, want int }{{0, 50}, {-1, 50}, {55, 55}, {10000, 60}} {
		got, err := s.ListCases(ctx, many.tenant.ID, handoff.CaseFilter{Limit: tt.limit})
		must(t, err)
		if len(got) != tt.want {
			t.Errorf("ListCases with limit %d = %d cases, want %d", tt.limit, len(got), tt.want)
		}
	}

	// Bravo sees only its own case, alpha none of bravo's.
	theirs, err := s.ListCases(ctx, b.tenant.ID, handoff.CaseFilter{})
	must(t, err)
	if len(theirs) != 1 || theirs[0].ID != foreign.ID {
		t.Fatalf("bravo's cases = %+v, want only case %d", theirs, foreign.ID)
	}
	if got := list(handoff.CaseFilter{Before: foreign.ID + 1, Limit: 500}); slices.Contains(got, foreign.ID) {
		t.Fatalf("alpha lists bravo's case %d", foreign.ID)
	}
}

package handofftest

import (
	"slices"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// testWorkFields: assignment, pause and a term in hours are stored, changed
// and cleared like every other field.
func testWorkFields(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	f := newFixture(t, cs, "work")
	c := f.newCase(filedAt)
	c.TermDays, c.TermHours, c.AssigneeID, c.TeamID = 0, 4, 7, 3
	c.PausedAt, c.PauseReason, c.PausedUnits = filedAt.Add(time.Hour), "Falta copia de la factura", 2
	create(t, s, c)
	wantStored(t, s, *c)

	c.AssigneeID, c.TeamID, c.PausedAt, c.PauseReason, c.PausedUnits = 0, 9, time.Time{}, "", 5
	must(t, s.UpdateCase(t.Context(), c, handoff.CaseEvent{Kind: "resumed", Actor: "agent:ana"}))
	wantStored(t, s, *c)
	got, err := s.Case(t.Context(), f.tenant.ID, c.ID)
	must(t, err)
	if !got.PausedAt.IsZero() {
		t.Fatalf("a cleared pause reads back as %v", got.PausedAt)
	}
}

// testListWork: the filters by assignee, team and pause; an overdue list
// leaves out paused cases, whose term is stopped.
func testListWork(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	ctx := t.Context()
	a := newFixture(t, cs, "work-a")
	b := newFixture(t, cs, "work-b")
	mk := func(fx fixture, agent, team int64, paused bool) int64 {
		c := fx.newCase(filedAt)
		c.AssigneeID, c.TeamID, c.Due = agent, team, filedAt.Add(time.Hour)
		if paused {
			c.PausedAt, c.PauseReason = filedAt.Add(time.Minute), "espera"
		}
		return create(t, s, c).ID
	}
	c0 := mk(a, 5, 1, false)
	c1 := mk(a, 5, 2, true)
	c2 := mk(a, 6, 1, false)
	c3 := mk(a, 0, 0, true)
	mk(b, 5, 1, true) // bravo's, with the same ids
	for _, tt := range []struct {
		name string
		f    handoff.CaseFilter
		want []int64
	}{
		{"assignee", handoff.CaseFilter{AssigneeID: 5}, []int64{c1, c0}},
		{"team", handoff.CaseFilter{TeamID: 1}, []int64{c2, c0}},
		{"assignee and team", handoff.CaseFilter{AssigneeID: 5, TeamID: 2}, []int64{c1}},
		{"paused", handoff.CaseFilter{Paused: true}, []int64{c3, c1}},
		{"overdue leaves out the paused", handoff.CaseFilter{OverdueAt: filedAt.Add(2 * time.Hour)}, []int64{c2, c0}},
		{"nobody's", handoff.CaseFilter{AssigneeID: 99}, nil},
	} {
		got, err := s.ListCases(ctx, a.tenant.ID, tt.f)
		must(t, err)
		var ids []int64
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("%s: ListCases(%+v) = %v, want %v", tt.name, tt.f, ids, tt.want)
		}
	}
}

// testDateRangeOrder: a list of a date range is in the order of filing,
// newest first, then of ID, whatever order the cases were stored in, and
// its cursor (BeforeFiled with Before) pages through it once.
func testDateRangeOrder(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	ctx := t.Context()
	f := newFixture(t, cs, "dated")
	other := newFixture(t, cs, "dated-other")
	hour := func(n int) time.Time { return filedAt.Add(time.Duration(n) * time.Hour) }
	// Stored out of filing order; two share a filing time.
	order := []int{5, 1, 9, 3, 3, 7, 0, 12}
	ids := map[int][]int64{}
	for _, h := range order {
		ids[h] = append(ids[h], create(t, s, f.newCase(hour(h))).ID)
	}
	create(t, s, other.newCase(hour(4)))
	// want: filed in [1h, 12h): 9, 7, 5, 3 (the higher ID first), 3, 1.
	want := []int64{ids[9][0], ids[7][0], ids[5][0], ids[3][1], ids[3][0], ids[1][0]}
	rng := handoff.CaseFilter{FiledFrom: hour(1), FiledTo: hour(12)}
	for _, limit := range []int{1, 2, 4, 50} {
		var got []int64
		p := rng
		p.Limit = limit
		for range 10 {
			page, err := s.ListCases(ctx, f.tenant.ID, p)
			must(t, err)
			for _, c := range page {
				got = append(got, c.ID)
			}
			if len(page) < limit {
				break
			}
			last := page[len(page)-1]
			p.BeforeFiled, p.Before = last.FiledAt, last.ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of %d through the range = %v, want %v", limit, got, want)
		}
	}
	// An open end orders by filing too.
	got, err := s.ListCases(ctx, f.tenant.ID, handoff.CaseFilter{FiledFrom: hour(7)})
	must(t, err)
	if len(got) != 3 || got[0].ID != ids[12][0] || got[1].ID != ids[9][0] || got[2].ID != ids[7][0] {
		t.Errorf("filed from 7h = %v, want cases of 12h, 9h, 7h", got)
	}
}

// testAttachments: attachments are stored with their event, listed oldest
// first, and another tenant's case has none to give or take.
func testAttachments(t *testing.T, cs conversation.Store, s handoff.CaseStore) {
	ctx := t.Context()
	a := newFixture(t, cs, "att-a")
	b := newFixture(t, cs, "att-b")
	c := create(t, s, a.newCase(filedAt))
	theirs := create(t, s, b.newCase(filedAt))

	none, err := s.CaseAttachments(ctx, a.tenant.ID, c.ID)
	must(t, err)
	if len(none) != 0 {
		t.Fatalf("a new case has attachments %+v", none)
	}
	first := &handoff.CaseAttachment{TenantID: a.tenant.ID, CaseID: c.ID, Key: "k/1", ContentType: "application/pdf",
		Filename: "factura ñ.pdf", Size: 1234, AddedBy: "api:key", CreatedAt: filedAt.Add(time.Hour)}
	must(t, s.AddCaseAttachment(ctx, first, handoff.CaseEvent{Kind: "attachment", Actor: "api:key", Note: "factura ñ.pdf"}))
	second := &handoff.CaseAttachment{TenantID: a.tenant.ID, CaseID: c.ID, Key: "k/2", ContentType: "image/png", Size: 9}
	must(t, s.AddCaseAttachment(ctx, second, handoff.CaseEvent{Kind: "attachment", Actor: "agent:ana"}))
	if first.ID == 0 || second.ID <= first.ID || second.CreatedAt.IsZero() {
		t.Fatalf("attachment ids %d, %d; second created at %v", first.ID, second.ID, second.CreatedAt)
	}
	got, err := s.CaseAttachments(ctx, a.tenant.ID, c.ID)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("attachments = %+v, want 2", got)
	}
	w := *first
	w.CreatedAt = micro(w.CreatedAt)
	if g := got[0]; g.ID != w.ID || g.Key != w.Key || g.ContentType != w.ContentType || g.Filename != w.Filename ||
		g.Size != w.Size || g.AddedBy != w.AddedBy || !g.CreatedAt.Equal(w.CreatedAt) || g.TenantID != w.TenantID || g.CaseID != w.CaseID {
		t.Fatalf("attachment = %+v, want %+v", g, w)
	}
	if got[1].ID != second.ID {
		t.Fatalf("attachments out of order: %+v", got)
	}
	evs := history(t, s, c)
	if k := kinds(evs); !slices.Equal(k, []string{"filed", "attachment", "attachment"}) {
		t.Fatalf("history kinds = %v", k)
	}
	if !evs[1].CreatedAt.Equal(micro(first.CreatedAt)) || evs[1].Note != "factura ñ.pdf" {
		t.Fatalf("attachment event = %+v", evs[1])
	}

	// Another tenant's case is not found, to read or to attach to.
	_, err = s.CaseAttachments(ctx, a.tenant.ID, theirs.ID)
	wantNotFound(t, err, "CaseAttachments of another tenant's case")
	err = s.AddCaseAttachment(ctx, &handoff.CaseAttachment{TenantID: a.tenant.ID, CaseID: theirs.ID, Key: "x", ContentType: "text/plain", Size: 1},
		handoff.CaseEvent{Kind: "attachment", Actor: "x"})
	wantNotFound(t, err, "AddCaseAttachment to another tenant's case")
	_, err = s.CaseAttachments(ctx, a.tenant.ID, c.ID+1000)
	wantNotFound(t, err, "CaseAttachments of a missing case")
	if got := history(t, s, theirs); len(got) != 1 {
		t.Fatalf("a refused attachment wrote the other case's history: %v", kinds(got))
	}
	if got, _ := s.CaseAttachments(ctx, b.tenant.ID, theirs.ID); len(got) != 0 {
		t.Fatalf("a refused attachment was stored: %+v", got)
	}
}

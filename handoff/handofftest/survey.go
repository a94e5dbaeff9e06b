package handofftest

import (
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// TestSurveyStore runs the handoff.SurveyStore contract. newStore returns
// an empty store of its own for every subtest, as the conversation.Store
// that holds its tenants and contacts, the handoff.CaseStore that files the
// cases and the handoff.SurveyStore under test (usually the same value);
// subtests run in parallel.
func TestSurveyStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, handoff.CaseStore, handoff.SurveyStore)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cs conversation.Store, c handoff.CaseStore, s handoff.SurveyStore)
	}{
		{"RoundTrip", testSurveyRoundTrip},
		{"AnswerAndReopenOnce", testSurveyAnswerOnce},
		{"ConcurrentCreate", testSurveyConcurrentCreate},
		{"TenantIsolation", testSurveyTenantIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs, c, s := newStore(t)
			tt.fn(t, cs, c, s)
		})
	}
}

// newSurvey returns a survey of case c asked at, to be created.
func newSurvey(c *handoff.Case, key string, at time.Time) *handoff.Survey {
	return &handoff.Survey{TenantID: c.TenantID, CaseID: c.ID, ContactID: c.ContactID, Key: key,
		ResolvedAt: at.Add(-time.Minute), AskedAt: at, ExpiresAt: at.Add(72 * time.Hour)}
}

func sameSurvey(t *testing.T, what string, got, want handoff.Survey) {
	t.Helper()
	for _, p := range []*time.Time{&want.ResolvedAt, &want.AskedAt, &want.ExpiresAt, &want.AnsweredAt, &want.ReopenUntil, &want.ReopenedAt} {
		*p = micro(*p)
	}
	eq := func(a, b time.Time) bool { return a.Equal(b) }
	if got.ID != want.ID || got.TenantID != want.TenantID || got.CaseID != want.CaseID || got.ContactID != want.ContactID ||
		got.Key != want.Key || !eq(got.ResolvedAt, want.ResolvedAt) || !eq(got.AskedAt, want.AskedAt) || !eq(got.ExpiresAt, want.ExpiresAt) ||
		!eq(got.AnsweredAt, want.AnsweredAt) || got.Score != want.Score || got.AnswerMessageID != want.AnswerMessageID ||
		!eq(got.ReopenUntil, want.ReopenUntil) || !eq(got.ReopenedAt, want.ReopenedAt) || got.ReopenMessageID != want.ReopenMessageID {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func testSurveyRoundTrip(t *testing.T, cs conversation.Store, c handoff.CaseStore, s handoff.SurveyStore) {
	f := newFixture(t, cs, "alpha")
	one := create(t, c, f.newCase(filedAt))
	two := create(t, c, f.newCase(filedAt))
	first := newSurvey(one, "case:1:survey:3", filedAt.Add(time.Hour))
	created, err := s.CreateSurvey(t.Context(), first)
	must(t, err)
	if !created || first.ID == 0 {
		t.Fatalf("CreateSurvey: created %v, %+v", created, first)
	}
	again := newSurvey(one, first.Key, filedAt.Add(2*time.Hour))
	created, err = s.CreateSurvey(t.Context(), again)
	must(t, err)
	if created {
		t.Fatal("a survey with the same key was created again")
	}
	sameSurvey(t, "the survey of the same key", *again, *first)
	second := newSurvey(two, "case:2:survey:4", filedAt.Add(3*time.Hour))
	_, err = s.CreateSurvey(t.Context(), second)
	must(t, err)

	got, err := s.ContactSurveys(t.Context(), f.tenant.ID, f.conv.ContactID, filedAt)
	must(t, err)
	if len(got) != 2 {
		t.Fatalf("ContactSurveys: %+v", got)
	}
	sameSurvey(t, "newest first", got[0], *second)
	sameSurvey(t, "then", got[1], *first)
	if got, err = s.ContactSurveys(t.Context(), f.tenant.ID, f.conv.ContactID, filedAt.Add(2*time.Hour)); err != nil || len(got) != 1 || got[0].ID != second.ID {
		t.Fatalf("ContactSurveys since: %+v, %v", got, err)
	}
	if got, err = s.ContactSurveys(t.Context(), f.tenant.ID, f.conv.ContactID+1000, filedAt); err != nil || len(got) != 0 {
		t.Fatalf("another contact's surveys: %+v, %v", got, err)
	}
	got, err = s.CaseSurveys(t.Context(), f.tenant.ID, one.ID)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("CaseSurveys: %+v", got)
	}
	sameSurvey(t, "CaseSurveys", got[0], *first)
}

func testSurveyAnswerOnce(t *testing.T, cs conversation.Store, c handoff.CaseStore, s handoff.SurveyStore) {
	f := newFixture(t, cs, "alpha")
	one := create(t, c, f.newCase(filedAt))
	sv := newSurvey(one, "case:1:survey:3", filedAt.Add(time.Hour))
	_, err := s.CreateSurvey(t.Context(), sv)
	must(t, err)

	answer := *sv
	answer.AnsweredAt, answer.Score, answer.AnswerMessageID, answer.ReopenUntil = filedAt.Add(2*time.Hour), 2, 77, filedAt.AddDate(0, 0, 15)
	must(t, s.AnswerSurvey(t.Context(), answer))
	other := answer
	other.Score, other.AnswerMessageID = 5, 78
	wantConflict(t, s.AnswerSurvey(t.Context(), other), "a second answer")

	reopen := answer
	reopen.ReopenedAt, reopen.ReopenMessageID = filedAt.Add(3*time.Hour), 79
	must(t, s.ReopenSurvey(t.Context(), reopen))
	again := reopen
	again.ReopenMessageID = 80
	wantConflict(t, s.ReopenSurvey(t.Context(), again), "a second reopening")

	got, err := s.CaseSurveys(t.Context(), f.tenant.ID, one.ID)
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("CaseSurveys: %+v", got)
	}
	sameSurvey(t, "answered and reopened", got[0], reopen)

	missing := answer
	missing.ID += 1000
	wantNotFound(t, s.AnswerSurvey(t.Context(), missing), "answering a missing survey")
	wantNotFound(t, s.ReopenSurvey(t.Context(), missing), "reopening a missing survey")
}

func testSurveyConcurrentCreate(t *testing.T, cs conversation.Store, c handoff.CaseStore, s handoff.SurveyStore) {
	f := newFixture(t, cs, "alpha")
	one := create(t, c, f.newCase(filedAt))
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, ids := 0, map[int64]bool{}
	for range 8 {
		wg.Go(func() {
			sv := newSurvey(one, "case:1:survey:9", filedAt)
			ok, err := s.CreateSurvey(t.Context(), sv)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				created++
			}
			ids[sv.ID] = true
		})
	}
	wg.Wait()
	if created != 1 || len(ids) != 1 {
		t.Fatalf("8 concurrent creations of one key: %d created, ids %v", created, ids)
	}
}

func testSurveyTenantIsolation(t *testing.T, cs conversation.Store, c handoff.CaseStore, s handoff.SurveyStore) {
	a := newFixture(t, cs, "alpha")
	b := newFixture(t, cs, "bravo")
	one := create(t, c, a.newCase(filedAt))
	sv := newSurvey(one, "case:1:survey:3", filedAt)
	_, err := s.CreateSurvey(t.Context(), sv)
	must(t, err)
	// The same key is another tenant's own.
	bs := newSurvey(create(t, c, b.newCase(filedAt)), sv.Key, filedAt)
	created, err := s.CreateSurvey(t.Context(), bs)
	must(t, err)
	if !created || bs.ID == sv.ID {
		t.Fatalf("another tenant's survey of the same key: created %v, %+v", created, bs)
	}
	stolen := *sv
	stolen.TenantID = b.tenant.ID
	stolen.AnsweredAt, stolen.Score, stolen.AnswerMessageID = filedAt, 1, 1
	wantNotFound(t, s.AnswerSurvey(t.Context(), stolen), "answering another tenant's survey")
	stolen.ReopenedAt, stolen.ReopenMessageID = filedAt, 1
	wantNotFound(t, s.ReopenSurvey(t.Context(), stolen), "reopening another tenant's survey")
	if got, err := s.CaseSurveys(t.Context(), b.tenant.ID, one.ID); err != nil || len(got) != 0 {
		t.Fatalf("another tenant's case surveys: %+v, %v", got, err)
	}
	if got, err := s.ContactSurveys(t.Context(), b.tenant.ID, a.conv.ContactID, time.Time{}); err != nil {
		t.Fatal(err)
	} else {
		for _, g := range got {
			if g.TenantID != b.tenant.ID {
				t.Fatalf("another tenant's contact surveys: %+v", got)
			}
		}
	}
	missing := newSurvey(one, "case:x", filedAt)
	missing.TenantID = 1 << 40
	if _, err := s.CreateSurvey(t.Context(), missing); !conversation.IsNotFound(err) {
		t.Fatalf("a survey of a missing tenant: %v, want not found", err)
	}
}

package notifytest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

// TestStaffStore runs the notify.StaffStore contract. newStore returns an
// empty store of its own for every subtest, as the conversation.Store that
// holds its tenants and jobs and the notify.StaffStore under test
// (usually the same value); subtests run in parallel.
func TestStaffStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, notify.StaffStore)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cs conversation.Store, s notify.StaffStore)
	}{
		{"CreateOncePerKey", testStaffCreate},
		{"ConcurrentKey", testStaffConcurrent},
		{"Undeliverable", testStaffUndeliverable},
		{"NoteAndFinish", testStaffFinish},
		{"TenantIsolation", testStaffIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs, s := newStore(t)
			tt.fn(t, cs, s)
		})
	}
}

func staffTenant(t *testing.T, cs conversation.Store, slug string) conversation.Tenant {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: slug}
	must(t, tn.Validate())
	tn, err := cs.CreateTenant(t.Context(), tn)
	must(t, err)
	return tn
}

func staffEmail(tenantID int64, key string) notify.StaffEmail {
	return notify.StaffEmail{TenantID: tenantID, Key: key, To: "lina@acme.co", Name: "Lina", Language: "en",
		Purpose: "case_escalated", Data: map[string]string{"radicado": "PQR-2026-000001", "level": "lead"},
		Status: notify.StatusScheduled, AccountID: 7}
}

// staffJobs claims the due staff email jobs.
func staffJobs(t *testing.T, cs conversation.Store) []conversation.Job {
	t.Helper()
	jobs, err := cs.ClaimJobs(t.Context(), []string{notify.JobStaffEmail}, 10, time.Minute)
	must(t, err)
	return jobs
}

func testStaffCreate(t *testing.T, cs conversation.Store, s notify.StaffStore) {
	ctx := t.Context()
	tn := staffTenant(t, cs, "acme")
	m, created, err := s.CreateStaffEmail(ctx, staffEmail(tn.ID, "case:1:level:1:agent:2"))
	must(t, err)
	if !created || m.ID == 0 || m.Status != notify.StatusScheduled || m.CreatedAt.IsZero() || m.CreatedAt.Location() != time.UTC {
		t.Fatalf("created %v %+v", created, m)
	}
	got, err := s.StaffEmail(ctx, tn.ID, m.ID)
	must(t, err)
	if got.To != "lina@acme.co" || got.Name != "Lina" || got.Language != "en" || got.Purpose != "case_escalated" ||
		got.Data["radicado"] != "PQR-2026-000001" || got.AccountID != 7 || got.Key != "case:1:level:1:agent:2" {
		t.Fatalf("read back %+v", got)
	}
	again, created, err := s.CreateStaffEmail(ctx, staffEmail(tn.ID, "case:1:level:1:agent:2"))
	must(t, err)
	if created || again.ID != m.ID {
		t.Fatalf("the same key created %v, id %d (first %d)", created, again.ID, m.ID)
	}
	other, created, err := s.CreateStaffEmail(ctx, staffEmail(tn.ID, "case:1:level:1:agent:3"))
	must(t, err)
	if !created || other.ID == m.ID {
		t.Fatalf("another key: created %v, id %d", created, other.ID)
	}
	jobs := staffJobs(t, cs)
	if len(jobs) != 2 || jobs[0].Ref+jobs[1].Ref != m.ID+other.ID || jobs[0].MaxAttempts != notify.StaffMaxAttempts {
		t.Fatalf("jobs %+v, want one per email", jobs)
	}
	// Once its job is done, the key still names the email: nothing new.
	for _, j := range jobs {
		must(t, cs.CompleteJob(ctx, j))
	}
	if _, created, err := s.CreateStaffEmail(ctx, staffEmail(tn.ID, "case:1:level:1:agent:2")); err != nil || created {
		t.Fatalf("the key after its job: created %v, %v", created, err)
	}
	if jobs := staffJobs(t, cs); len(jobs) != 0 {
		t.Fatalf("a repeated key enqueued %d jobs", len(jobs))
	}
	_, _, err = s.CreateStaffEmail(ctx, staffEmail(tn.ID+1000, "k"))
	wantCode(t, err, conversation.ENOTFOUND, "a staff email of no tenant")
}

func testStaffConcurrent(t *testing.T, cs conversation.Store, s notify.StaffStore) {
	tn := staffTenant(t, cs, "acme")
	var wg sync.WaitGroup
	ids := make([]int64, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Go(func() {
			m, _, err := s.CreateStaffEmail(t.Context(), staffEmail(tn.ID, "same"))
			ids[i], errs[i] = m.ID, err
		})
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("concurrent creates: ids %v, errors %v", ids, errs)
		}
	}
	if jobs := staffJobs(t, cs); len(jobs) != 1 {
		t.Fatalf("%d jobs for one key", len(jobs))
	}
}

func testStaffUndeliverable(t *testing.T, cs conversation.Store, s notify.StaffStore) {
	tn := staffTenant(t, cs, "acme")
	m := staffEmail(tn.ID, "k")
	m.Status, m.AccountID, m.Note = notify.StatusUndeliverable, 0, "the tenant has no enabled email account"
	got, created, err := s.CreateStaffEmail(t.Context(), m)
	must(t, err)
	if !created || got.Status != notify.StatusUndeliverable || got.Note != m.Note {
		t.Fatalf("undeliverable: %+v", got)
	}
	if jobs := staffJobs(t, cs); len(jobs) != 0 {
		t.Fatalf("an undeliverable email has %d jobs", len(jobs))
	}
	list, err := s.ListStaffEmails(t.Context(), tn.ID, notify.StaffFilter{Status: notify.StatusUndeliverable})
	must(t, err)
	if len(list) != 1 || list[0].ID != got.ID {
		t.Fatalf("undeliverable list %+v", list)
	}
}

func testStaffFinish(t *testing.T, cs conversation.Store, s notify.StaffStore) {
	ctx := t.Context()
	tn := staffTenant(t, cs, "acme")
	m, _, err := s.CreateStaffEmail(ctx, staffEmail(tn.ID, "k"))
	must(t, err)
	must(t, s.NoteStaffEmail(ctx, tn.ID, m.ID, "attempt 1 failed: connection refused"))
	if got, _ := s.StaffEmail(ctx, tn.ID, m.ID); got.Note != "attempt 1 failed: connection refused" || got.Status != notify.StatusScheduled {
		t.Fatalf("noted %+v", got)
	}
	sent := time.Date(2026, 9, 16, 14, 0, 0, 123456789, time.UTC)
	m.Status, m.MessageID, m.SentAt, m.Note, m.AccountID = notify.StatusSent, "conversa.x@acme.co", sent, "", 9
	got, err := s.FinishStaffEmail(ctx, m)
	must(t, err)
	if got.Status != notify.StatusSent || got.MessageID != "conversa.x@acme.co" || got.AccountID != 9 || got.Note != "" ||
		!got.SentAt.Equal(sent.Truncate(time.Microsecond)) {
		t.Fatalf("finished %+v", got)
	}
	m.Status, m.Note = notify.StatusFailed, "late"
	got, err = s.FinishStaffEmail(ctx, m)
	wantCode(t, err, conversation.ECONFLICT, "a second outcome")
	if got.Status != notify.StatusSent {
		t.Fatalf("a second outcome returned %+v, want the stored one", got)
	}
	wantCode(t, s.NoteStaffEmail(ctx, tn.ID, m.ID, "x"), conversation.ECONFLICT, "a note on a sent email")
	for i := range 3 {
		_, _, err := s.CreateStaffEmail(ctx, staffEmail(tn.ID, fmt.Sprintf("more:%d", i)))
		must(t, err)
	}
	page, err := s.ListStaffEmails(ctx, tn.ID, notify.StaffFilter{Limit: 2})
	must(t, err)
	if len(page) != 2 || page[0].ID < page[1].ID {
		t.Fatalf("first page %+v", page)
	}
	rest, err := s.ListStaffEmails(ctx, tn.ID, notify.StaffFilter{BeforeID: page[1].ID})
	must(t, err)
	if len(rest) != 2 || rest[0].ID >= page[1].ID {
		t.Fatalf("second page %+v", rest)
	}
}

func testStaffIsolation(t *testing.T, cs conversation.Store, s notify.StaffStore) {
	ctx := t.Context()
	a, b := staffTenant(t, cs, "acme"), staffTenant(t, cs, "globex")
	m, _, err := s.CreateStaffEmail(ctx, staffEmail(a.ID, "k"))
	must(t, err)
	// The same key at another tenant is another email.
	if other, created, err := s.CreateStaffEmail(ctx, staffEmail(b.ID, "k")); err != nil || !created || other.ID == m.ID {
		t.Fatalf("the key at another tenant: created %v, %v", created, err)
	}
	_, err = s.StaffEmail(ctx, b.ID, m.ID)
	wantCode(t, err, conversation.ENOTFOUND, "another tenant's staff email")
	wantCode(t, s.NoteStaffEmail(ctx, b.ID, m.ID, "x"), conversation.ENOTFOUND, "a note on another tenant's staff email")
	m.TenantID, m.Status = b.ID, notify.StatusSent
	_, err = s.FinishStaffEmail(ctx, m)
	wantCode(t, err, conversation.ENOTFOUND, "finishing another tenant's staff email")
	list, err := s.ListStaffEmails(ctx, b.ID, notify.StaffFilter{})
	must(t, err)
	if len(list) != 1 || list[0].TenantID != b.ID {
		t.Fatalf("the other tenant lists %+v", list)
	}
}

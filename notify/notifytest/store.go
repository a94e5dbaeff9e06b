// Package notifytest holds the contract suite that every notify.Store must
// pass.
package notifytest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

// TestStore runs the notify.Store contract. newStore returns an empty store
// of its own for every subtest, as the conversation.Store that holds its
// tenants, contacts and jobs and the notify.Store under test (usually the
// same value); subtests run in parallel.
//
// Beyond the interface's words, the suite requires that times are kept to
// the microsecond and come back in UTC.
func TestStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, notify.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cs conversation.Store, s notify.Store)
	}{
		{"CreateAndRead", testCreate},
		{"Idempotency", testIdempotency},
		{"ConcurrentIdempotency", testConcurrentIdempotency},
		{"Reschedule", testReschedule},
		{"Finish", testFinish},
		{"ConcurrentFinish", testConcurrentFinish},
		{"CountSent", testCountSent},
		{"List", testList},
		{"Policy", testPolicy},
		{"TenantIsolation", testTenantIsolation},
		{"CreateBatch", testCreateBatch},
		{"FinishBatch", testFinishBatch},
		{"BulkReads", testBulkReads},
		{"OpenConversations", testOpenConversations},
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

func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if got := conversation.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v, want %s", what, err, code)
	}
}

// fixture is a tenant with one contact.
type fixture struct {
	tenant  conversation.Tenant
	contact int64
}

func newFixture(t *testing.T, cs conversation.Store, slug string) fixture {
	t.Helper()
	ctx := t.Context()
	tn := conversation.Tenant{Slug: slug, Name: slug}
	must(t, tn.Validate())
	tn, err := cs.CreateTenant(ctx, tn)
	must(t, err)
	acct, err := cs.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: slug + "-web"})
	must(t, err)
	res, err := cs.Ingest(ctx, []conversation.IngestRequest{{TenantID: tn.ID, AccountID: acct.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelWebchat, Account: acct.Key, From: "visitor-1", ProviderID: "m1",
		Parts: []conversation.Part{conversation.TextPart("hola")}}}})
	must(t, err)
	must(t, res[0].Err)
	return fixture{tenant: tn, contact: res[0].Message.ContactID}
}

var t0 = time.Date(2026, 3, 9, 13, 0, 0, 123456000, time.UTC)

func (f fixture) notification(key string) notify.Notification {
	return notify.Notification{
		TenantID: f.tenant.ID, ContactID: f.contact, Purpose: "case_resolved",
		Data: map[string]string{"name": "Ana", "radicado": "PQR-2026-000001"}, IdempotencyKey: key,
		Channels: []conversation.ChannelKind{conversation.ChannelSMS, conversation.ChannelEmail}, SendAfter: t0,
		Fingerprint: "fp-" + key, Status: notify.StatusScheduled, Due: t0.Add(time.Hour), TimeZone: "America/Bogota",
	}
}

// job returns the unfinished job with key, proving it exists: EnqueueJob
// with a taken key returns the job that holds it.
func job(t *testing.T, cs conversation.Store, tenantID int64, key string) conversation.Job {
	t.Helper()
	j, err := cs.EnqueueJob(t.Context(), conversation.Job{TenantID: tenantID, Kind: "probe", Key: key, RunAt: time.Now().Add(24 * 365 * time.Hour)})
	must(t, err)
	return j
}

func testCreate(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	in := f.notification("k1")
	n, created, err := s.CreateNotification(ctx, in)
	must(t, err)
	if !created || n.ID == 0 || n.CreatedAt.IsZero() || n.UpdatedAt.IsZero() {
		t.Fatalf("created %v, notification %+v", created, n)
	}
	in.ID, in.CreatedAt, in.UpdatedAt = n.ID, n.CreatedAt, n.UpdatedAt
	if !reflect.DeepEqual(n, in) {
		t.Fatalf("stored\n%+v\nwant\n%+v", n, in)
	}
	got, err := s.Notification(ctx, f.tenant.ID, n.ID)
	must(t, err)
	if !reflect.DeepEqual(got, n) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, n)
	}
	j := job(t, cs, f.tenant.ID, notify.JobKey(n.ID, n.Due))
	if j.Kind != notify.JobNotify || j.Ref != n.ID || !j.RunAt.Equal(n.Due) || j.State != conversation.JobPending {
		t.Fatalf("the notification's job = %+v", j)
	}
	// Without a key, every request is its own notification.
	a, ca, err := s.CreateNotification(ctx, f.notification(""))
	must(t, err)
	b, cb, err := s.CreateNotification(ctx, f.notification(""))
	must(t, err)
	if !ca || !cb || a.ID == b.ID || a.IdempotencyKey != "" {
		t.Fatalf("two keyless notifications: %d (%v), %d (%v)", a.ID, ca, b.ID, cb)
	}
	_, err = s.Notification(ctx, f.tenant.ID, b.ID+100)
	wantCode(t, err, conversation.ENOTFOUND, "a missing notification")
	bad := f.notification("k2")
	bad.TenantID = f.tenant.ID + 1000
	_, _, err = s.CreateNotification(ctx, bad)
	wantCode(t, err, conversation.ENOTFOUND, "a notification of no tenant")
}

func testIdempotency(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	first, _, err := s.CreateNotification(ctx, f.notification("same"))
	must(t, err)
	other := f.notification("same")
	other.Fingerprint, other.Purpose = "another", "survey"
	again, created, err := s.CreateNotification(ctx, other)
	must(t, err)
	if created || again.ID != first.ID || again.Fingerprint != first.Fingerprint || again.Purpose != "case_resolved" {
		t.Fatalf("a repeated key: created %v, %+v; want the first, %d", created, again, first.ID)
	}
	list, err := s.ListNotifications(ctx, f.tenant.ID, notify.Filter{})
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("%d notifications stored, want 1", len(list))
	}
}

func testConcurrentIdempotency(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	const n = 8
	var wg sync.WaitGroup
	ids := make([]int64, n)
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var got notify.Notification
			got, created[i], errs[i] = s.CreateNotification(ctx, f.notification("race"))
			ids[i] = got.ID
		})
	}
	wg.Wait()
	count := 0
	for i := range n {
		must(t, errs[i])
		if ids[i] != ids[0] {
			t.Fatalf("ids %v: want one notification", ids)
		}
		if created[i] {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d callers created the notification, want 1", count)
	}
}

func testReschedule(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	n, _, err := s.CreateNotification(ctx, f.notification("k"))
	must(t, err)
	later := t0.Add(19 * time.Hour)
	r, err := s.RescheduleNotification(ctx, f.tenant.ID, n.ID, later, "quiet hours")
	must(t, err)
	if !r.Due.Equal(later) || r.Note != "quiet hours" || r.Status != notify.StatusScheduled {
		t.Fatalf("rescheduled: %+v", r)
	}
	j := job(t, cs, f.tenant.ID, notify.JobKey(n.ID, later))
	if j.Kind != notify.JobNotify || j.Ref != n.ID || !j.RunAt.Equal(later) {
		t.Fatalf("the new job = %+v", j)
	}
	// The same time again enqueues nothing new.
	_, err = s.RescheduleNotification(ctx, f.tenant.ID, n.ID, later, "quiet hours")
	must(t, err)
	if again := job(t, cs, f.tenant.ID, notify.JobKey(n.ID, later)); again.ID != j.ID {
		t.Fatalf("a repeated reschedule made job %d, want %d", again.ID, j.ID)
	}
	n.Status = notify.StatusSuppressed
	_, err = s.FinishNotification(ctx, n)
	must(t, err)
	_, err = s.RescheduleNotification(ctx, f.tenant.ID, n.ID, later.Add(time.Hour), "")
	wantCode(t, err, conversation.ECONFLICT, "rescheduling a decided notification")
	_, err = s.RescheduleNotification(ctx, f.tenant.ID, n.ID+100, later, "")
	wantCode(t, err, conversation.ENOTFOUND, "rescheduling a missing notification")
}

func testFinish(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	n, _, err := s.CreateNotification(ctx, f.notification("k"))
	must(t, err)
	sent := n
	sent.Status, sent.Channel, sent.AccountID, sent.ConversationID, sent.MessageID = notify.StatusSent, conversation.ChannelEmail, 7, 8, 9
	sent.Skipped = []notify.Skip{{Channel: conversation.ChannelSMS, AccountID: 3, Code: notify.SkipOptedOut, Reason: "opted out"}}
	sent.SentAt = t0.Add(2 * time.Hour)
	got, err := s.FinishNotification(ctx, sent)
	must(t, err)
	sent.UpdatedAt = got.UpdatedAt
	if !reflect.DeepEqual(got, sent) {
		t.Fatalf("finished\n%+v\nwant\n%+v", got, sent)
	}
	if read, err := s.Notification(ctx, f.tenant.ID, n.ID); err != nil || !reflect.DeepEqual(read, got) {
		t.Fatalf("read back %+v, %v", read, err)
	}
	other := n
	other.Status, other.Note = notify.StatusUndeliverable, "late"
	kept, err := s.FinishNotification(ctx, other)
	wantCode(t, err, conversation.ECONFLICT, "a second outcome")
	if kept.Status != notify.StatusSent || kept.MessageID != 9 {
		t.Fatalf("a second outcome returned %+v, want the stored one", kept)
	}
	other.ID = n.ID + 100
	_, err = s.FinishNotification(ctx, other)
	wantCode(t, err, conversation.ENOTFOUND, "finishing a missing notification")
}

func testConcurrentFinish(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	n, _, err := s.CreateNotification(ctx, f.notification("k"))
	must(t, err)
	const k = 6
	var wg sync.WaitGroup
	errs := make([]error, k)
	for i := range k {
		wg.Go(func() {
			m := n
			m.Status, m.MessageID, m.SentAt = notify.StatusSent, int64(i+1), t0
			_, errs[i] = s.FinishNotification(ctx, m)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else if !conversation.IsConflict(err) {
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d outcomes recorded, want 1", won)
	}
}

func testCountSent(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	g := newFixture(t, cs, "globex")
	send := func(f fixture, purpose string, status notify.Status, at time.Time) {
		t.Helper()
		n := f.notification("")
		n.Purpose = purpose
		n, _, err := s.CreateNotification(ctx, n)
		must(t, err)
		n.Status, n.SentAt = status, at
		_, err = s.FinishNotification(ctx, n)
		must(t, err)
	}
	send(f, "survey", notify.StatusSent, t0)
	send(f, "survey", notify.StatusSent, t0.Add(-8*24*time.Hour))
	send(f, "survey", notify.StatusSuppressed, time.Time{})
	send(f, "case_resolved", notify.StatusSent, t0)
	send(g, "survey", notify.StatusSent, t0)
	for _, tt := range []struct {
		since time.Time
		want  int
	}{{t0.Add(-7 * 24 * time.Hour), 1}, {t0.Add(-9 * 24 * time.Hour), 2}, {t0.Add(-time.Microsecond), 1}, {t0, 0}} {
		n, err := s.CountSent(ctx, f.tenant.ID, f.contact, "survey", tt.since)
		must(t, err)
		if n != tt.want {
			t.Errorf("CountSent since %v = %d, want %d", tt.since, n, tt.want)
		}
	}
}

func testList(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	var ids []int64
	for i := range 5 {
		n := f.notification(fmt.Sprint("k", i))
		if i%2 == 1 {
			n.Purpose = "survey"
			n.ContactID = f.contact + 1000 // another contact's, as far as lists go
		}
		n, _, err := s.CreateNotification(ctx, n)
		must(t, err)
		ids = append(ids, n.ID)
	}
	done, err := s.Notification(ctx, f.tenant.ID, ids[4])
	must(t, err)
	done.Status = notify.StatusUndeliverable
	_, err = s.FinishNotification(ctx, done)
	must(t, err)
	idsOf := func(ns []notify.Notification) []int64 {
		out := []int64{}
		for _, n := range ns {
			out = append(out, n.ID)
		}
		return out
	}
	for name, tt := range map[string]struct {
		f    notify.Filter
		want []int64
	}{
		"all newest first": {notify.Filter{}, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		"a contact's":      {notify.Filter{ContactID: f.contact}, []int64{ids[4], ids[2], ids[0]}},
		"by status":        {notify.Filter{Status: notify.StatusScheduled}, []int64{ids[3], ids[2], ids[1], ids[0]}},
		"by purpose":       {notify.Filter{Purpose: "survey"}, []int64{ids[3], ids[1]}},
		"a page":           {notify.Filter{BeforeID: ids[3], Limit: 2}, []int64{ids[2], ids[1]}},
	} {
		got, err := s.ListNotifications(ctx, f.tenant.ID, tt.f)
		must(t, err)
		if !reflect.DeepEqual(idsOf(got), tt.want) {
			t.Errorf("%s: %v, want %v", name, idsOf(got), tt.want)
		}
	}
}

func testPolicy(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	_, err := s.Policy(ctx, f.tenant.ID)
	wantCode(t, err, conversation.ENOTFOUND, "no policy yet")
	yes := true
	p := notify.Policy{
		Fallback:   []conversation.ChannelKind{conversation.ChannelWhatsApp, conversation.ChannelSMS},
		QuietHours: &notify.QuietHours{Start: "22:00", End: "07:30"},
		Purposes: map[string]notify.PurposePolicy{
			"survey":         {Cap: &notify.Cap{Count: 1, Period: "7d"}},
			"service_outage": {Urgent: &yes, QuietHours: &notify.QuietHours{Start: "00:00", End: "00:00"}},
		},
	}
	must(t, s.PutPolicy(ctx, f.tenant.ID, p))
	got, err := s.Policy(ctx, f.tenant.ID)
	must(t, err)
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("policy %+v, want %+v", got, p)
	}
	p2 := notify.Policy{Fallback: []conversation.ChannelKind{conversation.ChannelEmail}}
	must(t, s.PutPolicy(ctx, f.tenant.ID, p2))
	if got, err = s.Policy(ctx, f.tenant.ID); err != nil || !reflect.DeepEqual(got, p2) {
		t.Fatalf("replaced policy %+v, %v", got, err)
	}
	wantCode(t, s.PutPolicy(ctx, f.tenant.ID+1000, p), conversation.ENOTFOUND, "the policy of no tenant")
}

func testTenantIsolation(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	a := newFixture(t, cs, "acme")
	b := newFixture(t, cs, "globex")
	n, _, err := s.CreateNotification(ctx, a.notification("shared-key"))
	must(t, err)
	must(t, s.PutPolicy(ctx, a.tenant.ID, notify.Policy{Fallback: []conversation.ChannelKind{conversation.ChannelSMS}}))

	// The same key is another tenant's own.
	bn, created, err := s.CreateNotification(ctx, b.notification("shared-key"))
	must(t, err)
	if !created || bn.ID == n.ID {
		t.Fatalf("globex's notification with acme's key: created %v, id %d", created, bn.ID)
	}
	_, err = s.Notification(ctx, b.tenant.ID, n.ID)
	wantCode(t, err, conversation.ENOTFOUND, "reading another tenant's notification")
	_, err = s.RescheduleNotification(ctx, b.tenant.ID, n.ID, t0, "")
	wantCode(t, err, conversation.ENOTFOUND, "rescheduling another tenant's notification")
	steal := n
	steal.TenantID, steal.Status = b.tenant.ID, notify.StatusSuppressed
	_, err = s.FinishNotification(ctx, steal)
	wantCode(t, err, conversation.ENOTFOUND, "finishing another tenant's notification")
	list, err := s.ListNotifications(ctx, b.tenant.ID, notify.Filter{})
	must(t, err)
	if len(list) != 1 || list[0].ID != bn.ID {
		t.Fatalf("globex lists %+v", list)
	}
	_, err = s.Policy(ctx, b.tenant.ID)
	wantCode(t, err, conversation.ENOTFOUND, "another tenant's policy")
	if got, err := s.Notification(ctx, a.tenant.ID, n.ID); err != nil || got.Status != notify.StatusScheduled {
		t.Fatalf("acme's notification after globex's attempts: %+v, %v", got, err)
	}
}

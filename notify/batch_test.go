package notify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
	"conversa/storage/sqlite"
)

// refusing is the conversation service with one account refusing every
// message, as a store refuses a message it cannot take: the batch's one
// Send fails, and each notification must still end as NotifyJob ends it.
type refusing struct {
	notify.Sender
	account int64
}

func (r refusing) Send(ctx context.Context, outs ...conversation.Outbound) ([]conversation.SendResult, error) {
	for _, o := range outs {
		if o.AccountID == r.account {
			return nil, conversation.FieldError("account_id", "account %d refuses messages", r.account)
		}
	}
	return r.Sender.Send(ctx, outs...)
}

// crashing is the real store whose next FinishNotifications fails, as a
// node that stops after queueing the messages and before recording the
// outcomes leaves it.
type crashing struct {
	*sqlite.Store
	crash bool
}

func (c *crashing) FinishNotifications(ctx context.Context, tenantID int64, ns []notify.Notification) ([]notify.Notification, error) {
	if c.crash {
		c.crash = false
		return nil, errors.New("crash")
	}
	return c.Store.FinishNotifications(ctx, tenantID, ns)
}

// service returns a notification service of e on store with sender.
func (e *env) service(t *testing.T, store notify.Store, sender notify.Sender) *notify.Service {
	t.Helper()
	svc, err := notify.New(store, notify.Deps{Conversations: e.store, Sender: sender, Templates: e.templates}, notify.Config{Now: e.clock.now})
	must(t, err)
	return svc
}

// mixedBatch makes, in e, contacts in every situation the rules tell
// apart, and returns the requests of one batch for them.
func mixedBatch(t *testing.T, e *env) []notify.Request {
	t.Helper()
	recent, old := afternoon.Add(-time.Hour), afternoon.Add(-48*time.Hour)
	ok := e.write(t, conversation.ChannelWhatsApp, "+573001110001", recent)
	optedOut := e.write(t, conversation.ChannelSMS, "+573001110002", recent)
	e.optOut(t, optedOut, conversation.ChannelSMS, "")
	purposeOut := e.write(t, conversation.ChannelSMS, "+573001110003", recent)
	e.optOut(t, purposeOut, conversation.ChannelSMS, "reminder")
	tokyo := e.write(t, conversation.ChannelSMS, "+573001110004", recent)
	e.setAttr(t, tokyo, notify.AttrTimeZone, "Asia/Tokyo")
	capped := e.write(t, conversation.ChannelSMS, "+573001110005", recent)
	if n := e.run(t, e.notify(t, notify.Request{ContactID: capped.ID, Purpose: "survey"})); n.Status != notify.StatusSent {
		t.Fatalf("first survey: %+v", n)
	}
	telegramOnly := e.write(t, conversation.ChannelTelegram, "5550006", recent)
	windowClosed := e.write(t, conversation.ChannelWhatsApp, "+573001110007", old)
	windowTemplate := e.write(t, conversation.ChannelWhatsApp, "+573001110008", old)
	refused := e.write(t, conversation.ChannelTelegram, "5550009", recent)
	e.setAttr(t, refused, notify.AttrPreferredChannel, "telegram")
	email := e.write(t, conversation.ChannelEmail, "ana@example.com", recent)
	e.setAttr(t, email, notify.AttrPreferredChannel, "email")

	when := map[string]string{"when": "el lunes"}
	return []notify.Request{
		{ContactID: ok.ID, Purpose: "reminder", Data: when, IdempotencyKey: "ok"},
		{ContactID: optedOut.ID, Purpose: "reminder", Data: when},
		{ContactID: purposeOut.ID, Purpose: "reminder", Data: when},
		{ContactID: tokyo.ID, Purpose: "reminder", Data: when},
		{ContactID: capped.ID, Purpose: "survey"},
		{ContactID: telegramOnly.ID, Purpose: "sms_only"},
		{ContactID: windowClosed.ID, Purpose: "reminder", Data: when},
		{ContactID: windowTemplate.ID, Purpose: "case_resolved", Data: resolved},
		{ContactID: email.ID, Purpose: "case_resolved", Data: resolved},
		{ContactID: refused.ID, Purpose: "case_resolved", Data: resolved},
		{ContactID: ok.ID, Purpose: "outage", SendAfter: afternoon.Add(2 * time.Hour)},
	}
}

// outcome is what a test compares of two notifications.
func outcome(t *testing.T, e *env, n notify.Notification) string {
	t.Helper()
	s := fmt.Sprintf("%s %s due=%s skipped=%v note=%q", n.Status, n.Channel, n.Due.UTC().Format(time.RFC3339), codes(n), n.Note)
	if n.Status == notify.StatusSent {
		m := e.message(t, n)
		s += fmt.Sprintf(" message=%q meta=%v", conversation.PartsText(m.Parts), m.Meta)
	}
	return s
}

// runBatch runs NotifyBatch and then the batch's job, claimed from the
// store, and returns each request's notification after it.
func runBatch(t *testing.T, e *env, svc *notify.Service, rs []notify.Request) []notify.Notification {
	t.Helper()
	ctx := t.Context()
	for i := range rs {
		rs[i].TenantID = e.tenant.ID
	}
	res, err := svc.NotifyBatch(ctx, e.tenant.ID, rs)
	must(t, err)
	js, err := e.store.ClaimJobs(ctx, []string{notify.JobNotifyBatch}, 10, time.Minute)
	must(t, err)
	if len(js) != 1 {
		t.Fatalf("%d batch jobs, want 1", len(js))
	}
	must(t, svc.NotifyBatchJob(ctx, js[0]))
	must(t, e.store.CompleteJob(ctx, js[0]))
	out := make([]notify.Notification, len(res))
	for i, r := range res {
		must(t, r.Err)
		out[i], err = svc.Get(ctx, e.tenant.ID, r.Notification.ID)
		must(t, err)
	}
	return out
}

// TestBatchSameAsSingle: a batch of notifications in every situation
// (sent, opted out of all or of the purpose, in quiet hours, capped, no
// channel, outside WhatsApp's window with and without an approved
// template, a channel refusing the message, not before a time) ends
// exactly as the same notifications sent one at a time: status, channel,
// due time, skipped channels with their reasons, note and message.
func TestBatchSameAsSingle(t *testing.T) {
	single, batch := newEnv(t), newEnv(t)
	single.svc = single.service(t, single.store, refusing{single.conv, single.accounts[conversation.ChannelTelegram].ID})
	batchSvc := batch.service(t, batch.store, refusing{batch.conv, batch.accounts[conversation.ChannelTelegram].ID})
	rs1, rs2 := mixedBatch(t, single), mixedBatch(t, batch)

	var want []string
	for _, r := range rs1 {
		want = append(want, outcome(t, single, single.run(t, single.notify(t, r))))
	}
	got := runBatch(t, batch, batchSvc, rs2)
	for i, n := range got {
		if o := outcome(t, batch, n); o != want[i] {
			t.Errorf("request %d:\n batch  %s\n single %s", i, o, want[i])
		}
	}
	// The situations are the ones meant.
	for i, status := range []notify.Status{notify.StatusSent, notify.StatusUndeliverable, notify.StatusUndeliverable,
		notify.StatusScheduled, notify.StatusSuppressed, notify.StatusUndeliverable, notify.StatusUndeliverable,
		notify.StatusSent, notify.StatusSent, notify.StatusUndeliverable, notify.StatusScheduled} {
		if got[i].Status != status {
			t.Errorf("request %d: %s, want %s", i, got[i].Status, status)
		}
	}
	if c := codes(got[9]); !slices.Contains(c, "telegram:send_refused") {
		t.Errorf("the refusing channel's notification skipped %v", c)
	}
}

// TestBatchErrorsPerItem: a bad request, a contact of another tenant, a
// purpose without a template and an idempotency key used for another
// request are refused one by one; the others are scheduled once, and a
// key repeated in the batch or used before returns the first notification.
func TestBatchErrorsPerItem(t *testing.T) {
	e := newEnv(t)
	other := newEnv(t) // its contact ids are unknown to e's tenant
	ctx := t.Context()
	c := e.write(t, conversation.ChannelSMS, ana, afternoon.Add(-time.Hour))
	stranger := other.write(t, conversation.ChannelSMS, "+573009999999", afternoon.Add(-time.Hour))
	first := e.notify(t, notify.Request{ContactID: c.ID, Purpose: "survey", IdempotencyKey: "before"})
	when := map[string]string{"when": "hoy"}
	rs := []notify.Request{
		{ContactID: c.ID, Purpose: "reminder", Data: when, IdempotencyKey: "k1"},
		{ContactID: c.ID, Purpose: "Not A Purpose"},
		{ContactID: stranger.ID + 1000, Purpose: "reminder", Data: when},
		{ContactID: c.ID, Purpose: "no_such_template"},
		{ContactID: c.ID, Purpose: "reminder"}, // a required variable missing
		{ContactID: c.ID, Purpose: "reminder", Data: map[string]string{"when": "mañana"}, IdempotencyKey: "k1"},
		{ContactID: c.ID, Purpose: "reminder", Data: when, IdempotencyKey: "k1"},
		{ContactID: c.ID, Purpose: "survey", IdempotencyKey: "before"},
		{ContactID: c.ID, Purpose: "reminder", Data: when},
	}
	for i := range rs {
		rs[i].TenantID = e.tenant.ID
	}
	res, err := e.svc.NotifyBatch(ctx, e.tenant.ID, rs)
	must(t, err)
	wantErr := []string{"", conversation.EINVALID, conversation.ENOTFOUND, conversation.EINVALID, conversation.EINVALID,
		conversation.ECONFLICT, "", "", ""}
	for i, r := range res {
		if code := conversation.ErrorCode(r.Err); code != wantErr[i] {
			t.Errorf("request %d: error %v, want %q", i, r.Err, wantErr[i])
		}
	}
	if res[6].Notification.ID != res[0].Notification.ID || res[7].Notification.ID != first.ID || res[8].Notification.ID == res[0].Notification.ID {
		t.Fatalf("keys: %d %d %d %d, first %d", res[0].Notification.ID, res[6].Notification.ID, res[7].Notification.ID, res[8].Notification.ID, first.ID)
	}
	ns, err := e.svc.List(ctx, e.tenant.ID, notify.Filter{})
	must(t, err)
	if len(ns) != 3 {
		t.Fatalf("%d notifications stored, want 3 (the first, and two of the batch)", len(ns))
	}

	// The same batch again, but for the request without a key, creates
	// nothing and enqueues no job.
	before, err := e.store.ClaimJobs(ctx, []string{notify.JobNotifyBatch}, 10, time.Minute)
	must(t, err)
	if len(before) != 1 {
		t.Fatalf("%d batch jobs, want 1", len(before))
	}
	again, err := e.svc.NotifyBatch(ctx, e.tenant.ID, rs[:8])
	must(t, err)
	if again[0].Notification.ID != res[0].Notification.ID || conversation.ErrorCode(again[5].Err) != conversation.ECONFLICT {
		t.Fatalf("the repeated batch: %+v", again)
	}
	if ns, _ := e.svc.List(ctx, e.tenant.ID, notify.Filter{}); len(ns) != 3 {
		t.Fatalf("a repeated batch stored %d more", len(ns)-3)
	}
	if js, _ := e.store.ClaimJobs(ctx, []string{notify.JobNotifyBatch}, 10, time.Minute); len(js) != 0 {
		t.Fatalf("a repeated batch enqueued %d jobs", len(js))
	}

	// A batch must be one tenant's.
	rs[0].TenantID = e.tenant.ID + 1
	if _, err := e.svc.NotifyBatch(ctx, e.tenant.ID, rs); conversation.ErrorCode(err) != conversation.EINVALID {
		t.Fatalf("a request of another tenant: %v", err)
	}
}

// TestBatchJobRetried: a batch job that stops after queueing the messages
// and before recording the outcomes is run again and sends nothing twice;
// a third run, and a run under another tenant's id, change nothing.
func TestBatchJobRetried(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	store := &crashing{Store: e.store}
	svc := e.service(t, store, e.conv)
	var rs []notify.Request
	for i := range 5 {
		c := e.write(t, conversation.ChannelSMS, fmt.Sprintf("+57300222000%d", i), afternoon.Add(-time.Hour))
		rs = append(rs, notify.Request{TenantID: e.tenant.ID, ContactID: c.ID, Purpose: "reminder", Data: map[string]string{"when": "hoy"}})
	}
	res, err := svc.NotifyBatch(ctx, e.tenant.ID, rs)
	must(t, err)
	js, err := e.store.ClaimJobs(ctx, []string{notify.JobNotifyBatch}, 10, time.Minute)
	must(t, err)
	if len(js) != 1 {
		t.Fatalf("%d batch jobs", len(js))
	}
	ids, err := notify.BatchIDs(js[0])
	must(t, err)
	if len(ids) != 5 || js[0].Ref != ids[0] || js[0].Key != notify.BatchJobKey(ids[0]) {
		t.Fatalf("batch job %+v with ids %v", js[0], ids)
	}

	// Another tenant's job with these ids finds none of them.
	foreign := js[0]
	foreign.TenantID = e.tenant.ID + 1
	must(t, svc.NotifyBatchJob(ctx, foreign))

	store.crash = true
	if err := svc.NotifyBatchJob(ctx, js[0]); err == nil {
		t.Fatal("the crashed run reported no error")
	}
	must(t, svc.NotifyBatchJob(ctx, js[0]))
	must(t, svc.NotifyBatchJob(ctx, js[0]))
	for _, r := range res {
		n, err := svc.Get(ctx, e.tenant.ID, r.Notification.ID)
		must(t, err)
		if n.Status != notify.StatusSent || n.MessageID == 0 {
			t.Fatalf("notification after the retry: %+v", n)
		}
		ms, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{ContactID: n.ContactID})
		must(t, err)
		out := 0
		for _, m := range ms {
			if m.Direction == conversation.DirectionOut {
				out++
			}
		}
		if out != 1 {
			t.Fatalf("contact %d got %d messages, want 1", n.ContactID, out)
		}
	}
	deliveries, err := e.store.ClaimJobs(ctx, []string{conversation.JobDeliver}, 100, time.Minute)
	must(t, err)
	if len(deliveries) != 5 {
		t.Fatalf("%d delivery jobs, want 5", len(deliveries))
	}
}

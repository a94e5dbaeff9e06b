package notifytest

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

func testCreateBatch(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	other := newFixture(t, cs, "globex")
	before, _, err := s.CreateNotification(ctx, f.notification("before"))
	must(t, err)
	if _, _, err := s.CreateNotification(ctx, other.notification("k1")); err != nil {
		t.Fatal(err) // another tenant's key is no conflict
	}
	ns := []notify.Notification{f.notification("k1"), f.notification(""), f.notification("before"), f.notification("k1"), f.notification("k2")}
	ns[1].Due = t0.Add(-time.Minute) // the earliest: the job's time
	ns[3].Fingerprint = "another"
	got, err := s.CreateNotifications(ctx, f.tenant.ID, ns)
	must(t, err)
	if len(got) != len(ns) {
		t.Fatalf("%d results for %d notifications", len(got), len(ns))
	}
	wantCreated := []bool{true, true, false, false, true}
	for i, c := range got {
		if c.Created != wantCreated[i] || c.Notification.ID == 0 {
			t.Fatalf("result %d: created %v, %+v", i, c.Created, c.Notification)
		}
	}
	if got[2].Notification.ID != before.ID || got[3].Notification.ID != got[0].Notification.ID || got[3].Notification.Fingerprint != "fp-k1" {
		t.Fatalf("repeated keys: %+v", got)
	}
	in := ns[0]
	in.ID, in.CreatedAt, in.UpdatedAt = got[0].Notification.ID, got[0].Notification.CreatedAt, got[0].Notification.UpdatedAt
	if !reflect.DeepEqual(got[0].Notification, in) {
		t.Fatalf("stored\n%+v\nwant\n%+v", got[0].Notification, in)
	}
	ids := []int64{got[0].Notification.ID, got[1].Notification.ID, got[4].Notification.ID}
	j := job(t, cs, f.tenant.ID, notify.BatchJobKey(ids[0]))
	var payload []int64
	must(t, json.Unmarshal(j.Payload, &payload))
	if j.Kind != notify.JobNotifyBatch || j.Ref != ids[0] || !slices.Equal(payload, ids) || !j.RunAt.Equal(ns[1].Due) {
		t.Fatalf("the batch's job = %+v, payload %v, want ids %v due %s", j, payload, ids, ns[1].Due)
	}
	for _, id := range ids {
		if _, err := cs.EnqueueJob(ctx, conversation.Job{TenantID: f.tenant.ID, Kind: "probe", Key: notify.JobKey(id, t0.Add(time.Hour)), RunAt: t0}); err != nil {
			t.Fatal(err)
		}
	}

	// Again: nothing is created, and no job.
	again, err := s.CreateNotifications(ctx, f.tenant.ID, []notify.Notification{f.notification("k1"), f.notification("k2")})
	must(t, err)
	if again[0].Created || again[1].Created || again[0].Notification.ID != ids[0] || again[1].Notification.ID != ids[2] {
		t.Fatalf("a repeated batch: %+v", again)
	}

	// Reading many: another tenant's ids are left out.
	read, err := s.Notifications(ctx, f.tenant.ID, append(slices.Clone(ids), before.ID+1000))
	must(t, err)
	if len(read) != 3 {
		t.Fatalf("read %d of the batch, want 3", len(read))
	}
	if theirs, err := s.Notifications(ctx, other.tenant.ID, ids); err != nil || len(theirs) != 0 {
		t.Fatalf("another tenant read %d (%v)", len(theirs), err)
	}

	bad := []notify.Notification{f.notification("x")}
	bad[0].TenantID = f.tenant.ID + 1000
	_, err = s.CreateNotifications(ctx, f.tenant.ID+1000, bad)
	wantCode(t, err, conversation.ENOTFOUND, "a batch of no tenant")
}

func testFinishBatch(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	other := newFixture(t, cs, "globex")
	res, err := s.CreateNotifications(ctx, f.tenant.ID, []notify.Notification{f.notification("a"), f.notification("b"), f.notification("c")})
	must(t, err)
	theirs, _, err := s.CreateNotification(ctx, other.notification("a"))
	must(t, err)
	a, b, c := res[0].Notification, res[1].Notification, res[2].Notification
	c.Status, c.Note = notify.StatusSuppressed, "first"
	if _, err := s.FinishNotification(ctx, c); err != nil {
		t.Fatal(err)
	}
	sentAt := t0.Add(2 * time.Hour)
	a.Status, a.Channel, a.AccountID, a.ConversationID, a.MessageID, a.SentAt = notify.StatusSent, conversation.ChannelSMS, 7, 8, 9, sentAt
	a.Skipped = []notify.Skip{{Channel: conversation.ChannelWhatsApp, Code: notify.SkipNoIdentity, Reason: "no address"}}
	b.Status, b.Note = notify.StatusUndeliverable, "no channel to try"
	c.Status, c.Note = notify.StatusUndeliverable, "second"
	theirs.Status = notify.StatusUndeliverable
	done, err := s.FinishNotifications(ctx, f.tenant.ID, []notify.Notification{a, b, c, theirs})
	must(t, err)
	if len(done) != 2 {
		t.Fatalf("recorded %d, want 2 (not the decided one, not another tenant's)", len(done))
	}
	got, err := s.Notification(ctx, f.tenant.ID, a.ID)
	must(t, err)
	if got.Status != notify.StatusSent || got.MessageID != 9 || !got.SentAt.Equal(sentAt) || len(got.Skipped) != 1 || got.Skipped[0].Code != notify.SkipNoIdentity {
		t.Fatalf("sent notification = %+v", got)
	}
	if got, _ := s.Notification(ctx, f.tenant.ID, c.ID); got.Note != "first" || got.Status != notify.StatusSuppressed {
		t.Fatalf("a second outcome replaced the first: %+v", got)
	}
	if got, _ := s.Notification(ctx, other.tenant.ID, theirs.ID); got.Status != notify.StatusScheduled {
		t.Fatalf("another tenant's notification changed: %+v", got)
	}
	if n, err := s.CountSent(ctx, f.tenant.ID, f.contact, "case_resolved", t0); err != nil || n != 1 {
		t.Fatalf("CountSent = %d, %v", n, err)
	}
}

func testBulkReads(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	other := newFixture(t, cs, "globex")
	sms, err := cs.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: f.tenant.ID, Kind: conversation.ChannelSMS, Key: "+15550002222"})
	must(t, err)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	var contacts []int64
	for i, addr := range []string{"+573001000001", "+573001000002"} {
		res, err := cs.Ingest(ctx, []conversation.IngestRequest{{TenantID: f.tenant.ID, AccountID: sms.ID, Inbound: conversation.Inbound{
			Channel: conversation.ChannelSMS, Account: sms.Key, From: addr, ProviderID: addr, ReceivedAt: at.Add(time.Duration(i) * time.Minute),
			Parts: []conversation.Part{conversation.TextPart("hola")}}}})
		must(t, err)
		must(t, res[0].Err)
		contacts = append(contacts, res[0].Message.ContactID)
	}

	cs1, err := s.ContactsByID(ctx, f.tenant.ID, append(slices.Clone(contacts), f.contact, other.contact))
	must(t, err)
	if len(cs1) != 3 {
		t.Fatalf("read %d contacts, want 3 (not another tenant's)", len(cs1))
	}
	for _, c := range cs1 {
		if len(c.Identities) != 1 {
			t.Fatalf("contact %d identities %+v", c.ID, c.Identities)
		}
	}

	last, err := s.LastInbounds(ctx, f.tenant.ID, append(slices.Clone(contacts), other.contact))
	must(t, err)
	for _, id := range contacts {
		want, err := cs.LastInbound(ctx, f.tenant.ID, id, sms.ID)
		must(t, err)
		if got := last[notify.ContactAccount{ContactID: id, AccountID: sms.ID}]; want.IsZero() || !got.Equal(want) {
			t.Fatalf("contact %d last wrote %s, want %s", id, got, want)
		}
	}
	if len(last) != 2 {
		t.Fatalf("last inbounds %v", last)
	}

	consent := func(addr, purpose string, out bool) {
		_, err := cs.RecordConsent(ctx, conversation.ConsentChange{TenantID: f.tenant.ID, AccountID: sms.ID, Channel: conversation.ChannelSMS,
			Address: addr, OptedOut: out, Source: "test", Purpose: purpose})
		must(t, err)
	}
	consent("+573001000001", "", true)
	consent("+573001000001", "", false) // the latest change decides
	consent("+573001000001", "survey", true)
	consent("+573001000002", "", true)
	consent("+573001000002", "reminder", true)
	outs, err := s.OptOutsOf(ctx, f.tenant.ID, []string{"+573001000001", "+573001000002", "+573009999999"}, "survey")
	must(t, err)
	slices.SortFunc(outs, func(a, b notify.OptOut) int { return cmpStr(a.Address+a.Purpose, b.Address+b.Purpose) })
	want := []notify.OptOut{{AccountID: sms.ID, Address: "+573001000001", Purpose: "survey"}, {AccountID: sms.ID, Address: "+573001000002"}}
	if !reflect.DeepEqual(outs, want) {
		t.Fatalf("opt-outs %+v, want %+v", outs, want)
	}
	if theirs, err := s.OptOutsOf(ctx, other.tenant.ID, []string{"+573001000002"}, "survey"); err != nil || len(theirs) != 0 {
		t.Fatalf("another tenant read opt-outs %v (%v)", theirs, err)
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testOpenConversations(t *testing.T, cs conversation.Store, s notify.Store) {
	ctx := t.Context()
	f := newFixture(t, cs, "acme")
	other := newFixture(t, cs, "globex")
	sms, err := cs.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: f.tenant.ID, Kind: conversation.ChannelSMS, Key: "+15550002222"})
	must(t, err)
	// A contact whose only conversation is closed.
	res, err := cs.Ingest(ctx, []conversation.IngestRequest{{TenantID: f.tenant.ID, AccountID: sms.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelSMS, Account: sms.Key, From: "+573001000009", ProviderID: "m-fresh",
		Parts: []conversation.Part{conversation.TextPart("hola")}}}})
	must(t, err)
	must(t, res[0].Err)
	closed := res[0].Conversation
	_, err = cs.TransitionConversation(ctx, f.tenant.ID, closed.ID, conversation.Transition{From: closed.State, To: conversation.StateClosed})
	must(t, err)
	fresh := struct{ ID int64 }{closed.ContactID}
	existing, _, err := cs.OpenConversation(ctx, f.tenant.ID, f.contact, sms.ID)
	must(t, err)
	keys := []notify.ContactAccount{{ContactID: f.contact, AccountID: sms.ID}, {ContactID: fresh.ID, AccountID: sms.ID}, {ContactID: fresh.ID, AccountID: sms.ID}}
	got, err := s.OpenConversations(ctx, f.tenant.ID, keys)
	must(t, err)
	if len(got) != 3 || got[0].ID != existing.ID || got[1].ID == 0 || got[2].ID != got[1].ID ||
		got[1].ID == closed.ID || got[1].ContactID != fresh.ID || got[1].ChannelAccountID != sms.ID || !got[1].State.Open() {
		t.Fatalf("conversations %+v (existing %d)", got, existing.ID)
	}
	again, err := s.OpenConversations(ctx, f.tenant.ID, keys[1:2])
	must(t, err)
	if again[0].ID != got[1].ID {
		t.Fatalf("opened a second conversation: %d, then %d", got[1].ID, again[0].ID)
	}
	_, err = s.OpenConversations(ctx, f.tenant.ID, []notify.ContactAccount{{ContactID: other.contact, AccountID: sms.ID}})
	wantCode(t, err, conversation.ENOTFOUND, "another tenant's contact")
	_, err = s.OpenConversations(ctx, other.tenant.ID, []notify.ContactAccount{{ContactID: other.contact, AccountID: sms.ID}})
	wantCode(t, err, conversation.ENOTFOUND, "another tenant's account")
}

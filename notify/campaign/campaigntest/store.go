// Package campaigntest holds the contract suite that every campaign.Store
// must pass.
package campaigntest

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/campaign"
)

// Stores are the store under test and the stores it reads with: the
// conversation.Store that holds tenants, contacts, messages, consent and
// jobs, and the notify.Store of the recipients' notifications (usually all
// the same value).
type Stores struct {
	Conv      conversation.Store
	Notify    notify.Store
	Campaigns campaign.Store
}

// TestStore runs the campaign.Store contract. newStore returns empty
// stores of their own for every subtest; subtests run in parallel.
func TestStore(t *testing.T, newStore func(t *testing.T) Stores) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Stores)
	}{
		{"CreateAndStatus", testCreateAndStatus},
		{"Recipients", testRecipients},
		{"Outcomes", testOutcomes},
		{"Segment", testSegment},
		{"ImportContacts", testImport},
		{"OptOuts", testOptOuts},
		{"TenantIsolation", testTenantIsolation},
		{"Planning", testPlanning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
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

// fixture is a tenant with a web-chat account and an SMS account.
type fixture struct {
	tenant conversation.Tenant
	web    conversation.ChannelAccount
	sms    conversation.ChannelAccount
}

func newFixture(t *testing.T, s Stores, slug string) fixture {
	t.Helper()
	ctx := t.Context()
	tn := conversation.Tenant{Slug: slug, Name: slug, Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	must(t, tn.Validate())
	tn, err := s.Conv.CreateTenant(ctx, tn)
	must(t, err)
	web, err := s.Conv.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: slug + "-web"})
	must(t, err)
	sms, err := s.Conv.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelSMS, Key: slug + "-sms"})
	must(t, err)
	return fixture{tenant: tn, web: web, sms: sms}
}

// write stores an inbound message from a web-chat visitor and returns
// the message.
func (f fixture) write(t *testing.T, s Stores, visitor, id string) conversation.Message {
	t.Helper()
	res, err := s.Conv.Ingest(t.Context(), []conversation.IngestRequest{{TenantID: f.tenant.ID, AccountID: f.web.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelWebchat, Account: f.web.Key, From: visitor, ProviderID: id,
		Parts: []conversation.Part{conversation.TextPart("hola")}}}})
	must(t, err)
	must(t, res[0].Err)
	return res[0].Message
}

func (f fixture) campaign(t *testing.T, s Stores, name string) campaign.Campaign {
	t.Helper()
	c, err := s.Campaigns.CreateCampaign(t.Context(), campaign.Campaign{TenantID: f.tenant.ID, Name: name, Purpose: "reminder",
		Data: map[string]string{"when": "mañana"}, Source: campaign.SourceSegment, Segment: &campaign.Segment{Language: "es"},
		Throttle: campaign.Throttle{PerSecond: 5, PerChannel: map[conversation.ChannelKind]int{conversation.ChannelSMS: 2}}})
	must(t, err)
	return c
}

// probe returns the unfinished job with key, proving it exists: EnqueueJob
// with a taken key returns the job that holds it.
func probe(t *testing.T, cs conversation.Store, tenantID int64, key string) conversation.Job {
	t.Helper()
	j, err := cs.EnqueueJob(t.Context(), conversation.Job{TenantID: tenantID, Kind: "probe", Key: key, RunAt: time.Now().Add(24 * 365 * time.Hour)})
	must(t, err)
	return j
}

var t0 = time.Date(2026, 3, 9, 13, 0, 0, 123456000, time.UTC)

func testCreateAndStatus(t *testing.T, s Stores) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	c := f.campaign(t, s, "marzo")
	if c.ID == 0 || c.Status != campaign.StatusPlanning || c.CreatedAt.IsZero() || c.Segment == nil || c.Segment.Language != "es" ||
		c.Throttle.PerChannel[conversation.ChannelSMS] != 2 || c.Data["when"] != "mañana" {
		t.Fatalf("created %+v", c)
	}
	got, err := s.Campaigns.Campaign(ctx, f.tenant.ID, c.ID)
	must(t, err)
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got, c)
	}
	rep := campaign.ImportReport{Rows: 3, Imported: 2, Bad: 1, BadRows: []campaign.BadRow{{Line: 3, Reason: "no channel"}}}
	must(t, s.Campaigns.SetImport(ctx, f.tenant.ID, c.ID, rep))
	if got, _ = s.Campaigns.Campaign(ctx, f.tenant.ID, c.ID); got.Import == nil || !reflect.DeepEqual(*got.Import, rep) {
		t.Fatalf("import = %+v", got.Import)
	}

	running, err := s.Campaigns.SetCampaignStatus(ctx, f.tenant.ID, c.ID, []campaign.Status{campaign.StatusPlanning}, campaign.StatusRunning, t0)
	must(t, err)
	if running.Status != campaign.StatusRunning {
		t.Fatalf("status %s", running.Status)
	}
	if j := probe(t, s.Conv, f.tenant.ID, campaign.JobKey(c.ID, t0)); j.Kind != campaign.JobSend || j.Ref != c.ID || !j.RunAt.Equal(t0) {
		t.Fatalf("release job = %+v", j)
	}
	stored, err := s.Campaigns.SetCampaignStatus(ctx, f.tenant.ID, c.ID, []campaign.Status{campaign.StatusPlanning}, campaign.StatusRunning, t0)
	wantCode(t, err, conversation.ECONFLICT, "start twice")
	if stored.Status != campaign.StatusRunning {
		t.Fatalf("a conflict returns the stored campaign, got %+v", stored)
	}
	_, err = s.Campaigns.SetCampaignStatus(ctx, f.tenant.ID, c.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusPaused, time.Time{})
	must(t, err)

	// Cancelling turns the planned recipients cancelled, and only them.
	addContacts(t, s, f, c.ID, 3)
	rs, err := s.Campaigns.NextRecipients(ctx, f.tenant.ID, c.ID, conversation.ChannelWebchat, 1)
	must(t, err)
	released, err := s.Campaigns.ReleaseRecipient(ctx, f.tenant.ID, rs[0].ID, 0, "refused")
	must(t, err)
	if !released {
		t.Fatal("release of a planned recipient: false")
	}
	_, err = s.Campaigns.SetCampaignStatus(ctx, f.tenant.ID, c.ID, []campaign.Status{campaign.StatusPaused}, campaign.StatusCancelled, time.Time{})
	must(t, err)
	all, err := s.Campaigns.ListRecipients(ctx, f.tenant.ID, c.ID, campaign.RecipientFilter{})
	must(t, err)
	var states []string
	for _, r := range all {
		states = append(states, r.State)
	}
	if want := []string{campaign.StateError, campaign.StateCancelled, campaign.StateCancelled}; !slices.Equal(states, want) {
		t.Fatalf("states after cancel = %v, want %v", states, want)
	}

	second := f.campaign(t, s, "abril")
	list, err := s.Campaigns.ListCampaigns(ctx, f.tenant.ID, 0, 10)
	must(t, err)
	if len(list) != 2 || list[0].ID != second.ID || list[1].ID != c.ID {
		t.Fatalf("list = %+v", list)
	}
	if list, _ = s.Campaigns.ListCampaigns(ctx, f.tenant.ID, second.ID, 10); len(list) != 1 || list[0].ID != c.ID {
		t.Fatalf("list before %d = %+v", second.ID, list)
	}
}

// addContacts adds n web-chat contacts to a campaign as planned web-chat
// recipients, and returns the contacts' ids.
func addContacts(t *testing.T, s Stores, f fixture, campaignID int64, n int) []int64 {
	t.Helper()
	var ids []int64
	var rs []campaign.Recipient
	for i := range n {
		m := f.write(t, s, fmt.Sprintf("v-%d-%d", campaignID, i), fmt.Sprintf("m-%d-%d", campaignID, i))
		ids = append(ids, m.ContactID)
		rs = append(rs, campaign.Recipient{ContactID: m.ContactID, Channel: conversation.ChannelWebchat, AccountID: f.web.ID,
			Address: fmt.Sprintf("v-%d-%d", campaignID, i), Due: t0, State: campaign.StatePlanned})
	}
	added, err := s.Campaigns.AddRecipients(t.Context(), f.tenant.ID, campaignID, rs)
	must(t, err)
	if added != n {
		t.Fatalf("added %d of %d", added, n)
	}
	return ids
}

func testRecipients(t *testing.T, s Stores) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	c := f.campaign(t, s, "marzo")
	ids := addContacts(t, s, f, c.ID, 3)
	more := []campaign.Recipient{
		{ContactID: ids[0], Channel: conversation.ChannelSMS, State: campaign.StatePlanned, Due: t0}, // already in: left as it is
		{ContactID: 9_000_001, Channel: conversation.ChannelSMS, AccountID: f.sms.ID, Address: "+573001112233", State: campaign.StatePlanned, Due: t0.Add(time.Hour)},
		{ContactID: 9_000_002, State: campaign.StateSkipped, Code: "no_channel", Reason: "the contact has no sms address", Due: t0},
	}
	added, err := s.Campaigns.AddRecipients(ctx, f.tenant.ID, c.ID, more)
	must(t, err)
	if added != 2 {
		t.Fatalf("added %d, want 2 (one contact was in)", added)
	}
	chans, err := s.Campaigns.PlannedChannels(ctx, f.tenant.ID, c.ID)
	must(t, err)
	if want := []conversation.ChannelKind{conversation.ChannelSMS, conversation.ChannelWebchat}; !slices.Equal(chans, want) {
		t.Fatalf("planned channels = %v, want %v", chans, want)
	}
	web, err := s.Campaigns.NextRecipients(ctx, f.tenant.ID, c.ID, conversation.ChannelWebchat, 2)
	must(t, err)
	if len(web) != 2 || web[0].ContactID != ids[0] || web[1].ContactID != ids[1] || web[0].ID >= web[1].ID || !web[0].Due.Equal(t0) {
		t.Fatalf("next web-chat recipients = %+v", web)
	}
	sms, err := s.Campaigns.NextRecipients(ctx, f.tenant.ID, c.ID, conversation.ChannelSMS, 10)
	must(t, err)
	if len(sms) != 1 || sms[0].Address != "+573001112233" || sms[0].AccountID != f.sms.ID || !sms[0].Due.Equal(t0.Add(time.Hour)) {
		t.Fatalf("next SMS recipients = %+v", sms)
	}
	ok, err := s.Campaigns.ReleaseRecipient(ctx, f.tenant.ID, sms[0].ID, 77, "")
	must(t, err)
	if !ok {
		t.Fatal("release: false")
	}
	if ok, err = s.Campaigns.ReleaseRecipient(ctx, f.tenant.ID, sms[0].ID, 78, ""); err != nil || ok {
		t.Fatalf("second release = %v, %v; want false", ok, err)
	}
	if chans, _ = s.Campaigns.PlannedChannels(ctx, f.tenant.ID, c.ID); !slices.Equal(chans, []conversation.ChannelKind{conversation.ChannelWebchat}) {
		t.Fatalf("planned channels after the SMS release = %v", chans)
	}
	queued, err := s.Campaigns.ListRecipients(ctx, f.tenant.ID, c.ID, campaign.RecipientFilter{State: campaign.StateQueued})
	must(t, err)
	if len(queued) != 1 || queued[0].NotificationID != 77 || queued[0].State != campaign.StateQueued {
		t.Fatalf("queued = %+v", queued)
	}
	page, err := s.Campaigns.ListRecipients(ctx, f.tenant.ID, c.ID, campaign.RecipientFilter{AfterID: web[0].ID, Limit: 2})
	must(t, err)
	if len(page) != 2 || page[0].ID != web[1].ID {
		t.Fatalf("page after %d = %+v", web[0].ID, page)
	}
	// Many at once: the SMS one is no longer planned, another tenant's
	// ids are left alone.
	other := newFixture(t, s, "globex")
	theirs := other.campaign(t, s, "abril")
	addContacts(t, s, other, theirs.ID, 1)
	their, err := s.Campaigns.NextRecipients(ctx, other.tenant.ID, theirs.ID, conversation.ChannelWebchat, 1)
	must(t, err)
	n, err := s.Campaigns.ReleaseRecipients(ctx, f.tenant.ID, []campaign.Release{
		{RecipientID: web[0].ID, NotificationID: 80}, {RecipientID: web[1].ID, Reason: "contact not found"},
		{RecipientID: sms[0].ID, NotificationID: 81}, {RecipientID: their[0].ID, NotificationID: 82}})
	must(t, err)
	if n != 2 {
		t.Fatalf("released %d, want 2", n)
	}
	if again, err := s.Campaigns.ReleaseRecipients(ctx, f.tenant.ID, []campaign.Release{{RecipientID: web[0].ID, NotificationID: 83}}); err != nil || again != 0 {
		t.Fatalf("a second release = %d, %v", again, err)
	}
	byID := map[int64]campaign.Recipient{}
	all, err := s.Campaigns.ListRecipients(ctx, f.tenant.ID, c.ID, campaign.RecipientFilter{})
	must(t, err)
	for _, r := range all {
		byID[r.ID] = r
	}
	if r := byID[web[0].ID]; r.State != campaign.StateQueued || r.NotificationID != 80 {
		t.Fatalf("released recipient = %+v", r)
	}
	if r := byID[web[1].ID]; r.State != campaign.StateError || r.Reason != "contact not found" {
		t.Fatalf("refused recipient = %+v", r)
	}
	if r := byID[sms[0].ID]; r.NotificationID != 77 {
		t.Fatalf("a recipient released before changed: %+v", r)
	}
	if left, _ := s.Campaigns.NextRecipients(ctx, other.tenant.ID, theirs.ID, conversation.ChannelWebchat, 1); len(left) != 1 {
		t.Fatalf("another tenant's recipient was released")
	}
	skipped, err := s.Campaigns.ListRecipients(ctx, f.tenant.ID, c.ID, campaign.RecipientFilter{State: campaign.StateSkipped})
	must(t, err)
	if len(skipped) != 1 || skipped[0].Code != "no_channel" || skipped[0].Reason == "" {
		t.Fatalf("skipped = %+v", skipped)
	}
}

// testOutcomes follows released recipients through their notification and
// message: sent and delivered, failed, undeliverable for consent, replied.
func testOutcomes(t *testing.T, s Stores) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	c := f.campaign(t, s, "marzo")
	ids := addContacts(t, s, f, c.ID, 4)
	rs, err := s.Campaigns.NextRecipients(ctx, f.tenant.ID, c.ID, conversation.ChannelWebchat, 4)
	must(t, err)
	// Sent after the contacts first wrote, before the reply below.
	sentAt := time.Now().UTC().Truncate(time.Microsecond)
	send := func(i int, status conversation.Status, failure *conversation.Failure) {
		t.Helper()
		n, _, err := s.Notify.CreateNotification(ctx, notify.Notification{TenantID: f.tenant.ID, ContactID: ids[i], Purpose: "reminder",
			Status: notify.StatusScheduled, Due: t0, IdempotencyKey: campaign.NotificationKey(c.ID, rs[i].ID)})
		must(t, err)
		conv, _, err := s.Conv.OpenConversation(ctx, f.tenant.ID, ids[i], f.web.ID)
		must(t, err)
		res, err := s.Conv.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: conv.ID, AccountID: f.web.ID,
			Author: conversation.Author{Kind: conversation.AuthorSystem}, Parts: []conversation.Part{conversation.TextPart("recuerda")}}})
		must(t, err)
		m := res[0].Message
		n.Status, n.Channel, n.AccountID, n.ConversationID, n.MessageID, n.SentAt = notify.StatusSent, conversation.ChannelWebchat, f.web.ID, conv.ID, m.ID, sentAt
		_, err = s.Notify.FinishNotification(ctx, n)
		must(t, err)
		if status != conversation.StatusQueued {
			_, _, err = s.Conv.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: f.tenant.ID, MessageID: m.ID, Status: status, Failure: failure})
			must(t, err)
		}
		ok, err := s.Campaigns.ReleaseRecipient(ctx, f.tenant.ID, rs[i].ID, n.ID, "")
		must(t, err)
		if !ok {
			t.Fatal("release: false")
		}
	}
	send(0, conversation.StatusDelivered, nil)
	send(1, conversation.StatusFailed, &conversation.Failure{Code: "30003", Message: "unreachable"})
	// The third could not be notified: the contact opted out.
	n, _, err := s.Notify.CreateNotification(ctx, notify.Notification{TenantID: f.tenant.ID, ContactID: ids[2], Purpose: "reminder",
		Status: notify.StatusScheduled, Due: t0})
	must(t, err)
	n.Status, n.Skipped = notify.StatusUndeliverable, []notify.Skip{{Channel: conversation.ChannelWebchat, Code: notify.SkipOptedOut, Reason: "opted out"}}
	_, err = s.Notify.FinishNotification(ctx, n)
	must(t, err)
	_, err = s.Campaigns.ReleaseRecipient(ctx, f.tenant.ID, rs[2].ID, n.ID, "")
	must(t, err)
	// The first contact answers after the send.
	f.write(t, s, fmt.Sprintf("v-%d-0", c.ID), "reply-1")

	got, err := s.Campaigns.ListRecipients(ctx, f.tenant.ID, c.ID, campaign.RecipientFilter{})
	must(t, err)
	type outcome struct {
		N       notify.Status
		M       conversation.Status
		Code    string
		Out, Re bool
	}
	want := []outcome{
		{notify.StatusSent, conversation.StatusDelivered, "", false, true},
		{notify.StatusSent, conversation.StatusFailed, "30003", false, false},
		{notify.StatusUndeliverable, "", "", true, false},
		{"", "", "", false, false},
	}
	for i, r := range got {
		if o := (outcome{r.NotificationStatus, r.MessageStatus, r.FailureCode, r.OptedOut, r.Replied}); o != want[i] {
			t.Errorf("recipient %d outcome = %+v, want %+v", i, o, want[i])
		}
	}
	outs, err := s.Campaigns.Outcomes(ctx, f.tenant.ID, c.ID)
	must(t, err)
	total := 0
	for _, o := range outs {
		total += o.Count
		r := o.Recipient
		if r.State == campaign.StatePlanned && (o.Count != 1 || r.NotificationStatus != "") {
			t.Errorf("planned outcome = %+v", o)
		}
		if r.MessageStatus == conversation.StatusDelivered && (!r.Replied || o.Count != 1) {
			t.Errorf("delivered outcome = %+v", o)
		}
	}
	if total != 4 || len(outs) != 4 {
		t.Fatalf("outcomes = %+v, want 4 groups of 1", outs)
	}
}

func testSegment(t *testing.T, s Stores) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	var ids []int64
	for i := range 5 {
		m := f.write(t, s, fmt.Sprintf("v%d", i), fmt.Sprintf("m%d", i))
		ids = append(ids, m.ContactID)
		lang := "es"
		if i%2 == 1 {
			lang = "en"
		}
		city := map[bool]string{true: "bogota", false: "cali"}[i < 3]
		_, err := s.Conv.UpdateContact(ctx, f.tenant.ID, m.ContactID, conversation.ContactUpdate{Language: &lang,
			Attributes: map[string]string{"city": city, "plan": "gold"}})
		must(t, err)
	}
	seg := func(g campaign.Segment, after int64, limit int) []int64 {
		t.Helper()
		cs, err := s.Campaigns.SegmentContacts(ctx, f.tenant.ID, g, after, limit)
		must(t, err)
		var out []int64
		for _, c := range cs {
			if len(c.Identities) != 1 || c.Identities[0].Channel != conversation.ChannelWebchat {
				t.Fatalf("contact %d identities = %+v", c.ID, c.Identities)
			}
			out = append(out, c.ID)
		}
		return out
	}
	if got := seg(campaign.Segment{}, 0, 100); !slices.Equal(got, ids) {
		t.Fatalf("everyone = %v, want %v", got, ids)
	}
	if got := seg(campaign.Segment{}, ids[1], 2); !slices.Equal(got, ids[2:4]) {
		t.Fatalf("page = %v, want %v", got, ids[2:4])
	}
	if got := seg(campaign.Segment{Attributes: map[string]string{"city": "bogota", "plan": "gold"}, Language: "es"}, 0, 100); !slices.Equal(got, []int64{ids[0], ids[2]}) {
		t.Fatalf("bogota in es = %v", got)
	}
	if got := seg(campaign.Segment{Attributes: map[string]string{"city": "medellin"}}, 0, 100); len(got) != 0 {
		t.Fatalf("medellin = %v", got)
	}
	if got := seg(campaign.Segment{Channels: []conversation.ChannelKind{conversation.ChannelSMS}}, 0, 100); len(got) != 0 {
		t.Fatalf("on sms = %v", got)
	}
	if got := seg(campaign.Segment{Channels: []conversation.ChannelKind{conversation.ChannelSMS, conversation.ChannelWebchat}}, 0, 100); len(got) != 5 {
		t.Fatalf("on sms or web chat = %v", got)
	}
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if got := seg(campaign.Segment{SeenAfter: past}, 0, 100); len(got) != 5 {
		t.Fatalf("seen in the last hour = %v", got)
	}
	if got := seg(campaign.Segment{SeenAfter: future}, 0, 100); len(got) != 0 {
		t.Fatalf("seen after an hour from now = %v", got)
	}
	if got := seg(campaign.Segment{SeenBefore: past}, 0, 100); len(got) != 0 {
		t.Fatalf("not seen for an hour = %v", got)
	}
}

func testImport(t *testing.T, s Stores) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	// A contact who wrote by SMS before.
	res, err := s.Conv.Ingest(ctx, []conversation.IngestRequest{{TenantID: f.tenant.ID, AccountID: f.sms.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelSMS, Account: f.sms.Key, From: "+573001234567", ProviderID: "sms-1",
		Parts: []conversation.Part{conversation.TextPart("hola")}}}})
	must(t, err)
	known := res[0].Message.ContactID
	phone := func(p string) []conversation.Identity {
		return []conversation.Identity{{Channel: conversation.ChannelWhatsApp, Address: p}, {Channel: conversation.ChannelSMS, Address: p}}
	}
	cs, err := s.Campaigns.ImportContacts(ctx, f.tenant.ID, []campaign.ContactImport{
		{Name: "Ana", Language: "es", Attributes: map[string]string{"city": "bogota"}, Identities: phone("+573001234567")},
		{Name: "Luis", Identities: append(phone("+573009876543"), conversation.Identity{Channel: conversation.ChannelEmail, Address: "luis@example.com"})},
		{Name: "Luis again", Attributes: map[string]string{"plan": "gold"}, Identities: []conversation.Identity{{Channel: conversation.ChannelEmail, Address: "luis@example.com"}}},
	})
	must(t, err)
	if len(cs) != 3 {
		t.Fatalf("imported %d contacts, want 3", len(cs))
	}
	ana, luis := cs[0], cs[1]
	if ana.ID != known || ana.Name != "Ana" || ana.Language != "es" || ana.Attributes["city"] != "bogota" {
		t.Fatalf("the known contact = %+v (want id %d, name, language and city filled in)", ana, known)
	}
	if _, ok := ana.IdentityOn(conversation.ChannelWhatsApp); !ok {
		t.Fatalf("the known contact did not get the WhatsApp identity: %+v", ana.Identities)
	}
	if luis.ID == known || luis.Name != "Luis" || len(luis.Identities) != 3 {
		t.Fatalf("the new contact = %+v", luis)
	}
	if cs[2].ID != luis.ID || cs[2].Name != "Luis" || cs[2].Attributes["plan"] != "gold" {
		t.Fatalf("the same contact by email = %+v (keeps its name, gets the attribute)", cs[2])
	}
	again, err := s.Campaigns.ImportContacts(ctx, f.tenant.ID, []campaign.ContactImport{{Name: "X", Identities: phone("+573009876543")}})
	must(t, err)
	if len(again) != 1 || again[0].ID != luis.ID || again[0].Name != "Luis" {
		t.Fatalf("a second import = %+v", again)
	}
	got, err := s.Conv.ContactByIdentity(ctx, f.tenant.ID, conversation.Identity{Channel: conversation.ChannelEmail, Address: "luis@example.com"})
	must(t, err)
	if got.ID != luis.ID {
		t.Fatalf("contact by email = %d, want %d", got.ID, luis.ID)
	}
}

func testOptOuts(t *testing.T, s Stores) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	record := func(addr, purpose string, out bool) {
		t.Helper()
		_, err := s.Conv.RecordConsent(ctx, conversation.ConsentChange{TenantID: f.tenant.ID, AccountID: f.sms.ID, Channel: conversation.ChannelSMS,
			Address: addr, OptedOut: out, Source: "api", Purpose: purpose, At: t0})
		must(t, err)
	}
	record("+571", "", true)
	record("+572", "", true)
	record("+572", "", false) // opted back in
	record("+573", "reminder", true)
	record("+574", "survey", true)
	got, err := s.Campaigns.OptOuts(ctx, f.tenant.ID, "reminder")
	must(t, err)
	slices.SortFunc(got, func(a, b notify.OptOut) int { return cmpString(a.Address, b.Address) })
	want := []notify.OptOut{{AccountID: f.sms.ID, Address: "+571"}, {AccountID: f.sms.ID, Address: "+573", Purpose: "reminder"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("opt-outs = %+v, want %+v", got, want)
	}
	other := newFixture(t, s, "other")
	if got, _ := s.Campaigns.OptOuts(ctx, other.tenant.ID, "reminder"); len(got) != 0 {
		t.Fatalf("another tenant's opt-outs = %+v", got)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testTenantIsolation(t *testing.T, s Stores) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	other := newFixture(t, s, "other")
	c := f.campaign(t, s, "marzo")
	addContacts(t, s, f, c.ID, 1)
	rs, err := s.Campaigns.NextRecipients(ctx, f.tenant.ID, c.ID, conversation.ChannelWebchat, 1)
	must(t, err)
	_, err = s.Campaigns.Campaign(ctx, other.tenant.ID, c.ID)
	wantCode(t, err, conversation.ENOTFOUND, "read another tenant's campaign")
	_, err = s.Campaigns.SetCampaignStatus(ctx, other.tenant.ID, c.ID, []campaign.Status{campaign.StatusPlanning}, campaign.StatusCancelled, time.Time{})
	wantCode(t, err, conversation.ENOTFOUND, "cancel another tenant's campaign")
	wantCode(t, s.Campaigns.SetImport(ctx, other.tenant.ID, c.ID, campaign.ImportReport{}), conversation.ENOTFOUND, "set another tenant's import")
	_, err = s.Campaigns.AddRecipients(ctx, other.tenant.ID, c.ID, []campaign.Recipient{{ContactID: 1, State: campaign.StatePlanned, Due: t0}})
	wantCode(t, err, conversation.ENOTFOUND, "add to another tenant's campaign")
	if ok, err := s.Campaigns.ReleaseRecipient(ctx, other.tenant.ID, rs[0].ID, 1, ""); ok || err != nil {
		t.Fatalf("release another tenant's recipient = %v, %v", ok, err)
	}
	for what, n := range map[string]func() (int, error){
		"next": func() (int, error) {
			r, err := s.Campaigns.NextRecipients(ctx, other.tenant.ID, c.ID, conversation.ChannelWebchat, 10)
			return len(r), err
		},
		"list": func() (int, error) {
			r, err := s.Campaigns.ListRecipients(ctx, other.tenant.ID, c.ID, campaign.RecipientFilter{})
			return len(r), err
		},
		"outcomes": func() (int, error) {
			r, err := s.Campaigns.Outcomes(ctx, other.tenant.ID, c.ID)
			return len(r), err
		},
		"channels": func() (int, error) {
			r, err := s.Campaigns.PlannedChannels(ctx, other.tenant.ID, c.ID)
			return len(r), err
		},
		"campaigns": func() (int, error) {
			r, err := s.Campaigns.ListCampaigns(ctx, other.tenant.ID, 0, 10)
			return len(r), err
		},
		"segment": func() (int, error) {
			r, err := s.Campaigns.SegmentContacts(ctx, other.tenant.ID, campaign.Segment{}, 0, 10)
			return len(r), err
		},
	} {
		if got, err := n(); err != nil || got != 0 {
			t.Errorf("%s with another tenant's id = %d, %v; want none", what, got, err)
		}
	}
	// Another tenant's import never matches this tenant's contacts.
	m := f.write(t, s, "+573001234567", "x1")
	cs, err := s.Campaigns.ImportContacts(ctx, other.tenant.ID, []campaign.ContactImport{{Identities: []conversation.Identity{{Channel: conversation.ChannelWebchat, Address: "+573001234567"}}}})
	must(t, err)
	if len(cs) != 1 || cs[0].ID == m.ContactID || cs[0].TenantID != other.tenant.ID {
		t.Fatalf("another tenant's import = %+v", cs)
	}
}

// testPlanning: what lets a stopped planning resume. The campaign comes
// with its planning job; recipients, the cursor and upload pieces beat
// its heart; the upload is kept until it leaves planning; another
// tenant's ids are not found.
func testPlanning(t *testing.T, s Stores) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	other := newFixture(t, s, "other")
	c := f.campaign(t, s, "plan")
	if j := probe(t, s.Conv, f.tenant.ID, campaign.PlanJobKey(c.ID)); j.Kind != campaign.JobPlan || j.Ref != c.ID ||
		j.RunAt.Sub(c.CreatedAt).Round(time.Second) != campaign.PlanLease {
		t.Fatalf("planning job = %+v; want it PlanLease after %v", j, c.CreatedAt)
	}

	if last, err := s.Campaigns.LastRecipientContact(ctx, f.tenant.ID, c.ID); err != nil || last != 0 {
		t.Fatalf("last contact of a new campaign: %d, %v", last, err)
	}
	a, b := f.write(t, s, "ana", "m1").ContactID, f.write(t, s, "beto", "m2").ContactID
	beat := func(what string, before campaign.Campaign) campaign.Campaign {
		t.Helper()
		got, err := s.Campaigns.Campaign(ctx, f.tenant.ID, c.ID)
		must(t, err)
		if !got.UpdatedAt.After(before.UpdatedAt) {
			t.Fatalf("%s did not set UpdatedAt: %v, before %v", what, got.UpdatedAt, before.UpdatedAt)
		}
		return got
	}
	time.Sleep(2 * time.Millisecond) // timestamps are microseconds
	n, err := s.Campaigns.AddRecipients(ctx, f.tenant.ID, c.ID, []campaign.Recipient{
		{ContactID: b, State: campaign.StatePlanned, Channel: conversation.ChannelWebchat, Due: t0},
		{ContactID: a, State: campaign.StatePlanned, Channel: conversation.ChannelWebchat, Due: t0}})
	must(t, err)
	if n != 2 {
		t.Fatalf("added %d", n)
	}
	c = beat("AddRecipients", c)
	if n, err := s.Campaigns.AddRecipients(ctx, f.tenant.ID, c.ID, []campaign.Recipient{{ContactID: a, State: campaign.StatePlanned, Due: t0}}); err != nil || n != 0 {
		t.Fatalf("planning a contact again added %d, %v", n, err)
	}
	if last, err := s.Campaigns.LastRecipientContact(ctx, f.tenant.ID, c.ID); err != nil || last != max(a, b) {
		t.Fatalf("last contact %d, %v; want %d", last, err, max(a, b))
	}

	if line, err := s.Campaigns.PlanCursor(ctx, f.tenant.ID, c.ID); err != nil || line != 0 {
		t.Fatalf("cursor of a new campaign: %d, %v", line, err)
	}
	time.Sleep(2 * time.Millisecond)
	must(t, s.Campaigns.SetPlanCursor(ctx, f.tenant.ID, c.ID, 501))
	c = beat("SetPlanCursor", c)
	if line, err := s.Campaigns.PlanCursor(ctx, f.tenant.ID, c.ID); err != nil || line != 501 {
		t.Fatalf("cursor %d, %v; want 501", line, err)
	}

	time.Sleep(2 * time.Millisecond)
	must(t, s.Campaigns.PutUpload(ctx, f.tenant.ID, c.ID, 0, []byte("name,phone\n")))
	c = beat("PutUpload", c)
	must(t, s.Campaigns.PutUpload(ctx, f.tenant.ID, c.ID, 1, nil))
	if p, err := s.Campaigns.UploadPiece(ctx, f.tenant.ID, c.ID, 0); err != nil || string(p) != "name,phone\n" {
		t.Fatalf("piece 0 = %q, %v", p, err)
	}
	if p, err := s.Campaigns.UploadPiece(ctx, f.tenant.ID, c.ID, 1); err != nil || len(p) != 0 {
		t.Fatalf("the end piece = %q, %v", p, err)
	}
	_, err = s.Campaigns.UploadPiece(ctx, f.tenant.ID, c.ID, 2)
	wantCode(t, err, conversation.ENOTFOUND, "a piece past the end")

	// Another tenant's ids.
	_, err = s.Campaigns.UploadPiece(ctx, other.tenant.ID, c.ID, 0)
	wantCode(t, err, conversation.ENOTFOUND, "another tenant's upload")
	wantCode(t, s.Campaigns.PutUpload(ctx, other.tenant.ID, c.ID, 5, []byte("x")), conversation.ENOTFOUND, "upload to another tenant's campaign")
	wantCode(t, s.Campaigns.SetPlanCursor(ctx, other.tenant.ID, c.ID, 9), conversation.ENOTFOUND, "another tenant's cursor")
	_, err = s.Campaigns.PlanCursor(ctx, other.tenant.ID, c.ID)
	wantCode(t, err, conversation.ENOTFOUND, "read another tenant's cursor")
	if last, err := s.Campaigns.LastRecipientContact(ctx, other.tenant.ID, c.ID); err != nil || last != 0 {
		t.Fatalf("another tenant's last contact: %d, %v", last, err)
	}

	// Leaving planning deletes the upload.
	_, err = s.Campaigns.SetCampaignStatus(ctx, f.tenant.ID, c.ID, []campaign.Status{campaign.StatusPlanning}, campaign.StatusRunning, t0)
	must(t, err)
	_, err = s.Campaigns.UploadPiece(ctx, f.tenant.ID, c.ID, 0)
	wantCode(t, err, conversation.ENOTFOUND, "the upload of a started campaign")
}

// Package conversationtest holds the contract suites that every
// implementation of the conversation package's interfaces must pass:
// TestStore for durable stores, TestShared for shared state.
package conversationtest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conversa/conversation"
)

// TestStore runs the store contract. newStore returns an empty store of its
// own for every subtest; subtests run in parallel.
func TestStore(t *testing.T, newStore func(t *testing.T) conversation.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s conversation.Store)
	}{
		{"Tenants", testTenants},
		{"ChannelAccounts", testChannelAccounts},
		{"APIKeys", testAPIKeys},
		{"Ingest", testIngest},
		{"IngestBatch", testIngestBatch},
		{"IngestBatchIsolatesFailures", testIngestBatchFailure},
		{"IngestPhoneFamily", testIngestPhoneFamily},
		{"IngestAfterClose", testIngestAfterClose},
		{"IngestConcurrentDuplicates", testIngestConcurrentDuplicates},
		{"IngestConcurrentNewContact", testIngestConcurrentNewContact},
		{"Send", testSend},
		{"SendAllOrNothing", testSendAllOrNothing},
		{"SendMany", testSendMany},
		{"Contacts", testContacts},
		{"Conversations", testConversations},
		{"Messages", testMessages},
		{"Search", testSearch},
		{"MessageStatus", testMessageStatus},
		{"AnnotateMessage", testAnnotateMessage},
		{"Jobs", testJobs},
		{"JobsConcurrentClaims", testJobsConcurrentClaims},
		{"TenantIsolation", testTenantIsolation},
		{"Settings", testSettings},
		{"Consent", testConsent},
		{"ConsentPurpose", testConsentPurpose},
		{"OpenConversation", testOpenConversation},
		{"OpenConversationConcurrent", testOpenConversationConcurrent},
		{"LastInbound", testLastInbound},
		{"MessageMeta", testMessageMeta},
		{"EditMessage", testEditMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// fixture is a tenant with a web-chat and an SMS account.
type fixture struct {
	tenant  conversation.Tenant
	webchat conversation.ChannelAccount
	sms     conversation.ChannelAccount
}

func newFixture(t *testing.T, s conversation.Store, slug string) fixture {
	t.Helper()
	ctx := t.Context()
	tn := conversation.Tenant{Slug: slug, Name: "Tenant " + slug}
	must(t, tn.Validate())
	tn, err := s.CreateTenant(ctx, tn)
	must(t, err)
	web, err := s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: slug + "-web", Name: "Web"})
	must(t, err)
	sms, err := s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelSMS, Key: "+1555" + fmt.Sprintf("%07d", tn.ID), Name: "SMS"})
	must(t, err)
	return fixture{tenant: tn, webchat: web, sms: sms}
}

func (f fixture) inbound(acct conversation.ChannelAccount, from, providerID, text string) conversation.IngestRequest {
	return conversation.IngestRequest{
		TenantID:  f.tenant.ID,
		AccountID: acct.ID,
		Inbound: conversation.Inbound{
			Channel: acct.Kind, Account: acct.Key, From: from, FromName: "Ana",
			ProviderID: providerID, Parts: []conversation.Part{conversation.TextPart(text)}, Language: "es",
		},
	}
}

func ingest1(t *testing.T, s conversation.Store, req conversation.IngestRequest) conversation.IngestResult {
	t.Helper()
	res, err := s.Ingest(t.Context(), []conversation.IngestRequest{req})
	must(t, err)
	if len(res) != 1 {
		t.Fatalf("Ingest returned %d results for 1 request", len(res))
	}
	must(t, res[0].Err)
	return res[0]
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := conversation.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func testTenants(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	a := conversation.Tenant{Slug: "acme", Name: "Acme", Language: "en", Region: "US", TimeZone: "America/New_York"}
	created, err := s.CreateTenant(ctx, a)
	must(t, err)
	if created.ID == 0 || created.Slug != "acme" || created.Language != "en" || created.Region != "US" || created.TimeZone != "America/New_York" || created.CreatedAt.IsZero() {
		t.Fatalf("created tenant = %+v", created)
	}
	_, err = s.CreateTenant(ctx, a)
	wantCode(t, err, conversation.ECONFLICT)

	got, err := s.Tenant(ctx, created.ID)
	must(t, err)
	if got.Name != "Acme" || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Fatalf("Tenant = %+v, want %+v", got, created)
	}
	bySlug, err := s.TenantBySlug(ctx, "acme")
	must(t, err)
	if bySlug.ID != created.ID {
		t.Fatalf("TenantBySlug id = %d, want %d", bySlug.ID, created.ID)
	}
	_, err = s.TenantBySlug(ctx, "nope")
	wantCode(t, err, conversation.ENOTFOUND)
	_, err = s.Tenant(ctx, created.ID+1000)
	wantCode(t, err, conversation.ENOTFOUND)

	got.Name, got.Language = "Acme S.A.S.", "es"
	updated, err := s.UpdateTenant(ctx, got)
	must(t, err)
	if updated.Name != "Acme S.A.S." || updated.Language != "es" || updated.Slug != "acme" {
		t.Fatalf("UpdateTenant = %+v", updated)
	}
	_, err = s.UpdateTenant(ctx, conversation.Tenant{ID: created.ID + 1000, Name: "x", Language: "es", Region: "CO", TimeZone: "UTC"})
	wantCode(t, err, conversation.ENOTFOUND)

	second, err := s.CreateTenant(ctx, conversation.Tenant{Slug: "beta", Name: "Beta", Language: "es", Region: "CO", TimeZone: "UTC"})
	must(t, err)
	all, err := s.ListTenants(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != created.ID || all[1].ID != second.ID {
		t.Fatalf("ListTenants = %+v", all)
	}
}

func testChannelAccounts(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	other := newFixture(t, s, "other")

	if f.webchat.ID == 0 || f.webchat.TenantID != f.tenant.ID || f.webchat.Kind != conversation.ChannelWebchat || f.webchat.Disabled {
		t.Fatalf("created account = %+v", f.webchat)
	}
	_, err := s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: other.tenant.ID, Kind: conversation.ChannelWebchat, Key: f.webchat.Key})
	wantCode(t, err, conversation.ECONFLICT)
	// The same key on another channel kind is another account.
	_, err = s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: f.tenant.ID, Kind: conversation.ChannelAPI, Key: f.webchat.Key})
	must(t, err)
	_, err = s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: 999999, Kind: conversation.ChannelAPI, Key: "orphan"})
	wantCode(t, err, conversation.ENOTFOUND)

	byKey, err := s.ChannelAccountByKey(ctx, conversation.ChannelWebchat, f.webchat.Key)
	must(t, err)
	if byKey.ID != f.webchat.ID || byKey.TenantID != f.tenant.ID {
		t.Fatalf("ChannelAccountByKey = %+v", byKey)
	}
	_, err = s.ChannelAccountByKey(ctx, conversation.ChannelSMS, f.webchat.Key)
	wantCode(t, err, conversation.ENOTFOUND)

	f.webchat.Settings = map[string]string{"title": "Hola", "color": "#0a7"}
	f.webchat.Disabled = true
	f.webchat.Name = "Sitio"
	updated, err := s.UpdateChannelAccount(ctx, f.webchat)
	must(t, err)
	if !updated.Disabled || updated.Name != "Sitio" || updated.Settings["title"] != "Hola" || updated.Settings["color"] != "#0a7" {
		t.Fatalf("UpdateChannelAccount = %+v", updated)
	}
	got, err := s.ChannelAccount(ctx, f.tenant.ID, f.webchat.ID)
	must(t, err)
	if !got.Disabled || got.Settings["title"] != "Hola" {
		t.Fatalf("ChannelAccount after update = %+v", got)
	}
	list, err := s.ListChannelAccounts(ctx, f.tenant.ID)
	must(t, err)
	if len(list) != 3 || list[0].ID != f.webchat.ID || list[1].ID != f.sms.ID {
		t.Fatalf("ListChannelAccounts = %+v", list)
	}
}

func testAPIKeys(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	k, err := s.CreateAPIKey(ctx, conversation.APIKey{ID: "k1", TenantID: f.tenant.ID, Name: "ci", Hash: []byte{1, 2, 3}})
	must(t, err)
	if k.CreatedAt.IsZero() || !k.RevokedAt.IsZero() {
		t.Fatalf("created key = %+v", k)
	}
	_, err = s.CreateAPIKey(ctx, conversation.APIKey{ID: "k1", TenantID: f.tenant.ID, Hash: []byte{9}})
	wantCode(t, err, conversation.ECONFLICT)
	_, err = s.CreateAPIKey(ctx, conversation.APIKey{ID: "k2", TenantID: 999999, Hash: []byte{9}})
	wantCode(t, err, conversation.ENOTFOUND)
	_, err = s.CreateAPIKey(ctx, conversation.APIKey{ID: "k2", TenantID: f.tenant.ID, Name: "crm", Hash: []byte{4}})
	must(t, err)

	got, err := s.APIKey(ctx, "k1")
	must(t, err)
	if got.TenantID != f.tenant.ID || string(got.Hash) != string([]byte{1, 2, 3}) || got.Name != "ci" {
		t.Fatalf("APIKey = %+v", got)
	}
	_, err = s.APIKey(ctx, "nope")
	wantCode(t, err, conversation.ENOTFOUND)
	list, err := s.ListAPIKeys(ctx, f.tenant.ID)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("ListAPIKeys = %+v", list)
	}
	must(t, s.RevokeAPIKey(ctx, f.tenant.ID, "k1"))
	got, err = s.APIKey(ctx, "k1")
	must(t, err)
	if got.RevokedAt.IsZero() {
		t.Fatal("revoked key has no RevokedAt")
	}
	// Revoking twice is fine; an unknown key is not found.
	must(t, s.RevokeAPIKey(ctx, f.tenant.ID, "k1"))
	wantCode(t, s.RevokeAPIKey(ctx, f.tenant.ID, "nope"), conversation.ENOTFOUND)
}

func testIngest(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	received := time.Date(2026, 3, 5, 14, 30, 0, 0, time.UTC)
	req := f.inbound(f.webchat, "visitor-1", "m1", "hola, ¿cuál es el saldo de mi factura?")
	req.Inbound.ReceivedAt = received
	first := ingest1(t, s, req)
	if first.Duplicate || !first.NewContact || !first.NewConversation {
		t.Fatalf("first ingest = %+v", first)
	}
	m := first.Message
	if m.ID == 0 || m.Seq != 1 || m.Direction != conversation.DirectionIn || m.Author.Kind != conversation.AuthorContact ||
		m.Status != conversation.StatusReceived || m.ProviderID != "m1" || m.Channel != conversation.ChannelWebchat ||
		m.ChannelAccountID != f.webchat.ID || m.TenantID != f.tenant.ID || !m.CreatedAt.Equal(received) {
		t.Fatalf("stored message = %+v", m)
	}
	if len(m.Parts) != 1 || m.Parts[0].Text != "hola, ¿cuál es el saldo de mi factura?" {
		t.Fatalf("stored parts = %+v", m.Parts)
	}
	c := first.Conversation
	if c.ID != m.ConversationID || c.State != conversation.StateBot || c.LastSeq != 1 || c.ContactID != m.ContactID ||
		c.Channel != conversation.ChannelWebchat || c.ChannelAccountID != f.webchat.ID {
		t.Fatalf("conversation = %+v", c)
	}
	contact, err := s.Contact(ctx, f.tenant.ID, m.ContactID)
	must(t, err)
	if contact.Name != "Ana" || contact.Language != "es" || len(contact.Identities) != 1 ||
		contact.Identities[0] != (conversation.Identity{Channel: conversation.ChannelWebchat, Address: "visitor-1"}) {
		t.Fatalf("contact = %+v", contact)
	}

	// A route job was enqueued for the message.
	jobs, err := s.ClaimJobs(ctx, []string{conversation.JobRoute}, 10, time.Minute)
	must(t, err)
	if len(jobs) != 1 || jobs[0].Ref != m.ID || jobs[0].TenantID != f.tenant.ID || jobs[0].MaxAttempts != conversation.RouteMaxAttempts {
		t.Fatalf("route jobs = %+v", jobs)
	}

	second := ingest1(t, s, f.inbound(f.webchat, "visitor-1", "m2", "mi cuenta es 123"))
	if second.NewContact || second.NewConversation || second.Message.ConversationID != c.ID || second.Message.Seq != 2 || second.Conversation.LastSeq != 2 {
		t.Fatalf("second ingest = %+v", second)
	}

	dup := ingest1(t, s, f.inbound(f.webchat, "visitor-1", "m1", "hola otra vez"))
	if !dup.Duplicate || dup.Message.ID != m.ID {
		t.Fatalf("duplicate ingest = %+v, want duplicate of %d", dup, m.ID)
	}
	// The same provider id at another account is another message.
	other := ingest1(t, s, f.inbound(f.sms, "+573001234567", "m1", "hola"))
	if other.Duplicate {
		t.Fatal("same provider id on another account was taken as a duplicate")
	}

	msgs, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ConversationID: c.ID})
	must(t, err)
	if len(msgs) != 2 {
		t.Fatalf("conversation has %d messages, want 2 (the duplicate is dropped)", len(msgs))
	}
}

func testIngestBatch(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	wa, err := s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: f.tenant.ID, Kind: conversation.ChannelWhatsApp, Key: "+15550000001"})
	must(t, err)
	api, err := s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: f.tenant.ID, Kind: conversation.ChannelAPI, Key: "crm"})
	must(t, err)
	res, err := s.Ingest(ctx, []conversation.IngestRequest{
		f.inbound(f.webchat, "visitor-a", "a1", "uno"),          // 0: new contact
		f.inbound(f.webchat, "visitor-b", "b1", "otro"),         // 1: another new contact
		f.inbound(f.webchat, "visitor-a", "a2", "dos"),          // 2: same contact as 0
		f.inbound(f.webchat, "visitor-a", "a1", "uno otra vez"), // 3: duplicate of 0
		f.inbound(f.sms, "+573001234567", "s1", "sms"),          // 4: new phone contact
		f.inbound(wa, "+573001234567", "w1", "whatsapp"),        // 5: same phone, other channel
		f.inbound(api, "visitor-a", "x1", "api"),                // 6: same address text, other channel
	})
	must(t, err)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("request %d: %v", i, r.Err)
		}
	}
	if !res[0].NewContact || !res[0].NewConversation || res[0].Message.Seq != 1 {
		t.Errorf("0 = %+v", res[0])
	}
	if !res[1].NewContact || res[1].Message.ContactID == res[0].Message.ContactID {
		t.Errorf("1 = %+v", res[1])
	}
	if res[2].NewContact || res[2].NewConversation || res[2].Message.ConversationID != res[0].Message.ConversationID || res[2].Message.Seq != 2 {
		t.Errorf("2 = %+v", res[2])
	}
	if !res[3].Duplicate || res[3].Message.ID != res[0].Message.ID {
		t.Errorf("3 = %+v, want duplicate of %d", res[3], res[0].Message.ID)
	}
	if res[5].NewContact || res[5].Message.ContactID != res[4].Message.ContactID || res[5].Message.ConversationID != res[4].Message.ConversationID {
		t.Errorf("5 = %+v, want the contact and conversation of 4", res[5])
	}
	if res[6].Message.ContactID == res[0].Message.ContactID {
		t.Errorf("6 joined the web-chat contact of 0")
	}
	for i, r := range res {
		if r.Duplicate {
			continue
		}
		m, err := s.Message(ctx, f.tenant.ID, r.Message.ID)
		must(t, err)
		if m.ProviderID != r.Message.ProviderID || m.Seq != r.Message.Seq || m.ConversationID != r.Message.ConversationID || m.Parts[0].Text != r.Message.Parts[0].Text {
			t.Errorf("result %d = %+v, stored %+v", i, r.Message, m)
		}
	}
	phone, err := s.Contact(ctx, f.tenant.ID, res[4].Message.ContactID)
	must(t, err)
	if len(phone.Identities) != 2 {
		t.Errorf("phone contact identities = %+v", phone.Identities)
	}
	jobs, err := s.ClaimJobs(ctx, []string{conversation.JobRoute}, 100, time.Minute)
	must(t, err)
	if len(jobs) != 6 {
		t.Errorf("%d route jobs, want 6 (one per stored message)", len(jobs))
	}
}

func testIngestBatchFailure(t *testing.T, s conversation.Store) {
	f := newFixture(t, s, "acme")
	bad := f.inbound(f.webchat, "visitor-2", "b1", "no tenant")
	bad.TenantID = 999999
	res, err := s.Ingest(t.Context(), []conversation.IngestRequest{
		f.inbound(f.webchat, "visitor-1", "a1", "uno"),
		bad,
		f.inbound(f.webchat, "visitor-1", "a2", "dos"),
	})
	must(t, err)
	if len(res) != 3 {
		t.Fatalf("got %d results", len(res))
	}
	if res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("good requests failed: %v, %v", res[0].Err, res[2].Err)
	}
	if res[1].Err == nil {
		t.Fatal("request for a missing tenant succeeded")
	}
	if res[2].Message.Seq != 2 || res[2].Message.ConversationID != res[0].Message.ConversationID {
		t.Fatalf("third message = %+v", res[2].Message)
	}
	// The failed request left no contact behind.
	_, err = s.ContactByIdentity(t.Context(), 999999, conversation.Identity{Channel: conversation.ChannelWebchat, Address: "visitor-2"})
	wantCode(t, err, conversation.ENOTFOUND)
	contacts, err := s.ListContacts(t.Context(), f.tenant.ID, conversation.ContactFilter{})
	must(t, err)
	if len(contacts) != 1 {
		t.Fatalf("tenant has %d contacts, want 1", len(contacts))
	}
}

func testIngestPhoneFamily(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	wa, err := s.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: f.tenant.ID, Kind: conversation.ChannelWhatsApp, Key: "+15550000001"})
	must(t, err)
	bySMS := ingest1(t, s, f.inbound(f.sms, "+573001234567", "s1", "hola por SMS"))
	byWA := ingest1(t, s, f.inbound(wa, "+573001234567", "w1", "hola por WhatsApp"))
	if byWA.NewContact || byWA.Message.ContactID != bySMS.Message.ContactID {
		t.Fatalf("WhatsApp from the same number made contact %d, want %d", byWA.Message.ContactID, bySMS.Message.ContactID)
	}
	if byWA.Message.ConversationID != bySMS.Message.ConversationID || byWA.Conversation.Channel != conversation.ChannelWhatsApp || byWA.Conversation.ChannelAccountID != wa.ID {
		t.Fatalf("WhatsApp message went to %+v", byWA.Conversation)
	}
	contact, err := s.Contact(ctx, f.tenant.ID, bySMS.Message.ContactID)
	must(t, err)
	if len(contact.Identities) != 2 {
		t.Fatalf("identities = %+v, want sms and whatsapp", contact.Identities)
	}
	if _, ok := contact.IdentityOn(conversation.ChannelWhatsApp); !ok {
		t.Fatal("no WhatsApp identity")
	}
	// A web-chat visitor is another contact, even with the same address text.
	web := ingest1(t, s, f.inbound(f.webchat, "visitor-1", "x1", "hola"))
	if web.Message.ContactID == bySMS.Message.ContactID {
		t.Fatal("web-chat visitor merged into a phone contact")
	}
}

func testIngestAfterClose(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	first := ingest1(t, s, f.inbound(f.webchat, "v", "1", "hola"))
	_, err := s.TransitionConversation(ctx, f.tenant.ID, first.Conversation.ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateClosed})
	must(t, err)
	next := ingest1(t, s, f.inbound(f.webchat, "v", "2", "hola de nuevo"))
	if !next.NewConversation || next.Conversation.ID == first.Conversation.ID || next.Message.Seq != 1 || next.NewContact {
		t.Fatalf("ingest after close = %+v", next)
	}
	// Reopening the old conversation conflicts with the new open one.
	_, err = s.TransitionConversation(ctx, f.tenant.ID, first.Conversation.ID, conversation.Transition{From: conversation.StateClosed, To: conversation.StateBot})
	wantCode(t, err, conversation.ECONFLICT)
}

func testIngestConcurrentDuplicates(t *testing.T, s conversation.Store) {
	f := newFixture(t, s, "acme")
	const n = 32
	var stored atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			res, err := s.Ingest(context.Background(), []conversation.IngestRequest{f.inbound(f.sms, "+573001234567", "same-sid", "hola")})
			if err == nil {
				err = res[0].Err
			}
			if err != nil {
				errs <- err
				return
			}
			if !res[0].Duplicate {
				stored.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if stored.Load() != 1 {
		t.Fatalf("%d concurrent ingests of one message stored %d, want 1", n, stored.Load())
	}
	msgs, err := s.ListMessages(t.Context(), f.tenant.ID, conversation.MessageFilter{})
	must(t, err)
	if len(msgs) != 1 {
		t.Fatalf("store holds %d messages, want 1", len(msgs))
	}
	contacts, err := s.ListContacts(t.Context(), f.tenant.ID, conversation.ContactFilter{})
	must(t, err)
	if len(contacts) != 1 {
		t.Fatalf("store holds %d contacts, want 1", len(contacts))
	}
}

func testIngestConcurrentNewContact(t *testing.T, s conversation.Store) {
	f := newFixture(t, s, "acme")
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			res, err := s.Ingest(context.Background(), []conversation.IngestRequest{
				f.inbound(f.sms, "+573009999999", "sid-"+strconv.Itoa(i), "mensaje "+strconv.Itoa(i)),
			})
			if err == nil {
				err = res[0].Err
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	msgs, err := s.ListMessages(t.Context(), f.tenant.ID, conversation.MessageFilter{})
	must(t, err)
	if len(msgs) != n {
		t.Fatalf("stored %d messages, want %d", len(msgs), n)
	}
	for i, m := range msgs {
		if m.ConversationID != msgs[0].ConversationID || m.ContactID != msgs[0].ContactID {
			t.Fatalf("message %d in conversation %d of contact %d, want one thread", i, m.ConversationID, m.ContactID)
		}
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d: sequence numbers must be 1..n", i, m.Seq)
		}
	}
}

func testSend(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	in := ingest1(t, s, f.inbound(f.webchat, "v", "1", "hola"))
	conv := in.Conversation

	out := conversation.Outbound{
		TenantID: f.tenant.ID, ConversationID: conv.ID, Author: conversation.Author{Kind: conversation.AuthorAgent, ID: 7, Name: "Luis"},
		Parts:          []conversation.Part{conversation.TextPart("Buenos días"), {Type: conversation.PartButtons, Text: "¿Le ayudo?", Buttons: []conversation.Button{{ID: "si", Title: "Sí"}, {ID: "no", Title: "No"}}}},
		IdempotencyKey: "req-1",
	}
	res, err := s.Send(ctx, []conversation.Outbound{out})
	must(t, err)
	m := res[0].Message
	if res[0].Duplicate || m.Status != conversation.StatusQueued || m.Direction != conversation.DirectionOut || m.Seq != 2 ||
		m.Author != out.Author || m.Channel != conversation.ChannelWebchat || m.ChannelAccountID != f.webchat.ID || m.IdempotencyKey != "req-1" {
		t.Fatalf("sent message = %+v", m)
	}
	if len(m.Parts) != 2 || len(m.Parts[1].Buttons) != 2 || m.Parts[1].Buttons[0].Title != "Sí" {
		t.Fatalf("sent parts = %+v", m.Parts)
	}
	jobs, err := s.ClaimJobs(ctx, []string{conversation.JobDeliver}, 10, time.Minute)
	must(t, err)
	if len(jobs) != 1 || jobs[0].Ref != m.ID || jobs[0].MaxAttempts != conversation.DeliverMaxAttempts {
		t.Fatalf("deliver jobs = %+v", jobs)
	}

	again, err := s.Send(ctx, []conversation.Outbound{out})
	must(t, err)
	if !again[0].Duplicate || again[0].Message.ID != m.ID {
		t.Fatalf("repeated idempotency key = %+v", again[0])
	}
	if jobs, _ := s.ClaimJobs(ctx, []string{conversation.JobDeliver}, 10, time.Minute); len(jobs) != 0 {
		t.Fatalf("a repeated send enqueued %d more jobs", len(jobs))
	}

	// A scheduled message is due later.
	later := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	sched, err := s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: conv.ID, Author: conversation.Author{Kind: conversation.AuthorSystem}, Parts: []conversation.Part{conversation.TextPart("recordatorio")}, SendAt: later}})
	must(t, err)
	if !sched[0].Message.SendAt.Equal(later) {
		t.Fatalf("SendAt = %v, want %v", sched[0].Message.SendAt, later)
	}
	if jobs, _ := s.ClaimJobs(ctx, []string{conversation.JobDeliver}, 10, time.Minute); len(jobs) != 0 {
		t.Fatalf("a message scheduled in an hour is due now: %+v", jobs)
	}

	// Sending through an account where the contact has no address fails.
	_, err = s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: conv.ID, AccountID: f.sms.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("x")}}})
	wantCode(t, err, conversation.EINVALID)

	_, err = s.TransitionConversation(ctx, f.tenant.ID, conv.ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateClosed})
	must(t, err)
	_, err = s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: conv.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("x")}}})
	wantCode(t, err, conversation.ECONFLICT)
	_, err = s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: conv.ID + 1000, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("x")}}})
	wantCode(t, err, conversation.ENOTFOUND)
}

// testSendMany: several messages in one Send, as a batch of notifications
// sends them: each result in order, seqs in order within a conversation, a
// key sent before is a duplicate, and one message that cannot go stores
// none.
func testSendMany(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	a := ingest1(t, s, f.inbound(f.webchat, "va", "1", "hola")).Conversation
	b := ingest1(t, s, f.inbound(f.sms, "+573001234567", "2", "hola")).Conversation
	msg := func(conv int64, key, text string) conversation.Outbound {
		return conversation.Outbound{TenantID: f.tenant.ID, ConversationID: conv, Author: conversation.Author{Kind: conversation.AuthorSystem},
			Parts: []conversation.Part{conversation.TextPart(text)}, IdempotencyKey: key}
	}
	first, err := s.Send(ctx, []conversation.Outbound{msg(a.ID, "k0", "cero")})
	must(t, err)
	outs := []conversation.Outbound{msg(b.ID, "k1", "uno"), msg(a.ID, "k0", "cero otra vez"), msg(a.ID, "", "dos"), msg(a.ID, "k3", "tres")}
	res, err := s.Send(ctx, outs)
	must(t, err)
	if len(res) != 4 || res[0].Duplicate || !res[1].Duplicate || res[2].Duplicate || res[3].Duplicate {
		t.Fatalf("results %+v", res)
	}
	if res[1].Message.ID != first[0].Message.ID || conversation.PartsText(res[1].Message.Parts) != "cero" {
		t.Fatalf("the repeated key returned %+v", res[1].Message)
	}
	if m := res[0].Message; m.ConversationID != b.ID || m.Seq != 2 || m.Channel != conversation.ChannelSMS || conversation.PartsText(m.Parts) != "uno" {
		t.Fatalf("message to b = %+v", m)
	}
	if res[2].Message.Seq != 3 || res[3].Message.Seq != 4 || res[3].Message.IdempotencyKey != "k3" || res[2].Message.ConversationID != a.ID {
		t.Fatalf("seqs in a: %d, %d (after the inbound and k0)", res[2].Message.Seq, res[3].Message.Seq)
	}
	jobs, err := s.ClaimJobs(ctx, []string{conversation.JobDeliver}, 10, time.Minute)
	must(t, err)
	if len(jobs) != 4 { // k0's first send and the three new ones
		t.Fatalf("%d deliver jobs, want 4", len(jobs))
	}

	// A message through an account where the contact has no address, in
	// the middle of a batch: nothing of the batch is stored.
	bad := msg(a.ID, "k5", "cinco")
	bad.AccountID = f.sms.ID
	_, err = s.Send(ctx, []conversation.Outbound{msg(b.ID, "k4", "cuatro"), bad})
	wantCode(t, err, conversation.EINVALID)
	closed := msg(b.ID, "k6", "seis")
	_, err = s.TransitionConversation(ctx, f.tenant.ID, b.ID, conversation.Transition{From: b.State, To: conversation.StateClosed})
	must(t, err)
	_, err = s.Send(ctx, []conversation.Outbound{msg(a.ID, "k7", "siete"), closed})
	wantCode(t, err, conversation.ECONFLICT)
	other := newFixture(t, s, "globex")
	_, err = s.Send(ctx, []conversation.Outbound{{TenantID: other.tenant.ID, ConversationID: a.ID, Author: conversation.Author{Kind: conversation.AuthorSystem},
		Parts: []conversation.Part{conversation.TextPart("x")}}, {TenantID: other.tenant.ID, ConversationID: a.ID, Author: conversation.Author{Kind: conversation.AuthorSystem},
		Parts: []conversation.Part{conversation.TextPart("y")}}})
	wantCode(t, err, conversation.ENOTFOUND)
	ms, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{})
	must(t, err)
	if len(ms) != 6 {
		t.Fatalf("%d messages after the refused batches, want 6", len(ms))
	}
	if jobs, _ := s.ClaimJobs(ctx, []string{conversation.JobDeliver}, 10, time.Minute); len(jobs) != 0 {
		t.Fatalf("refused batches enqueued %d jobs", len(jobs))
	}
}

func testSendAllOrNothing(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	conv := ingest1(t, s, f.inbound(f.webchat, "v", "1", "hola")).Conversation
	good := conversation.Outbound{TenantID: f.tenant.ID, ConversationID: conv.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("uno")}}
	bad := good
	bad.ConversationID = conv.ID + 1000
	_, err := s.Send(ctx, []conversation.Outbound{good, bad})
	wantCode(t, err, conversation.ENOTFOUND)
	msgs, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ConversationID: conv.ID})
	must(t, err)
	if len(msgs) != 1 {
		t.Fatalf("a failed batch stored %d messages", len(msgs)-1)
	}
	if jobs, _ := s.ClaimJobs(ctx, []string{conversation.JobDeliver}, 10, time.Minute); len(jobs) != 0 {
		t.Fatalf("a failed batch enqueued %d jobs", len(jobs))
	}
}

func testContacts(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	var ids []int64
	for i := range 5 {
		res := ingest1(t, s, f.inbound(f.webchat, "visitor-"+strconv.Itoa(i), "m"+strconv.Itoa(i), "hola"))
		ids = append(ids, res.Message.ContactID)
	}
	page1, err := s.ListContacts(ctx, f.tenant.ID, conversation.ContactFilter{Limit: 3})
	must(t, err)
	if len(page1) != 3 || page1[0].ID != ids[4] || page1[2].ID != ids[2] {
		t.Fatalf("first page = %v", contactIDs(page1))
	}
	if len(page1[0].Identities) != 1 || page1[0].Identities[0].Address != "visitor-4" {
		t.Fatalf("listed contact identities = %+v", page1[0].Identities)
	}
	page2, err := s.ListContacts(ctx, f.tenant.ID, conversation.ContactFilter{BeforeID: page1[2].ID, Limit: 3})
	must(t, err)
	if len(page2) != 2 || page2[0].ID != ids[1] || page2[1].ID != ids[0] {
		t.Fatalf("second page = %v", contactIDs(page2))
	}

	byIdent, err := s.ContactByIdentity(ctx, f.tenant.ID, conversation.Identity{Channel: conversation.ChannelWebchat, Address: "visitor-2"})
	must(t, err)
	if byIdent.ID != ids[2] {
		t.Fatalf("ContactByIdentity = %d, want %d", byIdent.ID, ids[2])
	}
	_, err = s.ContactByIdentity(ctx, f.tenant.ID, conversation.Identity{Channel: conversation.ChannelSMS, Address: "visitor-2"})
	wantCode(t, err, conversation.ENOTFOUND)

	name, lang := "Ana María", "en"
	c, err := s.UpdateContact(ctx, f.tenant.ID, ids[0], conversation.ContactUpdate{Name: &name, Language: &lang, Attributes: map[string]string{"plan": "gold", "city": "Cali"}})
	must(t, err)
	if c.Name != name || c.Language != "en" || c.Attributes["plan"] != "gold" || len(c.Identities) != 1 {
		t.Fatalf("updated contact = %+v", c)
	}
	c, err = s.UpdateContact(ctx, f.tenant.ID, ids[0], conversation.ContactUpdate{Attributes: map[string]string{"plan": "", "vip": "yes"}})
	must(t, err)
	if c.Name != name || len(c.Attributes) != 2 || c.Attributes["city"] != "Cali" || c.Attributes["vip"] != "yes" {
		t.Fatalf("merged attributes = %+v", c.Attributes)
	}
	got, err := s.Contact(ctx, f.tenant.ID, ids[0])
	must(t, err)
	if got.Attributes["vip"] != "yes" || got.Name != name {
		t.Fatalf("stored contact = %+v", got)
	}
	_, err = s.UpdateContact(ctx, f.tenant.ID, ids[4]+1000, conversation.ContactUpdate{Name: &name})
	wantCode(t, err, conversation.ENOTFOUND)
}

func contactIDs(cs []conversation.Contact) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func testConversations(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	var convs []conversation.Conversation
	for i := range 4 {
		req := f.inbound(f.webchat, "v"+strconv.Itoa(i), "m"+strconv.Itoa(i), "hola")
		req.Inbound.ReceivedAt = base.Add(time.Duration(i) * time.Minute)
		convs = append(convs, ingest1(t, s, req).Conversation)
	}
	got, err := s.Conversation(ctx, f.tenant.ID, convs[1].ID)
	must(t, err)
	if got.ID != convs[1].ID || !got.LastMessageAt.Equal(base.Add(time.Minute)) || got.OpenedAt.IsZero() {
		t.Fatalf("Conversation = %+v", got)
	}

	assigned, err := s.TransitionConversation(ctx, f.tenant.ID, convs[0].ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateAgent, AssigneeID: 42})
	must(t, err)
	if assigned.State != conversation.StateAgent || assigned.AssigneeID != 42 {
		t.Fatalf("assigned = %+v", assigned)
	}
	_, err = s.TransitionConversation(ctx, f.tenant.ID, convs[0].ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateQueued})
	wantCode(t, err, conversation.ECONFLICT)
	queued, err := s.TransitionConversation(ctx, f.tenant.ID, convs[0].ID, conversation.Transition{From: conversation.StateAgent, To: conversation.StateQueued})
	must(t, err)
	if queued.AssigneeID != 0 {
		t.Fatalf("queued conversation keeps assignee %d", queued.AssigneeID)
	}
	closed, err := s.TransitionConversation(ctx, f.tenant.ID, convs[3].ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateClosed})
	must(t, err)
	if closed.ClosedAt.IsZero() {
		t.Fatal("closed conversation has no ClosedAt")
	}
	reopened, err := s.TransitionConversation(ctx, f.tenant.ID, convs[3].ID, conversation.Transition{From: conversation.StateClosed, To: conversation.StateBot})
	must(t, err)
	if !reopened.ClosedAt.IsZero() || reopened.State != conversation.StateBot {
		t.Fatalf("reopened = %+v", reopened)
	}
	_, err = s.TransitionConversation(ctx, f.tenant.ID, convs[3].ID+1000, conversation.Transition{From: conversation.StateBot, To: conversation.StateClosed})
	wantCode(t, err, conversation.ENOTFOUND)

	all, err := s.ListConversations(ctx, f.tenant.ID, conversation.ConversationFilter{})
	must(t, err)
	if ids := convIDs(all); !slices.Equal(ids, []int64{convs[3].ID, convs[2].ID, convs[1].ID, convs[0].ID}) {
		t.Fatalf("conversations by activity = %v", ids)
	}
	page, err := s.ListConversations(ctx, f.tenant.ID, conversation.ConversationFilter{Limit: 2, Before: &conversation.ConversationCursor{LastMessageAt: all[1].LastMessageAt, ID: all[1].ID}})
	must(t, err)
	if ids := convIDs(page); !slices.Equal(ids, []int64{convs[1].ID, convs[0].ID}) {
		t.Fatalf("second page = %v", ids)
	}
	q, err := s.ListConversations(ctx, f.tenant.ID, conversation.ConversationFilter{State: conversation.StateQueued})
	must(t, err)
	if ids := convIDs(q); !slices.Equal(ids, []int64{convs[0].ID}) {
		t.Fatalf("queued = %v", ids)
	}
	byContact, err := s.ListConversations(ctx, f.tenant.ID, conversation.ConversationFilter{ContactID: convs[2].ContactID})
	must(t, err)
	if ids := convIDs(byContact); !slices.Equal(ids, []int64{convs[2].ID}) {
		t.Fatalf("by contact = %v", ids)
	}
}

func convIDs(cs []conversation.Conversation) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func testMessages(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	first := ingest1(t, s, f.inbound(f.webchat, "v", "1", "uno"))
	conv1 := first.Conversation
	ingest1(t, s, f.inbound(f.webchat, "v", "2", "dos"))
	out, err := s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: conv1.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("tres")}}})
	must(t, err)
	_, err = s.TransitionConversation(ctx, f.tenant.ID, conv1.ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateClosed})
	must(t, err)
	conv2 := ingest1(t, s, f.inbound(f.webchat, "v", "4", "cuatro")).Conversation
	ingest1(t, s, f.inbound(f.webchat, "other", "5", "de otro"))

	got, err := s.Message(ctx, f.tenant.ID, first.Message.ID)
	must(t, err)
	if got.Parts[0].Text != "uno" || got.Seq != 1 {
		t.Fatalf("Message = %+v", got)
	}

	texts := func(ms []conversation.Message) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Parts[0].Text)
		}
		return out
	}
	all, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ContactID: first.Message.ContactID})
	must(t, err)
	if got := texts(all); !slices.Equal(got, []string{"uno", "dos", "tres", "cuatro"}) {
		t.Fatalf("contact's messages = %v", got)
	}
	delivered, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ContactID: first.Message.ContactID, Delivered: true})
	must(t, err)
	if got := texts(delivered); !slices.Equal(got, []string{"uno", "dos", "cuatro"}) {
		t.Fatalf("delivered messages = %v (a queued message is not delivered)", got)
	}
	after, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ContactID: first.Message.ContactID, After: &conversation.MessagePos{ConversationID: conv1.ID, Seq: 2}})
	must(t, err)
	if got := texts(after); !slices.Equal(got, []string{"tres", "cuatro"}) {
		t.Fatalf("after (conv1, 2) = %v", got)
	}
	newest, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ContactID: first.Message.ContactID, Newest: true, Limit: 2})
	must(t, err)
	if got := texts(newest); !slices.Equal(got, []string{"tres", "cuatro"}) {
		t.Fatalf("newest 2 = %v", got)
	}
	before, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ConversationID: conv1.ID, Before: &conversation.MessagePos{ConversationID: conv1.ID, Seq: 3}, Newest: true, Limit: 1})
	must(t, err)
	if got := texts(before); !slices.Equal(got, []string{"dos"}) {
		t.Fatalf("before (conv1, 3) = %v", got)
	}
	inConv2, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ConversationID: conv2.ID})
	must(t, err)
	if got := texts(inConv2); !slices.Equal(got, []string{"cuatro"}) {
		t.Fatalf("conversation 2 = %v", got)
	}
	byAccount, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{AccountID: f.sms.ID})
	must(t, err)
	if len(byAccount) != 0 {
		t.Fatalf("sms account has %d messages, want 0", len(byAccount))
	}
	if out[0].Message.Seq != 3 {
		t.Fatalf("outbound seq = %d, want 3", out[0].Message.Seq)
	}
}

func testSearch(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	other := newFixture(t, s, "other")
	a := ingest1(t, s, f.inbound(f.webchat, "v1", "1", "Necesito la FACTURA de marzo"))
	b := ingest1(t, s, f.inbound(f.webchat, "v2", "2", "quiero un café con leche"))
	c := ingest1(t, s, f.inbound(f.webchat, "v3", "3", "My invoice for March is wrong"))
	d := ingest1(t, s, f.inbound(f.webchat, "v1", "4", "la factura llegó con un error"))
	ingest1(t, s, other.inbound(other.webchat, "v1", "1", "factura del otro tenant"))

	search := func(q string, f2 conversation.SearchFilter) []int64 {
		t.Helper()
		f2.Query = q
		ms, err := s.SearchMessages(ctx, f.tenant.ID, f2)
		must(t, err)
		ids := make([]int64, len(ms))
		for i, m := range ms {
			ids[i] = m.ID
		}
		return ids
	}
	for _, tc := range []struct {
		q    string
		want []int64
	}{
		{"factura", []int64{d.Message.ID, a.Message.ID}},
		{"Factúra", []int64{d.Message.ID, a.Message.ID}},
		{"CAFE", []int64{b.Message.ID}},
		{"café leche", []int64{b.Message.ID}},
		{"factu", []int64{d.Message.ID, a.Message.ID}},
		{"factura error", []int64{d.Message.ID}},
		{"invoice march", []int64{c.Message.ID}},
		{"  llegó!! ", []int64{d.Message.ID}},
		{"pizza", nil},
		{`(factura* -"^:`, []int64{d.Message.ID, a.Message.ID}},
	} {
		if got := search(tc.q, conversation.SearchFilter{}); !slices.Equal(got, tc.want) {
			t.Errorf("search %q = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := search("factura", conversation.SearchFilter{Limit: 1}); !slices.Equal(got, []int64{d.Message.ID}) {
		t.Errorf("first page = %v", got)
	}
	if got := search("factura", conversation.SearchFilter{BeforeID: d.Message.ID}); !slices.Equal(got, []int64{a.Message.ID}) {
		t.Errorf("second page = %v", got)
	}
	if got := search("factura", conversation.SearchFilter{ConversationID: b.Conversation.ID}); len(got) != 0 {
		t.Errorf("search in another conversation = %v", got)
	}
	_, err := s.SearchMessages(ctx, f.tenant.ID, conversation.SearchFilter{Query: " ¿? "})
	wantCode(t, err, conversation.EINVALID)
}

func testMessageStatus(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	in := ingest1(t, s, f.inbound(f.sms, "+573001234567", "in-1", "hola"))
	sent, err := s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: in.Conversation.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("respuesta")}}})
	must(t, err)
	id := sent[0].Message.ID

	m, changed, err := s.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: f.tenant.ID, MessageID: id, Status: conversation.StatusSent, SetProviderID: "SM123"})
	must(t, err)
	if !changed || m.Status != conversation.StatusSent || m.ProviderID != "SM123" {
		t.Fatalf("sent = %+v, changed %v", m, changed)
	}
	byProvider := conversation.StatusUpdate{TenantID: f.tenant.ID, AccountID: f.sms.ID, ProviderID: "SM123", Status: conversation.StatusDelivered}
	m, changed, err = s.UpdateMessageStatus(ctx, byProvider)
	must(t, err)
	if !changed || m.Status != conversation.StatusDelivered || m.ID != id {
		t.Fatalf("delivered = %+v", m)
	}
	// A late "sent" never overwrites "delivered"; nor does "failed".
	for _, late := range []conversation.Status{conversation.StatusSent, conversation.StatusFailed, conversation.StatusDelivered} {
		m, changed, err = s.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: f.tenant.ID, MessageID: id, Status: late, Failure: &conversation.Failure{Message: "late"}})
		must(t, err)
		if changed || m.Status != conversation.StatusDelivered || m.Failure != nil {
			t.Fatalf("late %s changed the message to %+v", late, m)
		}
	}
	m, changed, err = s.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: f.tenant.ID, MessageID: id, Status: conversation.StatusRead})
	must(t, err)
	if !changed || m.Status != conversation.StatusRead {
		t.Fatalf("read = %+v", m)
	}

	second, err := s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: in.Conversation.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("otra")}}})
	must(t, err)
	m, changed, err = s.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: f.tenant.ID, MessageID: second[0].Message.ID, Status: conversation.StatusFailed, Failure: &conversation.Failure{Code: "30003", Message: "Unreachable destination handset"}})
	must(t, err)
	if !changed || m.Status != conversation.StatusFailed || m.Failure == nil || m.Failure.Code != "30003" || m.Failure.Message != "Unreachable destination handset" {
		t.Fatalf("failed = %+v", m)
	}
	// Inbound messages have no delivery status to move.
	m, changed, err = s.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: f.tenant.ID, MessageID: in.Message.ID, Status: conversation.StatusRead})
	must(t, err)
	if changed || m.Status != conversation.StatusReceived {
		t.Fatalf("inbound message became %+v", m)
	}
	_, _, err = s.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: f.tenant.ID, AccountID: f.sms.ID, ProviderID: "SMnope", Status: conversation.StatusDelivered})
	wantCode(t, err, conversation.ENOTFOUND)
}

func testAnnotateMessage(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	other := newFixture(t, s, "other")
	in := ingest1(t, s, f.inbound(f.webchat, "v", "1", "quiero pagar mi factura de marzo"))
	second := ingest1(t, s, f.inbound(f.webchat, "v", "2", "gracias"))
	if in.Message.Analysis != nil {
		t.Fatalf("ingested message has analysis %+v", in.Message.Analysis)
	}
	m, err := s.Message(ctx, f.tenant.ID, in.Message.ID)
	must(t, err)
	if m.Analysis != nil {
		t.Fatalf("message not yet analysed has analysis %+v", m.Analysis)
	}

	a := conversation.Analysis{
		Language: "es", Intent: "pay_invoice", Confidence: 0.8731, Sentiment: "negative", SentimentScore: -0.25,
		Entities: []conversation.EntityValue{
			{Entity: "month", Value: "03", Text: "marzo"},
			{Entity: "document", Value: "invoice", Text: "factura"},
		},
		BotVersion: 3,
	}
	must(t, s.AnnotateMessage(ctx, f.tenant.ID, in.Message.ID, a))
	m, err = s.Message(ctx, f.tenant.ID, in.Message.ID)
	must(t, err)
	if m.Analysis == nil || !equalAnalysis(*m.Analysis, a) {
		t.Fatalf("Message analysis = %+v, want %+v", m.Analysis, a)
	}
	if m.Parts[0].Text != in.Message.Parts[0].Text || m.Status != conversation.StatusReceived || !m.UpdatedAt.Equal(in.Message.UpdatedAt) {
		t.Fatalf("annotating changed the message: %+v", m)
	}
	ms, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ConversationID: in.Conversation.ID})
	must(t, err)
	if len(ms) != 2 || ms[0].Analysis == nil || !equalAnalysis(*ms[0].Analysis, a) || ms[1].Analysis != nil {
		t.Fatalf("ListMessages = %+v", ms)
	}
	found, err := s.SearchMessages(ctx, f.tenant.ID, conversation.SearchFilter{Query: "factura"})
	must(t, err)
	if len(found) != 1 || found[0].Analysis == nil || !equalAnalysis(*found[0].Analysis, a) {
		t.Fatalf("SearchMessages = %+v", found)
	}

	// A second analysis replaces the first, wholly.
	b := conversation.Analysis{Language: "es", OutOfScope: true, Sentiment: "neutral", BotVersion: 4}
	must(t, s.AnnotateMessage(ctx, f.tenant.ID, in.Message.ID, b))
	m, err = s.Message(ctx, f.tenant.ID, in.Message.ID)
	must(t, err)
	if m.Analysis == nil || !equalAnalysis(*m.Analysis, b) {
		t.Fatalf("replaced analysis = %+v, want %+v", m.Analysis, b)
	}
	// An analysis that found nothing is still an analysis.
	must(t, s.AnnotateMessage(ctx, f.tenant.ID, second.Message.ID, conversation.Analysis{}))
	m, err = s.Message(ctx, f.tenant.ID, second.Message.ID)
	must(t, err)
	if m.Analysis == nil || !equalAnalysis(*m.Analysis, conversation.Analysis{}) {
		t.Fatalf("empty analysis read back as %+v", m.Analysis)
	}

	wantCode(t, s.AnnotateMessage(ctx, other.tenant.ID, in.Message.ID, a), conversation.ENOTFOUND)
	wantCode(t, s.AnnotateMessage(ctx, f.tenant.ID, in.Message.ID+1000, a), conversation.ENOTFOUND)
	m, err = s.Message(ctx, f.tenant.ID, in.Message.ID)
	must(t, err)
	if m.Analysis == nil || !equalAnalysis(*m.Analysis, b) {
		t.Fatalf("another tenant changed the analysis to %+v", m.Analysis)
	}
}

func equalAnalysis(a, b conversation.Analysis) bool {
	return a.Language == b.Language && a.Intent == b.Intent && a.Confidence == b.Confidence && a.OutOfScope == b.OutOfScope &&
		a.Sentiment == b.Sentiment && a.SentimentScore == b.SentimentScore && a.BotVersion == b.BotVersion &&
		slices.Equal(a.Entities, b.Entities)
}

func testJobs(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	j, err := s.EnqueueJob(ctx, conversation.Job{TenantID: f.tenant.ID, Kind: "escalate", Ref: 5, Key: "case-5", Payload: []byte(`{"level":1}`), MaxAttempts: 3})
	must(t, err)
	if j.ID == 0 || j.State != conversation.JobPending || j.Attempt != 0 || string(j.Payload) != `{"level":1}` {
		t.Fatalf("enqueued = %+v", j)
	}
	same, err := s.EnqueueJob(ctx, conversation.Job{TenantID: f.tenant.ID, Kind: "escalate", Ref: 6, Key: "case-5"})
	must(t, err)
	if same.ID != j.ID || same.Ref != 5 {
		t.Fatalf("same key enqueued %+v, want job %d", same, j.ID)
	}
	future, err := s.EnqueueJob(ctx, conversation.Job{TenantID: f.tenant.ID, Kind: "escalate", RunAt: time.Now().Add(time.Hour)})
	must(t, err)
	_, err = s.EnqueueJob(ctx, conversation.Job{TenantID: f.tenant.ID, Kind: "other"})
	must(t, err)

	claimed, err := s.ClaimJobs(ctx, []string{"escalate"}, 10, time.Minute)
	must(t, err)
	if len(claimed) != 1 || claimed[0].ID != j.ID || claimed[0].Attempt != 1 || claimed[0].State != conversation.JobRunning {
		t.Fatalf("claimed = %+v (the future job and other kinds must wait)", claimed)
	}
	if again, _ := s.ClaimJobs(ctx, []string{"escalate"}, 10, time.Minute); len(again) != 0 {
		t.Fatalf("a leased job was claimed twice: %+v", again)
	}
	counts, err := s.JobCounts(ctx)
	must(t, err)
	want := []conversation.JobCount{{Kind: "escalate", State: conversation.JobPending, Count: 1}, {Kind: "escalate", State: conversation.JobRunning, Count: 1}, {Kind: "other", State: conversation.JobPending, Count: 1}}
	if !slices.Equal(counts, want) {
		t.Fatalf("JobCounts = %+v, want %+v", counts, want)
	}

	// Retry makes it pending again, due when asked.
	must(t, s.RetryJob(ctx, claimed[0], time.Now().Add(-time.Second), "provider down"))
	got, err := s.Job(ctx, f.tenant.ID, j.ID)
	must(t, err)
	if got.State != conversation.JobPending || got.LastError != "provider down" || got.Attempt != 1 {
		t.Fatalf("retried job = %+v", got)
	}
	// A finished lease can no longer complete the job.
	wantCode(t, s.CompleteJob(ctx, claimed[0]), conversation.ECONFLICT)

	// An expired lease lets another worker take the job, and fences the
	// first one out.
	first, err := s.ClaimJobs(ctx, []string{"escalate"}, 10, 0)
	must(t, err)
	if len(first) != 1 || first[0].Attempt != 2 {
		t.Fatalf("claim after retry = %+v", first)
	}
	second, err := s.ClaimJobs(ctx, []string{"escalate"}, 10, time.Minute)
	must(t, err)
	if len(second) != 1 || second[0].ID != j.ID || second[0].Attempt != 3 {
		t.Fatalf("claim of an expired lease = %+v", second)
	}
	wantCode(t, s.CompleteJob(ctx, first[0]), conversation.ECONFLICT)
	wantCode(t, s.FailJob(ctx, first[0], "x"), conversation.ECONFLICT)
	must(t, s.FailJob(ctx, second[0], "gave up"))
	got, err = s.Job(ctx, f.tenant.ID, j.ID)
	must(t, err)
	if got.State != conversation.JobFailed || got.LastError != "gave up" {
		t.Fatalf("failed job = %+v", got)
	}
	// A failed job frees its key.
	fresh, err := s.EnqueueJob(ctx, conversation.Job{TenantID: f.tenant.ID, Kind: "escalate", Key: "case-5"})
	must(t, err)
	if fresh.ID == j.ID {
		t.Fatal("the key of a failed job still dedupes")
	}

	other, err := s.ClaimJobs(ctx, []string{"other"}, 10, time.Minute)
	must(t, err)
	if len(other) != 1 {
		t.Fatalf("claimed %d other jobs", len(other))
	}
	must(t, s.CompleteJob(ctx, other[0]))
	_, err = s.Job(ctx, f.tenant.ID, other[0].ID)
	wantCode(t, err, conversation.ENOTFOUND)
	_, err = s.Job(ctx, f.tenant.ID, future.ID)
	must(t, err)
}

func testJobsConcurrentClaims(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "acme")
	const jobs = 60
	for i := range jobs {
		_, err := s.EnqueueJob(ctx, conversation.Job{TenantID: f.tenant.ID, Kind: "work", Ref: int64(i)})
		must(t, err)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for {
				got, err := s.ClaimJobs(context.Background(), []string{"work"}, 3, time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				for _, j := range got {
					mu.Lock()
					seen[j.Ref]++
					mu.Unlock()
					if err := s.CompleteJob(context.Background(), j); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != jobs {
		t.Fatalf("%d distinct jobs claimed, want %d", len(seen), jobs)
	}
	for ref, n := range seen {
		if n != 1 {
			t.Fatalf("job %d claimed %d times", ref, n)
		}
	}
}

// testTenantIsolation tries every tenant-scoped read and write with another
// tenant's ids and expects not-found.
func testTenantIsolation(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	a := newFixture(t, s, "alpha")
	b := newFixture(t, s, "bravo")
	in := ingest1(t, s, a.inbound(a.sms, "+573001234567", "1", "secreto de alpha"))
	sent, err := s.Send(ctx, []conversation.Outbound{{TenantID: a.tenant.ID, ConversationID: in.Conversation.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("respuesta")}}})
	must(t, err)
	_, _, err = s.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: a.tenant.ID, MessageID: sent[0].Message.ID, Status: conversation.StatusSent, SetProviderID: "SMa"})
	must(t, err)
	job, err := s.EnqueueJob(ctx, conversation.Job{TenantID: a.tenant.ID, Kind: "x"})
	must(t, err)
	_, err = s.CreateAPIKey(ctx, conversation.APIKey{ID: "ka", TenantID: a.tenant.ID, Hash: []byte{1}})
	must(t, err)

	bt := b.tenant.ID
	name := "intruso"
	checks := map[string]error{}
	_, checks["ChannelAccount"] = s.ChannelAccount(ctx, bt, a.sms.ID)
	acct := a.sms
	acct.TenantID = bt
	_, checks["UpdateChannelAccount"] = s.UpdateChannelAccount(ctx, acct)
	checks["RevokeAPIKey"] = s.RevokeAPIKey(ctx, bt, "ka")
	_, checks["Contact"] = s.Contact(ctx, bt, in.Message.ContactID)
	_, checks["ContactByIdentity"] = s.ContactByIdentity(ctx, bt, conversation.Identity{Channel: conversation.ChannelSMS, Address: "+573001234567"})
	_, checks["UpdateContact"] = s.UpdateContact(ctx, bt, in.Message.ContactID, conversation.ContactUpdate{Name: &name})
	_, checks["Conversation"] = s.Conversation(ctx, bt, in.Conversation.ID)
	_, checks["TransitionConversation"] = s.TransitionConversation(ctx, bt, in.Conversation.ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateClosed})
	_, checks["Message"] = s.Message(ctx, bt, in.Message.ID)
	_, _, checks["UpdateMessageStatus"] = s.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: bt, MessageID: sent[0].Message.ID, Status: conversation.StatusRead})
	_, _, checks["UpdateMessageStatus by provider id"] = s.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: bt, AccountID: a.sms.ID, ProviderID: "SMa", Status: conversation.StatusRead})
	_, checks["Send"] = s.Send(ctx, []conversation.Outbound{{TenantID: bt, ConversationID: in.Conversation.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("x")}}})
	bconv := ingest1(t, s, b.inbound(b.sms, "+573001234567", "1", "hola")).Conversation
	_, checks["Send through another tenant's account"] = s.Send(ctx, []conversation.Outbound{{TenantID: bt, ConversationID: bconv.ID, AccountID: a.sms.ID, Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("x")}}})
	_, checks["Job"] = s.Job(ctx, bt, job.ID)
	for name, err := range checks {
		if conversation.ErrorCode(err) != conversation.ENOTFOUND {
			t.Errorf("%s with another tenant's id: %v, want not found", name, err)
		}
	}

	// Lists and searches of b show nothing of a.
	if ms, err := s.ListMessages(ctx, bt, conversation.MessageFilter{ConversationID: in.Conversation.ID}); err != nil || len(ms) != 0 {
		t.Errorf("ListMessages of a's conversation as b = %d messages, %v", len(ms), err)
	}
	if ms, err := s.ListMessages(ctx, bt, conversation.MessageFilter{ContactID: in.Message.ContactID}); err != nil || len(ms) != 0 {
		t.Errorf("ListMessages of a's contact as b = %d messages, %v", len(ms), err)
	}
	if ms, err := s.SearchMessages(ctx, bt, conversation.SearchFilter{Query: "secreto"}); err != nil || len(ms) != 0 {
		t.Errorf("SearchMessages as b = %d messages, %v", len(ms), err)
	}
	if cs, err := s.ListConversations(ctx, bt, conversation.ConversationFilter{ContactID: in.Message.ContactID}); err != nil || len(cs) != 0 {
		t.Errorf("ListConversations of a's contact as b = %d, %v", len(cs), err)
	}
	if cs, err := s.ListContacts(ctx, bt, conversation.ContactFilter{}); err != nil || len(cs) != 1 || cs[0].ID == in.Message.ContactID {
		t.Errorf("ListContacts as b = %+v, %v", cs, err)
	}
	if as, err := s.ListChannelAccounts(ctx, bt); err != nil || len(as) != 2 || as[0].TenantID != bt {
		t.Errorf("ListChannelAccounts as b = %+v, %v", as, err)
	}
	if ks, err := s.ListAPIKeys(ctx, bt); err != nil || len(ks) != 0 {
		t.Errorf("ListAPIKeys as b = %+v, %v", ks, err)
	}
	// The same phone number at b is b's own contact.
	if bconv.ContactID == in.Message.ContactID {
		t.Error("the same phone number at two tenants is one contact")
	}

	// Nothing of a changed.
	c, err := s.Contact(ctx, a.tenant.ID, in.Message.ContactID)
	must(t, err)
	if c.Name == name {
		t.Error("b renamed a's contact")
	}
	conv, err := s.Conversation(ctx, a.tenant.ID, in.Conversation.ID)
	must(t, err)
	if conv.State != conversation.StateBot {
		t.Errorf("b moved a's conversation to %s", conv.State)
	}
	m, err := s.Message(ctx, a.tenant.ID, sent[0].Message.ID)
	must(t, err)
	if m.Status != conversation.StatusSent {
		t.Errorf("b moved a's message to %s", m.Status)
	}
	k, err := s.APIKey(ctx, "ka")
	must(t, err)
	if !k.RevokedAt.IsZero() {
		t.Error("b revoked a's API key")
	}
}

func testSettings(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	v, err := s.InitSetting(ctx, "secret", "first")
	must(t, err)
	if v != "first" {
		t.Fatalf("InitSetting = %q", v)
	}
	v, err = s.InitSetting(ctx, "secret", "second")
	must(t, err)
	if v != "first" {
		t.Fatalf("second InitSetting = %q, want the first value kept", v)
	}
	if v, err := s.Setting(ctx, "secret"); err != nil || v != "first" {
		t.Fatalf("Setting = %q, %v", v, err)
	}
	if _, err := s.Setting(ctx, "mailbox:7:uid"); !conversation.IsNotFound(err) {
		t.Fatalf("Setting of nothing = %v; want not found", err)
	}
	must(t, s.PutSetting(ctx, "mailbox:7:uid", "41"))
	must(t, s.PutSetting(ctx, "mailbox:7:uid", "42"))
	if v, err := s.Setting(ctx, "mailbox:7:uid"); err != nil || v != "42" {
		t.Fatalf("Setting after two puts = %q, %v; want the last", v, err)
	}
	must(t, s.Ping(ctx))
}

func testConsent(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	a, b := newFixture(t, s, "consent-a"), newFixture(t, s, "consent-b")
	const ana, luis = "+573001112233", "+573004445566"
	in := ingest1(t, s, a.inbound(a.sms, ana, "SM1", "STOP"))

	if out, err := s.OptedOut(ctx, a.tenant.ID, a.sms.ID, ana); err != nil || out {
		t.Fatalf("OptedOut before any change = %v, %v; want false", out, err)
	}
	at := time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC)
	stop, err := s.RecordConsent(ctx, conversation.ConsentChange{TenantID: a.tenant.ID, AccountID: a.sms.ID, ContactID: in.Message.ContactID,
		Channel: conversation.ChannelSMS, Address: ana, OptedOut: true, Source: "keyword:STOP", ProviderID: "SM1", At: at})
	must(t, err)
	if stop.ID == 0 || !stop.At.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("RecordConsent = %+v; want an id and At %v", stop, at.Truncate(time.Microsecond))
	}
	if out, err := s.OptedOut(ctx, a.tenant.ID, a.sms.ID, ana); err != nil || !out {
		t.Fatalf("OptedOut after STOP = %v, %v; want true", out, err)
	}
	// The same message recorded again (a retried job) is the first change.
	again, err := s.RecordConsent(ctx, conversation.ConsentChange{TenantID: a.tenant.ID, AccountID: a.sms.ID, ContactID: in.Message.ContactID,
		Channel: conversation.ChannelSMS, Address: ana, OptedOut: true, Source: "keyword:STOP", ProviderID: "SM1"})
	must(t, err)
	if again.ID != stop.ID || !again.At.Equal(stop.At) {
		t.Fatalf("recording SM1 again = %+v; want the first change %+v", again, stop)
	}
	// Per recipient, per sender, per tenant.
	for _, q := range []struct {
		tenant, account int64
		addr            string
	}{{a.tenant.ID, a.sms.ID, luis}, {a.tenant.ID, a.webchat.ID, ana}, {b.tenant.ID, a.sms.ID, ana}, {b.tenant.ID, b.sms.ID, ana}} {
		if out, err := s.OptedOut(ctx, q.tenant, q.account, q.addr); err != nil || out {
			t.Errorf("OptedOut(%d, %d, %s) = %v, %v; want false", q.tenant, q.account, q.addr, out, err)
		}
	}
	start, err := s.RecordConsent(ctx, conversation.ConsentChange{TenantID: a.tenant.ID, AccountID: a.sms.ID, ContactID: in.Message.ContactID,
		Channel: conversation.ChannelSMS, Address: ana, OptedOut: false, Source: "keyword:START", ProviderID: "SM2"})
	must(t, err)
	if start.At.IsZero() {
		t.Error("RecordConsent left At zero; want now")
	}
	if out, err := s.OptedOut(ctx, a.tenant.ID, a.sms.ID, ana); err != nil || out {
		t.Fatalf("OptedOut after START = %v, %v; want false", out, err)
	}

	// Another tenant's account is not found, and records nothing.
	_, err = s.RecordConsent(ctx, conversation.ConsentChange{TenantID: b.tenant.ID, AccountID: a.sms.ID,
		Channel: conversation.ChannelSMS, Address: ana, OptedOut: true, Source: "api"})
	wantCode(t, err, conversation.ENOTFOUND)

	got, err := s.ListConsent(ctx, a.tenant.ID, conversation.ConsentFilter{ContactID: in.Message.ContactID})
	must(t, err)
	if len(got) != 2 || got[0].ID != start.ID || got[1].ID != stop.ID || got[1].Source != "keyword:STOP" || got[1].ProviderID != "SM1" ||
		!got[1].OptedOut || got[1].Channel != conversation.ChannelSMS || got[1].Address != ana || got[1].AccountID != a.sms.ID {
		t.Fatalf("ListConsent = %+v; want START then STOP", got)
	}
	if got, err := s.ListConsent(ctx, a.tenant.ID, conversation.ConsentFilter{Address: ana, BeforeID: start.ID}); err != nil || len(got) != 1 || got[0].ID != stop.ID {
		t.Fatalf("ListConsent before START = %+v, %v; want STOP", got, err)
	}
	if got, err := s.ListConsent(ctx, b.tenant.ID, conversation.ConsentFilter{}); err != nil || len(got) != 0 {
		t.Fatalf("other tenant's ListConsent = %+v, %v; want none", got, err)
	}
}

func testLastInbound(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "last-inbound")
	const ana = "+573001112233"
	first := f.inbound(f.sms, ana, "SM1", "hola")
	first.Inbound.ReceivedAt = time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Microsecond)
	in := ingest1(t, s, first)
	if at, err := s.LastInbound(ctx, f.tenant.ID, in.Message.ContactID, f.webchat.ID); err != nil || !at.IsZero() {
		t.Fatalf("LastInbound on an account never written to = %v, %v; want zero", at, err)
	}
	at, err := s.LastInbound(ctx, f.tenant.ID, in.Message.ContactID, f.sms.ID)
	if err != nil || !at.Equal(first.Inbound.ReceivedAt) {
		t.Fatalf("LastInbound = %v, %v; want %v", at, err, first.Inbound.ReceivedAt)
	}
	second := f.inbound(f.sms, ana, "SM2", "sigo aquí")
	second.Inbound.ReceivedAt = time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	ingest1(t, s, second)
	// A reply is outbound and does not count.
	_, err = s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: in.Conversation.ID,
		Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("hola")}, AccountID: f.sms.ID}})
	must(t, err)
	if at, err := s.LastInbound(ctx, f.tenant.ID, in.Message.ContactID, f.sms.ID); err != nil || !at.Equal(second.Inbound.ReceivedAt) {
		t.Fatalf("LastInbound after a second message = %v, %v; want %v", at, err, second.Inbound.ReceivedAt)
	}
	if at, err := s.LastInbound(ctx, f.tenant.ID+1000, in.Message.ContactID, f.sms.ID); err != nil || !at.IsZero() {
		t.Fatalf("LastInbound of another tenant = %v, %v; want zero", at, err)
	}
}

func testMessageMeta(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "meta")
	meta := map[string]string{conversation.MetaSubject: "Factura de octubre", "message_id": "abc@mail.example"}
	req := f.inbound(f.webchat, "visitor-1", "e1", "hola")
	req.Inbound.Meta = meta
	first := ingest1(t, s, req) // a new contact: the long way
	req2 := f.inbound(f.webchat, "visitor-1", "e2", "sigo aquí")
	req2.Inbound.Meta = map[string]string{"message_id": "def@mail.example"}
	second := ingest1(t, s, req2) // a known contact: the short way
	plain := ingest1(t, s, f.inbound(f.webchat, "visitor-1", "e3", "sin meta"))
	for _, c := range []struct {
		res  conversation.IngestResult
		want map[string]string
	}{{first, meta}, {second, req2.Inbound.Meta}, {plain, nil}} {
		if !maps.Equal(c.res.Message.Meta, c.want) {
			t.Errorf("Ingest returned meta %v; want %v", c.res.Message.Meta, c.want)
		}
		m, err := s.Message(ctx, f.tenant.ID, c.res.Message.ID)
		must(t, err)
		if !maps.Equal(m.Meta, c.want) || (c.want == nil && m.Meta != nil) {
			t.Errorf("stored meta %v; want %v", m.Meta, c.want)
		}
	}
	out, err := s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: first.Conversation.ID,
		Author: conversation.Author{Kind: conversation.AuthorAgent}, Parts: []conversation.Part{conversation.TextPart("hola")},
		Meta: map[string]string{conversation.MetaSubject: "Re: Factura de octubre"}}})
	must(t, err)
	ms, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ConversationID: first.Conversation.ID})
	must(t, err)
	if len(ms) != 4 || ms[3].ID != out[0].Message.ID || ms[3].Meta[conversation.MetaSubject] != "Re: Factura de octubre" || ms[0].Meta["message_id"] != "abc@mail.example" {
		t.Fatalf("listed messages' meta: %+v", ms)
	}
}

func testConsentPurpose(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "consent-purpose")
	const ana = "+573001112233"
	in := ingest1(t, s, f.inbound(f.sms, ana, "SM1", "hola"))
	record := func(purpose string, out bool) conversation.ConsentChange {
		t.Helper()
		c, err := s.RecordConsent(ctx, conversation.ConsentChange{TenantID: f.tenant.ID, AccountID: f.sms.ID, ContactID: in.Message.ContactID,
			Channel: conversation.ChannelSMS, Address: ana, OptedOut: out, Source: "bot", Purpose: purpose})
		must(t, err)
		return c
	}
	check := func(when string, all, survey, reminder bool) {
		t.Helper()
		for _, q := range []struct {
			purpose string
			want    bool
		}{{"", all}, {"survey", survey}, {"reminder", reminder}} {
			got, err := s.OptedOutOf(ctx, f.tenant.ID, f.sms.ID, ana, q.purpose)
			must(t, err)
			if got != q.want {
				t.Errorf("%s: OptedOutOf(%q) = %v, want %v", when, q.purpose, got, q.want)
			}
		}
		if got, err := s.OptedOut(ctx, f.tenant.ID, f.sms.ID, ana); err != nil || got != all {
			t.Errorf("%s: OptedOut = %v, %v; want %v (the all-purpose entries only)", when, got, err, all)
		}
	}
	check("before any change", false, false, false)
	record("survey", true)
	check("after a survey opt-out", false, true, false)
	record("", true)
	check("after STOP", true, true, false)
	record("", false)
	check("after START", false, true, false)
	c := record("survey", false)
	check("after a survey opt-in", false, false, false)

	got, err := s.ListConsent(ctx, f.tenant.ID, conversation.ConsentFilter{Address: ana, Limit: 1})
	must(t, err)
	if len(got) != 1 || got[0].ID != c.ID || got[0].Purpose != "survey" {
		t.Fatalf("ListConsent = %+v; want the survey opt-in with its purpose", got)
	}
}

func testOpenConversation(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	a, b := newFixture(t, s, "open-a"), newFixture(t, s, "open-b")
	in := ingest1(t, s, a.inbound(a.webchat, "visitor-1", "w1", "hola"))
	contact := in.Message.ContactID

	// The open conversation is the one, whatever account is asked for.
	c, created, err := s.OpenConversation(ctx, a.tenant.ID, contact, a.sms.ID)
	must(t, err)
	if created || c.ID != in.Conversation.ID || c.Channel != conversation.ChannelWebchat {
		t.Fatalf("with an open conversation: %+v, created %v; want conversation %d", c, created, in.Conversation.ID)
	}
	_, err = s.TransitionConversation(ctx, a.tenant.ID, c.ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateClosed})
	must(t, err)

	// Closed: a new one, on the account asked for, owned by the bot.
	c2, created, err := s.OpenConversation(ctx, a.tenant.ID, contact, a.sms.ID)
	must(t, err)
	if !created || c2.ID == c.ID || c2.State != conversation.StateBot || c2.Channel != conversation.ChannelSMS ||
		c2.ChannelAccountID != a.sms.ID || c2.ContactID != contact || c2.TenantID != a.tenant.ID || c2.OpenedAt.IsZero() {
		t.Fatalf("after close: %+v, created %v", c2, created)
	}
	again, created, err := s.OpenConversation(ctx, a.tenant.ID, contact, a.webchat.ID)
	must(t, err)
	if created || again.ID != c2.ID {
		t.Fatalf("again: %+v, created %v; want %d", again, created, c2.ID)
	}
	// An ingest finds it too.
	if res := ingest1(t, s, a.inbound(a.webchat, "visitor-1", "w2", "otra")); res.Conversation.ID != c2.ID || res.NewConversation {
		t.Fatalf("ingest after OpenConversation went to %d (new %v), want %d", res.Conversation.ID, res.NewConversation, c2.ID)
	}

	// Another tenant's contact or account is not found.
	_, _, err = s.OpenConversation(ctx, b.tenant.ID, contact, b.sms.ID)
	wantCode(t, err, conversation.ENOTFOUND)
	_, _, err = s.OpenConversation(ctx, a.tenant.ID, contact, b.sms.ID)
	wantCode(t, err, conversation.ENOTFOUND)
	_, _, err = s.OpenConversation(ctx, a.tenant.ID, contact+1000, a.sms.ID)
	wantCode(t, err, conversation.ENOTFOUND)
}

func testOpenConversationConcurrent(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "open-race")
	in := ingest1(t, s, f.inbound(f.sms, "+573001112233", "SM1", "hola"))
	_, err := s.TransitionConversation(ctx, f.tenant.ID, in.Conversation.ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateClosed})
	must(t, err)

	const n = 8
	var wg sync.WaitGroup
	ids := make([]int64, n)
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var c conversation.Conversation
			c, created[i], errs[i] = s.OpenConversation(ctx, f.tenant.ID, in.Message.ContactID, f.sms.ID)
			ids[i] = c.ID
		})
	}
	// An ingest from the contact races with them.
	res, ierr := s.Ingest(ctx, []conversation.IngestRequest{f.inbound(f.sms, "+573001112233", "SM2", "sigo aquí")})
	wg.Wait()
	must(t, ierr)
	must(t, res[0].Err)
	made := 0
	for i := range n {
		must(t, errs[i])
		if ids[i] != res[0].Conversation.ID {
			t.Fatalf("conversations %v and the ingest's %d: want one", ids, res[0].Conversation.ID)
		}
		if created[i] {
			made++
		}
	}
	if res[0].NewConversation {
		made++
	}
	if made != 1 {
		t.Fatalf("%d conversations opened, want 1", made)
	}
	open, err := s.ListConversations(ctx, f.tenant.ID, conversation.ConversationFilter{ContactID: in.Message.ContactID, State: conversation.StateBot})
	must(t, err)
	if len(open) != 1 {
		t.Fatalf("%d open conversations, want 1", len(open))
	}
}

func testEditMessage(t *testing.T, s conversation.Store) {
	ctx := t.Context()
	f := newFixture(t, s, "edit")
	other := newFixture(t, s, "edit-other")
	in := ingest1(t, s, f.inbound(f.sms, "+573001112233", "TG1", "hola, mi factura es 1234"))
	at := time.Date(2026, 11, 21, 15, 0, 0, 0, time.UTC)
	m, err := s.EditMessage(ctx, f.tenant.ID, f.sms.ID, "TG1", []conversation.Part{conversation.TextPart("hola, mi factura es 4321")}, at)
	must(t, err)
	if m.ID != in.Message.ID || m.Text() != "hola, mi factura es 4321" || m.Meta[conversation.MetaOriginal] != "hola, mi factura es 1234" ||
		m.Meta[conversation.MetaEditedAt] != "2026-11-21T15:00:00Z" {
		t.Fatalf("edited message = %+v", m)
	}
	// A second edit keeps the first text.
	m, err = s.EditMessage(ctx, f.tenant.ID, f.sms.ID, "TG1", []conversation.Part{conversation.TextPart("hola, mi factura es 5555")}, at.Add(time.Minute))
	must(t, err)
	if m.Meta[conversation.MetaOriginal] != "hola, mi factura es 1234" || m.Text() != "hola, mi factura es 5555" {
		t.Fatalf("second edit = %+v", m)
	}
	stored, err := s.Message(ctx, f.tenant.ID, in.Message.ID)
	must(t, err)
	if stored.Text() != "hola, mi factura es 5555" || stored.Seq != in.Message.Seq {
		t.Fatalf("stored after the edits = %+v", stored)
	}
	// Search finds the new text, not the old.
	if ms, err := s.SearchMessages(ctx, f.tenant.ID, conversation.SearchFilter{Query: "5555"}); err != nil || len(ms) != 1 {
		t.Fatalf("search of the new text = %v, %v", ms, err)
	}
	if ms, err := s.SearchMessages(ctx, f.tenant.ID, conversation.SearchFilter{Query: "1234"}); err != nil || len(ms) != 0 {
		t.Fatalf("search of the old text = %v, %v; want nothing", ms, err)
	}
	// Only the tenant's inbound message of that account and id.
	for name, edit := range map[string]func() error{
		"another tenant": func() error {
			_, err := s.EditMessage(ctx, other.tenant.ID, f.sms.ID, "TG1", stored.Parts, at)
			return err
		},
		"another account": func() error {
			_, err := s.EditMessage(ctx, f.tenant.ID, f.webchat.ID, "TG1", stored.Parts, at)
			return err
		},
		"an unknown id": func() error { _, err := s.EditMessage(ctx, f.tenant.ID, f.sms.ID, "TG2", stored.Parts, at); return err },
	} {
		if err := edit(); !conversation.IsNotFound(err) {
			t.Errorf("%s: EditMessage = %v; want not found", name, err)
		}
	}
}

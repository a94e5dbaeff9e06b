// Package webhooktest holds the contract suite that every webhook.Store
// must pass.
package webhooktest

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify/webhook"
)

// TestStore runs the webhook.Store contract. newStore returns an empty
// store of its own, as the conversation.Store that holds the tenants and
// the webhook.Store under test (usually the same value).
func TestStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, webhook.Store)) {
	t.Run("CRUDAndIsolation", func(t *testing.T) {
		t.Parallel()
		cs, s := newStore(t)
		ctx := t.Context()
		tenant := func(slug string) int64 {
			tn := conversation.Tenant{Slug: slug, Name: slug}
			if err := tn.Validate(); err != nil {
				t.Fatal(err)
			}
			tn, err := cs.CreateTenant(ctx, tn)
			if err != nil {
				t.Fatal(err)
			}
			return tn.ID
		}
		acme, other := tenant("acme"), tenant("other")
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		in := webhook.Endpoint{TenantID: acme, URL: "https://crm.acme.example/hooks", Secret: "whsec_0123456789abcdef",
			Events: []string{webhook.EventMessageFailed, webhook.EventCampaignProgress}}
		e, err := s.CreateEndpoint(ctx, in)
		must(err)
		if e.ID == 0 || e.CreatedAt.IsZero() || e.UpdatedAt.IsZero() {
			t.Fatalf("created %+v", e)
		}
		in.ID, in.CreatedAt, in.UpdatedAt = e.ID, e.CreatedAt, e.UpdatedAt
		if !reflect.DeepEqual(e, in) {
			t.Fatalf("stored\n%+v\nwant\n%+v", e, in)
		}
		got, err := s.Endpoint(ctx, acme, e.ID)
		must(err)
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("read back %+v", got)
		}
		all, err := s.CreateEndpoint(ctx, webhook.Endpoint{TenantID: acme, URL: "https://b.example/", Secret: "whsec_fedcba9876543210"})
		must(err)
		list, err := s.ListEndpoints(ctx, acme)
		must(err)
		if len(list) != 2 || list[0].ID != e.ID || list[1].ID != all.ID || list[1].Events != nil {
			t.Fatalf("list %+v", list)
		}
		e.URL, e.Events, e.Disabled, e.Secret = "https://crm.acme.example/v2", nil, true, "ignored-ignored-ignored"
		up, err := s.UpdateEndpoint(ctx, e)
		must(err)
		if up.URL != e.URL || up.Events != nil || !up.Disabled || up.Secret != "whsec_0123456789abcdef" {
			t.Fatalf("updated %+v (the secret stays)", up)
		}

		if _, err := s.Endpoint(ctx, other, e.ID); !conversation.IsNotFound(err) {
			t.Errorf("read another tenant's endpoint: %v", err)
		}
		if _, err := s.UpdateEndpoint(ctx, webhook.Endpoint{ID: e.ID, TenantID: other, URL: "https://x.example"}); !conversation.IsNotFound(err) {
			t.Errorf("update another tenant's endpoint: %v", err)
		}
		if err := s.DeleteEndpoint(ctx, other, e.ID); !conversation.IsNotFound(err) {
			t.Errorf("delete another tenant's endpoint: %v", err)
		}
		if l, err := s.ListEndpoints(ctx, other); err != nil || len(l) != 0 {
			t.Errorf("another tenant's list: %v %v", l, err)
		}
		if _, err := s.CreateEndpoint(ctx, webhook.Endpoint{TenantID: 999999, URL: "https://x.example", Secret: "s"}); !conversation.IsNotFound(err) {
			t.Errorf("create for a missing tenant: %v", err)
		}

		rot, err := s.SetEndpointSecret(ctx, acme, e.ID, "whsec_rotated_0123456789")
		must(err)
		if got, err := s.Endpoint(ctx, acme, e.ID); err != nil || got.Secret != "whsec_rotated_0123456789" || rot.Secret != got.Secret || got.URL != up.URL {
			t.Fatalf("after rotating the secret: %+v, %v (set returned %+v)", got, err, rot)
		}
		if _, err := s.SetEndpointSecret(ctx, other, e.ID, "whsec_stolen_0123456789"); !conversation.IsNotFound(err) {
			t.Errorf("rotate another tenant's secret: %v", err)
		}

		// An event is enqueued once per endpoint, and never for another
		// tenant's endpoint.
		job := func(ep int64) conversation.Job {
			return conversation.Job{TenantID: acme, Kind: webhook.JobDeliver, Ref: ep, Key: "webhook:test:" + strconv.FormatInt(ep, 10), Payload: []byte(`{}`), MaxAttempts: 3}
		}
		n, err := s.EnqueueEvent(ctx, acme, "message:1:read", []conversation.Job{job(e.ID), job(all.ID)})
		must(err)
		if n != 2 {
			t.Fatalf("EnqueueEvent enqueued %d; want 2", n)
		}
		js, err := cs.ClaimJobs(ctx, []string{webhook.JobDeliver}, 10, time.Minute)
		must(err)
		if len(js) != 2 {
			t.Fatalf("claimed %+v; want the 2 deliveries", js)
		}
		for _, j := range js {
			must(cs.CompleteJob(ctx, j))
		}
		if n, err := s.EnqueueEvent(ctx, acme, "message:1:read", []conversation.Job{job(e.ID), job(all.ID)}); err != nil || n != 0 {
			t.Errorf("the same event again, after its deliveries finished: %d, %v; want none", n, err)
		}
		if n, err := s.EnqueueEvent(ctx, other, "message:1:read", []conversation.Job{job(e.ID)}); err != nil || n != 0 {
			t.Errorf("an event of another tenant for acme's endpoint: %d, %v; want none", n, err)
		}
		if n, err := s.EnqueueEvent(ctx, acme, "message:1:failed", []conversation.Job{job(e.ID)}); err != nil || n != 1 {
			t.Errorf("another event: %d, %v; want 1", n, err)
		}

		must(s.DeleteEndpoint(ctx, acme, e.ID))
		if _, err := s.Endpoint(ctx, acme, e.ID); !conversation.IsNotFound(err) {
			t.Errorf("read a deleted endpoint: %v", err)
		}
		if err := s.DeleteEndpoint(ctx, acme, e.ID); !conversation.IsNotFound(err) {
			t.Errorf("delete twice: %v", err)
		}
		// A deleted endpoint's events go with it: a new endpoint, even one
		// that gets its id again (SQLite may reuse the highest), is given
		// every event.
		must(s.DeleteEndpoint(ctx, acme, all.ID))
		fresh, err := s.CreateEndpoint(ctx, webhook.Endpoint{TenantID: acme, URL: "https://fresh.example/hook", Secret: "whsec_fresh_0123456789"})
		must(err)
		if n, err := s.EnqueueEvent(ctx, acme, "message:1:read", []conversation.Job{job(fresh.ID)}); err != nil || n != 1 {
			t.Errorf("an event a deleted endpoint was given, for a new endpoint (id %d, deleted %d and %d): %d, %v; want 1", fresh.ID, e.ID, all.ID, n, err)
		}
	})
}

// TestSealedSecrets checks that a store keeps endpoint secrets encrypted.
// open returns a store on one database, the same for every call within the
// test, with the given sealer (nil for none).
func TestSealedSecrets(t *testing.T, open func(t *testing.T, sealer *conversation.Sealer) (conversation.Store, webhook.Store)) {
	ctx := t.Context()
	keyA, _ := conversation.NewSealer(bytes.Repeat([]byte{1}, 32))
	keyB, _ := conversation.NewSealer(bytes.Repeat([]byte{2}, 32))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Before the store had a key, secrets were stored in the clear.
	cs, clear := open(t, nil)
	tn, err := cs.CreateTenant(ctx, conversation.Tenant{Slug: "sealed-hooks", Name: "Sealed"})
	must(err)
	old, err := clear.CreateEndpoint(ctx, webhook.Endpoint{TenantID: tn.ID, URL: "https://old.example/", Secret: "whsec_old_in_the_clear"})
	must(err)

	_, s := open(t, keyA)
	if got, err := s.Endpoint(ctx, tn.ID, old.ID); err != nil || got.Secret != "whsec_old_in_the_clear" {
		t.Fatalf("a clear secret reads as %q, %v; want it as it is", got.Secret, err)
	}
	e, err := s.CreateEndpoint(ctx, webhook.Endpoint{TenantID: tn.ID, URL: "https://new.example/", Secret: "whsec_new_sealed_0123"})
	must(err)
	if e.Secret != "whsec_new_sealed_0123" {
		t.Fatalf("created with secret %q", e.Secret)
	}
	n, err := s.SealEndpointSecrets(ctx)
	must(err)
	if n != 1 {
		t.Errorf("SealEndpointSecrets sealed %d; want the 1 clear secret", n)
	}
	if n, err := s.SealEndpointSecrets(ctx); err != nil || n != 0 {
		t.Errorf("sealing again: %d, %v; want nothing left", n, err)
	}
	list, err := s.ListEndpoints(ctx, tn.ID)
	must(err)
	if len(list) != 2 || list[0].Secret != "whsec_old_in_the_clear" || list[1].Secret != "whsec_new_sealed_0123" {
		t.Fatalf("after sealing, the endpoints read %+v", list)
	}
	rot, err := s.SetEndpointSecret(ctx, tn.ID, e.ID, "whsec_rotated_sealed_0123")
	must(err)
	if rot.Secret != "whsec_rotated_sealed_0123" {
		t.Fatalf("rotated to %q", rot.Secret)
	}

	// Without the key, or with another, no secret opens: none is stored
	// in the clear any more.
	for name, sealer := range map[string]*conversation.Sealer{"no key": nil, "another key": keyB} {
		_, other := open(t, sealer)
		for _, id := range []int64{old.ID, e.ID} {
			if got, err := other.Endpoint(ctx, tn.ID, id); !errors.Is(err, conversation.ErrSealed) {
				t.Errorf("%s: endpoint %d reads as %+v, %v; want ErrSealed", name, id, got, err)
			}
		}
		if _, err := other.ListEndpoints(ctx, tn.ID); !errors.Is(err, conversation.ErrSealed) {
			t.Errorf("%s: ListEndpoints = %v; want ErrSealed", name, err)
		}
	}
}

// TestStatusOutbox checks that a status change of an outbound message to
// delivered, read or failed enqueues, in its transaction, the
// status_changed job when the tenant has an enabled endpoint, and only
// then. newStore is as for TestStore.
func TestStatusOutbox(t *testing.T, newStore func(t *testing.T) (conversation.Store, webhook.Store)) {
	cs, s := newStore(t)
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tn, err := cs.CreateTenant(ctx, conversation.Tenant{Slug: "outbox", Name: "Outbox"})
	must(err)
	acct, err := cs.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelSMS, Key: "+15550002222"})
	must(err)
	in, err := cs.Ingest(ctx, []conversation.IngestRequest{{TenantID: tn.ID, AccountID: acct.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelSMS, Account: acct.Key, From: "+573001234567", ProviderID: "SM-in", ReceivedAt: time.Now(),
		Parts: []conversation.Part{conversation.TextPart("hola")}}}})
	must(err)
	must(in[0].Err)
	send := func(key string) conversation.Message {
		t.Helper()
		res, err := cs.Send(ctx, []conversation.Outbound{{TenantID: tn.ID, ConversationID: in[0].Message.ConversationID,
			Author: conversation.Author{Kind: conversation.AuthorAgent}, Parts: []conversation.Part{conversation.TextPart("ok")}, IdempotencyKey: key}})
		must(err)
		return res[0].Message
	}
	update := func(m conversation.Message, u conversation.StatusUpdate) error {
		u.TenantID, u.MessageID = tn.ID, m.ID
		_, _, err := cs.UpdateMessageStatus(ctx, u)
		return err
	}
	reports := func() []conversation.Job {
		t.Helper()
		js, err := cs.ClaimJobs(ctx, []string{conversation.JobStatusChanged}, 10, time.Minute)
		must(err)
		for _, j := range js {
			must(cs.CompleteJob(ctx, j))
		}
		return js
	}

	a := send("a")
	must(update(a, conversation.StatusUpdate{Status: conversation.StatusSent, SetProviderID: "SM-a"}))
	must(update(a, conversation.StatusUpdate{Status: conversation.StatusDelivered}))
	if js := reports(); len(js) != 0 {
		t.Fatalf("without an endpoint: %+v", js)
	}
	ep, err := s.CreateEndpoint(ctx, webhook.Endpoint{TenantID: tn.ID, URL: "https://crm.example/hooks", Secret: "whsec_0123456789abcdef", Disabled: true})
	must(err)
	must(update(a, conversation.StatusUpdate{Status: conversation.StatusRead}))
	if js := reports(); len(js) != 0 {
		t.Fatalf("with a disabled endpoint: %+v", js)
	}
	ep.Disabled = false
	_, err = s.UpdateEndpoint(ctx, ep)
	must(err)

	b := send("b")
	must(update(b, conversation.StatusUpdate{Status: conversation.StatusSent, SetProviderID: "SM-b"}))
	if js := reports(); len(js) != 0 {
		t.Fatalf("sent is not reported: %+v", js)
	}
	must(update(b, conversation.StatusUpdate{Status: conversation.StatusFailed, Failure: &conversation.Failure{Code: "30003", Message: "unreachable"}}))
	js := reports()
	if len(js) != 1 || js[0].Ref != b.ID || js[0].TenantID != tn.ID || js[0].Key != "status:"+strconv.FormatInt(b.ID, 10)+":failed" {
		t.Fatalf("reports of the failure: %+v", js)
	}
	var m conversation.Message
	if err := json.Unmarshal(js[0].Payload, &m); err != nil || m.ID != b.ID || m.Status != conversation.StatusFailed || m.Failure == nil || m.Failure.Code != "30003" {
		t.Fatalf("the report's message %+v, %v", m, err)
	}
	// A change that fails enqueues nothing, and one that changes nothing
	// (backwards) neither.
	c := send("c")
	if err := update(c, conversation.StatusUpdate{Status: conversation.StatusDelivered, SetProviderID: "SM-a"}); conversation.ErrorCode(err) != conversation.ECONFLICT {
		t.Fatalf("a taken provider id: %v", err)
	}
	must(update(b, conversation.StatusUpdate{Status: conversation.StatusDelivered}))
	if js := reports(); len(js) != 0 {
		t.Fatalf("a failed or backward change reported: %+v", js)
	}
}

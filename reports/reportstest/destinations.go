// Package reportstest holds the contract suites that every store of the
// reports package must pass.
package reportstest

import (
	"bytes"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/reports"
)

// TestDestinations runs the reports.DestinationStore contract. newStore
// returns an empty store of its own, as the conversation.Store that holds
// the tenants and jobs and the DestinationStore under test (usually the
// same value).
func TestDestinations(t *testing.T, newStore func(t *testing.T) (conversation.Store, reports.DestinationStore)) {
	t.Run("CRUDAndIsolation", func(t *testing.T) {
		t.Parallel()
		cs, s := newStore(t)
		ctx := t.Context()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		acme, other := destinationTenant(t, cs, "acme"), destinationTenant(t, cs, "other")

		in := reports.Destination{TenantID: acme, Kind: reports.DestinationSegment, URL: "https://api.segment.io", Secret: "wk_0123456789abcdef",
			Events: []string{reports.EventMessageReceived, reports.EventCaseFiled}}
		d, err := s.CreateDestination(ctx, in)
		must(err)
		if d.ID == 0 || d.CreatedAt.IsZero() || d.UpdatedAt.IsZero() {
			t.Fatalf("created %+v", d)
		}
		in.ID, in.CreatedAt, in.UpdatedAt = d.ID, d.CreatedAt, d.UpdatedAt
		if !reflect.DeepEqual(d, in) {
			t.Fatalf("stored\n%+v\nwant\n%+v", d, in)
		}
		got, err := s.Destination(ctx, acme, d.ID)
		must(err)
		if !reflect.DeepEqual(got, d) {
			t.Fatalf("read back %+v\nwant %+v", got, d)
		}
		hook, err := s.CreateDestination(ctx, reports.Destination{TenantID: acme, Kind: reports.DestinationWebhook, URL: "https://warehouse.acme.example/in", Secret: "whsec_fedcba9876543210"})
		must(err)
		list, err := s.ListDestinations(ctx, acme)
		must(err)
		if len(list) != 2 || list[0].ID != d.ID || list[1].ID != hook.ID || list[1].Events != nil || list[1].Kind != reports.DestinationWebhook {
			t.Fatalf("list %+v", list)
		}

		d.URL, d.Events, d.Disabled, d.Secret, d.Kind = "https://events.eu1.segmentapis.com", nil, true, "ignored-ignored", reports.DestinationWebhook
		up, err := s.UpdateDestination(ctx, d)
		must(err)
		if up.URL != d.URL || up.Events != nil || !up.Disabled || up.Secret != "wk_0123456789abcdef" || up.Kind != reports.DestinationSegment {
			t.Fatalf("updated %+v (the kind and the secret stay)", up)
		}
		if !up.UpdatedAt.After(up.CreatedAt) && !up.UpdatedAt.Equal(up.CreatedAt) {
			t.Errorf("updated_at %v before created_at %v", up.UpdatedAt, up.CreatedAt)
		}

		// Another tenant's ids are not found, for every method.
		if _, err := s.Destination(ctx, other, d.ID); !conversation.IsNotFound(err) {
			t.Errorf("read another tenant's destination: %v", err)
		}
		if _, err := s.UpdateDestination(ctx, reports.Destination{ID: d.ID, TenantID: other, URL: "https://x.example"}); !conversation.IsNotFound(err) {
			t.Errorf("update another tenant's destination: %v", err)
		}
		if _, err := s.SetDestinationSecret(ctx, other, d.ID, "stolen-stolen-stolen"); !conversation.IsNotFound(err) {
			t.Errorf("rotate another tenant's secret: %v", err)
		}
		if err := s.DeleteDestination(ctx, other, d.ID); !conversation.IsNotFound(err) {
			t.Errorf("delete another tenant's destination: %v", err)
		}
		if l, err := s.ListDestinations(ctx, other); err != nil || len(l) != 0 {
			t.Errorf("another tenant's list: %v %v", l, err)
		}
		if _, err := s.CreateDestination(ctx, reports.Destination{TenantID: 999999, Kind: reports.DestinationWebhook, URL: "https://x.example", Secret: "s"}); !conversation.IsNotFound(err) {
			t.Errorf("create for a missing tenant: %v", err)
		}
		if got, err := s.Destination(ctx, acme, d.ID); err != nil || got.URL != up.URL || got.Secret != "wk_0123456789abcdef" {
			t.Errorf("after another tenant's attempts: %+v, %v", got, err)
		}

		rot, err := s.SetDestinationSecret(ctx, acme, d.ID, "wk_rotated_0123456789")
		must(err)
		if got, err := s.Destination(ctx, acme, d.ID); err != nil || got.Secret != "wk_rotated_0123456789" || rot.Secret != got.Secret || got.URL != up.URL {
			t.Fatalf("after rotating the secret: %+v, %v (set returned %+v)", got, err, rot)
		}

		must(s.DeleteDestination(ctx, acme, d.ID))
		if _, err := s.Destination(ctx, acme, d.ID); !conversation.IsNotFound(err) {
			t.Errorf("read a deleted destination: %v", err)
		}
		if err := s.DeleteDestination(ctx, acme, d.ID); !conversation.IsNotFound(err) {
			t.Errorf("delete twice: %v", err)
		}
	})

	t.Run("EnqueueExports", func(t *testing.T) {
		t.Parallel()
		cs, s := newStore(t)
		ctx := t.Context()
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		acme, other := destinationTenant(t, cs, "acme"), destinationTenant(t, cs, "other")
		create := func(tenantID int64, disabled bool) reports.Destination {
			t.Helper()
			d, err := s.CreateDestination(ctx, reports.Destination{TenantID: tenantID, Kind: reports.DestinationWebhook,
				URL: "https://in.example/", Secret: "whsec_0123456789abcdef", Disabled: disabled})
			must(err)
			return d
		}
		a1, a2, off, theirs := create(acme, false), create(acme, false), create(acme, true), create(other, false)
		job := func(tenantID, dest int64, batch string) conversation.Job {
			return conversation.Job{TenantID: tenantID, Kind: "analytics_send", Ref: dest,
				Key: "analytics:" + strconv.FormatInt(dest, 10) + ":" + batch, Payload: []byte(`[]`), MaxAttempts: 3}
		}

		// Only the tenant's enabled destinations get a job.
		n, err := s.EnqueueExports(ctx, acme, []conversation.Job{job(acme, a1.ID, "b1"), job(acme, a2.ID, "b1"),
			job(acme, off.ID, "b1"), job(acme, theirs.ID, "b1")})
		must(err)
		if n != 2 {
			t.Fatalf("EnqueueExports enqueued %d; want 2 (the disabled and the other tenant's destination skipped)", n)
		}
		// The same batch again, while its jobs are unfinished, adds none.
		if n, err := s.EnqueueExports(ctx, acme, []conversation.Job{job(acme, a1.ID, "b1"), job(acme, a2.ID, "b1")}); err != nil || n != 0 {
			t.Errorf("the same batch again: %d, %v; want none", n, err)
		}
		// Another tenant cannot enqueue for acme's destinations.
		if n, err := s.EnqueueExports(ctx, other, []conversation.Job{job(other, a1.ID, "b2")}); err != nil || n != 0 {
			t.Errorf("another tenant's batch for acme's destination: %d, %v; want none", n, err)
		}
		js, err := cs.ClaimJobs(ctx, []string{"analytics_send"}, 10, time.Minute)
		must(err)
		refs := map[int64]bool{}
		for _, j := range js {
			if j.TenantID != acme || !bytes.Equal(j.Payload, []byte(`[]`)) || j.MaxAttempts != 3 {
				t.Errorf("claimed %+v", j)
			}
			refs[j.Ref] = true
		}
		if len(js) != 2 || !refs[a1.ID] || !refs[a2.ID] {
			t.Fatalf("claimed %+v; want one job for each of %d and %d", js, a1.ID, a2.ID)
		}
		if n, err := s.EnqueueExports(ctx, acme, nil); err != nil || n != 0 {
			t.Errorf("no jobs: %d, %v", n, err)
		}
	})
}

// TestDestinationSecrets checks that a store keeps destination secrets
// sealed. open returns a store on one database, the same for every call
// within the test, with the given sealer (nil for none).
func TestDestinationSecrets(t *testing.T, open func(t *testing.T, sealer *conversation.Sealer) (conversation.Store, reports.DestinationStore)) {
	ctx := t.Context()
	keyA, _ := conversation.NewSealer(bytes.Repeat([]byte{3}, 32))
	keyB, _ := conversation.NewSealer(bytes.Repeat([]byte{4}, 32))
	cs, s := open(t, keyA)
	tn := destinationTenant(t, cs, "sealed-analytics")
	d, err := s.CreateDestination(ctx, reports.Destination{TenantID: tn, Kind: reports.DestinationSegment, URL: "https://api.segment.io", Secret: "wk_sealed_0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Destination(ctx, tn, d.ID); err != nil || got.Secret != "wk_sealed_0123456789" {
		t.Fatalf("read with the key: %+v, %v", got, err)
	}
	if _, err := s.SetDestinationSecret(ctx, tn, d.ID, "wk_rotated_sealed_0123"); err != nil {
		t.Fatal(err)
	}
	for name, sealer := range map[string]*conversation.Sealer{"no key": nil, "another key": keyB} {
		_, other := open(t, sealer)
		if got, err := other.Destination(ctx, tn, d.ID); !errors.Is(err, conversation.ErrSealed) {
			t.Errorf("%s: destination reads as %+v, %v; want ErrSealed", name, got, err)
		}
		if _, err := other.ListDestinations(ctx, tn); !errors.Is(err, conversation.ErrSealed) {
			t.Errorf("%s: ListDestinations = %v; want ErrSealed", name, err)
		}
	}
}

func destinationTenant(t *testing.T, cs conversation.Store, slug string) int64 {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: slug}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	tn, err := cs.CreateTenant(t.Context(), tn)
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

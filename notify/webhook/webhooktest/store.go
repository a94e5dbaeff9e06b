// Package webhooktest holds the contract suite that every webhook.Store
// must pass.
package webhooktest

import (
	"reflect"
	"testing"

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

		must(s.DeleteEndpoint(ctx, acme, e.ID))
		if _, err := s.Endpoint(ctx, acme, e.ID); !conversation.IsNotFound(err) {
			t.Errorf("read a deleted endpoint: %v", err)
		}
		if err := s.DeleteEndpoint(ctx, acme, e.ID); !conversation.IsNotFound(err) {
			t.Errorf("delete twice: %v", err)
		}
	})
}

package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"conversa/conversation"
)

func TestConsent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "other", "")
	ctx := t.Context()
	ana := e.ingest(t, tn, "ana-17", "m-1", "hola").Message.ContactID
	bob := e.ingest(t, tn, "bob-3", "m-2", "hola").Message.ContactID
	stranger := e.ingest(t, other, "eve", "m-3", "hola").Message.ContactID
	path := func(contact int64) string { return fmt.Sprintf("/api/v1/contacts/%d/consent", contact) }
	optedOut := func(address string) bool {
		t.Helper()
		out, err := e.store.OptedOut(ctx, tn.ID, tn.api.ID, address)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	start := time.Now().Add(-time.Second)
	stop := decode[conversation.ConsentChange](t, e.do(t, "POST", path(ana), tn.key, map[string]any{"channel_id": tn.api.ID, "opted_out": true}), http.StatusCreated)
	want := conversation.ConsentChange{ID: stop.ID, TenantID: tn.ID, AccountID: tn.api.ID, ContactID: ana, Channel: conversation.ChannelAPI,
		Address: "ana-17", OptedOut: true, Source: "api:" + tn.keyID, At: stop.At}
	if stop.ID == 0 || stop.At.Before(start) || !jsonEqual(t, stop, want) {
		t.Fatalf("opt-out %+v, want %+v", stop, want)
	}
	if !optedOut("ana-17") {
		t.Fatal("ana is not opted out after the opt-out")
	}
	if optedOut("bob-3") {
		t.Fatal("bob is opted out too")
	}
	again := decode[conversation.ConsentChange](t, e.do(t, "POST", path(ana), tn.key, map[string]any{"channel_id": tn.api.ID, "opted_out": false}), http.StatusCreated)
	if again.OptedOut || again.ID <= stop.ID || optedOut("ana-17") {
		t.Fatalf("opt-in %+v; opted out: %v", again, optedOut("ana-17"))
	}
	third := decode[conversation.ConsentChange](t, e.do(t, "POST", path(ana), tn.key, map[string]any{"channel_id": tn.api.ID, "opted_out": true}), http.StatusCreated)
	// A change that came by a keyword, recorded by a channel.
	keyword, err := e.svc.RecordConsent(ctx, conversation.ConsentChange{TenantID: tn.ID, AccountID: tn.api.ID, ContactID: bob,
		Channel: conversation.ChannelAPI, Address: "bob-3", OptedOut: true, Source: "keyword:STOP", ProviderID: "SM123"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("list", func(t *testing.T) {
		pg := decode[page[conversation.ConsentChange]](t, e.do(t, "GET", path(ana), tn.key, nil), http.StatusOK)
		if got := ids(pg.Data, func(c conversation.ConsentChange) int64 { return c.ID }); !slices.Equal(got, []int64{third.ID, again.ID, stop.ID}) || pg.NextCursor != "" {
			t.Fatalf("ids %v, next %q; want newest first %v", got, pg.NextCursor, []int64{third.ID, again.ID, stop.ID})
		}
		if !jsonEqual(t, pg.Data[2], stop) {
			t.Errorf("listed %+v, recorded %+v", pg.Data[2], stop)
		}
		bobs := decode[page[conversation.ConsentChange]](t, e.do(t, "GET", path(bob), tn.key, nil), http.StatusOK)
		if len(bobs.Data) != 1 || !jsonEqual(t, bobs.Data[0], keyword) {
			t.Errorf("bob's changes %+v, want %+v", bobs.Data, keyword)
		}
	})
	t.Run("pages", func(t *testing.T) {
		var got []int64
		for _, p := range walk[conversation.ConsentChange](t, e, tn.key, path(ana)+"?", 2) {
			got = append(got, ids(p, func(c conversation.ConsentChange) int64 { return c.ID })...)
		}
		if want := []int64{third.ID, again.ID, stop.ID}; !slices.Equal(got, want) {
			t.Errorf("paged ids %v, want %v", got, want)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			path   string
			body   any
			status int
			code   string
			field  string
		}{
			{"no identity on the channel", path(ana), map[string]any{"channel_id": tn.webchat.ID, "opted_out": true}, 400, conversation.EINVALID, "channel_id"},
			{"another tenant's channel", path(ana), map[string]any{"channel_id": other.api.ID, "opted_out": true}, 400, conversation.EINVALID, "channel_id"},
			{"a missing channel", path(ana), map[string]any{"channel_id": 99999, "opted_out": true}, 400, conversation.EINVALID, "channel_id"},
			{"no channel", path(ana), map[string]any{"opted_out": true}, 400, conversation.EINVALID, "channel_id"},
			{"no opted_out", path(ana), map[string]any{"channel_id": tn.api.ID}, 400, conversation.EINVALID, "opted_out"},
			{"opted_out not a boolean", path(ana), map[string]any{"channel_id": tn.api.ID, "opted_out": "yes"}, 400, conversation.EINVALID, "opted_out"},
			{"an address", path(ana), map[string]any{"channel_id": tn.api.ID, "opted_out": true, "address": "bob-3"}, 400, conversation.EINVALID, "address"},
			{"another tenant's contact", path(stranger), map[string]any{"channel_id": tn.api.ID, "opted_out": true}, 404, conversation.ENOTFOUND, ""},
			{"a missing contact", path(99999), map[string]any{"channel_id": tn.api.ID, "opted_out": true}, 404, conversation.ENOTFOUND, ""},
			{"list another tenant's contact", path(stranger), nil, 404, conversation.ENOTFOUND, ""},
			{"list a missing contact", path(99999), nil, 404, conversation.ENOTFOUND, ""},
			{"list with a bad cursor", path(ana) + "?cursor=zz", nil, 400, conversation.EINVALID, "cursor"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				method := "POST"
				if tc.body == nil {
					method = "GET"
				}
				wantError(t, e.do(t, method, tc.path, tn.key, tc.body), tc.status, tc.code, tc.field)
			})
		}
		for _, tenantID := range []int64{tn.ID, other.ID} {
			cs, err := e.store.ListConsent(ctx, tenantID, conversation.ConsentFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if want := map[int64]int{tn.ID: 4, other.ID: 0}[tenantID]; len(cs) != want {
				t.Errorf("tenant %d has %d consent changes, want %d: %+v", tenantID, len(cs), want, cs)
			}
		}
		if out, _ := e.store.OptedOut(ctx, other.ID, other.api.ID, "eve"); out {
			t.Error("the other tenant's contact is opted out")
		}
	})
}

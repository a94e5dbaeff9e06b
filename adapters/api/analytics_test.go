package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"conversa/adapters/analytics"
	"conversa/adapters/api"
	"conversa/conversation"
	"conversa/reports"
)

var _ api.Analytics = (*analytics.Service)(nil)

const destinationsPath = "/api/v1/analytics/destinations"

func destinationPath(id int64) string { return fmt.Sprintf("%s/%d", destinationsPath, id) }

func TestAnalyticsDestinations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{analytics: true})
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "other", "")
	k := tn.key

	seg := decode[reports.Destination](t, e.do(t, "POST", destinationsPath, k, map[string]any{"kind": "segment", "url": "http://127.0.0.1:9",
		"secret": "wk_0123456789abcdef", "events": []string{"message.received", "case.filed"}}), http.StatusCreated)
	if seg.ID == 0 || seg.Secret != "wk_0123456789abcdef" || seg.Kind != "segment" || len(seg.Events) != 2 || seg.Disabled {
		t.Fatalf("created %+v", seg)
	}
	hook := decode[reports.Destination](t, e.do(t, "POST", destinationsPath, k, map[string]any{"kind": "webhook", "url": "http://127.0.0.1:9/in"}), http.StatusCreated)
	if !strings.HasPrefix(hook.Secret, "whsec_") || hook.Events != nil {
		t.Fatalf("created %+v: a webhook destination gets a secret", hook)
	}
	got := decode[reports.Destination](t, e.do(t, "GET", destinationPath(seg.ID), k, nil), http.StatusOK)
	if got.Secret != "" || got.URL != seg.URL || got.Kind != "segment" {
		t.Fatalf("get %+v: the secret is shown only once", got)
	}
	up := decode[reports.Destination](t, e.do(t, "PATCH", destinationPath(seg.ID), k, map[string]any{"disabled": true, "events": []string{}}), http.StatusOK)
	if !up.Disabled || len(up.Events) != 0 || up.URL != seg.URL || up.Secret != "" {
		t.Fatalf("patched %+v", up)
	}
	list := decode[page[reports.Destination]](t, e.do(t, "GET", destinationsPath, k, nil), http.StatusOK)
	if len(list.Data) != 2 || list.Data[0].ID != seg.ID || list.Data[0].Secret != "" || list.Data[1].Secret != "" {
		t.Fatalf("list %+v", list)
	}

	// Rotating shows the new secret once: Segment's new write key is
	// given, a webhook's is made.
	rot := decode[reports.Destination](t, e.do(t, "POST", destinationPath(seg.ID)+"/rotate-secret", k, map[string]any{"secret": "wk_new_0123456789"}), http.StatusOK)
	if rot.Secret != "wk_new_0123456789" || rot.ID != seg.ID {
		t.Fatalf("rotated %+v", rot)
	}
	wantError(t, e.do(t, "POST", destinationPath(seg.ID)+"/rotate-secret", k, nil), http.StatusBadRequest, conversation.EINVALID, "secret")
	hrot := decode[reports.Destination](t, e.do(t, "POST", destinationPath(hook.ID)+"/rotate-secret", k, nil), http.StatusOK)
	if !strings.HasPrefix(hrot.Secret, "whsec_") || hrot.Secret == hook.Secret {
		t.Fatalf("rotated %+v (was %q)", hrot, hook.Secret)
	}
	if got := decode[reports.Destination](t, e.do(t, "GET", destinationPath(hook.ID), k, nil), http.StatusOK); got.Secret != "" {
		t.Fatalf("get after rotating shows %q", got.Secret)
	}
	if d, err := e.store.Destination(t.Context(), tn.ID, seg.ID); err != nil || d.Secret != "wk_new_0123456789" {
		t.Fatalf("stored %+v, %v", d, err)
	}

	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"no kind":           {map[string]any{"url": "https://api.segment.io", "secret": "wk_0123456789"}, "kind"},
		"bad kind":          {map[string]any{"kind": "mixpanel", "url": "https://api.segment.io", "secret": "wk_0123456789"}, "kind"},
		"no url":            {map[string]any{"kind": "webhook"}, "url"},
		"bad scheme":        {map[string]any{"kind": "webhook", "url": "ftp://example.com/x"}, "url"},
		"segment query":     {map[string]any{"kind": "segment", "url": "https://api.segment.io/?x=1", "secret": "wk_0123456789"}, "url"},
		"no write key":      {map[string]any{"kind": "segment", "url": "https://api.segment.io"}, "secret"},
		"write key colon":   {map[string]any{"kind": "segment", "url": "https://api.segment.io", "secret": "wk:0123456789"}, "secret"},
		"short secret":      {map[string]any{"kind": "webhook", "url": "https://example.com/x", "secret": "abc"}, "secret"},
		"bad event":         {map[string]any{"kind": "webhook", "url": "https://example.com/x", "events": []string{"message.delivered"}}, "events[0]"},
		"events not a list": {map[string]any{"kind": "webhook", "url": "https://example.com/x", "events": "case.filed"}, "events"},
		"unknown field":     {map[string]any{"kind": "webhook", "url": "https://example.com/x", "headers": map[string]string{}}, "headers"},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.do(t, "POST", destinationsPath, k, tc.body), http.StatusBadRequest, conversation.EINVALID, tc.field)
		})
	}
	wantError(t, e.do(t, "PATCH", destinationPath(seg.ID), k, map[string]any{"secret": "0123456789abcdef0123"}), http.StatusBadRequest, conversation.EINVALID, "secret")
	wantError(t, e.do(t, "PATCH", destinationPath(seg.ID), k, map[string]any{"kind": "webhook"}), http.StatusBadRequest, conversation.EINVALID, "kind")
	wantError(t, e.do(t, "PATCH", destinationPath(seg.ID), k, map[string]any{"url": "mailto:x@example.com"}), http.StatusBadRequest, conversation.EINVALID, "url")

	// Another tenant's destination is not found, and stays as it was.
	wantError(t, e.do(t, "GET", destinationPath(seg.ID), other.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
	wantError(t, e.do(t, "PATCH", destinationPath(seg.ID), other.key, map[string]any{"disabled": false}), http.StatusNotFound, conversation.ENOTFOUND, "")
	wantError(t, e.do(t, "POST", destinationPath(hook.ID)+"/rotate-secret", other.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
	wantError(t, e.do(t, "DELETE", destinationPath(seg.ID), other.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
	if l := decode[page[reports.Destination]](t, e.do(t, "GET", destinationsPath, other.key, nil), http.StatusOK); len(l.Data) != 0 {
		t.Fatalf("another tenant lists %+v", l.Data)
	}
	if d, err := e.store.Destination(t.Context(), tn.ID, hook.ID); err != nil || d.Secret != hrot.Secret {
		t.Fatalf("after another tenant's attempts: %+v, %v", d, err)
	}

	if r := e.do(t, "DELETE", destinationPath(seg.ID), k, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, e.do(t, "GET", destinationPath(seg.ID), k, nil), http.StatusNotFound, conversation.ENOTFOUND, "")

	// A server that does not allow private addresses refuses them.
	strict := newEnv(t, envOptions{analytics: true, privateRefused: true})
	st := strict.newTenant(t, "acme", "")
	for _, u := range []string{"http://127.0.0.1:9/in", "https://169.254.169.254/", "http://[::1]/", "http://10.1.2.3/"} {
		wantError(t, strict.do(t, "POST", destinationsPath, st.key, map[string]any{"kind": "webhook", "url": u}), http.StatusBadRequest, conversation.EINVALID, "url")
	}
}

// TestAnalyticsOpenAPI checks the analytics routes' real responses, and
// the requests of a client that follows it, against the description.
func TestAnalyticsOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{analytics: true})
	_, router := loadSpec(t, e)
	none := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	nt := none.newTenant(t, "acme", "")
	k := tn.key
	d := decode[reports.Destination](t, e.do(t, "POST", destinationsPath, k, map[string]any{"kind": "webhook", "url": "http://127.0.0.1:9/a"}), http.StatusCreated)
	gone := decode[reports.Destination](t, e.do(t, "POST", destinationsPath, k, map[string]any{"kind": "webhook", "url": "http://127.0.0.1:9/b"}), http.StatusCreated)
	for _, x := range []exchange{
		{name: "create segment", method: "POST", path: destinationsPath, key: k, status: 201, validRequest: true,
			body: map[string]any{"kind": "segment", "url": "https://api.segment.io", "secret": "wk_0123456789abcdef", "events": []string{"message.received", "case.filed"}}},
		{name: "create webhook", method: "POST", path: destinationsPath, key: k, status: 201, validRequest: true,
			body: map[string]any{"kind": "webhook", "url": "https://warehouse.acme.example/in", "disabled": true}},
		{name: "create bad", method: "POST", path: destinationsPath, key: k, status: 400, validRequest: true,
			body: map[string]any{"kind": "segment", "url": "https://api.segment.io"}},
		{name: "create too large", method: "POST", path: destinationsPath, key: k, status: 413, body: map[string]any{"url": strings.Repeat("x", bodyLimit)}},
		{name: "create without service", method: "POST", path: destinationsPath, key: nt.key, status: 503, validRequest: true,
			body: map[string]any{"kind": "webhook", "url": "https://x.example"}, env: none},
		{name: "list", method: "GET", path: destinationsPath, key: k, status: 200, validRequest: true},
		{name: "get", method: "GET", path: destinationPath(d.ID), key: k, status: 200, validRequest: true},
		{name: "get missing", method: "GET", path: destinationPath(99999), key: k, status: 404, validRequest: true},
		{name: "patch", method: "PATCH", path: destinationPath(d.ID), key: k, status: 200, validRequest: true, body: map[string]any{"disabled": true, "events": []string{"conversation.closed"}}},
		{name: "patch bad", method: "PATCH", path: destinationPath(d.ID), key: k, status: 400, validRequest: true, body: map[string]any{"url": "ftp://x.example/"}},
		{name: "rotate secret", method: "POST", path: destinationPath(d.ID) + "/rotate-secret", key: k, status: 200, validRequest: true},
		{name: "rotate secret given", method: "POST", path: destinationPath(d.ID) + "/rotate-secret", key: k, status: 200, validRequest: true,
			body: map[string]any{"secret": "whsec_given_0123456789"}},
		{name: "rotate secret missing", method: "POST", path: destinationPath(99999) + "/rotate-secret", key: k, status: 404, validRequest: true},
		{name: "delete", method: "DELETE", path: destinationPath(gone.ID), key: k, status: 204, validRequest: true},
		{name: "delete missing", method: "DELETE", path: destinationPath(gone.ID), key: k, status: 404, validRequest: true},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
}

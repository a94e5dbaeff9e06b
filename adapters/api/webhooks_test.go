package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"conversa/conversation"
	notifywebhook "conversa/notify/webhook"
)

const webhooksPath = "/api/v1/webhooks"

func webhookPath(id int64) string { return fmt.Sprintf("%s/%d", webhooksPath, id) }

func TestWebhooks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{webhooks: true})
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "other", "")
	k := tn.key

	ep := decode[notifywebhook.Endpoint](t, e.do(t, "POST", webhooksPath, k, map[string]any{"url": "http://127.0.0.1:9/hooks",
		"events": []string{"message.failed", "campaign.progress"}}), http.StatusCreated)
	if ep.ID == 0 || !strings.HasPrefix(ep.Secret, "whsec_") || len(ep.Events) != 2 || ep.Disabled {
		t.Fatalf("created %+v", ep)
	}
	got := decode[notifywebhook.Endpoint](t, e.do(t, "GET", webhookPath(ep.ID), k, nil), http.StatusOK)
	if got.Secret != "" || got.URL != ep.URL {
		t.Fatalf("get %+v: the secret is shown only once", got)
	}
	up := decode[notifywebhook.Endpoint](t, e.do(t, "PATCH", webhookPath(ep.ID), k, map[string]any{"disabled": true, "events": []string{}}), http.StatusOK)
	if !up.Disabled || len(up.Events) != 0 || up.URL != ep.URL || up.Secret != "" {
		t.Fatalf("patched %+v", up)
	}
	list := decode[page[notifywebhook.Endpoint]](t, e.do(t, "GET", webhooksPath, k, nil), http.StatusOK)
	if len(list.Data) != 1 || list.Data[0].ID != ep.ID || list.Data[0].Secret != "" {
		t.Fatalf("list %+v", list)
	}

	// Rotating shows the new secret once; get and list never show it.
	rot := decode[notifywebhook.Endpoint](t, e.do(t, "POST", webhookPath(ep.ID)+"/rotate-secret", k, nil), http.StatusOK)
	if !strings.HasPrefix(rot.Secret, "whsec_") || rot.Secret == ep.Secret || rot.ID != ep.ID || !rot.Disabled {
		t.Fatalf("rotated %+v (was %q)", rot, ep.Secret)
	}
	if got := decode[notifywebhook.Endpoint](t, e.do(t, "GET", webhookPath(ep.ID), k, nil), http.StatusOK); got.Secret != "" {
		t.Fatalf("get after rotating shows %q", got.Secret)
	}
	wantError(t, e.do(t, "POST", webhookPath(ep.ID)+"/rotate-secret", other.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")

	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"no url":        {map[string]any{"events": []string{"message.read"}}, "url"},
		"bad scheme":    {map[string]any{"url": "ftp://example.com/x"}, "url"},
		"bad event":     {map[string]any{"url": "https://example.com/x", "events": []string{"message.sent"}}, "events[0]"},
		"short secret":  {map[string]any{"url": "https://example.com/x", "secret": "abc"}, "secret"},
		"unknown field": {map[string]any{"url": "https://example.com/x", "headers": map[string]string{}}, "headers"},
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.do(t, "POST", webhooksPath, k, tc.body), http.StatusBadRequest, conversation.EINVALID, tc.field)
		})
	}
	wantError(t, e.do(t, "PATCH", webhookPath(ep.ID), k, map[string]any{"secret": "0123456789abcdef0123"}), http.StatusBadRequest, conversation.EINVALID, "secret")

	// Another tenant's endpoint is not found.
	wantError(t, e.do(t, "GET", webhookPath(ep.ID), other.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
	wantError(t, e.do(t, "PATCH", webhookPath(ep.ID), other.key, map[string]any{"disabled": false}), http.StatusNotFound, conversation.ENOTFOUND, "")
	wantError(t, e.do(t, "DELETE", webhookPath(ep.ID), other.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")

	if r := e.do(t, "DELETE", webhookPath(ep.ID), k, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	wantError(t, e.do(t, "GET", webhookPath(ep.ID), k, nil), http.StatusNotFound, conversation.ENOTFOUND, "")

	// A server that does not allow private addresses refuses them.
	strict := newEnv(t, envOptions{webhooks: true, privateRefused: true})
	st := strict.newTenant(t, "acme", "")
	wantError(t, strict.do(t, "POST", webhooksPath, st.key, map[string]any{"url": "http://127.0.0.1:9/hooks"}), http.StatusBadRequest, conversation.EINVALID, "url")
	wantError(t, strict.do(t, "POST", webhooksPath, st.key, map[string]any{"url": "https://169.254.169.254/"}), http.StatusBadRequest, conversation.EINVALID, "url")
}

// TestWebhooksOpenAPI checks the webhook routes' real responses, and the
// requests of a client that follows it, against the description.
func TestWebhooksOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{webhooks: true})
	_, router := loadSpec(t, e)
	none := newEnv(t, envOptions{})
	strict := newEnv(t, envOptions{webhooks: true, privateRefused: true})
	tn := e.newTenant(t, "acme", "")
	nt := none.newTenant(t, "acme", "")
	st := strict.newTenant(t, "acme", "")
	k := tn.key
	ep := decode[notifywebhook.Endpoint](t, e.do(t, "POST", webhooksPath, k, map[string]any{"url": "http://127.0.0.1:9/a"}), http.StatusCreated)
	gone := decode[notifywebhook.Endpoint](t, e.do(t, "POST", webhooksPath, k, map[string]any{"url": "http://127.0.0.1:9/b"}), http.StatusCreated)
	for _, x := range []exchange{
		{name: "create", method: "POST", path: webhooksPath, key: k, status: 201, validRequest: true,
			body: map[string]any{"url": "https://crm.acme.example/hooks", "events": []string{"message.delivered", "notification.undeliverable"}, "secret": "0123456789abcdef0123"}},
		{name: "create on a private address", method: "POST", path: webhooksPath, key: st.key, status: 400, validRequest: true, env: strict,
			body: map[string]any{"url": "http://127.0.0.1:9/hooks", "events": []string{"message.read"}}},
		{name: "create too large", method: "POST", path: webhooksPath, key: k, status: 413, body: map[string]any{"url": strings.Repeat("x", bodyLimit)}},
		{name: "create without service", method: "POST", path: webhooksPath, key: nt.key, status: 503, validRequest: true, body: map[string]any{"url": "https://x.example"}, env: none},
		{name: "list", method: "GET", path: webhooksPath, key: k, status: 200, validRequest: true},
		{name: "get", method: "GET", path: webhookPath(ep.ID), key: k, status: 200, validRequest: true},
		{name: "get missing", method: "GET", path: webhookPath(99999), key: k, status: 404, validRequest: true},
		{name: "patch", method: "PATCH", path: webhookPath(ep.ID), key: k, status: 200, validRequest: true, body: map[string]any{"disabled": true}},
		{name: "patch bad", method: "PATCH", path: webhookPath(ep.ID), key: k, status: 400, validRequest: true, body: map[string]any{"url": "ftp://x.example/"}},
		{name: "rotate secret", method: "POST", path: webhookPath(ep.ID) + "/rotate-secret", key: k, status: 200, validRequest: true},
		{name: "rotate secret missing", method: "POST", path: webhookPath(99999) + "/rotate-secret", key: k, status: 404, validRequest: true},
		{name: "delete", method: "DELETE", path: webhookPath(gone.ID), key: k, status: 204, validRequest: true},
		{name: "delete missing", method: "DELETE", path: webhookPath(gone.ID), key: k, status: 404, validRequest: true},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
}

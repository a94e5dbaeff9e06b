package api_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"conversa/adapters/api"
	"conversa/channels"
	"conversa/channels/apichannel"
	"conversa/channels/webchat"
	"conversa/conversation"
)

// testChannels returns the channels that validate accounts, as cmd builds
// them: api (webhooks may be private, as the tests' are) and web chat. It
// has no telegram channel.
func testChannels(t *testing.T) *channels.Registry {
	t.Helper()
	wc, err := webchat.New(webchat.Config{Secret: make([]byte, 32)}, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := channels.NewRegistry(wc, apichannel.New(apichannel.Config{AllowPrivate: true}))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// channelEnv is an API that can write channel accounts.
func channelEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, envOptions{cfg: api.Config{Channels: testChannels(t)}})
}

// secretsOf remembers credentials and fails a test that sees one in a
// response body.
type secretsOf []string

func (s secretsOf) check(t *testing.T, r response) response {
	t.Helper()
	for _, secret := range s {
		if bytes.Contains(r.body, []byte(secret)) {
			t.Fatalf("a response shows the secret %q: %s", secret, r.body)
		}
	}
	return r
}

// storedAccount reads an account as the store has it, credentials included.
func storedAccount(t *testing.T, e *env, tenantID, id int64) conversation.ChannelAccount {
	t.Helper()
	a, err := e.store.ChannelAccount(t.Context(), tenantID, id)
	if err != nil {
		t.Fatalf("read channel %d: %v", id, err)
	}
	return a
}

func TestChannels(t *testing.T) {
	t.Parallel()
	e := channelEnv(t)
	tn := e.newTenant(t, "acme", "")
	const (
		secret  = "crm-secret-0123456789-first"
		secret2 = "crm-secret-9876543210-second"
	)
	secrets := secretsOf{secret, secret2, tn.secret}
	do := func(method, path string, body any) response {
		t.Helper()
		return secrets.check(t, e.do(t, method, path, tn.key, body))
	}

	created := decode[channelView](t, do("POST", "/api/v1/channels", map[string]any{
		"kind": "api", "key": "acme-crm", "name": " CRM ",
		"settings": map[string]string{"webhook_url": "https://crm.example.com/hooks/conversa", "webhook_secret": secret},
	}), http.StatusCreated)
	wantSettings := map[string]string{"webhook_url": "https://crm.example.com/hooks/conversa", "webhook_secret": "(set)"}
	if created.ID == 0 || created.Kind != conversation.ChannelAPI || created.Key != "acme-crm" || created.Name != "CRM" ||
		created.Disabled || created.CreatedAt.IsZero() || !jsonEqual(t, created.Settings, wantSettings) {
		t.Fatalf("created %+v", created)
	}
	path := fmt.Sprintf("/api/v1/channels/%d", created.ID)
	stored := storedAccount(t, e, tn.ID, created.ID)
	if stored.TenantID != tn.ID || stored.Settings["webhook_secret"] != secret {
		t.Fatalf("stored %+v", stored)
	}

	t.Run("get", func(t *testing.T) {
		got := decode[channelView](t, do("GET", path, nil), http.StatusOK)
		if !jsonEqual(t, got, created) {
			t.Errorf("got %+v, want %+v", got, created)
		}
	})
	t.Run("list", func(t *testing.T) {
		pg := decode[page[channelView]](t, do("GET", "/api/v1/channels", nil), http.StatusOK)
		if got := ids(pg.Data, func(c channelView) int64 { return c.ID }); !slices.Equal(got, []int64{tn.api.ID, tn.webchat.ID, created.ID}) {
			t.Fatalf("ids %v", got)
		}
		if !jsonEqual(t, pg.Data[2], created) || pg.Data[0].Settings["webhook_secret"] != "(set)" || len(pg.Data[1].Settings) != 0 {
			t.Errorf("list %+v", pg.Data)
		}
	})
	t.Run("takes messages at once", func(t *testing.T) {
		in := decode[inboundResponse](t, do("POST", "/api/v1/inbound", map[string]any{"channel_id": created.ID, "from": "u-1", "id": "x-1", "text": "hola"}), http.StatusCreated)
		if in.Message == nil || in.Message.ChannelAccountID != created.ID || in.Message.TenantID != tn.ID {
			t.Errorf("inbound %+v", in)
		}
	})

	// Each patch, in order, and the account the store must then hold.
	for _, step := range []struct {
		name  string
		patch map[string]any
		want  func(a *conversation.ChannelAccount)
	}{
		{"name only keeps the settings", map[string]any{"name": "CRM de ventas"},
			func(a *conversation.ChannelAccount) { a.Name = "CRM de ventas" }},
		{"a setting without the secret keeps the secret", map[string]any{"settings": map[string]string{"webhook_url": "https://crm.example.com/v2"}},
			func(a *conversation.ChannelAccount) { a.Settings["webhook_url"] = "https://crm.example.com/v2" }},
		{"the view sent back keeps the secret", map[string]any{"settings": map[string]string{"webhook_url": "https://crm.example.com/v3", "webhook_secret": "(set)"}},
			func(a *conversation.ChannelAccount) { a.Settings["webhook_url"] = "https://crm.example.com/v3" }},
		{"a new secret", map[string]any{"settings": map[string]string{"webhook_secret": secret2}},
			func(a *conversation.ChannelAccount) { a.Settings["webhook_secret"] = secret2 }},
		{"disable", map[string]any{"disabled": true},
			func(a *conversation.ChannelAccount) { a.Disabled = true }},
		{"enable and rename", map[string]any{"disabled": false, "name": "CRM"},
			func(a *conversation.ChannelAccount) { a.Disabled, a.Name = false, "CRM" }},
	} {
		t.Run("patch "+step.name, func(t *testing.T) {
			want := storedAccount(t, e, tn.ID, created.ID)
			step.want(&want)
			got := decode[channelView](t, do("PATCH", path, step.patch), http.StatusOK)
			after := storedAccount(t, e, tn.ID, created.ID)
			if after.Name != want.Name || after.Disabled != want.Disabled || !jsonEqual(t, after.Settings, want.Settings) {
				t.Errorf("stored %+v, want %+v", after, want)
			}
			if got.ID != created.ID || got.Name != want.Name || got.Disabled != want.Disabled ||
				got.Settings["webhook_secret"] != "(set)" || got.Settings["webhook_url"] != want.Settings["webhook_url"] || len(got.Settings) != 2 {
				t.Errorf("response %+v for stored %+v", got, after)
			}
		})
	}

	t.Run("a webchat channel without secrets", func(t *testing.T) {
		settings := map[string]string{"title": "Ayuda", "color": "#0b7a75"}
		wc := decode[channelView](t, do("POST", "/api/v1/channels", map[string]any{"kind": "webchat", "key": "acme-help", "settings": settings}), http.StatusCreated)
		if !jsonEqual(t, wc.Settings, settings) {
			t.Errorf("settings %v, want %v", wc.Settings, settings)
		}
		// An empty value removes a setting.
		wc = decode[channelView](t, do("PATCH", fmt.Sprintf("/api/v1/channels/%d", wc.ID), map[string]any{"settings": map[string]string{"color": ""}}), http.StatusOK)
		if !jsonEqual(t, wc.Settings, map[string]string{"title": "Ayuda"}) || !jsonEqual(t, storedAccount(t, e, tn.ID, wc.ID).Settings, wc.Settings) {
			t.Errorf("settings %v after removing color", wc.Settings)
		}
	})
}

func TestChannelsInvalid(t *testing.T) {
	t.Parallel()
	e := channelEnv(t)
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "other", "")
	ctx := t.Context()
	secrets := secretsOf{tn.secret, other.secret}
	good := func(change func(m map[string]any)) map[string]any {
		m := map[string]any{"kind": "api", "key": "acme-new", "name": "New",
			"settings": map[string]string{"webhook_url": "https://example.com/hook", "webhook_secret": "0123456789abcdef"}}
		if change != nil {
			change(m)
		}
		return m
	}
	setting := func(name, value string) func(m map[string]any) {
		return func(m map[string]any) { m["settings"].(map[string]string)[name] = value }
	}
	before, err := e.store.ListChannelAccounts(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("create", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			body   any
			status int
			code   string
			field  string
		}{
			{"no webhook_url", good(func(m map[string]any) { delete(m["settings"].(map[string]string), "webhook_url") }), 400, conversation.EINVALID, "settings.webhook_url"},
			{"empty webhook_url", good(setting("webhook_url", "")), 400, conversation.EINVALID, "settings.webhook_url"},
			{"short secret", good(setting("webhook_secret", "short")), 400, conversation.EINVALID, "settings.webhook_secret"},
			{"the mask as a secret", good(setting("webhook_secret", "(set)")), 400, conversation.EINVALID, "settings.webhook_secret"},
			{"unknown setting", good(setting("colour", "red")), 400, conversation.EINVALID, "settings.colour"},
			{"bad webchat color", map[string]any{"kind": "webchat", "key": "w-2", "settings": map[string]string{"color": "red"}}, 400, conversation.EINVALID, "settings.color"},
			{"unknown kind", good(func(m map[string]any) { m["kind"] = "fax" }), 400, conversation.EINVALID, "kind"},
			{"a kind this server has not", map[string]any{"kind": "telegram", "key": "acme_bot", "settings": map[string]string{"bot_token": "123:abc"}}, 400, conversation.EINVALID, "kind"},
			{"no key", good(func(m map[string]any) { delete(m, "key") }), 400, conversation.EINVALID, "key"},
			{"bad key", good(func(m map[string]any) { m["key"] = "a key" }), 400, conversation.EINVALID, "key"},
			{"long name", good(func(m map[string]any) { m["name"] = strings.Repeat("n", conversation.MaxNameLength+1) }), 400, conversation.EINVALID, "name"},
			{"settings not strings", good(func(m map[string]any) { m["settings"] = map[string]any{"webhook_url": 1} }), 400, conversation.EINVALID, "settings"},
			{"another tenant", good(func(m map[string]any) { m["tenant_id"] = other.ID }), 400, conversation.EINVALID, "tenant_id"},
			{"an id", good(func(m map[string]any) { m["id"] = 1 }), 400, conversation.EINVALID, "id"},
			{"not an object", []string{"api"}, 400, conversation.EINVALID, ""},
			{"duplicate", good(func(m map[string]any) { m["key"] = tn.api.Key }), 409, conversation.ECONFLICT, ""},
			{"duplicate of another tenant", good(func(m map[string]any) { m["key"] = other.api.Key }), 409, conversation.ECONFLICT, ""},
			{"too large", good(setting("webhook_url", "https://example.com/"+strings.Repeat("a", bodyLimit))), 413, conversation.ETOOLARGE, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, secrets.check(t, e.do(t, "POST", "/api/v1/channels", tn.key, tc.body)), tc.status, tc.code, tc.field)
			})
		}
		after, err := e.store.ListChannelAccounts(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, before, after) {
			t.Errorf("the refused requests changed the tenant's channels: %+v", after)
		}
		if o, _ := e.store.ListChannelAccounts(ctx, other.ID); len(o) != 2 {
			t.Errorf("the other tenant has %d channels, want its 2", len(o))
		}
	})

	t.Run("patch", func(t *testing.T) {
		path := fmt.Sprintf("/api/v1/channels/%d", tn.api.ID)
		for _, tc := range []struct {
			name   string
			path   string
			body   any
			status int
			code   string
			field  string
		}{
			{"remove the webhook_url", path, map[string]any{"settings": map[string]string{"webhook_url": ""}}, 400, conversation.EINVALID, "settings.webhook_url"},
			{"short secret", path, map[string]any{"settings": map[string]string{"webhook_secret": "short"}}, 400, conversation.EINVALID, "settings.webhook_secret"},
			{"unknown setting", path, map[string]any{"settings": map[string]string{"colour": "red"}}, 400, conversation.EINVALID, "settings.colour"},
			{"the mask of a secret never stored", path, map[string]any{"settings": map[string]string{"signing_key": "(set)"}}, 400, conversation.EINVALID, "settings.signing_key"},
			{"the kind", path, map[string]any{"kind": "sms"}, 400, conversation.EINVALID, "kind"},
			{"the key", path, map[string]any{"key": "other"}, 400, conversation.EINVALID, "key"},
			{"long name", path, map[string]any{"name": strings.Repeat("n", conversation.MaxNameLength+1)}, 400, conversation.EINVALID, "name"},
			{"disabled not a boolean", path, map[string]any{"disabled": "yes"}, 400, conversation.EINVALID, "disabled"},
			{"empty body", path, rawBody(""), 400, conversation.EINVALID, ""},
			{"missing", "/api/v1/channels/99999", map[string]any{"name": "x"}, 404, conversation.ENOTFOUND, ""},
			{"not an id", "/api/v1/channels/abc", map[string]any{"name": "x"}, 404, conversation.ENOTFOUND, ""},
			{"another tenant's", fmt.Sprintf("/api/v1/channels/%d", other.api.ID), map[string]any{"name": "Mallory", "settings": map[string]string{"webhook_url": "https://evil.example.com"}}, 404, conversation.ENOTFOUND, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, secrets.check(t, e.do(t, "PATCH", tc.path, tn.key, tc.body)), tc.status, tc.code, tc.field)
			})
		}
		after, err := e.store.ListChannelAccounts(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, before, after) {
			t.Errorf("the refused patches changed the tenant's channels:\n%+v\n%+v", before, after)
		}
		if o := storedAccount(t, e, other.ID, other.api.ID); !jsonEqual(t, o, other.api) {
			t.Errorf("the other tenant's channel changed: %+v", o)
		}
	})

	t.Run("get another tenant's", func(t *testing.T) {
		wantError(t, e.do(t, "GET", fmt.Sprintf("/api/v1/channels/%d", other.api.ID), tn.key, nil), 404, conversation.ENOTFOUND, "")
	})
}

// TestChannelsUnavailable checks a server that cannot validate channel
// accounts: it shows them, but neither creates nor changes them.
func TestChannelsUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	body := map[string]any{"kind": "api", "key": "acme-2", "settings": map[string]string{"webhook_url": "https://example.com", "webhook_secret": "0123456789abcdef"}}
	wantError(t, e.do(t, "POST", "/api/v1/channels", tn.key, body), http.StatusServiceUnavailable, conversation.EUNAVAILABLE, "")
	wantError(t, e.do(t, "PATCH", fmt.Sprintf("/api/v1/channels/%d", tn.api.ID), tn.key, map[string]any{"name": "x"}), http.StatusServiceUnavailable, conversation.EUNAVAILABLE, "")
	if got := storedAccount(t, e, tn.ID, tn.api.ID); got.Name != tn.api.Name {
		t.Errorf("channel renamed to %q", got.Name)
	}
	if _, err := e.store.ChannelAccountByKey(t.Context(), conversation.ChannelAPI, "acme-2"); !conversation.IsNotFound(err) {
		t.Errorf("channel acme-2 created: %v", err)
	}
	v := decode[channelView](t, e.do(t, "GET", fmt.Sprintf("/api/v1/channels/%d", tn.api.ID), tn.key, nil), http.StatusOK)
	if v.ID != tn.api.ID || v.Settings["webhook_secret"] != "(set)" {
		t.Errorf("channel %+v", v)
	}
}

// TestChannelsOpenAPI checks the real responses of the channel and consent
// routes, and the requests of a client that follows the description,
// against the description.
func TestChannelsOpenAPI(t *testing.T) {
	t.Parallel()
	e := channelEnv(t)
	_, router := loadSpec(t, e)
	none := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	nt := none.newTenant(t, "acme", "")
	k := tn.key
	contact := e.ingest(t, tn, "ana", "m-1", "hola").Message.ContactID
	channel := func(key string) map[string]any {
		return map[string]any{"kind": "api", "key": key, "name": "CRM", "disabled": false,
			"settings": map[string]string{"webhook_url": "https://crm.example.com/hook", "webhook_secret": "0123456789abcdef"}}
	}
	chPath := func(id int64) string { return fmt.Sprintf("/api/v1/channels/%d", id) }
	consent := fmt.Sprintf("/api/v1/contacts/%d/consent", contact)
	for _, x := range []exchange{
		{name: "create", method: "POST", path: "/api/v1/channels", key: k, status: 201, validRequest: true, body: channel("acme-crm")},
		{name: "create webchat", method: "POST", path: "/api/v1/channels", key: k, status: 201, validRequest: true,
			body: map[string]any{"kind": "webchat", "key": "acme-help", "settings": map[string]string{"title": "Ayuda"}}},
		{name: "create duplicate", method: "POST", path: "/api/v1/channels", key: k, status: 409, validRequest: true, body: channel("acme-crm")},
		{name: "create bad setting", method: "POST", path: "/api/v1/channels", key: k, status: 400, validRequest: true,
			body: map[string]any{"kind": "api", "key": "acme-x", "settings": map[string]string{"webhook_url": "ftp://x"}}},
		{name: "create without validation", method: "POST", path: "/api/v1/channels", key: nt.key, status: 503, validRequest: true, body: channel("acme-crm"), env: none},
		{name: "list", method: "GET", path: "/api/v1/channels", key: k, status: 200, validRequest: true},
		{name: "get", method: "GET", path: chPath(tn.api.ID), key: k, status: 200, validRequest: true},
		{name: "get missing", method: "GET", path: chPath(99999), key: k, status: 404, validRequest: true},
		{name: "patch", method: "PATCH", path: chPath(tn.api.ID), key: k, status: 200, validRequest: true,
			body: map[string]any{"name": "Integración", "disabled": true, "settings": map[string]string{"webhook_secret": "(set)", "webhook_url": "https://crm.example.com/v2"}}},
		{name: "patch bad setting", method: "PATCH", path: chPath(tn.api.ID), key: k, status: 400, validRequest: true,
			body: map[string]any{"settings": map[string]string{"webhook_secret": "short"}}},
		{name: "patch missing", method: "PATCH", path: chPath(99999), key: k, status: 404, validRequest: true, body: map[string]any{"name": "x"}},
		{name: "patch too large", method: "PATCH", path: chPath(tn.api.ID), key: k, status: 413, body: map[string]any{"name": strings.Repeat("x", bodyLimit)}},
		{name: "patch without validation", method: "PATCH", path: chPath(nt.api.ID), key: nt.key, status: 503, validRequest: true, body: map[string]any{"name": "x"}, env: none},

		{name: "opt out", method: "POST", path: consent, key: k, status: 201, validRequest: true, body: map[string]any{"channel_id": tn.api.ID, "opted_out": true}},
		{name: "opt out without an address", method: "POST", path: consent, key: k, status: 400, validRequest: true, body: map[string]any{"channel_id": tn.webchat.ID, "opted_out": true}},
		{name: "opt out of a missing contact", method: "POST", path: "/api/v1/contacts/99999/consent", key: k, status: 404, validRequest: true, body: map[string]any{"channel_id": tn.api.ID, "opted_out": true}},
		{name: "opt out too large", method: "POST", path: consent, key: k, status: 413, body: map[string]any{"channel_id": tn.api.ID, "opted_out": true, "pad": strings.Repeat(" ", bodyLimit)}},
		{name: "consent", method: "GET", path: consent + "?limit=1", key: k, status: 200, validRequest: true},
		{name: "consent bad limit", method: "GET", path: consent + "?limit=201", key: k, status: 400},
		{name: "consent of a missing contact", method: "GET", path: "/api/v1/contacts/99999/consent", key: k, status: 404, validRequest: true},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
}

// TestChannelsEndToEnd connects an api channel through the API and follows
// what it sends: replies are signed with the stored secret, never shown; a
// new secret set by PATCH signs the next one; and a contact who opted out
// through the API gets nothing until they opt back in.
func TestChannelsEndToEnd(t *testing.T) {
	t.Parallel()
	reg := testChannels(t)
	var secret atomic.Value
	wh := newWebhook(t, func() string { return secret.Load().(string) })
	e := newEnv(t, envOptions{sender: reg, cfg: api.Config{Channels: reg}})
	tn := e.newTenant(t, "acme", "")
	const (
		first  = "first-secret-0123456789"
		second = "second-secret-0123456789"
	)
	secrets := secretsOf{first, second}
	do := func(method, path string, body any, status int) response {
		t.Helper()
		r := secrets.check(t, e.do(t, method, path, tn.key, body))
		if r.status != status {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.body)
		}
		return r
	}

	secret.Store(first)
	ch := decode[channelView](t, do("POST", "/api/v1/channels", map[string]any{"kind": "api", "key": "acme-crm",
		"settings": map[string]string{"webhook_url": wh.srv.URL + "/hooks", "webhook_secret": first}}, http.StatusCreated), http.StatusCreated)
	in := decode[inboundResponse](t, do("POST", "/api/v1/inbound", map[string]any{"channel_id": ch.ID, "from": "u-1", "id": "in-1", "text": "hola"}, http.StatusCreated), http.StatusCreated)
	conv, contact := in.Conversation.ID, in.Message.ContactID

	// send posts an agent's text and waits until it is no longer queued.
	send := func(text string) conversation.Message {
		t.Helper()
		m := decode[conversation.Message](t, do("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), map[string]any{"text": text}, http.StatusCreated), http.StatusCreated)
		deadline := time.Now().Add(waitFor)
		for m.Status == conversation.StatusQueued {
			if time.Now().After(deadline) {
				t.Fatalf("message %q still queued after %v (%d badly signed posts)", text, waitFor, wh.bad.Load())
			}
			time.Sleep(20 * time.Millisecond)
			m = decode[conversation.Message](t, do("GET", fmt.Sprintf("/api/v1/messages/%d", m.ID), nil, http.StatusOK), http.StatusOK)
		}
		return m
	}
	// received checks that the webhook got text, and nothing else.
	received := func(text string) {
		t.Helper()
		select {
		case hook := <-wh.received:
			if len(hook.Message.Parts) != 1 || hook.Message.Parts[0].Text != text || hook.To != "u-1" {
				t.Fatalf("webhook %+v, want %q to u-1", hook, text)
			}
		default:
			t.Fatalf("the webhook did not get %q", text)
		}
		if n := wh.bad.Load(); n != 0 {
			t.Fatalf("%d posts with a bad signature", n)
		}
	}

	if m := send("uno"); m.Status != conversation.StatusDelivered {
		t.Fatalf("uno: %+v", m)
	}
	received("uno")

	secret.Store(second)
	do("PATCH", fmt.Sprintf("/api/v1/channels/%d", ch.ID), map[string]any{"settings": map[string]string{"webhook_secret": second}}, http.StatusOK)
	if m := send("dos"); m.Status != conversation.StatusDelivered {
		t.Fatalf("dos after a new secret: %+v", m)
	}
	received("dos")

	consent := fmt.Sprintf("/api/v1/contacts/%d/consent", contact)
	do("POST", consent, map[string]any{"channel_id": ch.ID, "opted_out": true}, http.StatusCreated)
	if m := send("tres"); m.Status != conversation.StatusFailed || m.Failure == nil || m.Failure.Code != conversation.FailureOptedOut {
		t.Fatalf("tres to an opted-out contact: %+v", m)
	}
	do("POST", consent, map[string]any{"channel_id": ch.ID, "opted_out": false}, http.StatusCreated)
	if m := send("cuatro"); m.Status != conversation.StatusDelivered {
		t.Fatalf("cuatro after opting back in: %+v", m)
	}
	received("cuatro")
	select {
	case hook := <-wh.received:
		t.Errorf("an extra webhook post: %+v", hook)
	default:
	}
}

package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"conversa/conversation"
	"conversa/notify/prefs"
)

// TestPreferences reads and changes a contact's preferences through the
// API: the changes reach the contact and the consent ledger with source
// api:<key id>; bad input is 400 naming the field and changes nothing;
// another tenant's contact is 404; every response, and the requests of a
// client that follows the description, match the description.
func TestPreferences(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{preferences: true})
	none := newEnv(t, envOptions{})
	_, router := loadSpec(t, e)
	a, b := e.newTenant(t, "acme", ""), e.newTenant(t, "other", "")
	nt := none.newTenant(t, "acme", "")
	contact := e.ingest(t, a, "ana", "m-1", "hola").Message.ContactID
	other := e.ingest(t, b, "bea", "m-1", "hola").Message.ContactID
	path := fmt.Sprintf("/api/v1/contacts/%d/preferences", contact)
	optOut := map[string]any{"consent": []any{map[string]any{"purposes": []string{"survey", "survey_csat"}, "opted_out": true}}}
	for _, x := range []exchange{
		{name: "get", method: "GET", path: path, key: a.key, status: 200, validRequest: true},
		{name: "prefer", method: "PUT", path: path, key: a.key, status: 200, validRequest: true, body: map[string]any{"preferred_channel": "api"}},
		{name: "opt out", method: "PUT", path: path, key: a.key, status: 200, validRequest: true, body: optOut},
		{name: "unreachable channel", method: "PUT", path: path, key: a.key, status: 400, validRequest: true, body: map[string]any{"preferred_channel": "email"}},
		{name: "opted_out missing", method: "PUT", path: path, key: a.key, status: 400, validRequest: false,
			body: map[string]any{"consent": []any{map[string]any{"channel": "api"}}}},
		{name: "empty", method: "PUT", path: path, key: a.key, status: 400, validRequest: true, body: map[string]any{}},
		{name: "another tenant's contact", method: "GET", path: fmt.Sprintf("/api/v1/contacts/%d/preferences", other), key: a.key, status: 404, validRequest: true},
		{name: "change another tenant's contact", method: "PUT", path: fmt.Sprintf("/api/v1/contacts/%d/preferences", other), key: a.key, status: 404,
			validRequest: true, body: optOut},
		{name: "without the service", method: "GET", path: path, key: nt.key, status: 503, validRequest: true, env: none},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}

	p := decode[prefs.Preferences](t, e.do(t, "GET", path, a.key, nil), http.StatusOK)
	if p.PreferredChannel != conversation.ChannelAPI || !slices.Equal(p.Reachable, []conversation.ChannelKind{conversation.ChannelAPI}) ||
		len(p.Channels) != 1 || p.Channels[0].AccountID != a.api.ID || !slices.Equal(p.Channels[0].OptedOutPurposes, []string{"survey", "survey_csat"}) ||
		p.Channels[0].OptedOut || p.TimeZone == "" {
		t.Fatalf("preferences %+v", p)
	}
	ledger := decode[struct{ Data []conversation.ConsentChange }](t, e.do(t, "GET", fmt.Sprintf("/api/v1/contacts/%d/consent", contact), a.key, nil), http.StatusOK)
	if len(ledger.Data) != 2 {
		t.Fatalf("ledger %+v", ledger.Data)
	}
	for _, c := range ledger.Data {
		if c.Source != "api:"+a.keyID || !c.OptedOut || c.At.IsZero() || c.AccountID != a.api.ID {
			t.Errorf("ledger entry %+v", c)
		}
	}

	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"unreachable preferred channel", map[string]any{"preferred_channel": "email"}, "preferred_channel"},
		{"unknown preferred channel", map[string]any{"preferred_channel": "fax"}, "preferred_channel"},
		{"opted_out missing", map[string]any{"consent": []any{map[string]any{"channel": "api"}}}, "consent[0].opted_out"},
		{"unreachable consent channel", map[string]any{"preferred_channel": "", "consent": []any{map[string]any{"channel": "sms", "opted_out": true}}}, "consent[0].channel"},
		{"bad purpose", map[string]any{"consent": []any{map[string]any{"purposes": []string{"Encuestas"}, "opted_out": true}}}, "consent[0].purposes[0]"},
		{"unknown field", map[string]any{"preferred": "api"}, "preferred"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do(t, "PUT", path, a.key, tc.body), http.StatusBadRequest, conversation.EINVALID, tc.field)
		})
	}
	if after := decode[prefs.Preferences](t, e.do(t, "GET", path, a.key, nil), http.StatusOK); after.PreferredChannel != conversation.ChannelAPI ||
		!slices.Equal(after.Channels[0].OptedOutPurposes, p.Channels[0].OptedOutPurposes) {
		t.Fatalf("refused requests changed the preferences: %+v", after)
	}
	back := decode[prefs.Preferences](t, e.do(t, "PUT", path, a.key, map[string]any{"preferred_channel": "",
		"consent": []any{map[string]any{"channel": "api", "purposes": []string{"survey"}, "opted_out": false}}}), http.StatusOK)
	if back.PreferredChannel != "" || !slices.Equal(back.Channels[0].OptedOutPurposes, []string{"survey_csat"}) {
		t.Fatalf("after clearing the channel and opting back in: %+v", back)
	}
}

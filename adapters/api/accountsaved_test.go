package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"conversa/adapters/api"
	"conversa/conversation"
)

// TestAccountSavedHook: an account created or changed through the API is
// passed to the provider hook (cmd registers Telegram webhooks with it);
// when the provider refuses, the account stays stored and the answer says
// why.
func TestAccountSavedHook(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	refuse := false
	e := newEnv(t, envOptions{cfg: api.Config{Channels: testChannels(t),
		AccountSaved: func(_ context.Context, a conversation.ChannelAccount) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, a.Key+":"+a.Name)
			if refuse {
				return errors.New("Telegram refused the webhook: Bad Request: bad webhook: HTTPS url must be provided")
			}
			return nil
		}}})
	tn := e.newTenant(t, "acme", "")
	body := map[string]any{"kind": "webchat", "key": "acme-site", "name": "Sitio"}
	v := decode[struct {
		ID       int64
		Warnings []string
	}](t, e.do(t, "POST", "/api/v1/channels", tn.key, body), http.StatusCreated)
	if len(v.Warnings) != 0 {
		t.Fatalf("warnings %q on a created account the hook took", v.Warnings)
	}
	mu.Lock()
	refuse = true
	mu.Unlock()
	r := e.do(t, "PATCH", fmt.Sprintf("/api/v1/channels/%d", v.ID), tn.key, map[string]any{"name": "Sitio web"})
	got := decode[struct{ Warnings []string }](t, r, http.StatusOK)
	if len(got.Warnings) != 1 || got.Warnings[0] != "Telegram refused the webhook: Bad Request: bad webhook: HTTPS url must be provided" {
		t.Fatalf("warnings %q; want the provider's refusal", got.Warnings)
	}
	if a, err := e.store.ChannelAccount(t.Context(), tn.ID, v.ID); err != nil || a.Name != "Sitio web" {
		t.Fatalf("stored account %+v, %v; want the change kept", a, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "acme-site:Sitio" || seen[1] != "acme-site:Sitio web" {
		t.Fatalf("the hook saw %q", seen)
	}
}

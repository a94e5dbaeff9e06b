package email

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"conversa/conversation"
)

// FuzzUnsubscribeToken: the only tokens accepted are the ones the channel
// makes, written exactly as it writes them, and each one names what it
// was made for; anything else is a 404 page from both handlers, never a
// panic or a change.
func FuzzUnsubscribeToken(f *testing.F) {
	c, err := New(Config{TokenKey: []byte("0123456789abcdef0123456789abcdef")}, Deps{})
	if err != nil {
		f.Fatal(err)
	}
	good := c.unsubscribeToken(unsubscribe{tenantID: 1, accountID: 2, contactID: 3, purpose: "case_resolved"})
	f.Add(int64(1), int64(2), int64(3), "case_resolved", good)
	f.Add(int64(1), int64(2), int64(4), "survey", good+"0")
	f.Add(int64(9), int64(9), int64(9), "x", "1.2.3.case_resolved")
	f.Add(int64(-1), int64(0), int64(1), "Bad.Purpose", "01.2.3.case_resolved."+good[len(good)-32:])
	mux := http.NewServeMux()
	c.Routes(mux)
	f.Fuzz(func(t *testing.T, tenant, account, contact int64, purpose, token string) {
		u := unsubscribe{tenantID: tenant, accountID: account, contactID: contact, purpose: purpose}
		if tenant > 0 && account > 0 && contact > 0 && conversation.ValidPurpose(purpose) {
			if got, ok := c.verifyUnsubscribe(c.unsubscribeToken(u)); !ok || got != u {
				t.Fatalf("the token of %+v verifies as %+v, %v", u, got, ok)
			}
		}
		got, ok := c.verifyUnsubscribe(token)
		if ok && c.unsubscribeToken(got) != token {
			t.Fatalf("%q accepted, naming %+v, but the channel writes that as %q", token, got, c.unsubscribeToken(got))
		}
		if ok || strings.ContainsAny(token, "/?#%") || token == "" {
			return
		}
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req, err := http.NewRequest(method, UnsubscribePath+token, strings.NewReader("List-Unsubscribe=One-Click"))
			if err != nil {
				return // not a URL path
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			// The mux redirects paths it cleans ("." and ".." segments).
			if rec.Code != http.StatusNotFound && rec.Code/100 != 3 {
				t.Fatalf("%s %q: %d, want 404", method, token, rec.Code)
			}
		}
	})
}

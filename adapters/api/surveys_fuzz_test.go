package api

import (
	"strings"
	"testing"

	"conversa/conversation"
	"conversa/notify/survey"
)

// FuzzDecodeSurvey checks the decoder of survey requests: what it accepts
// is the tenant's, of a known kind, for a contact, with at most one valid
// subject, on known channels; what it refuses is EINVALID.
func FuzzDecodeSurvey(f *testing.F) {
	for _, s := range []string{
		`{"kind":"nps","contact_id":1,"topic":"la entrega","expires_in_hours":48}`,
		`{"kind":"csat","contact_id":7,"case_id":3,"channels":["sms","fax"]}`,
		`{"kind":"csat","contact_id":7,"conversation_id":-1}`,
		`{"kind":"csat","contact_id":7,"topic":"x","case_id":3}`,
		`{"kind":"ces","contact_id":7}`,
		`{"kind":"csat","contact_id":7,"purpose":"Survey"}`,
		`{"kind":"csat","contact_id":7,"data":{"":"x"}}`,
		`{"kind":"csat","contact_id":7,"expires_in_hours":1e9}`,
		`{"kind":"csat","contact_id":7,"topic":"a\u0000b"}`,
		`{"kind":"csat","contact_id":7,"idempotency_key":"k\n"}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(`{"kind":"csat","contact_id":7}`), strings.Repeat("k", 300))
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		r, err := decodeSurvey(body, 5, key)
		if err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("refused with %v, want EINVALID", err)
			}
			return
		}
		if r.TenantID != 5 || !r.Kind.Valid() || r.ContactID <= 0 || survey.ValidSubject(r.Subject) != nil || r.TTL < 0 {
			t.Fatalf("accepted %+v", r)
		}
		for _, k := range r.Channels {
			if !k.Valid() {
				t.Fatalf("accepted channel %q", k)
			}
		}
	})
}

package api

import "testing"

// FuzzDecodePreferences checks the decoder of preference changes: what it
// accepts is one JSON value, changes something, within the limits, with
// no source (the handler sets it); what it refuses is a client error.
func FuzzDecodePreferences(f *testing.F) {
	for _, s := range []string{
		`{"preferred_channel":"email"}`,
		`{"preferred_channel":""}`,
		`{"preferred_channel":null,"consent":[{"channel":"sms","purposes":["survey"],"opted_out":true}]}`,
		`{"consent":[{"opted_out":false}]}`,
		`{"consent":[{"channel":"sms"}]}`,
		`{"consent":[]}`,
		`{"consent":null}`,
		`{"consent":[{"purposes":"survey","opted_out":true}]}`,
		`{"preferred_channel":7}`,
		`{"preferred":"email"}`,
		`{} {}`,
		`[]`,
		`null`,
		``,
		"{\"preferred_channel\":\"caf\xe9\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ch, err := decodePreferences(body)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if ch.PreferredChannel == nil && len(ch.Consent) == 0 {
			t.Fatalf("accepted a change of nothing: %q", body)
		}
		if ch.Source != "" || len(ch.Consent) > maxConsentUpdates {
			t.Fatalf("accepted %+v", ch)
		}
		for _, u := range ch.Consent {
			if len(u.Purposes) > maxConsentUpdates {
				t.Fatalf("accepted %d purposes", len(u.Purposes))
			}
		}
	})
}

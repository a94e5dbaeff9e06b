package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/notify"
)

var notificationSeeds = []string{
	`{"contact_id":1,"purpose":"case_resolved","data":{"name":"Ana","radicado":"PQR-2026-000123"}}`,
	`{"contact_id":7,"purpose":"survey","channels":["sms","email"],"send_after":"2026-03-11T09:00:00-05:00"}`,
	`{"contact_id":7,"purpose":"survey","channels":["fax"]}`,
	`{"contact_id":7,"purpose":"survey","channels":["sms","sms"]}`,
	`{"contact_id":7,"purpose":"survey","send_after":"mañana"}`,
	`{"contact_id":7,"purpose":"survey","send_after":"9999-12-31T23:59:59Z"}`,
	`{"contact_id":7,"purpose":"Survey"}`,
	`{"contact_id":0,"purpose":"survey"}`,
	`{"contact_id":-3,"purpose":"survey"}`,
	`{"contact_id":1e400,"purpose":"survey"}`,
	`{"contact_id":7}`,
	`{"contact_id":7,"purpose":"survey","data":{"":"x"}}`,
	`{"contact_id":7,"purpose":"survey","data":{"a":"\u0000"}}`,
	`{"contact_id":7,"purpose":"survey","data":{"a":1}}`,
	`{"contact_id":7,"purpose":"survey","data":{"a\n":"b"}}`,
	`{"contact_id":7,"purpose":"survey","data":null,"channels":null}`,
	`{"contact_id":7,"purpose":"survey","urgent":true}`,
	`{"contact_id":7,"purpose":"survey"} {}`,
	`[{"contact_id":7}]`,
	"{\"contact_id\":7,\"purpose\":\"caf\xe9\"}",
	`null`,
	``,
}

// FuzzDecodeNotification checks the decoder of notification requests:
// what it accepts is the tenant's, for a contact id and a purpose, on
// known channels, with data of valid UTF-8 without NUL, not after a year
// from now, under the header's key.
func FuzzDecodeNotification(f *testing.F) {
	for _, s := range notificationSeeds {
		f.Add([]byte(s), "")
	}
	f.Add([]byte(notificationSeeds[0]), "case:1:resolved")
	f.Add([]byte(notificationSeeds[0]), "a\x00b")
	f.Add([]byte(notificationSeeds[0]), strings.Repeat("k", 300))
	now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		r, err := decodeNotification(body, 42, key, now)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if r.TenantID != 42 || r.ContactID <= 0 || !conversation.ValidPurpose(r.Purpose) || r.IdempotencyKey != key {
			t.Fatalf("accepted %+v", r)
		}
		checkText(t, r.IdempotencyKey)
		if len(key) > conversation.MaxShortField {
			t.Fatalf("accepted a key of %d bytes", len(key))
		}
		for _, k := range r.Channels {
			if !k.Valid() {
				t.Fatalf("accepted channel %q", k)
			}
		}
		for name, v := range r.Data {
			if name == "" {
				t.Fatal("accepted a variable without a name")
			}
			checkText(t, name)
			checkText(t, v)
		}
		if r.SendAfter.After(now.Add(maxSendAfter)) {
			t.Fatalf("accepted send_after %v", r.SendAfter)
		}
		// What the service is given marshals back, as it is stored.
		if _, err := json.Marshal(notify.Notification{Data: r.Data, Channels: r.Channels, SendAfter: r.SendAfter, Due: r.SendAfter}); err != nil {
			t.Fatalf("accepted a request that does not marshal: %v", err)
		}
	})
}

var policySeeds = []string{
	`{}`,
	`{"fallback":["whatsapp","sms","email"],"quiet_hours":{"start":"21:00","end":"08:00"},"purposes":{"survey":{"cap":{"count":1,"period":"7d"}},"service_outage":{"urgent":true}}}`,
	`{"purposes":{"reminder":{"quiet_hours":{"start":"22:00","end":"07:30"},"fallback":["sms"],"cap":{"count":2,"period":"24h"}}}}`,
	`{"fallback":["sms","sms"]}`,
	`{"fallback":["fax"]}`,
	`{"quiet_hours":{"start":"24:00","end":"08:00"}}`,
	`{"quiet_hours":{"start":"9:00","end":"08:00"}}`,
	`{"quiet_hours":null,"fallback":null,"purposes":null}`,
	`{"purposes":{"Survey":{}}}`,
	`{"purposes":{"survey":{"cap":{"count":0,"period":"7d"}}}}`,
	`{"purposes":{"survey":{"cap":{"count":1,"period":"-7d"}}}}`,
	`{"purposes":{"survey":{"cap":{"count":1,"period":"367d"}}}}`,
	`{"purposes":{"survey":{"cap":{"count":1,"period":"30s"}}}}`,
	`{"purposes":{"survey":{"cap":{"count":1e3,"period":"7d"}}}}`,
	`{"purposes":{"survey":{"urgent":"yes"}}}`,
	`{"purposes":{"survey":{"max":1}}}`,
	`{"quiet":true}`,
	`[]`,
	`null`,
	``,
}

// FuzzDecodePolicy checks the decoder of notification policies: what it
// accepts passes the policy's validation and survives a JSON round trip,
// as the store keeps it.
func FuzzDecodePolicy(f *testing.F) {
	for _, s := range policySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePolicy(body)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid policy: %v", err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodePolicy(b)
		if err != nil {
			t.Fatalf("the accepted policy %s does not decode again: %v", b, err)
		}
		again, _ := json.Marshal(back)
		if !reflect.DeepEqual(b, again) || !utf8.Valid(b) {
			t.Fatalf("round trip: %s became %s", b, again)
		}
	})
}

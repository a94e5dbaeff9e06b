package api

import "testing"

// FuzzDecodeDestination checks the decoder of analytics destinations:
// what it accepts is one JSON object in UTF-8, within the limits, with
// what a creation needs and nothing a change may not touch; what it
// refuses is a client error.
func FuzzDecodeDestination(f *testing.F) {
	for _, s := range []string{
		`{"kind":"segment","url":"https://api.segment.io","secret":"wk_0123456789"}`,
		`{"kind":"webhook","url":"https://x.example/in","events":["message.received","case.filed"],"disabled":true}`,
		`{"kind":"webhook","url":"https://x.example/in","events":[]}`,
		`{"kind":"webhook","url":"https://x.example/in","events":null}`,
		`{"url":"https://x.example/in"}`,
		`{"disabled":false}`,
		`{"kind":7,"url":"x"}`,
		`{"kind":"webhook","url":"x","events":"case.filed"}`,
		`{"kind":"webhook","url":"x","headers":{}}`,
		`{"secret":"0123456789abcdef"}`,
		`{} {}`,
		`[]`,
		`null`,
		``,
		"{\"kind\":\"caf\xe9\"}",
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, create bool) {
		req, err := decodeDestination(body, create)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if create && (req.Kind == nil || req.URL == nil) {
			t.Fatalf("accepted a creation without kind or url: %q", body)
		}
		if !create && (req.Kind != nil || req.Secret != nil) {
			t.Fatalf("accepted a change of kind or secret: %q", body)
		}
		if req.Events != nil && len(*req.Events) > maxDestinationEvents {
			t.Fatalf("accepted %d events", len(*req.Events))
		}
	})
}

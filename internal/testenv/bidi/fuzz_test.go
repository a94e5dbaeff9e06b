package bidi

import (
	"encoding/json"
	"testing"
)

// FuzzRemoteValue feeds the decoder of script results what a browser
// might send: it returns a value or an error, and never panics.
func FuzzRemoteValue(f *testing.F) {
	for _, seed := range []string{
		`{"type":"number","value":2}`,
		`{"type":"number","value":"-Infinity"}`,
		`{"type":"string","value":"aé"}`,
		`{"type":"undefined"}`,
		`{"type":"array","value":[{"type":"number","value":1},{"type":"array","value":[{"type":"boolean","value":false}]}]}`,
		`{"type":"object","value":[["a",{"type":"number","value":1}],["b",{"type":"object","value":[["c",{"type":"string","value":"d"}]]}]]}`,
		`{"type":"map","value":[[{"type":"number","value":1},{"type":"string","value":"one"}]]}`,
		`{"type":"node","sharedId":"f.1.d.2.e.3","value":{"nodeType":1,"localName":"body"}}`,
		`{"type":"bigint","value":"100000000000000000000"}`,
		`{"type":"object"}`,
		`{"type":"object","value":[["a"]]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v remoteValue
		if json.Unmarshal(data, &v) != nil {
			return
		}
		v.decode()
	})
}

// FuzzMessage feeds the read loop's dispatch any message: it delivers
// responses, passes events on, and never panics.
func FuzzMessage(f *testing.F) {
	for _, seed := range []string{
		`{"type":"success","id":1,"result":{}}`,
		`{"type":"error","id":1,"error":"no such frame","message":"gone"}`,
		`{"type":"error","id":null,"error":"invalid argument","message":"bad"}`,
		`{"type":"event","method":"log.entryAdded","params":{"text":"hi"}}`,
		`{"type":"success","id":99,"result":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m message
		if json.Unmarshal(data, &m) != nil {
			return
		}
		var events int
		c := &Conn{onEvent: func(Event) { events++ }, pending: map[int64]call{}}
		ch := make(chan reply, 1)
		c.pending[1] = call{method: "test.method", reply: ch}
		c.dispatch(m)
		if m.Type == "event" && events != 1 {
			t.Fatalf("event %s not passed on", data)
		}
		if m.Type != "event" && m.ID != nil && *m.ID == 1 && len(ch) != 1 {
			t.Fatalf("response %s not delivered", data)
		}
	})
}

package api

import (
	"testing"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/handoff"
)

// FuzzDecodeAgentAndQueue feeds the agent and queue request decoders
// bodies they did not write: they never panic, fail only with EINVALID,
// and what they accept passes the domain's validation with valid UTF-8.
func FuzzDecodeAgentAndQueue(f *testing.F) {
	for _, s := range []string{
		`{"name":"Ana","email":"ana@example.com","role":"supervisor","skills":["billing"],"teams":[1],"capacity":3,"password":"correct horse battery"}`,
		`{"name":"Ana","capacity":-1}`, `{"role":"root"}`, `{"skills":["a b"]}`, `{"name":"\ud800"}`, `{"capacity":1e400}`,
		`{"name":"Pagos","strategy":"manual","accept_timeout":45,"hours":[{"day":1,"from":"08:00","to":"18:00"}],"team_id":2,"priority":5}`,
		`{"hours":[{"day":9,"from":"25:00","to":"x"}]}`, `{"accept_timeout":4}`, `null`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var ar agentRequest
		if err := decodeJSON(body, &ar); err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("agent: %v", err)
			}
		} else {
			a := handoff.Agent{TenantID: 1}
			ar.apply(&a)
			if err := a.Validate(); err == nil {
				if !utf8.ValidString(a.Name) || !utf8.ValidString(a.Email) || a.Capacity < 1 {
					t.Fatalf("accepted %+v", a)
				}
			} else if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("agent validation: %v", err)
			}
		}
		var qr queueRequest
		if err := decodeJSON(body, &qr); err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("queue: %v", err)
			}
			return
		}
		q := handoff.Queue{TenantID: 1}
		if err := qr.apply(&q); err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("queue apply: %v", err)
			}
			return
		}
		if err := q.Validate(); err == nil {
			if !utf8.ValidString(q.Name) || q.AcceptTimeout <= 0 {
				t.Fatalf("accepted %+v", q)
			}
		} else if conversation.ErrorCode(err) != conversation.EINVALID {
			t.Fatalf("queue validation: %v", err)
		}
	})
}

package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var casePolicySeeds = []string{
	`{}`,
	`{"terms":{"queja":5,"peticion":10},"holidays":["2026-12-24"],"urgent_types":["reclamo"],"max_extension_days":3}`,
	`{"rules":{"term_hours":{"denuncia":4},"hours":[{"day":1,"from":"09:00","to":"18:00"}],"pause":"restart","manual_resume":true}}`,
	`{"levels":[{"at":0.5,"to":"lead","notify":["team_lead","agent:7"]},{"at":1,"to":"manager","notify":["role:admin"]}]}`,
	`{"levels":[{"at":0.9,"to":"lead"},{"at":0.5,"to":"boss"}]}`,
	`{"levels":[{"at":1,"to":"lead\n"}]}`,
	`{"terms":{"tutela":5}}`,
	`{"terms":{"queja":0}}`,
	`{"terms":{"queja":400}}`,
	`{"terms":{"queja":1e3}}`,
	`{"holidays":["12/24/2026"]}`,
	`{"holidays":["2026-02-30"]}`,
	`{"rules":{"hours":[{"day":7,"from":"08:00","to":"17:00"}]}}`,
	`{"rules":{"hours":[{"day":1,"from":"18:00","to":"08:00"}]}}`,
	`{"rules":{"term_hours":{"queja":-1}}}`,
	`{"urgent_types":["queja","queja"]}`,
	`{"max_extension_days":-1}`,
	`{"terms":null,"rules":null,"holidays":null,"levels":null}`,
	`{"term":{}}`,
	`[]`,
	`null`,
	``,
}

// FuzzDecodeCasePolicy checks the decoder of case policies: what it
// accepts passes the policy's validation, holds printable text, and
// survives a JSON round trip, as the store keeps it.
func FuzzDecodeCasePolicy(f *testing.F) {
	for _, s := range casePolicySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodeCasePolicy(body)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		checkBody(t, body)
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid policy: %v", err)
		}
		for _, l := range p.Levels {
			checkText(t, l.To)
			if strings.ContainsAny(l.To, "\n\r") {
				t.Fatalf("accepted a role with a line break: %q", l.To)
			}
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeCasePolicy(b)
		if err != nil {
			t.Fatalf("the accepted policy %s does not decode again: %v", b, err)
		}
		if again, _ := json.Marshal(back); !bytes.Equal(b, again) {
			t.Fatalf("round trip: %s became %s", b, again)
		}
	})
}

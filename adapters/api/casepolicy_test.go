package api_test

import (
	"net/http"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// TestCasePolicy: a tenant's policy, put through the API, sets the due date
// of its next case; another tenant keeps the server's settings; a bad
// policy is refused naming its field and changes nothing.
func TestCasePolicy(t *testing.T) {
	t.Parallel()
	e, clk := newCaseEnv(t, true)
	a, b := e.newTenant(t, "acme", ""), e.newTenant(t, "globex", "")
	const path = "/api/v1/case-policy"
	policy := map[string]any{
		"terms":              map[string]int{"queja": 5},
		"holidays":           []string{"2020-03-12"},
		"levels":             []any{map[string]any{"at": 0.5, "to": "lead", "notify": []string{"team_lead"}}, map[string]any{"at": 1, "to": "manager"}},
		"urgent_types":       []string{"reclamo"},
		"max_extension_days": 2,
	}
	if v := decode[handoff.PolicyView](t, e.do(t, "GET", path, a.key, nil), http.StatusOK); v.Stored != nil || v.Effective.Terms[handoff.Queja] != 15 {
		t.Fatalf("policy before any: %+v", v)
	}
	v := decode[handoff.PolicyView](t, e.do(t, "PUT", path, a.key, policy), http.StatusOK)
	if v.Stored == nil || v.Stored.Terms[handoff.Queja] != 5 || v.Effective.Terms[handoff.Queja] != 5 || v.Effective.Terms[handoff.Peticion] != 15 ||
		len(v.Effective.Levels) != 2 || v.Effective.Levels[0].Notify[0] != handoff.TargetTeamLead || v.Effective.MaxExtensionDays != 2 {
		t.Fatalf("put policy answered %+v", v)
	}

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct{ name, body, field string }{
			{"unknown type", `{"terms":{"tutela":5}}`, "terms"},
			{"term 0", `{"terms":{"queja":0}}`, "terms.queja"},
			{"term 400", `{"terms":{"queja":400}}`, "terms.queja"},
			{"malformed holiday", `{"holidays":["2020-03-12","12/03/2020"]}`, "holidays[1]"},
			{"falling level", `{"levels":[{"at":0.9,"to":"lead"},{"at":0.5,"to":"boss"}]}`, "levels[1]"},
			{"level without role", `{"levels":[{"at":1}]}`, "levels[0]"},
			{"bad target", `{"levels":[{"at":1,"to":"boss","notify":["everyone"]}]}`, "levels[0].notify"},
			{"bad pause", `{"rules":{"pause":"stop"}}`, "rules.pause"},
			{"bad hours", `{"rules":{"hours":[{"day":9,"from":"08:00","to":"17:00"}]}}`, "rules.hours[0]"},
			{"unknown urgent type", `{"urgent_types":["grito"]}`, "urgent_types[0]"},
			{"negative extension", `{"max_extension_days":-1}`, "max_extension_days"},
			{"unknown field", `{"term":{"queja":5}}`, "term"},
			{"wrong type", `{"terms":{"queja":"5"}}`, "terms"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, e.do(t, "PUT", path, a.key, rawBody(tc.body)), http.StatusBadRequest, conversation.EINVALID, tc.field)
			})
		}
		if v := decode[handoff.PolicyView](t, e.do(t, "GET", path, a.key, nil), http.StatusOK); v.Stored == nil || v.Stored.Terms[handoff.Queja] != 5 {
			t.Fatalf("after refused policies: %+v", v)
		}
	})

	// Filed on Monday 9 March 2020: 5 business days from the 10th skip the
	// tenant's 12th and the weekend, and end on Tuesday the 17th in
	// Bogotá, the tenant's time zone.
	bogota, err := time.LoadLocation("America/Bogota")
	if err != nil {
		t.Fatal(err)
	}
	day := func(c handoff.Case) string { return c.Due.In(bogota).Format("2006-01-02 15:04") }
	ca := e.ingest(t, a, "ana", "m-1", "hola").Conversation
	c := fileCase(t, e, clk, caseBase, a.key, map[string]any{"type": "queja", "contact_id": ca.ContactID, "description": "No llegó"})
	got := decode[handoff.Case](t, e.do(t, "GET", casePath(c.ID, ""), a.key, nil), http.StatusOK)
	if got.TermDays != 5 || day(got) != "2020-03-17 23:59" {
		t.Fatalf("A's queja: %d days, due %s; want 5, 2020-03-17 23:59", got.TermDays, day(got))
	}
	wantError(t, e.do(t, "POST", casePath(c.ID, "/extend"), a.key, map[string]any{"days": 3, "reason": "Proveedor"}), http.StatusBadRequest, conversation.EINVALID, "days")

	cb := e.ingest(t, b, "bea", "m-2", "hola").Conversation
	c = fileCase(t, e, clk, caseBase, b.key, map[string]any{"type": "queja", "contact_id": cb.ContactID, "description": "No llegó"})
	// B's 15 business days skip only Colombia's Monday 23 March.
	if c.TermDays != 15 || day(c) != "2020-03-31 23:59" {
		t.Fatalf("B's queja: %d days, due %s; want 15, 2020-03-31 23:59", c.TermDays, day(c))
	}
	if v := decode[handoff.PolicyView](t, e.do(t, "GET", path, b.key, nil), http.StatusOK); v.Stored != nil {
		t.Fatalf("B sees %+v", v)
	}
}

// TestCasePolicyOpenAPI checks the policy routes' real responses against
// the description.
func TestCasePolicyOpenAPI(t *testing.T) {
	t.Parallel()
	e, _ := newCaseEnv(t, true)
	_, router := loadSpec(t, e)
	none, _ := newCaseEnv(t, false)
	tn := e.newTenant(t, "acme", "")
	nt := none.newTenant(t, "acme", "")
	const path = "/api/v1/case-policy"
	good := map[string]any{
		"terms": map[string]int{"queja": 5}, "holidays": []string{"2020-03-12"},
		"rules":        map[string]any{"term_hours": map[string]int{"denuncia": 4}, "hours": []any{map[string]any{"day": 1, "from": "09:00", "to": "18:00"}}, "pause": "restart", "manual_resume": true},
		"levels":       []any{map[string]any{"at": 0.5, "to": "lead", "notify": []string{"team_lead"}}, map[string]any{"at": 1, "to": "manager"}},
		"urgent_types": []string{"reclamo"}, "max_extension_days": 2,
	}
	for _, x := range []exchange{
		{name: "get default", method: "GET", path: path, key: tn.key, status: 200, validRequest: true},
		{name: "put", method: "PUT", path: path, key: tn.key, status: 200, validRequest: true, body: good},
		{name: "get", method: "GET", path: path, key: tn.key, status: 200, validRequest: true},
		{name: "put empty", method: "PUT", path: path, key: tn.key, status: 200, validRequest: true, body: map[string]any{}},
		{name: "put bad", method: "PUT", path: path, key: tn.key, status: 400, body: map[string]any{"terms": map[string]int{"queja": 0}}},
		{name: "without key", method: "GET", path: path, status: 401},
		{name: "without service", method: "GET", path: path, key: nt.key, status: 503, env: none, validRequest: true},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
}

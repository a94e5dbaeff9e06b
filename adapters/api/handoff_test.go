package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/routers"

	"conversa/adapters/api"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// handoffEnv is an API with the router, the console store and the 360
// view on one SQLite store, and the OpenAPI description's router, which
// checks every answer.
type handoffEnv struct {
	*env
	spec routers.Router
	// a and b are two tenants; b's ids must be 404 to a.
	a, b tenant
}

func newHandoffEnv(t *testing.T) *handoffEnv {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	shared := memory.New()
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: shared, Dedup: shared})
	if err != nil {
		t.Fatal(err)
	}
	router := handoff.NewRouter(store, svc, store, handoff.RouterConfig{Bus: shared})
	cfg := api.Config{MaxBodyBytes: bodyLimit, Routing: router, RoutingStore: store, Console: store, ContactView: handoff.NewViews(store)}
	a, err := api.New(cfg, svc, store, shared, shared)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{store: store, shared: shared, svc: svc, api: a, srv: srv, stopAPI: cancel, runDone: make(chan error, 1)}
	go func() { e.runDone <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	_, spec := loadSpec(t, e)
	return &handoffEnv{env: e, spec: spec, a: e.newTenant(t, "alpha", ""), b: e.newTenant(t, "beta", "")}
}

// call sends a request as tenant tn, checks that the answer has status
// want and matches the description, and returns it.
func (h *handoffEnv) call(t *testing.T, tn tenant, method, path string, body any, want int) response {
	t.Helper()
	r := h.do(t, method, path, tn.key, body)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	validateResponse(t, h.spec, req, r.status, r.header, r.body, false)
	return r
}

// get calls and decodes a 200 or 201 answer.
func get[T any](t *testing.T, h *handoffEnv, tn tenant, method, path string, body any, want int) T {
	t.Helper()
	return decode[T](t, h.call(t, tn, method, path, body, want), want)
}

// fails calls and checks the error code and field.
func (h *handoffEnv) fails(t *testing.T, tn tenant, method, path string, body any, status int, code, field string) {
	t.Helper()
	wantError(t, h.call(t, tn, method, path, body, status), status, code, field)
}

type agentOut struct {
	ID       int64    `json:"id"`
	TenantID int64    `json:"tenant_id"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	Role     string   `json:"role"`
	Skills   []string `json:"skills"`
	Capacity int      `json:"capacity"`
	Status   string   `json:"status"`
	Load     int      `json:"load"`
}

type listOut[T any] struct {
	Data []T `json:"data"`
}

func TestHandoffAgents(t *testing.T) {
	t.Parallel()
	h := newHandoffEnv(t)
	ctx := t.Context()
	ana := get[agentOut](t, h, h.a, "POST", "/api/v1/agents", map[string]any{
		"name": "Ana <b>Gómez</b>", "email": "Ana@Example.com", "skills": []string{"Billing", "en"}, "capacity": 3, "password": "correct horse battery"}, 201)
	if ana.ID == 0 || ana.Email != "ana@example.com" || ana.Role != "agent" || ana.Status != "offline" || ana.Capacity != 3 ||
		strings.Join(ana.Skills, ",") != "billing,en" || ana.Name != "Ana <b>Gómez</b>" {
		t.Fatalf("created %+v", ana)
	}
	if strings.Contains(string(h.call(t, h.a, "GET", fmt.Sprintf("/api/v1/agents/%d", ana.ID), nil, 200).body), "argon2") {
		t.Fatal("the password hash is in the answer")
	}
	logins, err := h.store.Logins(ctx, "ana@example.com")
	if err != nil || len(logins) != 1 || !handoff.CheckPassword(logins[0].PasswordHash, "correct horse battery") {
		t.Fatalf("the password was not stored: %+v, %v", logins, err)
	}
	luis := get[agentOut](t, h, h.a, "POST", "/api/v1/agents", map[string]any{"name": "Luis", "role": "supervisor"}, 201)
	bea := get[agentOut](t, h, h.b, "POST", "/api/v1/agents", map[string]any{"name": "Bea", "email": "ana@example.com"}, 201)

	// Bad input stores nothing.
	for name, body := range map[string]any{
		"short password": map[string]any{"name": "Eva", "password": "short"},
		"bad role":       map[string]any{"name": "Eva", "role": "root"},
		"no name":        map[string]any{"email": "eva@example.com"},
		"bad email":      map[string]any{"name": "Eva", "email": "not an email"},
		"bad skill":      map[string]any{"name": "Eva", "skills": []string{"a b"}},
		"capacity":       map[string]any{"name": "Eva", "capacity": 500},
		"team of b":      map[string]any{"name": "Eva", "teams": []int64{99}},
	} {
		t.Run(name, func(t *testing.T) {
			r := h.call(t, h.a, "POST", "/api/v1/agents", body, 400)
			wantError(t, r, 400, conversation.EINVALID, decode[errorBody](t, r, 400).Error.Field)
		})
	}
	h.fails(t, h.a, "POST", "/api/v1/agents", map[string]any{"name": "Eva", "nick": "e"}, 400, conversation.EINVALID, "nick")
	h.fails(t, h.a, "POST", "/api/v1/agents", rawBody("{"), 400, conversation.EINVALID, "")
	h.fails(t, h.a, "POST", "/api/v1/agents", map[string]any{"name": "Otra Ana", "email": "ana@example.com"}, 409, conversation.ECONFLICT, "")
	if all := get[listOut[agentOut]](t, h, h.a, "GET", "/api/v1/agents", nil, 200); len(all.Data) != 2 || all.Data[0].ID != ana.ID || all.Data[1].ID != luis.ID {
		t.Fatalf("agents of a: %+v", all.Data)
	}

	// Changes: a field left out stays; a new password ends the sessions.
	_, ses, err := handoff.NewSession(h.a.ID, ana.ID, h.a.CreatedAt, 1e12)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.store.CreateAgentSession(ctx, ses); err != nil {
		t.Fatal(err)
	}
	ana = get[agentOut](t, h, h.a, "PATCH", fmt.Sprintf("/api/v1/agents/%d", ana.ID), map[string]any{"capacity": 5, "password": "another long secret"}, 200)
	if ana.Capacity != 5 || ana.Email != "ana@example.com" || strings.Join(ana.Skills, ",") != "billing,en" {
		t.Fatalf("patched %+v", ana)
	}
	if _, err := h.store.AgentSession(ctx, ses.TokenHash, h.a.CreatedAt); !conversation.IsNotFound(err) {
		t.Fatalf("the session outlived the password change: %v", err)
	}
	h.fails(t, h.a, "PATCH", fmt.Sprintf("/api/v1/agents/%d", ana.ID), map[string]any{"password": "123"}, 400, conversation.EINVALID, "password")
	h.fails(t, h.a, "PATCH", fmt.Sprintf("/api/v1/agents/%d", ana.ID), map[string]any{"role": "boss"}, 400, conversation.EINVALID, "role")
	if got := get[agentOut](t, h, h.a, "GET", fmt.Sprintf("/api/v1/agents/%d", ana.ID), nil, 200); got.Role != "agent" || got.Capacity != 5 {
		t.Fatalf("a refused change changed %+v", got)
	}

	st := get[agentOut](t, h, h.a, "POST", fmt.Sprintf("/api/v1/agents/%d/status", ana.ID), map[string]any{"status": "available"}, 200)
	if st.Status != "available" {
		t.Fatalf("status %+v", st)
	}
	h.fails(t, h.a, "POST", fmt.Sprintf("/api/v1/agents/%d/status", ana.ID), map[string]any{"status": "asleep"}, 400, conversation.EINVALID, "status")

	// Another tenant's agent is not found, whatever the route.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", fmt.Sprintf("/api/v1/agents/%d", bea.ID), nil},
		{"PATCH", fmt.Sprintf("/api/v1/agents/%d", bea.ID), map[string]any{"name": "Hacked"}},
		{"POST", fmt.Sprintf("/api/v1/agents/%d/status", bea.ID), map[string]any{"status": "available"}},
		{"GET", "/api/v1/agents/0", nil},
		{"GET", "/api/v1/agents/x", nil},
	} {
		h.fails(t, h.a, c.method, c.path, c.body, 404, conversation.ENOTFOUND, "")
	}
	if got := get[agentOut](t, h, h.b, "GET", fmt.Sprintf("/api/v1/agents/%d", bea.ID), nil, 200); got.Name != "Bea" || got.Status != "offline" {
		t.Fatalf("b's agent changed: %+v", got)
	}
}

type queueOut struct {
	ID            int64    `json:"id"`
	Name          string   `json:"name"`
	Strategy      string   `json:"strategy"`
	Skills        []string `json:"skills"`
	TeamID        int64    `json:"team_id"`
	AcceptTimeout int      `json:"accept_timeout"`
}

func TestHandoffQueuesTeamsRules(t *testing.T) {
	t.Parallel()
	h := newHandoffEnv(t)
	team := get[handoff.Team](t, h, h.a, "POST", "/api/v1/teams", map[string]any{"name": "Soporte"}, 201)
	h.fails(t, h.a, "POST", "/api/v1/teams", map[string]any{"name": "Soporte"}, 409, conversation.ECONFLICT, "")
	h.fails(t, h.a, "POST", "/api/v1/teams", map[string]any{"name": " "}, 400, conversation.EINVALID, "name")
	teamB := get[handoff.Team](t, h, h.b, "POST", "/api/v1/teams", map[string]any{"name": "Soporte"}, 201)
	if got := get[listOut[handoff.Team]](t, h, h.a, "GET", "/api/v1/teams", nil, 200); len(got.Data) != 1 || got.Data[0].ID != team.ID {
		t.Fatalf("teams %+v", got)
	}

	q := get[queueOut](t, h, h.a, "POST", "/api/v1/queues", map[string]any{"name": "Pagos", "skills": []string{"billing"}, "team_id": team.ID,
		"accept_timeout": 45, "hours": []map[string]any{{"day": 1, "from": "08:00", "to": "18:00"}}}, 201)
	if q.Strategy != "skills_longest_idle" || q.AcceptTimeout != 45 || q.TeamID != team.ID {
		t.Fatalf("queue %+v", q)
	}
	manual := get[queueOut](t, h, h.a, "POST", "/api/v1/queues", map[string]any{"name": "Manual", "strategy": "manual"}, 201)
	if manual.AcceptTimeout != 30 || len(manual.Skills) != 0 {
		t.Fatalf("defaults %+v", manual)
	}
	for name, c := range map[string]struct {
		body  map[string]any
		field string
	}{
		"strategy":  {map[string]any{"name": "X", "strategy": "random"}, "strategy"},
		"timeout":   {map[string]any{"name": "X", "accept_timeout": 1}, "accept_timeout"},
		"team of b": {map[string]any{"name": "X", "team_id": teamB.ID}, "team_id"},
		"hours":     {map[string]any{"name": "X", "hours": []map[string]any{{"day": 9, "from": "08:00", "to": "18:00"}}}, "hours"},
		"no name":   {map[string]any{"strategy": "manual"}, "name"},
	} {
		t.Run(name, func(t *testing.T) {
			h.fails(t, h.a, "POST", "/api/v1/queues", c.body, 400, conversation.EINVALID, c.field)
		})
	}
	q = get[queueOut](t, h, h.a, "PATCH", fmt.Sprintf("/api/v1/queues/%d", q.ID), map[string]any{"strategy": "round_robin"}, 200)
	if q.Strategy != "round_robin" || q.AcceptTimeout != 45 || q.Name != "Pagos" {
		t.Fatalf("patched %+v", q)
	}
	if got := get[queueOut](t, h, h.a, "GET", fmt.Sprintf("/api/v1/queues/%d", q.ID), nil, 200); got.Strategy != q.Strategy || got.AcceptTimeout != q.AcceptTimeout || got.Name != q.Name {
		t.Fatalf("get %+v, want %+v", got, q)
	}
	qB := get[queueOut](t, h, h.b, "POST", "/api/v1/queues", map[string]any{"name": "Pagos"}, 201)
	h.fails(t, h.a, "GET", fmt.Sprintf("/api/v1/queues/%d", qB.ID), nil, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.a, "PATCH", fmt.Sprintf("/api/v1/queues/%d", qB.ID), map[string]any{"name": "Mine"}, 404, conversation.ENOTFOUND, "")
	if got := get[listOut[queueOut]](t, h, h.a, "GET", "/api/v1/queues", nil, 200); len(got.Data) != 2 {
		t.Fatalf("queues %+v", got)
	}
	stats := get[listOut[handoff.QueueStats]](t, h, h.a, "GET", "/api/v1/queues/stats", nil, 200)
	if len(stats.Data) != 2 {
		t.Fatalf("stats %s", h.call(t, h.a, "GET", "/api/v1/queues/stats", nil, 200).body)
	}

	rules := get[struct{ Rules []handoff.Rule }](t, h, h.a, "GET", "/api/v1/routing-rules", nil, 200)
	if len(rules.Rules) != 0 {
		t.Fatalf("rules %+v", rules)
	}
	put := map[string]any{"rules": []map[string]any{{"intent": "billing", "queue_id": q.ID}, {"attribute": "vip", "value": "true", "priority_boost": 10}}}
	rules = get[struct{ Rules []handoff.Rule }](t, h, h.a, "PUT", "/api/v1/routing-rules", put, 200)
	if len(rules.Rules) != 2 || rules.Rules[0].QueueID != q.ID || rules.Rules[1].PriorityBoost != 10 {
		t.Fatalf("rules %+v", rules)
	}
	h.fails(t, h.a, "PUT", "/api/v1/routing-rules", map[string]any{"rules": []map[string]any{{"intent": "x", "queue_id": qB.ID}}}, 400, conversation.EINVALID, "rules")
	h.fails(t, h.a, "PUT", "/api/v1/routing-rules", map[string]any{"rules": []map[string]any{{"channel": "pigeon", "queue_id": q.ID}}}, 400, conversation.EINVALID, "rules")
	h.fails(t, h.a, "PUT", "/api/v1/routing-rules", map[string]any{}, 400, conversation.EINVALID, "rules")
	if got := get[struct{ Rules []handoff.Rule }](t, h, h.b, "GET", "/api/v1/routing-rules", nil, 200); len(got.Rules) != 0 {
		t.Fatalf("b sees a's rules: %+v", got)
	}
	if got := get[struct{ Rules []handoff.Rule }](t, h, h.a, "GET", "/api/v1/routing-rules", nil, 200); len(got.Rules) != 2 {
		t.Fatalf("a refused put changed the rules: %+v", got)
	}
}

func TestHandoffAssignments(t *testing.T) {
	t.Parallel()
	h := newHandoffEnv(t)
	ctx := t.Context()
	q := get[queueOut](t, h, h.a, "POST", "/api/v1/queues", map[string]any{"name": "Pagos"}, 201)
	other := get[queueOut](t, h, h.a, "POST", "/api/v1/queues", map[string]any{"name": "Pedidos", "strategy": "manual"}, 201)
	ana := get[agentOut](t, h, h.a, "POST", "/api/v1/agents", map[string]any{"name": "Ana", "capacity": 2}, 201)
	luis := get[agentOut](t, h, h.a, "POST", "/api/v1/agents", map[string]any{"name": "Luis", "capacity": 2}, 201)
	sup := get[agentOut](t, h, h.a, "POST", "/api/v1/agents", map[string]any{"name": "Sara", "role": "supervisor"}, 201)
	bea := get[agentOut](t, h, h.b, "POST", "/api/v1/agents", map[string]any{"name": "Bea"}, 201)
	conv := h.ingest(t, h.a, "carla", "m1", "quiero hablar con una persona").Conversation.ID
	convB := h.ingest(t, h.b, "bruno", "b1", "hola").Conversation.ID
	path := func(id int64, rest string) string {
		return fmt.Sprintf("/api/v1/conversations/%d/assignment%s", id, rest)
	}

	h.fails(t, h.a, "GET", path(conv, ""), nil, 404, conversation.ENOTFOUND, "")
	e := get[handoff.Entry](t, h, h.a, "POST", path(conv, ""), map[string]any{"queue_id": q.ID, "reason": "pidió un asesor"}, 200)
	if e.State != handoff.EntryWaiting || e.QueueID != q.ID || e.Reason != "pidió un asesor" {
		t.Fatalf("enqueued %+v", e)
	}
	// Handed over already: left where it is.
	if again := get[handoff.Entry](t, h, h.a, "POST", path(conv, ""), map[string]any{"queue_id": other.ID}, 200); again.QueueID != q.ID {
		t.Fatalf("enqueued again %+v", again)
	}
	conv2 := h.ingest(t, h.a, "dario", "m2", "hola").Conversation.ID
	h.fails(t, h.a, "POST", path(conv2, ""), map[string]any{"queue_id": 999}, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.a, "POST", path(conv2, ""), map[string]any{"priority": 5000}, 400, conversation.EINVALID, "priority")

	// Ana becomes available and is offered the conversation.
	get[agentOut](t, h, h.a, "POST", fmt.Sprintf("/api/v1/agents/%d/status", ana.ID), map[string]any{"status": "available"}, 200)
	e = get[handoff.Entry](t, h, h.a, "GET", path(conv, ""), nil, 200)
	if e.State != handoff.EntryOffered || e.AgentID != ana.ID {
		t.Fatalf("after ana is available: %+v", e)
	}
	offer := e.Version
	if l := get[listOut[handoff.Entry]](t, h, h.a, "GET", fmt.Sprintf("/api/v1/assignments?agent_id=%d", ana.ID), nil, 200); len(l.Data) != 1 {
		t.Fatalf("ana's entries %+v", l)
	}
	// Luis may not take Ana's offer; nobody may take it as another tenant.
	h.fails(t, h.a, "POST", path(conv, "/accept"), map[string]any{"agent_id": luis.ID, "offer": offer}, 403, conversation.EFORBIDDEN, "")
	h.fails(t, h.b, "POST", path(conv, "/accept"), map[string]any{"agent_id": bea.ID, "offer": offer}, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.a, "POST", path(conv, "/accept"), map[string]any{"agent_id": bea.ID, "offer": offer}, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.a, "POST", path(conv, "/accept"), map[string]any{"agent_id": ana.ID}, 400, conversation.EINVALID, "offer")
	h.fails(t, h.a, "POST", path(conv, "/accept"), map[string]any{"offer": offer}, 400, conversation.EINVALID, "agent_id")

	// Ana goes away: the offer goes back to the queue, and accepting it
	// now is refused as stale.
	get[agentOut](t, h, h.a, "POST", fmt.Sprintf("/api/v1/agents/%d/status", ana.ID), map[string]any{"status": "away"}, 200)
	h.fails(t, h.a, "POST", path(conv, "/accept"), map[string]any{"agent_id": ana.ID, "offer": offer}, 409, conversation.ECONFLICT, "")
	get[agentOut](t, h, h.a, "POST", fmt.Sprintf("/api/v1/agents/%d/status", ana.ID), map[string]any{"status": "available"}, 200)
	e = get[handoff.Entry](t, h, h.a, "GET", path(conv, ""), nil, 200)
	if e.State != handoff.EntryOffered || e.Version <= offer {
		t.Fatalf("offered again: %+v", e)
	}
	e = get[handoff.Entry](t, h, h.a, "POST", path(conv, "/accept"), map[string]any{"agent_id": ana.ID, "offer": e.Version}, 200)
	if e.State != handoff.EntryAssigned || e.AgentID != ana.ID {
		t.Fatalf("accepted %+v", e)
	}
	if c, _ := h.store.Conversation(ctx, h.a.ID, conv); c.State != conversation.StateAgent || c.AssigneeID != ana.ID {
		t.Fatalf("the conversation after accepting: %+v", c)
	}

	// Luis may not transfer or close Ana's conversation; Ana may.
	h.fails(t, h.a, "POST", path(conv, "/transfer"), map[string]any{"agent_id": luis.ID, "to_queue_id": other.ID}, 403, conversation.EFORBIDDEN, "")
	h.fails(t, h.a, "POST", path(conv, "/close"), map[string]any{"agent_id": luis.ID}, 403, conversation.EFORBIDDEN, "")
	h.fails(t, h.a, "POST", path(conv, "/transfer"), map[string]any{"agent_id": ana.ID}, 400, conversation.EINVALID, "to")
	h.fails(t, h.a, "POST", path(conv, "/transfer"), map[string]any{"agent_id": ana.ID, "to_agent_id": bea.ID}, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.a, "POST", path(conv, "/transfer"), map[string]any{"agent_id": ana.ID, "to_queue_id": 99999}, 404, conversation.ENOTFOUND, "")
	e = get[handoff.Entry](t, h, h.a, "POST", path(conv, "/transfer"), map[string]any{"agent_id": ana.ID, "to_queue_id": other.ID, "note": "es de pedidos"}, 200)
	if e.State != handoff.EntryWaiting || e.QueueID != other.ID || e.Note != "es de pedidos" {
		t.Fatalf("transferred %+v", e)
	}
	// Luis picks it from the manual queue, the supervisor moves it to Ana.
	get[agentOut](t, h, h.a, "POST", fmt.Sprintf("/api/v1/agents/%d/status", luis.ID), map[string]any{"status": "available"}, 200)
	e = get[handoff.Entry](t, h, h.a, "POST", path(conv, "/pick"), map[string]any{"agent_id": luis.ID}, 200)
	if e.State != handoff.EntryAssigned || e.AgentID != luis.ID {
		t.Fatalf("picked %+v", e)
	}
	h.fails(t, h.a, "POST", path(conv, "/pick"), map[string]any{"agent_id": ana.ID}, 409, conversation.ECONFLICT, "")
	e = get[handoff.Entry](t, h, h.a, "POST", path(conv, "/transfer"), map[string]any{"agent_id": sup.ID, "to_agent_id": ana.ID, "note": "tú sabes"}, 200)
	if e.AgentID != ana.ID || e.State != handoff.EntryAssigned {
		t.Fatalf("reassigned %+v", e)
	}
	// Ana closes it, handing it back to the bot.
	h.fails(t, h.a, "POST", path(conv, "/close"), map[string]any{"agent_id": ana.ID, "disposition": strings.Repeat("x", 101)}, 400, conversation.EINVALID, "disposition")
	r := h.call(t, h.a, "POST", path(conv, "/close"), map[string]any{"agent_id": ana.ID, "disposition": "resolved", "return_to_bot": true}, 204)
	if len(r.body) != 0 {
		t.Fatalf("close answered %s", r.body)
	}
	if c, _ := h.store.Conversation(ctx, h.a.ID, conv); c.State != conversation.StateBot || c.AssigneeID != 0 {
		t.Fatalf("the conversation after closing: %+v", c)
	}
	h.fails(t, h.a, "GET", path(conv, ""), nil, 404, conversation.ENOTFOUND, "")
	if got := get[agentOut](t, h, h.a, "GET", fmt.Sprintf("/api/v1/agents/%d", ana.ID), nil, 200); got.Load != 0 {
		t.Fatalf("ana's load after closing: %+v", got)
	}

	// Another tenant's conversation is not found on every route.
	for _, rest := range []string{"", "/accept", "/pick", "/transfer", "/close"} {
		h.fails(t, h.a, "POST", path(convB, rest), map[string]any{"agent_id": ana.ID, "offer": 1, "to_queue_id": q.ID}, 404, conversation.ENOTFOUND, "")
	}
	h.fails(t, h.a, "GET", path(convB, ""), nil, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.a, "POST", path(conv, "/pick"), rawBody(`{"agent_id": "ana"}`), 400, conversation.EINVALID, "agent_id")
}

type noteOut struct {
	ID        int64  `json:"id"`
	AgentID   int64  `json:"agent_id"`
	AgentName string `json:"agent_name"`
	Body      string `json:"body"`
}

type cannedOut struct {
	ID    int64  `json:"id"`
	Code  string `json:"code"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

func TestHandoffNotesAndCanned(t *testing.T) {
	t.Parallel()
	h := newHandoffEnv(t)
	ana := get[agentOut](t, h, h.a, "POST", "/api/v1/agents", map[string]any{"name": "Ana Gómez"}, 201)
	bea := get[agentOut](t, h, h.b, "POST", "/api/v1/agents", map[string]any{"name": "Bea"}, 201)
	res := h.ingest(t, h.a, "carla", "m1", "hola")
	conv, contact := res.Conversation.ID, res.Message.ContactID
	if _, err := h.store.UpdateContact(t.Context(), h.a.ID, contact, conversation.ContactUpdate{Name: ptr("Carla\n<script>alert(1)</script>")}); err != nil {
		t.Fatal(err)
	}
	convB := h.ingest(t, h.b, "bruno", "b1", "hola").Conversation.ID
	notes := fmt.Sprintf("/api/v1/conversations/%d/notes", conv)

	n := get[noteOut](t, h, h.a, "POST", notes, map[string]any{"agent_id": ana.ID, "body": " <img src=x onerror=alert(1)> cliente molesto "}, 201)
	if n.AgentName != "Ana Gómez" || n.Body != "<img src=x onerror=alert(1)> cliente molesto" {
		t.Fatalf("note %+v", n)
	}
	h.fails(t, h.a, "POST", notes, map[string]any{"agent_id": ana.ID, "body": "  "}, 400, conversation.EINVALID, "body")
	h.fails(t, h.a, "POST", notes, map[string]any{"agent_id": ana.ID, "body": strings.Repeat("x", handoff.MaxNoteBody+1)}, 400, conversation.EINVALID, "body")
	h.fails(t, h.a, "POST", notes, map[string]any{"body": "x"}, 400, conversation.EINVALID, "agent_id")
	h.fails(t, h.a, "POST", notes, map[string]any{"agent_id": bea.ID, "body": "x"}, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.b, "POST", notes, map[string]any{"agent_id": bea.ID, "body": "x"}, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.b, "GET", notes, nil, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.a, "GET", fmt.Sprintf("/api/v1/conversations/%d/notes", convB), nil, 404, conversation.ENOTFOUND, "")
	if got := get[listOut[noteOut]](t, h, h.a, "GET", notes, nil, 200); len(got.Data) != 1 || got.Data[0] != n {
		t.Fatalf("notes %+v", got)
	}
	// Notes are never messages: the customer's conversation has one.
	if ms, _ := h.store.ListMessages(t.Context(), h.a.ID, conversation.MessageFilter{ConversationID: conv}); len(ms) != 1 {
		t.Fatalf("the conversation has %d messages", len(ms))
	}

	c := get[cannedOut](t, h, h.a, "POST", "/api/v1/canned-responses", map[string]any{"code": "saldo", "title": "Saldo",
		"body": "Hola {{contact.first_name}}, soy {{agent.first_name}}. Caso {{conversation.id}}."}, 201)
	if c.Code != "/saldo" {
		t.Fatalf("canned %+v", c)
	}
	get[cannedOut](t, h, h.a, "POST", "/api/v1/canned-responses", map[string]any{"code": "/saludo", "title": "Saludo", "body": "Hola"}, 201)
	get[cannedOut](t, h, h.a, "POST", "/api/v1/canned-responses", map[string]any{"code": "/envio", "title": "Envío", "body": "En camino"}, 201)
	cB := get[cannedOut](t, h, h.b, "POST", "/api/v1/canned-responses", map[string]any{"code": "/saldo", "title": "B", "body": "B"}, 201)
	h.fails(t, h.a, "POST", "/api/v1/canned-responses", map[string]any{"code": "/saldo", "title": "x", "body": "x"}, 409, conversation.ECONFLICT, "")
	h.fails(t, h.a, "POST", "/api/v1/canned-responses", map[string]any{"code": "/x", "title": "x", "body": "{{contact.phone}}"}, 400, conversation.EINVALID, "body")
	h.fails(t, h.a, "POST", "/api/v1/canned-responses", map[string]any{"code": "/a b", "title": "x", "body": "x"}, 400, conversation.EINVALID, "code")
	list := func(q string) []string {
		got := get[listOut[cannedOut]](t, h, h.a, "GET", "/api/v1/canned-responses"+q, nil, 200)
		var codes []string
		for _, c := range got.Data {
			codes = append(codes, c.Code)
		}
		return codes
	}
	if got := strings.Join(list("?prefix="+url.QueryEscape("/sal")), " "); got != "/saldo /saludo" {
		t.Fatalf("prefix /sal: %s", got)
	}
	if got := strings.Join(list("?limit=1"), " "); got != "/envio" {
		t.Fatalf("limit 1: %s", got)
	}
	h.fails(t, h.a, "GET", "/api/v1/canned-responses?limit=-1", nil, 400, conversation.EINVALID, "limit")

	rendered := get[struct{ Text string }](t, h, h.a, "POST", fmt.Sprintf("/api/v1/canned-responses/%d/render", c.ID),
		map[string]any{"conversation_id": conv, "agent_id": ana.ID}, 200)
	if want := fmt.Sprintf("Hola Carla, soy Ana. Caso %d.", conv); rendered.Text != want {
		t.Fatalf("rendered %q, want %q", rendered.Text, want)
	}
	get[cannedOut](t, h, h.a, "PUT", fmt.Sprintf("/api/v1/canned-responses/%d", c.ID), map[string]any{"code": "/saldo", "title": "Saldo", "body": "Hola {{contact.name}}"}, 200)
	rendered = get[struct{ Text string }](t, h, h.a, "POST", fmt.Sprintf("/api/v1/canned-responses/%d/render", c.ID),
		map[string]any{"conversation_id": conv, "target": "html"}, 200)
	if rendered.Text != "Hola Carla &lt;script&gt;alert(1)&lt;/script&gt;" {
		t.Fatalf("rendered for html %q", rendered.Text)
	}
	h.fails(t, h.a, "POST", fmt.Sprintf("/api/v1/canned-responses/%d/render", c.ID), map[string]any{"target": "pdf"}, 400, conversation.EINVALID, "target")
	h.fails(t, h.a, "POST", fmt.Sprintf("/api/v1/canned-responses/%d/render", c.ID), map[string]any{"conversation_id": convB}, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.a, "POST", fmt.Sprintf("/api/v1/canned-responses/%d/render", c.ID), map[string]any{"agent_id": bea.ID}, 404, conversation.ENOTFOUND, "")
	for _, m := range []struct {
		method string
		body   any
		rest   string
	}{
		{"GET", nil, ""},
		{"PUT", map[string]any{"code": "/x", "title": "x", "body": "x"}, ""},
		{"DELETE", nil, ""},
		{"POST", map[string]any{}, "/render"},
	} {
		h.fails(t, h.a, m.method, fmt.Sprintf("/api/v1/canned-responses/%d%s", cB.ID, m.rest), m.body, 404, conversation.ENOTFOUND, "")
	}
	h.call(t, h.a, "DELETE", fmt.Sprintf("/api/v1/canned-responses/%d", c.ID), nil, 204)
	h.fails(t, h.a, "GET", fmt.Sprintf("/api/v1/canned-responses/%d", c.ID), nil, 404, conversation.ENOTFOUND, "")
	if got := get[cannedOut](t, h, h.b, "GET", fmt.Sprintf("/api/v1/canned-responses/%d", cB.ID), nil, 200); got.Title != "B" {
		t.Fatalf("b's canned response %+v", got)
	}
}

func ptr[T any](v T) *T { return &v }

type viewOut struct {
	Contact struct {
		ID         int64                   `json:"id"`
		Identities []conversation.Identity `json:"identities"`
	} `json:"contact"`
	Conversations []struct {
		ID       int64 `json:"id"`
		Messages int   `json:"messages"`
	} `json:"conversations"`
	Messages page[struct {
		ID int64 `json:"id"`
	}] `json:"messages"`
	Cases []any     `json:"cases"`
	Notes []noteOut `json:"notes"`
}

func TestHandoffContactView(t *testing.T) {
	t.Parallel()
	h := newHandoffEnv(t)
	ctx := t.Context()
	ana := get[agentOut](t, h, h.a, "POST", "/api/v1/agents", map[string]any{"name": "Ana"}, 201)
	var contact int64
	var convs []int64
	for c := range 3 {
		var conv int64
		for m := range 5 {
			res := h.ingest(t, h.a, "carla", fmt.Sprintf("m-%d-%d", c, m), fmt.Sprintf("mensaje %d", m))
			contact, conv = res.Message.ContactID, res.Conversation.ID
		}
		convs = append(convs, conv)
		if c < 2 {
			if _, err := h.svc.Close(ctx, h.a.ID, conv); err != nil {
				t.Fatal(err)
			}
		}
	}
	get[noteOut](t, h, h.a, "POST", fmt.Sprintf("/api/v1/conversations/%d/notes", convs[0]), map[string]any{"agent_id": ana.ID, "body": "VIP"}, 201)
	other := h.ingest(t, h.b, "bruno", "b1", "hola").Message.ContactID

	v := get[viewOut](t, h, h.a, "GET", fmt.Sprintf("/api/v1/contacts/%d/view?messages=4", contact), nil, 200)
	if v.Contact.ID != contact || len(v.Contact.Identities) != 1 || len(v.Conversations) != 3 || v.Conversations[0].ID != convs[2] ||
		v.Conversations[2].Messages != 5 || len(v.Notes) != 1 || len(v.Cases) != 0 || len(v.Messages.Data) != 4 || v.Messages.NextCursor == "" {
		t.Fatalf("view %+v", v)
	}
	// Paging back through the rest: 11 older messages, 4 then 4 then 3.
	seen := []int64{}
	for _, m := range v.Messages.Data {
		seen = append(seen, m.ID)
	}
	cursor := v.Messages.NextCursor
	for cursor != "" {
		p := get[page[struct {
			ID int64 `json:"id"`
		}]](t, h, h.a, "GET", fmt.Sprintf("/api/v1/contacts/%d/messages?limit=4&cursor=%s", contact, url.QueryEscape(cursor)), nil, 200)
		for i := len(p.Data) - 1; i >= 0; i-- {
			if p.Data[i].ID >= seen[0] {
				t.Fatalf("page %+v is not older than %d", p.Data, seen[0])
			}
			seen = append([]int64{p.Data[i].ID}, seen...)
		}
		cursor = p.NextCursor
		if len(seen) > 20 {
			t.Fatal("the pages do not end")
		}
	}
	if len(seen) != 15 {
		t.Fatalf("paged through %d messages, want 15", len(seen))
	}
	h.fails(t, h.a, "GET", fmt.Sprintf("/api/v1/contacts/%d/view?messages=201", contact), nil, 400, conversation.EINVALID, "messages")
	h.fails(t, h.a, "GET", fmt.Sprintf("/api/v1/contacts/%d/messages?cursor=zz", contact), nil, 400, conversation.EINVALID, "cursor")
	h.fails(t, h.a, "GET", fmt.Sprintf("/api/v1/contacts/%d/view", other), nil, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.a, "GET", fmt.Sprintf("/api/v1/contacts/%d/messages", other), nil, 404, conversation.ENOTFOUND, "")
	h.fails(t, h.b, "GET", fmt.Sprintf("/api/v1/contacts/%d/view", contact), nil, 404, conversation.ENOTFOUND, "")
}

// TestHandoffUnavailable checks that a server without routing answers 503
// on the handoff routes, as described.
func TestHandoffUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	_, spec := loadSpec(t, e)
	for _, p := range []string{"/api/v1/agents", "/api/v1/canned-responses", "/api/v1/contacts/1/view", "/api/v1/conversations/1/notes"} {
		r := e.do(t, "GET", p, tn.key, nil)
		wantError(t, r, 503, conversation.EUNAVAILABLE, "")
		req, _ := http.NewRequest("GET", e.srv.URL+p, nil)
		validateResponse(t, spec, req, r.status, r.header, r.body, false)
	}
}

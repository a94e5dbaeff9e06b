package console_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"conversa/adapters/console"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/reports"
)

// dashView is /console/dashboard.json as a test reads it.
type dashView struct {
	Scoped   bool `json:"scoped"`
	Channels []struct {
		Channel string `json:"channel"`
		Waiting int64  `json:"waiting"`
		Active  int64  `json:"active"`
		WithBot int64  `json:"with_bot"`
	} `json:"channels"`
	Total struct {
		Waiting int64 `json:"waiting"`
		Active  int64 `json:"active"`
		WithBot int64 `json:"with_bot"`
	} `json:"total"`
	Agents []struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
		Load   int    `json:"load"`
	} `json:"agents"`
	Today []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"today"`
}

func (b *browser) dashboard(t *testing.T) dashView {
	t.Helper()
	resp, body := b.get(t, "/console/dashboard.json")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("dashboard.json: %d %s", resp.StatusCode, body)
	}
	var v dashView
	must(t, json.Unmarshal([]byte(body), &v))
	return v
}

func (v dashView) agentNames() []string {
	var out []string
	for _, a := range v.Agents {
		out = append(out, a.Name)
	}
	return out
}

func (v dashView) today(key string) string {
	for _, f := range v.Today {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// teamsEnv is a tenant with two teams, a queue each, and people of every
// role: an admin, a supervisor of ventas, a supervisor of no team, an
// agent of each team; and a conversation waiting in each queue, one with
// the bot, and one with another tenant.
type teamsEnv struct {
	*env
	ventas, soporte      handoff.Team
	qVentas, qSoporte    handoff.Queue
	admin, sup, lost, ag handoff.Agent
	agentB               handoff.Agent
	rivalTeam            handoff.Team // the other tenant's
}

func newTeamsEnv(t *testing.T) *teamsEnv {
	t.Helper()
	e := &teamsEnv{env: newEnv(t, console.Config{})}
	ctx := t.Context()
	var err error
	e.ventas, err = e.router.CreateTeam(ctx, handoff.Team{TenantID: e.tenant.ID, Name: "ventas"})
	must(t, err)
	e.soporte, err = e.router.CreateTeam(ctx, handoff.Team{TenantID: e.tenant.ID, Name: "soporte"})
	must(t, err)
	e.qVentas, err = e.router.CreateQueue(ctx, handoff.Queue{TenantID: e.tenant.ID, Name: "Ventas", Strategy: handoff.StrategyManual, TeamID: e.ventas.ID})
	must(t, err)
	e.qSoporte, err = e.router.CreateQueue(ctx, handoff.Queue{TenantID: e.tenant.ID, Name: "Soporte", Strategy: handoff.StrategyManual, TeamID: e.soporte.ID})
	must(t, err)
	e.admin = e.env.agent(t, e.tenant, "Alba Admin", handoff.RoleAdmin)
	e.sup = e.member(t, e.env.agent(t, e.tenant, "Sara Super", handoff.RoleSupervisor), e.ventas.ID)
	e.lost = e.env.agent(t, e.tenant, "Lola Lost", handoff.RoleSupervisor)
	e.env.agent(t, e.tenant, "Vera Ventas", handoff.RoleAgent)
	e.ag = e.member(t, e.env.agent(t, e.tenant, "Vico Ventas", handoff.RoleAgent), e.ventas.ID)
	e.agentB = e.member(t, e.env.agent(t, e.tenant, "Sol Soporte", handoff.RoleAgent), e.soporte.ID)
	for _, a := range []handoff.Agent{e.ag, e.agentB} {
		_, err := e.router.SetStatus(ctx, e.tenant.ID, a.ID, handoff.StatusAvailable)
		must(t, err)
	}
	for q, name := range map[int64]string{e.qVentas.ID: "Carla", e.qSoporte.ID: "Diego"} {
		c := e.conversation(t, e.tenant, name, "quiero hablar con alguien")
		_, err := e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{QueueID: q, Reason: "asked_for_agent"})
		must(t, err)
	}
	e.conversation(t, e.tenant, "Beto Bot", "hola")
	// Another tenant, with a team and queue of the same names and a
	// waiting conversation and an available agent.
	e.rivalTeam, err = e.router.CreateTeam(ctx, handoff.Team{TenantID: e.other.ID, Name: "ventas"})
	must(t, err)
	rq, err := e.router.CreateQueue(ctx, handoff.Queue{TenantID: e.other.ID, Name: "Ventas", Strategy: handoff.StrategyManual, TeamID: e.rivalTeam.ID})
	must(t, err)
	ra := e.member(t, e.env.agent(t, e.other, "Rita Rival", handoff.RoleAgent), e.rivalTeam.ID)
	_, err = e.router.SetStatus(ctx, e.other.ID, ra.ID, handoff.StatusAvailable)
	must(t, err)
	rc := e.conversation(t, e.other, "Rafa", "hola")
	_, err = e.router.Enqueue(ctx, e.other.ID, rc.ID, handoff.QueueRequest{QueueID: rq.ID})
	must(t, err)
	return e
}

// member puts the agent in the team.
func (e *teamsEnv) member(t *testing.T, a handoff.Agent, team int64) handoff.Agent {
	t.Helper()
	a.Teams = []int64{team}
	a, err := e.router.UpdateAgent(t.Context(), a)
	must(t, err)
	return a
}

// TestDashboardRoles: an admin sees the whole tenant, a supervisor only
// their teams' queues and agents, a supervisor of no team and an agent
// get 403; nobody sees another tenant's.
func TestDashboardRoles(t *testing.T) {
	e := newTeamsEnv(t)

	admin := e.session(t, e.admin).dashboard(t)
	if admin.Scoped || len(admin.Channels) != 1 || admin.Channels[0].Channel != string(conversation.ChannelAPI) ||
		admin.Total.Waiting != 2 || admin.Total.WithBot != 1 || admin.Total.Active != 0 {
		t.Errorf("admin's view: %+v", admin)
	}
	if got := admin.agentNames(); !slices.Equal(got, []string{"Sol Soporte", "Vico Ventas"}) {
		t.Errorf("admin sees agents %q, want the two online", got)
	}
	if admin.today("conversations") == "" || admin.today("containment_rate") == "" {
		t.Errorf("admin's today lacks the tenant-wide figures: %+v", admin.Today)
	}

	sup := e.session(t, e.sup).dashboard(t)
	if !sup.Scoped || sup.Total.Waiting != 1 || sup.Total.WithBot != 0 {
		t.Errorf("supervisor's view: %+v", sup)
	}
	if got := sup.agentNames(); !slices.Equal(got, []string{"Vico Ventas"}) {
		t.Errorf("supervisor sees agents %q, want their team's", got)
	}
	if sup.today("conversations") != "" || sup.today("handoffs") == "" {
		t.Errorf("supervisor's today: %+v", sup.Today)
	}

	b := e.session(t, e.ag)
	for _, p := range []string{"/console/dashboard", "/console/dashboard.json", "/console/reports", "/console/reports.csv"} {
		if resp, _ := b.get(t, p); resp.StatusCode != http.StatusForbidden {
			t.Errorf("agent GET %s: %d, want 403", p, resp.StatusCode)
		}
	}
	// A supervisor of no team sees nothing, and is told why.
	lost := e.session(t, e.lost)
	if v := lost.dashboard(t); !v.Scoped || len(v.Channels) != 0 || len(v.Agents) != 0 || v.Total.Waiting != 0 || v.today("handoffs") != "0" {
		t.Errorf("the view of a supervisor of no team: %+v", v)
	}
	for _, p := range []string{"/console/dashboard", "/console/reports"} {
		if resp, page := lost.get(t, p); resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="no-team"`) || strings.Contains(page, "asked_for_agent") || strings.Contains(page, "Vico") {
			t.Errorf("GET %s of a supervisor of no team: %d\n%s", p, resp.StatusCode, page)
		}
	}
	if _, body := lost.get(t, "/console/reports.csv"); strings.Contains(body, "asked_for_agent") || !strings.Contains(body, "handoffs,0") {
		t.Errorf("the CSV of a supervisor of no team:\n%s", body)
	}

	// The page itself, with the navigation's links.
	resp, page := e.session(t, e.sup).get(t, "/console/dashboard")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="dash-channels"`) || !strings.Contains(page, "Vico Ventas") ||
		strings.Contains(page, "Sol Soporte") || !strings.Contains(page, `href="/console/dashboard"`) || strings.Contains(page, "<svg") {
		t.Errorf("supervisor's dashboard page: %d\n%s", resp.StatusCode, page)
	}
	if resp, page := e.session(t, e.admin).get(t, "/console/dashboard"); resp.StatusCode != http.StatusOK || !strings.Contains(page, "Sol Soporte") || !strings.Contains(page, `<svg xmlns="http://www.w3.org/2000/svg" class="chart"`) {
		t.Errorf("admin's dashboard page: %d\n%s", resp.StatusCode, page)
	}
	if _, inbox := e.session(t, e.ag).get(t, "/console/"); strings.Contains(inbox, `href="/console/dashboard"`) {
		t.Error("an agent's navigation links the dashboard")
	}
}

// dashboardSocket opens a's console socket and asks for the dashboard's
// changes.
func (e *teamsEnv) dashboardSocket(t *testing.T, a handoff.Agent) (*browser, *websocket.Conn) {
	t.Helper()
	b := e.session(t, a)
	ws, _, err := dial(t, b, e.srv.URL, b.csrf)
	must(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	next(t, ws, "hello")
	send(t, ws, map[string]any{"type": "dashboard"})
	return b, ws
}

// TestDashboardLive: the dashboard's socket says when a conversation
// opens and when it is queued, and the JSON it reads then shows it; a
// supervisor of another tenant hears nothing of it; an agent may not ask.
func TestDashboardLive(t *testing.T) {
	e := newTeamsEnv(t)
	ctx := t.Context()
	b, ws := e.dashboardSocket(t, e.sup)
	rivalSup := e.member(t, e.env.agent(t, e.other, "Ramona Rival", handoff.RoleSupervisor), e.rivalTeam.ID)
	_, rws := e.dashboardSocket(t, rivalSup)
	before := b.dashboard(t)

	c := e.conversation(t, e.tenant, "Nora Nueva", "necesito ayuda")
	next(t, ws, "dashboard") // a conversation opened with the bot
	_, err := e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{QueueID: e.qVentas.ID, Reason: "asked_for_agent"})
	must(t, err)
	next(t, ws, "routing")
	after := b.dashboard(t)
	if after.Total.Waiting != before.Total.Waiting+1 {
		t.Fatalf("waiting %d after a conversation was queued, was %d", after.Total.Waiting, before.Total.Waiting)
	}
	// The other tenant's supervisor: a ping answered, and nothing before
	// it but what they asked for (the dashboard frames come at most once
	// a second, so wait past one).
	time.Sleep(1500 * time.Millisecond)
	send(t, rws, map[string]any{"type": "ping"})
	for {
		ctx, cancel := context5s(t)
		_, data, err := rws.Read(ctx)
		cancel()
		must(t, err)
		var f frame
		must(t, json.Unmarshal(data, &f))
		if f.Type == "pong" {
			break
		}
		t.Fatalf("another tenant's supervisor got %s", data)
	}

	// An agent may not follow the dashboard.
	ab := e.session(t, e.ag)
	aws, _, err := dial(t, ab, e.srv.URL, ab.csrf)
	must(t, err)
	defer aws.CloseNow()
	next(t, aws, "hello")
	send(t, aws, map[string]any{"type": "dashboard"})
	if f := next(t, aws, "error"); f.Code != conversation.EFORBIDDEN {
		t.Fatalf("an agent's dashboard frame: %+v", f)
	}
}

// TestReportPages: the report page and CSV for the default period and a
// chosen one; bad periods get 400 with a message; a supervisor's report
// leaves out the tenant-wide sections.
func TestReportPages(t *testing.T) {
	e := newTeamsEnv(t)
	p := reports.NewPipeline(e.store, reports.PipelineConfig{})
	if _, err := p.Rollup(t.Context()); err != nil {
		t.Fatal(err)
	}
	admin := e.session(t, e.admin)
	resp, page := admin.get(t, "/console/reports")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("report page: %d\n%s", resp.StatusCode, page)
	}
	for _, id := range []string{"rep-summary", "rep-bot", "rep-handoffs", "rep-timings", "rep-cases", "rep-surveys", "rep-failures", `id="csv"`, "data-print", "<svg"} {
		if !strings.Contains(page, id) {
			t.Errorf("the admin's report has no %s", id)
		}
	}
	if !strings.Contains(page, "asked_for_agent") {
		t.Error("the handoff reason of the conversations queued is not in the report")
	}

	_, sup := e.session(t, e.sup).get(t, "/console/reports?from=2026-01-01&to=2026-01-31")
	if strings.Contains(sup, "rep-summary") || strings.Contains(sup, "rep-surveys") || !strings.Contains(sup, "rep-handoffs") || !strings.Contains(sup, "2026-01-01 – 2026-01-31") {
		t.Errorf("the supervisor's report:\n%s", sup)
	}

	for q, want := range map[string]string{
		"from=2026-02-01&to=2026-01-01": "to must not be before from",
		"from=2024-01-01&to=2025-06-01": "at most 366 days",
		"from=yesterday":                "from must be a day",
		"from=2026-01-01&to=2026-02-30": "to must be a day",
	} {
		for _, path := range []string{"/console/reports?", "/console/reports.csv?"} {
			resp, body := admin.get(t, path+q)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, want) {
				t.Errorf("GET %s%s: %d, want 400 saying %q\n%s", path, q, resp.StatusCode, want, body)
			}
		}
	}

	resp, body := admin.get(t, "/console/reports.csv")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %v", resp.StatusCode, resp.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	must(t, err)
	if !slices.Equal(rows[0], reports.CSVHeader) {
		t.Fatalf("CSV header %q", rows[0])
	}
	found := false
	for _, r := range rows {
		found = found || (r[0] == "handoff_reason" && r[2] == "asked_for_agent" && r[5] == "2")
	}
	if !found {
		t.Errorf("the CSV has no row of the two handoffs asked for:\n%s", body)
	}
	// Acme's three conversations, not the other tenant's fourth.
	if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, []string{"summary", "", "", "", "conversations", "3"}) }) {
		t.Errorf("the CSV does not count acme's three conversations only:\n%s", body)
	}
}

package api_test

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/reports"
)

// reportsEnv is an API with two tenants, acme with two webchat
// conversations and other with one, opened on 2026-01-10 at 15:00 UTC and
// rolled up into the report aggregates.
func reportsEnv(t *testing.T) (e *env, tn, other tenant) {
	t.Helper()
	e = newEnv(t, envOptions{})
	tn, other = e.newTenant(t, "acme", ""), e.newTenant(t, "other", "")
	ctx := t.Context()
	at := time.Date(2026, 1, 10, 15, 0, 0, 0, time.UTC)
	for i, who := range []tenant{tn, tn, other} {
		res, err := e.store.Ingest(ctx, []conversation.IngestRequest{{TenantID: who.ID, AccountID: who.webchat.ID, Inbound: conversation.Inbound{
			Channel: conversation.ChannelWebchat, Account: who.webchat.Key, From: "visitor-" + string(rune('a'+i)), ProviderID: "p" + string(rune('a'+i)),
			Parts: []conversation.Part{{Type: conversation.PartText, Text: "hola"}}, ReceivedAt: at}}})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res[0].Err)
		}
	}
	if _, err := e.store.Rollup(ctx, reports.RollupOptions{Batch: 100, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return e, tn, other
}

// TestLiveAndCSVRoutes: GET /reports/live shows the key's tenant's open
// conversations and agents online, never another tenant's; GET
// /reports.csv is the report as CSV; bad queries get 400.
func TestLiveAndCSVRoutes(t *testing.T) {
	t.Parallel()
	e, tn, other := reportsEnv(t)
	ctx := t.Context()
	for _, who := range []tenant{tn, other} {
		a, err := e.store.CreateAgent(ctx, handoff.Agent{TenantID: who.ID, Name: "Ana " + who.Slug, Email: "ana@" + who.Slug + ".example", Capacity: 2, Role: handoff.RoleAgent})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.store.SetAgentStatus(ctx, who.ID, a.ID, handoff.StatusAvailable, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	otherTeam, err := e.store.CreateTeam(ctx, handoff.Team{TenantID: other.ID, Name: "ventas"})
	if err != nil {
		t.Fatal(err)
	}

	live := decode[reports.Live](t, e.do(t, "GET", "/api/v1/reports/live", tn.key, nil), http.StatusOK)
	if !slices.Equal(live.WithBot, []reports.Count{{Key: "webchat", Count: 2}}) || len(live.Waiting) != 0 || len(live.Active) != 0 {
		t.Errorf("live conversations %+v", live)
	}
	if len(live.Agents) != 1 || live.Agents[0].Name != "Ana acme" || live.Agents[0].Capacity != 2 || live.Today.TenantID != tn.ID {
		t.Errorf("live agents %+v, today of %d", live.Agents, live.Today.TenantID)
	}
	wantError(t, e.do(t, "GET", "/api/v1/reports/live?teams="+strconv.FormatInt(otherTeam.ID, 10), tn.key, nil), http.StatusBadRequest, conversation.EINVALID, "teams")
	wantError(t, e.do(t, "GET", "/api/v1/reports/live?zone=Mars/Olympus", tn.key, nil), http.StatusBadRequest, conversation.EINVALID, "zone")
	if r := e.do(t, "GET", "/api/v1/reports/live", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("live without a key: %d", r.status)
	}

	r := e.do(t, "GET", "/api/v1/reports.csv?from=2026-01-01&to=2026-01-31&zone=America/Bogota", tn.key, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %v %s", r.status, r.header, r.body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows[0], reports.CSVHeader) {
		t.Errorf("header %q", rows[0])
	}
	for _, want := range [][]string{
		{"report", "", "", "", "tenant_id", strconv.FormatInt(tn.ID, 10)},
		{"report", "", "", "", "zone", "America/Bogota"},
		{"summary", "", "", "", "conversations", "2"},
		{"channel", "", "webchat", "", "messages_in", "2"},
		{"hour", "", "10", "", "conversations", "2"},
	} {
		if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, want) }) {
			t.Errorf("no row %q in\n%s", want, r.body)
		}
	}
	for query, field := range map[string]string{
		"?from=2026-02-01&to=2026-01-01": "to",
		"?from=2020-01-01&to=2026-01-01": "from",
		"?from=someday":                  "from",
	} {
		wantError(t, e.do(t, "GET", "/api/v1/reports.csv"+query, tn.key, nil), http.StatusBadRequest, conversation.EINVALID, field)
	}
}

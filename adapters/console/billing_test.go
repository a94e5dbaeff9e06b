package console_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"conversa/adapters/console"
	"conversa/billing"
	"conversa/handoff"
)

// TestBillingPage: an admin sees the tenant's own statements, in detail
// and as CSV; agents and supervisors are refused; another tenant's
// figures never show.
func TestBillingPage(t *testing.T) {
	e := newEnv(t, console.Config{})
	ctx := t.Context()
	plan, err := e.billing.CreatePlan(ctx, billing.Plan{Name: "Plan <b>Oro</b>", Currency: "COP", MonthlyFee: 3_100_000, DefaultPrice: 1234})
	must(t, err)
	_, err = e.billing.Subscribe(ctx, billing.Subscription{TenantID: e.tenant.ID, PlanID: plan.ID, Range: billing.Range{ValidFrom: "2026-10-01"}})
	must(t, err)
	rival, err := e.billing.CreatePlan(ctx, billing.Plan{Name: "Rival", Currency: "USD", MonthlyFee: 987_654, DefaultPrice: 1})
	must(t, err)
	_, err = e.billing.Subscribe(ctx, billing.Subscription{TenantID: e.other.ID, PlanID: rival.ID, Range: billing.Range{ValidFrom: "2026-10-01"}})
	must(t, err)
	filed := time.Date(2026, 10, 9, 15, 0, 0, 0, time.UTC)
	must(t, e.store.CreateCase(ctx, &handoff.Case{TenantID: e.tenant.ID, Type: handoff.Queja, Status: handoff.Radicado, ContactID: 1, Channel: "sms",
		TermDays: 15, Due: filed.AddDate(0, 0, 21), FiledAt: filed}, "PQR", handoff.CaseEvent{Kind: "filed", Actor: "bot", To: handoff.Radicado}))

	admin := e.session(t, e.agent(t, e.tenant, "Alba Admin", handoff.RoleAdmin))
	resp, body := admin.get(t, "/console/billing?month=2026-10")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("billing page: %d %s", resp.StatusCode, body)
	}
	// Fee 31,000.00 + one PQR on sms at 12.34.
	for _, want := range []string{"31000.00", "12.34", "31012.34", "Plan &lt;b&gt;Oro&lt;/b&gt;", "2026-11"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<b>Oro</b>") || strings.Contains(body, "9876.54") || strings.Contains(body, "USD") {
		t.Error("the page shows unescaped text or another tenant's figures")
	}
	resp, body = admin.get(t, "/console/billing/export?month=2026-10")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.Contains(body, ",total,,total,,,,,31012.34") {
		t.Fatalf("CSV: %d %s", resp.StatusCode, body)
	}
	if resp, _ = admin.get(t, "/console/billing?month=2026-13"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad month: %d", resp.StatusCode)
	}
	for _, role := range []handoff.Role{handoff.RoleAgent, handoff.RoleSupervisor} {
		b := e.session(t, e.agent(t, e.tenant, string(role)+" X", role))
		if resp, _ := b.get(t, "/console/billing"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s on the billing page: %d, want 403", role, resp.StatusCode)
		}
		if resp, _ := b.get(t, "/console/billing/export?month=2026-10"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s on the export: %d, want 403", role, resp.StatusCode)
		}
	}
}

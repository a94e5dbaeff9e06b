package api_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"conversa/adapters/api"
	"conversa/billing"
	"conversa/conversation"
	"conversa/handoff"
)

// newBillingEnv returns an API with the billing service on a clock of
// November 5, 2026 in Bogotá, and the operator token.
func newBillingEnv(t *testing.T) (*env, string) {
	t.Helper()
	token, _ := api.NewOperatorToken()
	sum := sha256.Sum256([]byte(token))
	clock := time.Date(2026, 11, 5, 12, 0, 0, 0, time.FixedZone("COT", -5*3600))
	e := newEnv(t, envOptions{cfg: api.Config{OperatorTokenHash: sum[:]}, billing: true, now: func() time.Time { return clock }})
	return e, token
}

func (e *env) fileCase(t *testing.T, tenantID int64, channel string, at time.Time) {
	t.Helper()
	c := &handoff.Case{TenantID: tenantID, Type: handoff.Queja, Status: handoff.Radicado, ContactID: 1, Channel: channel,
		Description: "contenido privado del caso", TermDays: 15, Due: at.AddDate(0, 0, 21), FiledAt: at}
	if err := e.store.CreateCase(t.Context(), c, "PQR", handoff.CaseEvent{Kind: "filed", Actor: "bot", To: handoff.Radicado}); err != nil {
		t.Fatal(err)
	}
}

// TestBilling walks the operator's and the tenants' billing routes: terms
// with bad input refused (400, nothing stored), statements a tenant reads
// only of its own, CSV, closing.
func TestBilling(t *testing.T) {
	t.Parallel()
	e, op := newBillingEnv(t)
	a, b := e.newTenant(t, "acme", ""), e.newTenant(t, "bravo", "")
	cot := time.FixedZone("COT", -5*3600)

	plan := decode[billing.Plan](t, e.do(t, "POST", "/api/v1/operator/plans", op, map[string]any{
		"name": "Básico", "currency": "COP", "monthly_fee": 3_100_000, "default_price": 1000, "prices": map[string]int64{"whatsapp": 2000}}), http.StatusCreated)
	if plan.ID == 0 || plan.Prices[conversation.ChannelWhatsApp] != 2000 {
		t.Fatalf("plan %+v", plan)
	}
	for _, c := range []struct {
		name  string
		body  any
		field string
	}{
		{"negative fee", map[string]any{"name": "x", "currency": "COP", "monthly_fee": -1}, "monthly_fee"},
		{"negative price", map[string]any{"name": "x", "currency": "COP", "prices": map[string]int64{"sms": -5}}, "prices.sms"},
		{"unknown currency", map[string]any{"name": "x", "currency": "XXX"}, "currency"},
		{"lowercase currency", map[string]any{"name": "x", "currency": "cop"}, "currency"},
		{"float money", rawBody(`{"name":"x","currency":"COP","monthly_fee":12.5}`), "monthly_fee"},
		{"unknown channel", map[string]any{"name": "x", "currency": "COP", "prices": map[string]int64{"fax": 5}}, "prices"},
		{"no name", map[string]any{"currency": "COP"}, "name"},
		{"unknown field", map[string]any{"name": "x", "currency": "COP", "fee": 5}, "fee"},
	} {
		wantError(t, e.do(t, "POST", "/api/v1/operator/plans", op, c.body), http.StatusBadRequest, "invalid", c.field)
	}
	if plans := decode[struct{ Plans []billing.Plan }](t, e.do(t, "GET", "/api/v1/operator/plans", op, nil), http.StatusOK); len(plans.Plans) != 1 {
		t.Fatalf("plans after bad input: %+v", plans)
	}
	usd := decode[billing.Plan](t, e.do(t, "POST", "/api/v1/operator/plans", op, map[string]any{"name": "Dollar", "currency": "USD", "monthly_fee": 100}), http.StatusCreated)

	subs := func(tn tenant) string { return "/api/v1/operator/tenants/" + itoa(tn.ID) + "/subscriptions" }
	rates := func(tn tenant) string { return "/api/v1/operator/tenants/" + itoa(tn.ID) + "/rates" }
	decode[billing.Subscription](t, e.do(t, "POST", subs(a), op, map[string]any{"plan_id": plan.ID, "valid_from": "2026-09-01"}), http.StatusCreated)
	decode[billing.Rate](t, e.do(t, "POST", rates(a), op, map[string]any{"channel": "whatsapp", "price": 1200, "currency": "COP",
		"valid_from": "2026-10-20", "valid_to": "2026-11-30"}), http.StatusCreated)
	for _, c := range []struct {
		name, path string
		body       any
		field      string
	}{
		{"overlapping subscription", subs(a), map[string]any{"plan_id": plan.ID, "valid_from": "2026-12-01"}, "valid_from"},
		{"subscription in another currency", subs(a), map[string]any{"plan_id": usd.ID, "valid_from": "2020-01-01", "valid_to": "2020-12-31"}, "plan_id"},
		{"no such day", subs(a), map[string]any{"plan_id": plan.ID, "valid_from": "2026-02-30"}, "valid_from"},
		{"ends before it starts", subs(b), map[string]any{"plan_id": plan.ID, "valid_from": "2026-02-10", "valid_to": "2026-02-01"}, "valid_to"},
		{"overlapping rate", rates(a), map[string]any{"channel": "whatsapp", "price": 1, "currency": "COP", "valid_from": "2026-11-30"}, "valid_from"},
		{"rate in another currency", rates(a), map[string]any{"channel": "sms", "price": 1, "currency": "USD", "valid_from": "2026-11-30"}, "currency"},
		{"negative rate", rates(a), map[string]any{"channel": "sms", "price": -1, "currency": "COP", "valid_from": "2026-11-30"}, "price"},
		{"rate of an unknown channel", rates(a), map[string]any{"channel": "fax", "price": 1, "currency": "COP", "valid_from": "2026-11-30"}, "channel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, e.do(t, "POST", c.path, op, c.body), http.StatusBadRequest, "invalid", c.field)
		})
	}
	wantError(t, e.do(t, "POST", "/api/v1/operator/tenants/999999/subscriptions", op, map[string]any{"plan_id": plan.ID, "valid_from": "2026-09-01"}),
		http.StatusNotFound, "not_found", "")
	terms := decode[struct {
		Subscriptions []billing.Subscription
		Rates         []billing.Rate
		Plans         []billing.Plan
	}](t, e.do(t, "GET", "/api/v1/operator/tenants/"+itoa(a.ID)+"/terms", op, nil), http.StatusOK)
	if len(terms.Subscriptions) != 1 || len(terms.Rates) != 1 || len(terms.Plans) != 1 {
		t.Fatalf("terms after bad input: %+v", terms)
	}

	// October: acme's whatsapp cases before and after the rate, a webchat
	// case on the month's first instant, one just before it; bravo's.
	e.fileCase(t, a.ID, "whatsapp", time.Date(2026, 10, 5, 9, 0, 0, 0, cot))
	e.fileCase(t, a.ID, "whatsapp", time.Date(2026, 10, 20, 0, 0, 0, 0, cot))
	e.fileCase(t, a.ID, "webchat", time.Date(2026, 10, 1, 0, 0, 0, 0, cot))
	e.fileCase(t, a.ID, "webchat", time.Date(2026, 9, 30, 23, 59, 59, 0, cot))
	e.fileCase(t, b.ID, "sms", time.Date(2026, 10, 7, 9, 0, 0, 0, cot))

	st := decode[billing.Statement](t, e.do(t, "GET", "/api/v1/billing/statements/2026-10", a.key, nil), http.StatusOK)
	// Fee 31,000.00 for the whole month; whatsapp 20.00 + 12.00; webchat 10.00.
	if st.TenantID != a.ID || st.Currency != "COP" || st.Status != billing.StatusOpen || st.FeeTotal != 3_100_000 ||
		st.UsageTotal != 2000+1200+1000 || st.Total != 3_104_200 || len(st.Lines) != 3 {
		t.Fatalf("acme's October %+v", st)
	}
	bst := decode[billing.Statement](t, e.do(t, "GET", "/api/v1/billing/statements/2026-10", b.key, nil), http.StatusOK)
	if bst.TenantID != b.ID || bst.Total != 0 || len(bst.Lines) != 1 || bst.Lines[0].Channel != "sms" {
		t.Fatalf("bravo's October %+v", bst)
	}
	// A channel that a spreadsheet would take for a formula stays text.
	e.fileCase(t, b.ID, "=HYPERLINK(1)", time.Date(2026, 10, 8, 9, 0, 0, 0, cot))
	if r := e.do(t, "GET", "/api/v1/billing/statements/2026-10.csv", b.key, nil); !strings.Contains(string(r.body), ",pqr,'=HYPERLINK(1),") {
		t.Errorf("bravo's CSV: %s", r.body)
	}
	r := e.do(t, "GET", "/api/v1/billing/statements/2026-10.csv", a.key, nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("CSV: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if last := rows[len(rows)-1]; last[5] != "total" || last[12] != "31042.00" || last[4] != "COP" {
		t.Errorf("CSV total row %q", last)
	}
	for _, m := range []string{"2026-13", "october", "2026-12", "2026-10.pdf"} {
		wantError(t, e.do(t, "GET", "/api/v1/billing/statements/"+m, a.key, nil), http.StatusBadRequest, "invalid", "month")
	}

	// The operator closes it; a late case leaves it as it was.
	closePath := "/api/v1/operator/tenants/" + itoa(a.ID) + "/statements/2026-10/close"
	closed := decode[billing.Statement](t, e.do(t, "POST", closePath, op, nil), http.StatusCreated)
	e.fileCase(t, a.ID, "whatsapp", time.Date(2026, 10, 6, 9, 0, 0, 0, cot))
	again := decode[billing.Statement](t, e.do(t, "POST", closePath, op, nil), http.StatusOK)
	read := decode[billing.Statement](t, e.do(t, "GET", "/api/v1/billing/statements/2026-10", a.key, nil), http.StatusOK)
	if closed.Status != billing.StatusClosed || closed.Total != 3_104_200 || !jsonEqual(t, closed, again) || !jsonEqual(t, closed, read) {
		t.Fatalf("closed %+v, again %+v, read %+v", closed, again, read)
	}
	wantError(t, e.do(t, "POST", "/api/v1/operator/tenants/"+itoa(a.ID)+"/statements/2026-11/close", op, nil), http.StatusBadRequest, "invalid", "month")
	list := decode[struct{ Statements []billing.Statement }](t, e.do(t, "GET", "/api/v1/billing/statements", a.key, nil), http.StatusOK)
	if len(list.Statements) != 2 || list.Statements[0].Month != "2026-11" || list.Statements[1].Status != billing.StatusClosed {
		t.Fatalf("acme's statements %+v", list)
	}

	// The operator's month: acme only (bravo has no terms), as CSV too.
	all := decode[struct{ Statements []billing.Statement }](t, e.do(t, "GET", "/api/v1/operator/statements/2026-10", op, nil), http.StatusOK)
	if len(all.Statements) != 1 || all.Statements[0].TenantID != a.ID {
		t.Fatalf("operator's October %+v", all)
	}
	r = e.do(t, "GET", "/api/v1/operator/statements/2026-10.csv", op, nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), ",total,,total,,,,,31042.00") {
		t.Fatalf("operator's CSV %d %s", r.status, r.body)
	}
	u := decode[billing.Usage](t, e.do(t, "GET", "/api/v1/operator/tenants/"+itoa(b.ID)+"/usage/2026-10", op, nil), http.StatusOK)
	if u.Cases != 2 || u.ByChannel[1].Channel != "sms" || u.ByChannel[1].Count != 1 {
		t.Fatalf("bravo's usage %+v", u)
	}
	if strings.Contains(string(r.body), "contenido privado") {
		t.Fatal("a statement carries a case's content")
	}
}

// TestOperatorBoundary checks that the operator token opens only the
// operator routes (never a tenant's content) and a tenant's key none of
// them.
func TestOperatorBoundary(t *testing.T) {
	t.Parallel()
	e, op := newBillingEnv(t)
	tn := e.newTenant(t, "acme", "")
	e.ingest(t, tn, "visitor", "m-1", "mi pedido no llegó")
	e.fileCase(t, tn.ID, "whatsapp", time.Now())
	fill := func(path string) string {
		return strings.NewReplacer("{id}", "1", "{tenant}", itoa(tn.ID), "{month}", "2026-10", "{number}", "1", "{purpose}", "x").Replace(path)
	}
	for _, rt := range api.RouteTable() {
		method, path, _ := strings.Cut(rt, " ")
		if r := e.do(t, method, fill(path), op, map[string]any{}); r.status != http.StatusUnauthorized {
			t.Errorf("%s with the operator token: status %d %s, want 401", rt, r.status, r.body)
		}
	}
	for _, rt := range api.OperatorRouteTable() {
		method, path, _ := strings.Cut(rt, " ")
		if r := e.do(t, method, fill(path), tn.key, map[string]any{}); r.status != http.StatusUnauthorized {
			t.Errorf("%s with a tenant's key: status %d, want 401", rt, r.status)
		}
		if r := e.do(t, method, fill(path), op+"x", map[string]any{}); r.status != http.StatusUnauthorized {
			t.Errorf("%s with a wrong operator token: status %d, want 401", rt, r.status)
		}
	}
	// Without a configured token no operator route opens.
	plain := newEnv(t, envOptions{billing: true})
	if r := plain.do(t, "GET", "/api/v1/operator/plans", op, nil); r.status != http.StatusUnauthorized {
		t.Errorf("operator route of a server without a token: %d", r.status)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestBillingOpenAPI checks the billing routes' real answers, errors
// included, against the description.
func TestBillingOpenAPI(t *testing.T) {
	t.Parallel()
	e, op := newBillingEnv(t)
	_, router := loadSpec(t, e)
	tn := e.newTenant(t, "acme", "")
	e.fileCase(t, tn.ID, "whatsapp", time.Date(2026, 10, 9, 12, 0, 0, 0, time.UTC))
	e.fileCase(t, tn.ID, "sms", time.Date(2026, 10, 25, 12, 0, 0, 0, time.UTC))
	tp := "/api/v1/operator/tenants/" + itoa(tn.ID)
	plan := map[string]any{"name": "Básico", "currency": "COP", "monthly_fee": 3_100_000, "default_price": 1000, "prices": map[string]int64{"whatsapp": 2000}}
	for _, x := range []exchange{
		{name: "create plan", method: "POST", path: "/api/v1/operator/plans", key: op, status: 201, body: plan, validRequest: true},
		{name: "bad plan", method: "POST", path: "/api/v1/operator/plans", key: op, status: 400, body: map[string]any{"name": "x", "currency": "XXX"}, validRequest: true},
		{name: "plans", method: "GET", path: "/api/v1/operator/plans", key: op, status: 200, validRequest: true},
		{name: "plan", method: "GET", path: "/api/v1/operator/plans/1", key: op, status: 200, validRequest: true},
		{name: "plan missing", method: "GET", path: "/api/v1/operator/plans/99", key: op, status: 404, validRequest: true},
		{name: "update plan", method: "PUT", path: "/api/v1/operator/plans/1", key: op, status: 200, body: plan, validRequest: true},
		{name: "subscribe", method: "POST", path: tp + "/subscriptions", key: op, status: 201, body: map[string]any{"plan_id": 1, "valid_from": "2026-09-01", "valid_to": "2026-12-31"}, validRequest: true},
		{name: "rate", method: "POST", path: tp + "/rates", key: op, status: 201, body: map[string]any{"channel": "sms", "price": 700, "currency": "COP", "valid_from": "2026-10-20"}, validRequest: true},
		{name: "overlapping rate", method: "POST", path: tp + "/rates", key: op, status: 400, body: map[string]any{"channel": "sms", "price": 700, "currency": "COP", "valid_from": "2026-10-21"}, validRequest: true},
		{name: "terms", method: "GET", path: tp + "/terms", key: op, status: 200, validRequest: true},
		{name: "terms of a missing tenant", method: "GET", path: "/api/v1/operator/tenants/9999/terms", key: op, status: 404, validRequest: true},
		{name: "usage", method: "GET", path: tp + "/usage/2026-10", key: op, status: 200, validRequest: true},
		{name: "month usage", method: "GET", path: "/api/v1/operator/usage/2026-10", key: op, status: 200, validRequest: true},
		{name: "statement", method: "GET", path: tp + "/statements/2026-10", key: op, status: 200, validRequest: true},
		{name: "tenant's statement", method: "GET", path: "/api/v1/billing/statements/2026-10", key: tn.key, status: 200, validRequest: true},
		{name: "close", method: "POST", path: tp + "/statements/2026-10/close", key: op, status: 201, validRequest: true},
		{name: "close again", method: "POST", path: tp + "/statements/2026-10/close", key: op, status: 200, validRequest: true},
		{name: "close an open month", method: "POST", path: "/api/v1/operator/statements/2026-11/close", key: op, status: 400, validRequest: true},
		{name: "close a month", method: "POST", path: "/api/v1/operator/statements/2026-10/close", key: op, status: 200, validRequest: true},
		{name: "month statements", method: "GET", path: "/api/v1/operator/statements/2026-10", key: op, status: 200, validRequest: true},
		{name: "tenant's statements", method: "GET", path: "/api/v1/billing/statements", key: tn.key, status: 200, validRequest: true},
		{name: "bad month", method: "GET", path: "/api/v1/billing/statements/2026-13", key: tn.key, status: 400, validRequest: true},
		{name: "no operator token", method: "GET", path: "/api/v1/operator/plans", key: tn.key, status: 401, validRequest: true},
		{name: "delete rate", method: "DELETE", path: tp + "/rates/1", key: op, status: 204, validRequest: true},
		{name: "delete rate again", method: "DELETE", path: tp + "/rates/1", key: op, status: 404, validRequest: true},
		{name: "delete subscription", method: "DELETE", path: tp + "/subscriptions/1", key: op, status: 204, validRequest: true},
	} {
		x.env = e
		t.Run(x.name, func(t *testing.T) { checkExchange(t, router, x) })
	}
}

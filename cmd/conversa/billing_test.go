package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"conversa/billing"
)

// TestBillingProgram runs the real program: the operator's token from the
// CLI, terms through the operator API, the close job of the last month
// closing it on a node's start, and the statement and close commands.
func TestBillingProgram(t *testing.T) {
	dir := t.TempDir()
	out, _, err := runProgram(t, map[string]string{"CONVERSA_DATA_DIR": dir}, "operator", "token")
	if err != nil {
		t.Fatal(err)
	}
	token := regexp.MustCompile(`cop_[A-Za-z0-9_-]{43}`).FindString(out)
	hash := regexp.MustCompile(`operator_token_hash: ([0-9a-f]{64})`).FindStringSubmatch(out)
	if token == "" || hash == nil {
		t.Fatalf("operator token printed %q", out)
	}
	env := map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_OPERATOR_TOKEN_HASH": hash[1], "CONVERSA_LOG_FORMAT": "text"}
	if _, _, err := runProgram(t, env, "tenant", "create", "--slug", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err)
	}
	// Last month in Bogotá: ended, and its close job is due at once when
	// it ended at least 3 days ago.
	bogota, _ := time.LoadLocation("America/Bogota")
	now := time.Now().In(bogota)
	last := time.Date(now.Year(), now.Month()-1, 1, 0, 0, 0, 0, bogota).Format("2006-01")
	jobDue := now.Day() > 3

	s := serve(t, env)
	call := func(method, path string, body any) (int, []byte) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, s.url+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	status, body := call("POST", "/api/v1/operator/plans", map[string]any{"name": "Básico", "currency": "COP", "monthly_fee": 3_100_000, "default_price": 1000})
	var plan billing.Plan
	if status != http.StatusCreated || json.Unmarshal(body, &plan) != nil {
		t.Fatalf("create a plan: %d %s", status, body)
	}
	if status, body = call("POST", "/api/v1/operator/tenants/1/subscriptions", map[string]any{"plan_id": plan.ID, "valid_from": "2020-01-01"}); status != http.StatusCreated {
		t.Fatalf("subscribe: %d %s", status, body)
	}
	if status, _ = call("GET", "/api/v1/conversations", nil); status != http.StatusUnauthorized {
		t.Fatalf("the operator token on a tenant route: %d", status)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	if jobDue {
		// A node's start schedules last month's close job again (the
		// first start's ran with no terms); due, it closes the month.
		s = serve(t, env)
		deadline := time.Now().Add(30 * time.Second)
		for {
			var st billing.Statement
			status, body = call("GET", "/api/v1/operator/tenants/1/statements/"+last, nil)
			if status == http.StatusOK && json.Unmarshal(body, &st) == nil && st.Status == billing.StatusClosed {
				if st.FeeTotal <= 0 || st.Currency != "COP" {
					t.Fatalf("closed by the job: %+v", st)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the close job did not close %s: %d %s", last, status, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
	}

	out, _, err = runProgram(t, env, "billing", "close", "--month", last)
	if err != nil || !strings.Contains(out, "tenant 1 "+last+": total ") || !strings.Contains(out, " COP") {
		t.Fatalf("billing close: %v %q", err, out)
	}
	out, _, err = runProgram(t, env, "billing", "statement", "--tenant", "acme", "--month", last)
	if err != nil || !strings.Contains(out, "closed") || !strings.Contains(out, "plan Básico") {
		t.Fatalf("billing statement: %v %q", err, out)
	}
	out, _, err = runProgram(t, env, "billing", "statement", "--tenant", "1", "--month", last, "--csv")
	if err != nil || !strings.HasPrefix(out, "tenant_id,month,zone,status,currency,") || !strings.Contains(out, ",closed,COP,total,") {
		t.Fatalf("billing statement --csv: %v %q", err, out)
	}
	if _, _, err = runProgram(t, env, "billing", "statement", "--tenant", "acme", "--month", "2026-13"); err == nil {
		t.Fatal("a bad month was accepted")
	}
	if _, _, err = runProgram(t, env, "billing", "close", "--month", now.Format("2006-01")); err == nil {
		t.Fatal("this month was closed before it ended")
	}
}

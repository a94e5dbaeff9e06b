package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeHandoffAPI checks that the real program wires the handoff's
// REST routes to the router, the console store and the 360 view: none
// answers 503.
func TestServeHandoffAPI(t *testing.T) {
	env := map[string]string{"CONVERSA_DATA_DIR": t.TempDir(), "CONVERSA_LOG_LEVEL": "warn"}
	s := serve(t, env, "--demo")
	key := s.demoKey(t)
	send := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, body := send("POST", "/api/v1/agents", `{"name":"Ana","email":"ana@example.com","password":"correct horse battery"}`); code != 201 || !strings.Contains(body, `"status":"offline"`) {
		t.Fatalf("create an agent: %d %s", code, body)
	}
	if code, body := send("POST", "/api/v1/canned-responses", `{"code":"/saldo","title":"Saldo","body":"Hola {{contact.name}}"}`); code != 201 {
		t.Fatalf("create a canned response: %d %s", code, body)
	}
	if code, body := send("GET", "/api/v1/queues/stats", ""); code != 200 {
		t.Fatalf("queue stats: %d %s", code, body)
	}
	if code, body := send("GET", "/api/v1/contacts/999999/view", ""); code != 404 {
		t.Fatalf("the view of a missing contact: %d %s", code, body)
	}
}

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/handoff/calendar"
)

// TestServeCasePolicy runs the real program: the demo tenant puts its case
// policy through the API, files a case, and the case's due date follows
// the policy's term and holiday.
func TestServeCasePolicy(t *testing.T) {
	env := map[string]string{"CONVERSA_DATA_DIR": t.TempDir(), "CONVERSA_LOG_LEVEL": "warn"}
	s := serve(t, env, "--demo")
	key := s.demoKey(t)
	send := func(method, path string, body any, want int, out any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, s.url+path, strings.NewReader(string(b)))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s %s: %v in %s", method, path, err, raw)
			}
		}
	}

	var ch conversation.ChannelAccount
	send("POST", "/api/v1/channels", map[string]any{"kind": "api", "key": "demo-crm", "name": "CRM",
		"settings": map[string]string{"webhook_url": "https://crm.example.com/conversa", "webhook_secret": "s3cr3t-s3cr3t-s3cr3t"}}, 201, &ch)
	var in struct{ Message conversation.Message }
	send("POST", "/api/v1/inbound", map[string]any{"channel_id": ch.ID, "from": "ana", "id": "m-1", "text": "hola"}, 201, &in)

	// The tenant's day off is the first business day of the term, so
	// that it moves the due date by one.
	tenant := conversation.Tenant{Region: "CO", TimeZone: "America/Bogota"}
	plain := handoff.CalendarOf(tenant)
	today := calendar.DateOf(time.Now().In(plain.Location))
	off := plain.AddBusinessDays(today.AddDays(1), 0)
	send("PUT", "/api/v1/case-policy", map[string]any{"terms": map[string]int{"queja": 3}, "holidays": []string{off.String()}}, 200, nil)
	var view handoff.PolicyView
	send("GET", "/api/v1/case-policy", nil, 200, &view)
	if view.Stored == nil || view.Effective.Terms[handoff.Queja] != 3 || view.Effective.Terms[handoff.Reclamo] != 15 {
		t.Fatalf("policy %+v", view)
	}

	var c handoff.Case
	send("POST", "/api/v1/cases", map[string]any{"type": "queja", "contact_id": in.Message.ContactID, "description": "No llegó"}, 201, &c)
	send("GET", "/api/v1/cases/"+strconv.FormatInt(c.ID, 10), nil, 200, &c)
	cal, err := handoff.CasePolicy{Holidays: []string{off.String()}}.Calendar(tenant)
	if err != nil {
		t.Fatal(err)
	}
	want := cal.Due(c.FiledAt, 3)
	if c.TermDays != 3 || !c.Due.Round(time.Second).Equal(want.Round(time.Second)) || !want.After(plain.Due(c.FiledAt, 3)) {
		t.Fatalf("case %s: %d days, due %s; want 3, %s", c.Radicado, c.TermDays, c.Due, want)
	}
}

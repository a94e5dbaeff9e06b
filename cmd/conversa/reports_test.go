package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"conversa/reports"
)

// TestServeReports runs the program: a widget conversation with the demo
// bot reaches the report within seconds, through the running pipeline.
func TestServeReports(t *testing.T) {
	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": t.TempDir(), "CONVERSA_LOG_LEVEL": "warn"}, "--demo")
	key := s.demoKey(t)
	w := openWidget(t, s.url, "demo-web", "")
	w.send(map[string]any{"type": "message", "id": "c1", "text": "hola"})
	w.reply()

	var rep reports.Report
	var body string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var code int
		code, _, body = get(t, s.url+"/api/v1/reports?zone=America/Bogota", "Authorization", "Bearer "+key)
		if code != 200 {
			t.Fatalf("GET /api/v1/reports: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		// The bot's analysis of "hola" is a recognized intent or an
		// unrecognized text: either way one of them.
		if rep.Conversations == 1 && rep.MessagesIn == 1 && rep.MessagesOut >= 1 && len(rep.Bot.TopIntents)+len(rep.Bot.TopUnrecognized) == 1 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rep.Conversations != 1 || rep.MessagesIn != 1 || rep.MessagesOut < 1 || len(rep.ByHour) != 24 || rep.Zone != "America/Bogota" ||
		len(rep.Bot.TopIntents)+len(rep.Bot.TopUnrecognized) != 1 {
		t.Fatalf("the report never showed the conversation: %s", body)
	}
	if _, _, metrics := get(t, s.url+"/metrics"); !strings.Contains(metrics, `conversa_jobs{kind="analytics_export",state="pending"} 0`) {
		t.Errorf("metrics lack the export jobs' gauge")
	}
}

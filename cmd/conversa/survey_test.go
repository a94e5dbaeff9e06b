package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"conversa/notify"
	"conversa/notify/survey"
)

// TestSurveyEndToEnd follows a web-chat customer of the demo tenant who
// gets an NPS survey through the API and answers "9" (stored, and the
// report shows NPS 100); then a CSAT survey with buttons, answered with a
// button; then a CSAT survey after which the bot shows its menu, so that
// the customer's "2" goes to the bot and not to the survey; then a
// campaign of the NPS survey, whose survey the customer answers "10".
func TestSurveyEndToEnd(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}, "--demo")
	w := openWidget(t, s.url, "demo-web", "")
	say := func(f map[string]any) {
		t.Helper()
		w.send(f)
		w.next("ack")
	}
	say(map[string]any{"type": "message", "id": "m1", "text": "hola"})
	w.reply()

	key := s.demoKey(t)
	// Notifications go out at once, whatever the hour of the test.
	store := storeAt(t, dir)
	if err := store.PutPolicy(t.Context(), 1, notify.Policy{QuietHours: &notify.QuietHours{Start: "00:00", End: "00:00"}}); err != nil {
		t.Fatal(err)
	}
	var contacts struct{ Data []struct{ ID int64 } }
	apiGet(t, s.url, key, "/api/v1/contacts", &contacts)
	if len(contacts.Data) != 1 {
		t.Fatalf("contacts %+v", contacts)
	}
	contact := contacts.Data[0].ID
	send := func(body string) survey.Survey {
		t.Helper()
		req, _ := http.NewRequest("POST", s.url+"/api/v1/surveys", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var sv survey.Survey
		if resp.StatusCode != http.StatusAccepted || json.Unmarshal(b, &sv) != nil {
			t.Fatalf("POST /api/v1/surveys %s: %d %s", body, resp.StatusCode, b)
		}
		return sv
	}
	read := func(id int64) survey.Survey {
		t.Helper()
		var sv survey.Survey
		apiGet(t, s.url, key, fmt.Sprintf("/api/v1/surveys/%d", id), &sv)
		return sv
	}
	buttons := func(m map[string]any) string {
		var ids []string
		for _, p := range m["parts"].([]any) {
			bs, _ := p.(map[string]any)["buttons"].([]any)
			for _, b := range bs {
				ids = append(ids, b.(map[string]any)["id"].(string))
			}
		}
		return strings.Join(ids, ",")
	}

	// NPS: a number, no buttons; "9" is the answer.
	nps := send(fmt.Sprintf(`{"kind":"nps","contact_id":%d,"topic":"tu compra"}`, contact))
	m := w.reply()
	if got := textOf(m); !strings.HasPrefix(got, "Del 0 al 10, ¿qué tan probable es que nos recomiendes a un amigo o colega después de tu compra?") || buttons(m) != "" {
		t.Fatalf("NPS survey %q, buttons %q", got, buttons(m))
	}
	say(map[string]any{"type": "message", "id": "m2", "text": "9"})
	if got := textOf(w.reply()); got != "¡Gracias por tu respuesta!" {
		t.Fatalf("after 9: %q", got)
	}
	got := read(nps.ID)
	if got.Status != survey.StatusAnswered || got.Score != 9 || got.AnswerChannel != "webchat" || got.Channel != "webchat" ||
		got.AnswerText != "9" || got.AnsweredAt.IsZero() || got.Subject != "topic:tu compra" {
		t.Fatalf("NPS survey after the answer %+v", got)
	}
	var rep survey.Report
	apiGet(t, s.url, key, "/api/v1/surveys/report?kind=nps", &rep)
	if rep.Total.Sent != 1 || rep.Total.Answered != 1 || rep.Total.NPS == nil || *rep.Total.NPS != 100 || rep.Total.ResponseRate != 100 ||
		len(rep.ByChannel) != 1 || rep.ByChannel[0].Channel != "webchat" || len(rep.ByDay) != 1 {
		b, _ := json.Marshal(rep)
		t.Fatalf("NPS report %s", b)
	}

	// CSAT: buttons 1 to 5; a button's payload is the answer.
	csat := send(fmt.Sprintf(`{"kind":"csat","contact_id":%d}`, contact))
	m = w.reply()
	if got := textOf(m); !strings.HasPrefix(got, "¿Cómo calificarías tu experiencia? Responde de 1 (muy mala) a 5 (excelente).") ||
		buttons(m) != "csat:1,csat:2,csat:3,csat:4,csat:5" {
		t.Fatalf("CSAT survey %q, buttons %q", got, buttons(m))
	}
	say(map[string]any{"type": "message", "id": "m3", "text": "4", "payload": "csat:4"})
	if got := textOf(w.reply()); got != "¡Gracias por tu respuesta!" {
		t.Fatalf("after the button: %q", got)
	}
	if got := read(csat.ID); got.Status != survey.StatusAnswered || got.Score != 4 {
		t.Fatalf("CSAT survey after the button %+v", got)
	}

	// A survey, then the bot's menu: "2" answers the menu.
	pending := send(fmt.Sprintf(`{"kind":"csat","contact_id":%d,"idempotency_key":"third"}`, contact))
	w.reply()
	say(map[string]any{"type": "message", "id": "m4", "text": "hola"})
	menu := w.reply()
	if buttons(menu) == "" {
		t.Fatalf("the bot's menu has no buttons: %v", menu)
	}
	say(map[string]any{"type": "message", "id": "m5", "text": "2"})
	if got := textOf(w.reply()); strings.Contains(got, "Gracias por tu respuesta") {
		t.Fatalf("the 2 that answers the menu went to the survey: %q", got)
	}
	if got := read(pending.ID); got.Status != survey.StatusSent || got.Score != 0 {
		t.Fatalf("the survey after the menu %+v", got)
	}
	var list struct{ Data []survey.Survey }
	apiGet(t, s.url, key, "/api/v1/surveys?kind=csat&status=answered", &list)
	if len(list.Data) != 1 || list.Data[0].ID != csat.ID {
		t.Fatalf("answered CSAT surveys %+v", list)
	}

	// A campaign of the NPS survey to a segment: each recipient's survey
	// is registered, the campaign its subject, and answered like any.
	req, _ := http.NewRequest("POST", s.url+"/api/v1/campaigns", strings.NewReader(`{"name":"NPS","purpose":"survey_nps","segment":{"channels":["webchat"]}}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ ID int64 }
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &c) != nil {
		t.Fatalf("create the campaign: %d %s", resp.StatusCode, b)
	}
	if got := textOf(w.reply()); !strings.HasPrefix(got, "Del 0 al 10") {
		t.Fatalf("the campaign's survey %q", got)
	}
	say(map[string]any{"type": "message", "id": "m6", "text": "10"})
	if got := textOf(w.reply()); got != "¡Gracias por tu respuesta!" {
		t.Fatalf("after 10: %q", got)
	}
	apiGet(t, s.url, key, "/api/v1/surveys?kind=nps", &list)
	if len(list.Data) != 2 || list.Data[0].Subject != fmt.Sprintf("campaign:%d", c.ID) || list.Data[0].Score != 10 || list.Data[0].Status != survey.StatusAnswered {
		t.Fatalf("NPS surveys after the campaign %+v", list.Data)
	}
}

// TestSurveyAndCaseSurvey: a customer has a CSAT survey waiting when their
// complaint is resolved and the case's survey asked; the case's button is
// the case's answer, not the older survey's, since the survey asked last
// wins.
func TestSurveyAndCaseSurvey(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}, "--demo")
	w := openWidget(t, s.url, "demo-web", "")
	say := func(id, text, payload string) string {
		t.Helper()
		w.send(map[string]any{"type": "message", "id": id, "text": text, "payload": payload})
		w.next("ack")
		return textOf(w.reply())
	}
	say("h1", "hola", "")
	key := s.demoKey(t)
	store := storeAt(t, dir)
	if err := store.PutPolicy(t.Context(), 1, notify.Policy{QuietHours: &notify.QuietHours{Start: "00:00", End: "00:00"}}); err != nil {
		t.Fatal(err)
	}
	var contacts struct{ Data []struct{ ID int64 } }
	apiGet(t, s.url, key, "/api/v1/contacts", &contacts)
	post := func(path, body string, want int, out any) {
		t.Helper()
		req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want || (out != nil && json.Unmarshal(b, out) != nil) {
			t.Fatalf("POST %s %s: %d %s", path, body, resp.StatusCode, b)
		}
	}
	var csat survey.Survey
	post("/api/v1/surveys", fmt.Sprintf(`{"kind":"csat","contact_id":%d}`, contacts.Data[0].ID), http.StatusAccepted, &csat)
	if got := textOf(w.reply()); !strings.HasPrefix(got, "¿Cómo calificarías tu experiencia?") {
		t.Fatalf("CSAT survey %q", got)
	}

	// The customer files a complaint; it is resolved, and the case's
	// survey asked.
	say("q1", "quiero poner una queja", "")
	say("q2", "me cobraron dos veces la factura de octubre", "")
	say("q3", "ana.perez@example.com", "")
	radicado := ""
	for radicado == "" {
		radicado = regexp.MustCompile(`PQR-\d{4}-000001`).FindString(textOf(w.reply()))
	}
	var cases struct{ Data []struct{ ID int64 } }
	apiGet(t, s.url, key, "/api/v1/cases?radicado="+radicado, &cases)
	for _, body := range []string{`{"status":"en_tramite","note":"revisado"}`, `{"status":"resuelto","answer":"Reembolsamos el cobro."}`} {
		post(fmt.Sprintf("/api/v1/cases/%d/transition", cases.Data[0].ID), body, http.StatusOK, nil)
	}
	for {
		if got := textOf(w.reply()); strings.HasPrefix(got, "¿Cómo calificarías la atención de tu caso "+radicado) {
			break
		}
	}

	// The case's button: the case's answer.
	if got := say("s1", "2", "csat:2"); !strings.HasPrefix(got, "Gracias por tu calificación.") {
		t.Fatalf("after the case survey's button: %q", got)
	}
	var got survey.Survey
	apiGet(t, s.url, key, fmt.Sprintf("/api/v1/surveys/%d", csat.ID), &got)
	if got.Status != survey.StatusSent {
		t.Fatalf("the CSAT survey asked before the case's took its answer: %+v", got)
	}
}

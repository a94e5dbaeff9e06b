package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"conversa/bot"
	"conversa/conversation"
	"conversa/notify"
)

const exampleBot = "../../examples/bots/servicios"

func TestBotCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}
	run := func(args ...string) (string, string, error) {
		t.Helper()
		return runProgram(t, env, args...)
	}
	if _, _, err := run("tenant", "create", "--slug", "acme", "--name", "Acme"); err != nil {
		t.Fatal(err)
	}

	t.Run("eval prints the cross-validation report", func(t *testing.T) {
		out, _, err := run("bot", "eval", "-f", exampleBot, "--folds", "3")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"check_balance", "complaint", "ccuracy"} {
			if !strings.Contains(out, want) {
				t.Errorf("report lacks %q:\n%s", want, out)
			}
		}
		out, _, err = run("bot", "eval", "-f", exampleBot, "--folds", "3", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Accuracy  float64
			PerIntent []struct{ Intent string } `json:"per_intent"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Accuracy < 0.5 || len(rep.PerIntent) < 10 {
			t.Fatalf("JSON report %+v (%v):\n%.500s", rep, err, out)
		}
	})

	t.Run("test runs the conversations", func(t *testing.T) {
		out, _, err := run("bot", "test", "-f", exampleBot, exampleBot+"/tests/conversations.yaml")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !regexp.MustCompile(`(\d+) of (\d+) conversations passed`).MatchString(out) || strings.Contains(out, "FAIL") {
			t.Fatalf("output:\n%s", out)
		}
		// A regression fails the command.
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(bad, []byte("tests:\n  - name: wrong\n    turns:\n      - user: hola\n        intent: complaint\n"), 0o600)
		out, _, err = run("bot", "test", "-f", exampleBot, bad)
		if err == nil || !strings.Contains(out, "FAIL bad.yaml:2 wrong") || !strings.Contains(out, "want complaint") {
			t.Fatalf("a failing test passed: %v\n%s", err, out)
		}
	})

	t.Run("train, activate, roll back", func(t *testing.T) {
		if _, _, err := run("bot", "train", "-f", exampleBot, "--tenant", "acme", "--folds", "0"); err != nil {
			t.Fatal(err)
		}
		if _, stderr, err := run("bot", "train", "-f", exampleBot, "--tenant", "acme", "--folds", "0", "--activate", "--note", "second"); err != nil || !strings.Contains(stderr, "version 2 is now the bot") {
			t.Fatalf("%v: %s", err, stderr)
		}
		out, _, err := run("bot", "versions", "--tenant", "acme")
		if err != nil || !regexp.MustCompile(`(?m)^2\s+\*.*second$`).MatchString(out) || !regexp.MustCompile(`(?m)^1\s+\d`).MatchString(out) {
			t.Fatalf("versions: %v\n%s", err, out)
		}
		if _, _, err := run("bot", "activate", "--tenant", "acme", "--version", "1"); err != nil {
			t.Fatal(err)
		}
		if out, _, err := run("bot", "rollback", "--tenant", "acme"); err != nil || !strings.Contains(out, "version 2 is again") {
			t.Fatalf("rollback: %v %s", err, out)
		}
		if _, _, err := run("bot", "activate", "--tenant", "acme", "--version", "9"); !conversation.IsNotFound(err) {
			t.Fatalf("activating a missing version: %v", err)
		}
		// The definition, which may hold an HTTP action's secret (the
		// example's is in a comment), is encrypted with the data
		// directory's key: the database's files do not hold it.
		files, _ := filepath.Glob(filepath.Join(dir, "conversa.db*"))
		if len(files) == 0 {
			t.Fatalf("no database files in %s", dir)
		}
		for _, f := range files {
			if b, err := os.ReadFile(f); err != nil || bytes.Contains(b, []byte("a-long-random-secret")) {
				t.Fatalf("%s holds the bot definition in the clear (%v)", filepath.Base(f), err)
			}
		}
	})

	t.Run("a bad definition stores nothing", func(t *testing.T) {
		bad := t.TempDir()
		for _, name := range []string{"bot.yaml", "intents.yaml", "responses.yaml", "flows.yaml", "knowledge.yaml"} {
			data, err := os.ReadFile(filepath.Join(exampleBot, name))
			if err != nil {
				t.Fatal(err)
			}
			if name == "flows.yaml" {
				data = []byte(strings.Replace(string(data), "on_error: lookup_failed", "on_error: nowhere", 1))
			}
			os.WriteFile(filepath.Join(bad, name), data, 0o600)
		}
		_, _, err := run("bot", "train", "-f", bad, "--tenant", "acme", "--activate")
		if err == nil || !regexp.MustCompile(`flows\.yaml:\d+: flows\[0\]\.steps\[1\]\.on_error: flow "check_balance" has no step "nowhere"`).MatchString(err.Error()) {
			t.Fatalf("err = %v", err)
		}
		out, _, _ := run("bot", "versions", "--tenant", "acme")
		if strings.Contains(out, "\n3 ") || !regexp.MustCompile(`(?m)^2\s+\*`).MatchString(out) {
			t.Fatalf("a bad definition changed the versions:\n%s", out)
		}
	})

	t.Run("import a CSV and a Rasa project", func(t *testing.T) {
		d := t.TempDir()
		csv := filepath.Join(d, "examples.csv")
		var b strings.Builder
		b.WriteString("utterance,intent\n")
		for _, row := range [][2]string{
			{"quiero pagar mi factura", "pay"}, {"cómo pago el recibo", "pay"}, {"medios de pago", "pay"},
			{"dónde está mi pedido", "track"}, {"rastrear mi pedido", "track"}, {"estado de mi pedido", "track"},
		} {
			b.WriteString(row[0] + "," + row[1] + "\n")
		}
		os.WriteFile(csv, []byte(b.String()), 0o600)
		out := filepath.Join(d, "bot.yaml")
		if _, _, err := run("bot", "import", "--csv", csv, "-o", out); err != nil {
			t.Fatal(err)
		}
		src, err := readSource(out)
		if err != nil {
			t.Fatal(err)
		}
		def, err := bot.Parse(src)
		if err != nil || len(def.Intents) != 2 || len(def.Intents[0].Examples["es"]) != 3 {
			t.Fatalf("imported %+v, %v", def, err)
		}
		os.WriteFile(csv, []byte("utterance,intent\nhola,greet\nadiós,bye,es,extra\n"), 0o600)
		if _, _, err := run("bot", "import", "--csv", csv); err == nil || !strings.Contains(err.Error(), "examples.csv:3") {
			t.Fatalf("a wrong column count: %v", err)
		}
		if _, _, err := run("bot", "import", "--rasa", "../../bot/testdata/import/rasa/conecta/nlu.yml", "--domain", "../../bot/testdata/import/rasa/conecta/domain.yml", "-o", out); err != nil {
			t.Fatal(err)
		}
		if _, _, err := run("bot", "eval", "-f", out, "--folds", "2"); err != nil {
			t.Fatalf("the imported Rasa bot does not train: %v", err)
		}
	})
}

func TestBotChat(t *testing.T) {
	src, err := readSource(exampleBot)
	if err != nil {
		t.Fatal(err)
	}
	tenant := conversation.Tenant{Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	tr, err := bot.Train(t.Context(), src, 0, compileOptions(tenant))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	in := strings.NewReader("¿cuál es el saldo de mi factura?\n12345678\n/button pay_bill\n\n")
	if err := chat(t.Context(), tr.Bot, tenant, conversation.ChannelWebchat, in, &out, true); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[check_balance ", "flow check_balance/account", "número de cuenta", "La cuenta 12345678 tiene un saldo de $", "PSE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("chat lacks %q:\n%s", want, out.String())
		}
	}
}

// TestFlowSurvivesRestart checks that the dialogue state is durable: a
// flow begun before a restart continues after it, and the bot's analysis
// is recorded on the message.
func TestFlowSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}
	s := serve(t, env, "--demo")
	key := s.demoKey(t)
	w := openWidget(t, s.url, "demo-web", "")
	w.send(map[string]any{"type": "message", "id": "c1", "text": "¿cuál es el saldo de mi factura?"})
	msgID := w.next("ack")["message"].(map[string]any)["id"].(float64)
	if got := textOf(w.reply()); !strings.Contains(got, "número de cuenta") {
		t.Fatalf("reply %q, want the account question", got)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	s = serve(t, env, "--demo")
	w = openWidget(t, s.url, "demo-web", w.token)
	w.send(map[string]any{"type": "message", "id": "c2", "text": "12345678"})
	w.next("ack")
	for {
		got := textOf(w.reply())
		if strings.Contains(got, "número de cuenta") {
			continue // the question again, from the history the widget gets back
		}
		if !strings.Contains(got, "La cuenta 12345678 tiene un saldo de $") {
			t.Fatalf("after the restart: %q", got)
		}
		break
	}

	var m struct {
		Analysis struct {
			Intent, Language, Sentiment string
			BotVersion                  int64 `json:"bot_version"`
		}
	}
	_, _, body := get(t, s.url+"/api/v1/messages/"+strconv.FormatInt(int64(msgID), 10), "Authorization", "Bearer "+key)
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.Analysis.Intent != "check_balance" || m.Analysis.Language != "es" || m.Analysis.Sentiment == "" || m.Analysis.BotVersion != 1 {
		t.Fatalf("analysis of the first message: %+v (%v)\n%s", m.Analysis, err, body)
	}
}

// TestComplaintIsFiled follows a web-chat customer who files a complaint
// through the example bot and gets the filing number and the due date; an
// agent works it and resolves it through the API with an answer; the
// customer gets the answer and the survey, rates it 2, and reopens it.
func TestComplaintIsFiled(t *testing.T) {
	dir := t.TempDir()
	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}, "--demo")
	w := openWidget(t, s.url, "demo-web", "")
	say := func(id, text string) {
		w.send(map[string]any{"type": "message", "id": id, "text": text})
		w.next("ack")
	}
	say("q1", "quiero poner una queja")
	if got := textOf(w.reply()); !strings.Contains(got, "Cuéntame qué pasó") {
		t.Fatalf("reply %q", got)
	}
	say("q2", "me cobraron dos veces la factura de octubre")
	if got := textOf(w.reply()); !strings.Contains(got, "correo") {
		t.Fatalf("reply %q", got)
	}
	say("q3", "ana.perez@example.com")
	if got := textOf(w.reply()); !strings.Contains(got, "Registré tu queja") {
		t.Fatalf("reply %q", got)
	}
	got := textOf(w.reply())
	if !regexp.MustCompile(`^Tu caso quedó radicado con el número PQR-\d{4}-000001\. Recibirás respuesta a más tardar el \d{1,2} de [a-z]+ de \d{4}\.$`).MatchString(got) {
		t.Fatalf("filing reply %q", got)
	}

	radicado := regexp.MustCompile(`PQR-\d{4}-000001`).FindString(got)

	// The customer asks how it goes; another visitor with the number learns
	// nothing.
	say("q4", "¿cómo va mi radicado "+radicado+"?")
	if got := textOf(w.reply()); !strings.HasPrefix(got, "Tu caso "+radicado+" (queja) está radicado. Recibirás respuesta a más tardar el ") {
		t.Fatalf("status reply %q", got)
	}
	// Another visitor with the number is asked to prove the case is
	// theirs, and learns nothing without the email given when filing.
	other := openWidget(t, s.url, "demo-web", "")
	ask := func(id, text string) string {
		other.send(map[string]any{"type": "message", "id": id, "text": text})
		other.next("ack")
		return textOf(other.reply())
	}
	if got := ask("o1", "¿cómo va mi radicado "+radicado+"?"); !strings.Contains(got, "correo o el número de documento") {
		t.Fatalf("another visitor got %q", got)
	}
	if got := ask("o2", "luis@example.com"); !strings.Contains(got, "No encuentro el radicado "+radicado+" con esos datos") {
		t.Fatalf("another visitor with a wrong email got %q", got)
	}
	// The same customer, writing from another browser, proves it.
	if got := ask("o3", "¿cómo va mi radicado "+radicado+"?"); !strings.Contains(got, "correo o el número de documento") {
		t.Fatalf("asking again got %q", got)
	}
	if got := ask("o4", "Ana.Perez@example.com"); !strings.HasPrefix(got, "Tu caso "+radicado+" (queja) está radicado.") {
		t.Fatalf("the customer from another browser got %q", got)
	}

	// An agent finds it through the API and answers it.
	key := s.demoKey(t)
	var page struct {
		Data []struct {
			ID       int64
			Radicado string
			Status   string
		}
	}
	apiGet(t, s.url, key, "/api/v1/cases?radicado="+radicado, &page)
	if len(page.Data) != 1 || page.Data[0].Status != "radicado" {
		t.Fatalf("cases: %+v", page)
	}
	// Notifications go out at once, whatever the hour of the test: no
	// quiet hours for the demo tenant.
	store := storeAt(t, dir)
	if err := store.PutPolicy(t.Context(), 1, notify.Policy{QuietHours: &notify.QuietHours{Start: "00:00", End: "00:00"}}); err != nil {
		t.Fatal(err)
	}
	const answer = "Reembolsamos el cobro doble de octubre a tu cuenta."
	transition := func(body string) {
		t.Helper()
		req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/cases/%d/transition", s.url, page.Data[0].ID), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("transition %s: %v %v", body, resp, err)
		}
		resp.Body.Close()
	}

	// The customer hears, in the web chat, that the case is being worked;
	// then the answer, then the survey with its buttons.
	transition(`{"status":"en_tramite","note":"revisado"}`)
	if got := textOf(w.reply()); !strings.Contains(got, "tu caso "+radicado+" está en trámite. Recibirás respuesta a más tardar el ") {
		t.Fatalf("case_status %q", got)
	}
	transition(`{"status":"resuelto","answer":"` + answer + `"}`)
	if got := textOf(w.reply()); !strings.Contains(got, "tu caso "+radicado+" fue resuelto. Respuesta: "+answer) {
		t.Fatalf("case_resolved %q", got)
	}
	m := w.reply()
	if got := textOf(m); !strings.HasPrefix(got, "¿Cómo calificarías la atención de tu caso "+radicado+"? Responde de 1 (muy mala) a 5 (excelente).") {
		t.Fatalf("case_survey %q", got)
	}
	var ids []string
	for _, p := range m["parts"].([]any) {
		bs, _ := p.(map[string]any)["buttons"].([]any)
		for _, b := range bs {
			ids = append(ids, b.(map[string]any)["id"].(string))
		}
	}
	if strings.Join(ids, ",") != "csat:1,csat:2,csat:3,csat:4,csat:5" {
		t.Fatalf("survey buttons %v", ids)
	}

	// A dissatisfied answer is thanked and offered reopening; REABRIR
	// reopens the case.
	say("s1", "2")
	if got := textOf(w.reply()); !strings.HasPrefix(got, "Gracias por tu calificación.") || !strings.Contains(got, "responde REABRIR para reabrirlo") {
		t.Fatalf("after rating 2: %q", got)
	}
	say("s2", "reabrir")
	if got := textOf(w.reply()); got != "Reabrimos tu caso "+radicado+". Un agente lo revisará y te responderemos." {
		t.Fatalf("after REABRIR: %q", got)
	}
	apiGet(t, s.url, key, "/api/v1/cases?radicado="+radicado, &page)
	if len(page.Data) != 1 || page.Data[0].Status != "reabierto" {
		t.Fatalf("cases after REABRIR: %+v", page)
	}
	var hist struct {
		Data []struct{ Kind, Note, To string }
	}
	apiGet(t, s.url, key, fmt.Sprintf("/api/v1/cases/%d/history", page.Data[0].ID), &hist)
	var kinds []string
	for _, e := range hist.Data {
		kinds = append(kinds, e.Kind+":"+e.To)
	}
	if strings.Join(kinds, ",") != "filed:radicado,status:en_tramite,resolved:resuelto,survey:,status:reabierto" {
		t.Fatalf("history %v", kinds)
	}

	c, err := store.CaseByRadicado(t.Context(), 1, radicado)
	if err != nil || c.Type != "queja" || c.Description != "me cobraron dos veces la factura de octubre" || c.Fields["email"] != "ana.perez@example.com" || c.Status != "reabierto" {
		t.Fatalf("stored case %+v, %v", c, err)
	}
	surveys, err := store.CaseSurveys(t.Context(), 1, c.ID)
	if err != nil || len(surveys) != 1 || surveys[0].Score != 2 || surveys[0].ReopenedAt.IsZero() {
		t.Fatalf("surveys %+v, %v", surveys, err)
	}
}

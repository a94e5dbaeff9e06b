package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/routers"

	"conversa/adapters/api"
	"conversa/bot"
	"conversa/conversation"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// botYAML is a small valid bilingual definition.
const botYAML = `name: test-bot
languages: [es, en]
intents:
  - name: check_balance
    response: balance
    examples:
      es:
        - ¿cuál es mi saldo?
        - quiero saber cuánto debo
        - consultar el saldo de mi cuenta
        - cuánto tengo que pagar este mes
        - valor de mi factura
      en:
        - what is my balance
        - how much do I owe
        - check my account balance
        - how much do I have to pay this month
        - amount of my bill
  - name: pay_bill
    response: pay
    examples:
      es:
        - cómo pago mi factura
        - dónde puedo pagar
        - quiero pagar el recibo
        - medios de pago
        - puedo pagar con tarjeta
      en:
        - how do I pay my bill
        - where can I pay
        - I want to pay my invoice
        - payment methods
        - can I pay by card
  - name: outage
    response: outage
    examples:
      es:
        - no tengo luz
        - se fue la luz
        - se cayó el internet
        - no tengo internet
        - no hay servicio en mi casa
      en:
        - I have no power
        - the power is out
        - the internet is down
        - I have no internet
        - there is no service at my house
responses:
  balance:
    - text: {es: "Tu saldo es de $10.000.", en: "Your balance is $10,000."}
  pay:
    - text: {es: "Puedes pagar en línea o en cualquier banco.", en: "You can pay online or at any bank."}
  outage:
    - text: {es: "Estamos revisando la falla en tu zona.", en: "We are looking into the outage in your area."}
`

// botFlowYAML is a second file of a definition that adds a flow to
// botYAML.
const botFlowYAML = `intents:
  - name: visit
    flow: visit
    examples:
      es:
        - necesito una visita técnica
        - quiero agendar un técnico
        - que venga alguien a revisar
        - programar una visita
      en:
        - I need a technician visit
        - schedule a technician
        - send someone to check
        - book a visit
flows:
  - name: visit
    steps:
      - id: confirm
        say: visit_confirmed
        end: true
responses:
  visit_confirmed:
    - text: {es: "Listo, un técnico te visitará.", en: "Done, a technician will visit you."}
`

// newBotEnv is newEnv with a bot engine on the same store; without
// engine, the API has none.
func newBotEnv(t *testing.T, engine bool) *env {
	t.Helper()
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	shared := memory.New()
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: shared, Dedup: shared})
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{MaxBodyBytes: bodyLimit}
	if engine {
		cfg.Bots, cfg.BotStore = bot.NewEngine(store, store, store, bot.Config{Folds: 3}), store
	}
	a, err := api.New(cfg, svc, store, shared, shared)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	e := &env{store: store, shared: shared, svc: svc, api: a, srv: srv, stopAPI: cancel, runDone: make(chan error, 1)}
	go func() { e.runDone <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		srv.Close()
	})
	return e
}

// Wire shapes of the bot routes, as a client reads them.
type (
	botVersion struct {
		TenantID    int64  `json:"tenant_id"`
		Number      int64  `json:"number"`
		Checksum    string `json:"checksum"`
		Active      bool   `json:"active"`
		CreatedAt   string `json:"created_at"`
		ActivatedAt string `json:"activated_at"`
		Note        string `json:"note"`
	}
	trained struct {
		Version botVersion     `json:"version"`
		Report  map[string]any `json:"report"`
		Active  bool           `json:"active"`
	}
	versionDetail struct {
		botVersion
		Report map[string]any    `json:"report"`
		Files  map[string]string `json:"files"`
	}
	problem struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Field   string `json:"field"`
		Message string `json:"message"`
	}
	problemBody struct {
		Error struct {
			Code     string    `json:"code"`
			Message  string    `json:"message"`
			Problems []problem `json:"problems"`
		} `json:"error"`
	}
	reportBody struct {
		Report map[string]any `json:"report"`
	}
)

// postYAML posts a raw YAML definition.
func (e *env) postYAML(t *testing.T, path, key, yaml string) response {
	t.Helper()
	return e.do(t, "POST", path, key, rawBody(yaml), "Content-Type", "application/yaml")
}

// versionNumbers lists the tenant's versions, newest first, and the
// active one.
func versionNumbers(t *testing.T, e *env, key string) (numbers []int64, active int64) {
	t.Helper()
	pg := decode[page[botVersion]](t, e.do(t, "GET", "/api/v1/bot/versions", key, nil), http.StatusOK)
	for _, v := range pg.Data {
		numbers = append(numbers, v.Number)
		if v.Active {
			if active != 0 {
				t.Fatalf("versions %d and %d are both active", active, v.Number)
			}
			active = v.Number
		}
	}
	return numbers, active
}

// wantReport checks that a report has a numeric accuracy.
func wantReport(t *testing.T, report map[string]any) {
	t.Helper()
	acc, ok := report["accuracy"].(float64)
	if !ok || acc < 0 || acc > 1 {
		t.Fatalf("report accuracy %#v, want a number from 0 to 1; report: %v", report["accuracy"], report)
	}
}

// lineOf returns the 1-based line of the first line of s holding sub.
func lineOf(t *testing.T, s, sub string) int {
	t.Helper()
	for i, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return i + 1
		}
	}
	t.Fatalf("no line holds %q", sub)
	return 0
}

func TestBotVersions(t *testing.T) {
	t.Parallel()
	e := newBotEnv(t, true)
	tn := e.newTenant(t, "acme", "")
	k := tn.key

	t.Run("train from YAML and activate", func(t *testing.T) {
		r := e.postYAML(t, "/api/v1/bot/versions?activate=true&note=first+version", k, botYAML)
		got := decode[trained](t, r, http.StatusCreated)
		if got.Version.Number != 1 || got.Version.TenantID != tn.ID || !got.Active || !got.Version.Active ||
			got.Version.Note != "first version" || got.Version.ActivatedAt == "" || len(got.Version.Checksum) != 64 {
			t.Fatalf("trained %+v", got)
		}
		wantReport(t, got.Report)
	})
	t.Run("train from JSON", func(t *testing.T) {
		r := e.do(t, "POST", "/api/v1/bot/versions", k, map[string]any{
			"files": map[string]string{"bot.yaml": botYAML, "flows.yaml": botFlowYAML}, "note": "with a flow",
		})
		got := decode[trained](t, r, http.StatusCreated)
		if got.Version.Number != 2 || got.Active || got.Version.Active || got.Version.ActivatedAt != "" {
			t.Fatalf("trained %+v", got)
		}
		wantReport(t, got.Report)
	})
	t.Run("list", func(t *testing.T) {
		numbers, active := versionNumbers(t, e, k)
		if !slices.Equal(numbers, []int64{2, 1}) || active != 1 {
			t.Fatalf("versions %v, active %d; want [2 1], active 1", numbers, active)
		}
	})
	t.Run("get", func(t *testing.T) {
		v1 := decode[versionDetail](t, e.do(t, "GET", "/api/v1/bot/versions/1", k, nil), http.StatusOK)
		if v1.Number != 1 || !v1.Active || v1.Note != "first version" || len(v1.Files) != 1 || v1.Files["bot.yaml"] != botYAML {
			t.Fatalf("version 1: %+v", v1)
		}
		wantReport(t, v1.Report)
		v2 := decode[versionDetail](t, e.do(t, "GET", "/api/v1/bot/versions/2", k, nil), http.StatusOK)
		if v2.Number != 2 || v2.Active || v2.Files["flows.yaml"] != botFlowYAML || v2.Files["bot.yaml"] != botYAML {
			t.Fatalf("version 2: %+v", v2)
		}
	})
	t.Run("activate", func(t *testing.T) {
		v := decode[botVersion](t, e.do(t, "POST", "/api/v1/bot/versions/2/activate", k, nil), http.StatusOK)
		if v.Number != 2 || !v.Active || v.ActivatedAt == "" {
			t.Fatalf("activated %+v", v)
		}
		if _, active := versionNumbers(t, e, k); active != 2 {
			t.Fatalf("active %d, want 2", active)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		got := decode[map[string]int64](t, e.do(t, "POST", "/api/v1/bot/rollback", k, nil), http.StatusOK)
		if got["version"] != 1 {
			t.Fatalf("rolled back to %v, want version 1", got)
		}
		if _, active := versionNumbers(t, e, k); active != 1 {
			t.Fatalf("active %d, want 1", active)
		}
		// The version active before 1 is 2 again: a second rollback
		// undoes the first.
		got = decode[map[string]int64](t, e.do(t, "POST", "/api/v1/bot/rollback", k, nil), http.StatusOK)
		if got["version"] != 2 {
			t.Fatalf("rolled back to %v, want version 2", got)
		}
	})
	t.Run("missing", func(t *testing.T) {
		wantError(t, e.do(t, "GET", "/api/v1/bot/versions/3", k, nil), http.StatusNotFound, "not_found", "")
		wantError(t, e.do(t, "GET", "/api/v1/bot/versions/x", k, nil), http.StatusNotFound, "not_found", "")
		wantError(t, e.do(t, "POST", "/api/v1/bot/versions/3/activate", k, nil), http.StatusNotFound, "not_found", "")
		wantError(t, e.do(t, "POST", "/api/v1/bot/versions/0/activate", k, nil), http.StatusNotFound, "not_found", "")
	})

	t.Run("nothing to roll back to", func(t *testing.T) {
		other := e.newTenant(t, "globex", "")
		// No version at all, then one trained but never activated, then
		// one activated: none has a previous version.
		wantError(t, e.do(t, "POST", "/api/v1/bot/rollback", other.key, nil), http.StatusConflict, "conflict", "")
		decode[trained](t, e.postYAML(t, "/api/v1/bot/versions", other.key, botYAML), http.StatusCreated)
		wantError(t, e.do(t, "POST", "/api/v1/bot/rollback", other.key, nil), http.StatusConflict, "conflict", "")
		decode[botVersion](t, e.do(t, "POST", "/api/v1/bot/versions/1/activate", other.key, nil), http.StatusOK)
		wantError(t, e.do(t, "POST", "/api/v1/bot/rollback", other.key, nil), http.StatusConflict, "conflict", "")
		if _, active := versionNumbers(t, e, other.key); active != 1 {
			t.Fatalf("active %d after a refused rollback, want 1", active)
		}
	})

	t.Run("another tenant", func(t *testing.T) {
		other := e.newTenant(t, "initech", "")
		ok := other.key
		if numbers, _ := versionNumbers(t, e, ok); len(numbers) != 0 {
			t.Fatalf("another tenant sees versions %v", numbers)
		}
		wantError(t, e.do(t, "GET", "/api/v1/bot/versions/1", ok, nil), http.StatusNotFound, "not_found", "")
		wantError(t, e.do(t, "POST", "/api/v1/bot/versions/1/activate", ok, nil), http.StatusNotFound, "not_found", "")
		wantError(t, e.do(t, "POST", "/api/v1/bot/rollback", ok, nil), http.StatusConflict, "conflict", "")
		// Its own first version is its 1, beside acme's.
		got := decode[trained](t, e.postYAML(t, "/api/v1/bot/versions", ok, botYAML), http.StatusCreated)
		if got.Version.Number != 1 || got.Version.TenantID != other.ID {
			t.Fatalf("trained %+v", got.Version)
		}
		if numbers, active := versionNumbers(t, e, k); !slices.Equal(numbers, []int64{2, 1}) || active != 2 {
			t.Fatalf("acme's versions %v, active %d after another tenant's", numbers, active)
		}
	})
}

// TestBotDefinitionProblems sends bad definitions: each is refused with
// its problems, and nothing is stored or activated.
func TestBotDefinitionProblems(t *testing.T) {
	t.Parallel()
	e := newBotEnv(t, true)
	tn := e.newTenant(t, "acme", "")
	decode[trained](t, e.postYAML(t, "/api/v1/bot/versions?activate=true", tn.key, botYAML), http.StatusCreated)

	unknownField := strings.Replace(botYAML, "    response: pay\n", "    respose: pay\n", 1)
	duplicate := strings.Replace(botYAML, "  - name: outage\n", "  - name: pay_bill\n", 1)
	badStep := strings.Replace(botFlowYAML, "        end: true\n", "        next: nowhere\n", 1)
	// want is a problem expected among others: its line is from..to (any
	// when from is 0), and its message holds message.
	type want struct {
		file, field, message string
		from, to             int
	}
	unknownLine := lineOf(t, unknownField, "respose:")
	duplicateLine := lineOf(t, duplicate, "response: outage") - 1
	stepFrom, stepTo := lineOf(t, badStep, "- id: confirm"), lineOf(t, badStep, "next: nowhere")
	for _, tc := range []struct {
		name  string
		files map[string]string // sent as JSON; a lone bot.yaml also as YAML
		want  []want
	}{
		{"unknown field", map[string]string{"bot.yaml": unknownField}, []want{
			{"bot.yaml", "intents[1].respose", "unknown field", unknownLine, unknownLine},
		}},
		{"duplicate intent and a missing step", map[string]string{"bot.yaml": duplicate, "flows.yaml": badStep}, []want{
			{"bot.yaml", "intents[2].name", "pay_bill", duplicateLine, duplicateLine},
			{"flows.yaml", "", "nowhere", stepFrom, stepTo},
		}},
		{"not YAML", map[string]string{"bot.yaml": "intents: [\n"}, []want{{"bot.yaml", "", "", 0, 0}}},
		{"empty", map[string]string{"bot.yaml": ""}, []want{{"bot.yaml", "", "empty", 0, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(t *testing.T, r response) {
				t.Helper()
				eb := decode[problemBody](t, r, http.StatusBadRequest)
				if eb.Error.Code != "invalid" || eb.Error.Message == "" || len(eb.Error.Problems) == 0 {
					t.Fatalf("error %+v", eb.Error)
				}
				for _, w := range tc.want {
					found := slices.ContainsFunc(eb.Error.Problems, func(p problem) bool {
						return p.File == w.file && (w.from == 0 || w.from <= p.Line && p.Line <= w.to) &&
							(w.field == "" || p.Field == w.field) && p.Message != "" && strings.Contains(p.Message, w.message)
					})
					if !found {
						t.Errorf("no problem like %+v among %+v", w, eb.Error.Problems)
					}
				}
			}
			check(t, e.do(t, "POST", "/api/v1/bot/versions", tn.key, map[string]any{"files": tc.files, "activate": true}))
			check(t, e.do(t, "POST", "/api/v1/bot/eval", tn.key, map[string]any{"files": tc.files}))
			if len(tc.files) == 1 {
				check(t, e.postYAML(t, "/api/v1/bot/versions?activate=true", tn.key, tc.files["bot.yaml"]))
				check(t, e.postYAML(t, "/api/v1/bot/eval", tn.key, tc.files["bot.yaml"]))
			}
			if numbers, active := versionNumbers(t, e, tn.key); !slices.Equal(numbers, []int64{1}) || active != 1 {
				t.Fatalf("versions %v, active %d after a bad definition; want [1], active 1", numbers, active)
			}
		})
	}

	// Examples the classifier cannot learn from are a problem with a line.
	t.Run("an example without words", func(t *testing.T) {
		wordless := strings.Replace(botYAML, "        - medios de pago\n", "        - '¡¡¡!!!'\n", 1)
		for _, path := range []string{"/api/v1/bot/versions?activate=true", "/api/v1/bot/eval"} {
			eb := decode[problemBody](t, e.postYAML(t, path, tn.key, wordless), http.StatusBadRequest)
			if eb.Error.Code != "invalid" || !strings.Contains(eb.Error.Message, "needs a word") || len(eb.Error.Problems) != 1 ||
				eb.Error.Problems[0].Line == 0 || eb.Error.Problems[0].Field != "intents[1].examples.es[3]" {
				t.Errorf("%s: %+v", path, eb.Error)
			}
		}
		if numbers, active := versionNumbers(t, e, tn.key); !slices.Equal(numbers, []int64{1}) || active != 1 {
			t.Fatalf("versions %v, active %d after a bad definition; want [1], active 1", numbers, active)
		}
	})
}

// TestBotBodies checks how the train and eval routes read their bodies.
func TestBotBodies(t *testing.T) {
	t.Parallel()
	e := newBotEnv(t, true)
	tn := e.newTenant(t, "acme", "")
	k := tn.key
	files := map[string]string{"bot.yaml": botYAML}
	// A definition larger than the API's usual limit, within the bot
	// routes' own.
	large := botYAML + strings.Repeat("# "+strings.Repeat("x", 98)+"\n", 3000) // 300 kB
	huge := strings.Repeat("# "+strings.Repeat("x", 1022)+"\n", 9<<10)         // 9 MiB

	for _, tc := range []struct {
		name   string
		path   string
		body   any
		header []string
		status int
		field  string
	}{
		{"x-yaml", "/api/v1/bot/eval?folds=2", rawBody(botYAML), []string{"Content-Type", "application/x-yaml"}, 200, ""},
		{"text/yaml with a charset", "/api/v1/bot/eval?folds=2", rawBody(botYAML), []string{"Content-Type", "text/yaml; charset=utf-8"}, 200, ""},
		{"JSON with a charset", "/api/v1/bot/eval", map[string]any{"files": files, "folds": 2}, []string{"Content-Type", "application/json; charset=utf-8"}, 200, ""},
		{"larger than the usual limit", "/api/v1/bot/versions", rawBody(large), []string{"Content-Type", "application/yaml"}, 201, ""},
		{"YAML over the limit", "/api/v1/bot/versions", rawBody(huge), []string{"Content-Type", "application/yaml"}, 413, ""},
		{"JSON over the limit", "/api/v1/bot/versions", map[string]any{"files": map[string]string{"bot.yaml": huge}}, nil, 413, ""},
		{"eval over the limit", "/api/v1/bot/eval", rawBody(huge), []string{"Content-Type", "application/yaml"}, 413, ""},
		{"other content type", "/api/v1/bot/versions", rawBody(botYAML), []string{"Content-Type", "text/plain"}, 400, ""},
		{"unknown JSON field", "/api/v1/bot/versions", map[string]any{"files": files, "folds": 3}, nil, 400, "folds"},
		{"eval takes no note", "/api/v1/bot/eval", map[string]any{"files": files, "note": "x"}, nil, 400, "note"},
		{"eval takes no note in the query", "/api/v1/bot/eval?note=x", rawBody(botYAML), []string{"Content-Type", "application/yaml"}, 400, "note"},
		{"training takes no folds", "/api/v1/bot/versions?folds=3", rawBody(botYAML), []string{"Content-Type", "application/yaml"}, 400, "folds"},
		{"no files", "/api/v1/bot/versions", map[string]any{"note": "x"}, nil, 400, "files"},
		{"bad file name", "/api/v1/bot/versions", map[string]any{"files": map[string]string{"../bot.yaml": botYAML}}, nil, 400, "files"},
		{"query with JSON", "/api/v1/bot/versions?activate=true", map[string]any{"files": files}, nil, 400, "activate"},
		{"bad activate", "/api/v1/bot/versions?activate=yes", rawBody(botYAML), []string{"Content-Type", "application/yaml"}, 400, "activate"},
		{"note too long", "/api/v1/bot/versions?note=" + strings.Repeat("n", 1001), rawBody(botYAML), []string{"Content-Type", "application/yaml"}, 400, "note"},
		{"folds too few", "/api/v1/bot/eval", map[string]any{"files": files, "folds": 1}, nil, 400, "folds"},
		{"folds too many", "/api/v1/bot/eval?folds=11", rawBody(botYAML), []string{"Content-Type", "application/yaml"}, 400, "folds"},
		{"folds not a number", "/api/v1/bot/eval?folds=two", rawBody(botYAML), []string{"Content-Type", "application/yaml"}, 400, "folds"},
		{"YAML not UTF-8", "/api/v1/bot/versions", rawBody("name: \xff\n"), []string{"Content-Type", "application/yaml"}, 400, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, "POST", tc.path, k, tc.body, tc.header...)
			if tc.status >= 400 {
				code := map[int]string{400: "invalid", 413: "too_large"}[tc.status]
				wantError(t, r, tc.status, code, tc.field)
				return
			}
			wantReport(t, decode[reportBody](t, r, tc.status).Report)
		})
	}
	// Only the large definition was stored, and the default limit still
	// holds on every other route.
	if numbers, active := versionNumbers(t, e, k); !slices.Equal(numbers, []int64{1}) || active != 0 {
		t.Fatalf("versions %v, active %d; want [1], none active", numbers, active)
	}
	r := e.do(t, "PATCH", "/api/v1/contacts/1", k, map[string]any{"name": strings.Repeat("x", bodyLimit)})
	wantError(t, r, http.StatusRequestEntityTooLarge, "too_large", "")
}

// TestBotEval checks that an evaluation reports and stores nothing.
func TestBotEval(t *testing.T) {
	t.Parallel()
	e := newBotEnv(t, true)
	tn := e.newTenant(t, "acme", "")
	for _, tc := range []struct {
		name   string
		path   string
		body   any
		header []string
	}{
		{"YAML", "/api/v1/bot/eval", rawBody(botYAML), []string{"Content-Type", "application/yaml"}},
		{"YAML with folds", "/api/v1/bot/eval?folds=4", rawBody(botYAML), []string{"Content-Type", "application/yaml"}},
		{"JSON", "/api/v1/bot/eval", map[string]any{"files": map[string]string{"bot.yaml": botYAML, "flows.yaml": botFlowYAML}, "folds": 2}, nil},
		{"JSON with folds", "/api/v1/bot/eval", map[string]any{"files": map[string]string{"bot.yaml": botYAML}, "folds": 2}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantReport(t, decode[reportBody](t, e.do(t, "POST", tc.path, tn.key, tc.body, tc.header...), http.StatusOK).Report)
		})
	}
	if numbers, _ := versionNumbers(t, e, tn.key); len(numbers) != 0 {
		t.Fatalf("an evaluation stored versions %v", numbers)
	}
}

// TestBotUnavailable checks the bot routes of a server without a bot
// engine.
func TestBotUnavailable(t *testing.T) {
	t.Parallel()
	e := newBotEnv(t, false)
	tn := e.newTenant(t, "acme", "")
	for _, rt := range api.RouteTable() {
		method, path, _ := strings.Cut(rt, " ")
		if !strings.HasPrefix(path, "/api/v1/bot/") {
			continue
		}
		t.Run(rt, func(t *testing.T) {
			path = strings.ReplaceAll(path, "{number}", "1")
			var body any
			if method == "POST" {
				body = map[string]any{"files": map[string]string{"bot.yaml": botYAML}}
			}
			wantError(t, e.do(t, method, path, tn.key, body), http.StatusServiceUnavailable, "unavailable", "")
		})
	}
	if _, err := api.New(api.Config{BotStore: e.store}, e.svc, e.store, e.shared, e.shared); err == nil {
		t.Error("a config with a bot store and no engine is accepted")
	}
}

// TestBotOpenAPI checks the bot routes' real responses, and the requests
// of a client that follows it, against the description.
func TestBotOpenAPI(t *testing.T) {
	t.Parallel()
	e := newBotEnv(t, true)
	_, router := loadSpec(t, e)
	none := newBotEnv(t, false)
	tn := e.newTenant(t, "acme", "")
	nt := none.newTenant(t, "acme", "")
	k := tn.key
	files := map[string]string{"bot.yaml": botYAML, "flows.yaml": botFlowYAML}
	bad := map[string]string{"bot.yaml": strings.Replace(botYAML, "    response: pay\n", "    respose: pay\n", 1)}

	t.Run("train YAML", func(t *testing.T) {
		checkRaw(t, router, e, "/api/v1/bot/versions?activate=true&note=yaml", k, botYAML, http.StatusCreated)
	})
	t.Run("eval YAML", func(t *testing.T) {
		checkRaw(t, router, e, "/api/v1/bot/eval?folds=2", k, botYAML, http.StatusOK)
	})
	t.Run("bad YAML", func(t *testing.T) {
		checkRaw(t, router, e, "/api/v1/bot/versions", k, bad["bot.yaml"], http.StatusBadRequest)
	})
	for _, x := range []exchange{
		{name: "train", method: "POST", path: "/api/v1/bot/versions", key: k, status: 201, validRequest: true, body: map[string]any{"files": files, "note": "json"}},
		{name: "train bad", method: "POST", path: "/api/v1/bot/versions", key: k, status: 400, validRequest: true, body: map[string]any{"files": bad, "activate": true}},
		{name: "train unknown field", method: "POST", path: "/api/v1/bot/versions", key: k, status: 400, body: map[string]any{"files": files, "x": 1}},
		{name: "train too large", method: "POST", path: "/api/v1/bot/versions", key: k, status: 413, body: map[string]any{"files": map[string]string{"bot.yaml": strings.Repeat("#", 9<<20)}}},
		{name: "train without engine", method: "POST", path: "/api/v1/bot/versions", key: nt.key, status: 503, validRequest: true, body: map[string]any{"files": files}, env: none},
		{name: "eval", method: "POST", path: "/api/v1/bot/eval", key: k, status: 200, validRequest: true, body: map[string]any{"files": files, "folds": 2}},
		{name: "eval bad", method: "POST", path: "/api/v1/bot/eval", key: k, status: 400, validRequest: true, body: map[string]any{"files": bad}},
		{name: "list", method: "GET", path: "/api/v1/bot/versions", key: k, status: 200, validRequest: true},
		{name: "list without key", method: "GET", path: "/api/v1/bot/versions", status: 401},
		{name: "get", method: "GET", path: "/api/v1/bot/versions/1", key: k, status: 200, validRequest: true},
		{name: "get missing", method: "GET", path: "/api/v1/bot/versions/99", key: k, status: 404, validRequest: true},
		{name: "activate", method: "POST", path: "/api/v1/bot/versions/2/activate", key: k, status: 200, validRequest: true},
		{name: "activate missing", method: "POST", path: "/api/v1/bot/versions/99/activate", key: k, status: 404, validRequest: true},
		{name: "rollback", method: "POST", path: "/api/v1/bot/rollback", key: k, status: 200, validRequest: true},
		{name: "rollback without engine", method: "POST", path: "/api/v1/bot/rollback", key: nt.key, status: 503, validRequest: true, env: none},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
	t.Run("rollback conflict", func(t *testing.T) {
		other := e.newTenant(t, "globex", "")
		checkExchange(t, router, exchange{method: "POST", path: "/api/v1/bot/rollback", key: other.key, status: 409, validRequest: true, env: e})
	})
}

// checkRaw posts a raw YAML definition and validates the request and the
// response against the description.
func checkRaw(t *testing.T, router routers.Router, e *env, path, key, yaml string, status int) {
	t.Helper()
	checkRawBody(t, router, e, "POST", path, key, "application/yaml", yaml, status)
}

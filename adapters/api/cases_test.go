package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/adapters/api"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// clock is a settable clock for the case service.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// caseBase is when the test's cases are filed: a Monday long past, so that
// their terms have ended by the real clock that overdue=true reads.
var caseBase = time.Date(2020, time.March, 9, 10, 0, 0, 0, time.UTC)

// newCaseEnv is newEnv with the case service on the same store, filing at
// the returned clock; without service, the API has none.
func newCaseEnv(t *testing.T, service bool) (*env, *clock) {
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
	clk := &clock{now: caseBase}
	cfg := api.Config{MaxBodyBytes: bodyLimit}
	if service {
		cfg.Cases, cfg.CaseStore = handoff.NewCases(store, handoff.CasesConfig{Now: clk.Now, Policies: store}), store
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
	return e, clk
}

// fileCase files a case through the API at the clock's time t.
func fileCase(t *testing.T, e *env, clk *clock, at time.Time, key string, body map[string]any) handoff.Case {
	t.Helper()
	clk.set(at)
	return decode[handoff.Case](t, e.do(t, "POST", "/api/v1/cases", key, body), http.StatusCreated)
}

func caseIDs(cs []handoff.Case) []int64 { return ids(cs, func(c handoff.Case) int64 { return c.ID }) }

func casePath(id int64, suffix string) string { return fmt.Sprintf("/api/v1/cases/%d%s", id, suffix) }

func TestCases(t *testing.T) {
	t.Parallel()
	e, clk := newCaseEnv(t, true)
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "globex", "")
	k := tn.key
	ana := e.ingest(t, tn, "ana", "m-1", "hola").Conversation
	bob := e.ingest(t, tn, "bob", "m-2", "hola").Conversation
	eve := e.ingest(t, other, "eve", "m-3", "hola").Conversation
	day := func(n int) time.Time { return caseBase.AddDate(0, 0, n) }

	// c1 to c5 are filed on consecutive days from caseBase; c6 now, so
	// that its term has not ended.
	c1 := fileCase(t, e, clk, day(0), k, map[string]any{
		"type": "queja", "contact_id": ana.ContactID, "conversation_id": ana.ID, "subject": "Pedido incompleto",
		"description": "Llegó sin la tapa", "fields": map[string]string{"pedido": "A-77"},
	})
	t.Run("create", func(t *testing.T) {
		if c1.Radicado != "PQR-2020-000001" || c1.Type != handoff.Queja || c1.Status != handoff.Radicado || c1.TenantID != tn.ID ||
			c1.ContactID != ana.ContactID || c1.ConversationID != ana.ID || c1.Channel != string(ana.Channel) ||
			c1.TermDays != 15 || c1.Fields["pedido"] != "A-77" || !c1.FiledAt.Equal(caseBase) || !c1.Due.After(caseBase) {
			t.Fatalf("filed %+v", c1)
		}
		evs := decode[page[handoff.CaseEvent]](t, e.do(t, "GET", casePath(c1.ID, "/history"), k, nil), http.StatusOK).Data
		if len(evs) != 1 || evs[0].Kind != "filed" || evs[0].Actor != "api:"+tn.keyID {
			t.Fatalf("history of a new case: %+v", evs)
		}
	})
	c2 := fileCase(t, e, clk, day(1), k, map[string]any{
		"type": "reclamo", "contact_id": bob.ContactID, "channel": "whatsapp", "subject": `=HYPERLINK("http://x")`,
		"description": "Cobro \"doble\", otra vez\nsegunda línea",
	})
	c3 := fileCase(t, e, clk, day(2), k, map[string]any{"type": "peticion", "contact_id": ana.ContactID, "channel": "webchat", "description": "Copia del contrato"})
	c4 := fileCase(t, e, clk, day(3), k, map[string]any{"type": "informacion", "contact_id": bob.ContactID, "description": "Horario"})
	c5 := fileCase(t, e, clk, day(4), k, map[string]any{"type": "consulta", "contact_id": ana.ContactID, "channel": "whatsapp", "description": "Tarifas"})
	c6 := fileCase(t, e, clk, time.Now(), k, map[string]any{"type": "queja", "contact_id": ana.ContactID, "channel": "webchat", "description": "Demora"})
	theirs := fileCase(t, e, clk, day(0), other.key, map[string]any{"type": "queja", "contact_id": eve.ContactID, "description": "De otro"})
	clk.set(day(5))
	decode[handoff.Case](t, e.do(t, "POST", casePath(c5.ID, "/transition"), k, map[string]any{"status": "resuelto"}), http.StatusOK)

	t.Run("create refused", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
			field  string
		}{
			{"unknown type", map[string]any{"type": "grito", "contact_id": ana.ContactID, "description": "x"}, 400, "type"},
			{"no type", map[string]any{"contact_id": ana.ContactID, "description": "x"}, 400, "type"},
			{"no description", map[string]any{"type": "queja", "contact_id": ana.ContactID}, 400, "description"},
			{"blank description", map[string]any{"type": "queja", "contact_id": ana.ContactID, "description": "  "}, 400, "description"},
			{"no contact", map[string]any{"type": "queja", "description": "x"}, 400, "contact_id"},
			{"another tenant's contact", map[string]any{"type": "queja", "contact_id": eve.ContactID, "description": "x"}, 400, "contact_id"},
			{"another tenant's conversation", map[string]any{"type": "queja", "contact_id": ana.ContactID, "conversation_id": eve.ID, "description": "x"}, 400, "conversation_id"},
			{"another contact's conversation", map[string]any{"type": "queja", "contact_id": ana.ContactID, "conversation_id": bob.ID, "description": "x"}, 400, "conversation_id"},
			{"unknown field", map[string]any{"type": "queja", "contact_id": ana.ContactID, "description": "x", "prioridad": "alta"}, 400, "prioridad"},
			{"wrong type of field", map[string]any{"type": "queja", "contact_id": "ana", "description": "x"}, 400, "contact_id"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, e.do(t, "POST", "/api/v1/cases", k, tc.body), tc.status, "invalid", tc.field)
			})
		}
		if got := decode[page[handoff.Case]](t, e.do(t, "GET", "/api/v1/cases", k, nil), http.StatusOK).Data; len(got) != 6 {
			t.Fatalf("refused filings stored cases: %d cases", len(got))
		}
	})

	t.Run("get", func(t *testing.T) {
		got := decode[handoff.Case](t, e.do(t, "GET", casePath(c2.ID, ""), k, nil), http.StatusOK)
		if got.ID != c2.ID || got.Radicado != "PQR-2020-000002" || got.Subject != c2.Subject || got.Description != c2.Description {
			t.Fatalf("got %+v, want %+v", got, c2)
		}
		wantError(t, e.do(t, "GET", casePath(c6.ID+100, ""), k, nil), 404, "not_found", "")
		wantError(t, e.do(t, "GET", "/api/v1/cases/abc", k, nil), 404, "not_found", "")
	})

	t.Run("list", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []handoff.Case
		}{
			{"", []handoff.Case{c6, c5, c4, c3, c2, c1}},
			{"status=radicado", []handoff.Case{c6, c4, c3, c2, c1}},
			{"status=resuelto,en_tramite", []handoff.Case{c5}},
			{"status=resuelto&status=radicado&type=consulta", []handoff.Case{c5}},
			{"type=queja", []handoff.Case{c6, c1}},
			{"type=queja,reclamo", []handoff.Case{c6, c2, c1}},
			{"channel=whatsapp", []handoff.Case{c5, c2}},
			{"contact_id=" + strconv.FormatInt(bob.ContactID, 10), []handoff.Case{c4, c2}},
			{"filed_from=2020-03-10&filed_to=2020-03-12", []handoff.Case{c4, c3, c2}},
			{"filed_from=" + url.QueryEscape(day(3).Format(time.RFC3339)), []handoff.Case{c6, c5, c4}},
			{"filed_to=" + url.QueryEscape(day(1).Format(time.RFC3339)), []handoff.Case{c1}},
			{"overdue=true", []handoff.Case{c4, c3, c2, c1}},
			{"overdue=true&contact_id=" + strconv.FormatInt(ana.ContactID, 10) + "&type=peticion", []handoff.Case{c3}},
			{"overdue=false", []handoff.Case{c6, c5, c4, c3, c2, c1}},
			{"channel=email", nil},
			{"radicado=PQR-2020-000003", []handoff.Case{c3}},
			{"radicado=PQR-2020-000001", []handoff.Case{c1}}, // not globex's of the same number
			{"radicado=PQR-2020-000003&status=resuelto", nil},
			{"radicado=PQR-2020-000099", nil},
		} {
			t.Run(tc.query, func(t *testing.T) {
				pg := decode[page[handoff.Case]](t, e.do(t, "GET", "/api/v1/cases?"+tc.query, k, nil), http.StatusOK)
				if got, want := caseIDs(pg.Data), caseIDs(tc.want); !slices.Equal(got, want) || pg.NextCursor != "" {
					t.Fatalf("cases %v (next %q), want %v", got, pg.NextCursor, want)
				}
			})
		}
	})

	t.Run("pages", func(t *testing.T) {
		pages := walk[handoff.Case](t, e, k, "/api/v1/cases?type=queja,reclamo,peticion,informacion,consulta", 2)
		var all []int64
		for _, p := range pages {
			all = append(all, caseIDs(p)...)
		}
		if want := caseIDs([]handoff.Case{c6, c5, c4, c3, c2, c1}); !slices.Equal(all, want) || len(pages[0]) != 2 {
			t.Fatalf("pages of 2: %v, want %v", all, want)
		}
		pages = walk[handoff.Case](t, e, k, "/api/v1/cases?overdue=true", 3)
		if len(pages) != 2 || !slices.Equal(caseIDs(pages[0]), caseIDs([]handoff.Case{c4, c3, c2})) || !slices.Equal(caseIDs(pages[1]), []int64{c1.ID}) {
			t.Fatalf("overdue pages of 3: %v", pages)
		}
	})

	t.Run("list refused", func(t *testing.T) {
		for _, tc := range []struct{ query, field string }{
			{"filed_from=2020-13-01", "filed_from"},
			{"filed_to=yesterday", "filed_to"},
			{"filed_from=2020-03-09T10:00:00", "filed_from"},
			{"status=abierto", "status"},
			{"type=grito", "type"},
			{"overdue=maybe", "overdue"},
			{"contact_id=-1", "contact_id"},
			{"limit=1000", "limit"},
			{"cursor=garbage!", "cursor"},
		} {
			t.Run(tc.query, func(t *testing.T) {
				wantError(t, e.do(t, "GET", "/api/v1/cases?"+tc.query, k, nil), 400, "invalid", tc.field)
				wantError(t, e.do(t, "GET", "/api/v1/cases/export.csv?"+tc.query, k, nil), 400, "invalid", tc.field)
			})
		}
	})

	t.Run("transition", func(t *testing.T) {
		got := decode[handoff.Case](t, e.do(t, "POST", casePath(c1.ID, "/transition"), k, map[string]any{"status": "en_tramite", "note": "Revisando"}), http.StatusOK)
		if got.Status != handoff.EnTramite || got.Version != 2 {
			t.Fatalf("after the move: %+v", got)
		}
		eb := wantError(t, e.do(t, "POST", casePath(c1.ID, "/transition"), k, map[string]any{"status": "cerrado"}), 409, "conflict", "")
		if !strings.Contains(eb.Error.Message, "escalado, resuelto") {
			t.Fatalf("the conflict does not name the allowed statuses: %q", eb.Error.Message)
		}
		wantError(t, e.do(t, "POST", casePath(c1.ID, "/transition"), k, map[string]any{"status": "abierto"}), 400, "invalid", "status")
		wantError(t, e.do(t, "POST", casePath(c1.ID, "/transition"), k, map[string]any{"note": "x"}), 400, "invalid", "status")
		wantError(t, e.do(t, "POST", casePath(c1.ID, "/transition"), k, map[string]any{"status": "resuelto", "x": 1}), 400, "invalid", "x")
		wantError(t, e.do(t, "POST", casePath(c6.ID+100, "/transition"), k, map[string]any{"status": "resuelto"}), 404, "not_found", "")

		evs := decode[page[handoff.CaseEvent]](t, e.do(t, "GET", casePath(c1.ID, "/history"), k, nil), http.StatusOK).Data
		if len(evs) != 2 || evs[1].Kind != "status" || evs[1].From != handoff.Radicado || evs[1].To != handoff.EnTramite ||
			evs[1].Note != "Revisando" || evs[1].Actor != "api:"+tn.keyID || !evs[1].CreatedAt.Equal(day(5)) {
			t.Fatalf("history: %+v", evs)
		}
	})

	t.Run("extend", func(t *testing.T) {
		wantError(t, e.do(t, "POST", casePath(c3.ID, "/extend"), k, map[string]any{"days": 0, "reason": "x"}), 400, "invalid", "days")
		wantError(t, e.do(t, "POST", casePath(c3.ID, "/extend"), k, map[string]any{"days": 16, "reason": "x"}), 400, "invalid", "days")
		wantError(t, e.do(t, "POST", casePath(c3.ID, "/extend"), k, map[string]any{"days": 5}), 400, "invalid", "reason")
		got := decode[handoff.Case](t, e.do(t, "POST", casePath(c3.ID, "/extend"), k, map[string]any{"days": 5, "reason": "Falta un concepto"}), http.StatusOK)
		if got.ExtendedDays != 5 || got.ExtensionNote != "Falta un concepto" || !got.Due.After(c3.Due) {
			t.Fatalf("extended: %+v, was due %v", got, c3.Due)
		}
		wantError(t, e.do(t, "POST", casePath(c3.ID, "/extend"), k, map[string]any{"days": 5, "reason": "otra vez"}), 409, "conflict", "")
		wantError(t, e.do(t, "POST", casePath(c5.ID, "/extend"), k, map[string]any{"days": 5, "reason": "resuelto ya"}), 409, "conflict", "")
		evs := decode[page[handoff.CaseEvent]](t, e.do(t, "GET", casePath(c3.ID, "/history"), k, nil), http.StatusOK).Data
		if len(evs) != 2 || evs[1].Kind != "extended" || evs[1].Actor != "api:"+tn.keyID {
			t.Fatalf("history: %+v", evs)
		}
	})

	t.Run("export", func(t *testing.T) {
		rows := exportCSV(t, e, k, "")
		if !slices.Equal(rows[0], []string{"radicado", "type", "status", "channel", "contact_id", "filed_at", "due", "extended_days", "subject", "description"}) {
			t.Fatalf("header %q", rows[0])
		}
		listed := decode[page[handoff.Case]](t, e.do(t, "GET", "/api/v1/cases", k, nil), http.StatusOK).Data
		if len(rows) != len(listed)+1 {
			t.Fatalf("%d rows, want a header and %d cases", len(rows), len(listed))
		}
		for i, c := range listed {
			row := rows[i+1]
			filed, err1 := time.Parse(time.RFC3339, row[5])
			due, err2 := time.Parse(time.RFC3339, row[6])
			subject := c.Subject
			if c.ID == c2.ID {
				subject = "'" + subject // not a formula
			}
			if row[0] != c.Radicado || row[1] != string(c.Type) || row[2] != string(c.Status) || row[3] != c.Channel ||
				row[4] != strconv.FormatInt(c.ContactID, 10) || err1 != nil || !filed.Equal(c.FiledAt.Truncate(time.Second)) ||
				err2 != nil || !due.Equal(c.Due.Truncate(time.Second)) || row[7] != strconv.Itoa(c.ExtendedDays) ||
				row[8] != subject || row[9] != c.Description {
				t.Errorf("row %d: %q, want case %+v", i+1, row, c)
			}
		}
		rows = exportCSV(t, e, k, "?type=reclamo&overdue=true")
		if len(rows) != 2 || rows[1][0] != c2.Radicado || rows[1][9] != "Cobro \"doble\", otra vez\nsegunda línea" {
			t.Fatalf("filtered export: %q", rows)
		}
		if rows = exportCSV(t, e, k, "?radicado="+c4.Radicado); len(rows) != 2 || rows[1][0] != c4.Radicado {
			t.Fatalf("export of one filing number: %q", rows)
		}
		if rows = exportCSV(t, e, k, "?channel=email"); len(rows) != 1 {
			t.Fatalf("empty export: %q", rows)
		}
	})

	t.Run("tenant isolation", func(t *testing.T) {
		ok := other.key
		for _, r := range []response{
			e.do(t, "GET", casePath(c1.ID, ""), ok, nil),
			e.do(t, "GET", casePath(c1.ID, "/history"), ok, nil),
			e.do(t, "POST", casePath(c1.ID, "/transition"), ok, map[string]any{"status": "resuelto"}),
			e.do(t, "POST", casePath(c1.ID, "/extend"), ok, map[string]any{"days": 1, "reason": "x"}),
		} {
			wantError(t, r, 404, "not_found", "")
		}
		got := decode[page[handoff.Case]](t, e.do(t, "GET", "/api/v1/cases", ok, nil), http.StatusOK).Data
		if !slices.Equal(caseIDs(got), []int64{theirs.ID}) {
			t.Fatalf("globex lists %v, want only its case %d", caseIDs(got), theirs.ID)
		}
		if got := decode[page[handoff.Case]](t, e.do(t, "GET", "/api/v1/cases?radicado="+c2.Radicado, ok, nil), http.StatusOK).Data; len(got) != 0 {
			t.Fatalf("globex finds acme's %s: %+v", c2.Radicado, got)
		}
		if rows := exportCSV(t, e, ok, ""); len(rows) != 2 || rows[1][0] != theirs.Radicado {
			t.Fatalf("globex exports %q", rows)
		}
		wantError(t, e.do(t, "GET", "/api/v1/cases", "", nil), 401, "unauthorized", "")
	})
}

// exportCSV fetches an export and parses it.
func exportCSV(t *testing.T, e *env, key, query string) [][]string {
	t.Helper()
	r := e.do(t, "GET", "/api/v1/cases/export.csv"+query, key, nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("export: status %d, Content-Type %q: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatalf("parse the export: %v\n%s", err, r.body)
	}
	return rows
}

// TestCasesUnavailable checks the case routes of a server without a case
// service.
func TestCasesUnavailable(t *testing.T) {
	t.Parallel()
	e, _ := newCaseEnv(t, false)
	tn := e.newTenant(t, "acme", "")
	for _, rt := range api.RouteTable() {
		method, path, _ := strings.Cut(rt, " ")
		if !strings.HasPrefix(path, "/api/v1/cases") {
			continue
		}
		t.Run(rt, func(t *testing.T) {
			var body any
			if method == "POST" {
				body = map[string]any{}
			}
			wantError(t, e.do(t, method, strings.ReplaceAll(path, "{id}", "1"), tn.key, body), http.StatusServiceUnavailable, "unavailable", "")
		})
	}
	if _, err := api.New(api.Config{CaseStore: e.store}, e.svc, e.store, e.shared, e.shared); err == nil {
		t.Error("a config with a case store and no case service is accepted")
	}
}

// TestCasesOpenAPI checks the case routes' real responses, and the
// requests of a client that follows it, against the description.
func TestCasesOpenAPI(t *testing.T) {
	t.Parallel()
	e, clk := newCaseEnv(t, true)
	_, router := loadSpec(t, e)
	none, _ := newCaseEnv(t, false)
	tn := e.newTenant(t, "acme", "")
	nt := none.newTenant(t, "acme", "")
	k := tn.key
	conv := e.ingest(t, tn, "ana", "m-1", "hola").Conversation
	c := fileCase(t, e, clk, caseBase, k, map[string]any{"type": "queja", "contact_id": conv.ContactID, "conversation_id": conv.ID,
		"description": "Llegó incompleto", "fields": map[string]string{"pedido": "A-77"}})
	fileCase(t, e, clk, caseBase, k, map[string]any{"type": "reclamo", "contact_id": conv.ContactID, "description": "Cobro doble"})
	for _, x := range []exchange{
		{name: "create", method: "POST", path: "/api/v1/cases", key: k, status: 201, validRequest: true,
			body: map[string]any{"type": "peticion", "contact_id": conv.ContactID, "conversation_id": conv.ID, "channel": "api",
				"subject": "Copia", "description": "Del contrato", "fields": map[string]string{"documento": "CC 1"}}},
		{name: "create invalid", method: "POST", path: "/api/v1/cases", key: k, status: 400, body: map[string]any{"type": "grito", "contact_id": conv.ContactID, "description": "x"}},
		{name: "create without service", method: "POST", path: "/api/v1/cases", key: nt.key, status: 503, env: none, validRequest: true,
			body: map[string]any{"type": "queja", "contact_id": 1, "description": "x"}},
		{name: "list", method: "GET", path: "/api/v1/cases?status=radicado&type=queja&type=reclamo&overdue=true&filed_from=2020-01-01&filed_to=" + url.QueryEscape("2030-01-01T00:00:00Z"), key: k, status: 200, validRequest: true},
		{name: "list page", method: "GET", path: "/api/v1/cases?limit=1", key: k, status: 200, validRequest: true},
		{name: "list radicado", method: "GET", path: "/api/v1/cases?radicado=" + c.Radicado, key: k, status: 200, validRequest: true},
		{name: "list bad date", method: "GET", path: "/api/v1/cases?filed_from=ayer", key: k, status: 400, validRequest: true},
		{name: "list without key", method: "GET", path: "/api/v1/cases", status: 401},
		{name: "get", method: "GET", path: casePath(c.ID, ""), key: k, status: 200, validRequest: true},
		{name: "get missing", method: "GET", path: casePath(c.ID+100, ""), key: k, status: 404, validRequest: true},
		{name: "transition", method: "POST", path: casePath(c.ID, "/transition"), key: k, status: 200, validRequest: true, body: map[string]any{"status": "en_tramite", "note": "Revisando"}},
		{name: "transition not allowed", method: "POST", path: casePath(c.ID, "/transition"), key: k, status: 409, validRequest: true, body: map[string]any{"status": "cerrado"}},
		{name: "extend", method: "POST", path: casePath(c.ID, "/extend"), key: k, status: 200, validRequest: true, body: map[string]any{"days": 3, "reason": "Visita técnica"}},
		{name: "extend again", method: "POST", path: casePath(c.ID, "/extend"), key: k, status: 409, validRequest: true, body: map[string]any{"days": 3, "reason": "Otra"}},
		{name: "extend bad", method: "POST", path: casePath(c.ID, "/extend"), key: k, status: 400, body: map[string]any{"days": 0, "reason": "x"}},
		{name: "history", method: "GET", path: casePath(c.ID, "/history"), key: k, status: 200, validRequest: true},
		{name: "history missing", method: "GET", path: casePath(c.ID+100, "/history"), key: k, status: 404, validRequest: true},
		{name: "export bad", method: "GET", path: "/api/v1/cases/export.csv?status=abierto", key: k, status: 400},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
	t.Run("export", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/api/v1/cases/export.csv?type=queja", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+k)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		validateResponse(t, router, req, resp.StatusCode, resp.Header, nil, true)
	})
}

// TestCasesExportPages checks that an export reads past the store's pages.
func TestCasesExportPages(t *testing.T) {
	t.Parallel()
	e, _ := newCaseEnv(t, true)
	tn := e.newTenant(t, "acme", "")
	const n = 1100
	for i := range n {
		c := &handoff.Case{TenantID: tn.ID, Type: handoff.Queja, Status: handoff.Radicado, ContactID: 1,
			Description: fmt.Sprint("caso ", i), TermDays: 15, Due: caseBase.AddDate(0, 1, 0), FiledAt: caseBase}
		if err := e.store.CreateCase(t.Context(), c, "PQR", handoff.CaseEvent{Kind: "filed", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	rows := exportCSV(t, e, tn.key, "")
	if len(rows) != n+1 {
		t.Fatalf("%d rows, want a header and %d cases", len(rows), n)
	}
	for i, row := range rows[1:] {
		if want := handoff.FormatRadicado("PQR", 2020, int64(n-i)); row[0] != want {
			t.Fatalf("row %d: %s, want %s", i+1, row[0], want)
		}
	}
}

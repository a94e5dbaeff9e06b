package api_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"conversa/adapters/api"
	"conversa/templates"
)

// tplYAML is a small valid template: an SMS of one segment at most, a
// WhatsApp text with its approved template, an email with HTML, and an
// English text for every channel.
const tplYAML = `purpose: case_resolved
description: The case was resolved.
variables:
  name: {sample: "Ana", required: true, description: The contact's first name}
  radicado: {sample: "PQR-2026-000123", required: true}
  answer: {sample: "Reembolsamos el valor."}
variants:
  - channel: sms
    language: es
    max_segments: 1
    text: "{{.name}}, su caso {{.radicado}} fue resuelto. {{default \"Vea el sitio.\" .answer}}"
  - channel: whatsapp
    language: es
    text: "Hola {{.name}}, tu caso {{.radicado}} fue resuelto."
    content_sid: HXb5b62575e6e4ff6129ad7c8efe1f983e
    content_variables: [name, radicado]
  - channel: email
    language: es
    subject: "Tu caso {{.radicado}}"
    text: "Hola {{.name}}: tu caso fue resuelto."
    html: "<p>Hola {{.name}}</p>{{with .answer}}<blockquote>{{.}}</blockquote>{{end}}"
  - channel: default
    language: en
    text: "Hi {{.name}}, your case {{.radicado}} was resolved."
`

// surveyYAML is a template with only an SMS variant.
const surveyYAML = `purpose: survey
variables:
  name: {sample: "Ana"}
variants:
  - channel: sms
    language: es
    text: "{{default \"Hola\" .name}}, califique nuestra atencion de 1 a 5."
`

// Wire shapes of the template routes, as a client reads them.
type (
	tplVersion struct {
		Purpose   string    `json:"purpose"`
		Version   int64     `json:"version"`
		Checksum  string    `json:"checksum"`
		CreatedAt time.Time `json:"created_at"`
	}
	tplDetail struct {
		tplVersion
		Source     string `json:"source"`
		Definition struct {
			Purpose     string `json:"purpose"`
			Description string `json:"description"`
			Variables   map[string]struct {
				Sample   string `json:"sample"`
				Required bool   `json:"required"`
			} `json:"variables"`
			Variants []struct {
				Channel          string   `json:"channel"`
				Language         string   `json:"language"`
				Text             string   `json:"text"`
				HTML             string   `json:"html"`
				ContentSid       string   `json:"content_sid"`
				ContentVariables []string `json:"content_variables"`
				MaxSegments      int      `json:"max_segments"`
			} `json:"variants"`
		} `json:"definition"`
	}
	tplPreview struct {
		Purpose          string   `json:"purpose"`
		Version          int64    `json:"version"`
		Channel          string   `json:"channel"`
		Language         string   `json:"language"`
		Variant          string   `json:"variant"`
		VariantIndex     int      `json:"variant_index"`
		Subject          string   `json:"subject"`
		Text             string   `json:"text"`
		HTML             string   `json:"html"`
		ContentSid       string   `json:"content_sid"`
		ContentVariables []string `json:"content_variables"`
		SMS              *struct {
			Encoding string `json:"encoding"`
			Units    int    `json:"units"`
			Segments int    `json:"segments"`
		} `json:"sms"`
	}
	tplProblem struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
		Field   string `json:"field"`
		Message string `json:"message"`
	}
	tplProblemBody struct {
		Error struct {
			Code     string       `json:"code"`
			Message  string       `json:"message"`
			Field    string       `json:"field"`
			Problems []tplProblem `json:"problems"`
		} `json:"error"`
	}
)

// templateEnv is an API with the template service on its store.
func templateEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, envOptions{templates: true})
}

// putTemplate sends a definition as the raw body of PUT.
func (e *env) putTemplate(t *testing.T, key, purpose, contentType, src string) response {
	t.Helper()
	return e.do(t, "PUT", "/api/v1/templates/"+purpose, key, rawBody(src), "Content-Type", contentType)
}

func tplPath(purpose, rest string) string { return "/api/v1/templates/" + purpose + rest }

func versionsOf(t *testing.T, e *env, key, purpose string) []int64 {
	t.Helper()
	pg := decode[page[tplVersion]](t, e.do(t, "GET", tplPath(purpose, "/versions"), key, nil), http.StatusOK)
	return ids(pg.Data, func(v tplVersion) int64 { return v.Version })
}

func checksum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestTemplates saves, reads, lists, deletes and saves again a template
// through every route.
func TestTemplates(t *testing.T) {
	t.Parallel()
	e := templateEnv(t)
	tn := e.newTenant(t, "acme", "")
	k := tn.key
	v2src := strings.Replace(tplYAML, "The case was resolved.", "The customer's case was resolved.", 1)

	t.Run("a new template is version 1", func(t *testing.T) {
		start := time.Now().Add(-time.Second)
		v := decode[tplVersion](t, e.putTemplate(t, k, "case_resolved", "application/yaml", tplYAML), http.StatusCreated)
		if v.Purpose != "case_resolved" || v.Version != 1 || v.Checksum != checksum(tplYAML) || v.CreatedAt.Before(start) {
			t.Fatalf("saved %+v", v)
		}
	})
	t.Run("the same file again changes nothing", func(t *testing.T) {
		for _, ct := range []string{"text/plain", "text/yaml; charset=utf-8", "application/x-yaml"} {
			v := decode[tplVersion](t, e.putTemplate(t, k, "case_resolved", ct, tplYAML), http.StatusOK)
			if v.Version != 1 || v.Checksum != checksum(tplYAML) {
				t.Fatalf("%s: saved again %+v, want version 1", ct, v)
			}
		}
		v := decode[tplVersion](t, e.do(t, "PUT", tplPath("case_resolved", ""), k, map[string]any{"source": tplYAML}), http.StatusOK)
		if v.Version != 1 {
			t.Fatalf("JSON saved again %+v, want version 1", v)
		}
	})
	t.Run("a change is version 2", func(t *testing.T) {
		v := decode[tplVersion](t, e.do(t, "PUT", tplPath("case_resolved", ""), k, map[string]any{"source": v2src}), http.StatusCreated)
		if v.Version != 2 || v.Checksum != checksum(v2src) {
			t.Fatalf("saved %+v, want version 2", v)
		}
		decode[tplVersion](t, e.putTemplate(t, k, "survey", "application/yaml", surveyYAML), http.StatusCreated)
	})
	t.Run("get the latest with its definition", func(t *testing.T) {
		d := decode[tplDetail](t, e.do(t, "GET", tplPath("case_resolved", ""), k, nil), http.StatusOK)
		if d.Version != 2 || d.Source != v2src || d.Checksum != checksum(v2src) || d.Purpose != "case_resolved" {
			t.Fatalf("got %+v", d.tplVersion)
		}
		def := d.Definition
		if def.Purpose != "case_resolved" || def.Description != "The customer's case was resolved." || len(def.Variables) != 3 ||
			!def.Variables["name"].Required || def.Variables["name"].Sample != "Ana" || def.Variables["answer"].Required {
			t.Fatalf("definition %+v", def)
		}
		if len(def.Variants) != 4 || def.Variants[0].Channel != "sms" || def.Variants[0].MaxSegments != 1 ||
			def.Variants[1].ContentSid != "HXb5b62575e6e4ff6129ad7c8efe1f983e" || !slices.Equal(def.Variants[1].ContentVariables, []string{"name", "radicado"}) ||
			def.Variants[3].Channel != "default" || def.Variants[3].Language != "en" || !strings.Contains(def.Variants[2].HTML, "<blockquote>") {
			t.Fatalf("variants %+v", def.Variants)
		}
	})
	t.Run("list the latest of each, without sources", func(t *testing.T) {
		r := e.do(t, "GET", "/api/v1/templates", k, nil)
		pg := decode[page[tplVersion]](t, r, http.StatusOK)
		got := make([]string, len(pg.Data))
		for i, v := range pg.Data {
			got[i] = fmt.Sprintf("%s/%d", v.Purpose, v.Version)
		}
		if !slices.Equal(got, []string{"case_resolved/2", "survey/1"}) {
			t.Fatalf("listed %v", got)
		}
		if strings.Contains(string(r.body), "source") || strings.Contains(string(r.body), "variants") {
			t.Fatalf("the list shows definitions: %s", r.body)
		}
	})
	t.Run("versions", func(t *testing.T) {
		if got := versionsOf(t, e, k, "case_resolved"); !slices.Equal(got, []int64{2, 1}) {
			t.Fatalf("versions %v, want [2 1]", got)
		}
		d := decode[tplDetail](t, e.do(t, "GET", tplPath("case_resolved", "/versions/1"), k, nil), http.StatusOK)
		if d.Version != 1 || d.Source != tplYAML || d.Definition.Description != "The case was resolved." {
			t.Fatalf("version 1: %+v %q", d.tplVersion, d.Definition.Description)
		}
		for _, n := range []string{"3", "0", "-1", "one", "99999999999999999999"} {
			wantError(t, e.do(t, "GET", tplPath("case_resolved", "/versions/"+n), k, nil), http.StatusNotFound, "not_found", "")
		}
		wantError(t, e.do(t, "GET", tplPath("nothing", "/versions"), k, nil), http.StatusNotFound, "not_found", "")
		wantError(t, e.do(t, "GET", tplPath("nothing", ""), k, nil), http.StatusNotFound, "not_found", "")
	})
	t.Run("delete, then save again", func(t *testing.T) {
		r := e.do(t, "DELETE", tplPath("case_resolved", ""), k, nil)
		if r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		wantError(t, e.do(t, "GET", tplPath("case_resolved", ""), k, nil), http.StatusNotFound, "not_found", "")
		wantError(t, e.do(t, "DELETE", tplPath("case_resolved", ""), k, nil), http.StatusNotFound, "not_found", "")
		wantError(t, e.do(t, "POST", tplPath("case_resolved", "/preview"), k, map[string]any{"channel": "sms"}), http.StatusNotFound, "not_found", "")
		pg := decode[page[tplVersion]](t, e.do(t, "GET", "/api/v1/templates", k, nil), http.StatusOK)
		if len(pg.Data) != 1 || pg.Data[0].Purpose != "survey" {
			t.Fatalf("listed after delete: %+v", pg.Data)
		}
		// The versions stay readable.
		if got := versionsOf(t, e, k, "case_resolved"); !slices.Equal(got, []int64{2, 1}) {
			t.Fatalf("versions after delete %v", got)
		}
		decode[tplDetail](t, e.do(t, "GET", tplPath("case_resolved", "/versions/2"), k, nil), http.StatusOK)
		// The same file as the last version is a new version now.
		v := decode[tplVersion](t, e.putTemplate(t, k, "case_resolved", "application/yaml", v2src), http.StatusCreated)
		if v.Version != 3 {
			t.Fatalf("saved after delete %+v, want version 3", v)
		}
		if got := versionsOf(t, e, k, "case_resolved"); !slices.Equal(got, []int64{3, 2, 1}) {
			t.Fatalf("versions %v", got)
		}
		if d := decode[tplDetail](t, e.do(t, "GET", tplPath("case_resolved", ""), k, nil), http.StatusOK); d.Version != 3 || d.Source != v2src {
			t.Fatalf("latest %+v", d.tplVersion)
		}
	})
}

// TestTemplateIsolation checks that a tenant sees nothing of another's
// templates, and numbers its own.
func TestTemplateIsolation(t *testing.T) {
	t.Parallel()
	e := templateEnv(t)
	acme := e.newTenant(t, "acme", "")
	globex := e.newTenant(t, "globex", "")
	decode[tplVersion](t, e.putTemplate(t, acme.key, "case_resolved", "application/yaml", tplYAML), http.StatusCreated)
	decode[tplVersion](t, e.putTemplate(t, acme.key, "case_resolved", "application/yaml", tplYAML+"# v2\n"), http.StatusCreated)

	for _, rt := range []struct{ method, path string }{
		{"GET", tplPath("case_resolved", "")},
		{"GET", tplPath("case_resolved", "/versions")},
		{"GET", tplPath("case_resolved", "/versions/1")},
		{"POST", tplPath("case_resolved", "/preview")},
		{"DELETE", tplPath("case_resolved", "")},
	} {
		var body any
		if rt.method == "POST" {
			body = map[string]any{"channel": "sms"}
		}
		wantError(t, e.do(t, rt.method, rt.path, globex.key, body), http.StatusNotFound, "not_found", "")
	}
	if pg := decode[page[tplVersion]](t, e.do(t, "GET", "/api/v1/templates", globex.key, nil), http.StatusOK); len(pg.Data) != 0 {
		t.Fatalf("globex lists %+v", pg.Data)
	}
	// Its own save is its version 1; acme's are untouched.
	if v := decode[tplVersion](t, e.putTemplate(t, globex.key, "case_resolved", "application/yaml", tplYAML), http.StatusCreated); v.Version != 1 {
		t.Fatalf("globex saved %+v, want version 1", v)
	}
	if got := versionsOf(t, e, acme.key, "case_resolved"); !slices.Equal(got, []int64{2, 1}) {
		t.Fatalf("acme's versions %v", got)
	}
}

// TestTemplateProblems sends bad definitions and bodies: each is refused
// naming what is wrong, and nothing is stored.
func TestTemplateProblems(t *testing.T) {
	t.Parallel()
	e := templateEnv(t)
	tn := e.newTenant(t, "acme", "")
	k := tn.key
	decode[tplVersion](t, e.putTemplate(t, k, "case_resolved", "application/yaml", tplYAML), http.StatusCreated)

	undeclared := strings.Replace(tplYAML, "Hola {{.name}}, tu caso", "Hola {{.nombre}}, tu caso", 1)
	unknownField := strings.Replace(undeclared, "    content_sid:", "    contentsid:", 1)
	undeclaredLine := lineOf(t, undeclared, "{{.nombre}}")
	undeclaredCol := strings.Index(strings.Split(undeclared, "\n")[undeclaredLine-1], "{{.nombre}}") + 1

	type want struct {
		field, message string
		line           int
	}
	for _, tc := range []struct {
		name string
		src  string
		want []want // each among the problems; line 0 is any
	}{
		{"undeclared variable", undeclared, []want{{"variants[1].text", "nombre", undeclaredLine}}},
		{"unknown field", unknownField, []want{{"variants[1].contentsid", "unknown field", lineOf(t, unknownField, "contentsid:")}}},
		{"not YAML", "purpose: [\n", []want{{"", "", 0}}},
		{"empty", "", []want{{"", "empty", 0}}},
		{"not UTF-8", "purpose: caf\xe9\n", []want{{"", "UTF-8", 0}}},
		{"SMS too long with the samples", strings.Replace(tplYAML, `"Reembolsamos el valor."`, `"`+strings.Repeat("valor ", 30)+`"`, 1),
			[]want{{"variants[0].text", "segment", 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(t *testing.T, r response) {
				t.Helper()
				eb := decode[tplProblemBody](t, r, http.StatusBadRequest)
				if eb.Error.Code != "invalid" || eb.Error.Message == "" || len(eb.Error.Problems) == 0 {
					t.Fatalf("error %+v", eb.Error)
				}
				for _, w := range tc.want {
					if !slices.ContainsFunc(eb.Error.Problems, func(p tplProblem) bool {
						return p.File == "case_resolved.yaml" && (w.line == 0 || p.Line == w.line) && (w.field == "" || p.Field == w.field) &&
							strings.Contains(p.Message, w.message)
					}) {
						t.Errorf("no problem like %+v among %+v", w, eb.Error.Problems)
					}
				}
			}
			check(t, e.putTemplate(t, k, "case_resolved", "application/yaml", tc.src))
			if utf8.ValidString(tc.src) { // JSON cannot carry the rest
				check(t, e.do(t, "PUT", tplPath("case_resolved", ""), k, map[string]any{"source": tc.src}))
			}
		})
	}
	t.Run("the column of an undeclared variable", func(t *testing.T) {
		eb := decode[tplProblemBody](t, e.putTemplate(t, k, "case_resolved", "text/plain", undeclared), http.StatusBadRequest)
		if p := eb.Error.Problems[0]; p.Line != undeclaredLine || p.Column < undeclaredCol || p.Column > undeclaredCol+len("{{.nombre}}") {
			t.Errorf("problem %+v, want line %d, column about %d", p, undeclaredLine, undeclaredCol)
		}
	})

	// A definition larger than the API's usual limit as JSON, within the
	// limit of definitions.
	quoted := tplYAML + "# " + strings.Repeat(`"`, 200<<10) + "\n"
	if b, _ := json.Marshal(map[string]string{"source": quoted}); len(b) <= bodyLimit || len(quoted) > templates.MaxSourceSize {
		t.Fatalf("the quoted definition is %d bytes, %d as JSON", len(quoted), len(b))
	}
	for _, tc := range []struct {
		name, path string
		body       any
		header     []string
		status     int
		field      string
	}{
		{"another purpose in the path", tplPath("survey", ""), rawBody(tplYAML), []string{"Content-Type", "application/yaml"}, 400, "purpose"},
		{"not a purpose in the path", tplPath("Case-Resolved", ""), rawBody(tplYAML), []string{"Content-Type", "application/yaml"}, 400, "purpose"},
		{"a form", tplPath("case_resolved", ""), rawBody(tplYAML), []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, ""},
		{"an unreadable content type", tplPath("case_resolved", ""), rawBody(tplYAML), []string{"Content-Type", "yaml;;"}, 400, ""},
		{"JSON without source", tplPath("case_resolved", ""), map[string]any{"src": tplYAML}, nil, 400, "src"},
		{"JSON with a null source", tplPath("case_resolved", ""), map[string]any{"source": nil}, nil, 400, "source"},
		{"JSON source not a string", tplPath("case_resolved", ""), map[string]any{"source": 1}, nil, 400, "source"},
		{"malformed JSON", tplPath("case_resolved", ""), rawBody(`{"source": "x"`), nil, 400, ""},
		{"a file over 256 KiB", tplPath("case_resolved", ""), rawBody(tplYAML + strings.Repeat("#\n", 128<<10)), []string{"Content-Type", "application/yaml"}, 413, "source"},
		{"a body over the limit", tplPath("case_resolved", ""), rawBody(strings.Repeat("#\n", 5<<20)), []string{"Content-Type", "application/yaml"}, 413, ""},
		{"JSON over the limit", tplPath("case_resolved", ""), map[string]any{"source": strings.Repeat("\"", 5<<20)}, nil, 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := map[int]string{400: "invalid", 413: "too_large"}[tc.status]
			wantError(t, e.do(t, "PUT", tc.path, k, tc.body, tc.header...), tc.status, code, tc.field)
		})
	}
	if got := versionsOf(t, e, k, "case_resolved"); !slices.Equal(got, []int64{1}) {
		t.Fatalf("versions %v after bad definitions, want [1]", got)
	}
	wantError(t, e.do(t, "GET", tplPath("survey", ""), k, nil), http.StatusNotFound, "not_found", "")

	t.Run("larger than the usual limit as JSON", func(t *testing.T) {
		v := decode[tplVersion](t, e.do(t, "PUT", tplPath("case_resolved", ""), k, map[string]any{"source": quoted}), http.StatusCreated)
		if v.Version != 2 || v.Checksum != checksum(quoted) {
			t.Fatalf("saved %+v", v)
		}
	})
}

// TestTemplatePreview renders templates for each channel, with samples
// and with data.
func TestTemplatePreview(t *testing.T) {
	t.Parallel()
	e := templateEnv(t)
	tn := e.newTenant(t, "acme", "") // default language: es
	k := tn.key
	decode[tplVersion](t, e.putTemplate(t, k, "case_resolved", "application/yaml", tplYAML), http.StatusCreated)
	decode[tplVersion](t, e.putTemplate(t, k, "case_resolved", "application/yaml", tplYAML+"# v2\n"), http.StatusCreated)
	decode[tplVersion](t, e.putTemplate(t, k, "survey", "application/yaml", surveyYAML), http.StatusCreated)
	preview := func(t *testing.T, purpose string, body any) response {
		t.Helper()
		return e.do(t, "POST", tplPath(purpose, "/preview"), k, body)
	}

	t.Run("samples on SMS", func(t *testing.T) {
		p := decode[tplPreview](t, preview(t, "case_resolved", map[string]any{"channel": "sms", "language": "es-CO"}), http.StatusOK)
		want := "Ana, su caso PQR-2026-000123 fue resuelto. Reembolsamos el valor."
		if p.Purpose != "case_resolved" || p.Version != 2 || p.Channel != "sms" || p.Variant != "sms/es" || p.VariantIndex != 0 || p.Language != "es" || p.Text != want {
			t.Fatalf("preview %+v", p)
		}
		if p.SMS == nil || p.SMS.Encoding != "GSM-7" || p.SMS.Units != len(want) || p.SMS.Segments != 1 {
			t.Fatalf("sms %+v", p.SMS)
		}
	})
	t.Run("data overrides the samples", func(t *testing.T) {
		p := decode[tplPreview](t, preview(t, "case_resolved", map[string]any{"channel": "whatsapp", "language": "es",
			"data": map[string]string{"name": "Luis", "undeclared": "ignored"}}), http.StatusOK)
		if p.Text != "Hola Luis, tu caso PQR-2026-000123 fue resuelto." || p.Variant != "whatsapp/es" || p.SMS != nil ||
			p.ContentSid != "HXb5b62575e6e4ff6129ad7c8efe1f983e" || !slices.Equal(p.ContentVariables, []string{"Luis", "PQR-2026-000123"}) {
			t.Fatalf("preview %+v", p)
		}
	})
	t.Run("data is escaped in an email's HTML", func(t *testing.T) {
		p := decode[tplPreview](t, preview(t, "case_resolved", map[string]any{"channel": "email",
			"data": map[string]string{"answer": `<script>alert("x")</script>`, "radicado": "PQR-1"}}), http.StatusOK)
		if p.Subject != "Tu caso PQR-1" || p.Text != "Hola Ana: tu caso fue resuelto." || p.Variant != "email/es" {
			t.Fatalf("preview %+v", p)
		}
		if strings.Contains(p.HTML, "<script>") || !strings.Contains(p.HTML, "<blockquote>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</blockquote>") {
			t.Fatalf("html %q", p.HTML)
		}
	})
	t.Run("the contact's language, then the tenant's", func(t *testing.T) {
		for _, tc := range []struct{ language, variant, text string }{
			{"en", "default/en", "Hi Ana, your case PQR-2026-000123 was resolved."},
			{"EN_us", "default/en", "Hi Ana, your case PQR-2026-000123 was resolved."},
			{"fr", "sms/es", "Ana, su caso PQR-2026-000123 fue resuelto. Reembolsamos el valor."},
			{"", "sms/es", "Ana, su caso PQR-2026-000123 fue resuelto. Reembolsamos el valor."},
		} {
			p := decode[tplPreview](t, preview(t, "case_resolved", map[string]any{"channel": "sms", "language": tc.language}), http.StatusOK)
			if p.Variant != tc.variant || p.Text != tc.text || p.Channel != "sms" || p.SMS == nil {
				t.Errorf("language %q: %+v", tc.language, p)
			}
		}
	})
	for _, tc := range []struct {
		name    string
		purpose string
		body    any
		status  int
		code    string
		field   string
	}{
		{"missing required data", "case_resolved", map[string]any{"channel": "sms", "data": map[string]string{"name": " "}}, 400, "invalid", "data.name"},
		{"no channel", "case_resolved", map[string]any{"language": "es"}, 400, "invalid", "channel"},
		{"not a channel", "case_resolved", map[string]any{"channel": "fax"}, 400, "invalid", "channel"},
		{"the default channel", "case_resolved", map[string]any{"channel": "default"}, 400, "invalid", "channel"},
		{"not a language", "case_resolved", map[string]any{"channel": "sms", "language": "español"}, 400, "invalid", "language"},
		{"data not strings", "case_resolved", map[string]any{"channel": "sms", "data": map[string]any{"name": 1}}, 400, "invalid", "data"},
		{"unknown field", "case_resolved", map[string]any{"channel": "sms", "fallback": "en"}, 400, "invalid", "fallback"},
		{"empty body", "case_resolved", rawBody(""), 400, "invalid", ""},
		{"body over the limit", "case_resolved", map[string]any{"channel": "sms", "data": map[string]string{"answer": strings.Repeat("a", bodyLimit)}}, 413, "too_large", ""},
		{"no such template", "appointment", map[string]any{"channel": "sms"}, 404, "not_found", ""},
		{"too many SMS segments", "case_resolved", map[string]any{"channel": "sms", "data": map[string]string{"answer": strings.Repeat("valor ", 30)}}, 422, "too_large", "text"},
		{"too long for WhatsApp", "case_resolved", map[string]any{"channel": "whatsapp", "data": map[string]string{"name": strings.Repeat("n", 1600)}}, 422, "too_large", "text"},
		{"no variant in the languages", "case_resolved", map[string]any{"channel": "telegram", "language": "fr"}, 422, "invalid", "language"},
		{"no variant for the channel", "survey", map[string]any{"channel": "voice", "language": "es"}, 422, "invalid", "channel"},
		{"the tenant's language serves", "survey", map[string]any{"channel": "sms", "language": "en"}, 200, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := preview(t, tc.purpose, tc.body)
			if tc.status == http.StatusOK {
				decode[tplPreview](t, r, http.StatusOK)
				return
			}
			wantError(t, r, tc.status, tc.code, tc.field)
		})
	}
}

// TestTemplatesUnavailable checks the template routes of a server without
// a template service.
func TestTemplatesUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	n := 0
	for _, rt := range api.RouteTable() {
		method, path, _ := strings.Cut(rt, " ")
		if !strings.HasPrefix(path, "/api/v1/templates") {
			continue
		}
		n++
		t.Run(rt, func(t *testing.T) {
			path = strings.NewReplacer("{purpose}", "case_resolved", "{number}", "1").Replace(path)
			var body any
			switch method {
			case "PUT":
				body = map[string]any{"source": tplYAML}
			case "POST":
				body = map[string]any{"channel": "sms"}
			}
			wantError(t, e.do(t, method, path, tn.key, body), http.StatusServiceUnavailable, "unavailable", "")
		})
	}
	if n != 7 {
		t.Errorf("%d template routes, want 7", n)
	}
	if _, err := api.New(api.Config{TemplateStore: e.store}, e.svc, e.store, e.shared, e.shared); err == nil {
		t.Error("a config with a template store and no service is accepted")
	}
	if _, err := api.New(api.Config{Templates: templates.NewService(e.store)}, e.svc, e.store, e.shared, e.shared); err == nil {
		t.Error("a config with a template service and no store is accepted")
	}
}

// TestTemplatesOpenAPI checks the template routes' real responses, and the
// requests of a client that follows it, against the description.
func TestTemplatesOpenAPI(t *testing.T) {
	t.Parallel()
	e := templateEnv(t)
	_, router := loadSpec(t, e)
	none := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	nt := none.newTenant(t, "acme", "")
	k := tn.key
	bad := strings.Replace(tplYAML, "{{.name}}, su caso", "{{.nombre}}, su caso", 1)

	t.Run("save YAML", func(t *testing.T) {
		checkRawBody(t, router, e, "PUT", tplPath("case_resolved", ""), k, "application/yaml", tplYAML, http.StatusCreated)
	})
	t.Run("save YAML unchanged", func(t *testing.T) {
		checkRawBody(t, router, e, "PUT", tplPath("case_resolved", ""), k, "application/yaml", tplYAML, http.StatusOK)
	})
	t.Run("save bad YAML", func(t *testing.T) {
		checkRawBody(t, router, e, "PUT", tplPath("case_resolved", ""), k, "application/yaml", bad, http.StatusBadRequest)
	})
	t.Run("save text", func(t *testing.T) {
		checkRawBody(t, router, e, "PUT", tplPath("survey", ""), k, "text/plain", surveyYAML, http.StatusCreated)
	})
	for _, x := range []exchange{
		{name: "save JSON", method: "PUT", path: tplPath("case_resolved", ""), key: k, status: 201, validRequest: true, body: map[string]any{"source": tplYAML + "# v2\n"}},
		{name: "save JSON unchanged", method: "PUT", path: tplPath("case_resolved", ""), key: k, status: 200, validRequest: true, body: map[string]any{"source": tplYAML + "# v2\n"}},
		{name: "save JSON bad", method: "PUT", path: tplPath("case_resolved", ""), key: k, status: 400, validRequest: true, body: map[string]any{"source": bad}},
		{name: "save another purpose", method: "PUT", path: tplPath("survey", ""), key: k, status: 400, validRequest: true, body: map[string]any{"source": tplYAML}},
		{name: "save too large", method: "PUT", path: tplPath("case_resolved", ""), key: k, status: 413, validRequest: true, body: map[string]any{"source": strings.Repeat("#", 300<<10)}},
		{name: "save without service", method: "PUT", path: tplPath("case_resolved", ""), key: nt.key, status: 503, validRequest: true, body: map[string]any{"source": tplYAML}, env: none},
		{name: "list", method: "GET", path: "/api/v1/templates", key: k, status: 200, validRequest: true},
		{name: "list without key", method: "GET", path: "/api/v1/templates", status: 401},
		{name: "get", method: "GET", path: tplPath("case_resolved", ""), key: k, status: 200, validRequest: true},
		{name: "get missing", method: "GET", path: tplPath("appointment", ""), key: k, status: 404, validRequest: true},
		{name: "versions", method: "GET", path: tplPath("case_resolved", "/versions"), key: k, status: 200, validRequest: true},
		{name: "versions missing", method: "GET", path: tplPath("appointment", "/versions"), key: k, status: 404, validRequest: true},
		{name: "version", method: "GET", path: tplPath("case_resolved", "/versions/1"), key: k, status: 200, validRequest: true},
		{name: "version missing", method: "GET", path: tplPath("case_resolved", "/versions/9"), key: k, status: 404, validRequest: true},
		{name: "preview sms", method: "POST", path: tplPath("case_resolved", "/preview"), key: k, status: 200, validRequest: true,
			body: map[string]any{"channel": "sms", "language": "es", "data": map[string]string{"name": "Luis"}}},
		{name: "preview whatsapp", method: "POST", path: tplPath("case_resolved", "/preview"), key: k, status: 200, validRequest: true, body: map[string]any{"channel": "whatsapp"}},
		{name: "preview email", method: "POST", path: tplPath("case_resolved", "/preview"), key: k, status: 200, validRequest: true, body: map[string]any{"channel": "email"}},
		{name: "preview missing data", method: "POST", path: tplPath("case_resolved", "/preview"), key: k, status: 400, validRequest: true,
			body: map[string]any{"channel": "sms", "data": map[string]string{"radicado": ""}}},
		{name: "preview too long", method: "POST", path: tplPath("case_resolved", "/preview"), key: k, status: 422, validRequest: true,
			body: map[string]any{"channel": "sms", "data": map[string]string{"answer": strings.Repeat("valor ", 30)}}},
		{name: "preview no variant", method: "POST", path: tplPath("survey", "/preview"), key: k, status: 422, validRequest: true, body: map[string]any{"channel": "voice"}},
		{name: "preview missing", method: "POST", path: tplPath("appointment", "/preview"), key: k, status: 404, validRequest: true, body: map[string]any{"channel": "sms"}},
		{name: "preview too large", method: "POST", path: tplPath("case_resolved", "/preview"), key: k, status: 413, body: map[string]any{"channel": "sms", "data": map[string]string{"a": strings.Repeat("a", bodyLimit)}}},
		{name: "delete", method: "DELETE", path: tplPath("survey", ""), key: k, status: 204, validRequest: true},
		{name: "delete missing", method: "DELETE", path: tplPath("survey", ""), key: k, status: 404, validRequest: true},
		{name: "delete without service", method: "DELETE", path: tplPath("survey", ""), key: nt.key, status: 503, validRequest: true, env: none},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
}

// checkRawBody sends a raw body of a content type and validates the
// request and the response against the description.
func checkRawBody(t *testing.T, router routers.Router, e *env, method, path, key, contentType, body string, status int) {
	t.Helper()
	newReq := func() *http.Request {
		req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Authorization", "Bearer "+key)
		return req
	}
	req := newReq()
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("the description has no route for %s %s: %v", method, path, err)
	}
	if err := openapi3filter.ValidateRequest(t.Context(), &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}); err != nil {
		t.Errorf("the request does not match the description: %v", err)
	}
	resp, err := e.srv.Client().Do(newReq())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, respBody)
	}
	validateResponse(t, router, newReq(), resp.StatusCode, resp.Header, respBody, false)
}

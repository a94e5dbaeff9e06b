package templates

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tp := parseFile(t, f)
			if tp.Purpose+".yaml" != filepath.Base(f) {
				t.Errorf("purpose %q in %s", tp.Purpose, f)
			}
			if tp.Checksum != Checksum(src) || string(tp.Source()) != string(src) {
				t.Errorf("checksum %s or source differ from the file's", tp.Checksum)
			}
			if len(tp.variants) != len(tp.Variants) {
				t.Errorf("%d compiled variants of %d", len(tp.variants), len(tp.Variants))
			}
		})
	}
}

func TestParseCanonicalLanguage(t *testing.T) {
	tp := mustParse(t, `
purpose: langs
variants:
  - {channel: sms, language: ES_co, text: a}
  - {channel: sms, language: EN, text: b}
  - {channel: sms, language: es-419, text: c}
`)
	for i, want := range []string{"es-CO", "en", "es-419"} {
		if got := tp.Variants[i].Language; got != want {
			t.Errorf("variants[%d].language = %q, want %q", i, got, want)
		}
	}
}

// firstProblem parses src and returns its first problem.
func firstProblem(t *testing.T, src string) *Problem {
	t.Helper()
	_, err := Parse("p.yaml", []byte(src))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error %v, want problems", err)
	}
	return ps[0]
}

// TestProblemPositions checks where a problem in a template's text is
// reported, in each way YAML writes a text.
func TestProblemPositions(t *testing.T) {
	head := "purpose: p\nvariables:\n  name: {sample: Ana, required: true}\nvariants:\n  - channel: sms\n    language: es\n"
	tests := []struct {
		name, text string
		line, col  int
		msgHas     string
	}{
		{"plain", "    text: Hola {{.nombre}}\n", 7, 18, ""},
		{"single-quoted", "    text: 'Hola {{.nombre}}'\n", 7, 19, ""},
		{"double-quoted", "    text: \"Hola {{.nombre}}\"\n", 7, 19, ""},
		{"double-quoted with an escape", "    text: \"\\u00a1Hola {{.nombre}}\"\n", 7, 11, "line 1, column 9 of the text"},
		{"literal block", "    text: |\n      Hola\n        {{.name}} {{.nombre}}\n", 9, 21, ""},
		{"literal block, kept end", "    text: |+\n      Hola\n      {{.nombre}}\n\n", 9, 9, ""},
		{"folded block", "    text: >\n      Hola\n      {{.nombre}}\n", 7, 11, "line 1, column 8 of the text"},
		{"syntax error without a column", "    text: |\n      Hola\n      {{if .name}}\n", 9, 7, "{{if}} has no {{end}}"},
		{"undefined function", "    text: \"Hola {{.name | capitalize}}\"\n", 7, 27, `function "capitalize" not defined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := firstProblem(t, head+tt.text)
			if p.Line != tt.line || p.Column != tt.col || p.Field != "variants[0].text" || !strings.Contains(p.Msg, tt.msgHas) {
				t.Errorf("problem %v, want line %d, column %d, message with %q", p, tt.line, tt.col, tt.msgHas)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	tests := []struct {
		name, src, msg string
	}{
		{"too large", "purpose: p\n#" + strings.Repeat("x", MaxSourceSize), "larger than"},
		{"not UTF-8", "purpose: p\xff\n", "not UTF-8"},
		{"two documents", "purpose: p\n---\npurpose: q\n", "one YAML document"},
		{"empty", "", "empty"},
		{"anchors", "purpose: &a p\nvariants: []\n", "anchors"},
		{"a sample that is not text", "purpose: p\nvariables:\n  n: {sample: [1]}\nvariants: []\n", "must be text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := firstProblem(t, tt.src)
			if !strings.Contains(p.Msg, tt.msg) {
				t.Errorf("problem %v, want %q", p, tt.msg)
			}
		})
	}
}

func TestParseNumberSample(t *testing.T) {
	tp := mustParse(t, "purpose: p\nvariables:\n  n: {sample: 42, required: true}\nvariants:\n  - {channel: sms, language: es, text: '{{.n}}'}\n")
	if tp.Variables["n"].Sample != "42" {
		t.Errorf("sample %q", tp.Variables["n"].Sample)
	}
}

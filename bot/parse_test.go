package bot

import (
	"context"
	"errors"
	"strings"
	"testing"

	"conversa/examples"
)

// minimal is a valid definition the cases below break one way each.
const minimal = `name: test
languages: [es, en]
intents:
  - name: billing
    response: billing
    examples:
      es: [quiero pagar mi factura, cuánto debo este mes, ver mi recibo]
      en: [pay my bill, how much do I owe, show my invoice]
  - name: complaint
    flow: complaint
    examples:
      es: [quiero poner una queja, tengo un reclamo, estoy inconforme]
      en: [I want to complain, I have a complaint, file a claim]
slots:
  description: {entity: text}
responses:
  billing:
    - text: {es: "Puedes pagar en línea.", en: "You can pay online."}
  ask:
    - text: {es: "Cuéntame qué pasó.", en: "Tell me what happened."}
flows:
  - name: complaint
    steps:
      - ask: description
        prompt: ask
      - create_case: queja
      - end: true
`

func TestParseAndCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		src  Source
		// want are the errors, each as "file:line: field: text" fragments
		// that must all appear in one error.
		want [][]string
	}{
		{
			name: "unknown field",
			src:  Source{"bot.yaml": []byte(strings.Replace(minimal, "    response: billing\n", "    response: billing\n    respnse: x\n", 1))},
			want: [][]string{{"bot.yaml:6:", "intents[0].respnse", "unknown field", `did you mean "response"`}},
		},
		{
			name: "duplicate intent",
			src: Source{"bot.yaml": []byte(minimal + `  - name: other
    steps: [{end: true}]
`), "more.yaml": []byte(`intents:
  - name: billing
    examples: [a b c, d e f]
`)},
			want: [][]string{{"more.yaml:2:", "intents[0].name", `duplicate intent "billing"`, "bot.yaml:4"}},
		},
		{
			name: "flow step pointing to a missing step",
			src:  Source{"bot.yaml": []byte(strings.Replace(minimal, "      - create_case: queja\n", "      - create_case: queja\n        next: confirm\n", 1))},
			want: [][]string{{"bot.yaml:26:", "flows[0].steps[1].next", `has no step "confirm"`}},
		},
		{
			name: "intent with one example",
			src: Source{"bot.yaml": []byte(minimal), "one.yaml": []byte(`intents:
  - name: lonely
    response: billing
    examples: [solo uno]
`)},
			want: [][]string{{"one.yaml:2:", "intents[0].examples", "at least 2 examples"}},
		},
		{
			name: "regex that does not compile",
			src: Source{"bot.yaml": []byte(minimal + `entities:
  - name: account
    regex: '(\d{8'
`)},
			want: [][]string{{"bot.yaml:29:", "entities[0].regex", "does not compile"}},
		},
		{
			name: "unknown references",
			src:  Source{"bot.yaml": []byte(strings.Replace(strings.Replace(minimal, "prompt: ask", "prompt: nope", 1), "ask: description", "ask: nothing", 1))},
			want: [][]string{{"bot.yaml:24:", `unknown slot "nothing"`}, {"bot.yaml:24:", "prompt", `unknown response "nope"`}},
		},
		{
			name: "a setting in two files",
			src:  Source{"a.yaml": []byte(minimal), "b.yaml": []byte("name: other\n")},
			want: [][]string{{"b.yaml", "name", "also set in a.yaml"}},
		},
		{
			name: "step doing two things",
			src:  Source{"bot.yaml": []byte(strings.Replace(minimal, "      - end: true\n", "      - end: true\n        ask: description\n", 1))},
			want: [][]string{{"bot.yaml:27:", "flows[0].steps[2]", "exactly one of"}},
		},
		{
			name: "wrong type",
			src:  Source{"bot.yaml": []byte(strings.Replace(minimal, "{entity: text}", "[text]", 1))},
			want: [][]string{{"bot.yaml:15:", "slots.description", "must be a map"}},
		},
		{
			name: "unsupported language",
			src:  Source{"bot.yaml": []byte(strings.Replace(minimal, "languages: [es, en]", "languages: [es, fr]", 1))},
			want: [][]string{{"bot.yaml", "languages[1]", "unsupported language"}},
		},
		{
			name: "empty file",
			src:  Source{"bot.yaml": []byte(minimal), "empty.yaml": nil},
			want: [][]string{{"empty.yaml", "empty"}},
		},
		{
			name: "not YAML",
			src:  Source{"bot.yaml": []byte("intents: [\n  - {name: x\n")},
			want: [][]string{{"bot.yaml:"}},
		},
		{
			name: "bad business hours",
			src: Source{"bot.yaml": []byte(minimal + `business_hours:
  time_zone: Mars/Olympus
  week: {mon-fri: "08:00-18:00"}
`)},
			want: [][]string{{"bot.yaml:29:", "business_hours", "Mars/Olympus"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.src, CompileOptions{})
			if err == nil {
				t.Fatal("Validate accepted the definition")
			}
			var de DefinitionErrors
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not DefinitionErrors", err)
			}
			for _, frags := range tt.want {
				found := false
				for _, e := range de {
					all := true
					for _, f := range frags {
						all = all && strings.Contains(e.Error(), f)
					}
					found = found || all
				}
				if !found {
					t.Errorf("no error has all of %q; got:\n%v", frags, err)
				}
			}
		})
	}
}

func TestValidDefinitions(t *testing.T) {
	if err := Validate(Source{"bot.yaml": []byte(minimal)}, CompileOptions{}); err != nil {
		t.Fatalf("minimal: %v", err)
	}
	src, err := examples.Bot("servicios")
	if err != nil {
		t.Fatal(err)
	}
	if len(src) < 3 {
		t.Fatalf("the example bot has %d files, want several", len(src))
	}
	if err := Validate(src, CompileOptions{Actions: testActions()}); err != nil {
		t.Fatalf("example bot: %v", err)
	}
	// Without its Go action the example bot names an unknown action.
	err = Validate(src, CompileOptions{})
	if err == nil || !strings.Contains(err.Error(), `unknown action "demo_balance"`) || !strings.Contains(err.Error(), "flows.yaml:") {
		t.Fatalf("without demo_balance: %v", err)
	}
}

func TestSpanishOnlyBotGetsSpanishBuiltins(t *testing.T) {
	src := Source{"bot.yaml": []byte(strings.Replace(strings.NewReplacer(
		"      en: [pay my bill, how much do I owe, show my invoice]\n", "",
		"      en: [I want to complain, I have a complaint, file a claim]\n", "",
		`, en: "You can pay online."`, "",
		`, en: "Tell me what happened."`, "",
	).Replace(minimal), "languages: [es, en]", "languages: [es]", 1))}
	tr, err := Train(context.Background(), src, 0, CompileOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range tr.Bot.Definition().Intents {
		if len(in.Examples["en"]) > 0 {
			t.Errorf("intent %s has English examples in a Spanish-only bot", in.Name)
		}
	}
	if txt := tr.Bot.Definition().Responses["greet"][0].Text; txt["en"] != "" || txt["es"] == "" {
		t.Errorf("greet = %v, want Spanish only", txt)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	src, err := examples.Bot("servicios")
	if err != nil {
		f.Fatal(err)
	}
	for _, data := range src {
		f.Add(data)
	}
	f.Add([]byte("intents: *a\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Validate(Source{"bot.yaml": data}, CompileOptions{})
		if err == nil {
			return
		}
		var de DefinitionErrors
		if !errors.As(err, &de) {
			t.Fatalf("error %v is not DefinitionErrors", err)
		}
		for _, e := range de {
			if e.File != "bot.yaml" && e.File != "builtin.yaml" && e.File != "" {
				t.Fatalf("error names file %q", e.File)
			}
		}
	})
}

package bot

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata/import")

// rasaProjects are the Rasa projects of testdata/import/rasa and the
// language of their examples.
var rasaProjects = []struct{ dir, lang string }{
	{"conecta", "es"},
	{"billing", "en"},
}

// readRasa reads a project of testdata/import/rasa: every .yml file but
// domain.yml is training data.
func readRasa(t testing.TB, dir string) (map[string][]byte, []byte) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "import", "rasa", dir, "*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no Rasa files in %s: %v", dir, err)
	}
	nlu := map[string][]byte{}
	var domain []byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(p) == "domain.yml" {
			domain = data
			continue
		}
		nlu[filepath.Base(p)] = data
	}
	return nlu, domain
}

// checkGolden compares got with a golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update to rewrite it); got:\n%s", path, got)
	}
}

// sameExported reports whether a and b have equal exported fields, all
// the way down: positions and other unexported state, which YAML does not
// carry, are ignored.
func sameExported(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameExported(a.Elem(), b.Elem())
	case reflect.Struct:
		for f := range a.Type().Fields() {
			if f.IsExported() && !sameExported(a.FieldByIndex(f.Index), b.FieldByIndex(f.Index)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameExported(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !sameExported(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	}
	return a.Interface() == b.Interface()
}

// roundTripDefinition marshals d, parses the YAML back and fails unless the two are
// equal. It returns the YAML.
func roundTripDefinition(t testing.TB, d *Definition) []byte {
	t.Helper()
	data, err := MarshalDefinition(d)
	if err != nil {
		t.Fatalf("MarshalDefinition: %v", err)
	}
	back, err := ParseYAML("imported.yaml", data)
	if err != nil {
		t.Fatalf("ParseYAML of the marshalled definition: %v\n%s", err, data)
	}
	if !sameExported(reflect.ValueOf(back), reflect.ValueOf(d)) {
		t.Fatalf("the definition does not round-trip:\nwant %+v\n got %+v\nYAML:\n%s", d, back, data)
	}
	return data
}

func TestImportRasaGolden(t *testing.T) {
	for _, p := range rasaProjects {
		t.Run(p.dir, func(t *testing.T) {
			nlu, domain := readRasa(t, p.dir)
			d, warnings, err := ImportRasa(nlu, domain, p.lang)
			if err != nil {
				t.Fatalf("ImportRasa: %v", err)
			}
			data := roundTripDefinition(t, d)
			base := filepath.Join("testdata", "import", "rasa", p.dir)
			checkGolden(t, base+".golden.yaml", data)
			checkGolden(t, base+".warnings.golden", []byte(strings.Join(warnings, "\n")+"\n"))
		})
	}
}

func TestImportRasa(t *testing.T) {
	nlu, domain := readRasa(t, "conecta")
	d, warnings, err := ImportRasa(nlu, domain, "es")
	if err != nil {
		t.Fatalf("ImportRasa: %v", err)
	}
	intent := func(name string) *Intent {
		for i := range d.Intents {
			if d.Intents[i].Name == name {
				return &d.Intents[i]
			}
		}
		t.Fatalf("no intent %q in %v", name, d.Intents)
		return nil
	}
	ent := func(name string) *Entity {
		for i := range d.Entities {
			if d.Entities[i].Name == name {
				return &d.Entities[i]
			}
		}
		t.Fatalf("no entity %q in %v", name, d.Entities)
		return nil
	}

	t.Run("languages", func(t *testing.T) {
		if !slices.Equal(d.Languages, []string{"es"}) {
			t.Errorf("languages = %v, want [es]", d.Languages)
		}
	})
	t.Run("intents", func(t *testing.T) {
		var names []string
		for _, in := range d.Intents {
			names = append(names, in.Name)
		}
		want := []string{"saludo", "consultar_saldo", "reportar_falla", "cambiar_plan", "trasladar_servicio", "hablar_con_agente"}
		if !slices.Equal(names, want) {
			t.Errorf("intents = %v, want %v", names, want)
		}
	})
	t.Run("annotations are stripped", func(t *testing.T) {
		want := Examples{"es": {
			"no tengo internet en Bogotá",
			"se cayó el servicio en medallo",
			"la televisión no funciona desde ayer",
			"hay una falla en Cali",
			"el wifi está muy lento en bta",
		}}
		if got := intent("reportar_falla").Examples; !reflect.DeepEqual(got, want) {
			t.Errorf("examples = %q, want %q", got, want)
		}
		if got := intent("trasladar_servicio").Examples["es"][0]; got != "me voy a mudar de Bogotá a Barranquilla" {
			t.Errorf("example with roles = %q", got)
		}
	})
	t.Run("responses of intents", func(t *testing.T) {
		for name, want := range map[string]string{
			"saludo":             "utter_saludo",
			"reportar_falla":     "utter_reportar_falla",
			"cambiar_plan":       "utter_cambiar_plan",
			"trasladar_servicio": "",
		} {
			if got := intent(name).Response; got != want {
				t.Errorf("intent %s: response = %q, want %q", name, got, want)
			}
		}
	})
	t.Run("list entity with synonyms and lookup", func(t *testing.T) {
		want := []EntityItem{
			{Value: "Bogotá", Synonyms: []string{"bta", "la capital"}},
			{Value: "Medellín", Synonyms: []string{"medallo"}},
			{Value: "Cali"},
			{Value: "Barranquilla"},
			{Value: "Cartagena"},
			{Value: "Bucaramanga"},
		}
		if got := ent("ciudad").Values; !reflect.DeepEqual(got, want) {
			t.Errorf("ciudad = %+v, want %+v", got, want)
		}
		if got := ent("plan").Values; !reflect.DeepEqual(got, []EntityItem{{Value: "premium"}, {Value: "basico"}}) {
			t.Errorf("plan = %+v", got)
		}
	})
	t.Run("regex entity", func(t *testing.T) {
		e := ent("numero_cuenta")
		if want := `(?:\b\d{10}\b)|(?:\b\d{4}-\d{6}\b)`; e.Regex != want || e.Values != nil {
			t.Errorf("numero_cuenta = %+v, want regex %s", e, want)
		}
	})
	t.Run("slots", func(t *testing.T) {
		want := map[string]Slot{
			"numero_cuenta":     {Entity: "numero_cuenta"},
			"ciudad":            {Entity: "ciudad"},
			"plan":              {Entity: "plan", Pattern: "(?i)basico|premium"},
			"descripcion_falla": {Entity: "text"},
			"telefono":          {Entity: "phone"},
		}
		if !reflect.DeepEqual(d.Slots, want) {
			t.Errorf("slots = %+v, want %+v", d.Slots, want)
		}
	})
	t.Run("buttons", func(t *testing.T) {
		rs := d.Responses["utter_saludo"]
		if len(rs) != 2 {
			t.Fatalf("utter_saludo = %+v, want 2 variations", rs)
		}
		want := []Button{
			{ID: "consultar_saldo", Title: Localized{"es": "Consultar saldo"}, Intent: "consultar_saldo"},
			{ID: "reportar_falla", Title: Localized{"es": "Reportar una falla"}, Intent: "reportar_falla"},
			{ID: "hablar_con_agente", Title: Localized{"es": "Hablar con un asesor"}, Intent: "hablar_con_agente"},
		}
		if !reflect.DeepEqual(rs[0].Buttons, want) {
			t.Errorf("buttons = %+v, want %+v", rs[0].Buttons, want)
		}
		if rs[0].Text["es"] != "¡Hola! Soy el asistente virtual de Conecta. ¿En qué te puedo ayudar?" {
			t.Errorf("text = %v", rs[0].Text)
		}
		if rs[1].Channel != "sms" {
			t.Errorf("the twilio variation has channel %q, want sms", rs[1].Channel)
		}
		plan := d.Responses["utter_cambiar_plan"][0].Buttons
		wantPlan := []Button{
			{ID: "si", Title: Localized{"es": "Sí"}},
			{ID: "no", Title: Localized{"es": "No"}, Value: "No, gracias"},
		}
		if !reflect.DeepEqual(plan, wantPlan) {
			t.Errorf("utter_cambiar_plan buttons = %+v, want %+v", plan, wantPlan)
		}
		if got := len(d.Responses["utter_despedida"]); got != 1 {
			t.Errorf("utter_despedida has %d variations, want 1 (the slack one is skipped)", got)
		}
	})
	t.Run("warnings", func(t *testing.T) {
		all := strings.Join(warnings, "\n")
		for _, want := range []string{
			`nlu.yml:20: intent "Reportar Falla" is renamed "reportar_falla"`,
			`domain.yml:65: response "utter_Reportar Falla" is renamed "utter_reportar_falla"`,
			`rules.yml:3: 2 rules are not imported`,
			`forms are not imported (reporte_falla_form)`,
			`custom actions are not imported (action_consultar_saldo)`,
			`session_config has no equivalent`,
			`the roles and groups of "ciudad" are dropped`,
			`intent "cambiar_plan": use_entities has no equivalent`,
			`influence_conversation of slots has no equivalent`,
			`slot "descripcion_falla": the conditions of its mapping (conditions) have no equivalent`,
			`the Duckling entity "phone-number" is the built-in entity "phone"`,
			`conditions of variations have no equivalent`,
			`response "utter_despedida": custom has no equivalent; dropped`,
			`the variation for channel "slack" is skipped`,
			`button "Sí": the entities of its payload have no equivalent`,
			`button "Sí" goes to intent "afirmar", which has no examples`,
			`button "No" sends the text "No, gracias"`,
			`intent "despedida" is in the domain but has no examples; skipped`,
			`do nothing until you give them a response, flow, handoff or action: trasladar_servicio`,
		} {
			if !strings.Contains(all, want) {
				t.Errorf("no warning %q in:\n%s", want, all)
			}
		}
	})
}

// TestImportRasaValidates checks that the imported projects are bots:
// Validate finds no problem in them.
func TestImportRasaValidates(t *testing.T) {
	for _, p := range rasaProjects {
		t.Run(p.dir, func(t *testing.T) {
			nlu, domain := readRasa(t, p.dir)
			d, _, err := ImportRasa(nlu, domain, p.lang)
			if err != nil {
				t.Fatalf("ImportRasa: %v", err)
			}
			data, err := MarshalDefinition(d)
			if err != nil {
				t.Fatal(err)
			}
			if err := Validate(Source{p.dir + ".yaml": data}, CompileOptions{}); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestImportRasaErrors(t *testing.T) {
	tests := []struct {
		name   string
		nlu    string
		domain string
		lang   string
		file   string
		line   int
		field  string
		msg    string
	}{
		{
			name: "malformed YAML",
			nlu:  "version: \"3.1\"\nnlu:\n- intent: saludo\n  examples: |\n    - hola\n   - buenas\n",
			file: "nlu.yml", line: 2, msg: "did not find expected key",
		},
		{
			name: "unterminated string",
			nlu:  "nlu:\n- intent: saludo\n  examples: |\n    - hola\n- intent: \"despedida\n  examples: |\n    - chao\n",
			file: "nlu.yml", line: 5, msg: "found unexpected end of stream",
		},
		{
			name: "item with neither intent, synonym, regex nor lookup",
			nlu:  "nlu:\n- intent: saludo\n  examples: |\n    - hola\n- examples: |\n    - buenas\n",
			file: "nlu.yml", line: 5, field: "nlu[1]", msg: "needs intent, synonym, regex or lookup",
		},
		{
			name: "item with intent and lookup",
			nlu:  "nlu:\n- intent: saludo\n  lookup: ciudad\n  examples: |\n    - hola\n",
			file: "nlu.yml", line: 3, field: "nlu[0].lookup", msg: "also has intent",
		},
		{
			name: "example line without a dash",
			nlu:  "nlu:\n- intent: saludo\n  examples: |\n    - hola\n    buenas tardes\n    - qué tal\n",
			file: "nlu.yml", line: 5, field: "nlu[0].examples", msg: `"buenas tardes"`,
		},
		{
			name: "examples as a map",
			nlu:  "nlu:\n- intent: saludo\n  examples:\n    es: hola\n",
			file: "nlu.yml", line: 4, field: "nlu[0].examples", msg: "block of lines",
		},
		{
			name: "regex that does not compile",
			nlu:  "nlu:\n- regex: cedula\n  examples: |\n    - \\d{6,10}\n    - (?=\\d)\\d+\n",
			file: "nlu.yml", line: 5, field: "nlu[0].examples", msg: "does not compile",
		},
		{
			name: "annotation that is not JSON",
			nlu:  "nlu:\n- intent: reportar_falla\n  examples: |\n    - falla en [Cali]{entity: ciudad}\n",
			file: "nlu.yml", line: 4, field: "nlu[0].examples", msg: "is not JSON",
		},
		{
			name: "annotation without an entity",
			nlu:  "nlu:\n- intent: reportar_falla\n  examples: |\n    - falla en [Cali]{\"value\": \"cali\"}\n",
			file: "nlu.yml", line: 4, field: "nlu[0].examples", msg: "names no entity",
		},
		{
			name: "nlu that is not a list",
			nlu:  "nlu:\n  intent: saludo\n",
			file: "nlu.yml", line: 2, field: "nlu", msg: "must be a list",
		},
		{
			name: "intent without a name",
			nlu:  "nlu:\n- intent: \"¿?\"\n  examples: |\n    - hola\n",
			file: "nlu.yml", line: 2, field: "nlu[0].intent", msg: "no letters or digits",
		},
		{
			name:   "malformed domain",
			nlu:    "nlu:\n- intent: saludo\n  examples: |\n    - hola\n    - buenas\n",
			domain: "intents:\n  - saludo\nresponses:\n  utter_saludo:\n  - text: \"hola\n",
			file:   "domain.yml", line: 5,
		},
		{
			name:   "response that is not a list",
			nlu:    "nlu:\n- intent: saludo\n  examples: |\n    - hola\n    - buenas\n",
			domain: "responses:\n  utter_saludo:\n    text: hola\n",
			file:   "domain.yml", line: 3, field: "responses.utter_saludo", msg: "list of variations",
		},
		{
			name:   "from_entity mapping without an entity",
			nlu:    "nlu:\n- intent: saludo\n  examples: |\n    - hola\n    - buenas\n",
			domain: "slots:\n  ciudad:\n    type: text\n    mappings:\n    - type: from_entity\n",
			file:   "domain.yml", line: 5, field: "slots.ciudad.mappings", msg: "names an entity",
		},
		{
			name:  "unsupported language",
			nlu:   "nlu: []\n",
			lang:  "pt",
			field: "language", msg: `unsupported language "pt"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lang := tt.lang
			if lang == "" {
				lang = "es"
			}
			var domain []byte
			if tt.domain != "" {
				domain = []byte(tt.domain)
			}
			d, _, err := ImportRasa(map[string][]byte{"nlu.yml": []byte(tt.nlu)}, domain, lang)
			if err == nil {
				t.Fatalf("ImportRasa = %+v, want an error", d)
			}
			var errs DefinitionErrors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v (%T) is not DefinitionErrors", err, err)
			}
			e := errs[0]
			if e.File != tt.file || e.Line != tt.line || e.Field != tt.field || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("error = %q (file %q, line %d, field %q), want file %q, line %d, field %q and a message with %q",
					e.Error(), e.File, e.Line, e.Field, tt.file, tt.line, tt.field, tt.msg)
			}
			if d != nil {
				t.Errorf("definition = %+v, want nil", d)
			}
		})
	}
}

func TestImportRasaNames(t *testing.T) {
	tests := []struct{ in, want string }{
		{"saludo", "saludo"},
		{"Reportar Falla", "reportar_falla"},
		{"consultar-saldo.v2", "consultar-saldo.v2"},
		{"faq/horario_atención", "faq_horario_atencion"},
		{"¿Información?", "informacion"},
		{"1er_contacto", "intent_1er_contacto"},
		{"Cambiar  /  Plan", "cambiar_plan"},
		{strings.Repeat("a", 70), strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := importName(tt.in, "intent")
			if !ok || got != tt.want || !namePattern.MatchString(got) {
				t.Errorf("importName(%q) = %q, %v, want %q", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestImportCSVGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "import", "csv", "*.csv"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no CSV files: %v", err)
	}
	for _, p := range paths {
		name := filepath.Base(p)
		t.Run(strings.TrimSuffix(name, ".csv"), func(t *testing.T) {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			d, err := ImportCSV(name, f, "es")
			var got []byte
			if err != nil {
				var errs DefinitionErrors
				if !errors.As(err, &errs) {
					t.Fatalf("error %v is not DefinitionErrors", err)
				}
				got = []byte("error: " + err.Error() + "\n")
			} else {
				got = roundTripDefinition(t, d)
			}
			checkGolden(t, strings.TrimSuffix(p, ".csv")+".golden", got)
		})
	}
}

func TestImportCSV(t *testing.T) {
	tests := []struct {
		name string
		data string
		lang string
		want *Definition
		errs []string // substrings of the errors, in order
	}{
		{
			name: "with header",
			data: "utterance,intent\nquiero pagar,pagar_factura\ncómo pago,pagar_factura\n",
			want: &Definition{Languages: []string{"es"}, Intents: []Intent{{Name: "pagar_factura", Examples: Examples{"es": {"quiero pagar", "cómo pago"}}}}},
		},
		{
			name: "without header",
			data: "quiero pagar,pagar_factura\ncuánto debo,Consultar Saldo\n",
			want: &Definition{Languages: []string{"es"}, Intents: []Intent{
				{Name: "pagar_factura", Examples: Examples{"es": {"quiero pagar"}}},
				{Name: "consultar_saldo", Examples: Examples{"es": {"cuánto debo"}}},
			}},
		},
		{
			name: "header in other words and case",
			data: "Example,LABEL\nhola,saludo\n",
			want: &Definition{Languages: []string{"es"}, Intents: []Intent{{Name: "saludo", Examples: Examples{"es": {"hola"}}}}},
		},
		{
			name: "semicolons",
			data: "text;intent\nhola, buenos días;saludo\nbuenas;saludo\n",
			want: &Definition{Languages: []string{"es"}, Intents: []Intent{{Name: "saludo", Examples: Examples{"es": {"hola, buenos días", "buenas"}}}}},
		},
		{
			name: "byte order mark and CRLF",
			data: "\ufeffutterance,intent\r\nhola,saludo\r\n",
			want: &Definition{Languages: []string{"es"}, Intents: []Intent{{Name: "saludo", Examples: Examples{"es": {"hola"}}}}},
		},
		{
			name: "language column",
			lang: "en",
			data: "utterance,intent,language\nhi,greet,\nhola,greet,es\nhello,greet,EN\n",
			want: &Definition{Languages: []string{"en", "es"}, Intents: []Intent{{Name: "greet", Examples: Examples{"en": {"hi", "hello"}, "es": {"hola"}}}}},
		},
		{
			name: "duplicates are dropped, conflicts kept",
			data: "hola,saludo\nhola,saludo\nhola,despedida\n",
			want: &Definition{Languages: []string{"es"}, Intents: []Intent{
				{Name: "saludo", Examples: Examples{"es": {"hola"}}},
				{Name: "despedida", Examples: Examples{"es": {"hola"}}},
			}},
		},
		{
			name: "blank rows are skipped",
			data: "hola,saludo\n,\n\n , \nbuenas,saludo\n",
			want: &Definition{Languages: []string{"es"}, Intents: []Intent{{Name: "saludo", Examples: Examples{"es": {"hola", "buenas"}}}}},
		},
		{
			name: "wrong column count on line 4",
			data: "utterance,intent\nhola,saludo\nbuenas,saludo\nno tengo internet,reportar_falla,urgente\n",
			errs: []string{"t.csv:4: columns: the row has 3 columns, want 2 like the header"},
		},
		{
			name: "one column without header",
			data: "hola,saludo\nsolo texto\n",
			errs: []string{"t.csv:2: columns: the row has 1 columns, want 2 (utterance,intent) or 3"},
		},
		{
			name: "empty intent and utterance",
			data: "hola,saludo\nbuenas tardes,\n,saludo\n",
			errs: []string{"t.csv:2: intent: is empty", "t.csv:3: utterance: is empty"},
		},
		{
			name: "invalid intent name",
			data: "hola,saludo\nquiero cambiar de plan,cambiar/plan\nmi saldo,1_saldo\n",
			errs: []string{`t.csv:2: intent: "cambiar/plan" is not a valid intent name`, `t.csv:3: intent: "1_saldo" is not a valid intent name`},
		},
		{
			name: "unsupported language in a row",
			data: "hola,saludo,es\nolá,saludo,pt\n",
			errs: []string{`t.csv:2: language: unsupported language "pt"`},
		},
		{
			name: "not UTF-8",
			data: "hola,saludo\nacci\xf3n,saludo\n",
			errs: []string{"t.csv:2: utterance: is not UTF-8 text"},
		},
		{
			name: "bad quotes",
			data: "hola,saludo\n\"quiero \"x\" pagar,pagar\n",
			errs: []string{`t.csv:2: extraneous or missing " in quoted-field`},
		},
		{
			name: "a quoted utterance keeps its line",
			data: "hola,saludo\n\"una\nlínea\",saludo\nbuenas,\n",
			errs: []string{"t.csv:4: intent: is empty"},
		},
		{
			name: "no rows",
			data: "utterance,intent\n",
			errs: []string{"t.csv: the file has no rows of utterance,intent"},
		},
		{
			name: "unsupported language",
			lang: "fr",
			data: "hola,saludo\n",
			errs: []string{`t.csv: language: unsupported language "fr"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lang := tt.lang
			if lang == "" {
				lang = "es"
			}
			d, err := ImportCSV("t.csv", strings.NewReader(tt.data), lang)
			if tt.errs == nil {
				if err != nil {
					t.Fatalf("ImportCSV: %v", err)
				}
				if !reflect.DeepEqual(d, tt.want) {
					t.Fatalf("ImportCSV = %+v, want %+v", d, tt.want)
				}
				roundTripDefinition(t, d)
				return
			}
			var errs DefinitionErrors
			if !errors.As(err, &errs) {
				t.Fatalf("error %v (%T) is not DefinitionErrors", err, err)
			}
			if len(errs) != len(tt.errs) {
				t.Fatalf("%d errors, want %d:\n%v", len(errs), len(tt.errs), err)
			}
			for i, want := range tt.errs {
				if got := errs[i].Error(); !strings.HasPrefix(got, want) {
					t.Errorf("error %d = %q, want %q…", i, got, want)
				}
			}
		})
	}
}

func TestImportCSVErrorCap(t *testing.T) {
	var b strings.Builder
	for i := range 80 {
		fmt.Fprintf(&b, "frase %d,\n", i)
	}
	_, err := ImportCSV("t.csv", strings.NewReader(b.String()), "es")
	var errs DefinitionErrors
	if !errors.As(err, &errs) || len(errs) != maxCSVErrors {
		t.Fatalf("got %d errors (%v), want %d", len(errs), err, maxCSVErrors)
	}
	if errs[49].Line != 50 {
		t.Errorf("the last error is on line %d, want 50", errs[49].Line)
	}
}

func TestMarshalDefinition(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		def  *Definition
		has  []string // lines of the YAML, without their indentation
	}{
		{
			name: "empty",
			def:  &Definition{},
		},
		{
			name: "plain texts and examples",
			def: &Definition{
				Name:    "conecta",
				Intents: []Intent{{Name: "saludo", Examples: Examples{"": {"hola", "buenas"}}, Response: "saludo"}},
				Responses: map[string]Responses{"saludo": {{
					Text:    Localized{"": "¡Hola!"},
					Buttons: []Button{{ID: "saldo", Title: Localized{"": "Saldo"}, Intent: "saldo"}},
				}}},
			},
			has: []string{"name: conecta", "- hola", "- text: ¡Hola!", "title: Saldo"},
		},
		{
			name: "every part",
			def: &Definition{
				Name:      "servicios",
				Languages: []string{"es", "en"},
				SmallTalk: &no,
				Policy:    Policy{HandoffAfter: -1, Threshold: 0.35, OutOfScope: "handoff"},
				BusinessHours: &BusinessHours{
					TimeZone: "America/Bogota",
					Week:     map[string]string{"mon-fri": "08:00-18:00", "sat": "09:00-13:00"},
					Holidays: []string{"2026-12-25"},
				},
				Intents: []Intent{
					{Name: "saldo", Examples: Examples{"es": {"mi saldo", "cuánto debo"}, "en": {"my balance", "yes"}}, Flow: "saldo", Digression: &yes},
					{Name: "humano", Examples: Examples{"es": {"un asesor", "una persona"}}, Handoff: true},
				},
				Entities: []Entity{
					{Name: "cuenta", Regex: `\b\d{8,10}\b`},
					{Name: "servicio", Values: []EntityItem{{Value: "energia", Synonyms: []string{"luz", "energía"}}, {Value: "internet"}}},
				},
				Slots: map[string]Slot{
					"cuenta":      {Entity: "cuenta", Pattern: `\d+`, MinLength: 8},
					"descripcion": {Entity: "text"},
				},
				Responses: map[string]Responses{
					"pedir_cuenta": {{Text: Localized{"es": "¿Cuál es tu número de cuenta?", "en": "What is your account number?"}}},
					"menu":         {{Text: Localized{"es": "Elige", "en": "Choose"}, Channel: "whatsapp", Image: "https://example.com/a.png", Buttons: []Button{{ID: "1", Title: Localized{"es": "Sí", "en": "Yes"}, Value: "true"}}}},
				},
				Flows: []Flow{{Name: "saldo", Steps: []Step{
					{ID: "pedir", Ask: "cuenta", Prompt: "pedir_cuenta", Attempts: 3, Skip: true},
					{Action: "consultar", OnError: "fallo"},
					{Set: map[string]string{"descripcion": "{cuenta}"}},
					{Branch: []Case{{Slot: "cuenta", Filled: &yes, Goto: "fin"}, {Intent: "humano", Goto: "fallo"}}, Default: "fin"},
					{ID: "fallo", Handoff: "error"},
					{ID: "fin", Say: "pedir_cuenta", End: true},
				}}},
				Actions:    []ActionDef{{Name: "consultar", HTTP: HTTPAction{URL: "https://example.com/saldo", Timeout: "3s", Result: map[string]string{"cuenta": "account.id"}}}},
				Knowledge:  []Article{{ID: "horario", Title: Localized{"": "Horario"}, Questions: Examples{"es": {"a qué hora abren"}}, Answer: Localized{"es": "De 8 a 6."}}},
				OutOfScope: Examples{"es": {"cuéntame un chiste"}},
			},
			has: []string{"small_talk: false", "threshold: 0.35", `- "yes"`, `value: "true"`, `descripcion: '{cuenta}'`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := roundTripDefinition(t, tt.def)
			if !bytes.HasPrefix(data, []byte("# Imported by conversa bot import")) {
				t.Errorf("no header comment:\n%s", data)
			}
			var lines []string
			for l := range strings.Lines(string(data)) {
				lines = append(lines, strings.TrimSpace(l))
			}
			for _, want := range tt.has {
				if !slices.Contains(lines, want) {
					t.Errorf("no line %q in:\n%s", want, data)
				}
			}
			if strings.Contains(string(data), `"":`) {
				t.Errorf("a text without language is written as a map:\n%s", data)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		if _, err := MarshalDefinition(nil); err == nil {
			t.Error("MarshalDefinition(nil) succeeded")
		}
	})
}

func FuzzImportCSV(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "import", "csv", "*.csv"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a;b\n\"x;y\";z\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := ImportCSV("f.csv", bytes.NewReader(data), "es")
		if err != nil {
			var errs DefinitionErrors
			if !errors.As(err, &errs) || len(errs) == 0 || len(errs) > maxCSVErrors {
				t.Fatalf("error %v (%T) is not 1 to %d DefinitionErrors", err, err, maxCSVErrors)
			}
			for _, e := range errs {
				if e.File != "f.csv" {
					t.Fatalf("error %q does not name the file", e)
				}
			}
			return
		}
		for _, in := range d.Intents {
			if !namePattern.MatchString(in.Name) {
				t.Fatalf("invalid intent name %q", in.Name)
			}
		}
		roundTripDefinition(t, d)
	})
}

func FuzzImportRasa(f *testing.F) {
	for _, p := range rasaProjects {
		nlu, domain := readRasa(f, p.dir)
		for _, data := range nlu {
			f.Add(data, domain)
		}
	}
	f.Add([]byte("nlu:\n- intent: a\n  examples: |\n    - [x]{\"entity\": \"e\"} y\n    - [z][{\"entity\": \"e\", \"value\": \"w\"}]\n"), []byte(nil))
	f.Fuzz(func(t *testing.T, nlu, domain []byte) {
		d, _, err := ImportRasa(map[string][]byte{"nlu.yml": nlu}, domain, "es")
		if err != nil {
			var errs DefinitionErrors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %v (%T) is not DefinitionErrors", err, err)
			}
			return
		}
		for _, in := range d.Intents {
			if !namePattern.MatchString(in.Name) {
				t.Fatalf("invalid intent name %q", in.Name)
			}
		}
		roundTripDefinition(t, d)
	})
}

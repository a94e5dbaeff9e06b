package templates

import (
	"errors"
	"strings"
	"testing"

	"conversa/conversation"
)

func mustParse(t *testing.T, src string) *Template {
	t.Helper()
	tp, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// fallbackDef has one text per variant, naming it.
const fallbackDef = `
purpose: chain
variants:
  - {channel: sms, language: es-CO, text: sms/es-CO}
  - {channel: sms, language: es, text: sms/es}
  - {channel: sms, language: pt-PT, text: sms/pt-PT}
  - {channel: sms, language: pt-BR, text: sms/pt-BR}
  - {channel: whatsapp, language: es-MX, text: whatsapp/es-MX}
  - {channel: default, language: en, text: default/en}
  - {channel: default, language: es-CO, text: default/es-CO}
  - {channel: telegram, language: fr, text: telegram/fr}
`

func TestRenderChoosesVariant(t *testing.T) {
	tp := mustParse(t, fallbackDef)
	tests := []struct {
		channel              conversation.ChannelKind
		lang, fallback, want string
	}{
		{"sms", "es-CO", "en", "sms/es-CO"},           // exact
		{"sms", "es-co", "en", "sms/es-CO"},           // tags in any case
		{"sms", "es_CO", "en", "sms/es-CO"},           // and with an underscore
		{"sms", "es-AR", "en", "sms/es"},              // the base language
		{"sms", "es", "en", "sms/es"},                 // the base beats its regions
		{"sms", "pt", "en", "sms/pt-BR"},              // another region: the first in tag order
		{"sms", "pt-AO", "en", "sms/pt-BR"},           //
		{"whatsapp", "es-CO", "en", "whatsapp/es-MX"}, // another region on the channel beats the default channel
		{"whatsapp", "en", "es", "default/en"},        // the default channel in the contact's language
		{"whatsapp", "fr", "es", "whatsapp/es-MX"},    // then the tenant's language on the channel
		{"webchat", "fr", "es", "default/es-CO"},      // and on the default channel
		{"telegram", "fr-CA", "es", "telegram/fr"},    //
		{"sms", "", "es", "sms/es"},                   // no language: the tenant's
		{"sms", "not a tag!", "en", "default/en"},     // an unreadable one too
		{"voice", "de", "en", "default/en"},           //
	}
	for _, tt := range tests {
		t.Run(string(tt.channel)+"_"+tt.lang+"_"+tt.fallback, func(t *testing.T) {
			r, err := tp.Render(Request{Channel: tt.channel, Language: tt.lang, Fallback: tt.fallback})
			if err != nil {
				t.Fatal(err)
			}
			if r.Text != tt.want || r.Variant != tt.want {
				t.Errorf("rendered %q (variant %s), want %s", r.Text, r.Variant, tt.want)
			}
		})
	}
}

func TestRenderNoVariant(t *testing.T) {
	tp := mustParse(t, `
purpose: only_sms
variants:
  - {channel: sms, language: es, text: hola}
`)
	_, err := tp.Render(Request{Channel: "whatsapp", Language: "es", Fallback: "es"})
	if !conversation.IsNotFound(err) {
		t.Errorf("whatsapp: error %v, want not found", err)
	}
	_, err = tp.Render(Request{Channel: "sms", Language: "en", Fallback: "en"})
	if !conversation.IsNotFound(err) {
		t.Errorf("sms in en: error %v, want not found", err)
	}
	_, err = tp.Render(Request{Channel: "fax", Language: "es"})
	if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "channel" {
		t.Errorf("fax: error %v, want invalid channel", err)
	}
}

const dataDef = `
purpose: data
variables:
  name: {sample: Ana, required: true}
  radicado: {sample: PQR-2026-000001, required: true}
  note: {}
variants:
  - channel: email
    language: es
    subject: "Caso {{.radicado}} de {{.name}}"
    text: "Hola {{.name}}{{with .note}} ({{.}}){{end}}"
    html: '<p title="{{.name}}">Hola {{.name}}</p><a href="{{.note}}">nota</a>'
  - channel: whatsapp
    language: es
    text: "Hola {{.name}}"
    content_sid: HX0123456789abcdef0123456789abcdef
    content_variables: [radicado, name]
`

func TestRenderData(t *testing.T) {
	tp := mustParse(t, dataDef)
	email := func(data map[string]string) (Rendered, error) {
		return tp.Render(Request{Channel: "email", Language: "es", Data: data})
	}
	t.Run("missing required data", func(t *testing.T) {
		_, err := email(map[string]string{"name": "  "})
		if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "data.name" {
			t.Fatalf("error %v (field %q), want invalid data.name", err, conversation.ErrorField(err))
		}
		if !strings.Contains(err.Error(), "name, radicado") {
			t.Errorf("error %q does not name both missing variables", err)
		}
	})
	t.Run("undeclared data is ignored, optional data may be missing", func(t *testing.T) {
		r, err := email(map[string]string{"name": "Ana", "radicado": "PQR-1", "other": "{{.name}}"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != "Hola Ana" {
			t.Errorf("text %q", r.Text)
		}
	})
	t.Run("HTML escapes data, text keeps it", func(t *testing.T) {
		r, err := email(map[string]string{"name": `<b onclick="x()">Ana</b>`, "radicado": "PQR-1", "note": "javascript:alert(1)"})
		if err != nil {
			t.Fatal(err)
		}
		want := `<p title="&lt;b onclick=&#34;x()&#34;&gt;Ana&lt;/b&gt;">Hola &lt;b onclick=&#34;x()&#34;&gt;Ana&lt;/b&gt;</p><a href="#ZgotmplZ">nota</a>`
		if r.HTML != want {
			t.Errorf("html\n%s\nwant\n%s", r.HTML, want)
		}
		if r.Text != `Hola <b onclick="x()">Ana</b> (javascript:alert(1))` {
			t.Errorf("text %q", r.Text)
		}
	})
	t.Run("a subject is one line", func(t *testing.T) {
		r, err := email(map[string]string{"name": "Ana\r\nBcc: victim@example.com", "radicado": "PQR-1"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Subject != "Caso PQR-1 de Ana Bcc: victim@example.com" {
			t.Errorf("subject %q", r.Subject)
		}
	})
	t.Run("control characters are stripped", func(t *testing.T) {
		r, err := email(map[string]string{"name": "A\x00n\x07a\u202e\u2066\x7f\u0085", "radicado": "PQR\r1", "note": "a\tb\xffc"})
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != "Hola Ana (a\tb\uFFFDc)" || r.Subject != "Caso PQR 1 de Ana" {
			t.Errorf("text %q, subject %q", r.Text, r.Subject)
		}
	})
	t.Run("content variables in order, on one line", func(t *testing.T) {
		r, err := tp.Render(Request{Channel: "whatsapp", Language: "es", Data: map[string]string{"name": "Ana\nMaría\t    López", "radicado": "PQR-1"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.ContentVariables) != 2 || r.ContentVariables[0] != "PQR-1" || r.ContentVariables[1] != "Ana María    López" {
			t.Errorf("content variables %q", r.ContentVariables)
		}
		if r.ContentSid != "HX0123456789abcdef0123456789abcdef" {
			t.Errorf("content sid %q", r.ContentSid)
		}
	})
}

func TestRenderLengthRules(t *testing.T) {
	tp := mustParse(t, `
purpose: long
variables:
  body: {sample: hola, required: true}
variants:
  - {channel: default, language: es, text: "{{.body}}"}
  - {channel: sms, language: en, text: "{{.body}}", max_segments: 2}
`)
	tests := []struct {
		channel conversation.ChannelKind
		lang    string
		body    string
		ok      bool
	}{
		{"whatsapp", "es", strings.Repeat("a", 1600), true},
		{"whatsapp", "es", strings.Repeat("a", 1601), false},
		{"telegram", "es", strings.Repeat("😊", 2048), true}, // 4096 UTF-16 units
		{"telegram", "es", strings.Repeat("😊", 2049), false},
		{"webchat", "es", strings.Repeat("ó", 4096), true},
		{"webchat", "es", strings.Repeat("ó", 4097), false},
		{"voice", "es", strings.Repeat("a", 1000), true},
		{"voice", "es", strings.Repeat("a", 1001), false},
		{"sms", "es", strings.Repeat("a", 153*10), true}, // the default variant: 10 segments
		{"sms", "es", strings.Repeat("a", 153*10+1), false},
		{"sms", "en", strings.Repeat("a", 306), true}, // max_segments 2
		{"sms", "en", strings.Repeat("a", 307), false},
		{"sms", "en", strings.Repeat("ó", 134), true},
		{"sms", "en", strings.Repeat("ó", 135), false},
	}
	for _, tt := range tests {
		r, err := tp.Render(Request{Channel: tt.channel, Language: tt.lang, Data: map[string]string{"body": tt.body}})
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s, %d bytes: %v", tt.channel, len(tt.body), err)
		case !tt.ok && conversation.ErrorCode(err) != conversation.ETOOLARGE:
			t.Errorf("%s, %d bytes: error %v, want too large", tt.channel, len(tt.body), err)
		case tt.ok && tt.channel == "sms" && r.SMS == nil:
			t.Errorf("%s: no SMS count", tt.channel)
		}
	}
}

func TestRenderBadData(t *testing.T) {
	tp := mustParse(t, `
purpose: reminder
variables:
  due: {sample: "2026-03-30", required: true}
variants:
  - channel: sms
    language: es
    text: |
      Su cita:
      el {{date .due}}
`)
	_, err := tp.Render(Request{Channel: "sms", Language: "es", Data: map[string]string{"due": "mañana"}})
	if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "text" {
		t.Fatalf("error %v, want invalid text", err)
	}
	var re *renderError
	if !errors.As(err, &re) || re.line != 2 || re.col != 6 {
		t.Errorf("error %v: want line 2, column 6 of the text", err)
	}
}

func TestPreviewUsesSamples(t *testing.T) {
	tp := mustParse(t, dataDef)
	r, err := tp.Preview(Request{Channel: "email", Language: "es", Data: map[string]string{"note": "urgente"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Caso PQR-2026-000001 de Ana" || r.Text != "Hola Ana (urgente)" {
		t.Errorf("subject %q, text %q", r.Subject, r.Text)
	}
}

func TestFuncs(t *testing.T) {
	tp := mustParse(t, `
purpose: funcs
variables:
  name: {sample: " ana ", required: true}
  due: {sample: "2026-03-09T10:15:00-05:00", required: true}
  note: {}
variants:
  - channel: sms
    language: es
    text: '{{upper .name}}|{{trim .name | lower}}|{{default "sin nota" .note}}|{{date .due}}|{{date "2006/01/02 15:04" .due}}|{{truncate 5 "abcdefgh"}}|{{truncate 8 "abcdefgh"}}'
  - channel: sms
    language: en
    text: '{{date .due}}{{if eq .note ""}} (no note){{end}}'
  - channel: sms
    language: pt
    text: '{{date .due}}'
`)
	for lang, want := range map[string]string{
		"es": " ANA |ana|sin nota|9 de marzo de 2026|2026/03/09 10:15|abcd…|abcdefgh",
		"en": "March 9, 2026 (no note)",
		"pt": "2026-03-09",
	} {
		r, err := tp.Render(Request{Channel: "sms", Language: lang, Data: tp.Samples()})
		if err != nil {
			t.Fatal(err)
		}
		if r.Text != strings.TrimSpace(want) {
			t.Errorf("%s: %q, want %q", lang, r.Text, want)
		}
	}
}

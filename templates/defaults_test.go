package templates_test

import (
	"path/filepath"
	"strings"
	"testing"

	"conversa/conversation"
	"conversa/storage/sqlite"
	"conversa/templates"
)

// TestDefaults: the built-in templates pass the checks a tenant's do, in
// Spanish and English on every channel, with an email subject; a tenant's
// own template wins over them, and the plain Service does not see them.
func TestDefaults(t *testing.T) {
	want := []string{"case_escalated", "case_extended", "case_filed", "case_resolved", "case_status", "case_survey", "survey_csat", "survey_nps"}
	if got := templates.DefaultPurposes(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("default purposes %v, want %v", got, want)
	}
	data := map[string]string{"name": "Ana", "radicado": "PQR-2026-000007", "type": "queja", "status": "en_tramite",
		"due": "2026-11-24", "days": "10", "reason": "Esperamos a facturación.", "answer": "Reembolsamos el cobro doble.", "level": "supervisor", "share": "90"}
	for _, purpose := range want[:6] { // the case notifications
		tp, ok := templates.Default(purpose)
		if !ok {
			t.Fatalf("no default %s", purpose)
		}
		// The source parses again as a tenant's would.
		if _, err := templates.Parse(purpose+".yaml", tp.Source()); err != nil {
			t.Fatalf("%s: %v", purpose, err)
		}
		for _, ch := range []conversation.ChannelKind{conversation.ChannelWebchat, conversation.ChannelSMS, conversation.ChannelWhatsApp,
			conversation.ChannelTelegram, conversation.ChannelEmail, conversation.ChannelVoice} {
			for _, lang := range []string{"es", "en"} {
				r, err := tp.Render(templates.Request{Channel: ch, Language: lang, Data: data})
				if err != nil {
					t.Fatalf("%s on %s in %s: %v", purpose, ch, lang, err)
				}
				if !strings.Contains(r.Text, "PQR-2026-000007") || (ch == conversation.ChannelEmail) != (r.Subject != "") {
					t.Errorf("%s on %s in %s: %+v", purpose, ch, lang, r)
				}
				if r.Language != lang {
					t.Errorf("%s on %s in %s rendered in %s", purpose, ch, lang, r.Language)
				}
			}
		}
	}
	tp, _ := templates.Default("case_status")
	r, _ := tp.Render(templates.Request{Channel: conversation.ChannelWebchat, Language: "es", Data: data})
	if r.Text != "Hola Ana, tu caso PQR-2026-000007 está en trámite. Recibirás respuesta a más tardar el 24 de noviembre de 2026." {
		t.Errorf("case_status: %q", r.Text)
	}
	tp, _ = templates.Default("case_survey")
	if r, _ = tp.Render(templates.Request{Channel: conversation.ChannelWebchat, Language: "es", Data: data}); !strings.Contains(r.Text, "Responde de 1 (muy mala) a 5 (excelente)") {
		t.Errorf("case_survey: %q", r.Text)
	}

	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if tn, err = store.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	svc := templates.NewService(store)
	defaults := svc.Defaults()
	req := templates.Request{Channel: conversation.ChannelSMS, Language: "es", Data: data}
	if _, _, err := svc.Template(t.Context(), tn.ID, "case_resolved"); !conversation.IsNotFound(err) {
		t.Fatalf("the plain service found %v, want not found", err)
	}
	r, err = defaults.Render(t.Context(), tn.ID, "case_resolved", req)
	if err != nil || r.Version != 0 || r.Text != "Hola Ana, tu caso PQR-2026-000007 fue resuelto. Respuesta: Reembolsamos el cobro doble." {
		t.Fatalf("default render: %+v, %v", r, err)
	}
	if _, _, err := defaults.Template(t.Context(), tn.ID, "appointment_reminder"); !conversation.IsNotFound(err) {
		t.Fatalf("a purpose without a default: %v, want not found", err)
	}
	own := "purpose: case_resolved\nvariables:\n  radicado: {sample: \"PQR-1\", required: true}\nvariants:\n  - channel: default\n    language: es\n    text: \"Caso {{.radicado}} listo.\"\n"
	if _, _, _, err := svc.Save(t.Context(), tn.ID, "case_resolved", "case_resolved.yaml", []byte(own)); err != nil {
		t.Fatal(err)
	}
	if r, err = defaults.Render(t.Context(), tn.ID, "case_resolved", req); err != nil || r.Version != 1 || r.Text != "Caso PQR-2026-000007 listo." {
		t.Fatalf("the tenant's own: %+v, %v", r, err)
	}
	if err := store.DeleteTemplate(t.Context(), tn.ID, "case_resolved"); err != nil {
		t.Fatal(err)
	}
	if r, err = defaults.Render(t.Context(), tn.ID, "case_resolved", req); err != nil || r.Version != 0 {
		t.Fatalf("after deleting its own: %+v, %v", r, err)
	}
}

// TestSurveyDefaults: the built-in CSAT and NPS surveys render in Spanish
// and English on every channel, with or without a topic, and ask for
// their scale.
func TestSurveyDefaults(t *testing.T) {
	for purpose, scale := range map[string][2]string{
		"survey_csat": {"de 1 (muy mala) a 5 (excelente)", "from 1 (very poor) to 5 (excellent)"},
		"survey_nps":  {"del 0 (nada probable) al 10 (muy probable)", "from 0 (not at all likely) to 10 (extremely likely)"},
	} {
		tp, ok := templates.Default(purpose)
		if !ok {
			t.Fatalf("no default %s", purpose)
		}
		if _, err := templates.Parse(purpose+".yaml", tp.Source()); err != nil {
			t.Fatalf("%s: %v", purpose, err)
		}
		for _, data := range []map[string]string{nil, {"topic": "el pedido 123", "name": "Ana"}} {
			for _, ch := range []conversation.ChannelKind{conversation.ChannelWebchat, conversation.ChannelSMS, conversation.ChannelWhatsApp,
				conversation.ChannelTelegram, conversation.ChannelEmail, conversation.ChannelVoice} {
				for i, lang := range []string{"es", "en"} {
					r, err := tp.Render(templates.Request{Channel: ch, Language: lang, Data: data})
					if err != nil {
						t.Fatalf("%s on %s in %s: %v", purpose, ch, lang, err)
					}
					if !strings.Contains(r.Text, scale[i]) || strings.Contains(r.Text, "el pedido 123") != (data != nil) ||
						(ch == conversation.ChannelEmail) != (r.Subject != "") || r.Language != lang {
						t.Errorf("%s on %s in %s with %v: %+v", purpose, ch, lang, data, r)
					}
				}
			}
		}
	}
}

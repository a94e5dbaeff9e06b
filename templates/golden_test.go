package templates

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conversa/conversation"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with the file at path, or writes it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// parseFile parses a definition of testdata.
func parseFile(t *testing.T, path string) *Template {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := Parse(filepath.Base(path), src)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// dump writes a rendered template as the golden files hold it.
func dump(r Rendered) string {
	var b strings.Builder
	fmt.Fprintf(&b, "purpose: %s\nchannel: %s\nvariant: %s (variants[%d])\n", r.Purpose, r.Channel, r.Variant, r.VariantIndex)
	if r.SMS != nil {
		fmt.Fprintf(&b, "sms: %s, %d units, %d segments\n", r.SMS.Encoding, r.SMS.Units, r.SMS.Segments)
	}
	if r.ContentSid != "" {
		fmt.Fprintf(&b, "content_sid: %s\ncontent_variables: %q\n", r.ContentSid, r.ContentVariables)
	}
	if r.Subject != "" {
		fmt.Fprintf(&b, "subject: %s\n", r.Subject)
	}
	fmt.Fprintf(&b, "--- text\n%s\n", r.Text)
	if r.HTML != "" {
		fmt.Fprintf(&b, "--- html\n%s\n", r.HTML)
	}
	return b.String()
}

// TestRenderGolden renders the example definitions of testdata for every
// channel, and compares each result with testdata/golden/<name>.txt.
func TestRenderGolden(t *testing.T) {
	long := "Hemos revisado su solicitud y encontramos que el cobro duplicado se debió a un error de facturación. " +
		"Reembolsaremos el valor completo en su próxima factura, que llegará en los primeros días del mes."
	tests := []struct {
		name, file string
		req        Request
	}{
		{"case_resolved.whatsapp.es", "case_resolved", Request{Channel: "whatsapp", Language: "es-CO", Fallback: "es"}},
		{"case_resolved.whatsapp.en", "case_resolved", Request{Channel: "whatsapp", Language: "en", Fallback: "es",
			Data: map[string]string{"name": "John\n  Smith", "answer": ""}}},
		{"case_resolved.sms.es.ucs2", "case_resolved", Request{Channel: "sms", Language: "es", Fallback: "es"}},
		{"case_resolved.sms.es.long", "case_resolved", Request{Channel: "sms", Language: "es", Fallback: "es",
			Data: map[string]string{"answer": long}}},
		{"case_resolved.sms.en.gsm", "case_resolved", Request{Channel: "sms", Language: "en", Fallback: "es",
			Data: map[string]string{"name": "Ana", "answer": "We refunded {the order} to your card [ref ~42] at 5€."}}},
		{"case_resolved.telegram.es", "case_resolved", Request{Channel: "telegram", Language: "es", Fallback: "es"}},
		{"case_resolved.email.es", "case_resolved", Request{Channel: "email", Language: "es", Fallback: "es",
			Data: map[string]string{"name": `<script>alert("x")</script> & Co`, "radicado": `PQR-1"><img src=x>`}}},
		{"case_resolved.email.en", "case_resolved", Request{Channel: "email", Language: "en-US", Fallback: "es"}},
		{"case_resolved.voice.es", "case_resolved", Request{Channel: "voice", Language: "", Fallback: "es"}},
		{"case_resolved.webchat.es", "case_resolved", Request{Channel: "webchat", Language: "es", Fallback: "en"}},
		{"case_resolved.webchat.en", "case_resolved", Request{Channel: "webchat", Language: "en-GB", Fallback: "es"}},
		{"appointment_reminder.sms.es", "appointment_reminder", Request{Channel: "sms", Language: "es", Fallback: "es"}},
		{"appointment_reminder.sms.es-CO", "appointment_reminder", Request{Channel: "sms", Language: "es_co", Fallback: "es"}},
		{"appointment_reminder.webchat.es-MX", "appointment_reminder", Request{Channel: "webchat", Language: "es-MX", Fallback: "en"}},
		{"appointment_reminder.telegram.en", "appointment_reminder", Request{Channel: "telegram", Language: "pt", Fallback: "en"}},
		{"survey.sms.es.emoji", "survey", Request{Channel: "sms", Language: "es", Fallback: "es"}},
		{"survey.telegram.en", "survey", Request{Channel: "telegram", Language: "en", Fallback: "es"}},
		{"survey.voice.en", "survey", Request{Channel: "voice", Language: "en", Fallback: "es",
			Data: map[string]string{"name": "Luisa\x00\x1b[31m\u202eevil"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := parseFile(t, filepath.Join("testdata", tt.file+".yaml"))
			r, err := tp.Preview(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "golden", tt.name+".txt"), dump(r))
		})
	}
}

// TestInvalidGolden parses every definition of testdata/invalid and
// compares its problems, one a line, with the .err file beside it.
func TestInvalidGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid definitions: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			tp, err := Parse(filepath.Base(f), src)
			if err == nil {
				t.Fatalf("parsed %s", tp.Purpose)
			}
			if code := conversation.ErrorCode(err); code != conversation.EINVALID {
				t.Errorf("code %s, want %s", code, conversation.EINVALID)
			}
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %v carries no Problems", err)
			}
			var b strings.Builder
			for _, p := range ps {
				if p.Line == 0 {
					t.Errorf("problem without a line: %v", p)
				}
				b.WriteString(p.Error() + "\n")
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".err", b.String())
		})
	}
}

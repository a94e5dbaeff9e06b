package templates_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"conversa/conversation"
	"conversa/storage/sqlite"
	"conversa/templates"
)

func TestService(t *testing.T) {
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	var tenants [2]int64
	for i, slug := range []string{"acme", "globex"} {
		tn := conversation.Tenant{Slug: slug, Name: slug}
		if err := tn.Validate(); err != nil {
			t.Fatal(err)
		}
		if tn, err = store.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		tenants[i] = tn.ID
	}
	acme, globex := tenants[0], tenants[1]
	svc := templates.NewService(store)
	src, err := os.ReadFile(filepath.Join("testdata", "case_resolved.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	t.Run("a bad definition is not stored", func(t *testing.T) {
		bad := []byte(strings.Replace(string(src), "{{.radicado}} fue resuelto.{{with", "{{.numero}} fue resuelto.{{with", 1))
		_, _, _, err := svc.Save(ctx, acme, "", "case_resolved.yaml", bad)
		var ps templates.Problems
		if conversation.ErrorCode(err) != conversation.EINVALID || !errors.As(err, &ps) {
			t.Fatalf("error %v, want invalid with problems", err)
		}
		if !strings.Contains(ps[0].Error(), `case_resolved.yaml:12:38:`) || !strings.Contains(ps[0].Msg, `"numero"`) {
			t.Errorf("problem %v", ps[0])
		}
		if _, _, err := svc.Template(ctx, acme, "case_resolved"); !conversation.IsNotFound(err) {
			t.Errorf("after a bad save: %v, want not found", err)
		}
	})
	t.Run("the purpose must be the one asked", func(t *testing.T) {
		_, _, _, err := svc.Save(ctx, acme, "survey", "x.yaml", src)
		if conversation.ErrorField(err) != "purpose" {
			t.Errorf("error %v, want invalid purpose", err)
		}
	})

	v1, _, created, err := svc.Save(ctx, acme, "case_resolved", "case_resolved.yaml", src)
	if err != nil || !created || v1.Number != 1 {
		t.Fatalf("first save: %+v, created %v, %v", v1, created, err)
	}
	if again, _, created, err := svc.Save(ctx, acme, "", "case_resolved.yaml", src); err != nil || created || again.Number != 1 {
		t.Fatalf("unchanged save: %+v, created %v, %v", again, created, err)
	}
	req := templates.Request{Channel: conversation.ChannelSMS, Language: "es", Fallback: "es",
		Data: map[string]string{"name": "Ana", "radicado": "PQR-2026-000001", "due": "2026-03-30"}}
	r, err := svc.Render(ctx, acme, "case_resolved", req)
	if err != nil || r.Version != 1 || !strings.HasPrefix(r.Text, "Ana, su caso PQR-2026-000001 fue resuelto.") {
		t.Fatalf("render of version 1: %+v, %v", r, err)
	}

	src2 := []byte(strings.Replace(string(src), "su caso {{.radicado}} fue resuelto.", "su caso {{.radicado}} quedó resuelto.", 1))
	if v2, _, created, err := svc.Save(ctx, acme, "", "case_resolved.yaml", src2); err != nil || !created || v2.Number != 2 {
		t.Fatalf("second save: %+v, created %v, %v", v2, created, err)
	}
	r, err = svc.Render(ctx, acme, "case_resolved", req)
	if err != nil || r.Version != 2 || !strings.Contains(r.Text, "quedó resuelto") {
		t.Errorf("render after the second save: %+v, %v", r, err)
	}
	old, v, err := svc.TemplateVersion(ctx, acme, "case_resolved", 1)
	if err != nil || v.Number != 1 || old.Checksum != templates.Checksum(src) {
		t.Fatalf("version 1: %+v, %v", v, err)
	}
	p, err := svc.Preview(ctx, acme, "case_resolved", templates.Request{Channel: conversation.ChannelWhatsApp, Language: "en",
		Data: map[string]string{"name": "John"}})
	if err != nil || p.Text != "Hi John, your case PQR-2026-000123 was resolved. Answer: Reembolsamos el valor del pedido a su tarjeta." ||
		p.ContentVariables[0] != "John" {
		t.Errorf("preview: %+v, %v", p, err)
	}
	if _, err := svc.Render(ctx, globex, "case_resolved", req); !conversation.IsNotFound(err) {
		t.Errorf("another tenant renders: %v, want not found", err)
	}
}

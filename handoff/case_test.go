package handoff

import (
	"slices"
	"strings"
	"testing"

	"conversa/conversation"
)

func TestTransitions(t *testing.T) {
	statuses := []CaseStatus{Radicado, EnTramite, Escalado, Resuelto, Cerrado, Reabierto}
	allowed := map[[2]CaseStatus]bool{
		{Radicado, EnTramite}: true, {Radicado, Escalado}: true, {Radicado, Resuelto}: true,
		{EnTramite, Escalado}: true, {EnTramite, Resuelto}: true,
		{Escalado, EnTramite}: true, {Escalado, Resuelto}: true,
		{Resuelto, Cerrado}: true, {Resuelto, Reabierto}: true,
		{Cerrado, Reabierto}:   true,
		{Reabierto, EnTramite}: true, {Reabierto, Escalado}: true, {Reabierto, Resuelto}: true,
	}
	// Every pair of statuses, each way.
	for _, from := range statuses {
		for _, to := range statuses {
			err := CheckTransition(from, to)
			if allowed[[2]CaseStatus{from, to}] {
				if err != nil {
					t.Errorf("%s → %s: %v", from, to, err)
				}
				continue
			}
			if !conversation.IsConflict(err) {
				t.Errorf("%s → %s: %v, want a conflict", from, to, err)
				continue
			}
			for _, s := range from.Next() {
				if !strings.Contains(err.Error(), string(s)) {
					t.Errorf("%s → %s: %q does not name the allowed %s", from, to, err, s)
				}
			}
		}
	}
	if err := CheckTransition(Radicado, "archivado"); conversation.ErrorCode(err) != conversation.EINVALID {
		t.Errorf("unknown status: %v", err)
	}
	next := Radicado.Next()
	next[0] = Cerrado
	if slices.Contains(Radicado.Next(), Cerrado) {
		t.Error("Next returned the table itself")
	}
}

func TestRadicado(t *testing.T) {
	if got := FormatRadicado("PQR", 2026, 123); got != "PQR-2026-000123" {
		t.Errorf("FormatRadicado = %s", got)
	}
	tests := map[string]string{
		"¿cómo va mi radicado PQR-2026-000123?": "PQR-2026-000123",
		"radicado pqr 2026 123 por favor":       "PQR-2026-000123",
		"el PQR-2026-45 no me ha llegado":       "PQR-2026-000045",
		"mi pedido 2026":                        "",
		"mi factura 2026 5 y el pqr 2026 7":     "PQR-2026-000007",
		"PQR-2026-0":                            "",
		"PQR-1999-000001":                       "",
		"":                                      "",
	}
	for text, want := range tests {
		if got := FindRadicado(text, "PQR"); got != want {
			t.Errorf("FindRadicado(%q) = %q, want %q", text, got, want)
		}
	}
}

func TestCaseTypes(t *testing.T) {
	for in, want := range map[string]CaseType{"Petición": Peticion, " QUEJA ": Queja, "felicitación": Felicitacion, "consulta": Consulta} {
		if got, err := ParseCaseType(in); err != nil || got != want {
			t.Errorf("ParseCaseType(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseCaseType("reclamación formal"); conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "type" {
		t.Errorf("unknown type: %v", err)
	}
	for _, ty := range CaseTypes {
		if DefaultTerms[ty] == 0 {
			t.Errorf("%s has no default term", ty)
		}
	}
	if DefaultTerms[Peticion] != 15 || DefaultTerms[Informacion] != 10 || DefaultTerms[Consulta] != 30 {
		t.Error("the terms of Ley 1755 de 2015 are 15, 10 and 30 business days")
	}
	if MaxExtension(15) != 15 {
		t.Error("an extension may at most double the term")
	}
}

func FuzzFindRadicado(f *testing.F) {
	for _, s := range []string{"PQR-2026-000123", "radicado pqr 2026 123", "", "ÑÑÑ-2026-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := FindRadicado(s, "PQR")
		if got != "" && FindRadicado(got, "pqr") != got {
			t.Fatalf("FindRadicado(%q) = %q, which does not read back", s, got)
		}
	})
}

package api_test

import (
	"net/http"
	"testing"

	"conversa/handoff"
)

// TestResolveWithAnswer: a transition to resuelto may carry the answer the
// customer is told; it becomes the note of the resolution in the history.
// An answer with another status, or beside a note, is refused.
func TestResolveWithAnswer(t *testing.T) {
	t.Parallel()
	e, clk := newCaseEnv(t, true)
	tn := e.newTenant(t, "acme", "")
	k := tn.key
	ana := e.ingest(t, tn, "ana", "m-1", "hola").Conversation
	c := fileCase(t, e, clk, caseBase, k, map[string]any{"type": "queja", "contact_id": ana.ContactID, "description": "Cobro doble"})

	wantError(t, e.do(t, "POST", casePath(c.ID, "/transition"), k, map[string]any{"status": "en_tramite", "answer": "x"}), 400, "invalid", "answer")
	wantError(t, e.do(t, "POST", casePath(c.ID, "/transition"), k, map[string]any{"status": "resuelto", "answer": "x", "note": "y"}), 400, "invalid", "note")
	wantError(t, e.do(t, "POST", casePath(c.ID, "/transition"), k, map[string]any{"status": "resuelto", "answer": "   "}), 400, "invalid", "answer")
	got := decode[handoff.Case](t, e.do(t, "POST", casePath(c.ID, "/transition"), k,
		map[string]any{"status": "resuelto", "answer": "Reembolsamos el cobro doble."}), http.StatusOK)
	if got.Status != handoff.Resuelto {
		t.Fatalf("resolved %+v", got)
	}
	evs := decode[page[handoff.CaseEvent]](t, e.do(t, "GET", casePath(c.ID, "/history"), k, nil), http.StatusOK).Data
	last := evs[len(evs)-1]
	if last.Kind != "resolved" || last.To != handoff.Resuelto || last.Note != "Reembolsamos el cobro doble." || last.Actor != "api:"+tn.keyID {
		t.Fatalf("history %+v", evs)
	}
	wantError(t, e.do(t, "POST", casePath(c.ID, "/transition"), k, map[string]any{"status": "resuelto", "answer": "otra"}), 409, "conflict", "")
}

package main

import (
	"testing"

	"conversa/handoff"
)

func TestCaseRulesFromSettings(t *testing.T) {
	r, err := caseRules(&Config{CaseTermHours: " Denuncia=4, queja = 8 ,", CasePauseRule: "restart"})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.TermHours) != 2 || r.TermHours[handoff.Denuncia] != 4 || r.TermHours[handoff.Queja] != 8 || r.Pause != handoff.PauseRestart {
		t.Fatalf("rules %+v", r)
	}
	if r, err := caseRules(&Config{}); err != nil || r.TermHours != nil {
		t.Fatalf("no settings: %+v, %v", r, err)
	}
	for _, bad := range []string{"queja", "queja=x", "grito=3", "queja=-1", "queja=100000"} {
		if _, err := caseRules(&Config{CaseTermHours: bad}); err == nil {
			t.Errorf("case_term_hours=%q accepted", bad)
		}
	}
}

package handofftest

import (
	"reflect"
	"testing"

	"conversa/conversation"
	"conversa/handoff"
)

// TestCasePolicyStore runs the handoff.CasePolicyStore contract: a policy
// comes back as stored, a second replaces the first, a tenant without one
// and another tenant's are ENOTFOUND, and so is storing one for no tenant.
func TestCasePolicyStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, handoff.CasePolicyStore)) {
	cs, s := newStore(t)
	ctx := t.Context()
	a, b := tenant(t, cs, "policy-a"), tenant(t, cs, "policy-b")
	if _, err := s.CasePolicy(ctx, a); conversation.ErrorCode(err) != conversation.ENOTFOUND {
		t.Fatalf("policy of a tenant without one: %v, want ENOTFOUND", err)
	}
	p := handoff.CasePolicy{
		Terms:    map[handoff.CaseType]int{handoff.Queja: 5},
		Holidays: []string{"2026-03-04"},
		Rules: handoff.CaseRules{
			TermHours:    map[handoff.CaseType]int{handoff.Denuncia: 4},
			Hours:        []handoff.Span{{Day: 1, From: "09:00", To: "18:00"}},
			Pause:        handoff.PauseRestart,
			ManualResume: true,
		},
		Levels:           []handoff.Level{{At: 0.5, To: "lead", Notify: []string{"agent:3"}}, {At: 1, To: "manager", Notify: []string{"role:admin"}}},
		UrgentTypes:      []handoff.CaseType{handoff.Reclamo},
		MaxExtensionDays: 7,
	}
	must(t, p.Validate())
	must(t, s.PutCasePolicy(ctx, a, p))
	got, err := s.CasePolicy(ctx, a)
	must(t, err)
	if !reflect.DeepEqual(got, p) {
		t.Fatalf("policy = %+v, want %+v", got, p)
	}
	p2 := handoff.CasePolicy{Terms: map[handoff.CaseType]int{handoff.Peticion: 10}}
	must(t, s.PutCasePolicy(ctx, a, p2))
	if got, err = s.CasePolicy(ctx, a); err != nil || !reflect.DeepEqual(got, p2) {
		t.Fatalf("replaced policy = %+v, %v, want %+v", got, err, p2)
	}
	if _, err := s.CasePolicy(ctx, b); conversation.ErrorCode(err) != conversation.ENOTFOUND {
		t.Fatalf("another tenant's policy: %v, want ENOTFOUND", err)
	}
	if err := s.PutCasePolicy(ctx, b+1000, p); conversation.ErrorCode(err) != conversation.ENOTFOUND {
		t.Fatalf("policy of no tenant: %v, want ENOTFOUND", err)
	}
}

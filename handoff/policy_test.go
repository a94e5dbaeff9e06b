package handoff_test

import (
	"errors"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

func TestCasePolicyValidateNamesTheField(t *testing.T) {
	good := handoff.CasePolicy{
		Terms:       map[handoff.CaseType]int{handoff.Queja: 5},
		Holidays:    []string{"2026-12-24"},
		Levels:      []handoff.Level{{At: 0.5, To: "lead", Notify: []string{"agent:7"}}, {At: 1, To: "manager", Notify: []string{"role:admin"}}},
		UrgentTypes: []handoff.CaseType{handoff.Denuncia},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good policy: %v", err)
	}
	if err := (handoff.CasePolicy{}).Validate(); err != nil {
		t.Fatalf("empty policy (server defaults): %v", err)
	}
	cases := map[string]struct {
		edit  func(*handoff.CasePolicy)
		field string
	}{
		"unknown type":     {func(p *handoff.CasePolicy) { p.Terms = map[handoff.CaseType]int{"x": 3} }, "terms"},
		"zero term":        {func(p *handoff.CasePolicy) { p.Terms = map[handoff.CaseType]int{handoff.Queja: 0} }, "terms.queja"},
		"bad holiday":      {func(p *handoff.CasePolicy) { p.Holidays = []string{"2026-12-24", "24/12/2026"} }, "holidays[1]"},
		"falling levels":   {func(p *handoff.CasePolicy) { p.Levels = []handoff.Level{{At: 0.9, To: "a"}, {At: 0.5, To: "b"}} }, "levels[1]"},
		"bad target":       {func(p *handoff.CasePolicy) { p.Levels[0].Notify = []string{"everyone"} }, "levels[0].notify"},
		"bad urgent type":  {func(p *handoff.CasePolicy) { p.UrgentTypes = []handoff.CaseType{"nope"} }, "urgent_types[0]"},
		"bad pause":        {func(p *handoff.CasePolicy) { p.Rules.Pause = "stop" }, "rules.pause"},
		"bad term hours":   {func(p *handoff.CasePolicy) { p.Rules.TermHours = map[handoff.CaseType]int{handoff.Queja: -1} }, "rules.term_hours.queja"},
		"negative ext max": {func(p *handoff.CasePolicy) { p.MaxExtensionDays = -1 }, "max_extension_days"},
		"urgent twice":     {func(p *handoff.CasePolicy) { p.UrgentTypes = []handoff.CaseType{handoff.Queja, handoff.Queja} }, "urgent_types[1]"},
		"control in to":    {func(p *handoff.CasePolicy) { p.Levels[0].To = "lead\n" }, "levels[0].to"},
		"too many spans": {func(p *handoff.CasePolicy) {
			p.Rules.Hours = make([]handoff.Span, 51)
		}, "rules.hours"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := good
			p.Levels = append([]handoff.Level(nil), good.Levels...)
			c.edit(&p)
			err := p.Validate()
			var e *conversation.Error
			if !errors.As(err, &e) || e.Code != conversation.EINVALID || e.Field != c.field {
				t.Fatalf("Validate = %v, want EINVALID on %s", err, c.field)
			}
		})
	}
}

func TestCasePolicyCalendarAddsTheTenantsHolidays(t *testing.T) {
	tenant := conversation.Tenant{ID: 1, TimeZone: "America/Bogota", Region: "CO"}
	bogota, _ := time.LoadLocation("America/Bogota")
	filed := time.Date(2026, 3, 2, 10, 0, 0, 0, bogota) // a Monday
	def, err := handoff.CasePolicy{}.Calendar(tenant)
	if err != nil {
		t.Fatal(err)
	}
	// Five business days from Monday 2 March: Monday 9 March.
	if got := def.Due(filed, 5).In(bogota).Format(time.DateOnly); got != "2026-03-09" {
		t.Fatalf("default due = %s, want 2026-03-09", got)
	}
	own, err := handoff.CasePolicy{Holidays: []string{"2026-03-04"}}.Calendar(tenant)
	if err != nil {
		t.Fatal(err)
	}
	if got := own.Due(filed, 5).In(bogota).Format(time.DateOnly); got != "2026-03-10" {
		t.Fatalf("due with the tenant's holiday = %s, want 2026-03-10", got)
	}
	if _, err := (handoff.CasePolicy{Holidays: []string{"soon"}}).Calendar(tenant); conversation.ErrorCode(err) != conversation.EINVALID {
		t.Fatalf("bad holiday: %v", err)
	}
}

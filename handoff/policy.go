package handoff

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"conversa/conversation"
	"conversa/handoff/calendar"
)

// CasePolicy is a tenant's own rules for its cases, in place of the
// server-wide CasesConfig. Every field left empty takes the server's
// setting. CasePolicyStore keeps it per tenant; Cases does not apply it
// yet, and no API or apply section exchanges it (see issue 9).
type CasePolicy struct {
	// Terms are terms in business days by type.
	Terms map[CaseType]int `json:"terms,omitempty"`
	// Rules are terms in hours, business hours, the pause rule and manual
	// resume.
	Rules CaseRules `json:"rules"`
	// Holidays are closed days of the tenant as YYYY-MM-DD, added to its
	// country's (Colombia's are built in; other countries list theirs
	// here).
	Holidays []string `json:"holidays,omitempty"`
	// Levels are the escalation chain.
	Levels []Level `json:"levels,omitempty"`
	// UrgentTypes are the types urgent by nature.
	UrgentTypes []CaseType `json:"urgent_types,omitempty"`
	// MaxExtensionDays caps an extension; 0 is the law's (the term).
	MaxExtensionDays int `json:"max_extension_days,omitempty"`
}

// Limits of a case policy.
const (
	maxPolicyTermDays = 365
	maxPolicyHolidays = 400
	maxPolicyLevels   = 10
)

// Validate checks a policy. Returns EINVALID naming the offending field.
func (p CasePolicy) Validate() error {
	for t, d := range p.Terms {
		if DefaultTerms[t] == 0 {
			return conversation.FieldError("terms", "unknown case type %q", t)
		}
		if d < 1 || d > maxPolicyTermDays {
			return conversation.FieldError("terms."+string(t), "must be 1 to %d business days", maxPolicyTermDays)
		}
	}
	if err := p.Rules.Validate(); err != nil {
		field, _, _ := strings.Cut(err.Error(), ":")
		return conversation.FieldError("rules."+field, "%v", err)
	}
	if len(p.Holidays) > maxPolicyHolidays {
		return conversation.FieldError("holidays", "at most %d dates", maxPolicyHolidays)
	}
	for i, h := range p.Holidays {
		if _, err := calendar.ParseDate(h); err != nil {
			return conversation.FieldError(fmt.Sprintf("holidays[%d]", i), "%q is not a date YYYY-MM-DD", h)
		}
	}
	if len(p.Levels) > maxPolicyLevels {
		return conversation.FieldError("levels", "at most %d levels", maxPolicyLevels)
	}
	if err := ValidateLevels(p.Levels); err != nil {
		field, _, _ := strings.Cut(err.Error(), ":")
		return conversation.FieldError(field, "%v", err)
	}
	for i, t := range p.UrgentTypes {
		if DefaultTerms[t] == 0 {
			return conversation.FieldError(fmt.Sprintf("urgent_types[%d]", i), "unknown case type %q", t)
		}
	}
	if p.MaxExtensionDays < 0 || p.MaxExtensionDays > maxPolicyTermDays {
		return conversation.FieldError("max_extension_days", "must be 0 to %d", maxPolicyTermDays)
	}
	return nil
}

// Calendar returns a tenant's calendar under the policy: the tenant's own
// (time zone, country holidays) with the policy's holidays added. An
// invalid policy is an error, never a calendar missing a day.
func (p CasePolicy) Calendar(t conversation.Tenant) (calendar.Calendar, error) {
	cal := CalendarOf(t)
	for _, h := range p.Holidays {
		d, err := calendar.ParseDate(h)
		if err != nil {
			return calendar.Calendar{}, errors.Join(conversation.FieldError("holidays", "%q is not a date YYYY-MM-DD", h), err)
		}
		cal.Extra = append(cal.Extra, d)
	}
	return cal, nil
}

// CasePolicyStore keeps each tenant's case policy. The SQLite and
// PostgreSQL stores implement it.
type CasePolicyStore interface {
	// CasePolicy returns ENOTFOUND when the tenant has none.
	CasePolicy(ctx context.Context, tenantID int64) (CasePolicy, error)
	// PutCasePolicy stores the tenant's policy, validated by the caller,
	// in place of the one before. Returns ENOTFOUND for no tenant.
	PutCasePolicy(ctx context.Context, tenantID int64, p CasePolicy) error
}

package handoff

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/handoff/calendar"
)

// CasePolicy is a tenant's own rules for its cases, in place of the
// server-wide CasesConfig. Every field left empty takes the server's
// setting (see Cases.Policy). CasePolicyStore keeps it per tenant, and
// Cases applies it to every case the tenant files, extends, pauses,
// resumes or escalates from then on.
type CasePolicy struct {
	// Terms are terms in business days by type. A type given here takes
	// its term in days even where the server's rules give it one in hours.
	Terms map[CaseType]int `json:"terms,omitempty" yaml:"terms,omitempty"`
	// Rules are terms in hours, business hours, the pause rule and manual
	// resume. A term in hours of 0 keeps the type's term in days.
	Rules CaseRules `json:"rules" yaml:"rules,omitempty"`
	// Holidays are closed days of the tenant as YYYY-MM-DD, added to its
	// country's (Colombia's are built in; other countries list theirs
	// here).
	Holidays []string `json:"holidays,omitempty" yaml:"holidays,omitempty"`
	// Levels are the escalation chain.
	Levels []Level `json:"levels,omitempty" yaml:"levels,omitempty"`
	// UrgentTypes are the types urgent by nature; empty takes the
	// server's (a tenant cannot make no type urgent).
	UrgentTypes []CaseType `json:"urgent_types,omitempty" yaml:"urgent_types,omitempty"`
	// MaxExtensionDays caps an extension; 0 is the law's (the term). It
	// never allows more than the law: the smaller of the two applies.
	MaxExtensionDays int `json:"max_extension_days,omitempty" yaml:"max_extension_days,omitempty"`
}

// Limits of a case policy.
const (
	maxPolicyTermDays = 365
	maxPolicyHolidays = 400
	maxPolicyLevels   = 10
	maxPolicySpans    = 50
	maxLevelNotify    = 20
	maxLevelTo        = 40
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
	if len(p.Rules.Hours) > maxPolicySpans {
		return conversation.FieldError("rules.hours", "at most %d spans", maxPolicySpans)
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
	for i, l := range p.Levels {
		if utf8.RuneCountInString(l.To) > maxLevelTo || !utf8.ValidString(l.To) || strings.ContainsFunc(l.To, unicode.IsControl) {
			return conversation.FieldError(fmt.Sprintf("levels[%d].to", i), "must be at most %d printable characters", maxLevelTo)
		}
		if len(l.Notify) > maxLevelNotify {
			return conversation.FieldError(fmt.Sprintf("levels[%d].notify", i), "at most %d targets", maxLevelNotify)
		}
	}
	if err := ValidateLevels(p.Levels); err != nil {
		field, _, _ := strings.Cut(err.Error(), ":")
		return conversation.FieldError(field, "%v", err)
	}
	for i, t := range p.UrgentTypes {
		if DefaultTerms[t] == 0 {
			return conversation.FieldError(fmt.Sprintf("urgent_types[%d]", i), "unknown case type %q", t)
		}
		if slices.Contains(p.UrgentTypes[:i], t) {
			return conversation.FieldError(fmt.Sprintf("urgent_types[%d]", i), "%s is listed twice", t)
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

// DefaultPolicyTTL is how long Cases trusts a tenant's policy without
// reading it again: the longest another node takes to see a change.
const DefaultPolicyTTL = 30 * time.Second

// PolicyView is a tenant's case policy as stored and as applied.
type PolicyView struct {
	// Stored is the tenant's own policy; nil when it stored none.
	Stored *CasePolicy `json:"stored"`
	// Effective is what applies to the tenant's cases: each field of
	// Stored that is set, else the server's setting. Its Terms name every
	// type and its Levels, UrgentTypes, Rules.Hours and Rules.Pause are
	// never empty; MaxExtensionDays 0 is still the law's.
	Effective CasePolicy `json:"effective"`
}

// tenantPolicy is a tenant's effective policy, resolved and cached.
type tenantPolicy struct {
	view     PolicyView
	holidays []calendar.Date
	hours    []calendar.Opening
	read     time.Time // by the service's clock
}

// Policy returns the tenant's case policy, stored and effective. It reads
// the tenant's stored policy through CasesConfig.Policies at most once per
// PolicyTTL on this node. Returns an error only when the store fails.
func (s *Cases) Policy(ctx context.Context, tenantID int64) (PolicyView, error) {
	p, err := s.policy(ctx, tenantID)
	if err != nil {
		return PolicyView{}, err
	}
	return PolicyView{Stored: p.view.Stored.clone(), Effective: *p.view.Effective.clone()}, nil
}

// PutPolicy validates the tenant's case policy and stores it in place of
// the one before; this node applies it at once, others within PolicyTTL.
// The due dates of the tenant's cases filed before stay as they are: the
// new terms apply to cases filed from then on, while the calendar (hours
// and holidays), the pause rule, the extension maximum and the escalation
// chain apply to every case from then on. Returns EINVALID naming the
// field, ENOTFOUND for no tenant, and EUNAVAILABLE when the server keeps no
// policies.
func (s *Cases) PutPolicy(ctx context.Context, tenantID int64, p CasePolicy) error {
	if s.cfg.Policies == nil {
		return conversation.Errorf(conversation.EUNAVAILABLE, "this server keeps no case policies")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := s.cfg.Policies.PutCasePolicy(ctx, tenantID, p); err != nil {
		return fmt.Errorf("store the case policy of tenant %d: %w", tenantID, err)
	}
	s.mu.Lock()
	s.policyVersion++
	delete(s.policies, tenantID)
	s.mu.Unlock()
	return nil
}

// policy returns the tenant's effective policy, from the cache while it is
// fresh. A read that raced a PutPolicy is not cached.
func (s *Cases) policy(ctx context.Context, tenantID int64) (*tenantPolicy, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	p, ok := s.policies[tenantID]
	version := s.policyVersion
	s.mu.Unlock()
	if ok && !now.Before(p.read) && now.Sub(p.read) < s.cfg.PolicyTTL {
		return p, nil
	}
	var stored *CasePolicy
	if s.cfg.Policies != nil {
		sp, err := s.cfg.Policies.CasePolicy(ctx, tenantID)
		switch {
		case conversation.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("read the case policy of tenant %d: %w", tenantID, err)
		default:
			stored = &sp
		}
	}
	p, err := s.resolve(stored)
	if err != nil {
		return nil, fmt.Errorf("the case policy of tenant %d: %w", tenantID, err)
	}
	p.read = now
	s.mu.Lock()
	if s.policyVersion == version {
		s.policies[tenantID] = p
	}
	s.mu.Unlock()
	return p, nil
}

// resolve fills a tenant's stored policy (nil for none) with the server's
// settings.
func (s *Cases) resolve(stored *CasePolicy) (*tenantPolicy, error) {
	var own CasePolicy
	if stored != nil {
		own = *stored
	}
	eff := CasePolicy{Terms: map[CaseType]int{}, Holidays: own.Holidays, MaxExtensionDays: own.MaxExtensionDays}
	for _, t := range CaseTypes {
		eff.Terms[t] = cmp.Or(own.Terms[t], s.cfg.Terms[t], DefaultTerms[t])
	}
	// A term in hours: the tenant's, else the server's unless the tenant
	// gave the type a term in days.
	hours := map[CaseType]int{}
	for t, h := range s.cfg.Rules.TermHours {
		if _, days := own.Terms[t]; h > 0 && !days {
			hours[t] = h
		}
	}
	for t, h := range own.Rules.TermHours {
		if h > 0 {
			hours[t] = h
		} else {
			delete(hours, t)
		}
	}
	if len(hours) > 0 {
		eff.Rules.TermHours = hours
	}
	eff.Rules.Hours = firstSet(own.Rules.Hours, s.cfg.Rules.Hours, DefaultBusinessHours)
	eff.Rules.Pause = cmp.Or(own.Rules.Pause, s.cfg.Rules.Pause, PauseResume)
	eff.Rules.ManualResume = own.Rules.ManualResume || s.cfg.Rules.ManualResume
	eff.Levels = firstSet(own.Levels, s.cfg.Levels, DefaultLevels)
	eff.UrgentTypes = firstSet(own.UrgentTypes, s.cfg.UrgentTypes)

	p := &tenantPolicy{view: PolicyView{Stored: stored, Effective: eff}}
	for _, h := range own.Holidays {
		d, err := calendar.ParseDate(h)
		if err != nil {
			return nil, conversation.FieldError("holidays", "%q is not a date YYYY-MM-DD", h)
		}
		p.holidays = append(p.holidays, d)
	}
	for _, sp := range eff.Rules.Hours {
		from, err1 := minutesOf(sp.From)
		to, err2 := minutesOf(sp.To)
		if sp.To == "24:00" {
			to, err2 = 24*60, nil
		}
		if err1 == nil && err2 == nil {
			p.hours = append(p.hours, calendar.Opening{Day: sp.Day, From: time.Duration(from) * time.Minute, To: time.Duration(to) * time.Minute})
		}
	}
	return p, nil
}

// calendar is the tenant's calendar for its cases: its time zone and
// country's holidays, the policy's holidays and business hours.
func (p *tenantPolicy) calendar(t conversation.Tenant) calendar.Calendar {
	cal := CalendarOf(t)
	cal.Extra = p.holidays
	cal.Hours = p.hours
	return cal
}

// term returns the term of a type: in business hours when hours > 0, else
// in days business days.
func (p *tenantPolicy) term(t CaseType) (days, hours int) {
	return p.view.Effective.Terms[t], p.view.Effective.Rules.TermHours[t]
}

// maxExtension returns the most business days a term of days may be
// extended by: the law's, capped by the policy's maximum.
func (p *tenantPolicy) maxExtension(days int) int {
	if m := p.view.Effective.MaxExtensionDays; m > 0 {
		return min(m, MaxExtension(days))
	}
	return MaxExtension(days)
}

// rules are the tenant's effective rules.
func (p *tenantPolicy) rules() CaseRules { return p.view.Effective.Rules }

// levels is the tenant's escalation chain.
func (p *tenantPolicy) levels() []Level { return p.view.Effective.Levels }

// firstSet returns the first of lists that is not empty.
func firstSet[T any](lists ...[]T) []T {
	for _, l := range lists {
		if len(l) > 0 {
			return l
		}
	}
	return nil
}

// clone returns a deep copy of p (nil for nil), for callers to keep.
func (p *CasePolicy) clone() *CasePolicy {
	if p == nil {
		return nil
	}
	c := *p
	c.Terms = maps.Clone(p.Terms)
	c.Rules.TermHours = maps.Clone(p.Rules.TermHours)
	c.Rules.Hours = slices.Clone(p.Rules.Hours)
	c.Holidays = slices.Clone(p.Holidays)
	c.UrgentTypes = slices.Clone(p.UrgentTypes)
	c.Levels = slices.Clone(p.Levels)
	for i := range c.Levels {
		c.Levels[i].Notify = slices.Clone(c.Levels[i].Notify)
	}
	return &c
}

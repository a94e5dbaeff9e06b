package handoff

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/handoff/calendar"
)

// CasesConfig configures Cases.
type CasesConfig struct {
	// Prefix starts every filing number; default "PQR".
	Prefix string
	// Terms are the terms in business days by type; missing types take
	// DefaultTerms.
	Terms map[CaseType]int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Levels are the escalation chain; default DefaultLevels.
	Levels []Level
	// Jobs schedules escalations, and Tenants reads the tenant of a job;
	// without them nothing is escalated.
	Jobs    Jobs
	Tenants Tenants
	// UrgentTypes are the case types that are urgent by nature; default
	// denuncia. A case is also urgent when filed with priority "urgent"
	// (by an agent, or by triage when it finds a legal or churn risk), or
	// for a contact whose attribute vip is "true" (read through Contacts,
	// when set).
	UrgentTypes []CaseType
	Contacts    Contacts
	Logger      *slog.Logger

	// Notifier, when set, tells the customer of their case: its filing
	// (unless the bot filed it in the conversation, which answered
	// already), its moves to en_tramite, escalado and reabierto, its
	// extension, its resolution with the answer, then the survey.
	Notifier Notifier
	// Surveys keeps the satisfaction surveys; without it no survey waits
	// for an answer.
	Surveys SurveyStore
	// Messages reads a conversation's messages, to tell whether a bare "2"
	// answers the survey or something asked since; without it, it does.
	Messages Messages
	// SurveyTTL is how long a survey waits for its answer; default 3
	// days.
	SurveyTTL time.Duration
	// ReopenWithin is how long after its resolution a customer who rated
	// it 1 or 2 may reopen a case; default 15 days.
	ReopenWithin time.Duration

	// Rules are the rules of every tenant's terms: terms in hours,
	// business hours, what a pause does.
	Rules CaseRules
	// Policies keeps each tenant's own CasePolicy, whose fields take the
	// place of Terms, Rules, Levels and UrgentTypes for its cases; without
	// it every tenant has those. A tenant's policy is read again after
	// PolicyTTL (default DefaultPolicyTTL, by Now), so that a change made
	// on another node applies within it.
	Policies  CasePolicyStore
	PolicyTTL time.Duration
	// Agents reads the tenant's agents and teams, to assign cases and to
	// find the people of an escalation level; without it cases are
	// assigned to nobody and escalations tell nobody.
	Agents AgentDirectory
	// Staff emails the people of an escalation level, and Bus tells their
	// consoles (on AgentTopic); either may be nil.
	Staff StaffNotifier
	Bus   conversation.Bus
	// Media keeps the files attached to cases, at most MaxAttachment
	// bytes each (default 10 MiB); without it nothing is attached.
	Media         conversation.MediaStore
	MaxAttachment int64
}

// Messages reads messages. conversation.Store implements it.
type Messages interface {
	ListMessages(ctx context.Context, tenantID int64, f conversation.MessageFilter) ([]conversation.Message, error)
}

// Contacts reads contacts. conversation.Store implements it.
type Contacts interface {
	Contact(ctx context.Context, tenantID, id int64) (conversation.Contact, error)
}

// Priorities are the priorities a case may have; "" is normal.
var Priorities = []string{"", "low", "normal", "high", PriorityUrgent}

// PriorityUrgent is the priority of an urgent case: its escalation starts
// at the first level of the chain the moment it is filed.
const PriorityUrgent = "urgent"

// Cases files support cases and moves them through their statuses, with
// their terms in the tenant's business days and every change recorded in
// the case's history.
type Cases struct {
	store CaseStore
	cfg   CasesConfig

	mu            sync.Mutex
	policies      map[int64]*tenantPolicy // by tenant
	policyVersion uint64                  // counts PutPolicy calls
}

// NewCases returns the case service on store.
func NewCases(store CaseStore, cfg CasesConfig) *Cases {
	if cfg.Prefix == "" {
		cfg.Prefix = "PQR"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.UrgentTypes == nil {
		cfg.UrgentTypes = []CaseType{Denuncia}
	}
	if cfg.SurveyTTL <= 0 {
		cfg.SurveyTTL = DefaultSurveyTTL
	}
	if cfg.ReopenWithin <= 0 {
		cfg.ReopenWithin = DefaultReopenWithin
	}
	if cfg.MaxAttachment <= 0 {
		cfg.MaxAttachment = DefaultMaxAttachment
	}
	if cfg.PolicyTTL <= 0 {
		cfg.PolicyTTL = DefaultPolicyTTL
	}
	return &Cases{store: store, cfg: cfg, policies: map[int64]*tenantPolicy{}}
}

// urgency says why a filing is urgent under the tenant's policy, "" when
// it is not.
func (s *Cases) urgency(ctx context.Context, tenantID int64, pol *tenantPolicy, f Filing) (string, error) {
	switch {
	case f.Priority == PriorityUrgent:
		return "filed as urgent", nil
	case slices.Contains(pol.view.Effective.UrgentTypes, f.Type):
		return "a " + string(f.Type) + " is urgent", nil
	case strings.EqualFold(strings.TrimSpace(f.Fields[FieldRisk]), RiskHigh):
		return "triage risk high", nil
	case s.cfg.Contacts == nil:
		return "", nil
	}
	contact, err := s.cfg.Contacts.Contact(ctx, tenantID, f.ContactID)
	if conversation.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the contact of a filing: %w", err)
	}
	if strings.EqualFold(contact.Attributes["vip"], "true") {
		return "a VIP contact", nil
	}
	return "", nil
}

// Filing is a new case as a customer, an agent, the bot or the API files it.
type Filing struct {
	Type           CaseType
	ContactID      int64
	ConversationID int64
	Channel        string
	Subject        string
	Description    string
	Fields         map[string]string
	Priority       string
	// Actor is who files it: "bot", "agent:<name>", "api:<key>".
	Actor string

	source string
}

// FieldRisk is the field of a filing that carries the triage's risk level
// (low, medium, high): whoever triages the case, an agent, the client's
// system through the API, or an LLM, sets it. A high risk (of churn, of a
// legal claim) makes the case urgent, like an urgent type or a VIP contact.
const (
	FieldRisk = "risk"
	RiskHigh  = "high"
)

// Limits of a filing.
const (
	maxSubject     = 200
	maxDescription = 10000
	maxFields      = 50
	maxFieldValue  = 2000
)

// CalendarOf returns a tenant's business-day calendar: its time zone, and
// Colombia's holidays when its region is CO. Other countries count weekends
// only until their holidays are configured.
func CalendarOf(t conversation.Tenant) calendar.Calendar {
	c := calendar.Calendar{Location: time.UTC}
	if loc, err := time.LoadLocation(t.TimeZone); err == nil && t.TimeZone != "" {
		c.Location = loc
	}
	if strings.EqualFold(t.Region, "CO") {
		c.Holidays = calendar.Colombia
	}
	return c
}

// File validates a filing and stores it as a new case in status radicado,
// with its filing number and due date by the tenant's policy: its term for
// the type, in business days or hours of its calendar. Returns EINVALID
// naming the field of a bad filing.
func (s *Cases) File(ctx context.Context, tenant conversation.Tenant, f Filing) (Case, error) {
	if err := f.validate(); err != nil {
		return Case{}, err
	}
	pol, err := s.policy(ctx, tenant.ID)
	if err != nil {
		return Case{}, fmt.Errorf("file case: %w", err)
	}
	urgent, err := s.urgency(ctx, tenant.ID, pol, f)
	if err != nil {
		return Case{}, err
	}
	if urgent != "" {
		f.Priority = PriorityUrgent
	}
	now := s.cfg.Now()
	cal := pol.calendar(tenant)
	days, hours := pol.term(f.Type)
	c := Case{
		TenantID: tenant.ID, Type: f.Type, Status: Radicado, ContactID: f.ContactID,
		ConversationID: f.ConversationID, Channel: f.Channel, Subject: strings.TrimSpace(f.Subject),
		Description: strings.TrimSpace(f.Description), Fields: f.Fields, Priority: f.Priority,
		TermDays: days, Due: cal.Due(now, days), FiledAt: now, Source: f.source,
	}
	if hours > 0 {
		if due := cal.AddBusinessTime(now, time.Duration(hours)*time.Hour); !due.IsZero() {
			c.TermDays, c.TermHours, c.Due = 0, hours, due
		}
	}
	ev := CaseEvent{Kind: "filed", Actor: f.Actor, To: Radicado, CreatedAt: now}
	if err := s.store.CreateCase(ctx, &c, s.cfg.Prefix, ev); err != nil {
		return Case{}, fmt.Errorf("file case: %w", err)
	}
	next := 0
	if urgent != "" {
		// An urgent case starts higher: at the first level of the chain
		// now, and on to the next at its time.
		l := pol.levels()[0]
		ev := CaseEvent{Kind: "escalated", Actor: "system", From: c.Status, To: Escalado, CreatedAt: now,
			Note: fmt.Sprintf("to %s at filing: urgent (%s)", l.To, urgent)}
		c.Status = Escalado
		if err := s.store.UpdateCase(ctx, &c, ev); err != nil {
			s.cfg.Logger.Error("urgent case filed but not escalated", "case", c.Radicado, "tenant", tenant.ID, "err", err)
			c.Status = Radicado
		} else {
			next = 1
			s.tellLevel(ctx, tenant, c, pol.levels(), 0)
		}
	}
	if err := s.schedule(ctx, tenant, c, pol, next); err != nil {
		// The case is filed; its escalation is not. Say so loudly rather
		// than fail a filing that happened.
		s.cfg.Logger.Error("case filed without its escalation", "case", c.Radicado, "tenant", tenant.ID, "err", err)
	}
	if f.source == "" {
		// The bot answers in the conversation it filed the case from.
		s.notice(ctx, c, "filed", PurposeFiled, map[string]string{
			"type": string(c.Type), "due": c.Due.In(CalendarOf(tenant).Location).Format(time.DateOnly)})
	}
	return c, nil
}

func (f Filing) validate() error {
	switch {
	case f.Type == "":
		return conversation.FieldError("type", "a case needs a type")
	case DefaultTerms[f.Type] == 0:
		return conversation.FieldError("type", "unknown case type %q", f.Type)
	case f.ContactID <= 0:
		return conversation.FieldError("contact_id", "a case needs the contact who files it")
	case strings.TrimSpace(f.Description) == "":
		return conversation.FieldError("description", "a case needs a description")
	case utf8.RuneCountInString(f.Description) > maxDescription:
		return conversation.FieldError("description", "the description is longer than %d characters", maxDescription)
	case utf8.RuneCountInString(f.Subject) > maxSubject:
		return conversation.FieldError("subject", "the subject is longer than %d characters", maxSubject)
	case len(f.Fields) > maxFields:
		return conversation.FieldError("fields", "more than %d fields", maxFields)
	case f.Actor == "":
		return conversation.FieldError("actor", "say who files the case")
	case !slices.Contains(Priorities, f.Priority):
		return conversation.FieldError("priority", "must be one of low, normal, high, urgent, or empty")
	}
	for k, v := range f.Fields {
		if k == "" || utf8.RuneCountInString(v) > maxFieldValue {
			return conversation.FieldError("fields."+k, "a field needs a name and at most %d characters", maxFieldValue)
		}
	}
	return nil
}

// Transition moves a case to another status and records who did it and
// why. Returns ECONFLICT naming the allowed statuses when the move is not
// allowed, or when another change came first.
//
// The customer is told of a move to en_tramite, escalado or reabierto
// (case_status), and of a resolution (case_resolved without an answer:
// Resolve gives one), unless they made the move themselves.
func (s *Cases) Transition(ctx context.Context, tenantID, id int64, to CaseStatus, actor, note string) (Case, error) {
	return s.move(ctx, tenantID, id, to, actor, note, "")
}

// move changes a case's status, records it, and tells the customer.
func (s *Cases) move(ctx context.Context, tenantID, id int64, to CaseStatus, actor, note, answer string) (Case, error) {
	c, err := s.store.Case(ctx, tenantID, id)
	if err != nil {
		return Case{}, err
	}
	if err := CheckTransition(c.Status, to); err != nil {
		return Case{}, err
	}
	ev := CaseEvent{Kind: "status", Actor: actor, From: c.Status, To: to, Note: note, CreatedAt: s.cfg.Now()}
	if to == Resuelto && answer != "" {
		ev.Kind, ev.Note = "resolved", answer
	}
	c.Status = to
	if err := s.store.UpdateCase(ctx, &c, ev); err != nil {
		return Case{}, err
	}
	if strings.HasPrefix(actor, ActorContact) {
		return c, nil // the customer knows: the reply in their conversation says it
	}
	switch to {
	case EnTramite, Escalado, Reabierto:
		s.notice(ctx, c, "status", PurposeStatus, map[string]string{"status": string(to), "due": s.dateOf(ctx, tenantID, c.Due)})
	case Resuelto:
		s.notice(ctx, c, "resolved", PurposeResolved, map[string]string{"answer": answer})
	}
	return c, nil
}

// Extend extends a case's term once, by days business days of the tenant's
// calendar after its current due date, with the reason the customer is
// told. The extension may not exceed the first term (the law allows at
// most twice the term) nor the tenant's MaxExtensionDays, comes before the
// term ends, and only for a case still being worked. Returns EINVALID
// naming days or reason, and ECONFLICT when the case may not be extended.
func (s *Cases) Extend(ctx context.Context, tenant conversation.Tenant, id int64, days int, reason, actor string) (Case, error) {
	c, err := s.store.Case(ctx, tenant.ID, id)
	if err != nil {
		return Case{}, err
	}
	pol, err := s.policy(ctx, tenant.ID)
	if err != nil {
		return Case{}, fmt.Errorf("extend case %s: %w", c.Radicado, err)
	}
	most := pol.maxExtension(c.TermDays)
	why := "the law allows at most twice the term"
	if most < MaxExtension(c.TermDays) {
		why = "the tenant's case policy allows no more"
	}
	now := s.cfg.Now()
	switch {
	case c.TermHours > 0:
		return Case{}, conversation.Errorf(conversation.ECONFLICT, "case %s has a term of %d business hours; only a term in days is extended", c.Radicado, c.TermHours)
	case strings.TrimSpace(reason) == "":
		return Case{}, conversation.FieldError("reason", "an extension needs the reason the customer is told")
	case days < 1 || days > most:
		return Case{}, conversation.FieldError("days", "an extension is 1 to %d business days (%s)", most, why)
	case c.ExtendedDays > 0:
		return Case{}, conversation.Errorf(conversation.ECONFLICT, "case %s was already extended", c.Radicado)
	case c.Status == Resuelto || c.Status == Cerrado:
		return Case{}, conversation.Errorf(conversation.ECONFLICT, "case %s is %s; only an open case is extended", c.Radicado, c.Status)
	case now.After(c.Due):
		return Case{}, conversation.Errorf(conversation.ECONFLICT, "the term of case %s ended on %s; an extension must come before", c.Radicado, c.Due.Format(time.DateOnly))
	}
	cal := pol.calendar(tenant)
	last := cal.AddBusinessDays(calendar.DateOf(c.Due.In(cal.Location)).AddDays(1), days-1)
	c.Due = last.AddDays(1).In(cal.Location).Add(-time.Nanosecond)
	c.ExtendedDays, c.ExtensionNote = days, strings.TrimSpace(reason)
	ev := CaseEvent{Kind: "extended", Actor: actor, Note: fmt.Sprintf("%d business days: %s", days, c.ExtensionNote), CreatedAt: now}
	if err := s.store.UpdateCase(ctx, &c, ev); err != nil {
		return Case{}, err
	}
	s.notice(ctx, c, "extended", PurposeExtended, map[string]string{
		"days": strconv.Itoa(days), "reason": c.ExtensionNote, "due": c.Due.In(cal.Location).Format(time.DateOnly)})
	return c, nil
}

// Lookup finds the case a contact asks about by its filing number. It
// returns ENOTFOUND alike for a number that does not exist and for another
// contact's case, so that nobody learns of cases that are not theirs.
func (s *Cases) Lookup(ctx context.Context, tenantID, contactID int64, radicado string) (Case, error) {
	return s.LookupVerified(ctx, tenantID, contactID, radicado, "")
}

// identityFields are the fields of a case that identify who filed it: a
// customer who writes from another channel, as another contact, proves the
// case is theirs by giving one of them.
var identityFields = []string{"email", "document", "phone"}

// LookupVerified is Lookup for a customer who may write as another contact
// than the one who filed the case, from another channel say: the case is
// also theirs when proof matches, ignoring case, spaces and dots, the email,
// document number or phone number recorded on the case. A wrong proof is
// ENOTFOUND, as a wrong number is.
func (s *Cases) LookupVerified(ctx context.Context, tenantID, contactID int64, radicado, proof string) (Case, error) {
	number := FindRadicado(radicado, s.cfg.Prefix)
	if number == "" {
		return Case{}, conversation.FieldError("radicado", "%q is not a filing number like %s", radicado, FormatRadicado(s.cfg.Prefix, 2026, 123))
	}
	c, err := s.store.CaseByRadicado(ctx, tenantID, number)
	if err != nil {
		return Case{}, err
	}
	if c.ContactID == contactID || proves(c, proof) {
		return c, nil
	}
	return Case{}, conversation.Errorf(conversation.ENOTFOUND, "case %s not found", number)
}

func proves(c Case, proof string) bool {
	p := identityKey(proof)
	if len(p) < 5 {
		return false
	}
	for _, f := range identityFields {
		if v := identityKey(c.Fields[f]); v != "" && subtle.ConstantTimeCompare([]byte(v), []byte(p)) == 1 {
			return true
		}
	}
	return false
}

// identityKey is an email, document or phone number as it is compared:
// lower case, without spaces, dots, dashes or a leading +.
func identityKey(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.Contains(s, "@") {
		return s
	}
	return strings.TrimLeft(strings.Map(func(r rune) rune {
		if r == ' ' || r == '.' || r == '-' || r == '(' || r == ')' {
			return -1
		}
		return r
	}, s), "+")
}

// StatusText is a case's status for a customer, in Spanish or English.
func StatusText(s CaseStatus, lang string) string {
	es := map[CaseStatus]string{Radicado: "radicado", EnTramite: "en trámite", Escalado: "escalado a un supervisor", Resuelto: "resuelto", Cerrado: "cerrado", Reabierto: "reabierto"}
	en := map[CaseStatus]string{Radicado: "filed", EnTramite: "being worked on", Escalado: "escalated to a supervisor", Resuelto: "resolved", Cerrado: "closed", Reabierto: "reopened"}
	if lang == "en" {
		return en[s]
	}
	return es[s]
}

// DueText is a due date for a customer: "24 de noviembre de 2026" or
// "November 24, 2026", in the tenant's time zone.
func DueText(c Case, tenant conversation.Tenant, lang string) string {
	due := c.Due.In(CalendarOf(tenant).Location)
	if lang == "en" {
		return due.Format("January 2, 2006")
	}
	return fmt.Sprintf("%d de %s de %d", due.Day(), monthsES[due.Month()-1], due.Year())
}

// JobCaseEscalation is the kind of the durable job that escalates a case
// when it reaches a level of its term.
const JobCaseEscalation = "case_escalation"

// Level is a step of the escalation chain: at a share of the term, the
// case goes to a role, and the people of the level are told.
type Level struct {
	At float64 `json:"at" yaml:"at"` // share of the term, 0 < At ≤ 1; 1 is the breach
	To string  `json:"to" yaml:"to"` // who takes it: "lead", "supervisor", "manager"
	// Notify are the people told when the case reaches the level, each
	// "agent:<id>", "role:<role>" (every agent of the role) or "team_lead"
	// (the supervisors and admins of the case's team, else of its
	// assignee's teams).
	Notify []string `json:"notify,omitempty" yaml:"notify,omitempty"`
}

// DefaultLevels escalate at 70% of the term to the team lead, at 90% to the
// supervisor, and at the breach to the manager (an admin).
var DefaultLevels = []Level{
	{At: 0.7, To: "lead", Notify: []string{TargetTeamLead}},
	{At: 0.9, To: "supervisor", Notify: []string{"role:" + string(RoleSupervisor)}},
	{At: 1, To: "manager", Notify: []string{"role:" + string(RoleAdmin)}},
}

// Jobs schedules durable jobs. conversation.Store implements it.
type Jobs interface {
	EnqueueJob(ctx context.Context, j conversation.Job) (conversation.Job, error)
}

// Tenants reads tenants. conversation.Store implements it.
type Tenants interface {
	Tenant(ctx context.Context, id int64) (conversation.Tenant, error)
}

// levelAt returns when a case reaches a level: the end of the business day
// that completes that share of its term (extensions included), or the due
// date for the breach.
//
// A term in hours counts the business hours of the calendar; a pause
// puts every level as much later as the term was suspended.
func levelAt(c Case, l Level, cal calendar.Calendar) time.Time {
	if l.At >= 1 {
		return c.Due
	}
	if c.TermHours > 0 {
		d := time.Duration(l.At*float64(c.TermHours)*float64(time.Hour)) + time.Duration(c.PausedUnits)*time.Minute
		return cal.AddBusinessTime(c.FiledAt, d)
	}
	days := max(int(l.At*float64(c.TermDays+c.ExtendedDays)), 1)
	return cal.Due(c.FiledAt, days+c.PausedUnits)
}

// schedule enqueues the escalation job of level i of the tenant's chain
// for a case, keyed by the level and its time, so that each runs once and
// a moved term schedules anew.
func (s *Cases) schedule(ctx context.Context, tenant conversation.Tenant, c Case, pol *tenantPolicy, i int) error {
	if s.cfg.Jobs == nil || i >= len(pol.levels()) {
		return nil
	}
	at := levelAt(c, pol.levels()[i], pol.calendar(tenant))
	_, err := s.cfg.Jobs.EnqueueJob(ctx, conversation.Job{
		TenantID: tenant.ID, Kind: JobCaseEscalation, Ref: c.ID, RunAt: at,
		Key:     fmt.Sprintf("case:%d:escalation:%d:%d", c.ID, i, at.Unix()),
		Payload: []byte(strconv.Itoa(i)),
	})
	if err != nil {
		return fmt.Errorf("schedule escalation of case %s: %w", c.Radicado, err)
	}
	return nil
}

// EscalateJob is the conversation.JobHandler of JobCaseEscalation. It
// records the level's escalation once (moving the case to escalado when
// its status allows), says in the history when it runs late (a node was
// down at the moment), and schedules the next level. A case already
// answered is left alone; one whose term moved is scheduled again.
//
// The job names a level by its number in the tenant's chain, which is
// read when the job runs: a job scheduled before the tenant changed its
// policy acts on the level of that number in the current chain, at that
// level's share of the case's own term (the case keeps the term and due
// date it was filed with). It waits for that moment when it comes later,
// escalates at once when it has passed, and does nothing when the chain
// is now shorter.
func (s *Cases) EscalateJob(ctx context.Context, j conversation.Job) error {
	i, err := strconv.Atoi(string(j.Payload))
	if err != nil || i < 0 {
		return &conversation.JobError{Err: fmt.Errorf("bad escalation level %q", j.Payload), Permanent: true}
	}
	tenant, err := s.cfg.Tenants.Tenant(ctx, j.TenantID)
	if err != nil {
		return err
	}
	pol, err := s.policy(ctx, j.TenantID)
	if err != nil {
		return err
	}
	if i >= len(pol.levels()) {
		s.cfg.Logger.Info("escalation level gone from the tenant's chain", "tenant", j.TenantID, "case_id", j.Ref, "level", i+1)
		return nil
	}
	level := pol.levels()[i]
	cal := pol.calendar(tenant)
	c, err := s.store.Case(ctx, j.TenantID, j.Ref)
	if conversation.IsNotFound(err) {
		return &conversation.JobError{Err: err, Permanent: true}
	}
	if err != nil {
		return err
	}
	if c.Status == Resuelto || c.Status == Cerrado || !c.PausedAt.IsZero() {
		return nil // resuming a paused case schedules its next level
	}
	now := s.cfg.Now()
	if at := levelAt(c, level, cal); now.Before(at) {
		// The term was extended, or the chain changed, after this job was
		// scheduled.
		return s.schedule(ctx, tenant, c, pol, i)
	}
	hist, err := s.store.CaseHistory(ctx, j.TenantID, c.ID)
	if err != nil {
		return err
	}
	note := levelNote(level)
	done := false
	for _, e := range hist {
		done = done || (e.Kind == "escalated" && strings.HasPrefix(e.Note, note))
	}
	if !done {
		if late := now.Sub(levelAt(c, level, cal)); late > time.Minute {
			note += fmt.Sprintf(" (ran %s late: no node was running at the time)", late.Round(time.Minute))
		}
		ev := CaseEvent{Kind: "escalated", Actor: "system", Note: note, CreatedAt: now}
		if CheckTransition(c.Status, Escalado) == nil {
			ev.From, ev.To, c.Status = c.Status, Escalado, Escalado
		}
		if err := s.store.UpdateCase(ctx, &c, ev); err != nil {
			return err // a conflict retries the job, which finds the event
		}
		if ev.To == Escalado {
			// The customer hears of the first raise; the later levels
			// change nothing they see.
			s.notice(ctx, c, "status", PurposeStatus, map[string]string{"status": string(Escalado), "due": s.dateOf(ctx, j.TenantID, c.Due)})
		}
	}
	s.tellLevel(ctx, tenant, c, pol.levels(), i)
	return s.schedule(ctx, tenant, c, pol, i+1)
}

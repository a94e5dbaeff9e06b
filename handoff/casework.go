package handoff

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/handoff/calendar"
)

// This file holds the work of agents on a case: its assignment, internal
// notes, attachments, the pause of its term while it waits on the
// customer, terms in business hours, and telling the people of an
// escalation level.

// What a pause does to the term when the customer answers.
const (
	// PauseResume resumes the term with the business days (or hours) it
	// had left when it stopped: the term is suspended while the petitioner
	// completes their request (Ley 1755 de 2015, art. 17).
	PauseResume = "resume"
	// PauseRestart starts the whole term again from the answer.
	PauseRestart = "restart"
)

// CaseRules are a tenant's rules for the terms of its cases.
type CaseRules struct {
	// TermHours are terms in business hours by type, in place of the
	// days: {"denuncia": 4} answers a denuncia within 4 business hours.
	TermHours map[CaseType]int `json:"term_hours,omitempty" yaml:"term_hours,omitempty"`
	// Hours are the tenant's business hours in its time zone, for terms
	// in hours; default DefaultBusinessHours.
	Hours []Span `json:"hours,omitempty" yaml:"hours,omitempty"`
	// Pause is PauseResume (default) or PauseRestart.
	Pause string `json:"pause,omitempty" yaml:"pause,omitempty"`
	// ManualResume keeps a paused case paused when the customer writes
	// again, until an agent resumes it; by default their message resumes
	// it.
	ManualResume bool `json:"manual_resume,omitempty" yaml:"manual_resume,omitempty"`
}

// DefaultBusinessHours are Monday to Friday, 08:00 to 17:00.
var DefaultBusinessHours = func() []Span {
	var out []Span
	for d := time.Monday; d <= time.Friday; d++ {
		out = append(out, Span{Day: d, From: "08:00", To: "17:00"})
	}
	return out
}()

// Validate checks the rules.
func (r CaseRules) Validate() error {
	for t, h := range r.TermHours {
		if DefaultTerms[t] == 0 {
			return fmt.Errorf("term_hours: unknown case type %q", t)
		}
		if h < 0 || h > 24*90 {
			return fmt.Errorf("term_hours.%s: must be 0 to %d", t, 24*90)
		}
	}
	for i, sp := range r.Hours {
		if err := sp.validate(); err != nil {
			return fmt.Errorf("hours[%d]: %w", i, err)
		}
	}
	if r.Pause != "" && r.Pause != PauseResume && r.Pause != PauseRestart {
		return fmt.Errorf("pause: must be %s or %s", PauseResume, PauseRestart)
	}
	return nil
}

// AgentDirectory reads a tenant's agents and teams. The routing store
// implements it.
type AgentDirectory interface {
	// Agent returns ENOTFOUND unless id is the tenant's.
	Agent(ctx context.Context, tenantID, id int64) (Agent, error)
	ListAgents(ctx context.Context, tenantID int64) ([]Agent, error)
	ListTeams(ctx context.Context, tenantID int64) ([]Team, error)
}

// PurposeEscalated is the notification to the people of an escalation
// level: name (the agent's), radicado, level, share, due.
const PurposeEscalated = "case_escalated"

// StaffNotice is a notification to an agent about a case.
type StaffNotice struct {
	TenantID int64
	Agent    Agent
	// Language is the agent's language (AgentLanguage), "" when unknown:
	// the tenant's is the fallback.
	Language string
	Purpose  string
	Data     map[string]string
	// Key makes a retry send once: StaffNoticeKey(case, level, agent).
	Key string
}

// StaffNotifier emails agents: staff of the tenant, not its customers,
// so no contact, consent or quiet hours stand in the way. cmd/conversa
// adapts the notification service's staff mail (notify.StaffMail) to it.
type StaffNotifier interface {
	// NotifyAgent queues the notice to the agent's email as a durable
	// job; the same Key queues it once, also across nodes. Returns
	// EINVALID when it cannot be sent (the agent has no email address) and
	// EUNAVAILABLE when the tenant has no email account to send it from
	// (the notice is then recorded undeliverable). It must be safe for
	// concurrent use.
	NotifyAgent(ctx context.Context, n StaffNotice) error
}

// StaffNoticeKey is the key of the notice to an agent that a case reached
// a level (1-based) of its escalation chain.
func StaffNoticeKey(caseID int64, level int, agentID int64) string {
	return fmt.Sprintf("case:%d:level:%d:agent:%d", caseID, level, agentID)
}

// parseStaffNoticeKey reads a StaffNoticeKey; ok is false for any other
// key.
func parseStaffNoticeKey(key string) (caseID int64, level int, agentID int64, ok bool) {
	f := strings.Split(key, ":")
	if len(f) != 6 || f[0] != "case" || f[2] != "level" || f[4] != "agent" {
		return 0, 0, 0, false
	}
	c, err1 := strconv.ParseInt(f[1], 10, 64)
	l, err2 := strconv.Atoi(f[3])
	a, err3 := strconv.ParseInt(f[5], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || c <= 0 || l <= 0 || a <= 0 {
		return 0, 0, 0, false
	}
	return c, l, a, true
}

// AgentLanguage returns the language an agent is written to in: their
// first skill that names a language the built-in templates speak (skills
// name the languages an agent speaks, such as "en"), or "" when none does,
// so that a skill such as "it" (for IT support) is never taken for one.
func AgentLanguage(a Agent) string {
	for _, s := range a.Skills {
		if s == "es" || s == "en" {
			return s
		}
	}
	return ""
}

// StaffNoticeFailed records in a case's history that the email of a
// notice to an agent (its key a StaffNoticeKey) was not delivered, with
// why, for the case's people to see; keys of other notices are ignored. It
// is idempotent: cmd/conversa calls it for every staff email that failed.
func (s *Cases) StaffNoticeFailed(ctx context.Context, tenantID int64, key, reason string) error {
	caseID, level, agentID, ok := parseStaffNoticeKey(key)
	if !ok {
		return nil
	}
	mark := fmt.Sprintf("email to agent %d of level %d failed", agentID, level)
	err := s.appendEvent(ctx, tenantID, caseID, CaseEvent{Kind: "staff_email", Actor: "system", Note: mark + ": " + reason}, mark)
	if conversation.IsNotFound(err) {
		return nil
	}
	return err
}

// TargetTeamLead names, in a Level's Notify, the leads of the case's team.
const TargetTeamLead = "team_lead"

// CaseEventType is the type of the bus event that tells an agent's console
// that a case reached a level they are told of.
const CaseEventType = "case.escalated"

// Limits of the work on a case.
const (
	// MaxNote is the longest internal note or pause reason, in characters.
	MaxNote = 4000
	// DefaultMaxAttachment is the largest attachment by default.
	DefaultMaxAttachment = 10 << 20
	maxFilename          = 200
)

// checkActor requires the actor of a change.
func checkActor(actor string) error {
	if strings.TrimSpace(actor) == "" {
		return conversation.FieldError("actor", "say who makes the change")
	}
	return nil
}

// Assign assigns a case to an agent and/or a team of the tenant (0 for
// none, both 0 to unassign) and records it in the history. Returns
// EINVALID naming agent_id or team_id when it is not the tenant's (or the
// agent is not in the team), ENOTFOUND when the case is not, and ECONFLICT
// when another change came first.
func (s *Cases) Assign(ctx context.Context, tenantID, id, agentID, teamID int64, actor string) (Case, error) {
	if err := checkActor(actor); err != nil {
		return Case{}, err
	}
	c, err := s.store.Case(ctx, tenantID, id)
	if err != nil {
		return Case{}, err
	}
	var parts []string
	if agentID != 0 || teamID != 0 {
		if s.cfg.Agents == nil {
			return Case{}, conversation.Errorf(conversation.EUNAVAILABLE, "this server has no agents to assign cases to")
		}
	}
	var agent Agent
	if agentID != 0 {
		if agent, err = s.cfg.Agents.Agent(ctx, tenantID, agentID); conversation.IsNotFound(err) || agentID < 0 {
			return Case{}, conversation.FieldError("agent_id", "the tenant has no agent %d", agentID)
		} else if err != nil {
			return Case{}, err
		}
		parts = append(parts, fmt.Sprintf("agent %d (%s)", agent.ID, agent.Name))
	}
	if teamID != 0 {
		teams, err := s.cfg.Agents.ListTeams(ctx, tenantID)
		if err != nil {
			return Case{}, err
		}
		i := slices.IndexFunc(teams, func(t Team) bool { return t.ID == teamID })
		if i < 0 {
			return Case{}, conversation.FieldError("team_id", "the tenant has no team %d", teamID)
		}
		if agentID != 0 && !slices.Contains(agent.Teams, teamID) {
			return Case{}, conversation.FieldError("agent_id", "agent %d is not in team %d", agentID, teamID)
		}
		parts = append(parts, fmt.Sprintf("team %d (%s)", teamID, teams[i].Name))
	}
	if c.AssigneeID == agentID && c.TeamID == teamID {
		return c, nil
	}
	note := "unassigned"
	if len(parts) > 0 {
		note = "to " + strings.Join(parts, " and ")
	}
	c.AssigneeID, c.TeamID = agentID, teamID
	if err := s.store.UpdateCase(ctx, &c, CaseEvent{Kind: "assigned", Actor: actor, Note: note, CreatedAt: s.cfg.Now()}); err != nil {
		return Case{}, err
	}
	return c, nil
}

// AddNote records an internal note of an agent in the case's history. It
// is never sent to the customer. Returns EINVALID naming body when it is
// empty or longer than MaxNote, and ENOTFOUND when the case is not the
// tenant's.
func (s *Cases) AddNote(ctx context.Context, tenantID, id int64, author, body string) (CaseEvent, error) {
	body = strings.TrimSpace(body)
	switch {
	case body == "":
		return CaseEvent{}, conversation.FieldError("body", "a note needs a body")
	case !utf8.ValidString(body) || utf8.RuneCountInString(body) > MaxNote:
		return CaseEvent{}, conversation.FieldError("body", "must be UTF-8 text of at most %d characters", MaxNote)
	}
	if err := checkActor(author); err != nil {
		return CaseEvent{}, err
	}
	ev := CaseEvent{CaseID: id, Kind: "internal_note", Actor: author, Note: body, CreatedAt: s.cfg.Now()}
	for attempt := 0; ; attempt++ {
		c, err := s.store.Case(ctx, tenantID, id)
		if err != nil {
			return CaseEvent{}, err
		}
		err = s.store.UpdateCase(ctx, &c, ev)
		if err == nil || !conversation.IsConflict(err) || attempt == 4 {
			return ev, err
		}
	}
}

// Pause stops the term of a case while it waits on the customer, for a
// reason (the information asked of them), and records it. The escalation
// waits too. Returns EINVALID naming reason, ENOTFOUND when the case is
// not the tenant's, and ECONFLICT when it is paused already, answered, or
// past its term.
func (s *Cases) Pause(ctx context.Context, tenantID, id int64, reason, actor string) (Case, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return Case{}, conversation.FieldError("reason", "say what the case waits for")
	case !utf8.ValidString(reason) || utf8.RuneCountInString(reason) > MaxNote:
		return Case{}, conversation.FieldError("reason", "must be UTF-8 text of at most %d characters", MaxNote)
	}
	if err := checkActor(actor); err != nil {
		return Case{}, err
	}
	c, err := s.store.Case(ctx, tenantID, id)
	if err != nil {
		return Case{}, err
	}
	now := s.cfg.Now()
	switch {
	case !c.PausedAt.IsZero():
		return Case{}, conversation.Errorf(conversation.ECONFLICT, "case %s is paused already, since %s", c.Radicado, c.PausedAt.Format(time.RFC3339))
	case c.Status == Resuelto || c.Status == Cerrado:
		return Case{}, conversation.Errorf(conversation.ECONFLICT, "case %s is %s; only an open case is paused", c.Radicado, c.Status)
	case now.After(c.Due):
		return Case{}, conversation.Errorf(conversation.ECONFLICT, "the term of case %s ended on %s", c.Radicado, c.Due.Format(time.DateOnly))
	}
	c.PausedAt, c.PauseReason = now, reason
	if err := s.store.UpdateCase(ctx, &c, CaseEvent{Kind: "paused", Actor: actor, Note: reason, CreatedAt: now}); err != nil {
		return Case{}, err
	}
	return c, nil
}

// Resume starts the term of a paused case again by the tenant's rule:
// with what it had left (PauseResume: the due date moves by the business
// days, or hours, the pause lasted) or anew (PauseRestart). It records the
// new due date and schedules the next escalation level from it. Returns
// ENOTFOUND when the case is not the tenant's and ECONFLICT when it is not
// paused.
func (s *Cases) Resume(ctx context.Context, tenant conversation.Tenant, id int64, actor string) (Case, error) {
	if err := checkActor(actor); err != nil {
		return Case{}, err
	}
	c, err := s.store.Case(ctx, tenant.ID, id)
	if err != nil {
		return Case{}, err
	}
	if c.PausedAt.IsZero() {
		return Case{}, conversation.Errorf(conversation.ECONFLICT, "case %s is not paused", c.Radicado)
	}
	pol, err := s.policy(ctx, tenant.ID)
	if err != nil {
		return Case{}, fmt.Errorf("resume case %s: %w", c.Radicado, err)
	}
	now := s.cfg.Now()
	cal := pol.calendar(tenant)
	rule := pol.rules().Pause
	var note string
	if c.TermHours > 0 {
		gone := cal.BusinessTimeBetween(c.PausedAt, now)
		if rule == PauseRestart {
			c.PausedUnits = int(cal.BusinessTimeBetween(c.FiledAt, now) / time.Minute)
		} else {
			c.PausedUnits += int(gone / time.Minute)
		}
		c.Due = cal.AddBusinessTime(c.FiledAt, time.Duration(c.TermHours)*time.Hour+time.Duration(c.PausedUnits)*time.Minute)
		note = fmt.Sprintf("after %s of business hours paused (%s): %s left, due %s", gone.Round(time.Minute), rule,
			cal.BusinessTimeBetween(now, c.Due).Round(time.Minute), c.Due.In(cal.Location).Format("2006-01-02 15:04"))
	} else {
		today := calendar.DateOf(now.In(cal.Location))
		gone := cal.BusinessDaysBetween(calendar.DateOf(c.PausedAt.In(cal.Location)), today)
		if rule == PauseRestart {
			c.PausedUnits = cal.BusinessDaysBetween(calendar.DateOf(c.FiledAt.In(cal.Location)), today)
		} else {
			c.PausedUnits += gone
		}
		c.Due = cal.Due(c.FiledAt, c.TermDays+c.ExtendedDays+c.PausedUnits)
		note = fmt.Sprintf("after %d business days paused (%s): %d business days left, due %s", gone, rule,
			cal.BusinessDaysBetween(today, calendar.DateOf(c.Due.In(cal.Location))), c.Due.In(cal.Location).Format(time.DateOnly))
	}
	c.PausedAt, c.PauseReason = time.Time{}, ""
	if err := s.store.UpdateCase(ctx, &c, CaseEvent{Kind: "resumed", Actor: actor, Note: note, CreatedAt: now}); err != nil {
		return Case{}, err
	}
	hist, err := s.store.CaseHistory(ctx, tenant.ID, c.ID)
	if err == nil {
		err = s.schedule(ctx, tenant, c, pol, nextLevel(pol.levels(), hist))
	}
	if err != nil {
		s.cfg.Logger.Error("case resumed without its escalation", "case", c.Radicado, "tenant", tenant.ID, "err", err)
	}
	return c, nil
}

// nextLevel returns the first level of the chain a case has not reached,
// by its history.
func nextLevel(levels []Level, hist []CaseEvent) int {
	for i, l := range levels {
		done := false
		for _, e := range hist {
			done = done || e.Kind == "escalated" && (strings.HasPrefix(e.Note, levelNote(l)) ||
				i == 0 && strings.HasPrefix(e.Note, "to "+l.To+" at filing"))
		}
		if !done {
			return i
		}
	}
	return len(levels)
}

// levelNote starts the note of the escalation to a level.
func levelNote(l Level) string {
	return fmt.Sprintf("to %s at %d%% of the term", l.To, int(l.At*100+0.5))
}

// resumeOnAnswer resumes the contact's paused cases when they write,
// unless the tenant resumes them by hand.
func (s *Cases) resumeOnAnswer(ctx context.Context, t conversation.Turn) error {
	pol, err := s.policy(ctx, t.Tenant.ID)
	if err != nil {
		return err
	}
	if pol.rules().ManualResume {
		return nil
	}
	paused, err := s.store.ListCases(ctx, t.Tenant.ID, CaseFilter{ContactID: t.Contact.ID, Paused: true})
	if err != nil {
		return fmt.Errorf("read the contact's paused cases: %w", err)
	}
	for _, c := range paused {
		if !t.Message.CreatedAt.IsZero() && t.Message.CreatedAt.Before(c.PausedAt) {
			continue // written before the pause: a retry of an older message
		}
		if _, err := s.Resume(ctx, t.Tenant, c.ID, ActorContact+strconv.FormatInt(t.Contact.ID, 10)); err != nil && !conversation.IsConflict(err) {
			return err
		}
	}
	return nil
}

// tellLevel tells the people of level i of the tenant's chain that case c
// reached it: an email through Staff and an event on their console's
// topic, once per level, recorded in the history ("level_notice").
// Failures are logged and recorded, never fail the escalation.
func (s *Cases) tellLevel(ctx context.Context, tenant conversation.Tenant, c Case, levels []Level, i int) {
	if i >= len(levels) || len(levels[i].Notify) == 0 {
		return
	}
	l := levels[i]
	mark := fmt.Sprintf("level %d (%s):", i+1, l.To)
	hist, err := s.store.CaseHistory(ctx, tenant.ID, c.ID)
	if err != nil {
		s.cfg.Logger.Error("read a case's history to tell its escalation", "case", c.Radicado, "tenant", tenant.ID, "err", err)
		return
	}
	for _, e := range hist {
		if e.Kind == "level_notice" && strings.HasPrefix(e.Note, mark) {
			return
		}
	}
	people, err := s.levelPeople(ctx, c, l)
	if err != nil {
		s.cfg.Logger.Error("find the people of an escalation level", "case", c.Radicado, "tenant", tenant.ID, "err", err)
		return
	}
	var told []string
	share := strconv.Itoa(int(l.At*100 + 0.5))
	due := c.Due.In(CalendarOf(tenant).Location).Format(time.DateOnly)
	for _, a := range people {
		what := fmt.Sprintf("agent %d", a.ID)
		var how []string
		if s.cfg.Staff != nil {
			err := s.cfg.Staff.NotifyAgent(ctx, StaffNotice{TenantID: tenant.ID, Agent: a, Language: AgentLanguage(a),
				Purpose: PurposeEscalated, Key: StaffNoticeKey(c.ID, i+1, a.ID),
				Data: map[string]string{"name": a.Name, "radicado": c.Radicado, "level": l.To, "share": share, "due": due}})
			if err != nil {
				s.cfg.Logger.Error("email of an escalation not sent", "case", c.Radicado, "agent", a.ID, "err", err)
				how = append(how, "email not sent: "+conversation.ErrorMessage(err))
			} else {
				how = append(how, "email")
			}
		}
		if s.cfg.Bus != nil {
			payload, _ := json.Marshal(map[string]any{"type": CaseEventType, "case_id": c.ID, "radicado": c.Radicado,
				"level": l.To, "share": l.At, "due": c.Due})
			if err := s.cfg.Bus.Publish(ctx, AgentTopic(tenant.ID, a.ID), payload); err != nil {
				how = append(how, "console not told: "+err.Error())
			} else {
				how = append(how, "console")
			}
		}
		told = append(told, what+" ("+strings.Join(how, ", ")+")")
	}
	note := mark + " nobody to tell"
	if len(told) > 0 {
		note = mark + " told " + strings.Join(told, "; ")
	}
	if err := s.appendEvent(ctx, tenant.ID, c.ID, CaseEvent{Kind: "level_notice", Actor: "system", Note: note}, mark); err != nil {
		s.cfg.Logger.Error("record the notice of an escalation", "case", c.Radicado, "tenant", tenant.ID, "err", err)
	}
}

// levelPeople returns the agents a level's Notify names, each once, by ID.
func (s *Cases) levelPeople(ctx context.Context, c Case, l Level) ([]Agent, error) {
	if s.cfg.Agents == nil {
		return nil, nil
	}
	agents, err := s.cfg.Agents.ListAgents(ctx, c.TenantID)
	if err != nil {
		return nil, err
	}
	var out []Agent
	add := func(a Agent) {
		if !slices.ContainsFunc(out, func(b Agent) bool { return b.ID == a.ID }) {
			out = append(out, a)
		}
	}
	teams := []int64{c.TeamID}
	if c.TeamID == 0 {
		teams = nil
		for _, a := range agents {
			if a.ID == c.AssigneeID {
				teams = a.Teams
			}
		}
	}
	for _, target := range l.Notify {
		kind, val, _ := strings.Cut(target, ":")
		for _, a := range agents {
			switch {
			case kind == "agent" && strconv.FormatInt(a.ID, 10) == val,
				kind == "role" && string(a.Role) == val,
				target == TargetTeamLead && a.Role.Supervises() && slices.ContainsFunc(a.Teams, func(t int64) bool { return slices.Contains(teams, t) }):
				add(a)
			}
		}
	}
	slices.SortFunc(out, func(a, b Agent) int { return int(a.ID - b.ID) })
	return out, nil
}

// ValidateLevels checks an escalation chain: shares rising up to 1, and
// targets that Notify understands.
func ValidateLevels(levels []Level) error {
	prev := 0.0
	for i, l := range levels {
		if l.At <= prev || l.At > 1 || l.To == "" {
			return fmt.Errorf("levels[%d]: at must rise above %v up to 1, with a role in to", i, prev)
		}
		prev = l.At
		for _, t := range l.Notify {
			kind, val, _ := strings.Cut(t, ":")
			_, err := strconv.ParseInt(val, 10, 64)
			if t != TargetTeamLead && !(kind == "agent" && err == nil) &&
				!(kind == "role" && (Role(val) == RoleAdmin || Role(val) == RoleSupervisor || Role(val) == RoleAgent)) {
				return fmt.Errorf("levels[%d].notify: %q is not agent:<id>, role:<role> or %s", i, t, TargetTeamLead)
			}
		}
	}
	return nil
}

// Upload is a file an agent attaches to a case.
type Upload struct {
	// Filename is the name the client gave; it is cleaned to a base name
	// of printable characters.
	Filename string
	// Body is the file; at most MaxAttachment bytes of it are read.
	Body io.Reader
}

// Attach stores a file in the media store and attaches it to the case,
// recording it in the history. The content type is sniffed from the
// file's first bytes, never taken from the client. Returns EINVALID naming
// file for an empty file and ETOOLARGE for one larger than MaxAttachment
// (nothing is stored either way), ENOTFOUND when the case is not the tenant's, and EUNAVAILABLE
// without a media store.
func (s *Cases) Attach(ctx context.Context, tenantID, id int64, up Upload, actor string) (CaseAttachment, error) {
	if s.cfg.Media == nil {
		return CaseAttachment{}, conversation.Errorf(conversation.EUNAVAILABLE, "this server keeps no files")
	}
	if err := checkActor(actor); err != nil {
		return CaseAttachment{}, err
	}
	c, err := s.store.Case(ctx, tenantID, id)
	if err != nil {
		return CaseAttachment{}, err
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(up.Body, s.cfg.MaxAttachment+1))
	_, tooLarge := errors.AsType[*http.MaxBytesError](err)
	switch {
	case tooLarge:
		return CaseAttachment{}, &conversation.Error{Code: conversation.ETOOLARGE, Field: "file", Message: fmt.Sprintf("the file is larger than %d bytes", s.cfg.MaxAttachment)}
	case err != nil:
		return CaseAttachment{}, conversation.FieldError("file", "the file could not be read: %v", err)
	case n == 0:
		return CaseAttachment{}, conversation.FieldError("file", "the file is empty")
	case n > s.cfg.MaxAttachment:
		return CaseAttachment{}, &conversation.Error{Code: conversation.ETOOLARGE, Field: "file", Message: fmt.Sprintf("the file is larger than %d bytes", s.cfg.MaxAttachment)}
	}
	ctype := http.DetectContentType(buf.Bytes())
	name := CleanFilename(up.Filename)
	m, err := s.cfg.Media.Put(ctx, tenantID, conversation.Media{ContentType: ctype, Filename: name}, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return CaseAttachment{}, fmt.Errorf("store an attachment of case %s: %w", c.Radicado, err)
	}
	a := CaseAttachment{TenantID: tenantID, CaseID: c.ID, Key: m.Key, ContentType: ctype, Filename: name, Size: n,
		AddedBy: actor, CreatedAt: s.cfg.Now()}
	ev := CaseEvent{Kind: "attachment", Actor: actor, Note: fmt.Sprintf("%s (%s, %d bytes)", cmp.Or(name, "file"), ctype, n)}
	if err := s.store.AddCaseAttachment(ctx, &a, ev); err != nil {
		// The file stays in the media store, unreferenced: nothing links it.
		return CaseAttachment{}, err
	}
	return a, nil
}

// CleanFilename makes a client's file name safe to store and show: the
// base name of the last path element, without control characters, quotes
// or path separators, and at most 200 characters; "" when nothing is left.
func CleanFilename(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base("/" + name)
	name = strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), r == '"', r == '\'', r == '/', r == '<', r == '>', unicode.Is(unicode.Bidi_Control, r):
			return -1
		}
		return r
	}, name)
	if utf8.RuneCountInString(name) > maxFilename {
		ext := path.Ext(name)
		if utf8.RuneCountInString(ext) > 20 {
			ext = ""
		}
		name = string([]rune(name)[:maxFilename-utf8.RuneCountInString(ext)]) + ext
	}
	// No hidden files, no names that start or end in blanks.
	for trimmed := ""; trimmed != name; {
		trimmed = name
		name = strings.TrimLeft(strings.TrimSpace(name), ".")
	}
	return name
}

package handoff

import (
	"context"
	"time"
)

// Case is a support case (PQR) of a tenant.
type Case struct {
	ID       int64 `json:"id"`
	TenantID int64 `json:"tenant_id"`
	// Radicado is the filing number, unique per tenant, given by the store:
	// the prefix, the year of filing and the tenant's sequence of that year.
	Radicado  string     `json:"radicado"`
	Type      CaseType   `json:"type"`
	Status    CaseStatus `json:"status"`
	ContactID int64      `json:"contact_id"`
	// ConversationID is the conversation the case was filed in, if any.
	ConversationID int64  `json:"conversation_id,omitempty"`
	Channel        string `json:"channel,omitempty"`
	Subject        string `json:"subject,omitempty"`
	Description    string `json:"description"`
	// Fields are what was collected when filing (the bot flow's slots).
	Fields   map[string]string `json:"fields,omitempty"`
	Priority string            `json:"priority,omitempty"`
	// TermDays is the term in business days; Due the end of its last day.
	TermDays      int       `json:"term_days"`
	Due           time.Time `json:"due"`
	ExtendedDays  int       `json:"extended_days,omitempty"`
	ExtensionNote string    `json:"extension_note,omitempty"`
	FiledAt       time.Time `json:"filed_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// TermHours, when not 0, is the term in business hours of the tenant's
	// opening hours instead of TermDays (an urgent type's 4 hours, say).
	TermHours int `json:"term_hours,omitempty"`
	// AssigneeID and TeamID are the tenant's agent and team who work the
	// case, 0 for none.
	AssigneeID int64 `json:"assignee_id,omitempty"`
	TeamID     int64 `json:"team_id,omitempty"`
	// PausedAt, when set, is when the term stopped while the case waits
	// on the customer, for PauseReason. PausedUnits is how long the term
	// was suspended in all, in business days (business minutes for a term
	// in hours): Due and the escalation levels are that much later.
	PausedAt    time.Time `json:"paused_at,omitzero"`
	PauseReason string    `json:"pause_reason,omitempty"`
	PausedUnits int       `json:"paused_units,omitempty"`
	// Version counts changes, for compare-and-set.
	Version int64 `json:"version"`
	// Source is what filed the case, unique per tenant when set, so that a
	// retried filing finds the case instead of filing another: the bot's
	// "message:<id>".
	Source string `json:"-"`
}

// CaseEvent is one entry of a case's history, which is only ever appended
// to.
type CaseEvent struct {
	ID     int64  `json:"id"`
	CaseID int64  `json:"case_id"`
	Kind   string `json:"kind"` // filed, status, extended, note, escalated, ...
	// Actor is who did it: "bot", "agent:<name>", "system", "api:<key>".
	Actor string `json:"actor"`
	// From and To are the statuses of a status change.
	From      CaseStatus `json:"from,omitempty"`
	To        CaseStatus `json:"to,omitempty"`
	Note      string     `json:"note,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// CaseStore keeps cases. storage/sqlite and storage/postgres implement it,
// proven by handofftest.TestCaseStore. Every method is safe for concurrent
// use and scoped to one tenant.
type CaseStore interface {
	// CreateCase stores c (TenantID, Type, Status, ContactID, TermDays,
	// Due, FiledAt and the rest set by the caller) with its first history
	// event, and gives it its ID, Version 1 and Radicado: prefix, the year
	// of c.FiledAt in UTC, and the next number of the tenant's sequence of
	// that year (1, 2, …, without gaps under concurrency). Returns
	// ENOTFOUND when the tenant does not exist, and ECONFLICT when the
	// tenant has a case of the same non-empty Source (and uses no number).
	CreateCase(ctx context.Context, c *Case, prefix string, first CaseEvent) error
	// CaseBySource returns the case filed from source. Returns ENOTFOUND
	// when there is none.
	CaseBySource(ctx context.Context, tenantID int64, source string) (Case, error)
	// Case returns a case by ID. Returns ENOTFOUND when it is not the
	// tenant's.
	Case(ctx context.Context, tenantID, id int64) (Case, error)
	// CaseByRadicado returns a case by its filing number. Returns
	// ENOTFOUND when the tenant has none such.
	CaseByRadicado(ctx context.Context, tenantID int64, radicado string) (Case, error)
	// UpdateCase stores c if the stored case still has c.Version, appends
	// ev to its history in the same transaction, and sets c.Version and
	// c.UpdatedAt. Returns ECONFLICT when another change came first, and
	// ENOTFOUND when the case is not the tenant's.
	UpdateCase(ctx context.Context, c *Case, ev CaseEvent) error
	// CaseHistory returns a case's events, oldest first.
	CaseHistory(ctx context.Context, tenantID, caseID int64) ([]CaseEvent, error)
	// AddCaseAttachment stores a of the case a.CaseID and appends ev to its
	// history in one transaction, and gives a its ID (a.CreatedAt zero is
	// now). Returns ENOTFOUND when the case is not the tenant's.
	AddCaseAttachment(ctx context.Context, a *CaseAttachment, ev CaseEvent) error
	// CaseAttachments returns a case's attachments, oldest first. Returns
	// ENOTFOUND when the case is not the tenant's.
	CaseAttachments(ctx context.Context, tenantID, caseID int64) ([]CaseAttachment, error)
	// ListCases returns the tenant's cases that match f, newest (highest
	// ID) first, at most f.Limit (default 50, at most 500). A list of a
	// date range (FiledFrom or FiledTo set) is in the order of FiledAt
	// instead, newest first, then of ID: its cursor is BeforeFiled and
	// Before together.
	ListCases(ctx context.Context, tenantID int64, f CaseFilter) ([]Case, error)
}

// CaseFilter selects cases; zero fields select all.
type CaseFilter struct {
	Status    []CaseStatus
	Type      []CaseType
	Channel   string
	ContactID int64
	// FiledFrom and FiledTo bound FiledAt: from ≤ filed < to.
	FiledFrom, FiledTo time.Time
	// OverdueAt, when set, keeps the open cases (not resuelto or cerrado)
	// whose Due is before it and whose term is not paused.
	OverdueAt time.Time
	// AssigneeID and TeamID keep the cases of an agent and of a team.
	AssigneeID, TeamID int64
	// Paused keeps the cases whose term is paused.
	Paused bool
	// Before is the cursor: only cases with an ID below it; for a list of
	// a date range, with BeforeFiled, only cases filed before BeforeFiled,
	// or then with an ID below Before.
	Before      int64
	BeforeFiled time.Time
	Limit       int
}

// CaseAttachment is a file attached to a case, kept in the media store.
type CaseAttachment struct {
	ID          int64     `json:"id"`
	TenantID    int64     `json:"tenant_id"`
	CaseID      int64     `json:"case_id"`
	Key         string    `json:"-"`
	ContentType string    `json:"content_type"`
	Filename    string    `json:"filename,omitempty"`
	Size        int64     `json:"size"`
	AddedBy     string    `json:"added_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

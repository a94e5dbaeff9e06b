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
	// ListCases returns the tenant's cases that match f, newest (highest
	// ID) first, at most f.Limit (default 50, at most 500).
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
	// whose Due is before it.
	OverdueAt time.Time
	// Before is the cursor: only cases with an ID below it.
	Before int64
	Limit  int
}

package handoff

import (
	"context"
	"time"
)

// Survey is the satisfaction question asked after a case was resolved, and
// the customer's answer.
type Survey struct {
	ID        int64 `json:"id"`
	TenantID  int64 `json:"-"`
	CaseID    int64 `json:"case_id"`
	ContactID int64 `json:"contact_id"`
	// Key is unique per tenant: "case:<id>:survey:<version>", the key of
	// the survey's notification, so that a retry asks once.
	Key string `json:"-"`
	// ResolvedAt is when the case was resolved: the reopen period counts
	// from it.
	ResolvedAt time.Time `json:"resolved_at"`
	AskedAt    time.Time `json:"asked_at"`
	// ExpiresAt is when an unanswered survey stops taking answers.
	ExpiresAt time.Time `json:"expires_at"`
	// AnsweredAt, Score (1 to 5) and AnswerMessageID are the answer; zero
	// until there is one.
	AnsweredAt      time.Time `json:"answered_at,omitzero"`
	Score           int       `json:"score,omitempty"`
	AnswerMessageID int64     `json:"answer_message_id,omitempty"`
	// ReopenUntil is set when the answer offered to reopen the case: the
	// customer may ask for it until then.
	ReopenUntil time.Time `json:"reopen_until,omitzero"`
	// ReopenedAt and ReopenMessageID say the customer reopened the case
	// with that message.
	ReopenedAt      time.Time `json:"reopened_at,omitzero"`
	ReopenMessageID int64     `json:"reopen_message_id,omitempty"`
}

// SurveyStore keeps the surveys of cases. storage/sqlite and
// storage/postgres implement it, proven by handofftest.TestSurveyStore.
// Every method is safe for concurrent use and scoped to one tenant: another
// tenant's ids are ENOTFOUND (or an empty list). Times are kept to the
// microsecond.
type SurveyStore interface {
	// CreateSurvey stores s (all but the answer and reopening) and sets
	// s.ID, and returns created true. When the tenant has a survey with
	// s.Key it stores nothing, sets *s to that survey and returns false,
	// also under concurrency. Returns ENOTFOUND when the tenant does not
	// exist.
	CreateSurvey(ctx context.Context, s *Survey) (created bool, err error)
	// ContactSurveys returns the contact's surveys asked at or after since,
	// newest (highest ID) first, at most 20.
	ContactSurveys(ctx context.Context, tenantID, contactID int64, since time.Time) ([]Survey, error)
	// CaseSurveys returns a case's surveys, oldest first.
	CaseSurveys(ctx context.Context, tenantID, caseID int64) ([]Survey, error)
	// AnswerSurvey records s.AnsweredAt, s.Score, s.AnswerMessageID and
	// s.ReopenUntil on the survey s.ID if it has no answer yet. Returns
	// ECONFLICT when it has one, ENOTFOUND unless it is s.TenantID's.
	AnswerSurvey(ctx context.Context, s Survey) error
	// ReopenSurvey records s.ReopenedAt and s.ReopenMessageID on the
	// survey s.ID if it was not reopened yet. Returns ECONFLICT when it
	// was, ENOTFOUND unless it is s.TenantID's.
	ReopenSurvey(ctx context.Context, s Survey) error
}

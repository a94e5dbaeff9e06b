package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/handoff"
)

var _ handoff.SurveyStore = (*Store)(nil)

const surveyColumns = `id, tenant_id, case_id, contact_id, key, resolved_at, asked_at, expires_at, answered_at, score,
	answer_message_id, reopen_until, reopened_at, reopen_message_id`

func scanSurvey(row pgx.Row) (handoff.Survey, error) {
	var s handoff.Survey
	var answered, until, reopened *time.Time
	err := row.Scan(&s.ID, &s.TenantID, &s.CaseID, &s.ContactID, &s.Key, &s.ResolvedAt, &s.AskedAt, &s.ExpiresAt, &answered, &s.Score,
		&s.AnswerMessageID, &until, &reopened, &s.ReopenMessageID)
	s.ResolvedAt, s.AskedAt, s.ExpiresAt = s.ResolvedAt.UTC(), s.AskedAt.UTC(), s.ExpiresAt.UTC()
	s.AnsweredAt, s.ReopenUntil, s.ReopenedAt = timeOf(answered), timeOf(until), timeOf(reopened)
	return s, err
}

// CreateSurvey implements handoff.SurveyStore. The insert does nothing on
// the key of a survey stored, or being stored, by another transaction; it
// waits for that one, whose row the next statement then reads.
func (s *Store) CreateSurvey(ctx context.Context, sv *handoff.Survey) (bool, error) {
	out, err := scanSurvey(s.pool.QueryRow(ctx, `INSERT INTO case_surveys (tenant_id, case_id, contact_id, key, resolved_at, asked_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, key) DO NOTHING RETURNING `+surveyColumns,
		sv.TenantID, sv.CaseID, sv.ContactID, sv.Key, micro(sv.ResolvedAt), micro(sv.AskedAt), micro(sv.ExpiresAt)))
	switch {
	case isForeignKey(err):
		return false, conversation.Errorf(conversation.ENOTFOUND, "tenant or case not found")
	case errors.Is(err, pgx.ErrNoRows):
		out, err = scanSurvey(s.pool.QueryRow(ctx, `SELECT `+surveyColumns+` FROM case_surveys WHERE tenant_id = $1 AND key = $2`, sv.TenantID, sv.Key))
		if err != nil {
			return false, err
		}
		*sv = out
		return false, nil
	case err != nil:
		return false, err
	}
	*sv = out
	return true, nil
}

// ContactSurveys implements handoff.SurveyStore.
func (s *Store) ContactSurveys(ctx context.Context, tenantID, contactID int64, since time.Time) ([]handoff.Survey, error) {
	return queryAll(ctx, s.pool, scanSurvey, `SELECT `+surveyColumns+` FROM case_surveys
		WHERE tenant_id = $1 AND contact_id = $2 AND asked_at >= $3 ORDER BY id DESC LIMIT 20`, tenantID, contactID, since)
}

// CaseSurveys implements handoff.SurveyStore.
func (s *Store) CaseSurveys(ctx context.Context, tenantID, caseID int64) ([]handoff.Survey, error) {
	return queryAll(ctx, s.pool, scanSurvey, `SELECT `+surveyColumns+` FROM case_surveys
		WHERE tenant_id = $1 AND case_id = $2 ORDER BY id`, tenantID, caseID)
}

// AnswerSurvey implements handoff.SurveyStore.
func (s *Store) AnswerSurvey(ctx context.Context, sv handoff.Survey) error {
	return s.setOnce(ctx, sv, "answered", `UPDATE case_surveys SET answered_at = $3, score = $4, answer_message_id = $5, reopen_until = $6
		WHERE tenant_id = $1 AND id = $2 AND answered_at IS NULL`,
		sv.TenantID, sv.ID, micro(sv.AnsweredAt), sv.Score, sv.AnswerMessageID, nullTime(micro(sv.ReopenUntil)))
}

// ReopenSurvey implements handoff.SurveyStore.
func (s *Store) ReopenSurvey(ctx context.Context, sv handoff.Survey) error {
	return s.setOnce(ctx, sv, "reopened", `UPDATE case_surveys SET reopened_at = $3, reopen_message_id = $4
		WHERE tenant_id = $1 AND id = $2 AND reopened_at IS NULL`,
		sv.TenantID, sv.ID, micro(sv.ReopenedAt), sv.ReopenMessageID)
}

// setOnce runs an UPDATE of one survey that applies only once: no row
// changed is ECONFLICT when the survey exists, else ENOTFOUND.
func (s *Store) setOnce(ctx context.Context, sv handoff.Survey, what, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM case_surveys WHERE tenant_id = $1 AND id = $2`, sv.TenantID, sv.ID).Scan(&one); err != nil {
		return notFound(err, "survey")
	}
	return conversation.Errorf(conversation.ECONFLICT, "the survey was %s already", what)
}

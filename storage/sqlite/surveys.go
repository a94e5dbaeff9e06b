package sqlite

import (
	"context"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

var _ handoff.SurveyStore = (*Store)(nil)

const surveyColumns = `id, tenant_id, case_id, contact_id, key, resolved_at, asked_at, expires_at, answered_at, score,
	answer_message_id, reopen_until, reopened_at, reopen_message_id`

func scanSurvey(row scanner) (handoff.Survey, error) {
	var s handoff.Survey
	var resolved, asked, expires, answered, until, reopened int64
	err := row.Scan(&s.ID, &s.TenantID, &s.CaseID, &s.ContactID, &s.Key, &resolved, &asked, &expires, &answered, &s.Score,
		&s.AnswerMessageID, &until, &reopened, &s.ReopenMessageID)
	s.ResolvedAt, s.AskedAt, s.ExpiresAt = fromMicros(resolved), fromMicros(asked), fromMicros(expires)
	s.AnsweredAt, s.ReopenUntil, s.ReopenedAt = fromMicros(answered), fromMicros(until), fromMicros(reopened)
	return s, err
}

// CreateSurvey implements handoff.SurveyStore. Writes are serialized, so
// looking for the key first in the write transaction is enough.
func (s *Store) CreateSurvey(ctx context.Context, sv *handoff.Survey) (bool, error) {
	created := false
	err := s.write(ctx, func(tx *wtx) error {
		old, err := scanSurvey(tx.QueryRowContext(ctx, `SELECT `+surveyColumns+` FROM case_surveys WHERE tenant_id = ? AND key = ?`, sv.TenantID, sv.Key))
		if err == nil {
			*sv = old
			return nil
		}
		if err = notFound(err, "survey"); !conversation.IsNotFound(err) {
			return err
		}
		err = tx.QueryRowContext(ctx, `INSERT INTO case_surveys (tenant_id, case_id, contact_id, key, resolved_at, asked_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			sv.TenantID, sv.CaseID, sv.ContactID, sv.Key, micros(sv.ResolvedAt), micros(sv.AskedAt), micros(sv.ExpiresAt)).Scan(&sv.ID)
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant or case not found")
		}
		created = err == nil
		return err
	})
	return created, err
}

// ContactSurveys implements handoff.SurveyStore.
func (s *Store) ContactSurveys(ctx context.Context, tenantID, contactID int64, since time.Time) ([]handoff.Survey, error) {
	return queryAll(ctx, s.rd, scanSurvey, `SELECT `+surveyColumns+` FROM case_surveys
		WHERE tenant_id = ? AND contact_id = ? AND asked_at >= ? ORDER BY id DESC LIMIT 20`, tenantID, contactID, micros(since))
}

// CaseSurveys implements handoff.SurveyStore.
func (s *Store) CaseSurveys(ctx context.Context, tenantID, caseID int64) ([]handoff.Survey, error) {
	return queryAll(ctx, s.rd, scanSurvey, `SELECT `+surveyColumns+` FROM case_surveys
		WHERE tenant_id = ? AND case_id = ? ORDER BY id`, tenantID, caseID)
}

// AnswerSurvey implements handoff.SurveyStore.
func (s *Store) AnswerSurvey(ctx context.Context, sv handoff.Survey) error {
	return s.setOnce(ctx, sv, "answered", `UPDATE case_surveys SET answered_at = ?, score = ?, answer_message_id = ?, reopen_until = ?
		WHERE tenant_id = ? AND id = ? AND answered_at = 0`,
		micros(sv.AnsweredAt), sv.Score, sv.AnswerMessageID, micros(sv.ReopenUntil), sv.TenantID, sv.ID)
}

// ReopenSurvey implements handoff.SurveyStore.
func (s *Store) ReopenSurvey(ctx context.Context, sv handoff.Survey) error {
	return s.setOnce(ctx, sv, "reopened", `UPDATE case_surveys SET reopened_at = ?, reopen_message_id = ?
		WHERE tenant_id = ? AND id = ? AND reopened_at = 0`,
		micros(sv.ReopenedAt), sv.ReopenMessageID, sv.TenantID, sv.ID)
}

// setOnce runs an UPDATE of one survey that applies only once: no row
// changed is ECONFLICT when the survey exists, else ENOTFOUND.
func (s *Store) setOnce(ctx context.Context, sv handoff.Survey, what, query string, args ...any) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM case_surveys WHERE tenant_id = ? AND id = ?`, sv.TenantID, sv.ID).Scan(&one); err != nil {
			return notFound(err, "survey")
		}
		return conversation.Errorf(conversation.ECONFLICT, "the survey was %s already", what)
	})
}

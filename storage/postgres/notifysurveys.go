package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/notify/survey"
)

var _ survey.Store = (*Store)(nil)

const notifySurveyColumns = `id, tenant_id, contact_id, kind, purpose, subject, notification_id, status, ttl_seconds,
	channel, conversation_id, message_id, sent_at, expires_at, score, answered_at, answer_channel, answer_message_id,
	answer_text, created_at`

func scanNotifySurvey(row pgx.Row) (survey.Survey, error) {
	var s survey.Survey
	var ttl int64
	var sent, expires, answered *time.Time
	err := row.Scan(&s.ID, &s.TenantID, &s.ContactID, &s.Kind, &s.Purpose, &s.Subject, &s.NotificationID, &s.Status, &ttl,
		&s.Channel, &s.ConversationID, &s.MessageID, &sent, &expires, &s.Score, &answered, &s.AnswerChannel, &s.AnswerMessageID,
		&s.AnswerText, &s.CreatedAt)
	s.TTL = time.Duration(ttl) * time.Second
	s.SentAt, s.ExpiresAt, s.AnsweredAt, s.CreatedAt = timeOf(sent), timeOf(expires), timeOf(answered), s.CreatedAt.UTC()
	return s, err
}

// InsertSurvey implements survey.Store. The insert does nothing on the
// notification of a survey stored, or being stored, by another
// transaction; it waits for that one, whose row the next statement reads.
func (s *Store) InsertSurvey(ctx context.Context, sv survey.Survey) (survey.Survey, bool, error) {
	out, err := scanNotifySurvey(s.pool.QueryRow(ctx, `INSERT INTO surveys (tenant_id, contact_id, kind, purpose, subject,
			notification_id, status, ttl_seconds, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'scheduled', $7, $8) ON CONFLICT (tenant_id, notification_id) DO NOTHING
		RETURNING `+notifySurveyColumns,
		sv.TenantID, sv.ContactID, string(sv.Kind), sv.Purpose, sv.Subject, sv.NotificationID, int64(sv.TTL/time.Second), now()))
	switch {
	case isForeignKey(err):
		return survey.Survey{}, false, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	case errors.Is(err, pgx.ErrNoRows):
		out, err = s.SurveyOfNotification(ctx, sv.TenantID, sv.NotificationID)
		return out, false, err
	case err != nil:
		return survey.Survey{}, false, err
	}
	return out, true, nil
}

// Survey implements survey.Store.
func (s *Store) Survey(ctx context.Context, tenantID, id int64) (survey.Survey, error) {
	sv, err := scanNotifySurvey(s.pool.QueryRow(ctx, `SELECT `+notifySurveyColumns+` FROM surveys WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return sv, notFound(err, "survey")
}

// SurveyOfNotification implements survey.Store.
func (s *Store) SurveyOfNotification(ctx context.Context, tenantID, notificationID int64) (survey.Survey, error) {
	sv, err := scanNotifySurvey(s.pool.QueryRow(ctx, `SELECT `+notifySurveyColumns+` FROM surveys
		WHERE tenant_id = $1 AND notification_id = $2`, tenantID, notificationID))
	return sv, notFound(err, "survey")
}

// ListSurveys implements survey.Store.
func (s *Store) ListSurveys(ctx context.Context, tenantID int64, f survey.Filter) ([]survey.Survey, error) {
	where, args := []string{"tenant_id = $1"}, []any{tenantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.Kind != "" {
		add("kind =", string(f.Kind))
	}
	if f.ContactID != 0 {
		add("contact_id =", f.ContactID)
	}
	if f.Status != "" {
		add("status =", string(f.Status))
	}
	if !f.From.IsZero() {
		add("created_at >=", f.From)
	}
	if !f.To.IsZero() {
		add("created_at <", f.To)
	}
	if f.BeforeID != 0 {
		add("id <", f.BeforeID)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.pool, scanNotifySurvey, `SELECT `+notifySurveyColumns+` FROM surveys
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
}

// MarkSurveySent implements survey.Store.
func (s *Store) MarkSurveySent(ctx context.Context, sv survey.Survey) (survey.Survey, error) {
	out, err := scanNotifySurvey(s.pool.QueryRow(ctx, `UPDATE surveys SET status = $3, channel = $4, conversation_id = $5,
			message_id = $6, sent_at = $7, expires_at = $8
		WHERE tenant_id = $1 AND id = $2 AND status = 'scheduled' RETURNING `+notifySurveyColumns,
		sv.TenantID, sv.ID, string(sv.Status), string(sv.Channel), sv.ConversationID, sv.MessageID,
		nullTime(micro(sv.SentAt)), nullTime(micro(sv.ExpiresAt))))
	if !errors.Is(err, pgx.ErrNoRows) {
		return out, err
	}
	if out, err = s.Survey(ctx, sv.TenantID, sv.ID); err != nil {
		return out, err
	}
	return out, conversation.Errorf(conversation.ECONFLICT, "the survey is %s already", out.Status)
}

// PendingSurveys implements survey.Store.
func (s *Store) PendingSurveys(ctx context.Context, tenantID, contactID int64, at time.Time) ([]survey.Survey, error) {
	return queryAll(ctx, s.pool, scanNotifySurvey, `SELECT `+notifySurveyColumns+` FROM surveys
		WHERE tenant_id = $1 AND contact_id = $2 AND status = 'sent' AND expires_at > $3
		ORDER BY sent_at DESC, id DESC LIMIT 20`, tenantID, contactID, at)
}

// SurveyAnsweredBy implements survey.Store.
func (s *Store) SurveyAnsweredBy(ctx context.Context, tenantID, messageID int64) (survey.Survey, error) {
	if messageID == 0 {
		return survey.Survey{}, conversation.Errorf(conversation.ENOTFOUND, "survey not found")
	}
	sv, err := scanNotifySurvey(s.pool.QueryRow(ctx, `SELECT `+notifySurveyColumns+` FROM surveys
		WHERE tenant_id = $1 AND answer_message_id = $2 AND answer_message_id <> 0`, tenantID, messageID))
	return sv, notFound(err, "survey")
}

// RecordSurveyAnswer implements survey.Store.
func (s *Store) RecordSurveyAnswer(ctx context.Context, sv survey.Survey) error {
	tag, err := s.pool.Exec(ctx, `UPDATE surveys SET status = 'answered', score = $3, answered_at = $4, answer_channel = $5,
			answer_message_id = $6, answer_text = $7
		WHERE tenant_id = $1 AND id = $2 AND status = 'sent'`,
		sv.TenantID, sv.ID, sv.Score, micro(sv.AnsweredAt), string(sv.AnswerChannel), sv.AnswerMessageID, sv.AnswerText)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	out, err := s.Survey(ctx, sv.TenantID, sv.ID)
	if err != nil {
		return err
	}
	return conversation.Errorf(conversation.ECONFLICT, "the survey is %s, not waiting for an answer", out.Status)
}

// SurveyTallies implements survey.Store.
func (s *Store) SurveyTallies(ctx context.Context, tenantID int64, kind survey.Kind, from, to time.Time) ([]survey.Tally, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (survey.Tally, error) {
		var t survey.Tally
		var n int64
		err := row.Scan(&t.Hour, &t.Channel, &t.Score, &n)
		t.Hour, t.Count = t.Hour.UTC(), int(n)
		return t, err
	}, `SELECT date_trunc('hour', sent_at, 'UTC'), channel, CASE WHEN status = 'answered' THEN score ELSE -1 END, count(*) FROM surveys
		WHERE tenant_id = $1 AND kind = $2 AND sent_at >= $3 AND sent_at < $4 AND status IN ('sent', 'answered')
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, tenantID, string(kind), from, to)
}

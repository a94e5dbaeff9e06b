package sqlite

import (
	"context"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/notify/survey"
)

var _ survey.Store = (*Store)(nil)

const notifySurveyColumns = `id, tenant_id, contact_id, kind, purpose, subject, notification_id, status, ttl_seconds,
	channel, conversation_id, message_id, sent_at, expires_at, score, answered_at, answer_channel, answer_message_id,
	answer_text, created_at`

func scanNotifySurvey(row scanner) (survey.Survey, error) {
	var s survey.Survey
	var ttl, sent, expires, answered, created int64
	err := row.Scan(&s.ID, &s.TenantID, &s.ContactID, &s.Kind, &s.Purpose, &s.Subject, &s.NotificationID, &s.Status, &ttl,
		&s.Channel, &s.ConversationID, &s.MessageID, &sent, &expires, &s.Score, &answered, &s.AnswerChannel, &s.AnswerMessageID,
		&s.AnswerText, &created)
	s.TTL = time.Duration(ttl) * time.Second
	s.SentAt, s.ExpiresAt, s.AnsweredAt, s.CreatedAt = fromMicros(sent), fromMicros(expires), fromMicros(answered), fromMicros(created)
	return s, err
}

// InsertSurvey implements survey.Store. Writes are serialized, so looking
// for the notification's survey first in the write transaction is enough.
func (s *Store) InsertSurvey(ctx context.Context, sv survey.Survey) (survey.Survey, bool, error) {
	created := false
	err := s.write(ctx, func(tx *wtx) error {
		old, err := scanNotifySurvey(tx.QueryRowContext(ctx, `SELECT `+notifySurveyColumns+` FROM surveys
			WHERE tenant_id = ? AND notification_id = ?`, sv.TenantID, sv.NotificationID))
		if err == nil {
			sv = old
			return nil
		}
		if err = notFound(err, "survey"); !conversation.IsNotFound(err) {
			return err
		}
		stored, err := scanNotifySurvey(tx.QueryRowContext(ctx, `INSERT INTO surveys (tenant_id, contact_id, kind, purpose, subject,
				notification_id, status, ttl_seconds, created_at)
			VALUES (?, ?, ?, ?, ?, ?, 'scheduled', ?, ?) RETURNING `+notifySurveyColumns,
			sv.TenantID, sv.ContactID, sv.Kind, sv.Purpose, sv.Subject, sv.NotificationID, int64(sv.TTL/time.Second), micros(now())))
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		sv, created = stored, err == nil
		return err
	})
	return sv, created, err
}

// Survey implements survey.Store.
func (s *Store) Survey(ctx context.Context, tenantID, id int64) (survey.Survey, error) {
	sv, err := scanNotifySurvey(s.rd.QueryRowContext(ctx, `SELECT `+notifySurveyColumns+` FROM surveys WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return sv, notFound(err, "survey")
}

// SurveyOfNotification implements survey.Store.
func (s *Store) SurveyOfNotification(ctx context.Context, tenantID, notificationID int64) (survey.Survey, error) {
	sv, err := scanNotifySurvey(s.rd.QueryRowContext(ctx, `SELECT `+notifySurveyColumns+` FROM surveys
		WHERE tenant_id = ? AND notification_id = ?`, tenantID, notificationID))
	return sv, notFound(err, "survey")
}

// ListSurveys implements survey.Store.
func (s *Store) ListSurveys(ctx context.Context, tenantID int64, f survey.Filter) ([]survey.Survey, error) {
	where, args := []string{"tenant_id = ?"}, []any{tenantID}
	add := func(cond string, v any) { where, args = append(where, cond), append(args, v) }
	if f.Kind != "" {
		add("kind = ?", f.Kind)
	}
	if f.ContactID != 0 {
		add("contact_id = ?", f.ContactID)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if !f.From.IsZero() {
		add("created_at >= ?", micros(f.From))
	}
	if !f.To.IsZero() {
		add("created_at < ?", micros(f.To))
	}
	if f.BeforeID != 0 {
		add("id < ?", f.BeforeID)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.rd, scanNotifySurvey, `SELECT `+notifySurveyColumns+` FROM surveys
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
}

// MarkSurveySent implements survey.Store.
func (s *Store) MarkSurveySent(ctx context.Context, sv survey.Survey) (survey.Survey, error) {
	var out survey.Survey
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanNotifySurvey(tx.QueryRowContext(ctx, `UPDATE surveys SET status = ?, channel = ?, conversation_id = ?,
				message_id = ?, sent_at = ?, expires_at = ?
			WHERE tenant_id = ? AND id = ? AND status = 'scheduled' RETURNING `+notifySurveyColumns,
			sv.Status, sv.Channel, sv.ConversationID, sv.MessageID, micros(sv.SentAt), micros(sv.ExpiresAt), sv.TenantID, sv.ID))
		if err = notFound(err, "survey"); !conversation.IsNotFound(err) {
			return err
		}
		if out, err = scanNotifySurvey(tx.QueryRowContext(ctx, `SELECT `+notifySurveyColumns+` FROM surveys WHERE tenant_id = ? AND id = ?`,
			sv.TenantID, sv.ID)); err != nil {
			return notFound(err, "survey")
		}
		return conversation.Errorf(conversation.ECONFLICT, "the survey is %s already", out.Status)
	})
	return out, err
}

// PendingSurveys implements survey.Store.
func (s *Store) PendingSurveys(ctx context.Context, tenantID, contactID int64, at time.Time) ([]survey.Survey, error) {
	return queryAll(ctx, s.rd, scanNotifySurvey, `SELECT `+notifySurveyColumns+` FROM surveys
		WHERE tenant_id = ? AND contact_id = ? AND status = 'sent' AND expires_at > ?
		ORDER BY sent_at DESC, id DESC LIMIT 20`, tenantID, contactID, micros(at))
}

// SurveyAnsweredBy implements survey.Store.
func (s *Store) SurveyAnsweredBy(ctx context.Context, tenantID, messageID int64) (survey.Survey, error) {
	if messageID == 0 {
		return survey.Survey{}, conversation.Errorf(conversation.ENOTFOUND, "survey not found")
	}
	sv, err := scanNotifySurvey(s.rd.QueryRowContext(ctx, `SELECT `+notifySurveyColumns+` FROM surveys
		WHERE tenant_id = ? AND answer_message_id = ? AND answer_message_id <> 0`, tenantID, messageID))
	return sv, notFound(err, "survey")
}

// RecordSurveyAnswer implements survey.Store.
func (s *Store) RecordSurveyAnswer(ctx context.Context, sv survey.Survey) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE surveys SET status = 'answered', score = ?, answered_at = ?, answer_channel = ?,
				answer_message_id = ?, answer_text = ?
			WHERE tenant_id = ? AND id = ? AND status = 'sent'`,
			sv.Score, micros(sv.AnsweredAt), sv.AnswerChannel, sv.AnswerMessageID, sv.AnswerText, sv.TenantID, sv.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM surveys WHERE tenant_id = ? AND id = ?`, sv.TenantID, sv.ID).Scan(&status); err != nil {
			return notFound(err, "survey")
		}
		return conversation.Errorf(conversation.ECONFLICT, "the survey is %s, not waiting for an answer", status)
	})
}

// SurveyTallies implements survey.Store.
func (s *Store) SurveyTallies(ctx context.Context, tenantID int64, kind survey.Kind, from, to time.Time) ([]survey.Tally, error) {
	const hour = int64(time.Hour / time.Microsecond)
	return queryAll(ctx, s.rd, func(row scanner) (survey.Tally, error) {
		var t survey.Tally
		var d int64
		err := row.Scan(&d, &t.Channel, &t.Score, &t.Count)
		t.Hour = time.UnixMicro(d * hour).UTC()
		return t, err
	}, `SELECT sent_at / ?, channel, CASE WHEN status = 'answered' THEN score ELSE -1 END AS sc, count(*) FROM surveys
		WHERE tenant_id = ? AND kind = ? AND sent_at >= ? AND sent_at < ? AND status IN ('sent', 'answered')
		GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, hour, tenantID, kind, micros(from), micros(to))
}

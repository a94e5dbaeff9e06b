package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/notify"
)

var _ notify.Store = (*Store)(nil)

const notificationColumns = `id, tenant_id, contact_id, purpose, data::text, coalesce(idempotency_key, ''), channels::text, send_after,
	fingerprint, status, due, time_zone, channel, account_id, conversation_id, message_id, skipped::text, note, sent_at, created_at, updated_at`

func scanNotification(row pgx.Row) (notify.Notification, error) {
	var n notify.Notification
	var data, channels, skipped string
	var sendAfter, sent *time.Time
	err := row.Scan(&n.ID, &n.TenantID, &n.ContactID, &n.Purpose, &data, &n.IdempotencyKey, &channels, &sendAfter,
		&n.Fingerprint, &n.Status, &n.Due, &n.TimeZone, &n.Channel, &n.AccountID, &n.ConversationID, &n.MessageID,
		&skipped, &n.Note, &sent, &n.CreatedAt, &n.UpdatedAt)
	if err != nil {
		return n, err
	}
	n.SendAfter, n.SentAt = timeOf(sendAfter), timeOf(sent)
	n.Due, n.CreatedAt, n.UpdatedAt = n.Due.UTC(), n.CreatedAt.UTC(), n.UpdatedAt.UTC()
	if err := decodeJSON(data, &n.Data); err != nil {
		return n, err
	}
	if err := decodeJSON(channels, &n.Channels); err != nil {
		return n, err
	}
	return n, decodeJSON(skipped, &n.Skipped)
}

// decodeJSON reads a stored JSON value into v; empty objects and arrays
// leave v nil.
func decodeJSON[T any](s string, v *T) error {
	if s == "" || s == "{}" || s == "[]" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("decode stored notification: %w", err)
	}
	return nil
}

// encodeJSON stores v as JSON text; nil is empty.
func encodeJSON(v any, empty string) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return empty
	}
	return string(b)
}

func micro(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// CreateNotification implements notify.Store. The insert skips a conflict
// with the idempotency index, waiting for a concurrent insert of the same
// key to commit, and then reads the winner.
func (s *Store) CreateNotification(ctx context.Context, n notify.Notification) (notify.Notification, bool, error) {
	var out notify.Notification
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ts := now()
		var err error
		out, err = scanNotification(tx.QueryRow(ctx, `INSERT INTO notifications (tenant_id, contact_id, purpose, data,
				idempotency_key, channels, send_after, fingerprint, status, due, time_zone, created_at, updated_at)
			VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, 'scheduled', $9, $10, $11, $11)
			ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING `+notificationColumns,
			n.TenantID, n.ContactID, n.Purpose, encodeJSON(n.Data, "{}"), nullString(n.IdempotencyKey),
			encodeJSON(n.Channels, "[]"), nullTime(micro(n.SendAfter)), n.Fingerprint, micro(n.Due), n.TimeZone, ts))
		switch {
		case isForeignKey(err):
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		case errors.Is(err, pgx.ErrNoRows):
			out, err = scanNotification(tx.QueryRow(ctx, `SELECT `+notificationColumns+` FROM notifications
				WHERE tenant_id = $1 AND idempotency_key = $2`, n.TenantID, n.IdempotencyKey))
			return err
		case err != nil:
			return err
		}
		created = true
		return enqueueNotifyJob(ctx, tx, out.TenantID, out.ID, out.Due, ts)
	})
	if err != nil {
		return notify.Notification{}, false, err
	}
	return out, created, nil
}

// enqueueNotifyJob adds a notification's job due at due, unless an
// unfinished job has its key.
func enqueueNotifyJob(ctx context.Context, tx pgx.Tx, tenantID, id int64, due, ts time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, state, run_at, max_attempts, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $7)
		ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
		tenantID, notify.JobNotify, id, notify.JobKey(id, due), due, conversation.DeliverMaxAttempts, ts)
	return err
}

// Notification implements notify.Store.
func (s *Store) Notification(ctx context.Context, tenantID, id int64) (notify.Notification, error) {
	n, err := scanNotification(s.pool.QueryRow(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return n, notFound(err, "notification")
}

// ListNotifications implements notify.Store.
func (s *Store) ListNotifications(ctx context.Context, tenantID int64, f notify.Filter) ([]notify.Notification, error) {
	where, args := []string{"tenant_id = $1"}, []any{tenantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.ContactID != 0 {
		add("contact_id =", f.ContactID)
	}
	if f.Status != "" {
		add("status =", string(f.Status))
	}
	if f.Purpose != "" {
		add("purpose =", f.Purpose)
	}
	if f.BeforeID != 0 {
		add("id <", f.BeforeID)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.pool, scanNotification, `SELECT `+notificationColumns+` FROM notifications
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
}

// RescheduleNotification implements notify.Store.
func (s *Store) RescheduleNotification(ctx context.Context, tenantID, id int64, due time.Time, note string) (notify.Notification, error) {
	var n notify.Notification
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ts := now()
		var err error
		n, err = scanNotification(tx.QueryRow(ctx, `UPDATE notifications SET due = $1, note = $2, updated_at = $3
			WHERE id = $4 AND tenant_id = $5 AND status = 'scheduled' RETURNING `+notificationColumns,
			micro(due), note, ts, id, tenantID))
		if errors.Is(err, pgx.ErrNoRows) {
			_, err := s.notScheduled(ctx, tx, tenantID, id)
			return err
		}
		if err != nil {
			return err
		}
		return enqueueNotifyJob(ctx, tx, tenantID, id, n.Due, ts)
	})
	return n, err
}

// notScheduled explains why a notification could not change: it is not
// the tenant's, or no longer scheduled (then it returns it).
func (s *Store) notScheduled(ctx context.Context, tx pgx.Tx, tenantID, id int64) (notify.Notification, error) {
	n, err := scanNotification(tx.QueryRow(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	if err != nil {
		return n, notFound(err, "notification")
	}
	return n, conversation.Errorf(conversation.ECONFLICT, "the notification is %s, no longer scheduled", n.Status)
}

// FinishNotification implements notify.Store. The update's WHERE clause
// holds the row's lock: of two outcomes, the second finds it decided.
func (s *Store) FinishNotification(ctx context.Context, n notify.Notification) (notify.Notification, error) {
	var out notify.Notification
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = scanNotification(tx.QueryRow(ctx, `UPDATE notifications SET status = $1, channel = $2, account_id = $3,
				conversation_id = $4, message_id = $5, skipped = $6::jsonb, note = $7, sent_at = $8, updated_at = $9
			WHERE id = $10 AND tenant_id = $11 AND status = 'scheduled' RETURNING `+notificationColumns,
			string(n.Status), string(n.Channel), n.AccountID, n.ConversationID, n.MessageID, encodeJSON(n.Skipped, "[]"), n.Note,
			nullTime(micro(n.SentAt)), now(), n.ID, n.TenantID))
		if errors.Is(err, pgx.ErrNoRows) {
			out, err = s.notScheduled(ctx, tx, n.TenantID, n.ID)
		}
		return err
	})
	return out, err
}

// CountSent implements notify.Store.
func (s *Store) CountSent(ctx context.Context, tenantID, contactID int64, purpose string, since time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM notifications
		WHERE tenant_id = $1 AND contact_id = $2 AND purpose = $3 AND status = 'sent' AND sent_at > $4`,
		tenantID, contactID, purpose, micro(since)).Scan(&n)
	return n, err
}

// Policy implements notify.Store.
func (s *Store) Policy(ctx context.Context, tenantID int64) (notify.Policy, error) {
	var doc string
	if err := s.pool.QueryRow(ctx, `SELECT policy::text FROM notification_policies WHERE tenant_id = $1`, tenantID).Scan(&doc); err != nil {
		return notify.Policy{}, notFound(err, "notification policy")
	}
	var p notify.Policy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return p, fmt.Errorf("decode notification policy: %w", err)
	}
	return p, nil
}

// PutPolicy implements notify.Store.
func (s *Store) PutPolicy(ctx context.Context, tenantID int64, p notify.Policy) error {
	doc, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode notification policy: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO notification_policies (tenant_id, policy, updated_at) VALUES ($1, $2::jsonb, $3)
		ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
		tenantID, string(doc), now())
	if isForeignKey(err) {
		return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return err
}

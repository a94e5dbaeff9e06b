package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

var _ notify.Store = (*Store)(nil)

const notificationColumns = `id, tenant_id, contact_id, purpose, data, coalesce(idempotency_key, ''), channels, send_after,
	fingerprint, status, due, time_zone, channel, account_id, conversation_id, message_id, skipped, note, sent_at, created_at, updated_at`

func scanNotification(row scanner) (notify.Notification, error) {
	var n notify.Notification
	var data, channels, skipped string
	var sendAfter, due, sent, created, updated int64
	err := row.Scan(&n.ID, &n.TenantID, &n.ContactID, &n.Purpose, &data, &n.IdempotencyKey, &channels, &sendAfter,
		&n.Fingerprint, &n.Status, &due, &n.TimeZone, &n.Channel, &n.AccountID, &n.ConversationID, &n.MessageID,
		&skipped, &n.Note, &sent, &created, &updated)
	if err != nil {
		return n, err
	}
	n.SendAfter, n.Due, n.SentAt = fromMicros(sendAfter), fromMicros(due), fromMicros(sent)
	n.CreatedAt, n.UpdatedAt = fromMicros(created), fromMicros(updated)
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

// encodeJSON stores v as JSON; nil is empty.
func encodeJSON(v any, empty string) string {
	b, err := json.Marshal(v)
	if err != nil || string(b) == "null" {
		return empty
	}
	return string(b)
}

// CreateNotification implements notify.Store. Writes are serialized, so
// the lookup of the idempotency key and the insert see no other in
// between.
func (s *Store) CreateNotification(ctx context.Context, n notify.Notification) (notify.Notification, bool, error) {
	created := false
	err := s.write(ctx, func(tx *wtx) error {
		if n.IdempotencyKey != "" {
			old, err := scanNotification(tx.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications
				WHERE tenant_id = ? AND idempotency_key = ?`, n.TenantID, n.IdempotencyKey))
			if err == nil {
				n = old
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		ts := now()
		stored, err := scanNotification(tx.QueryRowContext(ctx, `INSERT INTO notifications (tenant_id, contact_id, purpose, data,
				idempotency_key, channels, send_after, fingerprint, status, due, time_zone, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?) RETURNING `+notificationColumns,
			n.TenantID, n.ContactID, n.Purpose, encodeJSON(n.Data, "{}"), nullString(n.IdempotencyKey),
			encodeJSON(n.Channels, "[]"), micros(n.SendAfter), n.Fingerprint, micros(n.Due), n.TimeZone, micros(ts), micros(ts)))
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		if err != nil {
			return err
		}
		if err := enqueueNotifyJob(ctx, tx, stored.TenantID, stored.ID, stored.Due, ts); err != nil {
			return err
		}
		n, created = stored, true
		return nil
	})
	if err != nil {
		return notify.Notification{}, false, err
	}
	return n, created, nil
}

// enqueueNotifyJob adds a notification's job due at due, unless an
// unfinished job has its key.
func enqueueNotifyJob(ctx context.Context, tx *wtx, tenantID, id int64, due, ts time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, state, run_at, max_attempts, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)
		ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
		tenantID, notify.JobNotify, id, notify.JobKey(id, due), micros(due), conversation.DeliverMaxAttempts, micros(ts), micros(ts))
	return err
}

// Notification implements notify.Store.
func (s *Store) Notification(ctx context.Context, tenantID, id int64) (notify.Notification, error) {
	n, err := scanNotification(s.rd.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return n, notFound(err, "notification")
}

// ListNotifications implements notify.Store.
func (s *Store) ListNotifications(ctx context.Context, tenantID int64, f notify.Filter) ([]notify.Notification, error) {
	where, args := []string{"tenant_id = ?"}, []any{tenantID}
	if f.ContactID != 0 {
		where, args = append(where, "contact_id = ?"), append(args, f.ContactID)
	}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, f.Status)
	}
	if f.Purpose != "" {
		where, args = append(where, "purpose = ?"), append(args, f.Purpose)
	}
	if f.BeforeID != 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.rd, scanNotification, `SELECT `+notificationColumns+` FROM notifications
		WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
}

// RescheduleNotification implements notify.Store.
func (s *Store) RescheduleNotification(ctx context.Context, tenantID, id int64, due time.Time, note string) (notify.Notification, error) {
	var n notify.Notification
	err := s.write(ctx, func(tx *wtx) error {
		ts := now()
		var err error
		n, err = scanNotification(tx.QueryRowContext(ctx, `UPDATE notifications SET due = ?, note = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? AND status = 'scheduled' RETURNING `+notificationColumns,
			micros(due), note, micros(ts), id, tenantID))
		if errors.Is(err, sql.ErrNoRows) {
			return notScheduled(ctx, tx, tenantID, id)
		}
		if err != nil {
			return err
		}
		return enqueueNotifyJob(ctx, tx, tenantID, id, n.Due, ts)
	})
	return n, err
}

// notScheduled explains why a notification could not change: it is not
// the tenant's, or no longer scheduled.
func notScheduled(ctx context.Context, tx *wtx, tenantID, id int64) error {
	var status string
	if err := tx.QueryRowContext(ctx, `SELECT status FROM notifications WHERE id = ? AND tenant_id = ?`, id, tenantID).Scan(&status); err != nil {
		return notFound(err, "notification")
	}
	return conversation.Errorf(conversation.ECONFLICT, "the notification is %s, no longer scheduled", status)
}

// FinishNotification implements notify.Store.
func (s *Store) FinishNotification(ctx context.Context, n notify.Notification) (notify.Notification, error) {
	var out notify.Notification
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanNotification(tx.QueryRowContext(ctx, `UPDATE notifications SET status = ?, channel = ?, account_id = ?,
				conversation_id = ?, message_id = ?, skipped = ?, note = ?, sent_at = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? AND status = 'scheduled' RETURNING `+notificationColumns,
			n.Status, n.Channel, n.AccountID, n.ConversationID, n.MessageID, encodeJSON(n.Skipped, "[]"), n.Note,
			micros(n.SentAt.Truncate(time.Microsecond)), micros(now()), n.ID, n.TenantID))
		if errors.Is(err, sql.ErrNoRows) {
			if err := notScheduled(ctx, tx, n.TenantID, n.ID); !conversation.IsConflict(err) {
				return err
			}
			out, err = scanNotification(tx.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE id = ?`, n.ID))
			if err != nil {
				return err
			}
			return conversation.Errorf(conversation.ECONFLICT, "the notification is %s, no longer scheduled", out.Status)
		}
		return err
	})
	return out, err
}

// CountSent implements notify.Store.
func (s *Store) CountSent(ctx context.Context, tenantID, contactID int64, purpose string, since time.Time) (int, error) {
	var n int
	err := s.rd.QueryRowContext(ctx, `SELECT count(*) FROM notifications
		WHERE tenant_id = ? AND contact_id = ? AND purpose = ? AND status = 'sent' AND sent_at > ?`,
		tenantID, contactID, purpose, micros(since)).Scan(&n)
	return n, err
}

// Policy implements notify.Store.
func (s *Store) Policy(ctx context.Context, tenantID int64) (notify.Policy, error) {
	var doc string
	if err := s.rd.QueryRowContext(ctx, `SELECT policy FROM notification_policies WHERE tenant_id = ?`, tenantID).Scan(&doc); err != nil {
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
	return s.write(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO notification_policies (tenant_id, policy, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
			tenantID, string(doc), micros(now()))
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		return err
	})
}

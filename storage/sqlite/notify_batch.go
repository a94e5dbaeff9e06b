package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

// CreateNotifications implements notify.Store: one write transaction, in
// which writes are serialized, looks up and inserts each notification and
// then adds the batch's job.
func (s *Store) CreateNotifications(ctx context.Context, tenantID int64, ns []notify.Notification) ([]notify.Created, error) {
	out := make([]notify.Created, len(ns))
	if len(ns) == 0 {
		return out, nil
	}
	err := s.write(ctx, func(tx *wtx) error {
		ts := now()
		var created []int64
		var earliest time.Time
		for i, n := range ns {
			if n.TenantID != tenantID {
				return conversation.Errorf(conversation.EINVALID, "notification %d of the batch is not tenant %d's", i, tenantID)
			}
			if n.IdempotencyKey != "" {
				old, err := scanNotification(tx.QueryRowContext(ctx, `SELECT `+notificationColumns+` FROM notifications
					WHERE tenant_id = ? AND idempotency_key = ?`, tenantID, n.IdempotencyKey))
				if err == nil {
					out[i] = notify.Created{Notification: old}
					continue
				}
				if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			stored, err := scanNotification(tx.QueryRowContext(ctx, `INSERT INTO notifications (tenant_id, contact_id, purpose, data,
					idempotency_key, channels, send_after, fingerprint, status, due, time_zone, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?) RETURNING `+notificationColumns,
				tenantID, n.ContactID, n.Purpose, encodeJSON(n.Data, "{}"), nullString(n.IdempotencyKey),
				encodeJSON(n.Channels, "[]"), micros(n.SendAfter), n.Fingerprint, micros(n.Due), n.TimeZone, micros(ts), micros(ts)))
			if isForeignKey(err) {
				return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
			}
			if err != nil {
				return err
			}
			out[i] = notify.Created{Notification: stored, Created: true}
			created = append(created, stored.ID)
			if earliest.IsZero() || stored.Due.Before(earliest) {
				earliest = stored.Due
			}
		}
		if len(created) == 0 {
			return nil
		}
		payload, err := json.Marshal(created)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)
			ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
			tenantID, notify.JobNotifyBatch, created[0], notify.BatchJobKey(created[0]), payload, micros(earliest),
			conversation.DeliverMaxAttempts, micros(ts), micros(ts))
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Notifications implements notify.Store.
func (s *Store) Notifications(ctx context.Context, tenantID int64, ids []int64) ([]notify.Notification, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return queryAll(ctx, s.rd, scanNotification, `SELECT `+notificationColumns+` FROM notifications
		WHERE tenant_id = ? AND id IN `+inJSON, tenantID, jsonArray(ids))
}

// FinishNotifications implements notify.Store.
func (s *Store) FinishNotifications(ctx context.Context, tenantID int64, ns []notify.Notification) ([]notify.Notification, error) {
	var out []notify.Notification
	err := s.write(ctx, func(tx *wtx) error {
		out = out[:0]
		ts := micros(now())
		for _, n := range ns {
			stored, err := scanNotification(tx.QueryRowContext(ctx, `UPDATE notifications SET status = ?, channel = ?, account_id = ?,
					conversation_id = ?, message_id = ?, skipped = ?, note = ?, sent_at = ?, updated_at = ?
				WHERE id = ? AND tenant_id = ? AND status = 'scheduled' RETURNING `+notificationColumns,
				n.Status, n.Channel, n.AccountID, n.ConversationID, n.MessageID, encodeJSON(n.Skipped, "[]"), n.Note,
				micros(n.SentAt.Truncate(time.Microsecond)), ts, n.ID, tenantID))
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, stored)
		}
		return nil
	})
	return out, err
}

// ContactsByID implements notify.Store.
func (s *Store) ContactsByID(ctx context.Context, tenantID int64, ids []int64) ([]conversation.Contact, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cs, err := queryAll(ctx, s.rd, scanContact, `SELECT `+contactColumns+` FROM contacts
		WHERE tenant_id = ? AND id IN `+inJSON, tenantID, jsonArray(ids))
	if err != nil {
		return nil, err
	}
	return withIdentities(ctx, s.rd, cs)
}

// LastInbounds implements notify.Store.
func (s *Store) LastInbounds(ctx context.Context, tenantID int64, contactIDs []int64) (map[notify.ContactAccount]time.Time, error) {
	out := map[notify.ContactAccount]time.Time{}
	if len(contactIDs) == 0 {
		return out, nil
	}
	rows, err := s.rd.QueryContext(ctx, `SELECT contact_id, channel_account_id, max(created_at) FROM messages
		WHERE tenant_id = ? AND direction = 'in' AND contact_id IN `+inJSON+`
		GROUP BY contact_id, channel_account_id`, tenantID, jsonArray(contactIDs))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k notify.ContactAccount
		var at int64
		if err := rows.Scan(&k.ContactID, &k.AccountID, &at); err != nil {
			return nil, err
		}
		out[k] = fromMicros(at)
	}
	return out, rows.Err()
}

// OptOutsOf implements notify.Store: the latest change of each account,
// address and purpose decides, as in OptedOutOf.
func (s *Store) OptOutsOf(ctx context.Context, tenantID int64, addresses []string, purpose string) ([]notify.OptOut, error) {
	if len(addresses) == 0 {
		return nil, nil
	}
	args := []any{tenantID, purpose, jsonArray(addresses)}
	rows, err := s.rd.QueryContext(ctx, `SELECT c.account_id, c.address, c.purpose FROM consent_changes c
		WHERE c.tenant_id = ? AND c.purpose IN ('', ?) AND c.address IN `+inJSON+`
			AND c.id = (SELECT max(id) FROM consent_changes l
				WHERE l.account_id = c.account_id AND l.address = c.address AND l.purpose = c.purpose AND l.tenant_id = c.tenant_id)
			AND c.opted_out`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []notify.OptOut
	for rows.Next() {
		var o notify.OptOut
		if err := rows.Scan(&o.AccountID, &o.Address, &o.Purpose); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// OpenConversations implements notify.Store, as OpenConversation for each
// key in one write transaction.
func (s *Store) OpenConversations(ctx context.Context, tenantID int64, keys []notify.ContactAccount) ([]conversation.Conversation, error) {
	out := make([]conversation.Conversation, len(keys))
	err := s.write(ctx, func(tx *wtx) error {
		for i, k := range keys {
			var kind conversation.ChannelKind
			if err := tx.QueryRowContext(ctx, `SELECT kind FROM channel_accounts WHERE id = ? AND tenant_id = ?`, k.AccountID, tenantID).Scan(&kind); err != nil {
				return notFound(err, "channel account")
			}
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM contacts WHERE id = ? AND tenant_id = ?`, k.ContactID, tenantID).Scan(&one); err != nil {
				return notFound(err, "contact")
			}
			c, err := scanConversation(tx.QueryRowContext(ctx, `SELECT `+conversationColumns+` FROM conversations
				WHERE tenant_id = ? AND contact_id = ? AND state <> 'closed'`, tenantID, k.ContactID))
			if errors.Is(err, sql.ErrNoRows) {
				ts := micros(now())
				c, err = scanConversation(tx.QueryRowContext(ctx, `INSERT INTO conversations (tenant_id, contact_id, state, channel, channel_account_id,
						last_message_at, opened_at, updated_at)
					VALUES (?, ?, 'bot', ?, ?, ?, ?, ?) RETURNING `+conversationColumns,
					tenantID, k.ContactID, kind, k.AccountID, ts, ts, ts))
			}
			if err != nil {
				return err
			}
			out[i] = c
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/notify"
)

// CreateNotifications implements notify.Store. The ids are taken from the
// sequence first, so that one multi-row insert can be matched back to the
// notifications; the insert skips a conflict with the idempotency index
// (waiting for a concurrent insert of the same key to commit) and the
// winners are read after it.
func (s *Store) CreateNotifications(ctx context.Context, tenantID int64, ns []notify.Notification) ([]notify.Created, error) {
	out := make([]notify.Created, len(ns))
	if len(ns) == 0 {
		return out, nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT nextval('notifications_id_seq') FROM generate_series(1, $1)`, len(ns))
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		first := map[string]int{} // idempotency key -> first index in ns
		cols := notificationRows{}
		for i, n := range ns {
			if n.TenantID != tenantID {
				return conversation.Errorf(conversation.EINVALID, "notification %d of the batch is not tenant %d's", i, tenantID)
			}
			if n.IdempotencyKey != "" {
				if _, seen := first[n.IdempotencyKey]; seen {
					continue
				}
				first[n.IdempotencyKey] = i
			}
			cols.add(ids[i], n)
		}
		ts := now()
		byID := map[int64]notify.Notification{}
		inserted, err := queryAll(ctx, tx, scanNotification, `INSERT INTO notifications (id, tenant_id, contact_id, purpose, data,
				idempotency_key, channels, send_after, fingerprint, status, due, time_zone, created_at, updated_at)
			SELECT u.x_id, $1, u.x_contact, u.x_purpose, u.x_data::jsonb, nullif(u.x_key, ''), u.x_channels::jsonb, u.x_send_after,
				u.x_fingerprint, 'scheduled', u.x_due, u.x_tz, $2, $2
			FROM unnest($3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[],
				$10::text[], $11::timestamptz[], $12::text[])
				AS u(x_id, x_contact, x_purpose, x_data, x_key, x_channels, x_send_after, x_fingerprint, x_due, x_tz)
			ORDER BY u.x_id
			ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING `+notificationColumns,
			tenantID, ts, cols.id, cols.contact, cols.purpose, cols.data, cols.key, cols.channels, cols.sendAfter,
			cols.fingerprint, cols.due, cols.tz)
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		if err != nil {
			return err
		}
		var created []int64
		earliest := time.Time{}
		for _, n := range inserted {
			byID[n.ID] = n
			created = append(created, n.ID)
			if earliest.IsZero() || n.Due.Before(earliest) {
				earliest = n.Due
			}
		}
		byKey := map[string]notify.Notification{}
		for _, n := range inserted {
			if n.IdempotencyKey != "" {
				byKey[n.IdempotencyKey] = n
			}
		}
		if len(inserted) < len(cols.id) {
			var keys []string
			for k := range first {
				if _, ok := byKey[k]; !ok {
					keys = append(keys, k)
				}
			}
			old, err := queryAll(ctx, tx, scanNotification, `SELECT `+notificationColumns+` FROM notifications
				WHERE tenant_id = $1 AND idempotency_key = ANY($2)`, tenantID, keys)
			if err != nil {
				return err
			}
			for _, n := range old {
				byKey[n.IdempotencyKey] = n
			}
		}
		for i, n := range ns {
			if stored, ok := byID[ids[i]]; ok {
				out[i] = notify.Created{Notification: stored, Created: true}
				continue
			}
			stored, ok := byKey[n.IdempotencyKey]
			if !ok {
				return fmt.Errorf("notification %d of the batch was neither stored nor found", i)
			}
			out[i] = notify.Created{Notification: stored}
		}
		if len(created) == 0 {
			return nil
		}
		return enqueueBatchJob(ctx, tx, tenantID, created, earliest, ts)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// notificationRows are notifications as columns, for unnest.
type notificationRows struct {
	id, contact                  []int64
	purpose, data, key, channels []string
	fingerprint, tz              []string
	sendAfter, due               []*time.Time
}

func (r *notificationRows) add(id int64, n notify.Notification) {
	r.id = append(r.id, id)
	r.contact = append(r.contact, n.ContactID)
	r.purpose = append(r.purpose, n.Purpose)
	r.data = append(r.data, encodeJSON(n.Data, "{}"))
	r.key = append(r.key, n.IdempotencyKey)
	r.channels = append(r.channels, encodeJSON(n.Channels, "[]"))
	r.sendAfter = append(r.sendAfter, timePtr(n.SendAfter))
	r.fingerprint = append(r.fingerprint, n.Fingerprint)
	r.due = append(r.due, timePtr(n.Due))
	r.tz = append(r.tz, n.TimeZone)
}

// timePtr is t to the microsecond, nil when zero.
func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	m := micro(t)
	return &m
}

// enqueueBatchJob adds the job of a batch of notifications.
func enqueueBatchJob(ctx context.Context, tx pgx.Tx, tenantID int64, ids []int64, due, ts time.Time) error {
	payload, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8)
		ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
		tenantID, notify.JobNotifyBatch, ids[0], notify.BatchJobKey(ids[0]), payload, micro(due), conversation.DeliverMaxAttempts, ts)
	return err
}

// Notifications implements notify.Store.
func (s *Store) Notifications(ctx context.Context, tenantID int64, ids []int64) ([]notify.Notification, error) {
	return queryAll(ctx, s.pool, scanNotification, `SELECT `+notificationColumns+` FROM notifications
		WHERE tenant_id = $1 AND id = ANY($2)`, tenantID, ids)
}

// FinishNotifications implements notify.Store: one UPDATE of all, whose
// WHERE clause holds each row's lock, as FinishNotification's does.
func (s *Store) FinishNotifications(ctx context.Context, tenantID int64, ns []notify.Notification) ([]notify.Notification, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	var (
		ids, accounts, convs, msgs        []int64
		statuses, channels, skipped, note []string
		sent                              []*time.Time
	)
	for _, n := range ns {
		ids, accounts, convs, msgs = append(ids, n.ID), append(accounts, n.AccountID), append(convs, n.ConversationID), append(msgs, n.MessageID)
		statuses, channels = append(statuses, string(n.Status)), append(channels, string(n.Channel))
		skipped, note = append(skipped, encodeJSON(n.Skipped, "[]")), append(note, n.Note)
		sent = append(sent, timePtr(n.SentAt))
	}
	return queryAll(ctx, s.pool, scanNotification, `UPDATE notifications SET status = u.x_status, channel = u.x_channel,
			account_id = u.x_account, conversation_id = u.x_conv, message_id = u.x_msg, skipped = u.x_skipped::jsonb,
			note = u.x_note, sent_at = u.x_sent, updated_at = $2
		FROM unnest($3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::timestamptz[])
			AS u(x_id, x_status, x_channel, x_account, x_conv, x_msg, x_skipped, x_note, x_sent)
		WHERE notifications.id = u.x_id AND notifications.tenant_id = $1 AND notifications.status = 'scheduled'
		RETURNING `+notificationColumns,
		tenantID, now(), ids, statuses, channels, accounts, convs, msgs, skipped, note, sent)
}

// ContactsByID implements notify.Store.
func (s *Store) ContactsByID(ctx context.Context, tenantID int64, ids []int64) ([]conversation.Contact, error) {
	cs, err := queryAll(ctx, s.pool, scanContact, `SELECT `+contactColumns+` FROM contacts WHERE tenant_id = $1 AND id = ANY($2)`, tenantID, ids)
	if err != nil {
		return nil, err
	}
	return withIdentities(ctx, s.pool, cs)
}

// LastInbounds implements notify.Store.
func (s *Store) LastInbounds(ctx context.Context, tenantID int64, contactIDs []int64) (map[notify.ContactAccount]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT contact_id, channel_account_id, max(created_at) FROM messages
		WHERE tenant_id = $1 AND contact_id = ANY($2) AND direction = 'in' GROUP BY contact_id, channel_account_id`, tenantID, contactIDs)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[notify.ContactAccount]time.Time{}
	for rows.Next() {
		var k notify.ContactAccount
		var at time.Time
		if err := rows.Scan(&k.ContactID, &k.AccountID, &at); err != nil {
			return nil, err
		}
		out[k] = at.UTC()
	}
	return out, rows.Err()
}

// OptOutsOf implements notify.Store: the latest change of each account,
// address and purpose decides, as in OptedOutOf.
func (s *Store) OptOutsOf(ctx context.Context, tenantID int64, addresses []string, purpose string) ([]notify.OptOut, error) {
	rows, err := s.pool.Query(ctx, `SELECT account_id, address, purpose FROM (
			SELECT DISTINCT ON (account_id, address, purpose) account_id, address, purpose, opted_out FROM consent_changes
			WHERE tenant_id = $1 AND address = ANY($2) AND purpose IN ('', $3)
			ORDER BY account_id, address, purpose, id DESC) latest
		WHERE opted_out`, tenantID, addresses, purpose)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (notify.OptOut, error) {
		var o notify.OptOut
		return o, row.Scan(&o.AccountID, &o.Address, &o.Purpose)
	})
}

// OpenConversations implements notify.Store: the open conversations are
// read in one query, the missing ones inserted in one (skipping a conflict
// with the open-conversation index, as OpenConversation does), and the
// lookup repeated for the losers of a race.
func (s *Store) OpenConversations(ctx context.Context, tenantID int64, keys []notify.ContactAccount) ([]conversation.Conversation, error) {
	out := make([]conversation.Conversation, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	contacts, accounts := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		contacts[i], accounts[i] = k.ContactID, k.AccountID
	}
	var known int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM channel_accounts WHERE tenant_id = $1 AND id = ANY($2)`,
		tenantID, distinct(accounts)).Scan(&known); err != nil {
		return nil, err
	}
	if known != len(distinct(accounts)) {
		return nil, conversation.Errorf(conversation.ENOTFOUND, "channel account not found")
	}
	for range 5 {
		open, err := queryAll(ctx, s.pool, scanConversation, `SELECT `+conversationColumns+` FROM conversations
			WHERE tenant_id = $1 AND contact_id = ANY($2) AND state <> 'closed'`, tenantID, distinct(contacts))
		if err != nil {
			return nil, err
		}
		byContact := make(map[int64]conversation.Conversation, len(open))
		for _, c := range open {
			byContact[c.ContactID] = c
		}
		var missC, missA []int64
		for i, k := range keys {
			c, ok := byContact[k.ContactID]
			if ok {
				out[i] = c
				continue
			}
			missC, missA = append(missC, k.ContactID), append(missA, k.AccountID)
		}
		if len(missC) == 0 {
			return out, nil
		}
		// One conversation per contact: the first key of a contact decides
		// its account, as one OpenConversation after another would.
		_, err = s.pool.Exec(ctx, `INSERT INTO conversations (tenant_id, contact_id, state, channel, channel_account_id,
				last_message_at, opened_at, updated_at)
			SELECT DISTINCT ON (c.id) $1, c.id, 'bot', a.kind, a.id, $2, $2, $2
			FROM unnest($3::bigint[], $4::bigint[]) WITH ORDINALITY AS u(x_contact, x_account, x_ord)
			JOIN contacts c ON c.id = u.x_contact AND c.tenant_id = $1
			JOIN channel_accounts a ON a.id = u.x_account AND a.tenant_id = $1
			ORDER BY c.id, u.x_ord
			ON CONFLICT (tenant_id, contact_id) WHERE state <> 'closed' DO NOTHING`, tenantID, now(), missC, missA)
		if err != nil {
			return nil, err
		}
		var found int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM contacts WHERE tenant_id = $1 AND id = ANY($2)`,
			tenantID, distinct(missC)).Scan(&found); err != nil {
			return nil, err
		}
		if found != len(distinct(missC)) {
			return nil, conversation.Errorf(conversation.ENOTFOUND, "contact not found")
		}
	}
	return nil, conversation.Errorf(conversation.ECONFLICT, "the contacts' conversations kept changing; try again")
}

// distinct returns the distinct ids of s.
func distinct(s []int64) []int64 {
	seen := make(map[int64]bool, len(s))
	out := make([]int64, 0, len(s))
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

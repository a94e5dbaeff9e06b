package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"conversa/conversation"
)

// Ingest implements conversation.Store. The batch is one IMMEDIATE
// transaction, so it pays for one fsync; each request runs in a savepoint
// so that a failing one leaves nothing behind and the others commit.
func (s *Store) Ingest(ctx context.Context, reqs []conversation.IngestRequest) ([]conversation.IngestResult, error) {
	results := make([]conversation.IngestResult, len(reqs))
	err := s.write(ctx, func(tx *wtx) error {
		for i, req := range reqs {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT ingest"); err != nil {
				return err
			}
			res, err := ingestOne(ctx, tx, req)
			if err != nil {
				if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO ingest"); rerr != nil {
					return errors.Join(err, rerr)
				}
				res = conversation.IngestResult{Err: err}
			}
			if _, err := tx.ExecContext(ctx, "RELEASE ingest"); err != nil {
				return err
			}
			results[i] = res
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// identityFamily returns the channels whose identities with the same
// address name the same contact as an identity on ch.
func identityFamily(ch conversation.ChannelKind) []any {
	if ch.PhoneAddressed() {
		return []any{conversation.ChannelWhatsApp, conversation.ChannelSMS, conversation.ChannelVoice}
	}
	return []any{ch}
}

func ingestOne(ctx context.Context, tx *wtx, req conversation.IngestRequest) (conversation.IngestResult, error) {
	in := req.Inbound
	var res conversation.IngestResult

	var dup int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM messages WHERE channel_account_id = ? AND provider_id = ?`, req.AccountID, in.ProviderID).Scan(&dup)
	if err == nil {
		res.Duplicate = true
		res.Message.ID = dup
		return res, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return res, err
	}

	ts := now()
	at := in.ReceivedAt.UTC().Truncate(time.Microsecond)
	if at.IsZero() {
		at = ts
	}

	family := identityFamily(in.Channel)
	var contactID int64
	var found conversation.ChannelKind
	err = tx.QueryRowContext(ctx, `SELECT contact_id, channel FROM identities
		WHERE tenant_id = ? AND address = ? AND channel IN (`+placeholders(len(family))+`)
		ORDER BY channel = ? DESC, created_at LIMIT 1`,
		append(append([]any{req.TenantID, in.From}, family...), in.Channel)...).Scan(&contactID, &found)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if err := tx.QueryRowContext(ctx, `INSERT INTO contacts (tenant_id, name, language, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, req.TenantID, in.FromName, in.Language, micros(ts), micros(ts)).Scan(&contactID); err != nil {
			return res, err
		}
		res.NewContact = true
	case err != nil:
		return res, err
	}
	if found != in.Channel {
		if _, err := tx.ExecContext(ctx, `INSERT INTO identities (tenant_id, channel, address, contact_id, created_at) VALUES (?, ?, ?, ?, ?)`,
			req.TenantID, in.Channel, in.From, contactID, micros(ts)); err != nil {
			return res, err
		}
	}

	var convID int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM conversations WHERE tenant_id = ? AND contact_id = ? AND state <> 'closed'`, req.TenantID, contactID).Scan(&convID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if err := tx.QueryRowContext(ctx, `INSERT INTO conversations (tenant_id, contact_id, state, channel, channel_account_id,
				last_message_at, opened_at, updated_at)
			VALUES (?, ?, 'bot', ?, ?, ?, ?, ?) RETURNING id`,
			req.TenantID, contactID, in.Channel, req.AccountID, micros(at), micros(ts), micros(ts)).Scan(&convID); err != nil {
			return res, err
		}
		res.NewConversation = true
	case err != nil:
		return res, err
	}
	res.Conversation, err = scanConversation(tx.QueryRowContext(ctx, `UPDATE conversations
		SET last_seq = last_seq + 1, last_message_at = max(last_message_at, ?), channel = ?, channel_account_id = ?, updated_at = ?
		WHERE id = ? RETURNING `+conversationColumns,
		micros(at), in.Channel, req.AccountID, micros(ts), convID))
	if err != nil {
		return res, err
	}

	parts, err := encodeParts(in.Parts)
	if err != nil {
		return res, err
	}
	res.Message, err = scanMessage(tx.QueryRowContext(ctx, `INSERT INTO messages (tenant_id, conversation_id, contact_id, seq, direction,
			author_kind, author_name, channel, channel_account_id, parts, body, provider_id, status, created_at, updated_at, meta)
		VALUES (?, ?, ?, ?, 'in', 'contact', ?, ?, ?, ?, ?, ?, 'received', ?, ?, ?) RETURNING `+messageColumns,
		req.TenantID, convID, contactID, res.Conversation.LastSeq, in.FromName, in.Channel, req.AccountID,
		parts, conversation.PartsText(in.Parts), in.ProviderID, micros(at), micros(ts), encodeMeta(in.Meta)))
	if err != nil {
		return res, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, state, run_at, max_attempts, created_at, updated_at)
		VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)`,
		req.TenantID, conversation.JobRoute, res.Message.ID, micros(ts), conversation.RouteMaxAttempts, micros(ts), micros(ts))
	return res, err
}

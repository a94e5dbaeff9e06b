package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"conversa/conversation"
)

const messageColumns = `id, tenant_id, conversation_id, contact_id, seq, direction, author_kind, author_id, author_name,
	channel, channel_account_id, parts, coalesce(provider_id, ''), coalesce(idempotency_key, ''), status,
	failure_code, failure_message, send_at, created_at, updated_at, analysis, meta`

func scanMessage(row scanner) (conversation.Message, error) {
	var m conversation.Message
	var parts, failCode, failMsg string
	var analysis, meta sql.NullString
	var sendAt, created, updated int64
	err := row.Scan(&m.ID, &m.TenantID, &m.ConversationID, &m.ContactID, &m.Seq, &m.Direction, &m.Author.Kind, &m.Author.ID, &m.Author.Name,
		&m.Channel, &m.ChannelAccountID, &parts, &m.ProviderID, &m.IdempotencyKey, &m.Status,
		&failCode, &failMsg, &sendAt, &created, &updated, &analysis, &meta)
	if err != nil {
		return m, err
	}
	if meta.Valid {
		if err := json.Unmarshal([]byte(meta.String), &m.Meta); err != nil {
			return m, fmt.Errorf("decode message meta: %w", err)
		}
	}
	if failCode != "" || failMsg != "" {
		m.Failure = &conversation.Failure{Code: failCode, Message: failMsg}
	}
	m.SendAt, m.CreatedAt, m.UpdatedAt = fromMicros(sendAt), fromMicros(created), fromMicros(updated)
	if analysis.Valid {
		m.Analysis = new(conversation.Analysis)
		if err := json.Unmarshal([]byte(analysis.String), m.Analysis); err != nil {
			return m, fmt.Errorf("decode message analysis: %w", err)
		}
	}
	return m, json.Unmarshal([]byte(parts), &m.Parts)
}

// encodeMeta stores no meta as NULL.
func encodeMeta(m map[string]string) sql.NullString {
	if len(m) == 0 {
		return sql.NullString{}
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return sql.NullString{String: string(b), Valid: true}
}

func encodeParts(parts []conversation.Part) (string, error) {
	b, err := json.Marshal(parts)
	if err != nil {
		return "", fmt.Errorf("encode message parts: %w", err)
	}
	return string(b), nil
}

// Message implements conversation.Store.
func (s *Store) Message(ctx context.Context, tenantID, id int64) (conversation.Message, error) {
	m, err := scanMessage(s.rd.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return m, notFound(err, "message")
}

// ListMessages implements conversation.Store.
func (s *Store) ListMessages(ctx context.Context, tenantID int64, f conversation.MessageFilter) ([]conversation.Message, error) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	for _, c := range []struct {
		col string
		v   int64
	}{{"conversation_id", f.ConversationID}, {"contact_id", f.ContactID}, {"channel_account_id", f.AccountID}} {
		if c.v != 0 {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if f.After != nil {
		where = append(where, "(conversation_id > ? OR (conversation_id = ? AND seq > ?))")
		args = append(args, f.After.ConversationID, f.After.ConversationID, f.After.Seq)
	}
	if f.Before != nil {
		where = append(where, "(conversation_id < ? OR (conversation_id = ? AND seq < ?))")
		args = append(args, f.Before.ConversationID, f.Before.ConversationID, f.Before.Seq)
	}
	if f.Delivered {
		where = append(where, "NOT (direction = 'out' AND status IN ('queued', 'failed'))")
	}
	order := "ASC"
	if f.Newest {
		order = "DESC"
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	ms, err := queryAll(ctx, s.rd, scanMessage, `SELECT `+messageColumns+` FROM messages WHERE `+strings.Join(where, " AND ")+
		` ORDER BY conversation_id `+order+`, seq `+order+` LIMIT ?`, args...)
	if f.Newest {
		slices.Reverse(ms)
	}
	return ms, err
}

// SearchMessages implements conversation.Store. Each word of the query
// matches words it is a prefix of.
func (s *Store) SearchMessages(ctx context.Context, tenantID int64, f conversation.SearchFilter) ([]conversation.Message, error) {
	words := searchWords(f.Query)
	if len(words) == 0 {
		return nil, conversation.FieldError("q", "the search has no words")
	}
	terms := make([]string, len(words))
	for i, w := range words {
		terms[i] = `"` + w + `"*`
	}
	where := "tenant_id = ? AND id IN (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?)"
	args := []any{tenantID, strings.Join(terms, " ")}
	if f.ConversationID != 0 {
		where += " AND conversation_id = ?"
		args = append(args, f.ConversationID)
	}
	if f.BeforeID > 0 {
		where += " AND id < ?"
		args = append(args, f.BeforeID)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.rd, scanMessage, `SELECT `+messageColumns+` FROM messages WHERE `+where+` ORDER BY id DESC LIMIT ?`, args...)
}

// searchWords splits a query into words of letters and digits, the way the
// FTS5 unicode61 tokenizer splits text, dropping everything else.
func searchWords(q string) []string {
	words := strings.FieldsFunc(q, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) > 16 {
		words = words[:16]
	}
	return words
}

// Send implements conversation.Store.
func (s *Store) Send(ctx context.Context, outs []conversation.Outbound) ([]conversation.SendResult, error) {
	results := make([]conversation.SendResult, len(outs))
	err := s.write(ctx, func(tx *wtx) error {
		for i, o := range outs {
			r, err := sendOne(ctx, tx, o)
			if err != nil {
				return err
			}
			results[i] = r
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

func sendOne(ctx context.Context, tx *wtx, o conversation.Outbound) (conversation.SendResult, error) {
	if o.IdempotencyKey != "" {
		m, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE tenant_id = ? AND idempotency_key = ?`, o.TenantID, o.IdempotencyKey))
		if err == nil {
			return conversation.SendResult{Message: m, Duplicate: true}, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return conversation.SendResult{}, err
		}
	}
	conv, err := scanConversation(tx.QueryRowContext(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = ? AND tenant_id = ?`, o.ConversationID, o.TenantID))
	if err != nil {
		return conversation.SendResult{}, notFound(err, "conversation")
	}
	if !conv.State.Open() {
		return conversation.SendResult{}, conversation.Errorf(conversation.ECONFLICT, "conversation %d is closed", conv.ID)
	}
	acctID := o.AccountID
	if acctID == 0 {
		acctID = conv.ChannelAccountID
	}
	var kind conversation.ChannelKind
	if err := tx.QueryRowContext(ctx, `SELECT kind FROM channel_accounts WHERE id = ? AND tenant_id = ?`, acctID, o.TenantID).Scan(&kind); err != nil {
		return conversation.SendResult{}, notFound(err, "channel account")
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM identities WHERE contact_id = ? AND channel = ? LIMIT 1`, conv.ContactID, kind).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return conversation.SendResult{}, conversation.FieldError("account_id", "the contact has no %s address", kind)
	} else if err != nil {
		return conversation.SendResult{}, err
	}
	parts, err := encodeParts(o.Parts)
	if err != nil {
		return conversation.SendResult{}, err
	}

	ts := now()
	var seq int64
	if err := tx.QueryRowContext(ctx, `UPDATE conversations SET last_seq = last_seq + 1, last_message_at = ?, updated_at = ?
		WHERE id = ? RETURNING last_seq`, micros(ts), micros(ts), conv.ID).Scan(&seq); err != nil {
		return conversation.SendResult{}, err
	}
	m, err := scanMessage(tx.QueryRowContext(ctx, `INSERT INTO messages (tenant_id, conversation_id, contact_id, seq, direction,
			author_kind, author_id, author_name, channel, channel_account_id, parts, body, idempotency_key, status, send_at, created_at, updated_at, meta)
		VALUES (?, ?, ?, ?, 'out', ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?) RETURNING `+messageColumns,
		o.TenantID, conv.ID, conv.ContactID, seq, o.Author.Kind, o.Author.ID, o.Author.Name, kind, acctID,
		parts, conversation.PartsText(o.Parts), nullString(o.IdempotencyKey), micros(o.SendAt), micros(ts), micros(ts), encodeMeta(o.Meta)))
	if err != nil {
		return conversation.SendResult{}, err
	}
	runAt := ts
	if o.SendAt.After(ts) {
		runAt = o.SendAt
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, state, run_at, max_attempts, created_at, updated_at)
		VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)`,
		o.TenantID, conversation.JobDeliver, m.ID, micros(runAt), conversation.DeliverMaxAttempts, micros(ts), micros(ts)); err != nil {
		return conversation.SendResult{}, err
	}
	return conversation.SendResult{Message: m}, nil
}

// UpdateMessageStatus implements conversation.Store.
func (s *Store) UpdateMessageStatus(ctx context.Context, u conversation.StatusUpdate) (conversation.Message, bool, error) {
	where := "tenant_id = ? AND id = ?"
	args := []any{u.TenantID, u.MessageID}
	if u.MessageID == 0 {
		where = "tenant_id = ? AND channel_account_id = ? AND provider_id = ?"
		args = []any{u.TenantID, u.AccountID, u.ProviderID}
	}
	from := conversation.StatusesBefore(u.Status)
	var fcode, fmsg string
	if u.Failure != nil {
		fcode, fmsg = u.Failure.Code, u.Failure.Message
	}
	var m conversation.Message
	changed := false
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		if len(from) > 0 {
			setArgs := []any{u.Status, nullString(u.SetProviderID), fcode, fmsg, micros(now())}
			fromArgs := make([]any, len(from))
			for i, st := range from {
				fromArgs[i] = st
			}
			m, err = scanMessage(tx.QueryRowContext(ctx, `UPDATE messages
				SET status = ?, provider_id = coalesce(?, provider_id), failure_code = ?, failure_message = ?, updated_at = ?
				WHERE `+where+` AND direction = 'out' AND status IN (`+placeholders(len(from))+`) RETURNING `+messageColumns,
				slices.Concat(setArgs, args, fromArgs)...))
			if err == nil {
				changed = true
				return enqueueStatusChanged(ctx, tx, m)
			}
			if isUnique(err) {
				return conversation.Errorf(conversation.ECONFLICT, "another message has provider id %q", u.SetProviderID)
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		m, err = scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages WHERE `+where, args...))
		return notFound(err, "message")
	})
	return m, changed, err
}

// AnnotateMessage implements conversation.Store. It leaves UpdatedAt alone:
// the message itself did not change.
func (s *Store) AnnotateMessage(ctx context.Context, tenantID, messageID int64, a conversation.Analysis) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode message analysis: %w", err)
	}
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE messages SET analysis = ? WHERE id = ? AND tenant_id = ?`, string(b), messageID, tenantID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return conversation.Errorf(conversation.ENOTFOUND, "message not found")
		}
		return nil
	})
}

// EditMessage implements conversation.Store.
func (s *Store) EditMessage(ctx context.Context, tenantID, accountID int64, providerID string, parts []conversation.Part, at time.Time) (conversation.Message, error) {
	enc, err := encodeParts(parts)
	if err != nil {
		return conversation.Message{}, err
	}
	var m conversation.Message
	err = s.write(ctx, func(tx *wtx) error {
		old, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM messages
			WHERE channel_account_id = ? AND provider_id = ? AND tenant_id = ? AND direction = 'in'`, accountID, providerID, tenantID))
		if err != nil {
			return notFound(err, "message")
		}
		meta := conversation.EditedMeta(old, at)
		m, err = scanMessage(tx.QueryRowContext(ctx, `UPDATE messages SET parts = ?, body = ?, meta = ?, updated_at = ?
			WHERE id = ? RETURNING `+messageColumns,
			enc, conversation.PartsText(parts), encodeMeta(meta), micros(now()), old.ID))
		return err
	})
	return m, err
}

// enqueueStatusChanged writes, in the status change's transaction, the
// job that reports it (conversation.StatusChangedJob) when the tenant has
// an enabled webhook endpoint.
func enqueueStatusChanged(ctx context.Context, tx *wtx, m conversation.Message) error {
	j, ok := conversation.StatusChangedJob(m)
	if !ok {
		return nil
	}
	ts := micros(now())
	_, err := tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
		SELECT ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?
		WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE tenant_id = ? AND NOT disabled)
		ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
		j.TenantID, j.Kind, j.Ref, j.Key, j.Payload, ts, j.MaxAttempts, ts, ts, j.TenantID)
	if err != nil {
		return fmt.Errorf("enqueue the status change of message %d: %w", m.ID, err)
	}
	return nil
}

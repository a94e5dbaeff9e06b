package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
)

const messageColumns = `id, tenant_id, conversation_id, contact_id, seq, direction, author_kind, author_id, author_name,
	channel, channel_account_id, parts, coalesce(provider_id, ''), coalesce(idempotency_key, ''), status,
	failure_code, failure_message, send_at, created_at, updated_at, analysis, meta`

func scanMessage(row pgx.Row) (conversation.Message, error) {
	var m conversation.Message
	var failCode, failMsg string
	var sendAt *time.Time
	err := row.Scan(&m.ID, &m.TenantID, &m.ConversationID, &m.ContactID, &m.Seq, &m.Direction, &m.Author.Kind, &m.Author.ID, &m.Author.Name,
		&m.Channel, &m.ChannelAccountID, &m.Parts, &m.ProviderID, &m.IdempotencyKey, &m.Status,
		&failCode, &failMsg, &sendAt, &m.CreatedAt, &m.UpdatedAt, &m.Analysis, &m.Meta)
	if failCode != "" || failMsg != "" {
		m.Failure = &conversation.Failure{Code: failCode, Message: failMsg}
	}
	m.SendAt, m.CreatedAt, m.UpdatedAt = timeOf(sendAt), m.CreatedAt.UTC(), m.UpdatedAt.UTC()
	return m, err
}

// Message implements conversation.Store.
func (s *Store) Message(ctx context.Context, tenantID, id int64) (conversation.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return m, notFound(err, "message")
}

// ListMessages implements conversation.Store.
func (s *Store) ListMessages(ctx context.Context, tenantID int64, f conversation.MessageFilter) ([]conversation.Message, error) {
	w := where{args: []any{tenantID}, conds: []string{"tenant_id = $1"}}
	if f.ConversationID != 0 {
		w.add("conversation_id = $%d", f.ConversationID)
	}
	if f.ContactID != 0 {
		w.add("contact_id = $%d", f.ContactID)
	}
	if f.AccountID != 0 {
		w.add("channel_account_id = $%d", f.AccountID)
	}
	if f.After != nil {
		w.add("(conversation_id, seq) > ($%d, $%d)", f.After.ConversationID, f.After.Seq)
	}
	if f.Before != nil {
		w.add("(conversation_id, seq) < ($%d, $%d)", f.Before.ConversationID, f.Before.Seq)
	}
	if f.Delivered {
		w.conds = append(w.conds, "NOT (direction = 'out' AND status IN ('queued', 'failed'))")
	}
	order := "ASC"
	if f.Newest {
		order = "DESC"
	}
	n := w.arg(conversation.ClampLimit(f.Limit))
	ms, err := queryAll(ctx, s.pool, scanMessage, `SELECT `+messageColumns+` FROM messages WHERE `+w.String()+
		` ORDER BY conversation_id `+order+`, seq `+order+` LIMIT `+n, w.args...)
	if f.Newest {
		slices.Reverse(ms)
	}
	return ms, err
}

// SearchMessages implements conversation.Store. Each word of the query
// matches words it is a prefix of.
func (s *Store) SearchMessages(ctx context.Context, tenantID int64, f conversation.SearchFilter) ([]conversation.Message, error) {
	words := strings.FieldsFunc(f.Query, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) == 0 {
		return nil, conversation.FieldError("q", "the search has no words")
	}
	if len(words) > 16 {
		words = words[:16]
	}
	terms := make([]string, len(words))
	for i, word := range words {
		terms[i] = word + ":*"
	}
	w := where{args: []any{tenantID, strings.Join(terms, " & ")}, conds: []string{"tenant_id = $1", "search @@ to_tsquery('simple', conversa_fold($2))"}}
	if f.ConversationID != 0 {
		w.add("conversation_id = $%d", f.ConversationID)
	}
	if f.BeforeID > 0 {
		w.add("id < $%d", f.BeforeID)
	}
	n := w.arg(conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.pool, scanMessage, `SELECT `+messageColumns+` FROM messages WHERE `+w.String()+` ORDER BY id DESC LIMIT `+n, w.args...)
}

// Send implements conversation.Store.
func (s *Store) Send(ctx context.Context, outs []conversation.Outbound) ([]conversation.SendResult, error) {
	results := make([]conversation.SendResult, len(outs))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if len(outs) > 1 && !repeatsKey(outs) {
			return sendMany(ctx, tx, outs, results)
		}
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

// insertOutbound takes the conversation's next seq and inserts an outbound
// message and its delivery job.
const insertOutbound = `
		WITH c AS (
			UPDATE conversations SET last_seq = last_seq + 1, last_message_at = $13, updated_at = $13
			WHERE id = $2 RETURNING last_seq
		), m AS (
			INSERT INTO messages (tenant_id, conversation_id, contact_id, seq, direction, author_kind, author_id, author_name,
				channel, channel_account_id, parts, body, idempotency_key, status, send_at, created_at, updated_at, meta)
			SELECT $1, $2, $3, c.last_seq, 'out', $4, $5, $6, $7, $8, $9, $10, $11, 'queued', $12, $13, $13, $17 FROM c
			RETURNING *
		), j AS (
			INSERT INTO jobs (tenant_id, kind, ref, state, run_at, max_attempts, created_at, updated_at)
			SELECT $1, $14, m.id, 'pending', $15, $16, $13, $13 FROM m
		)
		SELECT ` + messageColumns + ` FROM m`

func sendOne(ctx context.Context, tx pgx.Tx, o conversation.Outbound) (conversation.SendResult, error) {
	if o.IdempotencyKey != "" {
		m, err := scanMessage(tx.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE tenant_id = $1 AND idempotency_key = $2`, o.TenantID, o.IdempotencyKey))
		if err == nil {
			return conversation.SendResult{Message: m, Duplicate: true}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return conversation.SendResult{}, err
		}
	}
	// Lock the conversation: it orders the message and must stay open.
	conv, err := scanConversation(tx.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, o.ConversationID, o.TenantID))
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
	var hasIdentity bool
	err = tx.QueryRow(ctx, `SELECT kind, EXISTS (SELECT 1 FROM identities WHERE contact_id = $3 AND channel = a.kind)
		FROM channel_accounts a WHERE id = $1 AND tenant_id = $2`, acctID, o.TenantID, conv.ContactID).Scan(&kind, &hasIdentity)
	if err != nil {
		return conversation.SendResult{}, notFound(err, "channel account")
	}
	if !hasIdentity {
		return conversation.SendResult{}, conversation.FieldError("account_id", "the contact has no %s address", kind)
	}

	ts := now()
	runAt := ts
	if o.SendAt.After(ts) {
		runAt = o.SendAt
	}
	m, err := scanMessage(tx.QueryRow(ctx, insertOutbound,
		o.TenantID, conv.ID, conv.ContactID, o.Author.Kind, o.Author.ID, o.Author.Name, kind, acctID,
		o.Parts, conversation.PartsText(o.Parts), nullString(o.IdempotencyKey), nullTime(o.SendAt), ts,
		conversation.JobDeliver, runAt, conversation.DeliverMaxAttempts, nullMeta(o.Meta)))
	if isUnique(err) {
		// A concurrent send with the same idempotency key won.
		return conversation.SendResult{}, conversation.Errorf(conversation.ECONFLICT, "a message with idempotency key %q is being sent", o.IdempotencyKey)
	}
	if err != nil {
		return conversation.SendResult{}, err
	}
	return conversation.SendResult{Message: m}, nil
}

// UpdateMessageStatus implements conversation.Store.
func (s *Store) UpdateMessageStatus(ctx context.Context, u conversation.StatusUpdate) (conversation.Message, bool, error) {
	match, args := "tenant_id = $1 AND id = $2", []any{u.TenantID, u.MessageID}
	if u.MessageID == 0 {
		match, args = "tenant_id = $1 AND channel_account_id = $2 AND provider_id = $3", []any{u.TenantID, u.AccountID, u.ProviderID}
	}
	var fcode, fmsg string
	if u.Failure != nil {
		fcode, fmsg = u.Failure.Code, u.Failure.Message
	}
	n := len(args)
	update := fmt.Sprintf(`UPDATE messages
		SET status = $%d, provider_id = coalesce($%d, provider_id), failure_code = $%d, failure_message = $%d, updated_at = $%d
		WHERE %s AND direction = 'out' AND status = ANY($%d) RETURNING %s`,
		n+1, n+2, n+3, n+4, n+5, match, n+6, messageColumns)
	updateArgs := append(slices.Clone(args), u.Status, nullString(u.SetProviderID), fcode, fmsg, now(), conversation.StatusesBefore(u.Status))
	var m conversation.Message
	var err error
	if conversation.ReportedStatus(u.Status) {
		// The change and the job that reports it commit together.
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if m, err = scanMessage(tx.QueryRow(ctx, update, updateArgs...)); err != nil {
				return err
			}
			return enqueueStatusChanged(ctx, tx, m)
		})
	} else {
		m, err = scanMessage(s.pool.QueryRow(ctx, update, updateArgs...))
	}
	switch {
	case err == nil:
		return m, true, nil
	case isUnique(err):
		return m, false, conversation.Errorf(conversation.ECONFLICT, "another message has provider id %q", u.SetProviderID)
	case !errors.Is(err, pgx.ErrNoRows):
		return m, false, err
	}
	m, err = scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE `+match, args...))
	return m, false, notFound(err, "message")
}

// AnnotateMessage implements conversation.Store. It leaves UpdatedAt alone:
// the message itself did not change.
func (s *Store) AnnotateMessage(ctx context.Context, tenantID, messageID int64, a conversation.Analysis) error {
	tag, err := s.pool.Exec(ctx, `UPDATE messages SET analysis = $3 WHERE id = $1 AND tenant_id = $2`, messageID, tenantID, a)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "message not found")
	}
	return nil
}

// nullMeta stores no meta as NULL.
func nullMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// EditMessage implements conversation.Store.
func (s *Store) EditMessage(ctx context.Context, tenantID, accountID int64, providerID string, parts []conversation.Part, at time.Time) (conversation.Message, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return conversation.Message{}, err
	}
	defer tx.Rollback(ctx)
	old, err := scanMessage(tx.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages
		WHERE channel_account_id = $1 AND provider_id = $2 AND tenant_id = $3 AND direction = 'in' FOR UPDATE`, accountID, providerID, tenantID))
	if err != nil {
		return conversation.Message{}, notFound(err, "message")
	}
	meta := conversation.EditedMeta(old, at)
	m, err := scanMessage(tx.QueryRow(ctx, `UPDATE messages SET parts = $1, body = $2, meta = $3, updated_at = $4
		WHERE id = $5 RETURNING `+messageColumns, parts, conversation.PartsText(parts), meta, now(), old.ID))
	if err != nil {
		return conversation.Message{}, err
	}
	return m, tx.Commit(ctx)
}

// enqueueStatusChanged writes, in the status change's transaction, the
// job that reports it (conversation.StatusChangedJob) when the tenant has
// an enabled webhook endpoint.
func enqueueStatusChanged(ctx context.Context, tx pgx.Tx, m conversation.Message) error {
	j, ok := conversation.StatusChangedJob(m)
	if !ok {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
		SELECT $1, $2, $3, $4, $5, 'pending', $6, $7, $6, $6
		WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE tenant_id = $1 AND NOT disabled)
		ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
		j.TenantID, j.Kind, j.Ref, j.Key, j.Payload, now(), j.MaxAttempts)
	if err != nil {
		return fmt.Errorf("enqueue the status change of message %d: %w", m.ID, err)
	}
	return nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
)

// repeatsKey reports whether two outbound messages share an idempotency
// key: the second is then the first's duplicate, which only sendOne, one
// after the other, can tell.
func repeatsKey(outs []conversation.Outbound) bool {
	seen := make(map[string]bool, len(outs))
	for _, o := range outs {
		if o.IdempotencyKey == "" {
			continue
		}
		if seen[o.IdempotencyKey] {
			return true
		}
		seen[o.IdempotencyKey] = true
	}
	return false
}

// sendMany does what sendOne does for each of outs, with the same
// outcomes and errors, in two round trips instead of four per message: a
// pipeline that reads the messages already sent under the keys, locks the
// conversations (in id order, so that two batches cannot deadlock) and
// reads each message's account kind and whether the contact has an
// address there; then, after the checks, a pipeline of one insert per new
// message (its seq, the message and its delivery job).
func sendMany(ctx context.Context, tx pgx.Tx, outs []conversation.Outbound, results []conversation.SendResult) error {
	tenantID := outs[0].TenantID
	for _, o := range outs {
		if o.TenantID != tenantID {
			return sendEach(ctx, tx, outs, results)
		}
	}
	var keys []string
	convs, accts := make([]int64, len(outs)), make([]int64, len(outs))
	for i, o := range outs {
		if o.IdempotencyKey != "" {
			keys = append(keys, o.IdempotencyKey)
		}
		convs[i], accts[i] = o.ConversationID, o.AccountID
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT `+messageColumns+` FROM messages WHERE tenant_id = $1 AND idempotency_key = ANY($2)`, tenantID, keys)
	b.Queue(`SELECT `+conversationColumns+` FROM conversations WHERE tenant_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE`, tenantID, distinct(convs))
	b.Queue(`SELECT u.x_ord, a.id, a.kind, EXISTS (SELECT 1 FROM identities i WHERE i.contact_id = c.contact_id AND i.channel = a.kind)
		FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS u(x_conv, x_acct, x_ord)
		JOIN conversations c ON c.id = u.x_conv AND c.tenant_id = $1
		JOIN channel_accounts a ON a.id = coalesce(nullif(u.x_acct, 0), c.channel_account_id) AND a.tenant_id = $1`, tenantID, convs, accts)
	br := tx.SendBatch(ctx, b)
	sent, err := collect(br, scanMessage)
	if err != nil {
		br.Close()
		return err
	}
	open, err := collect(br, scanConversation)
	if err != nil {
		br.Close()
		return err
	}
	type target struct {
		acct        int64
		kind        conversation.ChannelKind
		hasIdentity bool
	}
	targets := make([]*target, len(outs))
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return err
	}
	for rows.Next() {
		var ord int
		var t target
		if err := rows.Scan(&ord, &t.acct, &t.kind, &t.hasIdentity); err != nil {
			rows.Close()
			br.Close()
			return err
		}
		targets[ord-1] = &t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		br.Close()
		return err
	}
	if err := br.Close(); err != nil {
		return err
	}

	byKey := make(map[string]conversation.Message, len(sent))
	for _, m := range sent {
		byKey[m.IdempotencyKey] = m
	}
	byConv := make(map[int64]conversation.Conversation, len(open))
	for _, c := range open {
		byConv[c.ID] = c
	}
	ts := now()
	ins := &pgx.Batch{}
	var fresh []int
	for i, o := range outs {
		if m, ok := byKey[o.IdempotencyKey]; ok && o.IdempotencyKey != "" {
			results[i] = conversation.SendResult{Message: m, Duplicate: true}
			continue
		}
		conv, ok := byConv[o.ConversationID]
		if !ok {
			return conversation.Errorf(conversation.ENOTFOUND, "conversation not found")
		}
		if !conv.State.Open() {
			return conversation.Errorf(conversation.ECONFLICT, "conversation %d is closed", conv.ID)
		}
		t := targets[i]
		if t == nil {
			return conversation.Errorf(conversation.ENOTFOUND, "channel account not found")
		}
		if !t.hasIdentity {
			return conversation.FieldError("account_id", "the contact has no %s address", t.kind)
		}
		runAt := ts
		if o.SendAt.After(ts) {
			runAt = o.SendAt
		}
		ins.Queue(insertOutbound, o.TenantID, conv.ID, conv.ContactID, o.Author.Kind, o.Author.ID, o.Author.Name, t.kind, t.acct,
			o.Parts, conversation.PartsText(o.Parts), nullString(o.IdempotencyKey), nullTime(o.SendAt), ts,
			conversation.JobDeliver, runAt, conversation.DeliverMaxAttempts, nullMeta(o.Meta))
		fresh = append(fresh, i)
	}
	if len(fresh) == 0 {
		return nil
	}
	br = tx.SendBatch(ctx, ins)
	for _, i := range fresh {
		m, err := scanMessage(br.QueryRow())
		if isUnique(err) {
			br.Close()
			return conversation.Errorf(conversation.ECONFLICT, "a message with idempotency key %q is being sent", outs[i].IdempotencyKey)
		}
		if err != nil {
			br.Close()
			return fmt.Errorf("insert message %d of %d: %w", i+1, len(outs), err)
		}
		results[i] = conversation.SendResult{Message: m}
	}
	return br.Close()
}

// sendEach is sendOne for each of outs in order.
func sendEach(ctx context.Context, tx pgx.Tx, outs []conversation.Outbound, results []conversation.SendResult) error {
	for i, o := range outs {
		r, err := sendOne(ctx, tx, o)
		if err != nil {
			return err
		}
		results[i] = r
	}
	return nil
}

// collect reads the rows of a batch's next query.
func collect[T any](br pgx.BatchResults, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	return out, nil
}

package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

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
// address there; then, after the checks, one statement that inserts the
// new messages (with their seqs) and their delivery jobs.
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
		fresh = append(fresh, i)
	}
	if len(fresh) == 0 {
		return nil
	}
	var cols outboundRows
	for _, i := range fresh {
		o, t := outs[i], targets[i]
		if err := cols.add(o, byConv[o.ConversationID].ContactID, t.kind, t.acct); err != nil {
			return err
		}
	}
	ms, err := queryAll(ctx, tx, scanMessage, insertOutbounds, tenantID, now(), conversation.JobDeliver, conversation.DeliverMaxAttempts,
		cols.conv, cols.contact, cols.authorKind, cols.authorID, cols.authorName, cols.channel, cols.account,
		cols.parts, cols.body, cols.key, cols.sendAt, cols.meta)
	if isUnique(err) {
		return conversation.Errorf(conversation.ECONFLICT, "a message with one of the idempotency keys is being sent")
	}
	if err != nil {
		return fmt.Errorf("insert %d messages: %w", len(fresh), err)
	}
	if len(ms) != len(fresh) {
		return fmt.Errorf("inserted %d messages of %d", len(ms), len(fresh))
	}
	// Within a conversation the messages took their seqs in the order of
	// outs.
	slices.SortFunc(ms, func(a, b conversation.Message) int {
		return cmp.Or(cmp.Compare(a.ConversationID, b.ConversationID), cmp.Compare(a.Seq, b.Seq))
	})
	next := map[int64]int{} // conversation -> index in ms of its next message
	for k, m := range ms {
		if _, ok := next[m.ConversationID]; !ok {
			next[m.ConversationID] = k
		}
	}
	for _, i := range fresh {
		k := next[outs[i].ConversationID]
		next[outs[i].ConversationID]++
		results[i] = conversation.SendResult{Message: ms[k]}
	}
	return nil
}

// insertOutbounds is insertOutbound for many messages in one statement:
// each conversation's last_seq moves by its number of messages once, and
// its messages take the seqs after the old one in their order ($5 on are
// arrays, one element per message).
const insertOutbounds = `
	WITH u AS (
		SELECT * FROM unnest($5::bigint[], $6::bigint[], $7::text[], $8::bigint[], $9::text[], $10::text[], $11::bigint[],
			$12::text[], $13::text[], $14::text[], $15::timestamptz[], $16::text[])
			WITH ORDINALITY AS u(x_conv, x_contact, x_akind, x_aid, x_aname, x_channel, x_acct, x_parts, x_body, x_key, x_send_at, x_meta, x_ord)
	), n AS (
		SELECT x_conv AS x_nconv, count(*) AS x_k FROM u GROUP BY x_conv
	), c AS (
		UPDATE conversations SET last_seq = last_seq + n.x_k, last_message_at = $2, updated_at = $2
		FROM n WHERE conversations.id = n.x_nconv AND conversations.tenant_id = $1
		RETURNING conversations.id AS x_cid, conversations.last_seq - n.x_k AS x_base
	), m AS (
		INSERT INTO messages (tenant_id, conversation_id, contact_id, seq, direction, author_kind, author_id, author_name,
			channel, channel_account_id, parts, body, idempotency_key, status, send_at, created_at, updated_at, meta)
		SELECT $1, u.x_conv, u.x_contact, c.x_base + row_number() OVER (PARTITION BY u.x_conv ORDER BY u.x_ord), 'out',
			u.x_akind, u.x_aid, u.x_aname, u.x_channel, u.x_acct, u.x_parts::jsonb, u.x_body, nullif(u.x_key, ''), 'queued',
			u.x_send_at, $2, $2, u.x_meta::jsonb
		FROM u JOIN c ON c.x_cid = u.x_conv
		RETURNING *
	), j AS (
		INSERT INTO jobs (tenant_id, kind, ref, state, run_at, max_attempts, created_at, updated_at)
		SELECT $1, $3, m.id, 'pending', greatest(coalesce(m.send_at, $2), $2), $4, $2, $2 FROM m
	)
	SELECT ` + messageColumns + ` FROM m`

// outboundRows are outbound messages as columns, for unnest.
type outboundRows struct {
	conv, contact, authorID, account []int64
	authorKind, authorName, channel  []string
	parts, body, key                 []string
	sendAt                           []*time.Time
	meta                             []*string
}

func (r *outboundRows) add(o conversation.Outbound, contact int64, kind conversation.ChannelKind, account int64) error {
	parts, err := json.Marshal(o.Parts)
	if err != nil {
		return fmt.Errorf("encode parts: %w", err)
	}
	var meta *string
	if m := nullMeta(o.Meta); m != nil {
		b, err := json.Marshal(m)
		if err != nil {
			return fmt.Errorf("encode meta: %w", err)
		}
		s := string(b)
		meta = &s
	}
	r.conv, r.contact, r.authorID, r.account = append(r.conv, o.ConversationID), append(r.contact, contact), append(r.authorID, o.Author.ID), append(r.account, account)
	r.authorKind, r.authorName, r.channel = append(r.authorKind, string(o.Author.Kind)), append(r.authorName, o.Author.Name), append(r.channel, string(kind))
	r.parts, r.body, r.key = append(r.parts, string(parts)), append(r.body, conversation.PartsText(o.Parts)), append(r.key, o.IdempotencyKey)
	r.sendAt, r.meta = append(r.sendAt, nullTime(o.SendAt)), append(r.meta, meta)
	return nil
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

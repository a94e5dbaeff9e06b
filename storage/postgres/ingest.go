package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"conversa/conversation"
)

// Ingest implements conversation.Store.
//
// Most messages come from a known contact with an open conversation. For
// those a batch is one round trip: a pipeline of one statement per message
// (find the contact and its open conversation, drop a duplicate, take the
// next seq, insert the message and its route job), which PostgreSQL runs as
// one implicit transaction committed at the pipeline's end. Messages are
// ordered by sender, so concurrent batches lock conversations in the same
// order. The rest (a new contact or a new conversation) go through
// ingestTx. A batch that deadlocks is retried; a batch that fails on one bad
// request is split so the others still commit.
func (s *Store) Ingest(ctx context.Context, reqs []conversation.IngestRequest) ([]conversation.IngestResult, error) {
	results := make([]conversation.IngestResult, len(reqs))
	var misses []int
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		misses, err = ingestKnown(ctx, s.pool, reqs, results)
		if code := pgErrCode(err); code != "40P01" && code != "40001" {
			break
		}
	}
	if err != nil {
		if !isDataError(err) {
			return nil, err
		}
		// A bad request rolled the pipeline back as a whole: take the long
		// way, which isolates it, for all.
		misses = make([]int, len(reqs))
		for i := range misses {
			misses[i] = i
		}
	}
	if len(misses) == 0 {
		return results, nil
	}
	rest := make([]conversation.IngestRequest, len(misses))
	for j, i := range misses {
		rest[j] = reqs[i]
	}
	done, err := s.ingestTx(ctx, rest)
	if err != nil {
		return nil, err
	}
	for j, i := range misses {
		results[i] = done[j]
	}
	return results, nil
}

// ingestKnown appends, in one pipeline, the messages of known contacts with
// an open conversation, filling their results. It returns the indexes of
// the requests it could not handle: new contacts, new identities of known
// contacts, and contacts without an open conversation.
func ingestKnown(ctx context.Context, pool *pgxpool.Pool, reqs []conversation.IngestRequest, results []conversation.IngestResult) ([]int, error) {
	ts := now()
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(reqs[a].TenantID, reqs[b].TenantID), cmp.Compare(reqs[a].Inbound.From, reqs[b].Inbound.From))
	})
	batch := &pgx.Batch{}
	ats := make([]time.Time, len(reqs))
	for _, i := range order {
		req := reqs[i]
		in := req.Inbound
		ats[i] = in.ReceivedAt.UTC().Truncate(time.Microsecond)
		if ats[i].IsZero() {
			ats[i] = ts
		}
		batch.Queue(appendKnownSQL,
			req.TenantID, in.From, in.Channel, req.AccountID, in.ProviderID, ts, ats[i],
			in.FromName, in.Parts, conversation.PartsText(in.Parts), conversation.JobRoute, conversation.RouteMaxAttempts, nullMeta(in.Meta))
	}
	br := pool.SendBatch(ctx, batch)
	var misses, raced []int
	for _, i := range order {
		var r knownRow
		if err := r.scan(br.QueryRow()); err != nil {
			br.Close()
			return nil, err
		}
		req := reqs[i]
		switch {
		case r.dup != nil:
			results[i] = conversation.IngestResult{Duplicate: true, Message: conversation.Message{ID: *r.dup}}
		case r.contact == nil || r.conv.ID == nil:
			misses = append(misses, i)
		case r.msgID == nil:
			raced = append(raced, i) // a concurrent batch stored it first
		default:
			in := req.Inbound
			results[i] = conversation.IngestResult{
				Conversation: r.conv.conversation(),
				Message: conversation.Message{
					ID: *r.msgID, TenantID: req.TenantID, ConversationID: *r.conv.ID, ContactID: *r.contact, Seq: *r.msgSeq,
					Direction: conversation.DirectionIn, Author: conversation.Author{Kind: conversation.AuthorContact, Name: in.FromName},
					Channel: in.Channel, ChannelAccountID: req.AccountID, Parts: in.Parts, ProviderID: in.ProviderID,
					Status: conversation.StatusReceived, CreatedAt: ats[i], UpdatedAt: ts, Meta: nullMeta(in.Meta),
				},
			}
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	for _, i := range raced {
		var id int64
		if err := pool.QueryRow(ctx, `SELECT id FROM messages WHERE channel_account_id = $1 AND provider_id = $2`,
			reqs[i].AccountID, reqs[i].Inbound.ProviderID).Scan(&id); err != nil {
			return nil, err
		}
		results[i] = conversation.IngestResult{Duplicate: true, Message: conversation.Message{ID: id}}
	}
	return misses, nil
}

// appendKnownSQL appends a message from a contact known on its channel to
// their open conversation, in one statement. Its parameters are: tenant,
// sender address, channel, account, provider id, now, received at, sender
// name, parts, body, route job kind and attempts, meta. It yields one row: the id
// of an earlier copy of the message; or no contact (also when the contact is
// known only on another channel of the phone family, whose new identity the
// long way adds), or no open conversation; or the conversation and the new
// message (whose id is null if a concurrent transaction stored a copy first).
const appendKnownSQL = `
WITH i AS (
	SELECT contact_id FROM identities WHERE tenant_id = $1 AND channel = $3 AND address = $2
), d AS (
	SELECT id FROM messages WHERE channel_account_id = $4 AND provider_id = $5
), c AS (
	UPDATE conversations
	SET last_seq = last_seq + 1, last_message_at = greatest(last_message_at, $7), channel = $3, channel_account_id = $4, updated_at = $6
	WHERE tenant_id = $1 AND contact_id = (SELECT contact_id FROM i) AND state <> 'closed'
	  AND NOT EXISTS (SELECT 1 FROM d)
	RETURNING ` + conversationColumns + `
), m AS (
	INSERT INTO messages (tenant_id, conversation_id, contact_id, seq, direction, author_kind, author_name,
		channel, channel_account_id, parts, body, provider_id, status, created_at, updated_at, meta)
	SELECT $1, c.id, c.contact_id, c.last_seq, 'in', 'contact', $8, $3, $4, $9, $10, $5, 'received', $7, $6, $13 FROM c
	ON CONFLICT (channel_account_id, provider_id) WHERE provider_id IS NOT NULL DO NOTHING
	RETURNING id, seq
), j AS (
	INSERT INTO jobs (tenant_id, kind, ref, state, run_at, max_attempts, created_at, updated_at)
	SELECT $1, $11, m.id, 'pending', $6, $12, $6, $6 FROM m
)
SELECT (SELECT id FROM d), (SELECT contact_id FROM i),
	c.id, c.tenant_id, c.contact_id, c.state, c.channel, c.channel_account_id, c.assignee_id,
	c.last_seq, c.last_message_at, c.opened_at, c.closed_at, c.updated_at,
	m.id, m.seq
FROM (SELECT 1) one LEFT JOIN c ON true LEFT JOIN m ON true`

// knownRow is the row of appendKnownSQL; every column may be null.
type knownRow struct {
	dup, contact  *int64
	conv          nullConversation
	msgID, msgSeq *int64
}

func (r *knownRow) scan(row pgx.Row) error {
	c := &r.conv
	return row.Scan(&r.dup, &r.contact, &c.ID, &c.TenantID, &c.ContactID, &c.State, &c.Channel, &c.AccountID, &c.AssigneeID,
		&c.LastSeq, &c.LastMessageAt, &c.OpenedAt, &c.ClosedAt, &c.UpdatedAt, &r.msgID, &r.msgSeq)
}

// nullConversation is a conversation read from an outer join.
type nullConversation struct {
	ID, TenantID, ContactID, AccountID, AssigneeID, LastSeq *int64
	State, Channel                                          *string
	LastMessageAt, OpenedAt, ClosedAt, UpdatedAt            *time.Time
}

func (c nullConversation) conversation() conversation.Conversation {
	return conversation.Conversation{
		ID: *c.ID, TenantID: *c.TenantID, ContactID: *c.ContactID, State: conversation.State(*c.State),
		Channel: conversation.ChannelKind(*c.Channel), ChannelAccountID: *c.AccountID, AssigneeID: *c.AssigneeID,
		LastSeq: *c.LastSeq, LastMessageAt: timeOf(c.LastMessageAt), OpenedAt: timeOf(c.OpenedAt),
		ClosedAt: timeOf(c.ClosedAt), UpdatedAt: timeOf(c.UpdatedAt),
	}
}

// ingestTx ingests in explicit transactions, creating contacts and
// conversations as needed: see ingestBatch.
func (s *Store) ingestTx(ctx context.Context, reqs []conversation.IngestRequest) ([]conversation.IngestResult, error) {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var res []conversation.IngestResult
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			res, err = ingestBatch(ctx, tx, reqs)
			return err
		})
		if err == nil {
			return res, nil
		}
		if code := pgErrCode(err); code != "40P01" && code != "40001" {
			break
		}
	}
	if !isDataError(err) {
		return nil, err
	}
	if len(reqs) == 1 {
		return []conversation.IngestResult{{Err: err}}, nil
	}
	// Some request is bad: ingest each on its own.
	results := make([]conversation.IngestResult, len(reqs))
	for i := range reqs {
		res, err := s.ingestTx(ctx, reqs[i:i+1])
		if err != nil {
			return nil, err
		}
		results[i] = res[0]
	}
	return results, nil
}

// isDataError reports whether err is about the data of a request (a
// constraint or an invalid value), as opposed to the database or the
// connection.
func isDataError(err error) bool {
	e, ok := errors.AsType[*pgconn.PgError](err)
	return ok && (e.Code[:2] == "22" || e.Code[:2] == "23")
}

// ingestItem is the working state of one request of a batch.
type ingestItem struct {
	req       conversation.IngestRequest
	at        time.Time
	dupOf     int // index of an earlier item with the same account and provider id, or -1
	contactID int64
	found     conversation.ChannelKind // channel of the identity that named the contact
	convID    int64
	res       conversation.IngestResult
}

func ingestBatch(ctx context.Context, tx pgx.Tx, reqs []conversation.IngestRequest) ([]conversation.IngestResult, error) {
	ts := now()
	items := make([]*ingestItem, len(reqs))
	firstOf := map[[2]any]int{}
	for i, req := range reqs {
		it := &ingestItem{req: req, at: req.Inbound.ReceivedAt.UTC().Truncate(time.Microsecond), dupOf: -1}
		if it.at.IsZero() {
			it.at = ts
		}
		key := [2]any{req.AccountID, req.Inbound.ProviderID}
		if j, ok := firstOf[key]; ok {
			it.dupOf = j
		} else {
			firstOf[key] = i
		}
		items[i] = it
	}

	// Round 1: duplicates, identities and open conversations.
	batch := &pgx.Batch{}
	for _, it := range items {
		in := it.req.Inbound
		batch.Queue(`
			SELECT (SELECT id FROM messages WHERE channel_account_id = $1 AND provider_id = $2),
				i.contact_id, i.channel,
				(SELECT c.id FROM conversations c WHERE c.tenant_id = $3 AND c.contact_id = i.contact_id AND c.state <> 'closed')
			FROM (SELECT 1) one LEFT JOIN LATERAL (
				SELECT contact_id, channel FROM identities
				WHERE tenant_id = $3 AND address = $4 AND channel = ANY($5)
				ORDER BY channel = $6 DESC, created_at LIMIT 1
			) i ON true`,
			it.req.AccountID, in.ProviderID, it.req.TenantID, in.From, identityFamily(in.Channel), in.Channel)
	}
	br := tx.SendBatch(ctx, batch)
	for _, it := range items {
		var dup, contactID, convID *int64
		var found *string
		if err := br.QueryRow().Scan(&dup, &contactID, &found, &convID); err != nil {
			br.Close()
			return nil, fmt.Errorf("ingest lookup: %w", err)
		}
		if dup != nil {
			it.res = conversation.IngestResult{Duplicate: true, Message: conversation.Message{ID: *dup}}
			it.dupOf = -2 // already stored before this batch
			continue
		}
		if contactID != nil {
			it.contactID, it.found = *contactID, conversation.ChannelKind(*found)
		}
		if convID != nil {
			it.convID = *convID
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}

	live := slices.DeleteFunc(slices.Clone(items), func(it *ingestItem) bool { return it.dupOf != -1 })

	// Contacts for new identities, once per identity, in a fixed order so
	// that concurrent batches take their locks alike.
	slices.SortStableFunc(live, func(a, b *ingestItem) int {
		return cmp.Or(cmp.Compare(a.req.TenantID, b.req.TenantID), cmp.Compare(a.req.Inbound.From, b.req.Inbound.From))
	})
	type madeContact struct {
		id      int64
		channel conversation.ChannelKind
	}
	created := map[[3]any]madeContact{}
	for _, it := range live {
		if it.contactID != 0 {
			continue
		}
		in := it.req.Inbound
		key := [3]any{it.req.TenantID, identityFamily(in.Channel)[0], in.From}
		if c, ok := created[key]; ok {
			it.contactID, it.found = c.id, c.channel
			continue
		}
		id, isNew, err := createContact(ctx, tx, it.req.TenantID, in, ts)
		if err != nil {
			return nil, err
		}
		it.contactID, it.found, it.res.NewContact = id, in.Channel, isNew
		created[key] = madeContact{id, in.Channel}
	}
	// Identities on a new channel of the same phone family.
	added := map[[2]any]bool{}
	for _, it := range live {
		key := [2]any{it.contactID, it.req.Inbound.Channel}
		if it.found == it.req.Inbound.Channel || added[key] {
			continue
		}
		added[key] = true
		if _, err := tx.Exec(ctx, `INSERT INTO identities (tenant_id, channel, address, contact_id, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
			it.req.TenantID, it.req.Inbound.Channel, it.req.Inbound.From, it.contactID, ts); err != nil {
			return nil, err
		}
	}
	// Conversations for contacts without an open one.
	opened := map[int64]int64{}
	for _, it := range live {
		if it.convID != 0 {
			continue
		}
		if id, ok := opened[it.contactID]; ok {
			it.convID = id
			continue
		}
		id, isNew, err := openConversation(ctx, tx, it, ts)
		if err != nil {
			return nil, err
		}
		it.convID, it.res.NewConversation = id, isNew
		opened[it.contactID] = id
	}

	// Round 2: append the messages, in conversation order.
	slices.SortStableFunc(live, func(a, b *ingestItem) int { return cmp.Compare(a.convID, b.convID) })
	batch = &pgx.Batch{}
	for _, it := range live {
		queueAppend(batch, it, ts)
	}
	br = tx.SendBatch(ctx, batch)
	var retry []*ingestItem
	for _, it := range live {
		var err error
		it.res.Conversation, it.res.Message, err = scanAppended(br.QueryRow(), it.res.Message)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			retry = append(retry, it) // the conversation was closed meanwhile
		case err != nil:
			br.Close()
			return nil, fmt.Errorf("ingest append: %w", err)
		case it.res.Message.ID == 0:
			// A concurrent batch stored the same message first.
			it.res.Duplicate = true
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}
	for _, it := range retry {
		id, isNew, err := openConversation(ctx, tx, it, ts)
		if err != nil {
			return nil, err
		}
		it.convID, it.res.NewConversation = id, isNew
		batch = &pgx.Batch{}
		queueAppend(batch, it, ts)
		br = tx.SendBatch(ctx, batch)
		it.res.Conversation, it.res.Message, err = scanAppended(br.QueryRow(), it.res.Message)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("ingest append: %w", err)
		}
	}
	for _, it := range live {
		if it.res.Duplicate {
			if err := tx.QueryRow(ctx, `SELECT id FROM messages WHERE channel_account_id = $1 AND provider_id = $2`,
				it.req.AccountID, it.req.Inbound.ProviderID).Scan(&it.res.Message.ID); err != nil {
				return nil, err
			}
			it.res.Conversation, it.res.NewContact, it.res.NewConversation = conversation.Conversation{}, false, false
		}
	}

	results := make([]conversation.IngestResult, len(items))
	for i, it := range items {
		if it.dupOf >= 0 {
			it.res = conversation.IngestResult{Duplicate: true, Message: conversation.Message{ID: items[it.dupOf].res.Message.ID}}
		}
		results[i] = it.res
	}
	return results, nil
}

// identityFamily returns the channels whose identities with the same
// address name the same contact as an identity on ch.
func identityFamily(ch conversation.ChannelKind) []string {
	if ch.PhoneAddressed() {
		return []string{string(conversation.ChannelWhatsApp), string(conversation.ChannelSMS), string(conversation.ChannelVoice)}
	}
	return []string{string(ch)}
}

// createContact creates a contact with the identity of in, unless a
// concurrent transaction created the identity first: then it returns that
// identity's contact. The identity goes in first, so a contact row exists
// only for an identity that was new.
func createContact(ctx context.Context, tx pgx.Tx, tenantID int64, in conversation.Inbound, ts time.Time) (int64, bool, error) {
	var id int64
	err := tx.QueryRow(ctx, `
		WITH i AS (
			INSERT INTO identities (tenant_id, channel, address, contact_id, created_at)
			VALUES ($1, $2, $3, nextval(pg_get_serial_sequence('contacts', 'id')), $6)
			ON CONFLICT DO NOTHING RETURNING contact_id
		), c AS (
			INSERT INTO contacts (id, tenant_id, name, language, created_at, updated_at)
			SELECT contact_id, $1, $4, $5, $6, $6 FROM i RETURNING id
		)
		SELECT id FROM c`, tenantID, in.Channel, in.From, in.FromName, in.Language, ts).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("create contact: %w", err)
	}
	err = tx.QueryRow(ctx, `SELECT contact_id FROM identities WHERE tenant_id = $1 AND channel = $2 AND address = $3`,
		tenantID, in.Channel, in.From).Scan(&id)
	return id, false, err
}

// openConversation opens a conversation for the item's contact, unless a
// concurrent transaction opened one first: then it returns that one.
func openConversation(ctx context.Context, tx pgx.Tx, it *ingestItem, ts time.Time) (int64, bool, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO conversations (tenant_id, contact_id, state, channel, channel_account_id, last_message_at, opened_at, updated_at)
		VALUES ($1, $2, 'bot', $3, $4, $5, $6, $6)
		ON CONFLICT (tenant_id, contact_id) WHERE state <> 'closed' DO NOTHING RETURNING id`,
		it.req.TenantID, it.contactID, it.req.Inbound.Channel, it.req.AccountID, it.at, ts).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("open conversation: %w", err)
	}
	err = tx.QueryRow(ctx, `SELECT id FROM conversations WHERE tenant_id = $1 AND contact_id = $2 AND state <> 'closed'`,
		it.req.TenantID, it.contactID).Scan(&id)
	return id, false, err
}

// queueAppend queues the statement that appends the item's message to its
// conversation, if the conversation is still open, with the route job. It
// yields no row when the conversation was closed, and a row with no message
// when the message is a duplicate.
func queueAppend(b *pgx.Batch, it *ingestItem, ts time.Time) {
	in := it.req.Inbound
	b.Queue(`
		WITH c AS (
			UPDATE conversations
			SET last_seq = last_seq + 1, last_message_at = greatest(last_message_at, $5), channel = $3, channel_account_id = $4, updated_at = $6
			WHERE id = $1 AND tenant_id = $2 AND state <> 'closed'
			RETURNING `+conversationColumns+`
		), m AS (
			INSERT INTO messages (tenant_id, conversation_id, contact_id, seq, direction, author_kind, author_name,
				channel, channel_account_id, parts, body, provider_id, status, created_at, updated_at, meta)
			SELECT $2, c.id, c.contact_id, c.last_seq, 'in', 'contact', $7, $3, $4, $8, $9, $10, 'received', $5, $6, $13 FROM c
			ON CONFLICT (channel_account_id, provider_id) WHERE provider_id IS NOT NULL DO NOTHING
			RETURNING *
		), j AS (
			INSERT INTO jobs (tenant_id, kind, ref, state, run_at, max_attempts, created_at, updated_at)
			SELECT $2, $11, m.id, 'pending', $6, $12, $6, $6 FROM m
		)
		SELECT c.id, c.tenant_id, c.contact_id, c.state, c.channel, c.channel_account_id, c.assignee_id,
			c.last_seq, c.last_message_at, c.opened_at, c.closed_at, c.updated_at,
			m.id, m.seq, m.parts, m.created_at
		FROM c LEFT JOIN m ON true`,
		it.convID, it.req.TenantID, in.Channel, it.req.AccountID, it.at, ts, in.FromName,
		in.Parts, conversation.PartsText(in.Parts), in.ProviderID, conversation.JobRoute, conversation.RouteMaxAttempts, nullMeta(in.Meta))
	it.res.Message = conversation.Message{
		TenantID: it.req.TenantID, ContactID: it.contactID, Direction: conversation.DirectionIn,
		Author:  conversation.Author{Kind: conversation.AuthorContact, Name: in.FromName},
		Channel: in.Channel, ChannelAccountID: it.req.AccountID, ProviderID: in.ProviderID,
		Status: conversation.StatusReceived, UpdatedAt: ts, Meta: nullMeta(in.Meta),
	}
}

// scanAppended reads the row of a queued append into the conversation and
// completes m, the message prepared by queueAppend. It returns a zero
// message for a duplicate.
func scanAppended(row pgx.Row, m conversation.Message) (conversation.Conversation, conversation.Message, error) {
	var c conversation.Conversation
	var closed *time.Time
	var id, seq *int64
	var parts []conversation.Part
	var created *time.Time
	err := row.Scan(&c.ID, &c.TenantID, &c.ContactID, &c.State, &c.Channel, &c.ChannelAccountID, &c.AssigneeID,
		&c.LastSeq, &c.LastMessageAt, &c.OpenedAt, &closed, &c.UpdatedAt, &id, &seq, &parts, &created)
	if err != nil {
		return c, conversation.Message{}, err
	}
	c.LastMessageAt, c.OpenedAt, c.ClosedAt, c.UpdatedAt = c.LastMessageAt.UTC(), c.OpenedAt.UTC(), timeOf(closed), c.UpdatedAt.UTC()
	if id == nil {
		return c, conversation.Message{}, nil
	}
	m.ID, m.Seq, m.ConversationID, m.Parts, m.CreatedAt = *id, *seq, c.ID, parts, timeOf(created)
	return c, m, nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
)

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

const contactColumns = `id, tenant_id, name, language, attributes, created_at, updated_at`

func scanContact(row pgx.Row) (conversation.Contact, error) {
	var c conversation.Contact
	err := row.Scan(&c.ID, &c.TenantID, &c.Name, &c.Language, &c.Attributes, &c.CreatedAt, &c.UpdatedAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if len(c.Attributes) == 0 {
		c.Attributes = nil
	}
	return c, err
}

// withIdentities loads the identities of contacts.
func withIdentities(ctx context.Context, q querier, contacts []conversation.Contact) ([]conversation.Contact, error) {
	if len(contacts) == 0 {
		return contacts, nil
	}
	ids := make([]int64, len(contacts))
	index := make(map[int64]int, len(contacts))
	for i, c := range contacts {
		ids[i] = c.ID
		index[c.ID] = i
		contacts[i].Identities = []conversation.Identity{}
	}
	rows, err := q.Query(ctx, `SELECT contact_id, channel, address FROM identities
		WHERE contact_id = ANY($1) ORDER BY created_at, channel`, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var ident conversation.Identity
		if err := rows.Scan(&id, &ident.Channel, &ident.Address); err != nil {
			return nil, err
		}
		c := &contacts[index[id]]
		c.Identities = append(c.Identities, ident)
	}
	return contacts, rows.Err()
}

func (s *Store) contact(ctx context.Context, q querier, sql string, args ...any) (conversation.Contact, error) {
	cs, err := queryAll(ctx, q, scanContact, sql, args...)
	if err != nil {
		return conversation.Contact{}, err
	}
	if len(cs) == 0 {
		return conversation.Contact{}, conversation.Errorf(conversation.ENOTFOUND, "contact not found")
	}
	cs, err = withIdentities(ctx, q, cs)
	if err != nil {
		return conversation.Contact{}, err
	}
	return cs[0], nil
}

// Contact implements conversation.Store.
func (s *Store) Contact(ctx context.Context, tenantID, id int64) (conversation.Contact, error) {
	return s.contact(ctx, s.pool, `SELECT `+contactColumns+` FROM contacts WHERE id = $1 AND tenant_id = $2`, id, tenantID)
}

// ContactByIdentity implements conversation.Store.
func (s *Store) ContactByIdentity(ctx context.Context, tenantID int64, id conversation.Identity) (conversation.Contact, error) {
	return s.contact(ctx, s.pool, `SELECT `+contactColumns+` FROM contacts WHERE tenant_id = $1 AND id =
		(SELECT contact_id FROM identities WHERE tenant_id = $1 AND channel = $2 AND address = $3)`,
		tenantID, id.Channel, id.Address)
}

// ListContacts implements conversation.Store.
func (s *Store) ListContacts(ctx context.Context, tenantID int64, f conversation.ContactFilter) ([]conversation.Contact, error) {
	before := f.BeforeID
	if before <= 0 {
		before = 1<<63 - 1
	}
	cs, err := queryAll(ctx, s.pool, scanContact, `SELECT `+contactColumns+` FROM contacts
		WHERE tenant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, tenantID, before, conversation.ClampLimit(f.Limit))
	if err != nil {
		return nil, err
	}
	return withIdentities(ctx, s.pool, cs)
}

// UpdateContact implements conversation.Store.
func (s *Store) UpdateContact(ctx context.Context, tenantID, id int64, u conversation.ContactUpdate) (conversation.Contact, error) {
	var c conversation.Contact
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		c, err = s.contact(ctx, tx, `SELECT `+contactColumns+` FROM contacts WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, id, tenantID)
		if err != nil {
			return err
		}
		if u.Name != nil {
			c.Name = *u.Name
		}
		if u.Language != nil {
			c.Language = *u.Language
		}
		if len(u.Attributes) > 0 {
			attrs := maps.Clone(c.Attributes)
			if attrs == nil {
				attrs = map[string]string{}
			}
			for k, v := range u.Attributes {
				if v == "" {
					delete(attrs, k)
				} else {
					attrs[k] = v
				}
			}
			c.Attributes = attrs
		}
		c.UpdatedAt = now()
		_, err = tx.Exec(ctx, `UPDATE contacts SET name = $1, language = $2, attributes = $3, updated_at = $4 WHERE id = $5`,
			c.Name, c.Language, emptyMap(c.Attributes), c.UpdatedAt, c.ID)
		return err
	})
	return c, err
}

const conversationColumns = `id, tenant_id, contact_id, state, channel, channel_account_id, assignee_id,
	last_seq, last_message_at, opened_at, closed_at, updated_at`

func scanConversation(row pgx.Row) (conversation.Conversation, error) {
	return scanConversationWith(row)
}

// scanConversationWith scans conversationColumns and then the extra
// columns into extra.
func scanConversationWith(row pgx.Row, extra ...any) (conversation.Conversation, error) {
	var c conversation.Conversation
	var closed *time.Time
	err := row.Scan(append([]any{&c.ID, &c.TenantID, &c.ContactID, &c.State, &c.Channel, &c.ChannelAccountID, &c.AssigneeID,
		&c.LastSeq, &c.LastMessageAt, &c.OpenedAt, &closed, &c.UpdatedAt}, extra...)...)
	c.LastMessageAt, c.OpenedAt, c.ClosedAt, c.UpdatedAt = c.LastMessageAt.UTC(), c.OpenedAt.UTC(), timeOf(closed), c.UpdatedAt.UTC()
	return c, err
}

// Conversation implements conversation.Store.
func (s *Store) Conversation(ctx context.Context, tenantID, id int64) (conversation.Conversation, error) {
	c, err := scanConversation(s.pool.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return c, notFound(err, "conversation")
}

// ListConversations implements conversation.Store.
func (s *Store) ListConversations(ctx context.Context, tenantID int64, f conversation.ConversationFilter) ([]conversation.Conversation, error) {
	w := where{args: []any{tenantID}, conds: []string{"tenant_id = $1"}}
	if f.State != "" {
		w.add("state = $%d", f.State)
	}
	if f.ContactID != 0 {
		w.add("contact_id = $%d", f.ContactID)
	}
	if f.Before != nil {
		w.add("(last_message_at, id) < ($%d, $%d)", f.Before.LastMessageAt, f.Before.ID)
	}
	n := w.arg(conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.pool, scanConversation, `SELECT `+conversationColumns+` FROM conversations
		WHERE `+w.String()+` ORDER BY last_message_at DESC, id DESC LIMIT `+n, w.args...)
}

// TransitionConversation implements conversation.Store.
func (s *Store) TransitionConversation(ctx context.Context, tenantID, id int64, t conversation.Transition) (conversation.Conversation, error) {
	ts := now()
	var closedAt *time.Time
	if t.To == conversation.StateClosed {
		closedAt = &ts
	}
	assignee := int64(0)
	if t.To == conversation.StateAgent {
		assignee = t.AssigneeID
	}
	c, err := scanConversation(s.pool.QueryRow(ctx, `UPDATE conversations
		SET state = $1, assignee_id = $2, closed_at = $3, updated_at = $4
		WHERE id = $5 AND tenant_id = $6 AND state = $7 RETURNING `+conversationColumns,
		t.To, assignee, closedAt, ts, id, tenantID, t.From))
	switch {
	case isUnique(err):
		return c, conversation.Errorf(conversation.ECONFLICT, "the contact has another open conversation")
	case errors.Is(err, pgx.ErrNoRows):
		var state string
		if err := s.pool.QueryRow(ctx, `SELECT state FROM conversations WHERE id = $1 AND tenant_id = $2`, id, tenantID).Scan(&state); err != nil {
			return c, notFound(err, "conversation")
		}
		return c, conversation.Errorf(conversation.ECONFLICT, "the conversation is %s, not %s", state, t.From)
	}
	return c, err
}

// where builds a WHERE clause with numbered placeholders.
type where struct {
	conds []string
	args  []any
}

// add appends a condition; each %d in cond becomes the number of the next
// of args.
func (w *where) add(cond string, args ...any) {
	nums := make([]any, len(args))
	for i, a := range args {
		w.args = append(w.args, a)
		nums[i] = len(w.args)
	}
	w.conds = append(w.conds, fmt.Sprintf(cond, nums...))
}

// arg appends an argument and returns its placeholder.
func (w *where) arg(a any) string {
	w.args = append(w.args, a)
	return fmt.Sprintf("$%d", len(w.args))
}

func (w *where) String() string { return strings.Join(w.conds, " AND ") }

// OpenConversation implements conversation.Store. The insert skips a
// conflict with the open-conversation index, and the lookup after it sees
// the winner's row (each statement takes a new snapshot); a conversation
// closed in between makes it try again.
func (s *Store) OpenConversation(ctx context.Context, tenantID, contactID, accountID int64) (conversation.Conversation, bool, error) {
	for range 5 {
		c, err := scanConversation(s.pool.QueryRow(ctx, `SELECT `+conversationColumns+` FROM conversations
			WHERE tenant_id = $1 AND contact_id = $2 AND state <> 'closed'
				AND EXISTS (SELECT 1 FROM channel_accounts WHERE id = $3 AND tenant_id = $1)`, tenantID, contactID, accountID))
		if err == nil {
			return c, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return c, false, err
		}
		ts := now()
		c, err = scanConversation(s.pool.QueryRow(ctx, `INSERT INTO conversations (tenant_id, contact_id, state, channel, channel_account_id,
				last_message_at, opened_at, updated_at)
			SELECT $1, c.id, 'bot', a.kind, a.id, $4, $4, $4 FROM contacts c, channel_accounts a
			WHERE c.id = $2 AND c.tenant_id = $1 AND a.id = $3 AND a.tenant_id = $1
			ON CONFLICT (tenant_id, contact_id) WHERE state <> 'closed' DO NOTHING
			RETURNING `+conversationColumns, tenantID, contactID, accountID, ts))
		if err == nil {
			return c, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return c, false, err
		}
		var contact, account bool
		if err := s.pool.QueryRow(ctx, `SELECT
				EXISTS (SELECT 1 FROM contacts WHERE id = $2 AND tenant_id = $1),
				EXISTS (SELECT 1 FROM channel_accounts WHERE id = $3 AND tenant_id = $1)`,
			tenantID, contactID, accountID).Scan(&contact, &account); err != nil {
			return c, false, err
		}
		switch {
		case !contact:
			return c, false, conversation.Errorf(conversation.ENOTFOUND, "contact not found")
		case !account:
			return c, false, conversation.Errorf(conversation.ENOTFOUND, "channel account not found")
		}
	}
	return conversation.Conversation{}, false, conversation.Errorf(conversation.ECONFLICT, "the contact's conversation kept changing; try again")
}

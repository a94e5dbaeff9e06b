package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"maps"
	"strings"

	"conversa/conversation"
)

const contactColumns = `id, tenant_id, name, language, attributes, created_at, updated_at`

func scanContact(row scanner) (conversation.Contact, error) {
	var c conversation.Contact
	var attrs string
	var created, updated int64
	if err := row.Scan(&c.ID, &c.TenantID, &c.Name, &c.Language, &attrs, &created, &updated); err != nil {
		return c, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, json.Unmarshal([]byte(attrs), &c.Attributes)
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
	rows, err := q.QueryContext(ctx, `SELECT contact_id, channel, address FROM identities
		WHERE contact_id IN `+inJSON+` ORDER BY created_at, channel`, jsonArray(ids))
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

func (s *Store) contact(ctx context.Context, q querier, query string, args ...any) (conversation.Contact, error) {
	cs, err := queryAll(ctx, q, scanContact, query, args...)
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
	return s.contact(ctx, s.rd, `SELECT `+contactColumns+` FROM contacts WHERE id = ? AND tenant_id = ?`, id, tenantID)
}

// ContactByIdentity implements conversation.Store.
func (s *Store) ContactByIdentity(ctx context.Context, tenantID int64, id conversation.Identity) (conversation.Contact, error) {
	return s.contact(ctx, s.rd, `SELECT `+contactColumns+` FROM contacts WHERE tenant_id = ? AND id =
		(SELECT contact_id FROM identities WHERE tenant_id = ? AND channel = ? AND address = ?)`,
		tenantID, tenantID, id.Channel, id.Address)
}

// ListContacts implements conversation.Store.
func (s *Store) ListContacts(ctx context.Context, tenantID int64, f conversation.ContactFilter) ([]conversation.Contact, error) {
	before := f.BeforeID
	if before <= 0 {
		before = 1<<63 - 1
	}
	cs, err := queryAll(ctx, s.rd, scanContact, `SELECT `+contactColumns+` FROM contacts
		WHERE tenant_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, tenantID, before, conversation.ClampLimit(f.Limit))
	if err != nil {
		return nil, err
	}
	return withIdentities(ctx, s.rd, cs)
}

// UpdateContact implements conversation.Store.
func (s *Store) UpdateContact(ctx context.Context, tenantID, id int64, u conversation.ContactUpdate) (conversation.Contact, error) {
	var c conversation.Contact
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		c, err = s.contact(ctx, tx, `SELECT `+contactColumns+` FROM contacts WHERE id = ? AND tenant_id = ?`, id, tenantID)
		if err != nil {
			return err
		}
		applyContactUpdate(&c, u)
		c.UpdatedAt = now()
		_, err = tx.ExecContext(ctx, `UPDATE contacts SET name = ?, language = ?, attributes = ?, updated_at = ? WHERE id = ?`,
			c.Name, c.Language, encodeMap(c.Attributes), micros(c.UpdatedAt), c.ID)
		return err
	})
	return c, err
}

// applyContactUpdate merges u into c.
func applyContactUpdate(c *conversation.Contact, u conversation.ContactUpdate) {
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
}

const conversationColumns = `id, tenant_id, contact_id, state, channel, channel_account_id, assignee_id,
	last_seq, last_message_at, opened_at, closed_at, updated_at`

func scanConversation(row scanner) (conversation.Conversation, error) {
	return scanConversationWith(row)
}

// scanConversationWith scans conversationColumns and then the extra
// columns into extra.
func scanConversationWith(row scanner, extra ...any) (conversation.Conversation, error) {
	var c conversation.Conversation
	var last, opened, closed, updated int64
	err := row.Scan(append([]any{&c.ID, &c.TenantID, &c.ContactID, &c.State, &c.Channel, &c.ChannelAccountID, &c.AssigneeID,
		&c.LastSeq, &last, &opened, &closed, &updated}, extra...)...)
	c.LastMessageAt, c.OpenedAt, c.ClosedAt, c.UpdatedAt = fromMicros(last), fromMicros(opened), fromMicros(closed), fromMicros(updated)
	return c, err
}

// Conversation implements conversation.Store.
func (s *Store) Conversation(ctx context.Context, tenantID, id int64) (conversation.Conversation, error) {
	c, err := scanConversation(s.rd.QueryRowContext(ctx, `SELECT `+conversationColumns+` FROM conversations WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return c, notFound(err, "conversation")
}

// ListConversations implements conversation.Store.
func (s *Store) ListConversations(ctx context.Context, tenantID int64, f conversation.ConversationFilter) ([]conversation.Conversation, error) {
	where := []string{"tenant_id = ?"}
	args := []any{tenantID}
	if f.State != "" {
		where = append(where, "state = ?")
		args = append(args, f.State)
	}
	if f.ContactID != 0 {
		where = append(where, "contact_id = ?")
		args = append(args, f.ContactID)
	}
	if f.Before != nil {
		where = append(where, "(last_message_at < ? OR (last_message_at = ? AND id < ?))")
		at := micros(f.Before.LastMessageAt)
		args = append(args, at, at, f.Before.ID)
	}
	args = append(args, conversation.ClampLimit(f.Limit))
	return queryAll(ctx, s.rd, scanConversation, `SELECT `+conversationColumns+` FROM conversations
		WHERE `+strings.Join(where, " AND ")+` ORDER BY last_message_at DESC, id DESC LIMIT ?`, args...)
}

// TransitionConversation implements conversation.Store.
func (s *Store) TransitionConversation(ctx context.Context, tenantID, id int64, t conversation.Transition) (conversation.Conversation, error) {
	var c conversation.Conversation
	err := s.write(ctx, func(tx *wtx) error {
		ts := micros(now())
		closedAt := int64(0)
		if t.To == conversation.StateClosed {
			closedAt = ts
		}
		assignee := int64(0)
		if t.To == conversation.StateAgent {
			assignee = t.AssigneeID
		}
		var err error
		c, err = scanConversation(tx.QueryRowContext(ctx, `UPDATE conversations
			SET state = ?, assignee_id = ?, closed_at = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? AND state = ? RETURNING `+conversationColumns,
			t.To, assignee, closedAt, ts, id, tenantID, t.From))
		switch {
		case isUnique(err):
			return conversation.Errorf(conversation.ECONFLICT, "the contact has another open conversation")
		case err == sql.ErrNoRows:
			var state string
			if err := tx.QueryRowContext(ctx, `SELECT state FROM conversations WHERE id = ? AND tenant_id = ?`, id, tenantID).Scan(&state); err != nil {
				return notFound(err, "conversation")
			}
			return conversation.Errorf(conversation.ECONFLICT, "the conversation is %s, not %s", state, t.From)
		}
		return err
	})
	return c, err
}

// OpenConversation implements conversation.Store. Writes are serialized,
// so the lookup and the insert see no other opening in between.
func (s *Store) OpenConversation(ctx context.Context, tenantID, contactID, accountID int64) (conversation.Conversation, bool, error) {
	var c conversation.Conversation
	created := false
	err := s.write(ctx, func(tx *wtx) error {
		var kind conversation.ChannelKind
		if err := tx.QueryRowContext(ctx, `SELECT kind FROM channel_accounts WHERE id = ? AND tenant_id = ?`, accountID, tenantID).Scan(&kind); err != nil {
			return notFound(err, "channel account")
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM contacts WHERE id = ? AND tenant_id = ?`, contactID, tenantID).Scan(&one); err != nil {
			return notFound(err, "contact")
		}
		var err error
		c, err = scanConversation(tx.QueryRowContext(ctx, `SELECT `+conversationColumns+` FROM conversations
			WHERE tenant_id = ? AND contact_id = ? AND state <> 'closed'`, tenantID, contactID))
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		ts := micros(now())
		c, err = scanConversation(tx.QueryRowContext(ctx, `INSERT INTO conversations (tenant_id, contact_id, state, channel, channel_account_id,
				last_message_at, opened_at, updated_at)
			VALUES (?, ?, 'bot', ?, ?, ?, ?, ?) RETURNING `+conversationColumns,
			tenantID, contactID, kind, accountID, ts, ts, ts))
		created = err == nil
		return err
	})
	return c, created, err
}

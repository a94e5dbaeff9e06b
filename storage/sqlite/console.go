package sqlite

import (
	"context"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

var _ handoff.ConsoleStore = (*Store)(nil)

// SetPassword implements handoff.AuthStore.
func (s *Store) SetPassword(ctx context.Context, tenantID, agentID int64, hash string) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE agents SET password_hash = ?, updated_at = ? WHERE tenant_id = ? AND id = ?`,
			hash, micros(now()), tenantID, agentID)
		return oneRow(res, err, "agent")
	})
}

// Logins implements handoff.AuthStore.
func (s *Store) Logins(ctx context.Context, email string) ([]handoff.Login, error) {
	return queryAll(ctx, s.rd, func(row scanner) (handoff.Login, error) {
		var l handoff.Login
		var err error
		l.Agent, err = scanAgentWith(row, &l.PasswordHash)
		return l, err
	}, `SELECT `+agentColumns+`, password_hash FROM agents WHERE email = ? AND email <> '' ORDER BY tenant_id, id`, strings.ToLower(strings.TrimSpace(email)))
}

const sessionColumns = `token_hash, tenant_id, agent_id, csrf, created_at, seen_at, expires_at`

func scanSession(row scanner) (handoff.Session, error) {
	var s handoff.Session
	var created, seen, expires int64
	err := row.Scan(&s.TokenHash, &s.TenantID, &s.AgentID, &s.CSRF, &created, &seen, &expires)
	s.CreatedAt, s.SeenAt, s.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return s, err
}

// CreateAgentSession implements handoff.AuthStore.
func (s *Store) CreateAgentSession(ctx context.Context, ss handoff.Session) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO agent_sessions (`+sessionColumns+`)
			SELECT ?, tenant_id, id, ?, ?, ?, ? FROM agents WHERE tenant_id = ? AND id = ?`,
			ss.TokenHash, ss.CSRF, micros(ss.CreatedAt), micros(ss.SeenAt), micros(ss.ExpiresAt), ss.TenantID, ss.AgentID)
		if isUnique(err) {
			return conversation.Errorf(conversation.ECONFLICT, "the session token is taken")
		}
		return oneRow(res, err, "agent")
	})
}

// Session implements handoff.AuthStore.
func (s *Store) AgentSession(ctx context.Context, tokenHash string, at time.Time) (handoff.Session, error) {
	ss, err := scanSession(s.rd.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM agent_sessions
		WHERE token_hash = ? AND expires_at > ?`, tokenHash, micros(at)))
	return ss, notFound(err, "session")
}

// TouchAgentSession implements handoff.AuthStore.
func (s *Store) TouchAgentSession(ctx context.Context, tokenHash string, at, expires time.Time) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE agent_sessions SET seen_at = ?, expires_at = ? WHERE token_hash = ? AND expires_at > ?`,
			micros(at), micros(expires), tokenHash, micros(at))
		return oneRow(res, err, "session")
	})
}

// DeleteAgentSession implements handoff.AuthStore.
func (s *Store) DeleteAgentSession(ctx context.Context, tokenHash string) error {
	_, err := s.deleted(ctx, `DELETE FROM agent_sessions WHERE token_hash = ?`, tokenHash)
	return err
}

// DeleteAgentSessions implements handoff.AuthStore.
func (s *Store) DeleteAgentSessions(ctx context.Context, tenantID, agentID int64, keep string) (int, error) {
	return s.deleted(ctx, `DELETE FROM agent_sessions WHERE tenant_id = ? AND agent_id = ? AND token_hash <> ?`, tenantID, agentID, keep)
}

// DeleteExpiredAgentSessions implements handoff.AuthStore.
func (s *Store) DeleteExpiredAgentSessions(ctx context.Context, at time.Time) (int, error) {
	return s.deleted(ctx, `DELETE FROM agent_sessions WHERE expires_at <= ?`, micros(at))
}

// deleted runs a DELETE and returns how many rows it removed.
func (s *Store) deleted(ctx context.Context, query string, args ...any) (int, error) {
	var n int64
	err := s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}

// oneRow turns a statement's result into ENOTFOUND about what when it
// changed no row.
func oneRow(res interface{ RowsAffected() (int64, error) }, err error, what string) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return err
		}
		return conversation.Errorf(conversation.ENOTFOUND, "%s not found", what)
	}
	return nil
}

const noteColumns = `n.id, n.tenant_id, n.conversation_id, n.agent_id, a.name, n.body, n.created_at`

func scanNote(row scanner) (handoff.Note, error) {
	var n handoff.Note
	var created int64
	err := row.Scan(&n.ID, &n.TenantID, &n.ConversationID, &n.AgentID, &n.AgentName, &n.Body, &created)
	n.CreatedAt = fromMicros(created)
	return n, err
}

// CreateNote implements handoff.NoteStore.
func (s *Store) CreateNote(ctx context.Context, n handoff.Note) (handoff.Note, error) {
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now()
	}
	var out handoff.Note
	err := s.write(ctx, func(tx *wtx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `INSERT INTO conversation_notes (tenant_id, conversation_id, agent_id, body, created_at)
			SELECT c.tenant_id, c.id, a.id, ?, ? FROM conversations c JOIN agents a ON a.tenant_id = c.tenant_id
			WHERE c.tenant_id = ? AND c.id = ? AND a.id = ? RETURNING id`,
			n.Body, micros(n.CreatedAt), n.TenantID, n.ConversationID, n.AgentID).Scan(&id)
		if err = notFound(err, "conversation or agent"); err != nil {
			return err
		}
		out, err = scanNote(tx.QueryRowContext(ctx, `SELECT `+noteColumns+` FROM conversation_notes n
			JOIN agents a ON a.id = n.agent_id WHERE n.id = ?`, id))
		return err
	})
	return out, err
}

// Notes implements handoff.NoteStore.
func (s *Store) Notes(ctx context.Context, tenantID, conversationID int64) ([]handoff.Note, error) {
	return queryAll(ctx, s.rd, scanNote, `SELECT `+noteColumns+` FROM conversation_notes n JOIN agents a ON a.id = n.agent_id
		WHERE n.tenant_id = ? AND n.conversation_id = ? ORDER BY n.id`, tenantID, conversationID)
}

const cannedColumns = `id, tenant_id, code, title, body, created_at, updated_at`

func scanCanned(row scanner) (handoff.Canned, error) {
	var c handoff.Canned
	var created, updated int64
	err := row.Scan(&c.ID, &c.TenantID, &c.Code, &c.Title, &c.Body, &created, &updated)
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	return c, err
}

// CreateCanned implements handoff.CannedStore.
func (s *Store) CreateCanned(ctx context.Context, c handoff.Canned) (handoff.Canned, error) {
	ts := micros(now())
	var out handoff.Canned
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanCanned(tx.QueryRowContext(ctx, `INSERT INTO canned_responses (tenant_id, code, title, body, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING `+cannedColumns, c.TenantID, c.Code, c.Title, c.Body, ts, ts))
		return cannedError(err, c.Code)
	})
	return out, err
}

func cannedError(err error, code string) error {
	switch {
	case isUnique(err):
		return conversation.Errorf(conversation.ECONFLICT, "another canned response has the code %q", code)
	case isForeignKey(err):
		return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return notFound(err, "canned response")
}

// UpdateCanned implements handoff.CannedStore.
func (s *Store) UpdateCanned(ctx context.Context, c handoff.Canned) (handoff.Canned, error) {
	var out handoff.Canned
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanCanned(tx.QueryRowContext(ctx, `UPDATE canned_responses SET code = ?, title = ?, body = ?, updated_at = ?
			WHERE tenant_id = ? AND id = ? RETURNING `+cannedColumns, c.Code, c.Title, c.Body, micros(now()), c.TenantID, c.ID))
		return cannedError(err, c.Code)
	})
	return out, err
}

// DeleteCanned implements handoff.CannedStore.
func (s *Store) DeleteCanned(ctx context.Context, tenantID, id int64) error {
	n, err := s.deleted(ctx, `DELETE FROM canned_responses WHERE tenant_id = ? AND id = ?`, tenantID, id)
	if err == nil && n == 0 {
		err = conversation.Errorf(conversation.ENOTFOUND, "canned response not found")
	}
	return err
}

// Canned implements handoff.CannedStore.
func (s *Store) Canned(ctx context.Context, tenantID, id int64) (handoff.Canned, error) {
	c, err := scanCanned(s.rd.QueryRowContext(ctx, `SELECT `+cannedColumns+` FROM canned_responses WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return c, notFound(err, "canned response")
}

// ListCanned implements handoff.CannedStore. The prefix is compared with
// substr, not LIKE, so that its characters are never patterns.
func (s *Store) ListCanned(ctx context.Context, tenantID int64, prefix string, limit int) ([]handoff.Canned, error) {
	if limit <= 0 {
		limit = -1
	}
	return queryAll(ctx, s.rd, scanCanned, `SELECT `+cannedColumns+` FROM canned_responses
		WHERE tenant_id = ? AND substr(code, 1, ?) = ? ORDER BY code LIMIT ?`, tenantID, len([]rune(prefix)), prefix, limit)
}

var _ handoff.ViewStore = (*Store)(nil)

// ContactConversations implements handoff.ViewStore. The first message's
// time is one lookup of seq 1 in messages_seq per conversation.
func (s *Store) ContactConversations(ctx context.Context, tenantID, contactID int64, limit int) ([]handoff.ConversationSummary, error) {
	return queryAll(ctx, s.rd, func(row scanner) (handoff.ConversationSummary, error) {
		var cs handoff.ConversationSummary
		var first int64
		var err error
		cs.Conversation, err = scanConversationWith(row, &cs.AssigneeName, &first)
		cs.Messages, cs.FirstMessageAt = cs.LastSeq, fromMicros(first)
		return cs, err
	}, `SELECT `+conversationColumns+`,
			coalesce((SELECT name FROM agents WHERE agents.id = conversations.assignee_id AND agents.tenant_id = conversations.tenant_id), ''),
			coalesce((SELECT created_at FROM messages WHERE messages.conversation_id = conversations.id AND messages.seq = 1), 0)
		FROM conversations WHERE tenant_id = ? AND contact_id = ? ORDER BY last_message_at DESC, id DESC LIMIT ?`,
		tenantID, contactID, limit)
}

// ContactNotes implements handoff.ViewStore.
func (s *Store) ContactNotes(ctx context.Context, tenantID, contactID int64, limit int) ([]handoff.Note, error) {
	return queryAll(ctx, s.rd, scanNote, `SELECT `+noteColumns+` FROM conversation_notes n JOIN agents a ON a.id = n.agent_id
		WHERE n.tenant_id = ? AND n.conversation_id IN (SELECT id FROM conversations WHERE tenant_id = ? AND contact_id = ?)
		ORDER BY n.id DESC LIMIT ?`, tenantID, tenantID, contactID, limit)
}

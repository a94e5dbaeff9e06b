package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"conversa/conversation"
	"conversa/handoff"
)

var _ handoff.ConsoleStore = (*Store)(nil)

// SetPassword implements handoff.AuthStore.
func (s *Store) SetPassword(ctx context.Context, tenantID, agentID int64, hash string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE agents SET password_hash = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2`,
		tenantID, agentID, hash, now())
	return oneRow(tag, err, "agent")
}

// Logins implements handoff.AuthStore.
func (s *Store) Logins(ctx context.Context, email string) ([]handoff.Login, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (handoff.Login, error) {
		var l handoff.Login
		var err error
		l.Agent, err = scanAgentWith(row, &l.PasswordHash)
		return l, err
	}, `SELECT `+agentColumns+`, password_hash FROM agents WHERE email = $1 AND email <> '' ORDER BY tenant_id, id`,
		strings.ToLower(strings.TrimSpace(email)))
}

const sessionColumns = `token_hash, tenant_id, agent_id, csrf, created_at, seen_at, expires_at`

func scanSession(row pgx.Row) (handoff.Session, error) {
	var s handoff.Session
	err := row.Scan(&s.TokenHash, &s.TenantID, &s.AgentID, &s.CSRF, &s.CreatedAt, &s.SeenAt, &s.ExpiresAt)
	s.CreatedAt, s.SeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.SeenAt.UTC(), s.ExpiresAt.UTC()
	return s, err
}

// CreateAgentSession implements handoff.AuthStore.
func (s *Store) CreateAgentSession(ctx context.Context, ss handoff.Session) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO agent_sessions (`+sessionColumns+`)
		SELECT $1, tenant_id, id, $2, $3, $4, $5 FROM agents WHERE tenant_id = $6 AND id = $7`,
		ss.TokenHash, ss.CSRF, micro(ss.CreatedAt), micro(ss.SeenAt), micro(ss.ExpiresAt), ss.TenantID, ss.AgentID)
	if isUnique(err) {
		return conversation.Errorf(conversation.ECONFLICT, "the session token is taken")
	}
	return oneRow(tag, err, "agent")
}

// AgentSession implements handoff.AuthStore.
func (s *Store) AgentSession(ctx context.Context, tokenHash string, at time.Time) (handoff.Session, error) {
	ss, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM agent_sessions
		WHERE token_hash = $1 AND expires_at > $2`, tokenHash, micro(at)))
	return ss, notFound(err, "session")
}

// TouchAgentSession implements handoff.AuthStore.
func (s *Store) TouchAgentSession(ctx context.Context, tokenHash string, at, expires time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE agent_sessions SET seen_at = $2, expires_at = $3 WHERE token_hash = $1 AND expires_at > $2`,
		tokenHash, micro(at), micro(expires))
	return oneRow(tag, err, "session")
}

// DeleteAgentSession implements handoff.AuthStore.
func (s *Store) DeleteAgentSession(ctx context.Context, tokenHash string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM agent_sessions WHERE token_hash = $1`, tokenHash)
	return err
}

// DeleteAgentSessions implements handoff.AuthStore.
func (s *Store) DeleteAgentSessions(ctx context.Context, tenantID, agentID int64, keep string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM agent_sessions WHERE tenant_id = $1 AND agent_id = $2 AND token_hash <> $3`, tenantID, agentID, keep)
	return int(tag.RowsAffected()), err
}

// DeleteExpiredAgentSessions implements handoff.AuthStore.
func (s *Store) DeleteExpiredAgentSessions(ctx context.Context, at time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM agent_sessions WHERE expires_at <= $1`, micro(at))
	return int(tag.RowsAffected()), err
}

// oneRow turns a statement's result into ENOTFOUND about what when it
// changed no row.
func oneRow(tag pgconn.CommandTag, err error, what string) error {
	if err == nil && tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "%s not found", what)
	}
	return err
}

const noteColumns = `n.id, n.tenant_id, n.conversation_id, n.agent_id, a.name, n.body, n.created_at`

func scanNote(row pgx.Row) (handoff.Note, error) {
	var n handoff.Note
	err := row.Scan(&n.ID, &n.TenantID, &n.ConversationID, &n.AgentID, &n.AgentName, &n.Body, &n.CreatedAt)
	n.CreatedAt = n.CreatedAt.UTC()
	return n, err
}

// CreateNote implements handoff.NoteStore.
func (s *Store) CreateNote(ctx context.Context, n handoff.Note) (handoff.Note, error) {
	if n.CreatedAt.IsZero() {
		n.CreatedAt = now()
	}
	out, err := scanNote(s.pool.QueryRow(ctx, `WITH n AS (INSERT INTO conversation_notes (tenant_id, conversation_id, agent_id, body, created_at)
			SELECT c.tenant_id, c.id, a.id, $4, $5 FROM conversations c JOIN agents a ON a.tenant_id = c.tenant_id
			WHERE c.tenant_id = $1 AND c.id = $2 AND a.id = $3 RETURNING *)
		SELECT `+noteColumns+` FROM n JOIN agents a ON a.id = n.agent_id`,
		n.TenantID, n.ConversationID, n.AgentID, n.Body, micro(n.CreatedAt)))
	return out, notFound(err, "conversation or agent")
}

// Notes implements handoff.NoteStore.
func (s *Store) Notes(ctx context.Context, tenantID, conversationID int64) ([]handoff.Note, error) {
	return queryAll(ctx, s.pool, scanNote, `SELECT `+noteColumns+` FROM conversation_notes n JOIN agents a ON a.id = n.agent_id
		WHERE n.tenant_id = $1 AND n.conversation_id = $2 ORDER BY n.id`, tenantID, conversationID)
}

const cannedColumns = `id, tenant_id, code, title, body, created_at, updated_at`

func scanCanned(row pgx.Row) (handoff.Canned, error) {
	var c handoff.Canned
	err := row.Scan(&c.ID, &c.TenantID, &c.Code, &c.Title, &c.Body, &c.CreatedAt, &c.UpdatedAt)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, err
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

// CreateCanned implements handoff.CannedStore.
func (s *Store) CreateCanned(ctx context.Context, c handoff.Canned) (handoff.Canned, error) {
	out, err := scanCanned(s.pool.QueryRow(ctx, `INSERT INTO canned_responses (tenant_id, code, title, body, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $5) RETURNING `+cannedColumns, c.TenantID, c.Code, c.Title, c.Body, now()))
	return out, cannedError(err, c.Code)
}

// UpdateCanned implements handoff.CannedStore.
func (s *Store) UpdateCanned(ctx context.Context, c handoff.Canned) (handoff.Canned, error) {
	out, err := scanCanned(s.pool.QueryRow(ctx, `UPDATE canned_responses SET code = $3, title = $4, body = $5, updated_at = $6
		WHERE tenant_id = $1 AND id = $2 RETURNING `+cannedColumns, c.TenantID, c.ID, c.Code, c.Title, c.Body, now()))
	return out, cannedError(err, c.Code)
}

// DeleteCanned implements handoff.CannedStore.
func (s *Store) DeleteCanned(ctx context.Context, tenantID, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM canned_responses WHERE tenant_id = $1 AND id = $2`, tenantID, id)
	return oneRow(tag, err, "canned response")
}

// Canned implements handoff.CannedStore.
func (s *Store) Canned(ctx context.Context, tenantID, id int64) (handoff.Canned, error) {
	c, err := scanCanned(s.pool.QueryRow(ctx, `SELECT `+cannedColumns+` FROM canned_responses WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return c, notFound(err, "canned response")
}

// ListCanned implements handoff.CannedStore. The prefix is compared with
// left(), not LIKE, so that its characters are never patterns.
func (s *Store) ListCanned(ctx context.Context, tenantID int64, prefix string, limit int) ([]handoff.Canned, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	return queryAll(ctx, s.pool, scanCanned, `SELECT `+cannedColumns+` FROM canned_responses
		WHERE tenant_id = $1 AND left(code, $2::int) = $3 ORDER BY code COLLATE "C" LIMIT $4`, tenantID, len([]rune(prefix)), prefix, lim)
}

var _ handoff.ViewStore = (*Store)(nil)

// ContactConversations implements handoff.ViewStore. The first message's
// time is one lookup of seq 1 in messages_seq per conversation.
func (s *Store) ContactConversations(ctx context.Context, tenantID, contactID int64, limit int) ([]handoff.ConversationSummary, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (handoff.ConversationSummary, error) {
		var cs handoff.ConversationSummary
		var first *time.Time
		var err error
		cs.Conversation, err = scanConversationWith(row, &cs.AssigneeName, &first)
		cs.Messages, cs.FirstMessageAt = cs.LastSeq, timeOf(first)
		return cs, err
	}, `SELECT `+conversationColumns+`,
			coalesce((SELECT name FROM agents WHERE agents.id = conversations.assignee_id AND agents.tenant_id = conversations.tenant_id), ''),
			(SELECT created_at FROM messages WHERE messages.conversation_id = conversations.id AND messages.seq = 1)
		FROM conversations WHERE tenant_id = $1 AND contact_id = $2 ORDER BY last_message_at DESC, id DESC LIMIT $3`,
		tenantID, contactID, limit)
}

// ContactNotes implements handoff.ViewStore.
func (s *Store) ContactNotes(ctx context.Context, tenantID, contactID int64, limit int) ([]handoff.Note, error) {
	return queryAll(ctx, s.pool, scanNote, `SELECT `+noteColumns+` FROM conversation_notes n JOIN agents a ON a.id = n.agent_id
		WHERE n.tenant_id = $1 AND n.conversation_id IN (SELECT id FROM conversations WHERE tenant_id = $1 AND contact_id = $2)
		ORDER BY n.id DESC LIMIT $3`, tenantID, contactID, limit)
}

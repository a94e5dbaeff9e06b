package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/bot"
	"conversa/conversation"
)

var _ bot.Store = (*Store)(nil)

// versionColumns are the columns of a listed version: all but its source,
// model and report.
const versionColumns = `tenant_id, number, checksum, active, note, created_at, activated_at`

func scanVersion(row pgx.Row) (bot.Version, error) {
	var v bot.Version
	err := scanVersionInto(row, &v)
	return v, err
}

// scanVersionInto scans the versionColumns, and then into blobs, if any.
func scanVersionInto(row pgx.Row, v *bot.Version, blobs ...any) error {
	var activated *time.Time
	err := row.Scan(append([]any{&v.TenantID, &v.Number, &v.Checksum, &v.Active, &v.Note, &v.CreatedAt, &activated}, blobs...)...)
	v.CreatedAt, v.ActivatedAt = v.CreatedAt.UTC(), timeOf(activated)
	return err
}

// orEmpty stores a nil slice as an empty bytea, for NOT NULL columns.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// lockTenant locks the tenant's row until tx ends, so that the tenant's
// bot versions change one transaction at a time. FOR NO KEY UPDATE lets
// inserts that reference the tenant go on. Returns ENOTFOUND if the tenant
// does not exist.
func lockTenant(ctx context.Context, tx pgx.Tx, tenantID int64) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE`, tenantID).Scan(&one)
	return notFound(err, "tenant")
}

// CreateBotVersion implements bot.Store. The number is taken under the
// tenant's lock: the insert, a statement after the lock, sees every
// version committed before it.
func (s *Store) CreateBotVersion(ctx context.Context, v *bot.Version) error {
	ts := now()
	var number int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockTenant(ctx, tx, v.TenantID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO bot_versions (tenant_id, number, checksum, note, created_at, source, model, report)
			SELECT $1, coalesce(max(number), 0) + 1, $2, $3, $4, $5, $6, $7 FROM bot_versions WHERE tenant_id = $1
			RETURNING number`,
			v.TenantID, v.Checksum, v.Note, ts, orEmpty(s.sealer.SealBytes(bot.SourcePurpose(v.TenantID), v.Source)), orEmpty(v.Model), orEmpty(v.Report)).Scan(&number)
	})
	if err != nil {
		return err
	}
	v.Number, v.CreatedAt, v.Active, v.ActivatedAt = number, ts, false, time.Time{}
	return nil
}

// BotVersion implements bot.Store.
func (s *Store) BotVersion(ctx context.Context, tenantID, number int64) (bot.Version, error) {
	var v bot.Version
	err := scanVersionInto(s.pool.QueryRow(ctx, `SELECT `+versionColumns+`, source, model, report FROM bot_versions
		WHERE tenant_id = $1 AND number = $2`, tenantID, number), &v, &v.Source, &v.Model, &v.Report)
	if err != nil {
		return v, notFound(err, "bot version")
	}
	if v.Source, err = s.sealer.OpenBytes(bot.SourcePurpose(tenantID), v.Source); err != nil {
		return bot.Version{}, fmt.Errorf("bot version %d: %w", number, err)
	}
	return v, nil
}

// SealBotSources implements bot.Store, one version at a time, so that a
// store of many large definitions is never in memory at once. Sources are
// never rewritten, so a version sealed meanwhile (by another node starting)
// is left as it is.
func (s *Store) SealBotSources(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, nil
	}
	type key struct{ tenantID, number int64 }
	keys, err := queryAll(ctx, s.pool, func(row pgx.Row) (key, error) {
		var k key
		return k, row.Scan(&k.tenantID, &k.number)
	}, `SELECT tenant_id, number FROM bot_versions
		WHERE length(source) > 0 AND substring(source FROM 1 FOR 7) <> 'enc:v1:'::bytea ORDER BY tenant_id, number`)
	if err != nil {
		return 0, fmt.Errorf("read the clear bot sources: %w", err)
	}
	n := 0
	for _, k := range keys {
		var src []byte
		err := s.pool.QueryRow(ctx, `SELECT source FROM bot_versions WHERE tenant_id = $1 AND number = $2`, k.tenantID, k.number).Scan(&src)
		if err != nil {
			return n, fmt.Errorf("read the source of bot version %d of tenant %d: %w", k.number, k.tenantID, err)
		}
		if conversation.IsSealedBytes(src) {
			continue
		}
		tag, err := s.pool.Exec(ctx, `UPDATE bot_versions SET source = $1 WHERE tenant_id = $2 AND number = $3 AND source = $4`,
			s.sealer.SealBytes(bot.SourcePurpose(k.tenantID), src), k.tenantID, k.number, src)
		if err != nil {
			return n, fmt.Errorf("seal the source of bot version %d of tenant %d: %w", k.number, k.tenantID, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

// BotVersions implements bot.Store.
func (s *Store) BotVersions(ctx context.Context, tenantID int64) ([]bot.Version, error) {
	return queryAll(ctx, s.pool, scanVersion,
		`SELECT `+versionColumns+` FROM bot_versions WHERE tenant_id = $1 ORDER BY number DESC`, tenantID)
}

// ActivateBotVersion implements bot.Store. It runs under the tenant's lock:
// two activations at once would otherwise both deactivate the same version
// and collide on the index of active versions. Activating the active
// version changes nothing.
func (s *Store) ActivateBotVersion(ctx context.Context, tenantID, number int64) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockTenant(ctx, tx, tenantID); err != nil {
			return err
		}
		var was bool
		err := tx.QueryRow(ctx, `SELECT active FROM bot_versions WHERE tenant_id = $1 AND number = $2`, tenantID, number).Scan(&was)
		if err != nil || was {
			return notFound(err, "bot version")
		}
		if _, err := tx.Exec(ctx, `UPDATE bot_versions SET active = false WHERE tenant_id = $1 AND active`, tenantID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE bot_versions SET active = true, activated_at = $3 WHERE tenant_id = $1 AND number = $2`,
			tenantID, number, now())
		return err
	})
}

// ActiveBotVersion implements bot.Store.
func (s *Store) ActiveBotVersion(ctx context.Context, tenantID int64) (int64, error) {
	var number int64
	err := s.pool.QueryRow(ctx, `SELECT number FROM bot_versions WHERE tenant_id = $1 AND active`, tenantID).Scan(&number)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return number, err
}

// Session implements bot.Store.
func (s *Store) Session(ctx context.Context, tenantID, conversationID int64) (bot.Session, error) {
	sess := bot.Session{TenantID: tenantID, ConversationID: conversationID}
	err := s.pool.QueryRow(ctx, `SELECT version, state, updated_at FROM bot_sessions WHERE tenant_id = $1 AND conversation_id = $2`,
		tenantID, conversationID).Scan(&sess.Version, &sess.State, &sess.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return sess, nil
	}
	sess.UpdatedAt = sess.UpdatedAt.UTC()
	return sess, err
}

// SaveSession implements bot.Store. The first save of a conversation's
// session returns ENOTFOUND unless the conversation is the tenant's. On
// success it also sets s.UpdatedAt.
func (s *Store) SaveSession(ctx context.Context, sess *bot.Session) error {
	ts := now()
	var version int64
	if sess.Version != 0 {
		err := s.pool.QueryRow(ctx, `UPDATE bot_sessions SET version = version + 1, state = $4, updated_at = $5
			WHERE tenant_id = $1 AND conversation_id = $2 AND version = $3 RETURNING version`,
			sess.TenantID, sess.ConversationID, sess.Version, orEmpty(sess.State), ts).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return conversation.Errorf(conversation.ECONFLICT, "the bot session changed")
		}
		if err != nil {
			return err
		}
		sess.Version, sess.UpdatedAt = version, ts
		return nil
	}
	// One statement: insert unless a session exists, and say whether the
	// conversation is the tenant's.
	var conv bool
	var inserted *int64
	err := s.pool.QueryRow(ctx, `
		WITH c AS (
			SELECT id FROM conversations WHERE id = $2 AND tenant_id = $1
		), i AS (
			INSERT INTO bot_sessions (tenant_id, conversation_id, version, state, updated_at)
			SELECT $1, c.id, 1, $3, $4 FROM c
			ON CONFLICT (tenant_id, conversation_id) DO NOTHING
			RETURNING version
		)
		SELECT EXISTS (SELECT 1 FROM c), (SELECT version FROM i)`,
		sess.TenantID, sess.ConversationID, orEmpty(sess.State), ts).Scan(&conv, &inserted)
	switch {
	case err != nil:
		return err
	case !conv:
		return conversation.Errorf(conversation.ENOTFOUND, "conversation not found")
	case inserted == nil:
		return conversation.Errorf(conversation.ECONFLICT, "the bot session changed")
	}
	sess.Version, sess.UpdatedAt = *inserted, ts
	return nil
}

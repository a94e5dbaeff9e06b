package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"conversa/bot"
	"conversa/conversation"
)

var _ bot.Store = (*Store)(nil)

// versionColumns are the columns of a listed version: all but its source,
// model and report.
const versionColumns = `tenant_id, number, checksum, active, note, created_at, activated_at`

func scanVersion(row scanner) (bot.Version, error) {
	var v bot.Version
	err := scanVersionInto(row, &v)
	return v, err
}

// scanVersionInto scans the versionColumns, and then into blobs, if any.
func scanVersionInto(row scanner, v *bot.Version, blobs ...any) error {
	var created, activated int64
	err := row.Scan(append([]any{&v.TenantID, &v.Number, &v.Checksum, &v.Active, &v.Note, &created, &activated}, blobs...)...)
	v.CreatedAt, v.ActivatedAt = fromMicros(created), fromMicros(activated)
	return err
}

// orEmpty stores a nil slice as an empty blob, for NOT NULL columns.
func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// CreateBotVersion implements bot.Store. Writes are serialized, so the next
// number is the tenant's highest plus one.
func (s *Store) CreateBotVersion(ctx context.Context, v *bot.Version) error {
	ts := now()
	var number int64
	err := s.write(ctx, func(tx *wtx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO bot_versions (tenant_id, number, checksum, note, created_at, source, model, report)
			VALUES (?, (SELECT coalesce(max(number), 0) + 1 FROM bot_versions WHERE tenant_id = ?), ?, ?, ?, ?, ?, ?)
			RETURNING number`,
			v.TenantID, v.TenantID, v.Checksum, v.Note, micros(ts), orEmpty(s.sealer.SealBytes(bot.SourcePurpose(v.TenantID), v.Source)), orEmpty(v.Model), orEmpty(v.Report)).Scan(&number)
	})
	if isForeignKey(err) {
		return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	if err != nil {
		return err
	}
	v.Number, v.CreatedAt, v.Active, v.ActivatedAt = number, ts, false, time.Time{}
	return nil
}

// BotVersion implements bot.Store.
func (s *Store) BotVersion(ctx context.Context, tenantID, number int64) (bot.Version, error) {
	var v bot.Version
	err := scanVersionInto(s.rd.QueryRowContext(ctx, `SELECT `+versionColumns+`, source, model, report FROM bot_versions
		WHERE tenant_id = ? AND number = ?`, tenantID, number), &v, &v.Source, &v.Model, &v.Report)
	if err != nil {
		return v, notFound(err, "bot version")
	}
	if v.Source, err = s.sealer.OpenBytes(bot.SourcePurpose(tenantID), v.Source); err != nil {
		return bot.Version{}, fmt.Errorf("bot version %d: %w", number, err)
	}
	return v, nil
}

// SealBotSources implements bot.Store, one version per write, so that a
// store of many large definitions is never in memory at once.
func (s *Store) SealBotSources(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, nil
	}
	type key struct{ tenantID, number int64 }
	keys, err := queryAll(ctx, s.rd, func(row scanner) (key, error) {
		var k key
		return k, row.Scan(&k.tenantID, &k.number)
	}, `SELECT tenant_id, number FROM bot_versions
		WHERE length(source) > 0 AND substr(source, 1, 7) <> CAST('enc:v1:' AS BLOB) ORDER BY tenant_id, number`)
	if err != nil {
		return 0, fmt.Errorf("read the clear bot sources: %w", err)
	}
	n := 0
	for _, k := range keys {
		err := s.write(ctx, func(tx *wtx) error {
			var src []byte
			if err := tx.QueryRowContext(ctx, `SELECT source FROM bot_versions WHERE tenant_id = ? AND number = ?`, k.tenantID, k.number).Scan(&src); err != nil {
				return err
			}
			if conversation.IsSealedBytes(src) {
				return nil
			}
			if _, err := tx.ExecContext(ctx, `UPDATE bot_versions SET source = ? WHERE tenant_id = ? AND number = ?`,
				s.sealer.SealBytes(bot.SourcePurpose(k.tenantID), src), k.tenantID, k.number); err != nil {
				return err
			}
			n++
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("seal the source of bot version %d of tenant %d: %w", k.number, k.tenantID, err)
		}
	}
	return n, nil
}

// BotVersions implements bot.Store.
func (s *Store) BotVersions(ctx context.Context, tenantID int64) ([]bot.Version, error) {
	return queryAll(ctx, s.rd, scanVersion,
		`SELECT `+versionColumns+` FROM bot_versions WHERE tenant_id = ? ORDER BY number DESC`, tenantID)
}

// ActivateBotVersion implements bot.Store. Activating the active version
// changes nothing.
func (s *Store) ActivateBotVersion(ctx context.Context, tenantID, number int64) error {
	return s.write(ctx, func(tx *wtx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE bot_versions SET active = 0 WHERE tenant_id = ? AND active = 1 AND number <> ?`,
			tenantID, number); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE bot_versions SET active = 1, activated_at = ? WHERE tenant_id = ? AND number = ? AND active = 0`,
			micros(now()), tenantID, number)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		// Already active, or missing (and then the rollback restores the
		// version the first statement deactivated).
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM bot_versions WHERE tenant_id = ? AND number = ?`, tenantID, number).Scan(&one)
		return notFound(err, "bot version")
	})
}

// ActiveBotVersion implements bot.Store.
func (s *Store) ActiveBotVersion(ctx context.Context, tenantID int64) (int64, error) {
	var number int64
	err := s.rd.QueryRowContext(ctx, `SELECT number FROM bot_versions WHERE tenant_id = ? AND active = 1`, tenantID).Scan(&number)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return number, err
}

// Session implements bot.Store.
func (s *Store) Session(ctx context.Context, tenantID, conversationID int64) (bot.Session, error) {
	sess := bot.Session{TenantID: tenantID, ConversationID: conversationID}
	var updated int64
	err := s.rd.QueryRowContext(ctx, `SELECT version, state, updated_at FROM bot_sessions WHERE tenant_id = ? AND conversation_id = ?`,
		tenantID, conversationID).Scan(&sess.Version, &sess.State, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, nil
	}
	sess.UpdatedAt = fromMicros(updated)
	return sess, err
}

// SaveSession implements bot.Store. The first save of a conversation's
// session returns ENOTFOUND unless the conversation is the tenant's. On
// success it also sets s.UpdatedAt.
func (s *Store) SaveSession(ctx context.Context, sess *bot.Session) error {
	ts := now()
	var version int64
	err := s.write(ctx, func(tx *wtx) error {
		if sess.Version != 0 {
			err := tx.QueryRowContext(ctx, `UPDATE bot_sessions SET version = version + 1, state = ?, updated_at = ?
				WHERE tenant_id = ? AND conversation_id = ? AND version = ? RETURNING version`,
				orEmpty(sess.State), micros(ts), sess.TenantID, sess.ConversationID, sess.Version).Scan(&version)
			if errors.Is(err, sql.ErrNoRows) {
				return conversation.Errorf(conversation.ECONFLICT, "the bot session changed")
			}
			return err
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO bot_sessions (tenant_id, conversation_id, version, state, updated_at)
			SELECT tenant_id, id, 1, ?, ? FROM conversations WHERE id = ? AND tenant_id = ?
			ON CONFLICT (tenant_id, conversation_id) DO NOTHING RETURNING version`,
			orEmpty(sess.State), micros(ts), sess.ConversationID, sess.TenantID).Scan(&version)
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM conversations WHERE id = ? AND tenant_id = ?`, sess.ConversationID, sess.TenantID).Scan(&one)
		if err != nil {
			return notFound(err, "conversation")
		}
		return conversation.Errorf(conversation.ECONFLICT, "the bot session changed")
	})
	if err != nil {
		return err
	}
	sess.Version, sess.UpdatedAt = version, ts
	return nil
}

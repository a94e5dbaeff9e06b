package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/templates"
)

var _ templates.Store = (*Store)(nil)

// templateColumns are the columns of a listed template version: all but
// its source.
const templateColumns = `tenant_id, purpose, number, checksum, created_at`

func scanTemplateVersion(row pgx.Row) (templates.Version, error) {
	var v templates.Version
	err := row.Scan(&v.TenantID, &v.Purpose, &v.Number, &v.Checksum, &v.CreatedAt)
	v.CreatedAt = v.CreatedAt.UTC()
	return v, err
}

func scanTemplateSource(row pgx.Row) (templates.Version, error) {
	var v templates.Version
	err := row.Scan(&v.TenantID, &v.Purpose, &v.Number, &v.Checksum, &v.CreatedAt, &v.Source)
	v.CreatedAt = v.CreatedAt.UTC()
	return v, err
}

// SaveTemplate implements templates.Store. The purpose's row is created if
// missing and locked, so concurrent saves of one purpose take turns and
// each reads the latest version that the one before it stored.
func (s *Store) SaveTemplate(ctx context.Context, v *templates.Version) (bool, error) {
	var out templates.Version
	created := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO templates (tenant_id, purpose, latest) VALUES ($1, $2, 0)
			ON CONFLICT (tenant_id, purpose) DO NOTHING`, v.TenantID, v.Purpose)
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		if err != nil {
			return err
		}
		var latest int64
		var deleted bool
		if err := tx.QueryRow(ctx, `SELECT latest, deleted_at IS NOT NULL FROM templates
			WHERE tenant_id = $1 AND purpose = $2 FOR UPDATE`, v.TenantID, v.Purpose).Scan(&latest, &deleted); err != nil {
			return err
		}
		if latest > 0 && !deleted {
			cur, err := scanTemplateSource(tx.QueryRow(ctx, `SELECT `+templateColumns+`, source FROM template_versions
				WHERE tenant_id = $1 AND purpose = $2 AND number = $3`, v.TenantID, v.Purpose, latest))
			if err != nil {
				return err
			}
			if cur.Checksum == v.Checksum {
				out = cur
				return nil
			}
		}
		ts := now()
		if _, err := tx.Exec(ctx, `UPDATE templates SET latest = $3, deleted_at = NULL WHERE tenant_id = $1 AND purpose = $2`,
			v.TenantID, v.Purpose, latest+1); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO template_versions (tenant_id, purpose, number, checksum, created_at, source)
			VALUES ($1, $2, $3, $4, $5, $6)`, v.TenantID, v.Purpose, latest+1, v.Checksum, ts, orEmpty(v.Source)); err != nil {
			return err
		}
		out = templates.Version{TenantID: v.TenantID, Purpose: v.Purpose, Number: latest + 1, Checksum: v.Checksum,
			Source: v.Source, CreatedAt: ts}
		created = true
		return nil
	})
	if err != nil {
		return false, err
	}
	*v = out
	return created, nil
}

// Template implements templates.Store.
func (s *Store) Template(ctx context.Context, tenantID int64, purpose string) (templates.Version, error) {
	v, err := scanTemplateSource(s.pool.QueryRow(ctx, `SELECT v.tenant_id, v.purpose, v.number, v.checksum, v.created_at, v.source
		FROM templates t JOIN template_versions v ON v.tenant_id = t.tenant_id AND v.purpose = t.purpose AND v.number = t.latest
		WHERE t.tenant_id = $1 AND t.purpose = $2 AND t.deleted_at IS NULL`, tenantID, purpose))
	return v, notFound(err, "template")
}

// TemplateVersion implements templates.Store.
func (s *Store) TemplateVersion(ctx context.Context, tenantID int64, purpose string, number int64) (templates.Version, error) {
	v, err := scanTemplateSource(s.pool.QueryRow(ctx, `SELECT `+templateColumns+`, source FROM template_versions
		WHERE tenant_id = $1 AND purpose = $2 AND number = $3`, tenantID, purpose, number))
	return v, notFound(err, "template version")
}

// TemplateVersions implements templates.Store.
func (s *Store) TemplateVersions(ctx context.Context, tenantID int64, purpose string) ([]templates.Version, error) {
	vs, err := queryAll(ctx, s.pool, scanTemplateVersion, `SELECT `+templateColumns+` FROM template_versions
		WHERE tenant_id = $1 AND purpose = $2 ORDER BY number DESC`, tenantID, purpose)
	if err == nil && len(vs) == 0 {
		err = conversation.Errorf(conversation.ENOTFOUND, "template not found")
	}
	return vs, err
}

// ListTemplates implements templates.Store.
func (s *Store) ListTemplates(ctx context.Context, tenantID int64) ([]templates.Version, error) {
	return queryAll(ctx, s.pool, scanTemplateVersion, `SELECT v.tenant_id, v.purpose, v.number, v.checksum, v.created_at
		FROM templates t JOIN template_versions v ON v.tenant_id = t.tenant_id AND v.purpose = t.purpose AND v.number = t.latest
		WHERE t.tenant_id = $1 AND t.deleted_at IS NULL ORDER BY t.purpose COLLATE "C"`, tenantID)
}

// DeleteTemplate implements templates.Store.
func (s *Store) DeleteTemplate(ctx context.Context, tenantID int64, purpose string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE templates SET deleted_at = $3 WHERE tenant_id = $1 AND purpose = $2 AND deleted_at IS NULL`,
		tenantID, purpose, now())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "template not found")
	}
	return nil
}

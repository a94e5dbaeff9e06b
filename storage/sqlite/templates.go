package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"

	"conversa/conversation"
	"conversa/templates"
)

var _ templates.Store = (*Store)(nil)

// templateColumns are the columns of a listed template version: all but
// its source.
const templateColumns = `tenant_id, purpose, number, checksum, created_at`

func scanTemplateVersion(row scanner, blobs ...any) (templates.Version, error) {
	var v templates.Version
	var created int64
	err := row.Scan(append([]any{&v.TenantID, &v.Purpose, &v.Number, &v.Checksum, &created}, blobs...)...)
	v.CreatedAt = fromMicros(created)
	return v, err
}

// SaveTemplate implements templates.Store. Writes are serialized, so the
// latest number read in the transaction is the latest.
func (s *Store) SaveTemplate(ctx context.Context, v *templates.Version) (bool, error) {
	var out templates.Version
	created := false
	err := s.write(ctx, func(tx *wtx) error {
		var latest, deleted int64
		err := tx.QueryRowContext(ctx, `SELECT latest, deleted_at FROM templates WHERE tenant_id = ? AND purpose = ?`,
			v.TenantID, v.Purpose).Scan(&latest, &deleted)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if latest > 0 && deleted == 0 {
			var src []byte
			cur, err := scanTemplateVersion(tx.QueryRowContext(ctx, `SELECT `+templateColumns+`, source FROM template_versions
				WHERE tenant_id = ? AND purpose = ? AND number = ?`, v.TenantID, v.Purpose, latest), &src)
			if err != nil {
				return err
			}
			if cur.Checksum == v.Checksum {
				cur.Source = src
				out = cur
				return nil
			}
		}
		ts := now()
		_, err = tx.ExecContext(ctx, `INSERT INTO templates (tenant_id, purpose, latest) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id, purpose) DO UPDATE SET latest = excluded.latest, deleted_at = 0`,
			v.TenantID, v.Purpose, latest+1)
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO template_versions (tenant_id, purpose, number, checksum, created_at, source)
			VALUES (?, ?, ?, ?, ?, ?)`, v.TenantID, v.Purpose, latest+1, v.Checksum, micros(ts), orEmpty(v.Source))
		if err != nil {
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
	var src []byte
	v, err := scanTemplateVersion(s.rd.QueryRowContext(ctx, `SELECT v.tenant_id, v.purpose, v.number, v.checksum, v.created_at, v.source
		FROM templates t JOIN template_versions v ON v.tenant_id = t.tenant_id AND v.purpose = t.purpose AND v.number = t.latest
		WHERE t.tenant_id = ? AND t.purpose = ? AND t.deleted_at = 0`, tenantID, purpose), &src)
	v.Source = src
	return v, notFound(err, "template")
}

// TemplateVersion implements templates.Store.
func (s *Store) TemplateVersion(ctx context.Context, tenantID int64, purpose string, number int64) (templates.Version, error) {
	var src []byte
	v, err := scanTemplateVersion(s.rd.QueryRowContext(ctx, `SELECT `+templateColumns+`, source FROM template_versions
		WHERE tenant_id = ? AND purpose = ? AND number = ?`, tenantID, purpose, number), &src)
	v.Source = src
	return v, notFound(err, "template version")
}

// TemplateVersions implements templates.Store.
func (s *Store) TemplateVersions(ctx context.Context, tenantID int64, purpose string) ([]templates.Version, error) {
	vs, err := s.templateVersions(ctx, `SELECT `+templateColumns+` FROM template_versions
		WHERE tenant_id = ? AND purpose = ? ORDER BY number DESC`, tenantID, purpose)
	if err == nil && len(vs) == 0 {
		err = conversation.Errorf(conversation.ENOTFOUND, "template not found")
	}
	return vs, err
}

// ListTemplates implements templates.Store.
func (s *Store) ListTemplates(ctx context.Context, tenantID int64) ([]templates.Version, error) {
	return s.templateVersions(ctx, `SELECT v.tenant_id, v.purpose, v.number, v.checksum, v.created_at
		FROM templates t JOIN template_versions v ON v.tenant_id = t.tenant_id AND v.purpose = t.purpose AND v.number = t.latest
		WHERE t.tenant_id = ? AND t.deleted_at = 0 ORDER BY t.purpose`, tenantID)
}

func (s *Store) templateVersions(ctx context.Context, query string, args ...any) ([]templates.Version, error) {
	rows, err := s.rd.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []templates.Version
	for rows.Next() {
		v, err := scanTemplateVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// DeleteTemplate implements templates.Store.
func (s *Store) DeleteTemplate(ctx context.Context, tenantID int64, purpose string) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE templates SET deleted_at = ? WHERE tenant_id = ? AND purpose = ? AND deleted_at = 0`,
			micros(now()), tenantID, purpose)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp.Or(err, error(conversation.Errorf(conversation.ENOTFOUND, "template not found")))
		}
		return nil
	})
}

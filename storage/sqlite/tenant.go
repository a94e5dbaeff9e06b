package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"conversa/conversation"
)

const tenantColumns = `id, slug, name, language, region, time_zone, created_at, updated_at`

func scanTenant(row scanner) (conversation.Tenant, error) {
	var t conversation.Tenant
	var created, updated int64
	err := row.Scan(&t.ID, &t.Slug, &t.Name, &t.Language, &t.Region, &t.TimeZone, &created, &updated)
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return t, err
}

// CreateTenant implements conversation.Store.
func (s *Store) CreateTenant(ctx context.Context, t conversation.Tenant) (conversation.Tenant, error) {
	ts := now()
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		t, err = scanTenant(tx.QueryRowContext(ctx, `
			INSERT INTO tenants (slug, name, language, region, time_zone, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+tenantColumns,
			t.Slug, t.Name, t.Language, t.Region, t.TimeZone, micros(ts), micros(ts)))
		return err
	})
	if isUnique(err) {
		return conversation.Tenant{}, conversation.Errorf(conversation.ECONFLICT, "tenant %q already exists", t.Slug)
	}
	return t, err
}

// UpdateTenant implements conversation.Store.
func (s *Store) UpdateTenant(ctx context.Context, t conversation.Tenant) (conversation.Tenant, error) {
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		t, err = scanTenant(tx.QueryRowContext(ctx, `
			UPDATE tenants SET name = ?, language = ?, region = ?, time_zone = ?, updated_at = ?
			WHERE id = ? RETURNING `+tenantColumns,
			t.Name, t.Language, t.Region, t.TimeZone, micros(now()), t.ID))
		return notFound(err, "tenant")
	})
	return t, err
}

// Tenant implements conversation.Store.
func (s *Store) Tenant(ctx context.Context, id int64) (conversation.Tenant, error) {
	t, err := scanTenant(s.rd.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = ?`, id))
	return t, notFound(err, "tenant")
}

// TenantBySlug implements conversation.Store.
func (s *Store) TenantBySlug(ctx context.Context, slug string) (conversation.Tenant, error) {
	t, err := scanTenant(s.rd.QueryRowContext(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE slug = ?`, slug))
	return t, notFound(err, "tenant")
}

// ListTenants implements conversation.Store.
func (s *Store) ListTenants(ctx context.Context) ([]conversation.Tenant, error) {
	return queryAll(ctx, s.rd, scanTenant, `SELECT `+tenantColumns+` FROM tenants ORDER BY id`)
}

const accountColumns = `id, tenant_id, kind, key, name, settings, disabled, created_at, updated_at`

// scanAccount reads an account, its secret settings decrypted.
func (s *Store) scanAccount(row scanner) (conversation.ChannelAccount, error) {
	var a conversation.ChannelAccount
	var settings string
	var created, updated int64
	if err := row.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Key, &a.Name, &settings, &a.Disabled, &created, &updated); err != nil {
		return a, err
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(settings), &a.Settings); err != nil {
		return a, err
	}
	return a, s.sealer.Open(a.Kind, a.Key, a.Settings)
}

func encodeMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return string(b)
}

// CreateChannelAccount implements conversation.Store.
func (s *Store) CreateChannelAccount(ctx context.Context, a conversation.ChannelAccount) (conversation.ChannelAccount, error) {
	ts := micros(now())
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		a, err = s.scanAccount(tx.QueryRowContext(ctx, `
			INSERT INTO channel_accounts (tenant_id, kind, key, name, settings, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+accountColumns,
			a.TenantID, a.Kind, a.Key, a.Name, encodeMap(s.sealer.Seal(a.Kind, a.Key, a.Settings)), a.Disabled, ts, ts))
		return err
	})
	switch {
	case isUnique(err):
		return conversation.ChannelAccount{}, conversation.Errorf(conversation.ECONFLICT, "a %s channel with key %q already exists", a.Kind, a.Key)
	case isForeignKey(err):
		return conversation.ChannelAccount{}, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return a, err
}

// UpdateChannelAccount implements conversation.Store.
func (s *Store) UpdateChannelAccount(ctx context.Context, a conversation.ChannelAccount) (conversation.ChannelAccount, error) {
	err := s.write(ctx, func(tx *wtx) error {
		// The kind and key seal the secrets; they never change.
		var kind conversation.ChannelKind
		var key string
		err := tx.QueryRowContext(ctx, `SELECT kind, key FROM channel_accounts WHERE id = ? AND tenant_id = ?`, a.ID, a.TenantID).Scan(&kind, &key)
		if err != nil {
			return notFound(err, "channel account")
		}
		a, err = s.scanAccount(tx.QueryRowContext(ctx, `
			UPDATE channel_accounts SET name = ?, settings = ?, disabled = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? RETURNING `+accountColumns,
			a.Name, encodeMap(s.sealer.Seal(kind, key, a.Settings)), a.Disabled, micros(now()), a.ID, a.TenantID))
		return notFound(err, "channel account")
	})
	return a, err
}

// ChannelAccount implements conversation.Store.
func (s *Store) ChannelAccount(ctx context.Context, tenantID, id int64) (conversation.ChannelAccount, error) {
	a, err := s.scanAccount(s.rd.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM channel_accounts WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return a, notFound(err, "channel account")
}

// ChannelAccountByKey implements conversation.Store.
func (s *Store) ChannelAccountByKey(ctx context.Context, kind conversation.ChannelKind, key string) (conversation.ChannelAccount, error) {
	a, err := s.scanAccount(s.rd.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM channel_accounts WHERE kind = ? AND key = ?`, kind, key))
	return a, notFound(err, "channel account")
}

// ListChannelAccounts implements conversation.Store.
func (s *Store) ListChannelAccounts(ctx context.Context, tenantID int64) ([]conversation.ChannelAccount, error) {
	return queryAll(ctx, s.rd, s.scanAccount, `SELECT `+accountColumns+` FROM channel_accounts WHERE tenant_id = ? ORDER BY id`, tenantID)
}

const apiKeyColumns = `id, tenant_id, name, hash, created_at, revoked_at`

func scanAPIKey(row scanner) (conversation.APIKey, error) {
	var k conversation.APIKey
	var created, revoked int64
	err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Hash, &created, &revoked)
	k.CreatedAt, k.RevokedAt = fromMicros(created), fromMicros(revoked)
	return k, err
}

// CreateAPIKey implements conversation.Store.
func (s *Store) CreateAPIKey(ctx context.Context, k conversation.APIKey) (conversation.APIKey, error) {
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		k, err = scanAPIKey(tx.QueryRowContext(ctx, `
			INSERT INTO api_keys (id, tenant_id, name, hash, created_at) VALUES (?, ?, ?, ?, ?)
			RETURNING `+apiKeyColumns, k.ID, k.TenantID, k.Name, k.Hash, micros(now())))
		return err
	})
	switch {
	case isUnique(err):
		return conversation.APIKey{}, conversation.Errorf(conversation.ECONFLICT, "API key id taken")
	case isForeignKey(err):
		return conversation.APIKey{}, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return k, err
}

// APIKey implements conversation.Store.
func (s *Store) APIKey(ctx context.Context, id string) (conversation.APIKey, error) {
	k, err := scanAPIKey(s.rd.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`, id))
	return k, notFound(err, "API key")
}

// ListAPIKeys implements conversation.Store.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID int64) ([]conversation.APIKey, error) {
	return queryAll(ctx, s.rd, scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = ? ORDER BY created_at DESC, id`, tenantID)
}

// RevokeAPIKey implements conversation.Store.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID int64, id string) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND tenant_id = ? AND revoked_at = 0`, micros(now()), id, tenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM api_keys WHERE id = ? AND tenant_id = ?`, id, tenantID).Scan(&one)
			return notFound(err, "API key")
		}
		return nil
	})
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
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
	return out, rows.Err()
}

package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
)

const tenantColumns = `id, slug, name, language, region, time_zone, created_at, updated_at`

func scanTenant(row pgx.Row) (conversation.Tenant, error) {
	var t conversation.Tenant
	err := row.Scan(&t.ID, &t.Slug, &t.Name, &t.Language, &t.Region, &t.TimeZone, &t.CreatedAt, &t.UpdatedAt)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, err
}

// CreateTenant implements conversation.Store.
func (s *Store) CreateTenant(ctx context.Context, t conversation.Tenant) (conversation.Tenant, error) {
	ts := now()
	created, err := scanTenant(s.pool.QueryRow(ctx, `
		INSERT INTO tenants (slug, name, language, region, time_zone, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING `+tenantColumns,
		t.Slug, t.Name, t.Language, t.Region, t.TimeZone, ts))
	if isUnique(err) {
		return conversation.Tenant{}, conversation.Errorf(conversation.ECONFLICT, "tenant %q already exists", t.Slug)
	}
	return created, err
}

// UpdateTenant implements conversation.Store.
func (s *Store) UpdateTenant(ctx context.Context, t conversation.Tenant) (conversation.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `
		UPDATE tenants SET name = $1, language = $2, region = $3, time_zone = $4, updated_at = $5
		WHERE id = $6 RETURNING `+tenantColumns,
		t.Name, t.Language, t.Region, t.TimeZone, now(), t.ID))
	return t, notFound(err, "tenant")
}

// Tenant implements conversation.Store.
func (s *Store) Tenant(ctx context.Context, id int64) (conversation.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE id = $1`, id))
	return t, notFound(err, "tenant")
}

// TenantBySlug implements conversation.Store.
func (s *Store) TenantBySlug(ctx context.Context, slug string) (conversation.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants WHERE slug = $1`, slug))
	return t, notFound(err, "tenant")
}

// ListTenants implements conversation.Store.
func (s *Store) ListTenants(ctx context.Context) ([]conversation.Tenant, error) {
	return queryAll(ctx, s.pool, scanTenant, `SELECT `+tenantColumns+` FROM tenants ORDER BY id`)
}

const accountColumns = `id, tenant_id, kind, key, name, settings, disabled, created_at, updated_at`

// scanAccount reads an account, its secret settings decrypted.
func (s *Store) scanAccount(row pgx.Row) (conversation.ChannelAccount, error) {
	var a conversation.ChannelAccount
	err := row.Scan(&a.ID, &a.TenantID, &a.Kind, &a.Key, &a.Name, &a.Settings, &a.Disabled, &a.CreatedAt, &a.UpdatedAt)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	if err != nil {
		return a, err
	}
	return a, s.sealer.Open(a.Kind, a.Key, a.Settings)
}

// emptyMap stores a nil map as {}.
func emptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// CreateChannelAccount implements conversation.Store.
func (s *Store) CreateChannelAccount(ctx context.Context, a conversation.ChannelAccount) (conversation.ChannelAccount, error) {
	created, err := s.scanAccount(s.pool.QueryRow(ctx, `
		INSERT INTO channel_accounts (tenant_id, kind, key, name, settings, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING `+accountColumns,
		a.TenantID, a.Kind, a.Key, a.Name, emptyMap(s.sealer.Seal(a.Kind, a.Key, a.Settings)), a.Disabled, now()))
	switch {
	case isUnique(err):
		return conversation.ChannelAccount{}, conversation.Errorf(conversation.ECONFLICT, "a %s channel with key %q already exists", a.Kind, a.Key)
	case isForeignKey(err):
		return conversation.ChannelAccount{}, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return created, err
}

// UpdateChannelAccount implements conversation.Store.
func (s *Store) UpdateChannelAccount(ctx context.Context, a conversation.ChannelAccount) (conversation.ChannelAccount, error) {
	// The kind and key seal the secrets; they never change.
	var kind conversation.ChannelKind
	var key string
	err := s.pool.QueryRow(ctx, `SELECT kind, key FROM channel_accounts WHERE id = $1 AND tenant_id = $2`, a.ID, a.TenantID).Scan(&kind, &key)
	if err != nil {
		return conversation.ChannelAccount{}, notFound(err, "channel account")
	}
	a, err = s.scanAccount(s.pool.QueryRow(ctx, `
		UPDATE channel_accounts SET name = $1, settings = $2, disabled = $3, updated_at = $4
		WHERE id = $5 AND tenant_id = $6 RETURNING `+accountColumns,
		a.Name, emptyMap(s.sealer.Seal(kind, key, a.Settings)), a.Disabled, now(), a.ID, a.TenantID))
	return a, notFound(err, "channel account")
}

// ChannelAccount implements conversation.Store.
func (s *Store) ChannelAccount(ctx context.Context, tenantID, id int64) (conversation.ChannelAccount, error) {
	a, err := s.scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM channel_accounts WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return a, notFound(err, "channel account")
}

// ChannelAccountByKey implements conversation.Store.
func (s *Store) ChannelAccountByKey(ctx context.Context, kind conversation.ChannelKind, key string) (conversation.ChannelAccount, error) {
	a, err := s.scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM channel_accounts WHERE kind = $1 AND key = $2`, kind, key))
	return a, notFound(err, "channel account")
}

// ListChannelAccounts implements conversation.Store.
func (s *Store) ListChannelAccounts(ctx context.Context, tenantID int64) ([]conversation.ChannelAccount, error) {
	return queryAll(ctx, s.pool, s.scanAccount, `SELECT `+accountColumns+` FROM channel_accounts WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

const apiKeyColumns = `id, tenant_id, name, hash, created_at, revoked_at`

func scanAPIKey(row pgx.Row) (conversation.APIKey, error) {
	var k conversation.APIKey
	var revoked *time.Time
	err := row.Scan(&k.ID, &k.TenantID, &k.Name, &k.Hash, &k.CreatedAt, &revoked)
	k.CreatedAt, k.RevokedAt = k.CreatedAt.UTC(), timeOf(revoked)
	return k, err
}

// CreateAPIKey implements conversation.Store.
func (s *Store) CreateAPIKey(ctx context.Context, k conversation.APIKey) (conversation.APIKey, error) {
	created, err := scanAPIKey(s.pool.QueryRow(ctx, `
		INSERT INTO api_keys (id, tenant_id, name, hash, created_at) VALUES ($1, $2, $3, $4, $5)
		RETURNING `+apiKeyColumns, k.ID, k.TenantID, k.Name, k.Hash, now()))
	switch {
	case isUnique(err):
		return conversation.APIKey{}, conversation.Errorf(conversation.ECONFLICT, "API key id taken")
	case isForeignKey(err):
		return conversation.APIKey{}, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return created, err
}

// APIKey implements conversation.Store.
func (s *Store) APIKey(ctx context.Context, id string) (conversation.APIKey, error) {
	k, err := scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id))
	return k, notFound(err, "API key")
}

// ListAPIKeys implements conversation.Store.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID int64) ([]conversation.APIKey, error) {
	return queryAll(ctx, s.pool, scanAPIKey, `SELECT `+apiKeyColumns+` FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id`, tenantID)
}

// RevokeAPIKey implements conversation.Store.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID int64, id string) error {
	var one int
	err := s.pool.QueryRow(ctx, `
		WITH k AS (SELECT id FROM api_keys WHERE id = $1 AND tenant_id = $2),
		     u AS (UPDATE api_keys SET revoked_at = $3 WHERE id IN (SELECT id FROM k) AND revoked_at IS NULL)
		SELECT 1 FROM k`, id, tenantID, now()).Scan(&one)
	return notFound(err, "API key")
}

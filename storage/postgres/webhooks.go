package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/notify/webhook"
)

var _ webhook.Store = (*Store)(nil)

const endpointColumns = `id, tenant_id, url, secret, events::text, disabled, created_at, updated_at`

func scanEndpoint(row pgx.Row) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var events string
	if err := row.Scan(&e.ID, &e.TenantID, &e.URL, &e.Secret, &events, &e.Disabled, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return e, err
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e, decodeJSON(events, &e.Events)
}

// CreateEndpoint implements webhook.Store.
func (s *Store) CreateEndpoint(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error) {
	out, err := scanEndpoint(s.pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (tenant_id, url, secret, events, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4::jsonb, $5, $6, $6) RETURNING `+endpointColumns,
		e.TenantID, e.URL, e.Secret, encodeJSON(e.Events, "[]"), e.Disabled, now()))
	if isForeignKey(err) {
		return out, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return out, err
}

// Endpoint implements webhook.Store.
func (s *Store) Endpoint(ctx context.Context, tenantID, id int64) (webhook.Endpoint, error) {
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return e, notFound(err, "webhook endpoint")
}

// ListEndpoints implements webhook.Store.
func (s *Store) ListEndpoints(ctx context.Context, tenantID int64) ([]webhook.Endpoint, error) {
	return queryAll(ctx, s.pool, scanEndpoint, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

// UpdateEndpoint implements webhook.Store.
func (s *Store) UpdateEndpoint(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error) {
	out, err := scanEndpoint(s.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET url = $1, events = $2::jsonb, disabled = $3, updated_at = $4
		WHERE id = $5 AND tenant_id = $6 RETURNING `+endpointColumns,
		e.URL, encodeJSON(e.Events, "[]"), e.Disabled, now(), e.ID, e.TenantID))
	return out, notFound(err, "webhook endpoint")
}

// DeleteEndpoint implements webhook.Store.
func (s *Store) DeleteEndpoint(ctx context.Context, tenantID, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err == nil && tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "webhook endpoint not found")
	}
	return err
}

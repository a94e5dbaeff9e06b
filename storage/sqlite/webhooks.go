package sqlite

import (
	"context"

	"conversa/conversation"
	"conversa/notify/webhook"
)

var _ webhook.Store = (*Store)(nil)

const endpointColumns = `id, tenant_id, url, secret, events, disabled, created_at, updated_at`

func scanEndpoint(row scanner) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var events string
	var created, updated int64
	if err := row.Scan(&e.ID, &e.TenantID, &e.URL, &e.Secret, &events, &e.Disabled, &created, &updated); err != nil {
		return e, err
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	return e, decodeJSON(events, &e.Events)
}

// CreateEndpoint implements webhook.Store.
func (s *Store) CreateEndpoint(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error) {
	var out webhook.Endpoint
	err := s.write(ctx, func(tx *wtx) error {
		ts := micros(now())
		var err error
		out, err = scanEndpoint(tx.QueryRowContext(ctx, `INSERT INTO webhook_endpoints (tenant_id, url, secret, events, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+endpointColumns,
			e.TenantID, e.URL, e.Secret, encodeJSON(e.Events, "[]"), e.Disabled, ts, ts))
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		return err
	})
	return out, err
}

// Endpoint implements webhook.Store.
func (s *Store) Endpoint(ctx context.Context, tenantID, id int64) (webhook.Endpoint, error) {
	e, err := scanEndpoint(s.rd.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return e, notFound(err, "webhook endpoint")
}

// ListEndpoints implements webhook.Store.
func (s *Store) ListEndpoints(ctx context.Context, tenantID int64) ([]webhook.Endpoint, error) {
	return queryAll(ctx, s.rd, scanEndpoint, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE tenant_id = ? ORDER BY id`, tenantID)
}

// UpdateEndpoint implements webhook.Store.
func (s *Store) UpdateEndpoint(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error) {
	var out webhook.Endpoint
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanEndpoint(tx.QueryRowContext(ctx, `UPDATE webhook_endpoints SET url = ?, events = ?, disabled = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? RETURNING `+endpointColumns,
			e.URL, encodeJSON(e.Events, "[]"), e.Disabled, micros(now()), e.ID, e.TenantID))
		return notFound(err, "webhook endpoint")
	})
	return out, err
}

// DeleteEndpoint implements webhook.Store.
func (s *Store) DeleteEndpoint(ctx context.Context, tenantID, id int64) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = ? AND tenant_id = ?`, id, tenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conversation.Errorf(conversation.ENOTFOUND, "webhook endpoint not found")
		}
		return nil
	})
}

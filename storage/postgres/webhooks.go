package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/notify/webhook"
)

var _ webhook.Store = (*Store)(nil)

const endpointColumns = `id, tenant_id, url, secret, events::text, disabled, created_at, updated_at`

// scanEndpoint reads an endpoint and opens its secret, sealed with the
// store's key (webhook.SecretPurpose) or, stored before there was one, in
// the clear.
func (s *Store) scanEndpoint(row pgx.Row) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var events string
	if err := row.Scan(&e.ID, &e.TenantID, &e.URL, &e.Secret, &events, &e.Disabled, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return e, err
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	secret, err := s.sealer.OpenValue(webhook.SecretPurpose(e.TenantID), e.Secret)
	if err != nil {
		return webhook.Endpoint{}, fmt.Errorf("webhook endpoint %d: %w", e.ID, err)
	}
	e.Secret = secret
	return e, decodeJSON(events, &e.Events)
}

// sealSecret encrypts an endpoint's secret for the table.
func (s *Store) sealSecret(tenantID int64, secret string) string {
	return s.sealer.SealValue(webhook.SecretPurpose(tenantID), secret)
}

// CreateEndpoint implements webhook.Store.
func (s *Store) CreateEndpoint(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error) {
	out, err := s.scanEndpoint(s.pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (tenant_id, url, secret, events, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4::jsonb, $5, $6, $6) RETURNING `+endpointColumns,
		e.TenantID, e.URL, s.sealSecret(e.TenantID, e.Secret), encodeJSON(e.Events, "[]"), e.Disabled, now()))
	if isForeignKey(err) {
		return out, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return out, err
}

// Endpoint implements webhook.Store.
func (s *Store) Endpoint(ctx context.Context, tenantID, id int64) (webhook.Endpoint, error) {
	e, err := s.scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return e, notFound(err, "webhook endpoint")
}

// ListEndpoints implements webhook.Store.
func (s *Store) ListEndpoints(ctx context.Context, tenantID int64) ([]webhook.Endpoint, error) {
	return queryAll(ctx, s.pool, s.scanEndpoint, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

// UpdateEndpoint implements webhook.Store.
func (s *Store) UpdateEndpoint(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error) {
	out, err := s.scanEndpoint(s.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET url = $1, events = $2::jsonb, disabled = $3, updated_at = $4
		WHERE id = $5 AND tenant_id = $6 RETURNING `+endpointColumns,
		e.URL, encodeJSON(e.Events, "[]"), e.Disabled, now(), e.ID, e.TenantID))
	return out, notFound(err, "webhook endpoint")
}

// SetEndpointSecret implements webhook.Store.
func (s *Store) SetEndpointSecret(ctx context.Context, tenantID, id int64, secret string) (webhook.Endpoint, error) {
	out, err := s.scanEndpoint(s.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET secret = $1, updated_at = $2
		WHERE id = $3 AND tenant_id = $4 RETURNING `+endpointColumns,
		s.sealSecret(tenantID, secret), now(), id, tenantID))
	return out, notFound(err, "webhook endpoint")
}

// SealEndpointSecrets implements webhook.Store. A secret changed meanwhile
// is left to its writer, who sealed it.
func (s *Store) SealEndpointSecrets(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, nil
	}
	type clear struct {
		id, tenantID int64
		secret       string
	}
	rows, err := queryAll(ctx, s.pool, func(row pgx.Row) (clear, error) {
		var c clear
		return c, row.Scan(&c.id, &c.tenantID, &c.secret)
	}, `SELECT id, tenant_id, secret FROM webhook_endpoints WHERE secret NOT LIKE 'enc:v1:%'`)
	if err != nil {
		return 0, fmt.Errorf("read clear webhook secrets: %w", err)
	}
	n := 0
	for _, c := range rows {
		tag, err := s.pool.Exec(ctx, `UPDATE webhook_endpoints SET secret = $1 WHERE id = $2 AND secret = $3`,
			s.sealSecret(c.tenantID, c.secret), c.id, c.secret)
		if err != nil {
			return n, fmt.Errorf("seal the secret of webhook endpoint %d: %w", c.id, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, nil
}

// DeleteEndpoint implements webhook.Store.
func (s *Store) DeleteEndpoint(ctx context.Context, tenantID, id int64) error {
	// Its events go too: no later endpoint inherits what it was given.
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND tenant_id = $2`, id, tenantID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return conversation.Errorf(conversation.ENOTFOUND, "webhook endpoint not found")
		}
		_, err = tx.Exec(ctx, `DELETE FROM webhook_events WHERE endpoint_id = $1`, id)
		return err
	})
}

// EnqueueEvent implements webhook.Store.
func (s *Store) EnqueueEvent(ctx context.Context, tenantID int64, eventID string, jobs []conversation.Job) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		ts := now()
		for _, j := range jobs {
			// Each endpoint's old events are forgotten as it gets a new
			// one, so transactions of other endpoints never wait on these.
			if _, err := tx.Exec(ctx, `DELETE FROM webhook_events WHERE endpoint_id = $1 AND created_at < $2`, j.Ref, ts.Add(-webhook.EventMemory)); err != nil {
				return fmt.Errorf("forget old webhook events: %w", err)
			}
			tag, err := tx.Exec(ctx, `INSERT INTO webhook_events (endpoint_id, event_id, created_at)
				SELECT id, $2, $3 FROM webhook_endpoints WHERE id = $1 AND tenant_id = $4
				ON CONFLICT DO NOTHING`, j.Ref, eventID, ts, tenantID)
			if err != nil {
				return fmt.Errorf("record webhook event %s: %w", eventID, err)
			}
			if tag.RowsAffected() == 0 {
				continue // given before, or not the tenant's endpoint
			}
			if _, err := tx.Exec(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $6, $6)
				ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
				tenantID, j.Kind, j.Ref, nullString(j.Key), j.Payload, ts, j.MaxAttempts); err != nil {
				return fmt.Errorf("enqueue webhook event %s: %w", eventID, err)
			}
			n++
		}
		return nil
	})
	return n, err
}

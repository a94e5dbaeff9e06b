package sqlite

import (
	"context"
	"fmt"

	"conversa/conversation"
	"conversa/notify/webhook"
)

var _ webhook.Store = (*Store)(nil)

const endpointColumns = `id, tenant_id, url, secret, events, disabled, created_at, updated_at`

// scanEndpoint reads an endpoint and opens its secret, sealed with the
// store's key (webhook.SecretPurpose) or, stored before there was one, in
// the clear.
func (s *Store) scanEndpoint(row scanner) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var events string
	var created, updated int64
	if err := row.Scan(&e.ID, &e.TenantID, &e.URL, &e.Secret, &events, &e.Disabled, &created, &updated); err != nil {
		return e, err
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
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
	var out webhook.Endpoint
	err := s.write(ctx, func(tx *wtx) error {
		ts := micros(now())
		var err error
		out, err = s.scanEndpoint(tx.QueryRowContext(ctx, `INSERT INTO webhook_endpoints (tenant_id, url, secret, events, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+endpointColumns,
			e.TenantID, e.URL, s.sealSecret(e.TenantID, e.Secret), encodeJSON(e.Events, "[]"), e.Disabled, ts, ts))
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		return err
	})
	return out, err
}

// Endpoint implements webhook.Store.
func (s *Store) Endpoint(ctx context.Context, tenantID, id int64) (webhook.Endpoint, error) {
	e, err := s.scanEndpoint(s.rd.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return e, notFound(err, "webhook endpoint")
}

// ListEndpoints implements webhook.Store.
func (s *Store) ListEndpoints(ctx context.Context, tenantID int64) ([]webhook.Endpoint, error) {
	return queryAll(ctx, s.rd, s.scanEndpoint, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE tenant_id = ? ORDER BY id`, tenantID)
}

// UpdateEndpoint implements webhook.Store.
func (s *Store) UpdateEndpoint(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error) {
	var out webhook.Endpoint
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = s.scanEndpoint(tx.QueryRowContext(ctx, `UPDATE webhook_endpoints SET url = ?, events = ?, disabled = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? RETURNING `+endpointColumns,
			e.URL, encodeJSON(e.Events, "[]"), e.Disabled, micros(now()), e.ID, e.TenantID))
		return notFound(err, "webhook endpoint")
	})
	return out, err
}

// SetEndpointSecret implements webhook.Store.
func (s *Store) SetEndpointSecret(ctx context.Context, tenantID, id int64, secret string) (webhook.Endpoint, error) {
	var out webhook.Endpoint
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = s.scanEndpoint(tx.QueryRowContext(ctx, `UPDATE webhook_endpoints SET secret = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? RETURNING `+endpointColumns,
			s.sealSecret(tenantID, secret), micros(now()), id, tenantID))
		return notFound(err, "webhook endpoint")
	})
	return out, err
}

// SealEndpointSecrets implements webhook.Store, in one transaction.
func (s *Store) SealEndpointSecrets(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, nil
	}
	n := 0
	err := s.write(ctx, func(tx *wtx) error {
		type clear struct {
			id, tenantID int64
			secret       string
		}
		rows, err := queryAll(ctx, tx, func(row scanner) (clear, error) {
			var c clear
			return c, row.Scan(&c.id, &c.tenantID, &c.secret)
		}, `SELECT id, tenant_id, secret FROM webhook_endpoints WHERE secret NOT LIKE 'enc:v1:%'`)
		if err != nil {
			return fmt.Errorf("read clear webhook secrets: %w", err)
		}
		for _, c := range rows {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET secret = ? WHERE id = ?`, s.sealSecret(c.tenantID, c.secret), c.id); err != nil {
				return fmt.Errorf("seal the secret of webhook endpoint %d: %w", c.id, err)
			}
		}
		n = len(rows)
		return nil
	})
	return n, err
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
		// Its events go too: a new endpoint may reuse its id.
		_, err = tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE endpoint_id = ?`, id)
		return err
	})
}

// EnqueueEvent implements webhook.Store.
func (s *Store) EnqueueEvent(ctx context.Context, tenantID int64, eventID string, jobs []conversation.Job) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *wtx) error {
		n = 0
		ts := now()
		for _, j := range jobs {
			// Each endpoint's old events are forgotten as it gets a new one.
			if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_events WHERE endpoint_id = ? AND created_at < ?`, j.Ref, micros(ts.Add(-webhook.EventMemory))); err != nil {
				return fmt.Errorf("forget old webhook events: %w", err)
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (endpoint_id, event_id, created_at)
				SELECT id, ?, ? FROM webhook_endpoints WHERE id = ? AND tenant_id = ?
				ON CONFLICT DO NOTHING`, eventID, micros(ts), j.Ref, tenantID)
			if err != nil {
				return fmt.Errorf("record webhook event %s: %w", eventID, err)
			}
			if added, _ := res.RowsAffected(); added == 0 {
				continue // given before, or not the tenant's endpoint
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)
				ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
				tenantID, j.Kind, j.Ref, nullString(j.Key), j.Payload, micros(ts), j.MaxAttempts, micros(ts), micros(ts)); err != nil {
				return fmt.Errorf("enqueue webhook event %s: %w", eventID, err)
			}
			n++
		}
		return nil
	})
	return n, err
}

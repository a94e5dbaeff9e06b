package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/reports"
)

var _ reports.DestinationStore = (*Store)(nil)

const destinationColumns = `id, tenant_id, kind, url, secret, events::text, disabled, created_at, updated_at`

// scanDestination reads an analytics destination and opens its secret,
// sealed with the store's key (reports.DestinationSecretPurpose).
func (s *Store) scanDestination(row pgx.Row) (reports.Destination, error) {
	var d reports.Destination
	var events string
	if err := row.Scan(&d.ID, &d.TenantID, &d.Kind, &d.URL, &d.Secret, &events, &d.Disabled, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return d, err
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	secret, err := s.sealer.OpenValue(reports.DestinationSecretPurpose(d.TenantID), d.Secret)
	if err != nil {
		return reports.Destination{}, fmt.Errorf("analytics destination %d: %w", d.ID, err)
	}
	d.Secret = secret
	return d, decodeJSON(events, &d.Events)
}

// CreateDestination implements reports.DestinationStore.
func (s *Store) CreateDestination(ctx context.Context, d reports.Destination) (reports.Destination, error) {
	out, err := s.scanDestination(s.pool.QueryRow(ctx, `INSERT INTO analytics_destinations (tenant_id, kind, url, secret, events, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $7) RETURNING `+destinationColumns,
		d.TenantID, d.Kind, d.URL, s.sealer.SealValue(reports.DestinationSecretPurpose(d.TenantID), d.Secret), encodeJSON(d.Events, "[]"), d.Disabled, now()))
	if isForeignKey(err) {
		return out, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return out, err
}

// Destination implements reports.DestinationStore.
func (s *Store) Destination(ctx context.Context, tenantID, id int64) (reports.Destination, error) {
	d, err := s.scanDestination(s.pool.QueryRow(ctx, `SELECT `+destinationColumns+` FROM analytics_destinations WHERE id = $1 AND tenant_id = $2`, id, tenantID))
	return d, notFound(err, "analytics destination")
}

// ListDestinations implements reports.DestinationStore.
func (s *Store) ListDestinations(ctx context.Context, tenantID int64) ([]reports.Destination, error) {
	return queryAll(ctx, s.pool, s.scanDestination, `SELECT `+destinationColumns+` FROM analytics_destinations WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

// UpdateDestination implements reports.DestinationStore.
func (s *Store) UpdateDestination(ctx context.Context, d reports.Destination) (reports.Destination, error) {
	out, err := s.scanDestination(s.pool.QueryRow(ctx, `UPDATE analytics_destinations SET url = $1, events = $2::jsonb, disabled = $3, updated_at = $4
		WHERE id = $5 AND tenant_id = $6 RETURNING `+destinationColumns,
		d.URL, encodeJSON(d.Events, "[]"), d.Disabled, now(), d.ID, d.TenantID))
	return out, notFound(err, "analytics destination")
}

// SetDestinationSecret implements reports.DestinationStore.
func (s *Store) SetDestinationSecret(ctx context.Context, tenantID, id int64, secret string) (reports.Destination, error) {
	out, err := s.scanDestination(s.pool.QueryRow(ctx, `UPDATE analytics_destinations SET secret = $1, updated_at = $2
		WHERE id = $3 AND tenant_id = $4 RETURNING `+destinationColumns,
		s.sealer.SealValue(reports.DestinationSecretPurpose(tenantID), secret), now(), id, tenantID))
	return out, notFound(err, "analytics destination")
}

// DeleteDestination implements reports.DestinationStore.
func (s *Store) DeleteDestination(ctx context.Context, tenantID, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM analytics_destinations WHERE id = $1 AND tenant_id = $2`, id, tenantID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "analytics destination not found")
	}
	return nil
}

// EnqueueExports implements reports.DestinationStore.
func (s *Store) EnqueueExports(ctx context.Context, tenantID int64, jobs []conversation.Job) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		n = 0
		ts := now()
		for _, j := range jobs {
			tag, err := tx.Exec(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
				SELECT tenant_id, $1, id, $2, $3, 'pending', $4, $5, $4, $4 FROM analytics_destinations WHERE id = $6 AND tenant_id = $7 AND NOT disabled
				ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
				j.Kind, nullString(j.Key), j.Payload, ts, j.MaxAttempts, j.Ref, tenantID)
			if err != nil {
				return fmt.Errorf("enqueue analytics export to destination %d: %w", j.Ref, err)
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	return n, err
}

package sqlite

import (
	"context"
	"fmt"

	"conversa/conversation"
	"conversa/reports"
)

var _ reports.DestinationStore = (*Store)(nil)

const destinationColumns = `id, tenant_id, kind, url, secret, events, disabled, created_at, updated_at`

// scanDestination reads an analytics destination and opens its secret,
// sealed with the store's key (reports.DestinationSecretPurpose).
func (s *Store) scanDestination(row scanner) (reports.Destination, error) {
	var d reports.Destination
	var events string
	var created, updated int64
	if err := row.Scan(&d.ID, &d.TenantID, &d.Kind, &d.URL, &d.Secret, &events, &d.Disabled, &created, &updated); err != nil {
		return d, err
	}
	d.CreatedAt, d.UpdatedAt = fromMicros(created), fromMicros(updated)
	secret, err := s.sealer.OpenValue(reports.DestinationSecretPurpose(d.TenantID), d.Secret)
	if err != nil {
		return reports.Destination{}, fmt.Errorf("analytics destination %d: %w", d.ID, err)
	}
	d.Secret = secret
	return d, decodeJSON(events, &d.Events)
}

// CreateDestination implements reports.DestinationStore.
func (s *Store) CreateDestination(ctx context.Context, d reports.Destination) (reports.Destination, error) {
	var out reports.Destination
	err := s.write(ctx, func(tx *wtx) error {
		ts := micros(now())
		var err error
		out, err = s.scanDestination(tx.QueryRowContext(ctx, `INSERT INTO analytics_destinations (tenant_id, kind, url, secret, events, disabled, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+destinationColumns,
			d.TenantID, d.Kind, d.URL, s.sealer.SealValue(reports.DestinationSecretPurpose(d.TenantID), d.Secret), encodeJSON(d.Events, "[]"), d.Disabled, ts, ts))
		if isForeignKey(err) {
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		return err
	})
	return out, err
}

// Destination implements reports.DestinationStore.
func (s *Store) Destination(ctx context.Context, tenantID, id int64) (reports.Destination, error) {
	d, err := s.scanDestination(s.rd.QueryRowContext(ctx, `SELECT `+destinationColumns+` FROM analytics_destinations WHERE id = ? AND tenant_id = ?`, id, tenantID))
	return d, notFound(err, "analytics destination")
}

// ListDestinations implements reports.DestinationStore.
func (s *Store) ListDestinations(ctx context.Context, tenantID int64) ([]reports.Destination, error) {
	return queryAll(ctx, s.rd, s.scanDestination, `SELECT `+destinationColumns+` FROM analytics_destinations WHERE tenant_id = ? ORDER BY id`, tenantID)
}

// UpdateDestination implements reports.DestinationStore.
func (s *Store) UpdateDestination(ctx context.Context, d reports.Destination) (reports.Destination, error) {
	var out reports.Destination
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = s.scanDestination(tx.QueryRowContext(ctx, `UPDATE analytics_destinations SET url = ?, events = ?, disabled = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? RETURNING `+destinationColumns,
			d.URL, encodeJSON(d.Events, "[]"), d.Disabled, micros(now()), d.ID, d.TenantID))
		return notFound(err, "analytics destination")
	})
	return out, err
}

// SetDestinationSecret implements reports.DestinationStore.
func (s *Store) SetDestinationSecret(ctx context.Context, tenantID, id int64, secret string) (reports.Destination, error) {
	var out reports.Destination
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = s.scanDestination(tx.QueryRowContext(ctx, `UPDATE analytics_destinations SET secret = ?, updated_at = ?
			WHERE id = ? AND tenant_id = ? RETURNING `+destinationColumns,
			s.sealer.SealValue(reports.DestinationSecretPurpose(tenantID), secret), micros(now()), id, tenantID))
		return notFound(err, "analytics destination")
	})
	return out, err
}

// DeleteDestination implements reports.DestinationStore.
func (s *Store) DeleteDestination(ctx context.Context, tenantID, id int64) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM analytics_destinations WHERE id = ? AND tenant_id = ?`, id, tenantID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conversation.Errorf(conversation.ENOTFOUND, "analytics destination not found")
		}
		return nil
	})
}

// EnqueueExports implements reports.DestinationStore.
func (s *Store) EnqueueExports(ctx context.Context, tenantID int64, jobs []conversation.Job) (int, error) {
	n := 0
	err := s.write(ctx, func(tx *wtx) error {
		n = 0
		ts := micros(now())
		for _, j := range jobs {
			res, err := tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
				SELECT tenant_id, ?, id, ?, ?, 'pending', ?, ?, ?, ? FROM analytics_destinations WHERE id = ? AND tenant_id = ? AND NOT disabled
				ON CONFLICT (tenant_id, key) WHERE key IS NOT NULL AND state <> 'failed' DO NOTHING`,
				j.Kind, nullString(j.Key), j.Payload, ts, j.MaxAttempts, ts, ts, j.Ref, tenantID)
			if err != nil {
				return fmt.Errorf("enqueue analytics export to destination %d: %w", j.Ref, err)
			}
			added, _ := res.RowsAffected()
			n += int(added)
		}
		return nil
	})
	return n, err
}

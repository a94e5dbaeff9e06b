package sqlite

import "context"

// AddAnalyticsDestination adds an analytics destination to a tenant, for
// the reports suite (the destinations' own API is not this package's
// yet).
func AddAnalyticsDestination(ctx context.Context, s *Store, tenantID int64, disabled bool) error {
	return s.write(ctx, func(tx *wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO analytics_destinations (tenant_id, kind, url, secret, disabled, created_at, updated_at)
			VALUES (?, 'webhook', 'https://example.com/hook', 'sealed', ?, 1, 1)`, tenantID, disabled)
		return err
	})
}

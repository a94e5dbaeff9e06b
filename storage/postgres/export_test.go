package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// AddAnalyticsDestination adds an analytics destination to a tenant, for
// the reports suite (the destinations' own API is not this package's
// yet).
func AddAnalyticsDestination(ctx context.Context, s *Store, tenantID int64, disabled bool) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO analytics_destinations (tenant_id, kind, url, secret, disabled, created_at, updated_at)
		VALUES ($1, 'webhook', 'https://example.com/hook', 'sealed', $2, now(), now())`, tenantID, disabled)
	return err
}

// Pool returns the store's pool, for tests that hold transactions open.
func Pool(s *Store) *pgxpool.Pool { return s.pool }

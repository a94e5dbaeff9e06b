package reports

import (
	"context"
	"time"
)

// Store is what reports needs from the durable store. storage/sqlite and
// storage/postgres implement it, proven by the suite in reportstest.
type Store interface {
	Aggregates
	LiveStore
}

// Service computes reports and the live view.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a service over store.
func NewService(store Store) *Service {
	return &Service{store: store, now: time.Now}
}

// SetClock replaces the service's clock (tests: the "now" of overdue cases
// and of Report.Generated).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// The methods, by file:
//
//	report.go:   Report(ctx, Query) (Report, error), Backfill(ctx, tenantID, from, to) error
//	pipeline.go: Pipeline, the rollup that keeps the aggregates (aggregates.go) up to date
//	live.go:     Live(ctx, tenantID, loc, teams) (Live, error)
var _ = context.Background

package reports

import (
	"runtime"
	"time"
)

// Store is what reports needs from the durable store. storage/sqlite and
// storage/postgres implement it, proven by the suite in reportstest.
type Store interface {
	Aggregates
	LiveStore
}

// CacheEntries is how many reports of settled periods a Service keeps.
const CacheEntries = 256

// Service computes reports and the live view. It computes at most
// GOMAXPROCS reports at once (the others wait their turn), so a burst of
// reports takes its share of the node and of the database, not all of
// them; and it keeps the figures of the last CacheEntries reports of
// settled periods (see Settled), computed again only when the store's
// Revision of the period changes. Cases and surveys change without the
// pipeline (a case is answered, a survey is answered), so they, and the
// names of queues and agents, are read afresh for every report.
type Service struct {
	store Store
	now   func() time.Time
	slots chan struct{}
	cache *cache
}

// NewService returns a service over store.
func NewService(store Store) *Service {
	return &Service{store: store, now: time.Now, slots: make(chan struct{}, runtime.GOMAXPROCS(0)), cache: newCache(CacheEntries)}
}

// SetClock replaces the service's clock (tests: the "now" of overdue cases,
// of Report.Generated and of the settled periods).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// The methods, by file:
//
//	report.go:   Report(ctx, Query) (Report, error), Backfill(ctx, tenantID, from, to) error
//	pipeline.go: Pipeline, the rollup that keeps the aggregates (aggregates.go) up to date
//	live.go:     Live(ctx, tenantID, loc, teams) (Live, error)
//	cache.go:    the kept figures of settled periods

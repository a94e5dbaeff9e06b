package reports

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"time"

	"conversa/conversation"
)

// Topic is the Bus topic on which the pipeline says, after each commit,
// that a tenant's aggregates changed (payload: Changed as JSON), so that
// live dashboards read them again.
func Topic(tenantID int64) string { return "reports." + strconv.FormatInt(tenantID, 10) }

// Changed is the payload of Topic.
type Changed struct {
	TenantID int64     `json:"tenant_id"`
	At       time.Time `json:"at"`
}

// PipelineConfig tunes a Pipeline.
type PipelineConfig struct {
	// Bus receives the Changed events; nil publishes nothing.
	Bus    conversation.Bus
	Logger *slog.Logger
	// Interval is how often the rollup runs when nothing wakes it (2 s);
	// MinInterval the least time between two rollups (200 ms), so that a
	// busy ingest that wakes it often does not make it run per message.
	Interval    time.Duration
	MinInterval time.Duration
	// Batch, Stale and GapTTL are RollupOptions (DefaultBatch,
	// DefaultStale, DefaultGapTTL).
	Batch  int
	Stale  time.Duration
	GapTTL time.Duration
	// JobsAdded is called after a rollup enqueued export jobs.
	JobsAdded func()
}

// Pipeline keeps the aggregates up to date: it runs Rollup continuously on
// every node; the store's lock makes the rollups of several nodes take
// turns, each row folded once.
type Pipeline struct {
	store  Aggregates
	cfg    PipelineConfig
	logger *slog.Logger
	wake   chan struct{}
	now    func() time.Time
}

// NewPipeline returns a pipeline over store.
func NewPipeline(store Aggregates, cfg PipelineConfig) *Pipeline {
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.MinInterval <= 0 {
		cfg.MinInterval = 200 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Stale <= 0 {
		cfg.Stale = DefaultStale
	}
	if cfg.GapTTL <= 0 {
		cfg.GapTTL = DefaultGapTTL
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{store: store, cfg: cfg, logger: logger, wake: make(chan struct{}, 1), now: time.Now}
}

// Wake makes the pipeline roll up soon. It never blocks; a nil pipeline
// does nothing.
func (p *Pipeline) Wake() {
	if p == nil {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Rollup folds one batch and publishes the Changed events of its tenants.
func (p *Pipeline) Rollup(ctx context.Context) (RollupResult, error) {
	res, err := p.store.Rollup(ctx, RollupOptions{Batch: p.cfg.Batch, Stale: p.cfg.Stale, GapTTL: p.cfg.GapTTL, Now: p.now()})
	if err != nil {
		return res, err
	}
	if res.Jobs > 0 && p.cfg.JobsAdded != nil {
		p.cfg.JobsAdded()
	}
	if p.cfg.Bus != nil {
		at := p.now().UTC()
		for _, t := range res.Tenants {
			payload, _ := json.Marshal(Changed{TenantID: t, At: at})
			if err := p.cfg.Bus.Publish(ctx, Topic(t), payload); err != nil {
				p.logger.Warn("publish reports changed", "tenant", t, "err", err)
			}
		}
	}
	return res, nil
}

// Run rolls up until ctx ends: at once while batches are full, then every
// Interval or when woken. It returns nil when ctx ends.
func (p *Pipeline) Run(ctx context.Context) error {
	ticker := time.NewTicker(p.cfg.Interval)
	defer ticker.Stop()
	for ctx.Err() == nil {
		res, err := p.Rollup(ctx)
		if err != nil && ctx.Err() == nil {
			p.logger.Error("reports rollup", "err", err)
		}
		if err == nil && res.More {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		case <-p.wake:
			select {
			case <-ctx.Done():
			case <-time.After(p.cfg.MinInterval):
			}
		}
	}
	return nil
}

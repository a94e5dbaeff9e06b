package conversation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"time"
)

// Attempts a job gets before it fails for good.
const (
	RouteMaxAttempts   = 5
	DeliverMaxAttempts = 10
)

// JobHandler does the work of one job. It returns nil when the job is done;
// any error makes the Worker retry the job later, unless it is a *JobError
// that says otherwise or the job has used all its attempts.
type JobHandler func(ctx context.Context, j Job) error

// JobError steers the Worker after a failed job.
type JobError struct {
	Err error
	// Permanent fails the job at once.
	Permanent bool
	// RetryAfter replaces the computed backoff.
	RetryAfter time.Duration
}

func (e *JobError) Error() string { return e.Err.Error() }
func (e *JobError) Unwrap() error { return e.Err }

// WorkerConfig tunes a Worker.
type WorkerConfig struct {
	// Concurrency is how many jobs run at once on this node.
	Concurrency int
	// PollInterval is how often the Worker looks for due jobs when nothing
	// woke it.
	PollInterval time.Duration
	// Lease is how long a claimed job is reserved; a job still running when
	// its lease ends may be taken by another node.
	Lease time.Duration
	// RetryBase and RetryMax bound the exponential backoff between attempts.
	RetryBase time.Duration
	RetryMax  time.Duration
	// DrainTimeout is how long Run waits for running jobs to finish after its
	// context ends, before cancelling them.
	DrainTimeout time.Duration
}

// Validate fills in defaults and checks the ranges.
func (c *WorkerConfig) Validate() error {
	setDefault(&c.Concurrency, 16)
	setDefault(&c.PollInterval, time.Second)
	setDefault(&c.Lease, time.Minute)
	setDefault(&c.RetryBase, 2*time.Second)
	setDefault(&c.RetryMax, time.Hour)
	setDefault(&c.DrainTimeout, 10*time.Second)
	if c.Concurrency > 1024 {
		return FieldError("workers", "must be at most 1024")
	}
	if c.RetryMax < c.RetryBase {
		return FieldError("retry_max", "must not be less than retry_base")
	}
	return nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Worker runs durable jobs: it claims due jobs from the store, runs their
// handlers with bounded concurrency, and completes, retries or fails them.
// Any number of Workers, on any number of nodes, may share one store; each
// job runs on one of them at a time.
type Worker struct {
	store    Store
	cfg      WorkerConfig
	logger   *slog.Logger
	handlers map[string]JobHandler
	kinds    []string
	wake     chan struct{}
}

// NewWorker returns a Worker. Register handlers with Handle before Run.
func NewWorker(store Store, cfg WorkerConfig, logger *slog.Logger) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Worker{
		store:    store,
		cfg:      cfg,
		logger:   logger.With("component", "worker"),
		handlers: map[string]JobHandler{},
		wake:     make(chan struct{}, 1),
	}, nil
}

// Handle registers the handler of a job kind. It must be called before Run.
func (w *Worker) Handle(kind string, h JobHandler) {
	if _, dup := w.handlers[kind]; !dup {
		w.kinds = append(w.kinds, kind)
	}
	w.handlers[kind] = h
}

// Wake makes the Worker look for due jobs now. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run works jobs until ctx ends, then waits up to DrainTimeout for running
// jobs to finish before cancelling them. It returns nil after a clean stop.
func (w *Worker) Run(ctx context.Context) error {
	jobCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()

	slots := make(chan struct{}, w.cfg.Concurrency)
	freed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	ticker := time.NewTicker(w.cfg.PollInterval)
	defer ticker.Stop()

	for ctx.Err() == nil {
		free := w.cfg.Concurrency - len(slots)
		if free == 0 || len(w.kinds) == 0 {
			select {
			case <-ctx.Done():
			case <-freed:
			}
			continue
		}
		jobs, err := w.store.ClaimJobs(ctx, w.kinds, free, w.cfg.Lease)
		if err != nil && ctx.Err() == nil {
			w.logger.Error("claim jobs", "err", err)
		}
		for _, j := range jobs {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() {
					<-slots
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
				w.run(jobCtx, j)
			})
		}
		if len(jobs) == free {
			continue // there may be more due jobs
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-ticker.C:
		}
	}

	drained := make(chan struct{})
	go func() { wg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(w.cfg.DrainTimeout):
		w.logger.Warn("cancelling jobs still running at shutdown")
		cancelJobs()
		<-drained
	}
	return nil
}

func (w *Worker) run(ctx context.Context, j Job) {
	logger := w.logger.With("job", j.ID, "kind", j.Kind, "tenant", j.TenantID, "attempt", j.Attempt)
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Lease)
	defer cancel()

	err := w.call(ctx, j)
	// Record the outcome even if the job used up its time.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer fcancel()
	var finish error
	switch je, _ := errors.AsType[*JobError](err); {
	case err == nil:
		finish = w.store.CompleteJob(fctx, j)
	case (je != nil && je.Permanent) || j.Attempt >= j.MaxAttempts:
		logger.Error("job failed", "err", err)
		finish = w.store.FailJob(fctx, j, err.Error())
	default:
		delay := w.backoff(j.Attempt)
		if je != nil && je.RetryAfter > 0 {
			delay = je.RetryAfter
		}
		logger.Warn("job will be retried", "err", err, "in", delay)
		finish = w.store.RetryJob(fctx, j, time.Now().Add(delay), err.Error())
	}
	if finish != nil {
		logger.Error("record job outcome", "err", finish)
	}
}

// call runs the handler, turning a panic into a permanent failure.
func (w *Worker) call(ctx context.Context, j Job) (err error) {
	h, ok := w.handlers[j.Kind]
	if !ok {
		return &JobError{Err: fmt.Errorf("no handler for job kind %q", j.Kind), Permanent: true}
	}
	defer func() {
		if p := recover(); p != nil {
			w.logger.Error("job handler panicked", "job", j.ID, "panic", p, "stack", string(debug.Stack()))
			err = &JobError{Err: fmt.Errorf("handler panicked: %v", p), Permanent: true}
		}
	}()
	return h(ctx, j)
}

// backoff returns the wait before the attempt after attempt: exponential
// from RetryBase, capped at RetryMax, with "equal jitter" (between half and
// all of it) so that retries of many jobs spread out.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.cfg.RetryBase
	for i := 1; i < attempt && d < w.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, w.cfg.RetryMax)
	return d/2 + rand.N(d/2+1)
}

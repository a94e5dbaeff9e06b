package conversation_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/storage/sqlite"
)

func workerStore(t *testing.T) (*sqlite.Store, conversation.Tenant) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "w.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if tn, err = s.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	return s, tn
}

func startWorker(t *testing.T, w *conversation.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func TestWorkerPanicFailsJob(t *testing.T) {
	s, tn := workerStore(t)
	w, err := conversation.NewWorker(s, conversation.WorkerConfig{PollInterval: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Handle("boom", func(ctx context.Context, j conversation.Job) error { panic("bug") })
	j, err := s.EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: "boom", MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, w)
	eventually(t, "the job failed", func() bool {
		got, err := s.Job(t.Context(), tn.ID, j.ID)
		return err == nil && got.State == conversation.JobFailed
	})
	got, _ := s.Job(t.Context(), tn.ID, j.ID)
	if got.Attempt != 1 || got.LastError != "handler panicked: bug" {
		t.Fatalf("job = %+v: a panic fails the job at once", got)
	}
}

func TestWorkerOnlyClaimsItsKinds(t *testing.T) {
	s, tn := workerStore(t)
	w, err := conversation.NewWorker(s, conversation.WorkerConfig{PollInterval: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ran atomic.Int32
	w.Handle("mine", func(ctx context.Context, j conversation.Job) error { ran.Add(1); return nil })
	other, err := s.EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: "mine"}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, w)
	eventually(t, "my job done", func() bool { return ran.Load() == 1 })
	got, err := s.Job(t.Context(), tn.ID, other.ID)
	if err != nil || got.State != conversation.JobPending || got.Attempt != 0 {
		t.Fatalf("another kind's job = %+v, %v; want it untouched", got, err)
	}
}

func TestWorkerRetriesThenSucceeds(t *testing.T) {
	s, tn := workerStore(t)
	w, err := conversation.NewWorker(s, conversation.WorkerConfig{PollInterval: 10 * time.Millisecond, RetryBase: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var attempts []int
	var mu sync.Mutex
	w.Handle("flaky", func(ctx context.Context, j conversation.Job) error {
		mu.Lock()
		defer mu.Unlock()
		attempts = append(attempts, j.Attempt)
		if j.Attempt < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	j, err := s.EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: "flaky", MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, w)
	eventually(t, "the job done", func() bool {
		_, err := s.Job(t.Context(), tn.ID, j.ID)
		return conversation.IsNotFound(err)
	})
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 3 || attempts[0] != 1 || attempts[2] != 3 {
		t.Fatalf("attempts = %v, want 1, 2, 3", attempts)
	}
}

func TestWorkerPermanentError(t *testing.T) {
	s, tn := workerStore(t)
	w, err := conversation.NewWorker(s, conversation.WorkerConfig{PollInterval: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Handle("bad", func(ctx context.Context, j conversation.Job) error {
		return &conversation.JobError{Err: errors.New("no such recipient"), Permanent: true}
	})
	j, err := s.EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: "bad", MaxAttempts: 10})
	if err != nil {
		t.Fatal(err)
	}
	startWorker(t, w)
	eventually(t, "the job failed", func() bool {
		got, err := s.Job(t.Context(), tn.ID, j.ID)
		return err == nil && got.State == conversation.JobFailed && got.Attempt == 1 && got.LastError == "no such recipient"
	})
}

// TestWorkerDrainsOnShutdown checks that a stopping worker takes no new jobs
// and lets the running ones finish.
func TestWorkerDrainsOnShutdown(t *testing.T) {
	s, tn := workerStore(t)
	w, err := conversation.NewWorker(s, conversation.WorkerConfig{Concurrency: 1, PollInterval: 10 * time.Millisecond, DrainTimeout: 10 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	release := make(chan struct{})
	var finished atomic.Bool
	w.Handle("slow", func(ctx context.Context, j conversation.Job) error {
		started <- struct{}{}
		<-release
		if ctx.Err() != nil {
			return ctx.Err()
		}
		finished.Store(true)
		return nil
	})
	first, err := s.EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: "slow", Ref: 1})
	if err != nil {
		t.Fatal(err)
	}
	stop := startWorker(t, w)
	<-started
	second, err := s.EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: "slow", Ref: 2})
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("the worker stopped with a job still running")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-stopped
	if !finished.Load() {
		t.Fatal("the running job did not finish")
	}
	if _, err := s.Job(t.Context(), tn.ID, first.ID); !conversation.IsNotFound(err) {
		t.Fatalf("the finished job is still stored: %v", err)
	}
	if got, err := s.Job(t.Context(), tn.ID, second.ID); err != nil || got.State != conversation.JobPending {
		t.Fatalf("a job enqueued during shutdown = %+v, %v; want it left pending", got, err)
	}
}

func TestWorkerDrainTimeoutCancelsJobs(t *testing.T) {
	s, tn := workerStore(t)
	w, err := conversation.NewWorker(s, conversation.WorkerConfig{PollInterval: 10 * time.Millisecond, DrainTimeout: 50 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	w.Handle("stuck", func(ctx context.Context, j conversation.Job) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	if _, err := s.EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: "stuck"}); err != nil {
		t.Fatal(err)
	}
	stop := startWorker(t, w)
	<-started
	begin := time.Now()
	stop()
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("stopping took %v with a stuck job and a 50ms drain timeout", d)
	}
}

// TestWorkersShareJobs runs three workers on three handles of one database
// file, like three processes, and checks that every job ran exactly once.
func TestWorkersShareJobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	var stores []*sqlite.Store
	for range 3 {
		s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	tn.Validate()
	tn, err := stores[0].CreateTenant(t.Context(), tn)
	if err != nil {
		t.Fatal(err)
	}
	const n = 120
	for i := range n {
		if _, err := stores[0].EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: "once", Ref: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	runs := map[int64]int{}
	for _, s := range stores {
		w, err := conversation.NewWorker(s, conversation.WorkerConfig{Concurrency: 4, PollInterval: 5 * time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Handle("once", func(ctx context.Context, j conversation.Job) error {
			mu.Lock()
			runs[j.Ref]++
			mu.Unlock()
			return nil
		})
		startWorker(t, w)
	}
	eventually(t, "every job done", func() bool {
		counts, err := stores[0].JobCounts(t.Context())
		return err == nil && len(counts) == 0
	})
	mu.Lock()
	defer mu.Unlock()
	if len(runs) != n {
		t.Fatalf("%d jobs ran, want %d", len(runs), n)
	}
	for ref, c := range runs {
		if c != 1 {
			t.Fatalf("job %d ran %d times", ref, c)
		}
	}
}

package conversation

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// recorder is a batch function that records batch sizes and can hold the
// first batch until released.
type recorder struct {
	mu      sync.Mutex
	batches [][]int
	started chan struct{} // receives when a batch starts
	release chan struct{} // closed to let held batches finish
}

func newRecorder() *recorder {
	return &recorder{started: make(chan struct{}, 100), release: make(chan struct{})}
}

func (r *recorder) run(ctx context.Context, reqs []int) ([]int, error) {
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(reqs))
	r.mu.Unlock()
	r.started <- struct{}{}
	<-r.release
	out := make([]int, len(reqs))
	for i, v := range reqs {
		out[i] = v * 10
	}
	return out, nil
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []int
	for _, b := range r.batches {
		s = append(s, len(b))
	}
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (g *groupCommit[Req, Res]) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

func TestGroupCommitBatchesWhileBusy(t *testing.T) {
	rec := newRecorder()
	g := newGroupCommit(8, 1, time.Minute, rec.run)

	results := make([]int, 11)
	var wg sync.WaitGroup
	wg.Go(func() { results[0], _ = g.do(t.Context(), 0) })
	<-rec.started // the first batch holds the only slot
	for i := 1; i <= 10; i++ {
		wg.Go(func() {
			var err error
			results[i], err = g.do(t.Context(), i)
			if err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "10 queued requests", func() bool { return g.queued() == 10 })
	close(rec.release)
	wg.Wait()

	// One request alone, then the ten queued ones in batches of at most 8.
	if got := rec.sizes(); !slices.Equal(got, []int{1, 8, 2}) {
		t.Fatalf("batch sizes %v, want [1 8 2]", got)
	}
	for i, r := range results {
		if r != i*10 {
			t.Fatalf("request %d got result %d, want %d", i, r, i*10)
		}
	}
}

func TestGroupCommitSlots(t *testing.T) {
	rec := newRecorder()
	g := newGroupCommit(8, 3, time.Minute, rec.run)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { g.do(t.Context(), i) })
		<-rec.started // each starts a batch of its own: three at once
	}
	wg.Go(func() { g.do(t.Context(), 99) })
	waitFor(t, "a queued fourth request", func() bool { return g.queued() == 1 })
	close(rec.release)
	wg.Wait()
	if got := rec.sizes(); len(got) != 4 {
		t.Fatalf("batch sizes %v, want four batches", got)
	}
}

func TestGroupCommitCancelWhileQueued(t *testing.T) {
	rec := newRecorder()
	g := newGroupCommit(8, 1, time.Minute, rec.run)
	var wg sync.WaitGroup
	wg.Go(func() { g.do(t.Context(), 1) })
	<-rec.started

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := g.do(ctx, 2)
		errc <- err
	}()
	waitFor(t, "a queued request", func() bool { return g.queued() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled queued request: %v, want context.Canceled", err)
	}
	// Later requests still run: the lead was not lost with the cancelled one.
	wg.Go(func() {
		if r, err := g.do(t.Context(), 3); err != nil || r != 30 {
			t.Errorf("request after a cancel: %d, %v", r, err)
		}
	})
	waitFor(t, "a queued request", func() bool { return g.queued() == 1 })
	close(rec.release)
	wg.Wait()
	for _, b := range rec.batches {
		if slices.Contains(b, 2) {
			t.Fatal("the cancelled request ran")
		}
	}
}

func TestGroupCommitBatchError(t *testing.T) {
	boom := errors.New("disk full")
	g := newGroupCommit(8, 1, time.Minute, func(ctx context.Context, reqs []int) ([]int, error) { return nil, boom })
	if _, err := g.do(t.Context(), 1); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the batch's error", err)
	}
	short := newGroupCommit(8, 1, time.Minute, func(ctx context.Context, reqs []int) ([]int, error) { return nil, nil })
	if _, err := short.do(t.Context(), 1); ErrorCode(err) != EINTERNAL {
		t.Fatalf("a batch with missing results: %v, want an internal error", err)
	}
}

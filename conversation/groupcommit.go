package conversation

import (
	"context"
	"slices"
	"sync"
	"time"
)

// groupCommit runs concurrent requests in shared batches, so that many
// ingests pay for one transaction commit. A request that arrives while all
// batch slots are busy waits in the queue; when a batch finishes, its leader
// hands the lead to the first waiting request, which takes everything queued
// (up to max) into the next batch. There is no timer: under light load a
// batch holds one request and adds no latency.
type groupCommit[Req, Res any] struct {
	max     int
	slots   int
	timeout time.Duration
	run     func(ctx context.Context, reqs []Req) ([]Res, error)

	mu     sync.Mutex
	queue  []*gcCall[Req, Res]
	active int
}

type gcCall[Req, Res any] struct {
	req    Req
	res    Res
	err    error
	done   chan struct{} // closed once res and err are set
	lead   chan struct{} // closed when this call must lead a batch
	leader bool          // guarded by groupCommit.mu
}

func newGroupCommit[Req, Res any](max, slots int, timeout time.Duration, run func(context.Context, []Req) ([]Res, error)) *groupCommit[Req, Res] {
	return &groupCommit[Req, Res]{max: max, slots: slots, timeout: timeout, run: run}
}

// do runs req in some batch and returns its result. If ctx ends while req
// is still queued, do returns ctx.Err() and req is never run; once req is in
// a running batch it is committed or not whatever ctx does.
func (g *groupCommit[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	c := &gcCall[Req, Res]{req: req, done: make(chan struct{}), lead: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if g.active < g.slots {
		g.active++
		c.leader = true
		close(c.lead)
	}
	g.mu.Unlock()

	for {
		select {
		case <-c.done:
			return c.res, c.err
		case <-c.lead:
			g.lead(ctx)
			c.lead = nil // led once; now wait for done
		case <-ctx.Done():
			g.mu.Lock()
			if i := slices.Index(g.queue, c); i >= 0 {
				g.queue = slices.Delete(g.queue, i, i+1)
				if c.leader {
					g.handOff()
				}
				g.mu.Unlock()
				var zero Res
				return zero, ctx.Err()
			}
			g.mu.Unlock()
			// Already in a batch, or leading: finish like any other call.
			if c.lead != nil {
				select {
				case <-c.lead:
					g.lead(ctx)
					c.lead = nil
				case <-c.done:
					return c.res, c.err
				}
			}
			<-c.done
			return c.res, c.err
		}
	}
}

// lead commits one batch from the front of the queue, then hands the lead
// on or frees the slot.
func (g *groupCommit[Req, Res]) lead(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.queue), g.max)
	batch := slices.Clone(g.queue[:n])
	g.queue = slices.Delete(g.queue, 0, n)
	g.mu.Unlock()

	if n > 0 {
		reqs := make([]Req, n)
		for i, c := range batch {
			reqs[i] = c.req
		}
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
		res, err := g.run(bctx, reqs)
		cancel()
		if err == nil && len(res) != n {
			err = Errorf(EINTERNAL, "batch of %d returned %d results", n, len(res))
		}
		for i, c := range batch {
			if err == nil {
				c.res = res[i]
			}
			c.err = err
			close(c.done)
		}
	}

	g.mu.Lock()
	g.handOff()
	g.mu.Unlock()
}

// handOff passes the lead to the first queued call, or frees a slot when
// nothing waits. g.mu must be held.
func (g *groupCommit[Req, Res]) handOff() {
	for _, c := range g.queue {
		if !c.leader {
			c.leader = true
			close(c.lead)
			return
		}
	}
	g.active--
}

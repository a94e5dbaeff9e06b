package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"conversa/bench"
)

// snapshot is the node's memory at one moment.
type snapshot struct {
	rssMin, rssMax int64   // VmRSS, over a few samples
	heapInuse      float64 // go_memstats_heap_inuse_bytes
	stackInuse     float64 // go_memstats_stack_inuse_bytes
	goroutines     float64 // go_goroutines
	conns          float64 // conversa_webchat_connections
}

// takeSnapshot waits settle for the node to quiet down, samples its RSS
// samples times a second apart, then scrapes its metrics.
func takeSnapshot(ctx context.Context, node *bench.Node, wg *widget, settle time.Duration, samples int) (snapshot, error) {
	var s snapshot
	select {
	case <-ctx.Done():
		return s, ctx.Err()
	case <-time.After(settle):
	}
	var err error
	if s.rssMin, s.rssMax, err = bench.SampleRSS(ctx, node.Pid(), samples, time.Second); err != nil {
		return s, err
	}
	m, err := bench.Scrape(ctx, wg.client, node.URL)
	if err != nil {
		return s, err
	}
	s.heapInuse, _ = m.Sum("go_memstats_heap_inuse_bytes")
	s.stackInuse, _ = m.Sum("go_memstats_stack_inuse_bytes")
	s.goroutines, _ = m.Sum("go_goroutines")
	s.conns, _ = m.Sum("conversa_webchat_connections")
	return s, nil
}

// memoryResult is one measurement of the memory of idle connections.
type memoryResult struct {
	name          string
	opened        int
	failed        int
	firstErr      string
	openTime      time.Duration
	before, after snapshot
}

// perConn returns the growth of a measure per open connection.
func (r memoryResult) perConn(before, after float64) float64 {
	if r.opened == 0 {
		return 0
	}
	return (after - before) / float64(r.opened)
}

// measureMemory measures the node's memory, opens one idle connection per
// token ("" makes a new visitor), measures again, and closes them.
func measureMemory(ctx context.Context, node *bench.Node, wg *widget, name string, tokens []string, cfg config) (memoryResult, error) {
	res := memoryResult{name: name}
	var err error
	if res.before, err = takeSnapshot(ctx, node, wg, cfg.settle, cfg.samples); err != nil {
		return res, err
	}
	begin := time.Now()
	conns, failed, firstErr := openAll(ctx, wg, tokens, cfg.parallel)
	res.openTime = time.Since(begin)
	res.opened, res.failed, res.firstErr = len(conns), failed, firstErr
	defer closeAll(conns, cfg.parallel)
	if res.after, err = takeSnapshot(ctx, node, wg, cfg.settle, cfg.samples); err != nil {
		return res, err
	}
	return res, nil
}

// openAll opens one connection per token, parallel at a time, and keeps
// each read so that the server's pings get their pongs. It returns the open
// connections and how many failed.
func openAll(ctx context.Context, wg *widget, tokens []string, parallel int) ([]*websocket.Conn, int, string) {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		conns    = make([]*websocket.Conn, 0, len(tokens))
		failed   int
		firstErr string
		group    sync.WaitGroup
	)
	for range parallel {
		group.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(tokens) {
					return
				}
				ws, err := open(ctx, wg, tokens[i])
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == "" {
						firstErr = err.Error()
					}
				} else {
					conns = append(conns, ws)
				}
				mu.Unlock()
			}
		})
	}
	group.Wait()
	return conns, failed, firstErr
}

// open connects a visitor, new when token is "", and starts reading.
func open(ctx context.Context, wg *widget, token string) (*websocket.Conn, error) {
	if token == "" {
		var err error
		if token, err = wg.session(ctx); err != nil {
			return nil, err
		}
	}
	ws, _, err := wg.connect(ctx, token)
	if err != nil {
		return nil, err
	}
	go drain(ws)
	return ws, nil
}

// closeAll closes the connections with a close handshake, parallel at a
// time.
func closeAll(conns []*websocket.Conn, parallel int) {
	var next atomic.Int64
	var group sync.WaitGroup
	for range parallel {
		group.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(conns) {
					return
				}
				conns[i].Close(websocket.StatusNormalClosure, "")
			}
		})
	}
	group.Wait()
}

// prepareVisitors makes n visitors that have each written one message,
// and so have a contact and a conversation, parallel at a time. It returns
// their tokens.
func prepareVisitors(ctx context.Context, wg *widget, n, parallel int) ([]string, error) {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		tokens   = make([]string, 0, n)
		failed   int
		firstErr error
		group    sync.WaitGroup
	)
	for range parallel {
		group.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				token, err := writeOnce(ctx, wg)
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					tokens = append(tokens, token)
				}
				mu.Unlock()
			}
		})
	}
	group.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if failed > 0 {
		return nil, fmt.Errorf("%d of %d visitors could not write their first message; the first error: %w", failed, n, firstErr)
	}
	return tokens, nil
}

// writeOnce makes a visitor that sends one message, waits for its ack and
// leaves.
func writeOnce(ctx context.Context, wg *widget) (string, error) {
	token, err := wg.session(ctx)
	if err != nil {
		return "", err
	}
	ws, _, err := wg.connect(ctx, token)
	if err != nil {
		return "", err
	}
	defer ws.CloseNow()
	rctx, cancel := context.WithTimeout(ctx, replyTimeout)
	defer cancel()
	if err := send(rctx, ws, "first", "hola"); err != nil {
		return "", err
	}
	for {
		f, err := readFrame(rctx, ws)
		if err != nil {
			return "", fmt.Errorf("waiting for the ack: %w", err)
		}
		switch f.Type {
		case "ack":
			ws.Close(websocket.StatusNormalClosure, "")
			return token, nil
		case "error":
			return "", fmt.Errorf("error frame: %s: %s", f.Code, f.Error)
		}
	}
}

// waitForJobs waits until the node has no pending or running jobs (the
// bot's turns and the deliveries of its replies), up to limit.
func waitForJobs(ctx context.Context, node *bench.Node, wg *widget, limit time.Duration) (time.Duration, error) {
	begin := time.Now()
	for {
		m, err := bench.Scrape(ctx, wg.client, node.URL)
		if err != nil {
			return 0, err
		}
		pending, _ := m.Sum("conversa_jobs", `state="pending"`)
		running, _ := m.Sum("conversa_jobs", `state="running"`)
		if pending+running == 0 {
			return time.Since(begin), nil
		}
		if time.Since(begin) > limit {
			return 0, fmt.Errorf("%v jobs still pending and %v running after %s", pending, running, limit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

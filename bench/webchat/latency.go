package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"conversa/bench"
)

// replyTimeout bounds the wait for one reply.
const replyTimeout = 15 * time.Second

// latencyResult is the outcome of the latency phase on one store.
type latencyResult struct {
	store   string
	reply   bench.Summary // send -> first frame of the bot's reply
	ack     bench.Summary // send -> the ack frame
	first   bench.Summary // the replies to each visitor's first message
	elapsed time.Duration
	// serverCPU is the node's CPU time during the phase; busy, the share
	// of the machine's CPUs in use.
	serverCPU time.Duration
	busy      float64
	failed    int
	firstErr  string
}

// measureLatency runs visitors concurrent visitors that each send messages
// messages one after the other, waiting for the bot's reply to each. pid is
// the node's process.
func measureLatency(ctx context.Context, wg *widget, store string, pid, visitors, messages int) latencyResult {
	var (
		mu                   sync.Mutex
		replies, acks, first []time.Duration
		res                  = latencyResult{store: store}
		group                sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		res.failed++
		if res.firstErr == "" {
			res.firstErr = err.Error()
		}
	}
	cpu0, _ := bench.CPUTime(pid)
	busy0, _ := bench.ReadCPUStat()
	begin := time.Now()
	for v := range visitors {
		group.Go(func() {
			token, err := wg.session(ctx)
			if err != nil {
				fail(err)
				return
			}
			ws, _, err := wg.connect(ctx, token)
			if err != nil {
				fail(err)
				return
			}
			defer ws.CloseNow()
			seen := map[int64]bool{}
			for i := range messages {
				reply, ack, err := exchange(ctx, ws, "v"+strconv.Itoa(v)+"-"+strconv.Itoa(i), seen)
				if err != nil {
					fail(fmt.Errorf("visitor %d message %d: %w", v, i, err))
					return
				}
				mu.Lock()
				replies = append(replies, reply)
				acks = append(acks, ack)
				if i == 0 {
					first = append(first, reply)
				}
				mu.Unlock()
			}
			ws.Close(websocket.StatusNormalClosure, "")
		})
	}
	group.Wait()
	res.elapsed = time.Since(begin)
	cpu1, _ := bench.CPUTime(pid)
	busy1, _ := bench.ReadCPUStat()
	res.serverCPU, res.busy = cpu1-cpu0, busy1.BusySince(busy0)
	res.reply, res.ack, res.first = bench.Summarize(replies), bench.Summarize(acks), bench.Summarize(first)
	return res
}

// exchange sends one message and reads frames until the first frame of a
// reply it has not seen, returning the times to that reply and to the ack.
// The same reply may come twice (sent, then its stored status): seen
// remembers the replies of earlier exchanges.
func exchange(ctx context.Context, ws *websocket.Conn, id string, seen map[int64]bool) (reply, ack time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, replyTimeout)
	defer cancel()
	sent := time.Now()
	if err := send(ctx, ws, id, "hola"); err != nil {
		return 0, 0, fmt.Errorf("send: %w", err)
	}
	for {
		f, err := readFrame(ctx, ws)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no reply within %s", replyTimeout)
			}
			return 0, 0, err
		}
		switch {
		case f.Type == "ack" && f.ID == id:
			ack = time.Since(sent)
		case f.Type == "error":
			return 0, 0, fmt.Errorf("error frame: %s: %s", f.Code, f.Error)
		case f.Type == "message" && f.Message != nil && f.Message.Direction == "out" && !seen[f.Message.ID]:
			reply = time.Since(sent)
			seen[f.Message.ID] = true
		}
		if reply > 0 && ack > 0 {
			return reply, ack, nil
		}
	}
}

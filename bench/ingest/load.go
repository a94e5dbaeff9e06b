package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"conversa/bench"
)

// messageText is the text of every message: a short, typical customer
// message.
const messageText = "Hola, quisiera saber el estado de mi pedido 48213, por favor."

// target is an HTTP endpoint that takes inbound messages in the body format
// of POST /api/v1/inbound, or, with twilio set, Twilio's webhook of an
// incoming SMS.
type target struct {
	name      string
	url       string // the inbound endpoint
	apiKey    string // sent as a Bearer token when set
	channelID int64
	twilio    *twilioSender
	// pid is the process that serves the target, whose CPU time is
	// measured; 0 when it is this process.
	pid    int
	client *http.Client
	// acked counts the 2xx answers over the target's lifetime, to check
	// afterwards that every acknowledged message was stored.
	acked atomic.Int64
}

// newClient returns an HTTP client that keeps one connection per
// concurrent client alive.
func newClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

// body returns the JSON of one inbound message from contact from, with the
// unique provider id "m<id>".
func body(channelID int64, from int, id int64) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"channel_id":`...)
	b = strconv.AppendInt(b, channelID, 10)
	b = append(b, `,"from":"user-`...)
	b = strconv.AppendInt(b, int64(from), 10)
	b = append(b, `","id":"m`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `","text":"`+messageText+`"}`...)
	return b
}

// post sends one message and reads the whole answer. It returns the status
// and, for an answer that is not 2xx, the start of its body.
func (t *target) post(ctx context.Context, from int, id int64) (int, string, error) {
	var req *http.Request
	var err error
	if t.twilio != nil {
		req, err = t.twilio.request(ctx, t.url, from, id)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body(t.channelID, from, id)))
		req.Header.Set("Content-Type", "application/json")
	}
	if err != nil {
		return 0, "", err
	}
	if t.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+t.apiKey)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		t.acked.Add(1)
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, "", err
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, string(bytes.TrimSpace(snippet)), nil
}

// describe names a failed request for the report.
func describe(status int, snippet string, err error) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d %s", status, snippet)
}

// window is what is measured around a run: taken once when the measured
// time starts and once when it ends.
type window struct {
	at        time.Time
	serverCPU time.Duration // the target's process; 0 when it is this one
	benchCPU  time.Duration // this process
	pgCPU     time.Duration // every postgres process of the machine; 0 when not measured
	cpu       bench.CPUStat
	walSyncs  int64 // -1 when unknown
}

// loadStats is what the clients of one run saw.
type loadStats struct {
	ok, failed  int // measured answers
	warmFailed  int // failures before or after the measured time
	latencies   []time.Duration
	firstFailed string
	start, end  window
}

// load runs concurrency clients against t: warmup, then the measured
// duration, then it waits for the requests in flight. snap is called at the
// start and end of the measured time.
func load(ctx context.Context, t *target, cfg config, ids *atomic.Int64, snap func() (window, error)) (loadStats, error) {
	var (
		stopped atomic.Bool
		wg      sync.WaitGroup
		mu      sync.Mutex
		total   loadStats
	)
	begin := time.Now()
	start := begin.Add(cfg.warmup)
	end := start.Add(cfg.duration)
	for w := range cfg.concurrency {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(begin.UnixNano()), uint64(w)))
			var s loadStats
			s.latencies = make([]time.Duration, 0, 1024)
			for !stopped.Load() && ctx.Err() == nil {
				sent := time.Now()
				status, snippet, err := t.post(ctx, rng.IntN(cfg.contacts), ids.Add(1))
				done := time.Now()
				measured := !sent.Before(start) && !done.After(end)
				good := err == nil && status/100 == 2
				switch {
				case ctx.Err() != nil:
					return
				case good && measured:
					s.ok++
					s.latencies = append(s.latencies, done.Sub(sent))
				case good:
				case measured:
					s.failed++
				default:
					s.warmFailed++
				}
				if !good && s.firstFailed == "" {
					s.firstFailed = describe(status, snippet, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			total.ok += s.ok
			total.failed += s.failed
			total.warmFailed += s.warmFailed
			total.latencies = append(total.latencies, s.latencies...)
			if total.firstFailed == "" {
				total.firstFailed = s.firstFailed
			}
		})
	}
	var err error
	if err = sleepUntil(ctx, start); err == nil {
		if total.start, err = snap(); err == nil {
			if err = sleepUntil(ctx, end); err == nil {
				total.end, err = snap()
			}
		}
	}
	stopped.Store(true)
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return total, err
}

// seed sends one message from each contact, concurrency at a time, so that
// the measured messages go to existing contacts and conversations. It
// returns how long that took.
func seed(ctx context.Context, t *target, cfg config, ids *atomic.Int64) (time.Duration, error) {
	var (
		next, failed atomic.Int64
		first        sync.Once
		firstFailed  string
		wg           sync.WaitGroup
	)
	begin := time.Now()
	for range cfg.concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= cfg.contacts {
					return
				}
				status, snippet, err := t.post(ctx, k, ids.Add(1))
				if err != nil || status/100 != 2 {
					failed.Add(1)
					first.Do(func() { firstFailed = describe(status, snippet, err) })
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if n := failed.Load(); float64(n) > cfg.maxErrorRate*float64(cfg.contacts) {
		return 0, fmt.Errorf("seeding %s: %d of %d requests failed; the first: %s", t.name, n, cfg.contacts, firstFailed)
	}
	return time.Since(begin), nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

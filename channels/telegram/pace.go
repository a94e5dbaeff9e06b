package telegram

import (
	"context"
	"sync"
	"time"

	"conversa/conversation"
)

// pacer spaces the messages of this node: one per ChatInterval to a chat,
// one per 1/rate to a bot. Each send books the first time both allow and
// waits for it, so messages are delayed, never dropped. A send whose turn
// is further away than the caller's limit books nothing and is told to
// come back (a DeliveryError with RetryAfter), so that the job queue holds
// it instead of a worker.
//
// Limits are per node: nodes sharing a bot each keep their own pace.
type pacer struct {
	mu   sync.Mutex
	next map[string]time.Time // key -> earliest time of the next send
}

func newPacer() *pacer { return &pacer{next: map[string]time.Time{}} }

// wait blocks until the next send to chatKey of botKey may go. It returns
// ctx's error if ctx ends first, and a DeliveryError with RetryAfter if the
// turn is more than maxWait away.
func (p *pacer) wait(ctx context.Context, botKey, chatKey string, botEvery, chatEvery, maxWait time.Duration) error {
	now := time.Now()
	p.mu.Lock()
	at := now
	for _, k := range []string{"bot:" + botKey, "chat:" + chatKey} {
		if t := p.next[k]; t.After(at) {
			at = t
		}
	}
	if wait := at.Sub(now); wait > maxWait {
		p.mu.Unlock()
		return &conversation.DeliveryError{Code: "paced", Message: "waiting for Telegram's rate limits", RetryAfter: wait}
	}
	p.next["bot:"+botKey] = at.Add(botEvery)
	p.next["chat:"+chatKey] = at.Add(chatEvery)
	if len(p.next) > 10000 {
		p.sweep(now)
	}
	p.mu.Unlock()
	if at.Equal(now) {
		return nil
	}
	t := time.NewTimer(at.Sub(now))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// hold keeps chatKey quiet for d, as a 429 asks.
func (p *pacer) hold(chatKey string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := "chat:" + chatKey
	if until := time.Now().Add(d); until.After(p.next[k]) {
		p.next[k] = until
	}
}

// sweep forgets the keys whose time has passed. p.mu is held.
func (p *pacer) sweep(now time.Time) {
	for k, t := range p.next {
		if !t.After(now) {
			delete(p.next, k)
		}
	}
}

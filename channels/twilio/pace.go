package twilio

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"conversa/channels"
	"conversa/conversation"
)

// pacer paces sends per sender at the account's messages_per_second: a
// send waits for its turn (up to its context's end) rather than be refused,
// so nothing is dropped. On this node a token bucket spaces them; with a
// shared limiter, every node also takes its turn in the sender's window
// there, so several nodes together keep to the rate.
type pacer struct {
	mu     sync.Mutex
	m      map[string]*pace
	shared conversation.Limiter
}

type pace struct {
	rate float64
	lim  *rate.Limiter
}

// wait returns when the sender may send one message, or ctx's error.
func (p *pacer) wait(ctx context.Context, sender string, perSecond float64) error {
	p.mu.Lock()
	pc := p.m[sender]
	if pc == nil || pc.rate != perSecond {
		// A burst of one second's worth: a sender idle for a second may
		// send that many at once, as the providers allow.
		burst := max(1, int(math.Floor(perSecond)))
		pc = &pace{rate: perSecond, lim: rate.NewLimiter(rate.Limit(perSecond), burst)}
		p.m[sender] = pc
	}
	p.mu.Unlock()
	if err := pc.lim.Wait(ctx); err != nil {
		return err
	}
	if p.shared == nil {
		return nil
	}
	// The window that holds one turn at this rate: a second for n turns,
	// or longer when the rate is below one a second.
	n, window := int(math.Floor(perSecond)), time.Second
	if n < 1 {
		n, window = 1, time.Duration(float64(time.Second)/perSecond)
	}
	return channels.TakeTurn(ctx, p.shared, "twilio:pace:"+sender, n, window)
}

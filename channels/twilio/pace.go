package twilio

import (
	"context"
	"math"
	"sync"

	"golang.org/x/time/rate"
)

// pacer paces sends per sender on this node, at the account's
// messages_per_second: a send waits for its turn (up to its context's end)
// rather than be refused, so nothing is dropped. Several nodes each pace at
// the full rate; Twilio queues what exceeds a sender's limit.
type pacer struct {
	mu sync.Mutex
	m  map[string]*pace
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
	return pc.lim.Wait(ctx)
}

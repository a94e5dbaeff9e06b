package channels

import (
	"context"
	"time"

	"conversa/conversation"
)

// TakeTurn waits for a turn in key's window of the shared limiter: at most
// n turns per window, across every node that shares it. It returns ctx's
// error if ctx ends first. A limiter that fails gives the turn (each node's
// own pace still holds): pacing must not stop delivery.
func TakeTurn(ctx context.Context, limiter conversation.Limiter, key string, n int, window time.Duration) error {
	for {
		ok, after, err := limiter.Allow(ctx, key, n, window)
		if err != nil || ok {
			return nil
		}
		t := time.NewTimer(max(after, time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

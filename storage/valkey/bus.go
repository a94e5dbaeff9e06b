package valkey

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	valkeygo "github.com/valkey-io/valkey-go"

	"conversa/conversation"
)

// The bus resubscribes after a connection loss with exponential backoff and
// jitter between these bounds.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Publish sends payload to the subscribers of topic on every node, this one
// included, through the channel <prefix>:bus:<topic>. Delivery is at most
// once: a node whose bus connection is down (Run reconnecting, or not
// running) misses what is published meanwhile. Returns EINVALID for an empty
// topic and EUNAVAILABLE when the server cannot be reached.
func (c *Client) Publish(ctx context.Context, topic string, payload []byte) error {
	if topic == "" {
		return conversation.Errorf(conversation.EINVALID, "empty topic")
	}
	cmd := c.client.B().Publish().Channel(c.channel(topic)).Message(valkeygo.BinaryString(payload)).Build()
	if err := c.client.Do(ctx, cmd).Error(); err != nil {
		return unavailable("publish", err)
	}
	return nil
}

// Subscribe starts a subscription to topics. It only registers with this
// node's hub, so it needs no round trip and works whether or not Run is
// running; messages arrive while Run is connected. Returns EINVALID for no
// topics or an empty one.
func (c *Client) Subscribe(ctx context.Context, topics ...string) (*conversation.Subscription, error) {
	if len(topics) == 0 {
		return nil, conversation.Errorf(conversation.EINVALID, "no topics")
	}
	for _, t := range topics {
		if t == "" {
			return nil, conversation.Errorf(conversation.EINVALID, "empty topic")
		}
	}
	return c.hub.Subscribe(topics...), nil
}

// Run receives the bus's messages for this node until ctx ends, then
// returns nil. It holds one pattern subscription, PSUBSCRIBE
// <prefix>:bus:*, on a connection of its own, and hands every message to
// the subscriptions of this node; after a connection loss it subscribes
// again with exponential backoff. It returns an error if it is already
// running or the Client is closed.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("valkey bus: Run is already running")
	}
	defer c.running.Store(false)
	pattern := escapeGlob(c.channel("")) + "*"
	backoff := minBackoff
	for {
		if c.closed.Load() {
			return errors.New("valkey bus: client closed")
		}
		var subscribed atomic.Bool
		hooked := valkeygo.WithOnSubscriptionHook(ctx, func(s valkeygo.PubSubSubscription) {
			if s.Kind == "psubscribe" {
				subscribed.Store(true)
				c.log.Debug("bus subscribed", "pattern", s.Channel)
			}
		})
		err := c.client.Dedicated(func(dc valkeygo.DedicatedClient) error {
			return dc.Receive(hooked, dc.B().Psubscribe().Pattern(pattern).Build(), c.deliver)
		})
		if ctx.Err() != nil {
			return nil
		}
		if c.closed.Load() || errors.Is(err, valkeygo.ErrClosing) {
			return errors.New("valkey bus: client closed")
		}
		if subscribed.Load() {
			backoff = minBackoff
			// Messages published until the next subscription are lost: let
			// the readers know, so they re-read the store.
			c.hub.EndAll(conversation.ErrBusReset)
		}
		wait := backoff/2 + rand.N(backoff/2)
		c.log.Warn("bus connection lost; subscribing again", "err", err, "retry_in", wait)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// deliver hands a message of the pattern subscription to the hub. It runs
// on valkey-go's reading goroutine and never blocks: Deliver ends slow
// subscriptions instead of waiting for them.
func (c *Client) deliver(m valkeygo.PubSubMessage) {
	if topic, ok := strings.CutPrefix(m.Channel, c.channel("")); ok {
		c.hub.Deliver(topic, []byte(m.Message))
	}
}

// channel returns the channel name of topic.
func (c *Client) channel(topic string) string {
	return c.prefix + "bus:" + topic
}

// escapeGlob escapes the characters that PSUBSCRIBE patterns treat
// specially, so that s matches only itself.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\^-`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

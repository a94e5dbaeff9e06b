package conversation

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Shared state is what the nodes of one deployment must see alike:
// storage/valkey implements it across nodes, storage/memory inside one
// process, and conversationtest.TestShared proves both.

// Bus fans messages out to subscribers on every node. Delivery is at most
// once and best effort: a reader that must not miss anything reads the store
// after (re)subscribing. Publish and Subscribe are safe for concurrent use.
type Bus interface {
	// Publish sends payload to the current subscribers of topic.
	Publish(ctx context.Context, topic string, payload []byte) error
	// Subscribe starts a subscription to the topics. It ends when Close is
	// called or when its reader falls behind (see Subscription).
	Subscribe(ctx context.Context, topics ...string) (*Subscription, error)
}

// Deduper remembers keys for a while: the fast path in front of the store's
// de-duplication.
type Deduper interface {
	// Seen reports whether key was remembered and has not expired.
	Seen(ctx context.Context, key string) (bool, error)
	// Remember stores key for ttl.
	Remember(ctx context.Context, key string, ttl time.Duration) error
}

// Limiter counts events per key in fixed windows.
type Limiter interface {
	// Allow counts one event for key and reports whether it is within limit
	// events per window. When it is not, retryAfter is the time until the
	// window ends.
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// Locker hands out named leases across nodes, for work that must run once
// wherever it runs.
type Locker interface {
	// TryLock takes the lock named key for ttl. It returns ECONFLICT if
	// another holder has it.
	TryLock(ctx context.Context, key string, ttl time.Duration) (Lock, error)
}

// Lock is a held lease.
type Lock interface {
	// Extend renews the lease for ttl. Returns ECONFLICT if it was lost.
	Extend(ctx context.Context, ttl time.Duration) error
	// Unlock releases the lease if it is still held.
	Unlock(ctx context.Context) error
}

// BusMessage is one message received on a subscription.
type BusMessage struct {
	Topic   string
	Payload []byte
}

// Reasons a subscription ends other than Close.
var (
	// ErrSlowSubscriber ends a subscription whose reader fell behind.
	ErrSlowSubscriber = errors.New("subscriber fell behind")
	// ErrBusReset ends every subscription of a node whose connection to
	// the other nodes broke: messages may have been lost meanwhile.
	ErrBusReset = errors.New("the bus lost its connection; messages may be missing")
)

// Subscription receives the messages of its topics on C. C is closed when
// the subscription ends; Err then says why: nil after Close,
// ErrSlowSubscriber when the reader left more than its buffer unread,
// ErrBusReset when messages may have been lost. After an error, a reader
// that must not miss anything reads the store and subscribes again. A slow
// reader never blocks a publisher.
type Subscription struct {
	c      chan BusMessage
	topics []string
	hub    *Hub
	notify atomic.Pointer[func()]

	mu     sync.Mutex
	closed bool
	err    error
}

// Notify registers fn to be called after a message is queued on C and
// when the subscription ends, so that a reader need not keep a goroutine
// blocked on C. fn runs on the publisher's goroutine: it must return at once
// and must not call the Bus. If messages are already queued, or the
// subscription has ended, fn is called before Notify returns.
func (s *Subscription) Notify(fn func()) {
	s.notify.Store(&fn)
	s.mu.Lock()
	ended := s.closed
	s.mu.Unlock()
	if ended || len(s.c) > 0 {
		fn()
	}
}

func (s *Subscription) notified() {
	if fn := s.notify.Load(); fn != nil {
		(*fn)()
	}
}

// C returns the channel of received messages.
func (s *Subscription) C() <-chan BusMessage { return s.c }

// Topics returns the subscribed topics.
func (s *Subscription) Topics() []string { return s.topics }

// Err says why the subscription ended; see Subscription.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription. It is safe to call more than once.
func (s *Subscription) Close() { s.hub.remove(s, nil) }

// Hub is the local half of a Bus: it fans messages out to the subscriptions
// of this process, each with its own bounded buffer. The zero value is not
// usable; call NewHub.
type Hub struct {
	buffer int

	mu     sync.RWMutex
	topics map[string]map[*Subscription]struct{}
}

// NewHub returns a hub whose subscriptions buffer up to buffer messages.
func NewHub(buffer int) *Hub {
	if buffer <= 0 {
		buffer = 64
	}
	return &Hub{buffer: buffer, topics: map[string]map[*Subscription]struct{}{}}
}

// Subscribe adds a subscription to topics.
func (h *Hub) Subscribe(topics ...string) *Subscription {
	s := &Subscription{c: make(chan BusMessage, h.buffer), topics: slices.Clone(topics), hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, t := range topics {
		subs := h.topics[t]
		if subs == nil {
			subs = map[*Subscription]struct{}{}
			h.topics[t] = subs
		}
		subs[s] = struct{}{}
	}
	return s
}

// Deliver hands payload to the local subscribers of topic. A subscriber
// whose buffer is full is ended with ErrSlowSubscriber.
func (h *Hub) Deliver(topic string, payload []byte) {
	var slow []*Subscription
	h.mu.RLock()
	for s := range h.topics[topic] {
		select {
		case s.c <- BusMessage{Topic: topic, Payload: payload}:
			s.notified()
		default:
			slow = append(slow, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range slow {
		h.remove(s, ErrSlowSubscriber)
	}
}

// EndAll ends every subscription with reason.
func (h *Hub) EndAll(reason error) {
	h.mu.RLock()
	var all []*Subscription
	for _, subs := range h.topics {
		for s := range subs {
			all = append(all, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range all {
		h.remove(s, reason)
	}
}

func (h *Hub) remove(s *Subscription, reason error) {
	h.mu.Lock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		h.mu.Unlock()
		return
	}
	s.closed = true
	s.err = reason
	close(s.c)
	s.mu.Unlock()
	for _, t := range s.topics {
		if subs, ok := h.topics[t]; ok {
			delete(subs, s)
			if len(subs) == 0 {
				delete(h.topics, t)
			}
		}
	}
	h.mu.Unlock()
	s.notified()
}

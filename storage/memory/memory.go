// Package memory is the shared state of a deployment that runs as a single
// node: a conversation.Bus, Deduper, Limiter and Locker kept in this
// process's memory. A deployment of several nodes uses storage/valkey
// instead; both pass conversationtest.TestShared.
package memory

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"conversa/conversation"
)

// Shared is the in-process shared state. It implements conversation.Bus,
// conversation.Deduper, conversation.Limiter and conversation.Locker; all
// its methods are safe for concurrent use. Its memory stays bounded without
// a background goroutine: expired entries are swept on access, whenever a
// table has doubled in size since its last sweep.
type Shared struct {
	hub *conversation.Hub

	dedupMu sync.Mutex
	dedup   table[struct{}]

	limitMu sync.Mutex
	limits  table[int] // events counted in the current window

	lockMu sync.Mutex
	locks  table[uint64] // the token of the holder
	tokens atomic.Uint64
}

var (
	_ conversation.Bus     = (*Shared)(nil)
	_ conversation.Deduper = (*Shared)(nil)
	_ conversation.Limiter = (*Shared)(nil)
	_ conversation.Locker  = (*Shared)(nil)
)

// New returns empty shared state whose subscriptions buffer as many messages
// as conversation.NewHub's default.
func New() *Shared {
	return &Shared{hub: conversation.NewHub(0)}
}

// Ping reports whether the state is usable. It always is; Ping exists so
// that readiness checks treat every backend alike.
func (s *Shared) Ping(ctx context.Context) error { return nil }

// Publish delivers a copy of payload to the current subscribers of topic
// before it returns. A subscriber whose buffer is full is ended with
// conversation.ErrSlowSubscriber; Publish never blocks on one. Returns
// EINVALID for an empty topic.
func (s *Shared) Publish(ctx context.Context, topic string, payload []byte) error {
	if topic == "" {
		return conversation.Errorf(conversation.EINVALID, "empty topic")
	}
	// Receivers share the copy; the caller may reuse payload.
	s.hub.Deliver(topic, bytes.Clone(payload))
	return nil
}

// Subscribe starts a subscription to topics. The subscription is live when
// Subscribe returns. Receivers must not modify the payloads they get: every
// subscriber of a topic sees the same bytes. Returns EINVALID for no topics
// or an empty one.
func (s *Shared) Subscribe(ctx context.Context, topics ...string) (*conversation.Subscription, error) {
	if err := checkTopics(topics); err != nil {
		return nil, err
	}
	return s.hub.Subscribe(topics...), nil
}

func checkTopics(topics []string) error {
	if len(topics) == 0 {
		return conversation.Errorf(conversation.EINVALID, "no topics")
	}
	for _, t := range topics {
		if t == "" {
			return conversation.Errorf(conversation.EINVALID, "empty topic")
		}
	}
	return nil
}

// Seen reports whether key was remembered and has not expired. Returns
// EINVALID for an empty key.
func (s *Shared) Seen(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, conversation.Errorf(conversation.EINVALID, "empty key")
	}
	s.dedupMu.Lock()
	defer s.dedupMu.Unlock()
	_, ok := s.dedup.get(key, time.Now())
	return ok, nil
}

// Remember stores key for ttl, replacing an earlier ttl. Returns EINVALID
// for an empty key or a ttl that is not positive.
func (s *Shared) Remember(ctx context.Context, key string, ttl time.Duration) error {
	if key == "" {
		return conversation.Errorf(conversation.EINVALID, "empty key")
	}
	if ttl <= 0 {
		return conversation.Errorf(conversation.EINVALID, "ttl must be positive, got %v", ttl)
	}
	s.dedupMu.Lock()
	defer s.dedupMu.Unlock()
	now := time.Now()
	s.dedup.put(key, struct{}{}, now.Add(ttl), now)
	return nil
}

// Allow counts one event for key in a fixed window that starts with the
// first event after the previous window ended, and reports whether the
// count is within limit. When it is not, retryAfter is the time until the
// window ends, in (0, window]. Refused events count too. Returns EINVALID
// for an empty key or a limit or window that is not positive.
func (s *Shared) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if key == "" {
		return false, 0, conversation.Errorf(conversation.EINVALID, "empty key")
	}
	if limit <= 0 || window <= 0 {
		return false, 0, conversation.Errorf(conversation.EINVALID, "limit and window must be positive, got %d per %v", limit, window)
	}
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	now := time.Now()
	e, ok := s.limits.entry(key, now)
	if !ok {
		e = entry[int]{expires: now.Add(window)}
	}
	e.v++
	s.limits.put(key, e.v, e.expires, now)
	if e.v <= limit {
		return true, 0, nil
	}
	return false, e.expires.Sub(now), nil
}

// TryLock takes the lock named key for ttl. Returns ECONFLICT if another
// holder has it, and EINVALID for an empty key or a ttl that is not
// positive. The Lock's methods are safe for concurrent use.
func (s *Shared) TryLock(ctx context.Context, key string, ttl time.Duration) (conversation.Lock, error) {
	if key == "" {
		return nil, conversation.Errorf(conversation.EINVALID, "empty lock key")
	}
	if ttl <= 0 {
		return nil, conversation.Errorf(conversation.EINVALID, "lock ttl must be positive, got %v", ttl)
	}
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	now := time.Now()
	if _, held := s.locks.get(key, now); held {
		return nil, conversation.Errorf(conversation.ECONFLICT, "lock %q is held", key)
	}
	token := s.tokens.Add(1)
	s.locks.put(key, token, now.Add(ttl), now)
	return &lock{s: s, key: key, token: token}, nil
}

// lock is a lease taken by Shared.TryLock; token tells it from later leases
// of the same key.
type lock struct {
	s     *Shared
	key   string
	token uint64
}

// Extend renews the lease for ttl. Returns ECONFLICT if the lease was lost:
// released, or its ttl passed (even if nobody took it since), and EINVALID
// for a ttl that is not positive.
func (l *lock) Extend(ctx context.Context, ttl time.Duration) error {
	if ttl <= 0 {
		return conversation.Errorf(conversation.EINVALID, "lock ttl must be positive, got %v", ttl)
	}
	l.s.lockMu.Lock()
	defer l.s.lockMu.Unlock()
	now := time.Now()
	if token, held := l.s.locks.get(l.key, now); !held || token != l.token {
		return conversation.Errorf(conversation.ECONFLICT, "lock %q was lost", l.key)
	}
	l.s.locks.put(l.key, l.token, now.Add(ttl), now)
	return nil
}

// Unlock releases the lease if it is still held. It returns nil either way,
// and never releases a later holder's lease.
func (l *lock) Unlock(ctx context.Context) error {
	l.s.lockMu.Lock()
	defer l.s.lockMu.Unlock()
	if e, ok := l.s.locks.m[l.key]; ok && e.v == l.token {
		delete(l.s.locks.m, l.key)
	}
	return nil
}

// minSweep is the size below which a table is never swept.
const minSweep = 1024

// table maps keys to values that expire. It sweeps out expired entries when
// it has doubled in size since its last sweep, so it holds at most about
// twice the entries that were live at once, at an amortized constant cost
// per put. Its zero value is empty; it is not safe for concurrent use.
type table[V any] struct {
	m         map[string]entry[V]
	nextSweep int
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// entry returns the unexpired entry of key.
func (t *table[V]) entry(key string, now time.Time) (entry[V], bool) {
	e, ok := t.m[key]
	if !ok || !now.Before(e.expires) {
		return entry[V]{}, false
	}
	return e, true
}

// get returns the unexpired value of key.
func (t *table[V]) get(key string, now time.Time) (V, bool) {
	e, ok := t.entry(key, now)
	return e.v, ok
}

// put sets key to v until expires, sweeping first if the table is due.
func (t *table[V]) put(key string, v V, expires, now time.Time) {
	if t.m == nil {
		t.m = map[string]entry[V]{}
	}
	if len(t.m) >= max(t.nextSweep, minSweep) {
		for k, e := range t.m {
			if !now.Before(e.expires) {
				delete(t.m, k)
			}
		}
		t.nextSweep = 2 * len(t.m)
	}
	t.m[key] = entry[V]{v: v, expires: expires}
}

package conversationtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conversa/conversation"
)

// Shared bundles one implementation of the shared-state interfaces.
type Shared struct {
	Bus     conversation.Bus
	Dedup   conversation.Deduper
	Limiter conversation.Limiter
	Locker  conversation.Locker
	// Second, when set, is another node's view of the same state (a second
	// client of the same server); the suite then checks cross-node behaviour.
	Second *Shared
}

// peer returns the other node's view of the state, or s itself for a single
// node, so that every check of "another caller" runs across nodes when it
// can.
func (s Shared) peer() Shared {
	if s.Second != nil {
		return *s.Second
	}
	return s
}

// waitFor bounds everything the suite waits for: a message, an expiry, a
// reconnection.
const waitFor = 5 * time.Second

// TestShared runs the shared-state contract. newShared returns state of its
// own for every subtest (for a server: a fresh key prefix); subtests run in
// parallel.
//
// Delivery on a Bus is at most once, and an implementation may need a moment
// after Subscribe (or after it starts) before a subscription is live, so the
// bus tests first publish probes until every subscription receives one (see
// settle). They assume subscription buffers of at least 16 and fewer than
// 100 000 messages.
//
// Beyond shared.go, the suite holds implementations to these rules: a topic
// or key must not be empty, and a ttl, window or limit must be positive, or
// the call returns EINVALID; Unlock of a lease that was lost returns nil or
// ECONFLICT and never releases another holder's lease; Extend of a lease
// whose ttl passed returns ECONFLICT even if nobody took it.
func TestShared(t *testing.T, newShared func(t *testing.T) Shared) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Shared)
	}{
		{"BusDelivery", testBusDelivery},
		{"BusOtherTopics", testBusOtherTopics},
		{"BusClose", testBusClose},
		{"BusNotify", testBusNotify},
		{"BusSlowSubscriber", testBusSlowSubscriber},
		{"BusOrder", testBusOrder},
		{"Dedup", testDedup},
		{"DedupExpiry", testDedupExpiry},
		{"Limiter", testLimiter},
		{"LimiterNewWindow", testLimiterNewWindow},
		{"LimiterConcurrent", testLimiterConcurrent},
		{"Lock", testLock},
		{"LockExtend", testLockExtend},
		{"LockExpiry", testLockExpiry},
		{"LockConcurrent", testLockConcurrent},
		{"Namespaces", testSharedNamespaces},
		{"InvalidArguments", testSharedInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newShared(t))
		})
	}
}

// TestSharedAcrossNodes runs the part of the contract about several nodes:
// a message published on one node reaches the subscribers of the others.
// newShared must set Second.
func TestSharedAcrossNodes(t *testing.T, newShared func(t *testing.T) Shared) {
	t.Run("BusCrossNode", func(t *testing.T) {
		t.Parallel()
		s := newShared(t)
		if s.Second == nil {
			t.Fatal("TestSharedAcrossNodes needs Shared.Second: another node's view of the same state")
		}
		testBusCrossNode(t, s)
	})
}

// subscribe subscribes to topics and closes the subscription when t ends.
func subscribe(t *testing.T, bus conversation.Bus, topics ...string) *conversation.Subscription {
	t.Helper()
	sub, err := bus.Subscribe(t.Context(), topics...)
	must(t, err)
	t.Cleanup(sub.Close)
	if got := sub.Topics(); !slices.Equal(got, topics) {
		t.Fatalf("Topics() = %q, want %q", got, topics)
	}
	return sub
}

func publish(t *testing.T, bus conversation.Bus, topic, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	must(t, bus.Publish(ctx, topic, []byte(payload)))
}

// recvUntil returns the next message of sub, or false if none arrives before
// until. It fails t if the subscription ends.
func recvUntil(t *testing.T, sub *conversation.Subscription, until time.Time) (conversation.BusMessage, bool) {
	t.Helper()
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	select {
	case m, ok := <-sub.C():
		if !ok {
			t.Fatalf("subscription to %q ended: %v", sub.Topics(), sub.Err())
		}
		return m, true
	case <-timer.C:
		return conversation.BusMessage{}, false
	}
}

// recv returns the next message of sub, failing t if none arrives in time.
func recv(t *testing.T, sub *conversation.Subscription) conversation.BusMessage {
	t.Helper()
	m, ok := recvUntil(t, sub, time.Now().Add(waitFor))
	if !ok {
		t.Fatalf("subscription to %q: no message within %v", sub.Topics(), waitFor)
	}
	return m
}

// wantMsg receives the next message of sub and checks it.
func wantMsg(t *testing.T, sub *conversation.Subscription, topic, payload string) {
	t.Helper()
	m := recv(t, sub)
	if m.Topic != topic || string(m.Payload) != payload {
		t.Fatalf("received %s:%q, want %s:%q", m.Topic, m.Payload, topic, payload)
	}
}

// wantEnded checks that sub's channel is closed, with no message left in it.
func wantEnded(t *testing.T, sub *conversation.Subscription) {
	t.Helper()
	m, ok := recvUntilClosed(t, sub)
	if ok {
		t.Fatalf("received %s:%q on an ended subscription", m.Topic, m.Payload)
	}
}

func recvUntilClosed(t *testing.T, sub *conversation.Subscription) (conversation.BusMessage, bool) {
	t.Helper()
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	select {
	case m, ok := <-sub.C():
		return m, ok
	case <-timer.C:
		t.Fatalf("subscription to %q not ended within %v", sub.Topics(), waitFor)
		return conversation.BusMessage{}, false
	}
}

const probePrefix = "probe "

// settle publishes numbered probes on topic until every subscription in subs
// has received one, then reads each of them through the last probe. After
// it, a message published on topic reaches all of subs, and none of them has
// anything unread. Probes published before a subscription was live may be
// lost; that is what at-most-once allows.
func settle(t *testing.T, bus conversation.Bus, topic string, subs ...*conversation.Subscription) {
	t.Helper()
	last := make([]int, len(subs)) // the last probe each subscription received
	take := func(i int, m conversation.BusMessage) {
		t.Helper()
		n, err := strconv.Atoi(strings.TrimPrefix(string(m.Payload), probePrefix))
		if m.Topic != topic || !bytes.HasPrefix(m.Payload, []byte(probePrefix)) || err != nil {
			t.Fatalf("while settling %q: received %s:%q", topic, m.Topic, m.Payload)
		}
		if n <= last[i] {
			t.Fatalf("while settling %q: probe %d after probe %d", topic, n, last[i])
		}
		last[i] = n
	}
	deadline := time.Now().Add(waitFor)
	sent := 0
	for slices.Contains(last, 0) {
		if time.Now().After(deadline) {
			t.Fatalf("no probe on %q reached every subscription within %v (last probes %v)", topic, waitFor, last)
		}
		sent++
		publish(t, bus, topic, probePrefix+strconv.Itoa(sent))
		until := time.Now().Add(20 * time.Millisecond)
		for i, sub := range subs {
			wait := until
			if last[i] > 0 {
				wait = time.Now() // live already: only take what is there
			}
			for {
				m, ok := recvUntil(t, sub, wait)
				if !ok {
					break
				}
				take(i, m)
				wait = time.Now()
			}
		}
	}
	for i, sub := range subs {
		for last[i] < sent {
			take(i, recv(t, sub))
		}
	}
}

func testBusDelivery(t *testing.T, s Shared) {
	bus := s.Bus
	a1 := subscribe(t, bus, "a")
	a2 := subscribe(t, bus, "a")
	ab := subscribe(t, bus, "a", "b")
	b1 := subscribe(t, bus, "b")
	settle(t, bus, "a", a1, a2, ab)
	settle(t, bus, "b", ab, b1)

	publish(t, bus, "a", "hello a")
	publish(t, bus, "b", "hello b")
	wantMsg(t, a1, "a", "hello a")
	wantMsg(t, a2, "a", "hello a")
	wantMsg(t, b1, "b", "hello b")
	var got []string
	for range 2 {
		m := recv(t, ab)
		got = append(got, m.Topic+":"+string(m.Payload))
	}
	slices.Sort(got)
	if want := []string{"a:hello a", "b:hello b"}; !slices.Equal(got, want) {
		t.Fatalf("subscription to a and b received %q, want %q", got, want)
	}

	// Payloads are bytes, not text, and a payload may be empty.
	bin := string([]byte{0, 1, 0xff, '\n', 0})
	publish(t, bus, "a", bin)
	publish(t, bus, "a", "")
	wantMsg(t, a1, "a", bin)
	wantMsg(t, a1, "a", "")

	// A subscription made later receives what is published after it.
	late := subscribe(t, bus, "a")
	settle(t, bus, "a", late)
	publish(t, bus, "a", "later")
	wantMsg(t, late, "a", "later")
	for _, sub := range []*conversation.Subscription{a1, a2, ab, b1, late} {
		if err := sub.Err(); err != nil {
			t.Fatalf("live subscription to %q: Err() = %v", sub.Topics(), err)
		}
	}
}

// testBusOtherTopics publishes to topics that resemble the subscribed one;
// a fence message published afterwards must be the next thing received.
func testBusOtherTopics(t *testing.T, s Shared) {
	bus := s.Bus
	room := subscribe(t, bus, "room")
	others := []string{"room:1", "room*", "roo", "Room", "room ", "*", "other"}
	witnesses := make([]*conversation.Subscription, len(others))
	for i, topic := range others {
		witnesses[i] = subscribe(t, bus, topic)
	}
	settle(t, bus, "room", room)
	for i, topic := range others {
		settle(t, bus, topic, witnesses[i])
		publish(t, bus, topic, "not for room")
		// The message was delivered before the fence is published.
		wantMsg(t, witnesses[i], topic, "not for room")
	}
	publish(t, bus, "room", "fence")
	wantMsg(t, room, "room", "fence")
}

func testBusClose(t *testing.T, s Shared) {
	bus := s.Bus
	sub := subscribe(t, bus, "t", "u")
	keep := subscribe(t, bus, "t", "u")
	settle(t, bus, "t", sub, keep)
	settle(t, bus, "u", sub, keep)

	sub.Close()
	sub.Close() // a second Close is harmless
	if err := sub.Err(); err != nil {
		t.Fatalf("Err() after Close = %v, want nil", err)
	}
	publish(t, bus, "t", "after close")
	publish(t, bus, "u", "after close")
	wantMsg(t, keep, "t", "after close")
	wantMsg(t, keep, "u", "after close")
	wantEnded(t, sub)
	if err := sub.Err(); err != nil {
		t.Fatalf("Err() after Close = %v, want nil", err)
	}

	// The topic still works for a new subscription.
	again := subscribe(t, bus, "t")
	settle(t, bus, "t", again, keep)
	publish(t, bus, "t", "again")
	wantMsg(t, again, "t", "again")
	wantMsg(t, keep, "t", "again")
}

// testBusNotify checks that a subscription calls its notify function for
// every message queued and when it ends, so that a reader can wait without
// a goroutine of its own.
func testBusNotify(t *testing.T, s Shared) {
	bus := s.Bus
	sub := subscribe(t, bus, "n")
	settle(t, bus, "n", sub)
	// A message queued before Notify is announced at once.
	publish(t, bus, "n", "early")
	deadline := time.Now().Add(waitFor)
	for len(sub.C()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the message was not queued")
		}
		time.Sleep(time.Millisecond)
	}
	kicks := make(chan struct{}, 100)
	sub.Notify(func() { kicks <- struct{}{} })
	waitKick := func(what string) {
		t.Helper()
		select {
		case <-kicks:
		case <-time.After(waitFor):
			t.Fatalf("no notification %s", what)
		}
	}
	waitKick("for a message queued before Notify")
	wantMsg(t, sub, "n", "early")
	for i := range 3 {
		publish(t, bus, "n", "m"+strconv.Itoa(i))
		waitKick("for message " + strconv.Itoa(i))
		wantMsg(t, sub, "n", "m"+strconv.Itoa(i))
	}
	sub.Close()
	waitKick("when the subscription ended")
	wantEnded(t, sub)
}

// testBusSlowSubscriber publishes without reading one subscription until it
// is ended, while another subscription keeps up.
func testBusSlowSubscriber(t *testing.T, s Shared) {
	bus := s.Bus
	slow := subscribe(t, bus, "t")
	fast := subscribe(t, bus, "t")
	settle(t, bus, "t", slow, fast)

	const most = 100_000
	n := 0
	for slow.Err() == nil {
		if n == most {
			t.Fatalf("slow subscription not ended after %d unread messages", n)
		}
		n++
		payload := "m" + strconv.Itoa(n)
		publish(t, bus, "t", payload)
		wantMsg(t, fast, "t", payload)
	}
	if !errors.Is(slow.Err(), conversation.ErrSlowSubscriber) {
		t.Fatalf("slow subscription ended with %v, want ErrSlowSubscriber", slow.Err())
	}
	if n < 2 {
		t.Fatalf("slow subscription ended after %d messages", n)
	}
	// What was buffered is still readable, in order, then the channel is
	// closed.
	got := 0
	for {
		m, ok := recvUntilClosed(t, slow)
		if !ok {
			break
		}
		got++
		if want := "m" + strconv.Itoa(got); string(m.Payload) != want {
			t.Fatalf("slow subscription buffered %q, want %q", m.Payload, want)
		}
	}
	if got >= n {
		t.Fatalf("slow subscription kept all %d messages", n)
	}
	if !errors.Is(slow.Err(), conversation.ErrSlowSubscriber) {
		t.Fatalf("Err() = %v after draining, want ErrSlowSubscriber", slow.Err())
	}
	slow.Close() // Close after the end is harmless and keeps the reason
	if !errors.Is(slow.Err(), conversation.ErrSlowSubscriber) {
		t.Fatalf("Err() = %v after Close, want ErrSlowSubscriber", slow.Err())
	}

	// The publisher and the other subscriber carry on.
	for i := range 5 {
		payload := "after " + strconv.Itoa(i)
		publish(t, bus, "t", payload)
		wantMsg(t, fast, "t", payload)
	}
	if err := fast.Err(); err != nil {
		t.Fatalf("fast subscription: Err() = %v", err)
	}
}

// testBusOrder checks that the messages of one publisher on one topic arrive
// in order, on this node and on the other.
func testBusOrder(t *testing.T, s Shared) {
	local := subscribe(t, s.Bus, "seq")
	subs := []*conversation.Subscription{local}
	if s.Second != nil {
		subs = append(subs, subscribe(t, s.Second.Bus, "seq"))
	}
	settle(t, s.Bus, "seq", subs...)
	const batches, batch = 20, 10
	for b := range batches {
		for i := range batch {
			publish(t, s.Bus, "seq", strconv.Itoa(b*batch+i))
		}
		for _, sub := range subs {
			for i := range batch {
				wantMsg(t, sub, "seq", strconv.Itoa(b*batch+i))
			}
		}
	}
}

func testBusCrossNode(t *testing.T, s Shared) {
	one, two := s.Bus, s.Second.Bus
	onOne := subscribe(t, one, "x")
	onTwo := subscribe(t, two, "x")
	onTwoY := subscribe(t, two, "y")

	// From node one to both nodes.
	settle(t, one, "x", onOne, onTwo)
	publish(t, one, "x", "from one")
	wantMsg(t, onOne, "x", "from one")
	wantMsg(t, onTwo, "x", "from one")

	// From node two to both nodes.
	settle(t, two, "x", onOne, onTwo)
	publish(t, two, "x", "from two")
	wantMsg(t, onOne, "x", "from two")
	wantMsg(t, onTwo, "x", "from two")

	// Node one's message to y reaches node two's y, not its x.
	settle(t, one, "y", onTwoY)
	publish(t, one, "y", "to y")
	wantMsg(t, onTwoY, "y", "to y")
	publish(t, one, "x", "fence")
	wantMsg(t, onTwo, "x", "fence")
	wantMsg(t, onOne, "x", "fence")
}

func seen(t *testing.T, d conversation.Deduper, key string) bool {
	t.Helper()
	ok, err := d.Seen(t.Context(), key)
	must(t, err)
	return ok
}

// eventually polls cond until it holds, failing t after waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testDedup(t *testing.T, s Shared) {
	ctx := t.Context()
	d, p := s.Dedup, s.peer().Dedup
	if seen(t, d, "twilio:SM1") {
		t.Fatal("Seen before Remember")
	}
	must(t, d.Remember(ctx, "twilio:SM1", time.Minute))
	if !seen(t, d, "twilio:SM1") {
		t.Fatal("not Seen after Remember")
	}
	if !seen(t, p, "twilio:SM1") {
		t.Fatal("not Seen by the other node after Remember")
	}
	for _, other := range []string{"twilio:SM2", "twilio:SM", "twilio:SM1 ", "TWILIO:SM1"} {
		if seen(t, d, other) {
			t.Fatalf("%q Seen after remembering twilio:SM1", other)
		}
	}
	// Remembering again is harmless, from either node.
	must(t, p.Remember(ctx, "twilio:SM1", time.Minute))
	must(t, d.Remember(ctx, "twilio:SM2", time.Minute))
	if !seen(t, d, "twilio:SM1") || !seen(t, p, "twilio:SM2") {
		t.Fatal("remembered keys not Seen")
	}
}

func testDedupExpiry(t *testing.T, s Shared) {
	ctx := t.Context()
	d, p := s.Dedup, s.peer().Dedup
	const ttl = 200 * time.Millisecond
	start := time.Now()
	must(t, d.Remember(ctx, "short", ttl))
	must(t, d.Remember(ctx, "long", time.Minute))
	if ok := seen(t, p, "short"); !ok && time.Since(start) < ttl/2 {
		t.Fatal("forgotten before its ttl")
	}
	eventually(t, "key forgotten after its ttl", func() bool { return !seen(t, p, "short") })
	if elapsed := time.Since(start); elapsed < ttl/2 {
		t.Fatalf("forgotten after %v, ttl %v", elapsed, ttl)
	}
	if !seen(t, d, "long") {
		t.Fatal("key with a long ttl forgotten")
	}
	// An expired key can be remembered again.
	must(t, p.Remember(ctx, "short", time.Minute))
	if !seen(t, d, "short") {
		t.Fatal("not Seen after remembering it again")
	}
}

func allow(t *testing.T, l conversation.Limiter, key string, limit int, window time.Duration) (bool, time.Duration) {
	t.Helper()
	ok, retryAfter, err := l.Allow(t.Context(), key, limit, window)
	must(t, err)
	return ok, retryAfter
}

func testLimiter(t *testing.T, s Shared) {
	// The window is long: the test never crosses it.
	const limit, window = 3, 30 * time.Second
	nodes := []conversation.Limiter{s.Limiter, s.peer().Limiter}
	for i := range limit {
		if ok, _ := allow(t, nodes[i%2], "tenant:1", limit, window); !ok {
			t.Fatalf("event %d of %d refused", i+1, limit)
		}
	}
	for _, l := range nodes {
		ok, retryAfter := allow(t, l, "tenant:1", limit, window)
		if ok {
			t.Fatalf("event over the limit of %d allowed", limit)
		}
		if retryAfter <= 0 || retryAfter > window {
			t.Fatalf("retryAfter = %v, want in (0, %v]", retryAfter, window)
		}
	}
	// Other keys have their own counts.
	for i := range limit {
		if ok, _ := allow(t, nodes[(i+1)%2], "tenant:2", limit, window); !ok {
			t.Fatalf("tenant:2 event %d refused after tenant:1 hit its limit", i+1)
		}
	}
	if ok, _ := allow(t, s.Limiter, "tenant:2", limit, window); ok {
		t.Fatal("tenant:2 event over the limit allowed")
	}
	if ok, _ := allow(t, s.Limiter, "tenant:3", 1, window); !ok {
		t.Fatal("tenant:3 refused")
	}
}

func testLimiterNewWindow(t *testing.T, s Shared) {
	const window = 300 * time.Millisecond
	start := time.Now()
	if ok, _ := allow(t, s.Limiter, "k", 1, window); !ok {
		t.Fatal("first event refused")
	}
	ok, retryAfter := allow(t, s.peer().Limiter, "k", 1, window)
	if ok && time.Since(start) < window {
		t.Fatal("second event in the window allowed")
	}
	if !ok && (retryAfter <= 0 || retryAfter > window) {
		t.Fatalf("retryAfter = %v, want in (0, %v]", retryAfter, window)
	}
	// A new window allows again.
	eventually(t, "allowed in a new window", func() bool {
		ok, _ := allow(t, s.Limiter, "k", 1, window)
		return ok
	})
	if elapsed := time.Since(start); elapsed < window/2 {
		t.Fatalf("allowed again after %v, window %v", elapsed, window)
	}
}

// testLimiterConcurrent counts from many goroutines on both nodes at once:
// exactly limit events are allowed in the (long) window.
func testLimiterConcurrent(t *testing.T, s Shared) {
	const limit, window, workers, each = 25, time.Minute, 40, 5
	nodes := []conversation.Limiter{s.Limiter, s.peer().Limiter}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for range each {
				ok, retryAfter, err := nodes[w%2].Allow(context.Background(), "burst", limit, window)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					allowed.Add(1)
				} else if retryAfter <= 0 || retryAfter > window {
					errs <- fmt.Errorf("retryAfter = %v, want in (0, %v]", retryAfter, window)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := allowed.Load(); n != limit {
		t.Fatalf("%d of %d concurrent events allowed, want exactly %d", n, workers*each, limit)
	}
}

func tryLock(t *testing.T, l conversation.Locker, key string, ttl time.Duration) conversation.Lock {
	t.Helper()
	lock, err := l.TryLock(t.Context(), key, ttl)
	must(t, err)
	if lock == nil {
		t.Fatal("TryLock returned a nil Lock and no error")
	}
	return lock
}

func wantLocked(t *testing.T, l conversation.Locker, key string) {
	t.Helper()
	lock, err := l.TryLock(t.Context(), key, time.Minute)
	if err == nil {
		lock.Unlock(t.Context())
		t.Fatalf("TryLock(%q) succeeded while another holder has it", key)
	}
	wantCode(t, err, conversation.ECONFLICT)
}

// wantUnlockLost checks Unlock of a lease that was lost: nil or ECONFLICT.
func wantUnlockLost(t *testing.T, lock conversation.Lock) {
	t.Helper()
	if err := lock.Unlock(t.Context()); err != nil {
		wantCode(t, err, conversation.ECONFLICT)
	}
}

func testLock(t *testing.T, s Shared) {
	ctx := t.Context()
	one, two := s.Locker, s.peer().Locker
	l := tryLock(t, one, "escalate", time.Minute)
	wantLocked(t, one, "escalate")
	wantLocked(t, two, "escalate")
	other := tryLock(t, two, "escalate:2", time.Minute) // other keys are free

	must(t, l.Unlock(ctx))
	must(t, l.Unlock(ctx)) // a second Unlock is harmless
	l2 := tryLock(t, two, "escalate", time.Minute)
	wantLocked(t, one, "escalate")

	// The first lease is gone: it can neither be renewed nor release l2.
	wantCode(t, l.Extend(ctx, time.Minute), conversation.ECONFLICT)
	wantUnlockLost(t, l)
	wantLocked(t, one, "escalate")
	must(t, l2.Extend(ctx, time.Minute))
	must(t, l2.Unlock(ctx))
	must(t, other.Unlock(ctx))
	tryLock(t, one, "escalate", time.Minute).Unlock(ctx)
	tryLock(t, one, "escalate:2", time.Minute).Unlock(ctx)
}

func testLockExtend(t *testing.T, s Shared) {
	ctx := t.Context()
	const ttl = 200 * time.Millisecond
	l := tryLock(t, s.Locker, "job", ttl)
	must(t, l.Extend(ctx, time.Minute))
	// Waiting for expiry: the first ttl passes with a generous margin, and
	// the renewed lease outlives it.
	time.Sleep(3 * ttl)
	wantLocked(t, s.peer().Locker, "job")
	must(t, l.Extend(ctx, time.Minute))
	must(t, l.Unlock(ctx))
	tryLock(t, s.peer().Locker, "job", time.Minute)
}

func testLockExpiry(t *testing.T, s Shared) {
	ctx := t.Context()
	const ttl = 150 * time.Millisecond
	start := time.Now()
	l := tryLock(t, s.Locker, "job", ttl)
	var l2 conversation.Lock
	eventually(t, "lock taken again after its ttl", func() bool {
		lock, err := s.peer().Locker.TryLock(ctx, "job", time.Minute)
		if err != nil {
			wantCode(t, err, conversation.ECONFLICT)
			return false
		}
		l2 = lock
		return true
	})
	if elapsed := time.Since(start); elapsed < ttl/2 {
		t.Fatalf("lock taken again after %v, ttl %v", elapsed, ttl)
	}
	// The lost lease can neither be renewed nor release the new holder's.
	wantCode(t, l.Extend(ctx, time.Minute), conversation.ECONFLICT)
	wantUnlockLost(t, l)
	wantLocked(t, s.Locker, "job")
	wantLocked(t, s.peer().Locker, "job")
	must(t, l2.Extend(ctx, time.Minute))

	// A lease whose ttl passed is lost even if nobody took it. Waiting for
	// expiry: the ttl passes with a generous margin.
	l3 := tryLock(t, s.Locker, "idle", ttl)
	time.Sleep(3 * ttl)
	wantCode(t, l3.Extend(ctx, time.Minute), conversation.ECONFLICT)
	tryLock(t, s.peer().Locker, "idle", time.Minute)
}

// testLockConcurrent races many goroutines on both nodes for one lock:
// exactly one wins, the others get ECONFLICT.
func testLockConcurrent(t *testing.T, s Shared) {
	const workers = 40
	nodes := []conversation.Locker{s.Locker, s.peer().Locker}
	var wins atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			_, err := nodes[w%2].TryLock(context.Background(), "once", time.Minute)
			switch {
			case err == nil:
				wins.Add(1)
			case !conversation.IsConflict(err):
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of %d concurrent TryLocks won, want exactly 1", n, workers)
	}
}

// testSharedNamespaces uses one key in every interface: they do not share
// state.
func testSharedNamespaces(t *testing.T, s Shared) {
	ctx := t.Context()
	const key = "same"
	must(t, s.Dedup.Remember(ctx, key, time.Minute))
	lock := tryLock(t, s.Locker, key, time.Minute)
	if ok, _ := allow(t, s.Limiter, key, 1, time.Minute); !ok {
		t.Fatal("Allow refused a key used by Deduper and Locker")
	}
	sub := subscribe(t, s.Bus, key)
	settle(t, s.Bus, key, sub)
	publish(t, s.Bus, key, "hello")
	wantMsg(t, sub, key, "hello")
	if !seen(t, s.Dedup, key) {
		t.Fatal("remembered key not Seen after using it elsewhere")
	}
	must(t, lock.Extend(ctx, time.Minute))
	must(t, lock.Unlock(ctx))
	if seen(t, s.Dedup, "other") {
		t.Fatal("key never remembered is Seen")
	}
}

func testSharedInvalid(t *testing.T, s Shared) {
	ctx := t.Context()
	_, err := s.Bus.Subscribe(ctx)
	wantCode(t, err, conversation.EINVALID)
	_, err = s.Bus.Subscribe(ctx, "a", "")
	wantCode(t, err, conversation.EINVALID)
	wantCode(t, s.Bus.Publish(ctx, "", []byte("x")), conversation.EINVALID)

	_, err = s.Dedup.Seen(ctx, "")
	wantCode(t, err, conversation.EINVALID)
	wantCode(t, s.Dedup.Remember(ctx, "", time.Minute), conversation.EINVALID)
	wantCode(t, s.Dedup.Remember(ctx, "k", 0), conversation.EINVALID)
	wantCode(t, s.Dedup.Remember(ctx, "k", -time.Second), conversation.EINVALID)

	for _, c := range []struct {
		key    string
		limit  int
		window time.Duration
	}{{"", 1, time.Minute}, {"k", 0, time.Minute}, {"k", -1, time.Minute}, {"k", 1, 0}, {"k", 1, -time.Second}} {
		_, _, err := s.Limiter.Allow(ctx, c.key, c.limit, c.window)
		wantCode(t, err, conversation.EINVALID)
	}

	_, err = s.Locker.TryLock(ctx, "", time.Minute)
	wantCode(t, err, conversation.EINVALID)
	_, err = s.Locker.TryLock(ctx, "k", 0)
	wantCode(t, err, conversation.EINVALID)
	lock := tryLock(t, s.Locker, "k", time.Minute)
	wantCode(t, lock.Extend(ctx, 0), conversation.EINVALID)
	must(t, lock.Extend(ctx, time.Minute)) // a refused Extend keeps the lease
	must(t, lock.Unlock(ctx))
}

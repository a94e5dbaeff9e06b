package valkey_test

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	valkeygo "github.com/valkey-io/valkey-go"

	"conversa/conversation"
	"conversa/conversation/conversationtest"
	"conversa/internal/testenv"
	"conversa/storage/valkey"
)

// open opens a Client and closes it when t ends.
func open(t *testing.T, rawURL, prefix string) *valkey.Client {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := valkey.Open(t.Context(), valkey.Config{URL: rawURL, Prefix: prefix, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// run runs c.Run until t ends, then checks that it returned nil. Register
// it after open: cleanups run last first, so Run stops before Close.
func run(t *testing.T, c *valkey.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

// TestShared runs the contract with two Clients on one prefix, as two nodes
// of one deployment would.
func TestShared(t *testing.T) {
	twoNodes := func(t *testing.T) conversationtest.Shared {
		rawURL, prefix := testenv.ValkeyURL(t)
		one, two := open(t, rawURL, prefix), open(t, rawURL, prefix)
		run(t, one)
		run(t, two)
		second := conversationtest.Shared{Bus: two, Dedup: two, Limiter: two, Locker: two}
		return conversationtest.Shared{Bus: one, Dedup: one, Limiter: one, Locker: one, Second: &second}
	}
	conversationtest.TestShared(t, twoNodes)
	conversationtest.TestSharedAcrossNodes(t, twoNodes)
}

// withClientName names the connections of a client, so that a test can
// find them in CLIENT LIST.
func withClientName(t *testing.T, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("client_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// pubsubClients returns the ids of the server's pub/sub connections named
// name.
func pubsubClients(t *testing.T, admin valkeygo.Client, name string) []string {
	t.Helper()
	list, err := admin.Do(t.Context(), admin.B().ClientList().TypePubsub().Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	list = strings.TrimPrefix(list, "txt:") // a RESP3 verbatim string
	var ids []string
	for line := range strings.Lines(list) {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] == name {
			ids = append(ids, fields["id"])
		}
	}
	return ids
}

// receiveSoon publishes numbered payloads on topic until sub receives one of
// them. Delivery is at most once, so a message published while
// the bus reconnects may be lost; a later one must arrive.
func receiveSoon(t *testing.T, bus conversation.Bus, sub *conversation.Subscription, topic, payload string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no %q message received within 10s", payload)
		}
		if err := bus.Publish(t.Context(), topic, []byte(payload+" "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		select {
		case m, ok := <-sub.C():
			if !ok {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			if !strings.HasPrefix(string(m.Payload), payload+" ") {
				t.Fatalf("received %q while waiting for %q", m.Payload, payload)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestBusRecovers kills the bus's pub/sub connection from another client
// and checks that a message published afterwards is received. It does not
// run in parallel: the server's pub/sub connections are shared with other
// tests.
func TestBusRecovers(t *testing.T) {
	rawURL, prefix := testenv.ValkeyURL(t)
	name := prefix + "-bus"
	c := open(t, withClientName(t, rawURL, name), prefix)
	run(t, c)
	admin, err := valkeygo.NewClient(valkeygo.MustParseURL(rawURL))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)

	sub, err := c.Subscribe(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	receiveSoon(t, c, sub, "t", "before")

	ids := pubsubClients(t, admin, name)
	if len(ids) != 1 {
		t.Fatalf("%d pub/sub connections named %s, want 1", len(ids), name)
	}
	kill := admin.B().Arbitrary("CLIENT", "KILL").Args("TYPE", "pubsub", "ID", ids[0]).Build()
	if n, err := admin.Do(t.Context(), kill).AsInt64(); err != nil || n != 1 {
		t.Fatalf("CLIENT KILL killed %d connections: %v", n, err)
	}
	// Wait for the bus to notice and subscribe on a new connection.
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := pubsubClients(t, admin, name)
		if len(now) == 1 && now[0] != ids[0] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new pub/sub connection within 10s (have %v, killed %s)", now, ids[0])
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Messages published while the bus was down are lost, so the
	// subscription that spanned the loss has ended to say so.
	for range sub.C() {
	}
	if err := sub.Err(); !errors.Is(err, conversation.ErrBusReset) {
		t.Fatalf("subscription across the reconnect ended with %v, want ErrBusReset", err)
	}
	again, err := c.Subscribe(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	receiveSoon(t, c, again, "t", "after")
}

func TestConfig(t *testing.T) {
	cfg := valkey.Config{URL: "redis://127.0.0.1:6379"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Prefix != "conversa" || cfg.Logger == nil {
		t.Fatalf("defaults not set: %+v", cfg)
	}
	for _, u := range []string{"rediss://user:pw@example.com:6380/2", "valkeys://example.com", "valkey://example.com"} {
		cfg := valkey.Config{URL: u}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"", "http://example.com", "redis://example.com/x/y", "redis://us er:secret@exa mple.com"} {
		cfg := valkey.Config{URL: u}
		err := cfg.Validate()
		if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "valkey_url" {
			t.Errorf("%q: error %v, want EINVALID on valkey_url", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: error %q shows the password", u, err)
		}
	}
}

func TestOpenUnreachable(t *testing.T) {
	// Port 1 on loopback refuses at once.
	_, err := valkey.Open(t.Context(), valkey.Config{URL: "redis://127.0.0.1:1?dial_timeout=1s"})
	if code := conversation.ErrorCode(err); code != conversation.EUNAVAILABLE {
		t.Fatalf("Open of a closed port: error %v, code %q, want EUNAVAILABLE", err, code)
	}
}

// TestRun checks Run's own contract: one at a time, and an error rather
// than a spin once the Client is closed.
func TestRun(t *testing.T) {
	rawURL, prefix := testenv.ValkeyURL(t)
	c := open(t, rawURL, prefix)
	run(t, c)
	sub, err := c.Subscribe(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	receiveSoon(t, c, sub, "t", "running") // the first Run is subscribed
	if err := c.Run(t.Context()); err == nil {
		t.Fatal("a second Run at the same time returned nil")
	}

	closed, err := valkey.Open(t.Context(), valkey.Config{URL: rawURL, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	done := make(chan error, 1)
	go func() { done <- closed.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("Run on a closed Client returned nil")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run on a closed Client did not return")
	}
	if err := closed.Ping(t.Context()); conversation.ErrorCode(err) != conversation.EUNAVAILABLE {
		t.Fatalf("Ping on a closed Client: %v, want EUNAVAILABLE", err)
	}
}

// Package valkey is the shared state of a deployment of several nodes, kept
// in one Valkey (or Redis-compatible) server through valkey-go: a
// conversation.Bus on pub/sub, and a conversation.Deduper, Limiter and Locker
// on keys with expiry. Every key and channel starts with the configured
// prefix, so deployments (and tests) can share a server.
//
// Keys: <prefix>:dedup:<key>, <prefix>:rate:<key>, <prefix>:lock:<key>.
// Channels: <prefix>:bus:<topic>.
package valkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync/atomic"

	valkeygo "github.com/valkey-io/valkey-go"

	"conversa/conversation"
)

// Config configures a Client.
type Config struct {
	// URL locates the server: redis://[user:password@]host[:port][/db]
	// or valkey://..., and rediss:// or valkeys:// for TLS. valkey-go's
	// query parameters, such as dial_timeout and client_name, may be part
	// of it.
	URL string
	// Prefix starts every key and channel name. Default "conversa".
	Prefix string
	// Buffer is how many messages each subscription holds before its reader
	// counts as slow. Default: conversation.NewHub's.
	Buffer int
	// Logger receives the bus's connection losses. Default: discard.
	Logger *slog.Logger
}

// Validate checks the config and fills in the defaults.
func (c *Config) Validate() error {
	if c.URL == "" {
		return conversation.FieldError("valkey_url", "required")
	}
	if _, err := valkeygo.ParseURL(c.URL); err != nil {
		// url.Error repeats the URL, password included: keep only the cause.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return conversation.FieldError("valkey_url", "not a Valkey URL: %v", err)
	}
	if c.Prefix == "" {
		c.Prefix = "conversa"
	}
	if c.Buffer < 0 {
		return conversation.FieldError("valkey_buffer", "must not be negative")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Client is the shared state on a Valkey server. It implements
// conversation.Bus, conversation.Deduper, conversation.Limiter and
// conversation.Locker; all its methods are safe for concurrent use. The Bus
// needs Run to be running; the rest work without it.
type Client struct {
	client valkeygo.Client
	log    *slog.Logger
	prefix string
	hub    *conversation.Hub

	running atomic.Bool
	closed  atomic.Bool

	limitScript  *valkeygo.Lua
	extendScript *valkeygo.Lua
	unlockScript *valkeygo.Lua
}

var (
	_ conversation.Bus     = (*Client)(nil)
	_ conversation.Deduper = (*Client)(nil)
	_ conversation.Limiter = (*Client)(nil)
	_ conversation.Locker  = (*Client)(nil)
)

// Open connects to the server named by cfg.URL and pings it. It returns
// EINVALID for a bad config and EUNAVAILABLE when the server cannot be
// reached. Start Run for the Bus to deliver messages; Close the Client when
// done.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opt, err := valkeygo.ParseURL(cfg.URL)
	if err != nil {
		return nil, conversation.FieldError("valkey_url", "not a Valkey URL")
	}
	// Nothing here reads through the client-side cache, and some
	// Valkey-compatible servers lack the tracking it needs.
	opt.DisableCache = true
	vc, err := valkeygo.NewClient(opt)
	if err != nil {
		return nil, unavailable("connect", err)
	}
	c := &Client{
		client:       vc,
		log:          cfg.Logger.With("component", "valkey"),
		prefix:       cfg.Prefix + ":",
		hub:          conversation.NewHub(cfg.Buffer),
		limitScript:  valkeygo.NewLuaScript(limitLua),
		extendScript: valkeygo.NewLuaScript(extendLua),
		unlockScript: valkeygo.NewLuaScript(unlockLua),
	}
	if err := c.Ping(ctx); err != nil {
		vc.Close()
		return nil, err
	}
	return c, nil
}

// Ping checks that the server answers. It returns EUNAVAILABLE if not.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.client.Do(ctx, c.client.B().Ping().Build()).Error(); err != nil {
		return unavailable("ping", err)
	}
	return nil
}

// Close closes the connections and ends this node's subscriptions with
// conversation.ErrBusReset. Stop Run first: Run returns an error if the
// Client is closed under it.
func (c *Client) Close() {
	c.closed.Store(true)
	c.client.Close()
	c.hub.EndAll(conversation.ErrBusReset)
}

// key returns the name of a key of kind ("dedup", "rate", "lock").
func (c *Client) key(kind, key string) string {
	return c.prefix + kind + ":" + key
}

// unavailable wraps an error of the server or the connection.
func unavailable(op string, err error) error {
	return &conversation.Error{
		Code:    conversation.EUNAVAILABLE,
		Message: "shared state unavailable",
		Err:     fmt.Errorf("valkey %s: %w", op, err),
	}
}

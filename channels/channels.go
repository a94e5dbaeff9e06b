// Package channels holds the contract of customer channel adapters and the
// registry that routes each outbound message to the adapter of its account.
// Adapters live in sub-packages (channels/webchat, channels/apichannel, ...)
// and never import each other; channeltest is the suite each must pass.
package channels

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"golang.org/x/sync/errgroup"

	"conversa/conversation"
)

// Channel is a customer channel adapter: it turns a provider's wire format
// into the conversation model and back.
type Channel interface {
	// Kind is the channel kind the adapter serves.
	Kind() conversation.ChannelKind
	// ValidateAccount checks the settings of an account of this channel
	// and normalizes them. Returns EINVALID naming the bad setting.
	ValidateAccount(a *conversation.ChannelAccount) error
	// Send delivers one message to d.To. It returns a
	// *conversation.DeliveryError when the provider refused the message;
	// any other error is taken as temporary. It must be safe for concurrent
	// use and return when ctx ends.
	Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error)
}

// Webhooks is implemented by channels that receive HTTP requests, from a
// provider's webhooks or from browsers.
type Webhooks interface {
	// Routes registers the channel's handlers on mux, under paths of its own.
	Routes(mux *http.ServeMux)
}

// Runner is implemented by channels that work in the background, such as a
// mailbox watcher or a long-polling bot.
type Runner interface {
	// Run works until ctx ends and returns nil after a clean stop.
	Run(ctx context.Context) error
}

// Registry holds the channels of a deployment by kind.
type Registry struct {
	channels map[conversation.ChannelKind]Channel
}

var _ conversation.Sender = (*Registry)(nil)

// NewRegistry returns a registry of chs. Two channels of one kind are an
// error.
func NewRegistry(chs ...Channel) (*Registry, error) {
	r := &Registry{channels: map[conversation.ChannelKind]Channel{}}
	for _, ch := range chs {
		k := ch.Kind()
		if !k.Valid() {
			return nil, fmt.Errorf("channel of unknown kind %q", k)
		}
		if _, dup := r.channels[k]; dup {
			return nil, fmt.Errorf("two channels of kind %s", k)
		}
		r.channels[k] = ch
	}
	return r, nil
}

// Channel returns the channel of kind k.
func (r *Registry) Channel(k conversation.ChannelKind) (Channel, bool) {
	ch, ok := r.channels[k]
	return ch, ok
}

// Kinds returns the kinds of the registered channels, sorted.
func (r *Registry) Kinds() []conversation.ChannelKind {
	ks := make([]conversation.ChannelKind, 0, len(r.channels))
	for k := range r.channels {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

// ValidateAccount checks a with the channel of its kind. Returns EINVALID if
// no channel of that kind is registered.
func (r *Registry) ValidateAccount(a *conversation.ChannelAccount) error {
	if err := a.Validate(); err != nil {
		return err
	}
	ch, ok := r.channels[a.Kind]
	if !ok {
		return conversation.FieldError("kind", "this server has no %s channel", a.Kind)
	}
	return ch.ValidateAccount(a)
}

// Send hands d to the channel of its account. A kind with no channel is a
// permanent delivery failure.
func (r *Registry) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	ch, ok := r.channels[d.Account.Kind]
	if !ok {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: fmt.Sprintf("this server has no %s channel", d.Account.Kind), Permanent: true}
	}
	return ch.Send(ctx, d)
}

// Routes registers the handlers of every channel that has webhooks.
func (r *Registry) Routes(mux *http.ServeMux) {
	for _, k := range r.Kinds() {
		if w, ok := r.channels[k].(Webhooks); ok {
			w.Routes(mux)
		}
	}
}

// Run runs every channel that works in the background until ctx ends. If one
// fails, the others are stopped and its error is returned.
func (r *Registry) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, k := range r.Kinds() {
		if run, ok := r.channels[k].(Runner); ok {
			g.Go(func() error {
				if err := run.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
					return fmt.Errorf("%s channel: %w", k, err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}

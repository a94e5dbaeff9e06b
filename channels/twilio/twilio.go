// Package twilio is the WhatsApp and SMS channels through Twilio's
// Programmable Messaging.
//
// One Twilio value serves both channel kinds, which share the wire format:
// SMS() and WhatsApp() are the channels to register. Inbound messages and
// status callbacks arrive on two webhooks (see Routes), authenticated by
// the X-Twilio-Signature of the receiving account's auth token over the URL
// Twilio called (Config.PublicURL plus the request's path and query).
// Outbound messages go through the Messages API with twilio-go, paced per
// sender, with a status callback that names the stored message.
//
// Provider rules kept here: SMS carrier keywords (STOP, START, HELP and
// their synonyms) are recorded in the consent ledger and HELP is answered
// with the account's help text; WhatsApp free-form messages are sent only
// within 24 hours of the contact's last message, and fall back to the
// account's approved template (ContentSid) outside it.
package twilio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"conversa/channels"
	"conversa/conversation"
)

// DefaultAPIBaseURL is where Twilio's REST API answers.
const DefaultAPIBaseURL = "https://api.twilio.com"

// Webhook paths, under Config.PublicURL.
const (
	// MessagesPath receives inbound SMS and WhatsApp messages: set it as
	// the "A message comes in" webhook (HTTP POST) of the number, WhatsApp
	// sender or Messaging Service.
	MessagesPath = "/channels/twilio/messages"
	// StatusPath receives status callbacks; outbound messages name it
	// themselves (StatusCallback), so it needs no configuration.
	StatusPath = "/channels/twilio/status"
)

// Config configures the channels.
type Config struct {
	// PublicURL is the URL under which Twilio reaches this server's root,
	// as Twilio sees it behind any proxy, such as
	// https://conversa.example.com. Signatures are checked against it plus
	// the request's path and query, and status callbacks are sent to it.
	// Required.
	PublicURL string
	// APIBaseURL is the base URL of Twilio's REST API (default
	// DefaultAPIBaseURL). Tests point it at a local server.
	APIBaseURL string
	// RequestTimeout bounds one call to the REST API (default 10 s,
	// twilio-go's own).
	RequestTimeout time.Duration
	// MediaTimeout bounds the download of one inbound file (default 10 s:
	// files download at once, and Twilio waits 15 s for the webhook).
	MediaTimeout time.Duration
	// Media says which inbound files are kept.
	Media channels.MediaPolicy
	// Links makes the public links Twilio fetches files of the media store
	// by (channels.MediaLinks); without it such files cannot be sent.
	Links MediaLinker
	// Limiter, shared by every node, keeps all nodes together to a
	// sender's rate; without it each node paces on its own.
	Limiter conversation.Limiter
	// MaxBodyBytes bounds a webhook's body (default 64 KiB).
	MaxBodyBytes int64
	// RetryAfter is the wait asked of the delivery queue after Twilio
	// refused a send for too many requests without saying how long to wait
	// (default 1 s).
	RetryAfter time.Duration
	// Transport carries the REST API calls and media downloads; nil means
	// a transport of this package's own.
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// Validate fills in defaults and checks the config.
func (c *Config) Validate() error {
	u, err := url.Parse(c.PublicURL)
	if c.PublicURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("twilio: public_url must be the absolute http(s) URL Twilio calls, such as https://conversa.example.com")
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.APIBaseURL == "" {
		c.APIBaseURL = DefaultAPIBaseURL
	}
	u, err = url.Parse(c.APIBaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return errors.New("twilio: the API base URL must be an absolute http(s) URL")
	}
	c.APIBaseURL = strings.TrimRight(c.APIBaseURL, "/")
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.MediaTimeout <= 0 {
		c.MediaTimeout = 10 * time.Second
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = time.Second
	}
	if c.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		c.Transport = t
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// MediaLinker makes expiring public links to files of the media store.
type MediaLinker interface {
	URL(tenantID int64, m conversation.Media, ttl time.Duration) string
}

// Service is what the channels need of the conversation service.
type Service interface {
	// Account finds the account a message arrived at: ENOTFOUND if none,
	// EFORBIDDEN if it is disabled.
	Account(ctx context.Context, kind conversation.ChannelKind, key string) (conversation.ChannelAccount, error)
	Ingest(ctx context.Context, in conversation.Inbound) (conversation.IngestResult, error)
	UpdateStatus(ctx context.Context, u conversation.StatusUpdate) (conversation.Message, error)
	Send(ctx context.Context, outs ...conversation.Outbound) ([]conversation.SendResult, error)
	RecordConsent(ctx context.Context, c conversation.ConsentChange) (conversation.ConsentChange, error)
}

// Twilio is the core the SMS and WhatsApp channels share: webhooks, the
// REST client, pacing. It is safe for concurrent use.
type Twilio struct {
	cfg     Config
	svc     Service
	media   conversation.MediaStore
	logger  *slog.Logger
	apiBase *url.URL
	pacer   pacer
	// recent remembers messages this node ingested, so that a replayed
	// webhook does not download its files again.
	recent recentSet

	routesMu sync.Mutex
	routed   map[*http.ServeMux]bool

	// public is the public URL in use: Config.PublicURL, or the one
	// SetPublicURL set.
	public atomic.Pointer[string]
}

func (t *Twilio) publicURL() string { return *t.public.Load() }

// SetPublicURL replaces Config.PublicURL, for a server that learns its
// address only when it binds its port.
func (t *Twilio) SetPublicURL(u string) {
	u = strings.TrimRight(u, "/")
	t.public.Store(&u)
}

// New returns the Twilio channels. svc stores what arrives; media keeps the
// files customers send.
func New(cfg Config, svc Service, media conversation.MediaStore) (*Twilio, error) {
	if svc == nil || media == nil {
		return nil, errors.New("twilio: a conversation service and a media store are required")
	}
	return newTwilio(cfg, svc, media)
}

// NewValidator returns Twilio channels fit only to validate accounts
// (conversa apply): they neither send nor take webhooks.
func NewValidator() *Twilio {
	t, err := newTwilio(Config{PublicURL: "https://validator.invalid"}, nil, nil)
	if err != nil {
		panic(err) // the config is constant
	}
	return t
}

func newTwilio(cfg Config, svc Service, media conversation.MediaStore) (*Twilio, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := url.Parse(cfg.APIBaseURL)
	t := &Twilio{
		cfg:     cfg,
		svc:     svc,
		media:   media,
		logger:  cfg.Logger.With("channel", "twilio"),
		apiBase: base,
		pacer:   pacer{m: map[string]*pace{}, shared: cfg.Limiter},
		recent:  recentSet{max: 4096, m: map[string]bool{}},
		routed:  map[*http.ServeMux]bool{},
	}
	t.SetPublicURL(cfg.PublicURL)
	return t, nil
}

// SMS returns the SMS channel.
func (t *Twilio) SMS() channels.Channel { return &channel{t: t, kind: conversation.ChannelSMS} }

// WhatsApp returns the WhatsApp channel.
func (t *Twilio) WhatsApp() channels.Channel {
	return &channel{t: t, kind: conversation.ChannelWhatsApp}
}

// Routes registers the webhooks on mux: POST MessagesPath for inbound
// messages of both kinds, POST StatusPath for status callbacks. Calling it
// again for the same mux does nothing, so both channels may be registered
// in one channels.Registry.
func (t *Twilio) Routes(mux *http.ServeMux) {
	t.routesMu.Lock()
	defer t.routesMu.Unlock()
	if t.routed[mux] {
		return
	}
	t.routed[mux] = true
	mux.HandleFunc("POST "+MessagesPath, t.handleMessage)
	mux.HandleFunc("POST "+StatusPath, t.handleStatus)
}

// channel is one of the two kinds Twilio serves.
type channel struct {
	t    *Twilio
	kind conversation.ChannelKind
}

var (
	_ channels.Channel  = (*channel)(nil)
	_ channels.Webhooks = (*channel)(nil)
)

// Kind implements channels.Channel.
func (c *channel) Kind() conversation.ChannelKind { return c.kind }

// ValidateAccount implements channels.Channel: see the Setting constants.
func (c *channel) ValidateAccount(a *conversation.ChannelAccount) error {
	if a.Kind != c.kind {
		return conversation.FieldError("kind", "the %s channel cannot check a %s account", c.kind, a.Kind)
	}
	return validateAccount(a)
}

// Send implements channels.Channel.
func (c *channel) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	if d.Account.Kind != c.kind {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: fmt.Sprintf("the %s channel cannot send through a %s account", c.kind, d.Account.Kind), Permanent: true}
	}
	return c.t.send(ctx, d)
}

// Routes implements channels.Webhooks: see Twilio.Routes.
func (c *channel) Routes(mux *http.ServeMux) { c.t.Routes(mux) }

// recentSet is a bounded set of keys; when full, it starts over.
type recentSet struct {
	mu  sync.Mutex
	max int
	m   map[string]bool
}

func (s *recentSet) has(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[k]
}

func (s *recentSet) add(k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		clear(s.m)
	}
	s.m[k] = true
}

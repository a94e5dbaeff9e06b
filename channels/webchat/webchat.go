// Package webchat is the web-chat channel: an embeddable widget
// (widget.js, hand-written, no framework) that talks to the server over a
// WebSocket. A visitor holds a signed token naming their identity; the
// socket resumes from the last message seen after a reconnect, and the
// widget re-sends what the visitor wrote while disconnected.
package webchat

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"conversa/channels"
	"conversa/conversation"
)

//go:embed static
var static embed.FS

// Config configures the channel.
type Config struct {
	// Secret signs visitor tokens; every node must have the same one. At
	// least 32 bytes.
	Secret []byte
	// TokenTTL is how long a visitor token, and so a visitor's identity in
	// one browser, lasts.
	TokenTTL time.Duration
	// MessagesPerMinute is how many messages one visitor may send per
	// minute.
	MessagesPerMinute int
	// NewVisitorsPerMinute is how many new visitors one client address may
	// start per minute.
	NewVisitorsPerMinute int
	// FramesPerSecond and FrameBurst bound the frames one connection may
	// send; a flood closes the connection.
	FramesPerSecond float64
	FrameBurst      int
	// WriteQueue is how many frames may wait for a slow browser before the
	// connection is closed (the widget reconnects and resumes).
	WriteQueue int
	// PingInterval is how often an idle connection is checked.
	PingInterval time.Duration
	// HelloTimeout is how long a new connection may take to say hello.
	HelloTimeout time.Duration
	Logger       *slog.Logger
	// Registerer receives the channel's metrics; nil means none.
	Registerer prometheus.Registerer
}

// Validate fills in defaults and checks the config.
func (c *Config) Validate() error {
	if len(c.Secret) < 32 {
		return errors.New("webchat: the token secret must have at least 32 bytes")
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 365 * 24 * time.Hour
	}
	if c.MessagesPerMinute <= 0 {
		c.MessagesPerMinute = 30
	}
	if c.NewVisitorsPerMinute <= 0 {
		c.NewVisitorsPerMinute = 60
	}
	if c.FramesPerSecond <= 0 {
		c.FramesPerSecond = 10
	}
	if c.FrameBurst <= 0 {
		c.FrameBurst = 30
	}
	if c.WriteQueue <= 0 {
		c.WriteQueue = 64
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.HelloTimeout <= 0 {
		c.HelloTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Service is what the channel needs of the conversation service.
type Service interface {
	Account(ctx context.Context, kind conversation.ChannelKind, key string) (conversation.ChannelAccount, error)
	Ingest(ctx context.Context, in conversation.Inbound) (conversation.IngestResult, error)
	Typing(ctx context.Context, tenantID, conversationID int64, author conversation.Author, on bool) error
	UpdateStatus(ctx context.Context, u conversation.StatusUpdate) (conversation.Message, error)
}

// Store is what the channel reads of the store.
type Store interface {
	ContactByIdentity(ctx context.Context, tenantID int64, id conversation.Identity) (conversation.Contact, error)
	ListConversations(ctx context.Context, tenantID int64, f conversation.ConversationFilter) ([]conversation.Conversation, error)
	ListMessages(ctx context.Context, tenantID int64, f conversation.MessageFilter) ([]conversation.Message, error)
	Message(ctx context.Context, tenantID, id int64) (conversation.Message, error)
}

// Channel is the web-chat channel.
type Channel struct {
	cfg     Config
	svc     Service
	store   Store
	bus     conversation.Bus
	limiter conversation.Limiter
	logger  *slog.Logger
	conns   atomic.Int64

	// stopCtx ends when Run's context does: open sockets close.
	stopCtx context.Context
	stop    context.CancelFunc
}

var (
	_ channels.Channel  = (*Channel)(nil)
	_ channels.Webhooks = (*Channel)(nil)
	_ channels.Runner   = (*Channel)(nil)
)

// New returns the channel.
func New(cfg Config, svc Service, store Store, bus conversation.Bus, limiter conversation.Limiter) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, svc: svc, store: store, bus: bus, limiter: limiter, logger: cfg.Logger.With("channel", "webchat")}
	c.stopCtx, c.stop = context.WithCancel(context.Background())
	if cfg.Registerer != nil {
		err := cfg.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "conversa_webchat_connections",
			Help: "Open web-chat WebSocket connections on this node.",
		}, func() float64 { return float64(c.conns.Load()) }))
		if err != nil {
			return nil, fmt.Errorf("webchat metrics: %w", err)
		}
	}
	return c, nil
}

// Kind implements channels.Channel.
func (c *Channel) Kind() conversation.ChannelKind { return conversation.ChannelWebchat }

// Settings of a web-chat account.
const (
	SettingTitle          = "title"           // the widget's header
	SettingColor          = "color"           // the widget's accent, #rrggbb
	SettingGreetingES     = "greeting_es"     // first bubble, in Spanish
	SettingGreetingEN     = "greeting_en"     // first bubble, in English
	SettingAllowedOrigins = "allowed_origins" // space-separated origins allowed to embed the widget, such as https://*.example.com; empty allows all
)

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// ValidateAccount implements channels.Channel.
func (c *Channel) ValidateAccount(a *conversation.ChannelAccount) error {
	for k, v := range a.Settings {
		switch k {
		case SettingTitle, SettingGreetingES, SettingGreetingEN:
			if len(v) > 500 {
				return conversation.FieldError("settings."+k, "must be at most 500 bytes")
			}
		case SettingColor:
			if !colorRE.MatchString(v) {
				return conversation.FieldError("settings."+k, "must be a color such as #0b7a75")
			}
		case SettingAllowedOrigins:
			if _, err := parseOrigins(v); err != nil {
				return conversation.FieldError("settings."+k, "%v", err)
			}
		default:
			return conversation.FieldError("settings."+k, "unknown web-chat setting")
		}
	}
	return nil
}

// parseOrigins reads the allowed_origins setting into host patterns for the
// origin checks (see originAllowed). The scheme of an origin is checked for
// form only.
func parseOrigins(s string) ([]string, error) {
	var hosts []string
	for _, o := range strings.Fields(s) {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q is not an origin such as https://www.example.com", o)
		}
		if _, err := path.Match(u.Host, ""); err != nil {
			return nil, fmt.Errorf("%q is not a valid origin pattern", o)
		}
		hosts = append(hosts, u.Host)
	}
	return hosts, nil
}

// Run waits until ctx ends, then closes every open widget connection with
// "going away": the widgets reconnect, to another node if this one stops.
func (c *Channel) Run(ctx context.Context) error {
	<-ctx.Done()
	c.stop()
	return nil
}

// Send implements channels.Channel: it hands the message to every open
// widget of the contact, on any node, and reports it sent. A widget that is
// offline gets it from the history when it reconnects. The conversation
// service publishes the sent message again once the status is stored; the
// widget shows a message once whatever the number of copies.
func (c *Channel) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return conversation.Receipt{}, err
	}
	if d.To.Channel != conversation.ChannelWebchat || !visitorIDOK(d.To.Address) {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: "the contact has no web-chat visitor id", Permanent: true}
	}
	m := d.Message
	m.Status = conversation.StatusSent
	payload, err := json.Marshal(conversation.Event{
		Type: conversation.EventMessageUpdated, TenantID: m.TenantID, ConversationID: m.ConversationID,
		ContactID: m.ContactID, Message: &m, At: time.Now(),
	})
	if err != nil {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: "encode message: " + err.Error(), Permanent: true}
	}
	if err := c.bus.Publish(ctx, conversation.ContactTopic(m.TenantID, m.ContactID), payload); err != nil {
		return conversation.Receipt{}, fmt.Errorf("hand message to widgets: %w", err)
	}
	return conversation.Receipt{Status: conversation.StatusSent}, nil
}

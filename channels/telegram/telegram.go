// Package telegram is the Telegram channel: the tenants' Telegram bots,
// reached through the Bot API with go-telegram/bot.
//
// One Channel serves every Telegram account of every tenant. An account is a
// bot: its Key is the bot's username (without the @), its settings hold the
// bot's token and how updates arrive:
//
//   - mode "webhook": Telegram posts each update to
//     POST <public URL>/channels/telegram/<bot username> with the header
//     X-Telegram-Bot-Api-Secret-Token set to the account's webhook_secret.
//     SetWebhook tells Telegram so.
//   - mode "polling": Run long-polls getUpdates for the account, for
//     servers that Telegram cannot reach.
//
// Inbound messages are de-duplicated by the message's id within its chat
// ("<chat id>:<message id>"), button presses by the callback query's id
// ("cb:<id>"), so a replayed webhook, a retried poll, or an update seen by
// both ways is stored once. The files customers send are copied into the
// media store; the file URL, which holds the bot token, is never stored or
// logged.
//
// Replies go out with sendMessage (buttons as an inline keyboard whose
// callback_data is the button id), sendPhoto, sendAudio, sendVoice,
// sendVideo or sendDocument, paced per chat and per bot (Telegram's limits:
// about one message a second to one chat, 30 a second per bot), honouring
// the retry_after of a 429.
package telegram

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"conversa/channels"
	"conversa/conversation"
)

// Settings of a Telegram account.
const (
	// SettingBotToken is the token BotFather gave: "<bot id>:<35 characters>".
	SettingBotToken = "bot_token"
	// SettingMode is ModeWebhook (the default) or ModePolling.
	SettingMode = "mode"
	// SettingWebhookSecret is the secret token Telegram sends with each
	// webhook call: 1 to 256 of A-Z a-z 0-9 _ -. Required in webhook mode.
	SettingWebhookSecret = "webhook_secret"
	// SettingMessagesPerSecond is the most messages a second the bot sends,
	// all chats together: 1 to 1000, default Config.BotRate (30).
	SettingMessagesPerSecond = "messages_per_second"
	// SettingFormat is how outbound text is sent: FormatPlain (the
	// default: exactly as written) or FormatMarkdown (*bold*, _italic_ and
	// `code` are formatted, everything else is shown as written).
	SettingFormat = "format"
)

// Values of SettingMode and SettingFormat.
const (
	ModeWebhook    = "webhook"
	ModePolling    = "polling"
	FormatPlain    = "plain"
	FormatMarkdown = "markdown"
)

// SecretHeader carries the account's webhook secret on Telegram's calls.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// RoutePrefix is the path under which webhooks arrive; the account's key
// follows it.
const RoutePrefix = "/channels/telegram/"

// DefaultAPIURL is the Bot API server.
const DefaultAPIURL = "https://api.telegram.org"

// maxDownload is the largest file the Bot API lets a bot download.
const maxDownload = 20 << 20

var (
	tokenRE    = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{35}$`)
	secretRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	usernameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]$`)
)

// Service is what the channel uses of conversation.Service.
type Service interface {
	// Account returns the enabled account of kind with key: ENOTFOUND if
	// there is none, EFORBIDDEN if it is disabled.
	Account(ctx context.Context, kind conversation.ChannelKind, key string) (conversation.ChannelAccount, error)
	// Ingest stores an inbound message; a duplicate is not an error.
	Ingest(ctx context.Context, in conversation.Inbound) (conversation.IngestResult, error)
}

// Accounts lists the accounts Run polls for. The stores implement it.
type Accounts interface {
	ListTenants(ctx context.Context) ([]conversation.Tenant, error)
	ListChannelAccounts(ctx context.Context, tenantID int64) ([]conversation.ChannelAccount, error)
}

// Deps are the channel's collaborators. Service and Media are required;
// Accounts is required by Run.
type Deps struct {
	Service  Service
	Accounts Accounts
	Media    conversation.MediaStore
	// Locker, when set, lets one node at a time poll each bot: Telegram
	// refuses two getUpdates of one bot at once.
	Locker conversation.Locker
	// Limiter, when set and shared by the nodes, keeps them together to
	// the pace of each chat and bot; without it each node paces alone.
	Limiter conversation.Limiter
}

// Config configures the channel. Zero values take the defaults.
type Config struct {
	// APIURL is the Bot API server (DefaultAPIURL).
	APIURL string
	// PublicURL is the base URL Telegram reaches this server at; SetWebhook
	// registers PublicURL + RoutePrefix + key.
	PublicURL string
	// HTTPClient makes the Bot API calls and downloads (a client without a
	// timeout: every call has its own).
	HTTPClient *http.Client
	// Media decides which files customers send are kept.
	Media channels.MediaPolicy
	// RequestTimeout bounds one Bot API call or file download (30 s).
	RequestTimeout time.Duration
	// PollTimeout is how long one getUpdates waits for updates (50 s).
	PollTimeout time.Duration
	// PollPause is the pause after a getUpdates that answered early with
	// nothing, and the first pause after a failed one (1 s).
	PollPause time.Duration
	// AccountsInterval is how often Run reads the account list (30 s).
	AccountsInterval time.Duration
	// ChatInterval is the least time between two messages to one chat (1 s).
	ChatInterval time.Duration
	// BotRate is the most messages a second per bot, unless the account
	// says otherwise (30).
	BotRate int
	// MaxWait is the longest Send waits for its turn or for a short
	// retry_after; beyond it, Send returns a DeliveryError with RetryAfter
	// (20 s).
	MaxWait time.Duration
	// MaxBodyBytes limits a webhook body (1 MiB).
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// Validate fills in defaults and checks the values.
func (c *Config) Validate() error {
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	c.APIURL = strings.TrimSuffix(c.APIURL, "/")
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	setDefault(&c.RequestTimeout, 30*time.Second)
	setDefault(&c.PollTimeout, 50*time.Second)
	setDefault(&c.PollPause, time.Second)
	setDefault(&c.AccountsInterval, 30*time.Second)
	setDefault(&c.ChatInterval, time.Second)
	setDefault(&c.BotRate, 30)
	setDefault(&c.MaxWait, 20*time.Second)
	setDefault(&c.MaxBodyBytes, 1<<20)
	if c.PollTimeout < time.Second {
		return conversation.FieldError("telegram.poll_timeout", "must be at least 1s")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Channel is the Telegram channel. It is safe for concurrent use.
type Channel struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger
	pace   *pacer

	mu   sync.Mutex
	bots map[string]*bot.Bot // by token
}

var (
	_ channels.Channel  = (*Channel)(nil)
	_ channels.Webhooks = (*Channel)(nil)
	_ channels.Runner   = (*Channel)(nil)
)

// New returns the channel.
func New(cfg Config, deps Deps) (*Channel, error) {
	if deps.Service == nil || deps.Media == nil {
		return nil, errors.New("telegram channel needs the conversation service and a media store")
	}
	return newChannel(cfg, deps)
}

// NewAdmin returns a channel fit only to validate accounts and register
// their webhooks (conversa apply): it takes no updates and sends nothing.
func NewAdmin(cfg Config) (*Channel, error) {
	return newChannel(cfg, Deps{})
}

func newChannel(cfg Config, deps Deps) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Channel{
		cfg:    cfg,
		deps:   deps,
		logger: cfg.Logger.With("channel", "telegram"),
		pace:   newPacer(),
		bots:   map[string]*bot.Bot{},
	}, nil
}

// Kind implements channels.Channel.
func (c *Channel) Kind() conversation.ChannelKind { return conversation.ChannelTelegram }

// ValidateAccount implements channels.Channel: the key is the bot's
// username, and the settings are those above. It fills in the default mode
// and format.
func (c *Channel) ValidateAccount(a *conversation.ChannelAccount) error {
	a.Key = strings.TrimPrefix(a.Key, "@")
	if !usernameRE.MatchString(a.Key) || !strings.HasSuffix(strings.ToLower(a.Key), "bot") {
		return conversation.FieldError("key", "must be the bot's username: 5 to 32 letters, digits or underscores, ending in \"bot\"")
	}
	if a.Settings == nil {
		a.Settings = map[string]string{}
	}
	for k := range a.Settings {
		switch k {
		case SettingBotToken, SettingMode, SettingWebhookSecret, SettingMessagesPerSecond, SettingFormat:
		default:
			return conversation.FieldError("settings."+k, "unknown telegram setting")
		}
	}
	s := a.Settings
	if !tokenRE.MatchString(s[SettingBotToken]) {
		// The value is a secret: never echo it.
		return conversation.FieldError("settings."+SettingBotToken, "must be the token BotFather gave, <bot id>:<35 letters, digits, _ or ->")
	}
	if s[SettingMode] == "" {
		s[SettingMode] = ModeWebhook
	}
	switch s[SettingMode] {
	case ModeWebhook:
		if s[SettingWebhookSecret] == "" {
			return conversation.FieldError("settings."+SettingWebhookSecret, "is required in webhook mode")
		}
	case ModePolling:
	default:
		return conversation.FieldError("settings."+SettingMode, "must be %s or %s", ModeWebhook, ModePolling)
	}
	if v, ok := s[SettingWebhookSecret]; ok && !secretRE.MatchString(v) {
		return conversation.FieldError("settings."+SettingWebhookSecret, "must be 1 to 256 letters, digits, _ or -")
	}
	if v, ok := s[SettingMessagesPerSecond]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return conversation.FieldError("settings."+SettingMessagesPerSecond, "must be a whole number from 1 to 1000")
		}
	}
	if s[SettingFormat] == "" {
		s[SettingFormat] = FormatPlain
	}
	if f := s[SettingFormat]; f != FormatPlain && f != FormatMarkdown {
		return conversation.FieldError("settings."+SettingFormat, "must be %s or %s", FormatPlain, FormatMarkdown)
	}
	return nil
}

// botFor returns the API client of the account's bot. Returns a permanent
// DeliveryError if the account has no valid token.
func (c *Channel) botFor(a conversation.ChannelAccount) (*bot.Bot, error) {
	token := a.Settings[SettingBotToken]
	if !tokenRE.MatchString(token) {
		return nil, &conversation.DeliveryError{Code: "config", Message: "the telegram account has no valid bot token", Permanent: true}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.bots[token]; ok {
		return b, nil
	}
	b, err := bot.New(token,
		bot.WithSkipGetMe(),
		bot.WithServerURL(c.cfg.APIURL),
		bot.WithHTTPClient(c.cfg.PollTimeout, c.cfg.HTTPClient),
		bot.WithErrorsHandler(func(err error) { c.logger.Warn("telegram client", "err", err) }),
		bot.WithDebugHandler(func(string, ...any) {}),
		bot.WithDefaultHandler(func(context.Context, *bot.Bot, *models.Update) {}),
	)
	if err != nil {
		return nil, err
	}
	if len(c.bots) > 10000 {
		clear(c.bots)
	}
	c.bots[token] = b
	return b, nil
}

// botID is the public part of a token, safe to log.
func botID(token string) string {
	id, _, _ := strings.Cut(token, ":")
	return id
}

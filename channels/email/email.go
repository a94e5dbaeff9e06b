// Package email is the email channel: it watches the tenants' mailboxes over
// IMAP (IDLE, or polling where the server has no IDLE) and hands every new
// email to the conversation service, and it answers over SMTP as a proper
// reply in the same thread (Re: subject, In-Reply-To, References), in HTML
// with a text alternative.
//
// Automated mail (RFC 3834: Auto-Submitted, Precedence, mailing lists,
// delivery status notifications, MAILER-DAEMON) is stored with
// conversation.MetaNoReply, so nothing answers it; every automatic reply
// carries Auto-Submitted: auto-replied, and at most one goes to a sender per
// period. A bounce of an email Conversa sent marks that message failed.
//
// One Channel serves every mailbox of every tenant: Run watches each enabled
// account on its own goroutine and picks up added, changed and removed
// accounts every RefreshInterval.
package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"conversa/channels"
	"conversa/conversation"
)

// Settings of an email channel account. The account's Key is the mailbox
// address, in lower case: mail is sent from it.
const (
	SettingIMAPHost     = "imap_host"
	SettingIMAPPort     = "imap_port" // default 993 with tls, 143 otherwise
	SettingIMAPTLS      = "imap_tls"  // tls (default), starttls, or none (loopback hosts only)
	SettingIMAPUser     = "imap_user"
	SettingIMAPPassword = "imap_password"
	SettingIMAPMailbox  = "imap_mailbox" // default INBOX
	SettingSMTPHost     = "smtp_host"
	SettingSMTPPort     = "smtp_port"     // default 465 with tls, 587 with starttls, 25 with none
	SettingSMTPTLS      = "smtp_tls"      // starttls (default), tls, or none (loopback hosts only)
	SettingSMTPUser     = "smtp_user"     // default imap_user
	SettingSMTPPassword = "smtp_password" // default imap_password
	SettingFromName     = "from_name"     // display name of the From address; default the account name
	// SettingProcessedFolder, when set, is where processed mail is moved
	// (created if missing). Processed mail is flagged \Seen either way.
	SettingProcessedFolder = "processed_folder"
	// SettingAutoreplyInterval is the least time between two automatic
	// replies to one sender, a Go duration from 1s to 720h; default 10m.
	SettingAutoreplyInterval = "autoreply_interval"
	// SettingPlusAddressing, "true" when the mailbox receives mail sent to
	// local+anything@domain: replies then carry a Reply-To with a token of
	// the conversation (local+c_<token>@domain).
	SettingPlusAddressing = "plus_addressing"
	// SettingInsecureSkipVerify, "true", turns off TLS certificate checks.
	// Allowed only when both hosts are loopback addresses (test servers).
	SettingInsecureSkipVerify = "insecure_skip_verify"
	// SettingTLSCA is one or more PEM certificates of authorities trusted,
	// besides the system's, to sign the IMAP and SMTP servers'
	// certificates: a company's own CA. Verification stays on.
	SettingTLSCA = "tls_ca"
)

// TLS modes of imap_tls and smtp_tls.
const (
	TLSImplicit = "tls"
	TLSStart    = "starttls"
	TLSNone     = "none"
)

// Config configures the channel.
type Config struct {
	// Media says which attachments are kept.
	Media channels.MediaPolicy
	// MaxEmailBytes is the largest email read whole (default 25 MiB). A
	// larger one is stored from its header, with a note, and left in the
	// mailbox.
	MaxEmailBytes int64
	// RefreshInterval is how often the list of mailboxes is re-read
	// (default 30 s).
	RefreshInterval time.Duration
	// PollInterval is how often a server without IDLE is asked for new
	// mail, and how often an idle connection checks anyway (default 30 s).
	PollInterval time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between connection
	// attempts after a network error (defaults 1 s and 5 min).
	ReconnectMin, ReconnectMax time.Duration
	// Timeout bounds dialing, each IMAP command other than IDLE, and one
	// SMTP send (default 30 s).
	Timeout time.Duration
	// DefaultAutoreplyInterval is the autoreply_interval of accounts that
	// set none (default 10 min).
	DefaultAutoreplyInterval time.Duration
	// TokenKey signs the reply-address tokens; every node must have the
	// same one. At least 16 bytes.
	TokenKey []byte
	// LockTTL is the lease on a mailbox when a Locker is given, so that
	// one node watches it (default 60 s).
	LockTTL time.Duration
	// PublicURL is the base URL browsers reach this server at; notification
	// emails carry one-click unsubscribe links under it (RFC 8058). Empty
	// leaves the https link out (the mailto one stays).
	PublicURL string
	// Observer, when set, is told when each stage of an email's handling
	// ends (see Stage), for benchmarks and tracing. It is called on the
	// channel's goroutines and must return quickly. Nil, the default,
	// costs a clock reading per stage at most.
	Observer func(Event)
	Logger   *slog.Logger
}

// Stage names a point in the handling of an email, for Config.Observer.
type Stage string

// The stages, in the order an email passes them. Duration is, for the
// stages that wait on a server, the time spent waiting.
const (
	// StageNotified: the IMAP server announced new mail (an EXISTS
	// response, during IDLE or after a poll). No UID or Message-ID yet.
	StageNotified Stage = "notified"
	// StageIdleEnded: the client ended IDLE to read; Duration is the
	// DONE round trip.
	StageIdleEnded Stage = "idle_ended"
	// StageListed: the new UIDs were listed; Duration is that FETCH.
	StageListed Stage = "listed"
	// StageFetched: an email was read; Duration is its body's FETCH.
	StageFetched Stage = "fetched"
	// StageIngested: the email is stored; Duration is parsing and storing.
	StageIngested Stage = "ingested"
	// StageSent: the SMTP server accepted an email the channel sent;
	// MessageID is the Message-ID of the email it answers (none for a
	// first email), Duration the SMTP session.
	StageSent Stage = "sent"
)

// Event is one stage of an email's handling.
type Event struct {
	Stage     Stage
	AccountID int64
	// UID is the email's, for StageFetched.
	UID uint32
	// MessageID is, for StageIngested, the email's Message-ID without
	// brackets; for StageSent, the one of the email answered.
	MessageID string
	At        time.Time
	Duration  time.Duration
}

// observe tells the Observer, if any, of a stage that has just ended.
func (c *Channel) observe(stage Stage, accountID int64, uid uint32, messageID string, d time.Duration) {
	if c.cfg.Observer != nil {
		c.cfg.Observer(Event{Stage: stage, AccountID: accountID, UID: uid, MessageID: messageID, At: time.Now(), Duration: d})
	}
}

// Validate fills in defaults and checks the values.
func (c *Config) Validate() error {
	if c.MaxEmailBytes <= 0 {
		c.MaxEmailBytes = 25 << 20
	}
	if c.MaxEmailBytes > conversation.MaxMediaSize {
		return fmt.Errorf("email: max email size above %d bytes", conversation.MaxMediaSize)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RefreshInterval, 30*time.Second)
	def(&c.PollInterval, 30*time.Second)
	def(&c.ReconnectMin, time.Second)
	def(&c.ReconnectMax, 5*time.Minute)
	def(&c.Timeout, 30*time.Second)
	def(&c.DefaultAutoreplyInterval, 10*time.Minute)
	def(&c.LockTTL, time.Minute)
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if len(c.TokenKey) < 16 {
		return errors.New("email: the token key must be at least 16 bytes")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("email: public URL %q is not an http(s) URL", c.PublicURL)
		}
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Service is what the channel needs of the conversation service.
// *conversation.Service implements it.
type Service interface {
	Ingest(ctx context.Context, in conversation.Inbound) (conversation.IngestResult, error)
	UpdateStatus(ctx context.Context, u conversation.StatusUpdate) (conversation.Message, error)
	RecordConsent(ctx context.Context, c conversation.ConsentChange) (conversation.ConsentChange, error)
}

// Store is what the channel reads and writes in the durable store: the
// mailboxes to watch, the thread of a conversation, and each mailbox's
// position, and the contacts and consent of the unsubscribe links.
// conversation.Store implements it.
type Store interface {
	ListTenants(ctx context.Context) ([]conversation.Tenant, error)
	ListChannelAccounts(ctx context.Context, tenantID int64) ([]conversation.ChannelAccount, error)
	ListMessages(ctx context.Context, tenantID int64, f conversation.MessageFilter) ([]conversation.Message, error)
	// Setting returns ENOTFOUND when name has no value.
	Setting(ctx context.Context, name string) (string, error)
	PutSetting(ctx context.Context, name, value string) error
	Contact(ctx context.Context, tenantID, id int64) (conversation.Contact, error)
	OptedOutOf(ctx context.Context, tenantID, accountID int64, address, purpose string) (bool, error)
}

// Deps are the channel's collaborators. Locker is optional: with one, each
// mailbox is watched by one node at a time.
type Deps struct {
	Service Service
	Store   Store
	Media   conversation.MediaStore
	Limiter conversation.Limiter
	Locker  conversation.Locker
}

// Channel is the email channel. It is safe for concurrent use.
type Channel struct {
	cfg    Config
	deps   Deps
	logger *slog.Logger

	// granted remembers the messages that took a sender's autoreply slot,
	// so that a retried send of the same message is not refused.
	grantedMu sync.Mutex
	granted   map[int64]time.Time

	public atomic.Pointer[string]
}

var (
	_ channels.Channel  = (*Channel)(nil)
	_ channels.Runner   = (*Channel)(nil)
	_ channels.Webhooks = (*Channel)(nil)
)

// New returns the channel. Deps may be zero for a channel that only
// validates accounts.
func New(cfg Config, deps Deps) (*Channel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Channel{cfg: cfg, deps: deps, logger: cfg.Logger.With("channel", "email"), granted: map[int64]time.Time{}}
	c.public.Store(&cfg.PublicURL)
	return c, nil
}

// SetPublicURL replaces Config.PublicURL, for a server that learns its
// address only when it binds its port.
func (c *Channel) SetPublicURL(u string) {
	u = strings.TrimRight(u, "/")
	c.public.Store(&u)
}

// Kind implements channels.Channel.
func (c *Channel) Kind() conversation.ChannelKind { return conversation.ChannelEmail }

// settings are an account's parsed settings.
type settings struct {
	address           string // the mailbox, lower case
	fromName          string
	imapHost          string
	imapPort          int
	imapTLS           string
	imapUser          string
	imapPassword      string
	mailbox           string
	smtpHost          string
	smtpPort          int
	smtpTLS           string
	smtpUser          string
	smtpPassword      string
	processedFolder   string
	autoreplyInterval time.Duration
	plusAddressing    bool
	insecure          bool
	rootCAs           *x509.CertPool // nil: the system's
}

var knownSettings = map[string]bool{
	SettingIMAPHost: true, SettingIMAPPort: true, SettingIMAPTLS: true, SettingIMAPUser: true,
	SettingIMAPPassword: true, SettingIMAPMailbox: true, SettingSMTPHost: true, SettingSMTPPort: true,
	SettingSMTPTLS: true, SettingSMTPUser: true, SettingSMTPPassword: true, SettingFromName: true,
	SettingProcessedFolder: true, SettingAutoreplyInterval: true, SettingPlusAddressing: true,
	SettingInsecureSkipVerify: true, SettingTLSCA: true,
}

// ValidateAccount implements channels.Channel: the key must be an email
// address (it is lower-cased) and the settings complete and consistent.
func (c *Channel) ValidateAccount(a *conversation.ChannelAccount) error {
	addr, err := mail.ParseAddress(a.Key)
	if err != nil || addr.Name != "" || addr.Address != strings.TrimSpace(a.Key) || !strings.Contains(addr.Address, "@") {
		return conversation.FieldError("key", "must be the mailbox's email address")
	}
	a.Key = strings.ToLower(addr.Address)
	_, err = c.parseSettings(*a)
	return err
}

func (c *Channel) parseSettings(a conversation.ChannelAccount) (settings, error) {
	m := a.Settings
	for k := range m {
		if !knownSettings[k] {
			return settings{}, conversation.FieldError("settings."+k, "is not a setting of email channels")
		}
	}
	s := settings{address: strings.ToLower(a.Key), fromName: strings.TrimSpace(m[SettingFromName])}
	if s.fromName == "" {
		s.fromName = a.Name
	}
	if strings.ContainsFunc(s.fromName, isControl) || len(s.fromName) > 200 {
		return settings{}, conversation.FieldError("settings."+SettingFromName, "must be one line of at most 200 bytes")
	}
	var err error
	if s.imapHost, err = host(m, SettingIMAPHost); err != nil {
		return settings{}, err
	}
	if s.smtpHost, err = host(m, SettingSMTPHost); err != nil {
		return settings{}, err
	}
	if s.imapTLS, err = tlsMode(m, SettingIMAPTLS, TLSImplicit, s.imapHost); err != nil {
		return settings{}, err
	}
	if s.smtpTLS, err = tlsMode(m, SettingSMTPTLS, TLSStart, s.smtpHost); err != nil {
		return settings{}, err
	}
	imapDefault, smtpDefault := 143, 587
	if s.imapTLS == TLSImplicit {
		imapDefault = 993
	}
	switch s.smtpTLS {
	case TLSImplicit:
		smtpDefault = 465
	case TLSNone:
		smtpDefault = 25
	}
	if s.imapPort, err = port(m, SettingIMAPPort, imapDefault); err != nil {
		return settings{}, err
	}
	if s.smtpPort, err = port(m, SettingSMTPPort, smtpDefault); err != nil {
		return settings{}, err
	}
	s.imapUser, s.imapPassword = m[SettingIMAPUser], m[SettingIMAPPassword]
	if s.imapUser == "" || strings.ContainsFunc(s.imapUser, isControl) {
		return settings{}, conversation.FieldError("settings."+SettingIMAPUser, "is required")
	}
	if s.imapPassword == "" || strings.ContainsFunc(s.imapPassword, isControl) {
		return settings{}, conversation.FieldError("settings."+SettingIMAPPassword, "is required")
	}
	s.smtpUser, s.smtpPassword = m[SettingSMTPUser], m[SettingSMTPPassword]
	if s.smtpUser == "" {
		s.smtpUser = s.imapUser
		if s.smtpPassword == "" {
			s.smtpPassword = s.imapPassword
		}
	}
	if strings.ContainsFunc(s.smtpUser+s.smtpPassword, isControl) {
		return settings{}, conversation.FieldError("settings."+SettingSMTPUser, "must be one line")
	}
	s.mailbox = m[SettingIMAPMailbox]
	if s.mailbox == "" {
		s.mailbox = "INBOX"
	}
	s.processedFolder = m[SettingProcessedFolder]
	for _, f := range []struct{ name, v string }{{SettingIMAPMailbox, s.mailbox}, {SettingProcessedFolder, s.processedFolder}} {
		if strings.ContainsFunc(f.v, isControl) || len(f.v) > 200 {
			return settings{}, conversation.FieldError("settings."+f.name, "must be a folder name of at most 200 bytes")
		}
	}
	if strings.EqualFold(s.processedFolder, s.mailbox) {
		return settings{}, conversation.FieldError("settings."+SettingProcessedFolder, "must differ from the watched folder")
	}
	s.autoreplyInterval = c.cfg.DefaultAutoreplyInterval
	if v := m[SettingAutoreplyInterval]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second || d > 720*time.Hour {
			return settings{}, conversation.FieldError("settings."+SettingAutoreplyInterval, "must be a duration from 1s to 720h, such as 10m")
		}
		s.autoreplyInterval = d
	}
	if s.plusAddressing, err = boolSetting(m, SettingPlusAddressing); err != nil {
		return settings{}, err
	}
	if s.insecure, err = boolSetting(m, SettingInsecureSkipVerify); err != nil {
		return settings{}, err
	}
	if s.insecure && (!loopback(s.imapHost) || !loopback(s.smtpHost)) {
		return settings{}, conversation.FieldError("settings."+SettingInsecureSkipVerify, "is allowed only for loopback test servers")
	}
	if v := m[SettingTLSCA]; v != "" {
		if s.rootCAs, err = certPool(v); err != nil {
			return settings{}, err
		}
	}
	return s, nil
}

// certPool returns the system's certificate pool with the PEM
// certificates of tls_ca added.
func certPool(pemText string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	rest, n := []byte(pemText), 0
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, conversation.FieldError("settings."+SettingTLSCA, "holds a %s block; only CERTIFICATE blocks belong there", b.Type)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil || !cert.IsCA {
			return nil, conversation.FieldError("settings."+SettingTLSCA, "holds a certificate that is not a CA certificate")
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 || strings.TrimSpace(string(rest)) != "" {
		return nil, conversation.FieldError("settings."+SettingTLSCA, "must be PEM CA certificates (-----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}

// tlsConfig is the TLS configuration to reach host: verification on,
// with the account's CAs, unless the account is a loopback test setup
// that turned it off.
func (s settings) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: s.rootCAs, InsecureSkipVerify: s.insecure, MinVersion: tls.VersionTLS12}
}

func host(m map[string]string, name string) (string, error) {
	h := strings.TrimSpace(m[name])
	if h == "" || len(h) > 253 || strings.ContainsAny(h, " /:@\t\r\n") && net.ParseIP(h) == nil {
		return "", conversation.FieldError("settings."+name, "must be a host name or IP address")
	}
	return strings.ToLower(h), nil
}

func tlsMode(m map[string]string, name, def, host string) (string, error) {
	v := m[name]
	if v == "" {
		v = def
	}
	switch v {
	case TLSImplicit, TLSStart:
	case TLSNone:
		if !loopback(host) {
			return "", conversation.FieldError("settings."+name, "none is allowed only for loopback hosts; use tls or starttls")
		}
	default:
		return "", conversation.FieldError("settings."+name, "must be tls, starttls or none")
	}
	return v, nil
}

func port(m map[string]string, name string, def int) (int, error) {
	v := m[name]
	if v == "" {
		return def, nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1 || p > 65535 {
		return 0, conversation.FieldError("settings."+name, "must be a port number")
	}
	return p, nil
}

func boolSetting(m map[string]string, name string) (bool, error) {
	switch m[name] {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, conversation.FieldError("settings."+name, "must be true or false")
}

// loopback reports whether host is this machine: localhost or a loopback
// address.
func loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"conversa/billing"
)

// Config is the configuration of a conversa process. Every setting has one
// name, used as the flag (--database-url), the environment variable
// (CONVERSA_DATABASE_URL) and the key of the YAML file (database_url).
// Flags win over the environment, which wins over the file.
type Config struct {
	Addr                     string        `setting:"addr" usage:"address to listen on"`
	PublicURL                string        `setting:"public_url" usage:"base URL that browsers and providers reach this server at (default: from addr)"`
	DataDir                  string        `setting:"data_dir" usage:"directory of the embedded database"`
	MediaDir                 string        `setting:"media_dir" usage:"directory of the files customers send and agents attach; shared by every node (default: media in data_dir)"`
	MediaURL                 string        `setting:"media_url" usage:"s3://ACCESS_KEY:SECRET_KEY@host/bucket[/prefix][?region=R] of an S3-compatible store for the files, instead of media_dir (s3+http:// without TLS)"`
	DatabaseURL              string        `setting:"database_url" usage:"postgres:// URL of PostgreSQL, or a SQLite file (default: conversa.db in data_dir)"`
	ValkeyURL                string        `setting:"valkey_url" usage:"redis:// or valkey:// URL of the shared Valkey server (default: in-process, one node)"`
	ValkeyPrefix             string        `setting:"valkey_prefix" usage:"prefix of every Valkey key and channel"`
	SecretKey                string        `setting:"secret_key" usage:"secret for signed tokens, the same on every node (default: generated once and kept in the database)"`
	EncryptionKey            string        `setting:"encryption_key" usage:"64 hex digits that encrypt channel credentials, webhook and analytics secrets and bot definitions at rest, the same on every node; required with PostgreSQL (default with the embedded store: generated once into encryption.key beside the database)"`
	LogLevel                 string        `setting:"log_level" usage:"debug, info, warn or error"`
	LogFormat                string        `setting:"log_format" usage:"json or text"`
	Workers                  int           `setting:"workers" usage:"jobs (deliveries, bot turns) run at once on this node; 0 runs none here"`
	IngestBatch              int           `setting:"ingest_batch" usage:"most inbound messages committed in one transaction"`
	IngestConcurrency        int           `setting:"ingest_concurrency" usage:"most ingest transactions at once (default: 1 on SQLite, 2 on PostgreSQL)"`
	APIRequestsPerMinute     int           `setting:"api_requests_per_minute" usage:"requests one API key may make per minute"`
	WebchatVisitorsPerMinute int           `setting:"webchat_visitors_per_minute" usage:"new web-chat visitors one client address may start per minute"`
	AllowPrivateWebhooks     bool          `setting:"allow_private_webhooks" usage:"let api-channel webhooks and webhook endpoints reach private and loopback addresses"`
	TrustedProxies           string        `setting:"trusted_proxies" usage:"addresses or CIDR ranges of the load balancers in front of this server, comma-separated; a request from one of them has its client read from X-Forwarded-For (default: none, the TCP peer is the client)"`
	ShutdownTimeout          time.Duration `setting:"shutdown_timeout" usage:"how long a stopping server waits for requests and deliveries in flight"`
	TelegramAPIURL           string        `setting:"telegram_api_url" usage:"base URL of Telegram's Bot API (default Telegram's own; for a local Bot API server)"`
	TwilioAPIURL             string        `setting:"twilio_api_url" usage:"base URL of Twilio's REST API (default Twilio's own; for a local mock)"`
	DebugAddr                string        `setting:"debug_addr" usage:"address of a separate listener for Go's pprof profiles (default: none); keep it private"`
	CaseAttachmentMaxBytes   int           `setting:"case_attachment_max_bytes" usage:"largest file an agent attaches to a case, in bytes"`
	CaseTermHours            string        `setting:"case_term_hours" usage:"case types whose term is in business hours (Monday to Friday, 08:00 to 17:00, in the tenant's time zone), such as denuncia=4,queja=8"`
	CasePauseRule            string        `setting:"case_pause_rule" usage:"what resuming a case paused for the customer does to its term: resume (the days left) or restart (the whole term)"`
	BillingZone              string        `setting:"billing_zone" usage:"IANA time zone of billing months and days"`
	BillingCloseAfterDays    int           `setting:"billing_close_after_days" usage:"days after a month ends that its statements close by themselves"`
	OperatorTokenHash        string        `setting:"operator_token_hash" usage:"SHA-256 (64 hex digits) of the platform operator's token, from conversa operator token (default: no operator access)"`

	// publicURLFromAddr records that PublicURL was derived from Addr, so it
	// follows the port actually bound when Addr's port is 0.
	publicURLFromAddr bool
}

// setting is one configurable value: a field of Config.
type setting struct {
	name, usage string
	index       int
}

var settings = func() []setting {
	t := reflect.TypeFor[Config]()
	var ss []setting
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		ss = append(ss, setting{name: f.Tag.Get("setting"), usage: f.Tag.Get("usage"), index: i})
	}
	return ss
}()

// set parses v into the setting's field of c.
func (s setting) set(c *Config, v string) error {
	f := reflect.ValueOf(c).Elem().Field(s.index)
	switch p := f.Addr().Interface().(type) {
	case *string:
		*p = v
	case *int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		*p = n
	case *bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("not true or false: %q", v)
		}
		*p = b
	case *time.Duration:
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration such as 20s: %q", v)
		}
		*p = d
	default:
		panic("config: unsupported setting type " + f.Type().String())
	}
	return nil
}

// get formats the setting's value in c.
func (s setting) get(c *Config) string {
	return fmt.Sprint(reflect.ValueOf(c).Elem().Field(s.index).Interface())
}

// defaultConfig returns the configuration before any source applies.
func defaultConfig() Config {
	return Config{
		Addr:                     "localhost:8080",
		DataDir:                  "data",
		ValkeyPrefix:             "conversa",
		LogLevel:                 "info",
		LogFormat:                "json",
		Workers:                  16,
		IngestBatch:              64,
		APIRequestsPerMinute:     6000,
		WebchatVisitorsPerMinute: 60,
		ShutdownTimeout:          20 * time.Second,
		CaseAttachmentMaxBytes:   10 << 20,
		CasePauseRule:            "resume",
		BillingZone:              billing.DefaultZone,
		BillingCloseAfterDays:    3,
	}
}

func flagName(s string) string { return strings.ReplaceAll(s, "_", "-") }
func envName(s string) string  { return "CONVERSA_" + strings.ToUpper(s) }

// addFlags registers every setting, and --config, on fs. The returned
// function applies the sources in order: the file, the environment, then
// the flags that were set.
func addFlags(fs *flag.FlagSet, getenv func(string) string, environ []string) func() (Config, error) {
	given := map[string]string{}
	for _, s := range settings {
		fs.Func(flagName(s.name), s.usage, func(v string) error { given[s.name] = v; return nil })
	}
	configPath := fs.String("config", "", "YAML configuration file (env CONVERSA_CONFIG)")
	return func() (Config, error) {
		c := defaultConfig()
		path := *configPath
		if path == "" {
			path = getenv("CONVERSA_CONFIG")
		}
		if path != "" {
			if err := c.loadFile(path); err != nil {
				return c, err
			}
		}
		if err := c.loadEnv(getenv, environ); err != nil {
			return c, err
		}
		for _, s := range settings {
			if v, ok := given[s.name]; ok {
				if err := s.set(&c, v); err != nil {
					return c, fmt.Errorf("--%s: %w", flagName(s.name), err)
				}
			}
		}
		return c, c.Validate()
	}
}

// loadFile applies a YAML file of settings. Unknown keys are errors.
func (c *Config) loadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var m map[string]yaml.Node
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	for k, node := range m {
		i := slices.IndexFunc(settings, func(s setting) bool { return s.name == k })
		if i < 0 {
			return fmt.Errorf("config file %s: unknown setting %q (known: %s)", path, k, knownSettings())
		}
		if node.Kind != yaml.ScalarNode {
			return fmt.Errorf("config file %s: %s must be a single value", path, k)
		}
		if err := settings[i].set(c, node.Value); err != nil {
			return fmt.Errorf("config file %s: %s: %w", path, k, err)
		}
	}
	return nil
}

// loadEnv applies CONVERSA_* variables. Unknown ones are errors, so that a
// typo does not silently leave a default in place.
func (c *Config) loadEnv(getenv func(string) string, environ []string) error {
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "CONVERSA_") || k == "CONVERSA_CONFIG" {
			continue
		}
		if !slices.ContainsFunc(settings, func(s setting) bool { return envName(s.name) == k }) {
			return fmt.Errorf("unknown environment variable %s (known: CONVERSA_CONFIG and the CONVERSA_ form of %s)", k, knownSettings())
		}
	}
	for _, s := range settings {
		if v := getenv(envName(s.name)); v != "" {
			if err := s.set(c, v); err != nil {
				return fmt.Errorf("%s: %w", envName(s.name), err)
			}
		}
	}
	return nil
}

func knownSettings() string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// Validate checks the configuration and fills in derived defaults.
func (c *Config) Validate() error {
	var errs []error
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		errs = append(errs, fmt.Errorf("addr: %q is not host:port", c.Addr))
	}
	if c.PublicURL == "" && err == nil {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		c.PublicURL = "http://" + net.JoinHostPort(host, port)
		c.publicURLFromAddr = true
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("public_url: %q is not an http(s) URL", c.PublicURL))
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if c.DatabaseURL == "" {
		c.DatabaseURL = filepath.Join(c.DataDir, "conversa.db")
	}
	if c.MediaDir == "" {
		c.MediaDir = filepath.Join(c.DataDir, "media")
	}
	if c.ValkeyURL != "" {
		if u, err := url.Parse(c.ValkeyURL); err != nil || !slices.Contains([]string{"redis", "rediss", "valkey", "valkeys", "unix"}, u.Scheme) {
			errs = append(errs, fmt.Errorf("valkey_url: %q is not a redis:// or valkey:// URL", c.ValkeyURL))
		}
	}
	if c.EncryptionKey != "" {
		if b, err := hex.DecodeString(c.EncryptionKey); err != nil || len(b) != 32 {
			errs = append(errs, errors.New("encryption_key: must be 64 hex digits (32 bytes), e.g. from openssl rand -hex 32"))
		}
	}
	if _, err := parseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("trusted_proxies: %w", err))
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		errs = append(errs, errors.New("secret_key: must have at least 32 characters"))
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		errs = append(errs, fmt.Errorf("log_level: %q is not debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("log_format: %q is not json or text", c.LogFormat))
	}
	if c.Workers < 0 || c.Workers > 1024 {
		errs = append(errs, errors.New("workers: must be 0 to 1024"))
	}
	if c.IngestBatch < 1 || c.IngestBatch > 1000 {
		errs = append(errs, errors.New("ingest_batch: must be 1 to 1000"))
	}
	if c.IngestConcurrency < 0 || c.IngestConcurrency > 64 {
		errs = append(errs, errors.New("ingest_concurrency: must be 0 (automatic) to 64"))
	}
	if c.IngestConcurrency == 0 {
		c.IngestConcurrency = 1
		if c.usesPostgres() {
			c.IngestConcurrency = 2
		}
	}
	if c.APIRequestsPerMinute < 1 {
		errs = append(errs, errors.New("api_requests_per_minute: must be at least 1"))
	}
	if c.WebchatVisitorsPerMinute < 1 {
		errs = append(errs, errors.New("webchat_visitors_per_minute: must be at least 1"))
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			errs = append(errs, fmt.Errorf("debug_addr: %q is not host:port", c.DebugAddr))
		}
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown_timeout: must be positive"))
	}
	if err := c.validateCases(); err != nil {
		errs = append(errs, err)
	}
	if err := c.validateBilling(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *Config) usesPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// redacted returns the settings as name=value lines, with secrets hidden.
func (c *Config) redacted() []string {
	var lines []string
	for _, s := range settings {
		v := s.get(c)
		switch s.name {
		case "secret_key", "encryption_key":
			if v != "" {
				v = "(set)"
			}
		case "database_url", "valkey_url", "media_url":
			if u, err := url.Parse(v); err == nil && u.User != nil {
				if _, ok := u.User.Password(); ok {
					u.User = url.UserPassword(u.User.Username(), "xxxxx")
					v = u.String()
				}
			}
		}
		lines = append(lines, s.name+"="+v)
	}
	return lines
}

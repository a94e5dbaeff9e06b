// Package apichannel is the channel of a tenant's own system (kind "api"):
// the system posts what its users write through the REST API
// (POST /api/v1/inbound), and receives the replies on a webhook, signed
// with the channel's secret so it can tell them from forgeries.
package apichannel

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"conversa/channels"
	"conversa/conversation"
)

// Settings of an api channel account.
const (
	// SettingWebhookURL is where replies are posted.
	SettingWebhookURL = "webhook_url"
	// SettingWebhookSecret signs the posts; at least 16 characters.
	SettingWebhookSecret = "webhook_secret"
)

// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>" with the webhook secret>".
const SignatureHeader = "X-Conversa-Signature"

// Config configures the channel.
type Config struct {
	// Timeout bounds one webhook post.
	Timeout time.Duration
	// AllowPrivate lets webhooks reach loopback and private addresses. Off in
	// production: a tenant must not make the server call into its own
	// network.
	AllowPrivate bool
}

// Channel is the api channel.
type Channel struct {
	cfg    Config
	client *http.Client
}

var _ channels.Channel = (*Channel)(nil)

// New returns the channel.
func New(cfg Config) *Channel {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !cfg.AllowPrivate {
		// Checked at connect time, on the address actually dialled, so a
		// name that resolves to a private address is refused too.
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if !publicAddr(ap.Addr()) {
				return errPrivate
			}
			return nil
		}
	}
	transport := &http.Transport{
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Channel{cfg: cfg, client: &http.Client{
		Transport: transport,
		Timeout:   cfg.Timeout,
		// A redirect could lead anywhere; the webhook URL is the address.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var errPrivate = errors.New("the webhook address is private or loopback")

// notPublic are the unicast ranges, beyond the private, loopback and
// link-local ones, that are not on the public internet.
var notPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),     // "this network"
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space: carrier-grade NAT, some clouds' metadata services
	netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),   // reserved
}

// Prefixes of IPv6 addresses that carry an IPv4 address, which decides.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96") // the IPv4 address is the last 4 bytes
	sixToFour = netip.MustParsePrefix("2002::/16")    // the IPv4 address is bytes 2 to 5
)

// publicAddr reports whether a is an address on the public internet.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range notPublic {
		if p.Contains(a) {
			return false
		}
	}
	switch b := a.As16(); {
	case nat64.Contains(a):
		return publicAddr(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return publicAddr(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return true
}

// localName reports whether host names this machine: localhost and the
// names under it (RFC 6761), in any case, with or without the final dot.
func localName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// Kind implements channels.Channel.
func (c *Channel) Kind() conversation.ChannelKind { return conversation.ChannelAPI }

// ValidateAccount implements channels.Channel.
func (c *Channel) ValidateAccount(a *conversation.ChannelAccount) error {
	for k := range a.Settings {
		if k != SettingWebhookURL && k != SettingWebhookSecret {
			return conversation.FieldError("settings."+k, "unknown api channel setting")
		}
	}
	u, err := url.Parse(a.Settings[SettingWebhookURL])
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return conversation.FieldError("settings."+SettingWebhookURL, "must be an http or https URL")
	}
	if !c.cfg.AllowPrivate {
		// Only literal addresses and local names can be checked here; the
		// dialer checks the address a name resolves to.
		if ip, err := netip.ParseAddr(u.Hostname()); (err == nil && !publicAddr(ip)) || localName(u.Hostname()) {
			return conversation.FieldError("settings."+SettingWebhookURL, "must not be a private or loopback address")
		}
	}
	if len(a.Settings[SettingWebhookSecret]) < 16 {
		return conversation.FieldError("settings."+SettingWebhookSecret, "must have at least 16 characters")
	}
	return nil
}

// Webhook is the JSON body of a webhook post.
type Webhook struct {
	Event   string               `json:"event"` // "message"
	Message conversation.Message `json:"message"`
	// To is the contact's id in the tenant's system.
	To string `json:"to"`
}

// Send implements channels.Channel: it posts the message to the account's
// webhook. A 2xx answer is a delivery; 429 and 503 are retried after their
// Retry-After; a redirect (never followed: the webhook URL is the address)
// and other 4xx answers are permanent failures, for the tenant to fix
// their settings; anything else is retried.
func (c *Channel) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	body, err := json.Marshal(Webhook{Event: "message", Message: d.Message, To: d.To.Address})
	if err != nil {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: "encode webhook: " + err.Error(), Permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Account.Settings[SettingWebhookURL], bytes.NewReader(body))
	if err != nil {
		return conversation.Receipt{}, &conversation.DeliveryError{Message: "bad webhook URL", Permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "conversa-webhook/1")
	req.Header.Set("X-Conversa-Delivery", strconv.FormatInt(d.Message.ID, 10))
	req.Header.Set(SignatureHeader, Sign([]byte(d.Account.Settings[SettingWebhookSecret]), time.Now(), body))
	resp, err := c.client.Do(req)
	if err != nil {
		if errors.Is(err, errPrivate) {
			return conversation.Receipt{}, &conversation.DeliveryError{Message: errPrivate.Error(), Permanent: true}
		}
		return conversation.Receipt{}, fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return conversation.Receipt{Status: conversation.StatusDelivered}, nil
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return conversation.Receipt{}, &conversation.DeliveryError{Code: strconv.Itoa(code), Message: "webhook asked to retry later", RetryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	case code >= 300 && code < 400:
		msg := "webhook redirected (" + resp.Status + "); redirects are not followed: set webhook_url to the final address"
		if loc := resp.Header.Get("Location"); loc != "" && len(loc) <= 512 {
			msg += " (" + loc + ")"
		}
		return conversation.Receipt{}, &conversation.DeliveryError{Code: strconv.Itoa(code), Message: msg, Permanent: true}
	case code >= 400 && code < 500:
		return conversation.Receipt{}, &conversation.DeliveryError{Code: strconv.Itoa(code), Message: "webhook refused the message: " + resp.Status, Permanent: true}
	default:
		return conversation.Receipt{}, &conversation.DeliveryError{Code: strconv.Itoa(code), Message: "webhook failed: " + resp.Status}
	}
}

// maxRetryAfter bounds the wait a webhook may ask for.
const maxRetryAfter = time.Hour

// retryAfter reads a Retry-After header in seconds or as an HTTP date, at
// most maxRetryAfter.
func retryAfter(h string) time.Duration {
	if s, err := strconv.ParseInt(strings.TrimSpace(h), 10, 64); err == nil && s >= 0 {
		return time.Duration(min(s, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(time.Until(t), 0), maxRetryAfter)
	}
	return 0
}

// Sign returns the signature header value of body at time t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature header against body, accepting signatures made
// within tolerance of now. Tenants' systems do the same in their own code.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, f := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	got, herr := hex.DecodeString(sig)
	if err != nil || herr != nil || len(got) == 0 {
		return errors.New("malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature too old")
	}
	if !hmac.Equal(got, mac(secret, ts, body)) {
		return errors.New("signature mismatch")
	}
	return nil
}

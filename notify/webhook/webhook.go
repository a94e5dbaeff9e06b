// Package webhook sends delivery results to the tenants' own systems:
// per-tenant endpoints subscribe to events (message.delivered,
// message.read, message.failed, notification.undeliverable,
// campaign.progress), each delivered as a durable job that POSTs a JSON
// body signed with HMAC-SHA256 and a timestamp, retried with backoff. An
// endpoint whose host resolves to a private, loopback or link-local
// address is refused unless the configuration allows it, both when it is
// saved and when each request connects.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"conversa/conversation"
)

// Event types an endpoint may subscribe to.
const (
	EventMessageDelivered          = "message.delivered"
	EventMessageRead               = "message.read"
	EventMessageFailed             = "message.failed"
	EventNotificationUndeliverable = "notification.undeliverable"
	EventCampaignProgress          = "campaign.progress"
)

// Events are the event types, in the order they are documented.
var Events = []string{EventMessageDelivered, EventMessageRead, EventMessageFailed, EventNotificationUndeliverable, EventCampaignProgress}

// Endpoint is a tenant's URL that receives events.
type Endpoint struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	URL      string `json:"url"`
	// Secret signs the requests; it is shown when the endpoint is created
	// and when it is rotated, never again. Stores keep it encrypted.
	Secret string `json:"secret,omitempty"`
	// Events are the event types sent; empty is all.
	Events    []string  `json:"events,omitempty"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Wants reports whether the endpoint takes events of type t.
func (e Endpoint) Wants(t string) bool {
	return !e.Disabled && (len(e.Events) == 0 || slices.Contains(e.Events, t))
}

// Store keeps the tenants' endpoints. storage/sqlite and storage/postgres
// implement it, proven by webhooktest.TestStore. Every method is safe for
// concurrent use and scoped to one tenant: another tenant's ids are
// ENOTFOUND.
type Store interface {
	// CreateEndpoint stores e and returns it with ID, CreatedAt and
	// UpdatedAt set. Returns ENOTFOUND when the tenant does not exist.
	CreateEndpoint(ctx context.Context, e Endpoint) (Endpoint, error)
	// Endpoint returns ENOTFOUND unless id belongs to tenantID.
	Endpoint(ctx context.Context, tenantID, id int64) (Endpoint, error)
	// ListEndpoints returns the tenant's endpoints by ID.
	ListEndpoints(ctx context.Context, tenantID int64) ([]Endpoint, error)
	// UpdateEndpoint stores the URL, events and disabled flag of e (the
	// secret stays). Returns ENOTFOUND unless e.ID belongs to e.TenantID.
	UpdateEndpoint(ctx context.Context, e Endpoint) (Endpoint, error)
	// DeleteEndpoint returns ENOTFOUND unless id belongs to tenantID.
	DeleteEndpoint(ctx context.Context, tenantID, id int64) error
	// SetEndpointSecret replaces an endpoint's secret. Returns ENOTFOUND
	// unless id belongs to tenantID.
	SetEndpointSecret(ctx context.Context, tenantID, id int64, secret string) (Endpoint, error)
	// SealEndpointSecrets encrypts the secrets stored in the clear (before
	// the store had an encryption key) and returns how many it sealed.
	// Endpoints read the same before and after.
	SealEndpointSecrets(ctx context.Context) (int, error)
	// EnqueueEvent enqueues, in one transaction, each of jobs (one per
	// endpoint: Ref) whose endpoint was not given eventID before, and
	// records that it was; so an event emitted again, even after its
	// deliveries finished, is enqueued once per endpoint. Records older
	// than EventMemory are forgotten. Returns how many it enqueued.
	EnqueueEvent(ctx context.Context, tenantID int64, eventID string, jobs []conversation.Job) (int, error)
}

// EventMemory is how long a store remembers which endpoints were given an
// event: an event emitted again later is delivered again.
const EventMemory = 30 * 24 * time.Hour

// SecretPurpose is what a store binds an endpoint's sealed secret to (see
// conversation.Sealer.SealValue): its tenant, so that a secret copied to
// another tenant's endpoint does not open.
func SecretPurpose(tenantID int64) string {
	return "webhook secret of tenant " + strconv.FormatInt(tenantID, 10)
}

// JobDeliver is the kind of an event's delivery to one endpoint: Ref is
// the endpoint, Payload the event.
const JobDeliver = "webhook"

// Headers of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>" with the endpoint's secret>".
	SignatureHeader = "X-Conversa-Signature"
	// EventHeader names the event type.
	EventHeader = "X-Conversa-Event"
	// DeliveryHeader is the event's id, the same on every retry.
	DeliveryHeader = "X-Conversa-Delivery"
)

// Event is the body of a delivery.
type Event struct {
	// ID names the event (message:<id>:<status>, notification:<id>,
	// campaign:<id>:<status>:<queued>), the same on every delivery of it
	// and in DeliveryHeader. Delivery is at least once (a request whose
	// answer was lost is sent again), so a receiver drops an ID it has
	// seen.
	ID       string    `json:"id"`
	Type     string    `json:"type"`
	TenantID int64     `json:"tenant_id"`
	At       time.Time `json:"at"`
	// Data is the message, notification or campaign report.
	Data json.RawMessage `json:"data"`
}

// Config configures the service.
type Config struct {
	// AllowPrivate allows endpoints on private, loopback and link-local
	// addresses (for tests and closed networks).
	AllowPrivate bool
	// Timeout bounds one request; default 10 seconds.
	Timeout time.Duration
	// Now is the clock of signatures; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// JobsAdded wakes the local Worker after deliveries were enqueued.
	JobsAdded func()
}

// Service keeps endpoints, enqueues events and delivers them. It is safe
// for concurrent use.
type Service struct {
	store  Store
	cfg    Config
	client *http.Client
}

// New returns the service.
func New(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("webhook: the service needs a store")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.JobsAdded == nil {
		cfg.JobsAdded = func() {}
	}
	return &Service{store: store, cfg: cfg, client: NewClient(cfg.Timeout, cfg.AllowPrivate)}, nil
}

// ErrNotPublic is the error of a connection refused because its address
// is private, loopback or link-local and the client does not allow them.
var ErrNotPublic = errors.New("not a public address")

// NewClient returns the HTTP client of requests to tenants' URLs: each
// request bounded by timeout, no proxy, no redirects followed, and unless
// allowPrivate a connection to an address that is not public refused as it
// is made (ErrNotPublic): a host that resolved to a public address when it
// was saved may resolve to a private one later. The analytics export uses
// it too.
func NewClient(timeout time.Duration, allowPrivate bool) *http.Client {
	control := func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		ip := net.ParseIP(host)
		if ip == nil || (!allowPrivate && !public(ip)) {
			return fmt.Errorf("webhook: %s is %w", host, ErrNotPublic)
		}
		return nil
	}
	dialer := &net.Dialer{Timeout: timeout, Control: control}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: dialer.DialContext, Proxy: nil,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: timeout},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// public reports whether ip is a public unicast address.
func public(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast())
}

// Limits of an endpoint.
const (
	maxURL       = 2048
	maxEndpoints = 20
)

// checkURL validates an endpoint's URL (CheckURL).
func (s *Service) checkURL(ctx context.Context, raw string) error {
	return CheckURL(ctx, raw, s.cfg.AllowPrivate)
}

// CheckURL validates the URL of a tenant's system: http or https, a host,
// no user info or fragment, and unless allowPrivate a host whose every
// address is public. Returns EINVALID on the field "url". The analytics
// export checks its destinations with it too.
func CheckURL(ctx context.Context, raw string, allowPrivate bool) error {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > maxURL || !utf8.ValidString(raw) || err != nil:
		return conversation.FieldError("url", "is not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return conversation.FieldError("url", "must be an http or https URL")
	case u.Hostname() == "" || u.User != nil || u.Fragment != "":
		return conversation.FieldError("url", "needs a host, and no user info or fragment")
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return conversation.FieldError("url", "the host %s does not resolve", host)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if !public(ip) {
			return conversation.FieldError("url", "the host %s is a private, loopback or link-local address (%s)", host, ip)
		}
	}
	return nil
}

func checkEvents(events []string) error {
	for i, e := range events {
		if !slices.Contains(Events, e) {
			return conversation.FieldError(fmt.Sprintf("events[%d]", i), "unknown event %q: one of %s", e, strings.Join(Events, ", "))
		}
	}
	return nil
}

// Create validates and stores an endpoint with a new secret, when it has
// none. Returns EINVALID naming the bad field (a URL on a private address
// unless allowed).
func (s *Service) Create(ctx context.Context, e Endpoint) (Endpoint, error) {
	if err := s.checkURL(ctx, e.URL); err != nil {
		return Endpoint{}, err
	}
	if err := checkEvents(e.Events); err != nil {
		return Endpoint{}, err
	}
	if e.Secret == "" {
		e.Secret = NewSecret()
	} else if err := CheckSecret(e.Secret); err != nil {
		return Endpoint{}, err
	}
	if eps, err := s.store.ListEndpoints(ctx, e.TenantID); err != nil {
		return Endpoint{}, err
	} else if len(eps) >= maxEndpoints {
		return Endpoint{}, conversation.FieldError("url", "at most %d endpoints per tenant", maxEndpoints)
	}
	return s.store.CreateEndpoint(ctx, e)
}

// CheckSecret validates a signing secret a tenant gives: 16 to 256 bytes
// of UTF-8 that do not look sealed. Returns EINVALID on the field
// "secret".
func CheckSecret(secret string) error {
	if len(secret) < 16 || len(secret) > 256 || !utf8.ValidString(secret) {
		return conversation.FieldError("secret", "must be 16 to 256 bytes of UTF-8")
	}
	if conversation.IsSealed(secret) {
		return conversation.FieldError("secret", "must not look like an encrypted value (enc:v1:...)")
	}
	return nil
}

// NewSecret returns a random signing secret ("whsec_" and 48 hex digits).
func NewSecret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "whsec_" + hex.EncodeToString(b)
}

// RotateSecret gives an endpoint a new random secret and returns the
// endpoint with it: the only time it is shown. Deliveries signed from then
// on use it, retries of earlier ones included. Returns ENOTFOUND unless the
// endpoint is the tenant's.
func (s *Service) RotateSecret(ctx context.Context, tenantID, id int64) (Endpoint, error) {
	return s.store.SetEndpointSecret(ctx, tenantID, id, NewSecret())
}

// Update validates and stores an endpoint's URL, events and disabled
// flag. Returns EINVALID naming the bad field, ENOTFOUND unless it is the
// tenant's.
func (s *Service) Update(ctx context.Context, e Endpoint) (Endpoint, error) {
	if err := s.checkURL(ctx, e.URL); err != nil {
		return Endpoint{}, err
	}
	if err := checkEvents(e.Events); err != nil {
		return Endpoint{}, err
	}
	out, err := s.store.UpdateEndpoint(ctx, e)
	out.Secret = ""
	return out, err
}

// Get returns an endpoint without its secret. Returns ENOTFOUND unless it
// is the tenant's.
func (s *Service) Get(ctx context.Context, tenantID, id int64) (Endpoint, error) {
	e, err := s.store.Endpoint(ctx, tenantID, id)
	e.Secret = ""
	return e, err
}

// List returns the tenant's endpoints without their secrets.
func (s *Service) List(ctx context.Context, tenantID int64) ([]Endpoint, error) {
	eps, err := s.store.ListEndpoints(ctx, tenantID)
	for i := range eps {
		eps[i].Secret = ""
	}
	return eps, err
}

// Delete removes an endpoint. Returns ENOTFOUND unless it is the tenant's.
func (s *Service) Delete(ctx context.Context, tenantID, id int64) error {
	return s.store.DeleteEndpoint(ctx, tenantID, id)
}

// Emit enqueues an event for every endpoint of the tenant that wants it
// (see Enqueue). A failure is logged: the change it reports is committed
// already.
func (s *Service) Emit(ctx context.Context, tenantID int64, typ, id string, data any) {
	if err := s.Enqueue(ctx, tenantID, typ, id, data); err != nil {
		s.cfg.Logger.Warn("enqueue webhook event", "tenant", tenantID, "event", id, "err", err)
	}
}

// Enqueue enqueues an event for every endpoint of the tenant that wants
// it, one durable job each, once per endpoint and event id however often
// it is called (Store.EnqueueEvent). The id is the event's "id" field and
// DeliveryHeader: stable, so a receiver that gets an event twice (a
// delivery whose answer was lost is retried) can drop the repeat.
func (s *Service) Enqueue(ctx context.Context, tenantID int64, typ, id string, data any) error {
	eps, err := s.store.ListEndpoints(ctx, tenantID)
	if err != nil {
		return fmt.Errorf("read webhook endpoints: %w", err)
	}
	var body []byte
	var jobs []conversation.Job
	for _, ep := range eps {
		if !ep.Wants(typ) {
			continue
		}
		if body == nil {
			raw, err := json.Marshal(data)
			if err != nil {
				return fmt.Errorf("encode webhook event %s: %w", id, err)
			}
			if body, err = json.Marshal(Event{ID: id, Type: typ, TenantID: tenantID, At: s.cfg.Now().UTC(), Data: raw}); err != nil {
				return fmt.Errorf("encode webhook event %s: %w", id, err)
			}
		}
		jobs = append(jobs, conversation.Job{TenantID: tenantID, Kind: JobDeliver, Ref: ep.ID,
			Key: "webhook:" + strconv.FormatInt(ep.ID, 10) + ":" + id, Payload: body, MaxAttempts: 12})
	}
	if len(jobs) == 0 {
		return nil
	}
	n, err := s.store.EnqueueEvent(context.WithoutCancel(ctx), tenantID, id, jobs)
	if err != nil {
		return fmt.Errorf("enqueue webhook event %s: %w", id, err)
	}
	if n > 0 {
		s.cfg.JobsAdded()
	}
	return nil
}

// MessageStatus enqueues message.delivered, message.read or
// message.failed for an outbound message whose status changed: the
// conversation.Deps.StatusChanged of the status_changed job, so an error
// retries it. The event id is "message:<id>:<status>".
func (s *Service) MessageStatus(ctx context.Context, m conversation.Message) error {
	var typ string
	switch m.Status {
	case conversation.StatusDelivered:
		typ = EventMessageDelivered
	case conversation.StatusRead:
		typ = EventMessageRead
	case conversation.StatusFailed:
		typ = EventMessageFailed
	default:
		return nil
	}
	return s.Enqueue(ctx, m.TenantID, typ, "message:"+strconv.FormatInt(m.ID, 10)+":"+string(m.Status), m)
}

// Sign returns the signature header's value of body at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header of body against secret, and that its
// time is within tolerance of now: what a receiver does.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) bool {
	var ts, sig string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > tolerance {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, time.Unix(sec, 0), body)), []byte("t="+ts+",v1="+sig))
}

// DeliverJob is the conversation.JobHandler of JobDeliver: it POSTs the
// event to the endpoint, signed. A 2xx answer delivers it; a 4xx answer
// other than 408 and 429, an endpoint gone or disabled, or an address
// refused ends it; anything else is retried with the Worker's backoff (or
// the endpoint's Retry-After).
func (s *Service) DeliverJob(ctx context.Context, j conversation.Job) error {
	ep, err := s.store.Endpoint(ctx, j.TenantID, j.Ref)
	if conversation.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ep.Disabled {
		return nil
	}
	var ev Event
	if err := json.Unmarshal(j.Payload, &ev); err != nil {
		return &conversation.JobError{Err: fmt.Errorf("decode webhook event: %w", err), Permanent: true}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, strings.NewReader(string(j.Payload)))
	if err != nil {
		return &conversation.JobError{Err: err, Permanent: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Conversa-Webhooks/1")
	req.Header.Set(EventHeader, ev.Type)
	req.Header.Set(DeliveryHeader, ev.ID)
	req.Header.Set(SignatureHeader, Sign([]byte(ep.Secret), s.cfg.Now(), j.Payload))
	resp, err := s.client.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "is not a public address") {
			return &conversation.JobError{Err: err, Permanent: true}
		}
		return fmt.Errorf("post webhook %s: %w", ev.ID, err)
	}
	defer resp.Body.Close()
	err = AnswerError(resp, s.cfg.Now(), fmt.Errorf("webhook %s: endpoint answered %d", ev.ID, resp.StatusCode))
	if err == nil {
		s.cfg.Logger.Info("webhook delivered", "tenant", j.TenantID, "endpoint", ep.ID, "event", ev.ID, "status", resp.StatusCode)
	}
	return err
}

// AnswerError is the outcome, for a durable job, of the answer of a
// tenant's system: nil for a 2xx; for a 408, 429 or 5xx, err as a
// conversation.JobError retried after the answer's Retry-After (seconds or
// an HTTP date, at most an hour) or else the Worker's backoff; for any
// other status, err as a permanent JobError. The analytics export uses it
// too.
func AnswerError(resp *http.Response, now time.Time, err error) error {
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		return &conversation.JobError{Err: err, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}
	default:
		return &conversation.JobError{Err: err, Permanent: true}
	}
}

// retryAfter reads a Retry-After header, seconds or an HTTP date, capped
// at an hour; 0 when there is none or it is past.
func retryAfter(h string, now time.Time) time.Duration {
	var d time.Duration
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}

// Package analytics exports the report pipeline's events to the tenants'
// own analytics: Segment's HTTP Tracking API (or any service that speaks
// it) and signed webhooks. It keeps the destinations
// (reports.DestinationStore) and runs two durable jobs: the pipeline's
// reports.JobExport, which splits a batch of one tenant's events into one
// JobSend per destination (and per chunk of at most MaxBatch events), and
// JobSend, which makes one request and is retried on its own, so that a
// destination that fails never makes the others get a batch again.
package analytics

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"conversa/conversation"
	"conversa/notify/webhook"
	"conversa/reports"
)

// JobSend is the kind of the job that sends one batch of events to one
// destination: Ref is the destination, Payload a Batch.
const JobSend = "analytics_send"

// WebhookEventType is the type (webhook.EventHeader and the body's "type")
// of a batch delivered to a webhook destination.
const WebhookEventType = "analytics.events"

// Limits of a batch: Segment takes at most 500 KB per batch and 32 KB per
// event.
const (
	MaxBatch      = 100
	maxBatchBytes = 400 << 10
)

// maxDestinations bounds a tenant's destinations.
const maxDestinations = 10

// Batch is the payload of a JobSend: a chunk of one tenant's events, the
// same on every attempt.
type Batch struct {
	// ID names the batch: derived from its events' ids, so the same
	// events are the same batch. Webhook receivers get it as the body's
	// "id" and webhook.DeliveryHeader.
	ID      string          `json:"id"`
	Created time.Time       `json:"created"`
	Events  []reports.Event `json:"events"`
}

// Config configures the service.
type Config struct {
	// AllowPrivate allows destinations on private, loopback and
	// link-local addresses (for tests and closed networks), like
	// webhook.Config.AllowPrivate.
	AllowPrivate bool
	// Timeout bounds one request; default 10 seconds.
	Timeout time.Duration
	// MaxAttempts bounds the attempts of one destination's batch; default
	// 12 (hours, with the Worker's backoff).
	MaxAttempts int
	// Now is the clock of signatures and sentAt; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// JobsAdded wakes the local Worker after sends were enqueued.
	JobsAdded func()
}

// Service keeps the tenants' analytics destinations and exports events to
// them. It is safe for concurrent use.
type Service struct {
	store  reports.DestinationStore
	cfg    Config
	client *http.Client
}

// New returns the service.
func New(store reports.DestinationStore, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errors.New("analytics: the service needs a store")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 12
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
	return &Service{store: store, cfg: cfg, client: webhook.NewClient(cfg.Timeout, cfg.AllowPrivate)}, nil
}

// check validates what a tenant may set of a destination: its URL (an
// address refused unless allowed, webhook.CheckURL) and event names.
func (s *Service) check(ctx context.Context, d reports.Destination) error {
	if err := webhook.CheckURL(ctx, d.URL, s.cfg.AllowPrivate); err != nil {
		return err
	}
	if d.Kind == reports.DestinationSegment && strings.ContainsAny(d.URL, "?") {
		return conversation.FieldError("url", "is the API's base URL (such as https://api.segment.io), without a query")
	}
	if len(d.Events) > len(reports.EventNames) {
		return conversation.FieldError("events", "lists more than the %d event names", len(reports.EventNames))
	}
	for i, e := range d.Events {
		if !slices.Contains(reports.EventNames, e) {
			return conversation.FieldError(fmt.Sprintf("events[%d]", i), "unknown event %q: one of %s", e, strings.Join(reports.EventNames, ", "))
		}
	}
	return nil
}

// checkSecret validates a secret a tenant gives: a Segment write key (it
// is the user of HTTP basic auth: printable ASCII without a colon or
// space) or a webhook signing secret (webhook.CheckSecret).
func checkSecret(kind, secret string) error {
	if kind != reports.DestinationSegment {
		return webhook.CheckSecret(secret)
	}
	if len(secret) < 8 || len(secret) > 256 || strings.ContainsFunc(secret, func(r rune) bool { return r > unicode.MaxASCII || !unicode.IsGraphic(r) || r == ':' || r == ' ' }) {
		return conversation.FieldError("secret", "must be the source's write key: 8 to 256 printable ASCII characters without a colon or space")
	}
	return nil
}

// Create validates and stores a destination. A webhook destination
// without a secret gets a random one; a Segment destination needs its
// write key. The result carries the secret: the only time it is shown.
// Returns EINVALID naming the bad field (a URL on a private address unless
// allowed).
func (s *Service) Create(ctx context.Context, d reports.Destination) (reports.Destination, error) {
	if !slices.Contains(reports.DestinationKinds, d.Kind) {
		return reports.Destination{}, conversation.FieldError("kind", "must be one of %s", strings.Join(reports.DestinationKinds, ", "))
	}
	if err := s.check(ctx, d); err != nil {
		return reports.Destination{}, err
	}
	switch {
	case d.Secret == "" && d.Kind == reports.DestinationSegment:
		return reports.Destination{}, conversation.FieldError("secret", "is required: the source's write key")
	case d.Secret == "":
		d.Secret = webhook.NewSecret()
	default:
		if err := checkSecret(d.Kind, d.Secret); err != nil {
			return reports.Destination{}, err
		}
	}
	if ds, err := s.store.ListDestinations(ctx, d.TenantID); err != nil {
		return reports.Destination{}, err
	} else if len(ds) >= maxDestinations {
		return reports.Destination{}, conversation.FieldError("url", "at most %d analytics destinations per tenant", maxDestinations)
	}
	return s.store.CreateDestination(ctx, d)
}

// Update validates and stores a destination's URL, events and disabled
// flag; the result leaves the secret out. Returns EINVALID naming the bad
// field, ENOTFOUND unless it is the tenant's.
func (s *Service) Update(ctx context.Context, d reports.Destination) (reports.Destination, error) {
	if err := s.check(ctx, d); err != nil {
		return reports.Destination{}, err
	}
	out, err := s.store.UpdateDestination(ctx, d)
	out.Secret = ""
	return out, err
}

// Get returns a destination without its secret. Returns ENOTFOUND unless
// it is the tenant's.
func (s *Service) Get(ctx context.Context, tenantID, id int64) (reports.Destination, error) {
	d, err := s.store.Destination(ctx, tenantID, id)
	d.Secret = ""
	return d, err
}

// List returns the tenant's destinations without their secrets.
func (s *Service) List(ctx context.Context, tenantID int64) ([]reports.Destination, error) {
	ds, err := s.store.ListDestinations(ctx, tenantID)
	for i := range ds {
		ds[i].Secret = ""
	}
	return ds, err
}

// Delete removes a destination; its batches not sent yet are dropped.
// Returns ENOTFOUND unless it is the tenant's.
func (s *Service) Delete(ctx context.Context, tenantID, id int64) error {
	return s.store.DeleteDestination(ctx, tenantID, id)
}

// RotateSecret replaces a destination's secret with secret, or for a
// webhook destination without one with a new random secret, and returns
// the destination with it: the only time it is shown. Batches sent from
// then on use it, retries of earlier ones included. Returns EINVALID for a
// bad secret (a Segment destination needs the new write key), ENOTFOUND
// unless the destination is the tenant's.
func (s *Service) RotateSecret(ctx context.Context, tenantID, id int64, secret string) (reports.Destination, error) {
	d, err := s.store.Destination(ctx, tenantID, id)
	if err != nil {
		return reports.Destination{}, err
	}
	switch {
	case secret == "" && d.Kind == reports.DestinationSegment:
		return reports.Destination{}, conversation.FieldError("secret", "is required: the source's new write key")
	case secret == "":
		secret = webhook.NewSecret()
	default:
		if err := checkSecret(d.Kind, secret); err != nil {
			return reports.Destination{}, err
		}
	}
	return s.store.SetDestinationSecret(ctx, tenantID, id, secret)
}

// ExportJob is the conversation.JobHandler of reports.JobExport: it
// enqueues, in one transaction (reports.DestinationStore.EnqueueExports),
// one JobSend per enabled destination of the tenant and chunk of the
// events it wants. A batch exported again while its sends are unfinished
// is not enqueued twice. A payload that is not a JSON array of events
// fails for good; events of another tenant are dropped.
func (s *Service) ExportJob(ctx context.Context, j conversation.Job) error {
	var events []reports.Event
	if err := json.Unmarshal(j.Payload, &events); err != nil {
		return &conversation.JobError{Err: fmt.Errorf("decode analytics events: %w", err), Permanent: true}
	}
	events = slices.DeleteFunc(events, func(e reports.Event) bool {
		if e.TenantID != j.TenantID {
			s.cfg.Logger.Error("analytics event of another tenant dropped", "tenant", j.TenantID, "event", e.ID, "event_tenant", e.TenantID)
			return true
		}
		return false
	})
	if len(events) == 0 {
		return nil
	}
	dests, err := s.store.ListDestinations(ctx, j.TenantID)
	if err != nil {
		return fmt.Errorf("read analytics destinations: %w", err)
	}
	created := s.cfg.Now().UTC()
	var jobs []conversation.Job
	for _, d := range dests {
		var wanted []reports.Event
		for _, e := range events {
			if d.Wants(e.Name) {
				wanted = append(wanted, e)
			}
		}
		for _, chunk := range chunks(wanted) {
			b := Batch{ID: batchID(chunk), Created: created, Events: chunk}
			payload, err := json.Marshal(b)
			if err != nil {
				return &conversation.JobError{Err: fmt.Errorf("encode analytics batch: %w", err), Permanent: true}
			}
			jobs = append(jobs, conversation.Job{TenantID: j.TenantID, Kind: JobSend, Ref: d.ID,
				Key: "analytics:" + strconv.FormatInt(d.ID, 10) + ":" + b.ID, Payload: payload, MaxAttempts: s.cfg.MaxAttempts})
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	n, err := s.store.EnqueueExports(ctx, j.TenantID, jobs)
	if err != nil {
		return fmt.Errorf("enqueue analytics sends: %w", err)
	}
	if n > 0 {
		s.cfg.JobsAdded()
	}
	return nil
}

// chunks splits events into batches of at most MaxBatch events and about
// maxBatchBytes of JSON.
func chunks(events []reports.Event) [][]reports.Event {
	var out [][]reports.Event
	start, size := 0, 0
	for i, e := range events {
		b, _ := json.Marshal(e)
		if i > start && (i-start >= MaxBatch || size+len(b) > maxBatchBytes) {
			out = append(out, events[start:i])
			start, size = i, 0
		}
		size += len(b)
	}
	if start < len(events) {
		out = append(out, events[start:])
	}
	return out
}

// batchID names a batch after its events' ids.
func batchID(events []reports.Event) string {
	h := sha256.New()
	for _, e := range events {
		h.Write([]byte(e.ID))
		h.Write([]byte{0})
	}
	return "batch_" + hex.EncodeToString(h.Sum(nil)[:12])
}

// SendJob is the conversation.JobHandler of JobSend: it sends the batch
// to its destination, a Segment batch call or a signed webhook POST. A 2xx
// answer ends it, as does a destination gone or disabled. A 429, 408 or
// 5xx answer, a timeout or a network error retries it with the Worker's
// backoff or the destination's Retry-After. Any other answer, or an
// address refused, fails it for good, logged with the status and the
// start of the body.
func (s *Service) SendJob(ctx context.Context, j conversation.Job) error {
	d, err := s.store.Destination(ctx, j.TenantID, j.Ref)
	if conversation.IsNotFound(err) {
		s.cfg.Logger.Info("analytics batch dropped: its destination is gone", "tenant", j.TenantID, "destination", j.Ref)
		return nil
	}
	if err != nil {
		return err
	}
	if d.Disabled {
		s.cfg.Logger.Info("analytics batch dropped: its destination is disabled", "tenant", j.TenantID, "destination", d.ID)
		return nil
	}
	var b Batch
	if err := json.Unmarshal(j.Payload, &b); err != nil {
		return &conversation.JobError{Err: fmt.Errorf("decode analytics batch: %w", err), Permanent: true}
	}
	var req *http.Request
	switch d.Kind {
	case reports.DestinationSegment:
		req, err = s.segmentRequest(ctx, d, b)
	case reports.DestinationWebhook:
		req, err = s.webhookRequest(ctx, d, b)
	default:
		err = fmt.Errorf("unknown destination kind %q", d.Kind)
	}
	if err != nil {
		return &conversation.JobError{Err: fmt.Errorf("analytics batch %s: %w", b.ID, err), Permanent: true}
	}
	logger := s.cfg.Logger.With("tenant", j.TenantID, "destination", d.ID, "kind", d.Kind, "batch", b.ID, "attempt", j.Attempt)
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, webhook.ErrNotPublic) {
			logger.Error("analytics batch refused: the destination's address is not public", "err", err)
			return &conversation.JobError{Err: err, Permanent: true}
		}
		return fmt.Errorf("send analytics batch %s: %w", b.ID, err)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err = webhook.AnswerError(resp, s.cfg.Now(), fmt.Errorf("analytics batch %s: %s answered %d: %s", b.ID, d.Kind, resp.StatusCode, excerpt))
	if je, ok := errors.AsType[*conversation.JobError](err); ok && je.Permanent {
		logger.Error("analytics batch refused", "status", resp.StatusCode, "body", string(excerpt))
	} else if err == nil {
		logger.Info("analytics batch sent", "events", len(b.Events), "status", resp.StatusCode)
	}
	return err
}

// webhookRequest is the POST of a batch to a webhook destination: the
// body is a webhook.Event of type WebhookEventType whose data is the
// events, signed and headed like the notify webhooks (webhook.Sign).
func (s *Service) webhookRequest(ctx context.Context, d reports.Destination, b Batch) (*http.Request, error) {
	data, err := json.Marshal(b.Events)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(webhook.Event{ID: b.ID, Type: WebhookEventType, TenantID: d.TenantID, At: b.Created, Data: data})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Conversa-Analytics/1")
	req.Header.Set(webhook.EventHeader, WebhookEventType)
	req.Header.Set(webhook.DeliveryHeader, b.ID)
	req.Header.Set(webhook.SignatureHeader, webhook.Sign([]byte(d.Secret), s.cfg.Now(), body))
	return req, nil
}

package reports

import (
	"context"
	"slices"
	"strconv"
	"time"

	"conversa/conversation"
)

// Kinds of analytics destination.
const (
	// DestinationSegment is Segment's HTTP Tracking API, or any service
	// that speaks it (RudderStack, Jitsu, ...): URL is the API's base,
	// such as https://api.segment.io, Secret the write key.
	DestinationSegment = "segment"
	// DestinationWebhook is a URL that receives the batches as JSON,
	// signed with Secret like the notify webhooks.
	DestinationWebhook = "webhook"
)

// DestinationKinds are the kinds, in the order they are documented.
var DestinationKinds = []string{DestinationSegment, DestinationWebhook}

// EventNames are the names of the events the pipeline exports, in the
// order they are documented: what a destination may filter on.
var EventNames = []string{EventConversationOpened, EventMessageReceived, EventMessageSent, EventMessageFailed,
	EventIntentRecognized, EventMessageUnrecognized, EventHandedOff, EventAssigned, EventConversationClosed, EventCaseFiled}

// Destination is where a tenant's analytics events are exported.
type Destination struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Kind     string `json:"kind"`
	URL      string `json:"url"`
	// Secret is the Segment write key or the webhook signing secret. It
	// is shown when the destination is created and when it is rotated,
	// never again. Stores keep it sealed (DestinationSecretPurpose).
	Secret string `json:"secret,omitempty"`
	// Events are the event names sent; empty is all.
	Events    []string  `json:"events,omitempty"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Wants reports whether the destination takes events named name.
func (d Destination) Wants(name string) bool {
	return !d.Disabled && (len(d.Events) == 0 || slices.Contains(d.Events, name))
}

// DestinationSecretPurpose is what a store binds a destination's sealed
// secret to (conversation.Sealer.SealValue): its tenant, so that a secret
// copied to another tenant's destination does not open.
func DestinationSecretPurpose(tenantID int64) string {
	return "analytics destination secret of tenant " + strconv.FormatInt(tenantID, 10)
}

// DestinationStore keeps the tenants' analytics destinations.
// storage/sqlite and storage/postgres implement it, proven by
// reportstest.TestDestinations. Every method is safe for concurrent use
// and scoped to one tenant: another tenant's ids are ENOTFOUND.
type DestinationStore interface {
	// CreateDestination stores d and returns it with ID, CreatedAt and
	// UpdatedAt set. Returns ENOTFOUND when the tenant does not exist.
	CreateDestination(ctx context.Context, d Destination) (Destination, error)
	// Destination returns ENOTFOUND unless id belongs to tenantID.
	Destination(ctx context.Context, tenantID, id int64) (Destination, error)
	// ListDestinations returns the tenant's destinations by ID.
	ListDestinations(ctx context.Context, tenantID int64) ([]Destination, error)
	// UpdateDestination stores the URL, events and disabled flag of d
	// (the kind and the secret stay). Returns ENOTFOUND unless d.ID
	// belongs to d.TenantID.
	UpdateDestination(ctx context.Context, d Destination) (Destination, error)
	// SetDestinationSecret replaces a destination's secret. Returns
	// ENOTFOUND unless id belongs to tenantID.
	SetDestinationSecret(ctx context.Context, tenantID, id int64, secret string) (Destination, error)
	// DeleteDestination returns ENOTFOUND unless id belongs to tenantID.
	DeleteDestination(ctx context.Context, tenantID, id int64) error
	// EnqueueExports enqueues, in one transaction, each of jobs whose Ref
	// is an enabled destination of tenantID (the others are skipped), and
	// returns how many it enqueued. A job whose Key an unfinished job of
	// the tenant has already is not enqueued again. Each job's RunAt is
	// now and its MaxAttempts must be positive.
	EnqueueExports(ctx context.Context, tenantID int64, jobs []conversation.Job) (int, error)
}

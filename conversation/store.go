package conversation

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
)

// Store is the durable source of truth. storage/postgres and storage/sqlite
// implement it, and conversationtest.TestStore proves both.
//
// Every method that takes a tenantID reads or writes only that tenant's
// records: an id that belongs to another tenant is ENOTFOUND. All methods
// are safe for concurrent use, also from several processes sharing one
// database.
type Store interface {
	// CreateTenant stores a new tenant, validated by the caller, and returns
	// it with its id. Returns ECONFLICT if the slug is taken.
	CreateTenant(ctx context.Context, t Tenant) (Tenant, error)
	// UpdateTenant stores the name, language, region and time zone of t.
	// Returns ENOTFOUND if t.ID does not exist.
	UpdateTenant(ctx context.Context, t Tenant) (Tenant, error)
	// Tenant returns ENOTFOUND if the tenant does not exist.
	Tenant(ctx context.Context, id int64) (Tenant, error)
	// TenantBySlug returns ENOTFOUND if no tenant has the slug.
	TenantBySlug(ctx context.Context, slug string) (Tenant, error)
	// ListTenants returns all tenants by id.
	ListTenants(ctx context.Context) ([]Tenant, error)

	// CreateChannelAccount stores a new account of a.TenantID. Returns
	// ECONFLICT if another account has the same kind and key, ENOTFOUND if
	// the tenant does not exist.
	CreateChannelAccount(ctx context.Context, a ChannelAccount) (ChannelAccount, error)
	// UpdateChannelAccount stores the name, settings and disabled flag of a.
	// Returns ENOTFOUND unless a.ID belongs to a.TenantID.
	UpdateChannelAccount(ctx context.Context, a ChannelAccount) (ChannelAccount, error)
	// ChannelAccount returns ENOTFOUND unless id belongs to tenantID.
	ChannelAccount(ctx context.Context, tenantID, id int64) (ChannelAccount, error)
	// ChannelAccountByKey finds the account, of any tenant, that a message
	// arrived at. Returns ENOTFOUND if there is none.
	ChannelAccountByKey(ctx context.Context, kind ChannelKind, key string) (ChannelAccount, error)
	// ListChannelAccounts returns the tenant's accounts by id.
	ListChannelAccounts(ctx context.Context, tenantID int64) ([]ChannelAccount, error)

	// CreateAPIKey stores k. Returns ECONFLICT if k.ID is taken.
	CreateAPIKey(ctx context.Context, k APIKey) (APIKey, error)
	// APIKey returns the key with the public id, of any tenant, revoked or
	// not. Returns ENOTFOUND if there is none.
	APIKey(ctx context.Context, id string) (APIKey, error)
	// ListAPIKeys returns the tenant's keys, newest first.
	ListAPIKeys(ctx context.Context, tenantID int64) ([]APIKey, error)
	// RevokeAPIKey marks the key revoked. Returns ENOTFOUND unless it
	// belongs to tenantID.
	RevokeAPIKey(ctx context.Context, tenantID int64, id string) error

	// Ingest stores a batch of inbound messages in one transaction. For each
	// request, in order, it drops a duplicate (same account and ProviderID),
	// finds or creates the contact by identity (a phone number found on
	// another phone channel names the same contact), finds the contact's
	// open conversation or opens one in StateBot, appends the message with
	// the next Seq, and enqueues a JobRoute job for it. It returns one result
	// per request, in order. A request that fails has its Err set and leaves
	// nothing behind; it does not fail the others. The returned error is for
	// failures of the whole batch, in which case nothing was stored.
	Ingest(ctx context.Context, reqs []IngestRequest) ([]IngestResult, error)

	// Send stores outbound messages with status queued (or their earlier
	// copies, for a repeated idempotency key) and one JobDeliver job each, due
	// at SendAt, all in one transaction: all are stored or none. Returns
	// ENOTFOUND if a conversation or account is not the tenant's, ECONFLICT if
	// a conversation is closed, EINVALID if the contact has no identity on
	// the account's channel.
	Send(ctx context.Context, outs []Outbound) ([]SendResult, error)

	// Contact returns ENOTFOUND unless id belongs to tenantID.
	Contact(ctx context.Context, tenantID, id int64) (Contact, error)
	// ContactByIdentity returns ENOTFOUND if no contact of the tenant has
	// the identity.
	ContactByIdentity(ctx context.Context, tenantID int64, id Identity) (Contact, error)
	// ListContacts returns the tenant's contacts, newest first.
	ListContacts(ctx context.Context, tenantID int64, f ContactFilter) ([]Contact, error)
	// UpdateContact applies u. Returns ENOTFOUND unless id belongs to
	// tenantID.
	UpdateContact(ctx context.Context, tenantID, id int64, u ContactUpdate) (Contact, error)

	// Conversation returns ENOTFOUND unless id belongs to tenantID.
	Conversation(ctx context.Context, tenantID, id int64) (Conversation, error)
	// OpenConversation returns the contact's open conversation, or opens
	// one in StateBot on the account (its Channel and ChannelAccountID) for
	// a message the tenant starts, such as a notification; created says
	// which. A contact keeps at most one open conversation also when
	// several callers, or an ingest, open one at once: all get the same.
	// Returns ENOTFOUND unless the contact and the account belong to
	// tenantID.
	OpenConversation(ctx context.Context, tenantID, contactID, accountID int64) (c Conversation, created bool, err error)
	// ListConversations returns the tenant's conversations, most recently
	// active first.
	ListConversations(ctx context.Context, tenantID int64, f ConversationFilter) ([]Conversation, error)
	// TransitionConversation moves the conversation from t.From to t.To.
	// The caller has checked that the move is allowed. Returns ENOTFOUND
	// unless id belongs to tenantID, ECONFLICT if its state is no longer
	// t.From or, when reopening, if the contact has another open
	// conversation.
	TransitionConversation(ctx context.Context, tenantID, id int64, t Transition) (Conversation, error)

	// Message returns ENOTFOUND unless id belongs to tenantID.
	Message(ctx context.Context, tenantID, id int64) (Message, error)
	// ListMessages returns the tenant's messages matching f, in
	// (conversation, seq) order.
	ListMessages(ctx context.Context, tenantID int64, f MessageFilter) ([]Message, error)
	// SearchMessages returns the tenant's messages whose text contains all
	// words of f.Query, ignoring case and accents, newest first.
	SearchMessages(ctx context.Context, tenantID int64, f SearchFilter) ([]Message, error)
	// UpdateMessageStatus moves an outbound message to u.Status if its
	// current status allows it (see Status.CanBecome). It reports whether
	// the message changed. Returns ENOTFOUND if no message of u.TenantID
	// matches.
	//
	// When the change is one StatusChangedJob reports and the tenant has
	// someone to tell (with storage/*: an enabled webhook endpoint), the
	// same transaction enqueues that job (unless its key is already
	// enqueued), so the change and its report exist together or not at
	// all.
	UpdateMessageStatus(ctx context.Context, u StatusUpdate) (Message, bool, error)

	// EditMessage replaces the parts of the contact's inbound message with
	// ProviderID on the account, as the contact edited it at at: its text
	// becomes the new one (search included), Meta gains edited_at and, on
	// the first edit, original (the first text). Returns ENOTFOUND when
	// the tenant's account has no such inbound message.
	EditMessage(ctx context.Context, tenantID, accountID int64, providerID string, parts []Part, at time.Time) (Message, error)

	// AnnotateMessage records the bot's analysis of a message, replacing
	// any earlier one. Returns ENOTFOUND when the message does not exist
	// for the tenant.
	AnnotateMessage(ctx context.Context, tenantID, messageID int64, a Analysis) error

	// LastInbound returns when the contact last wrote to the account, the
	// zero time if never.
	LastInbound(ctx context.Context, tenantID, contactID, accountID int64) (time.Time, error)

	// RecordConsent appends c to the consent ledger and returns it with its
	// ID, and At set to now if it was zero. A change with the ProviderID of
	// one recorded before on the account is that one: it is returned, and
	// nothing is added. Returns ENOTFOUND unless c.AccountID belongs to
	// c.TenantID.
	RecordConsent(ctx context.Context, c ConsentChange) (ConsentChange, error)
	// OptedOut reports whether the latest consent change of the tenant for
	// the address on the account that covers every purpose (Purpose "") is
	// an opt-out. Changes about one purpose do not count.
	OptedOut(ctx context.Context, tenantID, accountID int64, address string) (bool, error)
	// OptedOutOf reports whether the latest consent change of the tenant
	// for the address on the account and exactly that purpose is an
	// opt-out; purpose "" is OptedOut. A recipient opted out of every
	// purpose is opted out of each: callers that send for a purpose check
	// both.
	OptedOutOf(ctx context.Context, tenantID, accountID int64, address, purpose string) (bool, error)
	// ListConsent returns the tenant's consent changes that match f, newest
	// first.
	ListConsent(ctx context.Context, tenantID int64, f ConsentFilter) ([]ConsentChange, error)

	// EnqueueJob stores a job due at j.RunAt. If j.Key is set and an
	// unfinished job of the tenant has the same key, it returns that job
	// instead.
	EnqueueJob(ctx context.Context, j Job) (Job, error)
	// ClaimJobs leases up to limit due jobs of the given kinds, oldest due
	// first: pending jobs, and running jobs whose lease expired. Each
	// claimed job has its Attempt increased. A job is leased by one caller at
	// a time, across processes.
	ClaimJobs(ctx context.Context, kinds []string, limit int, lease time.Duration) ([]Job, error)
	// CompleteJob removes a job the caller leased. Returns ECONFLICT if the
	// lease was lost (expired and taken by another worker).
	CompleteJob(ctx context.Context, j Job) error
	// RetryJob makes a leased job pending again, due at runAt, recording
	// reason. Returns ECONFLICT if the lease was lost.
	RetryJob(ctx context.Context, j Job, runAt time.Time, reason string) error
	// FailJob marks a leased job failed for good, recording reason. Returns
	// ECONFLICT if the lease was lost.
	FailJob(ctx context.Context, j Job, reason string) error
	// Job returns ENOTFOUND unless id belongs to tenantID. Completed jobs
	// are removed and not found.
	Job(ctx context.Context, tenantID, id int64) (Job, error)
	// JobCounts returns the number of unfinished jobs by kind and state.
	JobCounts(ctx context.Context) ([]JobCount, error)

	// InitSetting stores value under name unless a value is already stored,
	// and returns the stored value. Nodes use it to agree on generated
	// secrets.
	InitSetting(ctx context.Context, name, value string) (string, error)
	// Setting returns the value stored under name, ENOTFOUND if none.
	Setting(ctx context.Context, name string) (string, error)
	// PutSetting stores value under name, replacing any. Channels keep
	// their positions in it, such as the last email fetched from a mailbox.
	PutSetting(ctx context.Context, name, value string) error

	// Ping checks that the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// IngestRequest is an inbound message whose account and tenant are known.
type IngestRequest struct {
	TenantID  int64
	AccountID int64
	Inbound   Inbound
}

// IngestResult is the outcome of one IngestRequest.
type IngestResult struct {
	// Message is the stored message; for a duplicate, only its ID is set.
	Message      Message
	Conversation Conversation
	Duplicate    bool
	// Edited reports that the inbound was an edit of Message, which now
	// holds the new parts (Inbound.Edits); nothing was added.
	Edited bool
	// NewContact and NewConversation report what the ingest created.
	NewContact      bool
	NewConversation bool
	Err             error
}

// SendResult is the outcome of one Outbound.
type SendResult struct {
	Message Message
	// Duplicate is true when the idempotency key matched an earlier send.
	Duplicate bool
}

// ContactFilter selects contacts. BeforeID pages: pass the last id seen.
type ContactFilter struct {
	BeforeID int64
	Limit    int
}

// ContactUpdate changes a contact. Nil fields are left alone; Attributes are
// merged, and an attribute set to "" is removed.
type ContactUpdate struct {
	Name       *string
	Language   *string
	Attributes map[string]string
}

// ConversationFilter selects conversations. Zero fields match all.
// Conversations are ordered by last activity, newest first; Before pages.
type ConversationFilter struct {
	State     State
	ContactID int64
	Before    *ConversationCursor
	Limit     int
}

// ConversationCursor is the position of a conversation in activity order.
type ConversationCursor struct {
	LastMessageAt time.Time `json:"last_message_at"`
	ID            int64     `json:"id"`
}

// Transition is a change of a conversation's state.
type Transition struct {
	From State
	To   State
	// AssigneeID is the agent for StateAgent; it is cleared in other states.
	AssigneeID int64
}

// MessagePos is a position in the (conversation, seq) order of messages.
type MessagePos struct {
	ConversationID int64 `json:"conversation_id"`
	Seq            int64 `json:"seq"`
}

// MessageFilter selects messages. Zero fields match all.
type MessageFilter struct {
	ConversationID int64
	ContactID      int64
	AccountID      int64
	// After and Before bound the (conversation, seq) order, exclusive.
	After  *MessagePos
	Before *MessagePos
	// Newest returns the last Limit messages instead of the first, still
	// in ascending order.
	Newest bool
	// Delivered leaves out outbound messages that are queued or failed:
	// what a contact may have seen.
	Delivered bool
	Limit     int
}

// SearchFilter is a full-text search. BeforeID pages: pass the last id seen.
type SearchFilter struct {
	Query          string
	ConversationID int64
	BeforeID       int64
	Limit          int
}

// ConsentFilter selects consent changes. Zero fields match all; BeforeID
// pages: pass the last id seen.
type ConsentFilter struct {
	ContactID int64
	AccountID int64
	Address   string
	BeforeID  int64
	Limit     int
}

// StatusUpdate reports a delivery status. It names the message by
// MessageID, or by AccountID and ProviderID for provider callbacks.
type StatusUpdate struct {
	TenantID   int64
	MessageID  int64
	AccountID  int64
	ProviderID string
	Status     Status
	// SetProviderID records the provider's id of the message, when it is
	// first known (on "sent").
	SetProviderID string
	Failure       *Failure
}

// Job kinds of the core.
const (
	// JobRoute routes an ingested message: to the bot or to agents.
	JobRoute = "route"
	// JobDeliver sends an outbound message through its channel.
	JobDeliver = "deliver"
	// JobStatusChanged tells the tenant's systems that an outbound
	// message's delivery status changed (Deps.StatusChanged): the outbox
	// entry that UpdateMessageStatus writes with the change.
	JobStatusChanged = "status_changed"
)

// ReportedStatus reports whether an outbound message's change to st is
// told to the tenant's systems: delivered, read and failed are.
func ReportedStatus(st Status) bool {
	return st == StatusDelivered || st == StatusRead || st == StatusFailed
}

// StatusChangedJob returns the JobStatusChanged job that records the
// change of m, an outbound message whose status just changed, to
// delivered, read or failed: Ref the message, Key one per message and
// status, Payload m as JSON (what the status was when it changed). ok is
// false for other changes, which tell nobody.
func StatusChangedJob(m Message) (j Job, ok bool) {
	if m.Direction != DirectionOut || !ReportedStatus(m.Status) {
		return Job{}, false
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return Job{}, false
	}
	return Job{TenantID: m.TenantID, Kind: JobStatusChanged, Ref: m.ID, Key: "status:" + strconv.FormatInt(m.ID, 10) + ":" + string(m.Status),
		Payload: payload, MaxAttempts: DeliverMaxAttempts}, true
}

// JobState is the state of a durable job.
type JobState string

// Job states. Completed jobs are removed.
const (
	JobPending JobState = "pending"
	JobRunning JobState = "running"
	JobFailed  JobState = "failed"
)

// Job is a durable unit of work, run at least once by some node.
type Job struct {
	ID       int64
	TenantID int64
	Kind     string
	// Ref is the record the job is about, such as a message id.
	Ref int64
	// Key, when set, keeps one unfinished job per tenant and key.
	Key     string
	Payload []byte
	State   JobState
	RunAt   time.Time
	// Attempt counts claims, this one included; it also fences the lease.
	Attempt     int
	MaxAttempts int
	LeasedUntil time.Time
	LastError   string
	CreatedAt   time.Time
}

// JobCount is the number of unfinished jobs of one kind in one state.
type JobCount struct {
	Kind  string
	State JobState
	Count int
}

// Pagination limits.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// ClampLimit returns n bounded to [1, MaxLimit], DefaultLimit for n <= 0.
func ClampLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultLimit
	case n > MaxLimit:
		return MaxLimit
	}
	return n
}

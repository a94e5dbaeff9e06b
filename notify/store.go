package notify

import (
	"context"
	"strconv"
	"time"

	"conversa/conversation"
)

// Status is where a notification stands.
type Status string

// Notification statuses. A notification is scheduled until its job decides
// it once: sent (handed to a channel: the message's own status tells its
// delivery), undeliverable (no channel could take it; Skipped says why for
// each), or suppressed (a frequency cap forbade it; it is not sent later).
const (
	StatusScheduled     Status = "scheduled"
	StatusSent          Status = "sent"
	StatusUndeliverable Status = "undeliverable"
	StatusSuppressed    Status = "suppressed"
)

// Notification is a message to a contact by purpose and data, whose
// channel and time Conversa picks.
type Notification struct {
	ID        int64  `json:"id"`
	TenantID  int64  `json:"tenant_id"`
	ContactID int64  `json:"contact_id"`
	Purpose   string `json:"purpose"`
	// Data are the template's variables.
	Data map[string]string `json:"data,omitempty"`
	// IdempotencyKey is the caller's key, unique per tenant when set.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Channels, when set, replace the channel chain, in order.
	Channels  []conversation.ChannelKind `json:"channels,omitempty"`
	SendAfter time.Time                  `json:"send_after,omitzero"`
	// Fingerprint is a digest of the request, to tell a retry from a
	// different request under the same idempotency key.
	Fingerprint string `json:"-"`

	Status Status `json:"status"`
	// Due is when the notification's job is next due: the first allowed
	// time, later the end of the contact's quiet hours.
	Due time.Time `json:"due"`
	// TimeZone is the contact's time zone the notification was timed in.
	TimeZone string `json:"time_zone,omitempty"`
	// Channel, AccountID, ConversationID and MessageID say where a sent
	// notification went.
	Channel        conversation.ChannelKind `json:"channel,omitempty"`
	AccountID      int64                    `json:"account_id,omitempty"`
	ConversationID int64                    `json:"conversation_id,omitempty"`
	MessageID      int64                    `json:"message_id,omitempty"`
	// Skipped are the channels passed over, with why, in the order tried.
	Skipped []Skip `json:"skipped,omitempty"`
	// Note says why the notification was rescheduled or suppressed.
	Note      string    `json:"note,omitempty"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Skip is a channel a notification did not go through, and why.
type Skip struct {
	Channel conversation.ChannelKind `json:"channel"`
	// AccountID is the account considered, when one was.
	AccountID int64 `json:"account_id,omitempty"`
	// Code is one of the Skip codes; Reason says it for people.
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// Skip codes.
const (
	SkipNoIdentity     = "no_identity"       // the contact has no address on the channel
	SkipNoAccount      = "no_account"        // the tenant has no enabled account of the channel
	SkipOptedOut       = "opted_out"         // the contact opted out of the account's messages
	SkipPurposeOptOut  = "opted_out_purpose" // the contact opted out of this purpose on the account
	SkipWhatsAppWindow = "whatsapp_window"   // outside 24 h and no approved template
	SkipNoVariant      = "no_variant"        // the template has no variant for the channel
	SkipRender         = "render_failed"     // the data does not render for the channel
	SkipRefused        = "send_refused"      // the conversation store refused the message
)

// JobNotify is the kind of a notification's durable job.
const JobNotify = "notify"

// JobNotifyBatch is the kind of the one durable job of a batch of
// notifications (Service.NotifyBatch): Ref is the batch's first
// notification, Payload the JSON array of the batch's notification ids.
const JobNotifyBatch = "notify_batch"

// BatchJobKey is the key of the job of the batch whose first notification
// is id.
func BatchJobKey(id int64) string { return "notify_batch:" + strconv.FormatInt(id, 10) }

// Created is what CreateNotifications did with one notification: stored it
// (Created true), or found the tenant's notification with its idempotency
// key (Created false).
type Created struct {
	Notification Notification
	Created      bool
}

// ContactAccount names a contact's conversation through one account.
type ContactAccount struct {
	ContactID int64
	AccountID int64
}

// JobKey is the key of a notification's job due at due: one per
// notification and time, so that a job that reschedules itself for later
// enqueues one new job however often it runs.
func JobKey(id int64, due time.Time) string {
	return "notify:" + strconv.FormatInt(id, 10) + ":" + strconv.FormatInt(due.Unix(), 10)
}

// MessageKey is the idempotency key of a notification's message: a job
// that runs twice sends once.
func MessageKey(id int64) string { return "notify:" + strconv.FormatInt(id, 10) }

// Filter selects notifications; zero fields select all. Lists are newest
// (highest ID) first; BeforeID pages.
type Filter struct {
	ContactID int64
	Status    Status
	Purpose   string
	BeforeID  int64
	Limit     int
}

// Store keeps notifications and the tenants' notification policies.
// storage/sqlite and storage/postgres implement it, proven by
// notifytest.TestStore. Every method is safe for concurrent use, also
// from several processes, and scoped to one tenant: another tenant's ids
// are ENOTFOUND.
type Store interface {
	// CreateNotification stores n in status scheduled, and in the same
	// transaction its job: kind JobNotify, Ref its ID, Key JobKey(ID, Due),
	// due at n.Due. It returns n with ID, CreatedAt and UpdatedAt set, and
	// created true. When the tenant has a notification with the same
	// non-empty IdempotencyKey it stores nothing and returns that one with
	// created false, also under concurrency. Returns ENOTFOUND when the
	// tenant does not exist.
	CreateNotification(ctx context.Context, n Notification) (Notification, bool, error)
	// Notification returns ENOTFOUND unless id belongs to tenantID.
	Notification(ctx context.Context, tenantID, id int64) (Notification, error)
	// ListNotifications returns the tenant's notifications that match f,
	// newest first, at most conversation.ClampLimit(f.Limit).
	ListNotifications(ctx context.Context, tenantID int64, f Filter) ([]Notification, error)
	// RescheduleNotification moves a scheduled notification's Due to due
	// with note, and in the same transaction enqueues its job keyed
	// JobKey(id, due), unless an unfinished job has that key. Returns
	// ECONFLICT when the notification is no longer scheduled, ENOTFOUND
	// unless it belongs to tenantID.
	RescheduleNotification(ctx context.Context, tenantID, id int64, due time.Time, note string) (Notification, error)
	// FinishNotification records the outcome of a scheduled notification:
	// n.Status (sent, undeliverable or suppressed), Channel, AccountID,
	// ConversationID, MessageID, Skipped, Note and SentAt. Only one
	// outcome is ever recorded: returns ECONFLICT, and the stored
	// notification, when it is no longer scheduled; ENOTFOUND unless it
	// belongs to n.TenantID.
	FinishNotification(ctx context.Context, n Notification) (Notification, error)
	// CountSent returns how many of the contact's notifications of the
	// purpose were sent after since.
	CountSent(ctx context.Context, tenantID, contactID int64, purpose string, since time.Time) (int, error)

	// CreateNotifications stores notifications of one tenant like
	// CreateNotification, all in one transaction, but enqueues one job for
	// all those it creates instead of one each: kind JobNotifyBatch, Ref
	// the first created ID, Key BatchJobKey(Ref), Payload the JSON array
	// of the created IDs, due at the earliest Due among them. Result i is
	// ns[i]'s. A notification whose IdempotencyKey the tenant (or an
	// earlier one of ns) already has is not stored: its result is that
	// one, created false. Every ns[i].TenantID must be tenantID. Returns
	// ENOTFOUND when the tenant does not exist.
	CreateNotifications(ctx context.Context, tenantID int64, ns []Notification) ([]Created, error)
	// Notifications returns the tenant's notifications among ids, in no
	// particular order; ids of other tenants or of none are left out.
	Notifications(ctx context.Context, tenantID int64, ids []int64) ([]Notification, error)
	// FinishNotifications records the outcomes of scheduled notifications
	// of one tenant, like FinishNotification, in one transaction. It
	// returns the notifications it recorded; those no longer scheduled,
	// or not the tenant's, are left out and unchanged.
	FinishNotifications(ctx context.Context, tenantID int64, ns []Notification) ([]Notification, error)
	// ContactsByID returns the tenant's contacts among ids with their
	// identities, in no particular order; other ids are left out.
	ContactsByID(ctx context.Context, tenantID int64, ids []int64) ([]conversation.Contact, error)
	// LastInbounds returns when each of the contacts last wrote to each
	// account of the tenant (conversation.Store.LastInbound for many):
	// ContactAccount pairs that never wrote are absent.
	LastInbounds(ctx context.Context, tenantID int64, contactIDs []int64) (map[ContactAccount]time.Time, error)
	// OptOutsOf returns, among the given addresses, those opted out in
	// the consent ledger now (conversation.Store.OptedOutOf true): of
	// every purpose (Purpose "") or of purpose.
	OptOutsOf(ctx context.Context, tenantID int64, addresses []string, purpose string) ([]OptOut, error)
	// OpenConversations is conversation.Store.OpenConversation for many
	// contacts: result i is the open conversation of keys[i].ContactID,
	// opened on keys[i].AccountID when it had none. Returns ENOTFOUND when
	// a contact or account is not the tenant's.
	OpenConversations(ctx context.Context, tenantID int64, keys []ContactAccount) ([]conversation.Conversation, error)

	// Policy returns the tenant's stored policy. Returns ENOTFOUND when it
	// has none (or the tenant does not exist).
	Policy(ctx context.Context, tenantID int64) (Policy, error)
	// PutPolicy stores the tenant's policy, validated by the caller,
	// replacing any. Returns ENOTFOUND when the tenant does not exist.
	PutPolicy(ctx context.Context, tenantID int64, p Policy) error
}

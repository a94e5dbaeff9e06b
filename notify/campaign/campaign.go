// Package campaign sends one notification purpose to many contacts: a
// segment of the tenant's contacts or a CSV upload, planned in bulk by the
// notification service's rules (channel, consent, quiet hours), then
// released as notifications at the senders' pace by a durable job that
// pause, resume and cancel steer through the store, so they survive a
// restart. Its report counts what became of every recipient.
package campaign

import (
	"context"
	"strconv"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

// Status is where a campaign stands.
type Status string

// Campaign statuses. A campaign is planning while its audience is read and
// planned, running while its recipients are released, paused or cancelled
// by the tenant, and done when every recipient was released.
const (
	StatusPlanning  Status = "planning"
	StatusRunning   Status = "running"
	StatusPaused    Status = "paused"
	StatusCancelled Status = "cancelled"
	StatusDone      Status = "done"
)

// Sources of an audience.
const (
	SourceSegment = "segment"
	SourceCSV     = "csv"
)

// Campaign is one purpose's notification to an audience.
type Campaign struct {
	ID       int64             `json:"id"`
	TenantID int64             `json:"tenant_id"`
	Name     string            `json:"name"`
	Purpose  string            `json:"purpose"`
	Data     map[string]string `json:"data,omitempty"`
	// Source is SourceSegment or SourceCSV.
	Source   string   `json:"source"`
	Segment  *Segment `json:"segment,omitempty"`
	Throttle Throttle `json:"throttle"`
	Status   Status   `json:"status"`
	// Import reports the CSV upload of a campaign from a CSV.
	Import    *ImportReport `json:"import,omitempty"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
}

// Segment selects the tenant's contacts; every set field must match.
type Segment struct {
	// Attributes must all be equal to the contact's.
	Attributes map[string]string `json:"attributes,omitempty"`
	// Channels: the contact has an address on at least one of them.
	Channels []conversation.ChannelKind `json:"channels,omitempty"`
	// Language is the contact's language.
	Language string `json:"language,omitempty"`
	// SeenAfter and SeenBefore bound the last message of the contact's
	// conversations.
	SeenAfter  time.Time `json:"seen_after,omitzero"`
	SeenBefore time.Time `json:"seen_before,omitzero"`
	// OptedIn leaves out, instead of reporting as opted out, the contacts
	// who opted out of the purpose on every channel they have.
	OptedIn bool `json:"opted_in,omitempty"`
}

// Throttle paces the release of a campaign's notifications.
type Throttle struct {
	// PerSecond is how many recipients are released per second, in all.
	PerSecond int `json:"per_second"`
	// PerChannel lowers it for the recipients planned on a channel, to
	// keep to that sender's limit.
	PerChannel map[conversation.ChannelKind]int `json:"per_channel,omitempty"`
}

// Recipient states in the store. What became of a released (queued)
// recipient is read from its notification and message: see Recipient.
const (
	StatePlanned   = "planned"   // waiting to be released
	StateSkipped   = "skipped"   // planning found no channel: Code, Reason
	StateQueued    = "queued"    // released: a notification was scheduled
	StateError     = "error"     // the notification was refused: Reason
	StateCancelled = "cancelled" // the campaign was cancelled first
)

// Recipient is one contact of a campaign.
type Recipient struct {
	ID         int64                    `json:"id"`
	CampaignID int64                    `json:"campaign_id"`
	TenantID   int64                    `json:"tenant_id"`
	ContactID  int64                    `json:"contact_id"`
	Channel    conversation.ChannelKind `json:"channel,omitempty"`
	AccountID  int64                    `json:"account_id,omitempty"`
	Address    string                   `json:"address,omitempty"`
	// Due is the first allowed time planning found.
	Due   time.Time `json:"due"`
	State string    `json:"state"`
	// Code and Reason say why a recipient was skipped or refused.
	Code           string `json:"code,omitempty"`
	Reason         string `json:"reason,omitempty"`
	NotificationID int64  `json:"notification_id,omitempty"`

	// Outcome, read with the recipient: the notification's status, its
	// message's status and failure, and whether the contact wrote after
	// the send.
	NotificationStatus notify.Status       `json:"notification_status,omitempty"`
	MessageStatus      conversation.Status `json:"message_status,omitempty"`
	FailureCode        string              `json:"failure_code,omitempty"`
	OptedOut           bool                `json:"opted_out,omitempty"`
	Replied            bool                `json:"replied,omitempty"`
	// Status sums it up: planned, skipped, cancelled, error, queued,
	// sent, delivered, read, failed, undeliverable, suppressed or
	// opted_out.
	Status string `json:"status"`
}

// summarize sets Status from the state and the outcome.
func (r *Recipient) summarize() {
	switch {
	case r.State != StateQueued:
		r.Status = r.State
		if r.State == StateSkipped && (r.Code == notify.SkipOptedOut || r.Code == notify.SkipPurposeOptOut) {
			r.Status = "opted_out"
		}
	case r.NotificationStatus == notify.StatusUndeliverable && r.OptedOut:
		r.Status = "opted_out"
	case r.NotificationStatus == notify.StatusSent && r.MessageStatus != "":
		r.Status = string(r.MessageStatus)
		if r.MessageStatus == conversation.StatusQueued {
			r.Status = "queued"
		}
	case r.NotificationStatus == notify.StatusUndeliverable || r.NotificationStatus == notify.StatusSuppressed:
		r.Status = string(r.NotificationStatus)
	default:
		r.Status = "queued"
	}
}

// Report counts what became of a campaign's recipients. Queued counts
// every released recipient; Sent those whose message reached the provider
// (and Delivered and Read those further on); Failed those whose message
// failed or who could not be notified, by error; OptedOut those left out
// by their consent; Replied those who wrote after the send.
type Report struct {
	CampaignID int64          `json:"campaign_id"`
	Status     Status         `json:"status"`
	Recipients int            `json:"recipients"`
	Planned    int            `json:"planned"`
	Queued     int            `json:"queued"`
	Sent       int            `json:"sent"`
	Delivered  int            `json:"delivered"`
	Read       int            `json:"read"`
	Failed     int            `json:"failed"`
	FailedBy   map[string]int `json:"failed_by,omitempty"`
	OptedOut   int            `json:"opted_out"`
	Suppressed int            `json:"suppressed"`
	Cancelled  int            `json:"cancelled"`
	Replied    int            `json:"replied"`
}

// add counts n recipients like r.
func (rep *Report) add(r Recipient, n int) {
	rep.Recipients += n
	fail := func(why string) {
		rep.Failed += n
		if rep.FailedBy == nil {
			rep.FailedBy = map[string]int{}
		}
		rep.FailedBy[why] += n
	}
	if r.Replied {
		rep.Replied += n
	}
	if r.State == StateQueued {
		rep.Queued += n
	}
	switch r.Status {
	case StatePlanned:
		rep.Planned += n
	case StateCancelled:
		rep.Cancelled += n
	case "opted_out":
		rep.OptedOut += n
	case StateSkipped:
		fail(r.Code)
	case StateError:
		fail("refused")
	case string(notify.StatusSuppressed):
		rep.Suppressed += n
	case string(notify.StatusUndeliverable):
		fail("undeliverable")
	case string(conversation.StatusFailed):
		fail(cmpOr(r.FailureCode, "failed"))
	case string(conversation.StatusRead):
		rep.Read += n
		fallthrough
	case string(conversation.StatusDelivered):
		rep.Delivered += n
		fallthrough
	case string(conversation.StatusSent):
		rep.Sent += n
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Outcome is a number of a campaign's recipients that share the fields of
// Recipient the report reads: State, Code, NotificationStatus,
// MessageStatus, FailureCode, OptedOut and Replied.
type Outcome struct {
	Recipient Recipient
	Count     int
}

// Release is a recipient released: its notification, or the reason it
// has none (State error).
type Release struct {
	RecipientID    int64
	NotificationID int64
	Reason         string
}

// RecipientFilter selects a campaign's recipients: by State when set,
// after AfterID, at most conversation.ClampLimit(Limit), by ID.
type RecipientFilter struct {
	State   string
	AfterID int64
	Limit   int
}

// ContactImport is one contact of a CSV upload: matched by any of its
// identities, else created.
type ContactImport struct {
	Name       string
	Language   string
	Attributes map[string]string
	Identities []conversation.Identity
}

// JobSend is the kind of a campaign's release job: Ref is the campaign.
const JobSend = "campaign"

// JobKey is the key of a campaign's release job due at t.
func JobKey(id int64, t time.Time) string {
	return "campaign:" + strconv.FormatInt(id, 10) + ":" + strconv.FormatInt(t.UnixMilli(), 10)
}

// JobPlan is the kind of a campaign's planning job: Ref is the campaign.
// CreateCampaign enqueues it with the campaign, due PlanLease later; it
// resumes a planning that stopped (its node crashed), and does nothing
// once the campaign left planning.
const JobPlan = "campaign_plan"

// PlanLease is how long a campaign's planning may go without storing
// anything (recipients, or a piece of its upload) before the planning job
// takes it to have stopped and resumes it.
const PlanLease = time.Minute

// PlanJobKey is the key of a campaign's planning job.
func PlanJobKey(id int64) string {
	return "campaign_plan:" + strconv.FormatInt(id, 10)
}

// NotificationKey is the idempotency key of a recipient's notification:
// a release that runs twice schedules it once.
func NotificationKey(campaignID, recipientID int64) string {
	return "campaign:" + strconv.FormatInt(campaignID, 10) + ":" + strconv.FormatInt(recipientID, 10)
}

// Store keeps campaigns and their recipients, and reads the contacts and
// consent a campaign plans with. storage/sqlite and storage/postgres
// implement it, proven by campaigntest.TestStore. Every method is safe
// for concurrent use, also from several processes, and scoped to one
// tenant: another tenant's ids are ENOTFOUND.
type Store interface {
	// CreateCampaign stores c in status planning and returns it with ID,
	// CreatedAt and UpdatedAt set. The same transaction enqueues its
	// planning job (kind JobPlan, Ref the campaign, Key PlanJobKey) due
	// PlanLease after CreatedAt. Returns ENOTFOUND when the tenant does
	// not exist.
	CreateCampaign(ctx context.Context, c Campaign) (Campaign, error)
	// Campaign returns ENOTFOUND unless id belongs to tenantID.
	Campaign(ctx context.Context, tenantID, id int64) (Campaign, error)
	// ListCampaigns returns the tenant's campaigns newest first, before
	// beforeID when it is not 0, at most conversation.ClampLimit(limit).
	ListCampaigns(ctx context.Context, tenantID, beforeID int64, limit int) ([]Campaign, error)
	// SetImport stores the import report of a campaign.
	SetImport(ctx context.Context, tenantID, id int64, r ImportReport) error
	// SetCampaignStatus moves a campaign from one of from to to. Moving to
	// running enqueues, in the same transaction, the release job (kind
	// JobSend, Ref the campaign, Key JobKey(id, runAt)) due at runAt;
	// moving to cancelled turns its planned recipients cancelled; moving
	// out of planning deletes its upload (PutUpload). Returns
	// ECONFLICT, with the stored campaign, when it is in none of from;
	// ENOTFOUND unless it belongs to tenantID.
	SetCampaignStatus(ctx context.Context, tenantID, id int64, from []Status, to Status, runAt time.Time) (Campaign, error)
	// AddRecipients stores recipients (State planned or skipped) of a
	// campaign; a contact already among its recipients is left as it
	// is, so planning the same contacts again adds nothing. It sets the
	// campaign's UpdatedAt (planning's heartbeat, see PlanLease). Returns
	// how many were added; ENOTFOUND unless the campaign is the tenant's.
	AddRecipients(ctx context.Context, tenantID, campaignID int64, rs []Recipient) (int, error)
	// LastRecipientContact returns the highest contact ID among the
	// campaign's recipients, 0 if none: where planning a segment, which
	// goes by contact ID, resumes.
	LastRecipientContact(ctx context.Context, tenantID, campaignID int64) (int64, error)
	// SetPlanCursor records the last line of the campaign's upload whose
	// contacts are planned, and sets its UpdatedAt. Returns ENOTFOUND
	// unless the campaign is the tenant's.
	SetPlanCursor(ctx context.Context, tenantID, campaignID int64, line int) error
	// PlanCursor returns what SetPlanCursor recorded, 0 if nothing.
	PlanCursor(ctx context.Context, tenantID, campaignID int64) (int, error)
	// PutUpload stores piece seq (0, 1, ...) of a campaign's CSV upload,
	// kept until the campaign leaves planning; an empty piece marks the
	// end. It sets the campaign's UpdatedAt. Returns ENOTFOUND unless the
	// campaign is the tenant's.
	PutUpload(ctx context.Context, tenantID, campaignID int64, seq int, piece []byte) error
	// UploadPiece returns piece seq of a campaign's upload. Returns
	// ENOTFOUND when there is none.
	UploadPiece(ctx context.Context, tenantID, campaignID int64, seq int) ([]byte, error)
	// NextRecipients returns at most limit planned recipients of the
	// campaign on channel, lowest ID first.
	NextRecipients(ctx context.Context, tenantID, campaignID int64, channel conversation.ChannelKind, limit int) ([]Recipient, error)
	// PlannedChannels returns the channels the campaign's planned
	// recipients are on.
	PlannedChannels(ctx context.Context, tenantID, campaignID int64) ([]conversation.ChannelKind, error)
	// ReleaseRecipient records a planned recipient's release: State
	// queued with its notification, or error with reason. A recipient
	// no longer planned is left as it is (false).
	ReleaseRecipient(ctx context.Context, tenantID, id int64, notificationID int64, reason string) (bool, error)
	// ReleaseRecipients records the releases of planned recipients of
	// one tenant, as ReleaseRecipient does, in one transaction. Recipients
	// no longer planned, or not the tenant's, are left as they are. It
	// returns how many it recorded.
	ReleaseRecipients(ctx context.Context, tenantID int64, rs []Release) (int, error)
	// ListRecipients returns a campaign's recipients with their outcome.
	ListRecipients(ctx context.Context, tenantID, campaignID int64, f RecipientFilter) ([]Recipient, error)
	// Outcomes counts a campaign's recipients by their outcome.
	Outcomes(ctx context.Context, tenantID, campaignID int64) ([]Outcome, error)

	// SegmentContacts returns the tenant's contacts, with identities, that
	// match seg (all of seg but OptedIn), with IDs above afterID, lowest
	// first, at most limit (1 to 5000).
	SegmentContacts(ctx context.Context, tenantID int64, seg Segment, afterID int64, limit int) ([]conversation.Contact, error)
	// ImportContacts matches each contact by the first of its identities
	// that the tenant knows, adding its other identities that no contact
	// has, its name and language where the stored contact has none, and
	// its attributes; or creates it. It returns the contacts, with
	// identities, in order.
	ImportContacts(ctx context.Context, tenantID int64, cs []ContactImport) ([]conversation.Contact, error)
	// OptOuts returns the tenant's addresses whose latest consent change
	// about every purpose, or about purpose, opted out.
	OptOuts(ctx context.Context, tenantID int64, purpose string) ([]notify.OptOut, error)
}

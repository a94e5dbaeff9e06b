// Package survey asks contacts satisfaction questions, CSAT (1 to 5) and
// NPS (0 to 10), as notifications, so that consent, quiet hours, the
// choice of channel and idempotency apply to them as to any other; takes
// the answer from the customer's reply on whatever channel they write on
// (a button's payload, a number, or a word such as "excelente") before
// the bot sees it; and reports CSAT, NPS and response rates by day and
// channel.
package survey

import (
	"context"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// Kind is the question a survey asks.
type Kind string

// Kinds of survey.
const (
	// KindCSAT asks for satisfaction from 1 (very poor) to 5 (excellent).
	KindCSAT Kind = "csat"
	// KindNPS asks how likely, from 0 to 10, the customer is to recommend
	// the tenant.
	KindNPS Kind = "nps"
)

// Valid says whether k is a known kind.
func (k Kind) Valid() bool { return k == KindCSAT || k == KindNPS }

// Range returns the lowest and highest score of the kind.
func (k Kind) Range() (lo, hi int) {
	if k == KindNPS {
		return 0, 10
	}
	return 1, 5
}

// Purposes of the built-in survey templates. A tenant may send a survey
// with a purpose of its own named after these: "survey_csat_<anything>"
// asks CSAT, "survey_nps_<anything>" NPS.
const (
	PurposeCSAT = "survey_csat"
	PurposeNPS  = "survey_nps"
)

// DefaultPurpose returns the built-in purpose of a kind.
func DefaultPurpose(k Kind) string {
	if k == KindNPS {
		return PurposeNPS
	}
	return PurposeCSAT
}

// KindOf returns the kind of survey a notification purpose asks, and
// whether it is a survey's purpose at all.
func KindOf(purpose string) (Kind, bool) {
	for _, k := range []Kind{KindCSAT, KindNPS} {
		p := DefaultPurpose(k)
		if purpose == p || strings.HasPrefix(purpose, p+"_") {
			return k, true
		}
	}
	return "", false
}

// DefaultTTL is how long a sent survey takes answers, unless its request
// says otherwise.
const DefaultTTL = 7 * 24 * time.Hour

// MaxTTL is the longest a survey may wait for its answer.
const MaxTTL = 90 * 24 * time.Hour

// Status is where a survey stands.
type Status string

// Survey statuses. A survey is scheduled until its notification's job
// decides it: sent (handed to a channel), or failed (undeliverable or
// suppressed: its notification says why). A sent survey becomes answered
// with the customer's first score, or expired once ExpiresAt passed
// without one (expired is never stored: it is read from the clock).
const (
	StatusScheduled Status = "scheduled"
	StatusSent      Status = "sent"
	StatusFailed    Status = "failed"
	StatusAnswered  Status = "answered"
	StatusExpired   Status = "expired"
)

// Subject prefixes: what a survey asks about.
const (
	SubjectConversation = "conversation:"
	SubjectCase         = "case:"
	SubjectCampaign     = "campaign:"
	SubjectTopic        = "topic:"
)

// Survey is one question to one contact, and its answer.
type Survey struct {
	ID        int64 `json:"id"`
	TenantID  int64 `json:"-"`
	ContactID int64 `json:"contact_id"`
	Kind      Kind  `json:"kind"`
	// Purpose is the notification's purpose: the template that asks.
	Purpose string `json:"purpose"`
	// Subject is what the survey asks about, when the sender said:
	// "conversation:<id>", "case:<id>", "campaign:<id>" or "topic:<text>".
	Subject string `json:"subject,omitempty"`
	// NotificationID is the notification that asks; one survey per
	// notification.
	NotificationID int64  `json:"notification_id"`
	Status         Status `json:"status"`
	// TTL is how long after it is sent the survey takes answers.
	TTL time.Duration `json:"-"`

	// Channel, ConversationID and MessageID say where the question went;
	// SentAt when, and ExpiresAt until when it takes an answer.
	Channel        conversation.ChannelKind `json:"channel,omitempty"`
	ConversationID int64                    `json:"conversation_id,omitempty"`
	MessageID      int64                    `json:"message_id,omitempty"`
	SentAt         time.Time                `json:"sent_at,omitzero"`
	ExpiresAt      time.Time                `json:"expires_at,omitzero"`

	// Score, AnsweredAt, AnswerChannel, AnswerMessageID and AnswerText are
	// the customer's answer, when there is one.
	Score           int                      `json:"score"`
	AnsweredAt      time.Time                `json:"answered_at,omitzero"`
	AnswerChannel   conversation.ChannelKind `json:"answer_channel,omitempty"`
	AnswerMessageID int64                    `json:"answer_message_id,omitempty"`
	AnswerText      string                   `json:"answer_text,omitempty"`

	CreatedAt time.Time `json:"created_at"`
}

// statusAt is s's status as of now: a sent survey past its expiry is
// expired.
func (s Survey) statusAt(now time.Time) Status {
	if s.Status == StatusSent && !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt) {
		return StatusExpired
	}
	return s.Status
}

// campaignOf returns the campaign of a campaign's notification key,
// "campaign:<campaign>:<recipient>", or 0.
func campaignOf(idempotencyKey string) int64 {
	rest, ok := strings.CutPrefix(idempotencyKey, "campaign:")
	if !ok {
		return 0
	}
	id, _, _ := strings.Cut(rest, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// Filter selects surveys; zero fields select all. Lists are newest
// (highest ID) first; BeforeID pages.
type Filter struct {
	Kind      Kind
	ContactID int64
	Status    Status // scheduled, sent (including expired), failed or answered
	// From and To bound the creation time: From <= CreatedAt < To.
	From, To time.Time
	BeforeID int64
	Limit    int
}

// Tally counts the surveys of one kind sent in one hour on one channel
// with one score (-1: not answered). Hours, not days, so that a report can
// count days in the tenant's time zone.
type Tally struct {
	Hour    time.Time // the start of the hour, UTC
	Channel conversation.ChannelKind
	Score   int
	Count   int
}

// Store keeps surveys. storage/sqlite and storage/postgres implement it,
// proven by surveytest.TestStore. Every method is safe for concurrent
// use, also from several processes, and scoped to one tenant: another
// tenant's ids are ENOTFOUND (or an empty list). Times are kept to the
// microsecond.
type Store interface {
	// InsertSurvey stores s in status scheduled and returns it with ID and
	// CreatedAt set, and created true. When the tenant has a survey of
	// s.NotificationID it stores nothing and returns that one with created
	// false, also under concurrency. Returns ENOTFOUND when the tenant
	// does not exist.
	InsertSurvey(ctx context.Context, s Survey) (Survey, bool, error)
	// Survey returns ENOTFOUND unless id is the tenant's.
	Survey(ctx context.Context, tenantID, id int64) (Survey, error)
	// SurveyOfNotification returns the survey a notification asks, or
	// ENOTFOUND.
	SurveyOfNotification(ctx context.Context, tenantID, notificationID int64) (Survey, error)
	// ListSurveys returns the tenant's surveys that match f, newest first,
	// at most conversation.ClampLimit(f.Limit).
	ListSurveys(ctx context.Context, tenantID int64, f Filter) ([]Survey, error)
	// MarkSurveySent records the outcome of a scheduled survey's
	// notification: s.Status (sent or failed), and for a sent one
	// Channel, ConversationID, MessageID, SentAt and ExpiresAt. Returns
	// ECONFLICT, and the stored survey, when it is no longer scheduled;
	// ENOTFOUND unless it is s.TenantID's.
	MarkSurveySent(ctx context.Context, s Survey) (Survey, error)
	// PendingSurveys returns the contact's sent surveys without an answer
	// whose ExpiresAt is after now, most recently sent first, at most 20.
	PendingSurveys(ctx context.Context, tenantID, contactID int64, now time.Time) ([]Survey, error)
	// SurveyAnsweredBy returns the survey a message answered, or
	// ENOTFOUND.
	SurveyAnsweredBy(ctx context.Context, tenantID, messageID int64) (Survey, error)
	// RecordSurveyAnswer records s.Score, AnsweredAt, AnswerChannel,
	// AnswerMessageID and AnswerText on the sent survey s.ID, which
	// becomes answered. Returns ECONFLICT when it is not sent and
	// unanswered, ENOTFOUND unless it is s.TenantID's.
	RecordSurveyAnswer(ctx context.Context, s Survey) error
	// SurveyTallies counts the tenant's surveys of a kind sent at or after
	// from and before to, by UTC hour of SentAt, channel and score.
	SurveyTallies(ctx context.Context, tenantID int64, kind Kind, from, to time.Time) ([]Tally, error)
}

// Package reports computes the figures client companies read: the
// dashboard's live view and the report of any period (conversations and
// messages by channel and hour, the bot's containment and handoffs, top
// intents and unrecognized messages, first response and resolution times,
// PQRs and their SLA, CSAT and NPS, delivery failures).
//
// Figures come from incremental aggregates per tenant and hour that the
// event pipeline keeps up to date (see Store), never from scanning the
// message history; a backfill rebuilds them from the source tables.
package reports

import (
	"time"

	"conversa/conversation"
)

// MaxPeriod is the longest period one report covers.
const MaxPeriod = 366 * 24 * time.Hour

// Query names the figures to compute: one tenant, a period [From, To),
// hours and days in Location (the tenant's time zone; nil is UTC).
type Query struct {
	TenantID int64
	From, To time.Time
	Location *time.Location
	// Teams, when not empty, limits the report to what these teams
	// handle (a supervisor's view): handoffs, timings, agents and cases
	// of the teams' queues and agents; the tenant-wide sections (bot,
	// channels, hours, surveys, failures) are left empty.
	Teams []int64
}

// Count is a figure by key: a channel, an intent, a reason, a status.
type Count struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
}

// ChannelFigures are a channel's conversations and messages in the period.
type ChannelFigures struct {
	Channel conversation.ChannelKind `json:"channel"`
	// Conversations counts the conversations opened on the channel.
	Conversations int64 `json:"conversations"`
	MessagesIn    int64 `json:"messages_in"`
	MessagesOut   int64 `json:"messages_out"`
}

// HourFigures are the figures of one hour of the day (0 to 23, in the
// query's location), summed over the period's days.
type HourFigures struct {
	Hour          int   `json:"hour"`
	Conversations int64 `json:"conversations"`
	MessagesIn    int64 `json:"messages_in"`
	MessagesOut   int64 `json:"messages_out"`
}

// DayFigures are the figures of one day of the period, in the query's
// location.
type DayFigures struct {
	Day           string `json:"day"` // 2006-01-02
	Conversations int64  `json:"conversations"`
	MessagesIn    int64  `json:"messages_in"`
	MessagesOut   int64  `json:"messages_out"`
	Handoffs      int64  `json:"handoffs"`
	Cases         int64  `json:"cases"`
}

// BotFigures are how the bot did with the conversations closed in the
// period. Rates are percentages rounded to 0.1; nil when there is nothing
// to divide by.
type BotFigures struct {
	// Closed counts the conversations closed in the period; Contained
	// those of them that never went to a person (never queued).
	Closed          int64    `json:"closed"`
	Contained       int64    `json:"contained"`
	ContainmentRate *float64 `json:"containment_rate,omitempty"`
	// Handoffs counts the conversations handed to people in the period,
	// HandoffRate them over the conversations opened, and
	// HandoffReasons them by the reason the bot gave ("asked_for_agent",
	// "fallback", "negative_sentiment", "business_hours", ...).
	Handoffs       int64    `json:"handoffs"`
	HandoffRate    *float64 `json:"handoff_rate,omitempty"`
	HandoffReasons []Count  `json:"handoff_reasons"`
	// TopIntents are the intents recognized most often (up to 20), and
	// TopUnrecognized the messages the bot did not understand, by their
	// normalized text (up to 20): what to train next.
	TopIntents      []Count `json:"top_intents"`
	TopUnrecognized []Count `json:"top_unrecognized"`
}

// Timing is a distribution of durations: the first response time or the
// resolution time of the conversations of one channel, queue or agent.
type Timing struct {
	// Dimension is "all", "channel", "queue" or "agent"; Key the
	// channel, or the queue's or agent's id; Name what to show.
	Dimension string        `json:"dimension"`
	Key       string        `json:"key"`
	Name      string        `json:"name"`
	Count     int64         `json:"count"`
	Median    time.Duration `json:"median"`
	P90       time.Duration `json:"p90"`
}

// CaseFigures are the PQRs filed in the period and the SLA of those due in
// it.
type CaseFigures struct {
	Filed     int64   `json:"filed"`
	ByType    []Count `json:"by_type"`
	ByStatus  []Count `json:"by_status"` // today's status of the cases filed in the period
	ByChannel []Count `json:"by_channel"`
	// Due counts the cases whose due date fell in the period; OnTime
	// those answered (resolved or closed) by then; SLACompliance is
	// OnTime over Due in percent.
	Due           int64    `json:"due"`
	OnTime        int64    `json:"on_time"`
	SLACompliance *float64 `json:"sla_compliance,omitempty"`
	// Overdue counts the cases open now past their due date.
	Overdue int64 `json:"overdue"`
}

// SurveyFigures are the CSAT or NPS surveys sent in the period.
type SurveyFigures struct {
	Sent     int64 `json:"sent"`
	Answered int64 `json:"answered"`
	// Score is the CSAT (share of 4 and 5, percent) or the NPS (-100 to
	// 100); nil without answers.
	Score *float64 `json:"score,omitempty"`
}

// Failure counts the messages that could not be delivered, by channel and
// the provider's error code.
type Failure struct {
	Channel conversation.ChannelKind `json:"channel"`
	Code    string                   `json:"code"`
	Count   int64                    `json:"count"`
}

// Report is every figure of a period.
type Report struct {
	TenantID  int64     `json:"tenant_id"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Zone      string    `json:"zone"`
	Generated time.Time `json:"generated"`

	Conversations int64            `json:"conversations"` // opened in the period
	MessagesIn    int64            `json:"messages_in"`
	MessagesOut   int64            `json:"messages_out"`
	ByChannel     []ChannelFigures `json:"by_channel"`
	ByHour        []HourFigures    `json:"by_hour"` // 24 entries
	ByDay         []DayFigures     `json:"by_day"`

	Bot           BotFigures    `json:"bot"`
	FirstResponse []Timing      `json:"first_response"`
	Resolution    []Timing      `json:"resolution"`
	Cases         CaseFigures   `json:"cases"`
	CSAT          SurveyFigures `json:"csat"`
	NPS           SurveyFigures `json:"nps"`
	Failures      []Failure     `json:"failures"`
}

// Live is the dashboard's view of now: conversations in progress and
// waiting by channel, agents online and their load, and today's figures
// so far (today in the tenant's time zone).
type Live struct {
	At      time.Time   `json:"at"`
	Waiting []Count     `json:"waiting"`  // queued, by channel
	Active  []Count     `json:"active"`   // with an agent, by channel
	WithBot []Count     `json:"with_bot"` // with the bot, by channel
	Agents  []AgentLoad `json:"agents"`
	Today   Report      `json:"today"`
}

// AgentLoad is an agent's status and how many conversations they hold.
type AgentLoad struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Load     int    `json:"load"`
	Capacity int    `json:"capacity"`
}

// Event is one thing that happened, as the report pipeline saw it, once:
// what the aggregates count and what the analytics export sends.
type Event struct {
	// ID is unique and stable ("message:123", "closed:45:2"): a
	// destination that gets an event twice can drop the second.
	ID       string    `json:"id"`
	TenantID int64     `json:"tenant_id"`
	Name     string    `json:"name"`
	At       time.Time `json:"at"`
	// ConversationID and ContactID are 0 when the event has none.
	ConversationID int64                    `json:"conversation_id,omitempty"`
	ContactID      int64                    `json:"contact_id,omitempty"`
	Channel        conversation.ChannelKind `json:"channel,omitempty"`
	// Properties are the event's details: an intent and its confidence,
	// a handoff's reason and queue, a failure's code. Never message text
	// beyond what the event is about (an unrecognized message's text).
	Properties map[string]any `json:"properties,omitempty"`
}

// Event names.
const (
	EventConversationOpened  = "conversation.opened"
	EventMessageReceived     = "message.received"
	EventMessageSent         = "message.sent"
	EventMessageFailed       = "message.failed"
	EventIntentRecognized    = "intent.recognized"
	EventMessageUnrecognized = "message.unrecognized"
	EventHandedOff           = "conversation.handed_off"
	EventAssigned            = "conversation.assigned"
	EventConversationClosed  = "conversation.closed"
	EventCaseFiled           = "case.filed"
)

// JobExport is the kind of the job that sends a batch of one tenant's
// events (its payload: a JSON array of Event) to the tenant's analytics
// destinations.
const JobExport = "analytics_export"

package conversation

import (
	"context"
	"fmt"
	"time"
)

// Bot answers contacts while their conversation is in StateBot. The bot
// package implements it.
type Bot interface {
	// Respond answers one inbound message. It must return when ctx ends and
	// be safe for concurrent use.
	Respond(ctx context.Context, t Turn) (Response, error)
}

// Turn is what a bot sees of one inbound message.
type Turn struct {
	Tenant       Tenant
	Conversation Conversation
	Contact      Contact
	Message      Message
}

// Response is a bot's answer: messages to send, in order, and actions for
// the rest of the system to carry out.
type Response struct {
	Replies [][]Part
	Actions []Action
}

// Action is something a bot asks the system to do.
type Action struct {
	Name   string
	Params map[string]string
}

// The actions the bot asks for.
const (
	// ActionHandoff asks for a human: the conversation moves to
	// StateQueued. Params: reason, and what the bot knew (intent,
	// language, sentiment, flow, slot.<name>, outside_hours, next_open).
	ActionHandoff = "handoff"
	// ActionCreateCase asks for a support case (PQR). Params: type
	// (peticion, queja, reclamo, sugerencia, felicitacion, …), language,
	// channel, flow, and the fields the flow collected by slot name.
	ActionCreateCase = "create_case"
)

// ActionHandler carries out a bot action such as create_case; a handler of
// ActionHandoff runs after the service has queued the conversation, and
// routes it to agents. HandleAction must be idempotent for one message, since a
// route job may run again: a second call for t.Message returns what the
// first did. The parts it returns, if any, are sent to the contact.
type ActionHandler interface {
	HandleAction(ctx context.Context, t Turn, a Action) ([]Part, error)
}

// Sender delivers messages to contacts. The channels registry implements it
// by handing each delivery to the channel of its account.
type Sender interface {
	// Send delivers d.Message. A *DeliveryError describes a failure in the
	// provider's terms; any other error is taken as temporary.
	Send(ctx context.Context, d Delivery) (Receipt, error)
}

// Delivery is one outbound message with everything a channel needs to send
// it.
type Delivery struct {
	Message Message
	Account ChannelAccount
	Contact Contact
	// To is the contact's identity on the account's channel.
	To Identity
	// LastInbound is when the contact last wrote to the account, zero if
	// never. It is set for WhatsApp, whose free-form messages are allowed
	// only within 24 hours of it.
	LastInbound time.Time
}

// Receipt is a channel's confirmation of a send.
type Receipt struct {
	// ProviderID is the provider's id of the sent message, if any.
	ProviderID string
	// Status is StatusSent, or a later status when the channel knows it.
	Status Status
}

// DeliveryError is a failed send as the provider reported it.
type DeliveryError struct {
	// Code and Message are the provider's error code and description.
	Code    string
	Message string
	// Permanent says a retry cannot succeed (an invalid number, a blocked
	// recipient); the message fails at once.
	Permanent bool
	// RetryAfter is the provider's requested wait before a retry.
	RetryAfter time.Duration
}

func (e *DeliveryError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("delivery failed: %s (%s)", e.Message, e.Code)
	}
	return "delivery failed: " + e.Message
}

// Metrics receives measurements. Implementations must be safe for
// concurrent use.
type Metrics interface {
	// Ingested records one inbound message: outcome is "stored",
	// "duplicate", "rejected" or "error".
	Ingested(ch ChannelKind, outcome string, d time.Duration)
	// Delivered records one delivery attempt: outcome is "sent", "retry" or
	// "failed".
	Delivered(ch ChannelKind, outcome string)
}

type nopMetrics struct{}

func (nopMetrics) Ingested(ChannelKind, string, time.Duration) {}
func (nopMetrics) Delivered(ChannelKind, string)               {}

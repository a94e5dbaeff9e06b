package conversation

import (
	"strconv"
	"time"
)

// EventType names a domain event.
type EventType string

// Domain events, published on the Bus after the change they describe has
// been committed.
const (
	// EventMessageCreated carries a new inbound or outbound message.
	EventMessageCreated EventType = "message.created"
	// EventMessageUpdated carries a message whose delivery status changed.
	EventMessageUpdated EventType = "message.updated"
	// EventConversationUpdated carries a conversation that was opened or
	// changed state.
	EventConversationUpdated EventType = "conversation.updated"
	// EventTyping says someone started or stopped typing.
	EventTyping EventType = "typing"
)

// Event is a domain event. Exactly one of Message, Conversation and Typing
// is set, as Type says.
type Event struct {
	Type           EventType     `json:"type"`
	TenantID       int64         `json:"tenant_id"`
	ConversationID int64         `json:"conversation_id"`
	ContactID      int64         `json:"contact_id"`
	Message        *Message      `json:"message,omitempty"`
	Conversation   *Conversation `json:"conversation,omitempty"`
	Typing         *Typing       `json:"typing,omitempty"`
	At             time.Time     `json:"at"`
}

// Typing is a typing indicator.
type Typing struct {
	Author Author `json:"author"`
	On     bool   `json:"on"`
}

// TenantTopic is the Bus topic of all events of a tenant.
func TenantTopic(tenantID int64) string {
	return "tenant." + strconv.FormatInt(tenantID, 10)
}

// ContactTopic is the Bus topic of the events about one contact, across
// their conversations.
func ContactTopic(tenantID, contactID int64) string {
	return "contact." + strconv.FormatInt(tenantID, 10) + "." + strconv.FormatInt(contactID, 10)
}

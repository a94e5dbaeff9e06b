package handoff

import (
	"context"
	"fmt"
	"time"

	"conversa/conversation"
)

// ConversationSummary is one conversation of a contact as the 360 view
// shows it.
type ConversationSummary struct {
	conversation.Conversation
	// AssigneeName is the name of the agent who owns it, if any.
	AssigneeName string `json:"assignee_name,omitempty"`
	// FirstMessageAt and LastMessageAt bound its messages (zero without).
	FirstMessageAt time.Time `json:"first_message_at,omitzero"`
	// Messages counts its messages, both ways: its LastSeq, as messages
	// are numbered 1, 2, … in each conversation and never removed.
	Messages int64 `json:"messages"`
}

// ContactView is the customer 360 view: everything the tenant knows of a
// contact, for the agent who serves them.
type ContactView struct {
	// Contact has the attributes and the identities on every channel.
	Contact conversation.Contact `json:"contact"`
	// Conversations are the contact's conversations, latest activity
	// first, at most MaxViewConversations.
	Conversations []ConversationSummary `json:"conversations"`
	// Messages are the latest messages across all conversations, in
	// order (oldest first); MessagesBefore, when set, is where the older
	// ones continue (conversation.MessageFilter.Before).
	Messages       []conversation.Message   `json:"messages"`
	MessagesBefore *conversation.MessagePos `json:"-"`
	// Cases are the contact's support cases, newest first, at most
	// MaxViewCases.
	Cases []Case `json:"cases"`
	// Notes are the agents' notes on the contact's conversations, newest
	// first, at most MaxViewNotes.
	Notes []Note `json:"notes"`
}

// Bounds of the 360 view, so that it loads fast however long the history.
const (
	MaxViewConversations = 200
	MaxViewCases         = 100
	MaxViewNotes         = 100
	// DefaultViewMessages is how many messages the view has by default.
	DefaultViewMessages = 50
)

// ViewStore is what the 360 view reads beyond conversation.Store and
// CaseStore. storage/sqlite and storage/postgres implement it, proven by
// handofftest.TestViewStore. Every method is safe for concurrent use and
// scoped to one tenant: another tenant's contact has nothing.
type ViewStore interface {
	// ContactConversations returns the contact's conversations with their
	// message counts, first message times and their assignee's name,
	// latest activity (LastMessageAt, then ID) first, at most limit. It
	// reads a row per conversation, not its messages.
	ContactConversations(ctx context.Context, tenantID, contactID int64, limit int) ([]ConversationSummary, error)
	// ContactNotes returns the notes on the contact's conversations,
	// newest (highest ID) first, at most limit.
	ContactNotes(ctx context.Context, tenantID, contactID int64, limit int) ([]Note, error)
}

// ViewReader is everything the 360 view reads. A store that implements
// conversation.Store, CaseStore and ViewStore implements it.
type ViewReader interface {
	ViewStore
	Contact(ctx context.Context, tenantID, id int64) (conversation.Contact, error)
	ListMessages(ctx context.Context, tenantID int64, f conversation.MessageFilter) ([]conversation.Message, error)
	ListCases(ctx context.Context, tenantID int64, f CaseFilter) ([]Case, error)
}

// Views builds 360 views. The API and the console share it. It is safe for
// concurrent use.
type Views struct{ r ViewReader }

// NewViews returns Views that read r.
func NewViews(r ViewReader) *Views { return &Views{r: r} }

// ContactView reads the 360 view of a contact with its latest messages (at
// most messages, DefaultViewMessages when 0, at most
// conversation.MaxLimit). Returns ENOTFOUND unless the contact is the
// tenant's.
func (vs *Views) ContactView(ctx context.Context, tenantID, contactID int64, messages int) (ContactView, error) {
	r := vs.r
	if messages <= 0 {
		messages = DefaultViewMessages
	}
	messages = min(messages, conversation.MaxLimit)
	var v ContactView
	var err error
	if v.Contact, err = r.Contact(ctx, tenantID, contactID); err != nil {
		return ContactView{}, err
	}
	if v.Conversations, err = r.ContactConversations(ctx, tenantID, contactID, MaxViewConversations); err != nil {
		return ContactView{}, fmt.Errorf("contact view: conversations: %w", err)
	}
	if v.Messages, err = r.ListMessages(ctx, tenantID, conversation.MessageFilter{ContactID: contactID, Newest: true, Limit: messages}); err != nil {
		return ContactView{}, fmt.Errorf("contact view: messages: %w", err)
	}
	if len(v.Messages) == messages {
		m := v.Messages[0]
		v.MessagesBefore = &conversation.MessagePos{ConversationID: m.ConversationID, Seq: m.Seq}
	}
	if v.Cases, err = r.ListCases(ctx, tenantID, CaseFilter{ContactID: contactID, Limit: MaxViewCases}); err != nil {
		return ContactView{}, fmt.Errorf("contact view: cases: %w", err)
	}
	if v.Notes, err = r.ContactNotes(ctx, tenantID, contactID, MaxViewNotes); err != nil {
		return ContactView{}, fmt.Errorf("contact view: notes: %w", err)
	}
	if v.Conversations == nil {
		v.Conversations = []ConversationSummary{}
	}
	if v.Messages == nil {
		v.Messages = []conversation.Message{}
	}
	if v.Cases == nil {
		v.Cases = []Case{}
	}
	if v.Notes == nil {
		v.Notes = []Note{}
	}
	return v, nil
}

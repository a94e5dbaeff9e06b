package conversation

import (
	"strings"
	"time"
)

// Tenant is a client company. Everything else belongs to exactly one tenant.
type Tenant struct {
	ID   int64  `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
	// Language is the default language of replies, "es" or "en".
	Language string `json:"language"`
	// Region is the ISO 3166-1 alpha-2 country used to read local phone
	// numbers, such as "CO".
	Region string `json:"region"`
	// TimeZone is an IANA time zone name, such as "America/Bogota".
	TimeZone  string    `json:"time_zone"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ChannelKind names a customer channel.
type ChannelKind string

// The channels a contact can write on.
const (
	ChannelWebchat  ChannelKind = "webchat"
	ChannelWhatsApp ChannelKind = "whatsapp"
	ChannelSMS      ChannelKind = "sms"
	ChannelTelegram ChannelKind = "telegram"
	ChannelEmail    ChannelKind = "email"
	ChannelVoice    ChannelKind = "voice"
	// ChannelAPI is a channel run by the tenant's own system: it posts
	// inbound messages through the REST API and receives outbound ones on a
	// signed webhook.
	ChannelAPI ChannelKind = "api"
)

var channelKinds = []ChannelKind{ChannelWebchat, ChannelWhatsApp, ChannelSMS, ChannelTelegram, ChannelEmail, ChannelVoice, ChannelAPI}

// Valid reports whether k is a known channel kind.
func (k ChannelKind) Valid() bool {
	for _, c := range channelKinds {
		if c == k {
			return true
		}
	}
	return false
}

// PhoneAddressed reports whether identities on k are E.164 phone numbers.
// A phone number seen on one such channel identifies the same contact on the
// others: a customer who texts by SMS and then writes on WhatsApp from the
// same number stays one contact.
func (k ChannelKind) PhoneAddressed() bool {
	return k == ChannelWhatsApp || k == ChannelSMS || k == ChannelVoice
}

// ShowsButtons reports whether messages on k can carry quick-reply
// buttons; on the others (SMS, voice, email) options are written as text.
func (k ChannelKind) ShowsButtons() bool {
	switch k {
	case ChannelSMS, ChannelVoice, ChannelEmail:
		return false
	}
	return true
}

// ChannelAccount is a tenant's presence on a channel: a web-chat widget, a
// WhatsApp sender, a Telegram bot, a mailbox. Inbound messages name the
// account they arrived at, and the account names the tenant.
type ChannelAccount struct {
	ID       int64       `json:"id"`
	TenantID int64       `json:"tenant_id"`
	Kind     ChannelKind `json:"kind"`
	// Key identifies the account on its channel, unique per kind: the public
	// key of a web-chat widget, a sender's phone number, a bot's username, a
	// mailbox address.
	Key  string `json:"key"`
	Name string `json:"name"`
	// Settings are the channel's own settings, validated by the channel.
	Settings  map[string]string `json:"settings,omitempty"`
	Disabled  bool              `json:"disabled"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
}

// Identity is a contact's address on one channel. Address is normalized:
// E.164 for phone channels, lower case for email.
type Identity struct {
	Channel ChannelKind `json:"channel"`
	Address string      `json:"address"`
}

// String returns the identity as "channel:address".
func (i Identity) String() string { return string(i.Channel) + ":" + i.Address }

// Contact is a person who writes to a tenant, on any number of channels.
type Contact struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Name     string `json:"name"`
	// Language is the contact's preferred language, "" when unknown.
	Language   string            `json:"language,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
	Identities []Identity        `json:"identities"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
}

// IdentityOn returns the contact's identity on channel kind k.
func (c Contact) IdentityOn(k ChannelKind) (Identity, bool) {
	for _, id := range c.Identities {
		if id.Channel == k {
			return id, true
		}
	}
	return Identity{}, false
}

// State is the state of a conversation.
type State string

// Conversation states. Every open state is owned by exactly one party: the
// bot answers in StateBot, nobody in StateQueued (the contact waits for an
// agent), an agent in StateAgent.
const (
	StateBot    State = "bot"
	StateQueued State = "queued"
	StateAgent  State = "agent"
	StateClosed State = "closed"
)

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	switch s {
	case StateBot, StateQueued, StateAgent, StateClosed:
		return true
	}
	return false
}

// Open reports whether a conversation in state s accepts messages.
func (s State) Open() bool { return s.Valid() && s != StateClosed }

// CanBecome reports whether a conversation may move from s to next.
// Reopening moves a closed conversation back to the bot.
func (s State) CanBecome(next State) bool {
	switch s {
	case StateBot:
		return next == StateQueued || next == StateAgent || next == StateClosed
	case StateQueued:
		return next == StateAgent || next == StateBot || next == StateClosed
	case StateAgent:
		return next == StateQueued || next == StateBot || next == StateAgent || next == StateClosed
	case StateClosed:
		return next == StateBot
	}
	return false
}

// Conversation is the one thread between a tenant and a contact. A contact
// has at most one open conversation, whatever the channel.
type Conversation struct {
	ID        int64 `json:"id"`
	TenantID  int64 `json:"tenant_id"`
	ContactID int64 `json:"contact_id"`
	State     State `json:"state"`
	// Channel and ChannelAccountID are where the contact last wrote from:
	// replies go there unless the sender picks another account.
	Channel          ChannelKind `json:"channel"`
	ChannelAccountID int64       `json:"channel_account_id"`
	// AssigneeID is the agent who owns the conversation in StateAgent.
	AssigneeID int64 `json:"assignee_id,omitempty"`
	// LastSeq is the sequence number of the conversation's latest message.
	LastSeq       int64     `json:"last_seq"`
	LastMessageAt time.Time `json:"last_message_at"`
	OpenedAt      time.Time `json:"opened_at"`
	ClosedAt      time.Time `json:"closed_at,omitzero"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Direction says whether a message came from the contact or goes to them.
type Direction string

// Message directions.
const (
	DirectionIn  Direction = "in"
	DirectionOut Direction = "out"
)

// AuthorKind says who wrote a message.
type AuthorKind string

// Author kinds.
const (
	AuthorContact AuthorKind = "contact"
	AuthorBot     AuthorKind = "bot"
	AuthorAgent   AuthorKind = "agent"
	AuthorSystem  AuthorKind = "system"
)

// Author is who wrote a message. ID names the agent for AuthorAgent.
type Author struct {
	Kind AuthorKind `json:"kind"`
	ID   int64      `json:"id,omitempty"`
	Name string     `json:"name,omitempty"`
}

// Status is the delivery status of a message.
type Status string

// Delivery statuses. Inbound messages are StatusReceived. Outbound messages
// move forward through queued, sent, delivered and read, or end in failed.
const (
	StatusReceived  Status = "received"
	StatusQueued    Status = "queued"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read"
	StatusFailed    Status = "failed"
)

// rank orders outbound statuses; a status update never lowers the rank, so
// a late "sent" callback never overwrites "delivered".
func (s Status) rank() int {
	switch s {
	case StatusQueued:
		return 1
	case StatusSent:
		return 2
	case StatusDelivered:
		return 3
	case StatusRead:
		return 4
	}
	return 0
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == StatusReceived || s == StatusFailed || s.rank() > 0
}

// CanBecome reports whether an outbound message in status s may move to
// next. Statuses only move forward; failed is final, and a message that
// reached the contact can no longer fail.
func (s Status) CanBecome(next Status) bool {
	if next == StatusFailed {
		return s == StatusQueued || s == StatusSent
	}
	return s.rank() > 0 && next.rank() > s.rank()
}

// StatusesBefore returns the statuses that may move to next.
func StatusesBefore(next Status) []Status {
	var from []Status
	for _, s := range []Status{StatusQueued, StatusSent, StatusDelivered, StatusRead} {
		if s.CanBecome(next) {
			from = append(from, s)
		}
	}
	return from
}

// Failure is why a message could not be delivered, in the provider's terms.
type Failure struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// Analysis is what the bot understood of an inbound message.
type Analysis struct {
	Language string `json:"language,omitempty"`
	// Intent is "" when no intent was recognized.
	Intent     string  `json:"intent,omitempty"`
	Confidence float64 `json:"confidence,omitempty"`
	OutOfScope bool    `json:"out_of_scope,omitempty"`
	// Sentiment is "negative", "neutral" or "positive".
	Sentiment string `json:"sentiment,omitempty"`
	// SentimentScore is from -1 (negative) to 1 (positive).
	SentimentScore float64       `json:"sentiment_score,omitempty"`
	Entities       []EntityValue `json:"entities,omitempty"`
	// BotVersion is the number of the bot version that analysed the message.
	BotVersion int64 `json:"bot_version,omitempty"`
}

// EntityValue is an entity found in a message.
type EntityValue struct {
	Entity string `json:"entity"`
	Value  string `json:"value"`
	// Text is the part of the message the entity was found in.
	Text string `json:"text"`
}

// Message is one message in a conversation, in either direction.
type Message struct {
	ID             int64 `json:"id"`
	TenantID       int64 `json:"tenant_id"`
	ConversationID int64 `json:"conversation_id"`
	ContactID      int64 `json:"contact_id"`
	// Seq numbers the messages of a conversation in commit order, so a
	// reader that has seen Seq n has seen every message before it.
	Seq              int64       `json:"seq"`
	Direction        Direction   `json:"direction"`
	Author           Author      `json:"author"`
	Channel          ChannelKind `json:"channel"`
	ChannelAccountID int64       `json:"channel_account_id"`
	Parts            []Part      `json:"parts"`
	// ProviderID is the provider's id of the message: the de-duplication key
	// of inbound messages, and the handle of status callbacks for outbound.
	ProviderID     string   `json:"provider_id,omitempty"`
	IdempotencyKey string   `json:"idempotency_key,omitempty"`
	Status         Status   `json:"status"`
	Failure        *Failure `json:"failure,omitempty"`
	// Analysis is what the bot understood of an inbound message, nil until
	// the bot has read it.
	Analysis *Analysis `json:"analysis,omitempty"`
	// Meta is what the channel keeps of the message beyond its parts, such
	// as an email's subject and Message-ID chain (see MetaSubject).
	Meta map[string]string `json:"meta,omitempty"`
	// SendAt is when a scheduled outbound message is due.
	SendAt    time.Time `json:"send_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Text returns the searchable text of the message: its text parts, media
// captions and file names, button titles, location names and contact names.
func (m Message) Text() string { return PartsText(m.Parts) }

// PartsText returns the searchable text of parts, one part per line.
func PartsText(parts []Part) string {
	var b strings.Builder
	add := func(s string) {
		if s == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(s)
	}
	for _, p := range parts {
		add(p.Text)
		if p.Media != nil {
			add(p.Media.Filename)
		}
		for _, btn := range p.Buttons {
			add(btn.Title)
		}
		if p.Location != nil {
			add(p.Location.Name)
			add(p.Location.Address)
		}
		if p.Contact != nil {
			add(p.Contact.Name)
		}
	}
	return b.String()
}

// PartType is the kind of one piece of message content.
type PartType string

// Part types.
const (
	PartText     PartType = "text"
	PartMedia    PartType = "media"
	PartButtons  PartType = "buttons"
	PartLocation PartType = "location"
	PartContact  PartType = "contact"
)

// Part is one piece of message content. Type says which of the fields is
// set: Text for PartText (and optionally for the others, as a caption or a
// prompt), Media, Buttons, Location or Contact.
type Part struct {
	Type PartType `json:"type"`
	Text string   `json:"text,omitempty"`
	// Payload is, on an inbound text part, the id of the quick-reply button
	// the contact chose.
	Payload  string       `json:"payload,omitempty"`
	Media    *Media       `json:"media,omitempty"`
	Buttons  []Button     `json:"buttons,omitempty"`
	Location *Location    `json:"location,omitempty"`
	Contact  *ContactCard `json:"contact,omitempty"`
}

// TextPart returns a text part.
func TextPart(s string) Part { return Part{Type: PartText, Text: s} }

// Media is a file: either at URL, or in the media store under Key. A file
// a channel received but did not keep (too large, of a forbidden type, or
// lost by the provider) has neither, and a Note that says why.
type Media struct {
	ContentType string `json:"content_type"`
	Size        int64  `json:"size,omitempty"`
	URL         string `json:"url,omitempty"`
	Key         string `json:"key,omitempty"`
	Filename    string `json:"filename,omitempty"`
	Note        string `json:"note,omitempty"`
}

// Button is a quick-reply button. ID comes back as the Payload of the
// contact's answer.
type Button struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Location is a point on the map.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// ContactCard is a shared contact (vCard).
type ContactCard struct {
	Name   string   `json:"name"`
	Phones []string `json:"phones,omitempty"`
	Emails []string `json:"emails,omitempty"`
}

// Inbound is a message from a contact as a channel adapter hands it over,
// before it belongs to any tenant.
type Inbound struct {
	Channel ChannelKind `json:"channel"`
	// Account is the Key of the ChannelAccount the message arrived at.
	Account string `json:"account"`
	// From is the sender's address on Channel, normalized by the adapter.
	From     string `json:"from"`
	FromName string `json:"from_name,omitempty"`
	// ProviderID is the provider's message id. A second Inbound with the
	// same account and ProviderID is a duplicate and is dropped.
	ProviderID string `json:"provider_id"`
	Parts      []Part `json:"parts"`
	// Language is a hint of the contact's language, such as the language of
	// the page that hosts the web-chat widget.
	Language string `json:"language,omitempty"`
	// ReceivedAt is when the provider received the message; zero, or a time
	// in the future, means now.
	ReceivedAt time.Time `json:"received_at,omitzero"`
	// Meta is what the channel keeps of the message beyond its parts.
	Meta map[string]string `json:"meta,omitempty"`
	// Edits, when set, is the ProviderID of an earlier message of the
	// contact on the same account that this one replaces (Telegram's
	// edited messages): its parts become these, and no message is added.
	// An edit of a message that was never stored is stored as a new one.
	Edits string `json:"edits,omitempty"`
}

// Outbound is a message to a contact, channel-neutral: the conversation
// decides the channel unless AccountID picks one.
type Outbound struct {
	TenantID       int64  `json:"tenant_id"`
	ConversationID int64  `json:"conversation_id"`
	Author         Author `json:"author"`
	Parts          []Part `json:"parts"`
	// AccountID is the channel account to send through; zero means the
	// account the contact last wrote to.
	AccountID int64 `json:"account_id,omitempty"`
	// IdempotencyKey makes a retried send return the first message instead
	// of sending twice. Keys are unique per tenant.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// SendAt schedules the message; zero means now.
	SendAt time.Time `json:"send_at,omitzero"`
	// Meta is for the channel, such as the subject of an email.
	Meta map[string]string `json:"meta,omitempty"`
}

// APIKey grants a tenant's systems access to the REST API. Only a hash of
// the secret is stored.
type APIKey struct {
	// ID is the public part of the key, shown in listings.
	ID        string    `json:"id"`
	TenantID  int64     `json:"tenant_id"`
	Name      string    `json:"name"`
	Hash      []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

// EditedMeta returns the Meta of m after the contact edited it at at: the
// time of the edit, and, on the first edit, the text it had first.
func EditedMeta(m Message, at time.Time) map[string]string {
	meta := make(map[string]string, len(m.Meta)+2)
	for k, v := range m.Meta {
		meta[k] = v
	}
	if _, edited := meta[MetaEditedAt]; !edited {
		meta[MetaOriginal] = m.Text()
	}
	meta[MetaEditedAt] = at.UTC().Format(time.RFC3339)
	return meta
}

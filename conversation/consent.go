package conversation

import (
	"strings"
	"time"
)

// ConsentChange is one entry of the consent ledger: a recipient opting out
// of, or back into, messages from one sender (a channel account). The ledger
// is append-only; the latest entry for (account, address) decides.
type ConsentChange struct {
	ID        int64 `json:"id"`
	TenantID  int64 `json:"tenant_id"`
	AccountID int64 `json:"account_id"`
	// ContactID is the contact the address belongs to, 0 if unknown.
	ContactID int64       `json:"contact_id,omitempty"`
	Channel   ChannelKind `json:"channel"`
	// Address is the recipient's normalized address on the account's
	// channel.
	Address  string `json:"address"`
	OptedOut bool   `json:"opted_out"`
	// Purpose narrows the change to the notifications of one purpose (a
	// template's purpose, such as "survey"); "" is every message from the
	// account. An opt-out of every message also covers each purpose: a
	// purpose's opt-in does not undo it.
	Purpose string `json:"purpose,omitempty"`
	// Source says how the change came: "keyword:STOP", "api", ...
	Source string `json:"source"`
	// ProviderID is the provider's id of the message that asked for the
	// change, if a message did.
	ProviderID string    `json:"provider_id,omitempty"`
	At         time.Time `json:"at"`
}

// Validate checks the fields a caller sets.
func (c ConsentChange) Validate() error {
	switch {
	case c.TenantID <= 0:
		return FieldError("tenant_id", "is required")
	case c.AccountID <= 0:
		return FieldError("account_id", "is required")
	case !c.Channel.Valid():
		return FieldError("channel", "unknown channel %q", c.Channel)
	case strings.TrimSpace(c.Address) == "" || len(c.Address) > 320:
		return FieldError("address", "must be 1 to 320 characters")
	case c.Source == "" || len(c.Source) > 100:
		return FieldError("source", "must be 1 to 100 characters")
	case len(c.ProviderID) > 200:
		return FieldError("provider_id", "must be at most 200 characters")
	case c.Purpose != "" && !ValidPurpose(c.Purpose):
		return FieldError("purpose", "%q is not a purpose: lower-case letters, digits and _, starting with a letter, at most 64", c.Purpose)
	}
	return nil
}

// Keyword is a carrier keyword of SMS: a message whose only word asks to
// stop, restart or get help. Carriers and providers act on these words
// themselves, so a bot must never answer them.
type Keyword string

// The keyword classes.
const (
	KeywordStop  Keyword = "stop"
	KeywordStart Keyword = "start"
	KeywordHelp  Keyword = "help"
)

// smsKeywords are Twilio's default opt-out, opt-in and help keywords, the
// ones US and Canadian carriers require and most others follow.
var smsKeywords = map[string]Keyword{
	"STOP": KeywordStop, "STOPALL": KeywordStop, "UNSUBSCRIBE": KeywordStop, "CANCEL": KeywordStop,
	"END": KeywordStop, "QUIT": KeywordStop,
	"START": KeywordStart, "YES": KeywordStart, "UNSTOP": KeywordStart,
	"HELP": KeywordHelp, "INFO": KeywordHelp,
}

// SMSKeyword reports the keyword class of an SMS body: one of the keywords
// alone, in any case, with surrounding spaces or closing punctuation
// ("Stop", " STOP! "). Any other text, even one that contains a keyword
// ("please stop"), is no keyword.
func SMSKeyword(body string) (Keyword, bool) {
	w := strings.TrimRight(strings.TrimSpace(body), ".!¡?¿ ")
	if w == "" || len(w) > 11 {
		return "", false
	}
	k, ok := smsKeywords[strings.ToUpper(w)]
	return k, ok
}

// InboundKeyword reports whether an inbound message is a carrier keyword
// of its channel, which the channel adapter handles and the bot must not
// answer. Only SMS has them.
func InboundKeyword(m Message) (Keyword, bool) {
	if m.Channel != ChannelSMS || m.Direction != DirectionIn || len(m.Parts) != 1 || m.Parts[0].Type != PartText {
		return "", false
	}
	return SMSKeyword(m.Parts[0].Text)
}

// FailureOptedOut is the failure code of a message not sent because its
// recipient opted out of the sender.
const FailureOptedOut = "opted_out"

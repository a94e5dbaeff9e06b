package conversation

import "regexp"

// purposeRE is the shape of a purpose, as templates names them.
var purposeRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidPurpose reports whether s names a purpose: lower-case letters,
// digits and underscores, starting with a letter, at most 64 bytes, such as
// "case_resolved". Purposes name templates, notifications and the consent
// given for them.
func ValidPurpose(s string) bool { return purposeRE.MatchString(s) }

// Keys of Outbound.Meta that the notification service sets for channels.
const (
	// MetaHTML is the HTML part of an email; the text parts are its plain
	// text. Email only.
	MetaHTML = "html"
	// MetaContentSID names the approved WhatsApp content template ("HX"
	// and 32 hex digits) to send instead of the free-form text: the only
	// kind of message WhatsApp accepts outside the 24-hour window. The
	// text parts are what the template says, for the console and search.
	MetaContentSID = "content_sid"
	// MetaContentVariables are the values of the approved template's
	// {{1}}, {{2}}, … as a JSON array of strings (["Ana","PQR-2026-000123"]);
	// a Twilio channel sends them as ContentVariables {"1": "Ana", …}.
	MetaContentVariables = "content_variables"
	// MetaNotification is the id of the notification a message carries,
	// and MetaPurpose its purpose, for consoles and channels that add
	// unsubscribe links.
	MetaNotification = "notification"
	MetaPurpose      = "purpose"
)

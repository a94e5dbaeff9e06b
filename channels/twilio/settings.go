package twilio

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"conversa/conversation"
)

// Settings of an SMS or WhatsApp account. The account's Key is the sender's
// phone number in E.164 (without "whatsapp:").
const (
	// SettingAccountSID is the Twilio account (or subaccount) that owns the
	// number: AC followed by 32 hex digits. Required.
	SettingAccountSID = "account_sid"
	// SettingAuthToken is that account's auth token: webhooks are signed
	// with it, and it authenticates REST calls unless an API key is set.
	// Required.
	SettingAuthToken = "auth_token"
	// SettingAPIKeySID and SettingAPIKeySecret, both or neither, are an API
	// key (SK...) that authenticates REST calls and media downloads
	// instead of the auth token.
	SettingAPIKeySID    = "api_key_sid"
	SettingAPIKeySecret = "api_key_secret"
	// SettingMessagingServiceSID (MG...) sends through a Messaging Service
	// instead of from the number itself.
	SettingMessagingServiceSID = "messaging_service_sid"
	// SettingMessagesPerSecond paces sends from this sender on this node
	// (default 1 for SMS, a long code's limit; 80 for WhatsApp).
	SettingMessagesPerSecond = "messages_per_second"
	// SettingHelpText (SMS only) answers the HELP and INFO keywords
	// (default DefaultHelpText).
	SettingHelpText = "help_text"
	// SettingTemplateContentSID (WhatsApp only) is an approved template
	// (HX...) sent instead of a free-form message outside the 24-hour
	// window. Without it such sends fail.
	SettingTemplateContentSID = "template_content_sid"
	// SettingTemplateVariables (WhatsApp only) are the template's
	// variables as a JSON object of strings, such as {"1":"Acme"}.
	SettingTemplateVariables = "template_variables"
	// SettingQuickReplies (WhatsApp only) maps sets of buttons to the
	// tenant's quick-reply content templates (twilio/quick-reply, made in
	// Twilio's Content Template Builder), as a JSON object from the button
	// ids in order, joined by commas, to the template's ContentSid, such as
	// {"billing,support,agent": "HX..."}. The template's buttons carry the
	// same ids, and its body is the variable {{1}}, which gets the text of
	// the message. A message with such buttons goes as the template, so the
	// customer taps real buttons; other buttons go as numbered options.
	SettingQuickReplies = "quick_replies"
)

// DefaultHelpText answers HELP on an SMS account without help_text.
const DefaultHelpText = "Ayuda: responda a este mensaje y le atenderemos. Para no recibir más mensajes responda STOP. / Help: reply to this message and we will assist you. Reply STOP to opt out."

// Default pace of one sender, in messages per second.
const (
	defaultSMSRate      = 1
	defaultWhatsAppRate = 80
	maxRate             = 1000
)

var (
	accountSIDRE = regexp.MustCompile(`^AC[0-9a-f]{32}$`)
	apiKeySIDRE  = regexp.MustCompile(`^SK[0-9a-f]{32}$`)
	serviceSIDRE = regexp.MustCompile(`^MG[0-9a-f]{32}$`)
	contentSIDRE = regexp.MustCompile(`^HX[0-9a-f]{32}$`)
	// twilio-go refuses credentials that are not alphanumeric.
	secretRE = regexp.MustCompile(`^[A-Za-z0-9]{16,128}$`)
	e164RE   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
)

// settings are an account's settings, checked.
type settings struct {
	accountSID   string
	authToken    string
	apiKeySID    string
	apiKeySecret string
	serviceSID   string
	rate         float64
	helpText     string
	templateSID  string
	templateVars string
	// quickReplies are the quick-reply templates by the button ids they
	// show, comma-joined.
	quickReplies map[string]string
}

// credentials return the user and password of REST calls and media
// downloads.
func (s settings) credentials() (user, password string) {
	if s.apiKeySID != "" {
		return s.apiKeySID, s.apiKeySecret
	}
	return s.accountSID, s.authToken
}

// validateAccount checks a's key and settings.
func validateAccount(a *conversation.ChannelAccount) error {
	if !e164RE.MatchString(a.Key) {
		return conversation.FieldError("key", "must be the sender's phone number in E.164, such as +14155238886 (without whatsapp:)")
	}
	_, err := parseSettings(a.Kind, a.Settings)
	return err
}

// parseSettings reads and checks the settings of an account of kind.
// Returns EINVALID naming the bad setting.
func parseSettings(kind conversation.ChannelKind, m map[string]string) (settings, error) {
	s := settings{rate: defaultSMSRate, helpText: DefaultHelpText}
	if kind == conversation.ChannelWhatsApp {
		s.rate = defaultWhatsAppRate
		s.helpText = ""
	}
	bad := func(name, format string, args ...any) (settings, error) {
		return settings{}, conversation.FieldError("settings."+name, format, args...)
	}
	for k, v := range m {
		switch k {
		case SettingAccountSID:
			s.accountSID = v
		case SettingAuthToken:
			s.authToken = v
		case SettingAPIKeySID:
			s.apiKeySID = v
		case SettingAPIKeySecret:
			s.apiKeySecret = v
		case SettingMessagingServiceSID:
			s.serviceSID = v
		case SettingMessagesPerSecond:
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(r) || r <= 0 || r > maxRate {
				return bad(k, "must be a number of messages per second above 0 and at most %d", maxRate)
			}
			s.rate = r
		case SettingHelpText:
			if kind != conversation.ChannelSMS {
				return bad(k, "is a setting of SMS accounts")
			}
			if strings.TrimSpace(v) == "" || utf8.RuneCountInString(v) > maxBodyChars {
				return bad(k, "must be 1 to %d characters", maxBodyChars)
			}
			s.helpText = v
		case SettingTemplateContentSID:
			if kind != conversation.ChannelWhatsApp {
				return bad(k, "is a setting of WhatsApp accounts")
			}
			s.templateSID = v
		case SettingTemplateVariables:
			if kind != conversation.ChannelWhatsApp {
				return bad(k, "is a setting of WhatsApp accounts")
			}
			var vars map[string]string
			if err := json.Unmarshal([]byte(v), &vars); err != nil {
				return bad(k, "must be a JSON object of strings, such as {\"1\":\"Acme\"}")
			}
			s.templateVars = v
		case SettingQuickReplies:
			if kind != conversation.ChannelWhatsApp {
				return bad(k, "is a setting of WhatsApp accounts")
			}
			if err := json.Unmarshal([]byte(v), &s.quickReplies); err != nil || len(s.quickReplies) == 0 {
				return bad(k, "must be a JSON object from button ids joined by commas to content SIDs, such as {\"billing,support\":\"HX...\"}")
			}
			for ids, sid := range s.quickReplies {
				if !contentSIDRE.MatchString(sid) {
					return bad(k, "the template of %q must be HX followed by 32 lower-case hex digits", ids)
				}
				if n := len(strings.Split(ids, ",")); ids == "" || n > 10 {
					return bad(k, "%q must name 1 to 10 button ids", ids)
				}
			}
		default:
			return bad(k, "unknown %s setting", kind)
		}
	}
	switch {
	case !accountSIDRE.MatchString(s.accountSID):
		return bad(SettingAccountSID, "must be AC followed by 32 lower-case hex digits")
	case !secretRE.MatchString(s.authToken):
		return bad(SettingAuthToken, "must be the account's auth token (16 to 128 letters and digits)")
	case (s.apiKeySID == "") != (s.apiKeySecret == ""):
		return bad(SettingAPIKeySID, "api_key_sid and api_key_secret go together")
	case s.apiKeySID != "" && !apiKeySIDRE.MatchString(s.apiKeySID):
		return bad(SettingAPIKeySID, "must be SK followed by 32 lower-case hex digits")
	case s.apiKeySecret != "" && !secretRE.MatchString(s.apiKeySecret):
		return bad(SettingAPIKeySecret, "must be 16 to 128 letters and digits")
	case s.serviceSID != "" && !serviceSIDRE.MatchString(s.serviceSID):
		return bad(SettingMessagingServiceSID, "must be MG followed by 32 lower-case hex digits")
	case s.templateSID != "" && !contentSIDRE.MatchString(s.templateSID):
		return bad(SettingTemplateContentSID, "must be HX followed by 32 lower-case hex digits")
	case s.templateVars != "" && s.templateSID == "":
		return bad(SettingTemplateVariables, "needs template_content_sid")
	}
	return s, nil
}

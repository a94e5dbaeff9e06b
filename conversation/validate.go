package conversation

import (
	"fmt"
	"math"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a message may hold. Channels with tighter limits split or
// reject on their side; these keep any one record bounded.
const (
	MaxParts          = 10
	MaxTextBytes      = 32 << 10 // all text of one message together
	MaxButtons        = 10
	MaxButtonTitle    = 64 // characters
	MaxShortField     = 256
	MaxNameLength     = 200 // characters
	MaxURLLength      = 2048
	MaxMediaSize      = 100 << 20
	MaxAttributes     = 64
	MaxAttributeValue = 1024
)

var (
	slugRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	e164RE  = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	langRE  = regexp.MustCompile(`^[a-z]{2,3}$`)
	keyRE   = regexp.MustCompile(`^[A-Za-z0-9_.:@+=/-]{1,256}$`)
	regionR = regexp.MustCompile(`^[A-Z]{2}$`)
	// A content type is "type/subtype", without parameters.
	contentTypeRE = regexp.MustCompile(`^[a-z0-9!#$&^_.+-]{1,64}/[a-z0-9!#$&^_.+-]{1,128}$`)
)

// Languages are the languages replies and the widget speak.
var languages = map[string]bool{"es": true, "en": true}

// NormalizeLanguage reduces a language tag such as "es-CO" to its primary
// language "es". It returns "" for an empty tag and EINVALID for a tag that is
// not a language.
func NormalizeLanguage(field, tag string) (string, error) {
	if tag == "" {
		return "", nil
	}
	primary, _, _ := strings.Cut(strings.ReplaceAll(tag, "_", "-"), "-")
	primary = strings.ToLower(primary)
	if !langRE.MatchString(primary) {
		return "", FieldError(field, "%q is not a language tag", tag)
	}
	return primary, nil
}

// Validate checks the tenant and fills in defaults for empty optional fields.
func (t *Tenant) Validate() error {
	t.Slug = strings.TrimSpace(t.Slug)
	if !slugRE.MatchString(t.Slug) {
		return FieldError("slug", "must be 2 to 63 lower-case letters, digits or dashes, starting with a letter or digit")
	}
	if err := checkName("name", &t.Name, true); err != nil {
		return err
	}
	if t.Language == "" {
		t.Language = "es"
	}
	lang, err := NormalizeLanguage("language", t.Language)
	if err != nil {
		return err
	}
	if !languages[lang] {
		return FieldError("language", "must be one of es, en")
	}
	t.Language = lang
	if t.Region == "" {
		t.Region = "CO"
	}
	t.Region = strings.ToUpper(t.Region)
	if !regionR.MatchString(t.Region) {
		return FieldError("region", "must be an ISO 3166-1 alpha-2 country code such as CO")
	}
	if t.TimeZone == "" {
		t.TimeZone = "America/Bogota"
	}
	if _, err := time.LoadLocation(t.TimeZone); err != nil || t.TimeZone == "Local" {
		return FieldError("time_zone", "%q is not an IANA time zone", t.TimeZone)
	}
	return nil
}

// Validate checks the channel account.
func (a *ChannelAccount) Validate() error {
	if !a.Kind.Valid() {
		return FieldError("kind", "unknown channel %q", a.Kind)
	}
	a.Key = strings.TrimSpace(a.Key)
	if !keyRE.MatchString(a.Key) {
		return FieldError("key", "must be 1 to 256 letters, digits or the characters _.:@+=/-")
	}
	if err := checkName("name", &a.Name, false); err != nil {
		return err
	}
	for k, v := range a.Settings {
		if k == "" || len(k) > 64 || !utf8.ValidString(k) {
			return FieldError("settings", "setting names must be 1 to 64 bytes of UTF-8")
		}
		if err := checkText("settings."+k, v, 8<<10); err != nil {
			return err
		}
	}
	return nil
}

// NormalizeAddress checks a contact address on channel k and returns it in
// its normal form: E.164 for phone channels, lower case for email. Adapters
// convert local phone formats to E.164 before this check.
func NormalizeAddress(k ChannelKind, addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", FieldError("from", "is required")
	}
	if len(addr) > MaxShortField || !utf8.ValidString(addr) || strings.ContainsFunc(addr, unicode.IsControl) {
		return "", FieldError("from", "must be at most %d bytes of printable UTF-8", MaxShortField)
	}
	switch {
	case k.PhoneAddressed():
		if !e164RE.MatchString(addr) {
			return "", FieldError("from", "%q is not an E.164 phone number such as +573001234567", addr)
		}
	case k == ChannelEmail:
		a, err := mail.ParseAddress(addr)
		if err != nil || a.Name != "" {
			return "", FieldError("from", "%q is not an email address", addr)
		}
		addr = strings.ToLower(a.Address)
	case k == ChannelTelegram:
		if strings.TrimLeft(addr, "-0123456789") != "" {
			return "", FieldError("from", "%q is not a Telegram chat id", addr)
		}
	case k.Valid():
		if !keyRE.MatchString(addr) {
			return "", FieldError("from", "must be letters, digits or the characters _.:@+=/-")
		}
	default:
		return "", FieldError("channel", "unknown channel %q", k)
	}
	return addr, nil
}

// Validate checks the inbound message and normalizes its addresses.
func (in *Inbound) Validate() error {
	if !in.Channel.Valid() {
		return FieldError("channel", "unknown channel %q", in.Channel)
	}
	if !keyRE.MatchString(in.Account) {
		return FieldError("account", "is not a channel account key")
	}
	from, err := NormalizeAddress(in.Channel, in.From)
	if err != nil {
		return err
	}
	in.From = from
	if err := checkName("from_name", &in.FromName, false); err != nil {
		return err
	}
	if in.ProviderID == "" {
		return FieldError("provider_id", "is required: it is the de-duplication key")
	}
	if len(in.Edits) > MaxShortField || !utf8.ValidString(in.Edits) || strings.ContainsFunc(in.Edits, unicode.IsControl) {
		return FieldError("edits", "must be at most %d bytes of printable UTF-8", MaxShortField)
	}
	if len(in.ProviderID) > MaxShortField || !utf8.ValidString(in.ProviderID) || strings.ContainsFunc(in.ProviderID, unicode.IsControl) {
		return FieldError("provider_id", "must be at most %d bytes of printable UTF-8", MaxShortField)
	}
	if in.Language, err = NormalizeLanguage("language", in.Language); err != nil {
		return err
	}
	if err := validateMeta(in.Meta); err != nil {
		return err
	}
	return ValidateParts(in.Parts)
}

// Validate checks the outbound message.
func (o *Outbound) Validate() error {
	if o.TenantID <= 0 {
		return FieldError("tenant_id", "is required")
	}
	if o.ConversationID <= 0 {
		return FieldError("conversation_id", "is required")
	}
	switch o.Author.Kind {
	case AuthorBot, AuthorAgent, AuthorSystem:
	case AuthorContact:
		return FieldError("author.kind", "outbound messages are written by bot, agent or system")
	default:
		return FieldError("author.kind", "must be bot, agent or system")
	}
	if err := checkName("author.name", &o.Author.Name, false); err != nil {
		return err
	}
	if o.AccountID < 0 {
		return FieldError("account_id", "must be positive")
	}
	if len(o.IdempotencyKey) > MaxShortField || !utf8.ValidString(o.IdempotencyKey) || strings.ContainsFunc(o.IdempotencyKey, unicode.IsControl) {
		return FieldError("idempotency_key", "must be at most %d bytes of printable UTF-8", MaxShortField)
	}
	for _, p := range o.Parts {
		if p.Payload != "" {
			return FieldError("parts", "payload is only set on a contact's answer")
		}
	}
	if err := validateMeta(o.Meta); err != nil {
		return err
	}
	return ValidateParts(o.Parts)
}

// Keys of Meta that several channels and the console understand.
const (
	// MetaSubject is the subject of an email.
	MetaSubject = "subject"
	// MetaEditedAt is when a contact last edited the message (RFC 3339),
	// and MetaOriginal the text it had first.
	MetaEditedAt = "edited_at"
	MetaOriginal = "original"
	// MetaKeywordReply marks a channel's answer to an SMS carrier keyword
	// (HELP), which carriers require even for a number that opted out;
	// its value is the keyword; and the confirmation of an opt-out the
	// contact asked for in a message (notify/prefs). Only channels and
	// that confirmation set it.
	MetaKeywordReply = "keyword_reply"
	// MetaNoReply marks an inbound message that nothing automatic may
	// answer, such as an autoresponder's or a mailing list's email (RFC
	// 3834); its value says why. The bot does not see it; agents do.
	MetaNoReply = "no_reply"
)

// Limits of Meta.
const (
	MaxMetaKeys  = 16
	MaxMetaBytes = 16 << 10
)

var metaKeyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func validateMeta(m map[string]string) error {
	if len(m) > MaxMetaKeys {
		return FieldError("meta", "has %d keys; at most %d", len(m), MaxMetaKeys)
	}
	size := 0
	for k, v := range m {
		if !metaKeyRE.MatchString(k) {
			return FieldError("meta", "key %q must be lower-case letters, digits and _, at most 64", k)
		}
		if !utf8.ValidString(v) {
			return FieldError("meta."+k, "must be UTF-8")
		}
		size += len(k) + len(v)
	}
	if size > MaxMetaBytes {
		return &Error{Code: ETOOLARGE, Field: "meta", Message: fmt.Sprintf("meta is at most %d bytes", MaxMetaBytes)}
	}
	return nil
}

// ValidateParts checks message content against the limits above.
func ValidateParts(parts []Part) error {
	if len(parts) == 0 {
		return FieldError("parts", "a message needs at least one part")
	}
	if len(parts) > MaxParts {
		return &Error{Code: ETOOLARGE, Field: "parts", Message: fmt.Sprintf("a message has at most %d parts", MaxParts)}
	}
	total := 0
	for i := range parts {
		p := &parts[i]
		f := fmt.Sprintf("parts[%d]", i)
		if err := checkText(f+".text", p.Text, MaxTextBytes); err != nil {
			return err
		}
		total += len(p.Text)
		if total > MaxTextBytes {
			return &Error{Code: ETOOLARGE, Field: f + ".text", Message: fmt.Sprintf("a message holds at most %d bytes of text", MaxTextBytes)}
		}
		if err := checkText(f+".payload", p.Payload, MaxShortField); err != nil {
			return err
		}
		set := 0
		for _, b := range []bool{p.Media != nil, len(p.Buttons) > 0, p.Location != nil, p.Contact != nil} {
			if b {
				set++
			}
		}
		if set > 1 {
			return FieldError(f, "a part holds one of media, buttons, location or contact")
		}
		var err error
		switch p.Type {
		case PartText:
			if set != 0 {
				return FieldError(f, "a text part holds only text")
			}
			if strings.TrimSpace(p.Text) == "" {
				return FieldError(f+".text", "is empty")
			}
		case PartMedia:
			err = validateMedia(f+".media", p.Media)
		case PartButtons:
			err = validateButtons(f+".buttons", p.Buttons)
		case PartLocation:
			err = validateLocation(f+".location", p.Location)
		case PartContact:
			err = validateContactCard(f+".contact", p.Contact)
		default:
			return FieldError(f+".type", "must be text, media, buttons, location or contact")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func validateMedia(f string, m *Media) error {
	if m == nil {
		return FieldError(f, "is required")
	}
	m.ContentType = strings.ToLower(strings.TrimSpace(m.ContentType))
	if !contentTypeRE.MatchString(m.ContentType) {
		return FieldError(f+".content_type", "must be a media type such as image/jpeg")
	}
	if m.Size < 0 {
		return FieldError(f+".size", "must not be negative")
	}
	if m.Size > MaxMediaSize {
		return &Error{Code: ETOOLARGE, Field: f + ".size", Message: fmt.Sprintf("media is at most %d bytes", MaxMediaSize)}
	}
	switch {
	case m.URL != "" && m.Key != "":
		return FieldError(f, "needs one of url or key, not both")
	case m.URL == "" && m.Key == "" && m.Note == "":
		return FieldError(f, "needs a url or a key, or a note that says why the file was not kept")
	}
	if err := checkText(f+".note", m.Note, MaxShortField); err != nil {
		return err
	}
	if m.URL != "" {
		u, err := url.Parse(m.URL)
		if err != nil || len(m.URL) > MaxURLLength || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return FieldError(f+".url", "must be an absolute http or https URL of at most %d bytes", MaxURLLength)
		}
	}
	if err := checkText(f+".key", m.Key, MaxShortField); err != nil {
		return err
	}
	return checkText(f+".filename", m.Filename, MaxShortField)
}

func validateButtons(f string, bs []Button) error {
	if len(bs) == 0 {
		return FieldError(f, "needs at least one button")
	}
	if len(bs) > MaxButtons {
		return FieldError(f, "at most %d buttons", MaxButtons)
	}
	seen := map[string]bool{}
	for i := range bs {
		b := &bs[i]
		bf := fmt.Sprintf("%s[%d]", f, i)
		b.Title = strings.TrimSpace(b.Title)
		if b.Title == "" || utf8.RuneCountInString(b.Title) > MaxButtonTitle {
			return FieldError(bf+".title", "must be 1 to %d characters", MaxButtonTitle)
		}
		if err := checkText(bf+".title", b.Title, MaxShortField); err != nil {
			return err
		}
		if b.ID == "" {
			b.ID = b.Title
		}
		if err := checkText(bf+".id", b.ID, MaxShortField); err != nil {
			return err
		}
		if seen[b.ID] {
			return FieldError(bf+".id", "duplicate button id %q", b.ID)
		}
		seen[b.ID] = true
	}
	return nil
}

func validateLocation(f string, l *Location) error {
	if l == nil {
		return FieldError(f, "is required")
	}
	if math.IsNaN(l.Latitude) || l.Latitude < -90 || l.Latitude > 90 {
		return FieldError(f+".latitude", "must be between -90 and 90")
	}
	if math.IsNaN(l.Longitude) || l.Longitude < -180 || l.Longitude > 180 {
		return FieldError(f+".longitude", "must be between -180 and 180")
	}
	if err := checkText(f+".name", l.Name, MaxShortField); err != nil {
		return err
	}
	return checkText(f+".address", l.Address, MaxShortField)
}

func validateContactCard(f string, c *ContactCard) error {
	if c == nil {
		return FieldError(f, "is required")
	}
	if err := checkName(f+".name", &c.Name, false); err != nil {
		return err
	}
	if c.Name == "" && len(c.Phones) == 0 && len(c.Emails) == 0 {
		return FieldError(f, "needs a name, a phone or an email")
	}
	if len(c.Phones) > 10 || len(c.Emails) > 10 {
		return FieldError(f, "at most 10 phones and 10 emails")
	}
	for i, s := range append(append([]string(nil), c.Phones...), c.Emails...) {
		if err := checkText(fmt.Sprintf("%s[%d]", f, i), s, MaxShortField); err != nil {
			return err
		}
	}
	return nil
}

// ValidateAttributes checks contact attributes.
func ValidateAttributes(attrs map[string]string) error {
	if len(attrs) > MaxAttributes {
		return FieldError("attributes", "at most %d attributes", MaxAttributes)
	}
	for k, v := range attrs {
		if !keyRE.MatchString(k) || len(k) > 64 {
			return FieldError("attributes", "attribute names are 1 to 64 letters, digits or _.:@+=/-")
		}
		if err := checkText("attributes."+k, v, MaxAttributeValue); err != nil {
			return err
		}
	}
	return nil
}

// NormalizeName trims a display name and checks its length.
func NormalizeName(field, s string) (string, error) {
	err := checkName(field, &s, false)
	return s, err
}

// checkName trims a display name and checks its length.
func checkName(field string, s *string, required bool) error {
	*s = strings.TrimSpace(*s)
	if required && *s == "" {
		return FieldError(field, "is required")
	}
	if utf8.RuneCountInString(*s) > MaxNameLength {
		return FieldError(field, "must be at most %d characters", MaxNameLength)
	}
	return checkText(field, *s, 4*MaxNameLength)
}

// checkText rejects invalid UTF-8, NUL bytes (which PostgreSQL cannot store)
// and text longer than max bytes.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return &Error{Code: ETOOLARGE, Field: field, Message: fmt.Sprintf("must be at most %d bytes", max)}
	}
	if !utf8.ValidString(s) {
		return FieldError(field, "is not valid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return FieldError(field, "must not contain NUL characters")
	}
	return nil
}

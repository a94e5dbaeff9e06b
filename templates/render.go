package templates

import (
	"cmp"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"conversa/conversation"
)

// Length rules per channel, in characters unless said otherwise.
const (
	// MaxWhatsApp is the most a free-form WhatsApp message may hold.
	MaxWhatsApp = 1600
	// MaxTelegram is the most a Telegram message may hold, counted in
	// UTF-16 units as Telegram counts.
	MaxTelegram = 4096
	// MaxWebchat is the most a web-chat (and api channel) message holds,
	// as the widget takes it.
	MaxWebchat = 4096
	// MaxVoice bounds what is spoken: about a minute of speech.
	MaxVoice = 1000
	// MaxSubject bounds an email's subject.
	MaxSubject = 200
)

// Request asks for a template rendered for a channel and a language.
type Request struct {
	Channel conversation.ChannelKind `json:"channel"`
	// Language is the contact's language tag ("es-CO", "en"); empty or
	// unreadable skips to Fallback.
	Language string `json:"language,omitempty"`
	// Fallback is the tenant's default language.
	Fallback string `json:"fallback,omitempty"`
	// Data are the variables' values; names the template does not declare
	// are ignored.
	Data map[string]string `json:"data,omitempty"`
}

// Rendered is a template rendered for one channel.
type Rendered struct {
	Purpose string `json:"purpose"`
	// Version is the stored version rendered, when Service rendered it.
	Version int64 `json:"version,omitempty"`
	// Channel is the channel rendered for; Variant the variant chosen, as
	// "channel/language", and VariantIndex its place in the definition.
	Channel      conversation.ChannelKind `json:"channel"`
	Language     string                   `json:"language"`
	Variant      string                   `json:"variant"`
	VariantIndex int                      `json:"variant_index"`
	Subject      string                   `json:"subject,omitempty"`
	Text         string                   `json:"text"`
	HTML         string                   `json:"html,omitempty"`
	// ContentSid and ContentVariables are the approved WhatsApp template
	// and the values of its {{1}}, {{2}}, … in order.
	ContentSid       string   `json:"content_sid,omitempty"`
	ContentVariables []string `json:"content_variables,omitempty"`
	// SMS is how the text travels as an SMS, for the sms channel.
	SMS    *SMSCount `json:"sms,omitempty"`
	Urgent bool      `json:"urgent,omitempty"`
}

// Render picks the variant for r.Channel and r.Language and renders it
// with r.Data. The variant is the first of, for the contact's language
// and then for the tenant's default: the channel's variant in the exact
// language (es-CO), in its base language (es), in another region of it
// (es-MX); then the same on the "default" channel.
//
// Returns ENOTFOUND when no variant serves the channel in either
// language; EINVALID naming "data.<name>" when a required variable is
// empty; EINVALID when the data breaks a function (a date that is not
// one); ETOOLARGE when the result breaks the channel's length rule (too
// many SMS segments, a WhatsApp text longer than 1600 characters).
// Data is escaped in the HTML part; elsewhere it is used as is, stripped
// of control characters.
func (t *Template) Render(r Request) (Rendered, error) {
	if !r.Channel.Valid() {
		return Rendered{}, conversation.FieldError("channel", "%q is not a channel", r.Channel)
	}
	v := t.choose(r.Channel, r.Language, r.Fallback)
	if v == nil {
		return Rendered{}, conversation.Errorf(conversation.ENOTFOUND,
			"template %s has no variant for channel %s in language %s or %s", t.Purpose, r.Channel, orNone(r.Language), orNone(r.Fallback))
	}
	return renderVariant(&t.Definition, v, r.Channel, r.Data)
}

// Preview renders like Render with the declared samples, which r.Data
// overrides.
func (t *Template) Preview(r Request) (Rendered, error) {
	data := t.Samples()
	maps.Copy(data, r.Data)
	r.Data = data
	return t.Render(r)
}

// Samples returns the declared variables' samples.
func (t *Template) Samples() map[string]string {
	data := make(map[string]string, len(t.Variables))
	for name, v := range t.Variables {
		data[name] = v.Sample
	}
	return data
}

func orNone(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// choose returns the variant for a channel and language, or nil.
func (t *Template) choose(ch conversation.ChannelKind, lang, fallback string) *variant {
	for _, tag := range []string{CanonicalLanguage(lang), CanonicalLanguage(fallback)} {
		if tag == "" {
			continue
		}
		for _, c := range []conversation.ChannelKind{ch, AnyChannel} {
			if v := t.pick(c, tag); v != nil {
				return v
			}
		}
	}
	return nil
}

// pick returns the variant of channel c in language tag: the exact tag,
// else its base language, else another region of the base language (the
// first in tag order); or nil.
func (t *Template) pick(c conversation.ChannelKind, tag string) *variant {
	base := baseLanguage(tag)
	var exact, sameBase, region *variant
	for _, v := range t.variants {
		switch {
		case v.Channel != c:
		case v.Language == tag:
			exact = v
		case v.Language == base:
			sameBase = v
		case baseLanguage(v.Language) == base && (region == nil || v.Language < region.Language):
			region = v
		}
	}
	return cmp.Or(exact, sameBase, region)
}

// renderError is a part of a variant that failed to render, with the
// position in its text (line and column from 1, 0 unknown).
type renderError struct {
	part      string
	line, col int
	msg       string
}

func (e *renderError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("%s: line %d, column %d: %s", e.part, e.line, e.col, e.msg)
	}
	return e.part + ": " + e.msg
}

// errTooLong stops a rendering that outgrows MaxPartSize.
var errTooLong = errors.New("too long")

// limitWriter fails a write that would take it past MaxPartSize bytes.
type limitWriter struct{ b strings.Builder }

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxPartSize {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

// execErrorRE reads text/template's execution errors: "template: name:line:col: executing ... at <...>: message".
var execErrorRE = regexp.MustCompile(`^template: [^:]*:(\d+):(\d+): executing "[^"]*" at <.*?>: (.*)$`)

// execute renders one part of a variant.
func execute(part, src string, exec func(io.Writer) error) (string, error) {
	var w limitWriter
	err := exec(&w)
	if err == nil {
		return w.b.String(), nil
	}
	if errors.Is(err, errTooLong) {
		return "", &conversation.Error{Code: conversation.ETOOLARGE, Field: part,
			Message: fmt.Sprintf("is longer than %d bytes when rendered", MaxPartSize)}
	}
	re := &renderError{part: part, msg: err.Error()}
	if he, ok := errors.AsType[*htmltemplate.Error](err); ok {
		re.msg = he.Description
		if he.ErrorCode == htmltemplate.ErrEndContext {
			re.msg = "the HTML ends inside a tag, an attribute or a comment; close it"
		}
		if he.Node != nil {
			re.line, re.col = position(src, he.Node.Position())
		} else {
			re.line = he.Line
		}
	} else if m := execErrorRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		byteCol, _ := strconv.Atoi(m[2])
		re.line, re.col, re.msg = line, byteCol, strings.TrimPrefix(m[3], "error calling ")
		if lines := strings.Split(src, "\n"); line >= 1 && line <= len(lines) && byteCol <= len(lines[line-1]) {
			// The column is a 0-based byte offset.
			re.col = utf8.RuneCountInString(lines[line-1][:max(byteCol, 0)]) + 1
		}
	}
	return "", &conversation.Error{Code: conversation.EINVALID, Field: part, Message: re.Error(), Err: re}
}

// renderVariant renders v for channel ch with data, and checks ch's
// length rule; ch AnyChannel checks the general one.
func renderVariant(d *Definition, v *variant, ch conversation.ChannelKind, data map[string]string) (Rendered, error) {
	values := make(map[string]string, len(d.Variables))
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(d.Variables)) {
		val := clean(data[name])
		if d.Variables[name].Required && strings.TrimSpace(val) == "" {
			missing = append(missing, name)
		}
		values[name] = val
	}
	if len(missing) > 0 {
		return Rendered{}, conversation.FieldError("data."+missing[0], "required variables are missing: %s", strings.Join(missing, ", "))
	}
	out := Rendered{
		Purpose: d.Purpose, Channel: ch, Language: v.Language, VariantIndex: v.index,
		Variant: string(v.Channel) + "/" + v.Language, ContentSid: v.ContentSid, Urgent: d.Urgent,
	}
	var err error
	if v.subject != nil {
		if out.Subject, err = execute("subject", v.Subject, func(w io.Writer) error { return v.subject.Execute(w, values) }); err != nil {
			return Rendered{}, err
		}
		out.Subject = strings.Join(strings.Fields(out.Subject), " ") // one header line
	}
	if out.Text, err = execute("text", v.Text, func(w io.Writer) error { return v.text.Execute(w, values) }); err != nil {
		return Rendered{}, err
	}
	if out.Text = strings.TrimSpace(out.Text); out.Text == "" {
		return Rendered{}, conversation.FieldError("text", "renders empty")
	}
	if v.html != nil {
		if out.HTML, err = execute("html", v.HTML, func(w io.Writer) error { return v.html.Execute(w, values) }); err != nil {
			return Rendered{}, err
		}
	}
	for _, name := range v.ContentVariables {
		out.ContentVariables = append(out.ContentVariables, contentValue(values[name]))
	}
	maxSegments := DefaultMaxSegments
	if v.MaxSegments > 0 {
		maxSegments = v.MaxSegments
	}
	return out, checkLength(&out, maxSegments)
}

// checkLength applies the length rule of out.Channel, and counts SMS
// segments.
func checkLength(out *Rendered, maxSegments int) error {
	chars := utf8.RuneCountInString(out.Text)
	tooLong := func(field string, n, limit int, unit string) error {
		return &conversation.Error{Code: conversation.ETOOLARGE, Field: field,
			Message: fmt.Sprintf("%s is %d %s long; %s allows %d", field, n, unit, out.Channel, limit)}
	}
	switch out.Channel {
	case conversation.ChannelSMS:
		c := CountSMS(out.Text)
		out.SMS = &c
		if c.Segments > maxSegments {
			return &conversation.Error{Code: conversation.ETOOLARGE, Field: "text",
				Message: fmt.Sprintf("text is %d SMS segments (%d %s units); at most %d are allowed", c.Segments, c.Units, c.Encoding, maxSegments)}
		}
	case conversation.ChannelWhatsApp:
		if chars > MaxWhatsApp {
			return tooLong("text", chars, MaxWhatsApp, "characters")
		}
	case conversation.ChannelTelegram:
		if n := len(utf16.Encode([]rune(out.Text))); n > MaxTelegram {
			return tooLong("text", n, MaxTelegram, "UTF-16 units")
		}
	case conversation.ChannelVoice:
		if chars > MaxVoice {
			return tooLong("text", chars, MaxVoice, "characters")
		}
	case conversation.ChannelEmail:
		if n := utf8.RuneCountInString(out.Subject); n > MaxSubject {
			return tooLong("subject", n, MaxSubject, "characters")
		}
	default: // web chat, api, and the default channel's own check
		if chars > MaxWebchat {
			return tooLong("text", chars, MaxWebchat, "characters")
		}
	}
	return nil
}

// clean prepares a data value for rendering: valid UTF-8, line breaks as
// "\n", and no control characters but tab and line feed, nor the
// bidirectional overrides that can make a text read other than it is.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case unicode.IsControl(r), '\u202a' <= r && r <= '\u202e', '\u2066' <= r && r <= '\u2069':
			return -1
		}
		return r
	}, s)
}

// contentValue prepares the value of an approved WhatsApp template's
// variable: WhatsApp refuses line breaks, tabs and more than four spaces
// in a row there.
func contentValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	for strings.Contains(s, "     ") {
		s = strings.ReplaceAll(s, "     ", "    ")
	}
	return strings.TrimSpace(s)
}

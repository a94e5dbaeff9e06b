package email

import (
	"bufio"
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jhillyerd/enmime/v2"
	"github.com/jhillyerd/enmime/v2/dsn"

	"conversa/conversation"
)

// Email is an email as the channel understands it: who wrote it, its place
// in a thread, the text to show, its files, and whether it is automated.
// Parse produces it from the raw message.
type Email struct {
	// MessageID, InReplyTo and References are message ids without angle
	// brackets. MessageID is "" when the email has none or a malformed one.
	MessageID  string   `json:"message_id,omitempty"`
	InReplyTo  string   `json:"in_reply_to,omitempty"`
	References []string `json:"references,omitempty"`
	// From is the sender's address in lower case, "" when the email names
	// no usable sender; FromName is one line.
	From     string    `json:"from"`
	FromName string    `json:"from_name,omitempty"`
	Subject  string    `json:"subject,omitempty"`
	Date     time.Time `json:"date,omitzero"`
	// Language is the primary language of Content-Language, if any.
	Language string `json:"language,omitempty"`
	// Recipients counts the addresses in To and Cc.
	Recipients int `json:"recipients"`
	// ReplyToken is the token of a reply address (local+c_<token>@…) the
	// email was sent to, unverified.
	ReplyToken string `json:"reply_token,omitempty"`
	// Text is what the sender wrote, without quoted history and signature.
	Text string `json:"text"`
	// Stripped says that quoted history or a signature was removed.
	Stripped    bool         `json:"stripped,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// Automated is why no automatic answer may go to this email (RFC 3834),
	// "" for an email a person wrote.
	Automated string `json:"automated,omitempty"`
	// Bounce is set on a delivery status notification that reports a
	// failure.
	Bounce *Bounce `json:"bounce,omitempty"`
	// Problems are what the parser found wrong and how it coped.
	Problems []string `json:"problems,omitempty"`
}

// Attachment is a file of an email, inline (an image the HTML shows) or
// attached.
type Attachment struct {
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	Inline      bool   `json:"inline,omitempty"`
	Data        []byte `json:"-"`
}

// Bounce is what a delivery status notification says of a failed email.
type Bounce struct {
	// MessageID is the Message-ID of the email that failed, "" if the
	// notification does not tell.
	MessageID  string `json:"message_id,omitempty"`
	Recipient  string `json:"recipient,omitempty"`
	Status     string `json:"status,omitempty"`
	Diagnostic string `json:"diagnostic,omitempty"`
}

// Limits of what Parse keeps.
const (
	maxTextBytes    = conversation.MaxTextBytes - 1024
	maxReferences   = 20
	maxSubjectBytes = 998
	maxMessageID    = 200
)

// Parse reads a raw email. It never fails: what it cannot read is reported
// in Problems and left out, and the caller keeps the raw email. It is safe
// for concurrent use.
func Parse(raw []byte) (e *Email) {
	e = &Email{}
	defer func() {
		// A parser bug must cost one email its structure, not the process.
		if r := recover(); r != nil {
			fallback := &Email{Problems: []string{fmt.Sprintf("the MIME parser failed (%v); read as plain text", r)}}
			parseFallback(raw, fallback)
			e = fallback
		}
	}()
	// The declared charset wins: detection mistakes short UTF-8 texts for
	// ISO-8859-1.
	parser := enmime.NewParser(enmime.SkipMalformedParts(true), enmime.MaxStoredPartErrors(10), enmime.DisableCharacterDetection(true))
	env, err := parser.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		e.Problems = append(e.Problems, "malformed MIME ("+oneLine(err.Error(), 200)+"); read as plain text")
		parseFallback(raw, e)
		return e
	}
	for _, perr := range env.Errors {
		if perr.Severe {
			e.Problems = append(e.Problems, "MIME: "+oneLine(perr.Error(), 200))
		}
	}
	h := func(name string) string { return env.GetHeader(name) }
	e.readHeader(h, env.GetHeaderValues, func(key string) ([]*mail.Address, error) { return env.AddressList(key) })
	e.Date, _ = env.Date()

	text := env.Text
	if strings.TrimSpace(text) == "" && env.HTML != "" {
		text = htmlToText(env.HTML)
	}
	e.setText(text)

	report, rerr := dsn.ParseReport(env.Root)
	isReport := strings.HasPrefix(strings.ToLower(h("Content-Type")), "multipart/report")
	if rerr != nil {
		e.Problems = append(e.Problems, "unreadable delivery report: "+oneLine(rerr.Error(), 200))
	}
	if report != nil {
		e.bounce(report, raw)
	} else if strings.EqualFold(localPart(e.From), "mailer-daemon") || strings.EqualFold(localPart(e.From), "postmaster") {
		// Not RFC 3464, but many servers bounce in plain text.
		if id := bodyMessageID(raw); id != "" && looksLikeBounce(e.Subject) {
			e.Bounce = &Bounce{MessageID: id, Diagnostic: oneLine(e.Text, 300)}
		}
	}

	for _, p := range append(append(append([]*enmime.Part(nil), env.Attachments...), env.Inlines...), env.OtherParts...) {
		ct := strings.ToLower(p.ContentType)
		if isReport && (ct == "message/delivery-status" || ct == "message/rfc822" || ct == "text/rfc822-headers" ||
			ct == "message/disposition-notification" || ct == "message/feedback-report") {
			continue // the report itself; the raw email keeps it
		}
		if ct == "" {
			ct = "application/octet-stream"
		}
		e.Attachments = append(e.Attachments, Attachment{
			Filename:    cleanFilename(p.FileName),
			ContentType: ct,
			Size:        len(p.Content),
			Inline:      p.Disposition == "inline" || (p.Disposition == "" && p.ContentID != ""),
			Data:        p.Content,
		})
	}
	e.Automated = automated(h, e)
	return e
}

// readHeader fills the header fields of e.
func (e *Email) readHeader(h func(string) string, values func(string) []string, addrs func(string) ([]*mail.Address, error)) {
	ids := msgIDs(h("Message-Id"))
	switch {
	case len(values("Message-Id")) > 1:
		e.Problems = append(e.Problems, "several Message-ID headers; the first is used")
		fallthrough
	case len(ids) > 0:
		if len(ids) > 0 {
			e.MessageID = ids[0]
		}
	}
	if e.MessageID == "" {
		e.Problems = append(e.Problems, "no valid Message-ID")
	}
	if ids := msgIDs(h("In-Reply-To")); len(ids) > 0 {
		e.InReplyTo = ids[0]
	}
	refs := msgIDs(h("References"))
	if len(refs) > maxReferences {
		// Keep the root of the thread and the latest ones (RFC 5322 3.6.4).
		refs = append(refs[:1:1], refs[len(refs)-maxReferences+1:]...)
	}
	e.References = refs

	subject := h("Subject")
	if strings.ContainsAny(subject, "\r\n") {
		e.Problems = append(e.Problems, "line breaks in Subject removed")
	}
	e.Subject = truncate(oneLine(subject, 4*maxSubjectBytes), maxSubjectBytes)

	for _, name := range []string{"From", "Sender", "Return-Path"} {
		raw := h(name)
		if raw == "" {
			continue
		}
		list, err := addrs(name)
		if name == "Return-Path" && strings.TrimSpace(raw) == "<>" {
			break
		}
		if err != nil || len(list) == 0 {
			// A display name the parser refuses (a line break in an encoded
			// word, say) does not make the address unusable.
			if m := angleAddrRE.FindStringSubmatch(raw); m != nil {
				list, err = []*mail.Address{{Name: strings.Trim(strings.TrimSpace(m[1]), `"`), Address: m[2]}}, nil
				e.Problems = append(e.Problems, "malformed "+name+" header; its address used")
			}
		}
		if err != nil || len(list) == 0 {
			e.Problems = append(e.Problems, fmt.Sprintf("unreadable %s header %q", name, oneLine(raw, 100)))
			continue
		}
		addr, err := conversation.NormalizeAddress(conversation.ChannelEmail, list[0].Address)
		if err != nil || !strings.Contains(addr, "@") {
			e.Problems = append(e.Problems, fmt.Sprintf("unusable %s address %q", name, oneLine(list[0].Address, 100)))
			continue
		}
		if strings.ContainsAny(list[0].Name, "\r\n") {
			e.Problems = append(e.Problems, "line breaks in the "+name+" name removed")
		}
		e.From, e.FromName = addr, truncate(oneLine(list[0].Name, 800), 200)
		if name != "From" {
			e.Problems = append(e.Problems, "sender taken from "+name)
		}
		break
	}
	if e.From == "" {
		e.Problems = append(e.Problems, "no usable sender")
	}
	for _, name := range []string{"To", "Cc"} {
		if list, err := addrs(name); err == nil {
			e.Recipients += len(list)
		}
	}
	for _, name := range []string{"Delivered-To", "X-Original-To", "To", "Cc"} {
		for _, v := range values(name) {
			if t := findToken(v); t != "" {
				e.ReplyToken = t
				break
			}
		}
		if e.ReplyToken != "" {
			break
		}
	}
	if lang, err := conversation.NormalizeLanguage("language", strings.TrimSpace(strings.Split(h("Content-Language"), ",")[0])); err == nil {
		e.Language = lang
	}
}

// setText cleans, strips and bounds the text to show.
func (e *Email) setText(text string) {
	text = cleanText(text)
	stripped, did := stripQuotes(text)
	if did && strings.TrimSpace(stripped) != "" {
		text, e.Stripped = stripped, true
	}
	text = strings.TrimSpace(text)
	if len(text) > maxTextBytes {
		text = truncate(text, maxTextBytes-64) + "\n[…] (the rest is in the original email)"
		e.Problems = append(e.Problems, "text cut to fit a message")
	}
	e.Text = text
}

// parseFallback reads what it can of an email the MIME parser refused:
// the header with net/mail, and the body as text when it looks like text.
func parseFallback(raw []byte, e *Email) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		// Not even a header: show what there is, if it is text.
		if utf8.Valid(raw) {
			e.setText(string(raw))
		}
		e.Problems = append(e.Problems, "no readable header")
		e.Automated = "unreadable email"
		return
	}
	dec := new(mime.WordDecoder)
	h := func(name string) string {
		v := msg.Header.Get(name)
		if d, err := dec.DecodeHeader(v); err == nil {
			return d
		}
		return v
	}
	e.readHeader(h, func(name string) []string { return msg.Header[textproto.CanonicalMIMEHeaderKey(name)] },
		func(name string) ([]*mail.Address, error) { return msg.Header.AddressList(name) })
	e.Date, _ = msg.Header.Date()
	body := make([]byte, 0, 4096)
	buf := bufio.NewReader(msg.Body)
	for len(body) < maxTextBytes {
		b, err := buf.ReadByte()
		if err != nil {
			break
		}
		body = append(body, b)
	}
	if utf8.Valid(body) && !bytes.Contains(body, []byte{0}) {
		e.setText(string(body))
	}
	e.Automated = automated(h, e)
}

var angleAddrRE = regexp.MustCompile(`^([^<>]*)<([^<>\s@]+@[^<>\s@]+)>\s*$`)

var msgIDRE = regexp.MustCompile(`<([^<>\s]+)>`)

// msgIDs returns the message ids in a header value, without brackets,
// skipping malformed ones. A bare id without brackets is accepted alone.
func msgIDs(v string) []string {
	var ids []string
	for _, m := range msgIDRE.FindAllStringSubmatch(v, -1) {
		if validID(m[1]) {
			ids = append(ids, m[1])
		}
	}
	if len(ids) == 0 {
		if v = strings.TrimSpace(v); validID(v) && strings.Contains(v, "@") {
			ids = append(ids, v)
		}
	}
	return ids
}

func validID(id string) bool {
	if id == "" || len(id) > maxMessageID {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

var headerIDRE = regexp.MustCompile(`(?im)^message-id:[ \t]*<([^<>\s]+)>`)

// bodyMessageID returns the first Message-ID header found in the body of
// raw, such as the header of a returned email inside a bounce.
func bodyMessageID(raw []byte) string {
	i := bytes.Index(raw, []byte("\n\n"))
	if j := bytes.Index(raw, []byte("\r\n\r\n")); j >= 0 && (i < 0 || j < i) {
		i = j
	}
	if i < 0 {
		return ""
	}
	if m := headerIDRE.FindSubmatch(raw[i:]); m != nil && validID(string(m[1])) {
		return string(m[1])
	}
	return ""
}

func looksLikeBounce(subject string) bool {
	s := strings.ToLower(subject)
	for _, w := range []string{"undeliver", "returned", "failure", "delivery status", "not delivered", "no se pudo entregar", "devuelto", "rechazado"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// bounce reads a delivery status notification.
func (e *Email) bounce(r *dsn.Report, raw []byte) {
	var failed *Bounce
	for _, rcpt := range r.DeliveryStatus.RecipientDSNs {
		if !dsn.IsFailed(rcpt) {
			continue
		}
		b := &Bounce{Status: oneLine(rcpt.Get("Status"), 50), Diagnostic: oneLine(rcpt.Get("Diagnostic-Code"), 500)}
		if _, a, ok := strings.Cut(rcpt.Get("Final-Recipient"), ";"); ok {
			b.Recipient = strings.ToLower(oneLine(a, 200))
		}
		failed = b
		break
	}
	if failed == nil {
		return // delayed or delivered: nothing failed yet
	}
	if len(r.OriginalMessage) > 0 {
		if msg, err := mail.ReadMessage(bytes.NewReader(r.OriginalMessage)); err == nil {
			if ids := msgIDs(msg.Header.Get("Message-Id")); len(ids) > 0 {
				failed.MessageID = ids[0]
			}
		}
	}
	if failed.MessageID == "" {
		// text/rfc822-headers, or a report without the original: the
		// second Message-ID in the raw email is the returned one.
		failed.MessageID = bodyMessageID(raw)
	}
	if failed.MessageID == "" {
		failed.MessageID = e.InReplyTo
	}
	e.Bounce = failed
}

// cleanText makes text one kind of line break, valid UTF-8, without control
// characters other than tab and newline, and without trailing spaces.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\u00a0':
			return ' '
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u200b' || r == '\ufeff':
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// oneLine returns s on one line without control characters, at most max
// bytes.
func oneLine(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	return truncate(s, max)
}

// truncate cuts s to at most max bytes on a character boundary.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

func cleanFilename(name string) string {
	name = oneLine(name, 400)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return truncate(strings.TrimSpace(name), conversation.MaxShortField)
}

func localPart(addr string) string {
	l, _, _ := strings.Cut(addr, "@")
	return l
}

var tokenRE = regexp.MustCompile(`(?i)\+c_([0-9]{1,19}x[0-9a-f]{10})@`)

// findToken returns the reply token of a reply address in v.
func findToken(v string) string {
	if m := tokenRE.FindStringSubmatch(v); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}

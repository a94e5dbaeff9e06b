package twilio

import (
	"errors"
	"fmt"
	"math"
	"mime"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"conversa/conversation"
)

// maxMedia is the most files one Twilio message carries (MMS).
const maxMedia = 10

// sidRE matches a Twilio resource id: two letters and 32 characters.
var sidRE = regexp.MustCompile(`^[A-Z]{2}[0-9A-Za-z]{32}$`)

// errNoContent is a message with nothing this channel can store, such as
// a WhatsApp reaction.
var errNoContent = errors.New("the message has no text, file or location")

// address reads a Twilio address, "+14155238886" or
// "whatsapp:+14155238886", into its channel kind and E.164 number.
func address(field, s string) (conversation.ChannelKind, string, error) {
	kind := conversation.ChannelSMS
	if rest, ok := strings.CutPrefix(s, "whatsapp:"); ok {
		kind, s = conversation.ChannelWhatsApp, rest
	}
	if !e164RE.MatchString(s) {
		return "", "", conversation.FieldError(field, "%.64q is not an E.164 phone number or whatsapp: address", s)
	}
	return kind, s, nil
}

// parseInbound reads the form of Twilio's incoming-message webhook into
// an Inbound. Media parts carry Twilio's URL of the file, which the caller
// downloads. Returns EINVALID for a malformed form and errNoContent for a
// message with nothing to store. A returned Inbound passes Validate.
func parseInbound(form url.Values) (conversation.Inbound, error) {
	kind, to, err := address("To", form.Get("To"))
	if err != nil {
		return conversation.Inbound{}, err
	}
	fromKind, from, err := address("From", form.Get("From"))
	if err != nil {
		return conversation.Inbound{}, err
	}
	if fromKind != kind {
		return conversation.Inbound{}, conversation.FieldError("From", "is a %s address but To is a %s address", fromKind, kind)
	}
	sid := form.Get("MessageSid")
	if !sidRE.MatchString(sid) {
		return conversation.Inbound{}, conversation.FieldError("MessageSid", "is not a Twilio message id")
	}
	in := conversation.Inbound{Channel: kind, Account: to, From: from, ProviderID: sid}
	if kind == conversation.ChannelWhatsApp {
		in.FromName = form.Get("ProfileName")
	}

	body := form.Get("Body")
	var parts []conversation.Part
	if lat, lng := form.Get("Latitude"), form.Get("Longitude"); lat != "" || lng != "" {
		loc, err := parseLocation(lat, lng)
		if err != nil {
			return conversation.Inbound{}, err
		}
		loc.Name, loc.Address = form.Get("Label"), form.Get("Address")
		parts = append(parts, conversation.Part{Type: conversation.PartLocation, Location: loc})
	}
	n := 0
	if s := form.Get("NumMedia"); s != "" {
		if n, err = strconv.Atoi(s); err != nil || n < 0 || n > maxMedia {
			return conversation.Inbound{}, conversation.FieldError("NumMedia", "must be a number from 0 to %d", maxMedia)
		}
	}
	for i := range n {
		m, err := parseMedia(form, i)
		if err != nil {
			return conversation.Inbound{}, err
		}
		p := conversation.Part{Type: conversation.PartMedia, Media: m}
		if i == 0 {
			p.Text, body = body, "" // the caption
		}
		parts = append(parts, p)
	}
	payload := form.Get("ButtonPayload")
	if body == "" {
		body = form.Get("ButtonText")
	}
	if body == "" && n == 0 {
		body = payload
	}
	if strings.TrimSpace(body) != "" {
		parts = append(parts, conversation.Part{Type: conversation.PartText, Text: body, Payload: payload})
	}
	if len(parts) == 0 {
		return conversation.Inbound{}, errNoContent
	}
	in.Parts = parts
	if err := in.Validate(); err != nil {
		return conversation.Inbound{}, err
	}
	return in, nil
}

func parseLocation(lat, lng string) (*conversation.Location, error) {
	la, err1 := strconv.ParseFloat(lat, 64)
	lo, err2 := strconv.ParseFloat(lng, 64)
	if err1 != nil || err2 != nil || math.IsNaN(la) || math.IsNaN(lo) || math.Abs(la) > 90 || math.Abs(lo) > 180 {
		return nil, conversation.FieldError("Latitude", "Latitude and Longitude must be a point in degrees")
	}
	return &conversation.Location{Latitude: la, Longitude: lo}, nil
}

func parseMedia(form url.Values, i int) (*conversation.Media, error) {
	field := fmt.Sprintf("MediaUrl%d", i)
	raw := form.Get(field)
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(raw) > conversation.MaxURLLength {
		return nil, conversation.FieldError(field, "must be the http(s) URL of the file")
	}
	// A type the store cannot name is no type this channel keeps.
	ct := "application/octet-stream"
	if mt, _, err := mime.ParseMediaType(form.Get(fmt.Sprintf("MediaContentType%d", i))); err == nil && len(mt) <= 128 {
		ct = mt
	}
	return &conversation.Media{ContentType: ct, URL: raw}, nil
}

// statusReport is a status callback, read.
type statusReport struct {
	// Kind and Sender (the account key) are the sending account's.
	Kind    conversation.ChannelKind `json:"kind"`
	Sender  string                   `json:"sender"`
	SID     string                   `json:"sid"`
	Status  conversation.Status      `json:"status,omitempty"`
	Failure *conversation.Failure    `json:"failure,omitempty"`
	// Ignored says the status changes nothing Conversa records
	// (accepted, queued, sending, scheduled, receiving, received, or a
	// status Twilio added later).
	Ignored bool `json:"ignored,omitempty"`
}

// parseStatus reads the form of a status callback. Returns EINVALID for a
// malformed form.
func parseStatus(form url.Values) (statusReport, error) {
	kind, from, err := address("From", form.Get("From"))
	if err != nil {
		return statusReport{}, err
	}
	sid := form.Get("MessageSid")
	if !sidRE.MatchString(sid) {
		return statusReport{}, conversation.FieldError("MessageSid", "is not a Twilio message id")
	}
	r := statusReport{Kind: kind, Sender: from, SID: sid}
	switch s := form.Get("MessageStatus"); s {
	case "sent":
		r.Status = conversation.StatusSent
	case "delivered":
		r.Status = conversation.StatusDelivered
	case "read":
		r.Status = conversation.StatusRead
	case "undelivered", "failed", "canceled":
		r.Status = conversation.StatusFailed
		r.Failure = failure(s, form.Get("ErrorCode"), form.Get("ErrorMessage"))
	case "":
		return statusReport{}, conversation.FieldError("MessageStatus", "is required")
	default:
		r.Ignored = true
	}
	return r, nil
}

// errorTexts describe the error codes of status callbacks that people meet
// most; Twilio sends only the code.
var errorTexts = map[string]string{
	"21610": "the recipient has opted out of messages from this sender (replied STOP)",
	"30001": "Twilio's queue for the sender overflowed",
	"30002": "the Twilio account is suspended",
	"30003": "the destination handset is unreachable",
	"30004": "the message was blocked by the recipient or their carrier",
	"30005": "the destination number is unknown or no longer in service",
	"30006": "the destination is a landline or an unreachable carrier",
	"30007": "the carrier filtered the message",
	"30008": "unknown error from the carrier",
	"63016": "outside WhatsApp's 24-hour window: only an approved template can be sent",
	"63024": "the recipient is not a valid WhatsApp user",
}

func failure(status, code, msg string) *conversation.Failure {
	if len(code) > 16 || strings.Trim(code, "0123456789") != "" {
		code = ""
	}
	if msg == "" {
		msg = errorTexts[code]
	}
	if msg == "" {
		msg = "Twilio reported the message " + status
		if code != "" {
			msg += " with error " + code
		}
	}
	if len(msg) > conversation.MaxShortField {
		msg = msg[:conversation.MaxShortField]
	}
	return &conversation.Failure{Code: code, Message: strings.ReplaceAll(strings.ToValidUTF8(msg, ""), "\x00", "")}
}

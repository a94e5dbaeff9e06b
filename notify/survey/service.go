package survey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/notify"
)

// maxSubject bounds a survey's subject, in bytes; maxAnswerText the text
// of an answer kept with it, in characters.
const (
	maxSubject    = 200
	maxAnswerText = 200
)

// Notifier sends and reads notifications. *notify.Service implements it.
type Notifier interface {
	Notify(ctx context.Context, r notify.Request) (notify.Notification, error)
}

// Messages reads a conversation's messages. conversation.Store implements
// it.
type Messages interface {
	ListMessages(ctx context.Context, tenantID int64, f conversation.MessageFilter) ([]conversation.Message, error)
}

// Config configures the service.
type Config struct {
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Rival, when set, returns when the contact's latest other survey
	// still waiting for an answer (a case's survey) was asked, zero when
	// there is none: an answer belongs to the survey asked last, so this
	// service leaves it when the other one is more recent.
	Rival func(ctx context.Context, tenantID, contactID int64) (time.Time, error)
}

// Service sends surveys, takes their answers and reports them. It is safe
// for concurrent use.
type Service struct {
	store    Store
	notifier Notifier
	messages Messages
	cfg      Config
}

var _ conversation.Interceptor = (*Service)(nil)

// New returns the survey service.
func New(store Store, notifier Notifier, messages Messages, cfg Config) (*Service, error) {
	if store == nil || notifier == nil || messages == nil {
		return nil, errors.New("survey: the service needs a store, a notifier and messages")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, notifier: notifier, messages: messages, cfg: cfg}, nil
}

// Request asks to send a survey to a contact.
type Request struct {
	TenantID  int64
	ContactID int64
	Kind      Kind
	// Purpose is the template that asks; default DefaultPurpose(Kind). It
	// must be a purpose of the kind (see KindOf).
	Purpose string
	// Subject is what the survey asks about, optional: "conversation:<id>",
	// "case:<id>", "campaign:<id>" or "topic:<text>".
	Subject string
	// Data are the template's variables; a topic subject is also the
	// variable "topic" unless Data sets it.
	Data map[string]string
	// TTL is how long after it is sent the survey takes answers; default
	// DefaultTTL, at most MaxTTL.
	TTL time.Duration
	// IdempotencyKey, when set, makes a retry return the first survey.
	IdempotencyKey string
	// Channels, when set, are the channels to try, in order.
	Channels []conversation.ChannelKind
}

// validate checks r and fills in its defaults.
func (r *Request) validate() error {
	if !r.Kind.Valid() {
		return conversation.FieldError("kind", "must be csat or nps")
	}
	if r.Purpose == "" {
		r.Purpose = DefaultPurpose(r.Kind)
	}
	if k, ok := KindOf(r.Purpose); !ok || k != r.Kind {
		return conversation.FieldError("purpose", "a %s survey's purpose is %s or starts with %s_", r.Kind, DefaultPurpose(r.Kind), DefaultPurpose(r.Kind))
	}
	if r.TTL == 0 {
		r.TTL = DefaultTTL
	}
	if r.TTL < time.Hour || r.TTL > MaxTTL {
		return conversation.FieldError("expires_in_hours", "must be from 1 to %d hours", int(MaxTTL.Hours()))
	}
	return ValidSubject(r.Subject)
}

// ValidSubject checks a survey's subject: empty, or a known prefix and at
// most 200 bytes of printable UTF-8. Returns EINVALID naming "subject".
func ValidSubject(subject string) error {
	if subject == "" {
		return nil
	}
	if len(subject) > maxSubject || !utf8.ValidString(subject) || strings.ContainsFunc(subject, unicode.IsControl) {
		return conversation.FieldError("subject", "must be at most %d bytes of printable UTF-8", maxSubject)
	}
	for _, p := range []string{SubjectConversation, SubjectCase, SubjectCampaign} {
		if rest, ok := strings.CutPrefix(subject, p); ok {
			if n, err := strconv.ParseInt(rest, 10, 64); err != nil || n <= 0 || strconv.FormatInt(n, 10) != rest {
				return conversation.FieldError("subject", "%q: %s is followed by an id", subject, p)
			}
			return nil
		}
	}
	if rest, ok := strings.CutPrefix(subject, SubjectTopic); ok && strings.TrimSpace(rest) != "" {
		return nil
	}
	return conversation.FieldError("subject", "%q must be conversation:<id>, case:<id>, campaign:<id> or topic:<text>", subject)
}

// Send validates a request and sends its survey as a notification, then
// registers the survey, scheduled until the notification's job sends it.
// Returns EINVALID naming the field of a bad request (including what the
// notification service refuses: a purpose without a template), ENOTFOUND
// naming contact_id for a contact that is not the tenant's, and ECONFLICT
// naming idempotency_key when the key was used for another request. A
// retry with the same key and request returns the first survey.
func (s *Service) Send(ctx context.Context, r Request) (Survey, error) {
	if err := r.validate(); err != nil {
		return Survey{}, err
	}
	data := r.Data
	if topic, ok := strings.CutPrefix(r.Subject, SubjectTopic); ok && data["topic"] == "" {
		data = maps.Clone(data)
		if data == nil {
			data = map[string]string{}
		}
		data["topic"] = topic
	}
	key := ""
	if r.IdempotencyKey != "" {
		key = "survey:" + r.IdempotencyKey
	}
	n, err := s.notifier.Notify(ctx, notify.Request{TenantID: r.TenantID, ContactID: r.ContactID, Purpose: r.Purpose,
		Data: data, IdempotencyKey: key, Channels: r.Channels})
	if err != nil {
		return Survey{}, err
	}
	sv, created, err := s.store.InsertSurvey(ctx, Survey{TenantID: r.TenantID, ContactID: r.ContactID, Kind: r.Kind,
		Purpose: r.Purpose, Subject: r.Subject, NotificationID: n.ID, Status: StatusScheduled, TTL: r.TTL})
	if err != nil {
		return Survey{}, fmt.Errorf("store survey: %w", err)
	}
	if !created && (sv.Kind != r.Kind || sv.Subject != r.Subject || sv.TTL != r.TTL) {
		return Survey{}, &conversation.Error{Code: conversation.ECONFLICT, Field: "idempotency_key",
			Message: fmt.Sprintf("idempotency key %q was used for another survey (%d)", r.IdempotencyKey, sv.ID)}
	}
	if n.Status != notify.StatusScheduled && sv.Status == StatusScheduled {
		// A retry after the notification's job ran: catch up.
		if err := s.NotificationDone(ctx, n); err != nil {
			return Survey{}, err
		}
		if sv, err = s.store.Survey(ctx, r.TenantID, sv.ID); err != nil {
			return Survey{}, err
		}
	}
	sv.Status = sv.statusAt(s.cfg.Now())
	return sv, nil
}

// NotificationDone records what became of a survey's notification, once
// its job decided it: the survey is sent, with its channel and expiry, or
// failed. A notification of a survey's purpose that no survey registered
// (a campaign's, or one sent through the notification API) registers one,
// with the default expiry and, for a campaign's, the campaign as its
// subject. Other notifications are ignored. Calling it again does nothing.
func (s *Service) NotificationDone(ctx context.Context, n notify.Notification) error {
	kind, ok := KindOf(n.Purpose)
	if !ok || n.Status == notify.StatusScheduled {
		return nil
	}
	sv, err := s.store.SurveyOfNotification(ctx, n.TenantID, n.ID)
	if conversation.IsNotFound(err) {
		subject := ""
		if c := campaignOf(n.IdempotencyKey); c != 0 {
			subject = SubjectCampaign + strconv.FormatInt(c, 10)
		}
		sv, _, err = s.store.InsertSurvey(ctx, Survey{TenantID: n.TenantID, ContactID: n.ContactID, Kind: kind, Purpose: n.Purpose,
			Subject: subject, NotificationID: n.ID, Status: StatusScheduled, TTL: DefaultTTL})
	}
	if err != nil {
		return fmt.Errorf("survey of notification %d: %w", n.ID, err)
	}
	if sv.Status != StatusScheduled {
		return nil
	}
	sv.Status = StatusFailed
	if n.Status == notify.StatusSent {
		sent := n.SentAt
		if sent.IsZero() {
			sent = s.cfg.Now()
		}
		sv.Status, sv.Channel, sv.ConversationID, sv.MessageID = StatusSent, n.Channel, n.ConversationID, n.MessageID
		sv.SentAt, sv.ExpiresAt = sent, sent.Add(sv.TTL)
	}
	if _, err := s.store.MarkSurveySent(ctx, sv); err != nil && !conversation.IsConflict(err) {
		return fmt.Errorf("record survey %d sent: %w", sv.ID, err)
	}
	return nil
}

// Get returns a survey. Returns ENOTFOUND unless it is the tenant's.
func (s *Service) Get(ctx context.Context, tenantID, id int64) (Survey, error) {
	sv, err := s.store.Survey(ctx, tenantID, id)
	sv.Status = sv.statusAt(s.cfg.Now())
	return sv, err
}

// List returns the tenant's surveys that match f, newest first.
func (s *Service) List(ctx context.Context, tenantID int64, f Filter) ([]Survey, error) {
	list, err := s.store.ListSurveys(ctx, tenantID, f)
	now := s.cfg.Now()
	for i := range list {
		list[i].Status = list[i].statusAt(now)
	}
	return list, err
}

// Intercept implements conversation.Interceptor: it takes a customer's
// answer to the survey they were sent last, whatever channel they write
// on, before the bot sees it. The answer is a score ParseAnswer reads for
// the survey's kind; it counts when the survey is still waiting (sent, not
// expired, not answered), no other survey of the contact (Config.Rival)
// was asked since, and the last message the contact got in this
// conversation is the survey, so that a "2" answering a bot's menu stays
// the bot's (a button's payload of the kind always counts). The score is
// recorded once, with the time, the channel and the message, and the
// customer thanked. Anything else goes to the bot. A retried message is
// answered the same and recorded once.
func (s *Service) Intercept(ctx context.Context, t conversation.Turn) (bool, [][]conversation.Part, error) {
	if t.Message.Direction != conversation.DirectionIn {
		return false, nil, nil
	}
	text, payload := answerOf(t.Message)
	_, csat := ParseAnswer(KindCSAT, text, payload)
	_, nps := ParseAnswer(KindNPS, text, payload)
	if !csat && !nps {
		return false, nil, nil // most messages: no read of the store
	}
	lang := languageOf(t)
	_, err := s.store.SurveyAnsweredBy(ctx, t.Tenant.ID, t.Message.ID)
	if err == nil {
		return true, thanks(lang), nil // a retried message
	}
	if !conversation.IsNotFound(err) {
		return false, nil, fmt.Errorf("read the survey the message answered: %w", err)
	}
	now := s.cfg.Now()
	pending, err := s.store.PendingSurveys(ctx, t.Tenant.ID, t.Contact.ID, now)
	if err != nil || len(pending) == 0 {
		return false, nil, err
	}
	sv := pending[0]
	score, ok := ParseAnswer(sv.Kind, text, payload)
	if !ok {
		return false, nil, nil
	}
	if s.cfg.Rival != nil {
		other, err := s.cfg.Rival(ctx, t.Tenant.ID, t.Contact.ID)
		if err != nil {
			return false, nil, fmt.Errorf("read the contact's other surveys: %w", err)
		}
		if other.After(sv.SentAt) {
			return false, nil, nil
		}
	}
	if !strings.HasPrefix(payload, ButtonPrefix(sv.Kind)) {
		if last, err := s.askedLast(ctx, t, sv); err != nil || !last {
			return false, nil, err
		}
	}
	sv.Score, sv.AnsweredAt, sv.AnswerChannel, sv.AnswerMessageID = score, now, t.Message.Channel, t.Message.ID
	sv.AnswerText = truncate(strings.TrimSpace(text), maxAnswerText)
	if err := s.store.RecordSurveyAnswer(ctx, sv); conversation.IsConflict(err) {
		return false, nil, nil // another message answered it, or it expired
	} else if err != nil {
		return false, nil, fmt.Errorf("record the answer to survey %d: %w", sv.ID, err)
	}
	s.cfg.Logger.Info("survey answered", "tenant", t.Tenant.ID, "survey", sv.ID, "kind", sv.Kind, "score", score, "channel", t.Message.Channel)
	return true, thanks(lang), nil
}

// askedLast says whether the last message the contact got in t's
// conversation before t's message is the survey sv (or it cannot tell:
// none among the latest ten).
func (s *Service) askedLast(ctx context.Context, t conversation.Turn, sv Survey) (bool, error) {
	ms, err := s.messages.ListMessages(ctx, t.Tenant.ID, conversation.MessageFilter{
		ConversationID: t.Message.ConversationID,
		Before:         &conversation.MessagePos{ConversationID: t.Message.ConversationID, Seq: t.Message.Seq},
		Newest:         true, Limit: 10,
	})
	if err != nil {
		return false, fmt.Errorf("read the conversation: %w", err)
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Direction == conversation.DirectionOut {
			return ms[i].Meta[conversation.MetaNotification] == strconv.FormatInt(sv.NotificationID, 10), nil
		}
	}
	return true, nil
}

// thanks is the reply to an answer.
func thanks(lang string) [][]conversation.Part {
	if lang == "en" {
		return [][]conversation.Part{{conversation.TextPart("Thank you for your answer!")}}
	}
	return [][]conversation.Part{{conversation.TextPart("¡Gracias por tu respuesta!")}}
}

// languageOf is the language to answer a turn in: the contact's, else the
// tenant's, as "es" or "en".
func languageOf(t conversation.Turn) string {
	lang := t.Contact.Language
	if lang == "" {
		lang = t.Tenant.Language
	}
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return "en"
	}
	return "es"
}

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// AddButtons returns outbound messages with a CSAT survey's buttons, 1 to
// 5 (payloads csat:1 to csat:5), added to each message of a CSAT survey's
// purpose bound for a channel that shows buttons; the template's text stays
// the prompt. NPS surveys get none: eleven buttons are more than a message
// may carry (conversation.MaxButtons), so their text asks for a number.
// Others are returned as they are. kindOf tells an account's channel.
// cmd/conversa puts it between the notification service and the
// conversation service, since templates hold text only.
func AddButtons(ctx context.Context, outs []conversation.Outbound, kindOf func(ctx context.Context, tenantID, accountID int64) (conversation.ChannelKind, error)) ([]conversation.Outbound, error) {
	for i, o := range outs {
		if k, ok := KindOf(o.Meta[conversation.MetaPurpose]); !ok || k != KindCSAT || len(o.Parts) != 1 || o.Parts[0].Type != conversation.PartText {
			continue
		}
		ch, err := kindOf(ctx, o.TenantID, o.AccountID)
		if err != nil {
			return nil, err
		}
		if !ch.ShowsButtons() {
			continue
		}
		p := conversation.Part{Type: conversation.PartButtons, Text: o.Parts[0].Text}
		for n := 1; n <= 5; n++ {
			p.Buttons = append(p.Buttons, conversation.Button{ID: ButtonPrefix(KindCSAT) + strconv.Itoa(n), Title: strconv.Itoa(n)})
		}
		o.Parts = []conversation.Part{p}
		outs[i] = o
	}
	return outs, nil
}

// Package notify sends notifications: a message to a contact by purpose
// and data, for which Conversa picks the channel (the contact's preferred
// one, then the tenant's chain, skipping what consent, identities,
// accounts and provider rules forbid) and the time (never in the
// contact's quiet hours, in their own time zone), within frequency caps,
// as durable jobs, deduplicated by the caller's idempotency key.
package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/templates"
)

// Contact attributes the service reads.
const (
	// AttrPreferredChannel is the channel kind a contact prefers.
	AttrPreferredChannel = "preferred_channel"
	// AttrTimeZone is a contact's IANA time zone, such as "Europe/Madrid".
	AttrTimeZone = "time_zone"
)

// WhatsAppWindow is how long after a contact's last message a business may
// send them free-form WhatsApp messages.
const WhatsAppWindow = 24 * time.Hour

// Limits of a request.
const (
	maxData      = 100
	maxDataValue = 4096
	maxChannels  = 8
)

// Conversations is what the service reads and opens in the conversation
// store. conversation.Store implements it.
type Conversations interface {
	Tenant(ctx context.Context, id int64) (conversation.Tenant, error)
	Contact(ctx context.Context, tenantID, id int64) (conversation.Contact, error)
	ListChannelAccounts(ctx context.Context, tenantID int64) ([]conversation.ChannelAccount, error)
	LastInbound(ctx context.Context, tenantID, contactID, accountID int64) (time.Time, error)
	OptedOutOf(ctx context.Context, tenantID, accountID int64, address, purpose string) (bool, error)
	OpenConversation(ctx context.Context, tenantID, contactID, accountID int64) (conversation.Conversation, bool, error)
}

// Sender sends outbound messages. *conversation.Service implements it.
type Sender interface {
	Send(ctx context.Context, outs ...conversation.Outbound) ([]conversation.SendResult, error)
}

// Templates finds the tenant's templates, compiled. *templates.Service
// implements it.
type Templates interface {
	Template(ctx context.Context, tenantID int64, purpose string) (*templates.Template, templates.Version, error)
}

// Deps are the service's collaborators; all are required.
type Deps struct {
	Conversations Conversations
	Sender        Sender
	Templates     Templates
}

// Config configures the service.
type Config struct {
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// JobsAdded is called after a commit that enqueued a job due now, to
	// wake the local Worker.
	JobsAdded func()
	// Recorded, when set, is called after a notification's outcome was
	// recorded (to tell the tenant's systems of an undeliverable one).
	Recorded func(ctx context.Context, n Notification)
}

// Service sends notifications. It is safe for concurrent use.
type Service struct {
	store Store
	deps  Deps
	cfg   Config
}

// New returns the notification service.
func New(store Store, deps Deps, cfg Config) (*Service, error) {
	if store == nil || deps.Conversations == nil || deps.Sender == nil || deps.Templates == nil {
		return nil, errors.New("notify: the service needs a store, conversations, a sender and templates")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.JobsAdded == nil {
		cfg.JobsAdded = func() {}
	}
	return &Service{store: store, deps: deps, cfg: cfg}, nil
}

// Request asks for a notification.
type Request struct {
	TenantID  int64
	ContactID int64
	// Purpose names the tenant's template.
	Purpose string
	// Data are the template's variables.
	Data map[string]string
	// IdempotencyKey, when set, makes a retry return the first
	// notification; the same key with another request is a conflict.
	IdempotencyKey string
	// Channels, when set, are the channels to try, in this order, instead
	// of the preferred channel and the policy's chain.
	Channels []conversation.ChannelKind
	// SendAfter delays the notification; zero is now.
	SendAfter time.Time
}

func (r Request) validate() error {
	switch {
	case r.TenantID <= 0:
		return conversation.FieldError("tenant_id", "is required")
	case r.ContactID <= 0:
		return conversation.FieldError("contact_id", "is required")
	case !conversation.ValidPurpose(r.Purpose):
		return conversation.FieldError("purpose", "%q is not a purpose: lower-case letters, digits and _, starting with a letter", r.Purpose)
	case len(r.Data) > maxData:
		return conversation.FieldError("data", "at most %d variables", maxData)
	case len(r.IdempotencyKey) > conversation.MaxShortField || !utf8.ValidString(r.IdempotencyKey) ||
		strings.ContainsFunc(r.IdempotencyKey, unicode.IsControl):
		return conversation.FieldError("idempotency_key", "must be at most %d bytes of printable UTF-8", conversation.MaxShortField)
	case len(r.Channels) > maxChannels:
		return conversation.FieldError("channels", "at most %d channels", maxChannels)
	}
	for k, v := range r.Data {
		if !utf8.ValidString(k) || !utf8.ValidString(v) || len(v) > maxDataValue {
			return conversation.FieldError("data."+k, "must be UTF-8, at most %d bytes", maxDataValue)
		}
	}
	return validateChain("channels", r.Channels)
}

// fingerprint digests what makes two requests the same notification.
func (r Request) fingerprint() string {
	b, _ := json.Marshal(struct {
		Contact   int64                      `json:"c"`
		Purpose   string                     `json:"p"`
		Data      map[string]string          `json:"d"`
		Channels  []conversation.ChannelKind `json:"ch"`
		SendAfter int64                      `json:"a"`
	}{r.ContactID, r.Purpose, r.Data, r.Channels, unixMicro(r.SendAfter)})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Notify validates a request and schedules the notification: a durable
// job due at the first allowed time (SendAfter, then the end of the
// contact's quiet hours unless the purpose is urgent), where the channel is
// chosen. Returns EINVALID naming the field of a bad request (a purpose
// without a template, a required variable missing), ENOTFOUND for a contact
// that is not the tenant's, and ECONFLICT when the idempotency key was used
// for a different request. A retry with the same key and request returns
// the first notification.
func (s *Service) Notify(ctx context.Context, r Request) (Notification, error) {
	if err := r.validate(); err != nil {
		return Notification{}, err
	}
	tenant, err := s.deps.Conversations.Tenant(ctx, r.TenantID)
	if err != nil {
		return Notification{}, err
	}
	contact, err := s.deps.Conversations.Contact(ctx, r.TenantID, r.ContactID)
	if conversation.IsNotFound(err) {
		return Notification{}, &conversation.Error{Code: conversation.ENOTFOUND, Field: "contact_id", Message: "contact not found", Err: err}
	}
	if err != nil {
		return Notification{}, err
	}
	tpl, _, err := s.deps.Templates.Template(ctx, r.TenantID, r.Purpose)
	if conversation.IsNotFound(err) {
		return Notification{}, conversation.FieldError("purpose", "the tenant has no template for purpose %q", r.Purpose)
	}
	if err != nil {
		return Notification{}, fmt.Errorf("read template %s: %w", r.Purpose, err)
	}
	for _, name := range slices.Sorted(maps.Keys(tpl.Variables)) {
		if tpl.Variables[name].Required && strings.TrimSpace(r.Data[name]) == "" {
			return Notification{}, conversation.FieldError("data."+name, "the template %s requires it", r.Purpose)
		}
	}
	policy, err := s.policy(ctx, r.TenantID)
	if err != nil {
		return Notification{}, err
	}
	loc, _ := ContactZone(contact, tenant)
	now := s.cfg.Now()
	due := now
	if r.SendAfter.After(due) {
		due = r.SendAfter
	}
	if !policy.urgent(r.Purpose, tpl.Urgent) {
		due = policy.quietHours(r.Purpose).NextAllowed(due, loc)
	}
	n := Notification{
		TenantID: r.TenantID, ContactID: r.ContactID, Purpose: r.Purpose, Data: r.Data,
		IdempotencyKey: r.IdempotencyKey, Channels: r.Channels, SendAfter: r.SendAfter,
		Fingerprint: r.fingerprint(), Status: StatusScheduled, Due: due, TimeZone: loc.String(),
	}
	stored, created, err := s.store.CreateNotification(ctx, n)
	if err != nil {
		return Notification{}, fmt.Errorf("store notification: %w", err)
	}
	if !created && stored.Fingerprint != n.Fingerprint {
		return Notification{}, &conversation.Error{Code: conversation.ECONFLICT, Field: "idempotency_key",
			Message: fmt.Sprintf("idempotency key %q was used for another notification (%d)", r.IdempotencyKey, stored.ID)}
	}
	if created && !due.After(now) {
		s.cfg.JobsAdded()
	}
	return stored, nil
}

// Get returns a notification. Returns ENOTFOUND unless it is the tenant's.
func (s *Service) Get(ctx context.Context, tenantID, id int64) (Notification, error) {
	return s.store.Notification(ctx, tenantID, id)
}

// List returns the tenant's notifications that match f, newest first.
func (s *Service) List(ctx context.Context, tenantID int64, f Filter) ([]Notification, error) {
	return s.store.ListNotifications(ctx, tenantID, f)
}

// Policy returns the tenant's policy, DefaultPolicy when it stored none.
func (s *Service) Policy(ctx context.Context, tenantID int64) (Policy, error) {
	return s.policy(ctx, tenantID)
}

// PutPolicy validates and stores the tenant's policy. Returns EINVALID
// naming the bad field.
func (s *Service) PutPolicy(ctx context.Context, tenantID int64, p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return s.store.PutPolicy(ctx, tenantID, p)
}

func (s *Service) policy(ctx context.Context, tenantID int64) (Policy, error) {
	p, err := s.store.Policy(ctx, tenantID)
	if conversation.IsNotFound(err) {
		return DefaultPolicy(), nil
	}
	if err != nil {
		return Policy{}, fmt.Errorf("read notification policy: %w", err)
	}
	return p, nil
}

// NotifyJob is the conversation.JobHandler of JobNotify. It re-reads the
// notification and does nothing unless it is still scheduled; within the
// contact's quiet hours (and not urgent) it reschedules it for their end;
// over the purpose's frequency cap it suppresses it; otherwise it sends it
// on the first channel that can take it, or records it undeliverable with
// the reason of each channel. Running it twice sends once.
func (s *Service) NotifyJob(ctx context.Context, j conversation.Job) error {
	n, err := s.store.Notification(ctx, j.TenantID, j.Ref)
	if conversation.IsNotFound(err) {
		return &conversation.JobError{Err: err, Permanent: true}
	}
	if err != nil {
		return err
	}
	if n.Status != StatusScheduled {
		return nil
	}
	v, err := s.newView(ctx, n.TenantID)
	if err != nil {
		return err
	}
	contact, err := s.deps.Conversations.Contact(ctx, n.TenantID, n.ContactID)
	if conversation.IsNotFound(err) {
		return s.finish(ctx, n, StatusUndeliverable, "the contact no longer exists")
	}
	if err != nil {
		return err
	}
	tpl, err := v.template(ctx, n.Purpose)
	if conversation.IsNotFound(err) {
		return s.finish(ctx, n, StatusUndeliverable, noTemplate(n.Purpose))
	}
	if err != nil {
		return err
	}
	return s.runOne(ctx, v, n, contact, tpl)
}

func noTemplate(purpose string) string {
	return fmt.Sprintf("the tenant has no template for purpose %q", purpose)
}

// runOne applies the rules to a scheduled notification and acts on the
// outcome at once: reschedules, finishes, or opens the conversation and
// sends, trying the next channel when the conversation store refuses the
// message.
func (s *Service) runOne(ctx context.Context, v *view, n Notification, contact conversation.Contact, tpl *templates.Template) error {
	if next, note, ok := v.wait(n, contact, tpl); ok {
		if _, err := s.store.RescheduleNotification(ctx, n.TenantID, n.ID, next, note); err != nil && !conversation.IsConflict(err) {
			return fmt.Errorf("reschedule notification %d: %w", n.ID, err)
		}
		return nil
	}
	note, capped, err := v.capped(ctx, n)
	if err != nil {
		return err
	}
	if capped {
		return s.finish(ctx, n, StatusSuppressed, note)
	}
	var skipped []Skip
	for from := 0; ; {
		c, err := v.choose(ctx, n, contact, tpl, from, &skipped)
		if err != nil {
			return err
		}
		if c == nil {
			return s.record(ctx, undeliverable(n, skipped))
		}
		conv, _, err := s.deps.Conversations.OpenConversation(ctx, n.TenantID, n.ContactID, c.out.AccountID)
		if err != nil {
			return fmt.Errorf("open the contact's conversation: %w", err)
		}
		c.out.ConversationID = conv.ID
		res, err := s.deps.Sender.Send(ctx, c.out)
		switch code := conversation.ErrorCode(err); {
		case code == conversation.EINVALID || code == conversation.ETOOLARGE:
			skipped = append(skipped, Skip{Channel: c.kind, AccountID: c.out.AccountID, Code: SkipRefused, Reason: conversation.ErrorMessage(err)})
			from = c.next
			continue
		case err != nil:
			return err // a conversation closed meanwhile, or the store: retry
		}
		return s.record(ctx, sent(n, res[0].Message, skipped, v.now))
	}
}

// sent is n recorded as sent as m.
func sent(n Notification, m conversation.Message, skipped []Skip, now time.Time) Notification {
	n.Status, n.Channel, n.AccountID, n.ConversationID, n.MessageID = StatusSent, m.Channel, m.ChannelAccountID, m.ConversationID, m.ID
	n.Skipped, n.SentAt, n.Note = skipped, now, ""
	return n
}

// undeliverable is n recorded as undeliverable, with the channels skipped.
func undeliverable(n Notification, skipped []Skip) Notification {
	n.Status, n.Skipped, n.Note = StatusUndeliverable, skipped, "no channel could take it"
	if len(skipped) == 0 {
		n.Note = "no channel to try"
	}
	return n
}

// view is what deciding notifications of one tenant reads: the tenant, its
// policy, accounts and templates, read once, and the contacts' facts, read
// one at a time (NotifyJob) or for a whole batch first (NotifyBatchJob).
type view struct {
	svc       *Service
	tenant    conversation.Tenant
	policy    Policy
	accounts  []conversation.ChannelAccount
	now       time.Time
	templates map[string]*templates.Template

	// lastInbound, optedOut and countSent read one fact; a batch replaces
	// them with lookups in what it read in bulk.
	lastInbound func(ctx context.Context, contactID, accountID int64) (time.Time, error)
	optedOut    func(ctx context.Context, accountID int64, address, purpose string) (bool, error)
	countSent   func(ctx context.Context, contactID int64, purpose string, since time.Time) (int, error)
}

// newView reads the tenant, its policy and accounts, with the facts read
// from the stores one at a time.
func (s *Service) newView(ctx context.Context, tenantID int64) (*view, error) {
	tenant, err := s.deps.Conversations.Tenant(ctx, tenantID)
	if err != nil {
		return nil, permanentIfNotFound(err)
	}
	policy, err := s.policy(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	accounts, err := s.deps.Conversations.ListChannelAccounts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return &view{
		svc: s, tenant: tenant, policy: policy, accounts: accounts, now: s.cfg.Now(),
		templates: map[string]*templates.Template{},
		lastInbound: func(ctx context.Context, contactID, accountID int64) (time.Time, error) {
			return s.deps.Conversations.LastInbound(ctx, tenantID, contactID, accountID)
		},
		optedOut: func(ctx context.Context, accountID int64, address, purpose string) (bool, error) {
			return s.deps.Conversations.OptedOutOf(ctx, tenantID, accountID, address, purpose)
		},
		countSent: func(ctx context.Context, contactID int64, purpose string, since time.Time) (int, error) {
			return s.store.CountSent(ctx, tenantID, contactID, purpose, since)
		},
	}, nil
}

// template returns the tenant's template of a purpose, read once per view.
// Returns ENOTFOUND when there is none.
func (v *view) template(ctx context.Context, purpose string) (*templates.Template, error) {
	if t, ok := v.templates[purpose]; ok {
		return t, nil
	}
	t, _, err := v.svc.deps.Templates.Template(ctx, v.tenant.ID, purpose)
	if err != nil {
		return nil, err
	}
	v.templates[purpose] = t
	return t, nil
}

// wait reports whether n must wait (SendAfter, or the contact's quiet
// hours unless urgent), until when and why.
func (v *view) wait(n Notification, contact conversation.Contact, tpl *templates.Template) (time.Time, string, bool) {
	loc, _ := ContactZone(contact, v.tenant)
	next := v.now
	if n.SendAfter.After(next) {
		next = n.SendAfter
	}
	if !v.policy.urgent(n.Purpose, tpl.Urgent) {
		next = v.policy.quietHours(n.Purpose).NextAllowed(next, loc)
	}
	if !next.After(v.now) {
		return time.Time{}, "", false
	}
	note := fmt.Sprintf("quiet hours of the contact (%s): delivered at %s", loc, next.In(loc).Format("2006-01-02 15:04 MST"))
	if !n.SendAfter.IsZero() && !n.SendAfter.Before(next) {
		note = "not before " + next.In(loc).Format("2006-01-02 15:04 MST")
	}
	return next, note, true
}

// capped reports whether the purpose's frequency cap forbids n, and why.
func (v *view) capped(ctx context.Context, n Notification) (string, bool, error) {
	c := v.policy.Purposes[n.Purpose].Cap
	if c == nil {
		return "", false, nil
	}
	period, err := ParsePeriod(c.Period)
	if err != nil {
		return "", false, &conversation.JobError{Err: err, Permanent: true}
	}
	sent, err := v.countSent(ctx, n.ContactID, n.Purpose, v.now.Add(-period))
	if err != nil {
		return "", false, err
	}
	if sent < c.Count {
		return "", false, nil
	}
	return fmt.Sprintf("frequency cap: the contact got %d %s notifications within %s (at most %d)", sent, n.Purpose, c.Period, c.Count), true, nil
}

// candidate is a channel that can take a notification and the message to
// send there (without its conversation).
type candidate struct {
	kind conversation.ChannelKind
	out  conversation.Outbound
	// next is the index in the chain of the channel to try after this one.
	next int
}

// choose returns the first channel of n's chain, from index from on, that
// can take it, adding the ones passed over to skipped; nil when none can.
func (v *view) choose(ctx context.Context, n Notification, contact conversation.Contact, tpl *templates.Template, from int, skipped *[]Skip) (*candidate, error) {
	preferred := conversation.ChannelKind(strings.TrimSpace(contact.Attributes[AttrPreferredChannel]))
	chain := v.policy.chain(n.Purpose, preferred, n.Channels)
	for i := from; i < len(chain); i++ {
		kind := chain[i]
		skip := func(acct int64, code, format string, args ...any) {
			*skipped = append(*skipped, Skip{Channel: kind, AccountID: acct, Code: code, Reason: fmt.Sprintf(format, args...)})
		}
		to, ok := contact.IdentityOn(kind)
		if !ok {
			skip(0, SkipNoIdentity, "the contact has no %s address", kind)
			continue
		}
		acct, last, err := v.account(ctx, n.ContactID, kind)
		if err != nil {
			return nil, err
		}
		if acct.ID == 0 {
			skip(0, SkipNoAccount, "the tenant has no enabled %s account", kind)
			continue
		}
		out, err := v.optedOut(ctx, acct.ID, to.Address, "")
		if err != nil {
			return nil, fmt.Errorf("read consent: %w", err)
		}
		if out {
			skip(acct.ID, SkipOptedOut, "%s opted out of messages from %s", to.Address, acct.Key)
			continue
		}
		if out, err = v.optedOut(ctx, acct.ID, to.Address, n.Purpose); err != nil {
			return nil, fmt.Errorf("read consent: %w", err)
		}
		if out {
			skip(acct.ID, SkipPurposeOptOut, "%s opted out of %s messages from %s", to.Address, n.Purpose, acct.Key)
			continue
		}
		r, err := tpl.Render(templates.Request{Channel: kind, Language: contact.Language, Fallback: v.tenant.Language, Data: n.Data})
		switch code := conversation.ErrorCode(err); {
		case code == conversation.ENOTFOUND:
			skip(acct.ID, SkipNoVariant, "the template %s has no variant for %s in %s", n.Purpose, kind, cmp.Or(contact.Language, v.tenant.Language))
			continue
		case code == conversation.EINVALID || code == conversation.ETOOLARGE:
			skip(acct.ID, SkipRender, "%s", conversation.ErrorMessage(err))
			continue
		case err != nil:
			return nil, fmt.Errorf("render %s for %s: %w", n.Purpose, kind, err)
		}
		meta := map[string]string{conversation.MetaNotification: strconv.FormatInt(n.ID, 10), conversation.MetaPurpose: n.Purpose}
		if kind == conversation.ChannelWhatsApp && (last.IsZero() || v.now.Sub(last) >= WhatsAppWindow) {
			if r.ContentSid == "" {
				when := "has never written"
				if !last.IsZero() {
					when = "last wrote " + last.UTC().Format(time.RFC3339)
				}
				skip(acct.ID, SkipWhatsAppWindow, "outside WhatsApp's 24-hour window (the contact %s) and the template's %s variant has no approved content_sid", when, r.Variant)
				continue
			}
			vars, _ := json.Marshal(cmpOrSlice(r.ContentVariables))
			meta[conversation.MetaContentSID] = r.ContentSid
			meta[conversation.MetaContentVariables] = string(vars)
		}
		if kind == conversation.ChannelEmail {
			if r.Subject != "" {
				meta[conversation.MetaSubject] = r.Subject
			}
			if r.HTML != "" {
				meta[conversation.MetaHTML] = r.HTML
			}
		}
		return &candidate{kind: kind, next: i + 1, out: conversation.Outbound{
			TenantID: n.TenantID, Author: conversation.Author{Kind: conversation.AuthorSystem},
			Parts: []conversation.Part{conversation.TextPart(r.Text)}, AccountID: acct.ID,
			IdempotencyKey: MessageKey(n.ID), Meta: meta,
		}}, nil
	}
	return nil, nil
}

// account returns the tenant's enabled account of a kind for a contact:
// the one they last wrote to, else the first; and when they last wrote to
// it. A zero account means none.
func (v *view) account(ctx context.Context, contactID int64, kind conversation.ChannelKind) (conversation.ChannelAccount, time.Time, error) {
	var best conversation.ChannelAccount
	var bestAt time.Time
	for _, a := range v.accounts {
		if a.Kind != kind || a.Disabled {
			continue
		}
		at, err := v.lastInbound(ctx, contactID, a.ID)
		if err != nil {
			return best, bestAt, fmt.Errorf("read last inbound message: %w", err)
		}
		if best.ID == 0 || at.After(bestAt) {
			best, bestAt = a, at
		}
	}
	return best, bestAt, nil
}

func (s *Service) finish(ctx context.Context, n Notification, status Status, note string) error {
	n.Status, n.Note = status, note
	return s.record(ctx, n)
}

// record stores the outcome; one recorded by a job that ran at the same
// time is kept.
func (s *Service) record(ctx context.Context, n Notification) error {
	stored, err := s.store.FinishNotification(ctx, n)
	if err != nil && !conversation.IsConflict(err) {
		return fmt.Errorf("record notification %d: %w", n.ID, err)
	}
	if err == nil && s.cfg.Recorded != nil {
		s.cfg.Recorded(ctx, stored)
	}
	s.cfg.Logger.Info("notification", "tenant", n.TenantID, "notification", n.ID, "status", n.Status, "channel", n.Channel, "note", n.Note)
	return nil
}

func permanentIfNotFound(err error) error {
	if conversation.IsNotFound(err) {
		return &conversation.JobError{Err: err, Permanent: true}
	}
	return err
}

func cmpOrSlice(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

package notify

import (
	"context"
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

// This file holds the emails to a tenant's staff: the agents, leads,
// supervisors and managers told of their work (a case's escalation). They
// are people of the tenant, not its customers: an email to them goes from
// the tenant's email account straight to their address, with no contact,
// no conversation, no consent and no quiet hours.

// StatusFailed is the status of a staff email that could not be sent:
// the server refused it, or it kept failing until its attempts ran out.
const StatusFailed Status = "failed"

// JobStaffEmail is the kind of a staff email's durable job.
const JobStaffEmail = "staff_email"

// StaffMaxAttempts is how many times a staff email's job is tried before
// the email is recorded failed: with the worker's default backoff (2 s
// doubling, at most an hour) the attempts span about an hour of an SMTP
// server's outage.
const StaffMaxAttempts = 12

// StaffJobKey is the key of a staff email's job.
func StaffJobKey(id int64) string { return "staff_email:" + strconv.FormatInt(id, 10) }

// StaffEmail is an email to a member of the tenant's staff, by purpose
// and data, sent through the tenant's email account.
type StaffEmail struct {
	ID       int64 `json:"id"`
	TenantID int64 `json:"tenant_id"`
	// Key is the caller's key, unique per tenant: the same key is one
	// email, however often it is asked for.
	Key string `json:"key"`
	// To is the address; Name the person's name, for the To header.
	To   string `json:"to"`
	Name string `json:"name,omitempty"`
	// Language is the person's language, when known; the tenant's is the
	// fallback.
	Language string            `json:"language,omitempty"`
	Purpose  string            `json:"purpose"`
	Data     map[string]string `json:"data,omitempty"`
	// Status is scheduled until the email is sent, or it is undeliverable
	// (the tenant has no email account) or failed (Note says why).
	Status Status `json:"status"`
	// AccountID is the email account the email goes, or went, from.
	AccountID int64 `json:"account_id,omitempty"`
	// MessageID is the Message-ID of the email sent.
	MessageID string `json:"message_id,omitempty"`
	// Note says why the email is undeliverable or failed, or, while
	// scheduled, why the last attempt failed.
	Note      string    `json:"note,omitempty"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// StaffFilter selects staff emails; zero fields select all. Lists are
// newest (highest ID) first; BeforeID pages.
type StaffFilter struct {
	Status   Status
	BeforeID int64
	Limit    int
}

// StaffStore keeps staff emails. storage/sqlite and storage/postgres
// implement it, proven by notifytest.TestStaffStore. Every method is safe
// for concurrent use, also from several processes, and scoped to one
// tenant: another tenant's ids are ENOTFOUND.
type StaffStore interface {
	// CreateStaffEmail stores m with its Status (scheduled or
	// undeliverable) and, when scheduled, in the same transaction its job:
	// kind JobStaffEmail, Ref its ID, Key StaffJobKey(ID), due now, with
	// StaffMaxAttempts attempts. It returns m with ID, CreatedAt and
	// UpdatedAt set, and created true. When the tenant has a staff email
	// with the same Key it stores nothing and returns that one with created
	// false, also under concurrency. Returns ENOTFOUND when the tenant does
	// not exist.
	CreateStaffEmail(ctx context.Context, m StaffEmail) (StaffEmail, bool, error)
	// StaffEmail returns ENOTFOUND unless id belongs to tenantID.
	StaffEmail(ctx context.Context, tenantID, id int64) (StaffEmail, error)
	// ListStaffEmails returns the tenant's staff emails that match f,
	// newest first, at most conversation.ClampLimit(f.Limit).
	ListStaffEmails(ctx context.Context, tenantID int64, f StaffFilter) ([]StaffEmail, error)
	// NoteStaffEmail records why the last attempt of a scheduled staff
	// email failed. Returns ECONFLICT when it is no longer scheduled,
	// ENOTFOUND unless it belongs to tenantID.
	NoteStaffEmail(ctx context.Context, tenantID, id int64, note string) error
	// FinishStaffEmail records the outcome of a scheduled staff email:
	// m.Status (sent, undeliverable or failed), AccountID, MessageID, Note
	// and SentAt. Only one outcome is ever recorded: returns ECONFLICT, and
	// the stored email, when it is no longer scheduled; ENOTFOUND unless
	// it belongs to m.TenantID.
	FinishStaffEmail(ctx context.Context, m StaffEmail) (StaffEmail, error)
}

// Mail is a rendered staff email, ready for the tenant's email account.
type Mail struct {
	TenantID int64
	// Key names the email: the same key gives the same Message-ID, so
	// that a repeated send is one email to the receiving servers.
	Key      string
	To, Name string
	Language string
	Subject  string
	Text     string
	// HTML is the template's HTML fragment, when it has one.
	HTML string
}

// Mailer sends a staff email through a tenant's email channel account.
// cmd/conversa adapts the email channel to it. It must be safe for
// concurrent use.
type Mailer interface {
	// SendMail sends m from acct and returns its Message-ID. An error
	// that a retry cannot fix is a *conversation.DeliveryError with
	// Permanent set; any other error is temporary.
	SendMail(ctx context.Context, acct conversation.ChannelAccount, m Mail) (string, error)
}

// StaffDeps are the staff mail's collaborators; all are required.
type StaffDeps struct {
	Accounts interface {
		Tenant(ctx context.Context, id int64) (conversation.Tenant, error)
		ListChannelAccounts(ctx context.Context, tenantID int64) ([]conversation.ChannelAccount, error)
	}
	Templates Templates
	Mailer    Mailer
}

// StaffRequest asks for an email to a member of the tenant's staff.
type StaffRequest struct {
	TenantID int64
	// Key makes a retry one email; required.
	Key      string
	To       string
	Name     string
	Language string
	// Purpose names the tenant's template, rendered for email.
	Purpose string
	Data    map[string]string
}

func (r StaffRequest) validate() error {
	switch {
	case r.TenantID <= 0:
		return conversation.FieldError("tenant_id", "is required")
	case r.Key == "" || len(r.Key) > conversation.MaxShortField || !utf8.ValidString(r.Key) || strings.ContainsFunc(r.Key, unicode.IsControl):
		return conversation.FieldError("key", "must be 1 to %d bytes of printable UTF-8", conversation.MaxShortField)
	case !conversation.ValidPurpose(r.Purpose):
		return conversation.FieldError("purpose", "%q is not a purpose: lower-case letters, digits and _, starting with a letter", r.Purpose)
	case len(r.Data) > maxData:
		return conversation.FieldError("data", "at most %d variables", maxData)
	case len(r.Name) > conversation.MaxShortField || !utf8.ValidString(r.Name):
		return conversation.FieldError("name", "must be UTF-8, at most %d bytes", conversation.MaxShortField)
	case len(r.Language) > 35:
		return conversation.FieldError("language", "must be a language tag such as es or en-US")
	}
	if to, err := conversation.NormalizeAddress(conversation.ChannelEmail, r.To); err != nil || !strings.Contains(to, "@") {
		return conversation.FieldError("to", "%q is not an email address", r.To)
	}
	for k, v := range r.Data {
		if !utf8.ValidString(k) || !utf8.ValidString(v) || len(v) > maxDataValue {
			return conversation.FieldError("data."+k, "must be UTF-8, at most %d bytes", maxDataValue)
		}
	}
	return nil
}

// StaffConfig configures the staff mail.
type StaffConfig struct {
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// JobsAdded is called after a commit that enqueued a job, to wake the
	// local Worker.
	JobsAdded func()
	// Recorded, when set, is called after a staff email's outcome was
	// recorded (to tell the case of an email that failed).
	Recorded func(ctx context.Context, m StaffEmail)
}

// StaffMail emails a tenant's staff. It is safe for concurrent use.
type StaffMail struct {
	store StaffStore
	deps  StaffDeps
	cfg   StaffConfig
}

// NewStaffMail returns the staff mail service.
func NewStaffMail(store StaffStore, deps StaffDeps, cfg StaffConfig) (*StaffMail, error) {
	if store == nil || deps.Accounts == nil || deps.Templates == nil || deps.Mailer == nil {
		return nil, errors.New("notify: staff mail needs a store, accounts, templates and a mailer")
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
	return &StaffMail{store: store, deps: deps, cfg: cfg}, nil
}

// ErrNoEmailAccount is the error of a staff email to a tenant without an
// enabled email account; its code is EUNAVAILABLE.
var ErrNoEmailAccount = &conversation.Error{Code: conversation.EUNAVAILABLE, Message: "the tenant has no enabled email account"}

// Send validates a request and records the email: scheduled, as a durable
// job due now, when the tenant has an enabled email account; otherwise
// undeliverable, and it returns ErrNoEmailAccount. The same Key returns
// the first email and schedules nothing more (ErrNoEmailAccount again if
// that one was undeliverable). Returns EINVALID naming the field of a bad
// request (a purpose without a template, a required variable missing).
func (s *StaffMail) Send(ctx context.Context, r StaffRequest) (StaffEmail, error) {
	if err := r.validate(); err != nil {
		return StaffEmail{}, err
	}
	tpl, _, err := s.deps.Templates.Template(ctx, r.TenantID, r.Purpose)
	if conversation.IsNotFound(err) {
		return StaffEmail{}, conversation.FieldError("purpose", "the tenant has no template for purpose %q", r.Purpose)
	}
	if err != nil {
		return StaffEmail{}, fmt.Errorf("read template %s: %w", r.Purpose, err)
	}
	for _, name := range slices.Sorted(maps.Keys(tpl.Variables)) {
		if tpl.Variables[name].Required && strings.TrimSpace(r.Data[name]) == "" {
			return StaffEmail{}, conversation.FieldError("data."+name, "the template %s requires it", r.Purpose)
		}
	}
	acct, err := s.account(ctx, r.TenantID, 0)
	if err != nil {
		return StaffEmail{}, err
	}
	to, _ := conversation.NormalizeAddress(conversation.ChannelEmail, r.To)
	m := StaffEmail{TenantID: r.TenantID, Key: r.Key, To: to, Name: r.Name, Language: r.Language,
		Purpose: r.Purpose, Data: r.Data, Status: StatusScheduled, AccountID: acct.ID}
	if acct.ID == 0 {
		m.Status, m.Note = StatusUndeliverable, ErrNoEmailAccount.Message
	}
	stored, created, err := s.store.CreateStaffEmail(ctx, m)
	if err != nil {
		return StaffEmail{}, fmt.Errorf("store staff email: %w", err)
	}
	if stored.Status == StatusUndeliverable {
		if created {
			s.cfg.Logger.Warn("staff email undeliverable", "tenant", r.TenantID, "staff_email", stored.ID, "key", r.Key, "note", stored.Note)
		}
		return stored, ErrNoEmailAccount
	}
	if created {
		s.cfg.JobsAdded()
	}
	return stored, nil
}

// Get returns a staff email. Returns ENOTFOUND unless it is the tenant's.
func (s *StaffMail) Get(ctx context.Context, tenantID, id int64) (StaffEmail, error) {
	return s.store.StaffEmail(ctx, tenantID, id)
}

// List returns the tenant's staff emails that match f, newest first.
func (s *StaffMail) List(ctx context.Context, tenantID int64, f StaffFilter) ([]StaffEmail, error) {
	return s.store.ListStaffEmails(ctx, tenantID, f)
}

// account returns the tenant's enabled email account: the one of id when
// it still is, else the first; a zero account means none.
func (s *StaffMail) account(ctx context.Context, tenantID, id int64) (conversation.ChannelAccount, error) {
	accounts, err := s.deps.Accounts.ListChannelAccounts(ctx, tenantID)
	if err != nil {
		return conversation.ChannelAccount{}, fmt.Errorf("read the tenant's channel accounts: %w", err)
	}
	var first conversation.ChannelAccount
	for _, a := range accounts {
		if a.Kind != conversation.ChannelEmail || a.Disabled {
			continue
		}
		if a.ID == id {
			return a, nil
		}
		if first.ID == 0 {
			first = a
		}
	}
	return first, nil
}

// StaffJob is the conversation.JobHandler of JobStaffEmail. It re-reads
// the email and does nothing unless it is still scheduled; it renders the
// template for email in the person's language (else the tenant's) and
// sends it through the tenant's email account. A temporary failure is
// noted on the email and retried with the worker's backoff; a refusal, or
// the last attempt's failure, records the email failed and logs it.
// Running it twice sends once, unless the first run stopped between the
// send and its record (the same Message-ID then).
func (s *StaffMail) StaffJob(ctx context.Context, j conversation.Job) error {
	m, err := s.store.StaffEmail(ctx, j.TenantID, j.Ref)
	if conversation.IsNotFound(err) {
		return &conversation.JobError{Err: err, Permanent: true}
	}
	if err != nil {
		return err
	}
	if m.Status != StatusScheduled {
		return nil
	}
	tenant, err := s.deps.Accounts.Tenant(ctx, m.TenantID)
	if err != nil {
		return permanentIfNotFound(err)
	}
	acct, err := s.account(ctx, m.TenantID, m.AccountID)
	if err != nil {
		return err
	}
	if acct.ID == 0 {
		return s.finish(ctx, m, StatusUndeliverable, ErrNoEmailAccount.Message)
	}
	m.AccountID = acct.ID
	var r templates.Rendered
	tpl, _, err := s.deps.Templates.Template(ctx, m.TenantID, m.Purpose)
	if err == nil {
		r, err = tpl.Render(templates.Request{Channel: conversation.ChannelEmail, Language: m.Language, Fallback: tenant.Language, Data: m.Data})
	}
	switch code := conversation.ErrorCode(err); {
	case code == conversation.ENOTFOUND || code == conversation.EINVALID || code == conversation.ETOOLARGE:
		return s.finish(ctx, m, StatusFailed, "the template does not render for email: "+conversation.ErrorMessage(err))
	case err != nil:
		return fmt.Errorf("render %s for email: %w", m.Purpose, err)
	}
	id, err := s.deps.Mailer.SendMail(ctx, acct, Mail{TenantID: m.TenantID, Key: m.Key, To: m.To, Name: m.Name,
		Language: r.Language, Subject: r.Subject, Text: r.Text, HTML: r.HTML})
	if err != nil {
		return s.failed(ctx, m, j, err)
	}
	m.Status, m.MessageID, m.SentAt, m.Note = StatusSent, id, s.cfg.Now(), ""
	return s.record(ctx, m)
}

// failed handles a failed send: a permanent refusal or the last attempt
// records the email failed; an earlier attempt notes the error and
// retries.
func (s *StaffMail) failed(ctx context.Context, m StaffEmail, j conversation.Job, err error) error {
	de, _ := errors.AsType[*conversation.DeliveryError](err)
	reason := err.Error()
	if de != nil {
		reason = de.Message
	}
	switch {
	case de != nil && de.Permanent:
		return s.finish(ctx, m, StatusFailed, "refused: "+reason)
	case j.MaxAttempts > 0 && j.Attempt >= j.MaxAttempts:
		return s.finish(ctx, m, StatusFailed, fmt.Sprintf("not sent after %d attempts: %s", j.Attempt, reason))
	}
	note := fmt.Sprintf("attempt %d failed: %s", j.Attempt, reason)
	if nerr := s.store.NoteStaffEmail(ctx, m.TenantID, m.ID, note); nerr != nil && !conversation.IsConflict(nerr) {
		s.cfg.Logger.Error("note a staff email's failed attempt", "tenant", m.TenantID, "staff_email", m.ID, "err", nerr)
	}
	if de != nil && de.RetryAfter > 0 {
		return &conversation.JobError{Err: err, RetryAfter: de.RetryAfter}
	}
	return fmt.Errorf("send staff email %d: %w", m.ID, err)
}

func (s *StaffMail) finish(ctx context.Context, m StaffEmail, status Status, note string) error {
	m.Status, m.Note = status, note
	return s.record(ctx, m)
}

// record stores the outcome; one recorded by a job that ran at the same
// time is kept. A failure is logged as an error.
func (s *StaffMail) record(ctx context.Context, m StaffEmail) error {
	stored, err := s.store.FinishStaffEmail(ctx, m)
	if err != nil && !conversation.IsConflict(err) {
		return fmt.Errorf("record staff email %d: %w", m.ID, err)
	}
	if err == nil && s.cfg.Recorded != nil {
		s.cfg.Recorded(ctx, stored)
	}
	log := s.cfg.Logger.Info
	if m.Status != StatusSent {
		log = s.cfg.Logger.Error
	}
	log("staff email", "tenant", m.TenantID, "staff_email", m.ID, "key", m.Key, "status", m.Status, "note", m.Note)
	return nil
}

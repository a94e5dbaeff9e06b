package billing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"conversa/conversation"
)

// JobClose is the durable job that closes the statements of a month, its
// payload the month: it runs CloseAfter days after the month ends, in the
// billing time zone, and schedules the next month's.
const JobClose = "billing_close"

// DefaultZone is the billing time zone unless configured.
const DefaultZone = "America/Bogota"

// Config configures the Service.
type Config struct {
	// Location is the billing time zone: months and days of statements,
	// subscriptions and rates are its. Default America/Bogota.
	Location *time.Location
	// CloseAfterDays is how many days after a month ends its statements
	// are closed by the job JobClose. Default 3.
	CloseAfterDays int
	// JobsAdded, when set, is called after a job is enqueued.
	JobsAdded func()
	Logger    *slog.Logger
	// Now is the clock; default time.Now. Tests set it.
	Now func() time.Time
}

// Validate fills in defaults and checks the config.
func (c *Config) Validate() error {
	if c.Location == nil {
		loc, err := time.LoadLocation(DefaultZone)
		if err != nil {
			return fmt.Errorf("billing: load %s: %w", DefaultZone, err)
		}
		c.Location = loc
	}
	if c.CloseAfterDays <= 0 {
		c.CloseAfterDays = 3
	}
	if c.CloseAfterDays > 28 {
		return conversation.FieldError("billing_close_after_days", "must be from 1 to 28")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Jobs enqueues durable jobs (conversation.Store).
type Jobs interface {
	EnqueueJob(ctx context.Context, j conversation.Job) (conversation.Job, error)
}

// Service keeps the billing terms and makes statements.
type Service struct {
	store Store
	jobs  Jobs
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
}

// New returns the service.
func New(store Store, jobs Jobs, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Service{store: store, jobs: jobs, cfg: cfg, log: cfg.Logger.With("component", "billing"), now: cfg.Now}, nil
}

// Location returns the billing time zone.
func (s *Service) Location() *time.Location { return s.cfg.Location }

// CreatePlan validates and stores a plan.
func (s *Service) CreatePlan(ctx context.Context, p Plan) (Plan, error) {
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	return s.store.CreatePlan(ctx, p)
}

// UpdatePlan validates and stores plan p.ID's name, fee and prices. Closed
// statements keep the prices they were closed with; open ones use the new.
func (s *Service) UpdatePlan(ctx context.Context, p Plan) (Plan, error) {
	if err := p.Validate(); err != nil {
		return Plan{}, err
	}
	return s.store.UpdatePlan(ctx, p)
}

// Plan returns a plan, or ENOTFOUND.
func (s *Service) Plan(ctx context.Context, id int64) (Plan, error) { return s.store.Plan(ctx, id) }

// Plans returns every plan.
func (s *Service) Plans(ctx context.Context) ([]Plan, error) { return s.store.ListPlans(ctx) }

// Subscribe validates and stores a subscription: EINVALID when it overlaps
// another of the tenant's or its plan's currency is not the tenant's.
func (s *Service) Subscribe(ctx context.Context, sub Subscription) (Subscription, error) {
	if err := sub.Validate(); err != nil {
		return Subscription{}, err
	}
	return s.store.CreateSubscription(ctx, sub)
}

// DeleteSubscription removes one of the tenant's subscriptions.
func (s *Service) DeleteSubscription(ctx context.Context, tenantID, id int64) error {
	return s.store.DeleteSubscription(ctx, tenantID, id)
}

// CreateRate validates and stores a negotiated rate: EINVALID when it
// overlaps another of the tenant's on its channel or its currency is not
// the tenant's.
func (s *Service) CreateRate(ctx context.Context, r Rate) (Rate, error) {
	if err := r.Validate(); err != nil {
		return Rate{}, err
	}
	return s.store.CreateRate(ctx, r)
}

// DeleteRate removes one of the tenant's rates.
func (s *Service) DeleteRate(ctx context.Context, tenantID, id int64) error {
	return s.store.DeleteRate(ctx, tenantID, id)
}

// Terms returns the tenant's subscriptions, their plans and its rates.
func (s *Service) Terms(ctx context.Context, tenantID int64) (Terms, error) {
	return s.store.Terms(ctx, tenantID)
}

// Statement returns the tenant's statement of month: the closed one when
// stored, else computed now (open). Returns EINVALID for a malformed month
// or one that has not begun.
func (s *Service) Statement(ctx context.Context, tenantID int64, month Month) (Statement, error) {
	start, _, _, err := monthBounds(month, s.cfg.Location)
	if err != nil {
		return Statement{}, err
	}
	if s.now().Before(start) {
		return Statement{}, conversation.FieldError("month", "%s has not begun", month)
	}
	st, err := s.store.ClosedStatement(ctx, tenantID, month)
	if !conversation.IsNotFound(err) {
		return st, err
	}
	return s.open(ctx, tenantID, month)
}

func (s *Service) open(ctx context.Context, tenantID int64, month Month) (Statement, error) {
	terms, err := s.store.Terms(ctx, tenantID)
	if err != nil {
		return Statement{}, err
	}
	return compute(ctx, tenantID, month, s.cfg.Location, terms, func(ctx context.Context, from, to time.Time) ([]ChannelCount, error) {
		return s.store.CountCases(ctx, tenantID, from, to)
	})
}

// Statements returns the months of the tenant's statements, newest first:
// the current month (open), the months before it back to the oldest closed
// one, at most 24.
func (s *Service) Statements(ctx context.Context, tenantID int64) ([]Statement, error) {
	closed, err := s.store.ClosedMonths(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	oldest := s.MonthOf(s.now())
	if n := len(closed); n > 0 && closed[n-1] < oldest {
		oldest = closed[n-1]
	}
	var out []Statement
	for m := s.MonthOf(s.now()); m >= oldest && len(out) < 24; m = prevMonth(m) {
		st, err := s.Statement(ctx, tenantID, m)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// MonthOf returns the month of t in the billing time zone.
func (s *Service) MonthOf(t time.Time) Month { return t.In(s.cfg.Location).Format("2006-01") }

func prevMonth(m Month) Month {
	t, _ := ParseMonth(m)
	return t.AddDate(0, -1, 0).Format("2006-01")
}

// Close closes the tenant's statement of month: computes it and stores it
// for good. closed is false when it was closed already (st is the stored
// one). Returns EINVALID when the month has not ended.
func (s *Service) Close(ctx context.Context, tenantID int64, month Month) (st Statement, closed bool, err error) {
	_, end, _, err := monthBounds(month, s.cfg.Location)
	if err != nil {
		return Statement{}, false, err
	}
	if s.now().Before(end) {
		return Statement{}, false, conversation.FieldError("month", "%s has not ended: only past months close", month)
	}
	if st, err := s.store.ClosedStatement(ctx, tenantID, month); !conversation.IsNotFound(err) {
		return st, false, err
	}
	if st, err = s.open(ctx, tenantID, month); err != nil {
		return Statement{}, false, err
	}
	st.Status, st.ClosedAt = StatusClosed, s.now().UTC().Truncate(time.Microsecond)
	stored, err := s.store.InsertStatement(ctx, st)
	if conversation.IsConflict(err) {
		// Another node closed it first.
		stored, err = s.store.ClosedStatement(ctx, tenantID, month)
		return stored, false, err
	}
	return stored, err == nil, err
}

// CloseMonth closes the statements of month of every tenant with terms,
// and returns them. A tenant whose statement fails is logged and the rest
// closed; the first error is returned after.
func (s *Service) CloseMonth(ctx context.Context, month Month) ([]Statement, error) {
	if _, end, _, err := monthBounds(month, s.cfg.Location); err != nil {
		return nil, err
	} else if s.now().Before(end) {
		return nil, conversation.FieldError("month", "%s has not ended: only past months close", month)
	}
	tenants, err := s.store.BilledTenants(ctx)
	if err != nil {
		return nil, err
	}
	var out []Statement
	var first error
	for _, id := range tenants {
		st, closed, err := s.Close(ctx, id, month)
		if err != nil {
			if conversation.ErrorCode(err) == conversation.EINVALID {
				return nil, err // the month, the same for all
			}
			s.log.ErrorContext(ctx, "close a statement", "tenant", id, "month", month, "err", err)
			first = cmp.Or(first, err)
			continue
		}
		if closed {
			s.log.InfoContext(ctx, "statement closed", "tenant", id, "month", month, "total", st.Total, "currency", st.Currency)
		}
		out = append(out, st)
	}
	return out, first
}

// MonthStatements returns the statements of month of every tenant with
// terms, closed or open.
func (s *Service) MonthStatements(ctx context.Context, month Month) ([]Statement, error) {
	if start, _, _, err := monthBounds(month, s.cfg.Location); err != nil {
		return nil, err
	} else if s.now().Before(start) {
		return nil, conversation.FieldError("month", "%s has not begun", month)
	}
	tenants, err := s.store.BilledTenants(ctx)
	if err != nil {
		return nil, err
	}
	out := []Statement{}
	for _, id := range tenants {
		st, err := s.Statement(ctx, id, month)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Usage is what a tenant used in a month: its PQRs by channel, the billed
// figure. Conversations and messages per month are the reports'.
type Usage struct {
	TenantID  int64          `json:"tenant_id"`
	Month     Month          `json:"month"`
	Zone      string         `json:"zone"`
	Cases     int64          `json:"cases"`
	ByChannel []ChannelCount `json:"cases_by_channel"`
}

// Usage counts the tenant's PQRs filed in month, by channel.
func (s *Service) Usage(ctx context.Context, tenantID int64, month Month) (Usage, error) {
	start, end, _, err := monthBounds(month, s.cfg.Location)
	if err != nil {
		return Usage{}, err
	}
	counts, err := s.store.CountCases(ctx, tenantID, start, end)
	if err != nil {
		return Usage{}, err
	}
	u := Usage{TenantID: tenantID, Month: month, Zone: s.cfg.Location.String(), ByChannel: []ChannelCount{}}
	for _, c := range counts {
		u.Cases += c.Count
		u.ByChannel = append(u.ByChannel, c)
	}
	return u, nil
}

// closeJobAt returns when month's JobClose runs.
func (s *Service) closeJobAt(month Month) time.Time {
	_, end, _, _ := monthBounds(month, s.cfg.Location)
	return end.AddDate(0, 0, s.cfg.CloseAfterDays)
}

// schedule enqueues month's JobClose, unless one is pending.
func (s *Service) schedule(ctx context.Context, month Month) error {
	_, err := s.jobs.EnqueueJob(ctx, conversation.Job{Kind: JobClose, Key: JobClose + ":" + month, Payload: []byte(month),
		RunAt: s.closeJobAt(month), MaxAttempts: 20})
	if err == nil && s.cfg.JobsAdded != nil {
		s.cfg.JobsAdded()
	}
	return err
}

// Schedule enqueues the JobClose of the previous month and of this one:
// each runs once, on one node, CloseAfterDays after its month ends. Call it
// at start; each job schedules the next month's.
func (s *Service) Schedule(ctx context.Context) error {
	this := s.MonthOf(s.now())
	return errors.Join(s.schedule(ctx, prevMonth(this)), s.schedule(ctx, this))
}

// CloseJob is the JobHandler of JobClose: it closes the statements of the
// job's month and schedules the next month's job.
func (s *Service) CloseJob(ctx context.Context, j conversation.Job) error {
	month := Month(j.Payload)
	if _, err := ParseMonth(month); err != nil {
		return &conversation.JobError{Err: fmt.Errorf("billing close job %d: %w", j.ID, err), Permanent: true}
	}
	if _, err := s.CloseMonth(ctx, month); err != nil {
		return fmt.Errorf("close the statements of %s: %w", month, err)
	}
	t, _ := ParseMonth(month)
	return s.schedule(ctx, t.AddDate(0, 1, 0).Format("2006-01"))
}

package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/notify"
)

// Notifier schedules notifications and plans them in bulk.
// *notify.Service implements it.
type Notifier interface {
	Notify(ctx context.Context, r notify.Request) (notify.Notification, error)
	NotifyBatch(ctx context.Context, tenantID int64, rs []notify.Request) ([]notify.BatchResult, error)
	Planner(ctx context.Context, tenantID int64, purpose string, optOuts []notify.OptOut) (*notify.Planner, error)
}

// Tenants reads tenants. conversation.Store implements it.
type Tenants interface {
	Tenant(ctx context.Context, id int64) (conversation.Tenant, error)
}

// Deps are the service's collaborators; Bus is optional.
type Deps struct {
	Store    Store
	Tenants  Tenants
	Notifier Notifier
	// Bus carries campaign.progress events on the tenant's topic.
	Bus conversation.Bus
}

// Config configures the service.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Tick is how often a running campaign releases recipients; default
	// one second. Each release takes Throttle.PerSecond times Tick.
	Tick   time.Duration
	Logger *slog.Logger
	// JobsAdded is called after a release job was enqueued, to wake the
	// local Worker.
	JobsAdded func()
	// Progress, when set, is called with every progress event (to tell
	// the tenant's systems).
	Progress func(ctx context.Context, p Progress)
}

// Service creates, plans, releases and reports campaigns. It is safe for
// concurrent use.
type Service struct {
	deps Deps
	cfg  Config
}

// New returns the campaign service.
func New(deps Deps, cfg Config) (*Service, error) {
	if deps.Store == nil || deps.Tenants == nil || deps.Notifier == nil {
		return nil, errors.New("campaign: the service needs a store, tenants and a notifier")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.JobsAdded == nil {
		cfg.JobsAdded = func() {}
	}
	return &Service{deps: deps, cfg: cfg}, nil
}

// Limits of a campaign.
const (
	maxName      = 200
	maxData      = 100
	maxDataValue = 4096
	maxPerSecond = 10000
	maxAttrs     = 20
	segmentPage  = 1000
)

// Spec is what a tenant asks for: a campaign's name, purpose, data and
// throttle, and for a segment campaign its segment.
type Spec struct {
	Name     string            `json:"name"`
	Purpose  string            `json:"purpose"`
	Data     map[string]string `json:"data,omitempty"`
	Segment  *Segment          `json:"segment,omitempty"`
	Throttle Throttle          `json:"throttle"`
}

// Validate returns EINVALID naming the first bad field. A zero
// Throttle.PerSecond is 10.
func (s *Spec) Validate() error {
	if s.Throttle.PerSecond == 0 {
		s.Throttle.PerSecond = 10
	}
	switch {
	case strings.TrimSpace(s.Name) == "" || len(s.Name) > maxName || !utf8.ValidString(s.Name):
		return conversation.FieldError("name", "is required: at most %d bytes of UTF-8", maxName)
	case !conversation.ValidPurpose(s.Purpose):
		return conversation.FieldError("purpose", "%q is not a purpose: lower-case letters, digits and _, starting with a letter", s.Purpose)
	case len(s.Data) > maxData:
		return conversation.FieldError("data", "at most %d variables", maxData)
	case s.Throttle.PerSecond < 1 || s.Throttle.PerSecond > maxPerSecond:
		return conversation.FieldError("throttle.per_second", "must be 1 to %d", maxPerSecond)
	}
	for k, v := range s.Data {
		if !utf8.ValidString(k) || !utf8.ValidString(v) || len(v) > maxDataValue {
			return conversation.FieldError("data."+k, "must be UTF-8, at most %d bytes", maxDataValue)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(s.Throttle.PerChannel)) {
		if n := s.Throttle.PerChannel[k]; !k.Valid() || n < 1 || n > maxPerSecond {
			return conversation.FieldError("throttle.per_channel."+string(k), "a channel kind and 1 to %d per second", maxPerSecond)
		}
	}
	if g := s.Segment; g != nil {
		if len(g.Attributes) > maxAttrs {
			return conversation.FieldError("segment.attributes", "at most %d attributes", maxAttrs)
		}
		for k, v := range g.Attributes {
			if !headerRE.MatchString(k) || len(v) > maxAttrValue {
				return conversation.FieldError("segment.attributes."+k, "attribute names are lower-case letters, digits and _")
			}
		}
		for i, k := range g.Channels {
			if !k.Valid() {
				return conversation.FieldError(fmt.Sprintf("segment.channels[%d]", i), "unknown channel %q", k)
			}
		}
		if g.Language != "" && !languageRE.MatchString(g.Language) {
			return conversation.FieldError("segment.language", "%q is not a language tag like es or es-CO", g.Language)
		}
	}
	return nil
}

// CreateFromSegment creates a campaign to the tenant's contacts of
// spec.Segment (every contact when it is empty), plans every recipient and
// starts releasing them. Returns EINVALID naming a bad field (also a
// purpose without a template).
func (s *Service) CreateFromSegment(ctx context.Context, tenantID int64, spec Spec) (Campaign, error) {
	if spec.Segment == nil {
		spec.Segment = &Segment{}
	}
	if err := spec.Validate(); err != nil {
		return Campaign{}, err
	}
	c, planner, optOuts, err := s.create(ctx, tenantID, spec, SourceSegment)
	if err != nil {
		return Campaign{}, err
	}
	var after int64
	for {
		cs, err := s.deps.Store.SegmentContacts(ctx, tenantID, *spec.Segment, after, segmentPage)
		if err != nil {
			return c, fmt.Errorf("read segment: %w", err)
		}
		if len(cs) == 0 {
			break
		}
		after = cs[len(cs)-1].ID
		if err := s.plan(ctx, c, planner, cs, spec.Segment.OptedIn && optOuts); err != nil {
			return c, err
		}
	}
	return s.start(ctx, c)
}

// CreateFromCSV creates a campaign to the contacts of a CSV upload (see
// ReadCSV), read as a stream and planned a batch at a time, and starts
// releasing them. Phone numbers without a country code are read in the
// tenant's region. Bad rows are in the campaign's import report. Returns
// EINVALID naming a bad field or a bad header (field "csv").
func (s *Service) CreateFromCSV(ctx context.Context, tenantID int64, spec Spec, csv io.Reader) (Campaign, error) {
	spec.Segment = nil
	if err := spec.Validate(); err != nil {
		return Campaign{}, err
	}
	tenant, err := s.deps.Tenants.Tenant(ctx, tenantID)
	if err != nil {
		return Campaign{}, err
	}
	c, planner, _, err := s.create(ctx, tenantID, spec, SourceCSV)
	if err != nil {
		return Campaign{}, err
	}
	rep, err := ReadCSV(csv, tenant.Region, func(batch []ContactImport, _ []int) error {
		cs, err := s.deps.Store.ImportContacts(ctx, tenantID, batch)
		if err != nil {
			return fmt.Errorf("import contacts: %w", err)
		}
		return s.plan(ctx, c, planner, cs, false)
	})
	if err != nil {
		if _, cerr := s.deps.Store.SetCampaignStatus(ctx, tenantID, c.ID, []Status{StatusPlanning}, StatusCancelled, time.Time{}); cerr != nil {
			s.cfg.Logger.Warn("cancel a campaign whose upload failed", "tenant", tenantID, "campaign", c.ID, "err", cerr)
		}
		return Campaign{}, err
	}
	if err := s.deps.Store.SetImport(ctx, tenantID, c.ID, rep); err != nil {
		return c, err
	}
	c.Import = &rep
	s.cfg.Logger.Info("campaign csv", "tenant", tenantID, "campaign", c.ID, "rows", rep.Rows, "bad", rep.Bad)
	return s.start(ctx, c)
}

// create checks the purpose and stores the campaign in status planning.
// optedOut says whether anyone opted out at all.
func (s *Service) create(ctx context.Context, tenantID int64, spec Spec, source string) (Campaign, *notify.Planner, bool, error) {
	optOuts, err := s.deps.Store.OptOuts(ctx, tenantID, spec.Purpose)
	if err != nil {
		return Campaign{}, nil, false, fmt.Errorf("read consent: %w", err)
	}
	planner, err := s.deps.Notifier.Planner(ctx, tenantID, spec.Purpose, optOuts)
	if err != nil {
		return Campaign{}, nil, false, err
	}
	c, err := s.deps.Store.CreateCampaign(ctx, Campaign{TenantID: tenantID, Name: strings.TrimSpace(spec.Name), Purpose: spec.Purpose,
		Data: spec.Data, Source: source, Segment: spec.Segment, Throttle: spec.Throttle, Status: StatusPlanning})
	if err != nil {
		return Campaign{}, nil, false, err
	}
	return c, planner, len(optOuts) > 0, nil
}

// plan plans contacts and stores them as recipients; with dropOptedOut
// the contacts left out only by their consent are not recipients.
func (s *Service) plan(ctx context.Context, c Campaign, planner *notify.Planner, cs []conversation.Contact, dropOptedOut bool) error {
	rs := make([]Recipient, 0, len(cs))
	for _, ct := range cs {
		p := planner.Plan(ct)
		if dropOptedOut && p.OptedOut() {
			continue
		}
		r := Recipient{TenantID: c.TenantID, CampaignID: c.ID, ContactID: ct.ID, Channel: p.Channel, AccountID: p.AccountID,
			Address: p.Address, Due: p.Due, State: StatePlanned}
		if p.Channel == "" {
			r.State, r.Code, r.Reason = StateSkipped, skipCode(p), skipReason(p)
		}
		rs = append(rs, r)
	}
	if _, err := s.deps.Store.AddRecipients(ctx, c.TenantID, c.ID, rs); err != nil {
		return fmt.Errorf("store recipients: %w", err)
	}
	return nil
}

// skipCode sums up why planning found no channel: opted_out when consent
// was the only obstacle, else no_channel.
func skipCode(p notify.Plan) string {
	if p.OptedOut() {
		return notify.SkipOptedOut
	}
	return "no_channel"
}

func skipReason(p notify.Plan) string {
	if len(p.Skipped) == 0 {
		return "no channel to try"
	}
	rs := make([]string, len(p.Skipped))
	for i, sk := range p.Skipped {
		rs[i] = sk.Reason
	}
	return strings.Join(rs, "; ")
}

// start moves a planned campaign to running, its first release due now.
func (s *Service) start(ctx context.Context, c Campaign) (Campaign, error) {
	out, err := s.deps.Store.SetCampaignStatus(ctx, c.TenantID, c.ID, []Status{StatusPlanning}, StatusRunning, s.cfg.Now())
	if err != nil {
		return c, err
	}
	out.Import = cmpImport(out.Import, c.Import)
	s.cfg.JobsAdded()
	s.publish(ctx, out)
	return out, nil
}

func cmpImport(a, b *ImportReport) *ImportReport {
	if a != nil {
		return a
	}
	return b
}

// Get returns a campaign. Returns ENOTFOUND unless it is the tenant's.
func (s *Service) Get(ctx context.Context, tenantID, id int64) (Campaign, error) {
	return s.deps.Store.Campaign(ctx, tenantID, id)
}

// List returns the tenant's campaigns, newest first.
func (s *Service) List(ctx context.Context, tenantID, beforeID int64, limit int) ([]Campaign, error) {
	return s.deps.Store.ListCampaigns(ctx, tenantID, beforeID, limit)
}

// Pause stops the release of a running campaign's recipients; the ones
// released go on. Returns ECONFLICT unless it is running, ENOTFOUND unless
// it is the tenant's.
func (s *Service) Pause(ctx context.Context, tenantID, id int64) (Campaign, error) {
	return s.move(ctx, tenantID, id, []Status{StatusRunning}, StatusPaused)
}

// Resume goes on releasing a paused campaign's recipients. Returns
// ECONFLICT unless it is paused, ENOTFOUND unless it is the tenant's.
func (s *Service) Resume(ctx context.Context, tenantID, id int64) (Campaign, error) {
	c, err := s.move(ctx, tenantID, id, []Status{StatusPaused}, StatusRunning)
	if err == nil {
		s.cfg.JobsAdded()
	}
	return c, err
}

// Cancel ends a campaign: its recipients not yet released never are.
// Returns ECONFLICT when it is done or cancelled, ENOTFOUND unless it is
// the tenant's.
func (s *Service) Cancel(ctx context.Context, tenantID, id int64) (Campaign, error) {
	return s.move(ctx, tenantID, id, []Status{StatusPlanning, StatusRunning, StatusPaused}, StatusCancelled)
}

func (s *Service) move(ctx context.Context, tenantID, id int64, from []Status, to Status) (Campaign, error) {
	c, err := s.deps.Store.SetCampaignStatus(ctx, tenantID, id, from, to, s.cfg.Now())
	if conversation.IsConflict(err) {
		return c, &conversation.Error{Code: conversation.ECONFLICT, Field: "status",
			Message: fmt.Sprintf("the campaign is %s; it cannot become %s", c.Status, to), Err: err}
	}
	if err != nil {
		return c, err
	}
	s.cfg.Logger.Info("campaign", "tenant", tenantID, "campaign", id, "status", to)
	s.publish(ctx, c)
	return c, nil
}

// Report counts what became of a campaign's recipients. Returns
// ENOTFOUND unless the campaign is the tenant's.
func (s *Service) Report(ctx context.Context, tenantID, id int64) (Report, error) {
	c, err := s.deps.Store.Campaign(ctx, tenantID, id)
	if err != nil {
		return Report{}, err
	}
	outs, err := s.deps.Store.Outcomes(ctx, tenantID, id)
	if err != nil {
		return Report{}, err
	}
	rep := Report{CampaignID: id, Status: c.Status}
	for _, o := range outs {
		o.Recipient.summarize()
		rep.add(o.Recipient, o.Count)
	}
	return rep, nil
}

// Recipients lists a campaign's recipients with their status. Returns
// ENOTFOUND unless the campaign is the tenant's.
func (s *Service) Recipients(ctx context.Context, tenantID, id int64, f RecipientFilter) ([]Recipient, error) {
	if _, err := s.deps.Store.Campaign(ctx, tenantID, id); err != nil {
		return nil, err
	}
	rs, err := s.deps.Store.ListRecipients(ctx, tenantID, id, f)
	if err != nil {
		return nil, err
	}
	for i := range rs {
		rs[i].summarize()
	}
	return rs, nil
}

// SendJob is the conversation.JobHandler of JobSend. While the campaign
// is running it releases the next recipients within the throttle (per
// second in all, and per channel), each as a notification (whose job
// chooses the channel again, and the time, when it sends), then enqueues
// the next release a Tick later, or marks the campaign done when nobody is
// left. A paused or cancelled campaign's job does nothing: Resume
// enqueues a new one. Running it twice releases each recipient once.
func (s *Service) SendJob(ctx context.Context, j conversation.Job) error {
	c, err := s.deps.Store.Campaign(ctx, j.TenantID, j.Ref)
	if conversation.IsNotFound(err) {
		return &conversation.JobError{Err: err, Permanent: true}
	}
	if err != nil {
		return err
	}
	if c.Status != StatusRunning {
		return nil
	}
	channels, err := s.deps.Store.PlannedChannels(ctx, c.TenantID, c.ID)
	if err != nil {
		return err
	}
	if len(channels) == 0 {
		c, err = s.deps.Store.SetCampaignStatus(ctx, c.TenantID, c.ID, []Status{StatusRunning}, StatusDone, time.Time{})
		if err != nil && !conversation.IsConflict(err) {
			return err
		}
		if err == nil {
			s.cfg.Logger.Info("campaign", "tenant", c.TenantID, "campaign", c.ID, "status", c.Status)
			s.publish(ctx, c)
		}
		return nil
	}
	budget := perTick(c.Throttle.PerSecond, s.cfg.Tick)
	var released []Recipient
	for _, kind := range channels {
		n := budget
		if lim, ok := c.Throttle.PerChannel[kind]; ok {
			n = min(n, perTick(lim, s.cfg.Tick))
		}
		if n <= 0 {
			break
		}
		rs, err := s.deps.Store.NextRecipients(ctx, c.TenantID, c.ID, kind, n)
		if err != nil {
			return err
		}
		released = append(released, rs...)
		budget -= len(rs)
	}
	for chunk := range slices.Chunk(released, notify.MaxBatch) {
		if err := s.release(ctx, c, chunk); err != nil {
			return err
		}
	}
	s.publish(ctx, c)
	next := s.cfg.Now().Add(s.cfg.Tick)
	_, err = s.deps.Store.SetCampaignStatus(ctx, c.TenantID, c.ID, []Status{StatusRunning}, StatusRunning, next)
	if conversation.IsConflict(err) {
		return nil // paused or cancelled meanwhile
	}
	return err
}

// perTick is how many of perSecond fall in a tick, at least one.
func perTick(perSecond int, tick time.Duration) int {
	return max(1, int(float64(perSecond)*tick.Seconds()+0.5))
}

// release schedules the recipients' notifications as one batch and
// records their releases; a recipient refused (a contact deleted since,
// a template changed) is recorded with the reason.
func (s *Service) release(ctx context.Context, c Campaign, rs []Recipient) error {
	reqs := make([]notify.Request, len(rs))
	for i, r := range rs {
		reqs[i] = notify.Request{TenantID: c.TenantID, ContactID: r.ContactID, Purpose: c.Purpose,
			Data: c.Data, IdempotencyKey: NotificationKey(c.ID, r.ID)}
	}
	results, err := s.deps.Notifier.NotifyBatch(ctx, c.TenantID, reqs)
	if err != nil {
		return fmt.Errorf("notify %d recipients: %w", len(rs), err)
	}
	releases := make([]Release, len(rs))
	for i, r := range rs {
		releases[i] = Release{RecipientID: r.ID, NotificationID: results[i].Notification.ID}
		switch err := results[i].Err; conversation.ErrorCode(err) {
		case conversation.EINVALID, conversation.ENOTFOUND, conversation.ECONFLICT:
			releases[i].Reason = conversation.ErrorMessage(err)
		default:
			if err != nil {
				return fmt.Errorf("notify recipient %d: %w", r.ID, err)
			}
		}
	}
	if _, err := s.deps.Store.ReleaseRecipients(ctx, c.TenantID, releases); err != nil {
		return fmt.Errorf("record %d recipients: %w", len(rs), err)
	}
	return nil
}

// Progress is the payload of a campaign.progress event.
type Progress struct {
	Type     string    `json:"type"`
	TenantID int64     `json:"tenant_id"`
	Campaign int64     `json:"campaign_id"`
	Status   Status    `json:"status"`
	Report   Report    `json:"report"`
	At       time.Time `json:"at"`
}

// EventProgress is the type of a campaign's progress event on the
// tenant's topic.
const EventProgress = "campaign.progress"

// publish sends a campaign's progress on the tenant's topic; a failure is
// logged, the campaign goes on.
func (s *Service) publish(ctx context.Context, c Campaign) {
	if s.deps.Bus == nil && s.cfg.Progress == nil {
		return
	}
	rep, err := s.Report(ctx, c.TenantID, c.ID)
	if err != nil {
		s.cfg.Logger.Warn("campaign progress", "tenant", c.TenantID, "campaign", c.ID, "err", err)
		return
	}
	p := Progress{Type: EventProgress, TenantID: c.TenantID, Campaign: c.ID, Status: rep.Status, Report: rep, At: s.cfg.Now().UTC()}
	if s.cfg.Progress != nil {
		s.cfg.Progress(ctx, p)
	}
	if s.deps.Bus == nil {
		return
	}
	b, _ := json.Marshal(p)
	if err := s.deps.Bus.Publish(ctx, conversation.TenantTopic(c.TenantID), b); err != nil {
		s.cfg.Logger.Warn("campaign progress", "tenant", c.TenantID, "campaign", c.ID, "err", err)
	}
}

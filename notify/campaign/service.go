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
// purpose without a template). If planning stops (the node stops), the
// campaign's planning job resumes it.
func (s *Service) CreateFromSegment(ctx context.Context, tenantID int64, spec Spec) (Campaign, error) {
	if spec.Segment == nil {
		spec.Segment = &Segment{}
	}
	if err := spec.Validate(); err != nil {
		return Campaign{}, err
	}
	c, p, err := s.create(ctx, tenantID, spec, SourceSegment)
	if err != nil {
		return Campaign{}, err
	}
	if err := s.planSegment(ctx, c, p); err != nil {
		return c, err
	}
	return s.start(ctx, c)
}

// planSegment plans the segment's contacts after the last one planned
// before, a page at a time.
func (s *Service) planSegment(ctx context.Context, c Campaign, p planning) error {
	var seg Segment // every contact
	if c.Segment != nil {
		seg = *c.Segment
	}
	after, err := s.deps.Store.LastRecipientContact(ctx, c.TenantID, c.ID)
	if err != nil {
		return fmt.Errorf("resume the segment: %w", err)
	}
	for {
		cs, err := s.deps.Store.SegmentContacts(ctx, c.TenantID, seg, after, segmentPage)
		if err != nil {
			return fmt.Errorf("read segment: %w", err)
		}
		if len(cs) == 0 {
			return nil
		}
		after = cs[len(cs)-1].ID
		if err := s.plan(ctx, c, p.planner, cs, seg.OptedIn && p.optedOut); err != nil {
			return err
		}
	}
}

// CreateFromCSV creates a campaign to the contacts of a CSV upload (see
// ReadCSV), kept in the store while the campaign is planning, read as a
// stream and planned a batch at a time, and starts releasing them. Phone
// numbers without a country code are read in the tenant's region. Bad
// rows are in the campaign's import report. Returns EINVALID naming a bad
// field or a bad header (field "csv"). If planning stops once the upload
// is stored, the campaign's planning job resumes it.
func (s *Service) CreateFromCSV(ctx context.Context, tenantID int64, spec Spec, csv io.Reader) (Campaign, error) {
	spec.Segment = nil
	if err := spec.Validate(); err != nil {
		return Campaign{}, err
	}
	c, p, err := s.create(ctx, tenantID, spec, SourceCSV)
	if err != nil {
		return Campaign{}, err
	}
	if err := s.keepUpload(ctx, c, csv); err != nil {
		s.cancelPlanning(ctx, c, "its upload failed")
		return Campaign{}, err
	}
	rep, err := s.planCSV(ctx, c, p)
	if err != nil {
		if conversation.ErrorCode(err) == conversation.EINVALID {
			s.cancelPlanning(ctx, c, "its upload is not a campaign CSV")
		}
		return Campaign{}, err
	}
	c.Import = &rep
	return s.start(ctx, c)
}

// uploadPiece is the size of the pieces an upload is kept in.
const uploadPiece = 1 << 20

// keepUpload stores a campaign's CSV upload in pieces, then the empty
// piece that says it is whole.
func (s *Service) keepUpload(ctx context.Context, c Campaign, r io.Reader) error {
	buf := make([]byte, uploadPiece)
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if err := s.deps.Store.PutUpload(ctx, c.TenantID, c.ID, seq, buf[:n]); err != nil {
				return fmt.Errorf("keep the upload: %w", err)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("read the upload: %w", err)
		}
		if err := s.deps.Store.PutUpload(ctx, c.TenantID, c.ID, seq, nil); err != nil {
			return fmt.Errorf("keep the upload: %w", err)
		}
		return nil
	}
}

// errUploadCut says that a kept upload lacks its end: its request stopped
// before it was stored whole.
var errUploadCut = errors.New("the upload was not stored whole")

// uploadReader returns a reader of the campaign's kept upload that reads
// it from the store a piece at a time. A missing piece is errUploadCut.
func (s *Service) uploadReader(ctx context.Context, c Campaign) io.Reader {
	seq, done := 0, false
	var piece []byte
	return readerFunc(func(p []byte) (int, error) {
		for len(piece) == 0 {
			if done {
				return 0, io.EOF
			}
			next, err := s.deps.Store.UploadPiece(ctx, c.TenantID, c.ID, seq)
			if conversation.IsNotFound(err) {
				return 0, errUploadCut
			}
			if err != nil {
				return 0, fmt.Errorf("read the kept upload: %w", err)
			}
			seq++
			piece, done = next, len(next) == 0
		}
		n := copy(p, piece)
		piece = piece[n:]
		return n, nil
	})
}

// readerFunc is an io.Reader.
type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// planCSV imports and plans the contacts of the campaign's kept upload
// after the batches planned before (SetPlanCursor records each), and
// stores the import report, counted over the whole upload. A batch planned
// again (stopped between its recipients and its cursor) matches its
// contacts, and adds none twice.
func (s *Service) planCSV(ctx context.Context, c Campaign, p planning) (ImportReport, error) {
	tenant, err := s.deps.Tenants.Tenant(ctx, c.TenantID)
	if err != nil {
		return ImportReport{}, err
	}
	done, err := s.deps.Store.PlanCursor(ctx, c.TenantID, c.ID)
	if err != nil {
		return ImportReport{}, fmt.Errorf("resume the upload: %w", err)
	}
	rep, err := ReadCSV(s.uploadReader(ctx, c), tenant.Region, func(batch []ContactImport, lines []int) error {
		if len(lines) == 0 || lines[len(lines)-1] <= done {
			return nil // planned before the planning stopped
		}
		cs, err := s.deps.Store.ImportContacts(ctx, c.TenantID, batch)
		if err != nil {
			return fmt.Errorf("import contacts: %w", err)
		}
		if err := s.plan(ctx, c, p.planner, cs, false); err != nil {
			return err
		}
		return s.deps.Store.SetPlanCursor(ctx, c.TenantID, c.ID, lines[len(lines)-1])
	})
	if err != nil {
		return rep, err
	}
	if err := s.deps.Store.SetImport(ctx, c.TenantID, c.ID, rep); err != nil {
		return rep, err
	}
	s.cfg.Logger.Info("campaign csv", "tenant", c.TenantID, "campaign", c.ID, "rows", rep.Rows, "bad", rep.Bad)
	return rep, nil
}

// cancelPlanning cancels a campaign that cannot be planned; a failure is
// logged.
func (s *Service) cancelPlanning(ctx context.Context, c Campaign, why string) {
	s.cfg.Logger.Warn("campaign cancelled: "+why, "tenant", c.TenantID, "campaign", c.ID)
	if _, err := s.deps.Store.SetCampaignStatus(context.WithoutCancel(ctx), c.TenantID, c.ID, []Status{StatusPlanning}, StatusCancelled, time.Time{}); err != nil {
		s.cfg.Logger.Warn("cancel a campaign that cannot be planned", "tenant", c.TenantID, "campaign", c.ID, "err", err)
	}
}

// planning is what planning a campaign reads once: the planner and
// whether anyone opted out at all.
type planning struct {
	planner  *notify.Planner
	optedOut bool
}

// create checks the purpose and stores the campaign in status planning,
// with its planning job.
func (s *Service) create(ctx context.Context, tenantID int64, spec Spec, source string) (Campaign, planning, error) {
	p, err := s.planning(ctx, tenantID, spec.Purpose)
	if err != nil {
		return Campaign{}, p, err
	}
	c, err := s.deps.Store.CreateCampaign(ctx, Campaign{TenantID: tenantID, Name: strings.TrimSpace(spec.Name), Purpose: spec.Purpose,
		Data: spec.Data, Source: source, Segment: spec.Segment, Throttle: spec.Throttle, Status: StatusPlanning})
	if err != nil {
		return Campaign{}, p, err
	}
	return c, p, nil
}

// planning reads the consent and rules a purpose is planned by.
func (s *Service) planning(ctx context.Context, tenantID int64, purpose string) (planning, error) {
	optOuts, err := s.deps.Store.OptOuts(ctx, tenantID, purpose)
	if err != nil {
		return planning{}, fmt.Errorf("read consent: %w", err)
	}
	planner, err := s.deps.Notifier.Planner(ctx, tenantID, purpose, optOuts)
	if err != nil {
		return planning{}, err
	}
	return planning{planner: planner, optedOut: len(optOuts) > 0}, nil
}

// PlanJob is the conversation.JobHandler of JobPlan. A campaign still
// planning whose planning stored nothing for PlanLease is taken to have
// stopped: the job plans the rest (a segment after its last planned
// contact, a CSV upload again from its kept copy, adding only contacts
// not planned yet) and starts it. While planning goes on, it waits
// (retried after the rest of the lease). A campaign whose upload was cut
// before it was stored whole, or is not a campaign CSV, is cancelled.
func (s *Service) PlanJob(ctx context.Context, j conversation.Job) error {
	c, err := s.deps.Store.Campaign(ctx, j.TenantID, j.Ref)
	if conversation.IsNotFound(err) {
		return &conversation.JobError{Err: err, Permanent: true}
	}
	if err != nil {
		return err
	}
	if c.Status != StatusPlanning {
		return nil
	}
	if quiet := s.cfg.Now().Sub(c.UpdatedAt); quiet < PlanLease {
		// A clock behind the store's waits one lease, not longer.
		return &conversation.JobError{Err: fmt.Errorf("campaign %d is being planned", c.ID), RetryAfter: min(PlanLease-quiet, PlanLease)}
	}
	s.cfg.Logger.Info("campaign planning resumed", "tenant", c.TenantID, "campaign", c.ID, "source", c.Source)
	p, err := s.planning(ctx, c.TenantID, c.Purpose)
	if conversation.ErrorCode(err) == conversation.EINVALID {
		s.cancelPlanning(ctx, c, "its purpose cannot be planned any more")
		return nil
	}
	if err != nil {
		return err
	}
	switch c.Source {
	case SourceCSV:
		rep, err := s.planCSV(ctx, c, p)
		if errors.Is(err, errUploadCut) || conversation.ErrorCode(err) == conversation.EINVALID {
			s.cancelPlanning(ctx, c, "its upload cannot be planned: "+err.Error())
			return nil
		}
		if err != nil {
			return err
		}
		c.Import = &rep
	default:
		if err := s.planSegment(ctx, c, p); err != nil {
			return err
		}
	}
	_, err = s.start(ctx, c)
	return err
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
// A campaign that left planning meanwhile (started by its planning job,
// or cancelled) is returned as it is.
func (s *Service) start(ctx context.Context, c Campaign) (Campaign, error) {
	out, err := s.deps.Store.SetCampaignStatus(ctx, c.TenantID, c.ID, []Status{StatusPlanning}, StatusRunning, s.cfg.Now())
	if conversation.IsConflict(err) {
		return out, nil
	}
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

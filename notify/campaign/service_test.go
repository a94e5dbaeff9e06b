package campaign_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/campaign"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
	"conversa/templates"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// env is the campaign service on the real SQLite store with the real
// conversation, template and notification services, for a tenant in
// Bogotá with SMS, email and web-chat accounts and a "reminder" template.
type env struct {
	store  *sqlite.Store
	bus    *memory.Shared
	notify *notify.Service
	svc    *campaign.Service
	clock  *clock
	tenant conversation.Tenant
	accts  map[conversation.ChannelKind]conversation.ChannelAccount
}

// A Tuesday 15:00 in Bogotá (20:00 UTC): 05:00 on Wednesday in Tokyo.
var afternoon = time.Date(2026, 3, 10, 20, 0, 0, 0, time.UTC)

const reminder = `purpose: reminder
variables:
  when: {sample: "mañana", required: true}
variants:
  - channel: default
    language: es
    text: "Recuerde su cita {{.when}}."
`

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, bus: memory.New(), clock: &clock{t: afternoon}, accts: map[conversation.ChannelKind]conversation.ChannelAccount{}}
	conv, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: e.bus})
	must(t, err)
	tpls := templates.NewService(store)
	e.notify, err = notify.New(store, notify.Deps{Conversations: store, Sender: conv, Templates: tpls}, notify.Config{Now: e.clock.now})
	must(t, err)
	e.svc, err = campaign.New(campaign.Deps{Store: store, Tenants: store, Notifier: e.notify, Bus: e.bus}, campaign.Config{Now: e.clock.now})
	must(t, err)
	tn := conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	must(t, tn.Validate())
	e.tenant, err = store.CreateTenant(ctx, tn)
	must(t, err)
	// In a fixed order, so account ids, and every list in their order, repeat.
	for _, a := range []conversation.ChannelAccount{
		{Kind: conversation.ChannelSMS, Key: "+15550002222"},
		{Kind: conversation.ChannelEmail, Key: "avisos@acme.example"},
		{Kind: conversation.ChannelWebchat, Key: "acme-web"},
	} {
		a.TenantID, a.Name = e.tenant.ID, string(a.Kind)
		a, err := store.CreateChannelAccount(ctx, a)
		must(t, err)
		e.accts[a.Kind] = a
	}
	_, _, _, err = tpls.Save(ctx, e.tenant.ID, "reminder", "reminder.yaml", []byte(reminder))
	must(t, err)
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runJobs runs the due jobs of kinds, as the Worker would, until none is
// due, and returns how many ran.
func (e *env) runJobs(t *testing.T, kinds ...string) int {
	t.Helper()
	ran := 0
	for {
		js, err := e.store.ClaimJobs(t.Context(), kinds, 100, time.Minute)
		must(t, err)
		if len(js) == 0 {
			return ran
		}
		for _, j := range js {
			var err error
			switch j.Kind {
			case campaign.JobSend:
				err = e.svc.SendJob(t.Context(), j)
			case notify.JobNotify:
				err = e.notify.NotifyJob(t.Context(), j)
			case notify.JobNotifyBatch:
				err = e.notify.NotifyBatchJob(t.Context(), j)
			}
			must(t, err)
			must(t, e.store.CompleteJob(t.Context(), j))
			ran++
		}
	}
}

// tick runs the release job that is due, once.
func (e *env) tick(t *testing.T) int {
	t.Helper()
	js, err := e.store.ClaimJobs(t.Context(), []string{campaign.JobSend}, 10, time.Minute)
	must(t, err)
	for _, j := range js {
		must(t, e.svc.SendJob(t.Context(), j))
		must(t, e.store.CompleteJob(t.Context(), j))
	}
	return len(js)
}

func (e *env) report(t *testing.T, id int64) campaign.Report {
	t.Helper()
	r, err := e.svc.Report(t.Context(), e.tenant.ID, id)
	must(t, err)
	return r
}

func (e *env) importCSV(t *testing.T, spec campaign.Spec, csv string) campaign.Campaign {
	t.Helper()
	c, err := e.svc.CreateFromCSV(t.Context(), e.tenant.ID, spec, strings.NewReader(csv))
	must(t, err)
	return c
}

var spec = campaign.Spec{Name: "Recordatorio", Purpose: "reminder", Data: map[string]string{"when": "el lunes"}, Throttle: campaign.Throttle{PerSecond: 1000}}

// TestPlanQuietHours: planning puts each recipient's notification at the
// first allowed time in their own zone (an injected clock); the release
// schedules them for it.
func TestPlanQuietHours(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c := e.importCSV(t, spec, "name,phone,email,time_zone\n"+
		"Bogotá,3001234567,,\n"+ // 15:00 in Bogotá: now
		"Tokio,,tokio@example.com,Asia/Tokyo\n"+ // 05:00 in Tokyo: at 08:00
		"Madrid,+34 612 345 678,,\n") // 21:00 in Madrid: at 08:00 the next day
	rs, err := e.svc.Recipients(ctx, e.tenant.ID, c.ID, campaign.RecipientFilter{})
	must(t, err)
	want := []struct {
		ch  conversation.ChannelKind
		due time.Time
	}{
		{conversation.ChannelSMS, afternoon},
		{conversation.ChannelEmail, time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC)}, // 08:00 JST
		{conversation.ChannelSMS, time.Date(2026, 3, 11, 7, 0, 0, 0, time.UTC)},    // 08:00 CET
	}
	if len(rs) != len(want) {
		t.Fatalf("recipients %+v", rs)
	}
	for i, r := range rs {
		if r.Channel != want[i].ch || !r.Due.Equal(want[i].due) || r.State != campaign.StatePlanned {
			t.Errorf("recipient %d: %s at %s (%s), want %s at %s", i, r.Channel, r.Due, r.State, want[i].ch, want[i].due)
		}
	}
	e.runJobs(t, campaign.JobSend, notify.JobNotify, notify.JobNotifyBatch)
	rep := e.report(t, c.ID)
	if rep.Status != campaign.StatusDone || rep.Queued != 3 || rep.Sent != 0 {
		t.Fatalf("report %+v", rep)
	}
	ns, err := e.notify.List(ctx, e.tenant.ID, notify.Filter{})
	must(t, err)
	sent := 0
	for _, n := range ns {
		if n.Status == notify.StatusSent {
			sent++
		}
	}
	if sent != 1 {
		t.Fatalf("%d sent now, want only Bogotá's: %+v", sent, ns)
	}
}

// TestSegmentConsentAndThrottle: a segment by attribute and channel; a
// contact who opted out is reported as such (or left out with opted_in);
// the release keeps to the channel's rate per tick; pause, resume and
// cancel steer it through the store.
func TestSegmentConsentAndThrottle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	var rows strings.Builder
	rows.WriteString("name,phone,city\n")
	for i := range 12 {
		fmt.Fprintf(&rows, "C%d,300%07d,%s\n", i, 1000000+i, map[bool]string{true: "bogota", false: "cali"}[i < 10])
	}
	e.importCSV(t, campaign.Spec{Name: "carga", Purpose: "reminder", Data: spec.Data}, rows.String())
	// That first campaign is not the one under test: cancel it.
	list, err := e.svc.List(ctx, e.tenant.ID, 0, 10)
	must(t, err)
	_, err = e.svc.Cancel(ctx, e.tenant.ID, list[0].ID)
	must(t, err)
	e.tick(t) // its release job, which does nothing now
	out, err := e.store.ContactByIdentity(ctx, e.tenant.ID, conversation.Identity{Channel: conversation.ChannelSMS, Address: "+573001000000"})
	must(t, err)
	_, err = e.store.RecordConsent(ctx, conversation.ConsentChange{TenantID: e.tenant.ID, AccountID: e.accts[conversation.ChannelSMS].ID,
		ContactID: out.ID, Channel: conversation.ChannelSMS, Address: "+573001000000", OptedOut: true, Source: "keyword:STOP", At: afternoon})
	must(t, err)

	s := spec
	s.Segment = &campaign.Segment{Attributes: map[string]string{"city": "bogota"}, Channels: []conversation.ChannelKind{conversation.ChannelSMS}}
	s.Throttle = campaign.Throttle{PerSecond: 10, PerChannel: map[conversation.ChannelKind]int{conversation.ChannelSMS: 3}}
	c, err := e.svc.CreateFromSegment(ctx, e.tenant.ID, s)
	must(t, err)
	rep := e.report(t, c.ID)
	if rep.Recipients != 10 || rep.OptedOut != 1 || rep.Planned != 9 || c.Status != campaign.StatusRunning {
		t.Fatalf("planned %+v", rep)
	}
	sub, err := e.bus.Subscribe(ctx, conversation.TenantTopic(e.tenant.ID))
	must(t, err)
	defer sub.Close()

	if n := e.tick(t); n != 1 {
		t.Fatalf("%d release jobs ran", n)
	}
	if rep = e.report(t, c.ID); rep.Queued != 3 || rep.Planned != 6 {
		t.Fatalf("after one tick %+v, want 3 released (3 a second on SMS)", rep)
	}
	select {
	case m := <-sub.C():
		var p campaign.Progress
		must(t, json.Unmarshal(m.Payload, &p))
		if p.Type != campaign.EventProgress || p.Campaign != c.ID || p.Report.Queued != 3 {
			t.Fatalf("progress event %+v", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no progress event")
	}
	_, err = e.svc.Pause(ctx, e.tenant.ID, c.ID)
	must(t, err)
	_, err = e.svc.Pause(ctx, e.tenant.ID, c.ID)
	if conversation.ErrorCode(err) != conversation.ECONFLICT {
		t.Fatalf("pause twice: %v", err)
	}
	waitTick(t, e)
	if rep = e.report(t, c.ID); rep.Queued != 3 || rep.Status != campaign.StatusPaused {
		t.Fatalf("paused %+v", rep)
	}
	_, err = e.svc.Resume(ctx, e.tenant.ID, c.ID)
	must(t, err)
	waitTick(t, e)
	if rep = e.report(t, c.ID); rep.Queued != 6 {
		t.Fatalf("resumed %+v", rep)
	}
	_, err = e.svc.Cancel(ctx, e.tenant.ID, c.ID)
	must(t, err)
	waitTick(t, e)
	if rep = e.report(t, c.ID); rep.Queued != 6 || rep.Cancelled != 3 || rep.Status != campaign.StatusCancelled {
		t.Fatalf("cancelled %+v", rep)
	}
	if _, err = e.svc.Resume(ctx, e.tenant.ID, c.ID); conversation.ErrorCode(err) != conversation.ECONFLICT {
		t.Fatalf("resume a cancelled campaign: %v", err)
	}

	// With opted_in the contact who opted out is no recipient at all.
	s.Segment.OptedIn = true
	c2, err := e.svc.CreateFromSegment(ctx, e.tenant.ID, s)
	must(t, err)
	if rep = e.report(t, c2.ID); rep.Recipients != 9 || rep.OptedOut != 0 {
		t.Fatalf("opted-in segment %+v", rep)
	}
}

// waitTick runs the next release job. The test clock is months behind the
// store's, which claims jobs by real time: every release is due at once.
func waitTick(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if e.tick(t) > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCreateRejects: bad specs are EINVALID naming the field; another
// tenant's campaign is not found.
func TestCreateRejects(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for field, s := range map[string]campaign.Spec{
		"name":                        {Purpose: "reminder"},
		"purpose":                     {Name: "x", Purpose: "Bad Purpose"},
		"throttle.per_second":         {Name: "x", Purpose: "reminder", Throttle: campaign.Throttle{PerSecond: -1}},
		"throttle.per_channel.fax":    {Name: "x", Purpose: "reminder", Throttle: campaign.Throttle{PerChannel: map[conversation.ChannelKind]int{"fax": 1}}},
		"segment.language":            {Name: "x", Purpose: "reminder", Segment: &campaign.Segment{Language: "español!"}},
		"segment.channels[0]":         {Name: "x", Purpose: "reminder", Segment: &campaign.Segment{Channels: []conversation.ChannelKind{"fax"}}},
		"segment.attributes.Bad Name": {Name: "x", Purpose: "reminder", Segment: &campaign.Segment{Attributes: map[string]string{"Bad Name": "x"}}},
	} {
		_, err := e.svc.CreateFromSegment(ctx, e.tenant.ID, s)
		if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != field {
			t.Errorf("%s: error %v (field %q)", field, err, conversation.ErrorField(err))
		}
	}
	_, err := e.svc.CreateFromSegment(ctx, e.tenant.ID, campaign.Spec{Name: "x", Purpose: "no_template"})
	if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "purpose" {
		t.Errorf("a purpose without a template: %v", err)
	}
	_, err = e.svc.CreateFromCSV(ctx, e.tenant.ID, spec, strings.NewReader("nombre\nAna\n"))
	if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "csv" {
		t.Errorf("a CSV without phone or email: %v", err)
	}
	if cs, _ := e.svc.List(ctx, e.tenant.ID, 0, 10); len(cs) != 1 || cs[0].Status != campaign.StatusCancelled {
		t.Errorf("the campaign of a refused upload: %+v (want it cancelled)", cs)
	}

	c := e.importCSV(t, spec, "phone\n3001234567\n")
	other, err := e.store.CreateTenant(ctx, conversation.Tenant{Slug: "other", Name: "Other", Language: "es", Region: "CO", TimeZone: "America/Bogota"})
	must(t, err)
	for what, call := range map[string]func() error{
		"get":        func() error { _, err := e.svc.Get(ctx, other.ID, c.ID); return err },
		"pause":      func() error { _, err := e.svc.Pause(ctx, other.ID, c.ID); return err },
		"resume":     func() error { _, err := e.svc.Resume(ctx, other.ID, c.ID); return err },
		"cancel":     func() error { _, err := e.svc.Cancel(ctx, other.ID, c.ID); return err },
		"report":     func() error { _, err := e.svc.Report(ctx, other.ID, c.ID); return err },
		"recipients": func() error { _, err := e.svc.Recipients(ctx, other.ID, c.ID, campaign.RecipientFilter{}); return err },
	} {
		if err := call(); !conversation.IsNotFound(err) {
			t.Errorf("%s another tenant's campaign: %v, want ENOTFOUND", what, err)
		}
	}
}

// stoppingStore is the real store, made to fail once it has stored limit
// recipients: a node that stops in the middle of planning.
type stoppingStore struct {
	campaign.Store
	limit int
}

func (s *stoppingStore) AddRecipients(ctx context.Context, tenantID, campaignID int64, rs []campaign.Recipient) (int, error) {
	if len(rs) > s.limit {
		return 0, errors.New("the node stopped")
	}
	s.limit -= len(rs)
	return s.Store.AddRecipients(ctx, tenantID, campaignID, rs)
}

// TestPlanningResumes: planning that stops in the middle (after 1,000
// recipients) leaves the campaign planning, its planning job waits while
// the lease runs, then, on another node after the lease, plans the rest and
// starts it, with each contact a recipient exactly once and no contact
// created twice.
func TestPlanningResumes(t *testing.T) {
	const n = 1600
	var csv strings.Builder
	csv.WriteString("name,phone\n")
	for i := range n {
		fmt.Fprintf(&csv, "Contacto %d,310%07d\n", i, i)
	}
	for _, source := range []string{campaign.SourceCSV, campaign.SourceSegment} {
		t.Run(source, func(t *testing.T) {
			e := newEnv(t)
			ctx := t.Context()
			stopping, err := campaign.New(campaign.Deps{Store: &stoppingStore{Store: e.store, limit: 1000}, Tenants: e.store, Notifier: e.notify},
				campaign.Config{})
			must(t, err)
			var c campaign.Campaign
			if source == campaign.SourceCSV {
				_, err = stopping.CreateFromCSV(ctx, e.tenant.ID, spec, strings.NewReader(csv.String()))
			} else {
				// The same contacts, imported first; the segment is all of them.
				_, err = campaign.ReadCSV(strings.NewReader(csv.String()), "CO", func(b []campaign.ContactImport, _ []int) error {
					_, err := e.store.ImportContacts(ctx, e.tenant.ID, b)
					return err
				})
				must(t, err)
				_, err = stopping.CreateFromSegment(ctx, e.tenant.ID, spec)
			}
			if err == nil || !strings.Contains(err.Error(), "the node stopped") {
				t.Fatalf("planning that stops: %v", err)
			}
			cs, err := e.svc.List(ctx, e.tenant.ID, 0, 10)
			must(t, err)
			if len(cs) != 1 || cs[0].Status != campaign.StatusPlanning {
				t.Fatalf("campaigns %+v; want one left planning", cs)
			}
			c = cs[0]
			if rep := e.report(t, c.ID); rep.Recipients != 1000 {
				t.Fatalf("planned before stopping: %+v", rep)
			}

			// The planning job, as the worker claims it.
			j, err := e.store.EnqueueJob(ctx, conversation.Job{TenantID: e.tenant.ID, Kind: "probe", Key: campaign.PlanJobKey(c.ID)})
			must(t, err)
			if j.Kind != campaign.JobPlan || j.Ref != c.ID {
				t.Fatalf("planning job %+v", j)
			}
			// Within the lease it waits: the planning may still be going on.
			err = stopping.PlanJob(ctx, j)
			if je, ok := errors.AsType[*conversation.JobError](err); !ok || je.Permanent || je.RetryAfter <= 0 || je.RetryAfter > campaign.PlanLease {
				t.Fatalf("within the lease: %v; want a retry within the lease", err)
			}
			// After it, another node resumes the planning.
			later, err := campaign.New(campaign.Deps{Store: e.store, Tenants: e.store, Notifier: e.notify},
				campaign.Config{Now: func() time.Time { return time.Now().Add(2 * campaign.PlanLease) }})
			must(t, err)
			must(t, later.PlanJob(ctx, j))
			must(t, later.PlanJob(ctx, j)) // run twice: nothing more

			got, err := e.svc.Get(ctx, e.tenant.ID, c.ID)
			must(t, err)
			if got.Status != campaign.StatusRunning {
				t.Fatalf("after resuming: %s", got.Status)
			}
			if rep := e.report(t, c.ID); rep.Recipients != n || rep.Planned != n {
				t.Fatalf("report %+v; want each of %d contacts once", rep, n)
			}
			if source == campaign.SourceCSV && (got.Import == nil || got.Import.Rows != n || got.Import.Bad != 0) {
				t.Fatalf("import report %+v", got.Import)
			}
			contacts, err := e.store.SegmentContacts(ctx, e.tenant.ID, campaign.Segment{}, 0, 5000)
			must(t, err)
			if len(contacts) != n {
				t.Fatalf("%d contacts; want %d, none created twice", len(contacts), n)
			}
			seen := map[int64]bool{}
			for after := int64(0); ; {
				rs, err := e.svc.Recipients(ctx, e.tenant.ID, c.ID, campaign.RecipientFilter{AfterID: after, Limit: conversation.MaxLimit})
				must(t, err)
				if len(rs) == 0 {
					break
				}
				for _, r := range rs {
					if seen[r.ContactID] {
						t.Fatalf("contact %d is a recipient twice", r.ContactID)
					}
					seen[r.ContactID] = true
				}
				after = rs[len(rs)-1].ID
			}
			if len(seen) != n {
				t.Fatalf("%d recipients listed", len(seen))
			}
		})
	}
}

// TestPlanningCutUpload: a node that stopped while it kept an upload left
// it without its end; the planning job cancels that campaign rather than
// plan part of the file.
func TestPlanningCutUpload(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c, err := e.store.CreateCampaign(ctx, campaign.Campaign{TenantID: e.tenant.ID, Name: "cortada", Purpose: "reminder",
		Source: campaign.SourceCSV, Throttle: campaign.Throttle{PerSecond: 10}})
	must(t, err)
	must(t, e.store.PutUpload(ctx, e.tenant.ID, c.ID, 0, []byte("name,phone\nAna,3101234567\n")))
	later, err := campaign.New(campaign.Deps{Store: e.store, Tenants: e.store, Notifier: e.notify},
		campaign.Config{Now: func() time.Time { return time.Now().Add(2 * campaign.PlanLease) }})
	must(t, err)
	must(t, later.PlanJob(ctx, conversation.Job{TenantID: e.tenant.ID, Kind: campaign.JobPlan, Ref: c.ID}))
	got, err := e.svc.Get(ctx, e.tenant.ID, c.ID)
	must(t, err)
	if rep := e.report(t, c.ID); got.Status != campaign.StatusCancelled || rep.Recipients != 0 {
		t.Fatalf("a cut upload: %s, %+v; want cancelled with nobody planned", got.Status, rep)
	}
	if _, err := e.store.UploadPiece(ctx, e.tenant.ID, c.ID, 0); !conversation.IsNotFound(err) {
		t.Fatalf("the cut upload is kept: %v", err)
	}
}

package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gomail "github.com/wneessen/go-mail"

	"conversa/channels/email"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/internal/testenv"
	"conversa/notify"
	"conversa/templates"
)

// staffNotifier adapts the staff mail to handoff.StaffNotifier, as
// cmd/conversa does.
type staffNotifier struct{ mail *notify.StaffMail }

func (s *staffNotifier) NotifyAgent(ctx context.Context, n handoff.StaffNotice) error {
	if n.Agent.Email == "" {
		return conversation.FieldError("email", "agent %d has no email address", n.Agent.ID)
	}
	_, err := s.mail.Send(ctx, notify.StaffRequest{TenantID: n.TenantID, Key: n.Key, To: n.Agent.Email, Name: n.Agent.Name,
		Language: n.Language, Purpose: n.Purpose, Data: n.Data})
	return err
}

// letterMailer adapts the email channel to notify.Mailer, as cmd/conversa
// does.
type letterMailer struct{ ch *email.Channel }

func (m letterMailer) SendMail(ctx context.Context, acct conversation.ChannelAccount, x notify.Mail) (string, error) {
	return m.ch.SendLetter(ctx, acct, email.Letter{TenantID: x.TenantID, Key: x.Key, To: x.To, Name: x.Name,
		Language: x.Language, Subject: x.Subject, Text: x.Text, HTML: x.HTML})
}

// smtpGate is a TCP forwarder to the test Postfix that can be shut: while
// down it drops every connection, as a server that is down does.
type smtpGate struct {
	ln   net.Listener
	down atomic.Bool
}

func newSMTPGate(t *testing.T, target string) *smtpGate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &smtpGate{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if g.down.Load() {
				c.Close()
				continue
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() }()
				io.Copy(c, up)
			}()
		}
	}()
	return g
}

// staffEnv is a case environment whose tenant may have an email account
// on the test Postfix (through a gate), with the staff mail of
// cmd/conversa.
type staffEnv struct {
	*caseEnv
	mail   *testenv.MailServer
	gate   *smtpGate
	staff  *notify.StaffMail
	failed []notify.StaffEmail // the outcomes Recorded saw, but sent
}

func newStaffEnv(t *testing.T, withAccount bool) *staffEnv {
	t.Helper()
	e := &staffEnv{caseEnv: newCaseEnv(t, handoff.CasesConfig{}), mail: testenv.Mail(t)}
	ctx := t.Context()
	e.gate = newSMTPGate(t, e.mail.SMTPAddr)
	if withAccount {
		support, pw := e.mail.AddUser(t, "soporte")
		host, port, _ := net.SplitHostPort(e.gate.ln.Addr().String())
		a := conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelEmail, Key: support, Name: "Soporte Acme",
			Settings: map[string]string{email.SettingIMAPHost: "127.0.0.1", email.SettingIMAPTLS: email.TLSNone,
				email.SettingIMAPUser: support, email.SettingIMAPPassword: pw,
				email.SettingSMTPHost: host, email.SettingSMTPPort: port, email.SettingSMTPTLS: email.TLSNone}}
		acct, err := e.store.CreateChannelAccount(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		e.accts[conversation.ChannelEmail] = acct
	}
	ch, err := email.New(email.Config{TokenKey: []byte("0123456789abcdef0123456789abcdef"), Timeout: 10 * time.Second}, email.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	e.staff, err = notify.NewStaffMail(e.store, notify.StaffDeps{Accounts: e.store, Templates: templates.NewService(e.store).Defaults(),
		Mailer: letterMailer{ch}}, notify.StaffConfig{Now: e.clock.now, Recorded: func(ctx context.Context, m notify.StaffEmail) {
		if m.Status != notify.StatusSent {
			e.failed = append(e.failed, m)
			if err := e.cases.StaffNoticeFailed(ctx, m.TenantID, m.Key, m.Note); err != nil {
				t.Errorf("record a failed staff email: %v", err)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// useLevels makes the case service escalate by levels, telling the staff.
func (e *staffEnv) useLevels(levels []handoff.Level) {
	e.cases = handoff.NewCases(e.store, handoff.CasesConfig{Now: e.clock.now, Jobs: e.store, Tenants: e.store, Contacts: e.store,
		Agents: e.store, Staff: &staffNotifier{e.staff}, Levels: levels})
}

// runStaffJobs runs the due staff email jobs as the worker does, each
// twice (a job may run again), retrying a failed one at once; it returns
// the errors of the first runs.
func (e *staffEnv) runStaffJobs(t *testing.T) []error {
	t.Helper()
	jobs, err := e.store.ClaimJobs(t.Context(), []string{notify.JobStaffEmail}, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	for _, j := range jobs {
		err := e.staff.StaffJob(t.Context(), j)
		if err == nil {
			err = e.staff.StaffJob(t.Context(), j)
			if err != nil {
				t.Fatalf("the second run of staff email job %d: %v", j.ID, err)
			}
		}
		if _, perm := errors.AsType[*conversation.JobError](err); err == nil || perm {
			if err := e.store.CompleteJob(t.Context(), j); err != nil {
				t.Fatal(err)
			}
		} else if err := e.store.RetryJob(t.Context(), j, time.Now(), err.Error()); err != nil {
			t.Fatal(err)
		}
		errs = append(errs, err)
	}
	return errs
}

// inbox reads the emails of a mailbox, raw.
func inbox(t *testing.T, imapAddr, user, pw string) [][]byte {
	t.Helper()
	c, err := imapclient.DialInsecure(imapAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pw).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil // an empty mailbox has no message 1
	}
	var out [][]byte
	for _, m := range msgs {
		out = append(out, m.FindBodySection(section))
	}
	return out
}

// escalationEmails sends a last email to the mailbox through Postfix,
// waits for it, and returns the escalation emails before it: a duplicate
// sent earlier would have arrived by then.
func (e *staffEnv) escalationEmails(t *testing.T, addr, pw string) []string {
	t.Helper()
	mark := "sentinel-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	m := gomail.NewMsg()
	if err := m.From("test@" + e.mail.Domain); err != nil {
		t.Fatal(err)
	}
	if err := m.To(addr); err != nil {
		t.Fatal(err)
	}
	m.Subject(mark)
	m.SetBodyString(gomail.TypeTextPlain, mark)
	host, port, _ := net.SplitHostPort(e.mail.SMTPAddr)
	p, _ := strconv.Atoi(port)
	c, err := gomail.NewClient(host, gomail.WithPort(p), gomail.WithTLSPolicy(gomail.NoTLS))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DialAndSendWithContext(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var got []string
		seen := false
		for _, raw := range inbox(t, e.mail.IMAPAddr, addr, pw) {
			if strings.Contains(string(raw), mark) {
				seen = true
			} else {
				got = append(got, string(raw))
			}
		}
		if seen && len(got) > 0 {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the sentinel arrived %v, with %d emails before it", addr, seen, len(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func checkContains(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, s)
		}
	}
}

// TestEscalationEmailsStaff: a level naming team_lead and agent:<id>
// emails both people, who are no contacts, from the tenant's email
// account through the real Postfix: one email each, in their language,
// with the radicado, the level and the due date, also when the escalation
// and the email jobs run twice; and no contact is made of them.
func TestEscalationEmailsStaff(t *testing.T) {
	e := newStaffEnv(t, true)
	ctx := t.Context()
	billing := e.team(t, e.tenant.ID, "Facturación")
	leadAddr, leadPW := e.mail.AddUser(t, "lina")
	pedroAddr, pedroPW := e.mail.AddUser(t, "pedro")
	ana := e.agent(t, "Ana", "", handoff.RoleAgent, billing.ID)
	lead := handoff.Agent{TenantID: e.tenant.ID, Name: "Lina", Email: leadAddr, Role: handoff.RoleSupervisor, Teams: []int64{billing.ID}, Skills: []string{"billing", "en"}}
	lead, err := e.store.CreateAgent(ctx, lead)
	if err != nil {
		t.Fatal(err)
	}
	pedro := e.agent(t, "Pedro", pedroAddr, handoff.RoleAgent)
	e.useLevels([]handoff.Level{{At: 1, To: "manager", Notify: []string{handoff.TargetTeamLead, "agent:" + itoa(pedro.ID), "agent:" + itoa(ana.ID)}}})

	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID
	e.clock.set(atBogota(t, "2026-09-01 10:00"))
	c := e.fileType(t, contact, handoff.Queja)
	mustCase(t)(e.cases.Assign(ctx, e.tenant.ID, c.ID, ana.ID, billing.ID, "agent:lina"))
	// At midnight, inside every quiet hour: staff emails wait for none.
	j := e.claimOne(t, "2026-09-23 00:00", "2026-09-22 23:59")
	e.escalate(t, j)
	if err := e.cases.EscalateJob(ctx, j); err != nil { // a late retry of the done job
		t.Fatal(err)
	}

	want := "level 1 (manager): told agent " + itoa(ana.ID) + " (email not sent: agent " + itoa(ana.ID) + " has no email address); agent " +
		itoa(lead.ID) + " (email); agent " + itoa(pedro.ID) + " (email)"
	if notes := eventsOf(t, e.caseEnv, c.ID, "level_notice"); len(notes) != 1 || notes[0].Note != want {
		t.Fatalf("level notices %+v\nwant %q", notes, want)
	}
	// The same notice again, as another node would ask: nothing new.
	if err := (&staffNotifier{e.staff}).NotifyAgent(ctx, handoff.StaffNotice{TenantID: e.tenant.ID, Agent: pedro, Purpose: handoff.PurposeEscalated,
		Key: handoff.StaffNoticeKey(c.ID, 1, pedro.ID), Data: map[string]string{"radicado": c.Radicado, "level": "manager", "share": "100", "due": "2026-09-22"}}); err != nil {
		t.Fatal(err)
	}
	if errs := e.runStaffJobs(t); len(errs) != 2 || errs[0] != nil || errs[1] != nil {
		t.Fatalf("staff email jobs: %v, want 2 done", errs)
	}
	if errs := e.runStaffJobs(t); len(errs) != 0 {
		t.Fatalf("%d staff email jobs after all were done", len(errs))
	}
	sent, err := e.staff.List(ctx, e.tenant.ID, notify.StaffFilter{Status: notify.StatusSent})
	if err != nil || len(sent) != 2 {
		t.Fatalf("sent staff emails %+v, %v", sent, err)
	}

	lina := e.escalationEmails(t, leadAddr, leadPW)
	if len(lina) != 1 {
		t.Fatalf("Lina got %d escalation emails, want 1", len(lina))
	}
	checkContains(t, "Lina's email (English, her skill)", lina[0], "Case "+c.Radicado+" escalated", "manager level", "September 22, 2026",
		"Auto-Submitted: auto-generated", "Content-Language: en", "Soporte Acme")
	pe := e.escalationEmails(t, pedroAddr, pedroPW)
	if len(pe) != 1 {
		t.Fatalf("Pedro got %d escalation emails, want 1", len(pe))
	}
	checkContains(t, "Pedro's email (Spanish, the tenant's)", pe[0], "Caso "+c.Radicado+" escalado", "nivel manager", "22 de septiembre de 2026",
		"Auto-Submitted: auto-generated")
	if strings.Contains(pe[0], "List-Unsubscribe") {
		t.Errorf("a staff email has an unsubscribe link:\n%s", pe[0])
	}
	for _, addr := range []string{leadAddr, pedroAddr} {
		_, err := e.store.ContactByIdentity(ctx, e.tenant.ID, conversation.Identity{Channel: conversation.ChannelEmail, Address: addr})
		wantCode(t, err, conversation.ENOTFOUND, "the contact of a staff address")
	}
	if len(e.failed) != 0 {
		t.Fatalf("failed staff emails %+v", e.failed)
	}
}

// TestEscalationWithoutEmailAccount: a tenant without an email account
// records the notice as not emailed, and queues nothing.
func TestEscalationWithoutEmailAccount(t *testing.T) {
	e := newStaffEnv(t, false)
	ctx := t.Context()
	billing := e.team(t, e.tenant.ID, "Facturación")
	lead := e.agent(t, "Lina", "lina@acme.co", handoff.RoleSupervisor, billing.ID)
	e.useLevels([]handoff.Level{{At: 1, To: "manager", Notify: []string{handoff.TargetTeamLead}}})
	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID
	e.clock.set(atBogota(t, "2026-09-01 10:00"))
	c := e.fileType(t, contact, handoff.Queja)
	mustCase(t)(e.cases.Assign(ctx, e.tenant.ID, c.ID, 0, billing.ID, "agent:lina"))
	e.escalate(t, e.claimOne(t, "2026-09-23 00:00", "2026-09-22 23:59"))

	want := "level 1 (manager): told agent " + itoa(lead.ID) + " (email not sent: the tenant has no enabled email account)"
	if notes := eventsOf(t, e.caseEnv, c.ID, "level_notice"); len(notes) != 1 || notes[0].Note != want {
		t.Fatalf("level notices %+v\nwant %q", notes, want)
	}
	list, err := e.staff.List(ctx, e.tenant.ID, notify.StaffFilter{})
	if err != nil || len(list) != 1 || list[0].Status != notify.StatusUndeliverable || list[0].To != "lina@acme.co" {
		t.Fatalf("staff emails %+v, %v", list, err)
	}
	if errs := e.runStaffJobs(t); len(errs) != 0 {
		t.Fatalf("%d staff email jobs for an undeliverable email", len(errs))
	}
}

// TestStaffEmailRetriedWhenSMTPIsDown: with the SMTP server down the
// email is retried, its attempts noted, and delivered once the server is
// back; one that stays down past the last attempt is recorded failed, in
// the staff email and in the case's history.
func TestStaffEmailRetriedWhenSMTPIsDown(t *testing.T) {
	e := newStaffEnv(t, true)
	ctx := t.Context()
	billing := e.team(t, e.tenant.ID, "Facturación")
	leadAddr, leadPW := e.mail.AddUser(t, "lina")
	lead := e.agent(t, "Lina", leadAddr, handoff.RoleSupervisor, billing.ID)
	e.useLevels([]handoff.Level{
		{At: 0.7, To: "lead", Notify: []string{handoff.TargetTeamLead}},
		{At: 1, To: "manager", Notify: []string{handoff.TargetTeamLead}},
	})
	contact := e.write(t, conversation.ChannelWebchat, "v1", text("hola")).ContactID
	e.clock.set(atBogota(t, "2026-09-01 10:00"))
	c := e.fileType(t, contact, handoff.Queja)
	mustCase(t)(e.cases.Assign(ctx, e.tenant.ID, c.ID, 0, billing.ID, "agent:lina"))

	e.gate.down.Store(true)
	e.escalate(t, e.claimOne(t, "2026-09-16 00:00", "2026-09-15 23:59"))
	for attempt := 1; attempt <= 2; attempt++ {
		if errs := e.runStaffJobs(t); len(errs) != 1 || errs[0] == nil {
			t.Fatalf("attempt %d with SMTP down: %v, want a temporary error", attempt, errs)
		}
	}
	list, err := e.staff.List(ctx, e.tenant.ID, notify.StaffFilter{})
	if err != nil || len(list) != 1 || list[0].Status != notify.StatusScheduled || !strings.HasPrefix(list[0].Note, "attempt 2 failed: ") {
		t.Fatalf("staff email while SMTP is down %+v, %v", list, err)
	}
	e.gate.down.Store(false)
	if errs := e.runStaffJobs(t); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("attempt 3 with SMTP back: %v", errs)
	}
	got, err := e.staff.Get(ctx, e.tenant.ID, list[0].ID)
	if err != nil || got.Status != notify.StatusSent || got.Note != "" || got.MessageID == "" {
		t.Fatalf("staff email after SMTP came back %+v, %v", got, err)
	}
	if mails := e.escalationEmails(t, leadAddr, leadPW); len(mails) != 1 || !strings.Contains(mails[0], c.Radicado) {
		t.Fatalf("Lina got %d escalation emails, want 1: %q", len(mails), mails)
	}

	// The breach, with SMTP down for good: failed after the last attempt.
	e.gate.down.Store(true)
	e.escalate(t, e.claimOne(t, "2026-09-23 00:00", "2026-09-22 23:59"))
	jobs, err := e.store.ClaimJobs(ctx, []string{notify.JobStaffEmail}, 10, time.Minute)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claimed %d staff email jobs, %v", len(jobs), err)
	}
	last := jobs[0]
	last.Attempt = last.MaxAttempts
	if err := e.staff.StaffJob(ctx, last); err != nil {
		t.Fatalf("the last attempt: %v, want the failure recorded", err)
	}
	if len(e.failed) != 1 || e.failed[0].Status != notify.StatusFailed ||
		!strings.HasPrefix(e.failed[0].Note, fmt.Sprintf("not sent after %d attempts: ", notify.StaffMaxAttempts)) {
		t.Fatalf("failed staff emails %+v", e.failed)
	}
	hist := eventsOf(t, e.caseEnv, c.ID, "staff_email")
	if len(hist) != 1 || !strings.HasPrefix(hist[0].Note, fmt.Sprintf("email to agent %d of level 2 failed: not sent after", lead.ID)) {
		t.Fatalf("the case's history of failed emails %+v", hist)
	}
}

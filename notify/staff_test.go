package notify_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"conversa/channels/email"
	"conversa/conversation"
	"conversa/internal/testenv"
	"conversa/notify"
	"conversa/storage/sqlite"
	"conversa/templates"
)

// letterMailer adapts the email channel to notify.Mailer, as cmd/conversa
// does.
type letterMailer struct{ ch *email.Channel }

func (m letterMailer) SendMail(ctx context.Context, acct conversation.ChannelAccount, x notify.Mail) (string, error) {
	return m.ch.SendLetter(ctx, acct, email.Letter{TenantID: x.TenantID, Key: x.Key, To: x.To, Name: x.Name,
		Language: x.Language, Subject: x.Subject, Text: x.Text, HTML: x.HTML})
}

// staffEnv is the staff mail on the real SQLite store, the built-in
// templates and the email channel, for a tenant whose email account sends
// through the test Postfix.
type staffEnv struct {
	store    *sqlite.Store
	mail     *notify.StaffMail
	server   *testenv.MailServer
	tenant   conversation.Tenant
	recorded []notify.StaffEmail
}

func newStaffEnv(t *testing.T) *staffEnv {
	t.Helper()
	ctx := t.Context()
	e := &staffEnv{server: testenv.Mail(t)}
	var err error
	if e.store, err = sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	tn := conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	must(t, tn.Validate())
	if e.tenant, err = e.store.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	support, pw := e.server.AddUser(t, "soporte")
	imapHost, imapPort, _ := net.SplitHostPort(e.server.IMAPAddr)
	smtpHost, smtpPort, _ := net.SplitHostPort(e.server.SMTPAddr)
	if _, err := e.store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelEmail, Key: support, Name: "Soporte",
		Settings: map[string]string{email.SettingIMAPHost: imapHost, email.SettingIMAPPort: imapPort, email.SettingIMAPTLS: email.TLSNone,
			email.SettingIMAPUser: support, email.SettingIMAPPassword: pw,
			email.SettingSMTPHost: smtpHost, email.SettingSMTPPort: smtpPort, email.SettingSMTPTLS: email.TLSNone}}); err != nil {
		t.Fatal(err)
	}
	ch, err := email.New(email.Config{TokenKey: []byte("0123456789abcdef0123456789abcdef"), Timeout: 10 * time.Second}, email.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	e.mail, err = notify.NewStaffMail(e.store, notify.StaffDeps{Accounts: e.store, Templates: templates.NewService(e.store).Defaults(),
		Mailer: letterMailer{ch}}, notify.StaffConfig{Recorded: func(_ context.Context, m notify.StaffEmail) { e.recorded = append(e.recorded, m) }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func escalated(radicado string) map[string]string {
	return map[string]string{"name": "Lina", "radicado": radicado, "level": "lead", "share": "70", "due": "2026-09-22"}
}

// TestStaffMailRejectsBadRequests: a bad request is EINVALID naming its
// field, and stores nothing.
func TestStaffMailRejectsBadRequests(t *testing.T) {
	e := newStaffEnv(t)
	good := notify.StaffRequest{TenantID: e.tenant.ID, Key: "k", To: "lina@acme.co", Purpose: "case_escalated", Data: escalated("PQR-1")}
	for _, tt := range []struct {
		name, field string
		change      func(r *notify.StaffRequest)
	}{
		{"no key", "key", func(r *notify.StaffRequest) { r.Key = "" }},
		{"a control character in the key", "key", func(r *notify.StaffRequest) { r.Key = "a\nb" }},
		{"no address", "to", func(r *notify.StaffRequest) { r.To = "" }},
		{"no email address", "to", func(r *notify.StaffRequest) { r.To = "+573001234567" }},
		{"a bad purpose", "purpose", func(r *notify.StaffRequest) { r.Purpose = "Case Escalated" }},
		{"a purpose without a template", "purpose", func(r *notify.StaffRequest) { r.Purpose = "nothing_here" }},
		{"a required variable missing", "data.radicado", func(r *notify.StaffRequest) {
			r.Data = map[string]string{"level": "lead", "share": "70", "due": "2026-09-22"}
		}},
		{"invalid UTF-8 data", "data.radicado", func(r *notify.StaffRequest) { r.Data = map[string]string{"radicado": "\xff"} }},
		{"a long language", "language", func(r *notify.StaffRequest) { r.Language = strings.Repeat("x", 40) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.change(&r)
			_, err := e.mail.Send(t.Context(), r)
			ce, ok := errors.AsType[*conversation.Error](err)
			if conversation.ErrorCode(err) != conversation.EINVALID || !ok || ce.Field != tt.field {
				t.Fatalf("error %v, want EINVALID naming %s", err, tt.field)
			}
		})
	}
	if list, err := e.mail.List(t.Context(), e.tenant.ID, notify.StaffFilter{}); err != nil || len(list) != 0 {
		t.Fatalf("bad requests stored %+v, %v", list, err)
	}
}

// TestStaffMailRefusedAddressFails: an address the server refuses (5xx)
// fails at once, recorded with the server's reply, and is not retried.
func TestStaffMailRefusedAddressFails(t *testing.T) {
	e := newStaffEnv(t)
	ctx := t.Context()
	m, err := e.mail.Send(ctx, notify.StaffRequest{TenantID: e.tenant.ID, Key: "k", To: "rejected-lina@" + e.server.Domain,
		Purpose: "case_escalated", Data: escalated("PQR-2026-000001")})
	if err != nil || m.Status != notify.StatusScheduled || m.AccountID == 0 {
		t.Fatalf("send: %+v, %v", m, err)
	}
	jobs, err := e.store.ClaimJobs(ctx, []string{notify.JobStaffEmail}, 10, time.Minute)
	if err != nil || len(jobs) != 1 || jobs[0].Ref != m.ID {
		t.Fatalf("jobs %+v, %v", jobs, err)
	}
	if err := e.mail.StaffJob(ctx, jobs[0]); err != nil {
		t.Fatalf("a refused email: %v, want it recorded", err)
	}
	got, err := e.mail.Get(ctx, e.tenant.ID, m.ID)
	if err != nil || got.Status != notify.StatusFailed || !strings.HasPrefix(got.Note, "refused: 5") {
		t.Fatalf("refused email %+v, %v", got, err)
	}
	if len(e.recorded) != 1 || e.recorded[0].ID != m.ID || e.recorded[0].Status != notify.StatusFailed {
		t.Fatalf("recorded %+v", e.recorded)
	}
	// Run again, as a retried job: nothing changes, nothing is recorded.
	if err := e.mail.StaffJob(ctx, jobs[0]); err != nil || len(e.recorded) != 1 {
		t.Fatalf("a second run: %v, recorded %d", err, len(e.recorded))
	}
}

package main

import (
	"bytes"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"conversa/channels/email"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/internal/testenv"
	"conversa/notify"
)

// TestServeEmailsEscalationsToStaff: the real program emails the team lead
// of an escalated case from the tenant's email account, through the test
// Postfix, although the lead is no contact of the tenant, and makes none.
func TestServeEmailsEscalationsToStaff(t *testing.T) {
	mail := testenv.Mail(t)
	dir := t.TempDir()
	srv := serve(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}, "--demo")
	srv.demoKey(t) // the demo tenant is seeded
	st := storeAt(t, dir)
	ctx := t.Context()
	tenants, err := st.ListTenants(ctx)
	if err != nil || len(tenants) == 0 {
		t.Fatalf("tenants %v, %v", tenants, err)
	}
	tenant := tenants[0]

	support, pw := mail.AddUser(t, "soporte")
	leadAddr, leadPW := mail.AddUser(t, "lina")
	imapHost, imapPort, _ := net.SplitHostPort(mail.IMAPAddr)
	smtpHost, smtpPort, _ := net.SplitHostPort(mail.SMTPAddr)
	if _, err := st.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tenant.ID, Kind: conversation.ChannelEmail, Key: support, Name: "Soporte",
		Settings: map[string]string{email.SettingIMAPHost: imapHost, email.SettingIMAPPort: imapPort, email.SettingIMAPTLS: email.TLSNone,
			email.SettingIMAPUser: support, email.SettingIMAPPassword: pw,
			email.SettingSMTPHost: smtpHost, email.SettingSMTPPort: smtpPort, email.SettingSMTPTLS: email.TLSNone}}); err != nil {
		t.Fatal(err)
	}
	team, err := st.CreateTeam(ctx, handoff.Team{TenantID: tenant.ID, Name: "Facturación"})
	if err != nil {
		t.Fatal(err)
	}
	lead, err := st.CreateAgent(ctx, handoff.Agent{TenantID: tenant.ID, Name: "Lina", Email: leadAddr, Role: handoff.RoleSupervisor, Teams: []int64{team.ID}})
	if err != nil {
		t.Fatal(err)
	}

	// A case filed long enough ago that its first level (the team lead)
	// is due and its second is not: the node escalates it at once.
	accounts, err := st.ListChannelAccounts(ctx, tenant.ID)
	if err != nil {
		t.Fatal(err)
	}
	var web conversation.ChannelAccount
	for _, a := range accounts {
		if a.Kind == conversation.ChannelWebchat {
			web = a
		}
	}
	res, err := st.Ingest(ctx, []conversation.IngestRequest{{TenantID: tenant.ID, AccountID: web.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelWebchat, Account: web.Key, From: "visitor-staff", ProviderID: "staff-1",
		Parts: []conversation.Part{conversation.TextPart("hola")}}}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("ingest: %v %+v", err, res)
	}
	now := time.Now()
	cal := handoff.CalendarOf(tenant)
	term := handoff.DefaultTerms[handoff.Queja]
	filed := time.Time{}
	for d := 1; d < 60 && filed.IsZero(); d++ {
		at := now.AddDate(0, 0, -d)
		if cal.Due(at, max(int(0.7*float64(term)), 1)).Before(now) && cal.Due(at, int(0.9*float64(term))).After(now.Add(time.Hour)) {
			filed = at
		}
	}
	if filed.IsZero() {
		t.Fatal("no filing date puts the case between its first and second levels")
	}
	cases := handoff.NewCases(st, handoff.CasesConfig{Now: func() time.Time { return filed }, Jobs: st, Tenants: st, Agents: st})
	c, err := cases.File(ctx, tenant, handoff.Filing{Type: handoff.Queja, ContactID: res[0].Message.ContactID, Description: "No llegó", Actor: "api:test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cases.Assign(ctx, tenant.ID, c.ID, 0, team.ID, "api:test"); err != nil {
		t.Fatal(err)
	}

	var got []byte
	deadline := time.Now().Add(30 * time.Second)
	for got == nil {
		for _, raw := range readInbox(t, mail.IMAPAddr, leadAddr, leadPW) {
			if bytes.Contains(raw, []byte(c.Radicado)) {
				got = raw
			}
		}
		if time.Now().After(deadline) {
			hist, _ := st.CaseHistory(ctx, tenant.ID, c.ID)
			t.Fatalf("the lead got no escalation email; the case's history: %+v", hist)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, want := range []string{"Auto-Submitted: auto-generated", "nivel lead", "70%"} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("the escalation email lacks %q:\n%s", want, got)
		}
	}
	hist, err := st.CaseHistory(ctx, tenant.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	told := false
	for _, e := range hist {
		told = told || e.Kind == "level_notice" && strings.HasPrefix(e.Note, "level 1 (lead): told agent "+itoa(lead.ID)+" (email")
	}
	if !told {
		t.Fatalf("no level notice with the email in %+v", hist)
	}
	sent, err := st.ListStaffEmails(ctx, tenant.ID, notify.StaffFilter{Status: notify.StatusSent})
	if err != nil || len(sent) != 1 || sent[0].To != leadAddr {
		t.Fatalf("sent staff emails %+v, %v", sent, err)
	}
	_, err = st.ContactByIdentity(ctx, tenant.ID, conversation.Identity{Channel: conversation.ChannelEmail, Address: leadAddr})
	if !conversation.IsNotFound(err) {
		t.Fatalf("the lead's address is a contact: %v", err)
	}
}

// readInbox returns the emails of a mailbox, raw.
func readInbox(t *testing.T, addr, user, pw string) [][]byte {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
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
		return nil
	}
	var out [][]byte
	for _, m := range msgs {
		out = append(out, m.FindBodySection(section))
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

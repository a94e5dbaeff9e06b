package email_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	gomail "github.com/wneessen/go-mail"

	"conversa/bot"
	"conversa/channels"
	"conversa/channels/email"
	"conversa/conversation"
	"conversa/internal/testenv"
	"conversa/storage/media"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// logBuffer collects the channel's log lines for assertions, and shows them
// in the test's output.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	t  *testing.T
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is one node with an email channel watching a real mailbox on the
// test Dovecot, sending through the test Postfix: an SQLite store,
// in-process shared state, the conversation service and its worker, the
// real dialogue engine, and a media store on disk.
type env struct {
	t       *testing.T
	mail    *testenv.MailServer
	store   *sqlite.Store
	svc     *conversation.Service
	ch      *email.Channel
	media   *media.Dir
	logs    *logBuffer
	tenant  conversation.Tenant
	acct    conversation.ChannelAccount
	support string // the watched mailbox
	pw      string
	stopRun func()
}

type envOptions struct {
	noBot    bool
	settings map[string]string
	cfg      func(*email.Config)
	// imapAddr and smtpAddr replace the servers' addresses (proxies).
	imapAddr, smtpAddr string
	// handle registers more job handlers on the node's worker.
	handle func(*env, *conversation.Worker)
	noRun  bool
	// store reuses a store (a restarted node).
	store *sqlite.Store
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	mail := testenv.Mail(t)
	e := &env{t: t, mail: mail, logs: &logBuffer{t: t}}
	var err error
	if e.store = o.store; e.store == nil {
		if e.store, err = sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.store.Close() })
	}
	if e.media, err = media.Open(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	shared := memory.New()
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	worker, err := conversation.NewWorker(e.store, conversation.WorkerConfig{
		PollInterval: 20 * time.Millisecond, RetryBase: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond, DrainTimeout: 2 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var registry *channels.Registry
	deps := conversation.Deps{Store: e.store, Bus: shared, Dedup: shared, JobsAdded: worker.Wake, Logger: logger,
		Sender: senderFunc(func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
			return registry.Send(ctx, d)
		})}
	if !o.noBot {
		deps.Bot = bot.NewEngine(e.store, e.store, e.store, bot.Config{})
	}
	if e.svc, err = conversation.NewService(conversation.ServiceConfig{}, deps); err != nil {
		t.Fatal(err)
	}
	cfg := email.Config{TokenKey: []byte("0123456789abcdef0123456789abcdef"), RefreshInterval: 100 * time.Millisecond,
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: 500 * time.Millisecond, Timeout: 10 * time.Second, Logger: logger}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	if e.ch, err = email.New(cfg, email.Deps{Service: e.svc, Store: e.store, Media: e.media, Limiter: shared}); err != nil {
		t.Fatal(err)
	}
	if registry, err = channels.NewRegistry(e.ch); err != nil {
		t.Fatal(err)
	}
	worker.Handle(conversation.JobRoute, e.svc.RouteJob)
	worker.Handle(conversation.JobDeliver, e.svc.DeliverJob)
	if o.handle != nil {
		o.handle(e, worker)
	}
	wctx, wstop := context.WithCancel(context.Background())
	wdone := make(chan error, 1)
	go func() { wdone <- worker.Run(wctx) }()
	t.Cleanup(func() {
		wstop()
		if err := <-wdone; err != nil {
			t.Errorf("worker: %v", err)
		}
	})

	if o.store == nil {
		tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
		if err := tn.Validate(); err != nil {
			t.Fatal(err)
		}
		if e.tenant, err = e.store.CreateTenant(t.Context(), tn); err != nil {
			t.Fatal(err)
		}
		e.support, e.pw = mail.AddUser(t, "soporte")
		imapHost, imapPort, _ := net.SplitHostPort(mail.IMAPAddr)
		if o.imapAddr != "" {
			imapHost, imapPort, _ = net.SplitHostPort(o.imapAddr)
		}
		smtpHost, smtpPort, _ := net.SplitHostPort(mail.SMTPAddr)
		if o.smtpAddr != "" {
			smtpHost, smtpPort, _ = net.SplitHostPort(o.smtpAddr)
		}
		settings := map[string]string{
			email.SettingIMAPHost: imapHost, email.SettingIMAPPort: imapPort, email.SettingIMAPTLS: email.TLSNone,
			email.SettingIMAPUser: e.support, email.SettingIMAPPassword: e.pw,
			email.SettingSMTPHost: smtpHost, email.SettingSMTPPort: smtpPort, email.SettingSMTPTLS: email.TLSNone,
			email.SettingFromName: "Soporte Acme", email.SettingPlusAddressing: "true",
		}
		for k, v := range o.settings {
			settings[k] = v
		}
		a := conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelEmail, Key: e.support, Name: "Soporte", Settings: settings}
		if err := registry.ValidateAccount(&a); err != nil {
			t.Fatal(err)
		}
		if e.acct, err = e.store.CreateChannelAccount(t.Context(), a); err != nil {
			t.Fatal(err)
		}
	}
	if !o.noRun {
		e.run()
	}
	return e
}

// run starts the channel's Run; stopRun stops it and waits.
func (e *env) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ch.Run(ctx) }()
	var once sync.Once
	e.stopRun = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("email channel Run: %v", err)
			}
		})
	}
	e.t.Cleanup(e.stopRun)
}

type senderFunc func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error)

func (f senderFunc) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	return f(ctx, d)
}

func deadline(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// send mails text from address from to the support mailbox through
// Postfix, as a customer's mail client does, with Message-ID <id>.
func (e *env) send(ctx context.Context, from, id, subject, text string, header map[string]string) {
	e.t.Helper()
	m := gomail.NewMsg()
	if err := m.From(from); err != nil {
		e.t.Fatal(err)
	}
	if err := m.To(e.support); err != nil {
		e.t.Fatal(err)
	}
	m.Subject(subject)
	m.SetMessageIDWithValue(id)
	for k, v := range header {
		m.SetGenHeader(gomail.Header(k), v)
	}
	m.SetBodyString(gomail.TypeTextPlain, text)
	e.smtp(ctx, m)
}

func (e *env) smtp(ctx context.Context, msgs ...*gomail.Msg) {
	e.t.Helper()
	host, port, _ := net.SplitHostPort(e.mail.SMTPAddr)
	p, _ := strconv.Atoi(port)
	c, err := gomail.NewClient(host, gomail.WithPort(p), gomail.WithTLSPolicy(gomail.NoTLS))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := c.DialAndSendWithContext(ctx, msgs...); err != nil {
		e.t.Fatal(err)
	}
}

// appendRaw puts a raw email into the support mailbox's folder directly
// (IMAP APPEND), for emails no MTA would pass as they are.
func (e *env) appendRaw(folder string, raw []byte) {
	e.t.Helper()
	c := e.imap(e.support, e.pw)
	defer c.Close()
	cmd := c.Append(folder, int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		e.t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		e.t.Fatalf("append: %v", err)
	}
}

func (e *env) imap(user, pw string) *imapclient.Client {
	e.t.Helper()
	c, err := imapclient.DialInsecure(e.mail.IMAPAddr, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := c.Login(user, pw).Wait(); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// mailbox is a customer's mailbox: it reads the emails Conversa sent.
type mailbox struct {
	e        *env
	addr, pw string
	seen     imap.UID
}

func (e *env) customer(local string) *mailbox {
	addr, pw := e.mail.AddUser(e.t, local)
	return &mailbox{e: e, addr: addr, pw: pw}
}

// next waits for the next email in the mailbox and returns it raw.
func (m *mailbox) next(ctx context.Context) ([]byte, error) {
	c := m.e.imap(m.addr, m.pw)
	defer c.Close()
	for {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			return nil, err
		}
		section := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(imap.UIDSet{imap.UIDRange{Start: m.seen + 1, Stop: 0}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
		if err != nil {
			return nil, err
		}
		for _, msg := range msgs {
			if msg.UID > m.seen {
				m.seen = msg.UID
				return msg.FindBodySection(section), nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no email for %s: %w", m.addr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// inbound waits until the store holds n inbound messages of the account
// and returns them, oldest first.
func (e *env) inbound(ctx context.Context, n int) []conversation.Message {
	e.t.Helper()
	for {
		ms, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{AccountID: e.acct.ID, Limit: 200})
		if err != nil {
			e.t.Fatal(err)
		}
		var in []conversation.Message
		for _, m := range ms {
			if m.Direction == conversation.DirectionIn {
				in = append(in, m)
			}
		}
		if len(in) >= n {
			return in
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("%d inbound messages, want %d: %v", len(in), n, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// outbound returns the account's outbound messages.
func (e *env) outbound(ctx context.Context) []conversation.Message {
	e.t.Helper()
	ms, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{AccountID: e.acct.ID, Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []conversation.Message
	for _, m := range ms {
		if m.Direction == conversation.DirectionOut {
			out = append(out, m)
		}
	}
	return out
}

// waitStatus waits until message id has a final status (not queued).
func (e *env) waitStatus(ctx context.Context, id int64, want conversation.Status) conversation.Message {
	e.t.Helper()
	for {
		m, err := e.store.Message(ctx, e.tenant.ID, id)
		if err != nil {
			e.t.Fatal(err)
		}
		if m.Status == want {
			return m
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("message %d is %s (%+v), want %s", id, m.Status, m.Failure, want)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// idle waits until no route or deliver job is left unfinished.
func (e *env) idle(ctx context.Context) {
	e.t.Helper()
	for {
		counts, err := e.store.JobCounts(ctx)
		if err != nil {
			e.t.Fatal(err)
		}
		busy := 0
		for _, c := range counts {
			if c.State != conversation.JobFailed {
				busy += c.Count
			}
		}
		if busy == 0 {
			return
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("jobs still running: %+v", counts)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}

func contains(s string, subs ...string) error {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return fmt.Errorf("missing %q", sub)
		}
	}
	return nil
}

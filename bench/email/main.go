// Command email measures the email channel against the test Dovecot and
// Postfix of scripts/services. First, the autoresponse latency: customer
// emails are delivered one by one through Postfix into the watched inbox;
// for each, the time from the IMAP server's announcement of the new
// message (the EXISTS seen by the channel's IDLE connection) to the SMTP
// server's acceptance of the bot's answer, and Conversa's own share of it
// (the total less the time spent waiting on IMAP round trips and on the
// SMTP session). Then MIME parsing throughput over the .eml corpus of
// channels/email, and the heap to parse a generated 20 MB email.
//
//	go run ./bench/email [-emails 200] [-warmup 5] [-parse-time 3s]
//
// It reads the servers from TEST_IMAP_ADDR, TEST_SMTP_ADDR,
// TEST_MAIL_DOMAIN and TEST_MAIL_USERS (scripts/services .test/env writes
// them) and adds two mailboxes of its own to the users file.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	gomail "github.com/wneessen/go-mail"

	"conversa/bench"
	"conversa/bot"
	"conversa/channels"
	"conversa/channels/email"
	"conversa/conversation"
	"conversa/storage/media"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// Targets of issue 6.
const (
	targetP99 = 500 * time.Millisecond
	targetOwn = 50 * time.Millisecond
)

type config struct {
	imapAddr, smtpAddr, domain, users string
	emails, warmup                    int
	parseTime                         time.Duration
	corpus                            string
}

func main() {
	var cfg config
	flag.IntVar(&cfg.emails, "emails", 200, "customer emails timed")
	flag.IntVar(&cfg.warmup, "warmup", 5, "emails sent first and not timed")
	flag.DurationVar(&cfg.parseTime, "parse-time", 3*time.Second, "how long to parse the corpus for")
	flag.StringVar(&cfg.corpus, "corpus", "channels/email/testdata", "directory of the .eml corpus")
	flag.Parse()
	cfg.imapAddr, cfg.smtpAddr = os.Getenv("TEST_IMAP_ADDR"), os.Getenv("TEST_SMTP_ADDR")
	cfg.domain, cfg.users = os.Getenv("TEST_MAIL_DOMAIN"), os.Getenv("TEST_MAIL_USERS")
	if cfg.imapAddr == "" || cfg.smtpAddr == "" || cfg.domain == "" || cfg.users == "" {
		fmt.Fprintln(os.Stderr, "email: set TEST_IMAP_ADDR, TEST_SMTP_ADDR, TEST_MAIL_DOMAIN and TEST_MAIL_USERS (scripts/services .test/env writes them)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "email:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	fmt.Println("== email: IMAP IDLE to SMTP autoresponse, MIME parsing")
	for _, line := range bench.Machine() {
		fmt.Println(line)
	}
	if err := parsing(cfg); err != nil {
		return err
	}
	return roundTrips(ctx, cfg)
}

// parsing measures the parser's throughput over the corpus and its memory
// on a 20 MB email.
func parsing(cfg config) error {
	files, err := filepath.Glob(filepath.Join(cfg.corpus, "*.eml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no .eml files in %s (run from the repository's root): %v", cfg.corpus, err)
	}
	var corpus [][]byte
	var bytesTotal int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		corpus = append(corpus, b)
		bytesTotal += len(b)
	}
	n, start := 0, time.Now()
	for time.Since(start) < cfg.parseTime {
		for _, raw := range corpus {
			email.Parse(raw)
		}
		n += len(corpus)
	}
	took := time.Since(start)
	fmt.Printf("\nMIME parsing, %d emails of the corpus (%.1f KiB), %d parsed in %s:\n", len(corpus), float64(bytesTotal)/1024, n, took.Round(time.Millisecond))
	fmt.Printf("  %.0f emails/s, %.1f MiB/s\n", float64(n)/took.Seconds(), float64(bytesTotal)*float64(n)/float64(len(corpus))/took.Seconds()/(1<<20))

	big := bigEmail(20 << 20)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapAlloc
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-t.C:
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapAlloc)
			}
		}
	}()
	start = time.Now()
	e := email.Parse(big)
	took = time.Since(start)
	close(done)
	wg.Wait()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	peak = max(peak, after.HeapAlloc)
	attached := 0
	for _, a := range e.Attachments {
		attached += len(a.Data)
	}
	runtime.KeepAlive(big)
	fmt.Printf("\nA generated %s email (text, HTML and a %s base64 attachment), parsed in %s:\n", bench.MiB(int64(len(big))), bench.MiB(int64(attached)), bench.Ms(took))
	fmt.Printf("  allocated %s; peak heap %s above the %s before (the raw email included), sampled every 2 ms\n",
		bench.MiB(int64(after.TotalAlloc-before.TotalAlloc)), bench.MiB(int64(peak-before.HeapAlloc)), bench.MiB(int64(before.HeapAlloc)))
	return nil
}

// bigEmail returns an email of about size bytes: a short text and HTML
// alternative and one base64 attachment with the rest.
func bigEmail(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Cliente <cliente@example.test>\r\nTo: soporte@conversa.test\r\nSubject: =?UTF-8?Q?Adjunto_el_v=C3=ADdeo?=\r\n" +
		"Date: Mon, 3 Nov 2025 10:15:00 -0500\r\nMessage-ID: <big@example.test>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n" +
		"--b2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAdjunto el vídeo del daño.\r\n" +
		"--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Adjunto el v&iacute;deo del da&ntilde;o.</p>\r\n--b2--\r\n" +
		"--b1\r\nContent-Type: video/mp4\r\nContent-Disposition: attachment; filename=\"video.mp4\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	line := []byte("AAAAIGZ0eXBpc29tAAACAGlzb21pc28yYXZjMW1wNDEAAAAIZnJlZQAAAAhtZGF0AAAA\r\n")
	for b.Len() < size-len("\r\n--b1--\r\n") {
		b.Write(line)
	}
	b.WriteString("\r\n--b1--\r\n")
	return b.Bytes()
}

// recorder keeps the channel's stage events.
type recorder struct {
	mu     sync.Mutex
	events []email.Event
	sent   chan string // Message-IDs answered
}

func (r *recorder) observe(e email.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if e.Stage == email.StageSent {
		select {
		case r.sent <- e.MessageID:
		default:
		}
	}
}

// since returns the events from index i on.
func (r *recorder) since(i int) []email.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]email.Event(nil), r.events[i:]...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// roundTrips sends the customer emails and times their answers.
func roundTrips(ctx context.Context, cfg config) error {
	dir, err := os.MkdirTemp("", "bench-email-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "c.db")})
	if err != nil {
		return err
	}
	defer store.Close()
	files, err := media.Open(filepath.Join(dir, "media"))
	if err != nil {
		return err
	}
	shared := memory.New()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	worker, err := conversation.NewWorker(store, conversation.WorkerConfig{}, nil)
	if err != nil {
		return err
	}
	var registry *channels.Registry
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: shared, Dedup: shared, JobsAdded: worker.Wake, Logger: logger,
		Bot: bot.NewEngine(store, store, store, bot.Config{}),
		Sender: senderFunc(func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
			return registry.Send(ctx, d)
		})})
	if err != nil {
		return err
	}
	rec := &recorder{sent: make(chan string, 16)}
	key := make([]byte, 32)
	rand.Read(key)
	// No Limiter: the benchmark's one customer gets every answer, which
	// the per-sender limit of automatic replies would hold back.
	ch, err := email.New(email.Config{TokenKey: key, Logger: logger, Observer: rec.observe}, email.Deps{Service: svc, Store: store, Media: files})
	if err != nil {
		return err
	}
	if registry, err = channels.NewRegistry(ch); err != nil {
		return err
	}
	worker.Handle(conversation.JobRoute, svc.RouteJob)
	worker.Handle(conversation.JobDeliver, svc.DeliverJob)

	support, pw, err := addUser(ctx, cfg, "bench-soporte")
	if err != nil {
		return err
	}
	customer, _, err := addUser(ctx, cfg, "bench-cliente")
	if err != nil {
		return err
	}
	tn := conversation.Tenant{Slug: "bench", Name: "Bench"}
	if err := tn.Validate(); err != nil {
		return err
	}
	tenant, err := store.CreateTenant(ctx, tn)
	if err != nil {
		return err
	}
	imapHost, imapPort, _ := net.SplitHostPort(cfg.imapAddr)
	smtpHost, smtpPort, _ := net.SplitHostPort(cfg.smtpAddr)
	acct := conversation.ChannelAccount{TenantID: tenant.ID, Kind: conversation.ChannelEmail, Key: support, Name: "Soporte", Settings: map[string]string{
		email.SettingIMAPHost: imapHost, email.SettingIMAPPort: imapPort, email.SettingIMAPTLS: email.TLSNone,
		email.SettingIMAPUser: support, email.SettingIMAPPassword: pw,
		email.SettingSMTPHost: smtpHost, email.SettingSMTPPort: smtpPort, email.SettingSMTPTLS: email.TLSNone,
	}}
	if err := registry.ValidateAccount(&acct); err != nil {
		return err
	}
	if _, err := store.CreateChannelAccount(ctx, acct); err != nil {
		return err
	}

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := worker.Run(rctx); err != nil {
			logger.Error("worker stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := ch.Run(rctx); err != nil {
			logger.Error("email channel stopped", "err", err)
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	host, port, _ := net.SplitHostPort(cfg.smtpAddr)
	p, _ := strconv.Atoi(port)
	client, err := gomail.NewClient(host, gomail.WithPort(p), gomail.WithTLSPolicy(gomail.NoTLS))
	if err != nil {
		return err
	}
	var totals, owns, imapWaits, smtpWaits, ingests []time.Duration
	for i := range cfg.warmup + cfg.emails {
		id := fmt.Sprintf("bench-%d-%s@example.test", i, hex.EncodeToString(key[:4]))
		m := gomail.NewMsg()
		m.From(customer)
		m.To(support)
		m.Subject(fmt.Sprintf("Consulta %d", i))
		m.SetMessageIDWithValue(id)
		m.SetBodyString(gomail.TypeTextPlain, "hola, quiero saber el estado de mi pedido")
		mark := rec.len()
		if err := client.DialAndSendWithContext(ctx, m); err != nil {
			return fmt.Errorf("deliver email %d: %w", i, err)
		}
		if err := waitAnswer(ctx, rec, id); err != nil {
			return fmt.Errorf("email %d: %w", i, err)
		}
		if i < cfg.warmup {
			continue
		}
		total, imapWait, smtpWait, ingest, err := measure(rec.since(mark), id)
		if err != nil {
			return fmt.Errorf("email %d: %w", i, err)
		}
		totals, imapWaits, smtpWaits = append(totals, total), append(imapWaits, imapWait), append(smtpWaits, smtpWait)
		ingests = append(ingests, ingest)
		owns = append(owns, total-imapWait-smtpWait)
	}

	fmt.Printf("\nAutoresponse: %d customer emails, one at a time, through Postfix into the watched inbox (Dovecot, IDLE);\n", cfg.emails)
	fmt.Println("from the EXISTS the channel sees to the bot's answer accepted by Postfix (SQLite store, the real dialogue engine):")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\tp50\tp90\tp99\tmax\ttarget\t")
	row := func(name string, ds []time.Duration, target time.Duration) {
		s := bench.Summarize(ds)
		t := ""
		if target > 0 {
			t = "p99 < " + bench.Ms(target)
			if s.P99 >= target {
				t += " MISSED"
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t\n", name, bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max), t)
	}
	row("total", totals, targetP99)
	row("IMAP waits (IDLE DONE, FETCH)", imapWaits, 0)
	row("SMTP session", smtpWaits, 0)
	row("Conversa's own", owns, targetOwn)
	row("  of which parse and store", ingests, 0)
	return w.Flush()
}

// measure reads one email's events: from the first announcement of new
// mail after it was sent to the acceptance of its answer, and the time
// spent waiting on servers in between.
func measure(events []email.Event, id string) (total, imapWait, smtpWait, ingest time.Duration, err error) {
	var notified, sent time.Time
	for _, e := range events {
		switch e.Stage {
		case email.StageNotified:
			if notified.IsZero() {
				notified = e.At
			}
		case email.StageIdleEnded, email.StageListed, email.StageFetched:
			if !notified.IsZero() && sent.IsZero() {
				imapWait += e.Duration
			}
		case email.StageIngested:
			if e.MessageID == id {
				ingest = e.Duration
			}
		case email.StageSent:
			if e.MessageID == id {
				sent, smtpWait = e.At, e.Duration
			}
		}
	}
	if notified.IsZero() || sent.IsZero() {
		return 0, 0, 0, 0, errors.New("no EXISTS announcement or no answer among the channel's events")
	}
	return sent.Sub(notified), imapWait, smtpWait, ingest, nil
}

// waitAnswer waits until the answer to the email with Message-ID id is
// accepted by the SMTP server.
func waitAnswer(ctx context.Context, rec *recorder, id string) error {
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case got := <-rec.sent:
			if got == id {
				return nil
			}
		case <-t.C:
			return errors.New("no answer within 30 s")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func waitFor(ctx context.Context, d time.Duration, ok func() bool) error {
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// addUser adds a mailbox to the test Dovecot's users file and waits until
// it accepts the login.
func addUser(ctx context.Context, cfg config, local string) (address, password string, err error) {
	b := make([]byte, 10)
	rand.Read(b)
	address = local + "-" + hex.EncodeToString(b[:4]) + "@" + cfg.domain
	password = hex.EncodeToString(b[4:])
	f, err := os.OpenFile(cfg.users, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return "", "", fmt.Errorf("mail users file: %w", err)
	}
	_, err = f.WriteString(address + ":{PLAIN}" + password + "::::::\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", "", err
	}
	err = waitFor(ctx, 15*time.Second, func() bool { return imapLogin(cfg.imapAddr, address, password) == nil })
	if err != nil {
		return "", "", fmt.Errorf("mailbox %s cannot log in: %w", address, err)
	}
	return address, password, nil
}

func imapLogin(addr, user, password string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		return err
	}
	fmt.Fprintf(c, "a LOGIN %q %q\r\nb LOGOUT\r\n", user, password)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if strings.HasPrefix(line, "a ") {
			if strings.HasPrefix(line, "a OK") {
				return nil
			}
			return errors.New(strings.TrimSpace(line))
		}
	}
}

type senderFunc func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error)

func (f senderFunc) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	return f(ctx, d)
}

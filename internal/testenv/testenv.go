// Package testenv finds the real services that tests run against:
// PostgreSQL, a Valkey-compatible server, headless Chromium and Firefox,
// and Dovecot + Postfix for mail. scripts/services starts whatever is
// missing and exports their addresses. A test that needs
// a service nobody started is skipped, except with CI=true, where it fails.
package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Defaults are the services these machines run out of the box.
const (
	defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	defaultValkeyURL   = "redis://127.0.0.1:6379"
)

// unavailable skips t, or fails it under CI=true.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and a required service is missing: "+format, args...)
	}
	t.Skipf("service missing (run make test to start it): "+format, args...)
}

// PostgresURL returns the URL of a new, empty schema in the test PostgreSQL
// database (TEST_POSTGRES_URL), dropped when t ends. Tests that use their
// own schema can run in parallel.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_POSTGRES_URL")
	if base == "" {
		base = defaultPostgresURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		unavailable(t, "PostgreSQL at %s: %v", redact(base), err)
	}
	defer conn.Close(context.Background())
	schema := "test_" + randomHex(6)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Logf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// ValkeyURL returns the URL of the test Valkey-compatible server
// (TEST_VALKEY_URL) and a key prefix of t's own.
func ValkeyURL(t testing.TB) (addr, prefix string) {
	t.Helper()
	raw := os.Getenv("TEST_VALKEY_URL")
	if raw == "" {
		raw = defaultValkeyURL
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("TEST_VALKEY_URL: %v", err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		unavailable(t, "Valkey at %s: %v", u.Host, err)
	}
	c.Close()
	return raw, "test" + randomHex(6)
}

// Chromium returns the path of a headless-capable Chromium (TEST_CHROMIUM,
// or chromium on PATH).
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	unavailable(t, "Chromium: none on PATH and TEST_CHROMIUM unset")
	return ""
}

// Firefox returns the path of a headless-capable Firefox (TEST_FIREFOX, or
// firefox-esr or firefox on PATH), which tests drive with
// internal/testenv/bidi.
func Firefox(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("TEST_FIREFOX"); p != "" {
		return p
	}
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	unavailable(t, "Firefox: none on PATH and TEST_FIREFOX unset")
	return ""
}

// Peers returns the directory where scripts/services installed the npm
// peers of internal/testenv/peers (TEST_PEERS_DIR): run them with
// Node("node_modules/.bin/prism", ...) from there, or require() them from a
// script run in it. Tests that need no peer never call it.
func Peers(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("TEST_PEERS_DIR")
	if dir == "" {
		unavailable(t, "npm peers: TEST_PEERS_DIR unset")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		unavailable(t, "npm peers: %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		unavailable(t, "npm peers: no node on PATH")
	}
	return dir
}

// TwilioOAI returns the path of Twilio's OpenAPI description of its REST
// API v2010 (TEST_TWILIO_OAI, which scripts/services finds among the
// shared data sets beside the repository).
func TwilioOAI(t testing.TB) string {
	t.Helper()
	p := os.Getenv("TEST_TWILIO_OAI")
	if p == "" {
		unavailable(t, "Twilio's OpenAPI description: TEST_TWILIO_OAI unset")
	}
	if _, err := os.Stat(p); err != nil {
		unavailable(t, "Twilio's OpenAPI description: %v", err)
	}
	return p
}

// MailServer is the test mail system of scripts/services: Dovecot serving
// IMAP and Postfix serving SMTP, both without TLS on loopback. Postfix
// delivers mail for Domain to Dovecot, bounces mail for other domains with
// a real delivery status notification, and refuses at RCPT the recipients
// whose local part starts with "rejected".
type MailServer struct {
	IMAPAddr string // host:port of IMAP
	SMTPAddr string // host:port of SMTP; accepts mail from loopback with or without auth
	Domain   string
	users    string
}

// Mail returns the test mail system (TEST_IMAP_ADDR, TEST_SMTP_ADDR,
// TEST_MAIL_DOMAIN, TEST_MAIL_USERS).
func Mail(t testing.TB) *MailServer {
	t.Helper()
	m := &MailServer{IMAPAddr: os.Getenv("TEST_IMAP_ADDR"), SMTPAddr: os.Getenv("TEST_SMTP_ADDR"),
		Domain: os.Getenv("TEST_MAIL_DOMAIN"), users: os.Getenv("TEST_MAIL_USERS")}
	if m.IMAPAddr == "" || m.SMTPAddr == "" || m.Domain == "" || m.users == "" {
		unavailable(t, "mail: TEST_IMAP_ADDR, TEST_SMTP_ADDR, TEST_MAIL_DOMAIN or TEST_MAIL_USERS unset")
	}
	for _, addr := range []string{m.IMAPAddr, m.SMTPAddr} {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			unavailable(t, "mail server at %s: %v", addr, err)
		}
		c.Close()
	}
	return m
}

// AddUser creates a mailbox of its own for t, local + "-" + random digits
// at Domain, with a random password, and returns once Dovecot accepts the
// login. Local parts starting with "rejected" name addresses Postfix
// refuses.
func (m *MailServer) AddUser(t testing.TB, local string) (address, password string) {
	t.Helper()
	address = strings.ToLower(local) + "-" + randomHex(4) + "@" + m.Domain
	password = randomHex(12)
	f, err := os.OpenFile(m.users, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("mail users file: %v", err)
	}
	// One write of one line: appends of concurrent tests do not mix.
	_, err = f.WriteString(address + ":{PLAIN}" + password + "::::::\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("add mail user: %v", err)
	}
	// Dovecot re-reads the file when it changes, within about a second.
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := imapLogin(m.IMAPAddr, address, password)
		if err == nil {
			return address, password
		}
		if time.Now().After(deadline) {
			t.Fatalf("mail user %s cannot log in: %v", address, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// imapLogin logs in to the IMAP server at addr and logs out.
func imapLogin(addr, user, password string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") {
		return fmt.Errorf("greeting %q", line)
	}
	if _, err := fmt.Fprintf(c, "a LOGIN %q %q\r\nb LOGOUT\r\n", user, password); err != nil {
		return err
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(line, "a OK"):
			return nil
		case strings.HasPrefix(line, "a "):
			return fmt.Errorf("login: %s", strings.TrimSpace(line))
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	return strings.TrimSpace(u.String())
}

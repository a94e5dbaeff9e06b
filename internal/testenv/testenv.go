// Package testenv finds the real services that tests run against:
// PostgreSQL, a Valkey-compatible server and headless Chromium. scripts/test
// starts whatever is missing and exports their addresses. A test that needs
// a service nobody started is skipped, except with CI=true, where it fails.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
)

// runProgram runs the conversa command in-process with the given
// environment and returns what it printed.
func runProgram(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err = run(ctx, args, environment{
		getenv:  func(k string) string { return env[k] },
		environ: environ,
		stdout:  &out,
		stderr:  &errOut,
	})
	return out.String(), errOut.String(), err
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "conversa.yaml")
	os.WriteFile(file, []byte("addr: 127.0.0.1:7000\nworkers: 3\nlog_level: warn\ningest_batch: 10\n"), 0o600)
	env := map[string]string{"CONVERSA_CONFIG": file, "CONVERSA_WORKERS": "5", "CONVERSA_LOG_FORMAT": "text"}
	out, _, err := runProgram(t, env, "config", "check", "--workers", "7", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"addr=127.0.0.1:7000",  // file
		"workers=7",            // flag over env over file
		"log_format=text",      // env
		"log_level=warn",       // file
		"ingest_batch=10",      // file
		"ingest_concurrency=1", // derived: SQLite takes one writer
		"public_url=http://127.0.0.1:7000",
		"database_url=" + filepath.Join(dir, "conversa.db"),
	} {
		if !slices.Contains(strings.Split(out, "\n"), want) {
			t.Errorf("config check output lacks %q:\n%s", want, out)
		}
	}
}

func TestConfigRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name+".yaml")
		os.WriteFile(p, []byte(body), 0o600)
		return p
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown file key", nil, []string{"--config", write("unknown", "adress: x\n")}, `unknown setting "adress"`},
		{"nested file value", nil, []string{"--config", write("nested", "addr:\n  host: x\n")}, "must be a single value"},
		{"unknown env var", map[string]string{"CONVERSA_WORKER": "3"}, nil, "unknown environment variable CONVERSA_WORKER"},
		{"unknown flag", nil, []string{"--wokers", "3"}, "flag provided but not defined"},
		{"bad integer", map[string]string{"CONVERSA_WORKERS": "many"}, nil, "not an integer"},
		{"bad duration", nil, []string{"--shutdown-timeout", "10"}, "not a duration"},
		{"bad log level", nil, []string{"--log-level", "loud"}, "log_level"},
		{"short secret", nil, []string{"--secret-key", "short"}, "secret_key"},
		{"bad valkey url", nil, []string{"--valkey-url", "http://x"}, "valkey_url"},
		{"bad trusted proxy", map[string]string{"CONVERSA_TRUSTED_PROXIES": "10.0.0.0/8, lb.internal"}, nil, `trusted_proxies: "lb.internal" is not an IP address`},
		{"bad addr", nil, []string{"--addr", "8080"}, "addr"},
		{"missing file", nil, []string{"--config", filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"bad case term hours", nil, []string{"--case-term-hours", "grito=4"}, "case_term_hours"},
		{"zero case term hours", nil, []string{"--case-term-hours", "queja=0"}, "case_term_hours"},
		{"bad case pause rule", nil, []string{"--case-pause-rule", "forever"}, "pause"},
		{"huge case attachments", nil, []string{"--case-attachment-max-bytes", "1000000000"}, "case_attachment_max_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runProgram(t, tt.env, append([]string{"config", "check"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestConfigCheckRedactsSecrets(t *testing.T) {
	out, _, err := runProgram(t, nil, "config", "check",
		"--secret-key", strings.Repeat("s", 40), "--encryption-key", strings.Repeat("e", 64),
		"--database-url", "postgres://app:hunter2@db.internal:5432/conversa",
		"--valkey-url", "redis://:v4lkey@cache:6379", "--media-url", "s3://AKIA:m3d14s3cr3t@s3.example.com/media")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"hunter2", "v4lkey", "m3d14s3cr3t", strings.Repeat("s", 40), strings.Repeat("e", 64)} {
		if strings.Contains(out, secret) {
			t.Fatalf("config check printed a secret:\n%s", out)
		}
	}
	if !strings.Contains(out, "ingest_concurrency=2") {
		t.Fatalf("PostgreSQL should default to 2 ingest transactions at once:\n%s", out)
	}
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CONVERSA_DATA_DIR": dir}
	must := func(args ...string) string {
		t.Helper()
		out, errOut, err := runProgram(t, env, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut)
		}
		return out
	}
	if out := must("migrate"); !strings.Contains(out, "up to date") {
		t.Fatalf("migrate on the embedded store: %q", out)
	}
	if out := must("tenant", "create", "--slug", "acme", "--name", "Acme S.A.S.", "--language", "en", "--time-zone", "America/Mexico_City"); !strings.Contains(out, "created tenant acme") {
		t.Fatalf("tenant create: %q", out)
	}
	if _, _, err := runProgram(t, env, "tenant", "create", "--slug", "acme", "--name", "Again"); conversation.ErrorCode(err) != conversation.ECONFLICT {
		t.Fatalf("a second tenant with the slug: %v, want conflict", err)
	}
	if _, _, err := runProgram(t, env, "tenant", "create", "--slug", "Bad Slug", "--name", "x"); conversation.ErrorCode(err) != conversation.EINVALID {
		t.Fatalf("a bad slug: %v, want invalid", err)
	}
	if out := must("tenant", "list"); !strings.Contains(out, "acme") || !strings.Contains(out, "America/Mexico_City") {
		t.Fatalf("tenant list: %q", out)
	}
	key := strings.TrimSpace(must("apikey", "create", "--tenant", "acme", "--name", "crm"))
	if !strings.HasPrefix(key, "cnv_") {
		t.Fatalf("apikey create printed %q", key)
	}
	id := strings.Split(key, "_")[1]
	if out := must("apikey", "list", "--tenant", "acme"); !strings.Contains(out, id) || !strings.Contains(out, "crm") || strings.Contains(out, key) {
		t.Fatalf("apikey list (must show the id, never the key): %q", out)
	}
	must("apikey", "revoke", "--tenant", "acme", "--id", id)
	if out := must("apikey", "list", "--tenant", "acme"); strings.Contains(out, "\t-\n") || !strings.Contains(out, time.Now().UTC().Format("2006-01-02")) {
		t.Fatalf("the revoked key is not shown revoked: %q", out)
	}
	if _, _, err := runProgram(t, env, "apikey", "create", "--tenant", "nope"); conversation.ErrorCode(err) != conversation.ENOTFOUND {
		t.Fatalf("a key for an unknown tenant: %v", err)
	}
	if out := must("reports", "backfill", "--tenant", "acme", "--from", "2026-01-01", "--to", "2026-01-31"); !strings.Contains(out, "rebuilt the report aggregates from 2026-01-01T00:00:00Z to 2026-02-01T00:00:00Z") {
		t.Fatalf("reports backfill: %q", out)
	}
	must("reports", "backfill")
	if _, _, err := runProgram(t, env, "reports", "backfill", "--from", "yesterday"); conversation.ErrorCode(err) != conversation.EINVALID {
		t.Fatalf("a backfill from a bad day: %v", err)
	}
	if _, _, err := runProgram(t, env, "reports", "backfill", "--tenant", "nope"); conversation.ErrorCode(err) != conversation.ENOTFOUND {
		t.Fatalf("a backfill of an unknown tenant: %v", err)
	}
	if out := must("version"); !strings.HasPrefix(out, "conversa ") {
		t.Fatalf("version: %q", out)
	}
	if _, _, err := runProgram(t, env, "frobnicate"); err == nil {
		t.Fatal("an unknown command succeeded")
	}
}

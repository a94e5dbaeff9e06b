package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/notify"
	"conversa/storage/sqlite"
)

const acmeFile = `tenant:
  slug: acme
  name: Acme S.A.S.
  language: es
  region: CO
  time_zone: America/Bogota
channels:
  - kind: webchat
    key: acme-web
    name: Sitio web
    settings:
      title: Acme
      color: "#112233"
  - kind: api
    key: acme-crm
    name: CRM
    settings:
      webhook_url: https://crm.acme.example/conversa
      webhook_secret: s3cr3t-s3cr3t-s3cr3t
`

func applyFile(t *testing.T, dir, body string, args ...string) (string, error) {
	t.Helper()
	f := filepath.Join(dir, "tenant.yaml")
	if err := os.WriteFile(f, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runProgram(t, map[string]string{"CONVERSA_DATA_DIR": dir}, append([]string{"apply", "-f", f}, args...)...)
	return out, err
}

// storeAt opens the embedded store of dir with the encryption key that
// conversa generated beside it.
func storeAt(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(dir, "encryption.key"))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := newSealer(string(key))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "conversa.db"), Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestApply(t *testing.T) {
	dir := t.TempDir()

	out, err := applyFile(t, dir, acmeFile, "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"create tenant acme", "create webchat channel acme-web", "create api channel acme-crm", "dry run"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if _, err := storeAt(t, dir).TenantBySlug(t.Context(), "acme"); !conversation.IsNotFound(err) {
		t.Fatalf("the dry run created the tenant: %v", err)
	}

	if _, err := applyFile(t, dir, acmeFile); err != nil {
		t.Fatal(err)
	}
	store := storeAt(t, dir)
	tn, err := store.TenantBySlug(t.Context(), "acme")
	if err != nil || tn.Name != "Acme S.A.S." {
		t.Fatalf("tenant = %+v, %v", tn, err)
	}
	web, err := store.ChannelAccountByKey(t.Context(), conversation.ChannelWebchat, "acme-web")
	if err != nil || web.TenantID != tn.ID || web.Settings["color"] != "#112233" || web.Name != "Sitio web" {
		t.Fatalf("web-chat channel = %+v, %v", web, err)
	}
	// The webhook secret is encrypted with the key generated beside the
	// database, readable only by the owner.
	if crm, err := store.ChannelAccountByKey(t.Context(), conversation.ChannelAPI, "acme-crm"); err != nil || crm.Settings["webhook_secret"] != "s3cr3t-s3cr3t-s3cr3t" {
		t.Fatalf("api channel = %+v, %v", crm, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "encryption.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("encryption.key: %v, %v; want mode 0600", fi, err)
	}
	keyless, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "conversa.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer keyless.Close()
	if _, err := keyless.ChannelAccountByKey(t.Context(), conversation.ChannelAPI, "acme-crm"); !errors.Is(err, conversation.ErrSealed) {
		t.Fatalf("without the key, the api channel reads as %v; want ErrSealed", err)
	}

	// Applying the same file again changes nothing.
	out, err = applyFile(t, dir, acmeFile)
	if err != nil || strings.TrimSpace(out) != "no changes" {
		t.Fatalf("second apply: %q, %v", out, err)
	}

	changed := strings.Replace(acmeFile, "name: Acme S.A.S.", "name: Acme Colombia", 1)
	changed = strings.Replace(changed, `color: "#112233"`, `color: "#445566"`, 1)
	changed = strings.Replace(changed, "s3cr3t-s3cr3t-s3cr3t", "n3w-s3cr3t-n3w-s3cr3t", 1)
	out, err = applyFile(t, dir, changed, "--dry-run")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`update tenant acme: name "Acme S.A.S." -> "Acme Colombia"`,
		`update webchat channel acme-web: settings.color "#112233" -> "#445566"`,
		`update api channel acme-crm: settings.webhook_secret "(hidden)" -> "(hidden)"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "n3w-s3cr3t") {
		t.Fatalf("the plan printed a secret:\n%s", out)
	}
	if _, err := applyFile(t, dir, changed); err != nil {
		t.Fatal(err)
	}
	if tn, _ := store.TenantBySlug(t.Context(), "acme"); tn.Name != "Acme Colombia" {
		t.Fatalf("tenant name = %q after apply", tn.Name)
	}
	if web, _ := store.ChannelAccountByKey(t.Context(), conversation.ChannelWebchat, "acme-web"); web.Settings["color"] != "#445566" {
		t.Fatalf("color = %q after apply", web.Settings["color"])
	}
}

func TestApplyValidatesEverythingFirst(t *testing.T) {
	dir := t.TempDir()
	if _, err := applyFile(t, dir, acmeFile); err != nil {
		t.Fatal(err)
	}
	other := `tenant:
  slug: other
  name: Other
channels:
  - kind: webchat
    key: other-web
  - kind: webchat
    key: acme-web
  - kind: webchat
    key: bad-color
    settings:
      color: red
  - kind: api
    key: hook
    settings:
      webhook_url: http://127.0.0.1/hook
      webhook_secret: 0123456789abcdef
  - kind: fax
    key: x
  - kind: webchat
    key: other-web
`
	_, err := applyFile(t, dir, other)
	if err == nil {
		t.Fatal("an invalid file was applied")
	}
	for _, want := range []string{
		`channels[1]: the webchat channel "acme-web" belongs to another tenant`,
		"channels[2].settings.color",
		"channels[3].settings.webhook_url: must not be a private or loopback address",
		`channels[4].kind: unknown channel "fax"`,
		`channels[5]: the webchat channel "other-web" appears twice`,
		"nothing was changed",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	store := storeAt(t, dir)
	if _, err := store.TenantBySlug(t.Context(), "other"); !conversation.IsNotFound(err) {
		t.Fatalf("an invalid file created its tenant: %v", err)
	}
	if _, err := store.ChannelAccountByKey(t.Context(), conversation.ChannelWebchat, "other-web"); !conversation.IsNotFound(err) {
		t.Fatalf("an invalid file created a channel: %v", err)
	}
}

func TestApplyRejectsMalformedFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key":    "tenant:\n  slug: a1\n  name: A\n  colour: red\n",
		"two documents":  "tenant:\n  slug: a1\n  name: A\n---\ntenant:\n  slug: b1\n  name: B\n",
		"empty":          "",
		"not yaml":       "tenant: [",
		"bad slug":       "tenant:\n  slug: A B\n  name: A\n",
		"bad time zone":  "tenant:\n  slug: a1\n  name: A\n  time_zone: Mars/Olympus\n",
		"unknown region": "tenant:\n  slug: a1\n  name: A\n  region: Colombia\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := applyFile(t, dir, body); err == nil {
				t.Fatal("applied")
			}
		})
	}
	if ts, err := storeAt(t, dir).ListTenants(t.Context()); err != nil || len(ts) != 0 {
		t.Fatalf("tenants after bad files: %v, %v", ts, err)
	}
}

func TestApplyTemplates(t *testing.T) {
	dir := t.TempDir()
	tplDir := filepath.Join(dir, "templates")
	if err := os.MkdirAll(tplDir, 0o755); err != nil {
		t.Fatal(err)
	}
	resolved := `purpose: case_resolved
variables:
  name: {sample: "Ana", required: true}
  radicado: {sample: "PQR-2026-000123", required: true}
variants:
  - channel: default
    language: es
    text: "Hola {{.name}}, tu caso {{.radicado}} fue resuelto."
`
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(tplDir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("case_resolved.yaml", resolved)
	withTemplates := acmeFile + "templates: [templates]\n"

	out, err := applyFile(t, dir, withTemplates)
	if err != nil || !strings.Contains(out, "create template case_resolved") {
		t.Fatalf("apply: %q, %v", out, err)
	}
	store := storeAt(t, dir)
	tn, err := store.TenantBySlug(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	v, err := store.Template(t.Context(), tn.ID, "case_resolved")
	if err != nil || v.Number != 1 || string(v.Source) != resolved {
		t.Fatalf("stored template = %+v, %v", v, err)
	}
	if out, err := applyFile(t, dir, withTemplates); err != nil || strings.TrimSpace(out) != "no changes" {
		t.Fatalf("second apply: %q, %v", out, err)
	}
	write("case_resolved.yaml", strings.Replace(resolved, "fue resuelto", "quedó resuelto", 1))
	if out, err := applyFile(t, dir, withTemplates); err != nil || !strings.Contains(out, "update template case_resolved: version 1 -> 2") {
		t.Fatalf("apply of a changed template: %q, %v", out, err)
	}

	// A bad template is named with its line, and nothing changes.
	write("survey.yaml", "purpose: survey\nvariables: {}\nvariants:\n  - channel: sms\n    language: es\n    text: \"¿Cómo nos fue, {{.nombre}}?\"\n")
	changed := strings.Replace(withTemplates, "name: Acme S.A.S.", "name: Acme Colombia", 1)
	_, err = applyFile(t, dir, changed)
	if err == nil || !strings.Contains(err.Error(), "survey.yaml:6") || !strings.Contains(err.Error(), "nombre") {
		t.Fatalf("apply of a bad template = %v; want its file, line and variable", err)
	}
	if tn, _ := store.TenantBySlug(t.Context(), "acme"); tn.Name != "Acme S.A.S." {
		t.Fatalf("a failed apply changed the tenant: %q", tn.Name)
	}
	if _, err := applyFile(t, dir, acmeFile+"templates: [missing]\n"); err == nil || !strings.Contains(err.Error(), "templates[0]") {
		t.Fatalf("a missing folder = %v", err)
	}
}

// TestApplySetsTelegramWebhook: applying a Telegram account in webhook mode
// tells Telegram where to post updates, with the secret token; one in
// polling mode is left alone.
func TestApplySetsTelegramWebhook(t *testing.T) {
	type call struct{ path, url, secret string }
	var mu sync.Mutex
	var calls []call
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseMultipartForm(1 << 20)
		mu.Lock()
		calls = append(calls, call{r.URL.Path, r.FormValue("url"), r.FormValue("secret_token")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"result":true}`)
	}))
	defer api.Close()
	dir := t.TempDir()
	const token = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr"
	file := acmeFile + `  - kind: telegram
    key: acme_support_bot
    settings:
      bot_token: "` + token + `"
      mode: webhook
      webhook_secret: a-long-random-secret
  - kind: telegram
    key: acme_polling_bot
    settings:
      bot_token: "987654321:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr"
      mode: polling
`
	f := filepath.Join(dir, "tenant.yaml")
	if err := os.WriteFile(f, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runProgram(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_PUBLIC_URL": "https://chat.acme.example",
		"CONVERSA_TELEGRAM_API_URL": api.URL}, "apply", "-f", f)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://chat.acme.example/channels/telegram/acme_support_bot"
	if !strings.Contains(out, "set the webhook of telegram bot acme_support_bot to "+want) {
		t.Fatalf("apply printed:\n%s", out)
	}
	mu.Lock()
	defer mu.Unlock()
	var set []call
	for _, c := range calls {
		if strings.HasSuffix(c.path, "/setWebhook") {
			set = append(set, c)
		}
	}
	if len(set) != 1 || set[0].path != "/bot"+token+"/setWebhook" || set[0].url != want || set[0].secret != "a-long-random-secret" {
		t.Fatalf("Telegram got %+v; want one setWebhook of the webhook bot", calls)
	}
	if strings.Contains(out, token) {
		t.Fatal("apply printed the bot token")
	}
}

// notificationsSection is the README's example of a tenant's notification
// policy.
const notificationsSection = `notifications:
  fallback: [whatsapp, sms, email]
  quiet_hours: {start: "21:00", end: "08:00"}
  purposes:
    survey: {cap: {count: 1, period: 7d}}
    service_outage: {urgent: true}
`

func TestApplyNotifications(t *testing.T) {
	dir := t.TempDir()
	withPolicy := acmeFile + notificationsSection

	out, err := applyFile(t, dir, withPolicy, "--dry-run")
	if err != nil || !strings.Contains(out, "update notification policy (the tenant had the default)") {
		t.Fatalf("dry run: %q, %v", out, err)
	}
	if _, err := applyFile(t, dir, withPolicy); err != nil {
		t.Fatal(err)
	}
	store := storeAt(t, dir)
	tn, err := store.TenantBySlug(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	urgent := true
	want := notify.Policy{
		Fallback:   []conversation.ChannelKind{conversation.ChannelWhatsApp, conversation.ChannelSMS, conversation.ChannelEmail},
		QuietHours: &notify.QuietHours{Start: "21:00", End: "08:00"},
		Purposes: map[string]notify.PurposePolicy{
			"survey":         {Cap: &notify.Cap{Count: 1, Period: "7d"}},
			"service_outage": {Urgent: &urgent},
		},
	}
	policy := func() notify.Policy {
		t.Helper()
		p, err := store.Policy(t.Context(), tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got := policy(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stored policy %+v, want %+v", got, want)
	}
	if out, err := applyFile(t, dir, withPolicy); err != nil || strings.TrimSpace(out) != "no changes" {
		t.Fatalf("second apply: %q, %v", out, err)
	}
	// A file without the section leaves the stored policy alone.
	if out, err := applyFile(t, dir, acmeFile); err != nil || strings.TrimSpace(out) != "no changes" {
		t.Fatalf("apply without notifications: %q, %v", out, err)
	}
	if got := policy(); !reflect.DeepEqual(got, want) {
		t.Fatalf("a file without notifications changed the policy to %+v", got)
	}

	changed := strings.Replace(withPolicy, `end: "08:00"`, `end: "07:30"`, 1) +
		"    reminder: {cap: {count: 2, period: 24h}, fallback: [sms]}\n"
	out, err = applyFile(t, dir, changed, "--dry-run")
	if err != nil || !strings.Contains(out, "update notification policy: quiet_hours, purposes.reminder") {
		t.Fatalf("dry run of a changed policy: %q, %v", out, err)
	}
	if got := policy(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the dry run changed the policy to %+v", got)
	}
	if _, err := applyFile(t, dir, changed); err != nil {
		t.Fatal(err)
	}
	want.QuietHours.End = "07:30"
	want.Purposes["reminder"] = notify.PurposePolicy{Cap: &notify.Cap{Count: 2, Period: "24h"}, Fallback: []conversation.ChannelKind{conversation.ChannelSMS}}
	if got := policy(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stored policy %+v, want %+v", got, want)
	}

	// Every problem of the file is reported, the policy's prefixed, and
	// nothing changes.
	for _, tc := range []struct{ name, policy, want string }{
		{"a bad channel", "notifications:\n  fallback: [sms, fax]\n", "notifications.fallback[1]: unknown channel"},
		{"a bad time", "notifications:\n  quiet_hours: {start: \"25:00\", end: \"08:00\"}\n", "notifications.quiet_hours.start"},
		{"a bad period", "notifications:\n  purposes:\n    survey: {cap: {count: 1, period: 7x}}\n", "notifications.purposes.survey.cap.period"},
		{"a bad purpose", "notifications:\n  purposes:\n    Survey: {urgent: true}\n", "notifications.purposes.Survey"},
		{"an unknown key", "notifications:\n  purposes:\n    survey: {max: 1}\n", "field max not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(acmeFile, "name: Acme S.A.S.", "name: Acme Colombia", 1) + "  - kind: fax\n    key: x\n" + tc.policy
			_, err := applyFile(t, dir, bad)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("apply = %v; want %q", err, tc.want)
			}
			if tc.name != "an unknown key" && !strings.Contains(err.Error(), `channels[2].kind: unknown channel "fax"`) {
				t.Errorf("the channel's problem is not reported with the policy's: %v", err)
			}
			if tn, _ := store.TenantBySlug(t.Context(), "acme"); tn.Name != "Acme S.A.S." {
				t.Errorf("a failed apply changed the tenant: %q", tn.Name)
			}
			if got := policy(); !reflect.DeepEqual(got, want) {
				t.Errorf("a failed apply changed the policy to %+v", got)
			}
		})
	}
}

// casesSection is docs/cases.md's example of a tenant's case policy, as
// written there.
const casesSection = `cases:
  terms: {queja: 5, peticion: 10}
  holidays: [2026-12-24, 2026-12-31]
  rules:
    term_hours: {denuncia: 4}
    hours:
      - {day: 1, from: "09:00", to: "18:00"}
      - {day: 2, from: "09:00", to: "18:00"}
    pause: restart
  levels:
    - {at: 0.5, to: lead, notify: [team_lead]}
    - {at: 1, to: manager, notify: ["role:admin"]}
  urgent_types: [reclamo]
  max_extension_days: 5
`

func TestApplyCases(t *testing.T) {
	dir := t.TempDir()
	withPolicy := acmeFile + casesSection

	out, err := applyFile(t, dir, withPolicy, "--dry-run")
	if err != nil || !strings.Contains(out, "update case policy (the tenant had the server's settings)") {
		t.Fatalf("dry run: %q, %v", out, err)
	}
	if _, err := applyFile(t, dir, withPolicy); err != nil {
		t.Fatal(err)
	}
	store := storeAt(t, dir)
	tn, err := store.TenantBySlug(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := handoff.CasePolicy{
		Terms:    map[handoff.CaseType]int{handoff.Queja: 5, handoff.Peticion: 10},
		Holidays: []string{"2026-12-24", "2026-12-31"},
		Rules: handoff.CaseRules{TermHours: map[handoff.CaseType]int{handoff.Denuncia: 4}, Pause: handoff.PauseRestart,
			Hours: []handoff.Span{{Day: time.Monday, From: "09:00", To: "18:00"}, {Day: time.Tuesday, From: "09:00", To: "18:00"}}},
		Levels:           []handoff.Level{{At: 0.5, To: "lead", Notify: []string{handoff.TargetTeamLead}}, {At: 1, To: "manager", Notify: []string{"role:admin"}}},
		UrgentTypes:      []handoff.CaseType{handoff.Reclamo},
		MaxExtensionDays: 5,
	}
	policy := func() handoff.CasePolicy {
		t.Helper()
		p, err := store.CasePolicy(t.Context(), tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got := policy(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stored policy %+v, want %+v", got, want)
	}
	if out, err := applyFile(t, dir, withPolicy); err != nil || strings.TrimSpace(out) != "no changes" {
		t.Fatalf("second apply: %q, %v", out, err)
	}
	if out, err := applyFile(t, dir, acmeFile); err != nil || strings.TrimSpace(out) != "no changes" {
		t.Fatalf("apply without cases: %q, %v", out, err)
	}

	changed := strings.Replace(withPolicy, "queja: 5,", "queja: 7,", 1)
	changed = strings.Replace(changed, "max_extension_days: 5", "max_extension_days: 3", 1)
	if out, err := applyFile(t, dir, changed); err != nil || !strings.Contains(out, "update case policy: max_extension_days, terms") {
		t.Fatalf("apply of a changed policy: %q, %v", out, err)
	}
	want.Terms[handoff.Queja], want.MaxExtensionDays = 7, 3
	if got := policy(); !reflect.DeepEqual(got, want) {
		t.Fatalf("stored policy %+v, want %+v", got, want)
	}

	for _, tc := range []struct{ name, policy, want string }{
		{"a bad term", "cases:\n  terms: {queja: 0}\n", "cases.terms.queja: must be 1 to 365"},
		{"an unknown type", "cases:\n  terms: {tutela: 5}\n", `cases.terms: unknown case type "tutela"`},
		{"a bad holiday", "cases:\n  holidays: [24/12/2026]\n", "cases.holidays[0]"},
		{"a bad level", "cases:\n  levels: [{at: 1.5, to: boss}]\n", "cases.levels[0]"},
		{"an unknown key", "cases:\n  term: {queja: 5}\n", "field term not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := applyFile(t, dir, acmeFile+tc.policy)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("apply = %v; want %q", err, tc.want)
			}
			if got := policy(); !reflect.DeepEqual(got, want) {
				t.Errorf("a failed apply changed the policy to %+v", got)
			}
		})
	}
}

// TestWrongEncryptionKey: a node started with another encryption key than
// the one the database's secrets were sealed with refuses to start, rather
// than fail on each secret later.
func TestWrongEncryptionKey(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runProgram(t, map[string]string{"CONVERSA_DATA_DIR": dir}, "migrate"); err != nil {
		t.Fatal(err)
	}
	wrong := map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_ENCRYPTION_KEY": strings.Repeat("ab", 32)}
	if _, _, err := runProgram(t, wrong, "migrate"); err == nil || !strings.Contains(err.Error(), "encryption_key is not the key") {
		t.Fatalf("with another key: %v; want a refusal that names encryption_key", err)
	}
	key, err := os.ReadFile(filepath.Join(dir, "encryption.key"))
	if err != nil {
		t.Fatal(err)
	}
	right := map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_ENCRYPTION_KEY": strings.TrimSpace(string(key))}
	if _, _, err := runProgram(t, right, "migrate"); err != nil {
		t.Fatalf("with the right key given explicitly: %v", err)
	}
}

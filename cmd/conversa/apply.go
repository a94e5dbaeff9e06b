package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"conversa/channels"
	"conversa/channels/telegram"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/notify"
	"conversa/templates"
)

// tenantFile is a tenant described as a file, for "conversa apply". Later
// issues add its bot, queues and agents.
type tenantFile struct {
	Tenant struct {
		Slug     string `yaml:"slug"`
		Name     string `yaml:"name"`
		Language string `yaml:"language"`
		Region   string `yaml:"region"`
		TimeZone string `yaml:"time_zone"`
	} `yaml:"tenant"`
	Channels []struct {
		Kind     conversation.ChannelKind `yaml:"kind"`
		Key      string                   `yaml:"key"`
		Name     string                   `yaml:"name"`
		Disabled bool                     `yaml:"disabled"`
		Settings map[string]string        `yaml:"settings"`
	} `yaml:"channels"`
	// Templates are message template files (docs/templates.md), or
	// folders of them, relative to the tenant file.
	Templates []string `yaml:"templates"`
	// Notifications is the tenant's notification policy, whole; absent
	// leaves the stored one alone.
	Notifications *notify.Policy `yaml:"notifications"`
	// Cases is the tenant's case policy, whole (docs/cases.md); absent
	// leaves the stored one alone.
	Cases *handoff.CasePolicy `yaml:"cases"`

	// templates are the files Templates names, as readTemplates read them.
	templates []templateFile
}

// templateFile is a template definition read for apply.
type templateFile struct {
	name string // as the errors name it
	src  []byte
}

// readTemplates reads the template files f names, relative to dir: each
// path is a YAML file or a folder whose .yaml and .yml files are read in
// name order.
func (f *tenantFile) readTemplates(dir string) error {
	var errs []error
	for i, p := range f.Templates {
		path := p
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, p)
		}
		files := []string{path}
		if fi, err := os.Stat(path); err != nil {
			errs = append(errs, fmt.Errorf("templates[%d]: %w", i, err))
			continue
		} else if fi.IsDir() {
			files = nil
			for _, pattern := range []string{"*.yaml", "*.yml"} {
				m, _ := filepath.Glob(filepath.Join(path, pattern))
				files = append(files, m...)
			}
			slices.Sort(files)
			if len(files) == 0 {
				errs = append(errs, fmt.Errorf("templates[%d]: %s holds no .yaml files", i, p))
			}
		}
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				errs = append(errs, fmt.Errorf("templates[%d]: %w", i, err))
				continue
			}
			f.templates = append(f.templates, templateFile{name: name, src: src})
		}
	}
	return errors.Join(errs...)
}

// parseTenantFile reads one YAML document strictly: unknown keys are errors.
func parseTenantFile(data []byte) (tenantFile, error) {
	var f tenantFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return f, errors.New("the file is empty")
		}
		return f, err
	}
	var more any
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return f, errors.New("one tenant per file: the file has more than one YAML document")
	}
	return f, nil
}

// plan is what applying a tenant file would change.
type plan struct {
	tenant    conversation.Tenant
	create    bool     // the tenant is new
	changes   []string // human-readable, in order
	accounts  []accountPlan
	templates []templatePlan      // new versions to save
	policy    *notify.Policy      // the notification policy to store, if it changes
	cases     *handoff.CasePolicy // the case policy to store, if it changes
}

type templatePlan struct {
	file    templateFile
	purpose string
}

type accountPlan struct {
	account conversation.ChannelAccount // desired; ID set when it exists
	create  bool
	update  bool
}

// planApply validates the whole file against the store and works out the
// changes, touching nothing. All problems are reported together.
func planApply(ctx context.Context, store conversation.Store, reg *channels.Registry, f tenantFile) (plan, error) {
	var errs []error
	p := plan{tenant: conversation.Tenant{
		Slug: f.Tenant.Slug, Name: f.Tenant.Name, Language: f.Tenant.Language,
		Region: f.Tenant.Region, TimeZone: f.Tenant.TimeZone,
	}}
	if err := p.tenant.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("tenant.%w", err))
	}
	existing, err := store.TenantBySlug(ctx, p.tenant.Slug)
	switch {
	case conversation.IsNotFound(err) || p.tenant.Slug == "":
		p.create = true
		p.changes = append(p.changes, fmt.Sprintf("create tenant %s (%q)", p.tenant.Slug, p.tenant.Name))
	case err != nil:
		return p, err
	default:
		p.tenant.ID, p.tenant.CreatedAt = existing.ID, existing.CreatedAt
		for _, d := range []struct{ field, old, new string }{
			{"name", existing.Name, p.tenant.Name},
			{"language", existing.Language, p.tenant.Language},
			{"region", existing.Region, p.tenant.Region},
			{"time_zone", existing.TimeZone, p.tenant.TimeZone},
		} {
			if d.old != d.new {
				p.changes = append(p.changes, fmt.Sprintf("update tenant %s: %s %q -> %q", p.tenant.Slug, d.field, d.old, d.new))
			}
		}
	}

	seen := map[string]bool{}
	for i, c := range f.Channels {
		at := fmt.Sprintf("channels[%d]", i)
		a := conversation.ChannelAccount{TenantID: p.tenant.ID, Kind: c.Kind, Key: c.Key, Name: c.Name, Disabled: c.Disabled, Settings: c.Settings}
		if err := reg.ValidateAccount(&a); err != nil {
			errs = append(errs, fmt.Errorf("%s.%w", at, err))
			continue
		}
		id := string(a.Kind) + " " + a.Key
		if seen[id] {
			errs = append(errs, fmt.Errorf("%s: the %s channel %q appears twice", at, a.Kind, a.Key))
			continue
		}
		seen[id] = true
		old, err := store.ChannelAccountByKey(ctx, a.Kind, a.Key)
		switch {
		case conversation.IsNotFound(err):
			p.accounts = append(p.accounts, accountPlan{account: a, create: true})
			p.changes = append(p.changes, fmt.Sprintf("create %s channel %s", a.Kind, a.Key))
		case err != nil:
			return p, err
		case p.create || old.TenantID != p.tenant.ID:
			errs = append(errs, fmt.Errorf("%s: the %s channel %q belongs to another tenant", at, a.Kind, a.Key))
		default:
			a.ID = old.ID
			diffs := accountDiff(old, a)
			p.accounts = append(p.accounts, accountPlan{account: a, update: len(diffs) > 0})
			for _, d := range diffs {
				p.changes = append(p.changes, fmt.Sprintf("update %s channel %s: %s", a.Kind, a.Key, d))
			}
		}
	}
	errs = append(errs, p.planTemplates(ctx, store, f.templates)...)
	if err := p.planPolicy(ctx, store, f.Notifications); err != nil {
		errs = append(errs, err)
	}
	if err := p.planCasePolicy(ctx, store, f.Cases); err != nil {
		errs = append(errs, err)
	}
	return p, errors.Join(errs...)
}

// planPolicy checks the file's notification policy and plans to store it
// when it differs from the tenant's stored one.
func (p *plan) planPolicy(ctx context.Context, store conversation.Store, want *notify.Policy) error {
	if want == nil {
		return nil
	}
	if err := want.Validate(); err != nil {
		return fmt.Errorf("notifications.%w", err)
	}
	ns, ok := store.(notify.Store)
	if !ok {
		return errors.New("notifications: this store keeps no notification policies")
	}
	var stored *notify.Policy
	if !p.create {
		old, err := ns.Policy(ctx, p.tenant.ID)
		switch {
		case conversation.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("notifications: %w", err)
		default:
			stored = &old
		}
	}
	change := "update notification policy (the tenant had the default)"
	if stored != nil {
		diffs := policyDiff(*stored, *want)
		if len(diffs) == 0 {
			return nil
		}
		change = "update notification policy: " + strings.Join(diffs, ", ")
	}
	p.policy = want
	p.changes = append(p.changes, change)
	return nil
}

// planCasePolicy checks the file's case policy and plans to store it when
// it differs from the tenant's stored one.
func (p *plan) planCasePolicy(ctx context.Context, store conversation.Store, want *handoff.CasePolicy) error {
	if want == nil {
		return nil
	}
	if err := want.Validate(); err != nil {
		return fmt.Errorf("cases.%w", err)
	}
	cs, ok := store.(handoff.CasePolicyStore)
	if !ok {
		return errors.New("cases: this store keeps no case policies")
	}
	change := "update case policy (the tenant had the server's settings)"
	if !p.create {
		old, err := cs.CasePolicy(ctx, p.tenant.ID)
		switch {
		case conversation.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("cases: %w", err)
		default:
			diffs := jsonFieldDiff(old, *want)
			if len(diffs) == 0 {
				return nil
			}
			change = "update case policy: " + strings.Join(diffs, ", ")
		}
	}
	p.cases = want
	p.changes = append(p.changes, change)
	return nil
}

// jsonFieldDiff names, in order, the top-level JSON fields whose values
// differ between two structs.
func jsonFieldDiff(a, b any) []string {
	fields := func(v any) map[string]json.RawMessage {
		m := map[string]json.RawMessage{}
		raw, _ := json.Marshal(v)
		_ = json.Unmarshal(raw, &m)
		return m
	}
	fa, fb := fields(a), fields(b)
	names := slices.Collect(maps.Keys(fa))
	for k := range fb {
		if _, ok := fa[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var d []string
	for _, k := range names {
		if !bytes.Equal(fa[k], fb[k]) {
			d = append(d, k)
		}
	}
	return d
}

// policyDiff names the parts of want that differ from stored: fallback,
// quiet_hours and purposes.<name>.
func policyDiff(stored, want notify.Policy) []string {
	same := func(a, b any) bool {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		return bytes.Equal(ja, jb)
	}
	var d []string
	if !same(stored.Fallback, want.Fallback) && len(stored.Fallback)+len(want.Fallback) > 0 {
		d = append(d, "fallback")
	}
	if !same(stored.QuietHours, want.QuietHours) {
		d = append(d, "quiet_hours")
	}
	names := slices.Collect(maps.Keys(stored.Purposes))
	for name := range want.Purposes {
		if _, ok := stored.Purposes[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		old, had := stored.Purposes[name]
		now, has := want.Purposes[name]
		if had != has || !same(old, now) {
			d = append(d, "purposes."+name)
		}
	}
	return d
}

// planTemplates checks every template file and plans a new version of
// each that differs from the tenant's latest.
func (p *plan) planTemplates(ctx context.Context, store conversation.Store, files []templateFile) []error {
	if len(files) == 0 {
		return nil
	}
	ts, ok := store.(templates.Store)
	if !ok {
		return []error{errors.New("templates: this store keeps no templates")}
	}
	var errs []error
	purposes := map[string]string{}
	for _, tf := range files {
		t, err := templates.Parse(tf.name, tf.src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, dup := purposes[t.Purpose]; dup {
			errs = append(errs, fmt.Errorf("%s: purpose %s is also defined in %s", tf.name, t.Purpose, other))
			continue
		}
		purposes[t.Purpose] = tf.name
		latest, err := ts.Template(ctx, p.tenant.ID, t.Purpose)
		switch {
		case p.create || conversation.IsNotFound(err):
			p.changes = append(p.changes, fmt.Sprintf("create template %s", t.Purpose))
		case err != nil:
			errs = append(errs, err)
			continue
		case latest.Checksum == t.Checksum:
			continue
		default:
			p.changes = append(p.changes, fmt.Sprintf("update template %s: version %d -> %d", t.Purpose, latest.Number, latest.Number+1))
		}
		p.templates = append(p.templates, templatePlan{file: tf, purpose: t.Purpose})
	}
	return errs
}

// accountDiff describes how b differs from a, hiding secret values.
func accountDiff(a, b conversation.ChannelAccount) []string {
	var d []string
	if a.Name != b.Name {
		d = append(d, fmt.Sprintf("name %q -> %q", a.Name, b.Name))
	}
	if a.Disabled != b.Disabled {
		d = append(d, fmt.Sprintf("disabled %v -> %v", a.Disabled, b.Disabled))
	}
	keys := slices.Sorted(maps.Keys(a.Settings))
	for k := range b.Settings {
		if _, ok := a.Settings[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		old, had := a.Settings[k]
		now, has := b.Settings[k]
		if had == has && old == now {
			continue
		}
		if conversation.IsSecretSetting(k) {
			old, now = "(hidden)", "(hidden)"
		}
		switch {
		case !has:
			d = append(d, fmt.Sprintf("settings.%s removed", k))
		case !had:
			d = append(d, fmt.Sprintf("settings.%s = %q", k, now))
		default:
			d = append(d, fmt.Sprintf("settings.%s %q -> %q", k, old, now))
		}
	}
	return d
}

// execute carries out the plan.
func (p *plan) execute(ctx context.Context, store conversation.Store) error {
	var err error
	switch {
	case p.create:
		if p.tenant, err = store.CreateTenant(ctx, p.tenant); err != nil {
			return fmt.Errorf("create tenant: %w", err)
		}
	case len(p.changes) > 0:
		if p.tenant, err = store.UpdateTenant(ctx, p.tenant); err != nil {
			return fmt.Errorf("update tenant: %w", err)
		}
	}
	for _, ap := range p.accounts {
		a := ap.account
		a.TenantID = p.tenant.ID
		switch {
		case ap.create:
			_, err = store.CreateChannelAccount(ctx, a)
		case ap.update:
			_, err = store.UpdateChannelAccount(ctx, a)
		}
		if err != nil {
			return fmt.Errorf("%s channel %s: %w", a.Kind, a.Key, err)
		}
	}
	if len(p.templates) > 0 {
		svc := templates.NewService(store.(templates.Store)) // planTemplates checked it
		for _, tp := range p.templates {
			if _, _, _, err := svc.Save(ctx, p.tenant.ID, tp.purpose, tp.file.name, tp.file.src); err != nil {
				return fmt.Errorf("template %s: %w", tp.purpose, err)
			}
		}
	}
	if p.policy != nil {
		if err := store.(notify.Store).PutPolicy(ctx, p.tenant.ID, *p.policy); err != nil { // planPolicy checked it
			return fmt.Errorf("notification policy: %w", err)
		}
	}
	if p.cases != nil {
		// A running server reads it within handoff.DefaultPolicyTTL.
		if err := store.(handoff.CasePolicyStore).PutCasePolicy(ctx, p.tenant.ID, *p.cases); err != nil { // planCasePolicy checked it
			return fmt.Errorf("case policy: %w", err)
		}
	}
	return nil
}

// registerWebhooks points the Telegram bots of the accounts the plan
// created or changed, in webhook mode, at this server. The accounts are
// stored either way; a bot Telegram refuses is reported.
func (p *plan) registerWebhooks(ctx context.Context, reg *channels.Registry, out io.Writer) error {
	var errs []error
	for _, ap := range p.accounts {
		if !ap.create && !ap.update {
			continue
		}
		url, err := registerWebhook(ctx, reg, ap.account)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s channel %s is stored, but: %w", ap.account.Kind, ap.account.Key, err))
		} else if url != "" {
			fmt.Fprintf(out, "set the webhook of telegram bot %s to %s\n", ap.account.Key, url)
		}
	}
	return errors.Join(errs...)
}

// registerWebhook tells the provider of an account where to post its
// updates, when the provider must be told: a Telegram bot in webhook mode.
// It returns the URL it registered, "" when there was nothing to do.
func registerWebhook(ctx context.Context, reg *channels.Registry, a conversation.ChannelAccount) (string, error) {
	ch, _ := reg.Channel(conversation.ChannelTelegram)
	tg, ok := ch.(*telegram.Channel)
	if !ok || a.Kind != conversation.ChannelTelegram || a.Disabled || a.Settings[telegram.SettingMode] == telegram.ModePolling {
		return "", nil
	}
	if err := tg.SetWebhook(ctx, a); err != nil {
		return "", fmt.Errorf("its webhook is not set: %w", err)
	}
	return tg.WebhookURL(a), nil
}

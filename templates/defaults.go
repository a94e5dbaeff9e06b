package templates

import (
	"context"
	"embed"
	"io/fs"
	"path"
	"slices"
	"sync"

	"conversa/conversation"
)

// The built-in templates: Spanish and English texts for the notifications
// Conversa sends by itself (a case filed, moved, extended, resolved, and
// the survey after it; the generic CSAT and NPS surveys), so that a tenant
// gets them before it writes its own.
//
//go:embed defaults/*.yaml
var defaultFiles embed.FS

// loadDefaults parses the built-in templates once; they are checked like a
// tenant's (TestDefaults), so an error here is a bug of the binary.
var loadDefaults = sync.OnceValues(func() (map[string]*Template, error) {
	names, err := fs.Glob(defaultFiles, "defaults/*.yaml")
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Template, len(names))
	for _, name := range names {
		src, err := defaultFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		t, err := Parse(path.Base(name), src)
		if err != nil {
			return nil, err
		}
		out[t.Purpose] = t
	}
	return out, nil
})

// Default returns the built-in template of a purpose, and whether there is
// one: case_filed, case_status, case_extended, case_resolved, case_survey,
// case_escalated (to agents), and the generic surveys survey_csat and
// survey_nps.
func Default(purpose string) (*Template, bool) {
	m, err := loadDefaults()
	if err != nil {
		return nil, false
	}
	t, ok := m[purpose]
	return t, ok
}

// DefaultPurposes lists the purposes that have a built-in template, in
// order.
func DefaultPurposes() []string {
	m, _ := loadDefaults()
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// WithDefaults is a Service whose Template, Render and Preview fall back
// to the built-in template of a purpose that the tenant has not saved (or
// deleted): a tenant's own template always wins. The notification service
// reads templates through it. The Service itself, which the API's template
// routes use, knows only the tenant's own templates, so that listing,
// versions and deletion stay about what the tenant saved.
type WithDefaults struct{ *Service }

// Defaults returns s falling back to the built-in templates.
func (s *Service) Defaults() WithDefaults { return WithDefaults{s} }

// Template returns the tenant's latest version of a purpose, else the
// built-in one as version 0 (with its source). Returns ENOTFOUND when there
// is neither.
func (s WithDefaults) Template(ctx context.Context, tenantID int64, purpose string) (*Template, Version, error) {
	t, v, err := s.Service.Template(ctx, tenantID, purpose)
	if !conversation.IsNotFound(err) {
		return t, v, err
	}
	d, ok := Default(purpose)
	if !ok {
		return nil, Version{}, err
	}
	return d, Version{TenantID: tenantID, Purpose: purpose, Checksum: d.Checksum, Source: d.Source()}, nil
}

// Render renders the tenant's latest version of a purpose, else the
// built-in one (Rendered.Version is then 0).
func (s WithDefaults) Render(ctx context.Context, tenantID int64, purpose string, r Request) (Rendered, error) {
	t, v, err := s.Template(ctx, tenantID, purpose)
	if err != nil {
		return Rendered{}, err
	}
	out, err := t.Render(r)
	out.Version = v.Number
	return out, err
}

// Preview is Service.Preview with the built-in fallback.
func (s WithDefaults) Preview(ctx context.Context, tenantID int64, purpose string, r Request) (Rendered, error) {
	t, v, err := s.Template(ctx, tenantID, purpose)
	if err != nil {
		return Rendered{}, err
	}
	out, err := t.Preview(r)
	out.Version = v.Number
	return out, err
}

package templates

import (
	"context"
	"sync"

	"conversa/conversation"
)

// maxCached bounds the compiled templates a Service keeps.
const maxCached = 1024

// Service is the tenants' templates: it checks definitions before it
// saves them, and renders stored ones, keeping them compiled by checksum
// (versions never change, so a compiled version stays right). It is safe
// for concurrent use.
type Service struct {
	store Store

	mu    sync.Mutex
	cache map[string]*Template // by checksum
}

// NewService returns a Service over store.
func NewService(store Store) *Service {
	return &Service{store: store, cache: map[string]*Template{}}
}

// Save checks the definition file named name and stores it as the
// tenant's next version of its purpose, unless it is the latest version
// already (created is then false). When purpose is not empty the
// definition must be of that purpose. A bad definition returns EINVALID
// wrapping Problems, and stores nothing; an unknown tenant ENOTFOUND.
func (s *Service) Save(ctx context.Context, tenantID int64, purpose, name string, src []byte) (v Version, t *Template, created bool, err error) {
	t, err = Parse(name, src)
	if err != nil {
		return Version{}, nil, false, err
	}
	if purpose != "" && t.Purpose != purpose {
		return Version{}, nil, false, conversation.FieldError("purpose", "the definition is of purpose %q, not %q", t.Purpose, purpose)
	}
	v = Version{TenantID: tenantID, Purpose: t.Purpose, Checksum: t.Checksum, Source: src}
	if created, err = s.store.SaveTemplate(ctx, &v); err != nil {
		return Version{}, nil, false, err
	}
	s.keep(t)
	return v, t, created, nil
}

// Template returns the tenant's latest version of a purpose, compiled.
// Returns ENOTFOUND when there is none.
func (s *Service) Template(ctx context.Context, tenantID int64, purpose string) (*Template, Version, error) {
	v, err := s.store.Template(ctx, tenantID, purpose)
	if err != nil {
		return nil, Version{}, err
	}
	t, err := s.compiled(v)
	return t, v, err
}

// TemplateVersion returns one version of a purpose, compiled. Returns
// ENOTFOUND when it does not exist.
func (s *Service) TemplateVersion(ctx context.Context, tenantID int64, purpose string, number int64) (*Template, Version, error) {
	v, err := s.store.TemplateVersion(ctx, tenantID, purpose, number)
	if err != nil {
		return nil, Version{}, err
	}
	t, err := s.compiled(v)
	return t, v, err
}

// Render renders the tenant's latest version of a purpose (Template.Render
// says how and what errors it returns).
func (s *Service) Render(ctx context.Context, tenantID int64, purpose string, r Request) (Rendered, error) {
	t, v, err := s.Template(ctx, tenantID, purpose)
	if err != nil {
		return Rendered{}, err
	}
	out, err := t.Render(r)
	out.Version = v.Number
	return out, err
}

// Preview renders the tenant's latest version of a purpose with its
// samples, which r.Data overrides.
func (s *Service) Preview(ctx context.Context, tenantID int64, purpose string, r Request) (Rendered, error) {
	t, v, err := s.Template(ctx, tenantID, purpose)
	if err != nil {
		return Rendered{}, err
	}
	out, err := t.Preview(r)
	out.Version = v.Number
	return out, err
}

// compiled returns a stored version compiled, from the cache when it can.
func (s *Service) compiled(v Version) (*Template, error) {
	s.mu.Lock()
	t := s.cache[v.Checksum]
	s.mu.Unlock()
	if t != nil {
		return t, nil
	}
	t, err := Parse(v.Purpose+".yaml", v.Source)
	if err != nil {
		// It passed when it was saved: the rules have changed since.
		return nil, &conversation.Error{Code: conversation.EINTERNAL,
			Message: "stored template " + v.Purpose + " no longer passes the checks", Err: err}
	}
	s.keep(t)
	return t, nil
}

// keep caches t, dropping an arbitrary entry when the cache is full.
func (s *Service) keep(t *Template) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cache) >= maxCached {
		for k := range s.cache {
			delete(s.cache, k)
			break
		}
	}
	s.cache[t.Checksum] = t
}

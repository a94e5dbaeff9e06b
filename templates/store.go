package templates

import (
	"context"
	"time"
)

// Version is one stored version of a tenant's template: the definition
// file as it was saved.
type Version struct {
	TenantID int64  `json:"-"`
	Purpose  string `json:"purpose"`
	// Number counts the versions of the tenant's purpose: 1, 2, …
	Number int64 `json:"version"`
	// Checksum is the SHA-256 of Source, hex (Checksum(Source)).
	Checksum string `json:"checksum"`
	// Source is the definition file, byte for byte.
	Source    []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// Store keeps templates' versions. storage/sqlite and storage/postgres
// implement it, proven by templatestest.TestStore. Every method is safe for
// concurrent use and scoped to one tenant. Stores keep sources as they are
// given; Service checks them before it saves.
type Store interface {
	// SaveTemplate stores v.Source, with v.Checksum, as the next version
	// of the tenant's v.Purpose (1, 2, … without gaps, also under
	// concurrency) and sets v.Number and v.CreatedAt; a deleted purpose
	// comes back with the number after its last. When the purpose is not
	// deleted and its latest version has the same checksum, it stores
	// nothing, sets v to that version and returns false. Returns
	// ENOTFOUND when the tenant does not exist.
	SaveTemplate(ctx context.Context, v *Version) (created bool, err error)
	// Template returns the latest version of a purpose, with its source.
	// Returns ENOTFOUND when the tenant has none, or deleted it.
	Template(ctx context.Context, tenantID int64, purpose string) (Version, error)
	// TemplateVersion returns one version with its source, also of a
	// deleted purpose (a message sent with it can be explained). Returns
	// ENOTFOUND when it does not exist.
	TemplateVersion(ctx context.Context, tenantID int64, purpose string, number int64) (Version, error)
	// TemplateVersions lists a purpose's versions, newest first, without
	// Source, also of a deleted purpose. Returns ENOTFOUND when the tenant
	// never saved the purpose.
	TemplateVersions(ctx context.Context, tenantID int64, purpose string) ([]Version, error)
	// ListTemplates returns the latest version of each of the tenant's
	// purposes that is not deleted, in purpose order, without Source.
	ListTemplates(ctx context.Context, tenantID int64) ([]Version, error)
	// DeleteTemplate deletes a purpose: Template and ListTemplates no
	// longer find it; its versions stay. Returns ENOTFOUND when the tenant
	// has no such purpose, or deleted it already.
	DeleteTemplate(ctx context.Context, tenantID int64, purpose string) error
}

package bot

import (
	"context"
	"strconv"
	"time"
)

// Store keeps trained bots and the dialogue state of conversations. The
// durable stores implement it (storage/sqlite, storage/postgres), proven
// by bottest.TestStore. Every method is safe for concurrent use and
// scoped to one tenant.
type Store interface {
	// CreateBotVersion stores a trained bot as the tenant's next version
	// (1, 2, …), inactive, and sets v.Number and v.CreatedAt.
	CreateBotVersion(ctx context.Context, v *Version) error
	// BotVersion returns one version with its source, model and report.
	// Returns ENOTFOUND when it does not exist.
	BotVersion(ctx context.Context, tenantID, number int64) (Version, error)
	// BotVersions lists the tenant's versions, newest first, without
	// Source, Model and Report.
	BotVersions(ctx context.Context, tenantID int64) ([]Version, error)
	// ActivateBotVersion makes a version the one that answers, in one
	// step: the previously active version becomes inactive. Returns
	// ENOTFOUND when the version does not exist.
	ActivateBotVersion(ctx context.Context, tenantID, number int64) error
	// ActiveBotVersion returns the number of the active version, or 0 when
	// the tenant has none. It is cheap: the engine calls it on every turn.
	ActiveBotVersion(ctx context.Context, tenantID int64) (int64, error)
	// SealBotSources encrypts the sources stored in the clear, before the
	// store had an encryption key, and returns how many it sealed; with no
	// key it does nothing. A store with a key seals every source it writes
	// (bound to SourcePurpose of its tenant) and opens it on read, so
	// callers see plain sources; one that does not open (another key, or
	// none) is an error wrapping conversation.ErrSealed.
	SealBotSources(ctx context.Context) (int, error)

	// Session returns the dialogue state of a conversation, or a zero
	// Session (Version 0) when the bot has not spoken in it yet.
	Session(ctx context.Context, tenantID, conversationID int64) (Session, error)
	// SaveSession stores s if the stored session still has s.Version (0:
	// none stored yet), and then sets s.Version to the new version.
	// Returns ECONFLICT when another turn saved first.
	SaveSession(ctx context.Context, s *Session) error
}

// SourcePurpose binds a tenant's sealed bot sources to it: a definition
// holds the secrets of its HTTP actions (the signing secret, headers), so
// stores encrypt it at rest (see Store.SealBotSources).
func SourcePurpose(tenantID int64) string {
	return "bot source of tenant " + strconv.FormatInt(tenantID, 10)
}

// Version is one trained bot of a tenant.
type Version struct {
	TenantID int64 `json:"tenant_id"`
	Number   int64 `json:"number"`
	// Source is the definition's files as JSON (file name to content).
	Source []byte `json:"-"`
	// Model is the trained classifier (bot/nlu's format).
	Model []byte `json:"-"`
	// Report is the evaluation report as JSON.
	Report []byte `json:"-"`
	// Checksum is the SHA-256 of Source, hex.
	Checksum    string    `json:"checksum"`
	Active      bool      `json:"active"`
	CreatedAt   time.Time `json:"created_at"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	// Note says who trained it and why, for people.
	Note string `json:"note,omitempty"`
}

// Session is the dialogue state of one conversation, as the engine keeps it
// between turns.
type Session struct {
	TenantID       int64
	ConversationID int64
	// Version counts saves, for compare-and-set.
	Version int64
	// State is the engine's state, JSON.
	State     []byte
	UpdatedAt time.Time
}

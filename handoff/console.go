package handoff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"conversa/conversation"
)

// Passwords are hashed with argon2id and kept in the PHC string form
// "$argon2id$v=19$m=65536,t=3,p=2$<salt>$<hash>" (unpadded standard
// base64), so that the parameters can be raised later without breaking
// stored hashes.
const (
	// MinPasswordLength is the fewest characters a password has.
	MinPasswordLength = 10
	// MaxPasswordLength bounds the work one login attempt costs.
	MaxPasswordLength = 256

	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
	argonSaltLen = 16
)

// CheckPasswordRule reports whether pw may become a password: EINVALID
// about the field "password" otherwise.
func CheckPasswordRule(pw string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return conversation.FieldError("password", "the password is not valid UTF-8")
	case n < MinPasswordLength:
		return conversation.FieldError("password", "a password has at least %d characters", MinPasswordLength)
	case len(pw) > MaxPasswordLength:
		return conversation.FieldError("password", "a password has at most %d bytes", MaxPasswordLength)
	case strings.TrimSpace(pw) == "":
		return conversation.FieldError("password", "a password is not only spaces")
	}
	return nil
}

// HashPassword checks pw against the password rule (EINVALID) and returns
// its argon2id hash in PHC string form, with a random salt.
func HashPassword(pw string) (string, error) {
	if err := CheckPasswordRule(pw); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword reports whether pw matches hash, a PHC string made by
// HashPassword (possibly with other parameters). The comparison takes
// constant time; a malformed or empty hash matches nothing.
func CheckPassword(hash, pw string) bool {
	p, ok := parsePHC(hash)
	if !ok || len(pw) > MaxPasswordLength {
		return false
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

type phc struct {
	time, memory uint32
	threads      uint8
	salt, key    []byte
}

// parsePHC reads "$argon2id$v=19$m=..,t=..,p=..$salt$key", refusing
// parameters that would make checking a password a denial of service.
func parsePHC(s string) (phc, bool) {
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, false
	}
	var p phc
	for _, kv := range strings.Split(f[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return phc{}, false
		}
		switch k {
		case "m":
			p.memory = uint32(n)
		case "t":
			p.time = uint32(n)
		case "p":
			if n > 255 {
				return phc{}, false
			}
			p.threads = uint8(n)
		default:
			return phc{}, false
		}
	}
	if p.memory < 8 || p.memory > 1<<20 || p.time < 1 || p.time > 16 || p.threads < 1 {
		return phc{}, false
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(f[4]); err != nil || len(p.salt) < 8 {
		return phc{}, false
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(f[5]); err != nil || len(p.key) < 16 || len(p.key) > 128 {
		return phc{}, false
	}
	return p, true
}

// Login is an agent who may log in with an email: the agent and their
// password hash, "" when none was set (no password matches it).
type Login struct {
	Agent        Agent
	PasswordHash string
}

// Session is a console login. The browser holds a random token; the store
// keeps only its SHA-256 (TokenHash), so a read of the database gives no
// usable session.
type Session struct {
	// TokenHash is HashToken of the browser's token, hex.
	TokenHash string `json:"-"`
	TenantID  int64  `json:"tenant_id"`
	AgentID   int64  `json:"agent_id"`
	// CSRF is the secret the console puts in its forms and checks on every
	// state-changing request.
	CSRF      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	SeenAt    time.Time `json:"seen_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// NewSession returns a new session of an agent that expires ttl after at,
// and the token to give the browser (43 characters of URL-safe base64
// over 32 random bytes). Store it with AuthStore.CreateAgentSession.
func NewSession(tenantID, agentID int64, at time.Time, ttl time.Duration) (token string, s Session, err error) {
	tok, csrf := make([]byte, 32), make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return "", Session{}, fmt.Errorf("new session: %w", err)
	}
	if _, err := rand.Read(csrf); err != nil {
		return "", Session{}, fmt.Errorf("new session: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(tok)
	at = at.UTC().Truncate(time.Microsecond)
	return token, Session{TokenHash: HashToken(token), TenantID: tenantID, AgentID: agentID,
		CSRF: base64.RawURLEncoding.EncodeToString(csrf), CreatedAt: at, SeenAt: at, ExpiresAt: at.Add(ttl)}, nil
}

// HashToken returns the hex SHA-256 of a session token, what the store
// keeps and looks sessions up by.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// AuthStore keeps console credentials and sessions. storage/sqlite and
// storage/postgres implement it, proven by handofftest.TestConsoleStore.
// Every method is safe for concurrent use. Times are kept to the
// microsecond.
type AuthStore interface {
	// SetPassword stores the agent's password hash ("" removes it, so
	// that no password logs in). Returns ENOTFOUND unless the agent is the
	// tenant's. It does not end the agent's sessions: the caller does,
	// with DeleteAgentSessions, keeping the one that changed it if it
	// likes.
	SetPassword(ctx context.Context, tenantID, agentID int64, hash string) error
	// Logins returns every agent, of any tenant, whose email is email
	// (compared in lower case), by tenant then id: an email may be an
	// agent's in several tenants.
	Logins(ctx context.Context, email string) ([]Login, error)

	// CreateAgentSession stores s. Returns ENOTFOUND unless the agent is the
	// tenant's, ECONFLICT if the token hash is taken.
	CreateAgentSession(ctx context.Context, s Session) error
	// AgentSession returns the session of a token hash. Returns ENOTFOUND when
	// there is none or it expired at or before at.
	AgentSession(ctx context.Context, tokenHash string, at time.Time) (Session, error)
	// TouchAgentSession records that the session was used at at and that it
	// now expires at expires. Returns ENOTFOUND as AgentSession.
	TouchAgentSession(ctx context.Context, tokenHash string, at, expires time.Time) error
	// DeleteAgentSession ends one session; ending one that is gone is no error.
	DeleteAgentSession(ctx context.Context, tokenHash string) error
	// DeleteAgentSessions ends all the agent's sessions but keep's (a
	// token hash, "" for none) and returns how many it ended.
	DeleteAgentSessions(ctx context.Context, tenantID, agentID int64, keep string) (int, error)
	// DeleteExpiredAgentSessions removes the sessions expired at or before at,
	// of every tenant, and returns how many.
	DeleteExpiredAgentSessions(ctx context.Context, at time.Time) (int, error)
}

// Note is a private note of agents on a conversation: colleagues see it in
// the console; it is never sent to the customer.
type Note struct {
	ID             int64 `json:"id"`
	TenantID       int64 `json:"tenant_id"`
	ConversationID int64 `json:"conversation_id"`
	AgentID        int64 `json:"agent_id"`
	// AgentName is the author's name when read.
	AgentName string    `json:"agent_name"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// MaxNoteBody is the longest note, in characters.
const MaxNoteBody = 10000

// Validate checks a note before it is stored.
func (n *Note) Validate() error {
	n.Body = strings.TrimSpace(n.Body)
	switch {
	case n.Body == "":
		return conversation.FieldError("body", "a note needs a body")
	case !utf8.ValidString(n.Body):
		return conversation.FieldError("body", "the body is not valid UTF-8")
	case utf8.RuneCountInString(n.Body) > MaxNoteBody:
		return conversation.FieldError("body", "a note has at most %d characters", MaxNoteBody)
	case n.ConversationID <= 0:
		return conversation.FieldError("conversation_id", "a note is on a conversation")
	case n.AgentID <= 0:
		return conversation.FieldError("agent_id", "a note has an author")
	}
	return nil
}

// NoteStore keeps the private notes of conversations. storage/sqlite and
// storage/postgres implement it, proven by handofftest.TestConsoleStore.
// Every method is safe for concurrent use and scoped to one tenant.
type NoteStore interface {
	// CreateNote stores a validated note at n.CreatedAt (now when zero)
	// and returns it with its ID and AgentName. Returns ENOTFOUND unless
	// the conversation and the agent are the tenant's.
	CreateNote(ctx context.Context, n Note) (Note, error)
	// Notes returns a conversation's notes, oldest first. Another
	// tenant's conversation has none.
	Notes(ctx context.Context, tenantID, conversationID int64) ([]Note, error)
}

// ConsoleStore is everything the agent console keeps beside routing.
type ConsoleStore interface {
	AuthStore
	NoteStore
	CannedStore
}

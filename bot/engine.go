package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"conversa/bot/nlu"
	"conversa/conversation"
)

// Annotator records the bot's analysis on a message. conversation.Store
// implements it.
type Annotator interface {
	AnnotateMessage(ctx context.Context, tenantID, messageID int64, a conversation.Analysis) error
}

// Tenants reads tenants. conversation.Store implements it.
type Tenants interface {
	Tenant(ctx context.Context, id int64) (conversation.Tenant, error)
}

// Config configures the Engine.
type Config struct {
	// Actions are the custom Go actions definitions may name.
	Actions map[string]Action
	// Client calls HTTP actions; default NewActionClient(false).
	Client *http.Client
	// Folds is the k of the cross-validation run on training; default 5,
	// and -1 skips the evaluation.
	Folds int
	// Seed makes training deterministic; default 1.
	Seed   int64
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Engine is the dialogue engine: it answers every tenant's conversations
// with the tenant's active bot version, loaded from the store and cached,
// and keeps each conversation's dialogue state in the store. A tenant
// without a trained bot gets the built-in one (small talk and handoff). It
// implements conversation.Bot.
type Engine struct {
	store     Store
	annotator Annotator
	tenants   Tenants
	cfg       Config

	mu    sync.Mutex
	cache map[int64]*cached
	// base is the built-in bot, per language set.
	base     *Bot
	baseOnce sync.Once
	baseErr  error
}

type cached struct {
	version int64
	bot     *Bot
	ready   chan struct{}
	err     error
}

var _ conversation.Bot = (*Engine)(nil)

// NewEngine returns an engine on store. annotator may be nil.
func NewEngine(store Store, tenants Tenants, annotator Annotator, cfg Config) *Engine {
	if cfg.Folds == 0 {
		cfg.Folds = 5
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = defaultActionClient
	}
	return &Engine{store: store, tenants: tenants, annotator: annotator, cfg: cfg, cache: map[int64]*cached{}}
}

// Respond answers one inbound message with the tenant's active bot.
func (e *Engine) Respond(ctx context.Context, t conversation.Turn) (conversation.Response, error) {
	b, version, err := e.Bot(ctx, t.Tenant)
	if err != nil {
		return conversation.Response{}, err
	}
	sess, err := e.store.Session(ctx, t.Tenant.ID, t.Conversation.ID)
	if err != nil {
		return conversation.Response{}, fmt.Errorf("read dialogue state: %w", err)
	}
	var st State
	if len(sess.State) > 0 {
		if err := json.Unmarshal(sess.State, &st); err != nil {
			// A state this engine cannot read starts over rather than
			// leaving the customer without an answer.
			e.cfg.Logger.Warn("unreadable dialogue state; starting over", "conversation", t.Conversation.ID, "err", err)
			st = State{}
		}
	}
	sess.TenantID, sess.ConversationID = t.Tenant.ID, t.Conversation.ID
	repeated := st.Last == t.Message.ID && st.LastOutput != nil

	out := b.Respond(ctx, &st, Input{
		Tenant: t.Tenant, Conversation: t.Conversation, Contact: t.Contact, Message: t.Message,
		Channel: t.Message.Channel, Now: e.cfg.Now(),
	}, Env{Client: e.cfg.Client, Logger: e.cfg.Logger.With("tenant", t.Tenant.ID)})
	out.Analysis.BotVersion = version

	if !repeated {
		data, err := json.Marshal(&st)
		if err != nil {
			return conversation.Response{}, err
		}
		sess.State = data
		if err := e.store.SaveSession(ctx, &sess); err != nil {
			// Another turn of this conversation saved first: the job is
			// retried and answers from the newer state.
			return conversation.Response{}, fmt.Errorf("save dialogue state: %w", err)
		}
		if e.annotator != nil && t.Message.ID != 0 {
			if err := e.annotator.AnnotateMessage(ctx, t.Tenant.ID, t.Message.ID, out.Analysis); err != nil {
				e.cfg.Logger.Warn("could not record the message analysis", "message", t.Message.ID, "err", err)
			}
		}
	}
	return conversation.Response{Replies: out.Replies, Actions: out.Actions}, nil
}

// Bot returns the tenant's active bot and its version (0: the built-in
// bot). A version is loaded once and cached until another is activated,
// on this node or any other.
func (e *Engine) Bot(ctx context.Context, tenant conversation.Tenant) (*Bot, int64, error) {
	version, err := e.store.ActiveBotVersion(ctx, tenant.ID)
	if err != nil {
		return nil, 0, fmt.Errorf("read the active bot version: %w", err)
	}
	if version == 0 {
		b, err := e.builtin()
		return b, 0, err
	}
	e.mu.Lock()
	c := e.cache[tenant.ID]
	if c == nil || c.version != version {
		c = &cached{version: version, ready: make(chan struct{})}
		e.cache[tenant.ID] = c
		e.mu.Unlock()
		c.bot, c.err = e.load(ctx, tenant, version)
		close(c.ready)
		if c.err != nil {
			e.mu.Lock()
			if e.cache[tenant.ID] == c {
				delete(e.cache, tenant.ID)
			}
			e.mu.Unlock()
		}
	} else {
		e.mu.Unlock()
		select {
		case <-c.ready:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
	}
	return c.bot, version, c.err
}

func (e *Engine) load(ctx context.Context, tenant conversation.Tenant, version int64) (*Bot, error) {
	v, err := e.store.BotVersion(ctx, tenant.ID, version)
	if err != nil {
		return nil, fmt.Errorf("read bot version %d: %w", version, err)
	}
	src, err := decodeSource(v.Source)
	if err != nil {
		return nil, fmt.Errorf("bot version %d: %w", version, err)
	}
	b, err := Load(src, v.Model, e.compileOptions(tenant))
	if err != nil {
		return nil, fmt.Errorf("load bot version %d: %w", version, err)
	}
	return b, nil
}

// builtin returns the bot of tenants that trained none: small talk,
// handoff on request or after misunderstandings.
func (e *Engine) builtin() (*Bot, error) {
	e.baseOnce.Do(func() {
		t, err := Train(context.Background(), Source{"default.yaml": []byte("name: default\n")}, 0, CompileOptions{Seed: e.cfg.Seed})
		if err != nil {
			e.baseErr = fmt.Errorf("train the built-in bot: %w", err)
			return
		}
		e.base = t.Bot
	})
	return e.base, e.baseErr
}

func (e *Engine) compileOptions(tenant conversation.Tenant) CompileOptions {
	return CompileOptions{Seed: e.cfg.Seed, Actions: e.cfg.Actions, Region: tenant.Region, TimeZone: tenant.TimeZone}
}

// Train checks and trains a definition for a tenant and stores it as a new
// inactive version, with its evaluation report. A bad definition returns
// DefinitionErrors (as an EINVALID error) and stores nothing, so it never
// replaces a working bot.
func (e *Engine) Train(ctx context.Context, tenant conversation.Tenant, src Source, note string) (Version, *Training, error) {
	tr, err := Train(ctx, src, e.cfg.Folds, e.compileOptions(tenant))
	if err != nil {
		return Version{}, nil, asInvalid(err)
	}
	srcJSON, err := encodeSource(src)
	if err != nil {
		return Version{}, nil, err
	}
	report, err := json.Marshal(tr.Report)
	if err != nil {
		return Version{}, nil, err
	}
	sum := sha256.Sum256(srcJSON)
	v := Version{TenantID: tenant.ID, Source: srcJSON, Model: tr.Model, Report: report, Checksum: hex.EncodeToString(sum[:]), Note: note}
	if err := e.store.CreateBotVersion(ctx, &v); err != nil {
		return Version{}, nil, fmt.Errorf("store the bot version: %w", err)
	}
	return v, tr, nil
}

// Evaluate checks and trains a definition for a tenant and cross-validates
// it with folds folds, storing nothing. A bad definition returns
// DefinitionErrors as an EINVALID error.
func (e *Engine) Evaluate(ctx context.Context, tenant conversation.Tenant, src Source, folds int) (*nlu.Report, error) {
	if folds < 2 {
		folds = 5
	}
	tr, err := Train(ctx, src, folds, e.compileOptions(tenant))
	if err != nil {
		return nil, asInvalid(err)
	}
	return tr.Report, nil
}

// Activate makes a stored version the tenant's bot, on every node from
// their next turn. It loads the version first, so that a version that
// cannot be loaded is never activated.
func (e *Engine) Activate(ctx context.Context, tenant conversation.Tenant, number int64) error {
	if _, err := e.load(ctx, tenant, number); err != nil {
		return err
	}
	return e.store.ActivateBotVersion(ctx, tenant.ID, number)
}

// Rollback activates the version that was active before the current one
// and returns its number. Returns ECONFLICT when there is none.
func (e *Engine) Rollback(ctx context.Context, tenant conversation.Tenant) (int64, error) {
	versions, err := e.store.BotVersions(ctx, tenant.ID)
	if err != nil {
		return 0, err
	}
	var current Version
	for _, v := range versions {
		if v.Active {
			current = v
		}
	}
	if current.Number == 0 {
		return 0, conversation.Errorf(conversation.ECONFLICT, "no bot version is active")
	}
	var prev Version
	for _, v := range versions {
		if v.Number == current.Number || v.ActivatedAt.IsZero() {
			continue
		}
		if v.ActivatedAt.After(prev.ActivatedAt) || v.ActivatedAt.Equal(prev.ActivatedAt) && v.Number > prev.Number {
			prev = v
		}
	}
	if prev.Number == 0 {
		return 0, conversation.Errorf(conversation.ECONFLICT, "version %d is the first one ever activated; there is nothing to roll back to", current.Number)
	}
	return prev.Number, e.Activate(ctx, tenant, prev.Number)
}

// asInvalid gives definition errors the EINVALID code, keeping them
// reachable with errors.As.
func asInvalid(err error) error {
	var de DefinitionErrors
	if errors.As(err, &de) {
		first := de[0]
		return &conversation.Error{Code: conversation.EINVALID, Message: de.Error(), Field: first.Field, Err: de}
	}
	return err
}

// SourceFromVersion returns a stored version's definition files.
func SourceFromVersion(v Version) (Source, error) { return decodeSource(v.Source) }

func encodeSource(src Source) ([]byte, error) {
	m := make(map[string]string, len(src))
	for k, v := range src {
		m[k] = string(v)
	}
	return json.Marshal(m)
}

func decodeSource(data []byte) (Source, error) {
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("stored definition is not readable: %w", err)
	}
	src := make(Source, len(m))
	for k, v := range m {
		src[k] = []byte(v)
	}
	return src, nil
}

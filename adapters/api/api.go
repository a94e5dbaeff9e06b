// Package api is the REST API of client companies (tenants): channel
// accounts, contacts and their consent, conversations and messages,
// sending, state changes, search, inbound messages of the tenant's own
// channels, a live event stream, the training and activation of the
// tenant's bot, support cases (PQRs), message templates,
// notifications with the tenant's notification policy, and CSAT and NPS
// surveys with their reports. Every
// request is authenticated by a tenant API key and sees only that tenant's
// data, but those of the platform operator's billing routes under
// /api/v1/operator/, which take the operator token instead (billing.go).
// The OpenAPI 3 description is served at /api/openapi.json.
package api

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/notify"
	"conversa/notify/campaign"
	"conversa/notify/survey"
	"conversa/notify/webhook"
	"conversa/reports"
)

//go:embed openapi.json
var openAPI []byte

// Config configures the API.
type Config struct {
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes int64
	// MaxBotBodyBytes bounds the bodies of the routes that train and
	// evaluate bot definitions, instead of MaxBodyBytes; default 8 MiB.
	MaxBotBodyBytes int64
	// MaxTrainings is how many bot trainings and evaluations a node runs
	// at once; more wait. Default GOMAXPROCS.
	MaxTrainings int
	// RequestsPerMinute is how many requests one API key may make per
	// minute.
	RequestsPerMinute int
	// KeyCacheTTL is how long a verified key is trusted without reading the
	// store: a revoked key stops working within this time.
	KeyCacheTTL time.Duration
	// Heartbeat is the interval of keep-alive comments on the event stream.
	Heartbeat time.Duration
	Logger    *slog.Logger

	// Bots trains and activates bot versions, and BotStore reads them
	// (both or neither). Without them the bot routes answer 503.
	Bots     Bots
	BotStore BotStore

	// Cases files and moves support cases, and CaseStore reads them (both
	// or neither). Without them the case routes answer 503.
	Cases     Cases
	CaseStore CaseStore

	// Templates saves and reads message templates, and TemplateStore
	// lists and deletes them (both or neither). Without them the template
	// routes answer 503.
	Templates     Templates
	TemplateStore TemplateStore

	// Notifications schedules, reads and lists notifications and keeps
	// the tenants' notification policies. Without it the notification
	// routes answer 503.
	Notifications Notifications

	// Campaigns creates, steers and reports campaigns. Without it the
	// campaign routes answer 503.
	Campaigns Campaigns
	// MaxCSVBytes bounds a campaign's CSV upload; default 256 MiB.
	MaxCSVBytes int64
	// Webhooks keeps the tenants' webhook endpoints. Without it the
	// webhook routes answer 503.
	Webhooks Webhooks
	// Surveys sends CSAT and NPS surveys and reports them. Without it the
	// survey routes answer 503.
	Surveys Surveys
	// Analytics keeps the tenants' analytics export destinations. Without
	// it the analytics routes answer 503.
	Analytics Analytics

	// Channels validates channel accounts with the channel of their kind.
	// Without it the routes that create and change accounts answer 503.
	Channels AccountValidator
	// AccountSaved, when set, is called after an account is created or
	// changed, to tell its provider about it (a Telegram bot's webhook).
	// The account stays stored when it fails; the answer carries the
	// failure as a warning.
	AccountSaved func(ctx context.Context, a conversation.ChannelAccount) error

	// Media links the files of messages that are in the media store: the
	// messages the API returns carry a signed, expiring URL for each.
	Media MediaLinker
	// MediaLinkTTL is how long those URLs work (default 1 hour).
	MediaLinkTTL time.Duration

	// MaxUploadBytes bounds a file attached to a case (default 10 MiB):
	// the case service's limit, which cmd/conversa sets to the same.
	MaxUploadBytes int64
	// Routing manages agents, teams, queues and rules and acts on
	// assignments, and RoutingStore reads them (both or neither). Without
	// them those routes answer 503.
	Routing      Routing
	RoutingStore RoutingReader
	// Console keeps agents' passwords, notes and canned responses. Without
	// it (or RoutingStore) the note and canned response routes answer 503.
	Console ConsoleStore
	// ContactView builds the customer 360 view. Without it that route
	// answers 503.
	ContactView ContactViewer
	// Preferences reads and changes contacts' communication preferences.
	// Without it the preference routes answer 503.
	Preferences Preferences
	// Reports computes the report of a period. Without it GET /reports
	// answers 503.
	Reports Reports
	// Billing keeps plans, rates and statements: the tenant's statement
	// routes and the operator's routes (billing.go). Without it they
	// answer 503. OperatorTokenHash is the SHA-256 of the operator token;
	// without it no operator route authenticates.
	Billing           Billing
	OperatorTokenHash []byte
}

// MediaLinker makes expiring links to stored files (channels.MediaLinks).
type MediaLinker interface {
	URL(tenantID int64, m conversation.Media, ttl time.Duration) string
}

// Validate fills in defaults and checks the config.
func (c *Config) Validate() error {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 256 << 10
	}
	if c.MaxBotBodyBytes <= 0 {
		c.MaxBotBodyBytes = 8 << 20
	}
	if c.MaxTrainings <= 0 {
		c.MaxTrainings = runtime.GOMAXPROCS(0)
	}
	if c.RequestsPerMinute <= 0 {
		c.RequestsPerMinute = 6000
	}
	if c.KeyCacheTTL <= 0 {
		c.KeyCacheTTL = 30 * time.Second
	}
	if c.MaxCSVBytes <= 0 {
		c.MaxCSVBytes = 256 << 20
	}
	if c.MediaLinkTTL <= 0 {
		c.MediaLinkTTL = time.Hour
	}
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = handoff.DefaultMaxAttachment
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if (c.Bots == nil) != (c.BotStore == nil) {
		return errors.New("api: set both Bots and BotStore, or neither")
	}
	if (c.Cases == nil) != (c.CaseStore == nil) {
		return errors.New("api: set both Cases and CaseStore, or neither")
	}
	if (c.Routing == nil) != (c.RoutingStore == nil) {
		return errors.New("api: set both Routing and RoutingStore, or neither")
	}
	if (c.Templates == nil) != (c.TemplateStore == nil) {
		return errors.New("api: set both Templates and TemplateStore, or neither")
	}
	return nil
}

// Service is what the API needs of the conversation service.
type Service interface {
	Ingest(ctx context.Context, in conversation.Inbound) (conversation.IngestResult, error)
	AccountByID(ctx context.Context, tenantID, id int64) (conversation.ChannelAccount, error)
	Send(ctx context.Context, outs ...conversation.Outbound) ([]conversation.SendResult, error)
	Assign(ctx context.Context, tenantID, conversationID, agentID int64) (conversation.Conversation, error)
	Queue(ctx context.Context, tenantID, conversationID int64) (conversation.Conversation, error)
	ReturnToBot(ctx context.Context, tenantID, conversationID int64) (conversation.Conversation, error)
	Close(ctx context.Context, tenantID, conversationID int64) (conversation.Conversation, error)
	Reopen(ctx context.Context, tenantID, conversationID int64) (conversation.Conversation, error)
	Typing(ctx context.Context, tenantID, conversationID int64, author conversation.Author, on bool) error
	// RecordConsent validates c and appends it to the consent ledger.
	// Returns EINVALID naming a bad field, ENOTFOUND unless c.AccountID
	// belongs to c.TenantID.
	RecordConsent(ctx context.Context, c conversation.ConsentChange) (conversation.ConsentChange, error)
}

// Store is what the API reads of the store.
type Store interface {
	APIKey(ctx context.Context, id string) (conversation.APIKey, error)
	Tenant(ctx context.Context, id int64) (conversation.Tenant, error)
	ChannelAccount(ctx context.Context, tenantID, id int64) (conversation.ChannelAccount, error)
	ListChannelAccounts(ctx context.Context, tenantID int64) ([]conversation.ChannelAccount, error)
	// CreateChannelAccount returns ECONFLICT if another account, of any
	// tenant, has the same kind and key.
	CreateChannelAccount(ctx context.Context, a conversation.ChannelAccount) (conversation.ChannelAccount, error)
	// UpdateChannelAccount stores the name, settings and disabled flag of
	// a. Returns ENOTFOUND unless a.ID belongs to a.TenantID.
	UpdateChannelAccount(ctx context.Context, a conversation.ChannelAccount) (conversation.ChannelAccount, error)
	// ListConsent returns the tenant's consent changes that match f,
	// newest first.
	ListConsent(ctx context.Context, tenantID int64, f conversation.ConsentFilter) ([]conversation.ConsentChange, error)
	Contact(ctx context.Context, tenantID, id int64) (conversation.Contact, error)
	ListContacts(ctx context.Context, tenantID int64, f conversation.ContactFilter) ([]conversation.Contact, error)
	UpdateContact(ctx context.Context, tenantID, id int64, u conversation.ContactUpdate) (conversation.Contact, error)
	Conversation(ctx context.Context, tenantID, id int64) (conversation.Conversation, error)
	ListConversations(ctx context.Context, tenantID int64, f conversation.ConversationFilter) ([]conversation.Conversation, error)
	Message(ctx context.Context, tenantID, id int64) (conversation.Message, error)
	ListMessages(ctx context.Context, tenantID int64, f conversation.MessageFilter) ([]conversation.Message, error)
	SearchMessages(ctx context.Context, tenantID int64, f conversation.SearchFilter) ([]conversation.Message, error)
}

// API serves the REST API.
type API struct {
	cfg     Config
	svc     Service
	store   Store
	bus     conversation.Bus
	limiter conversation.Limiter
	logger  *slog.Logger

	keysMu sync.Mutex
	keys   map[string]cachedKey // by the whole presented key

	stopOnce sync.Once
	stopping chan struct{} // closed when the server stops: ends event streams

	trainings chan struct{} // a slot per running bot training
}

type cachedKey struct {
	key     conversation.APIKey
	expires time.Time
}

// New returns the API.
func New(cfg Config, svc Service, store Store, bus conversation.Bus, limiter conversation.Limiter) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &API{cfg: cfg, svc: svc, store: store, bus: bus, limiter: limiter, logger: cfg.Logger.With("component", "api"), keys: map[string]cachedKey{}, stopping: make(chan struct{}),
		trainings: make(chan struct{}, cfg.MaxTrainings)}, nil
}

// route is one endpoint. Every route but the description needs a key.
type route struct {
	method, path string
	handle       func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error
}

// tenant is the caller, as its API key names it.
type tenant struct {
	ID  int64
	Key string // the key's public id
}

var routes = []route{
	{"GET", "/api/v1/channels", (*API).listChannels},
	{"POST", "/api/v1/channels", withChannels((*API).createChannel)},
	{"GET", "/api/v1/channels/{id}", (*API).getChannel},
	{"PATCH", "/api/v1/channels/{id}", withChannels((*API).updateChannel)},
	{"GET", "/api/v1/contacts", (*API).listContacts},
	{"GET", "/api/v1/contacts/{id}", getByID(Store.Contact)},
	{"PATCH", "/api/v1/contacts/{id}", (*API).updateContact},
	{"GET", "/api/v1/contacts/{id}/consent", (*API).listConsent},
	{"POST", "/api/v1/contacts/{id}/consent", (*API).recordConsent},
	{"GET", "/api/v1/conversations", (*API).listConversations},
	{"GET", "/api/v1/conversations/{id}", getByID(Store.Conversation)},
	{"GET", "/api/v1/conversations/{id}/messages", (*API).listMessages},
	{"POST", "/api/v1/conversations/{id}/messages", (*API).sendMessage},
	{"POST", "/api/v1/conversations/{id}/assign", (*API).assign},
	{"POST", "/api/v1/conversations/{id}/queue", transition(Service.Queue)},
	{"POST", "/api/v1/conversations/{id}/bot", transition(Service.ReturnToBot)},
	{"POST", "/api/v1/conversations/{id}/close", transition(Service.Close)},
	{"POST", "/api/v1/conversations/{id}/reopen", transition(Service.Reopen)},
	{"POST", "/api/v1/conversations/{id}/typing", (*API).typing},
	{"GET", "/api/v1/messages/search", (*API).searchMessages},
	{"GET", "/api/v1/messages/{id}", readByID((*API).message)},
	{"POST", "/api/v1/inbound", (*API).inbound},
	{"GET", "/api/v1/events", (*API).events},
	{"GET", "/api/v1/bot/versions", withBots((*API).listBotVersions)},
	{"POST", "/api/v1/bot/versions", withBots((*API).trainBot)},
	{"GET", "/api/v1/bot/versions/{number}", withBots((*API).getBotVersion)},
	{"POST", "/api/v1/bot/versions/{number}/activate", withBots((*API).activateBotVersion)},
	{"POST", "/api/v1/bot/rollback", withBots((*API).rollbackBot)},
	{"POST", "/api/v1/bot/eval", withBots((*API).evalBot)},
	{"GET", "/api/v1/cases", withCases((*API).listCases)},
	{"POST", "/api/v1/cases", withCases((*API).createCase)},
	{"GET", "/api/v1/cases/export.csv", withCases((*API).exportCases)},
	{"GET", "/api/v1/cases/{id}", withCases(readByID(func(a *API, ctx context.Context, tenantID, id int64) (handoff.Case, error) {
		return a.cfg.CaseStore.Case(ctx, tenantID, id)
	}))},
	{"GET", "/api/v1/cases/{id}/history", withCases((*API).caseHistory)},
	{"POST", "/api/v1/cases/{id}/transition", withCases((*API).transitionCase)},
	{"POST", "/api/v1/cases/{id}/extend", withCases((*API).extendCase)},
	{"POST", "/api/v1/cases/{id}/assign", withCases((*API).assignCase)},
	{"GET", "/api/v1/cases/{id}/notes", withCases((*API).caseNotes)},
	{"POST", "/api/v1/cases/{id}/notes", withCases((*API).addCaseNote)},
	{"POST", "/api/v1/cases/{id}/pause", withCases((*API).pauseCase)},
	{"POST", "/api/v1/cases/{id}/resume", withCases((*API).resumeCase)},
	{"GET", "/api/v1/cases/{id}/attachments", withCases((*API).caseAttachments)},
	{"POST", "/api/v1/cases/{id}/attachments", withCases((*API).uploadCaseAttachment)},
	{"GET", "/api/v1/case-policy", withCases((*API).getCasePolicy)},
	{"PUT", "/api/v1/case-policy", withCases((*API).putCasePolicy)},
	{"GET", "/api/v1/templates", withTemplates((*API).listTemplates)},
	{"GET", "/api/v1/templates/{purpose}", withTemplates((*API).getTemplate)},
	{"PUT", "/api/v1/templates/{purpose}", withTemplates((*API).saveTemplate)},
	{"DELETE", "/api/v1/templates/{purpose}", withTemplates((*API).deleteTemplate)},
	{"GET", "/api/v1/templates/{purpose}/versions", withTemplates((*API).listTemplateVersions)},
	{"GET", "/api/v1/templates/{purpose}/versions/{number}", withTemplates((*API).getTemplateVersion)},
	{"POST", "/api/v1/templates/{purpose}/preview", withTemplates((*API).previewTemplate)},
	{"GET", "/api/v1/notifications", withNotifications((*API).listNotifications)},
	{"POST", "/api/v1/notifications", withNotifications((*API).createNotification)},
	{"GET", "/api/v1/notifications/{id}", withNotifications(readByID(func(a *API, ctx context.Context, tenantID, id int64) (notify.Notification, error) {
		return a.cfg.Notifications.Get(ctx, tenantID, id)
	}))},
	{"GET", "/api/v1/notification-policy", withNotifications((*API).getNotificationPolicy)},
	{"PUT", "/api/v1/notification-policy", withNotifications((*API).putNotificationPolicy)},
	// Human handoff: agents, teams, queues, rules, assignments, notes,
	// canned responses and the customer 360 view (handoff.go).
	{"GET", "/api/v1/agents", withRouting((*API).listAgents)},
	{"POST", "/api/v1/agents", withRouting((*API).createAgent)},
	{"GET", "/api/v1/agents/{id}", withRouting(readByID((*API).getAgent))},
	{"PATCH", "/api/v1/agents/{id}", withRouting((*API).updateAgent)},
	{"POST", "/api/v1/agents/{id}/status", withRouting((*API).setAgentStatus)},
	{"GET", "/api/v1/teams", withRouting((*API).listTeams)},
	{"POST", "/api/v1/teams", withRouting((*API).createTeam)},
	{"GET", "/api/v1/queues", withRouting((*API).listQueues)},
	{"POST", "/api/v1/queues", withRouting((*API).createQueue)},
	{"GET", "/api/v1/queues/stats", withRouting((*API).queueStats)},
	{"GET", "/api/v1/queues/{id}", withRouting(readByID((*API).getQueue))},
	{"PATCH", "/api/v1/queues/{id}", withRouting((*API).updateQueue)},
	{"GET", "/api/v1/routing-rules", withRouting((*API).getRules)},
	{"PUT", "/api/v1/routing-rules", withRouting((*API).putRules)},
	{"GET", "/api/v1/assignments", withRouting((*API).listAssignments)},
	{"GET", "/api/v1/conversations/{id}/assignment", withRouting(readByID((*API).getAssignment))},
	{"POST", "/api/v1/conversations/{id}/assignment", withRouting(enqueueAction)},
	{"POST", "/api/v1/conversations/{id}/assignment/accept", withRouting(acceptAction)},
	{"POST", "/api/v1/conversations/{id}/assignment/pick", withRouting(pickAction)},
	{"POST", "/api/v1/conversations/{id}/assignment/transfer", withRouting(transferAction)},
	{"POST", "/api/v1/conversations/{id}/assignment/close", withRouting(closeAction)},
	{"GET", "/api/v1/conversations/{id}/notes", withConsole((*API).listNotes)},
	{"POST", "/api/v1/conversations/{id}/notes", withConsole((*API).createNote)},
	{"GET", "/api/v1/canned-responses", withConsole((*API).listCanned)},
	{"POST", "/api/v1/canned-responses", withConsole((*API).createCanned)},
	{"GET", "/api/v1/canned-responses/{id}", withConsole(readByID((*API).getCanned))},
	{"PUT", "/api/v1/canned-responses/{id}", withConsole((*API).updateCanned)},
	{"DELETE", "/api/v1/canned-responses/{id}", withConsole((*API).deleteCanned)},
	{"POST", "/api/v1/canned-responses/{id}/render", withConsole((*API).renderCanned)},
	{"GET", "/api/v1/contacts/{id}/view", withContactView((*API).contactView)},
	{"GET", "/api/v1/contacts/{id}/messages", (*API).contactMessages},
	{"GET", "/api/v1/campaigns", withCampaigns((*API).listCampaigns)},
	{"POST", "/api/v1/campaigns", withCampaigns((*API).createCampaign)},
	{"GET", "/api/v1/campaigns/{id}", withCampaigns(readByID(func(a *API, ctx context.Context, tenantID, id int64) (campaign.Campaign, error) {
		return a.cfg.Campaigns.Get(ctx, tenantID, id)
	}))},
	{"POST", "/api/v1/campaigns/{id}/pause", moveCampaign(Campaigns.Pause)},
	{"POST", "/api/v1/campaigns/{id}/resume", moveCampaign(Campaigns.Resume)},
	{"POST", "/api/v1/campaigns/{id}/cancel", moveCampaign(Campaigns.Cancel)},
	{"GET", "/api/v1/campaigns/{id}/report", withCampaigns(readByID(func(a *API, ctx context.Context, tenantID, id int64) (campaign.Report, error) {
		return a.cfg.Campaigns.Report(ctx, tenantID, id)
	}))},
	{"GET", "/api/v1/campaigns/{id}/recipients", withCampaigns((*API).listRecipients)},
	{"GET", "/api/v1/webhooks", withWebhooks((*API).listWebhooks)},
	{"POST", "/api/v1/webhooks", withWebhooks((*API).createWebhook)},
	{"GET", "/api/v1/webhooks/{id}", withWebhooks(readByID(func(a *API, ctx context.Context, tenantID, id int64) (webhook.Endpoint, error) {
		return a.cfg.Webhooks.Get(ctx, tenantID, id)
	}))},
	{"PATCH", "/api/v1/webhooks/{id}", withWebhooks((*API).updateWebhook)},
	{"DELETE", "/api/v1/webhooks/{id}", withWebhooks((*API).deleteWebhook)},
	{"GET", "/api/v1/surveys", withSurveys((*API).listSurveys)},
	{"POST", "/api/v1/surveys", withSurveys((*API).createSurvey)},
	{"GET", "/api/v1/surveys/report", withSurveys((*API).surveyReport)},
	{"GET", "/api/v1/reports", withReports((*API).report)},
	{"GET", "/api/v1/reports.csv", withReports((*API).reportCSV)},
	{"GET", "/api/v1/reports/live", withReports((*API).live)},
	{"GET", "/api/v1/surveys/{id}", withSurveys(readByID(func(a *API, ctx context.Context, tenantID, id int64) (survey.Survey, error) {
		return a.cfg.Surveys.Get(ctx, tenantID, id)
	}))},
	{"POST", "/api/v1/webhooks/{id}/rotate-secret", withWebhooks(readByID(func(a *API, ctx context.Context, tenantID, id int64) (webhook.Endpoint, error) {
		return a.cfg.Webhooks.RotateSecret(ctx, tenantID, id)
	}))},
	{"GET", "/api/v1/contacts/{id}/preferences", withPreferences((*API).getPreferences)},
	{"PUT", "/api/v1/contacts/{id}/preferences", withPreferences((*API).putPreferences)},
	{"GET", "/api/v1/analytics/destinations", withAnalytics((*API).listDestinations)},
	{"POST", "/api/v1/analytics/destinations", withAnalytics((*API).createDestination)},
	{"GET", "/api/v1/analytics/destinations/{id}", withAnalytics(readByID(func(a *API, ctx context.Context, tenantID, id int64) (reports.Destination, error) {
		return a.cfg.Analytics.Get(ctx, tenantID, id)
	}))},
	{"PATCH", "/api/v1/analytics/destinations/{id}", withAnalytics((*API).updateDestination)},
	{"DELETE", "/api/v1/analytics/destinations/{id}", withAnalytics((*API).deleteDestination)},
	{"POST", "/api/v1/analytics/destinations/{id}/rotate-secret", withAnalytics((*API).rotateDestinationSecret)},
	{"GET", "/api/v1/billing/statements", withBilling((*API).listStatements)},
	{"GET", "/api/v1/billing/statements/{month}", withBilling((*API).getStatement)},
}

// Routes registers the API's handlers on mux.
func (a *API) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	for _, rt := range routes {
		mux.HandleFunc(rt.method+" "+rt.path, a.authenticated(rt.handle))
	}
	a.billingRoutes(mux)
	// Anything else under /api/ is a JSON 404, not the web UI's.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		a.writeError(w, r, conversation.Errorf(conversation.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
}

// authenticated checks the API key and the key's rate limit, then runs h.
func (a *API) authenticated(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := a.authenticate(r)
		if err != nil {
			if conversation.ErrorCode(err) == conversation.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="conversa"`)
			}
			a.writeError(w, r, err)
			return
		}
		ok, retry, err := a.limiter.Allow(r.Context(), "api:"+t.Key, a.cfg.RequestsPerMinute, time.Minute)
		if err != nil {
			a.logger.WarnContext(r.Context(), "rate limiter unavailable", "err", err)
		} else if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(retry.Seconds())+1))
			a.writeError(w, r, conversation.Errorf(conversation.ERATELIMIT, "more than %d requests per minute with this key", a.cfg.RequestsPerMinute))
			return
		}
		if err := h(a, w, r, t); err != nil {
			a.writeError(w, r, err)
		}
	}
}

func (a *API) authenticate(r *http.Request) (tenant, error) {
	// The scheme is case-insensitive (RFC 9110, section 11.1).
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return tenant{}, conversation.Errorf(conversation.EUNAUTHORIZED, "send the API key as Authorization: Bearer <key>")
	}
	raw = strings.TrimLeft(raw, " ")
	now := time.Now()
	a.keysMu.Lock()
	c, hit := a.keys[raw]
	a.keysMu.Unlock()
	if hit && now.Before(c.expires) {
		return tenant{ID: c.key.TenantID, Key: c.key.ID}, nil
	}
	bad := conversation.Errorf(conversation.EUNAUTHORIZED, "invalid or revoked API key")
	id, secret, ok := parseKey(raw)
	if !ok {
		return tenant{}, bad
	}
	k, err := a.store.APIKey(r.Context(), id)
	if conversation.IsNotFound(err) {
		return tenant{}, bad
	}
	if err != nil {
		return tenant{}, err
	}
	if !keyMatches(k, secret) || !k.RevokedAt.IsZero() {
		return tenant{}, bad
	}
	a.keysMu.Lock()
	if len(a.keys) > 10000 {
		clear(a.keys)
	}
	a.keys[raw] = cachedKey{key: k, expires: now.Add(a.cfg.KeyCacheTTL)}
	a.keysMu.Unlock()
	return tenant{ID: k.TenantID, Key: k.ID}, nil
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Problems are those of a bad bot or template definition.
	Problems []problem `json:"problems,omitempty"`
}

var statusOf = map[string]int{
	conversation.EINVALID:      http.StatusBadRequest,
	conversation.ENOTFOUND:     http.StatusNotFound,
	conversation.ECONFLICT:     http.StatusConflict,
	conversation.EUNAUTHORIZED: http.StatusUnauthorized,
	conversation.EFORBIDDEN:    http.StatusForbidden,
	conversation.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	conversation.ERATELIMIT:    http.StatusTooManyRequests,
	conversation.EUNAVAILABLE:  http.StatusServiceUnavailable,
	conversation.EINTERNAL:     http.StatusInternalServerError,
}

// statusError answers err with status instead of its code's.
type statusError struct {
	status int
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// writeError answers with err's code as status (or a statusError's) and its
// safe message.
// Internal errors are logged with their detail; clients see only "internal
// error". Rejected input is logged too, at info level.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := conversation.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if se, ok := errors.AsType[*statusError](err); ok && code != conversation.EINTERNAL {
		status = se.status
	}
	if status >= 500 {
		a.logger.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	} else {
		a.logger.InfoContext(r.Context(), "request rejected", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: conversation.ErrorMessage(err), Field: conversation.ErrorField(err), Problems: problemsOf(err)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// readBody reads a JSON request body within the size limit.
func (a *API) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return nil, conversation.Errorf(conversation.EINVALID, "the body must be application/json, not %s", ct)
	}
	return a.readLimited(w, r, a.cfg.MaxBodyBytes)
}

// readLimited reads a request body of at most limit bytes.
func (a *API) readLimited(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &conversation.Error{Code: conversation.ETOOLARGE, Message: fmt.Sprintf("the request body is larger than the limit of %d bytes", limit)}
		}
		return nil, conversation.Errorf(conversation.EINVALID, "read the request body: %v", err)
	}
	return body, nil
}

// decodeJSON parses one JSON value into dst, strictly: unknown fields,
// trailing data and invalid UTF-8 are errors that name the problem.
func decodeJSON(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return conversation.Errorf(conversation.EINVALID, "the request body is empty")
	}
	if !utf8.Valid(body) {
		return conversation.Errorf(conversation.EINVALID, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			if te.Field == "" {
				// Not the name of a Go type: the body itself is wrong.
				return conversation.Errorf(conversation.EINVALID, "the request body must be a JSON object, not %s", te.Value)
			}
			return conversation.FieldError(te.Field, "must be %s, not %s", te.Type, te.Value)
		}
		if se, ok := errors.AsType[*json.SyntaxError](err); ok {
			return conversation.Errorf(conversation.EINVALID, "malformed JSON at byte %d: %v", se.Offset, se)
		}
		if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return conversation.FieldError(strings.Trim(field, `"`), "unknown field")
		}
		return conversation.Errorf(conversation.EINVALID, "malformed JSON: %v", err)
	}
	// dec.More misses a stray "}" or "]": look at what is left instead.
	if len(bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n")) > 0 {
		return conversation.Errorf(conversation.EINVALID, "malformed JSON: data after the object")
	}
	return nil
}

// Package console is the agents' and administrators' web console: the
// inbox of offers, assigned and waiting conversations, the conversation
// with the contact's whole history, the supervisor's live view and the
// admin pages. Pages are server-rendered html/template with small
// hand-written JavaScript and CSS, embedded in the binary, under a strict
// Content-Security-Policy; live updates reach the browser over a WebSocket
// fed by the shared Bus, so a console on one node sees what happens on
// every node. Every route has an access rule in one table, and a route
// without one does not exist (deny by default).
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the console.
type Config struct {
	// PublicURL is the server's public URL: https makes the session cookie
	// Secure and __Host- prefixed.
	PublicURL string
	// SessionTTL is how long a login lasts; default 12 hours.
	SessionTTL time.Duration
	// SessionSweep is how often Run deletes expired sessions from the
	// store (they are refused anyway); default 1 hour.
	SessionSweep time.Duration
	// LoginsPerIP and LoginsPerEmail bound login attempts per 15 minutes;
	// defaults 30 and 10.
	LoginsPerIP, LoginsPerEmail int
	// TouchInterval is how often an open console tells the router the
	// agent is there; default 20 s (below the router's presence TTL).
	TouchInterval time.Duration
	// FramesPerSecond and FrameBurst bound what a browser may send on its
	// socket; a flood closes it with a policy violation. Defaults 10, 30.
	FramesPerSecond float64
	FrameBurst      int
	// WriteQueue is how many frames may wait for a slow browser before its
	// socket closes; default 256.
	WriteQueue int
	Logger     *slog.Logger
}

func (c *Config) defaults() {
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.SessionSweep <= 0 {
		c.SessionSweep = time.Hour
	}
	if c.LoginsPerIP <= 0 {
		c.LoginsPerIP = 30
	}
	if c.LoginsPerEmail <= 0 {
		c.LoginsPerEmail = 10
	}
	if c.TouchInterval <= 0 {
		c.TouchInterval = 20 * time.Second
	}
	if c.FramesPerSecond <= 0 {
		c.FramesPerSecond = 10
	}
	if c.FrameBurst <= 0 {
		c.FrameBurst = 30
	}
	if c.WriteQueue <= 0 {
		c.WriteQueue = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Deps are what the console works with.
type Deps struct {
	// Console keeps agents' passwords and sessions, private notes and
	// canned responses.
	Console handoff.ConsoleStore
	// Service sends agents' replies and typing indicators.
	Service *conversation.Service
	// Store reads conversations, contacts and messages.
	Store conversation.Store
	// Router routes, and Routing reads, agents' work.
	Router  *handoff.Router
	Routing handoff.RoutingStore
	Bus     conversation.Bus
	Limiter conversation.Limiter
	// Views builds the customer 360 view of the conversation page.
	Views *handoff.Views
	// Reports computes the dashboard's live view and the reports.
	Reports Reports
	// Billing, when set, shows admins the tenant's monthly statements.
	Billing Billing
}

// Console serves the console's pages, actions and socket.
type Console struct {
	cfg    Config
	deps   Deps
	pages  map[string]*template.Template
	secure bool
	log    *slog.Logger
	stop   context.Context
	cancel context.CancelFunc
	acct   accounts
}

// New returns a console.
func New(cfg Config, deps Deps) (*Console, error) {
	cfg.defaults()
	if deps.Console == nil || deps.Service == nil || deps.Store == nil || deps.Router == nil || deps.Routing == nil || deps.Bus == nil || deps.Limiter == nil || deps.Views == nil || deps.Reports == nil {
		return nil, errors.New("console: every dependency is required")
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	stop, cancel := context.WithCancel(context.Background())
	return &Console{cfg: cfg, deps: deps, pages: pages, secure: strings.HasPrefix(cfg.PublicURL, "https://"),
		log: cfg.Logger.With("component", "console"), stop: stop, cancel: cancel,
		acct: accounts{store: deps.Console, now: time.Now}}, nil
}

// Run deletes expired sessions every SessionSweep until ctx ends, then
// closes every console socket: browsers reconnect, to another node if this
// one stops. Every node sweeps; a sweep that finds nothing costs one
// indexed statement.
func (c *Console) Run(ctx context.Context) error {
	defer c.cancel()
	t := time.NewTicker(c.cfg.SessionSweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			n, err := c.deps.Console.DeleteExpiredAgentSessions(ctx, time.Now())
			switch {
			case err != nil && ctx.Err() == nil:
				c.log.Warn("delete expired console sessions", "err", err)
			case n > 0:
				c.log.Info("deleted expired console sessions", "count", n)
			}
		}
	}
}

// Routes adds the console's routes, each behind its access rule, to mux.
func (c *Console) Routes(mux *http.ServeMux) {
	for _, rt := range c.routes() {
		mux.Handle(rt.Method+" "+rt.Path, secureHeaders(c.guard(rt)))
	}
}

var staticFiles = func() http.Handler {
	static, _ := fs.Sub(staticFS, "static")
	return http.StripPrefix("/console/static/", http.FileServerFS(static))
}()

// static serves the console's script and style sheet.
func (c *Console) static(w http.ResponseWriter, r *http.Request, rq *request) error {
	staticFiles.ServeHTTP(w, r)
	return nil
}

func (c *Console) home(w http.ResponseWriter, r *http.Request, rq *request) error {
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
	return nil
}

// Access is who may use a route.
type Access int

// Access rules, each including the ones after it: an admin may do what a
// supervisor may, a supervisor what an agent may.
const (
	Public Access = iota
	AnyAgent
	SupervisorOnly
	AdminOnly
)

func (a Access) String() string {
	return [...]string{"public", "agent", "supervisor", "admin"}[a]
}

// allows reports whether an agent of role may use a route of a.
func (a Access) allows(role handoff.Role) bool {
	switch a {
	case Public, AnyAgent:
		return true
	case SupervisorOnly:
		return role.Supervises()
	case AdminOnly:
		return role == handoff.RoleAdmin
	}
	return false
}

// Route is one console route and who may use it.
type Route struct {
	Method, Path string
	Access       Access
	handle       func(w http.ResponseWriter, r *http.Request, rq *request) error
}

// RouteTable returns every route of the console with its access rule.
func (c *Console) RouteTable() []Route { return c.routes() }

func (c *Console) routes() []Route {
	return []Route{
		{"GET", "/console", Public, c.home},
		{"GET", "/console/static/", Public, c.static},
		{"GET", "/console/login", Public, c.loginPage},
		{"POST", "/console/login", Public, c.login},
		{"POST", "/console/logout", AnyAgent, c.logout},
		{"POST", "/console/language", AnyAgent, c.setLanguage},
		{"GET", "/console/{$}", AnyAgent, c.inbox},
		{"POST", "/console/status", AnyAgent, c.setStatus},
		{"GET", "/console/ws", AnyAgent, c.socket},
		{"GET", "/console/conversations/{id}", AnyAgent, c.conversationPage},
		{"POST", "/console/conversations/{id}/reply", AnyAgent, c.reply},
		{"POST", "/console/conversations/{id}/accept", AnyAgent, c.accept},
		{"POST", "/console/conversations/{id}/pick", AnyAgent, c.pick},
		{"POST", "/console/conversations/{id}/transfer", AnyAgent, c.transfer},
		{"POST", "/console/conversations/{id}/close", AnyAgent, c.closeConversation},
		{"POST", "/console/conversations/{id}/notes", AnyAgent, c.addNote},
		{"GET", "/console/supervisor", SupervisorOnly, c.supervisor},
		{"GET", "/console/dashboard", SupervisorOnly, c.dashboard},
		{"GET", "/console/dashboard.json", SupervisorOnly, c.dashboardJSON},
		{"GET", "/console/reports", SupervisorOnly, c.reportsPage},
		{"GET", "/console/reports.csv", SupervisorOnly, c.reportsCSV},
		{"GET", "/console/admin/agents", AdminOnly, c.adminAgents},
		{"POST", "/console/admin/agents", AdminOnly, c.createAgent},
		{"POST", "/console/admin/agents/{id}", AdminOnly, c.updateAgent},
		{"POST", "/console/admin/teams", AdminOnly, c.createTeam},
		{"GET", "/console/admin/queues", AdminOnly, c.adminQueues},
		{"POST", "/console/admin/queues", AdminOnly, c.createQueue},
		{"GET", "/console/admin/canned", AdminOnly, c.adminCanned},
		{"POST", "/console/admin/canned", AdminOnly, c.createCanned},
		{"POST", "/console/admin/canned/{id}/delete", AdminOnly, c.deleteCanned},
		{"GET", "/console/billing", AdminOnly, c.billingPage},
		{"GET", "/console/billing/export", AdminOnly, c.billingExport},
	}
}

// csp is the Content-Security-Policy of every console response: only the
// console's own scripts, styles and socket; no framing, no plugins, no
// inline code.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/console/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

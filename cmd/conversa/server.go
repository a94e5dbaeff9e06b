package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"conversa/adapters/analytics"
	"conversa/adapters/api"
	"conversa/adapters/console"
	"conversa/billing"
	"conversa/bot"
	"conversa/channels"
	"conversa/channels/apichannel"
	"conversa/channels/email"
	"conversa/channels/telegram"
	"conversa/channels/twilio"
	"conversa/channels/webchat"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/notify"
	"conversa/notify/campaign"
	"conversa/notify/prefs"
	"conversa/notify/survey"
	"conversa/notify/webhook"
	"conversa/reports"
	"conversa/storage/media"
	"conversa/storage/memory"
	"conversa/storage/postgres"
	"conversa/storage/sqlite"
	"conversa/storage/valkey"
	"conversa/templates"
)

// sharedState is what a node shares with the others: storage/valkey across
// nodes, storage/memory alone.
type sharedState interface {
	conversation.Bus
	conversation.Deduper
	conversation.Limiter
	conversation.Locker
	Ping(ctx context.Context) error
}

// durableStore is the durable store: conversations and trained bots.
type durableStore interface {
	conversation.Store
	bot.Store
	handoff.CaseStore
	handoff.RoutingStore
	handoff.SurveyStore
	handoff.ConsoleStore
	handoff.ViewStore
	templates.Store
	notify.Store
	notify.StaffStore
	campaign.Store
	webhook.Store
	survey.Store
	handoff.CasePolicyStore
	reports.Store
	reports.DestinationStore
	billing.Store
}

var (
	_ durableStore = (*sqlite.Store)(nil)
	_ durableStore = (*postgres.Store)(nil)
)

// Server is one conversa node: the HTTP server, the job worker and the
// channels, on one store and one shared state.
type Server struct {
	cfg       Config
	logger    *slog.Logger
	store     durableStore
	shared    sharedState
	runValkey func(context.Context) error // nil without Valkey
	closers   []func()

	svc       *conversation.Service
	bots      *bot.Engine
	worker    *conversation.Worker
	channels  *channels.Registry
	media     *channels.MediaLinks
	templates *templates.Service
	notifier  *notify.Service
	campaigns *campaign.Service
	webhooks  *webhook.Service
	// analytics exports the report pipeline's events to the tenants'
	// Segment-compatible APIs and webhooks.
	analytics *analytics.Service
	router    *handoff.Router
	// surveys sends CSAT and NPS surveys and takes their answers.
	surveys *survey.Service
	// pipeline keeps the report aggregates up to date; reports reads them.
	pipeline *reports.Pipeline
	reports  *reports.Service
	// billing bills the tenants: plans, rates, monthly statements.
	billing *billing.Service
	// publicURLs tell channels the public URL once the port is bound.
	publicURLs []func(string)
	api        *api.API
	console    *console.Console
	registry   *prometheus.Registry
	handler    http.Handler

	listener net.Listener
}

// openStore opens the store the configuration names. The embedded store
// migrates itself; PostgreSQL must be migrated with "conversa migrate"
// unless migrate is set.
func openStore(ctx context.Context, cfg Config, migrate bool) (durableStore, error) {
	if cfg.usesPostgres() {
		if cfg.EncryptionKey == "" {
			return nil, errors.New("encryption_key is required with PostgreSQL: 64 hex digits, the same on every node (e.g. openssl rand -hex 32); it encrypts channel credentials at rest")
		}
		sealer, err := newSealer(cfg.EncryptionKey)
		if err != nil {
			return nil, err
		}
		s, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, Sealer: sealer})
		if err != nil {
			return nil, err
		}
		if migrate {
			if _, err := s.Migrate(ctx); err != nil {
				s.Close()
				return nil, err
			}
		}
		pending, err := s.Pending(ctx)
		if err != nil {
			s.Close()
			return nil, err
		}
		if len(pending) > 0 {
			s.Close()
			return nil, fmt.Errorf("the database lacks %d migrations (%s): run conversa migrate", len(pending), strings.Join(pending, ", "))
		}
		return checkSecrets(ctx, s, sealer)
	}
	path := strings.TrimPrefix(cfg.DatabaseURL, "sqlite:")
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	key := cfg.EncryptionKey
	if key == "" {
		var err error
		if key, err = keyFile(filepath.Join(filepath.Dir(path), "encryption.key")); err != nil {
			return nil, err
		}
	}
	sealer, err := newSealer(key)
	if err != nil {
		return nil, err
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path, Sealer: sealer})
	if err != nil {
		return nil, err
	}
	return checkSecrets(ctx, s, sealer)
}

// checkSecrets refuses a store whose secrets were sealed with another key
// (conversation.Sealer.CheckKey), and seals the webhook secrets and bot
// definitions stored in the clear before they were encrypted. It closes
// the store on failure.
func checkSecrets(ctx context.Context, s durableStore, sealer *conversation.Sealer) (durableStore, error) {
	if err := sealer.CheckKey(ctx, s); err != nil {
		s.Close()
		return nil, err
	}
	if _, err := s.SealEndpointSecrets(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("encrypt webhook secrets: %w", err)
	}
	if _, err := s.SealBotSources(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("encrypt bot definitions: %w", err)
	}
	return s, nil
}

func newSealer(hexKey string) (*conversation.Sealer, error) {
	b, err := hex.DecodeString(strings.TrimSpace(hexKey))
	if err != nil || len(b) != 32 {
		return nil, errors.New("encryption key: must be 64 hex digits")
	}
	return conversation.NewSealer(b)
}

// keyFile returns the encryption key kept in path, generating it on first
// use. It lives beside the embedded database but outside it, so that a copy
// of the database alone does not reveal channel credentials.
func keyFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return string(b), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("encryption key: %w", err)
	}
	k := make([]byte, 32)
	rand.Read(k)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return keyFile(path) // another process made it first
	}
	if err != nil {
		return "", fmt.Errorf("encryption key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(k) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("encryption key: %w", err)
	}
	return hex.EncodeToString(k), nil
}

// NewServer builds a node from the configuration. Run starts it.
func NewServer(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, logger: logger, registry: prometheus.NewRegistry()}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()

	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return nil, err
	}
	s.store = store
	s.closers = append(s.closers, func() { store.Close() })

	if cfg.ValkeyURL != "" {
		vc, err := valkey.Open(ctx, valkey.Config{URL: cfg.ValkeyURL, Prefix: cfg.ValkeyPrefix, Logger: logger})
		if err != nil {
			return nil, err
		}
		s.shared, s.runValkey = vc, vc.Run
		s.closers = append(s.closers, vc.Close)
	} else {
		s.shared = memory.New()
	}

	secret, err := s.secret(ctx)
	if err != nil {
		return nil, err
	}

	var files conversation.MediaStore
	if cfg.MediaURL != "" {
		s3cfg, err := media.ParseS3URL(cfg.MediaURL)
		if err != nil {
			return nil, fmt.Errorf("media_url: %w", err)
		}
		if files, err = media.OpenS3(ctx, s3cfg); err != nil {
			return nil, err
		}
	} else if files, err = media.Open(cfg.MediaDir); err != nil {
		return nil, err
	}
	s.media = &channels.MediaLinks{Secret: secret, BaseURL: cfg.PublicURL, Store: files, Logger: logger}

	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newJobsCollector(store, conversation.JobRoute, conversation.JobDeliver, handoff.JobCaseEscalation, handoff.JobOffer, notify.JobNotify, campaign.JobSend, webhook.JobDeliver, notify.JobStaffEmail,
		conversation.JobStatusChanged, campaign.JobPlan, notify.JobNotifyBatch, reports.JobExport, analytics.JobSend, billing.JobClose))
	s.worker, err = conversation.NewWorker(store, conversation.WorkerConfig{Concurrency: max(cfg.Workers, 1), DrainTimeout: cfg.ShutdownTimeout / 2}, logger)
	if err != nil {
		return nil, err
	}
	// The cases tell customers of their cases through the notification
	// service, built below.
	notices := &caseNotifier{}
	staff := &staffNotifier{}
	rules, err := caseRules(&cfg)
	if err != nil {
		return nil, err
	}
	cases := handoff.NewCases(store, handoff.CasesConfig{Jobs: store, Tenants: store, Contacts: store, Logger: logger.With("component", "cases"),
		Notifier: notices, Surveys: store, Messages: store,
		// Agents' work on cases: assignment, escalations told to their
		// people by email and on their consoles, attached files.
		Agents: store, Staff: staff, Bus: s.shared, Media: files, MaxAttachment: int64(cfg.CaseAttachmentMaxBytes), Rules: rules,
		// Each tenant's own case policy, over the rules above.
		Policies: store})
	// Contacts' communication preferences, from the API and any channel.
	preferences := prefs.New(store, prefs.Config{})
	actions := botActions(cases)
	actions["set_preference"] = preferenceAction(preferences)
	s.bots = bot.NewEngine(store, store, store, bot.Config{
		Actions: actions,
		Client:  bot.NewActionClient(cfg.AllowPrivateWebhooks),
		Logger:  logger.With("component", "bot"),
	})
	if s.webhooks, err = webhook.New(store, webhook.Config{AllowPrivate: cfg.AllowPrivateWebhooks,
		Logger: logger.With("component", "webhook"), JobsAdded: s.worker.Wake}); err != nil {
		return nil, err
	}
	s.worker.Handle(webhook.JobDeliver, s.webhooks.DeliverJob)
	// The report pipeline's export jobs fan out to one send job per
	// analytics destination (docs/analytics.md).
	if s.analytics, err = analytics.New(store, analytics.Config{AllowPrivate: cfg.AllowPrivateWebhooks,
		Logger: logger.With("component", "analytics"), JobsAdded: s.worker.Wake}); err != nil {
		return nil, err
	}
	s.worker.Handle(reports.JobExport, s.analytics.ExportJob)
	s.worker.Handle(analytics.JobSend, s.analytics.SendJob)
	var registry *channels.Registry
	s.svc, err = conversation.NewService(conversation.ServiceConfig{
		IngestBatch:       cfg.IngestBatch,
		IngestConcurrency: cfg.IngestConcurrency,
	}, conversation.Deps{
		Store: store,
		Bus:   s.shared,
		Bot:   s.bots,
		// The bot's create_case files a case and tells the customer its
		// filing number.
		Actions: map[string]conversation.ActionHandler{
			conversation.ActionCreateCase: cases,
			// The router queues what the bot hands off and offers it to
			// an agent; it is built next, with the service.
			conversation.ActionHandoff: routerHandler{&s.router},
		},
		// The answer to a survey, generic or a case's, is taken before
		// the bot sees it; the survey service (built below) leaves an
		// answer to a case's survey asked after its own to the cases.
		// A contact's request about their communication preferences
		// ("no quiero recibir encuestas") comes after those, before the bot.
		Interceptors: []conversation.Interceptor{surveyInterceptor{&s.surveys}, cases, preferences},
		// The registry holds channels that need the service: it is built
		// next, before anything is sent.
		Sender: senderFunc(func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
			return registry.Send(ctx, d)
		}),
		Dedup:     s.shared,
		Metrics:   newMetrics(s.registry),
		Logger:    logger,
		JobsAdded: s.wake,

		// Delivery results go to the tenant's webhook endpoints, through
		// the status_changed job the status change enqueues.
		StatusChanged: s.webhooks.MessageStatus,
	})
	if err != nil {
		return nil, err
	}
	s.reports = reports.NewService(store)
	s.pipeline = reports.NewPipeline(store, reports.PipelineConfig{Bus: s.shared, Logger: logger.With("component", "reports"), JobsAdded: s.worker.Wake})
	s.router = handoff.NewRouter(store, s.svc, store, handoff.RouterConfig{Bus: s.shared, Logger: logger.With("component", "router")})
	if registry, s.publicURLs, err = buildChannels(cfg, logger, secret, s.svc, store, s.shared, s.registry, s.media); err != nil {
		return nil, err
	}
	s.channels = registry
	s.worker.Handle(conversation.JobRoute, s.svc.RouteJob)
	s.worker.Handle(conversation.JobDeliver, s.svc.DeliverJob)
	s.worker.Handle(conversation.JobStatusChanged, s.svc.StatusChangedJob)
	s.worker.Handle(handoff.JobCaseEscalation, cases.EscalateJob)
	s.worker.Handle(handoff.JobOffer, s.router.OfferJob)
	s.templates = templates.NewService(store)
	// Notifications use the tenant's templates, else the built-in ones;
	// a case's survey gets its rating buttons where the channel shows them.
	if s.notifier, err = notify.New(store, notify.Deps{Conversations: store, Sender: surveySender{s.svc}, Templates: s.templates.Defaults()},
		notify.Config{Logger: logger.With("component", "notify"), JobsAdded: s.worker.Wake,
			Recorded: func(ctx context.Context, n notify.Notification) {
				if n.Status == notify.StatusUndeliverable {
					s.webhooks.Emit(ctx, n.TenantID, webhook.EventNotificationUndeliverable, fmt.Sprintf("notification:%d", n.ID), n)
				}
			}}); err != nil {
		return nil, err
	}
	notices.svc = s.notifier
	// The people of an escalation are emailed from the tenant's email
	// account: staff, not contacts. An email that fails is recorded in its
	// case's history.
	if staff.mail, err = notify.NewStaffMail(store, notify.StaffDeps{Accounts: store, Templates: s.templates.Defaults(), Mailer: letterMailer{registry}},
		notify.StaffConfig{Logger: logger.With("component", "staff_mail"), JobsAdded: s.worker.Wake,
			Recorded: func(ctx context.Context, m notify.StaffEmail) {
				if m.Status == notify.StatusSent {
					return
				}
				if err := cases.StaffNoticeFailed(ctx, m.TenantID, m.Key, m.Note); err != nil {
					logger.Error("record a failed staff email in its case", "tenant", m.TenantID, "staff_email", m.ID, "err", err)
				}
			}}); err != nil {
		return nil, err
	}
	s.worker.Handle(notify.JobStaffEmail, staff.mail.StaffJob)
	s.worker.Handle(notify.JobNotify, func(ctx context.Context, j conversation.Job) error {
		if err := s.notifier.NotifyJob(ctx, j); err != nil {
			return err
		}
		// The case learns what became of its notification: recorded when
		// undeliverable, followed by the survey after the answer.
		n, err := s.notifier.Get(ctx, j.TenantID, j.Ref)
		if err != nil {
			return err
		}
		if err := cases.NoticeDone(ctx, noticeOutcome(n)); err != nil {
			return err
		}
		// A survey learns where it went, and starts waiting for its answer.
		return s.surveys.NotificationDone(ctx, n)
	})
	if s.surveys, err = survey.New(store, s.notifier, store, survey.Config{Logger: logger.With("component", "survey"),
		Rival: caseSurveyAsked(store)}); err != nil {
		return nil, err
	}

	if s.campaigns, err = campaign.New(campaign.Deps{Store: store, Tenants: store, Notifier: s.notifier, Bus: s.shared},
		campaign.Config{Logger: logger.With("component", "campaign"), JobsAdded: s.worker.Wake,
			Progress: func(ctx context.Context, p campaign.Progress) {
				s.webhooks.Emit(ctx, p.TenantID, webhook.EventCampaignProgress,
					fmt.Sprintf("campaign:%d:%s:%d", p.Campaign, p.Status, p.Report.Queued), p)
			}}); err != nil {
		return nil, err
	}
	s.worker.Handle(campaign.JobSend, s.campaigns.SendJob)
	s.worker.Handle(campaign.JobPlan, s.campaigns.PlanJob)
	// Batches are campaigns' notifications, never a case's notice.
	s.worker.Handle(notify.JobNotifyBatch, func(ctx context.Context, j conversation.Job) error {
		if err := s.notifier.NotifyBatchJob(ctx, j); err != nil {
			return err
		}
		// A campaign's surveys learn where they went, as NotifyJob's do;
		// those rescheduled learn it from their own NotifyJob.
		ns, err := s.notifier.Batch(ctx, j)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if err := s.surveys.NotificationDone(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})

	if s.billing, err = newBilling(ctx, cfg, store, s.worker, logger); err != nil {
		return nil, err
	}
	s.api, err = api.New(api.Config{RequestsPerMinute: cfg.APIRequestsPerMinute, Logger: logger, Bots: s.bots, BotStore: store,
		Cases: cases, CaseStore: store, Templates: s.templates, TemplateStore: store, Media: s.media, MaxUploadBytes: int64(cfg.CaseAttachmentMaxBytes),
		Channels: s.channels, Notifications: s.notifier, Campaigns: s.campaigns, Webhooks: s.webhooks, Surveys: s.surveys, Analytics: s.analytics,
		Routing: s.router, RoutingStore: store, Console: store, ContactView: handoff.NewViews(store), Preferences: preferences, Reports: s.reports,
		Billing: s.billing, OperatorTokenHash: cfg.operatorTokenHash(),
		AccountSaved: func(ctx context.Context, a conversation.ChannelAccount) error {
			_, err := registerWebhook(ctx, s.channels, a)
			return err
		}}, s.svc, store, s.shared, s.shared)
	if err != nil {
		return nil, err
	}
	// The agent console, on the same store, router and shared state.
	s.console, err = console.New(console.Config{PublicURL: cfg.PublicURL, Logger: logger},
		console.Deps{Console: store, Service: s.svc, Store: store, Router: s.router, Routing: store, Bus: s.shared, Limiter: s.shared, Views: handoff.NewViews(store), Reports: s.reports,
			Billing: s.billing})
	if err != nil {
		return nil, err
	}
	s.handler = s.routes()
	ok = true
	return s, nil
}

// wake tells the worker and the report pipeline (which waits at least 200
// ms between rollups) that new messages and jobs were committed.
func (s *Server) wake() {
	s.worker.Wake()
	s.pipeline.Wake()
}

// buildChannels returns the registry of the channels this server runs, and
// what must learn the public URL when the server binds its port.
func buildChannels(cfg Config, logger *slog.Logger, secret []byte, svc *conversation.Service, store conversation.Store, shared sharedState, reg prometheus.Registerer, media *channels.MediaLinks) (*channels.Registry, []func(string), error) {
	wc, err := webchat.New(webchat.Config{Secret: secret, NewVisitorsPerMinute: cfg.WebchatVisitorsPerMinute, Logger: logger, Registerer: reg}, svc, store, shared, shared)
	if err != nil {
		return nil, nil, err
	}
	tw, err := twilio.New(twilio.Config{PublicURL: cfg.PublicURL, APIBaseURL: cfg.TwilioAPIURL, Links: media, Limiter: shared, Logger: logger}, svc, media.Store)
	if err != nil {
		return nil, nil, err
	}
	mail, err := email.New(email.Config{TokenKey: secret, PublicURL: cfg.PublicURL, Logger: logger},
		email.Deps{Service: svc, Store: store, Media: media.Store, Limiter: shared, Locker: shared})
	if err != nil {
		return nil, nil, err
	}
	tg, err := telegram.New(telegram.Config{PublicURL: cfg.PublicURL, APIURL: cfg.TelegramAPIURL, Logger: logger},
		telegram.Deps{Service: svc, Accounts: store, Media: media.Store, Locker: shared, Limiter: shared})
	if err != nil {
		return nil, nil, err
	}
	r, err := channels.NewRegistry(wc, apichannel.New(apichannel.Config{AllowPrivate: cfg.AllowPrivateWebhooks}), tw.SMS(), tw.WhatsApp(), mail, tg)
	return r, []func(string){tw.SetPublicURL, mail.SetPublicURL}, err
}

// validationRegistry returns the channels of buildChannels fit only to
// validate accounts: they are never run, so they get no collaborators.
func validationRegistry(cfg Config) (*channels.Registry, error) {
	wc, err := webchat.New(webchat.Config{Secret: make([]byte, 32)}, nil, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	tw := twilio.NewValidator()
	mail, err := email.New(email.Config{TokenKey: make([]byte, 32)}, email.Deps{})
	if err != nil {
		return nil, err
	}
	tg, err := telegram.NewAdmin(telegram.Config{PublicURL: cfg.PublicURL, APIURL: cfg.TelegramAPIURL})
	if err != nil {
		return nil, err
	}
	return channels.NewRegistry(wc, apichannel.New(apichannel.Config{AllowPrivate: cfg.AllowPrivateWebhooks}), tw.SMS(), tw.WhatsApp(), mail, tg)
}

type senderFunc func(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error)

func (f senderFunc) Send(ctx context.Context, d conversation.Delivery) (conversation.Receipt, error) {
	return f(ctx, d)
}

// secret returns the configured secret, or the one generated by the first
// node and kept in the store, so that every node signs alike.
func (s *Server) secret(ctx context.Context) ([]byte, error) {
	if s.cfg.SecretKey != "" {
		return []byte(s.cfg.SecretKey), nil
	}
	b := make([]byte, 32)
	rand.Read(b)
	v, err := s.store.InitSetting(ctx, "secret_key", hex.EncodeToString(b))
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return []byte(v), nil
}

// Listen binds the configured address; Addr then tells the bound one.
func (s *Server) Listen() error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.listener = l
	if s.cfg.publicURLFromAddr {
		host, _, _ := net.SplitHostPort(s.cfg.PublicURL[len("http://"):])
		_, port, _ := net.SplitHostPort(l.Addr().String())
		s.cfg.PublicURL = "http://" + net.JoinHostPort(host, port)
		s.media.BaseURL = s.cfg.PublicURL
		for _, set := range s.publicURLs {
			set(s.cfg.PublicURL)
		}
	}
	return nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Run serves until ctx ends, then shuts down gracefully: it stops taking
// requests, lets requests and deliveries in flight finish within the
// shutdown timeout, and closes the store last.
func (s *Server) Run(ctx context.Context) error {
	defer s.close()
	if s.listener == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(s.listener); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	if s.cfg.Workers > 0 {
		g.Go(func() error { return s.worker.Run(gctx) })
		g.Go(func() error { return s.pipeline.Run(gctx) })
	}
	g.Go(func() error { return s.channels.Run(gctx) })
	g.Go(func() error { return s.router.Run(gctx) })
	g.Go(func() error { return s.api.Run(gctx) })
	g.Go(func() error { return s.console.Run(gctx) })
	if s.runValkey != nil {
		g.Go(func() error { return s.runValkey(gctx) })
	}
	if s.cfg.DebugAddr != "" {
		g.Go(func() error { return serveDebug(gctx, s.cfg.DebugAddr, s.logger) })
	}
	err := g.Wait()
	s.logger.Info("stopped", "err", err)
	return err
}

func (s *Server) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// printURLs tells a newcomer where to look.
func (s *Server) printURLs(w io.Writer, demo *demoInfo) {
	base := s.cfg.PublicURL
	fmt.Fprintf(w, "\nConversa is running on %s (store: %s)\n\n", base, storeName(s.cfg))
	if demo != nil {
		fmt.Fprintf(w, "  Web-chat demo   %s/webchat/demo?channel=%s\n", base, demo.channel)
		fmt.Fprintf(w, "                  %s/webchat/demo?channel=%s&lang=en\n", base, demo.channel)
	}
	printConsole(w, base, demo)
	fmt.Fprintf(w, "  Health          %s/healthz   %s/readyz\n", base, base)
	fmt.Fprintf(w, "  Metrics         %s/metrics\n", base)
	fmt.Fprintf(w, "  API             %s/api/v1/   (description: %s/api/openapi.json)\n", base, base)
	if demo != nil && demo.apiKey != "" {
		fmt.Fprintf(w, "\n  Demo API key (shown once): %s\n", demo.apiKey)
		fmt.Fprintf(w, "  curl -H 'Authorization: Bearer %s' %s/api/v1/conversations\n", demo.apiKey, base)
	} else if demo != nil {
		fmt.Fprintf(w, "\n  API key: conversa apikey create --tenant %s\n", demo.tenant)
	}
	fmt.Fprintln(w)
}

func storeName(cfg Config) string {
	if cfg.usesPostgres() {
		return "PostgreSQL"
	}
	return "embedded SQLite at " + cfg.DatabaseURL
}

// caseNotifier is the notification service as the cases use it.
type caseNotifier struct{ svc *notify.Service }

func (c *caseNotifier) Notify(ctx context.Context, n handoff.Notice) (int64, error) {
	got, err := c.svc.Notify(ctx, notify.Request{TenantID: n.TenantID, ContactID: n.ContactID, Purpose: n.Purpose, Data: n.Data, IdempotencyKey: n.Key})
	return got.ID, err
}

// noticeOutcome is a notification as the cases learn of it: its status,
// and why each channel was passed over.
func noticeOutcome(n notify.Notification) handoff.NoticeOutcome {
	var reasons []string
	for _, sk := range n.Skipped {
		reasons = append(reasons, string(sk.Channel)+": "+sk.Reason)
	}
	if n.Note != "" {
		reasons = append(reasons, n.Note)
	}
	return handoff.NoticeOutcome{TenantID: n.TenantID, ID: n.ID, Key: n.IdempotencyKey, Purpose: n.Purpose,
		Status: string(n.Status), Reason: strings.Join(reasons, "; ")}
}

// surveySender is the conversation service for notifications: a case's
// survey and a CSAT survey get their rating buttons on channels that show
// them.
type surveySender struct{ svc *conversation.Service }

func (s surveySender) Send(ctx context.Context, outs ...conversation.Outbound) ([]conversation.SendResult, error) {
	kindOf := func(ctx context.Context, tenantID, accountID int64) (conversation.ChannelKind, error) {
		a, err := s.svc.AccountByID(ctx, tenantID, accountID)
		return a.Kind, err
	}
	outs, err := handoff.SurveyButtons(ctx, outs, kindOf)
	if err != nil {
		return nil, err
	}
	if outs, err = survey.AddButtons(ctx, outs, kindOf); err != nil {
		return nil, err
	}
	return s.svc.Send(ctx, outs...)
}

// surveyInterceptor takes answers to surveys with the survey service,
// which is built after the conversation service that calls it.
type surveyInterceptor struct{ s **survey.Service }

func (i surveyInterceptor) Intercept(ctx context.Context, t conversation.Turn) (bool, [][]conversation.Part, error) {
	return (*i.s).Intercept(ctx, t)
}

// caseSurveyAsked returns when the contact's latest case survey still
// waiting for its answer was asked, zero when none is: the survey service
// leaves an answer to the cases when theirs was asked last.
func caseSurveyAsked(store handoff.SurveyStore) func(ctx context.Context, tenantID, contactID int64) (time.Time, error) {
	return func(ctx context.Context, tenantID, contactID int64) (time.Time, error) {
		now := time.Now()
		list, err := store.ContactSurveys(ctx, tenantID, contactID, now.Add(-survey.MaxTTL))
		if err != nil {
			return time.Time{}, err
		}
		for _, sv := range list { // newest first
			if sv.AnsweredAt.IsZero() && now.Before(sv.ExpiresAt) {
				return sv.AskedAt, nil
			}
		}
		return time.Time{}, nil
	}
}

// routerHandler carries out the bot's handoff action with the router, which
// is built after the service that calls it.
type routerHandler struct{ r **handoff.Router }

func (h routerHandler) HandleAction(ctx context.Context, t conversation.Turn, a conversation.Action) ([]conversation.Part, error) {
	return (*h.r).HandleAction(ctx, t, a)
}

package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ServiceConfig tunes a Service.
type ServiceConfig struct {
	// IngestBatch is the most inbound messages committed in one transaction.
	IngestBatch int
	// IngestConcurrency is the most ingest transactions in flight at once.
	IngestConcurrency int
	// AccountCacheTTL is how long a channel account lookup is reused; a
	// disabled or changed account takes effect after at most this long.
	AccountCacheTTL time.Duration
	// DedupTTL is how long the fast path remembers an ingested message.
	DedupTTL time.Duration
	// BotTimeout bounds one bot turn.
	BotTimeout time.Duration
}

// Validate fills in defaults and checks the ranges.
func (c *ServiceConfig) Validate() error {
	setDefault(&c.IngestBatch, 64)
	setDefault(&c.IngestConcurrency, 4)
	setDefault(&c.AccountCacheTTL, 30*time.Second)
	setDefault(&c.DedupTTL, 24*time.Hour)
	setDefault(&c.BotTimeout, 10*time.Second)
	if c.IngestBatch > 1000 {
		return FieldError("ingest_batch", "must be at most 1000")
	}
	if c.IngestConcurrency > 64 {
		return FieldError("ingest_concurrency", "must be at most 64")
	}
	return nil
}

// Deps are a Service's collaborators. Store and Bus are required.
type Deps struct {
	Store Store
	Bus   Bus
	// Bot answers conversations in StateBot; without one, messages wait for
	// agents.
	Bot Bot
	// Actions carry out the bot's actions by name (create_case); an
	// action without a handler is logged. A handler of ActionHandoff is
	// called after the conversation is queued, also when the bot fails
	// for good (reason "bot_failed"), to route it to an agent.
	Actions map[string]ActionHandler
	// Interceptors see every inbound message of an open conversation
	// before the bot, and may take it (a survey's answer).
	Interceptors []Interceptor
	// Sender delivers outbound messages; without one, delivery jobs fail.
	Sender Sender
	// Dedup is the fast path of de-duplication; the store is the guard.
	Dedup   Deduper
	Metrics Metrics
	Logger  *slog.Logger
	// JobsAdded is called after a commit that enqueued jobs, to wake the
	// local Worker.
	JobsAdded func()
	// StatusChanged, when set, tells the tenant's systems (signed
	// webhooks) that an outbound message's delivery status changed. The
	// JobStatusChanged job calls it, at least once per change and with
	// the message as it was then; an error retries the job, so it must be
	// idempotent.
	StatusChanged func(ctx context.Context, m Message) error
}

// Service carries out the use cases of the conversation model: ingest,
// send, state changes, and the route and deliver jobs. It keeps the model's
// rules and publishes an Event after every committed change. It is safe for
// concurrent use.
type Service struct {
	cfg     ServiceConfig
	store   Store
	bus     Bus
	bot     Bot
	actions map[string]ActionHandler
	// interceptors see inbound messages before the bot.
	interceptors []Interceptor
	sender       Sender
	dedup        Deduper
	metrics      Metrics
	logger       *slog.Logger
	jobs         func()
	accounts     accountCache
	ingest       *groupCommit[IngestRequest, IngestResult]
	// statusChanged sees outbound status changes (Deps.StatusChanged).
	statusChanged func(ctx context.Context, m Message) error
}

// NewService returns a Service.
func NewService(cfg ServiceConfig, deps Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Bus == nil {
		return nil, errors.New("conversation service needs a store and a bus")
	}
	s := &Service{
		cfg:          cfg,
		store:        deps.Store,
		bus:          deps.Bus,
		bot:          deps.Bot,
		actions:      deps.Actions,
		interceptors: deps.Interceptors,
		sender:       deps.Sender,
		dedup:        deps.Dedup,
		metrics:      deps.Metrics,
		logger:       deps.Logger,
		jobs:         deps.JobsAdded,
	}
	s.statusChanged = deps.StatusChanged
	if s.metrics == nil {
		s.metrics = nopMetrics{}
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	if s.jobs == nil {
		s.jobs = func() {}
	}
	s.accounts = accountCache{ttl: cfg.AccountCacheTTL, m: map[string]cachedAccount{}}
	s.ingest = newGroupCommit(cfg.IngestBatch, cfg.IngestConcurrency, 30*time.Second, s.store.Ingest)
	return s, nil
}

// Ingest stores a message from a contact: see Store.Ingest. Returns
// EINVALID for a malformed message, ENOTFOUND for an unknown channel account,
// EFORBIDDEN for a disabled one. A duplicate is not an error: the result says
// Duplicate, with the stored message's ID when the store found it.
func (s *Service) Ingest(ctx context.Context, in Inbound) (IngestResult, error) {
	start := time.Now()
	res, err := s.doIngest(ctx, in)
	outcome := "stored"
	switch {
	case err != nil && (ErrorCode(err) == EINVALID || ErrorCode(err) == ETOOLARGE || ErrorCode(err) == ENOTFOUND || ErrorCode(err) == EFORBIDDEN):
		outcome = "rejected"
	case err != nil:
		outcome = "error"
	case res.Duplicate:
		outcome = "duplicate"
	}
	s.metrics.Ingested(in.Channel, outcome, time.Since(start))
	return res, err
}

func (s *Service) doIngest(ctx context.Context, in Inbound) (IngestResult, error) {
	if err := in.Validate(); err != nil {
		return IngestResult{}, err
	}
	acct, err := s.Account(ctx, in.Channel, in.Account)
	if err != nil {
		return IngestResult{}, err
	}
	// A provider's clock may run ahead; a message from the future would
	// stay on top of every list.
	if now := time.Now(); in.ReceivedAt.IsZero() || in.ReceivedAt.After(now) {
		in.ReceivedAt = now
	}
	if in.Edits != "" {
		m, err := s.store.EditMessage(ctx, acct.TenantID, acct.ID, in.Edits, in.Parts, in.ReceivedAt)
		if err == nil {
			s.publish(ctx, Event{Type: EventMessageUpdated, Message: &m})
			return IngestResult{Message: m, Edited: true}, nil
		}
		if !IsNotFound(err) {
			return IngestResult{}, fmt.Errorf("edit %s message: %w", in.Channel, err)
		}
		// The edited message was never stored: the edit is the message.
	}
	dedupKey := "in:" + strconv.FormatInt(acct.ID, 10) + ":" + in.ProviderID
	if s.dedup != nil {
		if seen, err := s.dedup.Seen(ctx, dedupKey); err != nil {
			s.logger.Warn("dedup fast path unavailable", "err", err)
		} else if seen {
			return IngestResult{Duplicate: true}, nil
		}
	}
	res, err := s.ingest.do(ctx, IngestRequest{TenantID: acct.TenantID, AccountID: acct.ID, Inbound: in})
	if err == nil {
		err = res.Err
	}
	if err != nil {
		return IngestResult{}, fmt.Errorf("ingest %s message: %w", in.Channel, err)
	}
	if s.dedup != nil {
		if err := s.dedup.Remember(ctx, dedupKey, s.cfg.DedupTTL); err != nil {
			s.logger.Warn("dedup fast path unavailable", "err", err)
		}
	}
	if res.Duplicate {
		return res, nil
	}
	s.jobs()
	if res.NewConversation {
		s.publish(ctx, Event{Type: EventConversationUpdated, Conversation: &res.Conversation})
	}
	s.publish(ctx, Event{Type: EventMessageCreated, Message: &res.Message})
	return res, nil
}

// Account returns the enabled channel account of kind with key, from a
// short-lived cache. Returns ENOTFOUND if there is none, EFORBIDDEN if it is
// disabled.
func (s *Service) Account(ctx context.Context, kind ChannelKind, key string) (ChannelAccount, error) {
	acct, err := s.accounts.get(string(kind)+"\x00"+key, func() (ChannelAccount, error) {
		return s.store.ChannelAccountByKey(ctx, kind, key)
	})
	if err != nil {
		if IsNotFound(err) {
			return ChannelAccount{}, Errorf(ENOTFOUND, "unknown %s channel %q", kind, key)
		}
		return ChannelAccount{}, err
	}
	if acct.Disabled {
		return ChannelAccount{}, Errorf(EFORBIDDEN, "the %s channel %q is disabled", kind, key)
	}
	return acct, nil
}

// AccountByID returns the tenant's channel account with the id, from the
// same short-lived cache as Account, disabled or not. Returns ENOTFOUND
// unless the account belongs to tenantID.
func (s *Service) AccountByID(ctx context.Context, tenantID, id int64) (ChannelAccount, error) {
	return s.accounts.get("id\x00"+strconv.FormatInt(tenantID, 10)+"\x00"+strconv.FormatInt(id, 10), func() (ChannelAccount, error) {
		return s.store.ChannelAccount(ctx, tenantID, id)
	})
}

// Send validates and stores outbound messages, all or none, and queues
// their delivery: see Store.Send.
func (s *Service) Send(ctx context.Context, outs ...Outbound) ([]SendResult, error) {
	if len(outs) == 0 {
		return nil, nil
	}
	for i := range outs {
		if err := outs[i].Validate(); err != nil {
			return nil, err
		}
	}
	res, err := s.store.Send(ctx, outs)
	if err != nil {
		return nil, fmt.Errorf("send message: %w", err)
	}
	fresh := false
	for i := range res {
		if !res[i].Duplicate {
			fresh = true
			s.publish(ctx, Event{Type: EventMessageCreated, Message: &res[i].Message})
		}
	}
	if fresh {
		s.jobs()
	}
	return res, nil
}

// Assign gives the conversation to an agent.
func (s *Service) Assign(ctx context.Context, tenantID, conversationID, agentID int64) (Conversation, error) {
	if agentID <= 0 {
		return Conversation{}, FieldError("agent_id", "is required")
	}
	return s.transition(ctx, tenantID, conversationID, StateAgent, agentID)
}

// Queue hands the conversation to the agents' queue.
func (s *Service) Queue(ctx context.Context, tenantID, conversationID int64) (Conversation, error) {
	return s.transition(ctx, tenantID, conversationID, StateQueued, 0)
}

// ReturnToBot gives an open conversation back to the bot.
func (s *Service) ReturnToBot(ctx context.Context, tenantID, conversationID int64) (Conversation, error) {
	conv, err := s.store.Conversation(ctx, tenantID, conversationID)
	if err != nil {
		return Conversation{}, err
	}
	if !conv.State.Open() {
		return Conversation{}, Errorf(ECONFLICT, "the conversation is closed; reopen it instead")
	}
	return s.transition(ctx, tenantID, conversationID, StateBot, 0)
}

// Close closes the conversation. The contact's next message opens a new one.
func (s *Service) Close(ctx context.Context, tenantID, conversationID int64) (Conversation, error) {
	return s.transition(ctx, tenantID, conversationID, StateClosed, 0)
}

// Reopen moves a closed conversation back to the bot. Returns ECONFLICT if
// the conversation is open, or if the contact has opened another
// conversation since.
func (s *Service) Reopen(ctx context.Context, tenantID, conversationID int64) (Conversation, error) {
	conv, err := s.store.Conversation(ctx, tenantID, conversationID)
	if err != nil {
		return Conversation{}, err
	}
	if conv.State != StateClosed {
		return Conversation{}, Errorf(ECONFLICT, "the conversation is not closed")
	}
	return s.transition(ctx, tenantID, conversationID, StateBot, 0)
}

func (s *Service) transition(ctx context.Context, tenantID, id int64, to State, assignee int64) (Conversation, error) {
	conv, err := s.store.Conversation(ctx, tenantID, id)
	if err != nil {
		return Conversation{}, err
	}
	if conv.State == to && (to != StateAgent || conv.AssigneeID == assignee) {
		return conv, nil
	}
	if !conv.State.CanBecome(to) {
		return Conversation{}, Errorf(ECONFLICT, "a conversation in state %s cannot move to %s", conv.State, to)
	}
	conv, err = s.store.TransitionConversation(ctx, tenantID, id, Transition{From: conv.State, To: to, AssigneeID: assignee})
	if err != nil {
		return Conversation{}, err
	}
	s.publish(ctx, Event{Type: EventConversationUpdated, Conversation: &conv})
	return conv, nil
}

// Typing tells the other side of the conversation that author started or
// stopped typing. Nothing is stored.
func (s *Service) Typing(ctx context.Context, tenantID, conversationID int64, author Author, on bool) error {
	conv, err := s.store.Conversation(ctx, tenantID, conversationID)
	if err != nil {
		return err
	}
	s.publish(ctx, Event{Type: EventTyping, TenantID: tenantID, ConversationID: conv.ID, ContactID: conv.ContactID, Typing: &Typing{Author: author, On: on}})
	return nil
}

// UpdateStatus records a delivery status reported by a channel: see
// Store.UpdateMessageStatus. A status that would move the message backwards
// is ignored.
func (s *Service) UpdateStatus(ctx context.Context, u StatusUpdate) (Message, error) {
	if !u.Status.Valid() || u.Status == StatusReceived || u.Status == StatusQueued {
		return Message{}, FieldError("status", "must be sent, delivered, read or failed")
	}
	m, changed, err := s.store.UpdateMessageStatus(ctx, u)
	if err != nil {
		return Message{}, err
	}
	if changed {
		if ReportedStatus(m.Status) {
			s.jobs() // the store may have enqueued the change's report
		}
		s.publish(ctx, Event{Type: EventMessageUpdated, Message: &m})
	}
	return m, nil
}

// StatusChangedJob is the JobHandler of JobStatusChanged: it hands the
// message, as it was when its status changed, to Deps.StatusChanged, and
// is retried while that fails.
func (s *Service) StatusChangedJob(ctx context.Context, j Job) error {
	var m Message
	if err := json.Unmarshal(j.Payload, &m); err != nil || m.ID != j.Ref || m.TenantID != j.TenantID {
		return &JobError{Err: fmt.Errorf("status change of message %d: bad payload", j.Ref), Permanent: true}
	}
	if s.statusChanged == nil {
		return nil
	}
	if err := s.statusChanged(ctx, m); err != nil {
		return fmt.Errorf("report the status change of message %d: %w", m.ID, err)
	}
	return nil
}

// recordKeyword records the consent change an SMS STOP or START asks for,
// once per message.
func (s *Service) recordKeyword(ctx context.Context, msg Message, kw Keyword) error {
	if kw != KeywordStop && kw != KeywordStart {
		return nil
	}
	contact, err := s.store.Contact(ctx, msg.TenantID, msg.ContactID)
	if err != nil {
		return permanentIfNotFound(err)
	}
	to, ok := contact.IdentityOn(msg.Channel)
	if !ok {
		return &JobError{Err: fmt.Errorf("contact %d has no %s address", contact.ID, msg.Channel), Permanent: true}
	}
	word := strings.ToUpper(strings.TrimRight(strings.TrimSpace(msg.Parts[0].Text), ".!¡?¿ "))
	_, err = s.store.RecordConsent(ctx, ConsentChange{
		TenantID: msg.TenantID, AccountID: msg.ChannelAccountID, ContactID: contact.ID, Channel: msg.Channel,
		Address: to.Address, OptedOut: kw == KeywordStop, Source: "keyword:" + word, ProviderID: msg.ProviderID,
	})
	return err
}

// RecordConsent validates c and appends it to the consent ledger.
func (s *Service) RecordConsent(ctx context.Context, c ConsentChange) (ConsentChange, error) {
	if err := c.Validate(); err != nil {
		return ConsentChange{}, err
	}
	return s.store.RecordConsent(ctx, c)
}

// OptedOut reports whether the address has opted out of messages from the
// account.
func (s *Service) OptedOut(ctx context.Context, tenantID, accountID int64, address string) (bool, error) {
	return s.store.OptedOut(ctx, tenantID, accountID, address)
}

// RouteJob is the JobHandler of JobRoute: an inbound message of an open
// conversation first goes to the interceptors (Deps.Interceptors), which
// may take it; else, in a conversation owned by the bot, to the bot, whose
// replies are sent on the channel the message came from; in any other
// state agents see the message live.
func (s *Service) RouteJob(ctx context.Context, j Job) error {
	msg, err := s.store.Message(ctx, j.TenantID, j.Ref)
	if err != nil {
		return permanentIfNotFound(err)
	}
	conv, err := s.store.Conversation(ctx, j.TenantID, msg.ConversationID)
	if err != nil {
		return permanentIfNotFound(err)
	}
	if kw, ok := InboundKeyword(msg); ok {
		// Carriers forbid an answer but for HELP's, which the channel
		// sends. STOP and START are recorded here, by a job that is retried
		// until it is done, so none is lost.
		return s.recordKeyword(ctx, msg, kw)
	}
	toBot := s.bot != nil && conv.State == StateBot
	if msg.Direction != DirectionIn || (!toBot && (len(s.interceptors) == 0 || !conv.State.Open())) {
		return nil
	}
	if msg.Meta[MetaNoReply] != "" {
		return nil // automated mail: an answer could start a loop
	}
	tenant, err := s.store.Tenant(ctx, j.TenantID)
	if err != nil {
		return permanentIfNotFound(err)
	}
	contact, err := s.store.Contact(ctx, j.TenantID, msg.ContactID)
	if err != nil {
		return permanentIfNotFound(err)
	}
	if conv.State.Open() {
		// A survey's answer, say, is taken before the bot sees it.
		if handled, err := s.intercept(ctx, Turn{Tenant: tenant, Conversation: conv, Contact: contact, Message: msg}); handled || err != nil {
			return err
		}
	}
	if !toBot {
		return nil
	}

	bctx, cancel := context.WithTimeout(ctx, s.cfg.BotTimeout)
	resp, err := s.bot.Respond(bctx, Turn{Tenant: tenant, Conversation: conv, Contact: contact, Message: msg})
	cancel()
	if err != nil {
		if j.Attempt >= j.MaxAttempts {
			// Nobody should be left without an answer: let a person take it.
			s.logger.Error("bot failed; handing the conversation to agents", "conversation", conv.ID, "err", err)
			if _, qerr := s.Queue(ctx, j.TenantID, conv.ID); qerr != nil {
				return errors.Join(err, qerr)
			}
			if h := s.actions[ActionHandoff]; h != nil {
				a := Action{Name: ActionHandoff, Params: map[string]string{"reason": "bot_failed"}}
				if _, herr := h.HandleAction(ctx, Turn{Tenant: tenant, Conversation: conv, Contact: contact, Message: msg}, a); herr != nil {
					return errors.Join(err, herr)
				}
			}
		}
		return fmt.Errorf("bot turn: %w", err)
	}

	outs := make([]Outbound, 0, len(resp.Replies))
	for i, parts := range resp.Replies {
		outs = append(outs, Outbound{
			TenantID:       j.TenantID,
			ConversationID: conv.ID,
			Author:         Author{Kind: AuthorBot},
			Parts:          parts,
			AccountID:      msg.ChannelAccountID,
			IdempotencyKey: "route:" + strconv.FormatInt(msg.ID, 10) + ":" + strconv.Itoa(i),
		})
	}
	if _, err := s.Send(ctx, outs...); err != nil {
		if ErrorCode(err) == EINVALID || ErrorCode(err) == ETOOLARGE || ErrorCode(err) == ECONFLICT {
			return &JobError{Err: err, Permanent: true}
		}
		return err
	}
	for i, a := range resp.Actions {
		switch a.Name {
		case ActionHandoff:
			if _, err := s.Queue(ctx, j.TenantID, conv.ID); err != nil && !IsConflict(err) {
				return err
			}
			if s.actions[a.Name] == nil {
				continue
			}
			// A handler of the handoff (the agents' router) queues it
			// for an agent; its parts go to the contact.
			fallthrough
		default:
			h := s.actions[a.Name]
			if h == nil {
				s.logger.Warn("bot asked for an action nothing carries out", "action", a.Name, "conversation", conv.ID)
				continue
			}
			parts, err := h.HandleAction(ctx, Turn{Tenant: tenant, Conversation: conv, Contact: contact, Message: msg}, a)
			if err != nil {
				return fmt.Errorf("bot action %s: %w", a.Name, err)
			}
			if len(parts) == 0 {
				continue
			}
			out := Outbound{
				TenantID: j.TenantID, ConversationID: conv.ID, Author: Author{Kind: AuthorBot}, Parts: parts,
				AccountID: msg.ChannelAccountID, IdempotencyKey: "action:" + strconv.FormatInt(msg.ID, 10) + ":" + strconv.Itoa(i),
			}
			if _, err := s.Send(ctx, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// DeliverJob is the JobHandler of JobDeliver: it sends a queued message
// through its channel and records the outcome. A message that is no longer
// queued was already handled, so a repeated job does nothing. When the
// channel reports a permanent failure, or the last attempt fails, the
// message becomes failed with the provider's error.
func (s *Service) DeliverJob(ctx context.Context, j Job) error {
	msg, err := s.store.Message(ctx, j.TenantID, j.Ref)
	if err != nil {
		return permanentIfNotFound(err)
	}
	if msg.Status != StatusQueued {
		return nil
	}
	acct, err := s.store.ChannelAccount(ctx, j.TenantID, msg.ChannelAccountID)
	if err != nil {
		return s.deliveryFailed(ctx, msg, j, permanentIfNotFound(err))
	}
	contact, err := s.store.Contact(ctx, j.TenantID, msg.ContactID)
	if err != nil {
		return s.deliveryFailed(ctx, msg, j, permanentIfNotFound(err))
	}
	to, ok := contact.IdentityOn(acct.Kind)
	if !ok {
		return s.deliveryFailed(ctx, msg, j, &DeliveryError{Message: fmt.Sprintf("the contact has no %s address", acct.Kind), Permanent: true})
	}
	if s.sender == nil {
		return s.deliveryFailed(ctx, msg, j, &DeliveryError{Message: "no channels are configured", Permanent: true})
	}
	out, err := s.store.OptedOut(ctx, j.TenantID, acct.ID, to.Address)
	if err != nil {
		return fmt.Errorf("read consent: %w", err)
	}
	if out && msg.Meta[MetaKeywordReply] == "" {
		return s.deliveryFailed(ctx, msg, j, &DeliveryError{Code: FailureOptedOut,
			Message: "the recipient opted out of messages from this sender", Permanent: true})
	}
	d := Delivery{Message: msg, Account: acct, Contact: contact, To: to}
	if acct.Kind == ChannelWhatsApp {
		if d.LastInbound, err = s.store.LastInbound(ctx, j.TenantID, contact.ID, acct.ID); err != nil {
			return fmt.Errorf("read last inbound message: %w", err)
		}
	}

	receipt, err := s.sender.Send(ctx, d)
	if err != nil {
		return s.deliveryFailed(ctx, msg, j, err)
	}
	status := receipt.Status
	if status.rank() < StatusSent.rank() {
		status = StatusSent
	}
	if _, err := s.UpdateStatus(ctx, StatusUpdate{TenantID: j.TenantID, MessageID: msg.ID, Status: status, SetProviderID: receipt.ProviderID}); err != nil {
		return fmt.Errorf("record sent message: %w", err)
	}
	s.metrics.Delivered(msg.Channel, "sent")
	return nil
}

// deliveryFailed records a failed attempt, and the failure of the message
// when it is final, and returns the error that steers the Worker.
func (s *Service) deliveryFailed(ctx context.Context, msg Message, j Job, err error) error {
	de, _ := errors.AsType[*DeliveryError](err)
	je, _ := errors.AsType[*JobError](err)
	final := j.Attempt >= j.MaxAttempts || (de != nil && de.Permanent) || (je != nil && je.Permanent)
	if !final {
		s.metrics.Delivered(msg.Channel, "retry")
		if de != nil && de.RetryAfter > 0 {
			return &JobError{Err: err, RetryAfter: de.RetryAfter}
		}
		return err
	}
	failure := &Failure{Message: err.Error()}
	if de != nil {
		failure = &Failure{Code: de.Code, Message: de.Message}
	}
	if _, uerr := s.UpdateStatus(ctx, StatusUpdate{TenantID: j.TenantID, MessageID: msg.ID, Status: StatusFailed, Failure: failure}); uerr != nil {
		// Keep the job alive so that the failure gets recorded next time.
		return fmt.Errorf("record failed delivery: %w", uerr)
	}
	s.metrics.Delivered(msg.Channel, "failed")
	return &JobError{Err: err, Permanent: true}
}

func permanentIfNotFound(err error) error {
	if IsNotFound(err) {
		return &JobError{Err: err, Permanent: true}
	}
	return err
}

// publish sends e to the tenant's topic and to the contact's topic. The
// change is already committed; a lost event only delays what readers see
// until they next read the store.
func (s *Service) publish(ctx context.Context, e Event) {
	switch {
	case e.Message != nil:
		e.TenantID, e.ConversationID, e.ContactID = e.Message.TenantID, e.Message.ConversationID, e.Message.ContactID
	case e.Conversation != nil:
		e.TenantID, e.ConversationID, e.ContactID = e.Conversation.TenantID, e.Conversation.ID, e.Conversation.ContactID
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	payload, err := json.Marshal(e)
	if err != nil {
		s.logger.Error("encode event", "type", e.Type, "err", err)
		return
	}
	// The change is committed: publish it even if the caller has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, topic := range []string{TenantTopic(e.TenantID), ContactTopic(e.TenantID, e.ContactID)} {
		if err := s.bus.Publish(ctx, topic, payload); err != nil {
			s.logger.Warn("publish event", "type", e.Type, "topic", topic, "err", err)
		}
	}
}

// accountCache keeps channel account lookups for a short while: ingest
// resolves the account of every message.
type accountCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]cachedAccount
}

type cachedAccount struct {
	acct    ChannelAccount
	expires time.Time
}

const maxCachedAccounts = 10000

func (c *accountCache) get(key string, load func() (ChannelAccount, error)) (ChannelAccount, error) {
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.acct, nil
	}
	acct, err := load()
	if err != nil {
		return ChannelAccount{}, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedAccounts {
		clear(c.m)
	}
	c.m[key] = cachedAccount{acct: acct, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return acct, nil
}

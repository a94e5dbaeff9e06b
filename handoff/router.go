package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"conversa/conversation"
)

// Conversations moves conversations between the bot, the queue and agents.
// conversation.Service implements it; each call is the model's state
// transition and publishes its event.
type Conversations interface {
	Assign(ctx context.Context, tenantID, conversationID, agentID int64) (conversation.Conversation, error)
	Queue(ctx context.Context, tenantID, conversationID int64) (conversation.Conversation, error)
	ReturnToBot(ctx context.Context, tenantID, conversationID int64) (conversation.Conversation, error)
	Close(ctx context.Context, tenantID, conversationID int64) (conversation.Conversation, error)
}

// Directory reads what routing decides on. conversation.Store implements
// it.
type Directory interface {
	Tenant(ctx context.Context, id int64) (conversation.Tenant, error)
	Conversation(ctx context.Context, tenantID, id int64) (conversation.Conversation, error)
	Contact(ctx context.Context, tenantID, id int64) (conversation.Contact, error)
}

// RouterConfig configures a Router.
type RouterConfig struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// PresenceTTL is how long an agent's console may stay silent (see
	// Router.Touch) before Run sets the agent offline; default 90 s.
	PresenceTTL time.Duration
	// SweepInterval is how often Run looks for silent consoles; default a
	// third of PresenceTTL.
	SweepInterval time.Duration
	// Bus, when set, carries RoutingEvents to consoles on every node.
	Bus    conversation.Bus
	Logger *slog.Logger
}

// Router hands conversations to agents: it queues what the bot hands off,
// offers it to the right agent (or lets agents pick), and carries out
// accepts, transfers and closes, each as a state transition of the
// conversation. Routing state lives in the RoutingStore, so any number of
// Routers on any number of nodes may share it. It is safe for concurrent
// use.
type Router struct {
	store RoutingStore
	convs Conversations
	dir   Directory
	cfg   RouterConfig
}

// NewRouter returns a Router.
func NewRouter(store RoutingStore, convs Conversations, dir Directory, cfg RouterConfig) *Router {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PresenceTTL <= 0 {
		cfg.PresenceTTL = 90 * time.Second
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = cfg.PresenceTTL / 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Router{store: store, convs: convs, dir: dir, cfg: cfg}
}

// CreateAgent validates and stores a new agent, offline. Returns EINVALID
// for a bad agent or a team that is not the tenant's.
func (r *Router) CreateAgent(ctx context.Context, a Agent) (Agent, error) {
	if err := r.checkAgent(ctx, &a); err != nil {
		return Agent{}, err
	}
	return r.store.CreateAgent(ctx, a)
}

// UpdateAgent validates and stores an agent's profile: name, email, role,
// skills, teams and capacity. A raised capacity is filled at once.
func (r *Router) UpdateAgent(ctx context.Context, a Agent) (Agent, error) {
	if err := r.checkAgent(ctx, &a); err != nil {
		return Agent{}, err
	}
	a, err := r.store.UpdateAgent(ctx, a)
	if err != nil {
		return Agent{}, err
	}
	r.publishAgent(ctx, a)
	if a.Status == StatusAvailable && a.Load < a.Capacity {
		if _, err := r.fill(ctx, a); err != nil {
			r.cfg.Logger.Warn("offer conversations after an agent update", "tenant", a.TenantID, "agent", a.ID, "err", err)
		}
	}
	return a, nil
}

func (r *Router) checkAgent(ctx context.Context, a *Agent) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if len(a.Teams) == 0 {
		return nil
	}
	teams, err := r.store.ListTeams(ctx, a.TenantID)
	if err != nil {
		return err
	}
	for _, id := range a.Teams {
		if !slices.ContainsFunc(teams, func(t Team) bool { return t.ID == id }) {
			return conversation.FieldError("teams", "team %d not found", id)
		}
	}
	return nil
}

// CreateTeam stores a new team.
func (r *Router) CreateTeam(ctx context.Context, t Team) (Team, error) {
	t.Name = strings.TrimSpace(t.Name)
	if t.Name == "" || utf8.RuneCountInString(t.Name) > maxName {
		return Team{}, conversation.FieldError("name", "a team needs a name of at most %d characters", maxName)
	}
	return r.store.CreateTeam(ctx, t)
}

// CreateQueue validates and stores a new queue.
func (r *Router) CreateQueue(ctx context.Context, q Queue) (Queue, error) {
	if err := r.checkQueue(ctx, &q); err != nil {
		return Queue{}, err
	}
	return r.store.CreateQueue(ctx, q)
}

// UpdateQueue validates and stores a queue's settings.
func (r *Router) UpdateQueue(ctx context.Context, q Queue) (Queue, error) {
	if err := r.checkQueue(ctx, &q); err != nil {
		return Queue{}, err
	}
	return r.store.UpdateQueue(ctx, q)
}

func (r *Router) checkQueue(ctx context.Context, q *Queue) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if q.TeamID == 0 {
		return nil
	}
	teams, err := r.store.ListTeams(ctx, q.TenantID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(teams, func(t Team) bool { return t.ID == q.TeamID }) {
		return conversation.FieldError("team_id", "team %d not found", q.TeamID)
	}
	return nil
}

// SetRules validates and replaces the tenant's routing rules. Returns
// EINVALID for a rule whose queue is not the tenant's.
func (r *Router) SetRules(ctx context.Context, tenantID int64, rules []Rule) error {
	if err := ValidateRules(rules); err != nil {
		return err
	}
	queues, err := r.store.ListQueues(ctx, tenantID)
	if err != nil {
		return err
	}
	for i, rule := range rules {
		if rule.QueueID != 0 && !slices.ContainsFunc(queues, func(q Queue) bool { return q.ID == rule.QueueID }) {
			return conversation.FieldError("rules", "rule %d: queue %d not found", i+1, rule.QueueID)
		}
	}
	return r.store.SetRules(ctx, tenantID, rules)
}

// QueueRequest is what is known when a conversation is handed to agents:
// the bot's handoff parameters, or an explicit queue.
type QueueRequest struct {
	// QueueID, when set, is the queue; otherwise the rules choose.
	QueueID   int64
	Reason    string
	Intent    string
	Sentiment string
	// Priority adds to the queue's and the rules'.
	Priority int
}

// Enqueue hands a conversation to agents: it moves it to StateQueued (the
// bot falls silent), puts it in the queue the rules choose, and offers it
// to an agent when the queue's strategy and a free agent allow. A
// conversation already handed over is left where it is. Returns ENOTFOUND
// for a conversation or queue that is not the tenant's, ECONFLICT for a
// closed conversation, one an agent owns, or a tenant without queues.
func (r *Router) Enqueue(ctx context.Context, tenantID, conversationID int64, req QueueRequest) (Entry, error) {
	conv, err := r.dir.Conversation(ctx, tenantID, conversationID)
	if err != nil {
		return Entry{}, err
	}
	if e, err := r.store.Entry(ctx, tenantID, conversationID); err == nil {
		return e, nil
	} else if !conversation.IsNotFound(err) {
		return Entry{}, err
	}
	switch conv.State {
	case conversation.StateClosed:
		return Entry{}, conversation.Errorf(conversation.ECONFLICT, "the conversation is closed")
	case conversation.StateAgent:
		return Entry{}, conversation.Errorf(conversation.ECONFLICT, "an agent owns the conversation; transfer it instead")
	}
	q, priority, err := r.chooseQueue(ctx, conv, req)
	if err != nil {
		return Entry{}, err
	}
	if _, err := r.convs.Queue(ctx, tenantID, conversationID); err != nil {
		return Entry{}, err
	}
	e, created, err := r.store.Enqueue(ctx, Entry{
		TenantID: tenantID, ConversationID: conversationID, QueueID: q.ID, Priority: priority, EnqueuedAt: r.cfg.Now(),
		Reason: clip(req.Reason, 200), Intent: clip(req.Intent, 100), Sentiment: clip(req.Sentiment, 50),
	})
	if err != nil || !created {
		return e, err
	}
	e, err = r.offerEntry(ctx, e, q)
	r.publishEntry(ctx, e, err, 0)
	return e, err
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// chooseQueue applies the request and the tenant's rules.
func (r *Router) chooseQueue(ctx context.Context, conv conversation.Conversation, req QueueRequest) (Queue, int, error) {
	queues, err := r.store.ListQueues(ctx, conv.TenantID)
	if err != nil {
		return Queue{}, 0, err
	}
	if len(queues) == 0 {
		return Queue{}, 0, conversation.Errorf(conversation.ECONFLICT, "the tenant has no queues")
	}
	rules, err := r.store.Rules(ctx, conv.TenantID)
	if err != nil {
		return Queue{}, 0, err
	}
	var attrs map[string]string
	for _, rule := range rules {
		if rule.Attribute != "" {
			contact, err := r.dir.Contact(ctx, conv.TenantID, conv.ContactID)
			if err != nil {
				return Queue{}, 0, err
			}
			attrs = contact.Attributes
			break
		}
	}
	queueID, boost := req.QueueID, req.Priority
	for _, rule := range rules {
		if !rule.matches(req.Intent, conv.Channel, attrs) {
			continue
		}
		boost += rule.PriorityBoost
		if queueID == 0 && rule.QueueID != 0 {
			queueID = rule.QueueID
		}
	}
	q := queues[0]
	if queueID != 0 {
		i := slices.IndexFunc(queues, func(q Queue) bool { return q.ID == queueID })
		if i < 0 {
			return Queue{}, 0, conversation.Errorf(conversation.ENOTFOUND, "queue %d not found", queueID)
		}
		q = queues[i]
	}
	return q, q.Priority + boost, nil
}

func eligibility(q Queue) Eligibility {
	return Eligibility{QueueID: q.ID, Strategy: q.Strategy, Skills: q.Skills, TeamID: q.TeamID, Timeout: q.AcceptTimeout}
}

// offerEntry offers a waiting entry to an agent if its queue's strategy
// and a free agent allow.
func (r *Router) offerEntry(ctx context.Context, e Entry, q Queue) (Entry, error) {
	if q.Strategy == StrategyManual || e.State != EntryWaiting {
		return e, nil
	}
	return r.store.OfferEntry(ctx, e.TenantID, e.ConversationID, eligibility(q), r.cfg.Now())
}

// reoffer offers entries that went back to waiting to other agents.
// from is the agent who had them.
func (r *Router) reoffer(ctx context.Context, tenantID, from int64, entries []Entry) error {
	if len(entries) == 0 {
		return nil
	}
	queues, err := r.store.ListQueues(ctx, tenantID)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if i := slices.IndexFunc(queues, func(q Queue) bool { return q.ID == e.QueueID }); i >= 0 {
			e, err = r.offerEntry(ctx, e, queues[i])
			r.publishEntry(ctx, e, err, from)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// fill offers an available agent the best waiting conversations of the
// queues they serve, up to their free capacity.
func (r *Router) fill(ctx context.Context, a Agent) ([]Entry, error) {
	queues, err := r.store.ListQueues(ctx, a.TenantID)
	if err != nil {
		return nil, err
	}
	o := AgentOffer{TenantID: a.TenantID, AgentID: a.ID, Queues: map[int64]time.Duration{}, At: r.cfg.Now()}
	for _, q := range queues {
		if q.Strategy != StrategyManual && Eligible(a, q) {
			o.Queues[q.ID] = q.AcceptTimeout
		}
	}
	offered, err := r.store.OfferToAgent(ctx, o)
	for _, e := range offered {
		r.publishEntry(ctx, e, nil, 0)
	}
	return offered, err
}

// SetStatus changes an agent's availability. An agent who becomes
// available is offered waiting conversations up to their capacity at once;
// one who becomes busy, away or offline keeps the conversations they own,
// and the offers they have not accepted go to other agents. Returns
// ENOTFOUND unless the agent is the tenant's.
func (r *Router) SetStatus(ctx context.Context, tenantID, agentID int64, st AgentStatus) (Agent, error) {
	if !st.Valid() {
		return Agent{}, conversation.FieldError("status", "must be available, busy, away or offline")
	}
	a, back, err := r.store.SetAgentStatus(ctx, tenantID, agentID, st, r.cfg.Now())
	if err != nil {
		return Agent{}, err
	}
	if err := r.reoffer(ctx, tenantID, agentID, back); err != nil {
		r.publishAgent(ctx, a)
		return a, fmt.Errorf("offer conversations to other agents: %w", err)
	}
	if st == StatusAvailable {
		if _, err := r.fill(ctx, a); err != nil {
			r.publishAgent(ctx, a)
			return a, err
		}
		// Read again: other routers may have offered the agent more
		// meanwhile.
		if a, err = r.store.Agent(ctx, tenantID, agentID); err != nil {
			return Agent{}, err
		}
	}
	r.publishAgent(ctx, a)
	return a, nil
}

// Touch records that the agent's console is alive. A console calls it
// more often than PresenceTTL; when it stops (the browser closed, the
// network or its node went away), Run sets the agent offline.
func (r *Router) Touch(ctx context.Context, tenantID, agentID int64) error {
	return r.store.TouchAgent(ctx, tenantID, agentID, r.cfg.Now())
}

// Now is the router's clock: what Touch records and GoneSince compares
// with.
func (r *Router) Now() time.Time { return r.cfg.Now() }

// GoneSince sets the agent offline when no console of theirs has touched
// since at, checked and set in one transaction, and reports whether it
// did. A console calls it when it closes (at is that moment), once the
// agent's other consoles (another tab, another node, the next page of the
// same one) have had more than their touch interval to show they are
// there, so that a closed console sets its agent offline within seconds;
// the sweep calls it for the agents silent for PresenceTTL. An agent
// already offline stays as they are.
func (r *Router) GoneSince(ctx context.Context, tenantID, agentID int64, at time.Time) (bool, error) {
	a, back, changed, err := r.store.SetAgentOfflineIfSilent(ctx, tenantID, agentID, at, r.cfg.Now())
	if err != nil || !changed {
		return false, err
	}
	if err := r.reoffer(ctx, tenantID, agentID, back); err != nil {
		r.publishAgent(ctx, a)
		return true, fmt.Errorf("offer conversations to other agents: %w", err)
	}
	r.publishAgent(ctx, a)
	return true, nil
}

// Run sets offline the agents whose console went silent, until ctx ends.
// Every node may run it: each change is a compare-and-set in the store.
func (r *Router) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("presence sweep", "err", err)
		}
	}
}

// Sweep sets offline, once, the agents whose console has been silent for
// longer than PresenceTTL.
func (r *Router) Sweep(ctx context.Context) error {
	before := r.cfg.Now().Add(-r.cfg.PresenceTTL)
	stale, err := r.store.StaleAgents(ctx, before)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range stale {
		// Checked again as it is set: the console may have touched since.
		if _, err := r.GoneSince(ctx, a.TenantID, a.ID, before); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// actor returns the agent acting, and the conversation's entry, checking
// that the agent may act on it: their own, or any as a supervisor.
func (r *Router) actor(ctx context.Context, tenantID, agentID, conversationID int64) (Agent, Entry, error) {
	a, err := r.store.Agent(ctx, tenantID, agentID)
	if err != nil {
		return Agent{}, Entry{}, err
	}
	e, err := r.store.Entry(ctx, tenantID, conversationID)
	if err != nil {
		return Agent{}, Entry{}, err
	}
	if e.AgentID != a.ID && !a.Role.Supervises() {
		return Agent{}, Entry{}, conversation.Errorf(conversation.EFORBIDDEN, "the conversation is not assigned to you")
	}
	return a, e, nil
}

// Accept takes an offer: the conversation becomes the agent's (StateAgent,
// the bot stays silent). offer is the Version of the offered entry.
// Returns EFORBIDDEN when the offer was made to another agent, ECONFLICT
// when it is stale (it expired, went back to the queue or elsewhere).
func (r *Router) Accept(ctx context.Context, tenantID, agentID, conversationID, offer int64) (Entry, error) {
	if _, err := r.store.Agent(ctx, tenantID, agentID); err != nil {
		return Entry{}, err
	}
	e, err := r.store.Entry(ctx, tenantID, conversationID)
	if err != nil {
		return Entry{}, err
	}
	if e.Version == offer && e.AgentID != agentID {
		return Entry{}, conversation.Errorf(conversation.EFORBIDDEN, "the conversation was offered to another agent")
	}
	now := r.cfg.Now()
	got, err := r.store.Claim(ctx, Claim{TenantID: tenantID, ConversationID: conversationID, AgentID: agentID, From: EntryOffered, Offer: offer, At: now})
	if conversation.IsConflict(err) && e.State == EntryOffered && e.Version == offer && !now.Before(e.Deadline) {
		// Too late: the offer ends now rather than at its job.
		if _, xerr := r.expire(ctx, tenantID, conversationID, offer); xerr != nil {
			r.cfg.Logger.Warn("expire a late offer", "conversation", conversationID, "err", xerr)
		}
	}
	if err != nil {
		return Entry{}, err
	}
	return r.assign(ctx, got)
}

// assign makes the conversation the entry's agent's, as the model's state
// transition. A conversation that was closed meanwhile leaves the queue.
func (r *Router) assign(ctx context.Context, e Entry) (Entry, error) {
	_, err := r.convs.Assign(ctx, e.TenantID, e.ConversationID, e.AgentID)
	if conversation.IsConflict(err) {
		// Another call made the same transition first (the accept and its
		// repair job can run at once): that is this assignment, done.
		conv, cerr := r.dir.Conversation(ctx, e.TenantID, e.ConversationID)
		if cerr == nil && conv.State == conversation.StateAgent && conv.AssigneeID == e.AgentID {
			r.publishEntry(ctx, e, nil, 0)
			return e, nil
		}
		if _, rerr := r.store.Release(ctx, e.TenantID, e.ConversationID, "conversation_closed", r.cfg.Now()); rerr != nil && !conversation.IsNotFound(rerr) {
			return Entry{}, errors.Join(err, rerr)
		}
	}
	if err != nil {
		return Entry{}, err
	}
	r.publishEntry(ctx, e, nil, 0)
	return e, nil
}

// Pick assigns a waiting conversation to the agent who picks it from the
// queue. The agent needs the queue's skills and team, unless a supervisor,
// and free capacity. Returns ECONFLICT when it is no longer waiting or the
// agent is full, EFORBIDDEN when the agent may not serve the queue.
func (r *Router) Pick(ctx context.Context, tenantID, agentID, conversationID int64) (Entry, error) {
	a, err := r.store.Agent(ctx, tenantID, agentID)
	if err != nil {
		return Entry{}, err
	}
	e, err := r.store.Entry(ctx, tenantID, conversationID)
	if err != nil {
		return Entry{}, err
	}
	q, err := r.store.Queue(ctx, tenantID, e.QueueID)
	if err != nil {
		return Entry{}, err
	}
	if !Eligible(a, q) && !a.Role.Supervises() {
		return Entry{}, conversation.Errorf(conversation.EFORBIDDEN, "you do not serve the queue %s", q.Name)
	}
	got, err := r.store.Claim(ctx, Claim{TenantID: tenantID, ConversationID: conversationID, AgentID: agentID, From: EntryWaiting, At: r.cfg.Now()})
	if err != nil {
		return Entry{}, err
	}
	return r.assign(ctx, got)
}

// Transfer says where a conversation goes: to an agent or to a queue, with
// a note for whoever takes it.
type Transfer struct {
	ToAgent int64
	ToQueue int64
	Note    string
}

// Transfer moves a conversation the actor owns (or any, for a supervisor)
// to another agent, who owns it at once if they have free capacity, or to
// a queue, where it waits and is offered anew. A supervisor may also move
// a waiting or offered conversation to an agent (reassign). Returns
// EFORBIDDEN when the actor may not act on the conversation, ENOTFOUND for
// another tenant's agent or queue, ECONFLICT when the agent is full or
// offline.
func (r *Router) Transfer(ctx context.Context, tenantID, actorID, conversationID int64, t Transfer) (Entry, error) {
	if (t.ToAgent == 0) == (t.ToQueue == 0) {
		return Entry{}, conversation.FieldError("to", "name an agent or a queue")
	}
	if utf8.RuneCountInString(t.Note) > maxNote {
		return Entry{}, conversation.FieldError("note", "the note is longer than %d characters", maxNote)
	}
	_, e, err := r.actor(ctx, tenantID, actorID, conversationID)
	if err != nil {
		return Entry{}, err
	}
	now := r.cfg.Now()
	if t.ToQueue != 0 {
		q, err := r.store.Queue(ctx, tenantID, t.ToQueue)
		if err != nil {
			return Entry{}, err
		}
		from, err := r.store.Queue(ctx, tenantID, e.QueueID)
		if err != nil && !conversation.IsNotFound(err) {
			return Entry{}, err
		}
		// The boosts of rules and request carry over to the new queue.
		if _, err := r.convs.Queue(ctx, tenantID, conversationID); err != nil {
			return Entry{}, err
		}
		holder := e.AgentID
		e, err = r.store.Requeue(ctx, Requeue{TenantID: tenantID, ConversationID: conversationID, QueueID: q.ID,
			Priority: e.Priority - from.Priority + q.Priority, Note: t.Note, At: now})
		if err != nil {
			return Entry{}, err
		}
		e, err = r.offerEntry(ctx, e, q)
		r.publishEntry(ctx, e, err, holder)
		return e, err
	}
	if _, err := r.store.Agent(ctx, tenantID, t.ToAgent); err != nil {
		return Entry{}, err
	}
	c := Claim{TenantID: tenantID, ConversationID: conversationID, AgentID: t.ToAgent, From: EntryAssigned, Holder: e.AgentID, Note: t.Note, At: now}
	if e.State != EntryAssigned {
		// A supervisor's reassignment of a conversation nobody owns yet.
		if e.State == EntryOffered {
			if e, _, err = r.store.Expire(ctx, tenantID, conversationID, e.Version, now); err != nil {
				return Entry{}, err
			}
		}
		c.From, c.Holder = EntryWaiting, 0
	}
	got, err := r.store.Claim(ctx, c)
	if err != nil {
		return Entry{}, err
	}
	if e.AgentID != 0 && e.AgentID != got.AgentID {
		r.publish(ctx, RoutingEvent{Type: EventEntryRemoved, TenantID: tenantID, Entry: &got}, AgentTopic(tenantID, e.AgentID))
	}
	return r.assign(ctx, got)
}

// Close ends an agent's handling of a conversation with a disposition
// (resolved, no_answer, ...): the conversation goes back to the bot when
// returnToBot, else it closes. The agent's capacity is freed. Returns
// EFORBIDDEN when the actor may not act on the conversation.
func (r *Router) Close(ctx context.Context, tenantID, actorID, conversationID int64, disposition string, returnToBot bool) error {
	disposition = strings.TrimSpace(disposition)
	if disposition == "" {
		disposition = "resolved"
	}
	if utf8.RuneCountInString(disposition) > 100 {
		return conversation.FieldError("disposition", "at most 100 characters")
	}
	_, _, err := r.actor(ctx, tenantID, actorID, conversationID)
	if err != nil {
		return err
	}
	// The transition first: a retry after a failure finds the entry
	// still there, and both steps are idempotent.
	if returnToBot {
		_, err = r.convs.ReturnToBot(ctx, tenantID, conversationID)
	} else {
		_, err = r.convs.Close(ctx, tenantID, conversationID)
	}
	if err != nil {
		return err
	}
	e, err := r.store.Release(ctx, tenantID, conversationID, disposition, r.cfg.Now())
	if conversation.IsNotFound(err) {
		return nil
	}
	if err == nil {
		topics := []string{RoutingTopic(tenantID)}
		if e.AgentID != 0 {
			topics = append(topics, AgentTopic(tenantID, e.AgentID))
		}
		r.publish(ctx, RoutingEvent{Type: EventEntryRemoved, TenantID: tenantID, Entry: &e}, topics...)
	}
	return err
}

// expire ends an offer and offers the conversation again. The agent who
// let it lapse is set away: they are not at their console.
func (r *Router) expire(ctx context.Context, tenantID, conversationID, offer int64) (Entry, error) {
	before, err := r.store.Entry(ctx, tenantID, conversationID)
	if err != nil {
		return Entry{}, err
	}
	e, done, err := r.store.Expire(ctx, tenantID, conversationID, offer, r.cfg.Now())
	if err != nil || !done {
		return e, err
	}
	var errs []error
	if a, err := r.store.Agent(ctx, tenantID, before.AgentID); err == nil && a.Status == StatusAvailable {
		if _, err := r.SetStatus(ctx, tenantID, a.ID, StatusAway); err != nil {
			errs = append(errs, err)
		}
	}
	q, err := r.store.Queue(ctx, tenantID, e.QueueID)
	if err != nil {
		return e, errors.Join(append(errs, err)...)
	}
	e, err = r.offerEntry(ctx, e, q)
	r.publishEntry(ctx, e, err, before.AgentID)
	return e, errors.Join(append(errs, err)...)
}

// OfferJob is the conversation.JobHandler of JobOffer. At the offer's
// deadline, an offer not accepted goes back to the queue and to another
// agent, and its agent is set away. An accepted one whose conversation
// did not become the agent's (the node stopped between the two steps) is
// assigned now.
func (r *Router) OfferJob(ctx context.Context, j conversation.Job) error {
	offer, err := strconv.ParseInt(string(j.Payload), 10, 64)
	if err != nil {
		return &conversation.JobError{Err: fmt.Errorf("bad offer %q", j.Payload), Permanent: true}
	}
	e, err := r.store.Entry(ctx, j.TenantID, j.Ref)
	if conversation.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case e.State == EntryOffered && e.Version == offer:
		if wait := e.Deadline.Sub(r.cfg.Now()); wait > 0 {
			return &conversation.JobError{Err: errors.New("the offer is still open"), RetryAfter: wait}
		}
		_, err = r.expire(ctx, j.TenantID, j.Ref, offer)
		return err
	case e.State == EntryAssigned && e.Version == offer+1:
		_, err = r.assign(ctx, e)
		return err
	}
	return nil
}

// HandleAction carries out the bot's handoff action: the conversation is
// queued by the rules, with what the bot knew (reason, intent, sentiment),
// and the contact is told where they stand. A second call for the same
// conversation finds it queued and tells the same. A tenant without queues
// leaves the conversation queued in the model only (logged).
func (r *Router) HandleAction(ctx context.Context, t conversation.Turn, a conversation.Action) ([]conversation.Part, error) {
	if a.Name != conversation.ActionHandoff {
		return nil, fmt.Errorf("the router carries out %s, not %s", conversation.ActionHandoff, a.Name)
	}
	_, err := r.Enqueue(ctx, t.Tenant.ID, t.Conversation.ID, QueueRequest{
		Reason: a.Params["reason"], Intent: a.Params["intent"], Sentiment: a.Params["sentiment"],
	})
	if conversation.IsConflict(err) {
		// No queues yet, or the conversation moved on (closed, taken by
		// an agent): it stays as the service left it, visible to agents.
		r.cfg.Logger.Warn("handoff not routed", "tenant", t.Tenant.ID, "conversation", t.Conversation.ID, "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	w, err := r.Position(ctx, t.Tenant.ID, t.Conversation.ID)
	if err != nil || w.Position == 0 {
		return nil, err // offered already: the agent greets them
	}
	lang := a.Params["language"]
	if lang == "" {
		lang = t.Tenant.Language
	}
	return []conversation.Part{conversation.TextPart(WaitText(w, t.Tenant, lang))}, nil
}

var _ conversation.ActionHandler = (*Router)(nil)

// Wait is where a waiting contact stands.
type Wait struct {
	// Position is 1 for the next to be served; 0 when an agent has it.
	Position int `json:"position"`
	// Expected is the expected wait from the queue's recent pace; 0 when
	// unknown.
	Expected time.Duration `json:"expected"`
	// Open says whether the queue is within its hours; OpensAt is when it
	// next opens when not.
	Open    bool      `json:"open"`
	OpensAt time.Time `json:"opens_at,omitzero"`
}

// recentForPace is how many recent assignments set a queue's pace.
const recentForPace = 20

// Position tells where a waiting conversation stands in its queue, its
// expected wait from the pace at which the queue's conversations were
// assigned lately, and whether the queue is open. Returns ENOTFOUND when
// the conversation is not the tenant's or not handed to agents.
func (r *Router) Position(ctx context.Context, tenantID, conversationID int64) (Wait, error) {
	e, err := r.store.Entry(ctx, tenantID, conversationID)
	if err != nil {
		return Wait{}, err
	}
	pos, err := r.store.Position(ctx, tenantID, conversationID)
	if err != nil {
		return Wait{}, err
	}
	q, err := r.store.Queue(ctx, tenantID, e.QueueID)
	if err != nil {
		return Wait{}, err
	}
	tenant, err := r.dir.Tenant(ctx, tenantID)
	if err != nil {
		return Wait{}, err
	}
	now := r.cfg.Now()
	w := Wait{Position: pos}
	w.Open, w.OpensAt = OpenAt(q.Hours, CalendarOf(tenant), now)
	if pos == 0 {
		return w, nil
	}
	recent, err := r.store.RecentAssignments(ctx, tenantID, q.ID, recentForPace)
	if err != nil {
		return Wait{}, err
	}
	if n := len(recent); n >= 2 {
		// The pace: one assignment every span/(n-1), counting the time
		// since the latest so that a stalled queue does not look fast.
		latest := recent[0]
		if now.After(latest) {
			latest = now
		}
		span := latest.Sub(recent[n-1])
		if span > 0 {
			w.Expected = time.Duration(int64(span) / int64(n-1) * int64(pos))
		}
	}
	return w, nil
}

// WaitText tells a contact where they stand, in Spanish or English.
func WaitText(w Wait, tenant conversation.Tenant, lang string) string {
	en := lang == "en"
	if !w.Open {
		if w.OpensAt.IsZero() {
			if en {
				return "Our team is not available right now. Your message is saved and we will answer as soon as we can."
			}
			return "Nuestro equipo no está disponible en este momento. Tu mensaje quedó guardado y te responderemos lo antes posible."
		}
		at := w.OpensAt.In(CalendarOf(tenant).Location)
		if en {
			return fmt.Sprintf("Our team is available from %s. Your message is saved and we will answer then.", at.Format("Monday January 2 at 3:04 PM"))
		}
		return fmt.Sprintf("Nuestro equipo atiende a partir del %s %d de %s a las %s. Tu mensaje quedó guardado y te responderemos entonces.",
			weekdaysES[at.Weekday()], at.Day(), monthsES[at.Month()-1], at.Format("15:04"))
	}
	minutes := int((w.Expected + time.Minute - 1) / time.Minute)
	switch {
	case en && w.Expected > 0:
		return fmt.Sprintf("You are number %d in line. Expected wait: about %d min. You can keep writing; nothing is lost.", w.Position, minutes)
	case en:
		return fmt.Sprintf("You are number %d in line. An agent will be with you soon; you can keep writing.", w.Position)
	case w.Expected > 0:
		return fmt.Sprintf("Estás en el puesto %d de la fila. Tiempo estimado: unos %d min. Puedes seguir escribiendo; no se pierde nada.", w.Position, minutes)
	}
	return fmt.Sprintf("Estás en el puesto %d de la fila. Un asesor te atenderá pronto; puedes seguir escribiendo.", w.Position)
}

var weekdaysES = [...]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"}

// QueueView is a queue as a supervisor sees it live.
type QueueView struct {
	Queue Queue `json:"queue"`
	QueueStats
	// LongestWait is how long the oldest waiting conversation has waited.
	LongestWait time.Duration `json:"longest_wait"`
	// Available counts the available agents who serve the queue.
	Available int `json:"available"`
}

// QueueStats returns every queue of the tenant with its waiting, offered
// and assigned counts, its longest wait and its available agents.
func (r *Router) QueueStats(ctx context.Context, tenantID int64) ([]QueueView, error) {
	queues, err := r.store.ListQueues(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	stats, err := r.store.QueueStats(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	agents, err := r.store.ListAgents(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	now := r.cfg.Now()
	out := make([]QueueView, len(queues))
	for i, q := range queues {
		out[i] = QueueView{Queue: q, QueueStats: QueueStats{QueueID: q.ID}}
		if j := slices.IndexFunc(stats, func(s QueueStats) bool { return s.QueueID == q.ID }); j >= 0 {
			out[i].QueueStats = stats[j]
			if !stats[j].OldestWaiting.IsZero() {
				out[i].LongestWait = max(now.Sub(stats[j].OldestWaiting), 0)
			}
		}
		for _, a := range agents {
			if a.Status == StatusAvailable && Eligible(a, q) {
				out[i].Available++
			}
		}
	}
	return out, nil
}

// AgentStats returns the tenant's agents with their status, since when,
// and their load against capacity.
func (r *Router) AgentStats(ctx context.Context, tenantID int64) ([]Agent, error) {
	return r.store.ListAgents(ctx, tenantID)
}

// Routing event types.
const (
	// EventEntry carries a conversation handed to agents that was queued,
	// offered, assigned or moved.
	EventEntry = "routing.entry"
	// EventEntryRemoved carries a conversation that left an agent or the
	// queues: closed, returned to the bot, or transferred away.
	EventEntryRemoved = "routing.entry_removed"
	// EventAgent carries an agent whose status or profile changed.
	EventAgent = "routing.agent"
)

// RoutingEvent is published on the Bus after a routing change commits, on
// RoutingTopic for supervisors and on the AgentTopic of each agent it
// concerns, so that a console on any node sees its offers at once. Like
// every Bus message it may be lost: a console that reconnects reads the
// store (ListEntries).
type RoutingEvent struct {
	Type     string    `json:"type"`
	TenantID int64     `json:"tenant_id"`
	Entry    *Entry    `json:"entry,omitempty"`
	Agent    *Agent    `json:"agent,omitempty"`
	At       time.Time `json:"at"`
}

// RoutingTopic is the Bus topic of a tenant's routing events.
func RoutingTopic(tenantID int64) string {
	return "routing." + strconv.FormatInt(tenantID, 10)
}

// AgentTopic is the Bus topic of the routing events that concern one
// agent: offers, assignments, and what leaves them.
func AgentTopic(tenantID, agentID int64) string {
	return "agent." + strconv.FormatInt(tenantID, 10) + "." + strconv.FormatInt(agentID, 10)
}

// publishEntry publishes e after a change that succeeded; from is an agent
// it left, if any, who is told so.
func (r *Router) publishEntry(ctx context.Context, e Entry, err error, from int64) {
	if err != nil || e.ConversationID == 0 {
		return
	}
	if from != 0 && from != e.AgentID {
		r.publish(ctx, RoutingEvent{Type: EventEntryRemoved, TenantID: e.TenantID, Entry: &e}, AgentTopic(e.TenantID, from))
	}
	topics := []string{RoutingTopic(e.TenantID)}
	if e.AgentID != 0 {
		topics = append(topics, AgentTopic(e.TenantID, e.AgentID))
	}
	r.publish(ctx, RoutingEvent{Type: EventEntry, TenantID: e.TenantID, Entry: &e}, topics...)
}

// publishAgent publishes a change of an agent.
func (r *Router) publishAgent(ctx context.Context, a Agent) {
	r.publish(ctx, RoutingEvent{Type: EventAgent, TenantID: a.TenantID, Agent: &a}, RoutingTopic(a.TenantID), AgentTopic(a.TenantID, a.ID))
}

// publish sends ev to topics. The change is committed: a lost event only
// delays what consoles see until they read the store again.
func (r *Router) publish(ctx context.Context, ev RoutingEvent, topics ...string) {
	if r.cfg.Bus == nil {
		return
	}
	ev.At = r.cfg.Now()
	payload, err := json.Marshal(ev)
	if err != nil {
		r.cfg.Logger.Error("encode routing event", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, t := range topics {
		if err := r.cfg.Bus.Publish(ctx, t, payload); err != nil {
			r.cfg.Logger.Warn("publish routing event", "topic", t, "err", err)
		}
	}
}

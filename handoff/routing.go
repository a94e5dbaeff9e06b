package handoff

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"conversa/conversation"
)

// Role is what a person may do in the console.
type Role string

// Roles. A supervisor (and an admin) may act on any conversation of the
// tenant: reassign, transfer, close. An agent acts on their own.
const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleAgent      Role = "agent"
)

// Supervises reports whether r may act on conversations of other agents.
func (r Role) Supervises() bool { return r == RoleAdmin || r == RoleSupervisor }

// AgentStatus is an agent's availability.
type AgentStatus string

// Agent statuses. Only an available agent is offered conversations; a busy
// or away one keeps what they hold; an offline one too, but their console
// is gone (see Router.SetStatus).
const (
	StatusAvailable AgentStatus = "available"
	StatusBusy      AgentStatus = "busy"
	StatusAway      AgentStatus = "away"
	StatusOffline   AgentStatus = "offline"
)

// Valid reports whether s is a known status.
func (s AgentStatus) Valid() bool {
	return s == StatusAvailable || s == StatusBusy || s == StatusAway || s == StatusOffline
}

// Agent is a person who answers conversations.
type Agent struct {
	ID       int64  `json:"id"`
	TenantID int64  `json:"tenant_id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	Role     Role   `json:"role"`
	// Skills are lower-case words such as "billing", "orders", "en".
	Skills []string `json:"skills"`
	// Teams are the ids of the teams the agent belongs to.
	Teams []int64 `json:"teams"`
	// Capacity is how many conversations the agent holds at once.
	Capacity int `json:"capacity"`

	Status      AgentStatus `json:"status"`
	StatusSince time.Time   `json:"status_since"`
	// Load is how many conversations are offered to or held by the agent;
	// the store keeps it at most Capacity.
	Load int `json:"load"`
	// IdleSince is when the agent last became available, was offered a
	// conversation or let one go: skills_longest_idle offers to the
	// earliest.
	IdleSince time.Time `json:"idle_since"`
	// LastOfferedAt is when the agent was last offered a conversation:
	// round_robin offers to the earliest.
	LastOfferedAt time.Time `json:"last_offered_at,omitzero"`
	// SeenAt is the console's last sign of life (Router.Touch).
	SeenAt    time.Time `json:"seen_at,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Team is a group of agents; a queue may be served by one team only.
type Team struct {
	ID        int64     `json:"id"`
	TenantID  int64     `json:"tenant_id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Strategy is how a queue chooses the agent of a waiting conversation.
type Strategy string

// Routing strategies.
const (
	// StrategyLongestIdle offers to the available agent with the queue's
	// skills and free capacity who has been idle longest.
	StrategyLongestIdle Strategy = "skills_longest_idle"
	// StrategyRoundRobin offers to the eligible agent who was offered a
	// conversation least recently, so that agents take turns.
	StrategyRoundRobin Strategy = "round_robin"
	// StrategyManual offers nothing: agents pick from the queue.
	StrategyManual Strategy = "manual"
)

// Queue is where conversations wait for an agent.
type Queue struct {
	ID       int64    `json:"id"`
	TenantID int64    `json:"tenant_id"`
	Name     string   `json:"name"`
	Strategy Strategy `json:"strategy"`
	// Skills are what an agent needs, all of them, to serve the queue.
	Skills []string `json:"skills"`
	// TeamID, when set, limits the queue to the team's agents.
	TeamID int64 `json:"team_id,omitempty"`
	// Priority is the base priority of the queue's conversations: an agent
	// who serves several queues gets the highest priority first, then the
	// longest waiting.
	Priority int `json:"priority"`
	// AcceptTimeout is how long an agent has to accept an offer before the
	// conversation goes back to the queue; default DefaultAcceptTimeout.
	AcceptTimeout time.Duration `json:"accept_timeout"`
	// Hours are the opening hours, in the tenant's time zone and skipping
	// its holidays; none means always open.
	Hours     []Span    `json:"hours,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DefaultAcceptTimeout is a queue's time to accept an offer by default.
const DefaultAcceptTimeout = 30 * time.Second

// Rule chooses the queue and the priority of a conversation handed to
// agents. A rule matches when every condition it sets matches: the intent
// the bot found, the channel, a contact attribute (vip = true). The first
// matching rule with a QueueID chooses the queue; the PriorityBoost of
// every matching rule adds up.
type Rule struct {
	Intent    string `json:"intent,omitempty"`
	Channel   string `json:"channel,omitempty"`
	Attribute string `json:"attribute,omitempty"`
	Value     string `json:"value,omitempty"`

	QueueID       int64 `json:"queue_id,omitempty"`
	PriorityBoost int   `json:"priority_boost,omitempty"`
}

// EntryState is where a conversation handed to agents stands.
type EntryState string

// Entry states. A conversation has at most one entry, so at most one agent.
const (
	EntryWaiting  EntryState = "waiting"  // in its queue
	EntryOffered  EntryState = "offered"  // offered to AgentID until Deadline
	EntryAssigned EntryState = "assigned" // AgentID owns it
)

// Entry is a conversation handed to agents: waiting in a queue, offered to
// an agent, or assigned to one.
type Entry struct {
	TenantID       int64      `json:"tenant_id"`
	ConversationID int64      `json:"conversation_id"`
	QueueID        int64      `json:"queue_id"`
	Priority       int        `json:"priority"`
	State          EntryState `json:"state"`
	AgentID        int64      `json:"agent_id,omitempty"`
	// Version counts the entry's changes. An offer is known by the
	// version it made: accepting names it, so that an offer that expired
	// (a later version) cannot be accepted.
	Version    int64     `json:"version"`
	Deadline   time.Time `json:"deadline,omitzero"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	AssignedAt time.Time `json:"assigned_at,omitzero"`
	// Reason, Intent and Sentiment are what the bot knew when it handed
	// the conversation over; Note is the last transfer's note.
	Reason    string `json:"reason,omitempty"`
	Intent    string `json:"intent,omitempty"`
	Sentiment string `json:"sentiment,omitempty"`
	Note      string `json:"note,omitempty"`
}

// Eligibility says which agents may serve a queue: available, with free
// capacity, every skill, and in the team when one is set.
type Eligibility struct {
	QueueID  int64
	Strategy Strategy
	Skills   []string
	TeamID   int64
	Timeout  time.Duration
}

// AgentOffer offers an agent the best waiting conversations of the queues
// they serve, up to their free capacity.
type AgentOffer struct {
	TenantID int64
	AgentID  int64
	// Queues are the queues the agent may be offered from, with their
	// accept timeouts.
	Queues map[int64]time.Duration
	At     time.Time
}

// Claim makes an entry assigned to AgentID: accepting an offer (From
// EntryOffered, Offer set), picking from the queue (From EntryWaiting), or
// a transfer between agents (From EntryAssigned, Holder set).
type Claim struct {
	TenantID       int64
	ConversationID int64
	AgentID        int64
	From           EntryState
	Offer          int64
	Holder         int64
	Note           string
	At             time.Time
}

// Requeue puts an offered or assigned conversation back in a queue: a
// transfer to a queue, or an agent who lets it go.
type Requeue struct {
	TenantID       int64
	ConversationID int64
	QueueID        int64
	Priority       int
	Note           string
	At             time.Time
}

// QueueStats is a queue's live state for supervisors.
type QueueStats struct {
	QueueID  int64 `json:"queue_id"`
	Waiting  int   `json:"waiting"`
	Offered  int   `json:"offered"`
	Assigned int   `json:"assigned"`
	// OldestWaiting is when the longest-waiting conversation was queued;
	// zero when none waits.
	OldestWaiting time.Time `json:"oldest_waiting,omitzero"`
}

// JobOffer is the kind of the durable job that ends an offer at its
// deadline: an offer not accepted by then goes back to the queue.
const JobOffer = "handoff_offer"

// RoutingStore keeps agents, teams, queues, rules and the conversations
// handed to agents. storage/sqlite and storage/postgres implement it,
// proven by handofftest.TestRoutingStore. Every method is safe for
// concurrent use, also from several processes sharing one database, and
// scoped to one tenant: another tenant's ids are ENOTFOUND.
//
// Two invariants hold whatever runs concurrently: a conversation has at
// most one entry, so at most one agent; an agent's Load, the number of
// entries offered to or assigned to them, never exceeds their Capacity.
type RoutingStore interface {
	// CreateAgent stores a new agent, validated by the caller, with status
	// offline. Returns ECONFLICT if the tenant has an agent with the email,
	// ENOTFOUND if the tenant does not exist.
	CreateAgent(ctx context.Context, a Agent) (Agent, error)
	// UpdateAgent stores the name, email, role, skills, teams and capacity
	// of a. A capacity below the agent's load takes effect as conversations
	// end. Returns ENOTFOUND or ECONFLICT as CreateAgent.
	UpdateAgent(ctx context.Context, a Agent) (Agent, error)
	// Agent returns ENOTFOUND unless id is the tenant's.
	Agent(ctx context.Context, tenantID, id int64) (Agent, error)
	// ListAgents returns the tenant's agents by id.
	ListAgents(ctx context.Context, tenantID int64) ([]Agent, error)
	// SetAgentStatus changes the agent's status at at. When the status
	// changes, StatusSince becomes at, and IdleSince too on becoming
	// available. An agent who is no longer available loses the offers
	// they have not accepted: those entries wait again (returned).
	SetAgentStatus(ctx context.Context, tenantID, id int64, st AgentStatus, at time.Time) (Agent, []Entry, error)
	// SetAgentOfflineIfSilent sets the agent offline at at as
	// SetAgentStatus does, but only when they are not offline and their
	// console has not been heard from after since (SeenAt, else
	// StatusSince), checked and changed in one transaction so that a
	// touch cannot slip between; changed says whether it did.
	SetAgentOfflineIfSilent(ctx context.Context, tenantID, id int64, since, at time.Time) (a Agent, back []Entry, changed bool, err error)
	// TouchAgent records a sign of life of the agent's console at at.
	TouchAgent(ctx context.Context, tenantID, id int64, at time.Time) error
	// StaleAgents returns the agents of every tenant who are not offline
	// and whose console was last seen before before (never counts as
	// StatusSince).
	StaleAgents(ctx context.Context, before time.Time) ([]Agent, error)

	// CreateTeam stores a new team. Returns ECONFLICT if the name is taken.
	CreateTeam(ctx context.Context, t Team) (Team, error)
	// ListTeams returns the tenant's teams by id.
	ListTeams(ctx context.Context, tenantID int64) ([]Team, error)

	// CreateQueue stores a new queue, validated by the caller. Returns
	// ECONFLICT if the name is taken.
	CreateQueue(ctx context.Context, q Queue) (Queue, error)
	// UpdateQueue stores everything but the ids and CreatedAt.
	UpdateQueue(ctx context.Context, q Queue) (Queue, error)
	// Queue returns ENOTFOUND unless id is the tenant's.
	Queue(ctx context.Context, tenantID, id int64) (Queue, error)
	// ListQueues returns the tenant's queues by id.
	ListQueues(ctx context.Context, tenantID int64) ([]Queue, error)

	// SetRules replaces the tenant's routing rules, in order.
	SetRules(ctx context.Context, tenantID int64, rules []Rule) error
	// Rules returns the tenant's routing rules in order.
	Rules(ctx context.Context, tenantID int64) ([]Rule, error)

	// Enqueue stores e as a waiting entry (version 1) and reports true. If
	// the conversation has an entry already, it returns that one and false.
	// The caller has checked that the conversation and queue are the
	// tenant's.
	Enqueue(ctx context.Context, e Entry) (Entry, bool, error)
	// Entry returns the conversation's entry, ENOTFOUND if it has none.
	Entry(ctx context.Context, tenantID, conversationID int64) (Entry, error)
	// ListEntries returns the tenant's entries of a queue (0: all) and an
	// agent (0: all), in the order they are served: priority, then time
	// waited.
	ListEntries(ctx context.Context, tenantID, queueID, agentID int64) ([]Entry, error)
	// OfferToAgent offers an available agent the waiting entries of
	// o.Queues, best first (priority, then time waited), up to the
	// agent's free capacity, in one transaction that also schedules a
	// JobOffer job per offer at its deadline (Ref the conversation,
	// Payload the offer's version). Entries another caller is handling are
	// skipped. Returns the offered entries.
	OfferToAgent(ctx context.Context, o AgentOffer) ([]Entry, error)
	// OfferEntry offers a waiting entry to the best agent that e allows
	// (see Strategy), in one transaction with its JobOffer job. It returns
	// the entry as it is after: still waiting when no agent is free or the
	// entry was not waiting.
	OfferEntry(ctx context.Context, tenantID, conversationID int64, e Eligibility, at time.Time) (Entry, error)
	// Claim assigns an entry to c.AgentID (see Claim). Accepting an offer
	// already accepted with the same offer returns the entry. Returns
	// ECONFLICT when the entry is not in c.From (an offer that expired or
	// went to someone else, a conversation another agent picked), when an
	// offer's deadline has passed, or when the agent has no free capacity;
	// ENOTFOUND when the conversation or agent has no such entry or agent.
	Claim(ctx context.Context, c Claim) (Entry, error)
	// Expire puts an entry offered with version offer back to waiting,
	// freeing the agent's capacity, and reports whether it did; an entry
	// past that offer is returned unchanged.
	Expire(ctx context.Context, tenantID, conversationID, offer int64, at time.Time) (Entry, bool, error)
	// Requeue puts an offered or assigned entry back to waiting in
	// r.QueueID, freeing its agent's capacity; a waiting one changes queue.
	Requeue(ctx context.Context, r Requeue) (Entry, error)
	// Release removes the conversation's entry, freeing its agent's
	// capacity, and records the assignment's end with disposition in the
	// history. Returns the removed entry.
	Release(ctx context.Context, tenantID, conversationID int64, disposition string, at time.Time) (Entry, error)
	// Position returns how many entries of the same queue wait before the
	// conversation's, plus one; 0 if it is offered or assigned.
	Position(ctx context.Context, tenantID, conversationID int64) (int, error)
	// QueueStats returns the counts of each of the tenant's queues that
	// has entries.
	QueueStats(ctx context.Context, tenantID int64) ([]QueueStats, error)
	// RecentAssignments returns when the latest n conversations of the
	// queue were assigned, newest first.
	RecentAssignments(ctx context.Context, tenantID, queueID int64, n int) ([]time.Time, error)
}

// Limits of routing configuration.
const (
	maxCapacity = 100
	maxSkills   = 50
	maxName     = 200
	maxRules    = 200
	maxNote     = 2000
)

// NormalizeSkills lower-cases, sorts and de-duplicates skills, and checks
// that each is a word of letters, digits, dots and dashes.
func NormalizeSkills(field string, skills []string) ([]string, error) {
	out := make([]string, 0, len(skills))
	for _, s := range skills {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" || len(s) > 64 || strings.IndexFunc(s, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-')
		}) >= 0 {
			return nil, conversation.FieldError(field, "%q is not a skill: use letters, digits, dots and dashes", s)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxSkills {
		return nil, conversation.FieldError(field, "more than %d skills", maxSkills)
	}
	return out, nil
}

// Validate normalizes and checks an agent before it is stored.
func (a *Agent) Validate() error {
	a.Name, a.Email = strings.TrimSpace(a.Name), strings.ToLower(strings.TrimSpace(a.Email))
	if a.Role == "" {
		a.Role = RoleAgent
	}
	if a.Capacity == 0 {
		a.Capacity = 1
	}
	var err error
	switch {
	case a.Name == "" || utf8.RuneCountInString(a.Name) > maxName:
		return conversation.FieldError("name", "an agent needs a name of at most %d characters", maxName)
	case a.Email != "" && !validEmail(a.Email):
		return conversation.FieldError("email", "%q is not an email address", a.Email)
	case a.Role != RoleAdmin && a.Role != RoleSupervisor && a.Role != RoleAgent:
		return conversation.FieldError("role", "must be admin, supervisor or agent")
	case a.Capacity < 1 || a.Capacity > maxCapacity:
		return conversation.FieldError("capacity", "must be 1 to %d conversations", maxCapacity)
	}
	if a.Skills, err = NormalizeSkills("skills", a.Skills); err != nil {
		return err
	}
	slices.Sort(a.Teams)
	a.Teams = slices.Compact(a.Teams)
	if slices.ContainsFunc(a.Teams, func(id int64) bool { return id <= 0 }) {
		return conversation.FieldError("teams", "team ids are positive")
	}
	return nil
}

func validEmail(s string) bool {
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Address == s
}

// Validate normalizes and checks a queue before it is stored.
func (q *Queue) Validate() error {
	q.Name = strings.TrimSpace(q.Name)
	if q.Strategy == "" {
		q.Strategy = StrategyLongestIdle
	}
	if q.AcceptTimeout == 0 {
		q.AcceptTimeout = DefaultAcceptTimeout
	}
	var err error
	switch {
	case q.Name == "" || utf8.RuneCountInString(q.Name) > maxName:
		return conversation.FieldError("name", "a queue needs a name of at most %d characters", maxName)
	case q.Strategy != StrategyLongestIdle && q.Strategy != StrategyRoundRobin && q.Strategy != StrategyManual:
		return conversation.FieldError("strategy", "must be skills_longest_idle, round_robin or manual")
	case q.AcceptTimeout < 5*time.Second || q.AcceptTimeout > time.Hour:
		return conversation.FieldError("accept_timeout", "must be 5 seconds to 1 hour")
	case q.Priority < -1000 || q.Priority > 1000:
		return conversation.FieldError("priority", "must be -1000 to 1000")
	case q.TeamID < 0:
		return conversation.FieldError("team_id", "must be a team's id")
	}
	if q.Skills, err = NormalizeSkills("skills", q.Skills); err != nil {
		return err
	}
	for i, s := range q.Hours {
		if err := s.validate(); err != nil {
			return conversation.FieldError("hours", "span %d: %v", i+1, err)
		}
	}
	return nil
}

// ValidateRules checks a tenant's rules; queue ids are checked by the
// Router against the tenant's queues.
func ValidateRules(rules []Rule) error {
	if len(rules) > maxRules {
		return conversation.FieldError("rules", "more than %d rules", maxRules)
	}
	for i := range rules {
		r := &rules[i]
		r.Intent, r.Channel, r.Attribute = strings.TrimSpace(r.Intent), strings.TrimSpace(r.Channel), strings.TrimSpace(r.Attribute)
		switch {
		case r.Intent == "" && r.Channel == "" && r.Attribute == "":
			// A rule without conditions matches everything: the default.
		case r.Attribute == "" && r.Value != "":
			return conversation.FieldError("rules", "rule %d: a value needs its attribute", i+1)
		}
		if r.Channel != "" && !conversation.ChannelKind(r.Channel).Valid() {
			return conversation.FieldError("rules", "rule %d: unknown channel %q", i+1, r.Channel)
		}
		if r.QueueID == 0 && r.PriorityBoost == 0 {
			return conversation.FieldError("rules", "rule %d: a rule sets a queue or a priority boost", i+1)
		}
		if r.PriorityBoost < -1000 || r.PriorityBoost > 1000 {
			return conversation.FieldError("rules", "rule %d: the boost must be -1000 to 1000", i+1)
		}
	}
	return nil
}

// matches reports whether the rule applies to a conversation.
func (r Rule) matches(intent string, ch conversation.ChannelKind, attrs map[string]string) bool {
	if r.Intent != "" && !strings.EqualFold(r.Intent, intent) {
		return false
	}
	if r.Channel != "" && r.Channel != string(ch) {
		return false
	}
	if r.Attribute != "" {
		v, ok := attrs[r.Attribute]
		if !ok || (r.Value != "" && !strings.EqualFold(v, r.Value)) {
			return false
		}
	}
	return true
}

// Eligible reports whether an agent may serve a queue: its team, its
// skills. Status and capacity are the store's to check.
func Eligible(a Agent, q Queue) bool {
	if q.TeamID != 0 && !slices.Contains(a.Teams, q.TeamID) {
		return false
	}
	for _, s := range q.Skills {
		if !slices.Contains(a.Skills, s) {
			return false
		}
	}
	return true
}

// OfferJobKey is the key of the JobOffer job of the offer that made e:
// one job per offer.
func OfferJobKey(e Entry) string {
	return "offer:" + strconv.FormatInt(e.ConversationID, 10) + ":" + strconv.FormatInt(e.Version, 10)
}

// CheckClaim says whether c may apply to e, as it was read: nil when it
// may, and also when c was already applied (e is assigned to c.AgentID by
// the same claim), which stores return unchanged. Stores call it in the
// claim's transaction.
func CheckClaim(e Entry, c Claim) error {
	already := e.State == EntryAssigned && e.AgentID == c.AgentID
	switch c.From {
	case EntryOffered:
		switch {
		case already && e.Version == c.Offer+1:
			return nil
		case e.State != EntryOffered || e.Version != c.Offer || e.AgentID != c.AgentID:
			return conversation.Errorf(conversation.ECONFLICT, "the offer is no longer open: the conversation went back to the queue or to someone else")
		case !c.At.Before(e.Deadline):
			return conversation.Errorf(conversation.ECONFLICT, "the offer expired")
		}
	case EntryWaiting:
		if !already && e.State != EntryWaiting {
			return conversation.Errorf(conversation.ECONFLICT, "the conversation is no longer waiting")
		}
	case EntryAssigned:
		if !already && (e.State != EntryAssigned || e.AgentID != c.Holder) {
			return conversation.Errorf(conversation.ECONFLICT, "the conversation is not assigned to agent %d", c.Holder)
		}
	default:
		return fmt.Errorf("claim from %q", c.From)
	}
	return nil
}

// The stores keep lists (an agent's skills and teams) as ",a,b,", so that
// membership is a LIKE '%,x,%' on both; skills are words of [a-z0-9.-],
// which LIKE does not treat specially. JoinList and SplitList, JoinIDs and
// SplitIDs write and read that form.

// JoinList returns ss in the stored form.
func JoinList(ss []string) string {
	if len(ss) == 0 {
		return ","
	}
	return "," + strings.Join(ss, ",") + ","
}

// SplitList reads a list in the stored form.
func SplitList(s string) []string {
	s = strings.Trim(s, ",")
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// JoinIDs returns ids in the stored form.
func JoinIDs(ids []int64) string {
	ss := make([]string, len(ids))
	for i, id := range ids {
		ss[i] = strconv.FormatInt(id, 10)
	}
	return JoinList(ss)
}

// SplitIDs reads a list of ids in the stored form.
func SplitIDs(s string) []int64 {
	ids := []int64{}
	for _, f := range SplitList(s) {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	return ids
}

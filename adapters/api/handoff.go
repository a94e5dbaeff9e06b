package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// Routing is what the API needs of the router to manage agents, teams,
// queues and rules and to act on assignments. *handoff.Router implements
// it; see its methods for the error codes.
type Routing interface {
	CreateAgent(ctx context.Context, a handoff.Agent) (handoff.Agent, error)
	UpdateAgent(ctx context.Context, a handoff.Agent) (handoff.Agent, error)
	SetStatus(ctx context.Context, tenantID, agentID int64, st handoff.AgentStatus) (handoff.Agent, error)
	CreateTeam(ctx context.Context, t handoff.Team) (handoff.Team, error)
	CreateQueue(ctx context.Context, q handoff.Queue) (handoff.Queue, error)
	UpdateQueue(ctx context.Context, q handoff.Queue) (handoff.Queue, error)
	SetRules(ctx context.Context, tenantID int64, rules []handoff.Rule) error
	QueueStats(ctx context.Context, tenantID int64) ([]handoff.QueueView, error)
	Enqueue(ctx context.Context, tenantID, conversationID int64, req handoff.QueueRequest) (handoff.Entry, error)
	Accept(ctx context.Context, tenantID, agentID, conversationID, offer int64) (handoff.Entry, error)
	Pick(ctx context.Context, tenantID, agentID, conversationID int64) (handoff.Entry, error)
	Transfer(ctx context.Context, tenantID, actorID, conversationID int64, t handoff.Transfer) (handoff.Entry, error)
	Close(ctx context.Context, tenantID, actorID, conversationID int64, disposition string, returnToBot bool) error
}

// RoutingReader is what the API reads of routing. handoff.RoutingStore
// implements it.
type RoutingReader interface {
	Agent(ctx context.Context, tenantID, id int64) (handoff.Agent, error)
	ListAgents(ctx context.Context, tenantID int64) ([]handoff.Agent, error)
	ListTeams(ctx context.Context, tenantID int64) ([]handoff.Team, error)
	Queue(ctx context.Context, tenantID, id int64) (handoff.Queue, error)
	ListQueues(ctx context.Context, tenantID int64) ([]handoff.Queue, error)
	Rules(ctx context.Context, tenantID int64) ([]handoff.Rule, error)
	Entry(ctx context.Context, tenantID, conversationID int64) (handoff.Entry, error)
	ListEntries(ctx context.Context, tenantID, queueID, agentID int64) ([]handoff.Entry, error)
}

var (
	_ Routing       = (*handoff.Router)(nil)
	_ RoutingReader = handoff.RoutingStore(nil)
	_ ConsoleStore  = handoff.ConsoleStore(nil)
)

// ConsoleStore keeps agents' passwords, notes and canned responses.
// handoff.ConsoleStore implements it.
type ConsoleStore interface {
	SetPassword(ctx context.Context, tenantID, agentID int64, hash string) error
	DeleteAgentSessions(ctx context.Context, tenantID, agentID int64, keep string) (int, error)
	CreateNote(ctx context.Context, n handoff.Note) (handoff.Note, error)
	Notes(ctx context.Context, tenantID, conversationID int64) ([]handoff.Note, error)
	CreateCanned(ctx context.Context, c handoff.Canned) (handoff.Canned, error)
	UpdateCanned(ctx context.Context, c handoff.Canned) (handoff.Canned, error)
	DeleteCanned(ctx context.Context, tenantID, id int64) error
	Canned(ctx context.Context, tenantID, id int64) (handoff.Canned, error)
	ListCanned(ctx context.Context, tenantID int64, prefix string, limit int) ([]handoff.Canned, error)
}

type handler = func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error

// withRouting serves a routing route, or answers 503 when the server has
// no router.
func withRouting(h handler) handler {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Routing == nil || a.cfg.RoutingStore == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no agent routing")
		}
		return h(a, w, r, t)
	}
}

// withConsole serves a route of notes or canned responses, or answers 503
// when the server has no console store (or, for notes, no routing).
func withConsole(h handler) handler {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Console == nil || a.cfg.RoutingStore == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no agent console store")
		}
		return h(a, w, r, t)
	}
}

// list is the body of the answers that list everything there is: a
// tenant's agents, teams, queues, a conversation's notes.
type list[T any] struct {
	Data []T `json:"data"`
}

// decodeRequest reads a JSON body into dst.
func (a *API) decodeRequest(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := a.readBody(w, r)
	if err != nil {
		return err
	}
	return decodeJSON(body, dst)
}

// agentRequest is the body of POST /agents and PATCH /agents/{id}: a
// missing field is left as it is (its default on creation).
type agentRequest struct {
	Name     *string       `json:"name"`
	Email    *string       `json:"email"`
	Role     *handoff.Role `json:"role"`
	Skills   *[]string     `json:"skills"`
	Teams    *[]int64      `json:"teams"`
	Capacity *int          `json:"capacity"`
	// Password sets the agent's console password ("" removes it); setting
	// it ends the agent's console sessions.
	Password *string `json:"password"`
}

func (req agentRequest) apply(ag *handoff.Agent) {
	set(&ag.Name, req.Name)
	set(&ag.Email, req.Email)
	set(&ag.Role, req.Role)
	set(&ag.Skills, req.Skills)
	set(&ag.Teams, req.Teams)
	set(&ag.Capacity, req.Capacity)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// passwordHash hashes a requested password before anything is stored, so
// that a bad one changes nothing; "" removes the password.
func (a *API) passwordHash(pw *string) (string, error) {
	if pw == nil || *pw == "" {
		return "", nil
	}
	if a.cfg.Console == nil {
		return "", conversation.Errorf(conversation.EUNAVAILABLE, "this server keeps no console passwords")
	}
	return handoff.HashPassword(*pw)
}

func (a *API) listAgents(w http.ResponseWriter, r *http.Request, t tenant) error {
	agents, err := a.cfg.RoutingStore.ListAgents(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list[handoff.Agent]{agents})
	return nil
}

func (a *API) createAgent(w http.ResponseWriter, r *http.Request, t tenant) error {
	var req agentRequest
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	hash, err := a.passwordHash(req.Password)
	if err != nil {
		return err
	}
	ag := handoff.Agent{TenantID: t.ID}
	req.apply(&ag)
	if ag.Skills == nil {
		ag.Skills = []string{}
	}
	if err := ag.Validate(); err != nil { // before the password is stored
		return err
	}
	ag, err = a.cfg.Routing.CreateAgent(r.Context(), ag)
	if err != nil {
		return err
	}
	if hash != "" {
		if err := a.cfg.Console.SetPassword(r.Context(), t.ID, ag.ID, hash); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusCreated, ag)
	return nil
}

func (a *API) getAgent(ctx context.Context, tenantID, id int64) (handoff.Agent, error) {
	return a.cfg.RoutingStore.Agent(ctx, tenantID, id)
}

func (a *API) updateAgent(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req agentRequest
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	ag, err := a.cfg.RoutingStore.Agent(ctx, t.ID, id)
	if err != nil {
		return err
	}
	if req.Password != nil && a.cfg.Console == nil {
		return conversation.Errorf(conversation.EUNAVAILABLE, "this server keeps no console passwords")
	}
	hash, err := a.passwordHash(req.Password)
	if err != nil {
		return err
	}
	req.apply(&ag)
	if ag, err = a.cfg.Routing.UpdateAgent(ctx, ag); err != nil {
		return err
	}
	if req.Password != nil {
		if err := a.cfg.Console.SetPassword(ctx, t.ID, id, hash); err != nil {
			return err
		}
		if _, err := a.cfg.Console.DeleteAgentSessions(ctx, t.ID, id, ""); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, ag)
	return nil
}

func (a *API) setAgentStatus(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req struct {
		Status handoff.AgentStatus `json:"status"`
	}
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	ag, err := a.cfg.Routing.SetStatus(r.Context(), t.ID, id, req.Status)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ag)
	return nil
}

func (a *API) listTeams(w http.ResponseWriter, r *http.Request, t tenant) error {
	teams, err := a.cfg.RoutingStore.ListTeams(r.Context(), t.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list[handoff.Team]{teams})
	return nil
}

func (a *API) createTeam(w http.ResponseWriter, r *http.Request, t tenant) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	team, err := a.cfg.Routing.CreateTeam(r.Context(), handoff.Team{TenantID: t.ID, Name: req.Name})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, team)
	return nil
}

// queueJSON is a queue as the API shows it: its accept timeout in seconds.
type queueJSON struct {
	handoff.Queue
	AcceptTimeout int64 `json:"accept_timeout"`
}

func queueOut(q handoff.Queue) queueJSON {
	return queueJSON{Queue: q, AcceptTimeout: int64(q.AcceptTimeout / time.Second)}
}

// queueRequest is the body of POST /queues and PATCH /queues/{id}: a
// missing field is left as it is (its default on creation).
type queueRequest struct {
	Name          *string           `json:"name"`
	Strategy      *handoff.Strategy `json:"strategy"`
	Skills        *[]string         `json:"skills"`
	TeamID        *int64            `json:"team_id"`
	Priority      *int              `json:"priority"`
	AcceptTimeout *int64            `json:"accept_timeout"`
	Hours         *[]handoff.Span   `json:"hours"`
}

func (req queueRequest) apply(q *handoff.Queue) error {
	set(&q.Name, req.Name)
	set(&q.Strategy, req.Strategy)
	set(&q.Skills, req.Skills)
	set(&q.TeamID, req.TeamID)
	set(&q.Priority, req.Priority)
	set(&q.Hours, req.Hours)
	if req.AcceptTimeout != nil {
		if *req.AcceptTimeout < 5 || *req.AcceptTimeout > 3600 {
			return conversation.FieldError("accept_timeout", "must be 5 to 3600 seconds")
		}
		q.AcceptTimeout = time.Duration(*req.AcceptTimeout) * time.Second
	}
	return nil
}

func (a *API) listQueues(w http.ResponseWriter, r *http.Request, t tenant) error {
	queues, err := a.cfg.RoutingStore.ListQueues(r.Context(), t.ID)
	if err != nil {
		return err
	}
	out := make([]queueJSON, len(queues))
	for i, q := range queues {
		out[i] = queueOut(q)
	}
	writeJSON(w, http.StatusOK, list[queueJSON]{out})
	return nil
}

func (a *API) createQueue(w http.ResponseWriter, r *http.Request, t tenant) error {
	var req queueRequest
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	q := handoff.Queue{TenantID: t.ID, Skills: []string{}}
	if err := req.apply(&q); err != nil {
		return err
	}
	q, err := a.cfg.Routing.CreateQueue(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, queueOut(q))
	return nil
}

func (a *API) getQueue(ctx context.Context, tenantID, id int64) (queueJSON, error) {
	q, err := a.cfg.RoutingStore.Queue(ctx, tenantID, id)
	return queueOut(q), err
}

func (a *API) updateQueue(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req queueRequest
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	q, err := a.cfg.RoutingStore.Queue(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	if err := req.apply(&q); err != nil {
		return err
	}
	if q, err = a.cfg.Routing.UpdateQueue(r.Context(), q); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, queueOut(q))
	return nil
}

// queueStatsJSON is a queue's live state, its longest wait in seconds.
type queueStatsJSON struct {
	Queue         queueJSON `json:"queue"`
	Waiting       int       `json:"waiting"`
	Offered       int       `json:"offered"`
	Assigned      int       `json:"assigned"`
	OldestWaiting time.Time `json:"oldest_waiting,omitzero"`
	LongestWait   float64   `json:"longest_wait"`
	Available     int       `json:"available"`
}

func (a *API) queueStats(w http.ResponseWriter, r *http.Request, t tenant) error {
	views, err := a.cfg.Routing.QueueStats(r.Context(), t.ID)
	if err != nil {
		return err
	}
	out := make([]queueStatsJSON, len(views))
	for i, v := range views {
		out[i] = queueStatsJSON{Queue: queueOut(v.Queue), Waiting: v.Waiting, Offered: v.Offered, Assigned: v.Assigned,
			OldestWaiting: v.OldestWaiting, LongestWait: v.LongestWait.Seconds(), Available: v.Available}
	}
	writeJSON(w, http.StatusOK, list[queueStatsJSON]{out})
	return nil
}

// rulesBody is the body of GET and PUT /routing-rules.
type rulesBody struct {
	Rules []handoff.Rule `json:"rules"`
}

func (a *API) getRules(w http.ResponseWriter, r *http.Request, t tenant) error {
	rules, err := a.cfg.RoutingStore.Rules(r.Context(), t.ID)
	if err != nil {
		return err
	}
	if rules == nil {
		rules = []handoff.Rule{}
	}
	writeJSON(w, http.StatusOK, rulesBody{rules})
	return nil
}

func (a *API) putRules(w http.ResponseWriter, r *http.Request, t tenant) error {
	var req rulesBody
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	if req.Rules == nil {
		return conversation.FieldError("rules", "send the rules, [] for none")
	}
	if err := a.cfg.Routing.SetRules(r.Context(), t.ID, req.Rules); err != nil {
		return err
	}
	return a.getRules(w, r, t)
}

// listAssignments lists the tenant's conversations handed to agents, of a
// queue and an agent when asked, in the order they are served.
func (a *API) listAssignments(w http.ResponseWriter, r *http.Request, t tenant) error {
	queueID, err := queryInt(r, "queue_id")
	if err != nil {
		return err
	}
	agentID, err := queryInt(r, "agent_id")
	if err != nil {
		return err
	}
	entries, err := a.cfg.RoutingStore.ListEntries(r.Context(), t.ID, queueID, agentID)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []handoff.Entry{}
	}
	writeJSON(w, http.StatusOK, list[handoff.Entry]{entries})
	return nil
}

func (a *API) getAssignment(ctx context.Context, tenantID, conversationID int64) (handoff.Entry, error) {
	if _, err := a.store.Conversation(ctx, tenantID, conversationID); err != nil {
		return handoff.Entry{}, err
	}
	e, err := a.cfg.RoutingStore.Entry(ctx, tenantID, conversationID)
	if conversation.IsNotFound(err) {
		return handoff.Entry{}, conversation.Errorf(conversation.ENOTFOUND, "the conversation is not handed to agents")
	}
	return e, err
}

// assignmentRequest is the body of the assignment actions. AgentID is the
// agent acting (who must own the conversation, unless a supervisor).
type assignmentRequest struct {
	AgentID int64 `json:"agent_id"`
	// Offer is the version of the offered entry being accepted.
	Offer int64 `json:"offer"`
	// ToAgentID or ToQueueID is where a transfer goes; Note is for them.
	ToAgentID int64  `json:"to_agent_id"`
	ToQueueID int64  `json:"to_queue_id"`
	Note      string `json:"note"`
	// Disposition and ReturnToBot end the agent's handling.
	Disposition string `json:"disposition"`
	ReturnToBot bool   `json:"return_to_bot"`
	// QueueID, Reason and Priority hand a conversation to agents.
	QueueID  int64  `json:"queue_id"`
	Reason   string `json:"reason"`
	Priority int    `json:"priority"`
}

// assignmentAction serves POST /conversations/{id}/assignment/<action>:
// do acts, and the conversation's entry after it is the answer (none after
// a close: 204).
func assignmentAction(do func(a *API, ctx context.Context, tenantID, conversationID int64, req assignmentRequest) (*handoff.Entry, error)) handler {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		var req assignmentRequest
		if err := a.decodeRequest(w, r, &req); err != nil {
			return err
		}
		if _, err := a.store.Conversation(r.Context(), t.ID, id); err != nil {
			return err
		}
		e, err := do(a, r.Context(), t.ID, id, req)
		if err != nil {
			return err
		}
		if e == nil {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		writeJSON(w, http.StatusOK, e)
		return nil
	}
}

func needAgent(req assignmentRequest) error {
	if req.AgentID <= 0 {
		return conversation.FieldError("agent_id", "name the agent who acts")
	}
	return nil
}

func entryOf(e handoff.Entry, err error) (*handoff.Entry, error) {
	if err != nil {
		return nil, err
	}
	return &e, nil
}

var (
	enqueueAction = assignmentAction(func(a *API, ctx context.Context, tenantID, id int64, req assignmentRequest) (*handoff.Entry, error) {
		if req.QueueID < 0 {
			return nil, conversation.FieldError("queue_id", "must be a queue's id")
		}
		if req.Priority < -1000 || req.Priority > 1000 {
			return nil, conversation.FieldError("priority", "must be -1000 to 1000")
		}
		return entryOf(a.cfg.Routing.Enqueue(ctx, tenantID, id, handoff.QueueRequest{QueueID: req.QueueID, Reason: req.Reason, Priority: req.Priority}))
	})
	acceptAction = assignmentAction(func(a *API, ctx context.Context, tenantID, id int64, req assignmentRequest) (*handoff.Entry, error) {
		if err := needAgent(req); err != nil {
			return nil, err
		}
		if req.Offer <= 0 {
			return nil, conversation.FieldError("offer", "name the offer (the entry's version) to accept")
		}
		return entryOf(a.cfg.Routing.Accept(ctx, tenantID, req.AgentID, id, req.Offer))
	})
	pickAction = assignmentAction(func(a *API, ctx context.Context, tenantID, id int64, req assignmentRequest) (*handoff.Entry, error) {
		if err := needAgent(req); err != nil {
			return nil, err
		}
		return entryOf(a.cfg.Routing.Pick(ctx, tenantID, req.AgentID, id))
	})
	transferAction = assignmentAction(func(a *API, ctx context.Context, tenantID, id int64, req assignmentRequest) (*handoff.Entry, error) {
		if err := needAgent(req); err != nil {
			return nil, err
		}
		return entryOf(a.cfg.Routing.Transfer(ctx, tenantID, req.AgentID, id, handoff.Transfer{ToAgent: req.ToAgentID, ToQueue: req.ToQueueID, Note: req.Note}))
	})
	closeAction = assignmentAction(func(a *API, ctx context.Context, tenantID, id int64, req assignmentRequest) (*handoff.Entry, error) {
		if err := needAgent(req); err != nil {
			return nil, err
		}
		return nil, a.cfg.Routing.Close(ctx, tenantID, req.AgentID, id, req.Disposition, req.ReturnToBot)
	})
)

func (a *API) listNotes(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := a.store.Conversation(r.Context(), t.ID, id); err != nil {
		return err
	}
	notes, err := a.cfg.Console.Notes(r.Context(), t.ID, id)
	if err != nil {
		return err
	}
	if notes == nil {
		notes = []handoff.Note{}
	}
	writeJSON(w, http.StatusOK, list[handoff.Note]{notes})
	return nil
}

func (a *API) createNote(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req struct {
		AgentID int64  `json:"agent_id"`
		Body    string `json:"body"`
	}
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := a.store.Conversation(ctx, t.ID, id); err != nil {
		return err
	}
	n := handoff.Note{TenantID: t.ID, ConversationID: id, AgentID: req.AgentID, Body: req.Body}
	if err := n.Validate(); err != nil {
		return err
	}
	if n, err = a.cfg.Console.CreateNote(ctx, n); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, n)
	return nil
}

// cannedRequest is the body of POST /canned-responses and PUT
// /canned-responses/{id}.
type cannedRequest struct {
	Code  string `json:"code"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

func (a *API) listCanned(w http.ResponseWriter, r *http.Request, t tenant) error {
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	if limit < 0 || limit > 1000 {
		return conversation.FieldError("limit", "must be 0 (all) to 1000")
	}
	prefix := r.URL.Query().Get("prefix")
	if len(prefix) > 100 {
		return conversation.FieldError("prefix", "at most 100 characters")
	}
	out, err := a.cfg.Console.ListCanned(r.Context(), t.ID, prefix, int(limit))
	if err != nil {
		return err
	}
	if out == nil {
		out = []handoff.Canned{}
	}
	writeJSON(w, http.StatusOK, list[handoff.Canned]{out})
	return nil
}

func (a *API) createCanned(w http.ResponseWriter, r *http.Request, t tenant) error {
	var req cannedRequest
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	c := handoff.Canned{TenantID: t.ID, Code: req.Code, Title: req.Title, Body: req.Body}
	if err := c.Validate(); err != nil {
		return err
	}
	c, err := a.cfg.Console.CreateCanned(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, c)
	return nil
}

func (a *API) getCanned(ctx context.Context, tenantID, id int64) (handoff.Canned, error) {
	return a.cfg.Console.Canned(ctx, tenantID, id)
}

func (a *API) updateCanned(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req cannedRequest
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	c := handoff.Canned{ID: id, TenantID: t.ID, Code: req.Code, Title: req.Title, Body: req.Body}
	if err := c.Validate(); err != nil {
		return err
	}
	if c, err = a.cfg.Console.UpdateCanned(r.Context(), c); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) deleteCanned(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := a.cfg.Console.DeleteCanned(r.Context(), t.ID, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// renderCanned fills a canned response for a conversation, as an agent.
func (a *API) renderCanned(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req struct {
		ConversationID int64          `json:"conversation_id"`
		AgentID        int64          `json:"agent_id"`
		Target         handoff.Target `json:"target"`
	}
	if err := a.decodeRequest(w, r, &req); err != nil {
		return err
	}
	if req.Target == "" {
		req.Target = handoff.TargetText
	}
	if req.Target != handoff.TargetText && req.Target != handoff.TargetHTML {
		return conversation.FieldError("target", "must be text or html")
	}
	ctx := r.Context()
	c, err := a.cfg.Console.Canned(ctx, t.ID, id)
	if err != nil {
		return err
	}
	var d handoff.CannedData
	if d.Tenant, err = a.store.Tenant(ctx, t.ID); err != nil {
		return err
	}
	if req.ConversationID != 0 {
		if d.Conversation, err = a.store.Conversation(ctx, t.ID, req.ConversationID); err != nil {
			return err
		}
		if d.Contact, err = a.store.Contact(ctx, t.ID, d.Conversation.ContactID); err != nil {
			return err
		}
	}
	if req.AgentID != 0 {
		if d.Agent, err = a.cfg.RoutingStore.Agent(ctx, t.ID, req.AgentID); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Text string `json:"text"`
	}{handoff.RenderCanned(c.Body, d, req.Target)})
	return nil
}

// ContactViewer builds the customer 360 view. *handoff.Views implements
// it.
type ContactViewer interface {
	// ContactView returns ENOTFOUND unless the contact is the tenant's.
	ContactView(ctx context.Context, tenantID, contactID int64, messages int) (handoff.ContactView, error)
}

var _ ContactViewer = (*handoff.Views)(nil)

func withContactView(h handler) handler {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.ContactView == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no contact view")
		}
		return h(a, w, r, t)
	}
}

// contactViewJSON is the customer 360 view: its messages are the latest,
// oldest first, and next_cursor reads older ones from
// /contacts/{id}/messages.
type contactViewJSON struct {
	Contact       conversation.Contact          `json:"contact"`
	Conversations []handoff.ConversationSummary `json:"conversations"`
	Messages      page[conversation.Message]    `json:"messages"`
	Cases         []handoff.Case                `json:"cases"`
	Notes         []handoff.Note                `json:"notes"`
}

// messagePosCursor is the cursor of a contact's messages: where the older
// ones continue.
func messagePosCursor(p conversation.MessagePos) string {
	b, _ := json.Marshal(p)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *API) contactView(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "messages")
	if err != nil {
		return err
	}
	if limit < 0 || limit > conversation.MaxLimit {
		return conversation.FieldError("messages", "must be 0 (the default, %d) to %d", handoff.DefaultViewMessages, conversation.MaxLimit)
	}
	v, err := a.cfg.ContactView.ContactView(r.Context(), t.ID, id, int(limit))
	if err != nil {
		return err
	}
	a.linkMedia(v.Messages)
	out := contactViewJSON{Contact: v.Contact, Conversations: v.Conversations, Messages: page[conversation.Message]{Data: v.Messages},
		Cases: v.Cases, Notes: v.Notes}
	if v.MessagesBefore != nil {
		out.Messages.NextCursor = messagePosCursor(*v.MessagesBefore)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// contactMessages pages back through a contact's messages across all their
// conversations: each page is the latest before the cursor, oldest first.
func (a *API) contactMessages(w http.ResponseWriter, r *http.Request, t tenant) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	limit, err := limitOf(r)
	if err != nil {
		return err
	}
	f := conversation.MessageFilter{ContactID: id, Newest: true, Limit: limit}
	var cur conversation.MessagePos
	if ok, err := decodeCursor(r, &cur); err != nil {
		return err
	} else if ok {
		f.Before = &cur
	}
	if _, err := a.store.Contact(r.Context(), t.ID, id); err != nil {
		return err
	}
	ms, err := a.store.ListMessages(r.Context(), t.ID, f)
	if err != nil {
		return err
	}
	a.linkMedia(ms)
	p := page[conversation.Message]{Data: ms}
	if p.Data == nil {
		p.Data = []conversation.Message{}
	}
	if len(ms) == limit {
		p.NextCursor = messagePosCursor(conversation.MessagePos{ConversationID: ms[0].ConversationID, Seq: ms[0].Seq})
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"conversa/conversation"
	"conversa/handoff"
)

var _ handoff.RoutingStore = (*Store)(nil)

// Lists (skills, teams) are kept in handoff.JoinList's form.

const agentColumns = `id, tenant_id, name, email, role, skills, teams, capacity, status, status_since, load, idle_since,
	last_offered_at, seen_at, created_at, updated_at`

func scanAgent(row pgx.Row) (handoff.Agent, error) { return scanAgentWith(row) }

// scanAgentWith scans agentColumns and then the extra columns into extra.
func scanAgentWith(row pgx.Row, extra ...any) (handoff.Agent, error) {
	var a handoff.Agent
	var skills, teams string
	var offered, seen *time.Time
	err := row.Scan(append([]any{&a.ID, &a.TenantID, &a.Name, &a.Email, &a.Role, &skills, &teams, &a.Capacity, &a.Status, &a.StatusSince,
		&a.Load, &a.IdleSince, &offered, &seen, &a.CreatedAt, &a.UpdatedAt}, extra...)...)
	a.Skills, a.Teams = handoff.SplitList(skills), handoff.SplitIDs(teams)
	a.StatusSince, a.IdleSince, a.CreatedAt, a.UpdatedAt = a.StatusSince.UTC(), a.IdleSince.UTC(), a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	a.LastOfferedAt, a.SeenAt = timeOf(offered), timeOf(seen)
	return a, err
}

// CreateAgent implements handoff.RoutingStore.
func (s *Store) CreateAgent(ctx context.Context, a handoff.Agent) (handoff.Agent, error) {
	ts := now()
	a, err := scanAgent(s.pool.QueryRow(ctx, `INSERT INTO agents (tenant_id, name, email, role, skills, teams, capacity, status,
		status_since, idle_since, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'offline', $8, $8, $8, $8)
		RETURNING `+agentColumns, a.TenantID, a.Name, a.Email, string(a.Role), handoff.JoinList(a.Skills), handoff.JoinIDs(a.Teams), a.Capacity, ts))
	switch {
	case isUnique(err):
		return handoff.Agent{}, conversation.Errorf(conversation.ECONFLICT, "another agent has the email %q", a.Email)
	case isForeignKey(err):
		return handoff.Agent{}, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return a, err
}

// UpdateAgent implements handoff.RoutingStore.
func (s *Store) UpdateAgent(ctx context.Context, a handoff.Agent) (handoff.Agent, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, `UPDATE agents SET name = $3, email = $4, role = $5, skills = $6, teams = $7,
		capacity = $8, updated_at = $9 WHERE tenant_id = $1 AND id = $2 RETURNING `+agentColumns,
		a.TenantID, a.ID, a.Name, a.Email, string(a.Role), handoff.JoinList(a.Skills), handoff.JoinIDs(a.Teams), a.Capacity, now()))
	if isUnique(err) {
		return handoff.Agent{}, conversation.Errorf(conversation.ECONFLICT, "another agent has the email %q", a.Email)
	}
	return a, notFound(err, "agent")
}

// Agent implements handoff.RoutingStore.
func (s *Store) Agent(ctx context.Context, tenantID, id int64) (handoff.Agent, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return a, notFound(err, "agent")
}

// ListAgents implements handoff.RoutingStore.
func (s *Store) ListAgents(ctx context.Context, tenantID int64) ([]handoff.Agent, error) {
	return queryAll(ctx, s.pool, scanAgent, `SELECT `+agentColumns+` FROM agents WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

// errChanged makes routingTx run its function again: an entry changed
// between its read and its compare-and-set.
var errChanged = errors.New("routing entry changed")

// routingTx runs fn in a transaction, again when an entry changed under it
// or PostgreSQL broke a deadlock.
func (s *Store) routingTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		code := pgErrCode(err)
		if attempt < 100 && (errors.Is(err, errChanged) || code == "40P01" || code == "40001") {
			continue
		}
		return err
	}
}

// SetAgentStatus implements handoff.RoutingStore.
func (s *Store) SetAgentStatus(ctx context.Context, tenantID, id int64, st handoff.AgentStatus, at time.Time) (handoff.Agent, []handoff.Entry, error) {
	at = at.UTC().Truncate(time.Microsecond)
	if st == handoff.StatusAvailable {
		// Nothing goes back to the queue: one statement. It may still be
		// picked as a deadlock victim, so it runs under routingTx's retry.
		var a handoff.Agent
		err := s.routingTx(ctx, func(tx pgx.Tx) error {
			var err error
			a, err = scanAgent(tx.QueryRow(ctx, `UPDATE agents SET status = 'available',
				status_since = CASE WHEN status = 'available' THEN status_since ELSE $3 END,
				idle_since = CASE WHEN status = 'available' THEN idle_since ELSE $3 END,
				updated_at = CASE WHEN status = 'available' THEN updated_at ELSE $3 END
				WHERE tenant_id = $1 AND id = $2 RETURNING `+agentColumns, tenantID, id, at))
			return err
		})
		if err != nil {
			return handoff.Agent{}, nil, fmt.Errorf("set agent status: %w", notFound(err, "agent"))
		}
		return a, nil, nil
	}
	a, back, _, err := s.setAway(ctx, tenantID, id, st, at, time.Time{})
	return a, back, err
}

// SetAgentOfflineIfSilent implements handoff.RoutingStore.
func (s *Store) SetAgentOfflineIfSilent(ctx context.Context, tenantID, id int64, since, at time.Time) (handoff.Agent, []handoff.Entry, bool, error) {
	return s.setAway(ctx, tenantID, id, handoff.StatusOffline, at.UTC().Truncate(time.Microsecond), since)
}

// setAway sets a status other than available: the agent's offers go back
// to their queues. With silentSince set, only an agent not offline whose
// console has not touched after it changes; changed says whether one did.
func (s *Store) setAway(ctx context.Context, tenantID, id int64, st handoff.AgentStatus, at, silentSince time.Time) (handoff.Agent, []handoff.Entry, bool, error) {
	var a handoff.Agent
	var back []handoff.Entry
	changed := false
	err := s.routingTx(ctx, func(tx pgx.Tx) error {
		var err error
		back, changed = nil, false
		a, err = scanAgent(tx.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, id))
		if err != nil {
			return notFound(err, "agent")
		}
		if !silentSince.IsZero() && (a.Status == handoff.StatusOffline || lastSign(a).After(silentSince)) {
			return nil
		}
		changed = true
		if a.Status != st {
			a, err = scanAgent(tx.QueryRow(ctx, `UPDATE agents SET status = $2, status_since = $3,
				idle_since = CASE WHEN $2 = 'available' THEN $3 ELSE idle_since END, updated_at = $3
				WHERE id = $1 RETURNING `+agentColumns, id, string(st), at))
			if err != nil {
				return err
			}
		}
		back, err = queryAll(ctx, tx, scanEntry, `UPDATE routing_entries SET state = 'waiting', agent_id = 0, deadline = NULL,
			version = version + 1 WHERE agent_id = $1 AND tenant_id = $2 AND state = 'offered' RETURNING `+entryColumns, id, tenantID)
		if err != nil || len(back) == 0 {
			return err
		}
		a, err = scanAgent(tx.QueryRow(ctx, `UPDATE agents SET load = load - $2 WHERE id = $1 RETURNING `+agentColumns, id, len(back)))
		return err
	})
	if err != nil {
		return handoff.Agent{}, nil, false, fmt.Errorf("set agent status: %w", err)
	}
	return a, back, changed, nil
}

// lastSign is the agent's console's last sign of life: SeenAt, else the
// time their status last changed.
func lastSign(a handoff.Agent) time.Time {
	if a.SeenAt.IsZero() {
		return a.StatusSince
	}
	return a.SeenAt
}

// TouchAgent implements handoff.RoutingStore.
func (s *Store) TouchAgent(ctx context.Context, tenantID, id int64, at time.Time) error {
	var tag pgconn.CommandTag
	err := s.routingTx(ctx, func(tx pgx.Tx) error {
		var err error
		tag, err = tx.Exec(ctx, `UPDATE agents SET seen_at = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, id, at.UTC())
		return err
	})
	if err == nil && tag.RowsAffected() == 0 {
		return conversation.Errorf(conversation.ENOTFOUND, "agent not found")
	}
	return err
}

// StaleAgents implements handoff.RoutingStore.
func (s *Store) StaleAgents(ctx context.Context, before time.Time) ([]handoff.Agent, error) {
	return queryAll(ctx, s.pool, scanAgent, `SELECT `+agentColumns+` FROM agents
		WHERE status <> 'offline' AND coalesce(seen_at, status_since) < $1 ORDER BY id`, before.UTC())
}

// CreateTeam implements handoff.RoutingStore.
func (s *Store) CreateTeam(ctx context.Context, t handoff.Team) (handoff.Team, error) {
	t.CreatedAt = now()
	err := s.pool.QueryRow(ctx, `INSERT INTO teams (tenant_id, name, created_at) VALUES ($1, $2, $3) RETURNING id`,
		t.TenantID, t.Name, t.CreatedAt).Scan(&t.ID)
	switch {
	case isUnique(err):
		return handoff.Team{}, conversation.Errorf(conversation.ECONFLICT, "a team is named %q", t.Name)
	case isForeignKey(err):
		return handoff.Team{}, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return t, err
}

// ListTeams implements handoff.RoutingStore.
func (s *Store) ListTeams(ctx context.Context, tenantID int64) ([]handoff.Team, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (handoff.Team, error) {
		var t handoff.Team
		err := row.Scan(&t.ID, &t.TenantID, &t.Name, &t.CreatedAt)
		t.CreatedAt = t.CreatedAt.UTC()
		return t, err
	}, `SELECT id, tenant_id, name, created_at FROM teams WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

const queueColumns = `id, tenant_id, name, strategy, skills, team_id, priority, accept_timeout, hours, created_at, updated_at`

func scanQueue(row pgx.Row) (handoff.Queue, error) {
	var q handoff.Queue
	var skills string
	var timeout int64
	err := row.Scan(&q.ID, &q.TenantID, &q.Name, &q.Strategy, &skills, &q.TeamID, &q.Priority, &timeout, &q.Hours, &q.CreatedAt, &q.UpdatedAt)
	q.Skills, q.AcceptTimeout = handoff.SplitList(skills), time.Duration(timeout)*time.Millisecond
	if len(q.Hours) == 0 {
		q.Hours = nil
	}
	q.CreatedAt, q.UpdatedAt = q.CreatedAt.UTC(), q.UpdatedAt.UTC()
	return q, err
}

func hoursOf(h []handoff.Span) []handoff.Span {
	if h == nil {
		return []handoff.Span{}
	}
	return h
}

// CreateQueue implements handoff.RoutingStore.
func (s *Store) CreateQueue(ctx context.Context, q handoff.Queue) (handoff.Queue, error) {
	q, err := scanQueue(s.pool.QueryRow(ctx, `INSERT INTO queues (tenant_id, name, strategy, skills, team_id, priority,
		accept_timeout, hours, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING `+queueColumns,
		q.TenantID, q.Name, string(q.Strategy), handoff.JoinList(q.Skills), q.TeamID, q.Priority, q.AcceptTimeout.Milliseconds(), hoursOf(q.Hours), now()))
	switch {
	case isUnique(err):
		return handoff.Queue{}, conversation.Errorf(conversation.ECONFLICT, "a queue is named %q", q.Name)
	case isForeignKey(err):
		return handoff.Queue{}, conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
	}
	return q, err
}

// UpdateQueue implements handoff.RoutingStore.
func (s *Store) UpdateQueue(ctx context.Context, q handoff.Queue) (handoff.Queue, error) {
	q, err := scanQueue(s.pool.QueryRow(ctx, `UPDATE queues SET name = $3, strategy = $4, skills = $5, team_id = $6, priority = $7,
		accept_timeout = $8, hours = $9, updated_at = $10 WHERE tenant_id = $1 AND id = $2 RETURNING `+queueColumns,
		q.TenantID, q.ID, q.Name, string(q.Strategy), handoff.JoinList(q.Skills), q.TeamID, q.Priority, q.AcceptTimeout.Milliseconds(), hoursOf(q.Hours), now()))
	if isUnique(err) {
		return handoff.Queue{}, conversation.Errorf(conversation.ECONFLICT, "a queue is named %q", q.Name)
	}
	return q, notFound(err, "queue")
}

// Queue implements handoff.RoutingStore.
func (s *Store) Queue(ctx context.Context, tenantID, id int64) (handoff.Queue, error) {
	q, err := scanQueue(s.pool.QueryRow(ctx, `SELECT `+queueColumns+` FROM queues WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	return q, notFound(err, "queue")
}

// ListQueues implements handoff.RoutingStore.
func (s *Store) ListQueues(ctx context.Context, tenantID int64) ([]handoff.Queue, error) {
	return queryAll(ctx, s.pool, scanQueue, `SELECT `+queueColumns+` FROM queues WHERE tenant_id = $1 ORDER BY id`, tenantID)
}

// SetRules implements handoff.RoutingStore.
func (s *Store) SetRules(ctx context.Context, tenantID int64, rules []handoff.Rule) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock the tenant: two admins saving at once save one list or the other.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE`, tenantID).Scan(&one); err != nil {
			return notFound(err, "tenant")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM routing_rules WHERE tenant_id = $1`, tenantID); err != nil {
			return err
		}
		for i, r := range rules {
			if _, err := tx.Exec(ctx, `INSERT INTO routing_rules (tenant_id, position, intent, channel, attribute, value, queue_id,
				priority_boost) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				tenantID, i, r.Intent, r.Channel, r.Attribute, r.Value, r.QueueID, r.PriorityBoost); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set routing rules: %w", err)
	}
	return nil
}

// Rules implements handoff.RoutingStore.
func (s *Store) Rules(ctx context.Context, tenantID int64) ([]handoff.Rule, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (handoff.Rule, error) {
		var r handoff.Rule
		err := row.Scan(&r.Intent, &r.Channel, &r.Attribute, &r.Value, &r.QueueID, &r.PriorityBoost)
		return r, err
	}, `SELECT intent, channel, attribute, value, queue_id, priority_boost FROM routing_rules WHERE tenant_id = $1 ORDER BY position`, tenantID)
}

const entryColumns = `conversation_id, tenant_id, queue_id, priority, state, agent_id, version, deadline, enqueued_at,
	assigned_at, reason, intent, sentiment, note`

func scanEntry(row pgx.Row) (handoff.Entry, error) {
	var e handoff.Entry
	var deadline, assigned *time.Time
	err := row.Scan(&e.ConversationID, &e.TenantID, &e.QueueID, &e.Priority, &e.State, &e.AgentID, &e.Version, &deadline,
		&e.EnqueuedAt, &assigned, &e.Reason, &e.Intent, &e.Sentiment, &e.Note)
	e.Deadline, e.AssignedAt, e.EnqueuedAt = timeOf(deadline), timeOf(assigned), e.EnqueuedAt.UTC()
	return e, err
}

// Enqueue implements handoff.RoutingStore.
func (s *Store) Enqueue(ctx context.Context, e handoff.Entry) (handoff.Entry, bool, error) {
	if e.EnqueuedAt.IsZero() {
		e.EnqueuedAt = now()
	}
	for {
		got, err := scanEntry(s.pool.QueryRow(ctx, `INSERT INTO routing_entries (conversation_id, tenant_id, queue_id, priority, state,
			version, enqueued_at, reason, intent, sentiment, note) VALUES ($1, $2, $3, $4, 'waiting', 1, $5, $6, $7, $8, $9)
			ON CONFLICT (conversation_id) DO NOTHING RETURNING `+entryColumns,
			e.ConversationID, e.TenantID, e.QueueID, e.Priority, e.EnqueuedAt.UTC().Truncate(time.Microsecond), e.Reason, e.Intent, e.Sentiment, e.Note))
		if err == nil {
			return got, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return handoff.Entry{}, false, fmt.Errorf("enqueue conversation: %w", err)
		}
		got, err = s.Entry(ctx, e.TenantID, e.ConversationID)
		if !conversation.IsNotFound(err) {
			return got, false, err
		}
		// Released between the two statements: insert again.
	}
}

// Entry implements handoff.RoutingStore.
func (s *Store) Entry(ctx context.Context, tenantID, conversationID int64) (handoff.Entry, error) {
	e, err := scanEntry(s.pool.QueryRow(ctx, `SELECT `+entryColumns+` FROM routing_entries WHERE conversation_id = $1 AND tenant_id = $2`,
		conversationID, tenantID))
	return e, notFound(err, "conversation in a queue")
}

func readEntry(ctx context.Context, tx pgx.Tx, tenantID, conversationID int64) (handoff.Entry, error) {
	e, err := scanEntry(tx.QueryRow(ctx, `SELECT `+entryColumns+` FROM routing_entries WHERE conversation_id = $1 AND tenant_id = $2`,
		conversationID, tenantID))
	return e, notFound(err, "conversation in a queue")
}

// ListEntries implements handoff.RoutingStore.
func (s *Store) ListEntries(ctx context.Context, tenantID, queueID, agentID int64) ([]handoff.Entry, error) {
	return queryAll(ctx, s.pool, scanEntry, `SELECT `+entryColumns+` FROM routing_entries
		WHERE tenant_id = $1 AND ($2 = 0 OR queue_id = $2) AND ($3 = 0 OR agent_id = $3)
		ORDER BY priority DESC, enqueued_at, conversation_id`, tenantID, queueID, agentID)
}

// offerJob schedules the end of an offer, in the offer's transaction.
func offerJob(ctx context.Context, tx pgx.Tx, e handoff.Entry) error {
	_, err := tx.Exec(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8) ON CONFLICT DO NOTHING`,
		e.TenantID, handoff.JobOffer, e.ConversationID, handoff.OfferJobKey(e), []byte(strconv.FormatInt(e.Version, 10)),
		e.Deadline, conversation.DeliverMaxAttempts, now())
	return err
}

// OfferToAgent implements handoff.RoutingStore. It locks the agent's row,
// then takes the best waiting entries with SKIP LOCKED: an entry that
// another transaction holds is being offered or picked by it.
func (s *Store) OfferToAgent(ctx context.Context, o handoff.AgentOffer) ([]handoff.Entry, error) {
	at := o.At.UTC().Truncate(time.Microsecond)
	queues := make([]int64, 0, len(o.Queues))
	for id := range o.Queues {
		queues = append(queues, id)
	}
	var offered []handoff.Entry
	err := s.routingTx(ctx, func(tx pgx.Tx) error {
		offered = nil
		a, err := scanAgent(tx.QueryRow(ctx, `SELECT `+agentColumns+` FROM agents WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, o.TenantID, o.AgentID))
		if err != nil {
			return notFound(err, "agent")
		}
		free := a.Capacity - a.Load
		if a.Status != handoff.StatusAvailable || free <= 0 || len(queues) == 0 {
			return nil
		}
		picked, err := queryAll(ctx, tx, scanEntry, `SELECT `+entryColumns+` FROM routing_entries
			WHERE tenant_id = $1 AND state = 'waiting' AND queue_id = ANY($2)
			ORDER BY priority DESC, enqueued_at, conversation_id LIMIT $3 FOR UPDATE SKIP LOCKED`, o.TenantID, queues, free)
		if err != nil || len(picked) == 0 {
			return err
		}
		// The offers, their jobs and the agent's load in one round trip:
		// an agent's console waits for this.
		var b pgx.Batch
		for _, e := range picked {
			e.State, e.AgentID, e.Version, e.Deadline = handoff.EntryOffered, o.AgentID, e.Version+1, at.Add(o.Queues[e.QueueID])
			b.Queue(`UPDATE routing_entries SET state = 'offered', agent_id = $2, deadline = $3, version = $4 WHERE conversation_id = $1`,
				e.ConversationID, e.AgentID, e.Deadline, e.Version)
			b.Queue(`INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $8) ON CONFLICT DO NOTHING`,
				e.TenantID, handoff.JobOffer, e.ConversationID, handoff.OfferJobKey(e), []byte(strconv.FormatInt(e.Version, 10)),
				e.Deadline, conversation.DeliverMaxAttempts, now())
			offered = append(offered, e)
		}
		b.Queue(`UPDATE agents SET load = load + $2, idle_since = $3, last_offered_at = $3 WHERE id = $1`, o.AgentID, len(offered), at)
		return tx.SendBatch(ctx, &b).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("offer conversations to agent: %w", err)
	}
	return offered, nil
}

// OfferEntry implements handoff.RoutingStore. The agent is chosen and
// locked with FOR UPDATE (not SKIP LOCKED): a candidate another transaction
// holds is waited for and checked again, so that an agent who becomes free
// while a conversation arrives is never missed by both.
func (s *Store) OfferEntry(ctx context.Context, tenantID, conversationID int64, el handoff.Eligibility, at time.Time) (handoff.Entry, error) {
	at = at.UTC().Truncate(time.Microsecond)
	var e handoff.Entry
	err := s.routingTx(ctx, func(tx pgx.Tx) error {
		var err error
		if e, err = readEntry(ctx, tx, tenantID, conversationID); err != nil || e.State != handoff.EntryWaiting || el.Strategy == handoff.StrategyManual {
			return err
		}
		q, args := candidateQuery(tenantID, el)
		var agentID int64
		err = tx.QueryRow(ctx, q, args...).Scan(&agentID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		next, err := scanEntry(tx.QueryRow(ctx, `UPDATE routing_entries SET state = 'offered', agent_id = $2, deadline = $3,
			version = version + 1 WHERE conversation_id = $1 AND version = $4 RETURNING `+entryColumns, conversationID, agentID, at.Add(el.Timeout), e.Version))
		if errors.Is(err, pgx.ErrNoRows) {
			return errChanged
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE agents SET load = load + 1, idle_since = $2, last_offered_at = $2 WHERE id = $1`, agentID, at); err != nil {
			return err
		}
		e = next
		return offerJob(ctx, tx, e)
	})
	if err != nil {
		return handoff.Entry{}, fmt.Errorf("offer conversation: %w", err)
	}
	return e, nil
}

// candidateQuery selects and locks the best agent for el.
func candidateQuery(tenantID int64, el handoff.Eligibility) (string, []any) {
	var b strings.Builder
	args := []any{tenantID}
	b.WriteString(`SELECT id FROM agents WHERE tenant_id = $1 AND status = 'available' AND load < capacity`)
	for _, sk := range el.Skills {
		args = append(args, "%,"+sk+",%")
		b.WriteString(" AND skills LIKE $" + strconv.Itoa(len(args)))
	}
	if el.TeamID != 0 {
		args = append(args, "%,"+strconv.FormatInt(el.TeamID, 10)+",%")
		b.WriteString(" AND teams LIKE $" + strconv.Itoa(len(args)))
	}
	if el.Strategy == handoff.StrategyRoundRobin {
		b.WriteString(" ORDER BY last_offered_at NULLS FIRST, id")
	} else {
		b.WriteString(" ORDER BY idle_since, id")
	}
	b.WriteString(" LIMIT 1 FOR UPDATE")
	return b.String(), args
}

// changeLoad adds delta to the agent's load; a positive delta only within
// capacity and for an agent who is not offline. A negative one makes the
// agent idle from at. It reports false when the agent has no room.
func changeLoad(ctx context.Context, tx pgx.Tx, tenantID, agentID int64, delta int, at time.Time) (bool, error) {
	var sql string
	if delta > 0 {
		sql = `UPDATE agents SET load = load + $3, last_offered_at = $4 WHERE tenant_id = $1 AND id = $2
			AND load + $3 <= capacity AND status <> 'offline'`
	} else {
		sql = `UPDATE agents SET load = load + $3, idle_since = $4 WHERE tenant_id = $1 AND id = $2`
	}
	tag, err := tx.Exec(ctx, sql, tenantID, agentID, delta, at)
	if pgErrCode(err) == "23514" {
		// The load would drop below zero: the entry read before the
		// agent's lock has changed since (another transaction freed the
		// agent first). The caller reads it again.
		return false, errChanged
	}
	return err == nil && tag.RowsAffected() == 1, err
}

// loadChange is a change of one agent's load within a transaction.
type loadChange struct {
	agent int64
	delta int
}

// applyLoads changes the agents' loads in id order, so that transactions
// that change two agents lock them in one order.
func applyLoads(ctx context.Context, tx pgx.Tx, tenantID int64, at time.Time, changes ...loadChange) error {
	if len(changes) == 2 && changes[1].agent < changes[0].agent {
		changes[0], changes[1] = changes[1], changes[0]
	}
	for _, c := range changes {
		if c.agent == 0 || c.delta == 0 {
			continue
		}
		ok, err := changeLoad(ctx, tx, tenantID, c.agent, c.delta, at)
		if err != nil {
			return err
		}
		if !ok {
			var st string
			if err := tx.QueryRow(ctx, `SELECT status FROM agents WHERE tenant_id = $1 AND id = $2`, tenantID, c.agent).Scan(&st); err != nil {
				return notFound(err, "agent")
			}
			if st == string(handoff.StatusOffline) {
				return conversation.Errorf(conversation.ECONFLICT, "the agent is offline")
			}
			return conversation.Errorf(conversation.ECONFLICT, "the agent has no free capacity")
		}
	}
	return nil
}

// Claim implements handoff.RoutingStore.
func (s *Store) Claim(ctx context.Context, c handoff.Claim) (handoff.Entry, error) {
	at := c.At.UTC().Truncate(time.Microsecond)
	var e handoff.Entry
	err := s.routingTx(ctx, func(tx pgx.Tx) error {
		var err error
		if e, err = readEntry(ctx, tx, c.TenantID, c.ConversationID); err != nil {
			return err
		}
		if err := handoff.CheckClaim(e, c); err != nil || (e.State == handoff.EntryAssigned && e.AgentID == c.AgentID) {
			return err
		}
		switch c.From {
		case handoff.EntryWaiting:
			err = applyLoads(ctx, tx, c.TenantID, at, loadChange{c.AgentID, 1})
		case handoff.EntryAssigned:
			err = applyLoads(ctx, tx, c.TenantID, at, loadChange{c.Holder, -1}, loadChange{c.AgentID, 1})
			if err == nil {
				_, err = tx.Exec(ctx, `UPDATE routing_history SET released_at = $2, disposition = 'transferred'
					WHERE conversation_id = $1 AND released_at IS NULL`, c.ConversationID, at)
			}
		}
		if err != nil {
			return err
		}
		note := e.Note
		if c.Note != "" {
			note = c.Note
		}
		next, err := scanEntry(tx.QueryRow(ctx, `UPDATE routing_entries SET state = 'assigned', agent_id = $2, deadline = NULL,
			assigned_at = $3, note = $4, version = version + 1 WHERE conversation_id = $1 AND version = $5 RETURNING `+entryColumns,
			c.ConversationID, c.AgentID, at, note, e.Version))
		if errors.Is(err, pgx.ErrNoRows) {
			return errChanged
		}
		if err != nil {
			return err
		}
		e = next
		_, err = tx.Exec(ctx, `INSERT INTO routing_history (tenant_id, conversation_id, queue_id, agent_id, enqueued_at, assigned_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, e.TenantID, e.ConversationID, e.QueueID, e.AgentID, e.EnqueuedAt, at)
		return err
	})
	if err != nil {
		return handoff.Entry{}, fmt.Errorf("claim conversation: %w", err)
	}
	return e, nil
}

// Expire implements handoff.RoutingStore.
func (s *Store) Expire(ctx context.Context, tenantID, conversationID, offer int64, at time.Time) (handoff.Entry, bool, error) {
	at = at.UTC().Truncate(time.Microsecond)
	var e handoff.Entry
	var done bool
	err := s.routingTx(ctx, func(tx pgx.Tx) error {
		var err error
		done = false
		if e, err = readEntry(ctx, tx, tenantID, conversationID); err != nil || e.State != handoff.EntryOffered || e.Version != offer {
			return err
		}
		if err := applyLoads(ctx, tx, tenantID, at, loadChange{e.AgentID, -1}); err != nil {
			return err
		}
		next, err := scanEntry(tx.QueryRow(ctx, `UPDATE routing_entries SET state = 'waiting', agent_id = 0, deadline = NULL,
			version = version + 1 WHERE conversation_id = $1 AND version = $2 RETURNING `+entryColumns, conversationID, e.Version))
		if errors.Is(err, pgx.ErrNoRows) {
			return errChanged
		}
		e, done = next, err == nil
		return err
	})
	if err != nil {
		return handoff.Entry{}, false, fmt.Errorf("expire offer: %w", err)
	}
	return e, done, nil
}

// Requeue implements handoff.RoutingStore.
func (s *Store) Requeue(ctx context.Context, r handoff.Requeue) (handoff.Entry, error) {
	at := r.At.UTC().Truncate(time.Microsecond)
	var e handoff.Entry
	err := s.routingTx(ctx, func(tx pgx.Tx) error {
		var err error
		if e, err = readEntry(ctx, tx, r.TenantID, r.ConversationID); err != nil {
			return err
		}
		if err := applyLoads(ctx, tx, r.TenantID, at, loadChange{e.AgentID, -1}); err != nil {
			return err
		}
		if e.State == handoff.EntryAssigned {
			if _, err := tx.Exec(ctx, `UPDATE routing_history SET released_at = $2, disposition = 'requeued'
				WHERE conversation_id = $1 AND released_at IS NULL`, r.ConversationID, at); err != nil {
				return err
			}
		}
		next, err := scanEntry(tx.QueryRow(ctx, `UPDATE routing_entries SET state = 'waiting', agent_id = 0, deadline = NULL,
			queue_id = $2, priority = $3, note = $4, version = version + 1 WHERE conversation_id = $1 AND version = $5 RETURNING `+entryColumns,
			r.ConversationID, r.QueueID, r.Priority, r.Note, e.Version))
		if errors.Is(err, pgx.ErrNoRows) {
			return errChanged
		}
		e = next
		return err
	})
	if err != nil {
		return handoff.Entry{}, fmt.Errorf("requeue conversation: %w", err)
	}
	return e, nil
}

// Release implements handoff.RoutingStore.
func (s *Store) Release(ctx context.Context, tenantID, conversationID int64, disposition string, at time.Time) (handoff.Entry, error) {
	at = at.UTC().Truncate(time.Microsecond)
	var e handoff.Entry
	err := s.routingTx(ctx, func(tx pgx.Tx) error {
		var err error
		if e, err = readEntry(ctx, tx, tenantID, conversationID); err != nil {
			return err
		}
		if err := applyLoads(ctx, tx, tenantID, at, loadChange{e.AgentID, -1}); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM routing_entries WHERE conversation_id = $1 AND version = $2`, conversationID, e.Version)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errChanged
		}
		_, err = tx.Exec(ctx, `UPDATE routing_history SET released_at = $2, disposition = $3
			WHERE conversation_id = $1 AND released_at IS NULL`, conversationID, at, disposition)
		return err
	})
	if err != nil {
		return handoff.Entry{}, fmt.Errorf("release conversation: %w", err)
	}
	return e, nil
}

// Position implements handoff.RoutingStore.
func (s *Store) Position(ctx context.Context, tenantID, conversationID int64) (int, error) {
	e, err := s.Entry(ctx, tenantID, conversationID)
	if err != nil || e.State != handoff.EntryWaiting {
		return 0, err
	}
	var n int
	err = s.pool.QueryRow(ctx, `SELECT count(*) FROM routing_entries WHERE tenant_id = $1 AND queue_id = $2 AND state = 'waiting'
		AND (priority > $3 OR (priority = $3 AND (enqueued_at, conversation_id) < ($4, $5)))`,
		tenantID, e.QueueID, e.Priority, e.EnqueuedAt, e.ConversationID).Scan(&n)
	return n + 1, err
}

// QueueStats implements handoff.RoutingStore.
func (s *Store) QueueStats(ctx context.Context, tenantID int64) ([]handoff.QueueStats, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (handoff.QueueStats, error) {
		var q handoff.QueueStats
		var oldest *time.Time
		err := row.Scan(&q.QueueID, &q.Waiting, &q.Offered, &q.Assigned, &oldest)
		q.OldestWaiting = timeOf(oldest)
		return q, err
	}, `SELECT queue_id, count(*) FILTER (WHERE state = 'waiting'), count(*) FILTER (WHERE state = 'offered'),
		count(*) FILTER (WHERE state = 'assigned'), min(enqueued_at) FILTER (WHERE state = 'waiting')
		FROM routing_entries WHERE tenant_id = $1 GROUP BY queue_id ORDER BY queue_id`, tenantID)
}

// RecentAssignments implements handoff.RoutingStore.
func (s *Store) RecentAssignments(ctx context.Context, tenantID, queueID int64, n int) ([]time.Time, error) {
	return queryAll(ctx, s.pool, func(row pgx.Row) (time.Time, error) {
		var t time.Time
		err := row.Scan(&t)
		return t.UTC(), err
	}, `SELECT assigned_at FROM routing_history WHERE tenant_id = $1 AND queue_id = $2 ORDER BY id DESC LIMIT $3`, tenantID, queueID, n)
}

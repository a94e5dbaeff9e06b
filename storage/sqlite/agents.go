package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

var _ handoff.RoutingStore = (*Store)(nil)

// Lists (skills, teams) are kept in handoff.JoinList's form. Writes are
// serialized (one writer), so every routing
// change reads and writes in one transaction that nothing interleaves.

const agentColumns = `id, tenant_id, name, email, role, skills, teams, capacity, status, status_since, load, idle_since,
	last_offered_at, seen_at, created_at, updated_at`

func scanAgent(row scanner) (handoff.Agent, error) { return scanAgentWith(row) }

// scanAgentWith scans agentColumns and then the extra columns into extra.
func scanAgentWith(row scanner, extra ...any) (handoff.Agent, error) {
	var a handoff.Agent
	var skills, teams string
	var since, idle, offered, seen, created, updated int64
	err := row.Scan(append([]any{&a.ID, &a.TenantID, &a.Name, &a.Email, &a.Role, &skills, &teams, &a.Capacity, &a.Status, &since,
		&a.Load, &idle, &offered, &seen, &created, &updated}, extra...)...)
	a.Skills, a.Teams = handoff.SplitList(skills), handoff.SplitIDs(teams)
	a.StatusSince, a.IdleSince, a.LastOfferedAt, a.SeenAt = fromMicros(since), fromMicros(idle), fromMicros(offered), fromMicros(seen)
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return a, err
}

// CreateAgent implements handoff.RoutingStore.
func (s *Store) CreateAgent(ctx context.Context, a handoff.Agent) (handoff.Agent, error) {
	ts := micros(now())
	var out handoff.Agent
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanAgent(tx.QueryRowContext(ctx, `INSERT INTO agents (tenant_id, name, email, role, skills, teams, capacity, status,
			status_since, idle_since, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'offline', ?, ?, ?, ?)
			RETURNING `+agentColumns, a.TenantID, a.Name, a.Email, string(a.Role), handoff.JoinList(a.Skills), handoff.JoinIDs(a.Teams), a.Capacity, ts, ts, ts, ts))
		switch {
		case isUnique(err):
			return conversation.Errorf(conversation.ECONFLICT, "another agent has the email %q", a.Email)
		case isForeignKey(err):
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		return err
	})
	return out, err
}

// UpdateAgent implements handoff.RoutingStore.
func (s *Store) UpdateAgent(ctx context.Context, a handoff.Agent) (handoff.Agent, error) {
	var out handoff.Agent
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanAgent(tx.QueryRowContext(ctx, `UPDATE agents SET name = ?, email = ?, role = ?, skills = ?, teams = ?,
			capacity = ?, updated_at = ? WHERE tenant_id = ? AND id = ? RETURNING `+agentColumns,
			a.Name, a.Email, string(a.Role), handoff.JoinList(a.Skills), handoff.JoinIDs(a.Teams), a.Capacity, micros(now()), a.TenantID, a.ID))
		if isUnique(err) {
			return conversation.Errorf(conversation.ECONFLICT, "another agent has the email %q", a.Email)
		}
		return notFound(err, "agent")
	})
	return out, err
}

// Agent implements handoff.RoutingStore.
func (s *Store) Agent(ctx context.Context, tenantID, id int64) (handoff.Agent, error) {
	a, err := scanAgent(s.rd.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return a, notFound(err, "agent")
}

// ListAgents implements handoff.RoutingStore.
func (s *Store) ListAgents(ctx context.Context, tenantID int64) ([]handoff.Agent, error) {
	return queryAll(ctx, s.rd, scanAgent, `SELECT `+agentColumns+` FROM agents WHERE tenant_id = ? ORDER BY id`, tenantID)
}

func readAgent(ctx context.Context, tx *wtx, tenantID, id int64) (handoff.Agent, error) {
	a, err := scanAgent(tx.QueryRowContext(ctx, `SELECT `+agentColumns+` FROM agents WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return a, notFound(err, "agent")
}

// SetAgentStatus implements handoff.RoutingStore.
func (s *Store) SetAgentStatus(ctx context.Context, tenantID, id int64, st handoff.AgentStatus, at time.Time) (handoff.Agent, []handoff.Entry, error) {
	a, back, _, err := s.setStatus(ctx, tenantID, id, st, at, time.Time{})
	return a, back, err
}

// SetAgentOfflineIfSilent implements handoff.RoutingStore.
func (s *Store) SetAgentOfflineIfSilent(ctx context.Context, tenantID, id int64, since, at time.Time) (handoff.Agent, []handoff.Entry, bool, error) {
	return s.setStatus(ctx, tenantID, id, handoff.StatusOffline, at, since)
}

// setStatus sets the agent's status; one who is not available gives their
// offers back to their queues. With silentSince set, only an agent not
// offline whose console has not touched after it changes; changed says
// whether one did.
func (s *Store) setStatus(ctx context.Context, tenantID, id int64, st handoff.AgentStatus, at, silentSince time.Time) (handoff.Agent, []handoff.Entry, bool, error) {
	ts := micros(at)
	var a handoff.Agent
	var back []handoff.Entry
	changed := false
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		back, changed = nil, false
		if a, err = readAgent(ctx, tx, tenantID, id); err != nil {
			return err
		}
		last := a.SeenAt
		if last.IsZero() {
			last = a.StatusSince
		}
		if !silentSince.IsZero() && (a.Status == handoff.StatusOffline || micros(last) > micros(silentSince)) {
			return nil
		}
		changed = true
		if a.Status != st {
			idle := micros(a.IdleSince)
			if st == handoff.StatusAvailable {
				idle = ts
			}
			if _, err := tx.ExecContext(ctx, `UPDATE agents SET status = ?, status_since = ?, idle_since = ?, updated_at = ? WHERE id = ?`,
				string(st), ts, idle, ts, id); err != nil {
				return err
			}
		}
		if st != handoff.StatusAvailable {
			back, err = queryAll(ctx, tx, scanEntry, `UPDATE routing_entries SET state = 'waiting', agent_id = 0, deadline = 0,
				version = version + 1 WHERE agent_id = ? AND tenant_id = ? AND state = 'offered' RETURNING `+entryColumns, id, tenantID)
			if err != nil {
				return err
			}
			if len(back) > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE agents SET load = load - ? WHERE id = ?`, len(back), id); err != nil {
					return err
				}
			}
		}
		a, err = readAgent(ctx, tx, tenantID, id)
		return err
	})
	if err != nil {
		return handoff.Agent{}, nil, false, fmt.Errorf("set agent status: %w", err)
	}
	return a, back, changed, nil
}

// TouchAgent implements handoff.RoutingStore.
func (s *Store) TouchAgent(ctx context.Context, tenantID, id int64, at time.Time) error {
	return s.write(ctx, func(tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE agents SET seen_at = ? WHERE tenant_id = ? AND id = ?`, micros(at), tenantID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return conversation.Errorf(conversation.ENOTFOUND, "agent not found")
		}
		return nil
	})
}

// StaleAgents implements handoff.RoutingStore.
func (s *Store) StaleAgents(ctx context.Context, before time.Time) ([]handoff.Agent, error) {
	return queryAll(ctx, s.rd, scanAgent, `SELECT `+agentColumns+` FROM agents
		WHERE status <> 'offline' AND (CASE WHEN seen_at = 0 THEN status_since ELSE seen_at END) < ? ORDER BY id`, micros(before))
}

// CreateTeam implements handoff.RoutingStore.
func (s *Store) CreateTeam(ctx context.Context, t handoff.Team) (handoff.Team, error) {
	t.CreatedAt = now()
	err := s.write(ctx, func(tx *wtx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO teams (tenant_id, name, created_at) VALUES (?, ?, ?) RETURNING id`,
			t.TenantID, t.Name, micros(t.CreatedAt)).Scan(&t.ID)
		switch {
		case isUnique(err):
			return conversation.Errorf(conversation.ECONFLICT, "a team is named %q", t.Name)
		case isForeignKey(err):
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		return err
	})
	return t, err
}

// ListTeams implements handoff.RoutingStore.
func (s *Store) ListTeams(ctx context.Context, tenantID int64) ([]handoff.Team, error) {
	return queryAll(ctx, s.rd, func(row scanner) (handoff.Team, error) {
		var t handoff.Team
		var created int64
		err := row.Scan(&t.ID, &t.TenantID, &t.Name, &created)
		t.CreatedAt = fromMicros(created)
		return t, err
	}, `SELECT id, tenant_id, name, created_at FROM teams WHERE tenant_id = ? ORDER BY id`, tenantID)
}

const queueColumns = `id, tenant_id, name, strategy, skills, team_id, priority, accept_timeout, hours, created_at, updated_at`

func scanQueue(row scanner) (handoff.Queue, error) {
	var q handoff.Queue
	var skills, hours string
	var timeout, created, updated int64
	err := row.Scan(&q.ID, &q.TenantID, &q.Name, &q.Strategy, &skills, &q.TeamID, &q.Priority, &timeout, &hours, &created, &updated)
	if err != nil {
		return q, err
	}
	q.Skills, q.AcceptTimeout = handoff.SplitList(skills), time.Duration(timeout)*time.Millisecond
	q.CreatedAt, q.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(hours), &q.Hours); err != nil {
		return q, fmt.Errorf("decode queue hours: %w", err)
	}
	if len(q.Hours) == 0 {
		q.Hours = nil
	}
	return q, nil
}

func encodeHours(h []handoff.Span) string {
	if len(h) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(h)
	return string(b)
}

// CreateQueue implements handoff.RoutingStore.
func (s *Store) CreateQueue(ctx context.Context, q handoff.Queue) (handoff.Queue, error) {
	var out handoff.Queue
	ts := micros(now())
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanQueue(tx.QueryRowContext(ctx, `INSERT INTO queues (tenant_id, name, strategy, skills, team_id, priority,
			accept_timeout, hours, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+queueColumns,
			q.TenantID, q.Name, string(q.Strategy), handoff.JoinList(q.Skills), q.TeamID, q.Priority, q.AcceptTimeout.Milliseconds(), encodeHours(q.Hours), ts, ts))
		switch {
		case isUnique(err):
			return conversation.Errorf(conversation.ECONFLICT, "a queue is named %q", q.Name)
		case isForeignKey(err):
			return conversation.Errorf(conversation.ENOTFOUND, "tenant not found")
		}
		return err
	})
	return out, err
}

// UpdateQueue implements handoff.RoutingStore.
func (s *Store) UpdateQueue(ctx context.Context, q handoff.Queue) (handoff.Queue, error) {
	var out handoff.Queue
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = scanQueue(tx.QueryRowContext(ctx, `UPDATE queues SET name = ?, strategy = ?, skills = ?, team_id = ?, priority = ?,
			accept_timeout = ?, hours = ?, updated_at = ? WHERE tenant_id = ? AND id = ? RETURNING `+queueColumns,
			q.Name, string(q.Strategy), handoff.JoinList(q.Skills), q.TeamID, q.Priority, q.AcceptTimeout.Milliseconds(), encodeHours(q.Hours),
			micros(now()), q.TenantID, q.ID))
		if isUnique(err) {
			return conversation.Errorf(conversation.ECONFLICT, "a queue is named %q", q.Name)
		}
		return notFound(err, "queue")
	})
	return out, err
}

// Queue implements handoff.RoutingStore.
func (s *Store) Queue(ctx context.Context, tenantID, id int64) (handoff.Queue, error) {
	q, err := scanQueue(s.rd.QueryRowContext(ctx, `SELECT `+queueColumns+` FROM queues WHERE tenant_id = ? AND id = ?`, tenantID, id))
	return q, notFound(err, "queue")
}

// ListQueues implements handoff.RoutingStore.
func (s *Store) ListQueues(ctx context.Context, tenantID int64) ([]handoff.Queue, error) {
	return queryAll(ctx, s.rd, scanQueue, `SELECT `+queueColumns+` FROM queues WHERE tenant_id = ? ORDER BY id`, tenantID)
}

// SetRules implements handoff.RoutingStore.
func (s *Store) SetRules(ctx context.Context, tenantID int64, rules []handoff.Rule) error {
	return s.write(ctx, func(tx *wtx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM tenants WHERE id = ?`, tenantID).Scan(&one); err != nil {
			return notFound(err, "tenant")
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM routing_rules WHERE tenant_id = ?`, tenantID); err != nil {
			return err
		}
		for i, r := range rules {
			if _, err := tx.ExecContext(ctx, `INSERT INTO routing_rules (tenant_id, position, intent, channel, attribute, value, queue_id,
				priority_boost) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				tenantID, i, r.Intent, r.Channel, r.Attribute, r.Value, r.QueueID, r.PriorityBoost); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rules implements handoff.RoutingStore.
func (s *Store) Rules(ctx context.Context, tenantID int64) ([]handoff.Rule, error) {
	return queryAll(ctx, s.rd, func(row scanner) (handoff.Rule, error) {
		var r handoff.Rule
		err := row.Scan(&r.Intent, &r.Channel, &r.Attribute, &r.Value, &r.QueueID, &r.PriorityBoost)
		return r, err
	}, `SELECT intent, channel, attribute, value, queue_id, priority_boost FROM routing_rules WHERE tenant_id = ? ORDER BY position`, tenantID)
}

const entryColumns = `conversation_id, tenant_id, queue_id, priority, state, agent_id, version, deadline, enqueued_at,
	assigned_at, reason, intent, sentiment, note`

func scanEntry(row scanner) (handoff.Entry, error) {
	var e handoff.Entry
	var deadline, enqueued, assigned int64
	err := row.Scan(&e.ConversationID, &e.TenantID, &e.QueueID, &e.Priority, &e.State, &e.AgentID, &e.Version, &deadline,
		&enqueued, &assigned, &e.Reason, &e.Intent, &e.Sentiment, &e.Note)
	e.Deadline, e.EnqueuedAt, e.AssignedAt = fromMicros(deadline), fromMicros(enqueued), fromMicros(assigned)
	return e, err
}

// Enqueue implements handoff.RoutingStore.
func (s *Store) Enqueue(ctx context.Context, e handoff.Entry) (handoff.Entry, bool, error) {
	if e.EnqueuedAt.IsZero() {
		e.EnqueuedAt = now()
	}
	var out handoff.Entry
	var created bool
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		out, err = readEntry(ctx, tx, e.TenantID, e.ConversationID)
		if !conversation.IsNotFound(err) {
			return err
		}
		out, err = scanEntry(tx.QueryRowContext(ctx, `INSERT INTO routing_entries (conversation_id, tenant_id, queue_id, priority, state,
			version, enqueued_at, reason, intent, sentiment, note) VALUES (?, ?, ?, ?, 'waiting', 1, ?, ?, ?, ?, ?) RETURNING `+entryColumns,
			e.ConversationID, e.TenantID, e.QueueID, e.Priority, micros(e.EnqueuedAt), e.Reason, e.Intent, e.Sentiment, e.Note))
		if isUnique(err) {
			return conversation.Errorf(conversation.ECONFLICT, "the conversation is queued by another tenant")
		}
		created = err == nil
		return err
	})
	if err != nil {
		return handoff.Entry{}, false, fmt.Errorf("enqueue conversation: %w", err)
	}
	return out, created, nil
}

// Entry implements handoff.RoutingStore.
func (s *Store) Entry(ctx context.Context, tenantID, conversationID int64) (handoff.Entry, error) {
	e, err := scanEntry(s.rd.QueryRowContext(ctx, `SELECT `+entryColumns+` FROM routing_entries WHERE conversation_id = ? AND tenant_id = ?`,
		conversationID, tenantID))
	return e, notFound(err, "conversation in a queue")
}

func readEntry(ctx context.Context, tx *wtx, tenantID, conversationID int64) (handoff.Entry, error) {
	e, err := scanEntry(tx.QueryRowContext(ctx, `SELECT `+entryColumns+` FROM routing_entries WHERE conversation_id = ? AND tenant_id = ?`,
		conversationID, tenantID))
	return e, notFound(err, "conversation in a queue")
}

// ListEntries implements handoff.RoutingStore.
func (s *Store) ListEntries(ctx context.Context, tenantID, queueID, agentID int64) ([]handoff.Entry, error) {
	return queryAll(ctx, s.rd, scanEntry, `SELECT `+entryColumns+` FROM routing_entries
		WHERE tenant_id = ? AND (? = 0 OR queue_id = ?) AND (? = 0 OR agent_id = ?)
		ORDER BY priority DESC, enqueued_at, conversation_id`, tenantID, queueID, queueID, agentID, agentID)
}

// offerJob schedules the end of an offer, in the offer's transaction.
func offerJob(ctx context.Context, tx *wtx, e handoff.Entry) error {
	ts := micros(now())
	_, err := tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		e.TenantID, handoff.JobOffer, e.ConversationID, handoff.OfferJobKey(e), []byte(strconv.FormatInt(e.Version, 10)),
		micros(e.Deadline), conversation.DeliverMaxAttempts, ts, ts)
	return err
}

// offer makes a waiting entry offered to the agent until deadline, with
// its job. The agent's load is the caller's.
func offer(ctx context.Context, tx *wtx, e handoff.Entry, agentID int64, deadline time.Time) (handoff.Entry, error) {
	e, err := scanEntry(tx.QueryRowContext(ctx, `UPDATE routing_entries SET state = 'offered', agent_id = ?, deadline = ?,
		version = version + 1 WHERE conversation_id = ? RETURNING `+entryColumns, agentID, micros(deadline), e.ConversationID))
	if err != nil {
		return e, err
	}
	return e, offerJob(ctx, tx, e)
}

// OfferToAgent implements handoff.RoutingStore.
func (s *Store) OfferToAgent(ctx context.Context, o handoff.AgentOffer) ([]handoff.Entry, error) {
	at := o.At.UTC().Truncate(time.Microsecond)
	queues := make([]any, 0, len(o.Queues)+3)
	queues = append(queues, o.TenantID)
	for id := range o.Queues {
		queues = append(queues, id)
	}
	var offered []handoff.Entry
	err := s.write(ctx, func(tx *wtx) error {
		offered = nil
		a, err := readAgent(ctx, tx, o.TenantID, o.AgentID)
		if err != nil {
			return err
		}
		free := a.Capacity - a.Load
		if a.Status != handoff.StatusAvailable || free <= 0 || len(o.Queues) == 0 {
			return nil
		}
		picked, err := queryAll(ctx, tx, scanEntry, `SELECT `+entryColumns+` FROM routing_entries
			WHERE tenant_id = ? AND state = 'waiting' AND queue_id IN (`+placeholders(len(o.Queues))+`)
			ORDER BY priority DESC, enqueued_at, conversation_id LIMIT ?`, append(queues, free)...)
		if err != nil || len(picked) == 0 {
			return err
		}
		for _, e := range picked {
			e, err = offer(ctx, tx, e, o.AgentID, at.Add(o.Queues[e.QueueID]))
			if err != nil {
				return err
			}
			offered = append(offered, e)
		}
		_, err = tx.ExecContext(ctx, `UPDATE agents SET load = load + ?, idle_since = ?, last_offered_at = ? WHERE id = ?`,
			len(offered), micros(at), micros(at), o.AgentID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("offer conversations to agent: %w", err)
	}
	return offered, nil
}

// OfferEntry implements handoff.RoutingStore.
func (s *Store) OfferEntry(ctx context.Context, tenantID, conversationID int64, el handoff.Eligibility, at time.Time) (handoff.Entry, error) {
	at = at.UTC().Truncate(time.Microsecond)
	var e handoff.Entry
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		if e, err = readEntry(ctx, tx, tenantID, conversationID); err != nil || e.State != handoff.EntryWaiting || el.Strategy == handoff.StrategyManual {
			return err
		}
		var b strings.Builder
		args := []any{tenantID}
		b.WriteString(`SELECT id FROM agents WHERE tenant_id = ? AND status = 'available' AND load < capacity`)
		for _, sk := range el.Skills {
			args = append(args, "%,"+sk+",%")
			b.WriteString(" AND skills LIKE ?")
		}
		if el.TeamID != 0 {
			args = append(args, "%,"+strconv.FormatInt(el.TeamID, 10)+",%")
			b.WriteString(" AND teams LIKE ?")
		}
		if el.Strategy == handoff.StrategyRoundRobin {
			b.WriteString(" ORDER BY last_offered_at, id LIMIT 1")
		} else {
			b.WriteString(" ORDER BY idle_since, id LIMIT 1")
		}
		var agentID int64
		err = tx.QueryRowContext(ctx, b.String(), args...).Scan(&agentID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if e, err = offer(ctx, tx, e, agentID, at.Add(el.Timeout)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE agents SET load = load + 1, idle_since = ?, last_offered_at = ? WHERE id = ?`, micros(at), micros(at), agentID)
		return err
	})
	if err != nil {
		return handoff.Entry{}, fmt.Errorf("offer conversation: %w", err)
	}
	return e, nil
}

// changeLoad adds delta to the agent's load: a positive delta only within
// capacity and for an agent who is not offline; a negative one makes the
// agent idle from at.
func changeLoad(ctx context.Context, tx *wtx, tenantID, agentID int64, delta int, at time.Time) error {
	if agentID == 0 || delta == 0 {
		return nil
	}
	a, err := readAgent(ctx, tx, tenantID, agentID)
	if err != nil {
		return err
	}
	if delta < 0 {
		_, err = tx.ExecContext(ctx, `UPDATE agents SET load = load + ?, idle_since = ? WHERE id = ?`, delta, micros(at), agentID)
		return err
	}
	switch {
	case a.Status == handoff.StatusOffline:
		return conversation.Errorf(conversation.ECONFLICT, "the agent is offline")
	case a.Load+delta > a.Capacity:
		return conversation.Errorf(conversation.ECONFLICT, "the agent has no free capacity")
	}
	_, err = tx.ExecContext(ctx, `UPDATE agents SET load = load + ?, last_offered_at = ? WHERE id = ?`, delta, micros(at), agentID)
	return err
}

func closeHistory(ctx context.Context, tx *wtx, conversationID int64, at time.Time, disposition string) error {
	_, err := tx.ExecContext(ctx, `UPDATE routing_history SET released_at = ?, disposition = ? WHERE conversation_id = ? AND released_at = 0`,
		micros(at), disposition, conversationID)
	return err
}

// Claim implements handoff.RoutingStore.
func (s *Store) Claim(ctx context.Context, c handoff.Claim) (handoff.Entry, error) {
	at := c.At.UTC().Truncate(time.Microsecond)
	var e handoff.Entry
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		if e, err = readEntry(ctx, tx, c.TenantID, c.ConversationID); err != nil {
			return err
		}
		if err := handoff.CheckClaim(e, c); err != nil || (e.State == handoff.EntryAssigned && e.AgentID == c.AgentID) {
			return err
		}
		switch c.From {
		case handoff.EntryWaiting:
			err = changeLoad(ctx, tx, c.TenantID, c.AgentID, 1, at)
		case handoff.EntryAssigned:
			if err = changeLoad(ctx, tx, c.TenantID, c.AgentID, 1, at); err == nil {
				if err = changeLoad(ctx, tx, c.TenantID, c.Holder, -1, at); err == nil {
					err = closeHistory(ctx, tx, c.ConversationID, at, "transferred")
				}
			}
		}
		if err != nil {
			return err
		}
		note := e.Note
		if c.Note != "" {
			note = c.Note
		}
		if e, err = scanEntry(tx.QueryRowContext(ctx, `UPDATE routing_entries SET state = 'assigned', agent_id = ?, deadline = 0,
			assigned_at = ?, note = ?, version = version + 1 WHERE conversation_id = ? RETURNING `+entryColumns,
			c.AgentID, micros(at), note, c.ConversationID)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO routing_history (tenant_id, conversation_id, queue_id, agent_id, enqueued_at, assigned_at)
			VALUES (?, ?, ?, ?, ?, ?)`, e.TenantID, e.ConversationID, e.QueueID, e.AgentID, micros(e.EnqueuedAt), micros(at))
		return err
	})
	if err != nil {
		return handoff.Entry{}, fmt.Errorf("claim conversation: %w", err)
	}
	return e, nil
}

// Expire implements handoff.RoutingStore.
func (s *Store) Expire(ctx context.Context, tenantID, conversationID, offer int64, at time.Time) (handoff.Entry, bool, error) {
	var e handoff.Entry
	var done bool
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		if e, err = readEntry(ctx, tx, tenantID, conversationID); err != nil || e.State != handoff.EntryOffered || e.Version != offer {
			return err
		}
		if err := changeLoad(ctx, tx, tenantID, e.AgentID, -1, at); err != nil {
			return err
		}
		e, err = scanEntry(tx.QueryRowContext(ctx, `UPDATE routing_entries SET state = 'waiting', agent_id = 0, deadline = 0,
			version = version + 1 WHERE conversation_id = ? RETURNING `+entryColumns, conversationID))
		done = err == nil
		return err
	})
	if err != nil {
		return handoff.Entry{}, false, fmt.Errorf("expire offer: %w", err)
	}
	return e, done, nil
}

// Requeue implements handoff.RoutingStore.
func (s *Store) Requeue(ctx context.Context, r handoff.Requeue) (handoff.Entry, error) {
	var e handoff.Entry
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		if e, err = readEntry(ctx, tx, r.TenantID, r.ConversationID); err != nil {
			return err
		}
		if err := changeLoad(ctx, tx, r.TenantID, e.AgentID, -1, r.At); err != nil {
			return err
		}
		if e.State == handoff.EntryAssigned {
			if err := closeHistory(ctx, tx, r.ConversationID, r.At, "requeued"); err != nil {
				return err
			}
		}
		e, err = scanEntry(tx.QueryRowContext(ctx, `UPDATE routing_entries SET state = 'waiting', agent_id = 0, deadline = 0,
			queue_id = ?, priority = ?, note = ?, version = version + 1 WHERE conversation_id = ? RETURNING `+entryColumns,
			r.QueueID, r.Priority, r.Note, r.ConversationID))
		return err
	})
	if err != nil {
		return handoff.Entry{}, fmt.Errorf("requeue conversation: %w", err)
	}
	return e, nil
}

// Release implements handoff.RoutingStore.
func (s *Store) Release(ctx context.Context, tenantID, conversationID int64, disposition string, at time.Time) (handoff.Entry, error) {
	var e handoff.Entry
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		if e, err = readEntry(ctx, tx, tenantID, conversationID); err != nil {
			return err
		}
		if err := changeLoad(ctx, tx, tenantID, e.AgentID, -1, at); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM routing_entries WHERE conversation_id = ?`, conversationID); err != nil {
			return err
		}
		return closeHistory(ctx, tx, conversationID, at, disposition)
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
	err = s.rd.QueryRowContext(ctx, `SELECT count(*) FROM routing_entries WHERE tenant_id = ? AND queue_id = ? AND state = 'waiting'
		AND (priority > ? OR (priority = ? AND (enqueued_at < ? OR (enqueued_at = ? AND conversation_id < ?))))`,
		tenantID, e.QueueID, e.Priority, e.Priority, micros(e.EnqueuedAt), micros(e.EnqueuedAt), e.ConversationID).Scan(&n)
	return n + 1, err
}

// QueueStats implements handoff.RoutingStore.
func (s *Store) QueueStats(ctx context.Context, tenantID int64) ([]handoff.QueueStats, error) {
	return queryAll(ctx, s.rd, func(row scanner) (handoff.QueueStats, error) {
		var q handoff.QueueStats
		var oldest sql.NullInt64
		err := row.Scan(&q.QueueID, &q.Waiting, &q.Offered, &q.Assigned, &oldest)
		q.OldestWaiting = fromMicros(oldest.Int64)
		return q, err
	}, `SELECT queue_id, sum(state = 'waiting'), sum(state = 'offered'), sum(state = 'assigned'),
		min(CASE WHEN state = 'waiting' THEN enqueued_at END)
		FROM routing_entries WHERE tenant_id = ? GROUP BY queue_id ORDER BY queue_id`, tenantID)
}

// RecentAssignments implements handoff.RoutingStore.
func (s *Store) RecentAssignments(ctx context.Context, tenantID, queueID int64, n int) ([]time.Time, error) {
	return queryAll(ctx, s.rd, func(row scanner) (time.Time, error) {
		var t int64
		err := row.Scan(&t)
		return fromMicros(t), err
	}, `SELECT assigned_at FROM routing_history WHERE tenant_id = ? AND queue_id = ? ORDER BY id DESC LIMIT ?`, tenantID, queueID, n)
}

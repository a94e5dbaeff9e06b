package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/reports"
)

// The report pipeline (reports.Aggregates). Writers are serialized (one
// write connection, IMMEDIATE transactions) and messages are never
// deleted, so a message id is given, max(id)+1, under the write lock and
// committed before the next writer starts: ids are commit-ordered, and the
// watermark needs no gaps.

var _ reports.Aggregates = (*Store)(nil)

const reportMessageColumns = `id, tenant_id, conversation_id, contact_id, seq, direction, author_kind, author_id, channel, created_at`

func scanMessageRow(rows scanner) (reports.Row, error) {
	var id, tenant, conv, contact, seq, author, at int64
	var dir, kind, ch string
	err := rows.Scan(&id, &tenant, &conv, &contact, &seq, &dir, &kind, &author, &ch, &at)
	return reports.MessageRow(tenant, id, conv, contact, seq, conversation.Direction(dir), kind, author, conversation.ChannelKind(ch), fromMicros(at)), err
}

const reportEventColumns = `id, tenant_id, name, ref, conversation_id, contact_id, channel, at, queue_id, agent_id, key, detail, score, flag`

func scanEventRow(rows scanner) (int64, reports.Row, error) {
	var id, at int64
	var r reports.Row
	var ch string
	err := rows.Scan(&id, &r.TenantID, &r.Name, &r.Ref, &r.ConversationID, &r.ContactID, &ch, &at, &r.QueueID, &r.AgentID, &r.Key, &r.Detail, &r.Score, &r.Flag)
	r.Channel, r.At = conversation.ChannelKind(ch), fromMicros(at)
	return id, r, err
}

// Rollup implements reports.Aggregates.
func (s *Store) Rollup(ctx context.Context, o reports.RollupOptions) (reports.RollupResult, error) {
	var res reports.RollupResult
	err := s.write(ctx, func(tx *wtx) error {
		var err error
		res, err = rollupTx(ctx, tx, o)
		return err
	})
	if err != nil {
		return reports.RollupResult{}, fmt.Errorf("reports rollup: %w", err)
	}
	return res, nil
}

func rollupTx(ctx context.Context, tx *wtx, o reports.RollupOptions) (reports.RollupResult, error) {
	var res reports.RollupResult
	var wm int64
	if err := tx.QueryRowContext(ctx, `SELECT watermark FROM report_state WHERE id = 1`).Scan(&wm); err != nil {
		return res, err
	}
	rows, err := queryAll(ctx, tx, scanMessageRow, `SELECT `+reportMessageColumns+` FROM messages WHERE id > ? ORDER BY id LIMIT ?`, wm, o.Batch)
	if err != nil {
		return res, err
	}
	res.More = len(rows) == o.Batch
	if len(rows) > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE report_state SET watermark = ? WHERE id = 1`, rows[len(rows)-1].Ref); err != nil {
			return res, err
		}
	}
	type outboxRow struct {
		id  int64
		row reports.Row
	}
	events, err := queryAll(ctx, tx, func(r scanner) (outboxRow, error) {
		id, row, err := scanEventRow(r)
		return outboxRow{id, row}, err
	}, `SELECT `+reportEventColumns+` FROM report_events ORDER BY id LIMIT ?`, o.Batch)
	if err != nil {
		return res, err
	}
	if len(events) > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM report_events WHERE id <= ?`, events[len(events)-1].id); err != nil {
			return res, err
		}
		res.More = res.More || len(events) == o.Batch
	}
	for _, e := range events {
		rows = append(rows, e.row)
	}
	res.Rows = len(rows)
	if len(rows) == 0 {
		return res, nil
	}
	d := reports.Fold(rows)
	res.Tenants = d.Tenants
	if err := applyCounters(ctx, tx, d.Counters); err != nil {
		return res, err
	}
	past := reports.NewPastChanges(o.Now)
	past.Counters(d.Counters)
	if err := applyFacts(ctx, tx, d.Facts, past); err != nil {
		return res, err
	}
	if err := markChanges(ctx, tx, past.List()); err != nil {
		return res, err
	}
	res.Jobs, err = enqueueExports(ctx, tx, d.Tenants, rows, o.Now)
	return res, err
}

// markChanges marks the tenants' days of cs changed, with the next
// revision (see reports.Aggregates.Revision).
func markChanges(ctx context.Context, tx *wtx, cs []reports.Change) error {
	if len(cs) == 0 {
		return nil
	}
	var rev int64
	if err := tx.QueryRowContext(ctx, `UPDATE report_state SET revision = revision + 1 WHERE id = 1 RETURNING revision`).Scan(&rev); err != nil {
		return fmt.Errorf("next report revision: %w", err)
	}
	for _, c := range cs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_changes (tenant_id, day, revision) VALUES (?, ?, ?)
			ON CONFLICT (tenant_id, day) DO UPDATE SET revision = excluded.revision`, c.TenantID, micros(c.Day), rev); err != nil {
			return fmt.Errorf("mark report days changed: %w", err)
		}
	}
	return nil
}

func applyCounters(ctx context.Context, tx *wtx, cs []reports.Counter) error {
	for _, c := range cs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_counters (tenant_id, hour, metric, dim, dim2, n) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, metric, hour, dim, dim2) DO UPDATE SET n = n + excluded.n`,
			c.TenantID, micros(c.Hour), c.Metric, c.Dim, c.Dim2, c.N); err != nil {
			return fmt.Errorf("add counter: %w", err)
		}
	}
	return nil
}

// applyFacts merges fs into the stored facts, adding what changed to past.
func applyFacts(ctx context.Context, tx *wtx, fs []reports.Fact, past *reports.PastChanges) error {
	for _, f := range fs {
		stored := reports.Fact{TenantID: f.TenantID, ConversationID: f.ConversationID}
		var before reports.Fact
		var ch string
		var opened, queued, assigned, replied, closed int64
		err := tx.QueryRowContext(ctx, `SELECT channel, opened_at, queued_at, queue_id, assigned_at, agent_id, first_reply_at, closed_at
			FROM report_conversations WHERE tenant_id = ? AND conversation_id = ?`, f.TenantID, f.ConversationID).
			Scan(&ch, &opened, &queued, &stored.QueueID, &assigned, &stored.AgentID, &replied, &closed)
		switch {
		case err == nil:
			stored.Channel, stored.OpenedAt, stored.QueuedAt = conversation.ChannelKind(ch), fromMicros(opened), fromMicros(queued)
			stored.AssignedAt, stored.FirstReplyAt, stored.ClosedAt = fromMicros(assigned), fromMicros(replied), fromMicros(closed)
			before = stored
			stored.Merge(f)
			f = stored
		case err != sql.ErrNoRows:
			return fmt.Errorf("read fact: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_conversations (tenant_id, conversation_id, channel, opened_at, queued_at, queue_id,
			assigned_at, agent_id, first_reply_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET channel = excluded.channel, opened_at = excluded.opened_at,
			queued_at = excluded.queued_at, queue_id = excluded.queue_id, assigned_at = excluded.assigned_at, agent_id = excluded.agent_id,
			first_reply_at = excluded.first_reply_at, closed_at = excluded.closed_at`,
			f.TenantID, f.ConversationID, string(f.Channel), micros(f.OpenedAt), micros(f.QueuedAt), f.QueueID,
			micros(f.AssignedAt), f.AgentID, micros(f.FirstReplyAt), micros(f.ClosedAt)); err != nil {
			return fmt.Errorf("store fact: %w", err)
		}
		past.Fact(before, f)
	}
	return nil
}

// enqueueExports enqueues one reports.JobExport job per tenant with an
// enabled analytics destination, with the tenant's events of rows.
func enqueueExports(ctx context.Context, tx *wtx, tenants []int64, rows []reports.Row, at time.Time) (int, error) {
	jobs := 0
	for _, t := range tenants {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM analytics_destinations WHERE tenant_id = ? AND disabled = 0`, t).Scan(&n); err != nil {
			return jobs, err
		}
		if n == 0 {
			continue
		}
		payload, err := json.Marshal(reports.Events(tenantRows(rows, t)))
		if err != nil {
			return jobs, err
		}
		ts := micros(at.UTC().Truncate(time.Microsecond))
		if _, err := tx.ExecContext(ctx, `INSERT INTO jobs (tenant_id, kind, ref, key, payload, state, run_at, max_attempts, created_at, updated_at)
			VALUES (?, ?, 0, NULL, ?, 'pending', ?, ?, ?, ?)`, t, reports.JobExport, payload, ts, conversation.DeliverMaxAttempts, ts, ts); err != nil {
			return jobs, fmt.Errorf("enqueue export: %w", err)
		}
		jobs++
	}
	return jobs, nil
}

func tenantRows(rows []reports.Row, tenantID int64) []reports.Row {
	var out []reports.Row
	for _, r := range rows {
		if r.TenantID == tenantID {
			out = append(out, r)
		}
	}
	return out
}

// Backfill implements reports.Aggregates. It runs in one IMMEDIATE
// transaction: it folds what is pending, then replaces the range from the
// source tables; no other writer runs meanwhile.
func (s *Store) Backfill(ctx context.Context, tenantID int64, from, to time.Time) error {
	err := s.write(ctx, func(tx *wtx) error {
		for {
			res, err := rollupTx(ctx, tx, reports.RollupOptions{Batch: reports.DefaultBatch, Now: time.Now()})
			if err != nil {
				return err
			}
			if !res.More {
				break
			}
		}
		f, t := micros(from), micros(to)
		tenant := ` AND (? = 0 OR tenant_id = ?)`
		if _, err := tx.ExecContext(ctx, `DELETE FROM report_counters WHERE hour >= ? AND hour < ?`+tenant, f, t, tenantID, tenantID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM report_conversations WHERE opened_at >= ? AND opened_at < ?`+tenant, f, t, tenantID, tenantID); err != nil {
			return err
		}
		// The counters of the hours, from the rows of the range; messages
		// a chunk at a time.
		for after := int64(0); ; {
			rows, err := queryAll(ctx, tx, scanMessageRow, `SELECT `+reportMessageColumns+` FROM messages
				WHERE id > ? AND created_at >= ? AND created_at < ?`+tenant+` ORDER BY id LIMIT 20000`, after, f, t, tenantID, tenantID)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			after = rows[len(rows)-1].Ref
			if err := applyCounters(ctx, tx, reports.Fold(rows).Counters); err != nil {
				return err
			}
		}
		rows, err := queryAll(ctx, tx, func(r scanner) (reports.Row, error) { _, row, err := scanEventRow(r); return row, err }, `
			SELECT 0, tenant_id, 'conversation.handed_off', id, conversation_id, 0, '', at, queue_id, 0, reason, intent, 0, 0
				FROM report_handoffs WHERE at >= ? AND at < ?`+tenant+`
			UNION ALL
			SELECT 0, tenant_id, CASE WHEN coalesce(json_extract(analysis, '$.intent'), '') <> '' THEN 'intent.recognized' ELSE 'message.unrecognized' END,
				id, conversation_id, contact_id, channel, created_at, 0, 0,
				CASE WHEN coalesce(json_extract(analysis, '$.intent'), '') <> '' THEN json_extract(analysis, '$.intent') ELSE substr(body, 1, 500) END, '', 0, 0
				FROM messages WHERE analysis IS NOT NULL AND direction = 'in' AND created_at >= ? AND created_at < ?`+tenant+`
			UNION ALL
			SELECT 0, tenant_id, 'message.failed', id, conversation_id, contact_id, channel, updated_at, 0, 0, failure_code, '', 0, 0
				FROM messages WHERE status = 'failed' AND updated_at >= ? AND updated_at < ?`+tenant,
			f, t, tenantID, tenantID, f, t, tenantID, tenantID, f, t, tenantID, tenantID)
		if err != nil {
			return err
		}
		if err := applyCounters(ctx, tx, reports.Fold(rows).Counters); err != nil {
			return err
		}
		// The facts of the conversations opened in the range, from all
		// their rows.
		opened := `SELECT conversation_id FROM messages WHERE seq = 1 AND created_at >= ? AND created_at < ?` + tenant
		rows, err = queryAll(ctx, tx, scanMessageRow, `SELECT `+reportMessageColumns+` FROM messages
			WHERE conversation_id IN (`+opened+`) AND (seq = 1 OR (direction = 'out' AND author_kind = 'agent'))`, f, t, tenantID, tenantID)
		if err != nil {
			return err
		}
		more, err := queryAll(ctx, tx, func(r scanner) (reports.Row, error) { _, row, err := scanEventRow(r); return row, err }, `
			SELECT 0, tenant_id, 'conversation.handed_off', id, conversation_id, 0, '', at, queue_id, 0, reason, intent, 0, 0
				FROM report_handoffs WHERE conversation_id IN (`+opened+`)
			UNION ALL
			SELECT 0, tenant_id, 'conversation.assigned', id, conversation_id, 0, '', assigned_at, queue_id, agent_id, '', '', 0, 0
				FROM routing_history WHERE conversation_id IN (`+opened+`)
			UNION ALL
			SELECT 0, tenant_id, 'conversation.closed', id, id, contact_id, channel, closed_at, 0, 0, '', '', 0, 0
				FROM conversations WHERE closed_at <> 0 AND id IN (`+opened+`)`,
			f, t, tenantID, tenantID, f, t, tenantID, tenantID, f, t, tenantID, tenantID)
		if err != nil {
			return err
		}
		if err := applyFacts(ctx, tx, reports.Fold(append(rows, more...)).Facts, nil); err != nil {
			return err
		}
		// The tenants' days of the range, and after it, are marked changed.
		tenants, err := queryAll(ctx, tx, func(r scanner) (int64, error) {
			var id int64
			return id, r.Scan(&id)
		}, `SELECT id FROM tenants WHERE ? = 0 OR id = ? ORDER BY id`, tenantID, tenantID)
		if err != nil {
			return err
		}
		return markChanges(ctx, tx, reports.BackfillChanges(tenants, from, to, time.Now()))
	})
	if err != nil {
		return fmt.Errorf("reports backfill: %w", err)
	}
	return nil
}

// Revision implements reports.Aggregates.
func (s *Store) Revision(ctx context.Context, tenantID int64, from, to time.Time) (int64, error) {
	days := reports.Days(from, to)
	if len(days) == 0 {
		return 0, nil
	}
	var rev int64
	err := s.r.QueryRowContext(ctx, `SELECT coalesce(max(revision), 0) FROM report_changes WHERE tenant_id = ? AND day >= ? AND day <= ?`,
		tenantID, micros(days[0]), micros(days[len(days)-1])).Scan(&rev)
	return rev, err
}

// Counters implements reports.Aggregates.
func (s *Store) Counters(ctx context.Context, tenantID int64, from, to time.Time, metrics ...string) ([]reports.Counter, error) {
	args := []any{tenantID, micros(from), micros(to)}
	for _, m := range metrics {
		args = append(args, m)
	}
	return queryAll(ctx, s.r, func(r scanner) (reports.Counter, error) {
		c := reports.Counter{TenantID: tenantID}
		var h int64
		err := r.Scan(&h, &c.Metric, &c.Dim, &c.Dim2, &c.N)
		c.Hour = fromMicros(h)
		return c, err
	}, `SELECT hour, metric, dim, dim2, n FROM report_counters
		WHERE tenant_id = ? AND hour >= ? AND hour < ? AND metric IN (`+placeholders(len(metrics))+`) ORDER BY hour, metric, dim, dim2`, args...)
}

// Top implements reports.Aggregates.
func (s *Store) Top(ctx context.Context, tenantID int64, metric string, from, to time.Time, limit int) ([]reports.Counter, error) {
	return queryAll(ctx, s.r, func(r scanner) (reports.Counter, error) {
		c := reports.Counter{TenantID: tenantID, Metric: metric}
		return c, r.Scan(&c.Dim, &c.Dim2, &c.N)
	}, `SELECT dim, dim2, sum(n) FROM report_counters
		WHERE tenant_id = ? AND hour >= ? AND hour < ? AND metric = ? GROUP BY dim, dim2 ORDER BY 3 DESC, dim, dim2 LIMIT ?`,
		tenantID, micros(from), micros(to), metric, limit)
}

// Closed implements reports.Aggregates.
func (s *Store) Closed(ctx context.Context, tenantID int64, from, to time.Time) (closed, contained int64, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(queued_at = 0), 0) FROM report_conversations
		WHERE tenant_id = ? AND closed_at <> 0 AND closed_at >= ? AND closed_at < ?`, tenantID, micros(from), micros(to)).Scan(&closed, &contained)
	return closed, contained, err
}

// scopeSQL returns the condition that keeps what a scope handles, with
// its arguments, or "" for none.
func scopeSQL(sc *reports.Scope, queue, agent string) (string, []any) {
	if sc == nil {
		return "", nil
	}
	var args []any
	for _, q := range sc.Queues {
		args = append(args, q)
	}
	for _, a := range sc.Agents {
		args = append(args, a)
	}
	return fmt.Sprintf(` AND (%s IN (%s) OR %s IN (%s))`, queue, placeholders(len(sc.Queues)), agent, placeholders(len(sc.Agents))), args
}

// Timings implements reports.Aggregates: the percentiles are computed in
// Go (reports.TimingsOf).
func (s *Store) Timings(ctx context.Context, q reports.TimingQuery) ([]reports.Timing, error) {
	d, at, cond := `first_reply_at - CASE WHEN queued_at <> 0 AND queued_at <= first_reply_at THEN queued_at ELSE opened_at END`,
		`first_reply_at`, `first_reply_at <> 0 AND opened_at <> 0`
	if q.Kind == reports.TimingResolution {
		d, at, cond = `closed_at - opened_at`, `closed_at`, `closed_at <> 0 AND opened_at <> 0`
	}
	sc, args := scopeSQL(q.Scope, "queue_id", "agent_id")
	samples, err := queryAll(ctx, s.r, func(r scanner) (reports.Sample, error) {
		var sm reports.Sample
		var us int64
		err := r.Scan(&sm.Channel, &sm.QueueID, &sm.AgentID, &us)
		sm.D = time.Duration(us) * time.Microsecond
		return sm, err
	}, `SELECT channel, queue_id, agent_id, `+d+` FROM report_conversations
		WHERE tenant_id = ? AND `+at+` >= ? AND `+at+` < ? AND `+cond+sc, append([]any{q.TenantID, micros(q.From), micros(q.To)}, args...)...)
	if err != nil {
		return nil, err
	}
	return reports.TimingsOf(samples), nil
}

// Cases implements reports.Aggregates.
func (s *Store) Cases(ctx context.Context, tenantID int64, from, to, now time.Time, scope *reports.Scope) (reports.CaseFigures, []reports.Counter, error) {
	cf := reports.CaseFigures{ByType: []reports.Count{}, ByStatus: []reports.Count{}, ByChannel: []reports.Count{}}
	sc, scArgs := scopeSQL(scope, "team_id", "assignee_id")
	if scope != nil {
		// Cases name teams, not queues.
		sc, scArgs = scopeSQL(&reports.Scope{Queues: scope.Teams, Agents: scope.Agents}, "team_id", "assignee_id")
	}
	f, t := micros(from), micros(to)
	base := append([]any{tenantID, f, t}, scArgs...)
	for col, out := range map[string]*[]reports.Count{"type": &cf.ByType, "status": &cf.ByStatus, "channel": &cf.ByChannel} {
		counts, err := queryAll(ctx, s.r, func(r scanner) (reports.Count, error) {
			var c reports.Count
			return c, r.Scan(&c.Key, &c.Count)
		}, `SELECT `+col+`, count(*) FROM cases WHERE tenant_id = ? AND filed_at >= ? AND filed_at < ?`+sc+`
			GROUP BY 1 ORDER BY 2 DESC, 1`, base...)
		if err != nil {
			return cf, nil, err
		}
		*out = append(*out, counts...)
	}
	for _, c := range cf.ByType {
		cf.Filed += c.Count
	}
	if err := s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(EXISTS (SELECT 1 FROM case_events e WHERE e.case_id = cases.id
			AND e.to_status IN ('resuelto', 'cerrado') AND e.created_at <= cases.due)), 0)
		FROM cases WHERE tenant_id = ? AND due >= ? AND due < ?`+sc, base...).Scan(&cf.Due, &cf.OnTime); err != nil {
		return cf, nil, err
	}
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM cases WHERE tenant_id = ? AND status NOT IN ('resuelto', 'cerrado') AND due < ?`+sc,
		append([]any{tenantID, micros(now)}, scArgs...)...).Scan(&cf.Overdue); err != nil {
		return cf, nil, err
	}
	filed, err := queryAll(ctx, s.r, func(r scanner) (reports.Counter, error) {
		c := reports.Counter{TenantID: tenantID, Metric: "cases"}
		var h int64
		err := r.Scan(&h, &c.N)
		c.Hour = fromMicros(h)
		return c, err
	}, `SELECT filed_at / 3600000000 * 3600000000, count(*) FROM cases
		WHERE tenant_id = ? AND filed_at >= ? AND filed_at < ?`+sc+` GROUP BY 1 ORDER BY 1`, base...)
	return cf, filed, err
}

// SurveyScores implements reports.Aggregates.
func (s *Store) SurveyScores(ctx context.Context, tenantID int64, kind string, from, to time.Time) ([]reports.Count, error) {
	return queryAll(ctx, s.r, func(r scanner) (reports.Count, error) {
		var c reports.Count
		return c, r.Scan(&c.Key, &c.Count)
	}, `SELECT CASE WHEN status = 'answered' THEN CAST(score AS TEXT) ELSE '' END, count(*) FROM surveys
		WHERE tenant_id = ? AND kind = ? AND sent_at >= ? AND sent_at < ? AND status IN ('sent', 'answered') GROUP BY 1 ORDER BY 1`,
		tenantID, kind, micros(from), micros(to))
}

// Directory implements reports.Aggregates.
func (s *Store) Directory(ctx context.Context, tenantID int64) (reports.Directory, error) {
	var d reports.Directory
	var err error
	named := func(r scanner) (reports.Named, error) {
		var n reports.Named
		var teams string
		err := r.Scan(&n.ID, &n.Name, &n.TeamID, &teams)
		n.Teams = handoff.SplitIDs(teams)
		return n, err
	}
	if d.Teams, err = queryAll(ctx, s.r, named, `SELECT id, name, 0, '' FROM teams WHERE tenant_id = ? ORDER BY id`, tenantID); err != nil {
		return d, err
	}
	if d.Queues, err = queryAll(ctx, s.r, named, `SELECT id, name, team_id, '' FROM queues WHERE tenant_id = ? ORDER BY id`, tenantID); err != nil {
		return d, err
	}
	d.Agents, err = queryAll(ctx, s.r, named, `SELECT id, name, 0, teams FROM agents WHERE tenant_id = ? ORDER BY id`, tenantID)
	return d, err
}

package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"conversa/reports"
)

var _ reports.LiveStore = (*Store)(nil)

// ReadLive implements reports.LiveStore: open conversations by the
// conversations_state index (tenant_id, state, id), agents by tenant.
func (s *Store) ReadLive(ctx context.Context, tenantID int64, teams []int64) (reports.Live, error) {
	scanCount := func(row pgx.Row) (reports.StateCount, error) {
		var c reports.StateCount
		return c, row.Scan(&c.State, &c.Channel, &c.Count)
	}
	var counts []reports.StateCount
	var err error
	if len(teams) == 0 {
		counts, err = queryAll(ctx, s.pool, scanCount, `SELECT state, channel, COUNT(*) FROM conversations
			WHERE tenant_id = $1 AND state IN ('bot', 'queued', 'agent') GROUP BY state, channel`, tenantID)
	} else {
		counts, err = queryAll(ctx, s.pool, scanCount, `SELECT c.state, c.channel, COUNT(*) FROM routing_entries e
			JOIN queues q ON q.id = e.queue_id AND q.tenant_id = e.tenant_id
			JOIN conversations c ON c.id = e.conversation_id AND c.tenant_id = e.tenant_id
			WHERE e.tenant_id = $1 AND q.team_id = ANY($2) AND c.state IN ('queued', 'agent')
			GROUP BY c.state, c.channel`, tenantID, teams)
	}
	if err != nil {
		return reports.Live{}, fmt.Errorf("read live conversations: %w", err)
	}
	query := `SELECT id, name, status, load, capacity FROM agents WHERE tenant_id = $1 AND status <> 'offline'`
	args := []any{tenantID}
	if len(teams) > 0 {
		query += ` AND teams LIKE ANY($2)`
		args = append(args, reports.TeamPatterns(teams))
	}
	agents, err := queryAll(ctx, s.pool, func(row pgx.Row) (reports.AgentLoad, error) {
		var a reports.AgentLoad
		return a, row.Scan(&a.ID, &a.Name, &a.Status, &a.Load, &a.Capacity)
	}, query+" ORDER BY name, id", args...)
	if err != nil {
		return reports.Live{}, fmt.Errorf("read live agents: %w", err)
	}
	return reports.NewLive(counts, agents), nil
}

package sqlite

import (
	"context"
	"fmt"
	"strings"

	"conversa/reports"
)

var _ reports.LiveStore = (*Store)(nil)

// ReadLive implements reports.LiveStore: open conversations by the
// partial index conversations_open (tenant_id, contact_id) WHERE state <>
// 'closed', named because without statistics SQLite would rather walk
// every conversation of the tenant by conversations_contact; agents by
// tenant.
func (s *Store) ReadLive(ctx context.Context, tenantID int64, teams []int64) (reports.Live, error) {
	var counts []reports.StateCount
	var err error
	scanCount := func(row scanner) (reports.StateCount, error) {
		var c reports.StateCount
		return c, row.Scan(&c.State, &c.Channel, &c.Count)
	}
	args := []any{tenantID}
	teamIn := ""
	if len(teams) > 0 {
		teamIn = strings.TrimSuffix(strings.Repeat("?, ", len(teams)), ", ")
		for _, id := range teams {
			args = append(args, id)
		}
	}
	if len(teams) == 0 {
		counts, err = queryAll(ctx, s.rd, scanCount, `SELECT state, channel, COUNT(*) FROM conversations INDEXED BY conversations_open
			WHERE tenant_id = ? AND state <> 'closed' GROUP BY state, channel`, args...)
	} else {
		counts, err = queryAll(ctx, s.rd, scanCount, `SELECT c.state, c.channel, COUNT(*) FROM routing_entries e
			JOIN queues q ON q.id = e.queue_id AND q.tenant_id = e.tenant_id
			JOIN conversations c ON c.id = e.conversation_id AND c.tenant_id = e.tenant_id
			WHERE e.tenant_id = ? AND q.team_id IN (`+teamIn+`) AND c.state IN ('queued', 'agent')
			GROUP BY c.state, c.channel`, args...)
	}
	if err != nil {
		return reports.Live{}, fmt.Errorf("read live conversations: %w", err)
	}
	query := `SELECT id, name, status, load, capacity FROM agents WHERE tenant_id = ? AND status <> 'offline'`
	args = []any{tenantID}
	if len(teams) > 0 {
		like := make([]string, len(teams))
		for i, p := range reports.TeamPatterns(teams) {
			like[i] = "teams LIKE ?"
			args = append(args, p)
		}
		query += " AND (" + strings.Join(like, " OR ") + ")"
	}
	agents, err := queryAll(ctx, s.rd, func(row scanner) (reports.AgentLoad, error) {
		var a reports.AgentLoad
		return a, row.Scan(&a.ID, &a.Name, &a.Status, &a.Load, &a.Capacity)
	}, query+" ORDER BY name, id", args...)
	if err != nil {
		return reports.Live{}, fmt.Errorf("read live agents: %w", err)
	}
	return reports.NewLive(counts, agents), nil
}

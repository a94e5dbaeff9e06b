package reports

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// LiveStore reads what is happening now, straight from the source tables
// (conversations, the routing entries and the agents), which are small
// and indexed for it: open conversations by state, agents by tenant.
// storage/sqlite and storage/postgres implement it, proven by
// reportstest.TestLiveStore. Safe for concurrent use.
type LiveStore interface {
	// ReadLive returns the tenant's open conversations by state (Waiting:
	// queued; Active: with an agent; WithBot) and channel, and its agents
	// who are not offline, with their status, load and capacity, by name.
	// Counts are sorted by channel and leave out zeros. With teams, it
	// counts only the waiting and assigned conversations whose routing
	// entry is in a queue of one of the teams, leaves WithBot empty (the
	// bot is no team's), and returns only the agents of those teams.
	// Another tenant's data never shows; an unknown tenant reads empty.
	ReadLive(ctx context.Context, tenantID int64, teams []int64) (Live, error)
}

// Live returns the dashboard's view of now for the tenant, in its time
// zone loc (nil is UTC): see LiveStore.ReadLive for teams (a supervisor's
// view; empty is the whole tenant). Today is the report of the tenant's
// day so far (Report of the day, with the teams). Returns EINVALID for a
// tenant id or team id that is not positive, or a team that is not the
// tenant's.
func (s *Service) Live(ctx context.Context, tenantID int64, loc *time.Location, teams []int64) (Live, error) {
	if tenantID <= 0 {
		return Live{}, conversation.FieldError("tenant_id", "must be positive")
	}
	if slices.ContainsFunc(teams, func(id int64) bool { return id <= 0 }) {
		return Live{}, conversation.FieldError("teams", "team ids are positive")
	}
	if loc == nil {
		loc = time.UTC
	}
	live, err := s.store.ReadLive(ctx, tenantID, teams)
	if err != nil {
		return Live{}, err
	}
	live.At = s.now().In(loc)
	from, to := Today(live.At)
	live.Today, err = s.Report(ctx, Query{TenantID: tenantID, From: from, To: to, Location: loc, Teams: teams})
	if err != nil {
		return Live{}, err
	}
	return live, nil
}

// Today returns the day of at, in at's location: [midnight, next
// midnight).
func Today(at time.Time) (from, to time.Time) {
	from = time.Date(at.Year(), at.Month(), at.Day(), 0, 0, 0, 0, at.Location())
	return from, from.AddDate(0, 0, 1)
}

// StateCount is how many open conversations are in a state on a channel,
// as a LiveStore counts them.
type StateCount struct {
	State   conversation.State
	Channel conversation.ChannelKind
	Count   int64
}

// NewLive is the Live of counts and agents, for a LiveStore: the counts
// sorted into Waiting, Active and WithBot by channel (zeros and closed
// conversations left out), never nil, so the JSON shows empty lists.
func NewLive(counts []StateCount, agents []AgentLoad) Live {
	l := Live{Waiting: []Count{}, Active: []Count{}, WithBot: []Count{}, Agents: agents}
	if l.Agents == nil {
		l.Agents = []AgentLoad{}
	}
	for _, c := range counts {
		var list *[]Count
		switch c.State {
		case conversation.StateQueued:
			list = &l.Waiting
		case conversation.StateAgent:
			list = &l.Active
		case conversation.StateBot:
			list = &l.WithBot
		}
		if list == nil || c.Count <= 0 {
			continue
		}
		if i := slices.IndexFunc(*list, func(x Count) bool { return x.Key == string(c.Channel) }); i >= 0 {
			(*list)[i].Count += c.Count
		} else {
			*list = append(*list, Count{Key: string(c.Channel), Count: c.Count})
		}
	}
	for _, list := range [][]Count{l.Waiting, l.Active, l.WithBot} {
		slices.SortFunc(list, func(a, b Count) int { return strings.Compare(a.Key, b.Key) })
	}
	return l
}

// TeamPatterns are the LIKE patterns that find the agents of teams in the
// stores' team lists (",3,7,").
func TeamPatterns(teams []int64) []string {
	out := make([]string, len(teams))
	for i, id := range teams {
		out[i] = "%," + strconv.FormatInt(id, 10) + ",%"
	}
	return out
}

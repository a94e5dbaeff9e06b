package reportstest

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/reports"
)

// TestLiveStore runs the reports.LiveStore contract over a World of its
// own (its Reports is the store under test; the suite uses Conv, Team,
// Queue, Agent, Status, Handoff and Assign).
func TestLiveStore(t *testing.T, newWorld func(t *testing.T) World) {
	t.Parallel()
	w := newWorld(t)
	cs, staff, s := w.Conv, liveStaff{w}, w.Reports
	ctx := t.Context()
	a := newLiveTenant(t, cs, "alpha")
	b := newLiveTenant(t, cs, "beta")

	t1, t2 := a.team(t, staff, "ventas"), a.team(t, staff, "soporte")
	q1, q2, q0 := a.queue(t, staff, t1, "ventas"), a.queue(t, staff, t2, "soporte"), a.queue(t, staff, 0, "general")
	ana := a.agent(t, staff, "ana", []int64{t1}, "available")
	luis := a.agent(t, staff, "luis", []int64{t2}, "busy")
	a.agent(t, staff, "olga", []int64{t1}, "offline")
	sam := a.agent(t, staff, "sam", nil, "away")

	a.conv(t, cs, conversation.ChannelWebchat)               // with the bot
	a.queued(t, cs, staff, conversation.ChannelWebchat, q1)  // waits for ventas
	a.queued(t, cs, staff, conversation.ChannelTelegram, q2) // waits for soporte
	a.queued(t, cs, staff, conversation.ChannelTelegram, q0) // waits for anyone
	held := a.queued(t, cs, staff, conversation.ChannelWebchat, q1)
	must(t, staff.Assign(ctx, a.id, held.ID, ana))
	_, err := cs.TransitionConversation(ctx, a.id, held.ID, conversation.Transition{From: conversation.StateQueued, To: conversation.StateAgent, AssigneeID: ana})
	must(t, err)
	closed := a.conv(t, cs, conversation.ChannelWebchat)
	_, err = cs.TransitionConversation(ctx, a.id, closed.ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateClosed})
	must(t, err)

	// The other tenant: its team, queue, agent and conversations never
	// show in alpha's view, even by alpha's team ids.
	tb := b.team(t, staff, "ventas")
	qb := b.queue(t, staff, tb, "ventas")
	b.agent(t, staff, "bea", []int64{tb}, "available")
	b.queued(t, cs, staff, conversation.ChannelWebchat, qb)
	b.conv(t, cs, conversation.ChannelTelegram)

	cnt := func(kv ...any) []reports.Count {
		out := []reports.Count{}
		for i := 0; i < len(kv); i += 2 {
			out = append(out, reports.Count{Key: string(kv[i].(conversation.ChannelKind)), Count: int64(kv[i+1].(int))})
		}
		return out
	}
	load := func(id int64, name, status string, load, capacity int) reports.AgentLoad {
		return reports.AgentLoad{ID: id, Name: name, Status: status, Load: load, Capacity: capacity}
	}
	web, tg := conversation.ChannelWebchat, conversation.ChannelTelegram
	for _, tt := range []struct {
		name   string
		tenant int64
		teams  []int64
		want   reports.Live
	}{
		{"whole tenant", a.id, nil, reports.Live{
			Waiting: cnt(tg, 2, web, 1), Active: cnt(web, 1), WithBot: cnt(web, 1),
			Agents: []reports.AgentLoad{load(ana, "ana", "available", 1, 5), load(luis, "luis", "busy", 0, 5), load(sam, "sam", "away", 0, 5)},
		}},
		{"one team", a.id, []int64{t1}, reports.Live{
			Waiting: cnt(web, 1), Active: cnt(web, 1), WithBot: cnt(),
			Agents: []reports.AgentLoad{load(ana, "ana", "available", 1, 5)},
		}},
		{"two teams", a.id, []int64{t1, t2}, reports.Live{
			Waiting: cnt(tg, 1, web, 1), Active: cnt(web, 1), WithBot: cnt(),
			Agents: []reports.AgentLoad{load(ana, "ana", "available", 1, 5), load(luis, "luis", "busy", 0, 5)},
		}},
		{"another tenant's team", a.id, []int64{tb}, reports.Live{Waiting: cnt(), Active: cnt(), WithBot: cnt(), Agents: []reports.AgentLoad{}}},
		{"a team of another tenant's view", b.id, []int64{t1}, reports.Live{Waiting: cnt(), Active: cnt(), WithBot: cnt(), Agents: []reports.AgentLoad{}}},
		{"an unknown tenant", 999999, nil, reports.Live{Waiting: cnt(), Active: cnt(), WithBot: cnt(), Agents: []reports.AgentLoad{}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ReadLive(ctx, tt.tenant, tt.teams)
			must(t, err)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadLive(%d, %v) =\n%+v\nwant\n%+v", tt.tenant, tt.teams, got, tt.want)
			}
		})
	}
}

// liveTenant is a tenant with a channel account per channel it uses.
type liveTenant struct {
	id    int64
	slug  string
	accts map[conversation.ChannelKind]conversation.ChannelAccount
	n     int
}

func newLiveTenant(t *testing.T, cs conversation.Store, slug string) *liveTenant {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: "Tenant " + slug}
	must(t, tn.Validate())
	tn, err := cs.CreateTenant(t.Context(), tn)
	must(t, err)
	return &liveTenant{id: tn.ID, slug: slug, accts: map[conversation.ChannelKind]conversation.ChannelAccount{}}
}

// conv opens a conversation of a new contact on the channel, with the bot.
func (lt *liveTenant) conv(t *testing.T, cs conversation.Store, ch conversation.ChannelKind) conversation.Conversation {
	t.Helper()
	acct, ok := lt.accts[ch]
	if !ok {
		var err error
		acct, err = cs.CreateChannelAccount(t.Context(), conversation.ChannelAccount{TenantID: lt.id, Kind: ch, Key: lt.slug + "-" + string(ch), Name: string(ch)})
		must(t, err)
		lt.accts[ch] = acct
	}
	lt.n++
	from := fmt.Sprintf("contact-%d", lt.n)
	res, err := cs.Ingest(t.Context(), []conversation.IngestRequest{{TenantID: lt.id, AccountID: acct.ID, Inbound: conversation.Inbound{
		Channel: ch, Account: acct.Key, From: from, ProviderID: from + ":1", Parts: []conversation.Part{conversation.TextPart("hola")},
	}}})
	must(t, err)
	must(t, res[0].Err)
	return res[0].Conversation
}

// queued opens a conversation and hands it to the queue.
func (lt *liveTenant) queued(t *testing.T, cs conversation.Store, staff liveStaff, ch conversation.ChannelKind, queueID int64) conversation.Conversation {
	t.Helper()
	c := lt.conv(t, cs, ch)
	must(t, staff.Enqueue(t.Context(), lt.id, c.ID, queueID))
	c, err := cs.TransitionConversation(t.Context(), lt.id, c.ID, conversation.Transition{From: conversation.StateBot, To: conversation.StateQueued})
	must(t, err)
	return c
}

func (lt *liveTenant) team(t *testing.T, staff liveStaff, name string) int64 {
	t.Helper()
	id, err := staff.Team(t.Context(), lt.id, name)
	must(t, err)
	return id
}

func (lt *liveTenant) queue(t *testing.T, staff liveStaff, teamID int64, name string) int64 {
	t.Helper()
	id, err := staff.Queue(t.Context(), lt.id, teamID, name)
	must(t, err)
	return id
}

func (lt *liveTenant) agent(t *testing.T, staff liveStaff, name string, teams []int64, status string) int64 {
	t.Helper()
	id, err := staff.Agent(t.Context(), lt.id, name, teams, status)
	must(t, err)
	return id
}

// liveStaff sets up the live view's agents and queues through a World.
type liveStaff struct{ w World }

func (l liveStaff) Team(ctx context.Context, tenantID int64, name string) (int64, error) {
	return l.w.Team(ctx, tenantID, name)
}

func (l liveStaff) Queue(ctx context.Context, tenantID, teamID int64, name string) (int64, error) {
	return l.w.Queue(ctx, tenantID, name, teamID)
}

// Agent creates an agent (the World's capacity: 5) with the status.
func (l liveStaff) Agent(ctx context.Context, tenantID int64, name string, teams []int64, status string) (int64, error) {
	id, err := l.w.Agent(ctx, tenantID, name, teams, time.Now())
	if err != nil || status == "available" {
		return id, err
	}
	return id, l.w.Status(ctx, tenantID, id, status, time.Now())
}

func (l liveStaff) Enqueue(ctx context.Context, tenantID, conversationID, queueID int64) error {
	return l.w.Handoff(ctx, tenantID, conversationID, queueID, "asked_for_agent", "", time.Now())
}

func (l liveStaff) Assign(ctx context.Context, tenantID, conversationID, agentID int64) error {
	return l.w.Assign(ctx, tenantID, conversationID, agentID, time.Now())
}

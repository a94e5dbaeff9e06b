package handofftest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// TestRoutingStore runs the handoff.RoutingStore contract. newStore returns
// an empty database of its own for every subtest: the conversation.Store
// that holds its tenants and jobs, and two handoff.RoutingStore handles on
// that database (two connections pools, as two nodes would have); the
// subtests run in parallel.
//
// Entries name conversations by id only (the store trusts its caller to
// have checked them), so the suite uses made-up conversation ids.
func TestRoutingStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, handoff.RoutingStore, handoff.RoutingStore)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cs conversation.Store, s, s2 handoff.RoutingStore)
	}{
		{"Agents", testAgents},
		{"QueuesTeamsRules", testQueuesTeamsRules},
		{"OfferToAgent", testOfferToAgent},
		{"OfferEntry", testOfferEntry},
		{"Claim", testClaim},
		{"ExpireAndStatus", testExpireAndStatus},
		{"RequeueRelease", testRequeueRelease},
		{"PositionAndStats", testPositionAndStats},
		{"Presence", testPresence},
		{"RoutingTenantIsolation", testRoutingIsolation},
		{"ConcurrentRouting", testConcurrentRouting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs, s, s2 := newStore(t)
			tt.fn(t, cs, s, s2)
		})
	}
}

// t0 is the suite's clock: every store call gets its time explicitly.
var t0 = time.Date(2026, time.March, 9, 15, 0, 0, 0, time.UTC)

func tenant(t *testing.T, cs conversation.Store, slug string) int64 {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: "Tenant " + slug}
	must(t, tn.Validate())
	tn, err := cs.CreateTenant(t.Context(), tn)
	must(t, err)
	return tn.ID
}

func agent(t *testing.T, s handoff.RoutingStore, tenantID int64, name string, capacity int, skills ...string) handoff.Agent {
	t.Helper()
	a := handoff.Agent{TenantID: tenantID, Name: name, Email: name + "@example.com", Capacity: capacity, Skills: skills}
	must(t, a.Validate())
	a, err := s.CreateAgent(t.Context(), a)
	must(t, err)
	return a
}

func queue(t *testing.T, s handoff.RoutingStore, tenantID int64, name string, strategy handoff.Strategy, skills ...string) handoff.Queue {
	t.Helper()
	q := handoff.Queue{TenantID: tenantID, Name: name, Strategy: strategy, Skills: skills}
	must(t, q.Validate())
	q, err := s.CreateQueue(t.Context(), q)
	must(t, err)
	return q
}

func available(t *testing.T, s handoff.RoutingStore, a handoff.Agent, at time.Time) handoff.Agent {
	t.Helper()
	a, _, err := s.SetAgentStatus(t.Context(), a.TenantID, a.ID, handoff.StatusAvailable, at)
	must(t, err)
	return a
}

func enqueue(t *testing.T, s handoff.RoutingStore, tenantID, conv int64, q handoff.Queue, priority int, at time.Time) handoff.Entry {
	t.Helper()
	e, created, err := s.Enqueue(t.Context(), handoff.Entry{TenantID: tenantID, ConversationID: conv, QueueID: q.ID, Priority: priority, EnqueuedAt: at, Reason: "asked for a person"})
	must(t, err)
	if !created || e.State != handoff.EntryWaiting || e.Version != 1 {
		t.Fatalf("Enqueue = %+v, %v; want a new waiting entry", e, created)
	}
	return e
}

func timeouts(qs ...handoff.Queue) map[int64]time.Duration {
	m := map[int64]time.Duration{}
	for _, q := range qs {
		m[q.ID] = q.AcceptTimeout
	}
	return m
}

func convIDs(es []handoff.Entry) []int64 {
	ids := make([]int64, len(es))
	for i, e := range es {
		ids[i] = e.ConversationID
	}
	return ids
}

func getAgent(t *testing.T, s handoff.RoutingStore, a handoff.Agent) handoff.Agent {
	t.Helper()
	a, err := s.Agent(t.Context(), a.TenantID, a.ID)
	must(t, err)
	return a
}

func testAgents(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	a := agent(t, s, tn, "ana", 3, "billing", "en")
	if a.ID == 0 || a.Status != handoff.StatusOffline || a.Load != 0 || !slices.Equal(a.Skills, []string{"billing", "en"}) || a.Capacity != 3 || a.Role != handoff.RoleAgent {
		t.Fatalf("created agent = %+v", a)
	}
	got, err := s.Agent(ctx, tn, a.ID)
	must(t, err)
	if got.Name != "ana" || got.Email != "ana@example.com" || !slices.Equal(got.Skills, a.Skills) || len(got.Teams) != 0 {
		t.Fatalf("Agent = %+v", got)
	}
	_, err = s.CreateAgent(ctx, handoff.Agent{TenantID: tn, Name: "other", Email: "ana@example.com", Capacity: 1, Role: handoff.RoleAgent})
	wantConflict(t, err, "an agent with a taken email")
	team, err := s.CreateTeam(ctx, handoff.Team{TenantID: tn, Name: "ventas"})
	must(t, err)
	got.Name, got.Skills, got.Teams, got.Capacity, got.Role = "Ana", []string{"orders"}, []int64{team.ID}, 5, handoff.RoleSupervisor
	up, err := s.UpdateAgent(ctx, got)
	must(t, err)
	if up.Name != "Ana" || !slices.Equal(up.Skills, []string{"orders"}) || !slices.Equal(up.Teams, []int64{team.ID}) || up.Capacity != 5 || up.Role != handoff.RoleSupervisor {
		t.Fatalf("UpdateAgent = %+v", up)
	}
	b := agent(t, s, tn, "beto", 1)
	list, err := s.ListAgents(ctx, tn)
	must(t, err)
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("ListAgents = %+v", list)
	}
	a2, back, err := s.SetAgentStatus(ctx, tn, a.ID, handoff.StatusAvailable, t0)
	must(t, err)
	if a2.Status != handoff.StatusAvailable || !a2.StatusSince.Equal(t0) || !a2.IdleSince.Equal(t0) || len(back) != 0 {
		t.Fatalf("available agent = %+v, %v", a2, back)
	}
	// The same status again keeps its time.
	a3, _, err := s.SetAgentStatus(ctx, tn, a.ID, handoff.StatusAvailable, t0.Add(time.Minute))
	must(t, err)
	if !a3.StatusSince.Equal(t0) {
		t.Fatalf("status since moved on a repeated status: %v", a3.StatusSince)
	}
	_, err = s.CreateAgent(ctx, handoff.Agent{TenantID: tn + 1000, Name: "ghost", Capacity: 1, Role: handoff.RoleAgent})
	wantNotFound(t, err, "an agent of a tenant that does not exist")
}

func testQueuesTeamsRules(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	team, err := s.CreateTeam(ctx, handoff.Team{TenantID: tn, Name: "facturación"})
	must(t, err)
	_, err = s.CreateTeam(ctx, handoff.Team{TenantID: tn, Name: "facturación"})
	wantConflict(t, err, "a team with a taken name")
	q := handoff.Queue{TenantID: tn, Name: "billing", Strategy: handoff.StrategyRoundRobin, Skills: []string{"billing", "es"},
		TeamID: team.ID, Priority: 5, AcceptTimeout: 45 * time.Second,
		Hours: []handoff.Span{{Day: time.Monday, From: "08:00", To: "18:00"}, {Day: time.Saturday, From: "09:00", To: "13:00"}}}
	must(t, q.Validate())
	q, err = s.CreateQueue(ctx, q)
	must(t, err)
	got, err := s.Queue(ctx, tn, q.ID)
	must(t, err)
	if got.Name != "billing" || got.Strategy != handoff.StrategyRoundRobin || !slices.Equal(got.Skills, []string{"billing", "es"}) ||
		got.TeamID != team.ID || got.Priority != 5 || got.AcceptTimeout != 45*time.Second || !slices.Equal(got.Hours, q.Hours) {
		t.Fatalf("Queue = %+v, want %+v", got, q)
	}
	_, err = s.CreateQueue(ctx, handoff.Queue{TenantID: tn, Name: "billing", Strategy: handoff.StrategyManual, AcceptTimeout: time.Minute})
	wantConflict(t, err, "a queue with a taken name")
	got.Strategy, got.Hours, got.Skills = handoff.StrategyManual, nil, nil
	up, err := s.UpdateQueue(ctx, got)
	must(t, err)
	if up.Strategy != handoff.StrategyManual || up.Hours != nil || len(up.Skills) != 0 {
		t.Fatalf("UpdateQueue = %+v", up)
	}
	other := queue(t, s, tn, "general", handoff.StrategyLongestIdle)
	qs, err := s.ListQueues(ctx, tn)
	must(t, err)
	if len(qs) != 2 || qs[0].ID != q.ID || qs[1].ID != other.ID {
		t.Fatalf("ListQueues = %+v", qs)
	}
	rules := []handoff.Rule{{Intent: "billing", QueueID: q.ID}, {Attribute: "vip", Value: "true", PriorityBoost: 10}, {QueueID: other.ID}}
	must(t, s.SetRules(ctx, tn, rules))
	gotRules, err := s.Rules(ctx, tn)
	must(t, err)
	if !slices.Equal(gotRules, rules) {
		t.Fatalf("Rules = %+v, want %+v", gotRules, rules)
	}
	must(t, s.SetRules(ctx, tn, rules[1:]))
	if gotRules, _ = s.Rules(ctx, tn); !slices.Equal(gotRules, rules[1:]) {
		t.Fatalf("Rules after replacing = %+v", gotRules)
	}
	teams, err := s.ListTeams(ctx, tn)
	must(t, err)
	if len(teams) != 1 || teams[0].Name != "facturación" {
		t.Fatalf("ListTeams = %+v", teams)
	}
}

func testOfferToAgent(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	billing := queue(t, s, tn, "billing", handoff.StrategyLongestIdle, "billing")
	orders := queue(t, s, tn, "orders", handoff.StrategyLongestIdle, "orders")
	enqueue(t, s, tn, 101, billing, 0, t0)
	enqueue(t, s, tn, 102, billing, 0, t0.Add(time.Second))
	enqueue(t, s, tn, 103, billing, 10, t0.Add(2*time.Second)) // a VIP: first despite arriving last
	enqueue(t, s, tn, 104, orders, 50, t0)                     // not a queue the agent serves
	a := agent(t, s, tn, "ana", 2, "billing")

	// Offline: nothing.
	got, err := s.OfferToAgent(ctx, handoff.AgentOffer{TenantID: tn, AgentID: a.ID, Queues: timeouts(billing), At: t0})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("an offline agent was offered %v", convIDs(got))
	}
	a = available(t, s, a, t0)
	at := t0.Add(time.Minute)
	got, err = s.OfferToAgent(ctx, handoff.AgentOffer{TenantID: tn, AgentID: a.ID, Queues: timeouts(billing), At: at})
	must(t, err)
	if ids := convIDs(got); !slices.Equal(ids, []int64{103, 101}) {
		t.Fatalf("offered %v, want the VIP then the longest waiting: [103 101]", ids)
	}
	for _, e := range got {
		if e.State != handoff.EntryOffered || e.AgentID != a.ID || e.Version != 2 || !e.Deadline.Equal(at.Add(billing.AcceptTimeout)) {
			t.Fatalf("offered entry = %+v", e)
		}
		j, err := cs.EnqueueJob(ctx, conversation.Job{TenantID: tn, Kind: handoff.JobOffer, Key: handoff.OfferJobKey(e)})
		must(t, err)
		if j.Ref != e.ConversationID || string(j.Payload) != "2" || !j.RunAt.Equal(e.Deadline) {
			t.Fatalf("the offer's job = %+v, want ref %d, payload 2, due %v", j, e.ConversationID, e.Deadline)
		}
	}
	a = getAgent(t, s, a)
	if a.Load != 2 || !a.IdleSince.Equal(at) || !a.LastOfferedAt.Equal(at) {
		t.Fatalf("agent after offers = %+v", a)
	}
	// Full: nothing more.
	got, err = s.OfferToAgent(ctx, handoff.AgentOffer{TenantID: tn, AgentID: a.ID, Queues: timeouts(billing, orders), At: at})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("a full agent was offered %v", convIDs(got))
	}
	_, err = s.OfferToAgent(ctx, handoff.AgentOffer{TenantID: tn, AgentID: a.ID + 1000, Queues: timeouts(billing), At: at})
	wantNotFound(t, err, "offers to an agent that does not exist")
}

func testOfferEntry(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	team, err := s.CreateTeam(ctx, handoff.Team{TenantID: tn, Name: "vip"})
	must(t, err)
	billing := queue(t, s, tn, "billing", handoff.StrategyLongestIdle, "billing")
	ana := available(t, s, agent(t, s, tn, "ana", 1, "billing"), t0.Add(2*time.Minute))
	beto := available(t, s, agent(t, s, tn, "beto", 1, "billing", "en"), t0.Add(time.Minute)) // idle longest
	carl := available(t, s, agent(t, s, tn, "carl", 5), t0)                                   // idle longer, no skill
	agent(t, s, tn, "dora", 5, "billing")                                                     // offline

	enqueue(t, s, tn, 201, billing, 0, t0)
	e, err := s.OfferEntry(ctx, tn, 201, eligibility(billing), t0.Add(3*time.Minute))
	must(t, err)
	if e.State != handoff.EntryOffered || e.AgentID != beto.ID {
		t.Fatalf("offered to %d (%s), want beto %d: the longest idle with the skill", e.AgentID, e.State, beto.ID)
	}
	enqueue(t, s, tn, 202, billing, 0, t0)
	if e, err = s.OfferEntry(ctx, tn, 202, eligibility(billing), t0.Add(3*time.Minute)); err != nil || e.AgentID != ana.ID {
		t.Fatalf("second offer went to %d, %v; want ana %d", e.AgentID, err, ana.ID)
	}
	enqueue(t, s, tn, 203, billing, 0, t0)
	if e, err = s.OfferEntry(ctx, tn, 203, eligibility(billing), t0.Add(3*time.Minute)); err != nil || e.State != handoff.EntryWaiting {
		t.Fatalf("with every skilled agent full the entry is %+v, %v; want waiting", e, err)
	}
	// Again: an entry no longer waiting is returned as it is.
	if e, err = s.OfferEntry(ctx, tn, 201, eligibility(billing), t0.Add(4*time.Minute)); err != nil || e.AgentID != beto.ID || e.Version != 2 {
		t.Fatalf("offering an offered entry = %+v, %v", e, err)
	}
	// A team queue: only its members.
	teamQ := queue(t, s, tn, "team", handoff.StrategyLongestIdle)
	teamQ.TeamID = team.ID
	teamQ, err = s.UpdateQueue(ctx, teamQ)
	must(t, err)
	enqueue(t, s, tn, 204, teamQ, 0, t0)
	if e, err = s.OfferEntry(ctx, tn, 204, eligibility(teamQ), t0.Add(4*time.Minute)); err != nil || e.State != handoff.EntryWaiting {
		t.Fatalf("a team queue without members offered %+v, %v", e, err)
	}
	carl.Teams = []int64{team.ID}
	_, err = s.UpdateAgent(ctx, carl)
	must(t, err)
	if e, err = s.OfferEntry(ctx, tn, 204, eligibility(teamQ), t0.Add(4*time.Minute)); err != nil || e.AgentID != carl.ID {
		t.Fatalf("the team queue offered to %d, %v; want carl %d", e.AgentID, err, carl.ID)
	}
	// Round robin: whoever was offered one least recently, in turn, where
	// longest idle would start with the agent idle longest (zed).
	tn2 := tenant(t, cs, "rr")
	rr := queue(t, s, tn2, "rr", handoff.StrategyRoundRobin)
	li := queue(t, s, tn2, "li", handoff.StrategyLongestIdle)
	xavi := available(t, s, agent(t, s, tn2, "xavi", 5), t0.Add(2*time.Minute))
	yola := available(t, s, agent(t, s, tn2, "yola", 5), t0.Add(time.Minute))
	zed := available(t, s, agent(t, s, tn2, "zed", 5), t0)
	var order []int64
	for i := range 4 {
		enqueue(t, s, tn2, int64(300+i), rr, 0, t0)
		e, err := s.OfferEntry(ctx, tn2, int64(300+i), eligibility(rr), t0.Add(time.Duration(10+i)*time.Minute))
		must(t, err)
		order = append(order, e.AgentID)
	}
	if want := []int64{xavi.ID, yola.ID, zed.ID, xavi.ID}; !slices.Equal(order, want) {
		t.Fatalf("round robin offered to %v, want %v", order, want)
	}
	// Longest idle: everyone was offered one; yola's was longest ago.
	enqueue(t, s, tn2, 310, li, 0, t0)
	if e, err = s.OfferEntry(ctx, tn2, 310, eligibility(li), t0.Add(time.Hour)); err != nil || e.AgentID != yola.ID {
		t.Fatalf("longest idle offered to %d, %v; want yola %d", e.AgentID, err, yola.ID)
	}
	// Manual queues offer nothing.
	manual := queue(t, s, tn, "manual", handoff.StrategyManual)
	enqueue(t, s, tn, 400, manual, 0, t0)
	if e, err = s.OfferEntry(ctx, tn, 400, eligibility(manual), t0.Add(time.Hour)); err != nil || e.State != handoff.EntryWaiting {
		t.Fatalf("a manual queue offered %+v, %v", e, err)
	}
}

func eligibility(q handoff.Queue) handoff.Eligibility {
	return handoff.Eligibility{QueueID: q.ID, Strategy: q.Strategy, Skills: q.Skills, TeamID: q.TeamID, Timeout: q.AcceptTimeout}
}

func testClaim(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	q := queue(t, s, tn, "general", handoff.StrategyLongestIdle)
	ana := available(t, s, agent(t, s, tn, "ana", 2), t0)
	beto := available(t, s, agent(t, s, tn, "beto", 1), t0.Add(time.Second))
	enqueue(t, s, tn, 1, q, 0, t0)
	offered, err := s.OfferEntry(ctx, tn, 1, eligibility(q), t0.Add(time.Minute))
	must(t, err)
	if offered.AgentID != ana.ID {
		t.Fatalf("offered to %d, want ana", offered.AgentID)
	}
	accept := handoff.Claim{TenantID: tn, ConversationID: 1, AgentID: ana.ID, From: handoff.EntryOffered, Offer: offered.Version, At: t0.Add(10 * time.Second)}
	// Another agent cannot take ana's offer.
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 1, AgentID: beto.ID, From: handoff.EntryOffered, Offer: offered.Version, At: accept.At})
	wantConflict(t, err, "accepting another agent's offer")
	e, err := s.Claim(ctx, accept)
	must(t, err)
	if e.State != handoff.EntryAssigned || e.AgentID != ana.ID || !e.AssignedAt.Equal(accept.At) || !e.Deadline.IsZero() {
		t.Fatalf("accepted entry = %+v", e)
	}
	again, err := s.Claim(ctx, accept)
	if err != nil || again.Version != e.Version {
		t.Fatalf("accepting twice = %+v, %v; want the same entry", again, err)
	}
	if a := getAgent(t, s, ana); a.Load != 1 {
		t.Fatalf("ana's load after accepting = %d, want 1", a.Load)
	}
	// A late accept.
	enqueue(t, s, tn, 2, q, 0, t0)
	offered, err = s.OfferEntry(ctx, tn, 2, eligibility(q), t0.Add(time.Minute))
	must(t, err)
	if offered.AgentID != beto.ID {
		t.Fatalf("offered to %d, want beto %d, the longest idle now", offered.AgentID, beto.ID)
	}
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 2, AgentID: offered.AgentID, From: handoff.EntryOffered, Offer: offered.Version, At: offered.Deadline})
	wantConflict(t, err, "accepting at the deadline")
	// Transfer from ana to beto: beto is full (his offer counts).
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 1, AgentID: beto.ID, From: handoff.EntryAssigned, Holder: ana.ID, At: t0.Add(2 * time.Minute)})
	wantConflict(t, err, "a transfer to a full agent")
	// Transfer only from the holder.
	carl := available(t, s, agent(t, s, tn, "carl", 1), t0)
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 1, AgentID: carl.ID, From: handoff.EntryAssigned, Holder: beto.ID, At: t0.Add(time.Minute)})
	wantConflict(t, err, "a transfer from an agent who does not hold the conversation")
	e, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 1, AgentID: carl.ID, From: handoff.EntryAssigned, Holder: ana.ID, Note: "needs a refund", At: t0.Add(time.Minute)})
	must(t, err)
	if e.AgentID != carl.ID || e.Note != "needs a refund" || getAgent(t, s, ana).Load != 0 || getAgent(t, s, carl).Load != 1 {
		t.Fatalf("after the transfer: entry %+v, ana %d, carl %d", e, getAgent(t, s, ana).Load, getAgent(t, s, carl).Load)
	}
	// Picking: only waiting entries, only within capacity, not offline.
	enqueue(t, s, tn, 3, q, 0, t0)
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 3, AgentID: carl.ID, From: handoff.EntryWaiting, At: t0.Add(time.Minute)})
	wantConflict(t, err, "picking beyond capacity")
	dora := agent(t, s, tn, "dora", 3)
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 3, AgentID: dora.ID, From: handoff.EntryWaiting, At: t0.Add(time.Minute)})
	wantConflict(t, err, "picking while offline")
	dora = available(t, s, dora, t0)
	if e, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 3, AgentID: dora.ID, From: handoff.EntryWaiting, At: t0.Add(time.Minute)}); err != nil || e.AgentID != dora.ID {
		t.Fatalf("pick = %+v, %v", e, err)
	}
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 3, AgentID: ana.ID, From: handoff.EntryWaiting, At: t0.Add(time.Minute)})
	wantConflict(t, err, "picking a conversation someone picked")
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 99, AgentID: ana.ID, From: handoff.EntryWaiting, At: t0})
	wantNotFound(t, err, "picking a conversation that is not queued")
	recent, err := s.RecentAssignments(ctx, tn, q.ID, 10)
	must(t, err)
	if len(recent) != 3 { // accepted, transferred, picked
		t.Fatalf("recent assignments = %v, want 3", recent)
	}
}

func testExpireAndStatus(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	q := queue(t, s, tn, "general", handoff.StrategyLongestIdle)
	ana := available(t, s, agent(t, s, tn, "ana", 3), t0)
	for _, id := range []int64{1, 2} {
		enqueue(t, s, tn, id, q, 0, t0)
	}
	offers, err := s.OfferToAgent(ctx, handoff.AgentOffer{TenantID: tn, AgentID: ana.ID, Queues: timeouts(q), At: t0})
	must(t, err)
	if len(offers) != 2 {
		t.Fatalf("offered %d, want 2", len(offers))
	}
	first := offers[0]
	e, done, err := s.Expire(ctx, tn, first.ConversationID, first.Version, first.Deadline)
	must(t, err)
	if !done || e.State != handoff.EntryWaiting || e.AgentID != 0 || e.Version != first.Version+1 {
		t.Fatalf("Expire = %+v, %v", e, done)
	}
	if _, done, err = s.Expire(ctx, tn, first.ConversationID, first.Version, first.Deadline); err != nil || done {
		t.Fatalf("expiring twice = %v, %v; want nothing done", done, err)
	}
	// The stale accept is refused.
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: first.ConversationID, AgentID: ana.ID, From: handoff.EntryOffered, Offer: first.Version, At: t0})
	wantConflict(t, err, "accepting an offer that expired")
	if a := getAgent(t, s, ana); a.Load != 1 {
		t.Fatalf("load after an expired offer = %d, want 1", a.Load)
	}
	// Going away returns the offers not accepted.
	a, back, err := s.SetAgentStatus(ctx, tn, ana.ID, handoff.StatusAway, t0.Add(time.Minute))
	must(t, err)
	if a.Status != handoff.StatusAway || a.Load != 0 || len(back) != 1 || back[0].ConversationID != offers[1].ConversationID || back[0].State != handoff.EntryWaiting {
		t.Fatalf("away: agent %+v, back %+v", a, back)
	}
	got, err := s.OfferToAgent(ctx, handoff.AgentOffer{TenantID: tn, AgentID: ana.ID, Queues: timeouts(q), At: t0})
	must(t, err)
	if len(got) != 0 {
		t.Fatal("an away agent was offered conversations")
	}
}

func testRequeueRelease(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	q := queue(t, s, tn, "general", handoff.StrategyLongestIdle)
	q2 := queue(t, s, tn, "billing", handoff.StrategyManual)
	ana := available(t, s, agent(t, s, tn, "ana", 1), t0)
	enqueue(t, s, tn, 1, q, 0, t0)
	_, err := s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 1, AgentID: ana.ID, From: handoff.EntryWaiting, At: t0})
	must(t, err)
	e, err := s.Requeue(ctx, handoff.Requeue{TenantID: tn, ConversationID: 1, QueueID: q2.ID, Priority: 3, Note: "billing question", At: t0.Add(time.Minute)})
	must(t, err)
	if e.State != handoff.EntryWaiting || e.QueueID != q2.ID || e.Priority != 3 || e.Note != "billing question" || e.AgentID != 0 || !e.EnqueuedAt.Equal(t0) {
		t.Fatalf("requeued entry = %+v (it keeps its place in time)", e)
	}
	if a := getAgent(t, s, ana); a.Load != 0 || !a.IdleSince.Equal(t0.Add(time.Minute)) {
		t.Fatalf("ana after the requeue = %+v", a)
	}
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 1, AgentID: ana.ID, From: handoff.EntryWaiting, At: t0.Add(2 * time.Minute)})
	must(t, err)
	e, err = s.Release(ctx, tn, 1, "resolved", t0.Add(3*time.Minute))
	must(t, err)
	if e.AgentID != ana.ID {
		t.Fatalf("released entry = %+v", e)
	}
	_, err = s.Entry(ctx, tn, 1)
	wantNotFound(t, err, "a released conversation's entry")
	if a := getAgent(t, s, ana); a.Load != 0 {
		t.Fatalf("load after release = %d", a.Load)
	}
	_, err = s.Release(ctx, tn, 1, "resolved", t0)
	wantNotFound(t, err, "releasing twice")
	// Queued again later: a new entry.
	enqueue(t, s, tn, 1, q, 0, t0.Add(time.Hour))
	// Enqueue of a queued conversation returns its entry.
	e, created, err := s.Enqueue(ctx, handoff.Entry{TenantID: tn, ConversationID: 1, QueueID: q2.ID, EnqueuedAt: t0.Add(2 * time.Hour)})
	must(t, err)
	if created || e.QueueID != q.ID || !e.EnqueuedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Enqueue of a queued conversation = %+v, %v", e, created)
	}
}

func testPositionAndStats(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	q := queue(t, s, tn, "general", handoff.StrategyLongestIdle)
	q2 := queue(t, s, tn, "other", handoff.StrategyLongestIdle)
	enqueue(t, s, tn, 1, q, 0, t0)
	enqueue(t, s, tn, 2, q, 0, t0.Add(time.Second))
	enqueue(t, s, tn, 3, q, 5, t0.Add(2*time.Second))
	enqueue(t, s, tn, 4, q2, 0, t0.Add(-time.Hour))
	for conv, want := range map[int64]int{3: 1, 1: 2, 2: 3, 4: 1} {
		got, err := s.Position(ctx, tn, conv)
		must(t, err)
		if got != want {
			t.Errorf("position of %d = %d, want %d", conv, got, want)
		}
	}
	ana := available(t, s, agent(t, s, tn, "ana", 1), t0)
	_, err := s.OfferToAgent(ctx, handoff.AgentOffer{TenantID: tn, AgentID: ana.ID, Queues: timeouts(q), At: t0})
	must(t, err)
	if got, _ := s.Position(ctx, tn, 3); got != 0 {
		t.Errorf("position of an offered conversation = %d, want 0", got)
	}
	if got, _ := s.Position(ctx, tn, 2); got != 2 {
		t.Errorf("position of 2 after 3 was offered = %d, want 2", got)
	}
	stats, err := s.QueueStats(ctx, tn)
	must(t, err)
	want := []handoff.QueueStats{{QueueID: q.ID, Waiting: 2, Offered: 1, OldestWaiting: t0}, {QueueID: q2.ID, Waiting: 1, OldestWaiting: t0.Add(-time.Hour)}}
	if len(stats) != 2 || stats[0] != want[0] || stats[1] != want[1] {
		t.Fatalf("QueueStats = %+v, want %+v", stats, want)
	}
	list, err := s.ListEntries(ctx, tn, q.ID, 0)
	must(t, err)
	if ids := convIDs(list); !slices.Equal(ids, []int64{3, 1, 2}) {
		t.Fatalf("ListEntries = %v", ids)
	}
	if list, _ = s.ListEntries(ctx, tn, 0, ana.ID); len(list) != 1 || list[0].ConversationID != 3 {
		t.Fatalf("ana's entries = %v", convIDs(list))
	}
}

func testPresence(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	ana := available(t, s, agent(t, s, tn, "ana", 1), t0)
	beto := available(t, s, agent(t, s, tn, "beto", 1), t0)
	agent(t, s, tn, "carl", 1) // offline: never stale
	must(t, s.TouchAgent(ctx, tn, beto.ID, t0.Add(time.Minute)))
	stale, err := s.StaleAgents(ctx, t0.Add(30*time.Second))
	must(t, err)
	if len(stale) != 1 || stale[0].ID != ana.ID {
		t.Fatalf("StaleAgents = %+v, want ana", stale)
	}
	wantNotFound(t, s.TouchAgent(ctx, tn+1, ana.ID, t0), "touching another tenant's agent")

	// Offline only when silent: beto touched after the moment asked about.
	if _, _, changed, err := s.SetAgentOfflineIfSilent(ctx, tn, beto.ID, t0.Add(30*time.Second), t0.Add(2*time.Minute)); err != nil || changed {
		t.Fatalf("SetAgentOfflineIfSilent of an agent who touched since = %v, %v; want unchanged", changed, err)
	}
	if a, err := s.Agent(ctx, tn, beto.ID); err != nil || a.Status != handoff.StatusAvailable {
		t.Fatalf("beto after a refused offline: %+v, %v", a, err)
	}
	a, _, changed, err := s.SetAgentOfflineIfSilent(ctx, tn, beto.ID, t0.Add(time.Minute), t0.Add(2*time.Minute))
	if err != nil || !changed || a.Status != handoff.StatusOffline || !a.StatusSince.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("SetAgentOfflineIfSilent of a silent agent = %+v, %v, %v; want offline at t0+2m", a, changed, err)
	}
	if _, _, changed, err := s.SetAgentOfflineIfSilent(ctx, tn, beto.ID, t0.Add(time.Hour), t0.Add(time.Hour)); err != nil || changed {
		t.Fatalf("SetAgentOfflineIfSilent of an offline agent = %v, %v; want unchanged", changed, err)
	}
	_, _, _, err = s.SetAgentOfflineIfSilent(ctx, tn+1, ana.ID, t0.Add(time.Hour), t0.Add(time.Hour))
	wantNotFound(t, err, "SetAgentOfflineIfSilent of another tenant's agent")
}

func testRoutingIsolation(t *testing.T, cs conversation.Store, s, _ handoff.RoutingStore) {
	ctx := t.Context()
	tn, other := tenant(t, cs, "acme"), tenant(t, cs, "globex")
	q := queue(t, s, tn, "general", handoff.StrategyLongestIdle)
	ana := available(t, s, agent(t, s, tn, "ana", 2), t0)
	enqueue(t, s, tn, 1, q, 0, t0)
	enqueue(t, s, tn, 2, q, 0, t0)
	_, err := s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 2, AgentID: ana.ID, From: handoff.EntryWaiting, At: t0})
	must(t, err)
	mallory := available(t, s, agent(t, s, other, "mallory", 5), t0)

	_, err = s.Agent(ctx, other, ana.ID)
	wantNotFound(t, err, "Agent")
	ana.TenantID = other
	_, err = s.UpdateAgent(ctx, ana)
	wantNotFound(t, err, "UpdateAgent")
	ana.TenantID = tn
	_, _, err = s.SetAgentStatus(ctx, other, ana.ID, handoff.StatusOffline, t0)
	wantNotFound(t, err, "SetAgentStatus")
	_, err = s.Queue(ctx, other, q.ID)
	wantNotFound(t, err, "Queue")
	q.TenantID = other
	_, err = s.UpdateQueue(ctx, q)
	wantNotFound(t, err, "UpdateQueue")
	_, err = s.Entry(ctx, other, 1)
	wantNotFound(t, err, "Entry")
	_, err = s.Position(ctx, other, 1)
	wantNotFound(t, err, "Position")
	_, err = s.Claim(ctx, handoff.Claim{TenantID: other, ConversationID: 1, AgentID: mallory.ID, From: handoff.EntryWaiting, At: t0})
	wantNotFound(t, err, "Claim of another tenant's conversation")
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 1, AgentID: mallory.ID, From: handoff.EntryWaiting, At: t0})
	wantNotFound(t, err, "Claim by another tenant's agent")
	_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: 2, AgentID: mallory.ID, From: handoff.EntryAssigned, Holder: ana.ID, At: t0})
	wantNotFound(t, err, "a transfer to another tenant's agent")
	_, _, err = s.Expire(ctx, other, 1, 1, t0)
	wantNotFound(t, err, "Expire")
	_, err = s.Requeue(ctx, handoff.Requeue{TenantID: other, ConversationID: 2, QueueID: q.ID, At: t0})
	wantNotFound(t, err, "Requeue")
	_, err = s.Release(ctx, other, 2, "resolved", t0)
	wantNotFound(t, err, "Release")
	_, err = s.OfferEntry(ctx, other, 1, eligibility(q), t0)
	wantNotFound(t, err, "OfferEntry")
	got, err := s.OfferToAgent(ctx, handoff.AgentOffer{TenantID: other, AgentID: mallory.ID, Queues: map[int64]time.Duration{q.ID: time.Minute}, At: t0})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("another tenant's agent was offered %v", convIDs(got))
	}
	if list := must2(s.ListEntries(ctx, other, 0, 0)); len(list) != 0 {
		t.Fatalf("another tenant lists %v", convIDs(list))
	}
	if stats := must2(s.QueueStats(ctx, other)); len(stats) != 0 {
		t.Fatalf("another tenant's stats: %+v", stats)
	}
	if agents := must2(s.ListAgents(ctx, other)); len(agents) != 1 {
		t.Fatalf("another tenant lists %d agents", len(agents))
	}
	// The first tenant's records are as they were.
	if e, err := s.Entry(ctx, tn, 2); err != nil || e.AgentID != ana.ID || e.State != handoff.EntryAssigned {
		t.Fatalf("entry 2 = %+v, %v", e, err)
	}
	if a := getAgent(t, s, ana); a.Load != 1 || a.Status != handoff.StatusAvailable {
		t.Fatalf("ana = %+v", a)
	}
}

func must2[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// testConcurrentRouting runs agents becoming free, conversations arriving,
// picks, accepts, expiries, transfers and releases at once on two store
// handles, then checks the invariants: an entry has an agent exactly when
// it is offered or assigned, and every agent's load equals what they hold,
// within capacity.
func testConcurrentRouting(t *testing.T, cs conversation.Store, s1, s2 handoff.RoutingStore) {
	ctx := t.Context()
	tn := tenant(t, cs, "acme")
	stores := []handoff.RoutingStore{s1, s2}
	queues := []handoff.Queue{queue(t, s1, tn, "a", handoff.StrategyLongestIdle), queue(t, s1, tn, "b", handoff.StrategyRoundRobin)}
	var agents []handoff.Agent
	for i := range 6 {
		agents = append(agents, available(t, s1, agent(t, s1, tn, fmt.Sprintf("agent%d", i), 1+i%3), t0))
	}
	const conversations, workers, steps = 60, 8, 60
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			s := stores[w%2]
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for step := range steps {
				conv := int64(1 + rng.IntN(conversations))
				a := agents[rng.IntN(len(agents))]
				q := queues[rng.IntN(len(queues))]
				at := t0.Add(time.Duration(step) * time.Second)
				var err error
				switch rng.IntN(8) {
				case 0:
					_, _, err = s.Enqueue(ctx, handoff.Entry{TenantID: tn, ConversationID: conv, QueueID: q.ID, EnqueuedAt: at})
				case 1:
					_, err = s.OfferEntry(ctx, tn, conv, eligibility(q), at)
				case 2:
					_, err = s.OfferToAgent(ctx, handoff.AgentOffer{TenantID: tn, AgentID: a.ID, Queues: timeouts(queues...), At: at})
				case 3:
					_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: conv, AgentID: a.ID, From: handoff.EntryWaiting, At: at})
				case 4:
					var e handoff.Entry
					if e, err = s.Entry(ctx, tn, conv); err == nil && e.State == handoff.EntryOffered {
						_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: conv, AgentID: e.AgentID, From: handoff.EntryOffered, Offer: e.Version, At: at})
						if err == nil || conversation.IsConflict(err) {
							_, _, err = s.Expire(ctx, tn, conv, e.Version, at)
						}
					}
				case 5:
					var e handoff.Entry
					if e, err = s.Entry(ctx, tn, conv); err == nil && e.State == handoff.EntryAssigned {
						_, err = s.Claim(ctx, handoff.Claim{TenantID: tn, ConversationID: conv, AgentID: a.ID, From: handoff.EntryAssigned, Holder: e.AgentID, At: at})
					}
				case 6:
					_, err = s.Release(ctx, tn, conv, "resolved", at)
				case 7:
					_, err = s.Requeue(ctx, handoff.Requeue{TenantID: tn, ConversationID: conv, QueueID: q.ID, At: at})
				}
				if err != nil && !conversation.IsNotFound(err) && !conversation.IsConflict(err) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	entries, err := s1.ListEntries(ctx, tn, 0, 0)
	must(t, err)
	held := map[int64]int{}
	for _, e := range entries {
		if (e.State == handoff.EntryWaiting) != (e.AgentID == 0) {
			t.Errorf("entry %+v: an agent without an offer or an offer without an agent", e)
		}
		if e.AgentID != 0 {
			held[e.AgentID]++
		}
	}
	for _, a := range agents {
		got := getAgent(t, s1, a)
		if got.Load != held[a.ID] || got.Load > got.Capacity || got.Load < 0 {
			t.Errorf("agent %d: load %d, holds %d, capacity %d", a.ID, got.Load, held[a.ID], got.Capacity)
		}
	}
}

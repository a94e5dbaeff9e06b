// Package reportstest holds the contract suite that every reports.Store
// must pass, with a fixture whose every figure is computed by hand.
package reportstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/reports"
)

// World is the stores under test: conversation.Store and reports.Store,
// and the calls of the handoff and survey stores that the fixture makes
// through them (storage/storagetest builds it from a store).
type World struct {
	Conv    conversation.Store
	Reports reports.Store

	Team  func(ctx context.Context, tenantID int64, name string) (int64, error)
	Queue func(ctx context.Context, tenantID int64, name string, teamID int64) (int64, error)
	// Agent creates an available agent in the teams.
	Agent func(ctx context.Context, tenantID int64, name string, teams []int64, at time.Time) (int64, error)
	// Handoff puts the conversation in the queue (a routing entry).
	Handoff func(ctx context.Context, tenantID, conversationID, queueID int64, reason, intent string, at time.Time) error
	// Assign gives the waiting conversation to the agent.
	Assign func(ctx context.Context, tenantID, conversationID, agentID int64, at time.Time) error
	// Status changes the agent's status ("busy", "offline", ...).
	Status func(ctx context.Context, tenantID, agentID int64, status string, at time.Time) error
	// FileCase files a case in status radicado; ResolveCase moves it to
	// resuelto at at.
	FileCase    func(ctx context.Context, c Case) (int64, error)
	ResolveCase func(ctx context.Context, tenantID, caseID int64, at time.Time) error
	// Survey stores a survey of kind ("csat", "nps") sent at sentAt and
	// answered with score (-1: not answered).
	Survey func(ctx context.Context, tenantID int64, kind string, sentAt time.Time, score int) error
	// AddDestination adds an analytics destination to the tenant.
	AddDestination func(ctx context.Context, tenantID int64, disabled bool) error
}

// Case is a case the fixture files.
type Case struct {
	TenantID, ContactID, ConversationID, TeamID, AgentID int64
	Type, Channel                                        string
	FiledAt, Due                                         time.Time
}

// TestStore runs the contract. newWorld returns empty stores of their own.
func TestStore(t *testing.T, newWorld func(t *testing.T) World) {
	t.Run("Fixture", func(t *testing.T) {
		t.Parallel()
		testFixture(t, newWorld(t))
	})
	t.Run("BackfillEqualsIncremental", func(t *testing.T) {
		t.Parallel()
		testBackfill(t, newWorld(t))
	})
	t.Run("Export", func(t *testing.T) {
		t.Parallel()
		testExport(t, newWorld(t))
	})
	t.Run("SettledPeriods", func(t *testing.T) {
		t.Parallel()
		testSettled(t, newWorld(t))
	})
	t.Run("Validation", func(t *testing.T) {
		t.Parallel()
		testValidation(t, newWorld(t))
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tenant is one tenant of a fixture with its three accounts.
type tenant struct {
	id                       int64
	whatsapp, telegram, chat conversation.ChannelAccount
}

func newTenant(t *testing.T, w World, slug string) tenant {
	ctx := t.Context()
	tn := conversation.Tenant{Slug: slug, Name: slug, TimeZone: "America/Bogota"}
	must(t, tn.Validate())
	tn, err := w.Conv.CreateTenant(ctx, tn)
	must(t, err)
	acc := func(kind conversation.ChannelKind, key string) conversation.ChannelAccount {
		a, err := w.Conv.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: kind, Key: key, Name: key})
		must(t, err)
		return a
	}
	return tenant{id: tn.ID, whatsapp: acc(conversation.ChannelWhatsApp, "+1500555"+strconv.FormatInt(1000+tn.ID, 10)),
		telegram: acc(conversation.ChannelTelegram, slug+"_bot"), chat: acc(conversation.ChannelWebchat, slug+"-site")}
}

var providerIDs atomic.Int64

func ingest(t *testing.T, w World, tn tenant, a conversation.ChannelAccount, from, text string, at time.Time) conversation.IngestResult {
	t.Helper()
	res, err := w.Conv.Ingest(t.Context(), []conversation.IngestRequest{{TenantID: tn.id, AccountID: a.ID, Inbound: conversation.Inbound{
		Channel: a.Kind, Account: a.Key, From: from, ProviderID: fmt.Sprintf("%s-%d", a.Key, providerIDs.Add(1)),
		Parts: []conversation.Part{{Type: conversation.PartText, Text: text}}, ReceivedAt: at}}})
	must(t, err)
	must(t, res[0].Err)
	return res[0]
}

func send(t *testing.T, w World, tn tenant, conv int64, a conversation.ChannelAccount, author conversation.Author, text string) conversation.Message {
	t.Helper()
	res, err := w.Conv.Send(t.Context(), []conversation.Outbound{{TenantID: tn.id, ConversationID: conv, AccountID: a.ID, Author: author,
		Parts: []conversation.Part{{Type: conversation.PartText, Text: text}}}})
	must(t, err)
	return res[0].Message
}

func transition(t *testing.T, w World, tn tenant, conv int64, to conversation.State, agent int64) conversation.Conversation {
	t.Helper()
	c, err := w.Conv.Conversation(t.Context(), tn.id, conv)
	must(t, err)
	c, err = w.Conv.TransitionConversation(t.Context(), tn.id, conv, conversation.Transition{From: c.State, To: to, AssigneeID: agent})
	must(t, err)
	return c
}

// rollupAll folds everything, in small batches.
func rollupAll(t *testing.T, w World) {
	t.Helper()
	for i := 0; ; i++ {
		res, err := w.Reports.Rollup(t.Context(), reports.RollupOptions{Batch: 3, GapTTL: time.Hour, Now: time.Now()})
		must(t, err)
		if res.Rows == 0 {
			return
		}
		if i > 1000 {
			t.Fatal("the rollup never ends")
		}
	}
}

// fixture is what buildFixture made, with the times the stores chose.
type fixture struct {
	acme, other tenant
	t0          time.Time
	teamA       int64
	q1, q2      int64
	a1, b1      int64
	// The stored outbound messages and closes, whose times are the
	// store's clock.
	out               []conversation.Message
	r1, r2, r4        conversation.Message // agent replies
	close1, close3    conversation.Conversation
	from, to          time.Time
	inbound           []time.Time // acme's inbound messages
	opened            []time.Time // acme's conversations' first messages
	bogota            *time.Location
	openedByChannel   map[conversation.ChannelKind]int64
	inByChannel       map[conversation.ChannelKind]int64
	outByChannel      map[conversation.ChannelKind]int64
	filedAt           []time.Time
	handoffAt         []time.Time
	teamAHandoffAt    []time.Time
	caseK1, caseK2    int64
	otherConversation int64
}

// buildFixture makes the conversations below, for tenant acme, and one for
// tenant other. T0 is six hours before the current hour; inbound
// messages, handoffs, assignments and cases are at T0 plus minutes;
// outbound messages and closes are at the store's now.
//
//	C1 whatsapp: in T0+0 "hola" (intent saludo), in T0+5 "quiero hablar con
//	   alguien" (unrecognized); bot reply; handoff T0+10 to Q1 (team A,
//	   asked_for_agent); assigned to A1 T0+20; A1 replies (r1); closed.
//	C2 telegram: in T0+60 "factura" (intent billing); handoff T0+70 to Q2
//	   (team B, fallback); assigned to B1 T0+75; B1 replies (r2).
//	C3 whatsapp: in T0+120 "Quiero   HABLAR con alguien!" (unrecognized,
//	   the same normalized text); bot reply, which fails (63016); closed
//	   without a handoff: contained.
//	C4 webchat: in T0+180 "buenas" (intent saludo); handoff T0+185 to Q1
//	   (asked_for_agent); assigned to A1 T0+190; A1 replies (r4).
//
// Cases: K1 queja whatsapp team A, filed T0+30, due T0+90, resolved T0+60;
// K2 peticion telegram team B, filed T0+80, due T0+100, open (overdue);
// K3 queja whatsapp, no team, filed T0+200, due in 10 days.
// Surveys sent at T0+15: CSAT 5, 3, unanswered; NPS 10, 9, 6, 8.
func buildFixture(t *testing.T, w World) fixture {
	ctx := t.Context()
	f := fixture{acme: newTenant(t, w, "acme"), other: newTenant(t, w, "other")}
	var err error
	f.bogota, err = time.LoadLocation("America/Bogota")
	must(t, err)
	f.t0 = time.Now().UTC().Truncate(time.Hour).Add(-6 * time.Hour)
	f.openedByChannel, f.inByChannel, f.outByChannel = map[conversation.ChannelKind]int64{}, map[conversation.ChannelKind]int64{}, map[conversation.ChannelKind]int64{}
	at := func(min int) time.Time { return f.t0.Add(time.Duration(min) * time.Minute) }
	a := f.acme
	teamA, err := w.Team(ctx, a.id, "A")
	must(t, err)
	teamB, err := w.Team(ctx, a.id, "B")
	must(t, err)
	f.teamA = teamA
	f.q1, err = w.Queue(ctx, a.id, "Q1", teamA)
	must(t, err)
	f.q2, err = w.Queue(ctx, a.id, "Q2", teamB)
	must(t, err)
	f.a1, err = w.Agent(ctx, a.id, "a1", []int64{teamA}, f.t0)
	must(t, err)
	f.b1, err = w.Agent(ctx, a.id, "b1", []int64{teamB}, f.t0)
	must(t, err)
	in := func(acc conversation.ChannelAccount, from, text string, min int, intent string) conversation.IngestResult {
		res := ingest(t, w, a, acc, from, text, at(min))
		f.inbound = append(f.inbound, at(min))
		f.inByChannel[acc.Kind]++
		if res.NewConversation {
			f.opened = append(f.opened, at(min))
			f.openedByChannel[acc.Kind]++
		}
		must(t, w.Conv.AnnotateMessage(ctx, a.id, res.Message.ID, conversation.Analysis{Intent: intent, Confidence: 0.9}))
		return res
	}
	out := func(conv int64, acc conversation.ChannelAccount, author conversation.Author) conversation.Message {
		m := send(t, w, a, conv, acc, author, "respuesta")
		f.out = append(f.out, m)
		f.outByChannel[acc.Kind]++
		return m
	}
	bot := conversation.Author{Kind: conversation.AuthorBot}

	c1 := in(a.whatsapp, "+573001110001", "hola", 0, "saludo").Conversation.ID
	in(a.whatsapp, "+573001110001", "quiero hablar con alguien", 5, "")
	out(c1, a.whatsapp, bot)
	transition(t, w, a, c1, conversation.StateQueued, 0)
	must(t, w.Handoff(ctx, a.id, c1, f.q1, "asked_for_agent", "saludo", at(10)))
	must(t, w.Assign(ctx, a.id, c1, f.a1, at(20)))
	transition(t, w, a, c1, conversation.StateAgent, f.a1)

	c2 := in(a.telegram, "4242", "factura", 60, "billing").Conversation.ID
	transition(t, w, a, c2, conversation.StateQueued, 0)
	must(t, w.Handoff(ctx, a.id, c2, f.q2, "fallback", "", at(70)))
	must(t, w.Assign(ctx, a.id, c2, f.b1, at(75)))
	transition(t, w, a, c2, conversation.StateAgent, f.b1)

	c3 := in(a.whatsapp, "+573001110003", "Quiero   HABLAR con alguien!", 120, "").Conversation.ID
	failed := out(c3, a.whatsapp, bot)
	_, _, err = w.Conv.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: a.id, MessageID: failed.ID, Status: conversation.StatusFailed,
		Failure: &conversation.Failure{Code: "63016", Message: "outside the window"}})
	must(t, err)

	c4 := in(a.chat, "visitor-4", "buenas", 180, "saludo").Conversation.ID
	transition(t, w, a, c4, conversation.StateQueued, 0)
	must(t, w.Handoff(ctx, a.id, c4, f.q1, "asked_for_agent", "saludo", at(185)))
	must(t, w.Assign(ctx, a.id, c4, f.a1, at(190)))
	transition(t, w, a, c4, conversation.StateAgent, f.a1)
	f.handoffAt = []time.Time{at(10), at(70), at(185)}
	f.teamAHandoffAt = []time.Time{at(10), at(185)}

	// The agents answer in the order C1, C2, C4, each after the previous
	// one's commit, so r1 <= r2 <= r4 and FRT1 > FRT2 > FRT4.
	f.r1 = out(c1, a.whatsapp, conversation.Author{Kind: conversation.AuthorAgent, ID: f.a1, Name: "a1"})
	f.r2 = out(c2, a.telegram, conversation.Author{Kind: conversation.AuthorAgent, ID: f.b1, Name: "b1"})
	f.r4 = out(c4, a.chat, conversation.Author{Kind: conversation.AuthorAgent, ID: f.a1, Name: "a1"})
	f.close1 = transition(t, w, a, c1, conversation.StateClosed, 0)
	f.close3 = transition(t, w, a, c3, conversation.StateClosed, 0)

	k1, err := w.FileCase(ctx, Case{TenantID: a.id, ContactID: 1, ConversationID: c1, TeamID: teamA, Type: "queja", Channel: "whatsapp", FiledAt: at(30), Due: at(90)})
	must(t, err)
	f.caseK1 = k1
	must(t, w.ResolveCase(ctx, a.id, k1, at(60)))
	f.caseK2, err = w.FileCase(ctx, Case{TenantID: a.id, ContactID: 2, ConversationID: c2, TeamID: teamB, Type: "peticion", Channel: "telegram", FiledAt: at(80), Due: at(100)})
	must(t, err)
	_, err = w.FileCase(ctx, Case{TenantID: a.id, ContactID: 3, Type: "queja", Channel: "whatsapp", FiledAt: at(200), Due: time.Now().Add(240 * time.Hour)})
	must(t, err)
	f.filedAt = []time.Time{at(30), at(80), at(200)}
	for _, s := range []int{5, 3, -1} {
		must(t, w.Survey(ctx, a.id, "csat", at(15), s))
	}
	for _, s := range []int{10, 9, 6, 8} {
		must(t, w.Survey(ctx, a.id, "nps", at(15), s))
	}

	// Tenant other: one conversation with a handoff, an intent, a case
	// and a survey, none of which acme may count.
	o := f.other
	oq, err := w.Queue(ctx, o.id, "Q1", 0)
	must(t, err)
	res := ingest(t, w, o, o.whatsapp, "+573009990001", "hola", at(0))
	f.otherConversation = res.Conversation.ID
	must(t, w.Conv.AnnotateMessage(ctx, o.id, res.Message.ID, conversation.Analysis{Intent: "saludo"}))
	transition(t, w, o, res.Conversation.ID, conversation.StateQueued, 0)
	must(t, w.Handoff(ctx, o.id, res.Conversation.ID, oq, "asked_for_agent", "", at(10)))
	_, err = w.FileCase(ctx, Case{TenantID: o.id, ContactID: res.Message.ContactID, Type: "queja", Channel: "whatsapp", FiledAt: at(30), Due: at(40)})
	must(t, err)
	must(t, w.Survey(ctx, o.id, "csat", at(15), 1))

	f.from = f.t0.Add(-time.Hour)
	f.to = time.Now().UTC().Truncate(time.Hour).Add(2 * time.Hour)
	return f
}

func ptr(v float64) *float64 { return &v }

// expected is acme's report of the fixture's period, computed by hand.
func (f fixture) expected() reports.Report {
	r := reports.Report{TenantID: f.acme.id, From: f.from, To: f.to, Zone: "America/Bogota"}
	day := func(t time.Time) string { return t.In(f.bogota).Format(time.DateOnly) }
	days := map[string]*reports.DayFigures{}
	for d := f.from.In(f.bogota); ; d = d.AddDate(0, 0, 1) {
		start := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, f.bogota)
		if !start.Before(f.to) {
			break
		}
		r.ByDay = append(r.ByDay, reports.DayFigures{Day: start.Format(time.DateOnly)})
	}
	for i := range r.ByDay {
		days[r.ByDay[i].Day] = &r.ByDay[i]
	}
	r.ByHour = make([]reports.HourFigures, 24)
	for h := range r.ByHour {
		r.ByHour[h].Hour = h
	}
	// 4 conversations: whatsapp 2 (C1, C3), telegram 1, webchat 1.
	r.Conversations = 4
	for _, t := range f.opened {
		r.ByHour[t.In(f.bogota).Hour()].Conversations++
		days[day(t)].Conversations++
	}
	// 5 inbound: whatsapp 3, telegram 1, webchat 1.
	r.MessagesIn = 5
	for _, t := range f.inbound {
		r.ByHour[t.In(f.bogota).Hour()].MessagesIn++
		days[day(t)].MessagesIn++
	}
	// 5 outbound: bot replies in C1 and C3, agent replies r1 (whatsapp), r2
	// (telegram), r4 (webchat): whatsapp 3, telegram 1, webchat 1.
	r.MessagesOut = 5
	for _, m := range f.out {
		r.ByHour[m.CreatedAt.In(f.bogota).Hour()].MessagesOut++
		days[day(m.CreatedAt)].MessagesOut++
	}
	r.ByChannel = []reports.ChannelFigures{
		{Channel: conversation.ChannelTelegram, Conversations: 1, MessagesIn: 1, MessagesOut: 1},
		{Channel: conversation.ChannelWebchat, Conversations: 1, MessagesIn: 1, MessagesOut: 1},
		{Channel: conversation.ChannelWhatsApp, Conversations: 2, MessagesIn: 3, MessagesOut: 3},
	}
	for _, t := range f.handoffAt {
		days[day(t)].Handoffs++
	}
	for _, t := range f.filedAt {
		days[day(t)].Cases++
	}
	// Closed: C1 and C3; contained: C3 (never queued): 50%. Handoffs 3 of
	// 4 conversations: 75%.
	r.Bot = reports.BotFigures{Closed: 2, Contained: 1, ContainmentRate: ptr(50), Handoffs: 3, HandoffRate: ptr(75),
		HandoffReasons:  []reports.Count{{Key: "asked_for_agent", Count: 2}, {Key: "fallback", Count: 1}},
		TopIntents:      []reports.Count{{Key: "saludo", Count: 2}, {Key: "billing", Count: 1}},
		TopUnrecognized: []reports.Count{{Key: "quiero hablar con alguien", Count: 2}}}

	// First response, from the handoff to the agent's first reply:
	// FRT1 = r1 - (T0+10m), FRT2 = r2 - (T0+70m), FRT4 = r4 - (T0+185m);
	// r1 <= r2 <= r4 are seconds apart, so FRT1 > FRT2 > FRT4. Of three,
	// the median (percentile_disc 0.5) is the 2nd smallest, the p90 the
	// 3rd; of two, the median is the smaller.
	min := func(m int) time.Time { return f.t0.Add(time.Duration(m) * time.Minute) }
	frt1, frt2, frt4 := f.r1.CreatedAt.Sub(min(10)), f.r2.CreatedAt.Sub(min(70)), f.r4.CreatedAt.Sub(min(185))
	q1, q2, a1, b1 := strconv.FormatInt(f.q1, 10), strconv.FormatInt(f.q2, 10), strconv.FormatInt(f.a1, 10), strconv.FormatInt(f.b1, 10)
	r.FirstResponse = []reports.Timing{
		{Dimension: "all", Key: "", Name: "All", Count: 3, Median: frt2, P90: frt1},
		{Dimension: "channel", Key: "telegram", Name: "telegram", Count: 1, Median: frt2, P90: frt2},
		{Dimension: "channel", Key: "webchat", Name: "webchat", Count: 1, Median: frt4, P90: frt4},
		{Dimension: "channel", Key: "whatsapp", Name: "whatsapp", Count: 1, Median: frt1, P90: frt1},
	}
	r.FirstResponse = append(r.FirstResponse, sortByKey(
		reports.Timing{Dimension: "queue", Key: q1, Name: "Q1", Count: 2, Median: frt4, P90: frt1},
		reports.Timing{Dimension: "queue", Key: q2, Name: "Q2", Count: 1, Median: frt2, P90: frt2})...)
	r.FirstResponse = append(r.FirstResponse, sortByKey(
		reports.Timing{Dimension: "agent", Key: a1, Name: "a1", Count: 2, Median: frt4, P90: frt1},
		reports.Timing{Dimension: "agent", Key: b1, Name: "b1", Count: 1, Median: frt2, P90: frt2})...)
	// Resolution, from the first message to the close: RES1 = close1 - T0,
	// RES3 = close3 - (T0+120m) < RES1.
	res1, res3 := f.close1.ClosedAt.Sub(min(0)), f.close3.ClosedAt.Sub(min(120))
	r.Resolution = []reports.Timing{
		{Dimension: "all", Key: "", Name: "All", Count: 2, Median: res3, P90: res1},
		{Dimension: "channel", Key: "whatsapp", Name: "whatsapp", Count: 2, Median: res3, P90: res1},
		{Dimension: "queue", Key: q1, Name: "Q1", Count: 1, Median: res1, P90: res1},
		{Dimension: "agent", Key: a1, Name: "a1", Count: 1, Median: res1, P90: res1},
	}
	// Cases: 3 filed (queja 2, peticion 1; radicado 2, resuelto 1;
	// whatsapp 2, telegram 1); K1 and K2 due in the period, K1 answered
	// before its due: 50%; K2 open past its due: 1 overdue.
	r.Cases = reports.CaseFigures{Filed: 3,
		ByType:    []reports.Count{{Key: "queja", Count: 2}, {Key: "peticion", Count: 1}},
		ByStatus:  []reports.Count{{Key: "radicado", Count: 2}, {Key: "resuelto", Count: 1}},
		ByChannel: []reports.Count{{Key: "whatsapp", Count: 2}, {Key: "telegram", Count: 1}},
		Due:       2, OnTime: 1, SLACompliance: ptr(50), Overdue: 1}
	// CSAT: 3 sent, 2 answered, one of them 4 or 5: 50%. NPS: 4 answers,
	// promoters 10 and 9, detractor 6: (2 - 1) / 4 = 25.
	r.CSAT = reports.SurveyFigures{Sent: 3, Answered: 2, Score: ptr(50)}
	r.NPS = reports.SurveyFigures{Sent: 4, Answered: 4, Score: ptr(25)}
	r.Failures = []reports.Failure{{Channel: conversation.ChannelWhatsApp, Code: "63016", Count: 1}}
	return r
}

// sortByKey orders timings of one dimension as reports.SortTimings does.
func sortByKey(ts ...reports.Timing) []reports.Timing {
	reports.SortTimings(ts)
	return ts
}

func report(t *testing.T, w World, q reports.Query) reports.Report {
	t.Helper()
	r, err := reports.NewService(w.Reports).Report(t.Context(), q)
	must(t, err)
	r.Generated = time.Time{}
	return r
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("%s:\ngot  %s\nwant %s", what, g, w)
	}
}

func testFixture(t *testing.T, w World) {
	f := buildFixture(t, w)
	rollupAll(t, w)
	if res, err := w.Reports.Rollup(t.Context(), reports.RollupOptions{Batch: 100, Now: time.Now()}); err != nil || res.Rows != 0 {
		t.Fatalf("a rollup after everything was folded folded %+v, %v", res, err)
	}
	got := report(t, w, reports.Query{TenantID: f.acme.id, From: f.from, To: f.to, Location: f.bogota})
	want := f.expected()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"conversations", got.Conversations, want.Conversations}, {"messages in", got.MessagesIn, want.MessagesIn},
		{"messages out", got.MessagesOut, want.MessagesOut}, {"by channel", got.ByChannel, want.ByChannel},
		{"by hour", got.ByHour, want.ByHour}, {"by day", got.ByDay, want.ByDay}, {"bot", got.Bot, want.Bot},
		{"first response", got.FirstResponse, want.FirstResponse}, {"resolution", got.Resolution, want.Resolution},
		{"cases", got.Cases, want.Cases}, {"csat", got.CSAT, want.CSAT}, {"nps", got.NPS, want.NPS}, {"failures", got.Failures, want.Failures},
	} {
		same(t, c.name, c.got, c.want)
	}
	same(t, "report", got, want)

	t.Run("Teams", func(t *testing.T) {
		// Team A: queue Q1 and agent A1. Handoffs to Q1: C1 and C4
		// (asked_for_agent); first responses of C1 and C4; the resolution
		// of C1; case K1. The tenant-wide sections are empty.
		got := report(t, w, reports.Query{TenantID: f.acme.id, From: f.from, To: f.to, Location: f.bogota, Teams: []int64{f.teamA}})
		same(t, "bot", got.Bot, reports.BotFigures{Handoffs: 2, HandoffReasons: []reports.Count{{Key: "asked_for_agent", Count: 2}},
			TopIntents: []reports.Count{}, TopUnrecognized: []reports.Count{}})
		if got.Conversations != 0 || got.MessagesIn != 0 || len(got.ByChannel) != 0 || len(got.ByHour) != 0 || len(got.Failures) != 0 || got.CSAT.Sent != 0 {
			t.Errorf("a team's report has tenant-wide figures: %+v", got)
		}
		all := want.FirstResponse[0]
		if len(got.FirstResponse) == 0 || got.FirstResponse[0].Count != 2 || got.FirstResponse[0].Median != want.FirstResponse[4].Median || got.FirstResponse[0].P90 != all.P90 {
			t.Errorf("team first response: %+v", got.FirstResponse)
		}
		if len(got.Resolution) == 0 || got.Resolution[0].Count != 1 || got.Resolution[0].Median != want.Resolution[3].Median {
			t.Errorf("team resolution: %+v", got.Resolution)
		}
		if got.Cases.Filed != 1 || got.Cases.Due != 1 || got.Cases.OnTime != 1 || got.Cases.Overdue != 0 {
			t.Errorf("team cases: %+v", got.Cases)
		}
		var handoffs int64
		for _, d := range got.ByDay {
			handoffs += d.Handoffs
		}
		if handoffs != 2 {
			t.Errorf("team handoffs by day: %+v", got.ByDay)
		}
	})

	t.Run("TenantBoundaries", func(t *testing.T) {
		// Other's report counts its one conversation, intent, handoff,
		// case and survey, nothing of acme's.
		got := report(t, w, reports.Query{TenantID: f.other.id, From: f.from, To: f.to, Location: f.bogota})
		if got.Conversations != 1 || got.MessagesIn != 1 || got.MessagesOut != 0 || got.Bot.Handoffs != 1 || got.Cases.Filed != 1 ||
			got.CSAT.Sent != 1 || !reflect.DeepEqual(got.Bot.TopIntents, []reports.Count{{Key: "saludo", Count: 1}}) ||
			len(got.Failures) != 0 || len(got.FirstResponse) != 0 || got.Cases.Overdue != 1 {
			t.Errorf("other's report: %+v", got)
		}
		// Acme's team is not other's.
		_, err := reports.NewService(w.Reports).Report(t.Context(), reports.Query{TenantID: f.other.id, From: f.from, To: f.to, Teams: []int64{f.teamA}})
		if conversation.ErrorCode(err) != conversation.EINVALID {
			t.Errorf("another tenant's team: %v", err)
		}
		// A tenant without data sees nothing.
		empty := report(t, w, reports.Query{TenantID: f.other.id + 100, From: f.from, To: f.to})
		if empty.Conversations != 0 || empty.Cases.Filed != 0 || len(empty.FirstResponse) != 0 || empty.Bot.Handoffs != 0 {
			t.Errorf("an unknown tenant's report: %+v", empty)
		}
	})

	t.Run("HalfHourZone", func(t *testing.T) {
		// India is UTC+5:30: the UTC hour 10:00 starts at 15:30, and is
		// counted in hour 15.
		kolkata, err := time.LoadLocation("Asia/Kolkata")
		must(t, err)
		got := report(t, w, reports.Query{TenantID: f.acme.id, From: f.from, To: f.to, Location: kolkata})
		var want [24]int64
		for _, at := range f.inbound {
			want[at.Truncate(time.Hour).In(kolkata).Hour()]++
		}
		for h, fig := range got.ByHour {
			if fig.Hour != h || fig.MessagesIn != want[h] {
				t.Errorf("hour %d: %+v, want %d inbound", h, fig, want[h])
			}
		}
	})
}

func testBackfill(t *testing.T, w World) {
	f := buildFixture(t, w)
	rollupAll(t, w)
	q := reports.Query{TenantID: f.acme.id, From: f.from, To: f.to, Location: f.bogota}
	incremental := report(t, w, q)
	other := report(t, w, reports.Query{TenantID: f.other.id, From: f.from, To: f.to, Location: f.bogota})
	svc := reports.NewService(w.Reports)
	must(t, svc.Backfill(t.Context(), f.acme.id, f.from.Add(-24*time.Hour), f.to.Add(24*time.Hour)))
	same(t, "backfilled report", report(t, w, q), incremental)
	same(t, "the other tenant's report after acme's backfill", report(t, w, reports.Query{TenantID: f.other.id, From: f.from, To: f.to, Location: f.bogota}), other)
	// A backfill of every tenant while new facts wait to be folded: they
	// are folded once, by the backfill's own rollup, not counted twice.
	ingest(t, w, f.acme, f.acme.telegram, "4242", "otra cosa", f.t0.Add(61*time.Minute))
	must(t, svc.Backfill(t.Context(), 0, f.from, f.to))
	rollupAll(t, w)
	got := report(t, w, q)
	if got.MessagesIn != incremental.MessagesIn+1 || got.Conversations != incremental.Conversations {
		t.Errorf("after a backfill with a pending message: %d in, %d conversations; want %d, %d", got.MessagesIn, got.Conversations,
			incremental.MessagesIn+1, incremental.Conversations)
	}
	same(t, "other's report after a backfill of all", report(t, w, reports.Query{TenantID: f.other.id, From: f.from, To: f.to, Location: f.bogota}), other)
}

func testExport(t *testing.T, w World) {
	ctx := t.Context()
	acme, other, none := newTenant(t, w, "acme"), newTenant(t, w, "other"), newTenant(t, w, "none")
	must(t, w.AddDestination(ctx, acme.id, false))
	must(t, w.AddDestination(ctx, other.id, true)) // disabled
	at := time.Now().Add(-time.Hour)
	m1 := ingest(t, w, acme, acme.whatsapp, "+573001", "hola", at)
	must(t, w.Conv.AnnotateMessage(ctx, acme.id, m1.Message.ID, conversation.Analysis{Intent: "saludo", Confidence: 0.8}))
	ingest(t, w, other, other.whatsapp, "+573002", "hola", at)
	ingest(t, w, none, none.whatsapp, "+573003", "hola", at)
	res, err := w.Reports.Rollup(ctx, reports.RollupOptions{Batch: 100, Now: time.Now()})
	must(t, err)
	if res.Jobs != 1 || res.Rows != 4 || !reflect.DeepEqual(res.Tenants, []int64{acme.id, other.id, none.id}) {
		t.Fatalf("rollup: %+v", res)
	}
	jobs, err := w.Conv.ClaimJobs(ctx, []string{reports.JobExport}, 10, time.Minute)
	must(t, err)
	if len(jobs) != 1 || jobs[0].TenantID != acme.id {
		t.Fatalf("export jobs: %+v", jobs)
	}
	var events []reports.Event
	must(t, json.Unmarshal(jobs[0].Payload, &events))
	mid := strconv.FormatInt(m1.Message.ID, 10)
	var ids []string
	for _, e := range events {
		ids = append(ids, e.ID)
		if e.TenantID != acme.id {
			t.Errorf("event of another tenant: %+v", e)
		}
	}
	want := []string{"opened:" + strconv.FormatInt(m1.Conversation.ID, 10), "message:" + mid, "intent:" + mid}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("exported %v, want %v", ids, want)
	}
	if len(events) == 3 && (events[2].Name != reports.EventIntentRecognized || events[2].Properties["intent"] != "saludo") {
		t.Errorf("intent event: %+v", events[2])
	}
}

func testValidation(t *testing.T, w World) {
	svc := reports.NewService(w.Reports)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		q     reports.Query
		field string
	}{
		{"NoFrom", reports.Query{TenantID: 1, To: at}, "from"},
		{"NoTo", reports.Query{TenantID: 1, From: at}, "to"},
		{"Empty", reports.Query{TenantID: 1, From: at, To: at}, "to"},
		{"Reversed", reports.Query{TenantID: 1, From: at, To: at.Add(-time.Hour)}, "to"},
		{"TooLong", reports.Query{TenantID: 1, From: at, To: at.Add(reports.MaxPeriod + time.Hour)}, "from"},
	} {
		_, err := svc.Report(t.Context(), c.q)
		e, ok := errors.AsType[*conversation.Error](err)
		if conversation.ErrorCode(err) != conversation.EINVALID || !ok || e.Field != c.field {
			t.Errorf("%s: %v, want EINVALID on %s", c.name, err, c.field)
		}
	}
}

// counting counts the reads of the counters, to tell a report computed from
// one served from the figures the service kept.
type counting struct {
	reports.Store
	reads atomic.Int64
}

func (c *counting) Counters(ctx context.Context, tenantID int64, from, to time.Time, metrics ...string) ([]reports.Counter, error) {
	c.reads.Add(1)
	return c.Store.Counters(ctx, tenantID, from, to, metrics...)
}

// testSettled: the report of a settled period is kept and served again
// while its revision stays the same; a late row, a backfill, or a change
// of a case (read afresh every time) shows in the next report; revisions
// are per tenant and per day.
func testSettled(t *testing.T, w World) {
	ctx := t.Context()
	f := buildFixture(t, w)
	rollupAll(t, w)
	// Three days on, the fixture's period is settled.
	later := time.Now().Add(72 * time.Hour)
	if !f.to.Before(reports.Settled(later)) {
		t.Fatalf("the period ending %s is not settled at %s", f.to, later)
	}
	store := &counting{Store: w.Reports}
	svc := reports.NewService(store)
	svc.SetClock(func() time.Time { return later })
	q := reports.Query{TenantID: f.acme.id, From: f.from, To: f.to, Location: f.bogota}
	get := func(q reports.Query) reports.Report {
		t.Helper()
		r, err := svc.Report(ctx, q)
		must(t, err)
		r.Generated = time.Time{}
		return r
	}
	revision := func(tenantID int64, from, to time.Time) int64 {
		t.Helper()
		rev, err := w.Reports.Revision(ctx, tenantID, from, to)
		must(t, err)
		return rev
	}

	first := get(q)
	reads := store.reads.Load()
	if reads == 0 {
		t.Fatal("the first report read no counters")
	}
	again := get(q)
	same(t, "the same period again", again, first)
	if store.reads.Load() != reads {
		t.Errorf("a settled period's report read the counters again (%d reads, %d before)", store.reads.Load(), reads)
	}
	// What the service hands out is a copy: changing it changes nothing kept.
	again.ByDay[0].MessagesIn += 100
	again.FirstResponse[0].Name = "changed"
	same(t, "after the caller changed its copy", get(q), first)
	// Another zone is another report.
	utc := q
	utc.Location = time.UTC
	get(utc)
	if store.reads.Load() == reads {
		t.Error("a report in another zone was served from the kept one")
	}

	// A case is answered: the cases are read afresh.
	must(t, w.ResolveCase(ctx, f.acme.id, f.caseK2, time.Now()))
	if got := get(q); got.Cases.Overdue != first.Cases.Overdue-1 {
		t.Errorf("after the overdue case was resolved: %d overdue, want %d", got.Cases.Overdue, first.Cases.Overdue-1)
	}

	// A message folded three days late changes the settled day it is in,
	// for acme only.
	day := reports.Days(f.t0, f.t0.Add(time.Minute))
	acmeRev, otherRev := revision(f.acme.id, f.from, f.to), revision(f.other.id, f.from, f.to)
	earlier := revision(f.acme.id, day[0].AddDate(0, 0, -10), day[0].AddDate(0, 0, -9))
	ingest(t, w, f.acme, f.acme.telegram, "4343", "otra cosa", f.t0.Add(61*time.Minute))
	res, err := w.Reports.Rollup(ctx, reports.RollupOptions{Batch: 100, GapTTL: time.Hour, Now: later})
	must(t, err)
	if res.Rows == 0 {
		t.Fatal("the late message was not folded")
	}
	if rev := revision(f.acme.id, f.from, f.to); rev <= acmeRev {
		t.Errorf("acme's revision after a late message: %d, was %d", rev, acmeRev)
	}
	if rev := revision(f.other.id, f.from, f.to); rev != otherRev {
		t.Errorf("other's revision moved with acme's late message: %d, was %d", rev, otherRev)
	}
	if rev := revision(f.acme.id, day[0].AddDate(0, 0, -10), day[0].AddDate(0, 0, -9)); rev != earlier {
		t.Errorf("the revision of days before the late message moved: %d, was %d", rev, earlier)
	}
	reads = store.reads.Load()
	got := get(q)
	if got.MessagesIn != first.MessagesIn+1 || store.reads.Load() == reads {
		t.Errorf("after a late message: %d in (want %d), counters read %d times more", got.MessagesIn, first.MessagesIn+1, store.reads.Load()-reads)
	}
	// A rollup at the present time marks nothing settled.
	ingest(t, w, f.acme, f.acme.telegram, "4343", "y otra", time.Now())
	acmeRev = revision(f.acme.id, f.from, f.to)
	rollupAll(t, w)
	if rev := revision(f.acme.id, f.from, f.to); rev != acmeRev {
		t.Errorf("a rollup of today's message moved the revision: %d, was %d", rev, acmeRev)
	}

	// A backfill of every tenant changes every tenant's days of its range.
	otherRev = revision(f.other.id, f.from, f.to)
	must(t, svc.Backfill(ctx, 0, f.from, f.to))
	if rev := revision(f.other.id, f.from, f.to); rev <= otherRev {
		t.Errorf("other's revision after a backfill of all: %d, was %d", rev, otherRev)
	}
	reads = store.reads.Load()
	get(q)
	if store.reads.Load() == reads {
		t.Error("the report after a backfill was served from the one kept before it")
	}
}

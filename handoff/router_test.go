package handoff_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/bot"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/internal/testenv"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
	"conversa/storage/valkey"
)

// routerClock is the routers' clock in tests: time moves only when told.
type routerClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *routerClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *routerClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// routingEnv is a router on the real SQLite store and the real
// conversation service, with a tenant and its api channel.
type routingEnv struct {
	store  *sqlite.Store
	svc    *conversation.Service
	router *handoff.Router
	clock  *routerClock
	shared *memory.Shared
	tenant conversation.Tenant
	n      int
}

// newRoutingEnv is newRoutingEnvWith the dialogue engine when withBot.
func newRoutingEnv(t *testing.T, withBot bool) *routingEnv {
	t.Helper()
	if !withBot {
		return newRoutingEnvWith(t, nil)
	}
	return newRoutingEnvWith(t, func(s *sqlite.Store) conversation.Bot { return bot.NewEngine(s, s, s, bot.Config{}) })
}

// newRoutingEnvWith makes the env; with a bot, the router carries out its
// handoff action.
func newRoutingEnvWith(t *testing.T, newBot func(*sqlite.Store) conversation.Bot) *routingEnv {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &routingEnv{store: store, clock: &routerClock{t: time.Now().UTC().Truncate(time.Microsecond)}}
	shared := memory.New()
	deps := conversation.Deps{Store: store, Bus: shared, Dedup: shared}
	var router *handoff.Router
	if newBot != nil {
		deps.Bot = newBot(store)
		deps.Actions = map[string]conversation.ActionHandler{conversation.ActionHandoff: lazyHandler{&router}}
	}
	if e.svc, err = conversation.NewService(conversation.ServiceConfig{}, deps); err != nil {
		t.Fatal(err)
	}
	e.shared = shared
	router = handoff.NewRouter(store, e.svc, store, handoff.RouterConfig{Now: e.clock.Now, PresenceTTL: time.Minute, Bus: shared})
	e.router = router
	e.tenant = e.newTenant(t, "acme")
	return e
}

// lazyHandler lets the service and the router refer to each other.
type lazyHandler struct{ r **handoff.Router }

func (h lazyHandler) HandleAction(ctx context.Context, t conversation.Turn, a conversation.Action) ([]conversation.Part, error) {
	return (*h.r).HandleAction(ctx, t, a)
}

func (e *routingEnv) newTenant(t *testing.T, slug string) conversation.Tenant {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: "Tenant " + slug, Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	must(t, tn.Validate())
	tn, err := e.store.CreateTenant(t.Context(), tn)
	must(t, err)
	_, err = e.store.CreateChannelAccount(t.Context(), conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelAPI, Key: slug + "-crm"})
	must(t, err)
	return tn
}

// conversation opens a conversation of a new contact of tn by ingesting a
// message, and sets the contact's attributes.
func (e *routingEnv) conversation(t *testing.T, tn conversation.Tenant, text string, attrs map[string]string) conversation.Conversation {
	t.Helper()
	e.n++
	from := fmt.Sprintf("user-%d", e.n)
	res, err := e.svc.Ingest(t.Context(), conversation.Inbound{Channel: conversation.ChannelAPI, Account: tn.Slug + "-crm", From: from,
		ProviderID: from + ":1", Parts: []conversation.Part{conversation.TextPart(text)}})
	must(t, err)
	if len(attrs) > 0 {
		_, err = e.store.UpdateContact(t.Context(), tn.ID, res.Conversation.ContactID, conversation.ContactUpdate{Attributes: attrs})
		must(t, err)
	}
	return res.Conversation
}

func (e *routingEnv) agent(t *testing.T, tn conversation.Tenant, name string, capacity int, role handoff.Role, skills ...string) handoff.Agent {
	t.Helper()
	a, err := e.router.CreateAgent(t.Context(), handoff.Agent{TenantID: tn.ID, Name: name, Email: name + "@example.com", Capacity: capacity, Role: role, Skills: skills})
	must(t, err)
	return a
}

func (e *routingEnv) queue(t *testing.T, tn conversation.Tenant, q handoff.Queue) handoff.Queue {
	t.Helper()
	q.TenantID = tn.ID
	q, err := e.router.CreateQueue(t.Context(), q)
	must(t, err)
	return q
}

func (e *routingEnv) setStatus(t *testing.T, a handoff.Agent, st handoff.AgentStatus) handoff.Agent {
	t.Helper()
	a, err := e.router.SetStatus(t.Context(), a.TenantID, a.ID, st)
	must(t, err)
	return a
}

func (e *routingEnv) entry(t *testing.T, tenantID, conv int64) handoff.Entry {
	t.Helper()
	got, err := e.store.Entry(t.Context(), tenantID, conv)
	must(t, err)
	return got
}

func (e *routingEnv) conv(t *testing.T, tenantID, id int64) conversation.Conversation {
	t.Helper()
	c, err := e.store.Conversation(t.Context(), tenantID, id)
	must(t, err)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if conversation.ErrorCode(err) != code {
		t.Fatalf("%s: error %v, want %s", what, err, code)
	}
}

func TestRulesOfferAcceptAndExpiry(t *testing.T) {
	e := newRoutingEnv(t, false)
	ctx := t.Context()
	general := e.queue(t, e.tenant, handoff.Queue{Name: "general"})
	billing := e.queue(t, e.tenant, handoff.Queue{Name: "billing", Skills: []string{"billing"}})
	must(t, e.router.SetRules(ctx, e.tenant.ID, []handoff.Rule{
		{Intent: "consultar_factura", QueueID: billing.ID},
		{Attribute: "vip", Value: "true", PriorityBoost: 10},
	}))
	ana := e.setStatus(t, e.agent(t, e.tenant, "ana", 1, handoff.RoleAgent, "billing"), handoff.StatusAvailable)
	e.clock.Advance(time.Second)
	beto := e.setStatus(t, e.agent(t, e.tenant, "beto", 1, handoff.RoleAgent, "billing"), handoff.StatusAvailable)

	anaSub, err := e.shared.Subscribe(ctx, handoff.AgentTopic(e.tenant.ID, ana.ID))
	must(t, err)
	defer anaSub.Close()
	c := e.conversation(t, e.tenant, "mi factura llegó muy alta", map[string]string{"vip": "true"})
	en, err := e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{Reason: "asked for a person", Intent: "consultar_factura", Sentiment: "negative"})
	must(t, err)
	if en.QueueID != billing.ID || en.Priority != 10 || en.State != handoff.EntryOffered || en.AgentID != ana.ID || en.Reason != "asked for a person" || en.Intent != "consultar_factura" {
		t.Fatalf("entry = %+v; want billing, priority 10, offered to ana (idle longest)", en)
	}
	if got := e.conv(t, e.tenant.ID, c.ID); got.State != conversation.StateQueued {
		t.Fatalf("an offered conversation is %s, want queued", got.State)
	}
	// Enqueue again (a retried route job): nothing changes.
	if again, err := e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{}); err != nil || again.Version != en.Version {
		t.Fatalf("Enqueue again = %+v, %v", again, err)
	}
	if ev := nextRouting(t, anaSub); ev.Type != handoff.EventEntry || ev.Entry.ConversationID != c.ID || ev.Entry.State != handoff.EntryOffered {
		t.Fatalf("ana's console got %+v, want the offer", ev)
	}
	_, err = e.router.Accept(ctx, e.tenant.ID, beto.ID, c.ID, en.Version)
	wantCode(t, err, conversation.EFORBIDDEN, "accepting another agent's offer")

	// Ana does not answer in time: her late accept is refused, the
	// conversation goes to beto, and ana is set away.
	e.clock.Advance(billing.AcceptTimeout)
	_, err = e.router.Accept(ctx, e.tenant.ID, ana.ID, c.ID, en.Version)
	wantCode(t, err, conversation.ECONFLICT, "a late accept")
	en2 := e.entry(t, e.tenant.ID, c.ID)
	if en2.State != handoff.EntryOffered || en2.AgentID != beto.ID {
		t.Fatalf("after the late accept the entry is %+v, want offered to beto", en2)
	}
	if a, _ := e.store.Agent(ctx, e.tenant.ID, ana.ID); a.Status != handoff.StatusAway || a.Load != 0 {
		t.Fatalf("ana after missing the offer = %+v, want away with nothing", a)
	}
	// Her console learns both: she is away, and the offer left her.
	got1, got2 := nextRouting(t, anaSub), nextRouting(t, anaSub)
	if got1.Type != handoff.EventAgent || got1.Agent.Status != handoff.StatusAway || got2.Type != handoff.EventEntryRemoved || got2.Entry.ConversationID != c.ID {
		t.Fatalf("ana's console got %+v then %+v", got1, got2)
	}
	got, err := e.router.Accept(ctx, e.tenant.ID, beto.ID, c.ID, en2.Version)
	must(t, err)
	if got.State != handoff.EntryAssigned || got.AgentID != beto.ID {
		t.Fatalf("accepted = %+v", got)
	}
	if cv := e.conv(t, e.tenant.ID, c.ID); cv.State != conversation.StateAgent || cv.AssigneeID != beto.ID {
		t.Fatalf("the conversation is %s with %d, want agent with beto", cv.State, cv.AssigneeID)
	}
	// The stale offer stays refused.
	_, err = e.router.Accept(ctx, e.tenant.ID, ana.ID, c.ID, en.Version)
	wantCode(t, err, conversation.ECONFLICT, "a stale accept after the re-queue")

	// The offer's job at the deadline: ana comes back, is offered a
	// conversation, and lets it lapse; the job puts it back and, with no
	// one else free, it waits.
	e.setStatus(t, ana, handoff.StatusAvailable)
	c2 := e.conversation(t, e.tenant, "otra duda", nil)
	en, err = e.router.Enqueue(ctx, e.tenant.ID, c2.ID, handoff.QueueRequest{})
	must(t, err)
	if en.QueueID != general.ID || en.AgentID != ana.ID {
		t.Fatalf("entry = %+v, want general, offered to ana", en)
	}
	job := conversation.Job{TenantID: e.tenant.ID, Kind: handoff.JobOffer, Ref: c2.ID, Payload: []byte(strconv.FormatInt(en.Version, 10))}
	err = e.router.OfferJob(ctx, job)
	if je, ok := errors.AsType[*conversation.JobError](err); !ok || je.RetryAfter <= 0 {
		t.Fatalf("the job before the deadline = %v, want a retry after the rest of the time", err)
	}
	e.clock.Advance(general.AcceptTimeout)
	must(t, e.router.OfferJob(ctx, job))
	if en := e.entry(t, e.tenant.ID, c2.ID); en.State != handoff.EntryWaiting || en.AgentID != 0 {
		t.Fatalf("after the job the entry is %+v, want waiting", en)
	}
	must(t, e.router.OfferJob(ctx, job)) // run again: nothing to do
	_, err = e.router.Accept(ctx, e.tenant.ID, ana.ID, c2.ID, en.Version)
	wantCode(t, err, conversation.ECONFLICT, "accepting after the job re-queued it")
}

func TestAgentBecomingAvailableTakesTheBestWaiting(t *testing.T) {
	e := newRoutingEnv(t, false)
	ctx := t.Context()
	e.queue(t, e.tenant, handoff.Queue{Name: "general"})
	must(t, e.router.SetRules(ctx, e.tenant.ID, []handoff.Rule{{Attribute: "vip", Value: "true", PriorityBoost: 10}}))
	var convs []conversation.Conversation
	for i, vip := range []string{"", "", "true", ""} {
		c := e.conversation(t, e.tenant, "hola", map[string]string{"vip": vip})
		e.clock.Advance(time.Duration(i+1) * time.Second)
		_, err := e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{})
		must(t, err)
		convs = append(convs, c)
	}
	carl := e.agent(t, e.tenant, "carl", 2, handoff.RoleAgent)
	carl = e.setStatus(t, carl, handoff.StatusAvailable)
	if carl.Load != 2 {
		t.Fatalf("carl's load after becoming available = %d, want 2", carl.Load)
	}
	held, err := e.store.ListEntries(ctx, e.tenant.ID, 0, carl.ID)
	must(t, err)
	if len(held) != 2 || held[0].ConversationID != convs[2].ID || held[1].ConversationID != convs[0].ID {
		t.Fatalf("carl was offered %+v; want the VIP, then the longest waiting", held)
	}
	w, err := e.router.Position(ctx, e.tenant.ID, convs[3].ID)
	must(t, err)
	if w.Position != 2 || !w.Open {
		t.Fatalf("the last one's wait = %+v, want second in line, open", w)
	}
	// Going busy keeps nothing not yet accepted.
	e.setStatus(t, carl, handoff.StatusBusy)
	if held, _ = e.store.ListEntries(ctx, e.tenant.ID, 0, carl.ID); len(held) != 0 {
		t.Fatalf("a busy agent still holds offers: %+v", held)
	}
}

func TestTenantsAndPermissions(t *testing.T) {
	e := newRoutingEnv(t, false)
	ctx := t.Context()
	other := e.newTenant(t, "globex")
	e.queue(t, e.tenant, handoff.Queue{Name: "general"})
	orders := e.queue(t, e.tenant, handoff.Queue{Name: "orders", Strategy: handoff.StrategyManual, Skills: []string{"orders"}})
	otherQ := e.queue(t, other, handoff.Queue{Name: "general"})
	ana := e.setStatus(t, e.agent(t, e.tenant, "ana", 2, handoff.RoleAgent), handoff.StatusAvailable)
	beto := e.setStatus(t, e.agent(t, e.tenant, "beto", 2, handoff.RoleAgent), handoff.StatusAvailable)
	sara := e.setStatus(t, e.agent(t, e.tenant, "sara", 2, handoff.RoleSupervisor), handoff.StatusBusy)
	mallory := e.setStatus(t, e.agent(t, other, "mallory", 5, handoff.RoleAdmin), handoff.StatusAvailable)

	c := e.conversation(t, e.tenant, "hola", nil)
	en, err := e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{})
	must(t, err)
	_, err = e.router.Accept(ctx, e.tenant.ID, en.AgentID, c.ID, en.Version)
	must(t, err)
	owner := en.AgentID
	notOwner := ana.ID
	if owner == ana.ID {
		notOwner = beto.ID
	}
	oc := e.conversation(t, other, "hola", nil)

	// Another tenant's ids: not found, whoever asks.
	_, err = e.router.Enqueue(ctx, other.ID, c.ID, handoff.QueueRequest{})
	wantCode(t, err, conversation.ENOTFOUND, "Enqueue of another tenant's conversation")
	_, err = e.router.Enqueue(ctx, e.tenant.ID, oc.ID, handoff.QueueRequest{})
	wantCode(t, err, conversation.ENOTFOUND, "Enqueue of another tenant's conversation")
	c2 := e.conversation(t, e.tenant, "hola", nil)
	_, err = e.router.Enqueue(ctx, e.tenant.ID, c2.ID, handoff.QueueRequest{QueueID: otherQ.ID})
	wantCode(t, err, conversation.ENOTFOUND, "Enqueue into another tenant's queue")
	_, err = e.router.Accept(ctx, other.ID, mallory.ID, c.ID, en.Version)
	wantCode(t, err, conversation.ENOTFOUND, "Accept of another tenant's conversation")
	_, err = e.router.Accept(ctx, e.tenant.ID, mallory.ID, c.ID, en.Version)
	wantCode(t, err, conversation.ENOTFOUND, "Accept by another tenant's agent")
	_, err = e.router.Pick(ctx, e.tenant.ID, mallory.ID, c.ID)
	wantCode(t, err, conversation.ENOTFOUND, "Pick by another tenant's agent")
	_, err = e.router.Transfer(ctx, other.ID, mallory.ID, c.ID, handoff.Transfer{ToAgent: mallory.ID})
	wantCode(t, err, conversation.ENOTFOUND, "Transfer of another tenant's conversation")
	_, err = e.router.Transfer(ctx, e.tenant.ID, owner, c.ID, handoff.Transfer{ToAgent: mallory.ID})
	wantCode(t, err, conversation.ENOTFOUND, "Transfer to another tenant's agent")
	_, err = e.router.Transfer(ctx, e.tenant.ID, owner, c.ID, handoff.Transfer{ToQueue: otherQ.ID})
	wantCode(t, err, conversation.ENOTFOUND, "Transfer to another tenant's queue")
	wantCode(t, e.router.Close(ctx, other.ID, mallory.ID, c.ID, "resolved", false), conversation.ENOTFOUND, "Close of another tenant's conversation")
	_, err = e.router.Position(ctx, other.ID, c.ID)
	wantCode(t, err, conversation.ENOTFOUND, "Position of another tenant's conversation")
	_, err = e.router.SetStatus(ctx, other.ID, ana.ID, handoff.StatusOffline)
	wantCode(t, err, conversation.ENOTFOUND, "SetStatus of another tenant's agent")
	wantCode(t, e.router.Touch(ctx, other.ID, ana.ID), conversation.ENOTFOUND, "Touch of another tenant's agent")
	_, err = e.router.CreateAgent(ctx, handoff.Agent{TenantID: e.tenant.ID, Name: "x", Teams: []int64{999}})
	wantCode(t, err, conversation.EINVALID, "an agent in a team that is not the tenant's")
	wantCode(t, e.router.SetRules(ctx, e.tenant.ID, []handoff.Rule{{Intent: "x", QueueID: otherQ.ID}}), conversation.EINVALID, "a rule to another tenant's queue")

	// An agent acting on a conversation not theirs: forbidden.
	_, err = e.router.Transfer(ctx, e.tenant.ID, notOwner, c.ID, handoff.Transfer{ToAgent: notOwner})
	wantCode(t, err, conversation.EFORBIDDEN, "taking another agent's conversation")
	wantCode(t, e.router.Close(ctx, e.tenant.ID, notOwner, c.ID, "resolved", false), conversation.EFORBIDDEN, "closing another agent's conversation")
	// Picking from a queue whose skills one lacks: forbidden.
	c3 := e.conversation(t, e.tenant, "mi pedido", nil)
	_, err = e.router.Enqueue(ctx, e.tenant.ID, c3.ID, handoff.QueueRequest{QueueID: orders.ID})
	must(t, err)
	_, err = e.router.Pick(ctx, e.tenant.ID, ana.ID, c3.ID)
	wantCode(t, err, conversation.EFORBIDDEN, "picking without the queue's skills")
	// A supervisor may reassign anything.
	got, err := e.router.Transfer(ctx, e.tenant.ID, sara.ID, c.ID, handoff.Transfer{ToAgent: notOwner, Note: "she speaks English"})
	must(t, err)
	if got.AgentID != notOwner || got.Note != "she speaks English" || e.conv(t, e.tenant.ID, c.ID).AssigneeID != notOwner {
		t.Fatalf("after the supervisor's reassignment: %+v", got)
	}
	got, err = e.router.Transfer(ctx, e.tenant.ID, sara.ID, c3.ID, handoff.Transfer{ToAgent: owner})
	must(t, err)
	if cv := e.conv(t, e.tenant.ID, c3.ID); got.AgentID != owner || cv.State != conversation.StateAgent || cv.AssigneeID != owner {
		t.Fatalf("a waiting conversation reassigned: %+v, %+v", got, cv)
	}
}

func TestTransferAndClose(t *testing.T) {
	e := newRoutingEnv(t, false)
	ctx := t.Context()
	e.queue(t, e.tenant, handoff.Queue{Name: "general"})
	orders := e.queue(t, e.tenant, handoff.Queue{Name: "orders", Strategy: handoff.StrategyManual, Skills: []string{"orders"}})
	ana := e.setStatus(t, e.agent(t, e.tenant, "ana", 1, handoff.RoleAgent), handoff.StatusAvailable)
	beto := e.setStatus(t, e.agent(t, e.tenant, "beto", 1, handoff.RoleAgent, "orders"), handoff.StatusBusy)
	c := e.conversation(t, e.tenant, "hola", nil)
	en, err := e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{})
	must(t, err)
	_, err = e.router.Accept(ctx, e.tenant.ID, ana.ID, c.ID, en.Version)
	must(t, err)

	// To a busy agent with room: theirs at once, with the note.
	got, err := e.router.Transfer(ctx, e.tenant.ID, ana.ID, c.ID, handoff.Transfer{ToAgent: beto.ID, Note: "order 123 arrived broken"})
	must(t, err)
	if cv := e.conv(t, e.tenant.ID, c.ID); got.AgentID != beto.ID || got.Note != "order 123 arrived broken" || cv.AssigneeID != beto.ID {
		t.Fatalf("after the transfer: %+v, assignee %d", got, cv.AssigneeID)
	}
	if a, _ := e.store.Agent(ctx, e.tenant.ID, ana.ID); a.Load != 0 {
		t.Fatalf("ana's load after handing over = %d", a.Load)
	}
	// To a queue: queued again, the note kept, waiting for a pick.
	got, err = e.router.Transfer(ctx, e.tenant.ID, beto.ID, c.ID, handoff.Transfer{ToQueue: orders.ID, Note: "for the orders team"})
	must(t, err)
	if cv := e.conv(t, e.tenant.ID, c.ID); got.State != handoff.EntryWaiting || got.QueueID != orders.ID || cv.State != conversation.StateQueued || cv.AssigneeID != 0 {
		t.Fatalf("after the transfer to a queue: %+v, %s %d", got, cv.State, cv.AssigneeID)
	}
	if got, err = e.router.Pick(ctx, e.tenant.ID, beto.ID, c.ID); err != nil || got.AgentID != beto.ID {
		t.Fatalf("Pick = %+v, %v", got, err)
	}
	_, err = e.router.Pick(ctx, e.tenant.ID, beto.ID, c.ID)
	if err != nil {
		t.Fatalf("picking one's own conversation again: %v", err)
	}
	// Close back to the bot.
	must(t, e.router.Close(ctx, e.tenant.ID, beto.ID, c.ID, "resolved", true))
	if cv := e.conv(t, e.tenant.ID, c.ID); cv.State != conversation.StateBot || cv.AssigneeID != 0 {
		t.Fatalf("after closing to the bot: %s %d", cv.State, cv.AssigneeID)
	}
	if a, _ := e.store.Agent(ctx, e.tenant.ID, beto.ID); a.Load != 0 {
		t.Fatalf("beto's load after closing = %d", a.Load)
	}
	wantCode(t, e.router.Close(ctx, e.tenant.ID, beto.ID, c.ID, "resolved", true), conversation.ENOTFOUND, "closing twice")
	// Closing for good.
	en, err = e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{})
	must(t, err)
	_, err = e.router.Accept(ctx, e.tenant.ID, ana.ID, c.ID, en.Version)
	must(t, err)
	must(t, e.router.Close(ctx, e.tenant.ID, ana.ID, c.ID, "no_answer", false))
	if cv := e.conv(t, e.tenant.ID, c.ID); cv.State != conversation.StateClosed {
		t.Fatalf("closed conversation is %s", cv.State)
	}
	recent, err := e.store.RecentAssignments(ctx, e.tenant.ID, orders.ID, 10)
	must(t, err)
	if len(recent) != 1 {
		t.Fatalf("orders' assignments = %v, want the pick", recent)
	}
}

func TestWaitPositionAndHours(t *testing.T) {
	e := newRoutingEnv(t, false)
	ctx := t.Context()
	bogota, err := time.LoadLocation("America/Bogota")
	must(t, err)
	// Saturday 7 March 2026, noon in Bogotá; the queue opens on weekdays.
	e.clock.t = time.Date(2026, time.March, 7, 12, 0, 0, 0, bogota)
	var hours []handoff.Span
	for d := time.Monday; d <= time.Friday; d++ {
		hours = append(hours, handoff.Span{Day: d, From: "08:00", To: "18:00"})
	}
	q := e.queue(t, e.tenant, handoff.Queue{Name: "general", Strategy: handoff.StrategyManual, Hours: hours})
	ana := e.setStatus(t, e.agent(t, e.tenant, "ana", 5, handoff.RoleAgent), handoff.StatusAvailable)
	var convs []conversation.Conversation
	for range 5 {
		c := e.conversation(t, e.tenant, "hola", nil)
		_, err := e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{})
		must(t, err)
		convs = append(convs, c)
	}
	w, err := e.router.Position(ctx, e.tenant.ID, convs[4].ID)
	must(t, err)
	if wantOpen := time.Date(2026, time.March, 9, 8, 0, 0, 0, bogota); w.Open || !w.OpensAt.Equal(wantOpen) || w.Position != 5 || w.Expected != 0 {
		t.Fatalf("wait on Saturday = %+v, want closed until %v, fifth, no pace yet", w, wantOpen)
	}
	if text := handoff.WaitText(w, e.tenant, "es"); !strings.Contains(text, "lunes 9 de marzo a las 08:00") {
		t.Fatalf("WaitText = %q", text)
	}
	// Monday: ana takes one every two minutes.
	e.clock.t = time.Date(2026, time.March, 9, 9, 0, 0, 0, bogota)
	for i := range 3 {
		if i > 0 {
			e.clock.Advance(2 * time.Minute)
		}
		_, err := e.router.Pick(ctx, e.tenant.ID, ana.ID, convs[i].ID)
		must(t, err)
	}
	w, err = e.router.Position(ctx, e.tenant.ID, convs[4].ID)
	must(t, err)
	if !w.Open || w.Position != 2 || w.Expected != 4*time.Minute {
		t.Fatalf("wait on Monday = %+v, want open, second, 4 minutes (one every 2)", w)
	}
	if text := handoff.WaitText(w, e.tenant, "en"); !strings.Contains(text, "number 2") || !strings.Contains(text, "about 4 min") {
		t.Fatalf("WaitText = %q", text)
	}
	views, err := e.router.QueueStats(ctx, e.tenant.ID)
	must(t, err)
	if len(views) != 1 || views[0].Queue.ID != q.ID || views[0].Waiting != 2 || views[0].Assigned != 3 || views[0].Available != 1 ||
		views[0].LongestWait != e.clock.Now().Sub(time.Date(2026, time.March, 7, 12, 0, 0, 0, bogota)) {
		t.Fatalf("QueueStats = %+v", views)
	}
}

func TestPresenceSweep(t *testing.T) {
	e := newRoutingEnv(t, false)
	ctx := t.Context()
	e.queue(t, e.tenant, handoff.Queue{Name: "general"})
	ana := e.setStatus(t, e.agent(t, e.tenant, "ana", 1, handoff.RoleAgent), handoff.StatusAvailable)
	e.clock.Advance(time.Second)
	beto := e.setStatus(t, e.agent(t, e.tenant, "beto", 1, handoff.RoleAgent), handoff.StatusAvailable)
	c := e.conversation(t, e.tenant, "hola", nil)
	en, err := e.router.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{})
	must(t, err)
	if en.AgentID != ana.ID {
		t.Fatalf("offered to %d, want ana", en.AgentID)
	}
	// Beto's console keeps touching; ana's went away with her browser.
	for range 4 {
		e.clock.Advance(30 * time.Second)
		must(t, e.router.Touch(ctx, e.tenant.ID, beto.ID))
		must(t, e.router.Sweep(ctx))
	}
	if a, _ := e.store.Agent(ctx, e.tenant.ID, ana.ID); a.Status != handoff.StatusOffline {
		t.Fatalf("ana after her console went silent: %s", a.Status)
	}
	if a, _ := e.store.Agent(ctx, e.tenant.ID, beto.ID); a.Status != handoff.StatusAvailable {
		t.Fatalf("beto, whose console is alive: %s", a.Status)
	}
	if en := e.entry(t, e.tenant.ID, c.ID); en.AgentID != beto.ID || en.State != handoff.EntryOffered {
		t.Fatalf("ana's offer went to %+v, want beto", en)
	}
}

// TestBotSilentWhileAgentOwns: the bot hands off; the router queues the
// conversation and tells the contact their place; while an agent owns it,
// what the contact writes gets no bot answer; when the agent hands it
// back, the bot answers again.
func TestBotSilentWhileAgentOwns(t *testing.T) {
	e := newRoutingEnv(t, true)
	ctx := t.Context()
	e.queue(t, e.tenant, handoff.Queue{Name: "general"})
	worker, err := conversation.NewWorker(e.store, conversation.WorkerConfig{Concurrency: 2, PollInterval: 10 * time.Millisecond}, nil)
	must(t, err)
	worker.Handle(conversation.JobRoute, e.svc.RouteJob)
	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(wctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	botReplies := func(convID int64) []string {
		msgs, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{ConversationID: convID, Limit: 100})
		must(t, err)
		var out []string
		for _, m := range msgs {
			if m.Author.Kind == conversation.AuthorBot {
				out = append(out, m.Text())
			}
		}
		return out
	}
	routed := func() bool {
		counts, err := e.store.JobCounts(ctx)
		must(t, err)
		for _, c := range counts {
			if c.Kind == conversation.JobRoute {
				return false
			}
		}
		return true
	}
	send := func(id, text string) conversation.Conversation {
		res, err := e.svc.Ingest(ctx, conversation.Inbound{Channel: conversation.ChannelAPI, Account: "acme-crm", From: "ana-customer",
			ProviderID: id, Parts: []conversation.Part{conversation.TextPart(text)}})
		must(t, err)
		return res.Conversation
	}

	c := send("m1", "quiero hablar con un agente")
	eventually(t, "the conversation queued for an agent", func() bool {
		_, err := e.store.Entry(ctx, e.tenant.ID, c.ID)
		return err == nil && routed()
	})
	replies := botReplies(c.ID)
	if len(replies) < 2 || !strings.Contains(replies[len(replies)-1], "puesto 1") {
		t.Fatalf("bot replies = %q; want the handoff answer and the place in line", replies)
	}
	ana := e.setStatus(t, e.agent(t, e.tenant, "ana", 1, handoff.RoleAgent), handoff.StatusAvailable)
	en := e.entry(t, e.tenant.ID, c.ID)
	_, err = e.router.Accept(ctx, e.tenant.ID, ana.ID, c.ID, en.Version)
	must(t, err)

	before := len(botReplies(c.ID))
	send("m2", "¿cuál es el horario?")
	eventually(t, "the message routed", routed)
	if got := botReplies(c.ID); len(got) != before {
		t.Fatalf("the bot answered while an agent owns the conversation: %q", got[before:])
	}

	must(t, e.router.Close(ctx, e.tenant.ID, ana.ID, c.ID, "resolved", true))
	send("m3", "¿cuál es el horario?")
	eventually(t, "the bot's answer once it has the conversation back", func() bool { return len(botReplies(c.ID)) > before })
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func nextRouting(t *testing.T, sub *conversation.Subscription) handoff.RoutingEvent {
	t.Helper()
	select {
	case m, ok := <-sub.C():
		if !ok {
			t.Fatalf("subscription ended: %v", sub.Err())
		}
		var ev handoff.RoutingEvent
		must(t, json.Unmarshal(m.Payload, &ev))
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no routing event within 10s")
	}
	panic("unreachable")
}

// TestOffersReachConsolesOnOtherNodes: a router on one node offers a
// conversation; the agent's console, connected to another node, gets the
// offer through Valkey.
func TestOffersReachConsolesOnOtherNodes(t *testing.T) {
	e := newRoutingEnv(t, false)
	ctx := t.Context()
	rawURL, prefix := testenv.ValkeyURL(t)
	var clients []*valkey.Client
	for range 2 {
		c, err := valkey.Open(ctx, valkey.Config{URL: rawURL, Prefix: prefix})
		must(t, err)
		t.Cleanup(c.Close)
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(rctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("valkey Run: %v", err)
			}
		})
		clients = append(clients, c)
	}
	nodeA := handoff.NewRouter(e.store, e.svc, e.store, handoff.RouterConfig{Now: e.clock.Now, Bus: clients[0]})
	e.queue(t, e.tenant, handoff.Queue{Name: "general"})
	ana, err := nodeA.CreateAgent(ctx, handoff.Agent{TenantID: e.tenant.ID, Name: "ana"})
	must(t, err)
	console, err := clients[1].Subscribe(ctx, handoff.AgentTopic(e.tenant.ID, ana.ID))
	must(t, err)
	defer console.Close()
	// Node B's subscription to Valkey is up once a probe gets through.
	probe := func() bool {
		must(t, clients[0].Publish(ctx, handoff.AgentTopic(e.tenant.ID, ana.ID), []byte(`{"type":"probe"}`)))
		select {
		case <-console.C():
			return true
		case <-time.After(50 * time.Millisecond):
			return false
		}
	}
	eventually(t, "node B subscribed", probe)
	// Probes still in flight are skipped.
	next := func() handoff.RoutingEvent {
		for {
			if ev := nextRouting(t, console); ev.Type != "probe" {
				return ev
			}
		}
	}
	_, err = nodeA.SetStatus(ctx, e.tenant.ID, ana.ID, handoff.StatusAvailable)
	must(t, err)
	if ev := next(); ev.Type != handoff.EventAgent || ev.Agent.Status != handoff.StatusAvailable {
		t.Fatalf("the console got %+v, want ana available", ev)
	}
	c := e.conversation(t, e.tenant, "hola", nil)
	_, err = nodeA.Enqueue(ctx, e.tenant.ID, c.ID, handoff.QueueRequest{})
	must(t, err)
	if ev := next(); ev.Type != handoff.EventEntry || ev.Entry.ConversationID != c.ID || ev.Entry.State != handoff.EntryOffered || ev.Entry.AgentID != ana.ID {
		t.Fatalf("the console on node B got %+v, want the offer", ev)
	}
}

// failingBot always fails: the service hands the conversation to agents
// after the last attempt.
type failingBot struct{}

func (failingBot) Respond(context.Context, conversation.Turn) (conversation.Response, error) {
	return conversation.Response{}, errors.New("model unavailable")
}

// TestBotFailureRoutesToAgents: when the bot fails for good, the
// conversation is not only queued but routed, and offered to an agent.
func TestBotFailureRoutesToAgents(t *testing.T) {
	e := newRoutingEnvWith(t, func(*sqlite.Store) conversation.Bot { return failingBot{} })
	ctx := t.Context()
	e.queue(t, e.tenant, handoff.Queue{Name: "general"})
	ana := e.setStatus(t, e.agent(t, e.tenant, "ana", 1, handoff.RoleAgent), handoff.StatusAvailable)
	worker, err := conversation.NewWorker(e.store, conversation.WorkerConfig{Concurrency: 2, PollInterval: 10 * time.Millisecond,
		RetryBase: time.Millisecond, RetryMax: 2 * time.Millisecond}, nil)
	must(t, err)
	worker.Handle(conversation.JobRoute, e.svc.RouteJob)
	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(wctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	c := e.conversation(t, e.tenant, "hola", nil)
	eventually(t, "the conversation offered to ana", func() bool {
		en, err := e.store.Entry(ctx, e.tenant.ID, c.ID)
		return err == nil && en.AgentID == ana.ID && en.Reason == "bot_failed"
	})
}

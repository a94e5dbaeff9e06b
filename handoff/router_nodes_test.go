package handoff_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/internal/testenv"
	"conversa/storage/memory"
	"conversa/storage/postgres"
)

// node is one conversa node: its own pool on the shared database, its own
// conversation service and router.
type node struct {
	store  *postgres.Store
	svc    *conversation.Service
	router *handoff.Router
}

// TestNoDoubleAssignmentAcrossNodes hammers two nodes on one PostgreSQL
// database with conversations arriving, agents going available and away,
// accepts, picks and offer deadlines, all at once, while the shared clock
// runs fast enough for offers to expire. No conversation may be assigned
// to two agents, no agent may hold more than their capacity, and every
// assignment must be the conversation's state.
func TestNoDoubleAssignmentAcrossNodes(t *testing.T) {
	ctx := t.Context()
	url := testenv.PostgresURL(t)
	clk := &routerClock{t: time.Now().UTC().Truncate(time.Microsecond)}
	var nodes []node
	for i := range 2 {
		s, err := postgres.Open(ctx, postgres.Config{URL: url})
		must(t, err)
		t.Cleanup(func() { s.Close() })
		if i == 0 {
			_, err := s.Migrate(ctx)
			must(t, err)
		}
		shared := memory.New()
		svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: s, Bus: shared, Dedup: shared})
		must(t, err)
		nodes = append(nodes, node{store: s, svc: svc, router: handoff.NewRouter(s, svc, s, handoff.RouterConfig{Now: clk.Now})})
	}
	n0 := nodes[0]
	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	must(t, tn.Validate())
	tn, err := n0.store.CreateTenant(ctx, tn)
	must(t, err)
	_, err = n0.store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelAPI, Key: "crm"})
	must(t, err)
	queues := []handoff.Queue{}
	for _, q := range []handoff.Queue{{Name: "general", AcceptTimeout: 5 * time.Second}, {Name: "rr", Strategy: handoff.StrategyRoundRobin, AcceptTimeout: 5 * time.Second}} {
		q.TenantID = tn.ID
		q, err := n0.router.CreateQueue(ctx, q)
		must(t, err)
		queues = append(queues, q)
	}
	must(t, n0.router.SetRules(ctx, tn.ID, []handoff.Rule{{Channel: "api", Attribute: "rr", QueueID: queues[1].ID}}))
	var agents []handoff.Agent
	for i := range 10 {
		a, err := n0.router.CreateAgent(ctx, handoff.Agent{TenantID: tn.ID, Name: fmt.Sprintf("agent %d", i), Capacity: 1 + i%3})
		must(t, err)
		agents = append(agents, a)
	}
	const conversations = 60
	var convs []int64
	for i := range conversations {
		res, err := n0.svc.Ingest(ctx, conversation.Inbound{Channel: conversation.ChannelAPI, Account: "crm", From: "c" + strconv.Itoa(i),
			ProviderID: "c" + strconv.Itoa(i), Parts: []conversation.Part{conversation.TextPart("hola")}})
		must(t, err)
		if i%2 == 1 {
			_, err = n0.store.UpdateContact(ctx, tn.ID, res.Conversation.ContactID, conversation.ContactUpdate{Attributes: map[string]string{"rr": "yes"}})
			must(t, err)
		}
		convs = append(convs, res.Conversation.ID)
	}

	var mu sync.Mutex
	claims := map[int64]map[int64]bool{} // conversation -> agents it was assigned to
	claimed := func(e handoff.Entry) {
		mu.Lock()
		defer mu.Unlock()
		if claims[e.ConversationID] == nil {
			claims[e.ConversationID] = map[int64]bool{}
		}
		claims[e.ConversationID][e.AgentID] = true
	}
	stop := make(chan struct{})
	ticking := make(chan struct{})
	go func() {
		defer close(ticking)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
				clk.Advance(500 * time.Millisecond)
			}
		}
	}()
	const workers, steps = 16, 80
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			nd := nodes[w%2]
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for range steps {
				conv := convs[rng.IntN(len(convs))]
				a := agents[rng.IntN(len(agents))]
				var err error
				switch op := rng.IntN(10); {
				case op < 2:
					_, err = nd.router.Enqueue(ctx, tn.ID, conv, handoff.QueueRequest{Reason: "hammer"})
				case op < 4:
					st := handoff.StatusAvailable
					if rng.IntN(3) == 0 {
						st = handoff.StatusAway
					}
					_, err = nd.router.SetStatus(ctx, tn.ID, a.ID, st)
				case op < 7:
					var e handoff.Entry
					if e, err = nd.store.Entry(ctx, tn.ID, conv); err == nil && e.State == handoff.EntryOffered {
						if e, err = nd.router.Accept(ctx, tn.ID, e.AgentID, conv, e.Version); err == nil {
							claimed(e)
						}
					}
				case op < 9:
					var e handoff.Entry
					if e, err = nd.router.Pick(ctx, tn.ID, a.ID, conv); err == nil {
						claimed(e)
					}
				default:
					var e handoff.Entry
					if e, err = nd.store.Entry(ctx, tn.ID, conv); err == nil {
						err = nd.router.OfferJob(ctx, conversation.Job{TenantID: tn.ID, Kind: handoff.JobOffer, Ref: conv,
							Payload: []byte(strconv.FormatInt(e.Version, 10))})
						if _, ok := errors.AsType[*conversation.JobError](err); ok {
							err = nil // the offer is still open: the worker would retry
						}
					}
				}
				if err != nil && !conversation.IsNotFound(err) && !conversation.IsConflict(err) {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-ticking
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	assigned := 0
	for conv, by := range claims {
		if len(by) > 1 {
			t.Errorf("conversation %d was assigned to %d agents: %v", conv, len(by), by)
		}
	}
	entries, err := n0.store.ListEntries(ctx, tn.ID, 0, 0)
	must(t, err)
	held := map[int64]int{}
	for _, e := range entries {
		cv, err := n0.store.Conversation(ctx, tn.ID, e.ConversationID)
		must(t, err)
		switch e.State {
		case handoff.EntryAssigned:
			assigned++
			if !claims[e.ConversationID][e.AgentID] {
				t.Errorf("conversation %d is assigned to %d, who never claimed it", e.ConversationID, e.AgentID)
			}
			if cv.State != conversation.StateAgent || cv.AssigneeID != e.AgentID {
				t.Errorf("conversation %d: entry assigned to %d, conversation %s with %d", e.ConversationID, e.AgentID, cv.State, cv.AssigneeID)
			}
		default:
			if cv.State != conversation.StateQueued {
				t.Errorf("conversation %d: entry %s, conversation %s", e.ConversationID, e.State, cv.State)
			}
		}
		if e.AgentID != 0 {
			held[e.AgentID]++
		}
	}
	if assigned != len(claims) {
		t.Errorf("%d conversations assigned, %d claims succeeded", assigned, len(claims))
	}
	for _, a := range agents {
		got, err := n0.store.Agent(ctx, tn.ID, a.ID)
		must(t, err)
		if got.Load != held[a.ID] || got.Load > got.Capacity {
			t.Errorf("agent %d: load %d, holds %d, capacity %d", a.ID, got.Load, held[a.ID], got.Capacity)
		}
	}
	if assigned == 0 || len(entries) == assigned {
		t.Fatalf("%d assigned of %d entries: the hammer did not exercise both outcomes", assigned, len(entries))
	}
	t.Logf("%d conversations assigned, %d entries", assigned, len(entries))
}

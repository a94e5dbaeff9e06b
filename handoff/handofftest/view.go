package handofftest

import (
	"fmt"
	"testing"

	"conversa/conversation"
	"conversa/handoff"
)

// ViewStores are the stores the 360 view reads, usually one value.
type ViewStores interface {
	conversation.Store
	handoff.RoutingStore
	handoff.ConsoleStore
	handoff.CaseStore
	handoff.ViewStore
}

// TestViewStore runs the handoff.ViewStore contract, and handoff.Views
// over it. newStore returns an empty store of its own for every subtest;
// the subtests run in parallel.
func TestViewStore(t *testing.T, newStore func(t *testing.T) ViewStores) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ViewStores)
	}{
		{"ContactView", testContactView},
		{"ViewTenantIsolation", testViewIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// contactHistory gives the fixture's contact convs conversations of msgs
// inbound messages and one bot reply each, all closed but the last, and
// returns the conversations, oldest first.
func contactHistory(t *testing.T, s ViewStores, f fixture, convs, msgs int) []conversation.Conversation {
	t.Helper()
	ctx := t.Context()
	acct, err := s.ChannelAccount(ctx, f.tenant.ID, f.conv.ChannelAccountID)
	must(t, err)
	out := []conversation.Conversation{f.conv}
	for c := range convs {
		if c > 0 {
			_, err := s.TransitionConversation(ctx, f.tenant.ID, out[len(out)-1].ID, conversation.Transition{From: out[len(out)-1].State, To: conversation.StateClosed})
			must(t, err)
		}
		var last conversation.Conversation
		for m := range msgs {
			if c == 0 && m == 0 {
				continue // the fixture's first message
			}
			res, err := s.Ingest(ctx, []conversation.IngestRequest{{TenantID: f.tenant.ID, AccountID: acct.ID, Inbound: conversation.Inbound{
				Channel: acct.Kind, Account: acct.Key, From: "visitor", ProviderID: fmt.Sprintf("m-%d-%d", c, m),
				Parts: []conversation.Part{conversation.TextPart(fmt.Sprintf("mensaje %d de la conversación %d", m, c))},
			}}})
			must(t, err)
			must(t, res[0].Err)
			last = res[0].Conversation
		}
		_, err := s.Send(ctx, []conversation.Outbound{{TenantID: f.tenant.ID, ConversationID: last.ID,
			Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("respuesta")}}})
		must(t, err)
		if c == 0 {
			out[0] = last
		} else {
			out = append(out, last)
		}
	}
	return out
}

func testContactView(t *testing.T, s ViewStores) {
	ctx := t.Context()
	f := newFixture(t, s, "alpha")
	convs := contactHistory(t, s, f, 3, 4)
	if len(convs) != 3 || convs[0].ID == convs[2].ID {
		t.Fatalf("history: %+v", convs)
	}
	ana := agent(t, s, f.tenant.ID, "ana", 2)
	latest := convs[2]
	_, err := s.TransitionConversation(ctx, f.tenant.ID, latest.ID, conversation.Transition{From: latest.State, To: conversation.StateAgent, AssigneeID: ana.ID})
	must(t, err)
	n1, err := s.CreateNote(ctx, handoff.Note{TenantID: f.tenant.ID, ConversationID: convs[0].ID, AgentID: ana.ID, Body: "primera"})
	must(t, err)
	n2, err := s.CreateNote(ctx, handoff.Note{TenantID: f.tenant.ID, ConversationID: latest.ID, AgentID: ana.ID, Body: "segunda"})
	must(t, err)
	c := create(t, s, f.newCase(filedAt))

	sums, err := s.ContactConversations(ctx, f.tenant.ID, f.conv.ContactID, 10)
	must(t, err)
	if len(sums) != 3 {
		t.Fatalf("ContactConversations: %d, want 3", len(sums))
	}
	for i, sum := range sums {
		want := convs[2-i]
		ms, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ConversationID: want.ID, Limit: 100})
		must(t, err)
		if sum.ID != want.ID || sum.Messages != 5 || len(ms) != 5 || !sum.FirstMessageAt.Equal(ms[0].CreatedAt) ||
			sum.FirstMessageAt.After(sum.LastMessageAt) || sum.ContactID != f.conv.ContactID || sum.Channel != f.conv.Channel {
			t.Errorf("summary %d = %+v, want conversation %d with 5 messages from %v", i, sum, want.ID, ms[0].CreatedAt)
		}
	}
	if sums[0].State != conversation.StateAgent || sums[0].AssigneeID != ana.ID || sums[0].AssigneeName != "ana" ||
		sums[1].State != conversation.StateClosed || sums[1].AssigneeName != "" {
		t.Errorf("states and assignees: %+v / %+v", sums[0], sums[1])
	}
	if two, err := s.ContactConversations(ctx, f.tenant.ID, f.conv.ContactID, 2); err != nil || len(two) != 2 || two[0].ID != latest.ID {
		t.Errorf("ContactConversations limited to 2 = %+v, %v", two, err)
	}
	notes, err := s.ContactNotes(ctx, f.tenant.ID, f.conv.ContactID, 10)
	must(t, err)
	if len(notes) != 2 || notes[0].ID != n2.ID || notes[1].ID != n1.ID || notes[0].AgentName != "ana" {
		t.Errorf("ContactNotes = %+v", notes)
	}
	if one, err := s.ContactNotes(ctx, f.tenant.ID, f.conv.ContactID, 1); err != nil || len(one) != 1 || one[0].ID != n2.ID {
		t.Errorf("ContactNotes limited to 1 = %+v, %v", one, err)
	}

	// The view: the latest 6 of the 15 messages, and a cursor to the rest.
	v, err := handoff.NewViews(s).ContactView(ctx, f.tenant.ID, f.conv.ContactID, 6)
	must(t, err)
	if v.Contact.ID != f.conv.ContactID || len(v.Contact.Identities) == 0 || len(v.Conversations) != 3 || len(v.Notes) != 2 ||
		len(v.Cases) != 1 || v.Cases[0].ID != c.ID || v.Cases[0].Radicado == "" {
		t.Fatalf("ContactView = %+v", v)
	}
	if len(v.Messages) != 6 || v.MessagesBefore == nil {
		t.Fatalf("view messages: %d, before %v", len(v.Messages), v.MessagesBefore)
	}
	all, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ContactID: f.conv.ContactID, Limit: 100})
	must(t, err)
	if len(all) != 15 {
		t.Fatalf("the contact has %d messages, want 15", len(all))
	}
	for i, m := range v.Messages {
		if m.ID != all[9+i].ID {
			t.Fatalf("view message %d is %d, want %d (the latest, in order)", i, m.ID, all[9+i].ID)
		}
	}
	older, err := s.ListMessages(ctx, f.tenant.ID, conversation.MessageFilter{ContactID: f.conv.ContactID, Before: v.MessagesBefore, Newest: true, Limit: 100})
	must(t, err)
	if len(older) != 9 || older[8].ID != all[8].ID {
		t.Fatalf("the messages before the cursor: %d", len(older))
	}
	// Without messages asked for, the default; a contact without history.
	v, err = handoff.NewViews(s).ContactView(ctx, f.tenant.ID, f.conv.ContactID, 0)
	must(t, err)
	if len(v.Messages) != 15 || v.MessagesBefore != nil {
		t.Fatalf("default view: %d messages, before %v", len(v.Messages), v.MessagesBefore)
	}
	_, err = handoff.NewViews(s).ContactView(ctx, f.tenant.ID, 999999, 0)
	wantNotFound(t, err, "the view of a missing contact")
}

func testViewIsolation(t *testing.T, s ViewStores) {
	ctx := t.Context()
	fa, fb := newFixture(t, s, "alpha"), newFixture(t, s, "beta")
	ana := agent(t, s, fa.tenant.ID, "ana", 1)
	_, err := s.CreateNote(ctx, handoff.Note{TenantID: fa.tenant.ID, ConversationID: fa.conv.ID, AgentID: ana.ID, Body: "secreto"})
	must(t, err)
	if got, err := s.ContactConversations(ctx, fb.tenant.ID, fa.conv.ContactID, 10); err != nil || len(got) != 0 {
		t.Errorf("ContactConversations of another tenant's contact = %+v, %v", got, err)
	}
	if got, err := s.ContactNotes(ctx, fb.tenant.ID, fa.conv.ContactID, 10); err != nil || len(got) != 0 {
		t.Errorf("ContactNotes of another tenant's contact = %+v, %v", got, err)
	}
	_, err = handoff.NewViews(s).ContactView(ctx, fb.tenant.ID, fa.conv.ContactID, 0)
	wantNotFound(t, err, "the view of another tenant's contact")
	v, err := handoff.NewViews(s).ContactView(ctx, fb.tenant.ID, fb.conv.ContactID, 0)
	must(t, err)
	if len(v.Notes) != 0 || len(v.Conversations) != 1 || len(v.Messages) != 1 || len(v.Cases) != 0 {
		t.Errorf("tenant b's view = %+v", v)
	}
}

// Package channeltest is the suite every channel adapter must pass before
// it is considered ready. Each adapter's tests build a Harness that drives the
// adapter through its real entry points (webhooks, sockets) and observe its
// real outputs (the peer that receives what it sends).
package channeltest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"conversa/channels"
	"conversa/conversation"
)

// Harness adapts one channel to the suite.
type Harness struct {
	Channel channels.Channel
	// Account is a stored account of the channel.
	Account conversation.ChannelAccount
	// Contact is a stored contact with an identity on the channel, To.
	Contact conversation.Contact
	To      conversation.Identity
	// Receive waits for the next message the channel delivered to To and
	// returns it as the peer saw it.
	Receive func(ctx context.Context) ([]conversation.Part, error)
	// Inject makes To send text, with the provider's message id, through
	// the channel's real entry point.
	Inject func(ctx context.Context, providerID, text string) error
	// Ingested waits for the next message the channel handed to the
	// conversation service.
	Ingested func(ctx context.Context) (conversation.Message, error)
	// InvalidSettings are account settings the channel must reject.
	InvalidSettings []map[string]string
}

// TestChannel runs the suite. newHarness is called once per subtest.
func TestChannel(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"Kind", testKind},
		{"ValidateAccount", testValidateAccount},
		{"SendText", testSendText},
		{"SendButtons", testSendButtons},
		{"SendCancelled", testSendCancelled},
		{"Inbound", testInbound},
		{"InboundProviderID", testInboundProviderID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newHarness(t)) })
	}
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func delivery(h Harness, parts ...conversation.Part) conversation.Delivery {
	return conversation.Delivery{
		Message: conversation.Message{
			ID: 1, TenantID: h.Account.TenantID, ContactID: h.Contact.ID, Direction: conversation.DirectionOut,
			Author: conversation.Author{Kind: conversation.AuthorBot}, Channel: h.Account.Kind,
			ChannelAccountID: h.Account.ID, Parts: parts, Status: conversation.StatusQueued,
		},
		Account: h.Account,
		Contact: h.Contact,
		To:      h.To,
		// The contact has just written, as DeliverJob would tell a
		// WhatsApp channel.
		LastInbound: time.Now(),
	}
}

func testKind(t *testing.T, h Harness) {
	if !h.Channel.Kind().Valid() || h.Channel.Kind() != h.Account.Kind || h.To.Channel != h.Account.Kind {
		t.Fatalf("channel kind %q, account kind %q, identity channel %q: want one valid kind", h.Channel.Kind(), h.Account.Kind, h.To.Channel)
	}
}

func testValidateAccount(t *testing.T, h Harness) {
	a := h.Account
	if err := h.Channel.ValidateAccount(&a); err != nil {
		t.Fatalf("the harness account is rejected: %v", err)
	}
	for _, s := range h.InvalidSettings {
		a := h.Account
		a.Settings = s
		err := h.Channel.ValidateAccount(&a)
		if conversation.ErrorCode(err) != conversation.EINVALID {
			t.Errorf("settings %v: got %v, want an invalid error", s, err)
		}
	}
}

func testSendText(t *testing.T, h Harness) {
	ctx := timeout(t)
	text := "Hola, ¿en qué le ayudo? 👋"
	r, err := h.Channel.Send(ctx, delivery(h, conversation.TextPart(text)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != conversation.StatusSent && r.Status != conversation.StatusDelivered && r.Status != "" {
		t.Fatalf("receipt status %q", r.Status)
	}
	parts, err := h.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := conversation.PartsText(parts); !strings.Contains(got, text) {
		t.Fatalf("peer received %q, want %q", got, text)
	}
}

func testSendButtons(t *testing.T, h Harness) {
	ctx := timeout(t)
	part := conversation.Part{Type: conversation.PartButtons, Text: "¿Qué necesita?", Buttons: []conversation.Button{
		{ID: "billing", Title: "Facturas"}, {ID: "support", Title: "Soporte"},
	}}
	if _, err := h.Channel.Send(ctx, delivery(h, part)); err != nil {
		t.Fatal(err)
	}
	parts, err := h.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The peer sees every option, as buttons or, where the channel has
	// none, as text.
	got := conversation.PartsText(parts)
	for _, want := range []string{"¿Qué necesita?", "Facturas", "Soporte"} {
		if !strings.Contains(got, want) {
			t.Fatalf("peer received %q, missing %q", got, want)
		}
	}
}

func testSendCancelled(t *testing.T, h Harness) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	done := make(chan error, 1)
	go func() {
		_, err := h.Channel.Send(ctx, delivery(h, conversation.TextPart("nunca")))
		done <- err
	}()
	// Whether the send was refused or had nothing to wait for, it must
	// return.
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Send with a cancelled context did not return")
	}
}

func testInbound(t *testing.T, h Harness) {
	ctx := timeout(t)
	text := "quiero hablar con una persona, por favor"
	if err := h.Inject(ctx, "suite-in-1", text); err != nil {
		t.Fatal(err)
	}
	m, err := h.Ingested(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != h.Account.Kind || m.ChannelAccountID != h.Account.ID || m.Direction != conversation.DirectionIn {
		t.Fatalf("ingested %+v, want an inbound message at account %d", m, h.Account.ID)
	}
	if m.ContactID != h.Contact.ID {
		t.Fatalf("ingested for contact %d, want %d (identity %s)", m.ContactID, h.Contact.ID, h.To)
	}
	if got := conversation.PartsText(m.Parts); got != text {
		t.Fatalf("ingested text %q, want %q", got, text)
	}
}

func testInboundProviderID(t *testing.T, h Harness) {
	ctx := timeout(t)
	for i := range 2 {
		if err := h.Inject(ctx, fmt.Sprintf("suite-pid-%d", i), fmt.Sprintf("mensaje %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := h.Ingested(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := h.Ingested(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.ProviderID == "" || first.ProviderID == second.ProviderID {
		t.Fatalf("provider ids %q and %q: want two distinct de-duplication keys", first.ProviderID, second.ProviderID)
	}
}

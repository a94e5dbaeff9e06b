package conversation_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"conversa/conversation"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// ratingInterceptor takes a message that is "5" and thanks the contact.
type ratingInterceptor struct{ calls atomic.Int32 }

func (r *ratingInterceptor) Intercept(_ context.Context, t conversation.Turn) (bool, [][]conversation.Part, error) {
	r.calls.Add(1)
	if t.Message.Text() != "5" {
		return false, nil, nil
	}
	return true, [][]conversation.Part{{conversation.TextPart("¡Gracias por tu calificación!")}}, nil
}

// countingBot answers every message and counts them.
type countingBot struct{ calls atomic.Int32 }

func (b *countingBot) Respond(context.Context, conversation.Turn) (conversation.Response, error) {
	b.calls.Add(1)
	return conversation.Response{Replies: [][]conversation.Part{{conversation.TextPart("soy el bot")}}}, nil
}

// TestInterceptors: an interceptor sees inbound messages before the bot in
// any open state; what it takes never reaches the bot and is answered once,
// however often the route job runs; what it does not take goes on as
// before; automated mail and messages of a closed conversation are not
// offered.
func TestInterceptors(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ic, bot := &ratingInterceptor{}, &countingBot{}
	svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{
		Store: store, Bus: memory.New(), Bot: bot, Interceptors: []conversation.Interceptor{ic}})
	if err != nil {
		t.Fatal(err)
	}
	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if tn, err = store.CreateTenant(ctx, tn); err != nil {
		t.Fatal(err)
	}
	acct, err := store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: "acme-web"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	route := func(text string, meta map[string]string) conversation.Message {
		t.Helper()
		n++
		res, err := svc.Ingest(ctx, conversation.Inbound{Channel: conversation.ChannelWebchat, Account: acct.Key, From: "visitor-1",
			ProviderID: "m" + string(rune('a'+n)), Parts: []conversation.Part{conversation.TextPart(text)}, Meta: meta})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // a retried route job changes nothing
			if err := svc.RouteJob(ctx, conversation.Job{TenantID: tn.ID, Kind: conversation.JobRoute, Ref: res.Message.ID, Attempt: 1, MaxAttempts: 5}); err != nil {
				t.Fatal(err)
			}
		}
		return res.Message
	}
	replies := func(conv int64) []string {
		t.Helper()
		ms, err := store.ListMessages(ctx, tn.ID, conversation.MessageFilter{ConversationID: conv})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			if m.Direction == conversation.DirectionOut {
				out = append(out, string(m.Author.Kind)+":"+m.Text())
			}
		}
		return out
	}

	m := route("5", nil)
	if got := replies(m.ConversationID); len(got) != 1 || got[0] != "system:¡Gracias por tu calificación!" || bot.calls.Load() != 0 {
		t.Fatalf("a taken message in bot state: replies %q, bot called %d times", got, bot.calls.Load())
	}
	route("hola", nil)
	if got := replies(m.ConversationID); len(got) != 2 || bot.calls.Load() != 2 {
		t.Fatalf("a message not taken: replies %q, bot called %d times", got, bot.calls.Load())
	}

	// Queued for agents: the interceptor still sees messages; the bot does not.
	if _, err := svc.Queue(ctx, tn.ID, m.ConversationID); err != nil {
		t.Fatal(err)
	}
	route("5", nil)
	route("¿hay alguien?", nil)
	if got := replies(m.ConversationID); len(got) != 3 || bot.calls.Load() != 2 {
		t.Fatalf("in a queued conversation: replies %q, bot called %d times", got, bot.calls.Load())
	}

	// Automated mail is offered to nobody.
	calls := ic.calls.Load()
	route("5", map[string]string{conversation.MetaNoReply: "auto-replied"})
	if ic.calls.Load() != calls {
		t.Fatalf("automated mail was offered to the interceptor")
	}
}

// optOutInterceptor takes "baja", opts the sender out of the account's
// messages and confirms it as a keyword reply.
type optOutInterceptor struct {
	store conversation.Store
	meta  bool
}

func (o optOutInterceptor) Intercept(ctx context.Context, t conversation.Turn) (bool, [][]conversation.Part, error) {
	if t.Message.Text() != "baja" {
		return false, nil, nil
	}
	to, _ := t.Contact.IdentityOn(t.Message.Channel)
	_, err := o.store.RecordConsent(ctx, conversation.ConsentChange{TenantID: t.Tenant.ID, AccountID: t.Message.ChannelAccountID,
		ContactID: t.Contact.ID, Channel: t.Message.Channel, Address: to.Address, OptedOut: true, Source: "test", ProviderID: t.Message.ProviderID})
	return true, [][]conversation.Part{{conversation.TextPart("Listo, no más mensajes.")}}, err
}

func (o optOutInterceptor) ReplyMeta(conversation.Turn) map[string]string {
	if !o.meta {
		return nil
	}
	return map[string]string{conversation.MetaKeywordReply: "opt_out"}
}

// TestInterceptorReplyMeta: the replies of a ReplyMetaInterceptor carry
// its Meta, so that the confirmation of an opt-out marked as a keyword
// reply is delivered to the contact who just opted out, and one without
// it is not.
func TestInterceptorReplyMeta(t *testing.T) {
	for _, tc := range []struct {
		name   string
		meta   bool
		status conversation.Status
	}{
		{"keyword reply", true, conversation.StatusSent},
		{"plain reply", false, conversation.StatusFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			sent := senderFunc(func(context.Context, conversation.Delivery) (conversation.Receipt, error) {
				return conversation.Receipt{Status: conversation.StatusSent, ProviderID: "p1"}, nil
			})
			svc, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{
				Store: store, Bus: memory.New(), Sender: sent, Interceptors: []conversation.Interceptor{optOutInterceptor{store, tc.meta}}})
			if err != nil {
				t.Fatal(err)
			}
			tn, err := store.CreateTenant(ctx, conversation.Tenant{Slug: "acme", Name: "Acme"})
			if err != nil {
				t.Fatal(err)
			}
			acct, err := store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: "acme-web"})
			if err != nil {
				t.Fatal(err)
			}
			res, err := svc.Ingest(ctx, conversation.Inbound{Channel: conversation.ChannelWebchat, Account: acct.Key, From: "visitor-1",
				ProviderID: "m1", Parts: []conversation.Part{conversation.TextPart("baja")}})
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.RouteJob(ctx, conversation.Job{TenantID: tn.ID, Kind: conversation.JobRoute, Ref: res.Message.ID, Attempt: 1, MaxAttempts: 5}); err != nil {
				t.Fatal(err)
			}
			ms, err := store.ListMessages(ctx, tn.ID, conversation.MessageFilter{ConversationID: res.Message.ConversationID})
			if err != nil || len(ms) != 2 {
				t.Fatalf("messages %+v, %v", ms, err)
			}
			reply := ms[1]
			if got := reply.Meta[conversation.MetaKeywordReply]; (got != "") != tc.meta {
				t.Fatalf("the reply's meta %v", reply.Meta)
			}
			_ = svc.DeliverJob(ctx, conversation.Job{TenantID: tn.ID, Kind: conversation.JobDeliver, Ref: reply.ID, Attempt: 1, MaxAttempts: 1})
			if reply, err = store.Message(ctx, tn.ID, reply.ID); err != nil || reply.Status != tc.status {
				t.Fatalf("the reply is %s (%v), want %s", reply.Status, err, tc.status)
			}
		})
	}
}

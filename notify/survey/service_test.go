package survey_test

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/survey"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
	"conversa/templates"
)

// env is the survey service on the real SQLite store, notification,
// conversation and template services (the built-in templates), with a
// Spanish tenant that has an SMS account and no quiet hours, and one
// customer who wrote by SMS.
type env struct {
	store   *sqlite.Store
	conv    *conversation.Service
	notify  *notify.Service
	svc     *survey.Service
	tenant  conversation.Tenant
	account conversation.ChannelAccount
	contact conversation.Contact

	mu    sync.Mutex
	now   time.Time
	rival time.Time // when the contact's case survey was asked
	seq   int
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db")})
	must(t, err)
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, now: time.Now().UTC().Truncate(time.Second)}
	e.conv, err = conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: store, Bus: memory.New()})
	must(t, err)
	e.notify, err = notify.New(store, notify.Deps{Conversations: store, Sender: e.conv, Templates: templates.NewService(store).Defaults()},
		notify.Config{Now: e.clock})
	must(t, err)
	e.svc, err = survey.New(store, e.notify, store, survey.Config{Now: e.clock,
		Rival: func(ctx context.Context, tenantID, contactID int64) (time.Time, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.rival, nil
		}})
	must(t, err)
	e.tenant = e.newTenant(t, "acme")
	e.account, err = store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelSMS, Key: "+15550002222", Name: "sms"})
	must(t, err)
	e.contact = e.customer(t, e.write(t, "hola", ""))
	return e
}

func (e *env) newTenant(t *testing.T, slug string) conversation.Tenant {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: slug, Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	must(t, tn.Validate())
	tn, err := e.store.CreateTenant(t.Context(), tn)
	must(t, err)
	must(t, e.store.PutPolicy(t.Context(), tn.ID, notify.Policy{QuietHours: &notify.QuietHours{Start: "00:00", End: "00:00"}}))
	return tn
}

func (e *env) customer(t *testing.T, m conversation.Message) conversation.Contact {
	t.Helper()
	c, err := e.store.Contact(t.Context(), e.tenant.ID, m.ContactID)
	must(t, err)
	return c
}

// write stores the customer's SMS message, with a button's payload if
// any, and returns it.
func (e *env) write(t *testing.T, text, payload string) conversation.Message {
	t.Helper()
	e.seq++
	res, err := e.store.Ingest(t.Context(), []conversation.IngestRequest{{TenantID: e.tenant.ID, AccountID: e.account.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelSMS, Account: e.account.Key, From: "+573001234567", ProviderID: "SM" + strconv.Itoa(e.seq),
		Parts: []conversation.Part{{Type: conversation.PartText, Text: text, Payload: payload}}}}})
	must(t, err)
	must(t, res[0].Err)
	return res[0].Message
}

// turn is the customer's message m as the route job offers it.
func (e *env) turn(t *testing.T, m conversation.Message) conversation.Turn {
	t.Helper()
	c, err := e.store.Conversation(t.Context(), e.tenant.ID, m.ConversationID)
	must(t, err)
	return conversation.Turn{Tenant: e.tenant, Conversation: c, Contact: e.contact, Message: m}
}

// answer stores the customer's message and offers it to the service.
func (e *env) answer(t *testing.T, text string) (conversation.Message, bool) {
	t.Helper()
	m := e.write(t, text, "")
	handled, replies, err := e.svc.Intercept(t.Context(), e.turn(t, m))
	must(t, err)
	if handled != (len(replies) == 1) {
		t.Fatalf("handled %v with replies %v", handled, replies)
	}
	return m, handled
}

// sent sends a survey and runs its notification's job, as the worker
// does, and returns the survey.
func (e *env) sent(t *testing.T, r survey.Request) survey.Survey {
	t.Helper()
	r.TenantID, r.ContactID = e.tenant.ID, e.contact.ID
	sv, err := e.svc.Send(t.Context(), r)
	must(t, err)
	return e.run(t, sv.NotificationID)
}

// run runs a notification's job and tells the survey service, and
// returns the notification's survey.
func (e *env) run(t *testing.T, notification int64) survey.Survey {
	t.Helper()
	must(t, e.notify.NotifyJob(t.Context(), conversation.Job{TenantID: e.tenant.ID, Kind: notify.JobNotify, Ref: notification}))
	n, err := e.notify.Get(t.Context(), e.tenant.ID, notification)
	must(t, err)
	must(t, e.svc.NotificationDone(t.Context(), n))
	must(t, e.svc.NotificationDone(t.Context(), n)) // a job run twice
	list, err := e.svc.List(t.Context(), e.tenant.ID, survey.Filter{Limit: 1})
	must(t, err)
	if len(list) != 1 || list[0].NotificationID != notification {
		t.Fatalf("the survey of notification %d: %+v", notification, list)
	}
	return list[0]
}

func (e *env) get(t *testing.T, id int64) survey.Survey {
	t.Helper()
	sv, err := e.svc.Get(t.Context(), e.tenant.ID, id)
	must(t, err)
	return sv
}

func TestAnswers(t *testing.T) {
	t.Run("OnceAndExpired", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		sv := e.sent(t, survey.Request{Kind: survey.KindCSAT, Subject: "topic:entrega"})
		if sv.Status != survey.StatusSent || sv.Channel != conversation.ChannelSMS || sv.MessageID == 0 || !sv.ExpiresAt.Equal(sv.SentAt.Add(survey.DefaultTTL)) {
			t.Fatalf("sent %+v", sv)
		}
		m, handled := e.answer(t, "¡Excelente!")
		if !handled {
			t.Fatal("excelente was not taken")
		}
		// The route job runs again for the same message: answered the
		// same, recorded once.
		handled, replies, err := e.svc.Intercept(t.Context(), e.turn(t, m))
		if err != nil || !handled || len(replies) != 1 {
			t.Fatalf("the retried message: %v %v %v", handled, replies, err)
		}
		got := e.get(t, sv.ID)
		if got.Status != survey.StatusAnswered || got.Score != 5 || got.AnswerMessageID != m.ID || got.AnswerChannel != conversation.ChannelSMS || got.AnswerText != "¡Excelente!" {
			t.Fatalf("answered %+v", got)
		}
		if _, handled := e.answer(t, "malo"); handled {
			t.Fatal("a second answer to an answered survey was taken")
		}

		late := e.sent(t, survey.Request{Kind: survey.KindCSAT, TTL: 2 * time.Hour})
		e.advance(2 * time.Hour)
		if _, handled := e.answer(t, "4"); handled {
			t.Fatal("an answer to an expired survey was taken")
		}
		if got := e.get(t, late.ID); got.Status != survey.StatusExpired || got.Score != 0 {
			t.Fatalf("expired %+v", got)
		}
	})

	t.Run("NotAnswers", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		sv := e.sent(t, survey.Request{Kind: survey.KindNPS})
		for _, text := range []string{"11", "excelente", "csat:4", "quiero hablar con alguien"} {
			if _, handled := e.answer(t, text); handled {
				t.Fatalf("%q was taken as an answer to an NPS survey", text)
			}
		}
		// The other kind's button is not an answer either.
		m := e.write(t, "", "csat:4")
		if handled, _, _ := e.svc.Intercept(t.Context(), e.turn(t, m)); handled {
			t.Fatal("a CSAT button answered an NPS survey")
		}
		// A case's survey asked since wins.
		e.mu.Lock()
		e.rival = sv.SentAt.Add(time.Minute)
		e.mu.Unlock()
		if _, handled := e.answer(t, "9"); handled {
			t.Fatal("9 went to the older survey, not the case's asked since")
		}
		e.mu.Lock()
		e.rival = sv.SentAt.Add(-time.Minute)
		e.mu.Unlock()
		// The bot asks something since: a number answers the bot.
		_, err := e.conv.Send(t.Context(), conversation.Outbound{TenantID: e.tenant.ID, ConversationID: m.ConversationID,
			Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("Elige: 1. Saldo 2. Pagos")}})
		must(t, err)
		if _, handled := e.answer(t, "nueve"); handled {
			t.Fatal("nueve answered though the survey was not the last thing asked")
		}
		// Asked again (the notification's message is the last one
		// out), "diez" answers.
		e2 := e.sent(t, survey.Request{Kind: survey.KindNPS, IdempotencyKey: "again"})
		if _, handled := e.answer(t, "diez"); !handled {
			t.Fatal("diez was not taken")
		}
		if got := e.get(t, e2.ID); got.Score != 10 {
			t.Fatalf("answered %+v", got)
		}
		if got := e.get(t, sv.ID); got.Status != survey.StatusSent {
			t.Fatalf("the older survey %+v: the most recent one takes the answer", got)
		}

		// Another tenant's turn for the same contact id finds nothing.
		other := e.newTenant(t, "other")
		m = e.write(t, "8", "")
		turn := e.turn(t, m)
		turn.Tenant = other
		if handled, _, err := e.svc.Intercept(t.Context(), turn); handled || err != nil {
			t.Fatalf("another tenant's turn: %v %v", handled, err)
		}
	})

	t.Run("CampaignAndFailed", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		// A campaign's notification of a survey purpose registers its
		// survey, the campaign its subject.
		n, err := e.notify.Notify(t.Context(), notify.Request{TenantID: e.tenant.ID, ContactID: e.contact.ID, Purpose: survey.PurposeNPS,
			IdempotencyKey: "campaign:5:9"})
		must(t, err)
		sv := e.run(t, n.ID)
		if sv.Kind != survey.KindNPS || sv.Subject != "campaign:5" || sv.Status != survey.StatusSent || sv.TTL != survey.DefaultTTL {
			t.Fatalf("the campaign's survey %+v", sv)
		}
		m := e.write(t, "", "nps:10")
		if handled, _, err := e.svc.Intercept(t.Context(), e.turn(t, m)); !handled || err != nil {
			t.Fatalf("the button nps:10: %v %v", handled, err)
		}
		rep, err := e.svc.Report(t.Context(), e.tenant.ID, survey.KindNPS, e.clock().Add(-time.Hour), e.clock().Add(time.Hour), nil)
		must(t, err)
		if rep.Total.Sent != 1 || rep.Total.Promoters != 1 || rep.Total.NPS == nil || *rep.Total.NPS != 100 {
			t.Fatalf("report %+v", rep.Total)
		}
		// No channel can take it: the survey failed, and takes no answer.
		failed := e.sent(t, survey.Request{Kind: survey.KindCSAT, Channels: []conversation.ChannelKind{conversation.ChannelTelegram}})
		if failed.Status != survey.StatusFailed || !failed.SentAt.IsZero() {
			t.Fatalf("undeliverable %+v", failed)
		}
		if _, handled := e.answer(t, "5"); handled {
			t.Fatal("an answer to a failed survey was taken")
		}
		// A purpose that is not a survey's is refused.
		if _, err := e.svc.Send(t.Context(), survey.Request{TenantID: e.tenant.ID, ContactID: e.contact.ID, Kind: survey.KindCSAT, Purpose: "case_survey"}); conversation.ErrorField(err) != "purpose" {
			t.Fatalf("case_survey as a CSAT survey's purpose: %v", err)
		}
	})
}

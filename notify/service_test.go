package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/channels"
	"conversa/channels/apichannel"
	"conversa/conversation"
	"conversa/notify"
)

// TestFrequencyCap: surveys go at most once in 7 days by default; a capped
// one is suppressed for good, with the reason; after the period the next
// goes.
func TestFrequencyCap(t *testing.T) {
	e := newEnv(t)
	c := e.write(t, conversation.ChannelSMS, ana, afternoon.Add(-time.Hour))
	survey := notify.Request{ContactID: c.ID, Purpose: "survey", Data: map[string]string{"name": "Ana"}}

	if n := e.run(t, e.notify(t, survey)); n.Status != notify.StatusSent {
		t.Fatalf("first survey: %+v", n)
	}
	e.clock.set(afternoon.Add(6 * 24 * time.Hour))
	n := e.run(t, e.notify(t, survey))
	if n.Status != notify.StatusSuppressed || n.MessageID != 0 || !strings.Contains(n.Note, "frequency cap") {
		t.Fatalf("second survey within 7 days: %+v", n)
	}
	if again := e.run(t, n); again.Status != notify.StatusSuppressed || again.MessageID != 0 {
		t.Fatalf("a suppressed notification's job ran again: %+v", again)
	}
	// Other purposes are not capped.
	if n := e.run(t, e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved})); n.Status != notify.StatusSent {
		t.Fatalf("case_resolved: %+v", n)
	}
	e.clock.set(afternoon.Add(7 * 24 * time.Hour))
	if n := e.run(t, e.notify(t, survey)); n.Status != notify.StatusSent {
		t.Fatalf("survey after 7 days: %+v", n)
	}

	// A tenant's cap: two reminders a day.
	must(t, e.svc.PutPolicy(t.Context(), e.tenant.ID, notify.Policy{Purposes: map[string]notify.PurposePolicy{
		"reminder": {Cap: &notify.Cap{Count: 2, Period: "24h"}}}}))
	reminder := notify.Request{ContactID: c.ID, Purpose: "reminder", Data: map[string]string{"when": "hoy"}}
	for i, want := range []notify.Status{notify.StatusSent, notify.StatusSent, notify.StatusSuppressed} {
		if n := e.run(t, e.notify(t, reminder)); n.Status != want {
			t.Fatalf("reminder %d: %+v, want %s", i+1, n, want)
		}
	}
	// The stored policy is whole: surveys are no longer capped.
	if n := e.run(t, e.notify(t, survey)); n.Status != notify.StatusSent {
		t.Fatalf("survey under a policy without its cap: %+v", n)
	}
}

// TestIdempotency: the caller's key returns the first notification for the
// same request and is a conflict for another; the job sends once however
// often it runs, also at the same time.
func TestIdempotency(t *testing.T) {
	e := newEnv(t)
	c := e.write(t, conversation.ChannelSMS, ana, afternoon.Add(-time.Hour))
	req := notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: map[string]string{"name": "Ana", "radicado": "PQR-2026-000001"}, IdempotencyKey: "case:1:resolved"}
	first := e.notify(t, req)
	same := req
	same.Data = map[string]string{"radicado": "PQR-2026-000001", "name": "Ana"}
	if again := e.notify(t, same); again.ID != first.ID {
		t.Fatalf("same key and request: %d, want %d", again.ID, first.ID)
	}
	for name, mutate := range map[string]func(*notify.Request){
		"other data":     func(r *notify.Request) { r.Data = map[string]string{"name": "Ana", "radicado": "PQR-2026-000002"} },
		"other purpose":  func(r *notify.Request) { r.Purpose = "survey" },
		"other channels": func(r *notify.Request) { r.Channels = []conversation.ChannelKind{conversation.ChannelSMS} },
	} {
		r := req
		r.TenantID = e.tenant.ID
		mutate(&r)
		_, err := e.svc.Notify(t.Context(), r)
		if !conversation.IsConflict(err) || conversation.ErrorField(err) != "idempotency_key" {
			t.Errorf("%s under the same key: %v, want a conflict on idempotency_key", name, err)
		}
	}

	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := e.svc.NotifyJob(context.Background(), conversation.Job{TenantID: e.tenant.ID, Kind: notify.JobNotify, Ref: first.ID}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	n := e.run(t, first)
	msgs, err := e.store.ListMessages(t.Context(), e.tenant.ID, conversation.MessageFilter{ContactID: c.ID})
	must(t, err)
	out := 0
	for _, m := range msgs {
		if m.Direction == conversation.DirectionOut {
			out++
			if m.ID != n.MessageID {
				t.Errorf("message %d is not the notification's %d", m.ID, n.MessageID)
			}
		}
	}
	if n.Status != notify.StatusSent || out != 1 {
		t.Fatalf("after five runs: %+v and %d messages, want sent once", n, out)
	}
}

// TestBadInput: every bad request names its field; a contact of another
// tenant is not found; bad policies name theirs.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	c := e.write(t, conversation.ChannelSMS, ana, afternoon)
	ok := notify.Request{TenantID: e.tenant.ID, ContactID: c.ID, Purpose: "case_resolved", Data: resolved}
	for name, tt := range map[string]struct {
		mutate      func(*notify.Request)
		code, field string
	}{
		"no contact":           {func(r *notify.Request) { r.ContactID = 0 }, conversation.EINVALID, "contact_id"},
		"a bad purpose":        {func(r *notify.Request) { r.Purpose = "Case Resolved" }, conversation.EINVALID, "purpose"},
		"no template":          {func(r *notify.Request) { r.Purpose = "welcome" }, conversation.EINVALID, "purpose"},
		"a required variable":  {func(r *notify.Request) { r.Data = map[string]string{"name": "Ana"} }, conversation.EINVALID, "data.radicado"},
		"an unknown channel":   {func(r *notify.Request) { r.Channels = []conversation.ChannelKind{"fax"} }, conversation.EINVALID, "channels[0]"},
		"a channel twice":      {func(r *notify.Request) { r.Channels = []conversation.ChannelKind{"sms", "sms"} }, conversation.EINVALID, "channels[1]"},
		"a huge value":         {func(r *notify.Request) { r.Data = map[string]string{"name": strings.Repeat("a", 5000)} }, conversation.EINVALID, "data.name"},
		"a control in the key": {func(r *notify.Request) { r.IdempotencyKey = "a\nb" }, conversation.EINVALID, "idempotency_key"},
		"another's contact":    {func(r *notify.Request) { r.ContactID = c.ID + 1000 }, conversation.ENOTFOUND, "contact_id"},
	} {
		r := ok
		tt.mutate(&r)
		_, err := e.svc.Notify(t.Context(), r)
		if conversation.ErrorCode(err) != tt.code || conversation.ErrorField(err) != tt.field {
			t.Errorf("%s: %v (%s, %q), want %s on %s", name, err, conversation.ErrorCode(err), conversation.ErrorField(err), tt.code, tt.field)
		}
	}
	list, err := e.svc.List(t.Context(), e.tenant.ID, notify.Filter{})
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("bad requests stored %d notifications", len(list))
	}

	for field, p := range map[string]notify.Policy{
		"fallback[0]":                     {Fallback: []conversation.ChannelKind{"fax"}},
		"quiet_hours.start":               {QuietHours: &notify.QuietHours{Start: "9pm", End: "08:00"}},
		"quiet_hours.end":                 {QuietHours: &notify.QuietHours{Start: "21:00", End: "24:00"}},
		"purposes.Survey":                 {Purposes: map[string]notify.PurposePolicy{"Survey": {}}},
		"purposes.survey.cap.count":       {Purposes: map[string]notify.PurposePolicy{"survey": {Cap: &notify.Cap{Count: 0, Period: "7d"}}}},
		"purposes.survey.cap.period":      {Purposes: map[string]notify.PurposePolicy{"survey": {Cap: &notify.Cap{Count: 1, Period: "a week"}}}},
		"purposes.survey.fallback[1]":     {Purposes: map[string]notify.PurposePolicy{"survey": {Fallback: []conversation.ChannelKind{"sms", "sms"}}}},
		"purposes.survey.quiet_hours.end": {Purposes: map[string]notify.PurposePolicy{"survey": {QuietHours: &notify.QuietHours{Start: "21:00"}}}},
	} {
		err := e.svc.PutPolicy(t.Context(), e.tenant.ID, p)
		if conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != field {
			t.Errorf("policy %+v: %v (field %q), want invalid %s", p, err, conversation.ErrorField(err), field)
		}
	}
	if p, err := e.svc.Policy(t.Context(), e.tenant.ID); err != nil || p.Purposes["survey"].Cap == nil {
		t.Fatalf("after bad policies the default remains: %+v, %v", p, err)
	}
}

// TestEndToEnd runs the real Worker: the notification's job picks the
// tenant's api channel, the delivery job posts the message to the tenant's
// webhook, and the message is delivered.
func TestEndToEnd(t *testing.T) {
	var mu sync.Mutex
	var got []apichannel.Webhook
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var wh apichannel.Webhook
		if err := json.Unmarshal(body, &wh); err != nil {
			t.Errorf("webhook: %v", err)
		}
		mu.Lock()
		got = append(got, wh)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	var worker *conversation.Worker
	reg, err := channels.NewRegistry(apichannel.New(apichannel.Config{AllowPrivate: true}))
	must(t, err)
	e := newEnvWith(t, reg, func() { worker.Wake() })
	worker, err = conversation.NewWorker(e.store, conversation.WorkerConfig{Concurrency: 4, PollInterval: 20 * time.Millisecond,
		RetryBase: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond}, nil)
	must(t, err)
	worker.Handle(conversation.JobDeliver, e.conv.DeliverJob)
	worker.Handle(notify.JobNotify, e.svc.NotifyJob)

	ctx := t.Context()
	api, err := e.store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelAPI, Key: "crm",
		Settings: map[string]string{apichannel.SettingWebhookURL: hook.URL, apichannel.SettingWebhookSecret: "0123456789abcdef"}})
	must(t, err)
	e.accounts[conversation.ChannelAPI] = api
	must(t, e.svc.PutPolicy(ctx, e.tenant.ID, notify.Policy{Fallback: []conversation.ChannelKind{conversation.ChannelWhatsApp, conversation.ChannelAPI}}))
	c := e.write(t, conversation.ChannelAPI, "user-1", afternoon)

	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})

	n := e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved, IdempotencyKey: "case:1:resolved"})
	deadline := time.Now().Add(10 * time.Second)
	var m conversation.Message
	for {
		n, err = e.svc.Get(ctx, e.tenant.ID, n.ID)
		must(t, err)
		if n.MessageID != 0 {
			m, err = e.store.Message(ctx, e.tenant.ID, n.MessageID)
			must(t, err)
			if m.Status == conversation.StatusDelivered {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered in time: %+v, message %+v", n, m)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n.Status != notify.StatusSent || n.Channel != conversation.ChannelAPI || len(n.Skipped) != 1 || n.Skipped[0].Code != notify.SkipNoIdentity {
		t.Fatalf("notification %+v", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.Contains(got[0].Message.Text(), "Ana, su caso PQR-2026-000001 fue resuelto.") {
		t.Fatalf("webhooks %+v", got)
	}
}

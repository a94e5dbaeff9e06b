package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify/webhook"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// receiver is a tenant's system: it records the requests it gets and
// answers them with the statuses given, then 200.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      []*http.Request
	bodies   [][]byte
	statuses []int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got, r.bodies = append(r.got, req), append(r.bodies, b)
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		r.mu.Unlock()
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

type env struct {
	store  *sqlite.Store
	svc    *webhook.Service
	tenant int64
}

func newEnv(t *testing.T, allowPrivate, worker bool) *env {
	t.Helper()
	sealer, err := conversation.NewSealer(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db"), Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tn, err := store.CreateTenant(t.Context(), conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: store, tenant: tn.ID}
	var w *conversation.Worker
	wake := func() {}
	if worker {
		if w, err = conversation.NewWorker(store, conversation.WorkerConfig{Concurrency: 2, PollInterval: 20 * time.Millisecond,
			RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, DrainTimeout: time.Second}, nil); err != nil {
			t.Fatal(err)
		}
		wake = w.Wake
	}
	if e.svc, err = webhook.New(store, webhook.Config{AllowPrivate: allowPrivate, JobsAdded: wake}); err != nil {
		t.Fatal(err)
	}
	if w != nil {
		w.Handle(webhook.JobDeliver, e.svc.DeliverJob)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		})
	}
	return e
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDeliver: an endpoint gets the events it subscribed to, once each,
// signed; a 503 is retried after its Retry-After.
func TestDeliver(t *testing.T) {
	e := newEnv(t, true, true)
	rc := newReceiver(t, http.StatusServiceUnavailable)
	ep, err := e.svc.Create(t.Context(), webhook.Endpoint{TenantID: e.tenant, URL: rc.srv.URL + "/hooks",
		Events: []string{webhook.EventMessageFailed, webhook.EventCampaignProgress}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Fatalf("created %+v: a secret is made", ep)
	}
	m := conversation.Message{ID: 7, TenantID: e.tenant, Direction: conversation.DirectionOut, Status: conversation.StatusDelivered}
	if err := e.svc.MessageStatus(t.Context(), m); err != nil { // not subscribed
		t.Fatal(err)
	}
	m.Status, m.Failure = conversation.StatusFailed, &conversation.Failure{Code: "30003", Message: "unreachable"}
	for range 2 { // the same event again
		if err := e.svc.MessageStatus(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the retried delivery", func() bool { return rc.count() == 2 })

	rc.mu.Lock()
	req, body := rc.got[1], rc.bodies[1]
	rc.mu.Unlock()
	if req.URL.Path != "/hooks" || req.Header.Get(webhook.EventHeader) != webhook.EventMessageFailed ||
		req.Header.Get(webhook.DeliveryHeader) != "message:7:failed" || req.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request %s %v", req.URL, req.Header)
	}
	if !webhook.Verify([]byte(ep.Secret), req.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute) {
		t.Fatalf("the signature %q does not verify", req.Header.Get(webhook.SignatureHeader))
	}
	if webhook.Verify([]byte("another-secret-0123456789"), req.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute) ||
		webhook.Verify([]byte(ep.Secret), req.Header.Get(webhook.SignatureHeader), append(body, ' '), time.Now(), 5*time.Minute) ||
		webhook.Verify([]byte(ep.Secret), req.Header.Get(webhook.SignatureHeader), body, time.Now().Add(time.Hour), 5*time.Minute) {
		t.Fatal("a wrong secret, body or time verifies")
	}
	if !strings.Contains(string(body), `"code":"30003"`) || !strings.Contains(string(body), `"type":"message.failed"`) {
		t.Fatalf("body %s", body)
	}
	// The delivered and repeated events never went.
	time.Sleep(100 * time.Millisecond)
	if n := rc.count(); n != 2 {
		t.Fatalf("%d requests, want the failed event and its retry", n)
	}
}

// TestDeliverEnds: a 4xx answer ends the delivery at once (the job
// fails); a disabled or deleted endpoint gets nothing.
func TestDeliverEnds(t *testing.T) {
	e := newEnv(t, true, false)
	ctx := t.Context()
	rc := newReceiver(t, http.StatusBadRequest)
	ep, err := e.svc.Create(ctx, webhook.Endpoint{TenantID: e.tenant, URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Emit(ctx, e.tenant, webhook.EventNotificationUndeliverable, "notification:1", map[string]int{"id": 1})
	run := func() error {
		t.Helper()
		js, err := e.store.ClaimJobs(ctx, []string{webhook.JobDeliver}, 10, time.Minute)
		if err != nil || len(js) != 1 {
			t.Fatalf("claimed %v, %v", js, err)
		}
		return e.svc.DeliverJob(ctx, js[0])
	}
	err = run()
	if je, ok := errors.AsType[*conversation.JobError](err); !ok || !je.Permanent {
		t.Fatalf("a 400 answer: %v, want a permanent job error", err)
	}
	ep.Disabled = true
	if _, err := e.svc.Update(ctx, ep); err != nil {
		t.Fatal(err)
	}
	e.svc.Emit(ctx, e.tenant, webhook.EventNotificationUndeliverable, "notification:2", map[string]int{"id": 2})
	if js, _ := e.store.ClaimJobs(ctx, []string{webhook.JobDeliver}, 10, time.Minute); len(js) != 0 {
		t.Fatalf("a disabled endpoint got jobs %+v", js)
	}
	if rc.count() != 1 {
		t.Fatalf("%d requests", rc.count())
	}
}

// TestPrivateAddresses: without AllowPrivate, an endpoint on a private,
// loopback or link-local address is refused when saved, and a request
// that would connect to one is refused for good.
func TestPrivateAddresses(t *testing.T) {
	e := newEnv(t, false, false)
	ctx := t.Context()
	for _, u := range []string{"http://127.0.0.1:8080/x", "https://localhost/x", "https://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/latest",
		"http://192.168.0.10/", "ftp://example.com/", "https://user:pw@example.com/", "not a url", "https:///nohost"} {
		if _, err := e.svc.Create(ctx, webhook.Endpoint{TenantID: e.tenant, URL: u}); conversation.ErrorCode(err) != conversation.EINVALID || conversation.ErrorField(err) != "url" {
			t.Errorf("%s: %v, want EINVALID url", u, err)
		}
	}
	if _, err := e.svc.Create(ctx, webhook.Endpoint{TenantID: e.tenant, URL: "https://93.184.215.14/hooks", Events: []string{"message.sent"}}); conversation.ErrorField(err) != "events[0]" {
		t.Errorf("an unknown event: %v", err)
	}
	if _, err := e.svc.Create(ctx, webhook.Endpoint{TenantID: e.tenant, URL: "https://93.184.215.14/hooks", Secret: "short"}); conversation.ErrorField(err) != "secret" {
		t.Errorf("a short secret: %v", err)
	}
	// An endpoint stored when its host was public, now on loopback.
	rc := newReceiver(t)
	if _, err := e.store.CreateEndpoint(ctx, webhook.Endpoint{TenantID: e.tenant, URL: rc.srv.URL, Secret: "whsec_0123456789abcdef"}); err != nil {
		t.Fatal(err)
	}
	e.svc.Emit(ctx, e.tenant, webhook.EventCampaignProgress, "campaign:1:running:10", map[string]int{"queued": 10})
	js, err := e.store.ClaimJobs(ctx, []string{webhook.JobDeliver}, 10, time.Minute)
	if err != nil || len(js) != 1 {
		t.Fatalf("claimed %v, %v", js, err)
	}
	err = e.svc.DeliverJob(ctx, js[0])
	if je, ok := errors.AsType[*conversation.JobError](err); !ok || !je.Permanent || !strings.Contains(err.Error(), "not a public address") {
		t.Fatalf("delivery to loopback: %v", err)
	}
	if rc.count() != 0 {
		t.Fatal("the loopback endpoint was reached")
	}
}

// TestStatusChangeOutbox: the status change of an outbound message and the
// job that reports it are written together; the job, run even after a
// crash that skipped everything in process and retried after its
// deliveries finished, gives each endpoint the event once, signed with the
// secret the store keeps encrypted.
func TestStatusChangeOutbox(t *testing.T) {
	e := newEnv(t, true, false)
	ctx := t.Context()
	conv, err := conversation.NewService(conversation.ServiceConfig{}, conversation.Deps{Store: e.store, Bus: memory.New(),
		StatusChanged: e.svc.MessageStatus})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := e.store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: e.tenant, Kind: conversation.ChannelSMS, Key: "+15550002222", Name: "SMS"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := e.store.Ingest(ctx, []conversation.IngestRequest{{TenantID: e.tenant, AccountID: acct.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelSMS, Account: acct.Key, From: "+573001234567", ProviderID: "SM1", ReceivedAt: time.Now(),
		Parts: []conversation.Part{conversation.TextPart("hola")}}}})
	if err != nil || in[0].Err != nil {
		t.Fatal(err, in[0].Err)
	}
	send := func(key string) conversation.Message {
		t.Helper()
		res, err := conv.Send(ctx, conversation.Outbound{TenantID: e.tenant, ConversationID: in[0].Message.ConversationID,
			Author: conversation.Author{Kind: conversation.AuthorAgent}, Parts: []conversation.Part{conversation.TextPart("listo")}, IdempotencyKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Message
	}
	claim := func(kind string) []conversation.Job {
		t.Helper()
		js, err := e.store.ClaimJobs(ctx, []string{kind}, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	update := func(m conversation.Message, st conversation.Status) {
		t.Helper()
		if _, changed, err := e.store.UpdateMessageStatus(ctx, conversation.StatusUpdate{TenantID: e.tenant, MessageID: m.ID, Status: st}); err != nil || !changed {
			t.Fatalf("update to %s: %v %v", st, changed, err)
		}
	}

	// Without an endpoint, a status change enqueues nothing.
	update(send("before"), conversation.StatusDelivered)
	if js := claim(conversation.JobStatusChanged); len(js) != 0 {
		t.Fatalf("jobs without an endpoint: %+v", js)
	}

	rc := newReceiver(t)
	ep, err := e.svc.Create(ctx, webhook.Endpoint{TenantID: e.tenant, URL: rc.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	m := send("after")
	update(m, conversation.StatusSent) // not reported
	if js := claim(conversation.JobStatusChanged); len(js) != 0 {
		t.Fatalf("a sent message reported: %+v", js)
	}
	// The store commits the change and its job; nothing runs in process
	// (as if the node stopped right after the commit).
	update(m, conversation.StatusDelivered)
	js := claim(conversation.JobStatusChanged)
	if len(js) != 1 || js[0].Ref != m.ID {
		t.Fatalf("status jobs %+v; want one for message %d", js, m.ID)
	}
	// A worker runs it, twice (its completion was lost), the endpoint's
	// delivery in between, and once more afterwards.
	if err := conv.StatusChangedJob(ctx, js[0]); err != nil {
		t.Fatal(err)
	}
	if err := conv.StatusChangedJob(ctx, js[0]); err != nil {
		t.Fatal(err)
	}
	deliveries := claim(webhook.JobDeliver)
	if len(deliveries) != 1 {
		t.Fatalf("deliveries %+v; want one", deliveries)
	}
	if err := e.svc.DeliverJob(ctx, deliveries[0]); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CompleteJob(ctx, deliveries[0]); err != nil {
		t.Fatal(err)
	}
	if err := conv.StatusChangedJob(ctx, js[0]); err != nil {
		t.Fatal(err)
	}
	if again := claim(webhook.JobDeliver); len(again) != 0 {
		t.Fatalf("the retried status job enqueued %+v again", again)
	}
	if rc.count() != 1 {
		t.Fatalf("the endpoint got %d requests; want 1", rc.count())
	}
	rc.mu.Lock()
	req, body := rc.got[0], rc.bodies[0]
	rc.mu.Unlock()
	if req.Header.Get(webhook.DeliveryHeader) != fmt.Sprintf("message:%d:delivered", m.ID) ||
		!webhook.Verify([]byte(ep.Secret), req.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute) {
		t.Fatalf("delivery %v %s does not verify with the endpoint's secret", req.Header, body)
	}
	var ev webhook.Event
	var got conversation.Message
	if err := json.Unmarshal(body, &ev); err != nil || json.Unmarshal(ev.Data, &got) != nil || got.ID != m.ID || got.Status != conversation.StatusDelivered {
		t.Fatalf("event %s: %v", body, err)
	}
}

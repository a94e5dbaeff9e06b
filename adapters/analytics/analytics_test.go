package analytics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/adapters/analytics"
	"conversa/conversation"
	"conversa/notify/webhook"
	"conversa/reports"
	"conversa/storage/sqlite"
)

// segmentServer is a fake of Segment's HTTP Tracking API: POST /v1/batch
// with the write key as the basic auth user, checked against the
// documented JSON shape. It answers with the statuses given, then 200.
type segmentServer struct {
	t        *testing.T
	writeKey string
	srv      *httptest.Server
	mu       sync.Mutex
	requests int
	tracks   []segmentTrack
	statuses []int
	// delay, when set, holds the first request that long.
	delay time.Duration
}

// segmentTrack is a track call as Segment documents it.
type segmentTrack struct {
	Type        string         `json:"type"`
	UserID      string         `json:"userId"`
	AnonymousID string         `json:"anonymousId"`
	Event       string         `json:"event"`
	Properties  map[string]any `json:"properties"`
	Timestamp   time.Time      `json:"timestamp"`
	MessageID   string         `json:"messageId"`
	Context     struct {
		Library struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"library"`
	} `json:"context"`
}

func newSegment(t *testing.T, writeKey string, statuses ...int) *segmentServer {
	s := &segmentServer{t: t, writeKey: writeKey, statuses: statuses}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *segmentServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	first := s.requests == 1
	status := http.StatusOK
	if len(s.statuses) > 0 {
		status, s.statuses = s.statuses[0], s.statuses[1:]
	}
	s.mu.Unlock()
	if first && s.delay > 0 {
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
		}
		return
	}
	user, pass, ok := r.BasicAuth()
	if r.Method != http.MethodPost || r.URL.Path != "/v1/batch" || !ok || user != s.writeKey || pass != "" ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		s.t.Errorf("segment got %s %s (auth %q %q %v), %v", r.Method, r.URL, user, pass, ok, r.Header)
		http.Error(w, `{"code":"invalid_request"}`, http.StatusUnauthorized)
		return
	}
	var body struct {
		Batch   []segmentTrack `json:"batch"`
		SentAt  time.Time      `json:"sentAt"`
		Context map[string]any `json:"context"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || len(body.Batch) == 0 || body.SentAt.IsZero() {
		s.t.Errorf("segment got a batch it cannot read: %v %+v", err, body)
		http.Error(w, `{"code":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	for _, tr := range body.Batch {
		if tr.Type != "track" || tr.Event == "" || tr.MessageID == "" || tr.Timestamp.IsZero() || (tr.UserID == "") == (tr.AnonymousID == "") ||
			tr.Context.Library.Name != "conversa" || tr.Properties == nil {
			s.t.Errorf("segment got a track call %+v", tr)
		}
	}
	if status != http.StatusOK {
		if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		http.Error(w, `{"code":"invalid_write_key","message":"the write key is wrong"}`, status)
		return
	}
	s.mu.Lock()
	s.tracks = append(s.tracks, body.Batch...)
	s.mu.Unlock()
	w.Write([]byte(`{"success":true}`))
}

// calls returns the requests made and the track calls accepted.
func (s *segmentServer) calls() (int, []segmentTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, slices.Clone(s.tracks)
}

// hookReceiver is a tenant's webhook: it verifies each request's
// signature with the secret and records the events of the batches.
type hookReceiver struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	secret   string
	requests int
	batches  []webhook.Event
	events   []reports.Event
	statuses []int
}

func newHook(t *testing.T, statuses ...int) *hookReceiver {
	h := &hookReceiver{t: t, statuses: statuses}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests++
		if !webhook.Verify([]byte(h.secret), r.Header.Get(webhook.SignatureHeader), b, time.Now(), 5*time.Minute) {
			h.t.Errorf("webhook: the signature %q does not verify", r.Header.Get(webhook.SignatureHeader))
			w.WriteHeader(http.StatusForbidden)
			return
		}
		var ev webhook.Event
		var events []reports.Event
		if err := json.Unmarshal(b, &ev); err != nil || json.Unmarshal(ev.Data, &events) != nil ||
			ev.Type != analytics.WebhookEventType || r.Header.Get(webhook.EventHeader) != ev.Type || r.Header.Get(webhook.DeliveryHeader) != ev.ID {
			h.t.Errorf("webhook: a body %s (%v), headers %v", b, err, r.Header)
		}
		if len(h.statuses) > 0 {
			status := h.statuses[0]
			h.statuses = h.statuses[1:]
			w.WriteHeader(status)
			return
		}
		h.batches, h.events = append(h.batches, ev), append(h.events, events...)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) setSecret(secret string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secret = secret
}

func (h *hookReceiver) got() (int, []reports.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests, slices.Clone(h.events)
}

// logBuffer collects log lines for a test to read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	store       *sqlite.Store
	svc         *analytics.Service
	acme, other int64
	logs        *logBuffer
}

// newEnv runs the service on a fresh store with its jobs on a real
// Worker (unless noWorker), private addresses allowed unless strict.
func newEnv(t *testing.T, cfg analytics.Config, noWorker bool) *env {
	t.Helper()
	sealer, err := conversation.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db"), Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{store: store, logs: &logBuffer{}}
	for _, slug := range []string{"acme", "other"} {
		tn, err := store.CreateTenant(t.Context(), conversation.Tenant{Slug: slug, Name: slug, Language: "es", Region: "CO", TimeZone: "America/Bogota"})
		if err != nil {
			t.Fatal(err)
		}
		if slug == "acme" {
			e.acme = tn.ID
		} else {
			e.other = tn.ID
		}
	}
	logger := slog.New(slog.NewTextHandler(e.logs, nil))
	cfg.Logger = logger
	var w *conversation.Worker
	if !noWorker {
		if w, err = conversation.NewWorker(store, conversation.WorkerConfig{Concurrency: 2, PollInterval: 20 * time.Millisecond,
			RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, DrainTimeout: time.Second}, logger); err != nil {
			t.Fatal(err)
		}
		cfg.JobsAdded = w.Wake
	}
	if e.svc, err = analytics.New(store, cfg); err != nil {
		t.Fatal(err)
	}
	if w != nil {
		w.Handle(reports.JobExport, e.svc.ExportJob)
		w.Handle(analytics.JobSend, e.svc.SendJob)
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

// create makes a destination through the service.
func (e *env) create(t *testing.T, d reports.Destination) reports.Destination {
	t.Helper()
	d, err := e.svc.Create(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// export enqueues the pipeline's job of a tenant's events, as the report
// pipeline does.
func (e *env) export(t *testing.T, tenantID int64, events []reports.Event) conversation.Job {
	t.Helper()
	payload, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	j, err := e.store.EnqueueJob(t.Context(), conversation.Job{TenantID: tenantID, Kind: reports.JobExport, Payload: payload, MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// jobs returns the unfinished jobs by "kind/state".
func (e *env) jobs(t *testing.T) map[string]int {
	t.Helper()
	counts, err := e.store.JobCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, c := range counts {
		m[c.Kind+"/"+string(c.State)] = c.Count
	}
	return m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var at = time.Date(2026, 11, 21, 14, 30, 0, 0, time.UTC)

// events are a conversation's events: two messages in, a case filed, and
// one without a contact.
func events(tenantID int64) []reports.Event {
	return []reports.Event{
		{ID: "opened:41", TenantID: tenantID, Name: reports.EventConversationOpened, At: at, ConversationID: 41, Channel: "whatsapp"},
		{ID: "message:101", TenantID: tenantID, Name: reports.EventMessageReceived, At: at, ConversationID: 41, ContactID: 7, Channel: "whatsapp"},
		{ID: "message:102", TenantID: tenantID, Name: reports.EventMessageReceived, At: at.Add(time.Second), ConversationID: 41, ContactID: 7, Channel: "whatsapp"},
		{ID: "case:9", TenantID: tenantID, Name: reports.EventCaseFiled, At: at.Add(2 * time.Second), ConversationID: 41, ContactID: 7, Channel: "whatsapp",
			Properties: map[string]any{"type": "queja"}},
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, id(x))
	}
	slices.Sort(out)
	return out
}

// TestExport: each enabled destination of the tenant gets the events it
// wants, once; a disabled destination and another tenant's get nothing.
func TestExport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, analytics.Config{AllowPrivate: true}, false)
	seg := newSegment(t, "wk_acme_0123456789")
	hook := newHook(t)
	off := newHook(t)
	theirs := newSegment(t, "wk_other_0123456789")

	e.create(t, reports.Destination{TenantID: e.acme, Kind: reports.DestinationSegment, URL: seg.srv.URL, Secret: seg.writeKey})
	hd := e.create(t, reports.Destination{TenantID: e.acme, Kind: reports.DestinationWebhook, URL: hook.srv.URL + "/in",
		Events: []string{reports.EventMessageReceived}})
	hook.setSecret(hd.Secret)
	od := e.create(t, reports.Destination{TenantID: e.acme, Kind: reports.DestinationWebhook, URL: off.srv.URL, Disabled: true})
	off.setSecret(od.Secret)
	e.create(t, reports.Destination{TenantID: e.other, Kind: reports.DestinationSegment, URL: theirs.srv.URL, Secret: theirs.writeKey})

	e.export(t, e.acme, events(e.acme))
	waitFor(t, "the batches sent", func() bool {
		_, tracks := seg.calls()
		_, got := hook.got()
		return len(tracks) == 4 && len(got) == 2 && len(e.jobs(t)) == 0
	})
	n, tracks := seg.calls()
	if n != 1 {
		t.Errorf("segment got %d requests; want one batch", n)
	}
	if got, want := ids(tracks, func(tr segmentTrack) string { return tr.MessageID }), []string{"case:9", "message:101", "message:102", "opened:41"}; !slices.Equal(got, want) {
		t.Errorf("segment got messageIds %v; want %v", got, want)
	}
	for _, tr := range tracks {
		switch tr.MessageID {
		case "case:9":
			if tr.UserID != "contact:7" || tr.Event != reports.EventCaseFiled || tr.Properties["type"] != "queja" || tr.Properties["channel"] != "whatsapp" ||
				tr.Properties["conversation_id"] != float64(41) || !tr.Timestamp.Equal(at.Add(2*time.Second)) {
				t.Errorf("the case's track call %+v", tr)
			}
		case "opened:41":
			if tr.UserID != "" || tr.AnonymousID != "conversation:41" {
				t.Errorf("an event without a contact: %+v", tr)
			}
		}
	}
	_, got := hook.got()
	if ids(got, func(e reports.Event) string { return e.ID })[0] != "message:101" || got[0].Name != reports.EventMessageReceived || got[1].Name != reports.EventMessageReceived {
		t.Errorf("the webhook got %+v; want the two messages only", got)
	}
	if n, _ := off.got(); n != 0 {
		t.Errorf("the disabled destination got %d requests", n)
	}
	if n, _ := theirs.calls(); n != 0 {
		t.Errorf("another tenant's destination got %d requests", n)
	}

	// An export job of the other tenant that carries acme's events sends
	// nothing anywhere: events of another tenant are dropped.
	e.export(t, e.other, events(e.acme))
	waitFor(t, "the other tenant's job done", func() bool { return len(e.jobs(t)) == 0 })
	if n, _ := theirs.calls(); n != 0 {
		t.Errorf("another tenant's destination got %d requests for acme's events", n)
	}
	if !strings.Contains(e.logs.String(), "analytics event of another tenant dropped") {
		t.Errorf("the dropped events are not logged:\n%s", e.logs)
	}
}

// TestRetry: a 503 (with Retry-After) and a timeout retry the one
// destination's batch; the other destination gets its batch once.
func TestRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t, analytics.Config{AllowPrivate: true, Timeout: 500 * time.Millisecond}, false)
	seg := newSegment(t, "wk_acme_0123456789", http.StatusServiceUnavailable, http.StatusInternalServerError)
	slow := newSegment(t, "wk_slow_0123456789")
	slow.delay = 5 * time.Second
	hook := newHook(t)
	e.create(t, reports.Destination{TenantID: e.acme, Kind: reports.DestinationSegment, URL: seg.srv.URL + "/", Secret: seg.writeKey})
	e.create(t, reports.Destination{TenantID: e.acme, Kind: reports.DestinationSegment, URL: slow.srv.URL, Secret: slow.writeKey})
	hd := e.create(t, reports.Destination{TenantID: e.acme, Kind: reports.DestinationWebhook, URL: hook.srv.URL})
	hook.setSecret(hd.Secret)

	start := time.Now()
	e.export(t, e.acme, events(e.acme))
	waitFor(t, "the retried batches", func() bool {
		_, a := seg.calls()
		_, b := slow.calls()
		return len(a) == 4 && len(b) == 4 && len(e.jobs(t)) == 0
	})
	if n, _ := seg.calls(); n != 3 {
		t.Errorf("segment got %d requests; want the 503, the 500 and the success", n)
	}
	if time.Since(start) < time.Second {
		t.Errorf("the batch was sent again within %v of a Retry-After of 1 second", time.Since(start))
	}
	if n, _ := slow.calls(); n != 2 {
		t.Errorf("the slow destination got %d requests; want the one that timed out and its retry", n)
	}
	if n, got := hook.got(); n != 1 || len(got) != 4 {
		t.Errorf("the webhook got %d requests, %d events; want its batch once", n, len(got))
	}
}

// TestRefused: a 400 fails the destination's batch for good, logged with
// the status and the body; the other destination still gets its batch.
func TestRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, analytics.Config{AllowPrivate: true}, false)
	seg := newSegment(t, "wk_acme_0123456789", http.StatusBadRequest)
	hook := newHook(t)
	e.create(t, reports.Destination{TenantID: e.acme, Kind: reports.DestinationSegment, URL: seg.srv.URL, Secret: seg.writeKey})
	hd := e.create(t, reports.Destination{TenantID: e.acme, Kind: reports.DestinationWebhook, URL: hook.srv.URL})
	hook.setSecret(hd.Secret)

	e.export(t, e.acme, events(e.acme))
	waitFor(t, "the refused batch failed", func() bool {
		n, _ := hook.got()
		jobs := e.jobs(t)
		return n == 1 && jobs[analytics.JobSend+"/failed"] == 1 && len(jobs) == 1
	})
	time.Sleep(100 * time.Millisecond)
	if n, _ := seg.calls(); n != 1 {
		t.Errorf("segment got %d requests; want the refused one only", n)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "analytics batch refused") || !strings.Contains(logs, "status=400") || !strings.Contains(logs, "invalid_write_key") {
		t.Errorf("the refusal is not logged with its status and body:\n%s", logs)
	}
}

// TestPrivateRefused: without AllowPrivate a destination on a loopback
// address is refused when saved, and a batch to one (saved while it was
// allowed, or resolving there later) fails as it connects.
func TestPrivateRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, analytics.Config{}, false)
	seg := newSegment(t, "wk_acme_0123456789")
	_, err := e.svc.Create(t.Context(), reports.Destination{TenantID: e.acme, Kind: reports.DestinationSegment, URL: seg.srv.URL, Secret: seg.writeKey})
	if conversation.ErrorCode(err) != conversation.EINVALID || !strings.Contains(err.Error(), "private") {
		t.Fatalf("a loopback destination: %v; want EINVALID", err)
	}
	if _, err := e.store.CreateDestination(t.Context(), reports.Destination{TenantID: e.acme, Kind: reports.DestinationSegment, URL: seg.srv.URL, Secret: seg.writeKey}); err != nil {
		t.Fatal(err)
	}
	e.export(t, e.acme, events(e.acme))
	waitFor(t, "the batch failed", func() bool { return e.jobs(t)[analytics.JobSend+"/failed"] == 1 })
	if n, _ := seg.calls(); n != 0 {
		t.Errorf("the loopback destination got %d requests", n)
	}
}

// TestChunks: a batch larger than MaxBatch goes in several requests, each
// event once; the export job exported again while its sends are
// unfinished enqueues nothing more.
func TestChunks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, analytics.Config{AllowPrivate: true}, true)
	ctx := t.Context()
	d := e.create(t, reports.Destination{TenantID: e.acme, Kind: reports.DestinationSegment, URL: "http://127.0.0.1:9", Secret: "wk_acme_0123456789"})
	var evs []reports.Event
	for i := range analytics.MaxBatch*2 + 5 {
		evs = append(evs, reports.Event{ID: fmt.Sprintf("message:%d", i), TenantID: e.acme, Name: reports.EventMessageSent, At: at, ContactID: 3})
	}
	for range 2 {
		j := e.export(t, e.acme, evs)
		js, err := e.store.ClaimJobs(ctx, []string{reports.JobExport}, 1, time.Minute)
		if err != nil || len(js) != 1 || js[0].ID != j.ID {
			t.Fatalf("claimed %+v, %v", js, err)
		}
		if err := e.svc.ExportJob(ctx, js[0]); err != nil {
			t.Fatal(err)
		}
		if err := e.store.CompleteJob(ctx, js[0]); err != nil {
			t.Fatal(err)
		}
	}
	js, err := e.store.ClaimJobs(ctx, []string{analytics.JobSend}, 10, time.Minute)
	if err != nil || len(js) != 3 {
		t.Fatalf("claimed %d sends, %v; want 3 chunks once", len(js), err)
	}
	seen := map[string]int{}
	for _, j := range js {
		var b analytics.Batch
		if err := json.Unmarshal(j.Payload, &b); err != nil || j.Ref != d.ID || len(b.Events) > analytics.MaxBatch || !strings.HasPrefix(b.ID, "batch_") {
			t.Fatalf("a send %+v: %v", j, err)
		}
		for _, ev := range b.Events {
			seen[ev.ID]++
		}
	}
	if len(seen) != len(evs) {
		t.Fatalf("the chunks carry %d events; want %d", len(seen), len(evs))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s is in %d chunks", id, n)
		}
	}
	// A payload that is not events fails for good.
	bad, err := e.store.EnqueueJob(ctx, conversation.Job{TenantID: e.acme, Kind: reports.JobExport, Payload: []byte(`{"not":"events"}`), MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	err = e.svc.ExportJob(ctx, bad)
	if je, ok := errors.AsType[*conversation.JobError](err); !ok || !je.Permanent {
		t.Fatalf("a bad payload: %v; want a permanent job error", err)
	}
}

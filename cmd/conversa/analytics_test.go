package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/adapters/api"
	"conversa/conversation"
	"conversa/reports"
)

// segmentTracks is a fake Segment HTTP Tracking API for the served
// program: it takes POST /v1/batch with the write key as the basic auth
// user and records the track calls' event and messageId.
type segmentTracks struct {
	srv      *httptest.Server
	mu       sync.Mutex
	writeKey string
	tracks   map[string]string // messageId: event
	userIDs  []string
}

func newSegmentTracks(t *testing.T, writeKey string) *segmentTracks {
	s := &segmentTracks{writeKey: writeKey, tracks: map[string]string{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Batch []struct {
				Type      string `json:"type"`
				UserID    string `json:"userId"`
				Event     string `json:"event"`
				MessageID string `json:"messageId"`
			} `json:"batch"`
		}
		user, _, ok := r.BasicAuth()
		if r.URL.Path != "/v1/batch" || !ok || user != s.writeKey || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, `{"code":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, tr := range body.Batch {
			if tr.Type == "track" {
				s.tracks[tr.MessageID] = tr.Event
				s.userIDs = append(s.userIDs, tr.UserID)
			}
		}
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *segmentTracks) event(messageID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tracks[messageID]
}

// TestAnalyticsExportServed: the served program takes an analytics
// destination through the API and runs the report pipeline's export job:
// the tenant's Segment gets the track calls.
func TestAnalyticsExportServed(t *testing.T) {
	dir := t.TempDir()
	if out, err := applyFile(t, dir, acmeFile); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	store := storeAt(t, dir)
	tn, err := store.TenantBySlug(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	key, rec := api.NewKey(tn.ID, "test")
	if _, err := store.CreateAPIKey(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	seg := newSegmentTracks(t, "wk_acme_0123456789")
	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn", "CONVERSA_ALLOW_PRIVATE_WEBHOOKS": "true"})

	req, _ := http.NewRequest("POST", s.url+"/api/v1/analytics/destinations",
		strings.NewReader(`{"kind":"segment","url":"`+seg.srv.URL+`","secret":"`+seg.writeKey+`"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || strings.Contains(string(b), `"secret":""`) {
		t.Fatalf("create the destination: %d %s", resp.StatusCode, b)
	}

	payload, _ := json.Marshal([]reports.Event{{ID: "message:1", TenantID: tn.ID, Name: reports.EventMessageReceived, At: time.Now(), ContactID: 5, Channel: conversation.ChannelWebchat}})
	if _, err := store.EnqueueJob(t.Context(), conversation.Job{TenantID: tn.ID, Kind: reports.JobExport, Payload: payload, MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for seg.event("message:1") != reports.EventMessageReceived {
		if time.Now().After(deadline) {
			t.Fatalf("Segment got no track call of the event; the program said:\n%s", s.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	seg.mu.Lock()
	defer seg.mu.Unlock()
	if len(seg.userIDs) != 1 || seg.userIDs[0] != "contact:5" {
		t.Fatalf("userIds %v", seg.userIDs)
	}
}

package analytics

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"conversa/reports"
)

// The client of Segment's HTTP Tracking API is written here rather than
// taken from github.com/segmentio/analytics-go/v3: that library batches in
// a goroutine of its own and retries each batch up to ten times within
// Close, 4xx answers included, without Retry-After, reporting only an
// error string per message; a durable job needs one request per attempt
// whose status decides between done, retry later and fail (docs/analytics.md).

// LibraryName is context.library.name of every call.
const LibraryName = "conversa"

// segmentBatch is the body of POST /v1/batch.
type segmentBatch struct {
	Batch   []segmentTrack `json:"batch"`
	SentAt  time.Time      `json:"sentAt"`
	Context segmentContext `json:"context"`
}

// segmentTrack is a track call.
type segmentTrack struct {
	Type        string         `json:"type"`
	UserID      string         `json:"userId,omitempty"`
	AnonymousID string         `json:"anonymousId,omitempty"`
	Event       string         `json:"event"`
	Properties  map[string]any `json:"properties"`
	Timestamp   time.Time      `json:"timestamp"`
	MessageID   string         `json:"messageId"`
	Context     segmentContext `json:"context"`
}

type segmentContext struct {
	Library segmentLibrary `json:"library"`
}

type segmentLibrary struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

var library = segmentContext{Library: segmentLibrary{Name: LibraryName, Version: "1"}}

// track is the track call of an event. userId is "contact:<id>", never
// an address; an event without a contact is anonymous, by its
// conversation or else its tenant. messageId is the event's id, on which
// Segment drops repeats. The properties are the event's, with its
// conversation, channel and tenant.
func track(e reports.Event) segmentTrack {
	t := segmentTrack{Type: "track", Event: e.Name, Timestamp: e.At.UTC(), MessageID: e.ID, Context: library,
		Properties: map[string]any{"tenant_id": e.TenantID}}
	switch {
	case e.ContactID != 0:
		t.UserID = "contact:" + strconv.FormatInt(e.ContactID, 10)
	case e.ConversationID != 0:
		t.AnonymousID = "conversation:" + strconv.FormatInt(e.ConversationID, 10)
	default:
		t.AnonymousID = "tenant:" + strconv.FormatInt(e.TenantID, 10)
	}
	if e.ConversationID != 0 {
		t.Properties["conversation_id"] = e.ConversationID
	}
	if e.Channel != "" {
		t.Properties["channel"] = string(e.Channel)
	}
	maps.Copy(t.Properties, e.Properties)
	return t
}

// segmentRequest is the batch call of b to a Segment destination: its URL
// is the API's base, the write key the user of basic auth.
func (s *Service) segmentRequest(ctx context.Context, d reports.Destination, b Batch) (*http.Request, error) {
	body := segmentBatch{Batch: make([]segmentTrack, 0, len(b.Events)), SentAt: s.cfg.Now().UTC(), Context: library}
	for _, e := range b.Events {
		body.Batch = append(body.Batch, track(e))
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(d.URL, "/")+"/v1/batch", bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(d.Secret, "")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Conversa-Analytics/1")
	return req, nil
}

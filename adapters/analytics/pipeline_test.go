package analytics_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"conversa/adapters/analytics"
	"conversa/conversation"
	"conversa/internal/testenv"
	"conversa/reports"
	"conversa/storage/postgres"
	"conversa/storage/sqlite"
)

// pipelineStore is what the end-to-end test needs of a store.
type pipelineStore interface {
	conversation.Store
	reports.Aggregates
	reports.DestinationStore
}

// TestPipelineToSegment: a message ingested is folded by the report
// pipeline, whose rollup enqueues the export job, which the Worker runs:
// the tenant's Segment gets the conversation.opened and message.received
// track calls, once each, on both stores.
func TestPipelineToSegment(t *testing.T) {
	t.Parallel()
	sealer, err := conversation.NewSealer(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(t *testing.T) pipelineStore{
		"sqlite": func(t *testing.T) pipelineStore {
			s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "c.db"), Sealer: sealer})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		"postgres": func(t *testing.T) pipelineStore {
			s, err := postgres.Open(t.Context(), postgres.Config{URL: testenv.PostgresURL(t), Sealer: sealer})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			return s
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store := open(t)
			ctx := t.Context()
			tn, err := store.CreateTenant(ctx, conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"})
			if err != nil {
				t.Fatal(err)
			}
			other, err := store.CreateTenant(ctx, conversation.Tenant{Slug: "other", Name: "Other", Language: "es", Region: "CO", TimeZone: "America/Bogota"})
			if err != nil {
				t.Fatal(err)
			}
			acct, err := store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: "acme-web"})
			if err != nil {
				t.Fatal(err)
			}
			w, err := conversation.NewWorker(store, conversation.WorkerConfig{Concurrency: 2, PollInterval: 20 * time.Millisecond,
				RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, DrainTimeout: time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			svc, err := analytics.New(store, analytics.Config{AllowPrivate: true, JobsAdded: w.Wake})
			if err != nil {
				t.Fatal(err)
			}
			w.Handle(reports.JobExport, svc.ExportJob)
			w.Handle(analytics.JobSend, svc.SendJob)
			runCtx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(runCtx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("worker: %v", err)
				}
			})

			seg := newSegment(t, "wk_acme_0123456789")
			theirs := newSegment(t, "wk_other_0123456789")
			if _, err := svc.Create(ctx, reports.Destination{TenantID: tn.ID, Kind: reports.DestinationSegment, URL: seg.srv.URL, Secret: seg.writeKey}); err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Create(ctx, reports.Destination{TenantID: other.ID, Kind: reports.DestinationSegment, URL: theirs.srv.URL, Secret: theirs.writeKey}); err != nil {
				t.Fatal(err)
			}

			res, err := store.Ingest(ctx, []conversation.IngestRequest{{TenantID: tn.ID, AccountID: acct.ID, Inbound: conversation.Inbound{
				Channel: conversation.ChannelWebchat, Account: acct.Key, From: "visitor-1", ProviderID: "w-1", ReceivedAt: time.Now(),
				Parts: []conversation.Part{conversation.TextPart("hola")}}}})
			if err != nil || res[0].Err != nil {
				t.Fatalf("ingest: %v %v", err, res)
			}
			msg := res[0].Message

			pipeline := reports.NewPipeline(store, reports.PipelineConfig{JobsAdded: w.Wake, Stale: time.Millisecond})
			messageID := "message:" + strconv.FormatInt(msg.ID, 10)
			waitFor(t, "the track calls", func() bool {
				if _, err := pipeline.Rollup(ctx); err != nil {
					t.Fatal(err)
				}
				_, tracks := seg.calls()
				return len(tracks) >= 2
			})
			n, tracks := seg.calls()
			got := map[string]segmentTrack{}
			for _, tr := range tracks {
				if _, dup := got[tr.MessageID]; dup {
					t.Errorf("%s sent twice", tr.MessageID)
				}
				got[tr.MessageID] = tr
			}
			m, ok := got[messageID]
			if !ok || m.Event != reports.EventMessageReceived || m.UserID != "contact:"+strconv.FormatInt(msg.ContactID, 10) || m.Properties["channel"] != "webchat" {
				t.Errorf("the message's track call %+v (of %+v, %d requests)", m, got, n)
			}
			if o, ok := got["opened:"+strconv.FormatInt(msg.ConversationID, 10)]; !ok || o.Event != reports.EventConversationOpened {
				t.Errorf("no conversation.opened track call in %+v", got)
			}
			if n, _ := theirs.calls(); n != 0 {
				t.Errorf("the other tenant's Segment got %d requests", n)
			}
		})
	}
}

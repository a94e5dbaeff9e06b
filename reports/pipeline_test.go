package reports_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/reports"
	"conversa/storage/memory"
	"conversa/storage/sqlite"
)

// TestPipeline runs the pipeline on the embedded store: woken after a
// message is committed, it folds it and says so on the tenant's topic.
func TestPipeline(t *testing.T) {
	ctx := t.Context()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tn, err := store.CreateTenant(ctx, conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"})
	if err != nil {
		t.Fatal(err)
	}
	acc, err := store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWebchat, Key: "site", Name: "site"})
	if err != nil {
		t.Fatal(err)
	}
	bus := memory.New()
	sub, err := bus.Subscribe(ctx, reports.Topic(tn.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	jobsAdded := 0
	p := reports.NewPipeline(store, reports.PipelineConfig{Bus: bus, Interval: time.Hour, MinInterval: time.Millisecond, JobsAdded: func() { jobsAdded++ }})
	done := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { done <- p.Run(runCtx) }()

	if _, err := store.Ingest(ctx, []conversation.IngestRequest{{TenantID: tn.ID, AccountID: acc.ID, Inbound: conversation.Inbound{
		Channel: conversation.ChannelWebchat, Account: "site", From: "visitor-1", ProviderID: "m1",
		Parts: []conversation.Part{{Type: conversation.PartText, Text: "hola"}}}}}); err != nil {
		t.Fatal(err)
	}
	p.Wake() // the interval is an hour: only the wake can fold it in time
	var changed reports.Changed
	select {
	case m := <-sub.C():
		if err := json.Unmarshal(m.Payload, &changed); err != nil || changed.TenantID != tn.ID || changed.At.IsZero() {
			t.Fatalf("published %s (%v)", m.Payload, err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no reports.<tenant> event after a wake")
	}
	cs, err := store.Counters(ctx, tn.ID, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), reports.MetricMessagesIn)
	if err != nil || len(cs) != 1 || cs[0].N != 1 {
		t.Fatalf("counters %+v, %v", cs, err)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if jobsAdded != 0 {
		t.Errorf("export jobs for a tenant without destinations: %d", jobsAdded)
	}
}

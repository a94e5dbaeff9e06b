package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/reports"
	"conversa/storage/postgres"
)

// reportsTenant creates a tenant with a WhatsApp account.
func reportsTenant(t *testing.T, s *postgres.Store, slug string) (conversation.Tenant, conversation.ChannelAccount) {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: slug}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	tn, err := s.CreateTenant(t.Context(), tn)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.CreateChannelAccount(t.Context(), conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelWhatsApp, Key: "+1555" + slug, Name: slug})
	if err != nil {
		t.Fatal(err)
	}
	return tn, a
}

func inbound(t *testing.T, s *postgres.Store, tn conversation.Tenant, a conversation.ChannelAccount, from, id string) conversation.IngestResult {
	t.Helper()
	res, err := s.Ingest(t.Context(), []conversation.IngestRequest{{TenantID: tn.ID, AccountID: a.ID, Inbound: conversation.Inbound{
		Channel: a.Kind, Account: a.Key, From: from, ProviderID: id, Parts: []conversation.Part{{Type: conversation.PartText, Text: "hola"}}}}})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	return res[0]
}

// total sums a metric of the tenant's counters.
func total(t *testing.T, s *postgres.Store, tenantID int64, metric string) int64 {
	t.Helper()
	cs, err := s.Top(t.Context(), tenantID, metric, time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, c := range cs {
		n += c.N
	}
	return n
}

func TestReportsConcurrentRollups(t *testing.T) {
	s := migrated(t)
	tn, a := reportsTenant(t, s, "acme")
	const n = 120
	for i := range n {
		res := inbound(t, s, tn, a, fmt.Sprintf("+5730000%04d", i%40), fmt.Sprintf("m%d", i))
		if err := s.AnnotateMessage(t.Context(), tn.ID, res.Message.ID, conversation.Analysis{Intent: "saludo"}); err != nil {
			t.Fatal(err)
		}
	}
	// Four rollups at once, in small batches, until each finds nothing.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				res, err := s.Rollup(t.Context(), reports.RollupOptions{Batch: 7, GapTTL: time.Hour, Now: time.Now()})
				if err != nil {
					errs <- err
					return
				}
				if res.Rows == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for {
		res, err := s.Rollup(t.Context(), reports.RollupOptions{Batch: 50, GapTTL: time.Hour, Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows == 0 {
			break
		}
	}
	// 120 messages from 40 contacts: 40 conversations, 120 inbound, 120
	// intents, each folded once.
	for metric, want := range map[string]int64{reports.MetricMessagesIn: n, reports.MetricIntents: n, reports.MetricConversations: 40} {
		if got := total(t, s, tn.ID, metric); got != want {
			t.Errorf("%s: %d, want %d", metric, got, want)
		}
	}
}

func TestReportsGap(t *testing.T) {
	s := migrated(t)
	ctx := t.Context()
	tn, a := reportsTenant(t, s, "acme")
	first := inbound(t, s, tn, a, "+573001", "m1")

	// A transaction takes the next message id and holds it; a later one
	// takes a higher id and commits first.
	tx, err := postgres.Pool(s).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var lateID int64
	if err := tx.QueryRow(ctx, `INSERT INTO messages (tenant_id, conversation_id, contact_id, seq, direction, author_kind, channel,
		channel_account_id, parts, body, status, created_at, updated_at)
		VALUES ($1, $2, $3, 1000, 'in', 'contact', 'whatsapp', $4, '[]', 'tarde', 'received', now(), now()) RETURNING id`,
		tn.ID, first.Conversation.ID, first.Message.ContactID, a.ID).Scan(&lateID); err != nil {
		t.Fatal(err)
	}
	later := inbound(t, s, tn, a, "+573002", "m3")
	if later.Message.ID <= lateID {
		t.Fatalf("ids %d, %d", lateID, later.Message.ID)
	}
	t0 := time.Now()
	roll := func(now time.Time) reports.RollupResult {
		t.Helper()
		res, err := s.Rollup(ctx, reports.RollupOptions{Batch: 100, Stale: 3 * time.Second, GapTTL: time.Hour, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// The gap is waited for: only the message below it is folded.
	if res := roll(t0); res.Rows != 1 {
		t.Fatalf("first rollup folded %d rows, want 1 (the message below the gap)", res.Rows)
	}
	if res := roll(t0.Add(time.Second)); res.Rows != 0 {
		t.Fatalf("a rollup within the stale threshold folded %d rows", res.Rows)
	}
	// Past the threshold it is passed, and remembered.
	if res := roll(t0.Add(10 * time.Second)); res.Rows != 1 {
		t.Fatalf("a rollup past the stale threshold folded %d rows, want 1", res.Rows)
	}
	if got := total(t, s, tn.ID, reports.MetricMessagesIn); got != 2 {
		t.Fatalf("%d inbound before the late commit, want 2", got)
	}
	// The late transaction commits: its message is folded once.
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if res := roll(t0.Add(20 * time.Second)); res.Rows != 1 {
		t.Fatalf("the rollup after the late commit folded %d rows, want 1", res.Rows)
	}
	if res := roll(t0.Add(30 * time.Second)); res.Rows != 0 {
		t.Fatalf("a rollup folded the late message again: %d rows", res.Rows)
	}
	if got := total(t, s, tn.ID, reports.MetricMessagesIn); got != 3 {
		t.Fatalf("%d inbound, want 3", got)
	}
	// A gap that never fills (a rolled-back id) is forgotten after GapTTL.
	tx2, err := postgres.Pool(s).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx2.Exec(ctx, `SELECT nextval(pg_get_serial_sequence('messages', 'id'))`); err != nil {
		t.Fatal(err)
	}
	tx2.Rollback(ctx)
	inbound(t, s, tn, a, "+573003", "m4")
	roll(t0.Add(40 * time.Second))
	roll(t0.Add(50 * time.Second))
	var gaps int
	if err := postgres.Pool(s).QueryRow(ctx, `SELECT count(*) FROM report_gaps`).Scan(&gaps); err != nil || gaps != 1 {
		t.Fatalf("%d gaps remembered, want 1 (%v)", gaps, err)
	}
	roll(t0.Add(2 * time.Hour))
	if err := postgres.Pool(s).QueryRow(ctx, `SELECT count(*) FROM report_gaps`).Scan(&gaps); err != nil || gaps != 0 {
		t.Fatalf("%d gaps remembered after an hour, want 0 (%v)", gaps, err)
	}
	if got := total(t, s, tn.ID, reports.MetricMessagesIn); got != 4 {
		t.Fatalf("%d inbound, want 4", got)
	}
}

package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"conversa/billing"
	"conversa/billing/billingtest"
	"conversa/conversation"
	"conversa/handoff"
	"conversa/internal/testenv"
	"conversa/storage/postgres"
)

func TestBillingStore(t *testing.T) {
	billingtest.TestStore(t, func(t *testing.T) (conversation.Store, billing.Store, billingtest.FileCase) {
		s := migrated(t)
		return s, s, fileCase(s)
	})
}

// fileCase files cases in s, as the case service does, for the billing
// suite.
func fileCase(s handoff.CaseStore) billingtest.FileCase {
	return func(t *testing.T, tenantID int64, channel string, at time.Time) {
		t.Helper()
		c := &handoff.Case{TenantID: tenantID, Type: handoff.Queja, Status: handoff.Radicado, ContactID: 1, Channel: channel,
			Description: "billing fixture", TermDays: 15, Due: at.AddDate(0, 0, 21), FiledAt: at}
		if err := s.CreateCase(t.Context(), c, "PQR", handoff.CaseEvent{Kind: "filed", Actor: "bot", To: handoff.Radicado}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClosedStatementFrozen: the database itself refuses to change or
// delete a closed statement, whoever asks.
func TestClosedStatementFrozen(t *testing.T) {
	url := testenv.PostgresURL(t)
	s, err := postgres.Open(t.Context(), postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	tn, err := s.CreateTenant(t.Context(), conversation.Tenant{Slug: "acme", Name: "Acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertStatement(t.Context(), billing.Statement{TenantID: tn.ID, Month: "2026-10", Zone: "America/Bogota", Currency: "COP",
		Status: billing.StatusClosed, ClosedAt: time.Now(), Total: 100}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{`UPDATE billing_statements SET total = 1`, `DELETE FROM billing_statements`} {
		if _, err := conn.Exec(t.Context(), q); err == nil || !strings.Contains(err.Error(), "never changes") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if st, err := s.ClosedStatement(t.Context(), tn.ID, "2026-10"); err != nil || st.Total != 100 {
		t.Fatalf("after the attempts: %+v %v", st, err)
	}
}

package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"conversa/conversation"
	"conversa/internal/testenv"
	"conversa/reports"
	"conversa/reports/reportstest"
	"conversa/storage/postgres"
)

func TestDestinationStore(t *testing.T) {
	reportstest.TestDestinations(t, func(t *testing.T) (conversation.Store, reports.DestinationStore) {
		s := migrated(t)
		return s, s
	})
}

func TestDestinationSecrets(t *testing.T) {
	url := testenv.PostgresURL(t)
	done := false
	reportstest.TestDestinationSecrets(t, func(t *testing.T, sealer *conversation.Sealer) (conversation.Store, reports.DestinationStore) {
		s, err := postgres.Open(t.Context(), postgres.Config{URL: url, Sealer: sealer})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if !done {
			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			done = true
		}
		return s, s
	})
	// The column holds no secret in the clear.
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), `SELECT secret FROM analytics_destinations`)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(secrets) != 1 {
		t.Fatalf("stored secrets %q, %v", secrets, err)
	}
	for _, s := range secrets {
		if !conversation.IsSealed(s) || strings.Contains(s, "wk_") {
			t.Errorf("a secret is stored as %q", s)
		}
	}
}

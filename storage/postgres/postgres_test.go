package postgres_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"conversa/bot"
	"conversa/bot/bottest"
	"conversa/conversation"
	"conversa/conversation/conversationtest"
	"conversa/handoff"
	"conversa/handoff/handofftest"
	"conversa/internal/testenv"
	"conversa/notify"
	"conversa/notify/campaign/campaigntest"
	"conversa/notify/notifytest"
	"conversa/notify/survey"
	"conversa/notify/survey/surveytest"
	"conversa/notify/webhook"
	"conversa/notify/webhook/webhooktest"
	"conversa/reports/reportstest"
	"conversa/storage/postgres"
	"conversa/storage/storagetest"
	"conversa/templates"
	"conversa/templates/templatestest"
)

func open(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), postgres.Config{URL: testenv.PostgresURL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// migrated opens the test database with every migration applied.
func migrated(t *testing.T) *postgres.Store {
	t.Helper()
	s := open(t)
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore(t *testing.T) {
	conversationtest.TestStore(t, func(t *testing.T) conversation.Store {
		s := migrated(t)
		return s
	})
}

func TestBotStore(t *testing.T) {
	bottest.TestStore(t, func(t *testing.T) (conversation.Store, bot.Store) {
		s := migrated(t)
		return s, s
	})
}

func TestCaseStore(t *testing.T) {
	handofftest.TestCaseStore(t, func(t *testing.T) (conversation.Store, handoff.CaseStore) {
		s := migrated(t)
		return s, s
	})
}

func TestTemplateStore(t *testing.T) {
	templatestest.TestStore(t, func(t *testing.T) (conversation.Store, templates.Store) {
		s := migrated(t)
		return s, s
	})
}

func TestMigrate(t *testing.T) {
	s := open(t)
	pending, err := s.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) == 0 {
		t.Fatal("a new schema has no pending migrations")
	}
	applied, err := s.Migrate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(pending) || applied[0] != pending[0] {
		t.Fatalf("applied %v, want %v", applied, pending)
	}
	if pending, err = s.Pending(t.Context()); err != nil || len(pending) != 0 {
		t.Fatalf("after Migrate: pending %v, %v", pending, err)
	}
	if again, err := s.Migrate(t.Context()); err != nil || len(again) != 0 {
		t.Fatalf("second Migrate applied %v, %v", again, err)
	}
}

func TestSealedSettings(t *testing.T) {
	url := testenv.PostgresURL(t)
	migrated := false
	conversationtest.TestSealedSettings(t, func(t *testing.T, sealer *conversation.Sealer) conversation.Store {
		s, err := postgres.Open(t.Context(), postgres.Config{URL: url, Sealer: sealer})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if !migrated {
			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			migrated = true
		}
		return s
	})
}

func TestNotifyStore(t *testing.T) {
	notifytest.TestStore(t, func(t *testing.T) (conversation.Store, notify.Store) {
		s := migrated(t)
		return s, s
	})
}

func TestSurveyStore(t *testing.T) {
	handofftest.TestSurveyStore(t, func(t *testing.T) (conversation.Store, handoff.CaseStore, handoff.SurveyStore) {
		s := migrated(t)
		return s, s, s
	})
}

func TestRoutingStore(t *testing.T) {
	handofftest.TestRoutingStore(t, func(t *testing.T) (conversation.Store, handoff.RoutingStore, handoff.RoutingStore) {
		url := testenv.PostgresURL(t)
		s, err := postgres.Open(t.Context(), postgres.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if _, err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
		// A second pool on the same schema, as a second node would have.
		s2, err := postgres.Open(t.Context(), postgres.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s2.Close() })
		return s, s, s2
	})
}

func TestConsoleStore(t *testing.T) {
	handofftest.TestConsoleStore(t, func(t *testing.T) (conversation.Store, handoff.RoutingStore, handoff.ConsoleStore) {
		s := migrated(t)
		return s, s, s
	})
}

func TestViewStore(t *testing.T) {
	handofftest.TestViewStore(t, func(t *testing.T) handofftest.ViewStores {
		s := migrated(t)
		return s
	})
}

func TestCampaignStore(t *testing.T) {
	campaigntest.TestStore(t, func(t *testing.T) campaigntest.Stores {
		s := migrated(t)
		return campaigntest.Stores{Conv: s, Notify: s, Campaigns: s}
	})
}

func TestWebhookStore(t *testing.T) {
	webhooktest.TestStore(t, func(t *testing.T) (conversation.Store, webhook.Store) {
		s := migrated(t)
		return s, s
	})
}

func TestCasePolicyStore(t *testing.T) {
	handofftest.TestCasePolicyStore(t, func(t *testing.T) (conversation.Store, handoff.CasePolicyStore) {
		s := migrated(t)
		return s, s
	})
}

func TestStaffStore(t *testing.T) {
	notifytest.TestStaffStore(t, func(t *testing.T) (conversation.Store, notify.StaffStore) {
		s := migrated(t)
		return s, s
	})
}

func TestNotifySurveyStore(t *testing.T) {
	surveytest.TestStore(t, func(t *testing.T) (conversation.Store, survey.Store) {
		s := migrated(t)
		return s, s
	})
}

// sealedOpener returns a function that opens a store on the database of
// url with a sealer, migrating the database the first time.
func sealedOpener(url string) func(t *testing.T, sealer *conversation.Sealer) *postgres.Store {
	migrated := false
	return func(t *testing.T, sealer *conversation.Sealer) *postgres.Store {
		s, err := postgres.Open(t.Context(), postgres.Config{URL: url, Sealer: sealer})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if !migrated {
			if _, err := s.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			migrated = true
		}
		return s
	}
}

// stored returns the values of the one column that query selects, read
// from the database of url past the store.
func stored[T any](t *testing.T, url, query string) []T {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	rows, err := conn.Query(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[T])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestWebhookSealedSecrets(t *testing.T) {
	url := testenv.PostgresURL(t)
	open := sealedOpener(url)
	webhooktest.TestSealedSecrets(t, func(t *testing.T, sealer *conversation.Sealer) (conversation.Store, webhook.Store) {
		s := open(t, sealer)
		return s, s
	})
	// The column holds no secret in the clear.
	secrets := stored[string](t, url, `SELECT secret FROM webhook_endpoints`)
	if len(secrets) != 2 {
		t.Fatalf("stored secrets %q", secrets)
	}
	for _, s := range secrets {
		if !conversation.IsSealed(s) || strings.Contains(s, "whsec") {
			t.Errorf("a secret is stored as %q", s)
		}
	}
}

func TestBotSealedSources(t *testing.T) {
	url := testenv.PostgresURL(t)
	open := sealedOpener(url)
	bottest.TestSealedSources(t, func(t *testing.T, sealer *conversation.Sealer) (conversation.Store, bot.Store) {
		s := open(t, sealer)
		return s, s
	})
	// The column holds no definition in the clear.
	sources := stored[[]byte](t, url, `SELECT source FROM bot_versions WHERE length(source) > 0`)
	if len(sources) != 2 {
		t.Fatalf("stored sources %q", sources)
	}
	for _, src := range sources {
		if !conversation.IsSealedBytes(src) || bytes.Contains(src, []byte("whsec")) {
			t.Errorf("a source is stored as %q", src)
		}
	}
}

func TestWebhookStatusOutbox(t *testing.T) {
	webhooktest.TestStatusOutbox(t, func(t *testing.T) (conversation.Store, webhook.Store) {
		s := migrated(t)
		return s, s
	})
}

func TestReportsStore(t *testing.T) {
	reportstest.TestStore(t, func(t *testing.T) reportstest.World {
		s := migrated(t)
		return storagetest.ReportsWorld(s, func(ctx context.Context, tenantID int64, disabled bool) error {
			return postgres.AddAnalyticsDestination(ctx, s, tenantID, disabled)
		})
	})
}

package sqlite_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"conversa/bot"
	"conversa/bot/bottest"
	"conversa/conversation"
	"conversa/conversation/conversationtest"
	"conversa/handoff"
	"conversa/handoff/handofftest"
	"conversa/notify"
	"conversa/notify/campaign/campaigntest"
	"conversa/notify/notifytest"
	"conversa/notify/survey"
	"conversa/notify/survey/surveytest"
	"conversa/notify/webhook"
	"conversa/notify/webhook/webhooktest"
	"conversa/reports/reportstest"
	"conversa/storage/sqlite"
	"conversa/storage/storagetest"
	"conversa/templates"
	"conversa/templates/templatestest"
)

// fresh opens a new database in the test's directory.
func fresh(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(t.TempDir(), "conversa.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	conversationtest.TestStore(t, func(t *testing.T) conversation.Store {
		s := fresh(t)
		return s
	})
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conversa.db")
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	tn := conversation.Tenant{Slug: "acme", Name: "Acme"}
	if err := tn.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTenant(t.Context(), tn); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Opening again runs no migration twice and finds the tenant.
	s, err = sqlite.Open(t.Context(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.TenantBySlug(t.Context(), "acme"); err != nil {
		t.Fatal(err)
	}
}

func TestBotStore(t *testing.T) {
	bottest.TestStore(t, func(t *testing.T) (conversation.Store, bot.Store) {
		s := fresh(t)
		return s, s
	})
}

func TestCaseStore(t *testing.T) {
	handofftest.TestCaseStore(t, func(t *testing.T) (conversation.Store, handoff.CaseStore) {
		s := fresh(t)
		return s, s
	})
}

func TestSealedSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "conversa.db")
	conversationtest.TestSealedSettings(t, func(t *testing.T, sealer *conversation.Sealer) conversation.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path, Sealer: sealer})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestTemplateStore(t *testing.T) {
	templatestest.TestStore(t, func(t *testing.T) (conversation.Store, templates.Store) {
		s := fresh(t)
		return s, s
	})
}

func TestNotifyStore(t *testing.T) {
	notifytest.TestStore(t, func(t *testing.T) (conversation.Store, notify.Store) {
		s := fresh(t)
		return s, s
	})
}

func TestSurveyStore(t *testing.T) {
	handofftest.TestSurveyStore(t, func(t *testing.T) (conversation.Store, handoff.CaseStore, handoff.SurveyStore) {
		s := fresh(t)
		return s, s, s
	})
}

func TestRoutingStore(t *testing.T) {
	handofftest.TestRoutingStore(t, func(t *testing.T) (conversation.Store, handoff.RoutingStore, handoff.RoutingStore) {
		path := filepath.Join(t.TempDir(), "conversa.db")
		s, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		// A second handle on the same file, as a second process would have.
		s2, err := sqlite.Open(t.Context(), sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s2.Close() })
		return s, s, s2
	})
}

func TestConsoleStore(t *testing.T) {
	handofftest.TestConsoleStore(t, func(t *testing.T) (conversation.Store, handoff.RoutingStore, handoff.ConsoleStore) {
		s := fresh(t)
		return s, s, s
	})
}

func TestViewStore(t *testing.T) {
	handofftest.TestViewStore(t, func(t *testing.T) handofftest.ViewStores {
		s := fresh(t)
		return s
	})
}

func TestCampaignStore(t *testing.T) {
	campaigntest.TestStore(t, func(t *testing.T) campaigntest.Stores {
		s := fresh(t)
		return campaigntest.Stores{Conv: s, Notify: s, Campaigns: s}
	})
}

func TestWebhookStore(t *testing.T) {
	webhooktest.TestStore(t, func(t *testing.T) (conversation.Store, webhook.Store) {
		s := fresh(t)
		return s, s
	})
}

func TestCasePolicyStore(t *testing.T) {
	handofftest.TestCasePolicyStore(t, func(t *testing.T) (conversation.Store, handoff.CasePolicyStore) {
		s := fresh(t)
		return s, s
	})
}

func TestStaffStore(t *testing.T) {
	notifytest.TestStaffStore(t, func(t *testing.T) (conversation.Store, notify.StaffStore) {
		s := fresh(t)
		return s, s
	})
}

func TestNotifySurveyStore(t *testing.T) {
	surveytest.TestStore(t, func(t *testing.T) (conversation.Store, survey.Store) {
		s := fresh(t)
		return s, s
	})
}

func TestWebhookSealedSecrets(t *testing.T) {
	dir := t.TempDir()
	webhooktest.TestSealedSecrets(t, func(t *testing.T, sealer *conversation.Sealer) (conversation.Store, webhook.Store) {
		s := sealedAt(t, dir, sealer)
		return s, s
	})
	// Neither the database nor its write-ahead log holds a secret written
	// with a key in the clear. (The one stored before there was a key may
	// linger in free pages or the log until they are reused or VACUUM.)
	noneInTheClear(t, dir, "whsec_new_sealed_0123", "whsec_rotated_sealed_0123")
}

func TestBotSealedSources(t *testing.T) {
	dir := t.TempDir()
	bottest.TestSealedSources(t, func(t *testing.T, sealer *conversation.Sealer) (conversation.Store, bot.Store) {
		s := sealedAt(t, dir, sealer)
		return s, s
	})
	// Neither the database nor its write-ahead log holds the definition
	// written with a key in the clear (the one stored before there was a
	// key may linger in free pages, as webhook secrets).
	noneInTheClear(t, dir, "whsec_bot_sealed_0123")
}

func TestWebhookStatusOutbox(t *testing.T) {
	webhooktest.TestStatusOutbox(t, func(t *testing.T) (conversation.Store, webhook.Store) {
		s := fresh(t)
		return s, s
	})
}

func TestReportsStore(t *testing.T) {
	reportstest.TestStore(t, func(t *testing.T) reportstest.World {
		s := fresh(t)
		return storagetest.ReportsWorld(s, func(ctx context.Context, tenantID int64, disabled bool) error {
			return sqlite.AddAnalyticsDestination(ctx, s, tenantID, disabled)
		})
	})
}

// sealedAt opens the store of dir with sealer, closed when the test ends.
func sealedAt(t *testing.T, dir string, sealer *conversation.Sealer) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), sqlite.Config{Path: filepath.Join(dir, "conversa.db"), Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// noneInTheClear fails the test when the database of dir or its
// write-ahead log holds one of secrets in the clear.
func noneInTheClear(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "conversa.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range secrets {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %s in the clear", filepath.Base(f), secret)
			}
		}
	}
}

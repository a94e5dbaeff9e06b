package sqlite_test

import (
	"testing"

	"conversa/conversation"
	"conversa/reports"
	"conversa/reports/reportstest"
)

func TestDestinationStore(t *testing.T) {
	reportstest.TestDestinations(t, func(t *testing.T) (conversation.Store, reports.DestinationStore) {
		s := fresh(t)
		return s, s
	})
}

func TestDestinationSecrets(t *testing.T) {
	dir := t.TempDir()
	reportstest.TestDestinationSecrets(t, func(t *testing.T, sealer *conversation.Sealer) (conversation.Store, reports.DestinationStore) {
		s := sealedAt(t, dir, sealer)
		return s, s
	})
	// Neither the database nor its write-ahead log holds a secret in the
	// clear.
	noneInTheClear(t, dir, "wk_sealed_0123456789", "wk_rotated_sealed_0123")
}

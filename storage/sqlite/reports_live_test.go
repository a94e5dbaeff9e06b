package sqlite_test

import (
	"testing"

	"conversa/reports/reportstest"
	"conversa/storage/storagetest"
)

func TestLiveStore(t *testing.T) {
	reportstest.TestLiveStore(t, func(t *testing.T) reportstest.World {
		return storagetest.ReportsWorld(fresh(t), nil)
	})
}

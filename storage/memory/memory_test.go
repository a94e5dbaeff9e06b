package memory

import (
	"strconv"
	"testing"
	"time"

	"conversa/conversation/conversationtest"
)

func TestShared(t *testing.T) {
	conversationtest.TestShared(t, func(t *testing.T) conversationtest.Shared {
		s := New()
		return conversationtest.Shared{Bus: s, Dedup: s, Limiter: s, Locker: s}
	})
}

// TestTableSweeps fills a table, lets everything expire and fills it again:
// the expired entries are swept out, and the table stays within twice its
// live entries.
func TestTableSweeps(t *testing.T) {
	var tb table[int]
	const n = 10_000
	now := time.Now()
	for i := range n {
		tb.put("old"+strconv.Itoa(i), i, now.Add(time.Second), now)
	}
	if len(tb.m) != n {
		t.Fatalf("%d entries, want %d: live entries were swept", len(tb.m), n)
	}
	later := now.Add(2 * time.Second)
	for i := range n {
		tb.put("new"+strconv.Itoa(i), i, later.Add(time.Second), later)
	}
	if len(tb.m) > 2*n {
		t.Fatalf("%d entries for %d live ones", len(tb.m), n)
	}
	for k := range tb.m {
		if _, ok := tb.get(k, later); !ok {
			t.Fatalf("expired entry %q left after a sweep", k)
		}
	}
	if _, ok := tb.get("old1", later); ok {
		t.Fatal("expired entry returned")
	}
	if v, ok := tb.get("new7", later); !ok || v != 7 {
		t.Fatalf("get(new7) = %d, %v", v, ok)
	}
}

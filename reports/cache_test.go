package reports

import (
	"strconv"
	"testing"
	"time"
)

// TestCache: figures are found under their key at their revision only;
// the least recently used go first; what goes in and out is a copy.
func TestCache(t *testing.T) {
	c := newCache(3)
	figures := func(n int64) Report {
		return Report{Conversations: n, ByDay: []DayFigures{{Day: "2026-10-01", Conversations: n}}}
	}
	for i := range 3 {
		c.put(strconv.Itoa(i), 7, figures(int64(i)))
	}
	if r, ok := c.get("1", 7); !ok || r.Conversations != 1 {
		t.Fatalf("get 1: %+v, %v", r, ok)
	}
	if _, ok := c.get("1", 8); ok {
		t.Error("figures were found at another revision")
	}
	c.put("3", 7, figures(3)) // "0" is now the least recently used
	if _, ok := c.get("0", 7); ok {
		t.Error("the least recently used entry was kept past the limit")
	}
	for _, k := range []string{"1", "2", "3"} {
		if _, ok := c.get(k, 7); !ok {
			t.Errorf("entry %s was dropped", k)
		}
	}
	r, _ := c.get("3", 7)
	r.ByDay[0].Conversations = 100
	if again, _ := c.get("3", 7); again.ByDay[0].Conversations != 3 {
		t.Errorf("changing a copy changed what is kept: %+v", again.ByDay)
	}
	// A newer revision replaces the entry.
	c.put("3", 9, figures(30))
	if r, ok := c.get("3", 9); !ok || r.Conversations != 30 {
		t.Errorf("after a new revision: %+v, %v", r, ok)
	}
	if c.order.Len() != 3 || len(c.entries) != 3 {
		t.Errorf("%d in the list, %d in the map; want 3", c.order.Len(), len(c.entries))
	}
}

func TestCacheKey(t *testing.T) {
	from := time.Date(2026, 10, 1, 5, 0, 0, 0, time.UTC)
	q := Query{TenantID: 1, From: from, To: from.AddDate(0, 1, 0)}
	bogota, _ := time.LoadLocation("America/Bogota")
	keys := map[string]bool{
		cacheKey(q, time.UTC, nil): true,
		cacheKey(q, bogota, nil):   true,
		cacheKey(Query{TenantID: 2, From: q.From, To: q.To}, time.UTC, nil):                        true,
		cacheKey(q, time.UTC, &Scope{Teams: []int64{1}, Queues: []int64{4}, Agents: []int64{}}):    true,
		cacheKey(q, time.UTC, &Scope{Teams: []int64{1}, Queues: []int64{4, 5}, Agents: []int64{}}): true,
	}
	if len(keys) != 5 {
		t.Errorf("different queries share keys: %v", keys)
	}
}

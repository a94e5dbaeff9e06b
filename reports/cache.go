package reports

import (
	"container/list"
	"fmt"
	"slices"
	"sync"
	"time"
)

// cache keeps the figures of reports of settled periods, least recently
// used out first. Safe for concurrent use.
type cache struct {
	mu      sync.Mutex
	max     int
	order   *list.List // of *cacheEntry, most recent first
	entries map[string]*list.Element
}

type cacheEntry struct {
	key      string
	revision int64
	figures  Report
}

func newCache(max int) *cache {
	return &cache{max: max, order: list.New(), entries: map[string]*list.Element{}}
}

// cacheKey names a query's figures: the tenant, the period, the zone and,
// for a supervisor's view, the teams with the queues and agents they had
// when the figures were computed.
func cacheKey(q Query, loc *time.Location, scope *Scope) string {
	k := fmt.Sprintf("%d|%d|%d|%s", q.TenantID, q.From.UnixNano(), q.To.UnixNano(), loc)
	if scope != nil {
		k += fmt.Sprintf("|%v|%v|%v", scope.Teams, scope.Queues, scope.Agents)
	}
	return k
}

// get returns a copy of the figures kept under key at revision.
func (c *cache) get(key string, revision int64) (Report, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok || el.Value.(*cacheEntry).revision != revision {
		return Report{}, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).figures.clone(), true
}

// put keeps a copy of figures under key at revision.
func (c *cache) put(key string, revision int64, figures Report) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, revision: revision, figures: figures.clone()})
	for c.order.Len() > c.max {
		delete(c.entries, c.order.Remove(c.order.Back()).(*cacheEntry).key)
	}
}

// clone returns a copy of r that shares no slice with it.
func (r Report) clone() Report {
	r.ByChannel, r.ByHour, r.ByDay = slices.Clone(r.ByChannel), slices.Clone(r.ByHour), slices.Clone(r.ByDay)
	r.Bot.HandoffReasons, r.Bot.TopIntents, r.Bot.TopUnrecognized = slices.Clone(r.Bot.HandoffReasons), slices.Clone(r.Bot.TopIntents), slices.Clone(r.Bot.TopUnrecognized)
	r.FirstResponse, r.Resolution, r.Failures = slices.Clone(r.FirstResponse), slices.Clone(r.Resolution), slices.Clone(r.Failures)
	r.Cases.ByType, r.Cases.ByStatus, r.Cases.ByChannel = slices.Clone(r.Cases.ByType), slices.Clone(r.Cases.ByStatus), slices.Clone(r.Cases.ByChannel)
	return r
}

package reports

import (
	"cmp"
	"slices"
	"time"
)

// Settled returns the start of the UTC day before now's. The aggregates of
// the hours before it change only when rows arrive late (a rollup that
// was stopped for a day, a transaction that committed late), when an old
// conversation is first answered or closed (again), or when a backfill
// rebuilds them, and every such change is marked (Aggregates.Revision):
// the report of a period that ends by then can be kept and served again
// until a mark says otherwise.
func Settled(now time.Time) time.Time {
	return now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
}

// Change is a UTC day whose aggregates of one tenant a rollup or a
// backfill changed.
type Change struct {
	TenantID int64
	Day      time.Time // midnight UTC
}

// PastChanges collects the days before the rollup's today (UTC) that a
// rollup changes. That is a day more than Settled: a rollup that started
// before midnight and commits after it, or one on a node whose clock is
// behind by less than a day, still marks every day a report may have
// kept.
type PastChanges struct {
	before time.Time
	days   map[Change]struct{}
}

// NewPastChanges returns an empty collection for a rollup at now.
func NewPastChanges(now time.Time) *PastChanges {
	return &PastChanges{before: now.UTC().Truncate(24 * time.Hour), days: map[Change]struct{}{}}
}

func (p *PastChanges) add(tenantID int64, t time.Time) {
	if p != nil && !t.IsZero() && t.Before(p.before) {
		p.days[Change{TenantID: tenantID, Day: t.UTC().Truncate(24 * time.Hour)}] = struct{}{}
	}
}

// Counters adds the days of counters' hours.
func (p *PastChanges) Counters(cs []Counter) {
	for _, c := range cs {
		p.add(c.TenantID, c.Hour)
	}
}

// Fact adds the days that a fact's change from stored (the zero Fact when
// there was none) to merged changes. A fact counts in the period of its
// first reply (a first response time) and in that of its close (a close,
// contained or not, and a resolution time); its opening, handoff, channel,
// queue and agent are values of those. So a new first reply or close
// changes its day and the day it replaces, and a new value changes the
// days of both. A nil PastChanges collects nothing (a backfill marks its
// whole range instead).
func (p *PastChanges) Fact(stored, merged Fact) {
	values := !stored.OpenedAt.Equal(merged.OpenedAt) || !stored.QueuedAt.Equal(merged.QueuedAt) || stored.Channel != merged.Channel ||
		stored.QueueID != merged.QueueID || stored.AgentID != merged.AgentID
	if values || !stored.FirstReplyAt.Equal(merged.FirstReplyAt) {
		p.add(merged.TenantID, stored.FirstReplyAt)
		p.add(merged.TenantID, merged.FirstReplyAt)
	}
	if values || !stored.ClosedAt.Equal(merged.ClosedAt) {
		p.add(merged.TenantID, stored.ClosedAt)
		p.add(merged.TenantID, merged.ClosedAt)
	}
}

// List returns the changes, by tenant and day.
func (p *PastChanges) List() []Change {
	out := make([]Change, 0, len(p.days))
	for c := range p.days {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Change) int { return cmp.Or(cmp.Compare(a.TenantID, b.TenantID), a.Day.Compare(b.Day)) })
	return out
}

// Days returns the UTC days that hold the hours of [from, to): from's day
// to the day of to's last instant.
func Days(from, to time.Time) []time.Time {
	var out []time.Time
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		out = append(out, d)
	}
	return out
}

// BackfillChanges returns the changes of a backfill of [from, to) of
// tenants at now: every day from from's to the later of to's and now's,
// since the rebuilt facts of the conversations opened in the range count
// on the days they were first answered and closed, which may be later.
func BackfillChanges(tenants []int64, from, to, now time.Time) []Change {
	days := Days(from, later(to, now))
	out := make([]Change, 0, len(tenants)*len(days))
	for _, t := range tenants {
		for _, d := range days {
			out = append(out, Change{TenantID: t, Day: d})
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

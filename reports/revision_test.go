package reports

import (
	"reflect"
	"testing"
	"time"
)

func TestSettled(t *testing.T) {
	for now, want := range map[string]string{
		"2026-11-22T00:00:00Z":      "2026-11-21T00:00:00Z",
		"2026-11-22T23:59:59Z":      "2026-11-21T00:00:00Z",
		"2026-11-22T20:30:00-05:00": "2026-11-22T00:00:00Z", // 01:30 UTC on the 23rd
		"2026-03-01T10:00:00Z":      "2026-02-28T00:00:00Z",
	} {
		at, _ := time.Parse(time.RFC3339, now)
		if got := Settled(at).Format(time.RFC3339); got != want {
			t.Errorf("Settled(%s) = %s, want %s", now, got, want)
		}
	}
}

func TestDays(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	bogota, err := time.LoadLocation("America/Bogota")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		from, to time.Time
		want     []time.Time
	}{
		{"one UTC day", day("2026-10-01"), day("2026-10-02"), []time.Time{day("2026-10-01")}},
		{"a Bogotá day spans two UTC days", time.Date(2026, 10, 1, 0, 0, 0, 0, bogota), time.Date(2026, 10, 2, 0, 0, 0, 0, bogota),
			[]time.Time{day("2026-10-01"), day("2026-10-02")}},
		{"an hour", day("2026-10-01").Add(5 * time.Hour), day("2026-10-01").Add(6 * time.Hour), []time.Time{day("2026-10-01")}},
		{"empty", day("2026-10-01"), day("2026-10-01"), nil},
	} {
		if got := Days(tt.from, tt.to); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestPastChanges: a rollup marks the days before its today of its
// counters, and of the first reply and close of a fact it changed, before
// and after; nothing of today, nothing of a fact left as it was.
func TestPastChanges(t *testing.T) {
	now := time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)
	at := func(day, hour int) time.Time { return time.Date(2026, 11, day, hour, 0, 0, 0, time.UTC) }
	midnight := func(day int) time.Time { return at(day, 0) }

	p := NewPastChanges(now)
	p.Counters([]Counter{
		{TenantID: 1, Hour: at(22, 14)}, // today
		{TenantID: 1, Hour: at(21, 3)},  // yesterday
		{TenantID: 1, Hour: at(20, 23)},
		{TenantID: 2, Hour: at(20, 1)},
		{TenantID: 2, Hour: at(20, 5)}, // the same day once
	})
	// A conversation opened on the 10th, first answered today: its first
	// response counts today; nothing of the 10th changes.
	opened := Fact{TenantID: 3, ConversationID: 9, OpenedAt: at(10, 8)}
	answered := opened
	answered.FirstReplyAt = at(22, 9)
	p.Fact(opened, answered)
	// Closed again: the close of the 12th moves to today; the opening
	// (the 11th) is a value that did not change.
	closed := Fact{TenantID: 4, ConversationID: 5, OpenedAt: at(11, 8), FirstReplyAt: at(11, 9), ClosedAt: at(12, 8)}
	reclosed := closed
	reclosed.ClosedAt = at(22, 10)
	p.Fact(closed, reclosed)
	// A handoff folded late changes the values of its first response
	// (the 14th) and its close (the 15th): both days.
	late := Fact{TenantID: 5, ConversationID: 1, OpenedAt: at(14, 1), FirstReplyAt: at(14, 3), ClosedAt: at(15, 2)}
	handed := late
	handed.QueuedAt, handed.QueueID = at(14, 2), 7
	p.Fact(late, handed)
	// Unchanged: nothing.
	p.Fact(handed, handed)
	// New, of today: nothing.
	p.Fact(Fact{}, Fact{TenantID: 6, ConversationID: 2, OpenedAt: at(22, 1)})

	want := []Change{
		{TenantID: 1, Day: midnight(20)},
		{TenantID: 1, Day: midnight(21)},
		{TenantID: 2, Day: midnight(20)},
		{TenantID: 4, Day: midnight(12)},
		{TenantID: 5, Day: midnight(14)},
		{TenantID: 5, Day: midnight(15)},
	}
	if got := p.List(); !reflect.DeepEqual(got, want) {
		t.Errorf("changes:\n got %v\nwant %v", got, want)
	}
	if got := NewPastChanges(now).List(); len(got) != 0 {
		t.Errorf("an empty rollup changed %v", got)
	}
}

func TestBackfillChanges(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	// A backfill of the 10th and 11th on the 13th: to the 13th, since
	// the rebuilt facts count where they were answered and closed.
	got := BackfillChanges([]int64{1, 2}, day(10), day(12), day(13).Add(5*time.Hour))
	var want []Change
	for _, tn := range []int64{1, 2} {
		for d := 10; d <= 13; d++ {
			want = append(want, Change{TenantID: tn, Day: day(d)})
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("backfill changes:\n got %v\nwant %v", got, want)
	}
	if got := BackfillChanges(nil, day(10), day(12), day(13)); len(got) != 0 {
		t.Errorf("no tenant: %v", got)
	}
}

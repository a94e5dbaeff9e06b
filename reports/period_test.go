package reports_test

import (
	"testing"
	"time"

	"conversa/conversation"
	"conversa/reports"
)

func TestParsePeriod(t *testing.T) {
	bogota, err := time.LoadLocation("America/Bogota")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 3, 30, 0, 0, time.UTC) // 22:30 on the 20th in Bogotá
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, bogota) }
	for _, tt := range []struct {
		name, from, to string
		wantFrom       time.Time
		wantTo         time.Time
		field          string // the field of the EINVALID error, "" for none
	}{
		{"this month so far by default", "", "", day(2026, 11, 1), day(2026, 11, 21), ""},
		{"a month", "2026-10-01", "2026-10-31", day(2026, 10, 1), day(2026, 11, 1), ""},
		{"from only", "2026-11-15", "", day(2026, 11, 15), day(2026, 11, 21), ""},
		{"one day", "2026-11-02", "2026-11-02", day(2026, 11, 2), day(2026, 11, 3), ""},
		{"366 days", "2024-01-01", "2024-12-31", day(2024, 1, 1), day(2025, 1, 1), ""},
		{"367 days", "2024-01-01", "2025-01-01", time.Time{}, time.Time{}, "to"},
		{"reversed", "2026-11-10", "2026-11-01", time.Time{}, time.Time{}, "to"},
		{"to the day before from", "2026-11-10", "2026-11-09", time.Time{}, time.Time{}, "to"},
		{"not a date", "yesterday", "", time.Time{}, time.Time{}, "from"},
		{"no such day", "2026-02-30", "", time.Time{}, time.Time{}, "from"},
		{"a time too", "2026-11-01T00:00:00Z", "", time.Time{}, time.Time{}, "from"},
		{"bad to", "2026-11-01", "2026-13-01", time.Time{}, time.Time{}, "to"},
		{"short month", "2026-1-01", "", time.Time{}, time.Time{}, "from"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			from, to, err := reports.ParsePeriod(tt.from, tt.to, bogota, now)
			if tt.field != "" {
				var e *conversation.Error
				if conversation.ErrorCode(err) != conversation.EINVALID || !asError(err, &e) || e.Field != tt.field {
					t.Fatalf("ParsePeriod(%q, %q) = %v, %v, %v; want EINVALID on %s", tt.from, tt.to, from, to, err, tt.field)
				}
				return
			}
			if err != nil || !from.Equal(tt.wantFrom) || !to.Equal(tt.wantTo) || from.Location() != bogota {
				t.Fatalf("ParsePeriod(%q, %q) = %v, %v, %v; want %v, %v", tt.from, tt.to, from, to, err, tt.wantFrom, tt.wantTo)
			}
		})
	}
}

// FuzzParsePeriod checks that whatever a query string holds, ParsePeriod
// returns a valid period or EINVALID, never a panic or a period out of
// bounds.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range [][2]string{{"", ""}, {"2026-11-01", "2026-12-01"}, {"2026-12-01", "2026-11-01"}, {"0000-01-01", "9999-12-31"}, {"2026-02-29", "x"}} {
		f.Add(s[0], s[1])
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to string) {
		f, tt, err := reports.ParsePeriod(from, to, time.UTC, now)
		if err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if !tt.After(f) || tt.Sub(f) > reports.MaxPeriod+time.Hour {
			t.Fatalf("period %v to %v", f, tt)
		}
	})
}

package calendar

import (
	"strings"
	"testing"
	"time"
)

func d(s string) Date {
	x, err := ParseDate(s)
	if err != nil {
		panic(err)
	}
	return x
}

// TestColombiaOfficialDates checks the built-in holidays against the
// official calendars of 2025, 2026 and 2027 (decreed dates, with the
// Emiliani moves and the Easter-based days).
func TestColombiaOfficialDates(t *testing.T) {
	official := map[int]string{
		// 2025: San Pedro (29 June, a Sunday) and Sagrado Corazón share Monday 30 June.
		2025: "2025-01-01 2025-01-06 2025-03-24 2025-04-17 2025-04-18 2025-05-01 2025-06-02 2025-06-23 2025-06-30 2025-06-30 2025-07-20 2025-08-07 2025-08-18 2025-10-13 2025-11-03 2025-11-17 2025-12-08 2025-12-25",
		2026: "2026-01-01 2026-01-12 2026-03-23 2026-04-02 2026-04-03 2026-05-01 2026-05-18 2026-06-08 2026-06-15 2026-06-29 2026-07-20 2026-08-07 2026-08-17 2026-10-12 2026-11-02 2026-11-16 2026-12-08 2026-12-25",
		2027: "2027-01-01 2027-01-11 2027-03-22 2027-03-25 2027-03-26 2027-05-01 2027-05-10 2027-05-31 2027-06-07 2027-07-05 2027-07-20 2027-08-07 2027-08-16 2027-10-18 2027-11-01 2027-11-15 2027-12-08 2027-12-25",
	}
	for year, want := range official {
		var got []string
		for _, h := range Colombia(year) {
			got = append(got, h.Date.String())
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%d:\n got %s\nwant %s", year, strings.Join(got, " "), want)
		}
	}
}

func TestEaster(t *testing.T) {
	for year, want := range map[int]string{2024: "2024-03-31", 2025: "2025-04-20", 2026: "2026-04-05", 2027: "2027-03-28", 2038: "2038-04-25", 2285: "2285-03-22"} {
		if got := Easter(year).String(); got != want {
			t.Errorf("Easter(%d) = %s, want %s", year, got, want)
		}
	}
}

func TestDue(t *testing.T) {
	bogota, err := time.LoadLocation("America/Bogota")
	if err != nil {
		t.Fatal(err)
	}
	co := Calendar{Location: bogota, Holidays: Colombia}
	at := func(s string) time.Time {
		x, err := time.ParseInLocation("2006-01-02 15:04", s, bogota)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []struct {
		name     string
		received string
		days     int
		want     string // the last day of the term
	}{
		{"15 days from a Monday", "2026-11-02 10:00", 15, "2026-11-24"}, // skips Monday 16 Nov (Cartagena)
		{"received on a holiday Monday", "2026-11-16 09:00", 1, "2026-11-17"},
		{"received on a Friday evening", "2026-11-20 23:30", 1, "2026-11-23"},
		{"received on a Saturday", "2026-11-21 08:00", 10, "2026-12-04"},
		{"across Christmas and the new year", "2026-12-21 15:00", 10, "2027-01-06"}, // 6 Jan is a working Wednesday: Reyes moves to Monday 11
		{"across the new year", "2026-12-30 15:00", 5, "2027-01-07"},                // 31 Dec, then 4 to 7 Jan
		{"across Holy Week", "2027-03-19 12:00", 5, "2027-03-31"},                   // 22 Mar (San José), 25-26 Mar (Holy Week) closed
		{"30 days for a consulta", "2026-06-01 09:00", 30, "2026-07-16"},            // 8, 15, 29 Jun are holiday Mondays
		{"across the shared Monday of 2025", "2025-06-27 09:00", 3, "2025-07-03"},
		{"a term of 0 counts as 1", "2026-11-23 09:00", 0, "2026-11-24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due := co.Due(at(tt.received), tt.days)
			if got := DateOf(due).String(); got != tt.want {
				t.Fatalf("Due(%s, %d) ends on %s, want %s", tt.received, tt.days, got, tt.want)
			}
			if due.Location() != bogota || due.Hour() != 23 || due.Minute() != 59 {
				t.Errorf("due %v, want the end of the day in Bogotá", due)
			}
			received := DateOf(at(tt.received))
			if n, want := co.BusinessDaysBetween(received, DateOf(due)), max(tt.days, 1); n != want {
				t.Errorf("%d business days between receipt and due, want %d", n, want)
			}
		})
	}
}

func TestTimeZoneDecidesTheDay(t *testing.T) {
	bogota, _ := time.LoadLocation("America/Bogota")
	co := Calendar{Location: bogota, Holidays: Colombia}
	// 02:00 UTC on Tuesday is still Monday 16 November 2026 (a holiday) in Bogotá.
	utc := time.Date(2026, 11, 17, 2, 0, 0, 0, time.UTC)
	if got := DateOf(co.Due(utc, 1)).String(); got != "2026-11-17" {
		t.Errorf("due %s, want 2026-11-17: the receipt day is Bogotá's", got)
	}
}

func TestConfiguredCalendar(t *testing.T) {
	// A six-day week with an extra closed day and no country holidays.
	c := Calendar{Weekend: []time.Weekday{time.Sunday}, Extra: []Date{d("2026-11-25")}}
	if !c.IsBusinessDay(d("2026-11-21")) {
		t.Error("Saturday is a business day in a six-day week")
	}
	if c.IsBusinessDay(d("2026-11-25")) || c.IsBusinessDay(d("2026-11-22")) {
		t.Error("the extra day and Sunday are closed")
	}
	if got := c.AddBusinessDays(d("2026-11-24"), 2).String(); got != "2026-11-27" {
		t.Errorf("AddBusinessDays = %s, want 2026-11-27", got)
	}
	var zero Calendar
	if zero.IsBusinessDay(d("2026-11-21")) || !zero.IsBusinessDay(d("2026-12-25")) {
		t.Error("the zero Calendar is Monday to Friday with no holidays")
	}
}

func TestParseDate(t *testing.T) {
	for _, bad := range []string{"", "2026-13-01", "2026-02-30", "25/12/2026", "2026-12-25T00:00:00Z"} {
		if _, err := ParseDate(bad); err == nil {
			t.Errorf("ParseDate(%q) accepted it", bad)
		}
	}
}

package calendar

import (
	"testing"
	"time"
)

// office is Bogotá's Monday to Friday, 08:00 to 12:00 and 13:00 to 17:00,
// with Colombia's holidays.
func office(t *testing.T) Calendar {
	t.Helper()
	loc, err := time.LoadLocation("America/Bogota")
	if err != nil {
		t.Fatal(err)
	}
	c := Calendar{Location: loc, Holidays: Colombia}
	for day := time.Monday; day <= time.Friday; day++ {
		c.Hours = append(c.Hours, Opening{day, 13 * time.Hour, 17 * time.Hour}, Opening{day, 8 * time.Hour, 12 * time.Hour})
	}
	return c
}

func at(t *testing.T, c Calendar, s string) time.Time {
	t.Helper()
	x, err := time.ParseInLocation("2006-01-02 15:04", s, c.Location)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestAddBusinessTime(t *testing.T) {
	c := office(t)
	for _, tt := range []struct {
		name, from string
		hours      float64
		want       string
	}{
		{"within the morning", "2026-11-17 08:00", 4, "2026-11-17 12:00"},
		{"across lunch", "2026-11-17 09:00", 4, "2026-11-17 14:00"},
		{"into the next morning", "2026-11-17 16:00", 4, "2026-11-18 11:00"},
		{"filed in the evening", "2026-11-17 20:00", 4, "2026-11-18 12:00"},
		{"filed before opening", "2026-11-17 06:00", 4, "2026-11-17 12:00"},
		{"filed at lunch", "2026-11-17 12:30", 1, "2026-11-17 14:00"},
		{"nothing from lunch is the next opening", "2026-11-17 12:30", 0, "2026-11-17 13:00"},
		{"over the weekend", "2026-11-20 15:00", 4, "2026-11-23 10:00"},
		{"filed on a Saturday", "2026-11-21 10:00", 4, "2026-11-23 12:00"},
		{"over a holiday Monday", "2026-11-13 15:00", 4, "2026-11-17 10:00"},
		{"over a Tuesday holiday", "2026-12-07 16:00", 4, "2026-12-09 11:00"},
		{"over Christmas and the weekend", "2026-12-24 16:00", 4, "2026-12-28 11:00"},
		{"across the year end", "2026-12-31 15:00", 4, "2027-01-04 10:00"},
		{"a day and a half", "2026-11-23 08:00", 12, "2026-11-24 12:00"},
		{"minutes", "2026-11-17 11:50", 0.5, "2026-11-17 13:20"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := c.AddBusinessTime(at(t, c, tt.from), time.Duration(tt.hours*float64(time.Hour)))
			if want := at(t, c, tt.want); !got.Equal(want) {
				t.Fatalf("AddBusinessTime(%s, %vh) = %s, want %s", tt.from, tt.hours, got.In(c.Location).Format("Mon 2006-01-02 15:04"), tt.want)
			}
		})
	}
	if got := (Calendar{}).AddBusinessTime(time.Now(), time.Hour); !got.IsZero() {
		t.Fatalf("a calendar without hours reached %v", got)
	}
}

func TestBusinessTimeBetween(t *testing.T) {
	c := office(t)
	for _, tt := range []struct {
		name, from, to string
		want           time.Duration
	}{
		{"over the weekend", "2026-11-20 15:00", "2026-11-23 10:00", 4 * time.Hour},
		{"across lunch", "2026-11-17 11:00", "2026-11-17 14:00", 2 * time.Hour},
		{"a weekend alone", "2026-11-21 09:00", "2026-11-22 18:00", 0},
		{"backwards", "2026-11-18 09:00", "2026-11-17 09:00", 0},
		{"over a holiday Monday", "2026-11-13 16:00", "2026-11-17 09:00", 2 * time.Hour},
		{"evening to evening", "2026-11-17 19:00", "2026-11-18 19:00", 8 * time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.BusinessTimeBetween(at(t, c, tt.from), at(t, c, tt.to)); got != tt.want {
				t.Fatalf("BusinessTimeBetween(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
	// Adding what lies between gets back to the end, when it ends in hours.
	from, to := at(t, c, "2026-12-30 10:00"), at(t, c, "2027-01-05 15:30")
	if got := c.AddBusinessTime(from, c.BusinessTimeBetween(from, to)); !got.Equal(to) {
		t.Fatalf("round trip ended at %v, want %v", got, to)
	}
}

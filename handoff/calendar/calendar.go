// Package calendar counts business days: the terms of support cases
// (PQRs) run in business days of the tenant's country, skipping weekends
// and holidays, in the tenant's time zone. Colombia's holidays are built in,
// with the moved-to-Monday rule of Ley 51 de 1983 and the ones that follow
// Easter; other countries give their holidays by configuration. Terms in
// business hours count the calendar's opening Hours of its business days.
package calendar

import (
	"fmt"
	"slices"
	"time"
)

// Date is a calendar day, without a time or a zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// ParseDate reads "2026-12-25".
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date like 2026-12-25", s)
	}
	return DateOf(t), nil
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// In returns the start of the day in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// AddDays returns the day n days later (earlier for negative n).
func (d Date) AddDays(n int) Date { return DateOf(d.In(time.UTC).AddDate(0, 0, n)) }

// Weekday returns the day of the week.
func (d Date) Weekday() time.Weekday { return d.In(time.UTC).Weekday() }

// Before says d is earlier than e.
func (d Date) Before(e Date) bool { return d.In(time.UTC).Before(e.In(time.UTC)) }

// Holiday is a public holiday.
type Holiday struct {
	Date Date
	Name string
}

// Holidays returns a country's holidays of a year, by date.
type Holidays func(year int) []Holiday

// Calendar is a tenant's business days. The zero value counts Monday to
// Friday in UTC with no holidays.
type Calendar struct {
	// Location is the tenant's time zone; nil means UTC.
	Location *time.Location
	// Weekend are the days nobody works; nil means Saturday and Sunday.
	Weekend []time.Weekday
	// Holidays are the country's holidays; nil means none.
	Holidays Holidays
	// Extra are further closed days of the tenant.
	Extra []Date
	// Hours are the business hours of each business day, for terms in
	// hours; nil means none.
	Hours []Opening
}

func (c Calendar) loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// IsBusinessDay says d is neither a weekend day nor a holiday.
func (c Calendar) IsBusinessDay(d Date) bool {
	weekend := c.Weekend
	if weekend == nil {
		weekend = []time.Weekday{time.Saturday, time.Sunday}
	}
	if slices.Contains(weekend, d.Weekday()) || slices.Contains(c.Extra, d) {
		return false
	}
	if c.Holidays != nil {
		for _, h := range c.Holidays(d.Year) {
			if h.Date == d {
				return false
			}
		}
	}
	return true
}

// AddBusinessDays returns the n-th business day after d (n ≥ 0; 0
// returns d itself when it is a business day, else the next one).
func (c Calendar) AddBusinessDays(d Date, n int) Date {
	for !c.IsBusinessDay(d) {
		d = d.AddDays(1)
	}
	for n > 0 {
		d = d.AddDays(1)
		if c.IsBusinessDay(d) {
			n--
		}
	}
	return d
}

// Due returns when a term of days business days, for something received at
// t, ends: the end of its last day in the calendar's time zone. The term
// runs from the day after receipt (Ley 1755 de 2015, art. 14: "dentro de
// los quince (15) días siguientes a su recepción"), whatever the hour, and
// a receipt on a closed day counts from the next business day.
func (c Calendar) Due(t time.Time, days int) time.Time {
	if days < 1 {
		days = 1
	}
	last := c.AddBusinessDays(DateOf(t.In(c.loc())).AddDays(1), days-1)
	return last.AddDays(1).In(c.loc()).Add(-time.Nanosecond)
}

// BusinessDaysBetween counts the business days after from, up to and
// including to (0 when to is not after from).
func (c Calendar) BusinessDaysBetween(from, to Date) int {
	n := 0
	for d := from.AddDays(1); !to.Before(d); d = d.AddDays(1) {
		if c.IsBusinessDay(d) {
			n++
		}
	}
	return n
}

// Opening is a stretch of business hours on a day of the week: from From
// to To after the day's midnight, in the calendar's time zone.
type Opening struct {
	Day      time.Weekday
	From, To time.Duration
}

// maxSearchDays bounds the days the business-hour functions look through:
// a calendar with hours on no business day reaches nothing.
const maxSearchDays = 3660

// windows calls fn with each stretch of business hours of the business
// days from the day of t on, in order, until fn returns false or
// maxSearchDays have passed.
func (c Calendar) windows(t time.Time, fn func(open, close time.Time) bool) {
	loc := c.loc()
	start := DateOf(t.In(loc))
	for i := range maxSearchDays {
		day := start.AddDays(i)
		if !c.IsBusinessDay(day) {
			continue
		}
		var spans []Opening
		for _, o := range c.Hours {
			if o.Day == day.Weekday() && o.From < o.To {
				spans = append(spans, o)
			}
		}
		slices.SortFunc(spans, func(a, b Opening) int { return int(a.From - b.From) })
		for _, o := range spans {
			at := func(d time.Duration) time.Time {
				return time.Date(day.Year, day.Month, day.Day, 0, int(d/time.Minute), int(d%time.Minute/time.Second), 0, loc)
			}
			if !fn(at(o.From), at(o.To)) {
				return
			}
		}
	}
}

// AddBusinessTime returns the moment d of business time after t: only the
// calendar's Hours on its business days count, so 4 hours from Friday
// 15:00 with hours 08:00 to 17:00 end on Monday at 10:00 (Tuesday when
// Monday is a holiday). A t outside the hours counts from the next
// opening. Returns the zero time when the calendar has no Hours (or none
// within ten years).
func (c Calendar) AddBusinessTime(t time.Time, d time.Duration) time.Time {
	var due time.Time
	c.windows(t, func(open, close time.Time) bool {
		if !close.After(t) {
			return true
		}
		if open.Before(t) {
			open = t
		}
		left := close.Sub(open)
		if d <= left {
			due = open.Add(d)
			return false
		}
		d -= left
		return true
	})
	return due
}

// BusinessTimeBetween returns how much business time lies from from to to
// (0 when to is not after from).
func (c Calendar) BusinessTimeBetween(from, to time.Time) time.Duration {
	var sum time.Duration
	if !to.After(from) {
		return 0
	}
	c.windows(from, func(open, close time.Time) bool {
		if !open.Before(to) {
			return false
		}
		if open.Before(from) {
			open = from
		}
		if close.After(to) {
			close = to
		}
		if close.After(open) {
			sum += close.Sub(open)
		}
		return true
	})
	return sum
}

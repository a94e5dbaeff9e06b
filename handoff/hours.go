package handoff

import (
	"errors"
	"fmt"
	"time"

	"conversa/handoff/calendar"
)

// Span is a stretch of opening hours on a day of the week: From and To are
// "HH:MM" in the tenant's time zone, From before To.
type Span struct {
	Day  time.Weekday `json:"day" yaml:"day"`
	From string       `json:"from" yaml:"from"`
	To   string       `json:"to" yaml:"to"`
}

func minutesOf(hhmm string) (int, error) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time like 08:30", hhmm)
	}
	return t.Hour()*60 + t.Minute(), nil
}

func (s Span) validate() error {
	if s.Day < time.Sunday || s.Day > time.Saturday {
		return errors.New("day must be 0 (Sunday) to 6")
	}
	from, err := minutesOf(s.From)
	if err != nil {
		return err
	}
	to, err := minutesOf(s.To)
	if err != nil {
		return err
	}
	if s.To == "24:00" {
		to = 24 * 60
	}
	if from >= to {
		return errors.New("from must come before to")
	}
	return nil
}

// OpenAt reports whether a queue with these hours is open at t in cal (its
// time zone; its holidays are closed), and if not, when it next opens
// (zero when it never does).
func OpenAt(hours []Span, cal calendar.Calendar, t time.Time) (bool, time.Time) {
	if len(hours) == 0 {
		return true, time.Time{}
	}
	loc := cal.Location
	if loc == nil {
		loc = time.UTC
	}
	local := t.In(loc)
	for d := 0; d <= 14; d++ {
		day := calendar.DateOf(local).AddDays(d)
		if cal.Holidays != nil && isHoliday(cal, day) {
			continue
		}
		start := day.In(loc)
		var next time.Time
		for _, s := range hours {
			if s.Day != day.Weekday() {
				continue
			}
			from, _ := minutesOf(s.From)
			to, err := minutesOf(s.To)
			if err != nil || s.To == "24:00" {
				to = 24 * 60
			}
			open := start.Add(time.Duration(from) * time.Minute)
			closes := start.Add(time.Duration(to) * time.Minute)
			if !local.Before(open) && local.Before(closes) {
				return true, time.Time{}
			}
			if local.Before(open) && (next.IsZero() || open.Before(next)) {
				next = open
			}
		}
		if !next.IsZero() {
			return false, next
		}
	}
	return false, time.Time{}
}

// isHoliday reports whether day is one of the calendar's holidays (weekends
// are the hours' business).
func isHoliday(cal calendar.Calendar, day calendar.Date) bool {
	for _, h := range cal.Holidays(day.Year) {
		if h.Date == day {
			return true
		}
	}
	return false
}

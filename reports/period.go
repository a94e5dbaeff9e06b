package reports

import (
	"strings"
	"time"

	"conversa/conversation"
)

// DateLayout is how a period's days are written: 2026-11-01.
const DateLayout = "2006-01-02"

// ParsePeriod reads a period as people pick it: from and to are days
// (2026-11-01) in loc (nil is UTC), both included (from 2026-11-01 to
// 2026-11-30 is November), as in the API's report routes. It returns
// the period as [from, to): to is the midnight after the last day. An
// empty from is the first of the month of now; an empty to is now's day
// (this month so far). Returns EINVALID, naming the field, for a day
// that is not one, a to before from, or a period longer than MaxPeriod.
func ParsePeriod(from, to string, loc *time.Location, now time.Time) (time.Time, time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	now = now.In(loc)
	day := func(field, v string, def time.Time) (time.Time, error) {
		v = strings.TrimSpace(v)
		if v == "" {
			return def, nil
		}
		t, err := time.ParseInLocation(DateLayout, v, loc)
		if err != nil || len(v) != len(DateLayout) {
			return time.Time{}, conversation.FieldError(field, "%s must be a day written as 2026-11-01", field)
		}
		return t, nil
	}
	f, err := day("from", from, time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc))
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	today, _ := Today(now)
	last, err := day("to", to, today)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	t := time.Date(last.Year(), last.Month(), last.Day()+1, 0, 0, 0, 0, loc)
	if !t.After(f) {
		return time.Time{}, time.Time{}, conversation.FieldError("to", "to must not be before from (to is the last day of the period)")
	}
	// Days, not hours: a period across a change of clocks is a day or
	// so longer or shorter in hours.
	if days := dayNumber(t) - dayNumber(f); days > int64(MaxPeriod/(24*time.Hour)) {
		return time.Time{}, time.Time{}, conversation.FieldError("to", "a report covers at most %d days, not %d: choose a shorter period", int64(MaxPeriod/(24*time.Hour)), days)
	}
	return f, t, nil
}

// dayNumber counts the days of t's date since 1970-01-01, whatever its
// location.
func dayNumber(t time.Time) int64 {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC).Unix() / 86400
}

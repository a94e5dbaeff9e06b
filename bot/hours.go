package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// hours is a compiled weekly schedule with closed dates.
type hours struct {
	loc      *time.Location
	week     [7][]span // by time.Weekday
	holidays map[string]bool
}

// span is an opening span in minutes since midnight, [from, to).
type span struct{ from, to int }

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseHours(bh *BusinessHours, tenantZone string) (*hours, error) {
	zone := bh.TimeZone
	if zone == "" {
		zone = tenantZone
	}
	if zone == "" {
		zone = "UTC"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", zone)
	}
	h := &hours{loc: loc, holidays: map[string]bool{}}
	if len(bh.Week) == 0 {
		return nil, fmt.Errorf("week: give the opening hours of at least one day")
	}
	for _, key := range sortedKeys(bh.Week) {
		days, err := parseDays(key)
		if err != nil {
			return nil, fmt.Errorf("week.%s: %w", key, err)
		}
		spans, err := parseSpans(bh.Week[key])
		if err != nil {
			return nil, fmt.Errorf("week.%s: %w", key, err)
		}
		for _, d := range days {
			if len(h.week[d]) > 0 {
				return nil, fmt.Errorf("week.%s: %s is given twice", key, d)
			}
			h.week[d] = spans
		}
	}
	for _, d := range bh.Holidays {
		t, err := time.Parse(time.DateOnly, d)
		if err != nil {
			return nil, fmt.Errorf("holidays: %q is not a date like 2026-12-25", d)
		}
		h.holidays[t.Format(time.DateOnly)] = true
	}
	return h, nil
}

// parseDays reads "mon", "mon-fri" or "sat,sun".
func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for part := range strings.SplitSeq(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		from, to, isRange := strings.Cut(part, "-")
		a, ok := dayNames[from]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", from)
		}
		if !isRange {
			out = append(out, a)
			continue
		}
		b, ok := dayNames[to]
		if !ok {
			return nil, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", to)
		}
		for d := a; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == b {
				break
			}
		}
	}
	return out, nil
}

// parseSpans reads "08:00-12:00, 14:00-18:00", or "closed".
func parseSpans(s string) ([]span, error) {
	if strings.TrimSpace(strings.ToLower(s)) == "closed" {
		return nil, nil
	}
	var out []span
	for part := range strings.SplitSeq(s, ",") {
		from, to, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("%q is not a span like 08:00-18:00", part)
		}
		a, err := parseClock(from)
		if err != nil {
			return nil, err
		}
		b, err := parseClock(to)
		if err != nil {
			return nil, err
		}
		if b <= a {
			return nil, fmt.Errorf("%q ends before it starts", part)
		}
		out = append(out, span{a, b})
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	s = strings.TrimSpace(s)
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || h == 24 && m > 0 {
		return 0, fmt.Errorf("%q is not a time like 08:30", s)
	}
	return h*60 + m, nil
}

// open says whether t falls in business hours.
func (h *hours) open(t time.Time) bool {
	t = t.In(h.loc)
	if h.holidays[t.Format(time.DateOnly)] {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	for _, s := range h.week[t.Weekday()] {
		if m >= s.from && m < s.to {
			return true
		}
	}
	return false
}

// nextOpen returns the next time at or after t when business hours begin,
// within two weeks, or the zero time.
func (h *hours) nextOpen(t time.Time) time.Time {
	t = t.In(h.loc)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, h.loc)
	for i := 0; i < 15; i++ {
		d := day.AddDate(0, 0, i)
		if h.holidays[d.Format(time.DateOnly)] {
			continue
		}
		for _, s := range h.week[d.Weekday()] {
			start := d.Add(time.Duration(s.from) * time.Minute)
			end := d.Add(time.Duration(s.to) * time.Minute)
			if end.After(t) {
				if start.Before(t) {
					return t
				}
				return start
			}
		}
	}
	return time.Time{}
}

var (
	weekdaysES = [...]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"}
	monthsES   = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}
)

// describeOpen says when t is, relative to now, for a customer: "hoy a las
// 08:00", "mañana a las 08:00", "el lunes 23 de noviembre a las 08:00".
func describeOpen(t, now time.Time, lang string) string {
	if t.IsZero() {
		if lang == "en" {
			return "as soon as possible"
		}
		return "lo antes posible"
	}
	now = now.In(t.Location())
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, t.Location())
	days := int(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location()).Sub(today).Hours() / 24)
	clock := t.Format("15:04")
	if lang == "en" {
		switch days {
		case 0:
			return "today at " + clock
		case 1:
			return "tomorrow at " + clock
		}
		return t.Format("Monday, January 2") + " at " + clock
	}
	switch days {
	case 0:
		return "hoy a las " + clock
	case 1:
		return "mañana a las " + clock
	}
	return fmt.Sprintf("el %s %d de %s a las %s", weekdaysES[t.Weekday()], t.Day(), monthsES[t.Month()-1], clock)
}

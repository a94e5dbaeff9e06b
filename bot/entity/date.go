package entity

import (
	"strconv"
	"time"
)

type langMonth struct {
	m    time.Month
	lang uint8
}

var months = func() map[string]langMonth {
	m := map[string]langMonth{}
	add := func(lang uint8, month time.Month, words ...string) {
		for _, w := range words {
			e := m[w]
			m[w] = langMonth{m: month, lang: e.lang | lang}
		}
	}
	add(es, time.January, "enero", "ene")
	add(es, time.February, "febrero", "feb")
	add(es, time.March, "marzo", "mar")
	add(es, time.April, "abril", "abr")
	add(es, time.May, "mayo", "may")
	add(es, time.June, "junio", "jun")
	add(es, time.July, "julio", "jul")
	add(es, time.August, "agosto", "ago")
	add(es, time.September, "septiembre", "setiembre", "sep", "sept", "set")
	add(es, time.October, "octubre", "oct")
	add(es, time.November, "noviembre", "nov")
	add(es, time.December, "diciembre", "dic")
	add(en, time.January, "january", "jan")
	add(en, time.February, "february", "feb")
	add(en, time.March, "march", "mar")
	add(en, time.April, "april", "apr")
	add(en, time.May, "may")
	add(en, time.June, "june", "jun")
	add(en, time.July, "july", "jul")
	add(en, time.August, "august", "aug")
	add(en, time.September, "september", "sep", "sept")
	add(en, time.October, "october", "oct")
	add(en, time.November, "november", "nov")
	add(en, time.December, "december", "dec")
	return m
}()

type langWeekday struct {
	d    time.Weekday
	lang uint8
}

var weekdays = map[string]langWeekday{
	"lunes": {time.Monday, es}, "martes": {time.Tuesday, es}, "miercoles": {time.Wednesday, es},
	"jueves": {time.Thursday, es}, "viernes": {time.Friday, es}, "sabado": {time.Saturday, es},
	"domingo": {time.Sunday, es},
	"monday":  {time.Monday, en}, "tuesday": {time.Tuesday, en}, "wednesday": {time.Wednesday, en},
	"thursday": {time.Thursday, en}, "friday": {time.Friday, en}, "saturday": {time.Saturday, en},
	"sunday": {time.Sunday, en},
}

// ordinals are day numbers written as ordinal words.
var ordinals = func() map[string]langNum {
	m := map[string]langNum{"primero": {1, es}, "primer": {1, es}}
	for i, w := range []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
		"eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
		"twentieth"} {
		m[w] = langNum{i + 1, en}
	}
	m["thirtieth"] = langNum{30, en}
	return m
}()

type langNum struct {
	v    int
	lang uint8
}

// ordinalSuffix is what may follow a day's digits: 5th, 1ro, 1º.
var ordinalSuffix = map[string]bool{"st": true, "nd": true, "rd": true, "th": true, "ro": true, "er": true, "ero": true, "º": true, "ª": true, "o": true}

// unitDays are the units of "en 3 días" / "in 3 weeks".
var unitDays = map[string]struct {
	days, months int
	lang         uint8
}{
	"dia": {1, 0, es}, "dias": {1, 0, es}, "semana": {7, 0, es}, "semanas": {7, 0, es},
	"mes": {0, 1, es}, "meses": {0, 1, es}, "ano": {0, 12, es}, "anos": {0, 12, es},
	"day": {1, 0, en}, "days": {1, 0, en}, "week": {7, 0, en}, "weeks": {7, 0, en},
	"month": {0, 1, en}, "months": {0, 1, en}, "year": {0, 12, en}, "years": {0, 12, en},
}

func (p *parser) is(lang uint8) bool { return p.lang&lang != 0 }

func civil(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func validDate(y int, m time.Month, d int) bool {
	return m >= 1 && m <= 12 && d >= 1 && d <= civil(y, m+1, 0).Day()
}

// date reads a date starting at token i, and returns its last token, its
// value, and whether a leading "el" belongs to it.
func (p *parser) date(i int) (end int, t time.Time, article, ok bool) {
	end = -1
	try := func(e int, v time.Time, art, good bool) {
		if good && e > end {
			end, t, article, ok = e, v, art, true
		}
	}
	e, v, good := p.relativeDay(i)
	try(e, v, false, good)
	e, v, good = p.weekday(i)
	try(e, v, true, good)
	e, v, good = p.dayMonth(i)
	try(e, v, true, good)
	if wd, ok := weekdays[p.d.w(i)]; ok && wd.lang&p.lang != 0 {
		// el martes 3 de diciembre, Tuesday, December 1: the day counts.
		j := i + 1
		if p.d.p(j) == "," {
			j++
		}
		e, v, good = p.dayMonth(j)
		try(e, v, true, good)
	}
	e, v, good = p.numericDate(i)
	try(e, v, true, good)
	e, v, good = p.offset(i)
	try(e, v, false, good)
	return end, t, article, ok
}

// relativeDay reads hoy, mañana, pasado mañana, ayer, today, tomorrow …
func (p *parser) relativeDay(i int) (int, time.Time, bool) {
	d := p.d
	w := d.w(i)
	days, end := 0, i
	switch {
	case p.is(es) && w == "pasado" && d.w(i+1) == "manana":
		days, end = 2, i+1
	case p.is(es) && w == "manana":
		switch d.w(i - 1) {
		case "la", "las", "esta", "cada", "una", "toda", "pasado":
			return 0, time.Time{}, false // the morning
		}
		days = 1
	case p.is(es) && w == "hoy":
		if d.w(i+1) == "en" && d.w(i+2) == "dia" {
			return 0, time.Time{}, false // nowadays
		}
	case p.is(es) && w == "ayer":
		days = -1
	case p.is(es) && (w == "anteayer" || w == "antier"):
		days = -2
	case p.is(en) && w == "today":
	case p.is(en) && (w == "tomorrow" || w == "tmrw"):
		days = 1
	case p.is(en) && w == "yesterday":
		days = -1
	case p.is(en) && w == "the" && d.w(i+1) == "day" && (d.w(i+2) == "after" && d.w(i+3) == "tomorrow" || d.w(i+2) == "before" && d.w(i+3) == "yesterday"):
		return p.relativeDay(i + 1)
	case p.is(en) && w == "day" && d.w(i+1) == "after" && d.w(i+2) == "tomorrow":
		days, end = 2, i+2
	case p.is(en) && w == "day" && d.w(i+1) == "before" && d.w(i+2) == "yesterday":
		days, end = -2, i+2
	default:
		return 0, time.Time{}, false
	}
	if w == "the" {
		end++
	}
	return end, p.today.AddDate(0, 0, days), true
}

// weekday reads el lunes, el próximo lunes, el lunes que viene, este
// lunes, el lunes pasado, next friday, this friday, last friday. A
// weekday alone, "next" or "próximo" is the next one after today; "this"
// or "este" may be today; "last" or "pasado" is the last one before.
func (p *parser) weekday(i int) (int, time.Time, bool) {
	d := p.d
	const (
		bare = iota
		next
		this
		last
	)
	mode, j := bare, i
	switch w := d.w(i); {
	case p.is(es) && (w == "proximo" || w == "proxima"):
		mode, j = next, i+1
	case p.is(es) && (w == "este" || w == "esta"):
		mode, j = this, i+1
	case p.is(es) && w == "pasado":
		mode, j = last, i+1
	case p.is(en) && w == "next":
		mode, j = next, i+1
	case p.is(en) && w == "this":
		mode, j = this, i+1
		if d.w(j) == "coming" {
			j++
		}
	case p.is(en) && w == "coming":
		mode, j = next, i+1
	case p.is(en) && w == "last":
		mode, j = last, i+1
	}
	wd, ok := weekdays[d.w(j)]
	if !ok || wd.lang&p.lang == 0 {
		return 0, time.Time{}, false
	}
	end := j
	if mode == bare {
		switch prev := d.w(i - 1); prev {
		case "los", "todos", "cada", "every":
			return 0, time.Time{}, false // every Monday
		}
		if p.is(es) {
			switch w := d.w(j + 1); {
			case w == "proximo" || w == "entrante":
				mode, end = next, j+1
			case w == "que" && d.w(j+2) == "viene":
				mode, end = next, j+2
			case w == "pasado":
				mode, end = last, j+1
			}
		}
	}
	today := p.today.Weekday()
	switch mode {
	case last:
		back := (int(today) - int(wd.d) + 7) % 7
		if back == 0 {
			back = 7
		}
		return end, p.today.AddDate(0, 0, -back), true
	case this:
		return end, p.today.AddDate(0, 0, (int(wd.d)-int(today)+7)%7), true
	}
	ahead := (int(wd.d) - int(today) + 7) % 7
	if ahead == 0 {
		ahead = 7
	}
	return end, p.today.AddDate(0, 0, ahead), true
}

// dayNum reads a day of the month at token i: 5, 5th, 1º, primero,
// cinco, fifth.
func (p *parser) dayNum(i int) (int, int, bool) {
	d := p.d
	if s := d.n(i); s != "" {
		if len(s) > 2 || d.adj(i) && d.alnum(i-1) {
			return 0, 0, false
		}
		v, _ := strconv.Atoi(s)
		if v < 1 || v > 31 {
			return 0, 0, false
		}
		end := i
		if d.adj(i+1) && (ordinalSuffix[d.w(i+1)] || d.p(i+1) == "°") {
			end = i + 1
		}
		if d.adj(end+1) && d.alnum(end+1) {
			return 0, 0, false
		}
		return v, end, true
	}
	if o, ok := ordinals[d.w(i)]; ok && o.lang&p.lang != 0 {
		return o.v, i, true
	}
	// twenty-first, thirty-first
	if tens := d.w(i); (tens == "twenty" || tens == "thirty") && p.is(en) && d.p(i+1) == "-" && d.adj(i+1) && d.adj(i+2) {
		if o, ok := ordinals[d.w(i+2)]; ok && o.v < 10 && o.lang == en {
			v := 20 + o.v
			if tens == "thirty" {
				v = 30 + o.v
			}
			if v <= 31 {
				return v, i + 2, true
			}
		}
	}
	if v, end, ok := p.numberWords(i, false); ok && v >= 1 && v <= 31 {
		return int(v), end, true
	}
	return 0, 0, false
}

// month reads a month name at token i, with a dot after an abbreviation.
func (p *parser) month(i int) (time.Month, int, bool) {
	m, ok := months[p.d.w(i)]
	if !ok || m.lang&p.lang == 0 {
		return 0, 0, false
	}
	if p.d.p(i+1) == "." && p.d.adj(i+1) {
		return m.m, i + 1, true
	}
	return m.m, i, true
}

// year reads ", 2027", "de 2027", "del 2027" or " 2027" after token i.
func (p *parser) year(i int) (int, int, bool) {
	d := p.d
	j := i + 1
	if d.p(j) == "," || p.is(es) && (d.w(j) == "de" || d.w(j) == "del") {
		j++
	}
	s := d.n(j)
	if len(s) != 4 || d.adj(j+1) && d.alnum(j+1) {
		return 0, 0, false
	}
	y, _ := strconv.Atoi(s)
	if y < 1900 || y > 2200 {
		return 0, 0, false
	}
	return y, j, true
}

// nextDate returns the first day m/d on or after today.
func (p *parser) nextDate(m time.Month, day int) (time.Time, bool) {
	for y := p.today.Year(); y <= p.today.Year()+8; y++ {
		if validDate(y, m, day) {
			if t := civil(y, m, day); !t.Before(p.today) {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// dayMonth reads 5 de marzo [de 2027], día 5 de marzo, el día 5, March
// 5[th][, 2027], 5th of March, 5 March 2027.
func (p *parser) dayMonth(i int) (int, time.Time, bool) {
	d := p.d
	resolve := func(y int, hasYear bool, m time.Month, day int) (time.Time, bool) {
		if hasYear {
			return civil(y, m, day), validDate(y, m, day)
		}
		return p.nextDate(m, day)
	}
	j := i
	if p.is(es) && (d.w(i) == "dia") {
		j++
	}
	if day, k, ok := p.dayNum(j); ok {
		k2 := k + 1
		if w := d.w(k2); p.is(es) && w == "de" || p.is(en) && w == "of" {
			k2++
		}
		if m, k3, ok := p.month(k2); ok {
			y, k4, hasYear := p.year(k3)
			if t, ok := resolve(y, hasYear, m, day); ok {
				if hasYear {
					return k4, t, true
				}
				return k3, t, true
			}
			return 0, time.Time{}, false
		}
		if j > i && d.n(j) != "" { // día 5: the next 5th
			for n := 0; n < 13; n++ {
				m := p.today.Month() + time.Month(n)
				y := p.today.Year() + int(m-1)/12
				m = (m-1)%12 + 1
				if validDate(y, m, day) && !civil(y, m, day).Before(p.today) {
					return k, civil(y, m, day), true
				}
			}
		}
		return 0, time.Time{}, false
	}
	if m, k, ok := p.month(i); ok {
		if day, k2, ok := p.dayNum(k + 1); ok && d.n(k+1) != "" {
			y, k3, hasYear := p.year(k2)
			if t, ok := resolve(y, hasYear, m, day); ok {
				if hasYear {
					return k3, t, true
				}
				return k2, t, true
			}
		}
	}
	return 0, time.Time{}, false
}

// numericDate reads 15/03/2026, 15-03-2026, 15.03.2026, 15/03/26,
// 2026-03-15 and 15/03. Spanish, and no language, read the day first,
// English the month first; each falls back to the other order when its
// own gives no date.
func (p *parser) numericDate(i int) (int, time.Time, bool) {
	d := p.d
	a := d.n(i)
	if a == "" || d.adj(i) && (d.alnum(i-1) || isDateSep(d.p(i-1)) && d.adj(i-1) && d.n(i-2) != "") {
		return 0, time.Time{}, false
	}
	sep := d.p(i + 1)
	if !isDateSep(sep) || !d.adj(i+1) || !d.adj(i+2) || d.n(i+2) == "" {
		return 0, time.Time{}, false
	}
	b, c, end := d.n(i+2), "", i+2
	if d.p(i+3) == sep && d.adj(i+3) && d.adj(i+4) && d.n(i+4) != "" {
		c, end = d.n(i+4), i+4
	}
	if d.adj(end+1) && (d.alnum(end+1) || d.p(end+1) != "" && d.adj(end+2) && d.n(end+2) != "") {
		return 0, time.Time{}, false
	}
	na, _ := strconv.Atoi(a)
	nb, _ := strconv.Atoi(b)
	if len(a) == 4 && c != "" && len(b) <= 2 && len(c) <= 2 {
		nc, _ := strconv.Atoi(c)
		if !validDate(na, time.Month(nb), nc) {
			return 0, time.Time{}, false
		}
		return end, civil(na, time.Month(nb), nc), true
	}
	if len(a) > 2 || len(b) > 2 {
		return 0, time.Time{}, false
	}
	dayFirst := p.lang != en
	if c != "" {
		if len(c) != 2 && len(c) != 4 || sep == "." && len(c) != 4 {
			return 0, time.Time{}, false
		}
		y, _ := strconv.Atoi(c)
		if len(c) == 2 {
			y += 2000
		}
		for _, df := range []bool{dayFirst, !dayFirst} {
			day, m := na, nb
			if !df {
				day, m = nb, na
			}
			if validDate(y, time.Month(m), day) {
				return end, civil(y, time.Month(m), day), true
			}
		}
		return 0, time.Time{}, false
	}
	if sep != "/" || len(a) == 1 && len(b) == 1 {
		return 0, time.Time{}, false
	}
	for _, df := range []bool{dayFirst, !dayFirst} {
		day, m := na, nb
		if !df {
			day, m = nb, na
		}
		if m >= 1 && m <= 12 {
			if t, ok := p.nextDate(time.Month(m), day); ok {
				return end, t, true
			}
		}
	}
	return 0, time.Time{}, false
}

func isDateSep(s string) bool { return s == "/" || s == "-" || s == "." }

// offset reads en 3 días, dentro de 3 días, hace 2 semanas, in 3 days,
// within a week, 3 days from now, 2 weeks ago.
func (p *parser) offset(i int) (int, time.Time, bool) {
	d := p.d
	sign, j, suffix := 1, i, false
	switch w := d.w(i); {
	case p.is(es) && w == "en":
		j = i + 1
	case p.is(es) && w == "dentro" && d.w(i+1) == "de":
		j = i + 2
	case p.is(es) && w == "hace":
		sign, j = -1, i+1
	case p.is(en) && (w == "in" || w == "within"):
		j = i + 1
	default:
		suffix = true
	}
	var n int
	var k int
	if s := d.n(j); s != "" {
		if len(s) > 3 || d.adj(j) && d.alnum(j-1) {
			return 0, time.Time{}, false
		}
		n, _ = strconv.Atoi(s)
		k = j
	} else {
		v, e, ok := p.numberWords(j, true)
		if !ok || v > 999 {
			return 0, time.Time{}, false
		}
		n, k = int(v), e
	}
	u, ok := unitDays[d.w(k+1)]
	if !ok || u.lang&p.lang == 0 {
		return 0, time.Time{}, false
	}
	end := k + 1
	if suffix {
		switch {
		case p.is(en) && d.w(end+1) == "ago":
			sign, end = -1, end+1
		case p.is(en) && d.w(end+1) == "from" && (d.w(end+2) == "now" || d.w(end+2) == "today"):
			end += 2
		default:
			return 0, time.Time{}, false
		}
	}
	n *= sign
	if u.months == 0 {
		return end, p.today.AddDate(0, 0, n*u.days), true
	}
	months := n * u.months
	y, m := p.today.Year(), int(p.today.Month())-1+months
	y += m / 12
	if m %= 12; m < 0 {
		m += 12
		y--
	}
	day := min(p.today.Day(), civil(y, time.Month(m+2), 0).Day())
	return end, civil(y, time.Month(m+1), day), true
}

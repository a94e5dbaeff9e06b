package entity

import "strconv"

// hourWords are hours written as words.
var hourWords = func() map[string]langNum {
	m := map[string]langNum{}
	for i, w := range []string{"una", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez", "once", "doce"} {
		m[w] = langNum{i + 1, es}
	}
	m["uno"] = langNum{1, es}
	for i, w := range []string{"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"} {
		m[w] = langNum{i + 1, en}
	}
	return m
}()

// Parts of the day, and how they move an hour written 1 to 12.
const (
	dayNone = iota
	dayAM
	dayPM
	dayNight // 6-11 are p.m., 12 is midnight, 1-5 stay
	dayNoon  // 12 stays, 1-5 are p.m.
)

// afterHour are the words that may follow a bare hour after "a las" or
// "at" and still leave it a time.
var afterHour = map[string]bool{
	"hoy": true, "manana": true, "pasado": true, "por": true, "en": true, "el": true, "del": true, "y": true, "o": true,
	"que": true, "para": true, "porfa": true, "favor": true, "entonces": true, "aproximadamente": true, "mas": true,
	"today": true, "tomorrow": true, "tonight": true, "on": true, "or": true, "and": true, "then": true, "please": true,
	"sharp": true, "ish": true, "latest": true,
}

// clock reads a time of day at token i and returns its last token, hour
// and minute: a las 3 de la tarde, las 3 y media, 15:30, 15h30, 3pm,
// 3:30 p. m., at 3, at noon, mediodía, half past 3, quarter to 4.
func (p *parser) clock(i int) (int, int, int, bool) {
	d := p.d
	// marker: 0 none, 1 "las" (a time if qualified), 2 "a las" or "at".
	j, marker := i, 0
	switch w := d.w(i); {
	case p.is(es) && w == "a" && (d.w(i+1) == "las" || d.w(i+1) == "la"):
		j, marker = i+2, 2
	case p.is(es) && (w == "las" || w == "la"):
		j, marker = i+1, 1
	case p.is(es) && (w == "al" || w == "a") && (d.w(i+1) == "mediodia" || d.w(i+1) == "medianoche"):
		j = i + 1
	case p.is(en) && w == "at":
		j, marker = i+1, 2
	}
	switch w := d.w(j); {
	case p.is(es) && w == "mediodia" || p.is(en) && w == "noon":
		return j, 12, 0, true
	case p.is(es) && w == "medianoche" || p.is(en) && w == "midnight":
		return j, 0, 0, true
	}

	// English: half past 3, a quarter past 3, quarter to 4.
	if p.is(en) {
		k, before := j, 0
		if d.w(k) == "a" && d.w(k+1) == "quarter" {
			k++
		}
		switch {
		case d.w(k) == "half" && d.w(k+1) == "past":
			before = 30
		case d.w(k) == "quarter" && d.w(k+1) == "past":
			before = 15
		case d.w(k) == "quarter" && d.w(k+1) == "to":
			before = -15
		}
		if before != 0 {
			if h, end, _, ok := p.hour(k + 2); ok && h >= 1 && h <= 12 {
				m := before
				if m < 0 {
					h, m = h-1, 60+m
					if h == 0 {
						h = 12
					}
				}
				if e, pm, ok := p.meridiem(end + 1); ok {
					if h < 12 && pm {
						h += 12
					} else if h == 12 && !pm {
						h = 0
					}
					return e, h, m, true
				}
				end, h = p.dayPart(end, h)
				return end, h % 24, m, true
			}
			return 0, 0, 0, false
		}
	}

	h, end, digits, ok := p.hour(j)
	if !ok {
		return 0, 0, 0, false
	}
	m, explicit := 0, false
	// 15:30, 15:30:00, 15h30
	if digits && d.adj(end+1) && d.adj(end+2) && len(d.n(end+2)) == 2 && (d.p(end+1) == ":" || d.w(end+1) == "h") {
		m, _ = strconv.Atoi(d.n(end + 2))
		end, explicit = end+2, true
		if d.p(end+1) == ":" && d.adj(end+1) && d.adj(end+2) && len(d.n(end+2)) == 2 {
			end += 2
		}
		if m > 59 {
			return 0, 0, 0, false
		}
	}
	// Spanish: y media, y cuarto, y 20, menos cuarto, menos 10.
	if !explicit && p.is(es) && h <= 12 {
		switch w := d.w(end + 1); w {
		case "y", "menos":
			mm, e, ok := 0, end+2, true
			switch {
			case d.w(end+2) == "media" && w == "y":
				mm = 30
			case d.w(end+2) == "cuarto":
				mm = 15
			case d.n(end+2) != "" && len(d.n(end+2)) <= 2:
				mm, _ = strconv.Atoi(d.n(end + 2))
			default:
				var v int64
				v, e, ok = p.numberWords(end+2, false)
				mm = int(v)
			}
			if ok && mm >= 1 && mm <= 59 {
				if w == "menos" {
					h, mm = h-1, 60-mm
					if h < 0 {
						h = 23
					}
				}
				m, end, explicit = mm, e, true
			}
		}
	}
	qualified := explicit
	// en punto, o'clock
	if p.is(es) && d.w(end+1) == "en" && d.w(end+2) == "punto" {
		end, qualified = end+2, true
	} else if p.is(en) && d.w(end+1) == "o" && d.p(end+2) == "'" && d.w(end+3) == "clock" {
		end, qualified = end+3, true
	} else if p.is(en) && d.w(end+1) == "oclock" {
		end, qualified = end+1, true
	}
	// a.m., p. m., am, pm, hrs
	if e, pm, ok := p.meridiem(end + 1); ok {
		if h > 12 && !(h < 24 && pm) {
			return 0, 0, 0, false
		}
		if h < 12 && pm {
			h += 12
		} else if h == 12 && !pm {
			h = 0
		}
		return e, h % 24, m, true
	}
	if digits && marker > 0 {
		if w := d.w(end + 1); w == "hrs" || w == "hr" || w == "h" || w == "horas" {
			end, qualified = end+1, true
		}
	}
	e, h2 := p.dayPart(end, h)
	if e > end {
		return e, h2, m, true
	}
	if !qualified {
		// "las 3" is a time, "las dos" perhaps not: "quiero las dos".
		if marker == 0 || marker == 1 && !digits {
			return 0, 0, 0, false
		}
		// A bare hour after "a las" or "at": not "las 3 facturas".
		if w := d.w(end + 1); w != "" && !afterHour[w] {
			return 0, 0, 0, false
		}
	}
	if h == 24 && m == 0 {
		h = 0
	}
	if h > 23 {
		return 0, 0, 0, false
	}
	return end, h, m, true
}

// hour reads an hour, 0 to 24, in digits or words at token j.
func (p *parser) hour(j int) (h, end int, digits, ok bool) {
	d := p.d
	if s := d.n(j); s != "" {
		if len(s) > 2 || d.adj(j) && (d.alnum(j-1) || d.p(j-1) != "" && d.adj(j-1) && d.n(j-2) != "") {
			return 0, 0, false, false
		}
		h, _ = strconv.Atoi(s)
		return h, j, true, h <= 24
	}
	if hw, ok := hourWords[d.w(j)]; ok && hw.lang&p.lang != 0 {
		return hw.v, j, false, true
	}
	return 0, 0, false, false
}

// meridiem reads am, pm, a.m., p. m. at token j and returns its last token.
func (p *parser) meridiem(j int) (int, bool, bool) {
	d := p.d
	switch d.w(j) {
	case "am":
		return p.dot(j), false, true
	case "pm":
		return p.dot(j), true, true
	case "a", "p":
		pm := d.w(j) == "p"
		if d.p(j+1) == "." && d.adj(j+1) && d.w(j+2) == "m" && (d.adj(j+2) || d.between(j+2) == " ") {
			return p.dot(j + 2), pm, true
		}
	}
	return 0, false, false
}

// dot returns j+1 when a dot touches token j, else j.
func (p *parser) dot(j int) int {
	if p.d.p(j+1) == "." && p.d.adj(j+1) {
		return j + 1
	}
	return j
}

// dayPart reads de la tarde, por la mañana, in the evening, at night …
// after token end and returns its last token and the hour it makes of h.
func (p *parser) dayPart(end, h int) (int, int) {
	d := p.d
	part, e := dayNone, end
	if p.is(es) {
		if w := d.w(end + 1); (w == "de" || w == "por" || w == "en") && d.w(end+2) == "la" {
			switch d.w(end + 3) {
			case "manana":
				part, e = dayAM, end+3
			case "madrugada":
				part, e = dayNight, end+3
			case "tarde":
				part, e = dayPM, end+3
			case "noche":
				part, e = dayNight, end+3
			}
		} else if w == "del" && d.w(end+2) == "mediodia" {
			part, e = dayNoon, end+2
		}
	}
	if part == dayNone && p.is(en) {
		switch {
		case d.w(end+1) == "in" && d.w(end+2) == "the":
			switch d.w(end + 3) {
			case "morning":
				part, e = dayAM, end+3
			case "afternoon", "evening":
				part, e = dayPM, end+3
			}
		case d.w(end+1) == "at" && d.w(end+2) == "night":
			part, e = dayNight, end+2
		case d.w(end+1) == "tonight":
			part, e = dayNight, end+1
		}
	}
	if part == dayNone || h > 12 {
		return end, h
	}
	switch part {
	case dayPM:
		if h < 12 {
			h += 12
		}
	case dayNight:
		switch {
		case d.w(e) == "madrugada":
			if h == 12 {
				h = 0
			}
		case h == 12:
			h = 0
		case h >= 6:
			h += 12
		}
	case dayNoon:
		if h < 6 {
			h += 12
		}
	}
	return e, h
}

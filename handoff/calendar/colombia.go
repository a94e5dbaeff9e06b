package calendar

import (
	"slices"
	"sync"
	"time"
)

// Colombia returns Colombia's public holidays of a year (Ley 51 de 1983 and
// the holidays that follow Easter). Holidays of the Emiliani law move to the
// following Monday when they fall on another day; two holidays may then
// share a Monday (2025-06-30). The result is sorted by date.
func Colombia(year int) []Holiday {
	colombiaMu.Lock()
	defer colombiaMu.Unlock()
	if hs, ok := colombiaCache[year]; ok {
		return hs
	}
	fixed := func(m time.Month, d int, name string) Holiday {
		return Holiday{Date{year, m, d}, name}
	}
	monday := func(d Date, name string) Holiday {
		for d.Weekday() != time.Monday {
			d = d.AddDays(1)
		}
		return Holiday{d, name}
	}
	easter := Easter(year)
	hs := []Holiday{
		fixed(time.January, 1, "Año Nuevo"),
		monday(Date{year, time.January, 6}, "Día de los Reyes Magos"),
		monday(Date{year, time.March, 19}, "Día de San José"),
		{easter.AddDays(-3), "Jueves Santo"},
		{easter.AddDays(-2), "Viernes Santo"},
		fixed(time.May, 1, "Día del Trabajo"),
		monday(easter.AddDays(39), "Ascensión del Señor"),
		monday(easter.AddDays(60), "Corpus Christi"),
		monday(easter.AddDays(68), "Sagrado Corazón de Jesús"),
		monday(Date{year, time.June, 29}, "San Pedro y San Pablo"),
		fixed(time.July, 20, "Día de la Independencia"),
		fixed(time.August, 7, "Batalla de Boyacá"),
		monday(Date{year, time.August, 15}, "La Asunción de la Virgen"),
		monday(Date{year, time.October, 12}, "Día de la Raza"),
		monday(Date{year, time.November, 1}, "Todos los Santos"),
		monday(Date{year, time.November, 11}, "Independencia de Cartagena"),
		fixed(time.December, 8, "Día de la Inmaculada Concepción"),
		fixed(time.December, 25, "Navidad"),
	}
	slices.SortStableFunc(hs, func(a, b Holiday) int {
		return a.Date.In(time.UTC).Compare(b.Date.In(time.UTC))
	})
	colombiaCache[year] = hs
	return hs
}

var (
	colombiaMu    sync.Mutex
	colombiaCache = map[int][]Holiday{}
)

// Easter returns Easter Sunday of a year of the Gregorian calendar (the
// anonymous Gregorian algorithm of Meeus/Jones/Butcher).
func Easter(year int) Date {
	a := year % 19
	b, c := year/100, year%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return Date{year, time.Month(month), day}
}

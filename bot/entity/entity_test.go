package entity_test

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata"

	"conversa/bot/entity"
)

// now is Saturday 21 November 2026, 10:00 in Bogotá.
var now = time.Date(2026, 11, 21, 10, 0, 0, 0, bogota())

func bogota() *time.Location {
	loc, err := time.LoadLocation("America/Bogota")
	if err != nil {
		panic(err)
	}
	return loc
}

// want is an expected match: its span is the first one in the text after
// the previous match.
type want struct{ entity, span, value string }

func m(entity, span, value string) want { return want{entity, span, value} }

type extractCase struct {
	name, lang, text string
	want             []want
}

var builtinCases = []extractCase{
	// number
	{"number plain", "es", "quiero 3000 unidades", []want{m("number", "3000", "3000")}},
	{"number es grouping and decimal", "es", "son 1.234,5 pesos", []want{m("number", "1.234,5", "1234.5")}},
	{"number en grouping and decimal", "en", "it is 1,234.5 dollars", []want{m("number", "1,234.5", "1234.5")}},
	{"number es thousands", "es", "cuesta $1.500.000", []want{m("number", "1.500.000", "1500000")}},
	{"number es decimal comma", "es", "pesa 2,5 kilos", []want{m("number", "2,5", "2.5")}},
	{"number en decimal point", "en", "about 1.234 grams", []want{m("number", "1.234", "1.234")}},
	{"number es dot is grouping", "es", "unos 1.234 gramos", []want{m("number", "1.234", "1234")}},
	{"number trailing zeros", "es", "vale 12,50", []want{m("number", "12,50", "12.5")}},
	{"number percent", "es", "un 20% de descuento", []want{m("number", "20", "20")}},
	{"number digits and mil", "es", "me cobraron 50 mil", []want{m("number", "50 mil", "50000")}},
	{"number digits and millones", "es", "son 1,5 millones", []want{m("number", "1,5 millones", "1500000")}},
	{"number k", "en", "about 10k", []want{m("number", "10k", "10000")}},
	{"number word cinco", "es", "quiero cinco", []want{m("number", "cinco", "5")}},
	{"number word veintitrés", "es", "tengo veintitrés años", []want{m("number", "veintitrés", "23")}},
	{"number word cien", "es", "cien por ciento", []want{m("number", "cien", "100"), m("number", "ciento", "100")}},
	{"number word doscientos cincuenta", "es", "son doscientos cincuenta pesos", []want{m("number", "doscientos cincuenta", "250")}},
	{"number word mil", "es", "mil gracias", []want{m("number", "mil", "1000")}},
	{"number word treinta y cinco", "es", "treinta y cinco cajas", []want{m("number", "treinta y cinco", "35")}},
	{"number word dos mil veintiséis", "es", "en dos mil veintiséis", []want{m("number", "dos mil veintiséis", "2026")}},
	{"number word un millón doscientos mil", "es", "un millón doscientos mil", []want{m("number", "un millón doscientos mil", "1200000")}},
	{"number word ciento un", "es", "ciento un dálmatas", []want{m("number", "ciento un", "101")}},
	{"number word five", "en", "five boxes", []want{m("number", "five", "5")}},
	{"number word twenty-three", "en", "twenty-three items", []want{m("number", "twenty-three", "23")}},
	{"number word one hundred", "en", "one hundred dollars", []want{m("number", "one hundred", "100")}},
	{"number word a hundred and five", "en", "a hundred and five", []want{m("number", "a hundred and five", "105")}},
	{"number word two thousand", "en", "two thousand twenty six", []want{m("number", "two thousand twenty six", "2026")}},
	{"number article alone is not one", "es", "quiero una factura", nil},
	{"number this one is not one", "en", "I want this one", nil},
	{"number English once is not eleven", "", "I called once", nil},
	{"number order number", "es", "mi pedido 48213 no llegó", []want{m("number", "48213", "48213")}},
	{"number alphanumeric code", "es", "el código es AB123 y el ticket X-4521", nil},
	{"number code with digits first", "en", "ref 123abc please", nil},
	{"number several", "en", "3 apples and 4 pears", []want{m("number", "3", "3"), m("number", "4", "4")}},
	{"number IP is not a number", "en", "ping 192.168.0.1", nil},
	{"number in both languages", "", "cinco or five", []want{m("number", "cinco", "5"), m("number", "five", "5")}},
	{"number wrong language", "en", "cinco", nil},
	{"number a is not English before mil", "", "a mil pesos", []want{m("number", "mil", "1000")}},
	{"number decimal", "es", "mido 1,75", []want{m("number", "1,75", "1.75")}},

	// email
	{"email", "es", "mi correo es Juan.Perez@Example.COM gracias", []want{m("email", "Juan.Perez@Example.COM", "juan.perez@example.com")}},
	{"email plus and subdomain", "en", "write to ana+soporte@mail.empresa.com.co.", []want{m("email", "ana+soporte@mail.empresa.com.co", "ana+soporte@mail.empresa.com.co")}},
	{"email digits are not numbers", "es", "soy pedro2026@gmail.com", []want{m("email", "pedro2026@gmail.com", "pedro2026@gmail.com")}},
	{"email without domain", "es", "arroba@ no es correo", nil},

	// phone
	{"phone mobile spaced", "es", "llámame al 300 123 4567", []want{m("phone", "300 123 4567", "+573001234567")}},
	{"phone international", "es", "mi número: +57 300 1234567", []want{m("phone", "+57 300 1234567", "+573001234567")}},
	{"phone landline parentheses", "es", "fijo (601) 234 5678", []want{m("phone", "(601) 234 5678", "+576012345678")}},
	{"phone solid", "es", "3001234567", []want{m("phone", "3001234567", "+573001234567")}},
	{"phone dashes", "es", "es el 300-123-4567", []want{m("phone", "300-123-4567", "+573001234567")}},
	{"phone country code without plus", "es", "57 300 123 4567", []want{m("phone", "57 300 123 4567", "+573001234567")}},
	{"phone international other country", "es", "en México +52 55 1234 5678", []want{m("phone", "+52 55 1234 5678", "+525512345678")}},
	{"phone short number is not a phone", "es", "pedido 48213", []want{m("number", "48213", "48213")}},
	{"phone amount is not a phone", "es", "me cobraron $3.000.000.000", []want{m("number", "3.000.000.000", "3000000000")}},
	{"phone after an order number", "es", "pedido 48213 tel 3001234567", []want{m("number", "48213", "48213"), m("phone", "3001234567", "+573001234567")}},
	{"phone not in a code", "es", "ref AB3001234567", nil},
	{"phone country code and parentheses", "es", "+57 (601) 234 5678", []want{m("phone", "+57 (601) 234 5678", "+576012345678")}},
	{"phone two with a comma", "es", "3001234567,3109876543", []want{m("phone", "3001234567", "+573001234567"), m("phone", "3109876543", "+573109876543")}},
	{"phone and extension", "es", "tel +57 601 2345678 ext 123", []want{m("phone", "+57 601 2345678", "+576012345678"), m("number", "123", "123")}},

	// date
	{"date mañana", "es", "¿pueden venir mañana?", []want{m("date", "mañana", "2026-11-22")}},
	{"date pasado mañana", "es", "pasado mañana", []want{m("date", "pasado mañana", "2026-11-23")}},
	{"date hoy", "es", "hoy no puedo", []want{m("date", "hoy", "2026-11-21")}},
	{"date ayer", "es", "ayer pagué", []want{m("date", "ayer", "2026-11-20")}},
	{"date la mañana is not a date", "es", "por la mañana", nil},
	{"date el 5 de marzo", "es", "el 5 de marzo", []want{m("date", "el 5 de marzo", "2027-03-05")}},
	{"date with year", "es", "nací el 5 de marzo de 2027", []want{m("date", "el 5 de marzo de 2027", "2027-03-05")}},
	{"date del year", "es", "5 de marzo del 2027", []want{m("date", "5 de marzo del 2027", "2027-03-05")}},
	{"date later this year", "es", "el 25 de noviembre", []want{m("date", "el 25 de noviembre", "2026-11-25")}},
	{"date today by name", "es", "21 de noviembre", []want{m("date", "21 de noviembre", "2026-11-21")}},
	{"date day in words", "es", "el cinco de marzo", []want{m("date", "el cinco de marzo", "2027-03-05")}},
	{"date primero", "es", "el primero de enero", []want{m("date", "el primero de enero", "2027-01-01")}},
	{"date el día", "es", "el día 30", []want{m("date", "el día 30", "2026-11-30")}},
	{"date el lunes", "es", "el lunes", []want{m("date", "el lunes", "2026-11-23")}},
	{"date el próximo lunes", "es", "el próximo lunes", []want{m("date", "el próximo lunes", "2026-11-23")}},
	{"date el sábado is next week", "es", "el sábado", []want{m("date", "el sábado", "2026-11-28")}},
	{"date este sábado is today", "es", "este sábado", []want{m("date", "este sábado", "2026-11-21")}},
	{"date el viernes que viene", "es", "el viernes que viene", []want{m("date", "el viernes que viene", "2026-11-27")}},
	{"date el lunes pasado", "es", "el lunes pasado", []want{m("date", "el lunes pasado", "2026-11-16")}},
	{"date los lunes is not a date", "es", "abren los lunes", nil},
	{"date day first", "es", "15/03/2026", []want{m("date", "15/03/2026", "2026-03-15")}},
	{"date day first no language", "", "03/04/2026", []want{m("date", "03/04/2026", "2026-04-03")}},
	{"date month first English", "en", "03/15/2026", []want{m("date", "03/15/2026", "2026-03-15")}},
	{"date month first ambiguous English", "en", "03/04/2026", []want{m("date", "03/04/2026", "2026-03-04")}},
	{"date month first when day first fails", "es", "03/15/2026", []want{m("date", "03/15/2026", "2026-03-15")}},
	{"date two-digit year", "es", "15-03-26", []want{m("date", "15-03-26", "2026-03-15")}},
	{"date dots", "es", "15.03.2026", []want{m("date", "15.03.2026", "2026-03-15")}},
	{"date ISO", "en", "2026-03-15", []want{m("date", "2026-03-15", "2026-03-15")}},
	{"date without year", "es", "el 15/03", []want{m("date", "el 15/03", "2027-03-15")}},
	{"date invalid is nothing", "es", "31/02/2026", nil},
	{"date tomorrow", "en", "tomorrow works", []want{m("date", "tomorrow", "2026-11-22")}},
	{"date day after tomorrow", "en", "the day after tomorrow", []want{m("date", "the day after tomorrow", "2026-11-23")}},
	{"date next friday", "en", "next friday", []want{m("date", "next friday", "2026-11-27")}},
	{"date last monday", "en", "last Monday", []want{m("date", "last Monday", "2026-11-16")}},
	{"date March 5", "en", "on March 5", []want{m("date", "March 5", "2027-03-05")}},
	{"date March 5th with year", "en", "March 5th, 2027", []want{m("date", "March 5th, 2027", "2027-03-05")}},
	{"date 5th of March", "en", "the 5th of March", []want{m("date", "5th of March", "2027-03-05")}},
	{"date 5 March", "en", "5 March", []want{m("date", "5 March", "2027-03-05")}},
	{"date abbreviated month", "en", "Dec. 24", []want{m("date", "Dec. 24", "2026-12-24")}},
	{"date twenty-first", "en", "the twenty-first of December", []want{m("date", "twenty-first of December", "2026-12-21")}},
	{"date in 3 days", "en", "in 3 days", []want{m("date", "in 3 days", "2026-11-24")}},
	{"date in a week", "en", "in a week", []want{m("date", "in a week", "2026-11-28")}},
	{"date en 3 días", "es", "en 3 días", []want{m("date", "en 3 días", "2026-11-24")}},
	{"date dentro de 3 días", "es", "dentro de 3 días", []want{m("date", "dentro de 3 días", "2026-11-24")}},
	{"date en tres semanas", "es", "en tres semanas", []want{m("date", "en tres semanas", "2026-12-12")}},
	{"date en un mes", "es", "en un mes", []want{m("date", "en un mes", "2026-12-21")}},
	{"date hace 2 días", "es", "hace 2 días", []want{m("date", "hace 2 días", "2026-11-19")}},
	{"date 2 weeks ago", "en", "2 weeks ago", []want{m("date", "2 weeks ago", "2026-11-07")}},
	{"date 3 days from now", "en", "3 days from now", []want{m("date", "3 days from now", "2026-11-24")}},
	{"date wrong language", "en", "mañana", nil},
	{"date weekday and day", "es", "el martes 3 de diciembre", []want{m("date", "el martes 3 de diciembre", "2026-12-03")}},
	{"date weekday and day en", "en", "Thursday, December 3", []want{m("date", "Thursday, December 3", "2026-12-03")}},
	{"date leap day", "es", "29 de febrero", []want{m("date", "29 de febrero", "2028-02-29")}},
	{"date 31 de abril is no date", "es", "el 31 de abril", []want{m("number", "31", "31")}},
	{"date hoy en día is not today", "es", "hoy en día", nil},
	{"date hace un año", "es", "hace un año", []want{m("date", "hace un año", "2025-11-21")}},
	{"date in two weeks", "en", "in two weeks", []want{m("date", "in two weeks", "2026-12-05")}},
	{"date a month from now", "en", "a month from now", []want{m("date", "a month from now", "2026-12-21")}},

	// time
	{"time a las 3 de la tarde", "es", "a las 3 de la tarde", []want{m("time", "a las 3 de la tarde", "15:00")}},
	{"time a las tres de la tarde", "es", "a las tres de la tarde", []want{m("time", "a las tres de la tarde", "15:00")}},
	{"time a la una", "es", "a la una", []want{m("time", "a la una", "01:00")}},
	{"time a las 10 de la noche", "es", "a las 10 de la noche", []want{m("time", "a las 10 de la noche", "22:00")}},
	{"time a las 12 de la noche", "es", "a las 12 de la noche", []want{m("time", "a las 12 de la noche", "00:00")}},
	{"time a las 8 de la mañana", "es", "a las 8 de la mañana", []want{m("time", "a las 8 de la mañana", "08:00")}},
	{"time y media", "es", "a las 3 y media", []want{m("time", "a las 3 y media", "03:30")}},
	{"time menos cuarto", "es", "a las 4 menos cuarto de la tarde", []want{m("time", "a las 4 menos cuarto de la tarde", "15:45")}},
	{"time y veinte", "es", "las 5 y veinte de la tarde", []want{m("time", "las 5 y veinte de la tarde", "17:20")}},
	{"time bare after a las", "es", "a las 3", []want{m("time", "a las 3", "03:00")}},
	{"time clock", "es", "a las 15:30", []want{m("time", "a las 15:30", "15:30")}},
	{"time clock alone", "en", "15:30", []want{m("time", "15:30", "15:30")}},
	{"time h", "es", "15h30", []want{m("time", "15h30", "15:30")}},
	{"time 3pm", "en", "3pm", []want{m("time", "3pm", "15:00")}},
	{"time 3:30 p.m.", "en", "3:30 p.m.", []want{m("time", "3:30 p.m.", "15:30")}},
	{"time 3 p. m.", "es", "3 p. m.", []want{m("time", "3 p. m.", "15:00")}},
	{"time 12am", "en", "12am", []want{m("time", "12am", "00:00")}},
	{"time 12 pm", "en", "12 PM", []want{m("time", "12 PM", "12:00")}},
	{"time at noon", "en", "at noon", []want{m("time", "at noon", "12:00")}},
	{"time midnight", "en", "midnight", []want{m("time", "midnight", "00:00")}},
	{"time mediodía", "es", "al mediodía", []want{m("time", "al mediodía", "12:00")}},
	{"time medianoche", "es", "a medianoche", []want{m("time", "a medianoche", "00:00")}},
	{"time at 3", "en", "call me at 3", []want{m("time", "at 3", "03:00")}},
	{"time at 3 in the afternoon", "en", "at 3 in the afternoon", []want{m("time", "at 3 in the afternoon", "15:00")}},
	{"time o'clock", "en", "at five o'clock", []want{m("time", "at five o'clock", "05:00")}},
	{"time half past", "en", "half past 3 pm", []want{m("time", "half past 3 pm", "15:30")}},
	{"time quarter to", "en", "quarter to 4", []want{m("time", "quarter to 4", "03:45")}},
	{"time at 3 locations is not a time", "en", "at 3 locations", []want{m("number", "3", "3")}},
	{"time las dos facturas is not a time", "es", "las dos facturas", []want{m("number", "dos", "2")}},
	{"time 24 horas is not a time", "es", "atención 24 horas", []want{m("number", "24", "24")}},
	{"time invalid minutes", "en", "12:75", []want{m("number", "12", "12"), m("number", "75", "75")}},
	{"time las with digits", "es", "entre las 2 y las 4", []want{m("time", "las 2", "02:00"), m("time", "las 4", "04:00")}},
	{"time 24h marker", "es", "a las 08:00 hrs", []want{m("time", "a las 08:00 hrs", "08:00")}},
	{"time 11:59 pm", "en", "11:59 pm", []want{m("time", "11:59 pm", "23:59")}},

	// together
	{"date and time", "es", "Mañana a las 3 de la tarde", []want{m("date", "Mañana", "2026-11-22"), m("time", "a las 3 de la tarde", "15:00")}},
	{"date and time en", "en", "next Friday at 10:30am", []want{m("date", "next Friday", "2026-11-27"), m("time", "at 10:30am", "10:30")}},
	{"date numeric and time", "es", "el 15/03/2026 15:30", []want{m("date", "el 15/03/2026", "2026-03-15"), m("time", "15:30", "15:30")}},
	{"everything", "es", "Soy Ana, ana@x.co, cel 3001234567; quiero 2 cajas el lunes a las 9 de la mañana",
		[]want{m("email", "ana@x.co", "ana@x.co"), m("phone", "3001234567", "+573001234567"), m("number", "2", "2"),
			m("date", "el lunes", "2026-11-23"), m("time", "a las 9 de la mañana", "09:00")}},
	{"accents decomposed", "es", "el próximo lunes", []want{m("date", "el próximo lunes", "2026-11-23")}},
	{"upper case", "es", "EL PRÓXIMO LUNES", []want{m("date", "EL PRÓXIMO LUNES", "2026-11-23")}},
	{"no language", "", "tomorrow o mañana", []want{m("date", "tomorrow", "2026-11-22"), m("date", "mañana", "2026-11-22")}},
	{"empty", "es", "", nil},
	{"emoji only", "es", "😀👍🏽❤️", nil},
	{"invalid UTF-8", "es", "pago \xff\xfe 300 mañana\xc3", []want{m("number", "300", "300"), m("date", "mañana", "2026-11-22")}},
}

func check(t *testing.T, text string, got []entity.Match, want []want) {
	t.Helper()
	var exp []entity.Match
	from := 0
	for _, w := range want {
		start := strings.Index(text[from:], w.span)
		if start < 0 {
			t.Fatalf("bad test: no span %q in %q", w.span, text[from:])
		}
		start += from
		from = start + len(w.span)
		exp = append(exp, entity.Match{Entity: w.entity, Start: start, End: from, Text: w.span, Value: w.value})
	}
	if fmt.Sprint(got) != fmt.Sprint(exp) {
		t.Errorf("Extract(%q)\n got %v\nwant %v", text, got, exp)
	}
}

func TestBuiltIns(t *testing.T) {
	x, err := entity.New(entity.Options{Location: bogota()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range builtinCases {
		t.Run(tt.name, func(t *testing.T) {
			check(t, tt.text, x.Extract(tt.text, tt.lang, now), tt.want)
		})
	}
}

func TestOffsets(t *testing.T) {
	x, err := entity.New(entity.Options{Location: bogota()})
	if err != nil {
		t.Fatal(err)
	}
	// "Mañana" is 7 bytes; the time starts after "Mañana " at byte 8.
	text := "Mañana a las 3pm, Bogotá"
	got := x.Extract(text, "es", now)
	want := []entity.Match{
		{Entity: "date", Start: 0, End: 7, Text: "Mañana", Value: "2026-11-22"},
		{Entity: "time", Start: 8, End: 17, Text: "a las 3pm", Value: "15:00"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	// A combining accent belongs to the span of its letter.
	text = "el proxi\u0301mo lunes"
	got = x.Extract(text, "es", now)
	if len(got) != 1 || got[0].Start != 0 || got[0].End != len(text) {
		t.Errorf("decomposed accents: got %v", got)
	}
}

func TestRegions(t *testing.T) {
	tests := []struct {
		region, text, value string
	}{
		{"CO", "300 123 4567", "+573001234567"},
		{"CO", "(601) 234 5678", "+576012345678"},
		{"MX", "55 1234 5678", "+525512345678"},
		{"US", "(415) 555-2671", "+14155552671"},
		{"US", "1-800-555-0199", "+18005550199"},
		{"PE", "987 654 321", "+51987654321"},
		{"PE", "(01) 234-5678", "+5112345678"},
		{"CL", "9 8765 4321", "+56987654321"},
		{"AR", "011 4321-5678", "+541143215678"},
		{"AR", "+54 9 11 4321 5678", "+5491143215678"},
		{"EC", "099 123 4567", "+593991234567"},
		{"EC", "02 234 5678", "+59322345678"},
		{"ec", "+1 415 555 2671", "+14155552671"},
		{"", "+44 20 7946 0958", "+442079460958"},
	}
	for _, tt := range tests {
		t.Run(tt.region+" "+tt.text, func(t *testing.T) {
			x, err := entity.New(entity.Options{Region: tt.region, BuiltIns: []string{"phone"}})
			if err != nil {
				t.Fatal(err)
			}
			check(t, tt.text, x.Extract(tt.text, "", now), []want{m("phone", tt.text, tt.value)})
		})
	}
	t.Run("wrong length for the region", func(t *testing.T) {
		x, err := entity.New(entity.Options{Region: "CO", BuiltIns: []string{"phone"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := x.Extract("987 654 321", "", now); got != nil {
			t.Errorf("got %v", got)
		}
	})
}

func TestDefinitions(t *testing.T) {
	x, err := entity.New(entity.Options{
		Lists: []entity.List{
			{Name: "city", Values: []entity.ListValue{
				{Value: "Bogotá", Synonyms: []string{"bogota", "bta", "la capital"}},
				{Value: "Medellín", Synonyms: []string{"medallo"}},
				{Value: "Cali"},
			}},
			{Name: "plan", Values: []entity.ListValue{
				{Value: "premium", Synonyms: []string{"plan premium", "plan 5"}},
				{Value: "S.A.S.", Synonyms: []string{"sas"}},
			}},
			{Name: "shift", Values: []entity.ListValue{{Value: "morning", Synonyms: []string{"mañana", "la mañana"}}}},
		},
		Regexes: []entity.Regex{
			{Name: "order", Pattern: `(?i)\bPED-(?P<order>\d{4,})\b`},
			{Name: "ticket", Pattern: `#[A-Z]{2}\d{3}`},
		},
		Location: bogota(),
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, lang, text string
		want             []want
	}{
		{"canonical value", "es", "vivo en Bogotá", []want{m("city", "Bogotá", "Bogotá")}},
		{"synonym without accent and case", "es", "vivo en BOGOTA", []want{m("city", "BOGOTA", "Bogotá")}},
		{"multi-word synonym", "es", "vivo en la capital", []want{m("city", "la capital", "Bogotá")}},
		{"multi-word synonym with spaces", "es", "en la   Capital.", []want{m("city", "la   Capital", "Bogotá")}},
		{"whole words only", "es", "bogotano y bta2", nil},
		{"several", "es", "de Medallo a Cali", []want{m("city", "Medallo", "Medellín"), m("city", "Cali", "Cali")}},
		{"list beats a shorter number", "es", "el plan 5", []want{m("plan", "plan 5", "premium")}},
		{"punctuation in a synonym", "es", "es una S.A.S. o sas", []want{m("plan", "S.A.S.", "S.A.S."), m("plan", "sas", "S.A.S.")}},
		{"list over built-in of same length", "es", "mañana", []want{m("shift", "mañana", "morning")}},
		{"longer built-in over list", "es", "el lunes por la mañana", []want{m("date", "el lunes", "2026-11-23"), m("shift", "la mañana", "morning")}},
		{"regex named group", "es", "mi pedido PED-12345", []want{m("order", "12345", "12345")}},
		{"regex whole match", "es", "ticket #AB123", []want{m("ticket", "#AB123", "#AB123")}},
		{"regex and built-ins", "es", "PED-2026 llega mañana a las 3pm", []want{m("order", "2026", "2026"), m("shift", "mañana", "morning"), m("time", "a las 3pm", "15:00")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, tt.text, x.Extract(tt.text, tt.lang, now), tt.want)
		})
	}
}

func TestSelectedBuiltIns(t *testing.T) {
	x, err := entity.New(entity.Options{BuiltIns: []string{"number"}})
	if err != nil {
		t.Fatal(err)
	}
	// Digits inside a phone, date or time are no number even when those
	// built-ins are off.
	text := "llama al 300 123 4567 el 15/03/2026 a las 15:30, son cinco cajas"
	check(t, text, x.Extract(text, "es", now), []want{m("number", "cinco", "5")})

	none, err := entity.New(entity.Options{BuiltIns: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := none.Extract(text, "es", now); got != nil {
		t.Errorf("no built-ins: got %v", got)
	}
	if got := entity.BuiltIns(); len(got) != 5 {
		t.Errorf("BuiltIns() = %v", got)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name   string
		opts   entity.Options
		entity string
		field  string
		is     error
	}{
		{"bad regex", entity.Options{Regexes: []entity.Regex{{Name: "order", Pattern: `PED-(\d+`}}}, "order", "pattern", nil},
		{"empty pattern", entity.Options{Regexes: []entity.Regex{{Name: "order"}}}, "order", "pattern", entity.ErrEmpty},
		{"duplicate list", entity.Options{Lists: []entity.List{
			{Name: "city", Values: []entity.ListValue{{Value: "Cali"}}},
			{Name: "city", Values: []entity.ListValue{{Value: "Pasto"}}},
		}}, "city", "name", entity.ErrDuplicate},
		{"list and regex share a name", entity.Options{
			Lists:   []entity.List{{Name: "code", Values: []entity.ListValue{{Value: "A"}}}},
			Regexes: []entity.Regex{{Name: "code", Pattern: `\d+`}},
		}, "code", "name", entity.ErrDuplicate},
		{"name of a built-in", entity.Options{Regexes: []entity.Regex{{Name: "email", Pattern: `x`}}}, "email", "name", entity.ErrDuplicate},
		{"unknown built-in", entity.Options{BuiltIns: []string{"number", "money"}}, "money", "builtins", entity.ErrUnknownBuiltIn},
		{"empty list", entity.Options{Lists: []entity.List{{Name: "city"}}}, "city", "values", entity.ErrEmpty},
		{"empty synonym", entity.Options{Lists: []entity.List{{Name: "city", Values: []entity.ListValue{{Value: "Cali", Synonyms: []string{" "}}}}}}, "city", "values[0].synonyms[0]", entity.ErrEmpty},
		{"synonym of two values", entity.Options{Lists: []entity.List{{Name: "city", Values: []entity.ListValue{
			{Value: "Bogotá", Synonyms: []string{"capital"}},
			{Value: "Lima", Synonyms: []string{"Capital"}},
		}}}}, "city", "values[1].synonyms[0]", entity.ErrDuplicate},
		{"no name", entity.Options{Lists: []entity.List{{Values: []entity.ListValue{{Value: "x"}}}}}, "", "name", entity.ErrEmpty},
		{"unknown region", entity.Options{Region: "XX"}, "phone", "region", entity.ErrUnknownRegion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := entity.New(tt.opts)
			var de *entity.DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DefinitionError", err)
			}
			if de.Entity != tt.entity || de.Field != tt.field {
				t.Errorf("err = %v: entity %q field %q, want %q %q", err, de.Entity, de.Field, tt.entity, tt.field)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want errors.Is %v", err, tt.is)
			}
			if tt.is == nil {
				var se *syntax.Error
				if !errors.As(err, &se) {
					t.Errorf("err = %v, want a *syntax.Error inside", err)
				}
			}
			if !strings.Contains(err.Error(), tt.entity) {
				t.Errorf("err %q does not name the entity", err)
			}
		})
	}
}

func TestLocation(t *testing.T) {
	// 02:00 UTC on Sunday is still Saturday evening in Bogotá.
	at := time.Date(2026, 11, 22, 2, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		loc  *time.Location
		want string
	}{{nil, "2026-11-23"}, {bogota(), "2026-11-22"}} {
		x, err := entity.New(entity.Options{Location: tt.loc})
		if err != nil {
			t.Fatal(err)
		}
		got := x.Extract("mañana", "es", at)
		if len(got) != 1 || got[0].Value != tt.want {
			t.Errorf("location %v: got %v, want %s", tt.loc, got, tt.want)
		}
	}
}

func TestConcurrent(t *testing.T) {
	x, err := entity.New(entity.Options{Location: bogota()})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for _, tt := range builtinCases {
				x.Extract(tt.text, tt.lang, now)
			}
		})
	}
	wg.Wait()
}

func TestHuge(t *testing.T) {
	x, err := entity.New(entity.Options{Location: bogota()})
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"words":   strings.Repeat("el lunes a las 3 pago 1.234,5 a ana@x.co o al 300 123 4567 ", 1700),
		"digits":  strings.Repeat("1", 100_000),
		"groups":  strings.Repeat("1 ", 50_000),
		"dots":    strings.Repeat("1.", 50_000),
		"numbers": strings.Repeat("mil millones ", 8000),
		"emoji":   strings.Repeat("😡", 25_000),
		"at":      strings.Repeat("a@", 50_000),
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			got := x.Extract(text, "", now)
			if d := time.Since(start); d > 10*time.Second { // linear: quadratic would take minutes
				t.Errorf("took %v", d)
			}
			checkInvariants(t, text, got)
		})
	}
}

func checkInvariants(t *testing.T, text string, got []entity.Match) {
	t.Helper()
	end := 0
	for _, m := range got {
		if m.Start < end || m.Start >= m.End || m.End > len(text) {
			t.Fatalf("bad span %d:%d after %d in %d bytes: %v", m.Start, m.End, end, len(text), m)
		}
		if text[m.Start:m.End] != m.Text {
			t.Fatalf("text[%d:%d] = %q, Text %q", m.Start, m.End, text[m.Start:m.End], m.Text)
		}
		if m.Entity == "" || m.Value == "" {
			t.Fatalf("empty entity or value: %v", m)
		}
		end = m.End
	}
}

func BenchmarkExtract(b *testing.B) {
	x, err := entity.New(entity.Options{
		Lists:    []entity.List{{Name: "city", Values: []entity.ListValue{{Value: "Bogotá", Synonyms: []string{"bogota", "bta", "la capital"}}}}},
		Regexes:  []entity.Regex{{Name: "order", Pattern: `PED-\d+`}},
		Location: bogota(),
	})
	if err != nil {
		b.Fatal(err)
	}
	text := "Hola, quiero cambiar la entrega del pedido PED-48213 para el próximo lunes a las 3 de la tarde en Bogotá, mi cel es 300 123 4567"
	b.ReportAllocs()
	for b.Loop() {
		x.Extract(text, "", now)
	}
}

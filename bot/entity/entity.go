// Package entity finds entities in a contact's message, in Spanish and
// English: the built-in number, email, phone, date and time, and the
// list and regular-expression entities of a bot definition. Each match
// carries its span in the original text and a normalized value.
//
// The built-ins understand:
//
//   - number: digits, with "." and "," read as grouping or decimals
//     ("1.234,5", "1,234.5"; a lone "1.234" is 1234 except in English),
//     a multiplier after them ("50 mil", "1,5 millones", "10k"), and
//     numbers in words ("veintitrés", "doscientos cincuenta", "dos mil
//     veintiséis", "twenty-three", "a hundred and five"). Digits inside a
//     code ("AB123", "X-4521"), an email, a phone, a date or a time are
//     not numbers, even when those built-ins are off; "un", "una", "a"
//     alone are not one.
//   - email: lower-cased.
//   - phone: digit groups separated by a space, "-" or ".", the first
//     perhaps in parentheses, perhaps after "+" and a country code, that
//     make a number of the Options.Region's plan (length and leading
//     digits, trunk prefix dropped) or, after "+", of a known country or
//     of 8 to 15 digits. The value is E.164.
//   - date: hoy, mañana, pasado mañana, ayer, today, tomorrow, the day
//     after tomorrow; weekdays ("el lunes", "el próximo lunes", "el lunes
//     que viene", "este lunes", "el lunes pasado", "next friday", "this
//     friday", "last monday"); day and month ("el 5 de marzo de 2027",
//     "el día 30", "March 5th, 2027", "5th of March", "el cinco de
//     marzo"); 15/03/2026, 15-03-26, 15.03.2026, 2026-03-15 and 15/03
//     (day first, except month first in English, each falling back to
//     the other order); and offsets ("en 3 días", "dentro de una
//     semana", "hace 2 meses", "in 3 days", "2 weeks ago", "3 days from
//     now"). A day and month without a year is the next one on or after
//     today; a weekday alone or after "próximo"/"next" is the next one
//     after today, after "este"/"this" it may be today.
//   - time: "a las 3 de la tarde", "las 5 y media", "4 menos cuarto",
//     "15:30", "15h30", "3pm", "3:30 p. m.", "at 3", "at noon",
//     "mediodía", "medianoche", "half past 3", "quarter to 4" → "HH:MM".
//     A bare hour ("a las 3", "at 3") is read as written, on a 24-hour
//     clock.
package entity

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Match is one entity found in a text.
type Match struct {
	// Entity is the entity's name: "number", "email", "phone", "date",
	// "time", or the name of a List or Regex.
	Entity string
	// Start and End are byte offsets into the original text:
	// text[Start:End] is the matched span.
	Start, End int
	// Text is the matched span.
	Text string
	// Value is the normalized value: a number in decimal with a point and
	// no grouping ("1234.5"), an email in lower case, a phone in E.164
	// ("+573001234567"), a date as "2026-03-05", a time as "15:30", a list
	// entity's canonical value, or a regex entity's matched text.
	Value string
}

// List is an entity whose values are given with their synonyms.
type List struct {
	Name   string
	Values []ListValue
}

// ListValue is one canonical value of a List and the words or phrases
// that name it. The value itself also matches.
type ListValue struct {
	Value    string
	Synonyms []string
}

// Regex is an entity found by a regular expression (RE2 syntax) on the
// original text. When the pattern has a capture group named like the
// entity, or named "value", that group is the match; otherwise the
// whole match is.
type Regex struct {
	Name, Pattern string
}

// Options configures an Extractor.
type Options struct {
	Lists   []List
	Regexes []Regex
	// BuiltIns names the built-in entities to find (see BuiltIns); nil
	// means all of them, an empty slice none.
	BuiltIns []string
	// Region is the ISO 3166 country whose numbering plan reads local
	// phone numbers; default "CO".
	Region string
	// Location is where relative dates ("mañana", "next friday") are
	// counted; default UTC.
	Location *time.Location
}

// The causes of a DefinitionError, for errors.Is.
var (
	ErrEmpty          = errors.New("empty")
	ErrDuplicate      = errors.New("duplicate")
	ErrUnknownBuiltIn = errors.New("unknown built-in entity")
	ErrUnknownRegion  = errors.New("unknown region")
)

// DefinitionError reports a bad entity definition given to New.
type DefinitionError struct {
	Entity string // the entity's name, or "" when it has none
	Field  string // what is wrong in it: "name", "values", "values[2].synonyms[0]", "pattern", "builtins", "region"
	Err    error  // the cause: ErrEmpty, ErrDuplicate, ErrUnknownBuiltIn, ErrUnknownRegion or a *syntax.Error
}

func (e *DefinitionError) Error() string {
	return fmt.Sprintf("entity %q: %s: %v", e.Entity, e.Field, e.Err)
}

func (e *DefinitionError) Unwrap() error { return e.Err }

// The built-in entities, in the order that breaks ties between them.
const (
	bEmail = iota
	bDate
	bTime
	bPhone
	bNumber
	nBuiltIns
)

var builtinNames = [nBuiltIns]string{"email", "date", "time", "phone", "number"}

// BuiltIns returns the names of the built-in entities.
func BuiltIns() []string {
	return []string{"number", "email", "phone", "date", "time"}
}

// Extractor finds entities. It is safe for concurrent use.
type Extractor struct {
	enabled [nBuiltIns]bool
	any     bool // any built-in is enabled
	region  *region
	loc     *time.Location
	phrases map[string][]phrase // by first token
	regexes []compiledRegex
}

type phrase struct {
	toks   []string
	entity string
	value  string
	rank   int
}

type compiledRegex struct {
	name  string
	re    *regexp.Regexp
	group int
	rank  int
}

// New returns an Extractor for opts. It returns a *DefinitionError for a
// list or regex without a name or with a name already taken (also by an
// enabled built-in), an empty list, value or synonym, a synonym given to
// two values of one list, a pattern that does not compile, an unknown
// built-in or an unknown region.
func New(opts Options) (*Extractor, error) {
	x := &Extractor{loc: opts.Location, phrases: map[string][]phrase{}}
	if x.loc == nil {
		x.loc = time.UTC
	}
	if opts.BuiltIns == nil {
		for i := range x.enabled {
			x.enabled[i] = true
		}
	}
	for _, name := range opts.BuiltIns {
		i := builtinIndex(name)
		if i < 0 {
			return nil, &DefinitionError{Entity: name, Field: "builtins", Err: ErrUnknownBuiltIn}
		}
		x.enabled[i] = true
	}
	for _, e := range x.enabled {
		x.any = x.any || e
	}
	code := strings.ToUpper(strings.TrimSpace(opts.Region))
	if code == "" {
		code = "CO"
	}
	x.region = regions[code]
	if x.region == nil {
		return nil, &DefinitionError{Entity: "phone", Field: "region", Err: fmt.Errorf("%w %q", ErrUnknownRegion, opts.Region)}
	}

	taken := map[string]bool{}
	for i, e := range x.enabled {
		if e {
			taken[builtinNames[i]] = true
		}
	}
	claim := func(name string) error {
		switch {
		case strings.TrimSpace(name) == "":
			return &DefinitionError{Entity: name, Field: "name", Err: ErrEmpty}
		case taken[name]:
			return &DefinitionError{Entity: name, Field: "name", Err: ErrDuplicate}
		}
		taken[name] = true
		return nil
	}
	rank := 0
	for _, l := range opts.Lists {
		if err := claim(l.Name); err != nil {
			return nil, err
		}
		if len(l.Values) == 0 {
			return nil, &DefinitionError{Entity: l.Name, Field: "values", Err: ErrEmpty}
		}
		owner := map[string]string{} // folded phrase -> canonical value
		for vi, v := range l.Values {
			names := append([]string{v.Value}, v.Synonyms...)
			for si, s := range names {
				field := fmt.Sprintf("values[%d].value", vi)
				if si > 0 {
					field = fmt.Sprintf("values[%d].synonyms[%d]", vi, si-1)
				}
				toks := foldPhrase(s)
				if len(toks) == 0 {
					return nil, &DefinitionError{Entity: l.Name, Field: field, Err: ErrEmpty}
				}
				key := strings.Join(toks, " ")
				if prev, ok := owner[key]; ok {
					if prev != v.Value {
						return nil, &DefinitionError{Entity: l.Name, Field: field, Err: fmt.Errorf("%w: %q also names %q", ErrDuplicate, s, prev)}
					}
					continue
				}
				owner[key] = v.Value
				x.phrases[toks[0]] = append(x.phrases[toks[0]], phrase{toks: toks, entity: l.Name, value: v.Value, rank: rank})
			}
		}
		rank++
	}
	for _, r := range opts.Regexes {
		if err := claim(r.Name); err != nil {
			return nil, err
		}
		if r.Pattern == "" {
			return nil, &DefinitionError{Entity: r.Name, Field: "pattern", Err: ErrEmpty}
		}
		re, err := regexp.Compile(r.Pattern)
		if err != nil {
			return nil, &DefinitionError{Entity: r.Name, Field: "pattern", Err: err}
		}
		group := re.SubexpIndex(r.Name)
		if group < 0 {
			group = re.SubexpIndex("value")
		}
		if group < 0 {
			group = 0
		}
		x.regexes = append(x.regexes, compiledRegex{name: r.Name, re: re, group: group, rank: rank})
		rank++
	}
	return x, nil
}

func builtinIndex(name string) int {
	for i, n := range builtinNames {
		if n == name {
			return i
		}
	}
	return -1
}

// Language bits.
const (
	es uint8 = 1 << iota
	en
)

func langMask(lang string) uint8 {
	lang = strings.ToLower(lang)
	if len(lang) > 2 && (lang[2] == '-' || lang[2] == '_') {
		lang = lang[:2]
	}
	switch lang {
	case "es":
		return es
	case "en":
		return en
	}
	return es | en
}

// cand is a candidate match; resolve keeps the ones that do not overlap.
type cand struct {
	start, end int
	rank       int // lower wins a tie in length
	builtin    int // index of the built-in, or -1
	entity     string
	value      string
}

const builtinRank = 1 << 20

// Extract returns the entities in text, sorted by Start, without overlaps:
// of two overlapping matches the longer one wins, then a list or regex
// entity over a built-in. lang is "es", "en" or "" for both; now is the
// moment relative dates count from, seen in the Extractor's Location.
func (x *Extractor) Extract(text, lang string, now time.Time) []Match {
	if text == "" {
		return nil
	}
	var cands []cand
	var d *doc
	if x.any || len(x.phrases) > 0 {
		d = newDoc(text)
	}
	if x.any {
		p := &parser{d: d, lang: langMask(lang), region: x.region}
		y, m, day := now.In(x.loc).Date()
		p.today = time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
		p.builtins()
		// Disabled built-ins still hide what they contain: digits inside a
		// phone are not a number even when phones are not wanted.
		for _, c := range resolve(p.out, len(text)) {
			if x.enabled[c.builtin] {
				cands = append(cands, c)
			}
		}
	}
	if len(x.phrases) > 0 {
		cands = x.lists(d, cands)
	}
	for _, r := range x.regexes {
		for _, loc := range r.re.FindAllStringSubmatchIndex(text, -1) {
			s, e := loc[2*r.group], loc[2*r.group+1]
			if s < 0 || s == e {
				continue
			}
			cands = append(cands, cand{start: s, end: e, rank: r.rank, builtin: -1, entity: r.name, value: text[s:e]})
		}
	}
	cands = resolve(cands, len(text))
	if len(cands) == 0 {
		return nil
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].start < cands[j].start })
	out := make([]Match, len(cands))
	for i, c := range cands {
		entity := c.entity
		if c.builtin >= 0 {
			entity = builtinNames[c.builtin]
		}
		out[i] = Match{Entity: entity, Start: c.start, End: c.end, Text: text[c.start:c.end], Value: c.value}
	}
	return out
}

// resolve keeps, of overlapping candidates, the longest, then the one of
// lowest rank, then the first.
func resolve(cands []cand, n int) []cand {
	if len(cands) < 2 {
		return cands
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if la, lb := a.end-a.start, b.end-b.start; la != lb {
			return la > lb
		}
		if a.rank != b.rank {
			return a.rank < b.rank
		}
		return a.start < b.start
	})
	used := make([]uint64, (n+63)/64)
	out := cands[:0]
	for _, c := range cands {
		free := true
		for k := c.start; k < c.end; k++ {
			if used[k>>6]&(1<<(k&63)) != 0 {
				free = false
				break
			}
		}
		if !free {
			continue
		}
		for k := c.start; k < c.end; k++ {
			used[k>>6] |= 1 << (k & 63)
		}
		out = append(out, c)
	}
	return out
}

// lists adds the list entities found in d to cands.
func (x *Extractor) lists(d *doc, cands []cand) []cand {
	for i, t := range d.toks {
		for _, ph := range x.phrases[t.s] {
			k := len(ph.toks)
			if i+k > len(d.toks) {
				continue
			}
			ok := true
			for j := 1; j < k && ok; j++ {
				ok = d.toks[i+j].s == ph.toks[j]
			}
			// Whole words: no letter or digit touching either end.
			if !ok || (d.alnum(i) && d.adj(i) && d.alnum(i-1)) || (d.alnum(i+k-1) && d.adj(i+k) && d.alnum(i+k)) {
				continue
			}
			s, e := d.span(i, i+k-1)
			cands = append(cands, cand{start: s, end: e, rank: ph.rank, builtin: -1, entity: ph.entity, value: ph.value})
		}
	}
	return cands
}

// parser finds the built-in entities in one doc.
type parser struct {
	d      *doc
	lang   uint8
	region *region
	today  time.Time // midnight UTC of the local date
	out    []cand
}

func (p *parser) add(b, i, j int, value string) {
	s, e := p.d.span(i, j)
	p.out = append(p.out, cand{start: s, end: e, rank: builtinRank + b, builtin: b, value: value})
}

func (p *parser) builtins() {
	p.emails()
	p.numbers()
	p.phones()
	d := p.d
	for i := range d.toks {
		if d.toks[i].kind == kPunct {
			continue
		}
		if end, t, article, ok := p.date(i); ok {
			start := i
			if article && p.lang&es != 0 && d.w(i-1) == "el" {
				start = i - 1
			}
			p.add(bDate, start, end, t.Format("2006-01-02"))
		}
		if end, h, m, ok := p.clock(i); ok {
			p.add(bTime, i, end, fmt.Sprintf("%02d:%02d", h, m))
		}
	}
}

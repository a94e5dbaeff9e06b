package entity

import (
	"regexp"
	"strconv"
	"strings"
)

var emailRE = regexp.MustCompile(`(?i)[a-z0-9](?:[a-z0-9._%+\-]*[a-z0-9_%+\-])?@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,24}`)

func emailByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._%+-@", c) >= 0
}

func (p *parser) emails() {
	text := p.d.text
	if strings.IndexByte(text, '@') < 0 {
		return
	}
	for _, loc := range emailRE.FindAllStringIndex(text, -1) {
		s, e := loc[0], loc[1]
		if s > 0 && emailByte(text[s-1]) || e < len(text) && (emailByte(text[e]) && text[e] != '.' || text[e] == '.' && e+1 < len(text) && emailByte(text[e+1])) {
			continue
		}
		if strings.Contains(text[s:e], "..") {
			continue
		}
		p.out = append(p.out, cand{start: s, end: e, rank: builtinRank + bEmail, builtin: bEmail, value: strings.ToLower(text[s:e])})
	}
}

// Categories of number words.
const (
	catUnit     uint8 = iota + 1 // 0-9
	catTeen                      // 10-19, and 21-29 in one Spanish word
	catTens                      // 20, 30 … 90
	catHundreds                  // Spanish 100 … 900
	catHundred                   // English "hundred"
	catMult                      // thousand, million …
	catArticle                   // un, una, a, an: one only before a multiplier
)

type numWord struct {
	v    int64
	cat  uint8
	lang uint8
}

var numWords = func() map[string]numWord {
	m := map[string]numWord{}
	add := func(lang, cat uint8, v int64, words string) {
		for _, w := range strings.Fields(words) {
			m[w] = numWord{v: v, cat: cat, lang: lang}
		}
	}
	for i, w := range strings.Fields("cero uno dos tres cuatro cinco seis siete ocho nueve") {
		add(es, catUnit, int64(i), w)
	}
	for i, w := range strings.Fields("diez once doce trece catorce quince dieciseis diecisiete dieciocho diecinueve") {
		add(es, catTeen, int64(10+i), w)
	}
	for i, w := range strings.Fields("veinte veintiuno veintidos veintitres veinticuatro veinticinco veintiseis veintisiete veintiocho veintinueve") {
		if i == 0 {
			add(es, catTens, 20, w)
			continue
		}
		add(es, catTeen, int64(20+i), w)
	}
	add(es, catTeen, 21, "veintiun veintiuna")
	for i, w := range strings.Fields("treinta cuarenta cincuenta sesenta setenta ochenta noventa") {
		add(es, catTens, int64(30+10*i), w)
	}
	add(es, catHundreds, 100, "cien ciento")
	for i, w := range strings.Fields("dos tres cuatro quin seis sete ocho nove") {
		if w == "quin" {
			add(es, catHundreds, 500, "quinientos quinientas")
			continue
		}
		add(es, catHundreds, int64(200+100*i), w+"cientos "+w+"cientas")
	}
	add(es, catMult, 1000, "mil")
	add(es, catMult, 1000000, "millon millones")
	add(es, catMult, 1000000000000, "billon billones")
	add(es, catArticle, 1, "un una")

	for i, w := range strings.Fields("zero one two three four five six seven eight nine") {
		add(en, catUnit, int64(i), w)
	}
	for i, w := range strings.Fields("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen") {
		add(en, catTeen, int64(10+i), w)
	}
	for i, w := range strings.Fields("twenty thirty forty fifty sixty seventy eighty ninety") {
		add(en, catTens, int64(20+10*i), w)
	}
	add(en, catHundred, 100, "hundred")
	add(en, catMult, 1000, "thousand")
	add(en, catMult, 1000000, "million")
	add(en, catMult, 1000000000, "billion")
	add(en, catArticle, 1, "a an")
	return m
}()

// numWord returns the number word at token i in the parser's languages.
func (p *parser) numWord(i int) (numWord, bool) {
	nw, ok := numWords[p.d.w(i)]
	if !ok || nw.lang&p.lang == 0 {
		return numWord{}, false
	}
	if p.lang == es|en && p.d.w(i) == "once" {
		return numWord{}, false // English "once", most likely
	}
	return nw, true
}

const maxNumber = 1_000_000_000_000_000

// numberWords reads a number written in words starting at token i
// ("doscientos cincuenta", "twenty-three", "one hundred and five") and
// returns its value and last token. An article alone ("un", "a") counts
// as one only when article is true.
func (p *parser) numberWords(i int, article bool) (int64, int, bool) {
	d := p.d
	var total, group, lastMult int64
	var hasH, hasT, hasU bool
	words, last := 0, -1
	j := i
loop:
	for steps := 0; j < len(d.toks) && steps < 16; steps++ {
		nw, ok := p.numWord(j)
		if !ok {
			w := d.w(j)
			nxt, nok := p.numWord(j + 1)
			switch {
			case words > 0 && w == "y" && p.lang&es != 0 && hasT && !hasU && nok && (nxt.cat == catUnit && nxt.v > 0 || nxt.cat == catArticle):
			case words > 0 && w == "and" && p.lang&en != 0 && (hasH || lastMult > 0) && nok && nxt.cat != catArticle && nxt.cat != catMult && nxt.cat != catHundred:
			case words > 0 && d.p(j) == "-" && d.adj(j) && d.adj(j+1) && hasT && !hasU && nok && nxt.cat == catUnit && nxt.v > 0:
			default:
				break loop
			}
			j++
			continue
		}
		switch nw.cat {
		case catArticle:
			nxt, nok := p.numWord(j + 1)
			switch {
			case words == 0 && nok && (nxt.cat == catMult || nxt.cat == catHundred) && nxt.lang&nw.lang != 0:
				group = 1
				j++
				continue
			case words > 0 && nw.lang == es && (hasH || hasT) && !hasU:
				group++ // "ciento un", "treinta y una"
				hasU = true
			case words == 0 && article:
				group = 1
				words++
				last = j
				break loop
			default:
				break loop
			}
		case catUnit:
			if hasU || words > 0 && nw.v == 0 {
				break loop
			}
			group += nw.v
			hasU = true
		case catTeen:
			if hasU || hasT {
				break loop
			}
			group += nw.v
			hasU, hasT = true, true
		case catTens:
			if hasU || hasT {
				break loop
			}
			group += nw.v
			hasT = true
		case catHundreds:
			if hasH || hasT || hasU {
				break loop
			}
			group += nw.v
			hasH = true
		case catHundred:
			if hasH || group == 0 || group >= 100 {
				break loop
			}
			group *= 100
			hasH, hasT, hasU = true, false, false
		case catMult:
			m := nw.v
			switch {
			case lastMult != 0 && m >= lastMult:
				// "mil millones": a larger multiplier scales all so far.
				if group != 0 || total >= m || total > maxNumber/m {
					break loop
				}
				total *= m
			case group == 0 && total == 0 && d.w(j) == "mil":
				total = m // "mil" alone is a thousand
			case group == 0:
				break loop
			default:
				if group > maxNumber/m {
					break loop
				}
				total += group * m
			}
			group, lastMult = 0, m
			hasH, hasT, hasU = false, false, false
		}
		words++
		last = j
		j++
	}
	if words == 0 {
		return 0, 0, false
	}
	return total + group, last, true
}

var decimalMult = map[string]int{"mil": 3, "millon": 6, "millones": 6, "billon": 12, "billones": 12, "thousand": 3, "million": 6, "billion": 9}

// numbers finds numbers written in digits or words.
func (p *parser) numbers() {
	d := p.d
	for i := 0; i < len(d.toks); {
		switch d.toks[i].kind {
		case kNum:
			end, value, ok := p.digits(i)
			if ok {
				p.add(bNumber, i, end, value)
			}
			i = end + 1
			continue
		case kWord:
			if v, end, ok := p.numberWords(i, false); ok {
				w := d.w(i)
				lone := end == i && (w == "one" || w == "uno")
				if !lone || !determiners[d.w(i-1)] {
					p.add(bNumber, i, end, strconv.FormatInt(v, 10))
				}
				i = end + 1
				continue
			}
		}
		i++
	}
}

var determiners = map[string]bool{
	"the": true, "this": true, "that": true, "which": true, "any": true, "every": true, "each": true, "no": true,
	"some": true, "another": true, "other": true, "cada": true, "ninguno": true, "alguno": true, "el": true,
}

// digits reads the run of digits, dots and commas that starts at token
// i ("1.234,5"), with a multiplier word after it ("50 mil"). It returns
// the run's last token whether or not it is a number.
func (p *parser) digits(i int) (int, string, bool) {
	d := p.d
	groups := []string{d.toks[i].s}
	var seps []byte
	j := i
	for {
		s := d.p(j + 1)
		if (s == "." || s == ",") && d.adj(j+1) && d.n(j+2) != "" && d.adj(j+2) {
			seps = append(seps, s[0])
			groups = append(groups, d.toks[j+2].s)
			j += 2
			continue
		}
		break
	}
	end := j
	// Part of a code: letters or digits joined to it.
	if d.adj(i) && (d.alnum(i-1) || joiner(d.p(i-1)) && d.adj(i-1) && d.alnum(i-2)) {
		return end, "", false
	}
	if d.adj(end+1) && joiner(d.p(end+1)) && d.adj(end+2) && d.alnum(end+2) {
		return end, "", false
	}
	intPart, frac, ok := p.readDigits(groups, seps)
	if !ok {
		return end, "", false
	}
	shift := 0
	if w := d.w(end + 1); w != "" && d.adj(end+1) {
		if w != "k" || d.adj(end+2) && d.alnum(end+2) {
			return end, "", false
		}
		shift, end = 3, end+1
	} else if m, ok := decimalMult[w]; ok && p.numWordLang(w) {
		shift, end = m, end+1
		if w == "mil" && (d.w(end+1) == "millones" || d.w(end+1) == "millon") {
			shift, end = 9, end+1
		}
	}
	return end, decimal(intPart, frac, shift), true
}

func (p *parser) numWordLang(w string) bool {
	nw, ok := numWords[w]
	return ok && nw.lang&p.lang != 0
}

func joiner(s string) bool { return s == "-" || s == "_" || s == "/" }

// readDigits reads digit groups joined by dots and commas, in the
// parser's languages, as an integer and a fraction.
func (p *parser) readDigits(groups []string, seps []byte) (string, string, bool) {
	switch {
	case len(seps) == 0:
		return groups[0], "", true
	case len(seps) == 1:
		a, b := groups[0], groups[1]
		grouping := len(b) == 3 && len(a) <= 3 && a != "0"
		if grouping && seps[0] == '.' && p.lang == en {
			grouping = false // 1.234 is a decimal in English
		}
		if grouping {
			return a + b, "", true
		}
		if len(a) >= 7 && len(b) >= 7 {
			return "", "", false // a list: 3001234567,3109876543
		}
		return a, b, true
	}
	// Several separators: all but perhaps the last group thousands.
	last := len(seps) - 1
	decimalSep := seps[last] != seps[0]
	for k := 1; k <= last; k++ {
		if seps[k-1] != seps[0] {
			return "", "", false
		}
	}
	if len(groups[0]) > 3 || groups[0][0] == '0' {
		return "", "", false
	}
	n := len(groups)
	if decimalSep {
		n--
	}
	for _, g := range groups[1:n] {
		if len(g) != 3 {
			return "", "", false
		}
	}
	intPart := strings.Join(groups[:n], "")
	if decimalSep {
		return intPart, groups[n], true
	}
	return intPart, "", true
}

// decimal writes intPart.frac × 10^shift without leading or trailing
// zeros.
func decimal(intPart, frac string, shift int) string {
	for ; shift > 0; shift-- {
		if frac != "" {
			intPart, frac = intPart+frac[:1], frac[1:]
		} else {
			intPart += "0"
		}
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	frac = strings.TrimRight(frac, "0")
	if frac == "" {
		return intPart
	}
	return intPart + "." + frac
}

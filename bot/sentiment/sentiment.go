// Package sentiment tells whether a contact's message is negative,
// neutral or positive, in Spanish or English, from a hand-written lexicon
// with Latin American colloquial words, emoji and emoticons. It handles
// negation ("no estoy contento", "not good", "sin problema"),
// intensifiers ("muy", "súper", "re-", "extremely") and diminishers
// ("un poco", "slightly"); capitals, elongated words ("pesimoooo") and
// "!!!" make a message stronger, and a question weaker. It needs no
// network and keeps no state.
package sentiment

import (
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Label is the sentiment of a message.
type Label string

// The labels.
const (
	Negative Label = "negative"
	Neutral  Label = "neutral"
	Positive Label = "positive"
)

// Result is the sentiment of a message.
type Result struct {
	Label Label
	// Score is in [-1, 1]: below -Threshold is Negative, above Threshold
	// Positive, in between Neutral.
	Score float64
}

// Threshold is the score past which a message is not neutral.
const Threshold = 0.25

// alpha squashes a sum of valences into (-1, 1): sum / sqrt(sum² + alpha).
const alpha = 15

// Analyze returns the sentiment of text. lang is "es", "en", or "" to use
// both lexicons (a region suffix as in "es-CO" is ignored). Analyze is
// safe for concurrent use.
func Analyze(text, lang string) Result {
	l := langMask(lang)
	toks := lex(text)
	total := 0.0
	for start := 0; start < len(toks); {
		end := start
		for end < len(toks) && !isEnd(toks[end]) {
			end++
		}
		exclaim, question := 0, false
		next := end
		for ; next < len(toks) && isEnd(toks[next]); next++ {
			switch toks[next].p {
			case '!':
				exclaim++
			case '?':
				question = true
			}
		}
		s := sentence(toks[start:end], l)
		for _, t := range toks[start:end] {
			question = question || t.p == '¿'
		}
		if question {
			s *= 0.5
		}
		if s != 0 && exclaim > 0 {
			s += math.Copysign(0.3*float64(min(exclaim, 4)), s)
		}
		total += s
		start = next
	}
	score := total / math.Sqrt(total*total+alpha)
	switch {
	case score > Threshold:
		return Result{Label: Positive, Score: score}
	case score < -Threshold:
		return Result{Label: Negative, Score: score}
	}
	return Result{Label: Neutral, Score: score}
}

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

func isEnd(t tok) bool {
	return t.kind == tPunct && (t.p == '.' || t.p == '!' || t.p == '?' || t.p == '\n')
}

// sentence returns the valence of one sentence.
func sentence(toks []tok, l uint8) float64 {
	n := len(toks)
	if n == 0 {
		return 0
	}
	vals := make([]float64, n)
	span := make([]int, n) // tokens a head covers; 0 inside a phrase
	fail := make([]bool, n)
	an := analyzer{toks: toks, lang: l}
	for i := 0; i < n; {
		t := toks[i]
		span[i] = 1
		if t.kind == tEmoji {
			vals[i] = t.v
		}
		if t.kind != tWord {
			i++
			continue
		}
		if k, v := an.phrase(i); k > 0 {
			vals[i], span[i] = v, k
			i += k
			continue
		}
		switch {
		case (t.w == "kind" || t.w == "sort") && an.word(i+1) == "of" && l&en != 0:
		case isLaugh(t.w):
			vals[i] = 1.2
		default:
			if v, f, ok := an.lookup(t); ok {
				vals[i] = v * f
			} else if failWords[t.w]&l != 0 {
				fail[i] = true
			}
		}
		i++
	}

	heads := make([]int, 0, n)
	for i := 0; i < n; i += span[i] {
		heads = append(heads, i)
	}
	// A booster that is a word of its own, before another sentiment word,
	// is a booster: "bien malo", "harto bueno", "pretty good".
	for h, i := range heads {
		if vals[i] != 0 && span[i] == 1 && an.booster(i) > 0 && h+1 < len(heads) {
			if j := heads[h+1]; toks[j].kind == tWord && (vals[j] != 0 || fail[j]) {
				vals[i] = 0
			}
		}
	}
	// "Bueno, …" opening a sentence is a filler.
	if toks[0].kind == tWord && (toks[0].w == "bueno" || toks[0].w == "well") && span[0] == 1 && n > 1 && toks[1].kind == tPunct {
		vals[0] = 0
	}

	contrast := -1
	for _, i := range heads {
		if an.contrast(i) {
			contrast = i
		}
	}
	sum := 0.0
	for h, i := range heads {
		t := toks[i]
		v := vals[i]
		if t.kind == tWord && (v != 0 || fail[i]) {
			factor, negated, tight := an.lookBack(heads[:h], vals)
			switch {
			case fail[i] && negated && tight:
				v = -1.8
			case fail[i]:
				continue
			default:
				if negated && factor > 1 {
					factor = 0.8 // "not very good" is milder than "not good"
				}
				v *= factor
				if negated {
					if v > 0 {
						v = -0.85 * v
					} else {
						v = -0.5 * v
					}
				}
			}
			if t.caps {
				v *= 1.3
			}
			if t.long {
				v *= 1.15
			}
		}
		if contrast >= 0 {
			if i < contrast {
				v *= 0.5
			} else if i > contrast {
				v *= 1.5
			}
		}
		sum += v
	}
	return sum
}

type analyzer struct {
	toks []tok
	lang uint8
}

// word returns token i's word, or "".
func (a analyzer) word(i int) string {
	if i < 0 || i >= len(a.toks) || a.toks[i].kind != tWord {
		return ""
	}
	return a.toks[i].w
}

// phrase returns the length and valence of the longest lexicon phrase at
// token i, or 0.
func (a analyzer) phrase(i int) (int, float64) {
	for li, lx := range lexicons {
		if a.lang&(1<<li) == 0 {
			continue
		}
	next:
		for _, p := range lx.phrases[a.toks[i].w] {
			if i+len(p.words) > len(a.toks) {
				continue
			}
			for k, w := range p.words[1:] {
				if a.word(i+1+k) != w {
					continue next
				}
			}
			return len(p.words), p.v
		}
	}
	return 0, 0
}

// value looks a word up in the lexicons of the analyzer's languages.
func (a analyzer) value(w string) (float64, bool) {
	for li, lx := range lexicons {
		if a.lang&(1<<li) == 0 {
			continue
		}
		if v, ok := lx.words[w]; ok {
			return v, true
		}
	}
	return 0, false
}

// lookup returns the valence of a word, and a factor for a superlative
// or an intensifying prefix, trying it as written, with repeated letters
// squeezed, and its other forms.
func (a analyzer) lookup(t tok) (float64, float64, bool) {
	forms := []string{t.w}
	if t.long {
		forms = append(forms, collapse(t.raw, 2))
	}
	if s := squeeze(t.w); s != t.w {
		forms = append(forms, s)
	}
	for _, f := range forms {
		if v, ok := a.value(f); ok {
			return v, 1, true
		}
	}
	for _, f := range forms {
		if v, factor, ok := a.morph(f); ok {
			return v, factor, true
		}
	}
	return 0, 0, false
}

// morph finds a word from another form of it: malos, malísimo,
// rebueno, scams, loved.
func (a analyzer) morph(w string) (float64, float64, bool) {
	if a.lang&es != 0 {
		if v, ok := a.inflected(w); ok {
			return v, 1, true
		}
		for _, suf := range []string{"isimos", "isimas", "isimo", "isima"} {
			stem, ok := strings.CutSuffix(w, suf)
			if !ok || len(stem) < 2 {
				continue
			}
			for _, base := range []string{stem + "o", stem + "e", stem, respell(stem)} {
				if v, ok := a.value(base); ok {
					return v, 1.4, true
				}
			}
		}
		for _, pre := range []string{"recontra", "requete", "super", "archi", "ultra", "mega", "re"} {
			if rest, ok := strings.CutPrefix(w, pre); ok && len(rest) >= 4 {
				if v, ok := a.value(rest); ok {
					return v, 1.4, true
				}
				if v, ok := a.inflected(rest); ok {
					return v, 1.4, true
				}
			}
		}
	}
	if a.lang&en != 0 {
		for _, suf := range []string{"s", "es", "d", "ed"} {
			if stem, ok := strings.CutSuffix(w, suf); ok && len(stem) >= 3 {
				if v, ok := a.value(stem); ok {
					return v, 1, true
				}
			}
		}
	}
	return 0, 0, false
}

// inflected finds a Spanish adjective from its feminine or plural form.
func (a analyzer) inflected(w string) (float64, bool) {
	cands := make([]string, 0, 4)
	if s, ok := strings.CutSuffix(w, "s"); ok && len(s) >= 2 {
		cands = append(cands, s)
		if t, ok := strings.CutSuffix(s, "e"); ok && len(t) >= 2 {
			cands = append(cands, t)
		}
		w = s
	}
	if s, ok := strings.CutSuffix(w, "a"); ok && len(s) >= 2 {
		cands = append(cands, s+"o")
	}
	for _, c := range cands {
		if v, ok := a.value(c); ok {
			return v, true
		}
	}
	return 0, false
}

// respell undoes the spelling change of a superlative: riquísimo from
// rico, larguísimo from largo.
func respell(stem string) string {
	switch {
	case strings.HasSuffix(stem, "qu"):
		return stem[:len(stem)-2] + "co"
	case strings.HasSuffix(stem, "gu"):
		return stem[:len(stem)-2] + "go"
	case strings.HasSuffix(stem, "c"):
		return stem[:len(stem)-1] + "z"
	}
	return stem
}

// booster returns the factor of a booster at token i, or 0.
func (a analyzer) booster(i int) float64 {
	w := a.word(i)
	if b, ok := boosters[w]; ok && b.lang&a.lang != 0 {
		if w == "tanto" && a.word(i-1) == "un" {
			return 0
		}
		return b.f
	}
	return 0
}

// dampener returns the factor of a dampener at token i, or 0.
func (a analyzer) dampener(i int) float64 {
	w := a.word(i)
	switch {
	case a.lang&es != 0 && (w == "poco" || w == "tanto" || w == "pelin") && a.word(i-1) == "un":
		return 0.6
	case a.lang&en != 0 && (w == "bit" || w == "little") && a.word(i-1) == "a":
		return 0.6
	case a.lang&en != 0 && (w == "kind" || w == "sort") && a.word(i+1) == "of":
		return 0.6
	}
	if d, ok := dampeners[w]; ok && d.lang&a.lang != 0 {
		return d.f
	}
	return 0
}

// negator reports whether token i negates what follows.
func (a analyzer) negator(i int) bool {
	w := a.word(i)
	switch {
	case w == "sin" && a.word(i+1) == "embargo":
		return false
	case a.lang&es != 0 && w == "poco" && a.word(i-1) != "un":
		return true // "poco amable"
	case a.lang&en != 0 && strings.HasSuffix(w, "n't"):
		return true
	}
	return negators[w]&a.lang != 0
}

func (a analyzer) contrast(i int) bool {
	w := a.word(i)
	if a.lang&es != 0 && w == "embargo" && a.word(i-1) == "sin" {
		return true
	}
	return contrasts[w]&a.lang != 0
}

// lookBack reads the three words before the last head: the product of
// their boosters and dampeners, whether one negates, and whether only
// pronouns and auxiliaries stand between the negator and the head.
func (a analyzer) lookBack(heads []int, vals []float64) (factor float64, negated, tight bool) {
	factor = 1
	near := true // only pronouns and auxiliaries so far
	for h, count := len(heads)-1, 0; h >= 0 && count < 3; h-- {
		j := heads[h]
		t := a.toks[j]
		if t.kind != tWord || vals[j] != 0 || a.contrast(j) {
			break
		}
		switch {
		case a.negator(j):
			if !negated {
				negated, tight = true, near
			}
		case a.booster(j) > 0:
			factor *= a.booster(j)
		case a.dampener(j) > 0:
			factor *= a.dampener(j)
		}
		near = near && between[t.w]
		count++
	}
	return factor, negated, tight
}

// isLaugh reports whether w is laughter: jaja, jejeje, haha, jsjs, lol.
// The consonant must repeat, so "hija" and "hoja" are words.
func isLaugh(w string) bool {
	switch w {
	case "lol", "lmao", "xd":
		return true
	}
	if len(w) < 4 || w[0] != 'j' && w[0] != 'h' {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case i%2 == 0 && c != w[0]:
			return false
		case i%2 == 1 && !strings.ContainsRune("aeiou", rune(c)) && !(c == 's' && w[0] == 'j'):
			return false
		}
	}
	return true
}

// Token kinds.
const (
	tWord uint8 = iota + 1
	tEmoji
	tPunct
)

type tok struct {
	kind uint8
	w    string  // folded word, with runs of three or more letters squeezed to one
	raw  string  // folded word as written
	caps bool    // written in capitals
	long bool    // with a letter repeated three or more times
	v    float64 // an emoji's valence
	p    rune    // punctuation
}

// lex cuts text into words, emoji and emoticons, and the punctuation that
// ends sentences and clauses.
func lex(text string) []tok {
	var toks []tok
	var b strings.Builder
	for i := 0; i < len(text); {
		if v, n := emoticon(text, i); n > 0 {
			toks = append(toks, tok{kind: tEmoji, v: v})
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case unicode.IsLetter(r):
			b.Reset()
			letters, upper := 0, 0
			j := i
			for j < len(text) {
				r2, s2 := utf8.DecodeRuneInString(text[j:])
				switch {
				case unicode.IsLetter(r2):
					letters++
					if unicode.IsUpper(r2) {
						upper++
					}
					b.WriteRune(foldRune(r2))
				case unicode.In(r2, unicode.Mn, unicode.Me):
				case (r2 == '\'' || r2 == '’') && j+s2 < len(text):
					if r3, _ := utf8.DecodeRuneInString(text[j+s2:]); !unicode.IsLetter(r3) {
						goto done
					}
					b.WriteByte('\'')
				default:
					goto done
				}
				j += s2
			}
		done:
			raw := b.String()
			t := tok{kind: tWord, raw: raw, w: raw, caps: letters >= 2 && upper == letters}
			if s := collapse(raw, 1); s != raw {
				t.w, t.long = s, true
			}
			toks = append(toks, t)
			i = j
			continue
		case emoji[r] != 0:
			toks = append(toks, tok{kind: tEmoji, v: emoji[r]})
		case strings.ContainsRune(".!?¡¿,;:\n", r):
			toks = append(toks, tok{kind: tPunct, p: r})
		}
		i += size
	}
	return toks
}

// collapse squeezes each run of three or more equal letters to keep
// letters.
func collapse(s string, keep int) string {
	return squeezeRuns(s, 3, keep)
}

// squeeze squeezes each run of two or more equal letters to one.
func squeeze(s string) string { return squeezeRuns(s, 2, 1) }

func squeezeRuns(s string, min, keep int) string {
	rs := []rune(s)
	out := rs[:0:0]
	changed := false
	for i := 0; i < len(rs); {
		j := i
		for j < len(rs) && rs[j] == rs[i] {
			j++
		}
		n := j - i
		if n >= min {
			n, changed = keep, true
		}
		for k := 0; k < n; k++ {
			out = append(out, rs[i])
		}
		i = j
	}
	if !changed {
		return s
	}
	return string(out)
}

// foldTable maps a lower-case Latin letter with diacritics to its base
// letter: á→a, ñ→n, ü→u.
var foldTable = func() map[rune]rune {
	m := map[rune]rune{}
	for r := rune(0xC0); r <= 0x24F; r++ {
		d := norm.NFD.String(string(r))
		base, size := utf8.DecodeRuneInString(d)
		if size == len(d) {
			continue
		}
		marks := true
		for _, c := range d[size:] {
			marks = marks && unicode.Is(unicode.Mn, c)
		}
		if marks {
			m[r] = unicode.ToLower(base)
		}
	}
	return m
}()

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	r = unicode.ToLower(r)
	if f, ok := foldTable[r]; ok {
		return f
	}
	return r
}

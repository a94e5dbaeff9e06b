package entity

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// foldTable maps a lower-case Latin letter with diacritics to its base
// letter: á→a, ñ→n, ü→u.
var foldTable = buildFoldTable()

func buildFoldTable() map[rune]rune {
	m := map[rune]rune{}
	add := func(lo, hi rune) {
		for r := lo; r <= hi; r++ {
			d := norm.NFD.String(string(r))
			base, size := utf8.DecodeRuneInString(d)
			if size == len(d) {
				continue
			}
			marks := true
			for _, c := range d[size:] {
				if !unicode.Is(unicode.Mn, c) {
					marks = false
				}
			}
			if marks {
				m[r] = unicode.ToLower(base)
			}
		}
	}
	add(0xC0, 0x24F)
	add(0x1E00, 0x1EFF)
	return m
}

func isMark(r rune) bool { return unicode.In(r, unicode.Mn, unicode.Me) }

// Token kinds.
const (
	kWord  uint8 = iota + 1 // a run of letters
	kNum                    // a run of ASCII digits
	kPunct                  // any other single rune that is not a space
)

type token struct {
	s      string // folded text
	fs, fe int32  // byte offsets into doc.fold
	kind   uint8
	gap    bool // preceded by white space or the start of the text
}

// doc is a text folded to lower case without accents, cut into tokens,
// with a map from each folded byte back to the original text.
type doc struct {
	text   string
	fold   string
	ostart []int32 // for each folded byte, where its rune starts in text
	oend   []int32 // for each folded byte, where its rune (and its marks) end in text
	toks   []token
}

func newDoc(text string) *doc {
	d := &doc{text: text}
	var b strings.Builder
	b.Grow(len(text))
	d.ostart = make([]int32, 0, len(text))
	d.oend = make([]int32, 0, len(text))
	last := -1 // first folded byte of the last rune written
	emit := func(r rune, from, to int) {
		last = b.Len()
		b.WriteRune(r)
		for k := last; k < b.Len(); k++ {
			d.ostart = append(d.ostart, int32(from))
			d.oend = append(d.oend, int32(to))
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			last = b.Len()
			b.WriteByte(c)
			d.ostart = append(d.ostart, int32(i))
			d.oend = append(d.oend, int32(i+1))
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			emit(' ', i, i+1)
		case isMark(r) && last >= 0:
			for k := last; k < len(d.oend); k++ {
				d.oend[k] = int32(i + size)
			}
		default:
			r = unicode.ToLower(r)
			if f, ok := foldTable[r]; ok {
				r = f
			}
			emit(r, i, i+size)
		}
		i += size
	}
	d.fold = b.String()
	d.toks = tokenize(d.fold, nil)
	return d
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// tokenize cuts a folded string into tokens.
func tokenize(f string, toks []token) []token {
	gap := true
	for i := 0; i < len(f); {
		r, size := utf8.DecodeRuneInString(f[i:])
		j := i + size
		var kind uint8
		switch {
		case r < utf8.RuneSelf && '0' <= r && r <= '9':
			kind = kNum
			for j < len(f) && '0' <= f[j] && f[j] <= '9' {
				j++
			}
		case unicode.IsLetter(r):
			kind = kWord
			for j < len(f) {
				r2, s2 := utf8.DecodeRuneInString(f[j:])
				if !unicode.IsLetter(r2) {
					break
				}
				j += s2
			}
		case isSpace(r):
			gap = true
			i = j
			continue
		default:
			kind = kPunct
		}
		toks = append(toks, token{s: f[i:j], fs: int32(i), fe: int32(j), kind: kind, gap: gap})
		gap = false
		i = j
	}
	return toks
}

// foldPhrase folds and tokenizes a phrase from a definition.
func foldPhrase(s string) []string {
	d := newDoc(s)
	out := make([]string, len(d.toks))
	for i, t := range d.toks {
		out[i] = t.s
	}
	return out
}

func (d *doc) tok(i int) *token {
	if i < 0 || i >= len(d.toks) {
		return nil
	}
	return &d.toks[i]
}

// w returns token i if it is a word, else "".
func (d *doc) w(i int) string {
	if t := d.tok(i); t != nil && t.kind == kWord {
		return t.s
	}
	return ""
}

// n returns token i if it is a number, else "".
func (d *doc) n(i int) string {
	if t := d.tok(i); t != nil && t.kind == kNum {
		return t.s
	}
	return ""
}

// p returns token i if it is punctuation, else "".
func (d *doc) p(i int) string {
	if t := d.tok(i); t != nil && t.kind == kPunct {
		return t.s
	}
	return ""
}

// adj reports whether token i touches token i-1, with no space between.
func (d *doc) adj(i int) bool {
	return i > 0 && i < len(d.toks) && !d.toks[i].gap
}

// alnum reports whether token i is a word or a number.
func (d *doc) alnum(i int) bool {
	t := d.tok(i)
	return t != nil && (t.kind == kWord || t.kind == kNum)
}

// span returns the original byte offsets of tokens i through j.
func (d *doc) span(i, j int) (int, int) {
	return int(d.ostart[d.toks[i].fs]), int(d.oend[d.toks[j].fe-1])
}

// between returns the folded text between tokens i-1 and i.
func (d *doc) between(i int) string {
	if i <= 0 || i >= len(d.toks) {
		return ""
	}
	return d.fold[d.toks[i-1].fe:d.toks[i].fs]
}

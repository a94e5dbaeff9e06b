package sentiment

import (
	"sort"
	"unicode"
	"unicode/utf8"
)

// emoji are the valences of emoji; skin tones and variation selectors are
// ignored.
var emoji = map[rune]float64{
	// negative
	'😡': -3, '🤬': -3.5, '😠': -2.5, '👎': -2.5, '😢': -2, '😭': -2.2, '😞': -2, '😔': -1.8, '😟': -1.5,
	'😤': -2, '😩': -2, '😫': -2, '😖': -2, '😣': -1.8, '☹': -2, '🙁': -1.8, '😒': -1.8, '🙄': -1.5,
	'💩': -2.5, '🤮': -3, '🤢': -2.5, '😾': -2, '💔': -2.5, '😑': -0.8, '😐': -0.5, '😕': -1.2, '😓': -1.2,
	'😥': -1.5, '😰': -1.5, '😱': -1.5, '🤦': -1.8, '😿': -2, '🖕': -3, '😬': -0.8, '😪': -1.2, '🥺': -1,
	// positive
	'😊': 2.2, '🙂': 1.5, '👍': 2, '❤': 2.5, '♥': 2.2, '💙': 2, '💚': 2, '💛': 2, '💜': 2, '🧡': 2, '🤍': 2,
	'💕': 2.5, '💖': 2.5, '💗': 2.5, '😍': 3, '🥰': 3, '😘': 2.5, '🙏': 1.5, '😀': 2, '😃': 2.2, '😄': 2.2,
	'😁': 2.2, '😆': 2, '😂': 1.5, '🤣': 1.5, '😉': 1.2, '😎': 1.5, '🤩': 3, '🤗': 2, '👌': 1.8, '👏': 2,
	'🎉': 2.5, '🥳': 2.5, '✨': 1, '💯': 2, '💪': 1.5, '✅': 1, '🌟': 1.5, '⭐': 1.5, '😇': 2, '☺': 2,
	'😌': 1.2, '🤝': 1.5, '🫶': 2.5, '🙌': 2.2, '🏆': 2, '😻': 2.5, '🥹': 1.5,
}

// emoticons are the valences of text emoticons, longest first.
var emoticons = func() []emoticonDef {
	list := []emoticonDef{
		{">:(", -2.8}, {">:-(", -2.8}, {":'(", -2.2}, {":'-(", -2.2}, {"</3", -2.5},
		{":-)", 1.8}, {":)", 1.8}, {"=)", 1.8}, {":]", 1.6}, {"(:", 1.6},
		{":-D", 2.2}, {":D", 2.2}, {"=D", 2.2}, {"xD", 1.5}, {"XD", 1.5}, {";-)", 1.2}, {";)", 1.2},
		{"<3", 2.5}, {":P", 1}, {":p", 1}, {":-P", 1}, {"^^", 1.5}, {"^_^", 1.8},
		{":-(", -1.8}, {":(", -1.8}, {"=(", -1.8}, {":[", -1.6}, {":@", -2.5}, {"D:", -1.5},
		{":-/", -1}, {":/", -1}, {":|", -0.5}, {":-|", -0.5}, {"-_-", -1}, {"T_T", -2}, {":c", -1.5},
		{"u_u", -1.2}, {":s", -1}, {":S", -1},
	}
	sort.SliceStable(list, func(i, j int) bool { return len(list[i].s) > len(list[j].s) })
	return list
}()

type emoticonDef struct {
	s string
	v float64
}

// emoticon returns the valence and length of the emoticon at text[i:],
// with its last character repeated (":(((" is stronger), or 0 length.
func emoticon(text string, i int) (float64, int) {
	c := text[i]
	if c != ':' && c != ';' && c != '=' && c != '>' && c != '<' && c != '(' && c != '^' && c != '-' &&
		c != 'x' && c != 'X' && c != 'D' && c != 'T' && c != 'u' {
		return 0, 0
	}
	for _, e := range emoticons {
		if len(text)-i < len(e.s) || text[i:i+len(e.s)] != e.s {
			continue
		}
		end := i + len(e.s)
		first, last := rune(e.s[0]), rune(e.s[len(e.s)-1])
		// Emoticons made of letters, or ending in one, stand alone as words:
		// not the "xd" in "fixd", not "D:" in "ID:", not ":s" in "Nota:sigue".
		if unicode.IsLetter(first) && i > 0 && isWordByte(text, i-1) ||
			unicode.IsLetter(last) && end < len(text) && isWordAt(text, end) {
			continue
		}
		if e.s == ":/" || e.s == ":-/" { // not https://
			if i > 0 && isWordByte(text, i-1) || end < len(text) && text[end] == '/' {
				continue
			}
		}
		rep := 0
		for end < len(text) && text[end] == byte(last) && !unicode.IsLetter(last) {
			end++
			rep++
		}
		return e.v * (1 + 0.15*float64(min(rep, 4))), end - i
	}
	return 0, 0
}

// isWordByte reports whether the rune that ends at text[i] is a letter or
// digit.
func isWordByte(text string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(text[:i+1])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// isWordAt reports whether the rune at text[i] is a letter or digit.
func isWordAt(text string, i int) bool {
	r, _ := utf8.DecodeRuneInString(text[i:])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

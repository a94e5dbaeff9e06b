package nlu

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns s as the classifier sees it: lower case, without
// accents, punctuation or repeated letters ("Holaaaa!!" is "hola"), with
// apostrophes dropped inside words ("what's" is "whats"), common chat
// spellings of Spanish and English written out ("q" is "que", "xq" is
// "porque", "thx" is "thanks"), emoji kept as words of their own, and
// words separated by single spaces. Invalid UTF-8 counts as a space.
// Other packages use it to match keywords the way the classifier does.
func Normalize(s string) string {
	var b []byte
	b = appendNormalized(b, s)
	return string(b)
}

// maxTextBytes is how much of a message the classifier reads; the rest of
// a longer message is ignored, which bounds the time of Classify.
const maxTextBytes = 4096

// appendNormalized appends Normalize(s) to dst and returns the result.
func appendNormalized(dst []byte, s string) []byte {
	start := len(dst)
	wordStart := len(dst) // start of the current word in dst
	inWord := false
	var last rune // last letter written in the current word
	run := 0      // how many times last is repeated at the end of the word
	endWord := func() {
		if !inWord {
			return
		}
		dst = expandChat(dst, wordStart)
		inWord = false
	}
	sep := func() {
		endWord()
		last, run = 0, 0
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size <= 1 {
			sep()
			continue
		}
		switch {
		case r < utf8.RuneSelf:
			switch {
			case 'A' <= r && r <= 'Z':
				r += 'a' - 'A'
			case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			case r == '\'' || r == '`':
				if inWord {
					continue // "what's" is "whats"
				}
				sep()
				continue
			default:
				sep()
				continue
			}
		case r == '’' || r == 'ʼ' || r == '´' || r == '‘':
			if inWord {
				continue
			}
			sep()
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = fold(unicode.ToLower(r))
			if r == 0 {
				continue
			}
		case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.Is(unicode.Cf, r):
			continue // combining marks, variation selectors, joiners
		case r >= 0x1F3FB && r <= 0x1F3FF:
			continue // skin tones
		case unicode.Is(unicode.So, r):
			// An emoji or other symbol is a word of its own.
			sep()
			if len(dst) > start {
				dst = append(dst, ' ')
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			sep()
			continue
		}
		if !inWord {
			if len(dst) > start {
				dst = append(dst, ' ')
			}
			wordStart = len(dst)
			inWord = true
			last, run = 0, 0
		}
		if r == last && unicode.IsLetter(r) {
			run++
			if run >= 3 {
				// A third repetition: keep one letter of the run.
				if run == 3 {
					dst = dst[:len(dst)-utf8.RuneLen(r)]
				}
				continue
			}
		} else {
			last, run = r, 1
		}
		dst = utf8.AppendRune(dst, r)
	}
	endWord()
	return dst
}

// fold returns r without its accents: the first rune of its canonical
// decomposition when that is a letter.
func fold(r rune) rune {
	if r < 0xC0 {
		return r
	}
	if r <= 0x24F {
		return latinFold[r-0xC0]
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	if norm.NFD.IsNormal(buf[:n]) {
		return r
	}
	d := norm.NFD.Append(nil, buf[:n]...)
	base, _ := utf8.DecodeRune(d)
	if unicode.IsLetter(base) || unicode.IsDigit(base) {
		return base
	}
	return r
}

// latinFold maps U+00C0..U+024F to their letters without accents.
var latinFold = func() (t [0x24F - 0xC0 + 1]rune) {
	for r := rune(0xC0); r <= 0x24F; r++ {
		d := norm.NFD.String(string(r))
		base, _ := utf8.DecodeRuneInString(d)
		t[r-0xC0] = r
		if unicode.IsLetter(base) {
			t[r-0xC0] = unicode.ToLower(base)
		}
	}
	return t
}()

// chat holds the chat spellings that Normalize writes out.
var chat = map[string]string{
	// Spanish
	"q": "que", "k": "que", "ke": "que", "qe": "que", "xq": "porque", "pq": "porque",
	"pk": "porque", "xk": "porque", "porq": "porque", "tb": "tambien", "tmb": "tambien",
	"tmbn": "tambien", "tbn": "tambien", "xa": "para", "pa": "para",
	"xfa": "por favor", "xfavor": "por favor", "porfa": "por favor", "porfis": "por favor",
	"plis": "please", "dnd": "donde", "bn": "bien", "msj": "mensaje",
	"mnn": "manana", "kiero": "quiero", "salu2": "saludos",
	"ntp": "no te preocupes", "tqm": "te quiero mucho", "sq": "es que", "nd": "nada",
	// English
	"u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "pleas": "please",
	"thx": "thanks", "thnx": "thanks", "thanx": "thanks", "tks": "thanks", "ty": "thank you",
	"tnx": "thanks", "cuz": "because", "bc": "because", "b4": "before",
	"im": "i am", "idk": "i dont know", "wanna": "want to", "gonna": "going to",
	"gimme": "give me", "msg": "message", "txt": "text", "acct": "account", "pwd": "password",
	"2day": "today", "2morrow": "tomorrow", "tmrw": "tomorrow", "tmr": "tomorrow",
	"ppl": "people", "abt": "about", "wat": "what", "wut": "what",
}

// expandChat replaces the word that starts at dst[from:] by its chat
// spelling's expansion, if it has one.
func expandChat(dst []byte, from int) []byte {
	w := dst[from:]
	if len(w) > 7 {
		return dst
	}
	if e, ok := chat[string(w)]; ok { // no allocation: the compiler sees the conversion
		return append(dst[:from], e...)
	}
	return dst
}

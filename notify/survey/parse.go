package survey

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
)

// ButtonPrefix returns the prefix of the payloads of a kind's buttons:
// "csat:" (csat:1 to csat:5) or "nps:" (nps:0 to nps:10).
func ButtonPrefix(k Kind) string { return string(k) + ":" }

// maxAnswer bounds the text ParseAnswer reads: a score is short, and a
// long message is something else.
const maxAnswer = 64

// csatWords are the words that rate 1 to 5, folded.
var csatWords = map[string]int{
	"excelente": 5, "muy bueno": 5, "muy buena": 5, "excellent": 5, "very good": 5, "great": 5,
	"bueno": 4, "buena": 4, "good": 4,
	"regular": 3, "normal": 3, "ok": 3, "fair": 3, "average": 3,
	"malo": 2, "mala": 2, "bad": 2, "poor": 2,
	"pesimo": 1, "pesima": 1, "muy malo": 1, "muy mala": 1, "terrible": 1, "awful": 1, "very bad": 1, "very poor": 1,
}

// numberWords are the numbers 0 to 10 written out, folded, in Spanish and
// English.
var numberWords = map[string]int{
	"cero": 0, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
	"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}

// ParseAnswer reads a score of a kind of survey from a customer's message:
// its text and the payload of the button it answers with, if any. It
// takes a button's payload of the kind ("csat:4", "nps:9"); a number in
// range, alone or with what a scale or a button's title adds ("4/5",
// "9 de 10", "3 estrellas", "5 excelente"); a number written out ("diez",
// "ten"); and, for CSAT, a word in Spanish or English (excelente or muy
// bueno 5, bueno 4, regular 3, malo 2, pésimo or muy malo 1). Anything
// else, out of range or of the other kind, is not an answer (ok false).
func ParseAnswer(k Kind, text, payload string) (score int, ok bool) {
	lo, hi := k.Range()
	inRange := func(n int) bool { return n >= lo && n <= hi }
	if payload != "" {
		if n, found := strings.CutPrefix(payload, ButtonPrefix(k)); found {
			if v, err := strconv.Atoi(n); err == nil && inRange(v) && strconv.Itoa(v) == n {
				return v, true
			}
		}
		if text == "" {
			return 0, false
		}
	}
	if len(text) > maxAnswer || !utf8.ValidString(text) || strings.HasPrefix(strings.TrimSpace(text), "-") {
		return 0, false // long, broken, or a negative number
	}
	t := fold(text)
	if k == KindCSAT {
		if v, found := csatWords[t]; found {
			return v, true
		}
	}
	if v, found := numberWords[t]; found && inRange(v) {
		return v, true
	}
	digits := len(t) - len(strings.TrimLeftFunc(t, func(r rune) bool { return r >= '0' && r <= '9' }))
	if digits == 0 || digits > 2 {
		return 0, false
	}
	v, _ := strconv.Atoi(t[:digits])
	if !inRange(v) || (digits == 2 && t[0] == '0') {
		return 0, false
	}
	rest := strings.TrimSpace(t[digits:])
	if rest == "" || scaleSuffix(rest, hi) {
		return v, true
	}
	if k == KindCSAT {
		if w, found := csatWords[rest]; found && w == v {
			return v, true // a button's title, "5 excelente"
		}
	}
	return 0, false
}

// scaleSuffix says whether what follows a number only restates the scale:
// "/5", "de 10", "out of 10", "puntos", "estrellas".
func scaleSuffix(rest string, hi int) bool {
	max := strconv.Itoa(hi)
	switch rest {
	case "/" + max, "/ " + max, "de " + max, "sobre " + max, "of " + max, "out of " + max,
		"estrellas", "estrella", "stars", "star", "puntos", "punto", "points", "point":
		return true
	}
	return false
}

// fold lowers a text, drops accents, collapses spaces and trims
// punctuation and symbols at its ends ("¡Excelente!" is "excelente").
func fold(text string) string {
	t := strings.ToLower(strings.Join(strings.Fields(text), " "))
	t = strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ü", "u").Replace(t)
	return strings.TrimFunc(t, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) || unicode.IsSymbol(r) })
}

// answerOf returns a message's text and the payload of the button it
// answers with, if any.
func answerOf(m conversation.Message) (text, payload string) {
	for _, p := range m.Parts {
		if p.Payload != "" {
			payload = p.Payload
		}
	}
	return m.Text(), payload
}

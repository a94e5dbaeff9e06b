package templates

import "unicode/utf16"

// SMS encodings.
const (
	GSM7 = "GSM-7"
	UCS2 = "UCS-2"
)

// DefaultMaxSegments is the most segments an SMS variant may take, and its
// default: carriers and Twilio concatenate at most 10 (1600 characters).
const DefaultMaxSegments = 10

// Segment sizes: one segment holds 160 septets or 70 UTF-16 units; a
// segment of a concatenated message loses 7 septets or 3 units to its
// header.
const (
	gsmSingle, gsmMulti = 160, 153
	ucsSingle, ucsMulti = 70, 67
)

// SMSCount is how an SMS text travels: its encoding, its length in the
// encoding's units (GSM-7 septets, UCS-2 UTF-16 code units), and the
// number of segments it is billed and sent as.
type SMSCount struct {
	Encoding string `json:"encoding"`
	Units    int    `json:"units"`
	Segments int    `json:"segments"`
}

// gsmBasic is the GSM 03.38 default alphabet (one septet each, ESC
// excluded); gsmExtension is its extension table (ESC and one septet).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

var gsmSeptets = func() map[rune]int {
	m := map[rune]int{}
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// GSMSeptets returns how many septets r takes in GSM-7: 1 for the default
// alphabet, 2 for the extension table, 0 when GSM-7 cannot encode it.
func GSMSeptets(r rune) int { return gsmSeptets[r] }

// CountSMS returns how s travels as an SMS: in GSM-7 when every character
// is in its alphabet or extension table (which take two septets), else in
// UCS-2. A message that fits one segment (160 septets, 70 units) is one;
// a longer one is split into segments of 153 septets or 67 units, never
// between the two septets of an extension character nor the two units of
// a surrogate pair (an emoji). The empty text is no segment.
func CountSMS(s string) SMSCount {
	sizes := make([]int, 0, len(s))
	gsm := true
	for _, r := range s {
		n := gsmSeptets[r]
		if n == 0 {
			gsm = false
			break
		}
		sizes = append(sizes, n)
	}
	single, multi, enc := gsmSingle, gsmMulti, GSM7
	if !gsm {
		single, multi, enc = ucsSingle, ucsMulti, UCS2
		sizes = sizes[:0]
		for _, r := range s {
			n := 1
			if utf16.RuneLen(r) == 2 {
				n = 2
			}
			sizes = append(sizes, n)
		}
	}
	units := 0
	for _, n := range sizes {
		units += n
	}
	c := SMSCount{Encoding: enc, Units: units}
	switch {
	case units == 0:
	case units <= single:
		c.Segments = 1
	default:
		c.Segments = 1
		room := multi
		for _, n := range sizes {
			if n > room {
				c.Segments++
				room = multi
			}
			room -= n
		}
	}
	return c
}

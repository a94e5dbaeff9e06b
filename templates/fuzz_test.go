package templates

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf16"

	"conversa/conversation"
)

// FuzzParse feeds definitions, seeded from testdata, to Parse: it never
// panics, refuses only with EINVALID Problems, and whatever it accepts
// previews with its samples for every variant's channel and language.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/invalid/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			src, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(src)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		tp, err := Parse("fuzz.yaml", src)
		if err != nil {
			var ps Problems
			if conversation.ErrorCode(err) != conversation.EINVALID || !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("error %v is not EINVALID with problems", err)
			}
			return
		}
		if tp.Checksum != Checksum(src) {
			t.Fatal("checksum is not the source's")
		}
		for i, v := range tp.Variants {
			ch := v.Channel
			if ch == AnyChannel {
				ch = conversation.ChannelWebchat
			}
			if _, err := tp.Preview(Request{Channel: ch, Language: v.Language}); err != nil {
				t.Fatalf("variants[%d] (%s/%s) passed the checks but does not preview: %v", i, v.Channel, v.Language, err)
			}
		}
	})
}

// FuzzCountSMS checks CountSMS against its definition: the encoding is
// GSM-7 exactly when every character has septets, the units add up, and
// the segments are as few as the units allow, give or take the one unit
// per segment that an unsplittable character may leave empty.
func FuzzCountSMS(f *testing.F) {
	for _, s := range []string{"", "hola", "¿Cómo estás? 😊", "{}[]~|^€\\\f", "Ana María, su caso PQR-2026-000123 fue resuelto."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := CountSMS(s)
		gsm, septets, units := true, 0, 0
		for _, r := range s {
			n := GSMSeptets(r)
			if n == 0 {
				gsm = false
			}
			septets += n
			units += len(utf16.Encode([]rune{r}))
		}
		single, multi := ucsSingle, ucsMulti
		if gsm {
			single, multi, units = gsmSingle, gsmMulti, septets
			if c.Encoding != GSM7 {
				t.Fatalf("%q: encoding %s, want GSM-7", s, c.Encoding)
			}
		} else if c.Encoding != UCS2 {
			t.Fatalf("%q: encoding %s, want UCS-2", s, c.Encoding)
		}
		if c.Units != units {
			t.Fatalf("%q: %d units, want %d", s, c.Units, units)
		}
		switch {
		case units == 0:
			if c.Segments != 0 {
				t.Fatalf("%q: %d segments of nothing", s, c.Segments)
			}
		case units <= single:
			if c.Segments != 1 {
				t.Fatalf("%q: %d segments, want 1", s, c.Segments)
			}
		default:
			least, most := (units+multi-1)/multi, (units+multi-2)/(multi-1)
			if c.Segments < least || c.Segments > most {
				t.Fatalf("%q: %d segments, want %d to %d", s, c.Segments, least, most)
			}
		}
	})
}

package survey

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseAnswer(t *testing.T) {
	for _, c := range []struct {
		name          string
		kind          Kind
		text, payload string
		want          int // -1: not an answer
	}{
		{"csat button", KindCSAT, "", "csat:4", 4},
		{"csat button with its title", KindCSAT, "4", "csat:4", 4},
		{"csat button out of range", KindCSAT, "", "csat:6", -1},
		{"csat button zero-padded", KindCSAT, "", "csat:04", -1},
		{"nps button on a csat survey", KindCSAT, "", "nps:4", -1},
		{"another button, a digit typed", KindCSAT, "3", "menu:3", 3},
		{"csat digit", KindCSAT, "5", "", 5},
		{"csat zero", KindCSAT, "0", "", -1},
		{"csat six", KindCSAT, "6", "", -1},
		{"csat with the scale", KindCSAT, "4/5", "", 4},
		{"csat de 5", KindCSAT, "4 de 5", "", 4},
		{"csat stars", KindCSAT, "3 estrellas", "", 3},
		{"csat star emoji", KindCSAT, "5 ⭐", "", 5},
		{"csat exclaimed", KindCSAT, "¡5!", "", 5},
		{"csat button title", KindCSAT, "5 Excelente", "", 5},
		{"csat title that disagrees", KindCSAT, "2 excelente", "", -1},
		{"excelente", KindCSAT, "Excelente", "", 5},
		{"muy bueno", KindCSAT, "muy  bueno", "", 5},
		{"bueno", KindCSAT, "bueno.", "", 4},
		{"regular", KindCSAT, "Regular", "", 3},
		{"malo", KindCSAT, "malo", "", 2},
		{"pésimo", KindCSAT, "¡Pésimo!", "", 1},
		{"muy malo", KindCSAT, "MUY MALO", "", 1},
		{"excellent", KindCSAT, "excellent", "", 5},
		{"good", KindCSAT, "Good", "", 4},
		{"bad", KindCSAT, "bad", "", 2},
		{"terrible", KindCSAT, "terrible!!", "", 1},
		{"a number word on csat", KindCSAT, "cuatro", "", 4},
		{"a sentence", KindCSAT, "el servicio fue bueno pero lento", "", -1},
		{"a menu reply with words", KindCSAT, "2 por favor", "", -1},
		{"negative", KindCSAT, "-2", "", -1},
		{"empty", KindCSAT, "", "", -1},
		{"nps button", KindNPS, "", "nps:10", 10},
		{"nps button zero", KindNPS, "", "nps:0", 0},
		{"nps button eleven", KindNPS, "", "nps:11", -1},
		{"csat button on an nps survey", KindNPS, "", "csat:5", -1},
		{"nps digit", KindNPS, "9", "", 9},
		{"nps zero", KindNPS, "0", "", 0},
		{"nps ten", KindNPS, "10", "", 10},
		{"nps eleven", KindNPS, "11", "", -1},
		{"nps leading zero", KindNPS, "07", "", -1},
		{"nps of 10", KindNPS, "8/10", "", 8},
		{"nps de 10", KindNPS, "9 de 10", "", 9},
		{"nps out of 10", KindNPS, "7 out of 10", "", 7},
		{"nps diez", KindNPS, "Diez", "", 10},
		{"nps ten word", KindNPS, "ten", "", 10},
		{"nps cero", KindNPS, "cero", "", 0},
		{"nps takes no words", KindNPS, "excelente", "", -1},
		{"nps three digits", KindNPS, "100", "", -1},
		{"nps with the wrong scale", KindNPS, "4/5", "", -1},
		{"a long message", KindNPS, "9" + strings.Repeat(" ", 100), "", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := ParseAnswer(c.kind, c.text, c.payload)
			if !ok {
				got = -1
			}
			if got != c.want {
				t.Fatalf("ParseAnswer(%s, %q, %q) = %d, %v; want %d", c.kind, c.text, c.payload, got, ok, c.want)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	for purpose, want := range map[string]Kind{
		"survey_csat": KindCSAT, "survey_nps": KindNPS, "survey_csat_delivery": KindCSAT, "survey_nps_q1": KindNPS,
		"survey_csatx": "", "case_survey": "", "reminder": "",
	} {
		k, ok := KindOf(purpose)
		if k != want || ok != (want != "") {
			t.Errorf("KindOf(%q) = %q, %v; want %q", purpose, k, ok, want)
		}
	}
}

func TestValidSubject(t *testing.T) {
	for subject, ok := range map[string]bool{
		"": true, "conversation:12": true, "case:3": true, "campaign:9": true, "topic:entrega de pedido": true,
		"case:": false, "case:0": false, "case:x": false, "case:012": false, "topic:": false, "topic: ": false,
		"pedido": false, "topic:a\nb": false, "topic:" + strings.Repeat("a", 200): false,
	} {
		if err := ValidSubject(subject); (err == nil) != ok {
			t.Errorf("ValidSubject(%q) = %v, want ok %v", subject, err, ok)
		}
	}
}

// FuzzParseAnswer: any message either is no answer or a score in the
// kind's range, and never panics.
func FuzzParseAnswer(f *testing.F) {
	for _, s := range []string{"5", "excelente", "¡Pésimo!", "9 de 10", "4/5", "csat:4", "nps:10", "diez", "-1", "07", "5 ⭐", ""} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, text, payload string) {
		for _, k := range []Kind{KindCSAT, KindNPS} {
			v, ok := ParseAnswer(k, text, payload)
			lo, hi := k.Range()
			if ok && (v < lo || v > hi) {
				t.Fatalf("ParseAnswer(%s, %q, %q) = %d, out of %d-%d", k, text, payload, v, lo, hi)
			}
			if !ok && v != 0 {
				t.Fatalf("no answer but score %d", v)
			}
			if ok && payload == "" && !utf8.ValidString(text) {
				t.Fatalf("an answer from invalid UTF-8 %q", text)
			}
		}
	})
}

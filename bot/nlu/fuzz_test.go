package nlu

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzLoad checks that Load never panics and that what it accepts is a
// model that classifies and marshals back to the same bytes.
func FuzzLoad(f *testing.F) {
	b, err := trainedToy(f).MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte(magic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(data []byte) {
			m, err := Load(data)
			if err != nil {
				if m != nil {
					t.Fatal("Load returned a model and an error")
				}
				return
			}
			p := m.Classify("hola, quiero pagar")
			if len(p.Ranking) == 0 || math.IsNaN(p.Confidence) {
				t.Fatalf("loaded model predicts %+v", p)
			}
			again, err := m.MarshalBinary()
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("loaded model marshals to other bytes (%v)", err)
			}
		}
		check(data)
		// The same bytes with a valid checksum, to reach the checks
		// behind it.
		if len(data) >= 4 {
			fixed := bytes.Clone(data)
			binary.LittleEndian.PutUint32(fixed[len(fixed)-4:], crc32.Checksum(fixed[:len(fixed)-4], castagnoli))
			check(fixed)
		}
	})
}

// FuzzClassify checks Classify on any text: empty, huge, emoji only,
// invalid UTF-8; with and without the features of word stems.
func FuzzClassify(f *testing.F) {
	m := trainedToy(f)
	stems, err := Train(context.Background(), toy, Options{Seed: 1, stems: 1})
	if err != nil {
		f.Fatal(err)
	}
	two := *m // the threshold on the two best probabilities
	two.twoBest = true
	for _, s := range []string{"", "hola", "🙂🙂🙂", "\xff\xfe", strings.Repeat("a", 10000), "I lost my card!!!", "q xq pq", "\u0301\u0301", "İSTANBUL ǅ ß", "companies applied ies ied sss charges"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, m := range []*Model{m, stems, &two} {
			p := m.Classify(text)
			checkPrediction(t, m, p)
			if p.Language != "" && p.Language != "es" && p.Language != "en" {
				t.Fatalf("language %q", p.Language)
			}
		}
	})
}

// FuzzNormalize checks that Normalize gives valid UTF-8 words separated by
// single spaces, and that normalizing again changes nothing.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"", "Holaaaa!!", "xq no?", "it’s", "ok👍🏽", "\xff", "ÀÉÎÕÜ ñ", "a'''b", "ǅemal", "ﬁ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q: invalid UTF-8", s, n)
		}
		if strings.HasPrefix(n, " ") || strings.HasSuffix(n, " ") || strings.Contains(n, "  ") {
			t.Fatalf("Normalize(%q) = %q: bad spacing", s, n)
		}
		if again := Normalize(n); again != n {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q", s, n, n, again)
		}
		if lang, conf := DetectLanguage(s); lang == "" && conf != 0 || conf < 0 || conf > 1 {
			t.Fatalf("DetectLanguage(%q) = %q, %v", s, lang, conf)
		}
	})
}

package nlu

import (
	"context"
	"testing"
)

func TestStemOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"charge", "charg"},
		{"charged", "charg"},
		{"charges", "charg"},
		{"charging", "charg"},
		{"companies", "company"},
		{"applied", "apply"},
		{"quickly", "quick"},
		{"reportedly", "report"},
		{"meetings", "meet"},
		{"address", "address"},
		{"tarjetas", "tarjeta"},
		{"pagos", "pago"},
		{"bus", "bus"},   // too short to lose its "s"
		{"used", "used"}, // "us" would be too short
		{"a", "a"},
		{"", ""},
	} {
		st := stemOf([]byte(tc.in))
		got := string(st.base)
		if st.y {
			got += "y"
		}
		if got != tc.want {
			t.Errorf("stemOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestStemsJoinWordForms checks that with Stems a form of a word that no
// training text has still gets the features of the forms they have, and
// that without them it gets none.
func TestStemsJoinWordForms(t *testing.T) {
	train := [][]byte{[]byte("card charges"), []byte("close account")}
	for _, stems := range []bool{false, true} {
		f := &features{WordMax: 2, Stems: stems}
		f.fit(train, 1)
		var s scratch
		f.vectorize(&s, []byte("charging cards"))
		// The stems of "charging cards" are those of "card charges"
		// in the other order: each word's stem is known, the pair is not.
		if want := map[bool]int{false: 0, true: 2}[stems]; len(s.idx) != want {
			t.Errorf("Stems %v: %d known features of an unseen form, want %d", stems, len(s.idx), want)
		}
		f.vectorize(&s, []byte("cards charged"))
		if want := map[bool]int{false: 0, true: 3}[stems]; len(s.idx) != want {
			t.Errorf("Stems %v: %d known features of a pair of unseen forms, want %d", stems, len(s.idx), want)
		}
	}
}

// TestLoadVersion3 loads a model without stems in the format before the
// Stems flag, and refuses the flag in that version.
func TestLoadVersion3(t *testing.T) {
	plain, err := Train(context.Background(), toy, Options{Seed: 1, NoStems: true})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := plain.MarshalBinary()
	l, err := Load(resumWithVersion(b, 3))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hola", "my card was stolen", "xyz"} {
		if got, want := l.Classify(text), plain.Classify(text); !equalPredictions(got, want) {
			t.Errorf("Classify(%q) of version 3 = %+v, want %+v", text, got, want)
		}
	}
	m, err := Train(context.Background(), toy, Options{Seed: 1, stems: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !m.feat.Stems || plain.feat.Stems || trainedToy(t).feat.Stems {
		t.Fatal("want stems only where asked for: small bots have none by default")
	}
	b, _ = m.MarshalBinary()
	if _, err := Load(resumWithVersion(b, 3)); err == nil {
		t.Error("Load accepted version 3 bytes with the Stems flag")
	}
	// An unknown flag is refused in the current version too.
	c := append([]byte(nil), b...)
	c[len(magic)+2+1] |= 8
	if _, err := Load(resumWithVersion(c, version)); err == nil {
		t.Error("Load accepted an unknown flag")
	}
}

package nlu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"case and punctuation", "Hola, ¿Cómo estás?", "hola como estas"},
		{"accents and eñe", "Quiero PAGAR mi factura del año", "quiero pagar mi factura del ano"},
		{"repeated letters", "holaaaa!!! siiii nooooo", "hola si no"},
		{"double letters stay", "good coffee, llamar", "good coffee llamar"},
		{"digits stay", "pedido 48213 de 1000 pesos", "pedido 48213 de 1000 pesos"},
		{"spanish chat", "q tal, xq no vienes? tb tmb pq k", "que tal porque no vienes tambien tambien porque que"},
		{"english chat", "thx u r great pls plz", "thanks you are great please please"},
		{"apostrophes", "What's up? I don't know", "whats up i dont know"},
		{"curly apostrophe", "it’s fine", "its fine"},
		{"spaces", "  many   spaces\there\n", "many spaces here"},
		{"emoji is a word", "ok👍🏽gracias", "ok 👍 gracias"},
		{"emoji only", "🙂🙂", "🙂 🙂"},
		{"empty", "", ""},
		{"punctuation only", "?!...", ""},
		{"invalid utf-8", "hola\xffmundo", "hola mundo"},
		{"other scripts", "Привет мир", "привет мир"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Normalize(tc.in); got != tc.want {
				t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestDetectLanguage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hola", "es"},
		{"hi", "en"},
		{"hello", "en"},
		{"buenos días", "es"},
		{"gracias", "es"},
		{"thanks!", "en"},
		{"quiero pagar mi factura", "es"},
		{"I want to pay my bill", "en"},
		{"¿dónde está mi pedido?", "es"},
		{"where is my order", "en"},
		{"necesito ayuda con mi cuenta", "es"},
		{"can you help me with my account", "en"},
		{"perdí mi tarjeta", "es"},
		{"I lost my card", "en"},
		{"q onda", "es"},
		{"thx u", "en"},
		{"12345", ""},
		{"🙂", ""},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, conf := DetectLanguage(tc.in)
			if got != tc.want {
				t.Errorf("DetectLanguage(%q) = %q (%.2f), want %q", tc.in, got, conf, tc.want)
			}
			if got == "" && conf != 0 || got != "" && (conf < 0.5 || conf > 1) {
				t.Errorf("DetectLanguage(%q) confidence %v", tc.in, conf)
			}
		})
	}
}

var (
	toyOnce  sync.Once
	toyModel *Model
	toyErr   error
)

// trainedToy returns a model of the toy bot, trained once per test binary.
func trainedToy(t testing.TB) *Model {
	t.Helper()
	toyOnce.Do(func() { toyModel, toyErr = Train(context.Background(), toy, Options{Seed: 1}) })
	if toyErr != nil {
		t.Fatal(toyErr)
	}
	return toyModel
}

func TestToyBot(t *testing.T) {
	m := trainedToy(t)
	if got, want := m.Intents(), []string{"billing", "card_lost", "goodbye", "greet"}; !slices.Equal(got, want) {
		t.Errorf("Intents() = %v, want %v", got, want)
	}
	for _, tc := range []struct{ text, intent, lang string }{
		{"holaaa!!", "greet", "es"},
		{"buenas noches", "greet", "es"},
		{"hi!", "greet", "en"},
		{"bye bye", "goodbye", "en"},
		{"hasta mañana", "goodbye", "es"},
		{"necesito pagar la factura", "billing", "es"},
		{"pay my invoice please", "billing", "en"},
		{"se me perdió la tarjeta", "card_lost", "es"},
		{"my card is lost", "card_lost", "en"},
		{"what is the capital of france", "", "en"},
		{"asdkjh qwe", "", ""},
		{"🙂", "", ""},
		{"", "", ""},
	} {
		t.Run(tc.text, func(t *testing.T) {
			p := m.Classify(tc.text)
			if p.Intent != tc.intent || p.OutOfScope != (tc.intent == "") {
				t.Errorf("Classify(%q) = %q (%.2f, out of scope %v, ranking %v), want %q", tc.text, p.Intent, p.Confidence, p.OutOfScope, p.Ranking, tc.intent)
			}
			if p.Language != tc.lang {
				t.Errorf("Classify(%q).Language = %q, want %q", tc.text, p.Language, tc.lang)
			}
			checkPrediction(t, m, p)
		})
	}
}

// checkPrediction checks what every prediction promises.
func checkPrediction(t *testing.T, m *Model, p Prediction) {
	t.Helper()
	if len(p.Ranking) == 0 || len(p.Ranking) > rankingSize {
		t.Fatalf("ranking of %d intents", len(p.Ranking))
	}
	sum := 0.0
	for i, s := range p.Ranking {
		if !(s.Confidence >= 0 && s.Confidence <= 1) || i > 0 && s.Confidence > p.Ranking[i-1].Confidence {
			t.Errorf("bad ranking %v", p.Ranking)
		}
		sum += s.Confidence
	}
	if sum > 1+1e-9 {
		t.Errorf("ranking sums to %v", sum)
	}
	if p.Confidence != p.Ranking[0].Confidence {
		t.Errorf("confidence %v, best of ranking %v", p.Confidence, p.Ranking[0].Confidence)
	}
	want := p.Confidence
	if m.twoBest && len(p.Ranking) > 1 {
		want += p.Ranking[1].Confidence
	}
	if p.InScope != want {
		t.Errorf("in scope %v, want %v (two best: %v)", p.InScope, want, m.twoBest)
	}
	if p.OutOfScope != (p.InScope < m.Threshold()) || p.OutOfScope != (p.Intent == "") {
		t.Errorf("out of scope %v with in scope %v, threshold %v, intent %q", p.OutOfScope, p.InScope, m.Threshold(), p.Intent)
	}
}

func TestWithThreshold(t *testing.T) {
	m := trainedToy(t)
	if th := m.Threshold(); th <= 0 || th >= 1 {
		t.Fatalf("Threshold() = %v", th)
	}
	strict := m.WithThreshold(1)
	if p := strict.Classify("hola"); !p.OutOfScope || p.Intent != "" {
		t.Errorf("with threshold 1: %+v", p)
	}
	lax := m.WithThreshold(0)
	if p := lax.Classify("asdkjh qwe"); p.OutOfScope || p.Intent == "" {
		t.Errorf("with threshold 0: %+v", p)
	}
	if m.Classify("asdkjh qwe").Intent != "" {
		t.Error("WithThreshold changed the original model")
	}
}

func TestTrainIsDeterministic(t *testing.T) {
	a, err := Train(context.Background(), toy, Options{Seed: 7, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), toy, Options{Seed: 7, Workers: 4})
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if !bytes.Equal(ab, bb) {
		t.Error("two trainings with the same seed gave different bytes")
	}
	c, err := Train(context.Background(), toy, Options{Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	if cb, _ := c.MarshalBinary(); bytes.Equal(ab, cb) {
		t.Error("another seed gave the same bytes: the seed is unused")
	}
}

func TestMarshalLoad(t *testing.T) {
	m := trainedToy(t)
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if l.Threshold() != m.Threshold() || !slices.Equal(l.Intents(), m.Intents()) {
		t.Errorf("loaded threshold %v intents %v, want %v %v", l.Threshold(), l.Intents(), m.Threshold(), m.Intents())
	}
	for _, text := range []string{"hola", "my card was stolen", "quiero pagar", "xyz", "", "🙂"} {
		if got, want := l.Classify(text), m.Classify(text); !equalPredictions(got, want) {
			t.Errorf("Classify(%q) after Load = %+v, before %+v", text, got, want)
		}
	}
	again, _ := l.MarshalBinary()
	if !bytes.Equal(again, b) {
		t.Error("a loaded model marshals to other bytes")
	}
}

func equalPredictions(a, b Prediction) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestLoadRejectsCorruptBytes(t *testing.T) {
	b, err := trainedToy(t).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x10
		return c
	}
	wrongVersion := bytes.Clone(b)
	wrongVersion[4] = 9
	cases := map[string][]byte{
		"nil":           nil,
		"magic only":    []byte(magic),
		"other magic":   append([]byte("XNLU"), b[4:]...),
		"wrong version": wrongVersion,
		"header only":   b[:20],
		"half":          b[:len(b)/2],
		"last byte cut": b[:len(b)-1],
		"extra byte":    append(bytes.Clone(b), 0),
		"flipped early": flip(12),
		"flipped name":  flip(60),
		"flipped mid":   flip(len(b) / 2),
		"flipped crc":   flip(len(b) - 1),
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := Load(c)
			if err == nil || m != nil {
				t.Fatalf("Load accepted %d corrupt bytes", len(c))
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
	// Every truncation fails.
	for n := range len(b) {
		if _, err := Load(b[:n]); err == nil {
			t.Fatalf("Load accepted the first %d of %d bytes", n, len(b))
		}
	}
}

func TestTrainRejectsBadExamples(t *testing.T) {
	for name, ex := range map[string][]Example{
		"none":             nil,
		"one intent":       {{"hola", "greet"}, {"hello", "greet"}},
		"empty text":       {{"hola", "greet"}, {"", "bye"}},
		"punctuation only": {{"hola", "greet"}, {"?!", "bye"}},
		"empty intent":     {{"hola", "greet"}, {"adios", ""}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Train(context.Background(), ex, Options{}); !errors.Is(err, ErrInvalid) {
				t.Errorf("Train: %v, want ErrInvalid", err)
			}
			if _, err := CrossValidate(context.Background(), ex, 3, Options{}); !errors.Is(err, ErrInvalid) {
				t.Errorf("CrossValidate: %v, want ErrInvalid", err)
			}
		})
	}
}

// synthetic returns n examples of intents intents made of random words.
func synthetic(intents, n int) []Example {
	r := newRNG(1, 0)
	word := func() string {
		var b strings.Builder
		for range 3 + r.intn(6) {
			b.WriteByte(byte('a' + r.intn(26)))
		}
		return b.String()
	}
	vocab := make([]string, 2000)
	for i := range vocab {
		vocab[i] = word()
	}
	ex := make([]Example, n)
	for i := range ex {
		c := i % intents
		var ws []string
		for range 4 + r.intn(8) {
			if r.intn(2) == 0 {
				ws = append(ws, vocab[c*10+r.intn(10)]) // words of the intent
			} else {
				ws = append(ws, vocab[r.intn(len(vocab))])
			}
		}
		ex[i] = Example{strings.Join(ws, " "), "intent" + string(rune('a'+c%26)) + string(rune('a'+c/26))}
	}
	return ex
}

func TestTrainHonoursContext(t *testing.T) {
	ex := synthetic(100, 3000)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, ex, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Train with a cancelled context: %v", err)
	}
	if _, err := CrossValidate(ctx, ex, 5, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("CrossValidate with a cancelled context: %v", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Train(ctx, ex, Options{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Train past its deadline: %v", err)
	}
	// A full training of these examples takes about 20 s on two free
	// cores; stopping takes well under a second there, and about 3 s
	// with the race detector on a machine loaded 16 deep.
	if d := time.Since(start); d > 6*time.Second {
		t.Errorf("Train took %v to stop", d)
	}
}

// TestTrainsATenantSizedBot trains 1,000 examples of 50 intents (bench/nlu
// measures how long it takes).
func TestTrainsATenantSizedBot(t *testing.T) {
	ex := synthetic(50, 1000)
	m, err := Train(context.Background(), ex, Options{})
	if err != nil {
		t.Fatal(err)
	}
	right := 0
	for _, e := range ex[:200] {
		if m.Classify(e.Text).Ranking[0].Intent == e.Intent {
			right++
		}
	}
	if right < 190 {
		t.Errorf("%d of 200 training examples classified right", right)
	}
}

func TestCrossValidate(t *testing.T) {
	ex := append(slices.Clone(toy),
		Example{"Hola!!", "goodbye"}, // the same as "hola" (greet) once normalized
		Example{"un saludo", "greet"},
	)
	r, err := CrossValidate(context.Background(), ex, 4, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r.Examples != len(ex) || r.Intents != 4 || r.Folds != 4 || len(r.PerIntent) != 4 {
		t.Errorf("report %d examples, %d intents, %d folds, %d per intent", r.Examples, r.Intents, r.Folds, len(r.PerIntent))
	}
	want := []Conflict{{Text: "hola", Intents: []string{"goodbye", "greet"}}}
	if !slices.EqualFunc(r.Conflicts, want, func(a, b Conflict) bool { return a.Text == b.Text && slices.Equal(a.Intents, b.Intents) }) {
		t.Errorf("conflicts %+v, want %+v", r.Conflicts, want)
	}
	if r.Accuracy < 0.5 || r.Accuracy > 1 || r.MacroF1 <= 0 || r.MacroF1 > 1 {
		t.Errorf("accuracy %v, macro F1 %v", r.Accuracy, r.MacroF1)
	}
	support := 0
	for _, s := range r.PerIntent {
		support += s.Support
	}
	if support != len(ex) {
		t.Errorf("supports add up to %d, want %d", support, len(ex))
	}
	for _, c := range r.Confusions {
		if c.Count < 1 || len(c.Examples) == 0 || len(c.Examples) > 3 || c.Expected == c.Predicted {
			t.Errorf("bad confusion %+v", c)
		}
	}
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Accuracy", "card_lost", "Conflicts", `"hola": goodbye, greet`} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, buf.String())
		}
	}
	j, _ := json.Marshal(r)
	for _, key := range []string{`"macro_f1"`, `"per_intent"`, `"in_scope_rejected"`, `"conflicts"`} {
		if !bytes.Contains(j, []byte(key)) {
			t.Errorf("JSON report lacks %s: %s", key, j)
		}
	}
	again, _ := CrossValidate(context.Background(), ex, 4, Options{Seed: 1})
	ja, _ := json.Marshal(again)
	if !bytes.Equal(j, ja) {
		t.Error("CrossValidate is not deterministic")
	}
}

func TestCrossValidateFewExamples(t *testing.T) {
	// An intent with a single example, fewer than the folds.
	ex := append(slices.Clone(toy), Example{"quiero hablar con una persona", "human"})
	r, err := CrossValidate(context.Background(), ex, 5, Options{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(r.PerIntent, func(s IntentScore) bool { return s.Intent == "human" })
	if i < 0 || r.PerIntent[i].Support != 1 || r.PerIntent[i].Recall != 0 {
		t.Errorf("per intent %+v", r.PerIntent)
	}
	if r, err := CrossValidate(context.Background(), []Example{toy[0], toy[8], toy[9]}, 10, Options{}); err != nil || r.Folds != 3 {
		t.Errorf("3 examples in 10 folds: %+v, %v", r, err)
	}
}

func TestOutOfScopeExamplesRaiseTheThreshold(t *testing.T) {
	oos := []string{"what is the weather like", "tell me a joke", "quién ganó el partido", "cuéntame un chiste", "el perro come pizza", "who is the president"}
	m, err := Train(context.Background(), toy, Options{Seed: 1, OutOfScope: oos})
	if err != nil {
		t.Fatal(err)
	}
	rejected := 0
	for _, text := range oos {
		if m.Classify(text).OutOfScope {
			rejected++
		}
	}
	if rejected < len(oos)-1 {
		t.Errorf("%d of %d out-of-scope training texts rejected, threshold %v", rejected, len(oos), m.Threshold())
	}
	for _, text := range []string{"hola", "my card is lost", "quiero pagar mi factura"} {
		if p := m.Classify(text); p.OutOfScope {
			t.Errorf("Classify(%q) is out of scope (%.2f < %.2f)", text, p.Confidence, m.Threshold())
		}
	}
}

func TestChooseThreshold(t *testing.T) {
	m := trainedToy(t)
	in := []Example{{"hola amigo", "greet"}, {"perdí la tarjeta", "card_lost"}, {"pagar factura", "billing"}}
	oos := []string{"asdkjh", "what is the capital of france"}
	th := ChooseThreshold(m, in, oos)
	mt := m.WithThreshold(th)
	for _, e := range in {
		if p := mt.Classify(e.Text); p.Intent != e.Intent {
			t.Errorf("with threshold %.3f, Classify(%q) = %q", th, e.Text, p.Intent)
		}
	}
	for _, text := range oos {
		if !mt.Classify(text).OutOfScope {
			t.Errorf("with threshold %.3f, %q is in scope", th, text)
		}
	}
	if got := ChooseThreshold(m, nil, nil); got != m.Threshold() {
		t.Errorf("ChooseThreshold without texts = %v, want the model's %v", got, m.Threshold())
	}
}

func TestClassifyConcurrently(t *testing.T) {
	m := trainedToy(t)
	texts := []string{"hola", "bye", "I lost my card", "pagar", "🙂", ""}
	want := make([]Prediction, len(texts))
	for i, text := range texts {
		want[i] = m.Classify(text)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := (g + i) % len(texts)
				if got := m.Classify(texts[k]); !equalPredictions(got, want[k]) {
					t.Errorf("concurrent Classify(%q) = %+v, want %+v", texts[k], got, want[k])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkClassify reports the time and allocations of a classification
// (go test -bench Classify -benchmem ./bot/nlu; one allocation, the
// ranking, is expected).
func BenchmarkClassify(b *testing.B) {
	m := trainedToy(b)
	b.ReportAllocs()
	for b.Loop() {
		m.Classify("quiero pagar mi factura del mes pasado")
	}
}

func TestHugeText(t *testing.T) {
	m := trainedToy(t)
	huge := strings.Repeat("quiero pagar mi factura ", 100000)
	p := m.Classify(huge)
	if p.Ranking[0].Intent != "billing" {
		t.Errorf("huge text: %+v", p)
	}
}

func TestTrainOnTheSmallestBot(t *testing.T) {
	ex := []Example{{"hola", "greet"}, {"adiós", "goodbye"}}
	m, err := Train(context.Background(), ex, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex {
		p := m.Classify(e.Text)
		checkPrediction(t, m, p)
		if p.Ranking[0].Intent != e.Intent {
			t.Errorf("Classify(%q) = %+v", e.Text, p)
		}
	}
	r, err := CrossValidate(context.Background(), ex, 5, Options{})
	if err != nil || r.Folds != 2 || r.Examples != 2 {
		t.Errorf("CrossValidate: %+v, %v", r, err)
	}
}

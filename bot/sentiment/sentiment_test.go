package sentiment_test

import (
	"math"
	"strings"
	"sync"
	"testing"

	"conversa/bot/sentiment"
)

const (
	neg = sentiment.Negative
	neu = sentiment.Neutral
	pos = sentiment.Positive
)

var cases = []struct {
	name, lang, text string
	want             sentiment.Label
}{
	// neutral requests
	{"request es", "es", "quiero pagar mi factura", neu},
	{"request en", "en", "what are your hours?", neu},
	{"request es question", "es", "¿Cuál es el horario de atención?", neu},
	{"request es with thanks", "es", "Quiero cambiar mi plan, gracias", neu},
	{"request es greeting", "es", "Buenos días, necesito el estado de mi pedido 48213", neu},
	{"request en please", "en", "Can you please send me my invoice?", neu},
	{"request no language", "", "hola, quiero saber mi saldo", neu},
	{"need help is neutral", "es", "no necesito ayuda, solo el número de la factura", neu},
	{"bueno filler", "es", "Bueno, entonces pago mañana", neu},
	{"qué pena apology", "es", "qué pena molestarlo, ¿me confirma la dirección?", neu},
	{"empty", "es", "", neu},
	{"digits only", "", "48213", neu},

	// Spanish negative
	{"pésimo", "es", "pésimo servicio", neg},
	{"malísimo", "es", "el producto es malísimo", neg},
	{"una porquería", "es", "esto es una porquería", neg},
	{"estafa", "es", "son una estafa", neg},
	{"harto", "es", "estoy harto de llamar", neg},
	{"cansado de", "es", "ya estoy cansado de esperar", neg},
	{"no sirve", "es", "la app no sirve", neg},
	{"no funciona", "es", "no me funciona el internet", neg},
	{"nunca responden", "es", "nunca me responden", neg},
	{"no estoy contento", "es", "no estoy contento con el servicio", neg},
	{"nada bien", "es", "nada bien la atención", neg},
	{"elongated", "es", "pesimoooo", neg},
	{"feminine plural", "es", "las respuestas fueron malas", neg},
	{"re prefix", "es", "remalo todo", neg},
	{"caps and exclamation", "es", "ESTO ES UNA ESTAFA!!!", neg},
	{"but clause wins", "es", "el producto es bueno pero la entrega fue pésima", neg},
	{"colloquial mx", "es", "qué servicio tan chafa", neg},
	{"question still negative", "es", "¿por qué es tan pésimo el servicio?", neg},
	{"poco amable", "es", "el asesor fue poco amable", neg},

	// Spanish positive
	{"genial", "es", "genial, gracias", pos},
	{"excelente", "es", "excelente servicio", pos},
	{"chévere", "es", "muy chévere la app", pos},
	{"bacano", "es", "qué bacano", pos},
	{"de maravilla", "es", "todo funcionó de maravilla", pos},
	{"muchas gracias", "es", "muchas gracias!", pos},
	{"superlative", "es", "buenísimo el servicio", pos},
	{"súper bien", "es", "súper bien todo", pos},
	{"me encanta", "es", "me encanta la nueva app", pos},
	{"ya funciona", "es", "ya funciona, mil gracias", pos},

	// Spanish negation toward neutral
	{"no está mal", "es", "no está mal", neu},
	{"sin problema", "es", "sin problema, lo pago mañana", neu},
	{"no hay problema", "es", "no hay problema", neu},
	{"un poco lento", "es", "un poco lento", neu},

	// English negative
	{"furious", "en", "I am furious", neg},
	{"terrible", "en", "terrible service", neg},
	{"scam", "en", "this is a scam", neg},
	{"not good", "en", "not good", neg},
	{"never works", "en", "it never works", neg},
	{"doesn't work", "en", "the app doesn't even work", neg},
	{"contraction without apostrophe", "en", "it doesnt work", neg},
	{"fed up", "en", "I'm fed up with this", neg},
	{"very bad", "en", "very bad experience", neg},
	{"don't like", "en", "I don't like it", neg},
	{"however", "en", "the agent was nice, however the product is broken and useless", neg},

	// English positive
	{"awesome", "en", "awesome!", pos},
	{"love it", "en", "love it", pos},
	{"thank you so much", "en", "thank you so much", pos},
	{"extremely helpful", "en", "extremely helpful agent", pos},
	{"not bad at all", "en", "not bad at all, thanks!", pos},
	{"great job", "en", "great job guys", pos},

	// English toward neutral
	{"slightly slow", "en", "slightly slow", neu},
	{"question damped", "en", "is it good?", neu},
	{"no problem", "en", "no problem", neu},

	// emoji and emoticons
	{"angry emoji", "", "😡", neg},
	{"cursing emoji", "", "🤬🤬", neg},
	{"thumbs down", "es", "👎", neg},
	{"crying", "es", "mi pedido no llega 😢", neg},
	{"smile emoji", "", "😊", pos},
	{"thumbs up", "en", "👍", pos},
	{"heart with selector", "", "❤️", pos},
	{"pray thanks", "es", "gracias 🙏", pos},
	{"slight smile", "", "🙂🙂", pos},
	{"sad emoticon", "en", "still waiting :(", neg},
	{"repeated sad emoticon", "es", "ok :((((", neg},
	{"happy emoticon", "es", "listo :)", pos},
	{"laughing", "es", "jajaja gracias", pos},
	{"url is not an emoticon", "en", "see https://example.com/help", neu},
	{"time is not an emoticon", "es", "a las 10:30", neu},

	// both languages
	{"both mixed", "", "the service is pésimo", neg},
	{"both positive", "", "excelente, thanks!", pos},
	{"region tag", "es-CO", "qué chimba de servicio", pos},
}

func TestAnalyze(t *testing.T) {
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got := sentiment.Analyze(tt.text, tt.lang)
			if got.Label != tt.want {
				t.Errorf("Analyze(%q, %q) = %v %.3f, want %v", tt.text, tt.lang, got.Label, got.Score, tt.want)
			}
			checkResult(t, got)
		})
	}
}

func TestOrdering(t *testing.T) {
	tests := []struct {
		name, weaker, stronger, lang string
	}{
		{"muy", "malo", "muy malo", "es"},
		{"demasiado", "lento", "demasiado lento", "es"},
		{"re", "bueno", "re bueno", "es"},
		{"re- prefix", "bueno", "rebueno", "es"},
		{"re- with a hyphen", "bueno", "re-bueno", "es"},
		{"súper", "bueno", "súper bueno", "es"},
		{"very", "good", "very good", "en"},
		{"so", "bad", "so bad", "en"},
		{"extremely", "rude", "extremely rude", "en"},
		{"un poco", "un poco caro", "caro", "es"},
		{"slightly", "slightly annoying", "annoying", "en"},
		{"caps", "pésimo", "PÉSIMO", "es"},
		{"exclamation", "terrible", "terrible!!!", "en"},
		{"elongated", "malo", "malooooo", "es"},
		{"question", "¿es malo?", "es malo", "es"},
		{"two emoji", "😡", "😡😡", ""},
		{"no está mal is above mal", "mal", "no está mal", "es"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, s := sentiment.Analyze(tt.weaker, tt.lang), sentiment.Analyze(tt.stronger, tt.lang)
			if tt.name == "no está mal is above mal" {
				if s.Score <= w.Score {
					t.Errorf("%q %.3f is not above %q %.3f", tt.stronger, s.Score, tt.weaker, w.Score)
				}
				return
			}
			if math.Abs(s.Score) <= math.Abs(w.Score) || w.Score*s.Score <= 0 {
				t.Errorf("%q %.3f is not stronger than %q %.3f", tt.stronger, s.Score, tt.weaker, w.Score)
			}
		})
	}
}

func TestLanguage(t *testing.T) {
	// A language's words count only in that language or with "".
	if got := sentiment.Analyze("pésimo", "en"); got.Label != neu {
		t.Errorf("Spanish word with en: %v", got)
	}
	if got := sentiment.Analyze("terrible", "es"); got.Label != neg {
		t.Errorf("terrible is Spanish too: %v", got)
	}
	if got := sentiment.Analyze("awesome", "es"); got.Label != neu {
		t.Errorf("English word with es: %v", got)
	}
}

func TestHuge(t *testing.T) {
	for name, text := range map[string]string{
		"words":   strings.Repeat("el servicio es pésimo pero la app es excelente! ", 2000),
		"emoji":   strings.Repeat("😡👍", 12_500),
		"letters": strings.Repeat("a", 100_000),
		"invalid": strings.Repeat("\xff\xfe", 50_000),
		"marks":   strings.Repeat(":(", 50_000),
	} {
		t.Run(name, func(t *testing.T) {
			checkResult(t, sentiment.Analyze(text, ""))
		})
	}
}

func TestConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, tt := range cases {
				sentiment.Analyze(tt.text, tt.lang)
			}
		})
	}
	wg.Wait()
}

func checkResult(t *testing.T, r sentiment.Result) {
	t.Helper()
	if math.IsNaN(r.Score) || r.Score < -1 || r.Score > 1 {
		t.Fatalf("score %v out of range", r.Score)
	}
	want := neu
	if r.Score > sentiment.Threshold {
		want = pos
	} else if r.Score < -sentiment.Threshold {
		want = neg
	}
	if r.Label != want {
		t.Fatalf("label %v for score %v", r.Label, r.Score)
	}
}

func FuzzAnalyze(f *testing.F) {
	for _, tt := range cases {
		f.Add(tt.text, tt.lang)
	}
	f.Add("\xff\xfe:(((", "")
	f.Add("jajajajsjs xD D: T_T", "es")
	f.Fuzz(func(t *testing.T, text, lang string) {
		checkResult(t, sentiment.Analyze(text, lang))
	})
}

func BenchmarkAnalyze(b *testing.B) {
	text := "Hola, llevo 3 días esperando y el pedido no llega, el servicio es pésimo 😡"
	b.ReportAllocs()
	for b.Loop() {
		sentiment.Analyze(text, "")
	}
}

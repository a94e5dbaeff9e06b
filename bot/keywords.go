// Package bot answers contacts while their conversation belongs to the
// bot. This first version holds the keyword bot that a new installation's
// demo tenant uses; the trainable dialogue engine builds on the same
// conversation.Bot port.
package bot

import (
	"context"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"conversa/conversation"
)

// Rule is one thing a keyword bot understands.
type Rule struct {
	// ID is also the payload of the quick-reply buttons that pick the rule.
	ID string
	// Words are the words or phrases, per language, that pick the rule. They
	// match whole words, ignoring case and accents.
	Words map[string][]string
	// Replies are the answers per language.
	Replies map[string][]conversation.Part
	// Action, when set, is carried out after the reply.
	Action string
}

// Keywords is a bot that answers by keyword, in the contact's language,
// and echoes what it does not understand.
type Keywords struct {
	rules    []Rule
	fallback map[string]string // per language, with {text} for the contact's text
}

var _ conversation.Bot = (*Keywords)(nil)

// NewKeywords returns a keyword bot. fallback holds, per language, the
// answer to anything no rule picks; "{text}" in it is replaced by what the
// contact wrote.
func NewKeywords(rules []Rule, fallback map[string]string) *Keywords {
	return &Keywords{rules: rules, fallback: fallback}
}

// Respond implements conversation.Bot.
func (k *Keywords) Respond(ctx context.Context, t conversation.Turn) (conversation.Response, error) {
	if err := ctx.Err(); err != nil {
		return conversation.Response{}, err
	}
	text := conversation.PartsText(t.Message.Parts)
	lang := t.Contact.Language
	if lang == "" {
		lang = DetectLanguage(text, t.Tenant.Language)
	}
	payload := ""
	for _, p := range t.Message.Parts {
		if p.Payload != "" {
			payload = p.Payload
		}
	}
	words := " " + strings.Join(fold(text), " ") + " "
	for _, r := range k.rules {
		if payload != "" && payload != r.ID {
			continue
		}
		if payload == "" && !r.matches(words) {
			continue
		}
		resp := conversation.Response{Replies: [][]conversation.Part{pick(r.Replies, lang)}}
		if r.Action != "" {
			resp.Actions = []conversation.Action{{Name: r.Action}}
		}
		return resp, nil
	}
	fb := k.fallback[lang]
	if fb == "" {
		fb = k.fallback["es"]
	}
	quoted := text
	if r := []rune(quoted); len(r) > 200 {
		quoted = string(r[:200]) + "…"
	}
	return conversation.Response{Replies: [][]conversation.Part{{conversation.TextPart(strings.ReplaceAll(fb, "{text}", quoted))}}}, nil
}

func (r Rule) matches(words string) bool {
	for _, list := range r.Words {
		for _, w := range list {
			if strings.Contains(words, " "+strings.Join(fold(w), " ")+" ") {
				return true
			}
		}
	}
	return false
}

func pick(m map[string][]conversation.Part, lang string) []conversation.Part {
	if p, ok := m[lang]; ok {
		return p
	}
	return m["es"]
}

// fold splits s into lower-case words without accents.
func fold(s string) []string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(t, strings.ToLower(s))
	if err != nil {
		folded = strings.ToLower(s)
	}
	return strings.FieldsFunc(folded, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

var (
	spanishWords = set("el la los las de del que y en un una por para con no es mi me te se lo le al como pero quiero tengo necesito hola gracias buenas buenos dias cual donde cuando puedo ayuda favor saldo factura pedido usted")
	englishWords = set("the a an of to and in is it my me you i for with not are do does what how where when can please thanks thank hello hi want need have help order invoice")
)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// DetectLanguage guesses whether text is Spanish ("es") or English ("en"),
// from common words and Spanish letters, and returns fallback when it cannot
// tell.
func DetectLanguage(text, fallback string) string {
	es, en := 0, 0
	if strings.ContainsAny(text, "ñÑ¿¡áéíóúÁÉÍÓÚ") {
		es += 2
	}
	for _, w := range fold(text) {
		if spanishWords[w] {
			es++
		}
		if englishWords[w] {
			en++
		}
	}
	switch {
	case es > en:
		return "es"
	case en > es:
		return "en"
	case fallback == "":
		return "es"
	}
	return fallback
}

package bot_test

import (
	"strings"
	"testing"

	"conversa/bot"
	"conversa/conversation"
)

func turn(text, payload, contactLang string) conversation.Turn {
	return conversation.Turn{
		Tenant:  conversation.Tenant{Language: "es"},
		Contact: conversation.Contact{Language: contactLang},
		Message: conversation.Message{Parts: []conversation.Part{{Type: conversation.PartText, Text: text, Payload: payload}}},
	}
}

func TestDemo(t *testing.T) {
	demo := bot.Demo()
	tests := []struct {
		name, text, payload, lang string
		want, action              string
	}{
		{"greeting es", "Hola, buenos días", "", "", "Soy el asistente", ""},
		{"greeting en", "hello there", "", "", "demo assistant", ""},
		{"accents and case", "¿Cuál es el HORARIO?", "", "", "lunes a viernes", ""},
		{"handoff es", "quiero hablar con una persona", "", "", "Te comunico con un agente", conversation.ActionHandoff},
		{"handoff en", "I want a human please", "", "", "connecting you with an agent", conversation.ActionHandoff},
		{"button payload wins over words", "Hola", "hours", "", "lunes a viernes", ""},
		{"contact language wins", "ok", "", "en", "I got your message", ""},
		{"echo", "mi pedido 123 no llegó", "", "", "«mi pedido 123 no llegó»", ""},
		{"word boundaries", "horarioss", "", "es", "Recibí tu mensaje", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := demo.Respond(t.Context(), turn(tt.text, tt.payload, tt.lang))
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Replies) != 1 {
				t.Fatalf("%d replies", len(resp.Replies))
			}
			if got := conversation.PartsText(resp.Replies[0]); !strings.Contains(got, tt.want) {
				t.Fatalf("reply %q, want it to contain %q", got, tt.want)
			}
			var action string
			if len(resp.Actions) > 0 {
				action = resp.Actions[0].Name
			}
			if action != tt.action {
				t.Fatalf("action %q, want %q", action, tt.action)
			}
			if err := conversation.ValidateParts(resp.Replies[0]); err != nil {
				t.Fatalf("the reply is not a valid message: %v", err)
			}
		})
	}
}

func TestDetectLanguage(t *testing.T) {
	for text, want := range map[string]string{
		"¿cuál es el saldo de mi factura?": "es",
		"where is my order":                "en",
		"ok":                               "en", // the fallback
		"señor":                            "es",
	} {
		if got := bot.DetectLanguage(text, "en"); got != want {
			t.Errorf("DetectLanguage(%q) = %q, want %q", text, got, want)
		}
	}
}

package bot

import "conversa/conversation"

// Demo returns the bilingual demo bot of a new installation: it greets,
// tells the opening hours, hands off to a person when asked, thanks, and
// echoes anything else.
func Demo() *Keywords {
	text := conversation.TextPart
	menu := func(prompt, hours, agent string) conversation.Part {
		return conversation.Part{Type: conversation.PartButtons, Text: prompt, Buttons: []conversation.Button{
			{ID: "hours", Title: hours}, {ID: "agent", Title: agent},
		}}
	}
	return NewKeywords([]Rule{
		{
			ID: "agent",
			Words: map[string][]string{
				"es": {"agente", "asesor", "persona", "humano", "operador"},
				"en": {"agent", "human", "person", "representative", "operator"},
			},
			Replies: map[string][]conversation.Part{
				"es": {text("Te comunico con un agente. Puedes seguir escribiendo mientras tanto.")},
				"en": {text("I'm connecting you with an agent. You can keep writing meanwhile.")},
			},
			Action: conversation.ActionHandoff,
		},
		{
			ID: "hours",
			Words: map[string][]string{
				"es": {"horario", "horarios", "hora", "abren", "cierran", "atienden"},
				"en": {"hours", "open", "opening", "close", "schedule"},
			},
			Replies: map[string][]conversation.Part{
				"es": {text("Atendemos de lunes a viernes de 8:00 a 18:00 y los sábados de 9:00 a 13:00 (hora de Bogotá).")},
				"en": {text("We're open Monday to Friday 8:00 to 18:00 and Saturday 9:00 to 13:00 (Bogotá time).")},
			},
		},
		{
			ID: "thanks",
			Words: map[string][]string{
				"es": {"gracias", "muchas gracias"},
				"en": {"thanks", "thank you"},
			},
			Replies: map[string][]conversation.Part{
				"es": {text("¡Con gusto! ¿Algo más en lo que te pueda ayudar?")},
				"en": {text("You're welcome! Anything else I can help with?")},
			},
		},
		{
			ID: "greet",
			Words: map[string][]string{
				"es": {"hola", "buenas", "buenos dias", "buenas tardes", "buenas noches"},
				"en": {"hello", "hi", "hey", "good morning", "good afternoon"},
			},
			Replies: map[string][]conversation.Part{
				"es": {menu("¡Hola! Soy el asistente de demostración de Conversa. ¿En qué te ayudo?", "Horario", "Hablar con un agente")},
				"en": {menu("Hi! I'm Conversa's demo assistant. How can I help?", "Opening hours", "Talk to an agent")},
			},
		},
	}, map[string]string{
		"es": "Recibí tu mensaje: «{text}». Soy un bot de demostración: escribe «horario» o «agente».",
		"en": "I got your message: “{text}”. I'm a demo bot: try “hours” or “agent”.",
	})
}

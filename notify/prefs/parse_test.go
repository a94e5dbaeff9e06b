package prefs_test

import (
	"testing"

	"conversa/conversation"
	"conversa/notify/prefs"
)

func TestParse(t *testing.T) {
	email, wa, sms, tg := conversation.ChannelEmail, conversation.ChannelWhatsApp, conversation.ChannelSMS, conversation.ChannelTelegram
	for _, tc := range []struct {
		text string
		want prefs.Request
	}{
		// Prefer a channel.
		{"quiero recibir notificaciones por correo", prefs.Request{Action: prefs.ActionPrefer, Channel: email}},
		{"Quiero recibir las notificaciones por correo electrónico, por favor", prefs.Request{Action: prefs.ActionPrefer, Channel: email}},
		{"¡Mándenme los avisos por WhatsApp!", prefs.Request{Action: prefs.ActionPrefer, Channel: wa}},
		{"prefiero SMS", prefs.Request{Action: prefs.ActionPrefer, Channel: sms}},
		{"Hola, prefiero que me escriban por Telegram", prefs.Request{Action: prefs.ActionPrefer, Channel: tg}},
		{"send me notifications by email", prefs.Request{Action: prefs.ActionPrefer, Channel: email}},
		{"Contact me on Telegram.", prefs.Request{Action: prefs.ActionPrefer, Channel: tg}},
		{"I'd prefer WhatsApp", prefs.Request{Action: prefs.ActionPrefer, Channel: wa}},
		{"I want to receive reminders via text messages", prefs.Request{Action: prefs.ActionPrefer, Channel: sms, Topic: prefs.TopicReminders}},
		{"cambiar mi canal preferido a e-mail", prefs.Request{Action: prefs.ActionPrefer, Channel: email}},
		// Opt out.
		{"No quiero recibir más notificaciones", prefs.Request{Action: prefs.ActionOptOut}},
		{"no quiero recibir mas mensajes", prefs.Request{Action: prefs.ActionOptOut}},
		{"no quiero recibir más promociones", prefs.Request{Action: prefs.ActionOptOut, Topic: prefs.TopicMarketing}},
		{"no quiero recibir encuestas", prefs.Request{Action: prefs.ActionOptOut, Topic: prefs.TopicSurveys}},
		{"dejar de recibir encuestas", prefs.Request{Action: prefs.ActionOptOut, Topic: prefs.TopicSurveys}},
		{"quiero dejar de recibir recordatorios por SMS", prefs.Request{Action: prefs.ActionOptOut, Topic: prefs.TopicReminders, Channel: sms}},
		{"no me manden más correos", prefs.Request{Action: prefs.ActionOptOut, Channel: email}},
		{"quiero darme de baja de las promociones", prefs.Request{Action: prefs.ActionOptOut, Topic: prefs.TopicMarketing}},
		{"Unsubscribe me from surveys", prefs.Request{Action: prefs.ActionOptOut, Topic: prefs.TopicSurveys}},
		{"I don't want any more promotions", prefs.Request{Action: prefs.ActionOptOut, Topic: prefs.TopicMarketing}},
		{"stop sending me reminders", prefs.Request{Action: prefs.ActionOptOut, Topic: prefs.TopicReminders}},
		// Opt in.
		{"quiero volver a recibir notificaciones", prefs.Request{Action: prefs.ActionOptIn}},
		{"Quisiera volver a recibir las encuestas por WhatsApp", prefs.Request{Action: prefs.ActionOptIn, Topic: prefs.TopicSurveys, Channel: wa}},
		{"I'd like to get surveys again", prefs.Request{Action: prefs.ActionOptIn, Topic: prefs.TopicSurveys}},
		// Show.
		{"¿Cuáles son mis preferencias de notificación?", prefs.Request{Action: prefs.ActionShow}},
		{"what are my notification settings?", prefs.Request{Action: prefs.ActionShow}},
		{"show my preferences please", prefs.Request{Action: prefs.ActionShow}},
	} {
		t.Run(tc.text, func(t *testing.T) {
			got, ok := prefs.Parse(tc.text)
			if !ok || got != tc.want {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.text, got, ok, tc.want)
			}
		})
	}
}

// TestParseNot lists messages that are the bot's: none is a preference
// request, though many name a channel or a kind of message.
func TestParseNot(t *testing.T) {
	for _, text := range []string{
		"no quiero hablar con un bot",
		"mi correo no funciona",
		"quiero poner una queja por correo",
		"quiero recibir mi pedido",
		"quiero recibir la factura por correo", // a document, not notifications: the bot's
		"no recibí el correo de confirmación",
		"no quiero recibir el paquete",
		"prefiero hablar con un agente",
		"prefiero pagar con tarjeta",
		"¿me pueden enviar la factura por whatsapp?",
		"stop",
		"STOP",
		"unsubscribe",
		"hola",
		"send me the invoice by email",
		"mándenme la factura por correo",
		"prefiero no recibir llamadas",
		"no quiero recibir más mensajes de este número",
		"send me a text",
		"what are my options for delivery",
		"contact me",
		"I prefer to talk to a person",
		"what are my options",
		"las encuestas están muy largas",
		"no quiero recibir más notificaciones de mi banco porque me roban y quiero poner una queja",
		"",
		"   ",
	} {
		t.Run(text, func(t *testing.T) {
			if got, ok := prefs.Parse(text); ok {
				t.Errorf("Parse(%q) = %+v, want none", text, got)
			}
		})
	}
}

// FuzzParse checks that Parse never panics, and that what it reads is a
// request whose fields are known.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"quiero recibir notificaciones por correo", "no quiero recibir encuestas", "Unsubscribe me from surveys",
		"¿cuáles son mis preferencias?", "prefiero SMS", "mi correo no funciona", "\xff\xfe", "ñ́́́",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := prefs.Parse(s)
		if !ok {
			if r != (prefs.Request{}) {
				t.Fatalf("Parse(%q) = %+v with ok false", s, r)
			}
			return
		}
		if len(s) > 200 {
			t.Fatalf("Parse read a request in %d bytes: a request is one sentence", len(s))
		}
		switch r.Action {
		case prefs.ActionPrefer:
			if !r.Channel.Valid() {
				t.Fatalf("Parse(%q) = %+v: a preference without a valid channel", s, r)
			}
		case prefs.ActionOptOut, prefs.ActionOptIn, prefs.ActionShow:
			if r.Channel != "" && !r.Channel.Valid() {
				t.Fatalf("Parse(%q) = %+v: unknown channel", s, r)
			}
		default:
			t.Fatalf("Parse(%q) = %+v: unknown action", s, r)
		}
		for _, p := range r.Topic.Purposes() {
			if !conversation.ValidPurpose(p) {
				t.Fatalf("topic %s has an invalid purpose %q", r.Topic, p)
			}
		}
	})
}

func TestRequestFrom(t *testing.T) {
	for _, tc := range []struct {
		action, channel, topic string
		want                   prefs.Request
		field                  string
	}{
		{"prefer", "Correo", "", prefs.Request{Action: prefs.ActionPrefer, Channel: conversation.ChannelEmail}, ""},
		{"prefer", "telegram", "", prefs.Request{Action: prefs.ActionPrefer, Channel: conversation.ChannelTelegram}, ""},
		{"opt_out", "", "encuestas", prefs.Request{Action: prefs.ActionOptOut, Topic: prefs.TopicSurveys}, ""},
		{"opt_in", "sms", "reminders", prefs.Request{Action: prefs.ActionOptIn, Channel: conversation.ChannelSMS, Topic: prefs.TopicReminders}, ""},
		{"show", "", "", prefs.Request{Action: prefs.ActionShow}, ""},
		{"delete", "", "", prefs.Request{}, "action"},
		{"prefer", "", "", prefs.Request{}, "channel"},
		{"prefer", "paloma", "", prefs.Request{}, "channel"},
		{"opt_out", "", "chismes", prefs.Request{}, "topic"},
	} {
		got, err := prefs.RequestFrom(tc.action, tc.channel, tc.topic)
		if got != tc.want || conversation.ErrorField(err) != tc.field || (tc.field != "" && conversation.ErrorCode(err) != conversation.EINVALID) {
			t.Errorf("RequestFrom(%q, %q, %q) = %+v, %v; want %+v, field %q", tc.action, tc.channel, tc.topic, got, err, tc.want, tc.field)
		}
	}
}

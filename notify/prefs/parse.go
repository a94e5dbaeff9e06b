package prefs

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"conversa/conversation"
)

// Action is what a preference request asks.
type Action string

// The actions of a preference request.
const (
	ActionPrefer Action = "prefer"  // make a channel the preferred one
	ActionOptOut Action = "opt_out" // stop messages of a topic
	ActionOptIn  Action = "opt_in"  // receive them again
	ActionShow   Action = "show"    // tell the contact their preferences
)

// Topic is a kind of notification a contact names: every message, or the
// notifications of a group of purposes.
type Topic string

// The topics. TopicAll is every message of a channel account (a consent
// change with Purpose ""); the others stand for the purposes Purposes
// lists.
const (
	TopicAll       Topic = ""
	TopicMarketing Topic = "marketing"
	TopicSurveys   Topic = "surveys"
	TopicReminders Topic = "reminders"
)

// Purposes returns the notification purposes a topic stands for: the
// built-in ones (notify/survey's and handoff's surveys) and the names a
// tenant gives its own templates of the topic. TopicAll has none: it is
// every purpose.
func (t Topic) Purposes() []string {
	switch t {
	case TopicMarketing:
		return []string{"marketing", "promotion", "promotions"}
	case TopicSurveys:
		return []string{"survey", "survey_csat", "survey_nps", "case_survey"}
	case TopicReminders:
		return []string{"reminder", "reminders"}
	}
	return nil
}

// Request is a preference request read from one message.
type Request struct {
	Action Action
	// Channel is the channel the request names, "" when none.
	Channel conversation.ChannelKind
	// Topic is what an opt-out or opt-in is about.
	Topic Topic
}

// RequestFrom builds a request from the words a bot collected: an action
// (prefer, opt_out, opt_in, show), a channel (a channel kind, or its name
// as Parse reads it: "correo", "WhatsApp"), and a topic (marketing,
// surveys, reminders, a noun Parse reads such as "encuestas", or "" for
// every message). Returns EINVALID naming the bad one.
func RequestFrom(action, channel, topic string) (Request, error) {
	r := Request{Action: Action(action)}
	switch r.Action {
	case ActionPrefer, ActionOptOut, ActionOptIn, ActionShow:
	default:
		return Request{}, conversation.FieldError("action", "%q is not prefer, opt_out, opt_in or show", action)
	}
	if ch := fold(channel); ch != "" {
		k, ok := channelWords[ch]
		if !ok && conversation.ChannelKind(ch).Valid() {
			k, ok = conversation.ChannelKind(ch), true
		}
		if !ok {
			return Request{}, conversation.FieldError("channel", "%q is not a channel", channel)
		}
		r.Channel = k
	}
	if r.Action == ActionPrefer && r.Channel == "" {
		return Request{}, conversation.FieldError("channel", "is required to prefer a channel")
	}
	switch tp := fold(topic); Topic(tp) {
	case TopicAll, TopicMarketing, TopicSurveys, TopicReminders:
		r.Topic = Topic(tp)
	default:
		t, ok := topicWords[tp]
		if !ok {
			return Request{}, conversation.FieldError("topic", "%q is not marketing, surveys or reminders", topic)
		}
		r.Topic = t
	}
	return r, nil
}

// maxText is the longest message Parse reads: a preference request is a
// sentence, never a paragraph.
const maxText = 200

// Parse reads a preference request in Spanish or English from the text of
// one message. It is conservative: only a message that is, as a whole, one
// of the request forms it knows (with greetings and "please" around) is
// one; anything else, such as "quiero poner una queja por correo", is not
// (ok false), and stays the bot's.
func Parse(text string) (Request, bool) {
	if len(text) > maxText {
		return Request{}, false
	}
	s := fold(text)
	s = trimPolite(s)
	if s == "" {
		return Request{}, false
	}
	for _, p := range patterns {
		m := p.re.FindStringSubmatch(s)
		if m == nil {
			continue
		}
		r := Request{Action: p.action}
		for i, name := range p.re.SubexpNames() {
			switch {
			case m[i] == "":
			case name == "ch":
				r.Channel = channelWords[m[i]]
			case name == "noun":
				r.Topic = topicWords[m[i]]
				if k, ok := nounChannels[m[i]]; ok && r.Channel == "" {
					r.Channel = k
				}
			}
		}
		if p.action == ActionPrefer && r.Channel == "" {
			return Request{}, false
		}
		return r, true
	}
	return Request{}, false
}

// fold lowers the case of s, removes accents and replaces every run of
// other characters than letters and digits by one space.
func fold(s string) string {
	var b strings.Builder
	space := true
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
			space = false
		case !space:
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimSpace(b.String())
}

var (
	politePrefix = regexp.MustCompile(`^(?:(?:hola|buenas|buenos dias|buenas tardes|buenas noches|hi|hello|hey|please|pls|por favor|porfa|ok|okay|oye|gracias)\s+)+`)
	politeSuffix = regexp.MustCompile(`(?:\s+(?:por favor|porfa|please|pls|gracias|thanks|thank you|ya))+$`)
)

func trimPolite(s string) string {
	s = politePrefix.ReplaceAllString(s, "")
	return politeSuffix.ReplaceAllString(s, "")
}

// channelWords are the names of channels, folded.
var channelWords = map[string]conversation.ChannelKind{
	"correo": conversation.ChannelEmail, "correo electronico": conversation.ChannelEmail, "email": conversation.ChannelEmail,
	"e mail": conversation.ChannelEmail, "mail": conversation.ChannelEmail, "emails": conversation.ChannelEmail,
	"whatsapp": conversation.ChannelWhatsApp, "wasap": conversation.ChannelWhatsApp, "wpp": conversation.ChannelWhatsApp,
	"sms": conversation.ChannelSMS, "mensaje de texto": conversation.ChannelSMS, "mensajes de texto": conversation.ChannelSMS,
	"text": conversation.ChannelSMS, "text message": conversation.ChannelSMS, "text messages": conversation.ChannelSMS,
	"telegram": conversation.ChannelTelegram,
	"chat web": conversation.ChannelWebchat, "webchat": conversation.ChannelWebchat, "web chat": conversation.ChannelWebchat,
}

// topicWords are the nouns of messages, folded, with their topic.
var topicWords = map[string]Topic{
	"notificaciones": TopicAll, "notificacion": TopicAll, "avisos": TopicAll, "alertas": TopicAll, "mensajes": TopicAll,
	"comunicaciones": TopicAll, "novedades": TopicAll, "correos": TopicAll, "sms": TopicAll, "whatsapps": TopicAll,
	"notifications": TopicAll, "alerts": TopicAll, "messages": TopicAll, "updates": TopicAll, "emails": TopicAll, "texts": TopicAll,
	"promociones": TopicMarketing, "publicidad": TopicMarketing, "ofertas": TopicMarketing, "marketing": TopicMarketing,
	"promotions": TopicMarketing, "offers": TopicMarketing, "newsletters": TopicMarketing,
	"encuestas": TopicSurveys, "surveys": TopicSurveys,
	"recordatorios": TopicReminders, "reminders": TopicReminders,
}

// nounChannels are the nouns that name a channel's messages.
var nounChannels = map[string]conversation.ChannelKind{
	"correos": conversation.ChannelEmail, "emails": conversation.ChannelEmail, "sms": conversation.ChannelSMS,
	"texts": conversation.ChannelSMS, "whatsapps": conversation.ChannelWhatsApp,
}

// pattern is one request form: a regular expression over the folded text,
// whole, with the named groups ch (a channel) and noun (a topic).
type pattern struct {
	action Action
	re     *regexp.Regexp
}

// alternation returns the keys of m as a regular expression alternation,
// longer first, so that "correo electronico" wins over "correo".
func alternation[V any](m map[string]V) string {
	words := slices.Collect(maps.Keys(m))
	slices.SortFunc(words, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	return strings.Join(words, "|")
}

var patterns = buildPatterns()

func buildPatterns() []pattern {
	r := strings.NewReplacer(
		"CH", `(?:(?:el|mi|the|my) )?(?P<ch>`+alternation(channelWords)+`)`,
		"NOUN", `(?:(?:las|los|mis|sus|tus|the|my|your|any|all|all the|todas las|todos los) )?(?P<noun>`+alternation(topicWords)+`)`,
	)
	p := func(a Action, expr string) pattern {
		return pattern{a, regexp.MustCompile(`^` + r.Replace(expr) + `$`)}
	}
	return []pattern{
		// Spanish.
		p(ActionOptIn, `(?:yo )?(?:quiero|quisiera|deseo|me gustaria) volver a recibir NOUN(?: (?:por|de) CH)?`),
		p(ActionOptIn, `(?:vuelvan a|pueden volver a) (?:enviarme|mandarme) NOUN(?: por CH)?`),
		p(ActionOptOut, `(?:ya )?no (?:quiero|deseo|quisiera) (?:recibir|que me (?:envien|manden|lleguen)) (?:mas )?NOUN(?: (?:por|de) CH)?`),
		p(ActionOptOut, `(?:ya )?no me (?:envien|manden|escriban) mas NOUN(?: por CH)?`),
		p(ActionOptOut, `(?:quiero |quisiera |deseo )?dejar de recibir NOUN(?: (?:por|de) CH)?`),
		p(ActionOptOut, `(?:quiero |quisiera |deseo )?(?:darme de baja|desuscribirme|cancelar mi suscripcion)(?: de NOUN)?(?: (?:por|de) CH)?`),
		p(ActionPrefer, `(?:yo )?(?:quiero|quisiera|prefiero|me gustaria|deseo) (?:recibir|que me (?:lleguen|envien|manden|notifiquen|escriban|contacten|avisen)) (?:NOUN )?(?:solo |solamente )?por CH`),
		p(ActionPrefer, `(?:mandenme|envienme|mandame|enviame|escribanme|contactenme|notifiquenme|avisenme)(?: NOUN)? (?:solo )?por CH`),
		p(ActionPrefer, `(?:yo )?prefiero (?:que me (?:escriban|contacten|notifiquen|avisen) )?(?:por )?CH`),
		p(ActionPrefer, `(?:quiero )?cambiar (?:mi )?(?:canal|medio)(?: preferido| de contacto| de notificaciones)? (?:a|por) CH`),
		p(ActionShow, `(?:cuales|que|cual) (?:son|es) (?:mis|mi) (?:preferencias|configuracion|ajustes)(?: de (?:notificacion|notificaciones|contacto|comunicacion|comunicaciones))?`),
		p(ActionShow, `(?:quiero )?(?:ver|conocer) (?:mis )?preferencias(?: de (?:notificacion|notificaciones|contacto|comunicacion|comunicaciones))?`),
		// English.
		p(ActionOptIn, `i (?:want|would like|d like) to (?:receive|get) NOUN again(?: (?:by|via|on) CH)?`),
		p(ActionOptIn, `(?:resubscribe me|subscribe me again|opt me back in|opt me in again)(?: to NOUN)?`),
		p(ActionOptIn, `send me NOUN again(?: (?:by|via|on) CH)?`),
		p(ActionOptOut, `(?:unsubscribe me|opt me out|remove me)(?: from NOUN)?(?: (?:by|via|on) CH)?`),
		p(ActionOptOut, `i (?:do not|dont|don t|no longer) want (?:to (?:receive|get) )?(?:any )?(?:more )?NOUN(?: (?:by|via|on) CH)?(?: anymore)?`),
		p(ActionOptOut, `(?:stop sending me|no more) NOUN(?: (?:by|via|on) CH)?`),
		p(ActionPrefer, `(?:send me|contact me|notify me|message me|reach me)(?: NOUN)? (?:by|via|on|over|through|using) CH(?: instead)?`),
		p(ActionPrefer, `i (?:would |d )?(?:want|like|prefer) (?:to (?:receive|get|be contacted|be notified|be reached) )?(?:NOUN )?(?:by|via|on|over|through) CH`),
		p(ActionPrefer, `i (?:would |d )?prefer CH`),
		p(ActionPrefer, `(?:set |change )?my preferred channel (?:is|to) CH`),
		p(ActionShow, `what (?:are|is) my (?:notification |contact |communication )?(?:settings|preferences)`),
		p(ActionShow, `(?:show|view) my (?:notification |contact |communication )?(?:settings|preferences)`),
	}
}

package prefs

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"conversa/conversation"
	"conversa/notify"
)

var _ conversation.ReplyMetaInterceptor = (*Service)(nil)

// Intercept implements conversation.Interceptor: it takes a contact's
// message that is, as a whole, a preference request Parse reads, on any
// channel and in any open state, and answers it in the contact's language
// (Spanish or English):
//
//   - a preferred channel is set when the contact is reachable on it;
//     otherwise the reply says why, and how to add the address;
//   - an opt-out or opt-in of a topic (surveys, reminders, marketing) is
//     recorded for each of the topic's purposes on every channel the
//     contact is reachable on, or on the one named; of every message, on
//     the channel account the message came on, or the channel named; with
//     source "bot:<channel>" and the time;
//   - a request to see the preferences is answered with them.
//
// Any other message is not its. A retried message records nothing more:
// each ledger entry is keyed by the message.
func (s *Service) Intercept(ctx context.Context, t conversation.Turn) (bool, [][]conversation.Part, error) {
	req, ok := requestOf(t)
	if !ok {
		return false, nil, nil
	}
	text, err := s.Handle(ctx, t, req)
	if err != nil {
		return false, nil, err
	}
	return true, [][]conversation.Part{{conversation.TextPart(text)}}, nil
}

// Handle carries out a preference request of the contact of t, as
// Intercept describes, and returns the answer to tell them in their
// language. A request that cannot be kept (a channel they cannot be
// reached on) changes nothing and is answered with why. It is idempotent
// for t.Message.
func (s *Service) Handle(ctx context.Context, t conversation.Turn, req Request) (string, error) {
	lang := languageOf(t)
	accounts, err := s.store.ListChannelAccounts(ctx, t.Tenant.ID)
	if err != nil {
		return "", fmt.Errorf("list channel accounts: %w", err)
	}
	reach := reachable(t.Contact, accounts)
	switch req.Action {
	case ActionShow:
		p, err := s.view(ctx, t.Tenant, t.Contact)
		if err != nil {
			return "", err
		}
		return describe(p, lang), nil
	case ActionPrefer:
		return s.prefer(ctx, t, req.Channel, reach, accounts, lang)
	case ActionOptOut, ActionOptIn:
		return s.consent(ctx, t, req, reach, accounts, lang)
	}
	return "", conversation.FieldError("action", "unknown preference action %q", req.Action)
}

// ReplyMeta implements conversation.ReplyMetaInterceptor: the confirmation
// of an opt-out is a keyword reply, delivered although the contact just
// opted out of the account's messages.
func (s *Service) ReplyMeta(t conversation.Turn) map[string]string {
	if req, ok := requestOf(t); ok && req.Action == ActionOptOut {
		return map[string]string{conversation.MetaKeywordReply: "opt_out"}
	}
	return nil
}

// requestOf reads the preference request of an inbound message of one
// text part.
func requestOf(t conversation.Turn) (Request, bool) {
	m := t.Message
	if m.Direction != conversation.DirectionIn || len(m.Parts) != 1 || m.Parts[0].Type != conversation.PartText {
		return Request{}, false
	}
	return Parse(m.Parts[0].Text)
}

// prefer sets the preferred channel and says so, or says why it cannot.
func (s *Service) prefer(ctx context.Context, t conversation.Turn, k conversation.ChannelKind, reach []accountAddress, accounts []conversation.ChannelAccount, lang string) (string, error) {
	if canPrefer(k, reach) != nil {
		return cannotReach(k, t.Contact, accounts, lang), nil
	}
	if preferred(t.Contact) != k {
		_, err := s.store.UpdateContact(ctx, t.Tenant.ID, t.Contact.ID, conversation.ContactUpdate{
			Attributes: map[string]string{notify.AttrPreferredChannel: string(k)}})
		if err != nil {
			return "", fmt.Errorf("set the preferred channel: %w", err)
		}
	}
	return msg(lang, "Listo: te enviaremos las notificaciones por %s.", "Done: we will send you notifications by %s.", channelName(k, lang)), nil
}

// consent records an opt-out or opt-in and says so, or says why it cannot.
func (s *Service) consent(ctx context.Context, t conversation.Turn, req Request, reach []accountAddress, accounts []conversation.ChannelAccount, lang string) (string, error) {
	u := ConsentUpdate{Channel: req.Channel, Purposes: req.Topic.Purposes(), OptedOut: req.Action == ActionOptOut}
	if req.Channel == "" && req.Topic == TopicAll {
		// Every message, and no channel named: the account it came on, as
		// a carrier keyword does.
		reach = onAccount(reach, t.Message.ChannelAccountID)
	}
	ch := Change{Consent: []ConsentUpdate{u}, Source: "bot:" + string(t.Message.Channel),
		Key: "msg:" + strconv.FormatInt(t.Message.ID, 10)}
	changes, err := consentChanges(t.Tenant.ID, t.Contact, reach, ch)
	if conversation.ErrorCode(err) == conversation.EINVALID {
		k := req.Channel
		if k == "" {
			k = t.Message.Channel
		}
		return cannotReach(k, t.Contact, accounts, lang), nil
	}
	if err != nil {
		return "", err
	}
	now := s.now()
	for _, c := range changes {
		c.At = now
		if _, err := s.store.RecordConsent(ctx, c); err != nil {
			return "", fmt.Errorf("record consent: %w", err)
		}
	}
	what := topicName(req.Topic, lang)
	where := msg(lang, " por este canal", " on this channel")
	switch {
	case req.Channel != "":
		where = msg(lang, " por %s", " by %s", channelName(req.Channel, lang))
	case req.Topic != TopicAll:
		where = ""
	}
	if u.OptedOut {
		return msg(lang, "Listo: no te enviaremos más %s%s. Puedes cambiarlo cuando quieras.",
			"Done: we will not send you %s%s any more. You can turn them back on at any time.", what, where), nil
	}
	return msg(lang, "Listo: volverás a recibir %s%s.", "Done: you will receive %s%s again.", what, where), nil
}

func onAccount(reach []accountAddress, accountID int64) []accountAddress {
	for _, aa := range reach {
		if aa.account.ID == accountID {
			return []accountAddress{aa}
		}
	}
	return nil
}

// cannotReach explains why the contact cannot get messages on k: the
// tenant has no account of it, or the contact no address, in which case
// it says where to write from when the tenant has an account of k.
func cannotReach(k conversation.ChannelKind, c conversation.Contact, accounts []conversation.ChannelAccount, lang string) string {
	name := channelName(k, lang)
	var acct *conversation.ChannelAccount
	for i, a := range accounts {
		if a.Kind == k && !a.Disabled {
			acct = &accounts[i]
			break
		}
	}
	if acct == nil {
		return msg(lang, "Lo siento, no enviamos mensajes por %s.", "Sorry, we do not send messages by %s.", name)
	}
	if _, ok := c.IdentityOn(k); ok {
		return msg(lang, "Lo siento, ahora no podemos enviarte mensajes por %s.", "Sorry, we cannot send you messages by %s right now.", name)
	}
	switch k {
	case conversation.ChannelEmail, conversation.ChannelWhatsApp, conversation.ChannelSMS, conversation.ChannelTelegram:
		return msg(lang, "Aún no conocemos tu %s. Escríbenos desde tu %s a %s y lo guardaremos.",
			"We do not know your %s yet. Write to us from your %s at %s and we will keep it.", addressName(k, lang), name, acct.Key)
	}
	return msg(lang, "Aún no conocemos tu %s.", "We do not know your %s yet.", addressName(k, lang))
}

// describe tells the contact their preferences.
func describe(p Preferences, lang string) string {
	var b strings.Builder
	if p.PreferredChannel != "" {
		b.WriteString(msg(lang, "Tu canal preferido es %s.", "Your preferred channel is %s.", channelName(p.PreferredChannel, lang)))
	} else {
		b.WriteString(msg(lang, "No tienes un canal preferido.", "You have no preferred channel."))
	}
	var outs []string
	for _, c := range p.Channels {
		name := channelName(c.Channel, lang)
		if c.OptedOut {
			outs = append(outs, msg(lang, "ningún mensaje por %s", "no messages by %s", name))
			continue
		}
		for _, purpose := range c.OptedOutPurposes {
			if o := msg(lang, "%s por %s", "%s by %s", purposeName(purpose, lang), name); !slices.Contains(outs, o) {
				outs = append(outs, o)
			}
		}
	}
	if len(outs) == 0 {
		b.WriteString(msg(lang, " Recibes todas las notificaciones.", " You receive every notification."))
	} else {
		b.WriteString(msg(lang, " Pediste no recibir: %s.", " You asked not to receive: %s.", strings.Join(outs, "; ")))
	}
	b.WriteString(msg(lang, " Zona horaria: %s.", " Time zone: %s.", p.TimeZone))
	return b.String()
}

// languageOf returns the language of the replies: the contact's, else
// the tenant's; Spanish unless English.
func languageOf(t conversation.Turn) string {
	lang := t.Contact.Language
	if lang == "" {
		lang = t.Tenant.Language
	}
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return "en"
	}
	return "es"
}

func msg(lang, es, en string, args ...any) string {
	if lang == "en" {
		return fmt.Sprintf(en, args...)
	}
	return fmt.Sprintf(es, args...)
}

func channelName(k conversation.ChannelKind, lang string) string {
	switch k {
	case conversation.ChannelEmail:
		return msg(lang, "correo", "email")
	case conversation.ChannelWhatsApp:
		return "WhatsApp"
	case conversation.ChannelSMS:
		return "SMS"
	case conversation.ChannelTelegram:
		return "Telegram"
	case conversation.ChannelWebchat:
		return msg(lang, "el chat web", "web chat")
	}
	return string(k)
}

func addressName(k conversation.ChannelKind, lang string) string {
	switch k {
	case conversation.ChannelEmail:
		return msg(lang, "correo", "email address")
	case conversation.ChannelWhatsApp, conversation.ChannelSMS:
		return msg(lang, "número", "number")
	case conversation.ChannelTelegram:
		return msg(lang, "usuario de Telegram", "Telegram account")
	}
	return msg(lang, "dirección en %s", "%s address", channelName(k, lang))
}

func topicName(t Topic, lang string) string {
	switch t {
	case TopicMarketing:
		return msg(lang, "promociones", "promotions")
	case TopicSurveys:
		return msg(lang, "encuestas", "surveys")
	case TopicReminders:
		return msg(lang, "recordatorios", "reminders")
	}
	return msg(lang, "mensajes", "messages")
}

// purposeName names a purpose by its topic, else by itself.
func purposeName(purpose, lang string) string {
	for _, t := range []Topic{TopicMarketing, TopicSurveys, TopicReminders} {
		for _, p := range t.Purposes() {
			if p == purpose {
				return topicName(t, lang)
			}
		}
	}
	return purpose
}

package main

import (
	"context"
	"errors"

	"conversa/bot"
	"conversa/conversation"
	"conversa/notify/prefs"
)

// Slots of the set_preference bot action.
const (
	slotPreference        = "preference"         // prefer, opt_out, opt_in or show
	slotPreferenceChannel = "preference_channel" // a channel: email, correo, WhatsApp...
	slotPreferenceTopic   = "preference_topic"   // marketing, surveys, reminders, or empty
	slotPreferenceReply   = "preference_reply"   // filled: the answer, in the contact's language
)

// preferenceAction is the bot action set_preference: a tenant's flow
// changes the contact's communication preferences, as the preference
// interceptor does for a request written in one message, from the slots
// preference, preference_channel and preference_topic, and fills
// preference_reply with the answer to say. With p nil (no store: bot
// train, bot try) it fails, and the flow takes its on_error.
func preferenceAction(p *prefs.Service) bot.Action {
	return bot.ActionFunc(func(ctx context.Context, c bot.ActionContext) (bot.ActionResult, error) {
		if p == nil {
			return bot.ActionResult{}, errors.New("no preference service here")
		}
		req, err := prefs.RequestFrom(c.Slots[slotPreference], c.Slots[slotPreferenceChannel], c.Slots[slotPreferenceTopic])
		if err != nil {
			return bot.ActionResult{}, err
		}
		text, err := p.Handle(ctx, conversation.Turn{Tenant: c.Tenant, Conversation: c.Conversation, Contact: c.Contact, Message: c.Message}, req)
		if err != nil {
			return bot.ActionResult{}, err
		}
		return bot.ActionResult{Slots: map[string]string{slotPreferenceReply: text}}, nil
	})
}

package webchat

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"conversa/channels/channeltest"
	"conversa/conversation"
)

func TestChannel(t *testing.T) {
	channeltest.TestChannel(t, func(t *testing.T) channeltest.Harness {
		e := newEnv(t, envOptions{})
		s := e.session(e.acct.Key, "")
		// A visitor who has written once: the contact and its web-chat
		// identity exist, and so does the open conversation.
		c, _ := e.connect(e.acct.Key, s.Token, nil)
		c.message("first", "hola")
		first := c.ack("first").Message
		contact := e.contact(s.Visitor)
		last := conversation.MessagePos{ConversationID: first.ConversationID, Seq: first.Seq}

		return channeltest.Harness{
			Channel: e.ch,
			Account: e.acct,
			Contact: contact,
			To:      conversation.Identity{Channel: conversation.ChannelWebchat, Address: s.Visitor},
			// Send hands a message to the contact's open widgets, as the
			// service's message.updated does once the message is stored
			// as sent: the visitor's socket is the peer.
			Receive: func(ctx context.Context) ([]conversation.Part, error) {
				for {
					f, err := c.nextCtx(ctx, 10*time.Second)
					if err != nil {
						return nil, err
					}
					if f.Type == "message" && f.Message != nil && f.Message.Direction == "out" {
						return f.Message.Parts, nil
					}
				}
			},
			Inject: func(ctx context.Context, providerID, text string) error {
				c.message(providerID, text)
				for {
					f, err := c.nextCtx(ctx, 10*time.Second)
					if err != nil {
						return err
					}
					if f.ID != providerID {
						continue
					}
					if f.Type == "error" {
						return errors.New(f.Code + ": " + f.Error)
					}
					if f.Type == "ack" {
						return nil
					}
				}
			},
			Ingested: func(ctx context.Context) (conversation.Message, error) {
				for {
					ms, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{ContactID: contact.ID, After: &last, Limit: 1})
					if err != nil {
						return conversation.Message{}, err
					}
					if len(ms) > 0 {
						last = conversation.MessagePos{ConversationID: ms[0].ConversationID, Seq: ms[0].Seq}
						if ms[0].Direction == conversation.DirectionIn {
							return ms[0], nil
						}
						continue
					}
					select {
					case <-ctx.Done():
						return conversation.Message{}, ctx.Err()
					case <-time.After(5 * time.Millisecond):
					}
				}
			},
			InvalidSettings: []map[string]string{
				{"colour": "#0b7a75"},
				{SettingColor: "red"},
				{SettingTitle: strings.Repeat("a", 501)},
				{SettingAllowedOrigins: "ftp://shop.example.com"},
				{SettingAllowedOrigins: "https://shop.example.com/chat"},
			},
		}
	})
}

package conversation_test

import (
	"testing"

	"conversa/conversation"
)

func TestShowsButtons(t *testing.T) {
	for k, want := range map[conversation.ChannelKind]bool{
		conversation.ChannelWebchat: true, conversation.ChannelWhatsApp: true, conversation.ChannelTelegram: true,
		conversation.ChannelAPI: true, conversation.ChannelSMS: false, conversation.ChannelVoice: false, conversation.ChannelEmail: false,
	} {
		if got := k.ShowsButtons(); got != want {
			t.Errorf("%s.ShowsButtons() = %v, want %v", k, got, want)
		}
	}
}

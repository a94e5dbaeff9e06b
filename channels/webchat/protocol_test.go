package webchat

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"conversa/conversation"
)

// frameCases are frames from the browser and how the server reads them.
// They also seed FuzzDecodeClientFrame.
var frameCases = []struct {
	name string
	in   string
	// code is the protocol error code, "" for a valid frame.
	code  string
	check func(t *testing.T, f clientFrame)
}{
	{name: "hello", in: `{"type":"hello","token":"tok","lang":"es-CO"}`, check: func(t *testing.T, f clientFrame) {
		if f.Token != "tok" || f.Lang != "es" || f.Resume != nil {
			t.Errorf("got %+v, want token tok, lang es, no resume", f)
		}
	}},
	{name: "hello with resume", in: `{"type":"hello","token":"tok","resume":{"conversation_id":3,"seq":14}}`, check: func(t *testing.T, f clientFrame) {
		if f.Resume == nil || *f.Resume != (conversation.MessagePos{ConversationID: 3, Seq: 14}) {
			t.Errorf("resume %+v, want 3/14", f.Resume)
		}
	}},
	{name: "hello with null resume", in: `{"type":"hello","token":"tok","resume":null}`, check: func(t *testing.T, f clientFrame) {
		if f.Resume != nil {
			t.Errorf("resume %+v, want none", f.Resume)
		}
	}},
	{name: "hello without token", in: `{"type":"hello","lang":"en"}`, code: "bad_frame"},
	{name: "hello with empty token", in: `{"type":"hello","token":""}`, code: "bad_frame"},
	{name: "hello with negative resume", in: `{"type":"hello","token":"tok","resume":{"conversation_id":-1,"seq":0}}`, code: "bad_frame"},
	{name: "hello with bad language", in: `{"type":"hello","token":"tok","lang":"12"}`, code: "bad_frame"},
	{name: "message", in: `{"type":"message","id":"m-1","text":"  hola  "}`, check: func(t *testing.T, f clientFrame) {
		if f.ID != "m-1" || f.Text != "hola" || f.Payload != "" {
			t.Errorf("got %+v, want id m-1 and trimmed text", f)
		}
	}},
	{name: "message with payload", in: `{"type":"message","id":"m-2","text":"Horario","payload":"hours"}`, check: func(t *testing.T, f clientFrame) {
		if f.Payload != "hours" || f.Text != "Horario" {
			t.Errorf("got %+v, want the quick-reply payload", f)
		}
	}},
	{name: "message of 4096 characters", in: `{"type":"message","id":"long","text":"` + strings.Repeat("ñ", MaxTextLength) + `"}`, check: func(t *testing.T, f clientFrame) {
		if n := utf8.RuneCountInString(f.Text); n != MaxTextLength {
			t.Errorf("text of %d characters, want %d", n, MaxTextLength)
		}
	}},
	{name: "message of 4097 characters", in: `{"type":"message","id":"toolong","text":"` + strings.Repeat("ñ", MaxTextLength+1) + `"}`, code: "too_long", check: func(t *testing.T, f clientFrame) {
		if f.ID != "toolong" {
			t.Errorf("id %q, want the message's id for the error frame", f.ID)
		}
	}},
	{name: "message without id", in: `{"type":"message","text":"hola"}`, code: "bad_frame"},
	{name: "message with a space in its id", in: `{"type":"message","id":"a b","text":"hola"}`, code: "bad_frame"},
	{name: "message with a control character in its id", in: `{"type":"message","id":"a\u0085b","text":"hola"}`, code: "bad_frame"},
	{name: "message with a long id", in: `{"type":"message","id":"` + strings.Repeat("x", maxClientID+1) + `","text":"hola"}`, code: "bad_frame"},
	{name: "empty message", in: `{"type":"message","id":"m","text":" \n\t "}`, code: "bad_frame"},
	{name: "message with NUL", in: `{"type":"message","id":"m","text":"ho\u0000la"}`, code: "bad_frame"},
	{name: "payload with NUL", in: `{"type":"message","id":"m","text":"hola","payload":"a\u0000"}`, code: "bad_frame"},
	{name: "long payload", in: `{"type":"message","id":"m","text":"hola","payload":"` + strings.Repeat("p", conversation.MaxShortField+1) + `"}`, code: "bad_frame"},
	{name: "lone surrogate", in: `{"type":"message","id":"m","text":"\ud800"}`, check: func(t *testing.T, f clientFrame) {
		if f.Text != "\uFFFD" {
			t.Errorf("text %q, want the replacement character", f.Text)
		}
	}},
	{name: "typing on", in: `{"type":"typing","on":true}`, check: func(t *testing.T, f clientFrame) {
		if !f.On {
			t.Error("on is false")
		}
	}},
	{name: "typing off", in: `{"type":"typing"}`, check: func(t *testing.T, f clientFrame) {
		if f.On {
			t.Error("on is true")
		}
	}},
	{name: "receipt delivered", in: `{"type":"receipt","message_id":42,"status":"delivered"}`, check: func(t *testing.T, f clientFrame) {
		if f.MessageID != 42 || f.Status != conversation.StatusDelivered {
			t.Errorf("got %+v", f)
		}
	}},
	{name: "receipt read", in: `{"type":"receipt","message_id":42,"status":"read"}`},
	{name: "receipt with bad status", in: `{"type":"receipt","message_id":42,"status":"sent"}`, code: "bad_frame"},
	{name: "receipt without message", in: `{"type":"receipt","status":"read"}`, code: "bad_frame"},
	{name: "receipt of a negative id", in: `{"type":"receipt","message_id":-4,"status":"read"}`, code: "bad_frame"},
	{name: "unknown type", in: `{"type":"shout","text":"hola"}`, code: "bad_frame"},
	{name: "no type", in: `{"text":"hola"}`, code: "bad_frame"},
	{name: "unknown field", in: `{"type":"typing","on":true,"volume":11}`, code: "bad_frame"},
	{name: "wrong field type", in: `{"type":"message","id":5,"text":"hola"}`, code: "bad_frame"},
	{name: "invalid UTF-8", in: "{\"type\":\"message\",\"id\":\"m\",\"text\":\"\xff\xfe\"}", code: "bad_frame"},
	{name: "two objects", in: `{"type":"typing","on":true}{"type":"typing","on":false}`, code: "bad_frame"},
	{name: "object and a stray brace", in: `{"type":"typing","on":true}}`, code: "bad_frame"},
	{name: "object and a stray bracket", in: `{"type":"typing","on":true}]`, code: "bad_frame"},
	{name: "trailing whitespace", in: "{\"type\":\"typing\",\"on\":true}\r\n\t ", check: func(t *testing.T, f clientFrame) {
		if !f.On {
			t.Error("on is false")
		}
	}},
	{name: "array", in: `[{"type":"typing"}]`, code: "bad_frame"},
	{name: "null", in: `null`, code: "bad_frame"},
	{name: "empty", in: ``, code: "bad_frame"},
	{name: "truncated", in: `{"type":"message","id":"m","text":"ho`, code: "bad_frame"},
	{name: "too large", in: `{"type":"message","id":"m","text":"` + strings.Repeat("a", maxFrameBytes) + `"}`, code: "too_large"},
}

func TestDecodeClientFrame(t *testing.T) {
	t.Parallel()
	for _, tt := range frameCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := decodeClientFrame([]byte(tt.in))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				pe, ok := errors.AsType[*protocolError](err)
				if !ok {
					t.Fatalf("got %v, want a protocol error %s", err, tt.code)
				}
				if pe.Code != tt.code {
					t.Fatalf("code %s (%v), want %s", pe.Code, pe, tt.code)
				}
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

// FuzzDecodeClientFrame checks that no frame panics the decoder, and that
// whatever it accepts as a message is text the store takes as it is.
func FuzzDecodeClientFrame(f *testing.F) {
	for _, tt := range frameCases {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeClientFrame(data)
		if err != nil {
			if _, ok := errors.AsType[*protocolError](err); !ok {
				t.Fatalf("error %v is not a protocol error", err)
			}
			return
		}
		switch fr.Type {
		case "hello":
			if fr.Token == "" {
				t.Fatal("hello without a token accepted")
			}
		case "message":
			if fr.Text == "" || strings.TrimSpace(fr.Text) != fr.Text {
				t.Fatalf("text %q is empty or untrimmed", fr.Text)
			}
			if !utf8.ValidString(fr.Text) || strings.IndexByte(fr.Text, 0) >= 0 {
				t.Fatalf("text %q is not valid UTF-8 without NUL", fr.Text)
			}
			if n := utf8.RuneCountInString(fr.Text); n > MaxTextLength {
				t.Fatalf("text of %d characters accepted", n)
			}
			// What the decoder accepts, ingest accepts.
			in := conversation.Inbound{
				Channel: conversation.ChannelWebchat, Account: "acme-web", From: newVisitorID(),
				ProviderID: "v:" + fr.ID, Parts: []conversation.Part{{Type: conversation.PartText, Text: fr.Text, Payload: fr.Payload}},
			}
			if err := in.Validate(); err != nil {
				t.Fatalf("decoded message %+v is refused by ingest: %v", fr, err)
			}
		case "typing":
		case "receipt":
			if fr.MessageID <= 0 || (fr.Status != conversation.StatusDelivered && fr.Status != conversation.StatusRead) {
				t.Fatalf("bad receipt accepted: %+v", fr)
			}
		default:
			t.Fatalf("frame of type %q accepted", fr.Type)
		}
	})
}

package console

import (
	"testing"

	"conversa/conversation"
)

func TestDecodeClientFrame(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"type":"ping"}`:                                 true,
		`{"type":"watch","conversation_id":7}`:            true,
		`{"type":"typing","conversation_id":7,"on":true}`: true,
		` {"type":"ping"} `:                               true,
		`{"type":"watch"}`:                                false,
		`{"type":"watch","conversation_id":-1}`:           false,
		`{"type":"watch","conversation_id":"7"}`:          false,
		`{"type":"shout"}`:                                false,
		`{"type":"ping","admin":true}`:                    false,
		`{"type":"ping"}{"type":"ping"}`:                  false,
		`{"type":"ping"}}`:                                false,
		`[]`:                                              false,
		``:                                                false,
	} {
		_, err := decodeClientFrame([]byte(in))
		if (err == nil) != ok {
			t.Errorf("decodeClientFrame(%q): %v", in, err)
		}
		if err != nil && conversation.ErrorCode(err) != conversation.EINVALID {
			t.Errorf("decodeClientFrame(%q): code %s, want invalid", in, conversation.ErrorCode(err))
		}
	}
}

// FuzzDecodeClientFrame: whatever a browser sends, the decoder answers a
// valid frame or EINVALID, never panics.
func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range []string{`{"type":"ping"}`, `{"type":"watch","conversation_id":7}`, `{"type":"typing","conversation_id":1,"on":false}`, `{"type":"x"}`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := decodeClientFrame(data)
		if err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("code %s", conversation.ErrorCode(err))
			}
			return
		}
		switch fr.Type {
		case "ping":
		case "watch", "typing":
			if fr.ConversationID <= 0 {
				t.Fatalf("%q decoded with conversation %d", data, fr.ConversationID)
			}
		default:
			t.Fatalf("%q decoded as type %q", data, fr.Type)
		}
	})
}

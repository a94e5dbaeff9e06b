package webchat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
)

// The widget protocol: one JSON object per WebSocket text frame, with a
// "type". The browser sends hello first, then message, typing and receipt
// frames; the server sends welcome, then message, ack, typing, conversation
// and error frames.

// Limits of the widget protocol.
const (
	// MaxTextLength is the longest message a visitor may write, in
	// characters.
	MaxTextLength = 4096
	// maxFrameBytes bounds one incoming frame; the socket closes with
	// "message too big" (1009) beyond it.
	maxFrameBytes = 32 << 10
	maxClientID   = 64
)

// clientFrame is a frame from the browser.
type clientFrame struct {
	Type string `json:"type"`
	// hello
	Token  string                   `json:"token,omitempty"`
	Resume *conversation.MessagePos `json:"resume,omitempty"`
	Lang   string                   `json:"lang,omitempty"`
	// message: ID is the browser's id of the message, unique per visitor,
	// so that a message re-sent after a reconnect is stored once.
	ID      string `json:"id,omitempty"`
	Text    string `json:"text,omitempty"`
	Payload string `json:"payload,omitempty"`
	// typing
	On bool `json:"on,omitempty"`
	// receipt
	MessageID int64               `json:"message_id,omitempty"`
	Status    conversation.Status `json:"status,omitempty"`
}

// protocolError is a frame the server refuses, with a code for the widget.
type protocolError struct {
	Code    string
	Message string
}

func (e *protocolError) Error() string { return e.Message }

func badFrame(format string, args ...any) *protocolError {
	return &protocolError{Code: "bad_frame", Message: fmt.Sprintf(format, args...)}
}

// decodeClientFrame parses and validates one frame from the browser.
func decodeClientFrame(data []byte) (clientFrame, error) {
	var f clientFrame
	if len(data) > maxFrameBytes {
		return f, &protocolError{Code: "too_large", Message: fmt.Sprintf("a frame is at most %d bytes", maxFrameBytes)}
	}
	if !utf8.Valid(data) {
		return f, badFrame("the frame is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, badFrame("the frame is not a protocol JSON object: %v", err)
	}
	// Only JSON whitespace may follow the object: Decoder.More would let
	// a stray "}" or "]" through.
	if rest := data[dec.InputOffset():]; len(bytes.Trim(rest, " \t\r\n")) > 0 {
		return f, badFrame("one JSON object per frame")
	}
	switch f.Type {
	case "hello":
		if f.Token == "" {
			return f, badFrame("hello needs a token")
		}
		if f.Resume != nil && (f.Resume.ConversationID < 0 || f.Resume.Seq < 0) {
			return f, badFrame("resume position must not be negative")
		}
		lang, err := conversation.NormalizeLanguage("lang", f.Lang)
		if err != nil {
			return f, badFrame("%v", err)
		}
		f.Lang = lang
	case "message":
		if f.ID == "" || len(f.ID) > maxClientID || strings.ContainsFunc(f.ID, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
			return f, badFrame("a message needs an id of 1 to %d printable characters", maxClientID)
		}
		f.Text = strings.TrimSpace(f.Text)
		if f.Text == "" {
			return f, badFrame("the message is empty")
		}
		if n := utf8.RuneCountInString(f.Text); n > MaxTextLength {
			return f, &protocolError{Code: "too_long", Message: fmt.Sprintf("a message is at most %d characters; this one has %d", MaxTextLength, n)}
		}
		if strings.IndexByte(f.Text, 0) >= 0 {
			return f, badFrame("the message contains a NUL character")
		}
		if len(f.Payload) > conversation.MaxShortField || strings.IndexByte(f.Payload, 0) >= 0 {
			return f, badFrame("the button payload is too long or contains a NUL character")
		}
	case "typing":
	case "receipt":
		if f.MessageID <= 0 || (f.Status != conversation.StatusDelivered && f.Status != conversation.StatusRead) {
			return f, badFrame("a receipt needs a message_id and a status of delivered or read")
		}
	default:
		return f, badFrame("unknown frame type %q", f.Type)
	}
	return f, nil
}

// serverFrame is a frame to the browser.
type serverFrame struct {
	Type string `json:"type"`
	// welcome
	Visitor  string        `json:"visitor,omitempty"`
	Messages []wireMessage `json:"messages,omitempty"`
	// message, ack
	Message *wireMessage `json:"message,omitempty"`
	// ack, error: the browser's id of the message concerned
	ID string `json:"id,omitempty"`
	// typing
	On     *bool                `json:"on,omitempty"`
	Author *conversation.Author `json:"author,omitempty"`
	// welcome, conversation
	State conversation.State `json:"state,omitempty"`
	// error
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// wireMessage is what the widget sees of a message.
type wireMessage struct {
	ID             int64                  `json:"id"`
	ConversationID int64                  `json:"conversation_id"`
	Seq            int64                  `json:"seq"`
	Direction      conversation.Direction `json:"direction"`
	Author         wireAuthor             `json:"author"`
	Parts          []conversation.Part    `json:"parts"`
	Status         conversation.Status    `json:"status"`
	// ClientID is the browser's id of a visitor's own message.
	ClientID  string    `json:"client_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

type wireAuthor struct {
	Kind conversation.AuthorKind `json:"kind"`
	Name string                  `json:"name,omitempty"`
}

// toWire converts m for the widget of visitor.
func toWire(m conversation.Message, visitor string) wireMessage {
	w := wireMessage{
		ID: m.ID, ConversationID: m.ConversationID, Seq: m.Seq, Direction: m.Direction,
		Author: wireAuthor{Kind: m.Author.Kind, Name: m.Author.Name},
		Parts:  m.Parts, Status: m.Status, CreatedAt: m.CreatedAt,
	}
	if m.Direction == conversation.DirectionIn {
		w.ClientID = strings.TrimPrefix(m.ProviderID, visitor+":")
	}
	return w
}

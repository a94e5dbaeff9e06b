package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// widget speaks the web-chat widget protocol (channels/webchat) to one
// node, for one channel: a visitor token from POST /webchat/{key}/session,
// then a WebSocket on /webchat/{key}/ws that says hello with it.
type widget struct {
	base    string // the node's base URL, http://host:port
	channel string // the web-chat channel key
	client  *http.Client
}

// newWidget returns a widget client that keeps up to conns idle HTTP
// connections for sessions.
func newWidget(base, channel string, conns int) *widget {
	return &widget{base: base, channel: channel, client: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}}
}

// session returns the token of a new visitor.
func (wg *widget) session(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wg.base+"/webchat/"+wg.channel+"/session", strings.NewReader("{}"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := wg.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("session: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("session: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var s struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &s); err != nil || s.Token == "" {
		return "", fmt.Errorf("session: no token in %s", body)
	}
	return s.Token, nil
}

// frame is what the benchmark reads of a server frame.
type frame struct {
	Type    string `json:"type"`
	ID      string `json:"id"` // ack, error: the browser's id of the message
	Message *struct {
		ID        int64  `json:"id"`
		Direction string `json:"direction"`
	} `json:"message"`
	Code  string `json:"code"`
	Error string `json:"error"`
}

// connect opens the visitor's socket, says hello and waits for the
// welcome, which it returns.
func (wg *widget) connect(ctx context.Context, token string) (*websocket.Conn, frame, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(wg.base, "http") + "/webchat/" + wg.channel + "/ws"
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: wg.client})
	if err != nil {
		return nil, frame{}, fmt.Errorf("dial: %w", err)
	}
	hello, _ := json.Marshal(map[string]string{"type": "hello", "token": token, "lang": "es"})
	if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
		ws.CloseNow()
		return nil, frame{}, fmt.Errorf("hello: %w", err)
	}
	f, err := readFrame(ctx, ws)
	if err != nil {
		ws.CloseNow()
		return nil, frame{}, fmt.Errorf("welcome: %w", err)
	}
	if f.Type != "welcome" {
		ws.CloseNow()
		return nil, frame{}, fmt.Errorf("expected welcome, got %q frame", f.Type)
	}
	return ws, f, nil
}

// send writes a message frame with the browser's id and text.
func send(ctx context.Context, ws *websocket.Conn, id, text string) error {
	b, _ := json.Marshal(map[string]string{"type": "message", "id": id, "text": text})
	return ws.Write(ctx, websocket.MessageText, b)
}

// readFrame reads and decodes the next frame.
func readFrame(ctx context.Context, ws *websocket.Conn) (frame, error) {
	typ, data, err := ws.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	if typ != websocket.MessageText {
		return frame{}, errors.New("binary frame")
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return frame{}, fmt.Errorf("decode frame: %w", err)
	}
	return f, nil
}

// drain reads and drops frames until the connection ends, so that the
// server's pings are answered while the connection is otherwise idle.
func drain(ws *websocket.Conn) {
	for {
		if _, _, err := ws.Read(context.Background()); err != nil {
			return
		}
	}
}

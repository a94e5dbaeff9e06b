// Package bidi drives a browser over WebDriver BiDi (https://w3c.github.io/webdriver-bidi/),
// the W3C protocol Firefox speaks natively. It covers what tests of web
// pages need: tabs in separate user contexts, navigation, script
// evaluation, keyboard and pointer input that pages see as real events,
// screenshots and the page's log.
//
// Conn is the protocol: commands with ids matched to their responses,
// protocol errors as *Error, events handed to a callback. Browser starts
// Firefox headless with a temporary profile and opens a session on it;
// Tab is one of its browsing contexts.
package bidi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// maxMessage bounds one message from the browser; full-page screenshots,
// base64-encoded, are the largest.
const maxMessage = 64 << 20

// Error is an error response of the protocol: Code is the error code the
// specification names ("no such frame", "invalid argument", ...).
type Error struct {
	Method     string // the command that failed
	Code       string
	Message    string
	Stacktrace string
}

func (e *Error) Error() string {
	return fmt.Sprintf("bidi %s: %s: %s", e.Method, e.Code, e.Message)
}

// Event is an event the browser sent: Method names it ("log.entryAdded"),
// Params is its JSON payload.
type Event struct {
	Method string
	Params json.RawMessage
}

// Conn is a WebDriver BiDi connection. Its methods may be called
// concurrently.
type Conn struct {
	ws      *websocket.Conn
	onEvent func(Event)
	cancel  context.CancelFunc
	done    chan struct{} // closed when the read loop ends

	mu      sync.Mutex
	nextID  int64
	pending map[int64]call
	err     error // why the read loop ended; set before done is closed
}

// call is a command waiting for its response.
type call struct {
	method string
	reply  chan reply
}

// reply is the part of a command's response Call needs.
type reply struct {
	result json.RawMessage
	err    error
}

// message is any message from the browser: a command's success or error,
// or an event.
type message struct {
	Type       string          `json:"type"`
	ID         *int64          `json:"id"`
	Result     json.RawMessage `json:"result"`
	Error      string          `json:"error"`
	Message    string          `json:"message"`
	Stacktrace string          `json:"stacktrace"`
	Method     string          `json:"method"`
	Params     json.RawMessage `json:"params"`
}

// Dial connects to a WebDriver BiDi endpoint (ws://host:port/session).
// Events are passed to onEvent, if not nil, one at a time on the
// connection's read loop: it must not block, nor call the connection.
// Events nobody subscribed to are never sent.
func Dial(ctx context.Context, url string, onEvent func(Event)) (*Conn, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(maxMessage)
	readCtx, cancel := context.WithCancel(context.Background())
	c := &Conn{ws: ws, onEvent: onEvent, cancel: cancel, done: make(chan struct{}), pending: map[int64]call{}}
	go c.readLoop(readCtx)
	return c, nil
}

// Call sends the command method with params and decodes its result into
// result (if not nil). A protocol error is returned as *Error. Cancelling
// ctx abandons the wait, not the command.
func (c *Conn) Call(ctx context.Context, method string, params, result any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bidi %s: %w", method, err)
	}
	if params == nil {
		params = struct{}{}
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return fmt.Errorf("bidi %s: %w", method, err)
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = call{method, ch}
	c.mu.Unlock()
	defer c.forget(id)

	cmd, err := json.Marshal(struct {
		ID     int64  `json:"id"`
		Method string `json:"method"`
		Params any    `json:"params"`
	}{id, method, params})
	if err != nil {
		return fmt.Errorf("bidi %s: encode params: %w", method, err)
	}
	// A write whose context ends midway closes the websocket, and with it
	// the session (Close could no longer ask Firefox to exit): the
	// caller's cancellation stops the wait below, never the write.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeWait)
	defer cancel()
	if err := c.ws.Write(wctx, websocket.MessageText, cmd); err != nil {
		return fmt.Errorf("bidi %s: send: %w", method, err)
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		if result == nil {
			return nil
		}
		if err := json.Unmarshal(r.result, result); err != nil {
			return fmt.Errorf("bidi %s: decode result: %w", method, err)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("bidi %s: %w", method, c.closedErr())
	case <-ctx.Done():
		return fmt.Errorf("bidi %s: %w", method, ctx.Err())
	}
}

// writeWait bounds the write of one command.
const writeWait = 10 * time.Second

func (c *Conn) forget(id int64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *Conn) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection; calls waiting for a response return an
// error. Closing a connection the browser already closed is not an error.
func (c *Conn) Close() error {
	select {
	case <-c.done:
		c.cancel()
		return nil
	default:
	}
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	c.cancel()
	<-c.done
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("close bidi connection: %w", err)
	}
	return nil
}

// readLoop reads messages until the connection ends, delivering responses
// to their calls and events to onEvent.
func (c *Conn) readLoop(ctx context.Context) {
	var err error
	for {
		var data []byte
		_, data, err = c.ws.Read(ctx)
		if err != nil {
			break
		}
		var m message
		if jerr := json.Unmarshal(data, &m); jerr != nil {
			err = fmt.Errorf("malformed message from the browser: %w", jerr)
			break
		}
		c.dispatch(m)
	}
	c.mu.Lock()
	c.err = fmt.Errorf("connection closed: %w", err)
	c.mu.Unlock()
	close(c.done)
}

func (c *Conn) dispatch(m message) {
	switch {
	case m.Type == "event":
		if c.onEvent != nil {
			c.onEvent(Event{Method: m.Method, Params: m.Params})
		}
	case m.ID == nil:
		// An error about a message the browser could not read as a
		// command; Call never sends one, so no call waits for it.
	default:
		// Taken out as it is answered: a second answer with the same id
		// finds no caller rather than a full channel that would block
		// the read loop.
		c.mu.Lock()
		w, ok := c.pending[*m.ID]
		delete(c.pending, *m.ID)
		c.mu.Unlock()
		if !ok {
			return // the caller gave up waiting, or it was answered
		}
		if m.Type == "error" {
			w.reply <- reply{err: &Error{Method: w.method, Code: m.Error, Message: m.Message, Stacktrace: m.Stacktrace}}
		} else {
			w.reply <- reply{result: m.Result}
		}
	}
}

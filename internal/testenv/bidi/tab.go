package bidi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Tab is a top-level browsing context. Its methods may be called
// concurrently, though input to one tab is best given in order.
type Tab struct {
	ID   string // the browsing context's id
	conn *Conn
}

// Navigate loads url and returns once the page has loaded (its load
// event).
func (t *Tab) Navigate(ctx context.Context, url string) error {
	return t.conn.Call(ctx, "browsingContext.navigate", map[string]any{
		"context": t.ID, "url": url, "wait": "complete",
	}, nil)
}

// ScriptError is a JavaScript exception thrown by an evaluated script.
type ScriptError struct {
	Text string // the exception as the browser shows it: "Error: no #reply"
}

func (e *ScriptError) Error() string { return "javascript: " + e.Text }

// Remote is an evaluation's value that has no JSON form: a DOM node, a
// window, a function, ... SharedID, set for nodes, names the node in
// later commands.
type Remote struct {
	Type     string
	SharedID string
}

// Evaluate runs the JavaScript expression expr in the tab's page, awaits
// it if it is a promise, and returns its value the way encoding/json
// decodes JSON into an any: nil (null or undefined), bool, float64,
// string, []any or map[string]any. Values without a JSON form are a
// Remote. An exception is returned as *ScriptError.
func (t *Tab) Evaluate(ctx context.Context, expr string) (any, error) {
	v, err := t.evaluate(ctx, expr)
	if err != nil {
		return nil, err
	}
	return v.decode()
}

func (t *Tab) evaluate(ctx context.Context, expr string) (*remoteValue, error) {
	var r struct {
		Type             string       `json:"type"`
		Result           *remoteValue `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := t.conn.Call(ctx, "script.evaluate", map[string]any{
		"expression":      expr,
		"target":          map[string]any{"context": t.ID},
		"awaitPromise":    true,
		"resultOwnership": "none",
	}, &r)
	switch {
	case err != nil:
		return nil, err
	case r.Type == "exception":
		return nil, &ScriptError{Text: r.ExceptionDetails.Text}
	case r.Result == nil:
		return nil, fmt.Errorf("bidi script.evaluate: %s result without a value", r.Type)
	}
	return r.Result, nil
}

// element evaluates elem, a JavaScript expression of an element, runs
// prepare (a statement using e, the element) on it and returns the
// element's shared id.
func (t *Tab) element(ctx context.Context, elem, prepare string) (string, error) {
	expr := fmt.Sprintf(`(() => { const e = (%s); if (!(e instanceof Element)) throw new Error('no element: ' + %s); %s; return e; })()`,
		elem, strconv.Quote(elem), prepare)
	v, err := t.evaluate(ctx, expr)
	if err != nil {
		return "", err
	}
	if v.SharedID == "" {
		return "", fmt.Errorf("bidi: %s gave a %s without a shared id", elem, v.Type)
	}
	return v.SharedID, nil
}

// Click scrolls the element elem (a JavaScript expression) into view and
// clicks its centre with the mouse, as a user would: the page sees
// pointer, mouse and click events at that point. It returns once the
// events are dispatched, not when what they start (a navigation) ends.
func (t *Tab) Click(ctx context.Context, elem string) error {
	id, err := t.element(ctx, elem, `e.scrollIntoView({block: 'center', inline: 'center'})`)
	if err != nil {
		return fmt.Errorf("click %s: %w", elem, err)
	}
	origin := map[string]any{"type": "element", "element": map[string]any{"sharedId": id}}
	return t.perform(ctx, map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]any{"pointerType": "mouse"},
		"actions": []map[string]any{
			{"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
			{"type": "pointerDown", "button": 0},
			{"type": "pointerUp", "button": 0},
		},
	})
}

// Type focuses the element elem (a JavaScript expression) and types text
// on the keyboard, a key press per character ('\n' presses Enter): the
// page sees keydown, keypress, input and keyup events.
func (t *Tab) Type(ctx context.Context, elem, text string) error {
	if _, err := t.element(ctx, elem, `e.focus()`); err != nil {
		return fmt.Errorf("type into %s: %w", elem, err)
	}
	var keys []map[string]any
	for _, r := range text {
		k := string(r)
		if r == '\n' {
			k = "\uE007" // Enter, in WebDriver's key codes
		}
		keys = append(keys, map[string]any{"type": "keyDown", "value": k}, map[string]any{"type": "keyUp", "value": k})
	}
	return t.perform(ctx, map[string]any{"type": "key", "id": "keyboard", "actions": keys})
}

// perform runs one source of input actions in the tab.
func (t *Tab) perform(ctx context.Context, source map[string]any) error {
	return t.conn.Call(ctx, "input.performActions", map[string]any{
		"context": t.ID, "actions": []map[string]any{source},
	}, nil)
}

// Screenshot returns a PNG of the whole page, not only its visible part.
func (t *Tab) Screenshot(ctx context.Context) ([]byte, error) {
	var r struct {
		Data string `json:"data"`
	}
	if err := t.conn.Call(ctx, "browsingContext.captureScreenshot", map[string]any{
		"context": t.ID, "origin": "document",
	}, &r); err != nil {
		return nil, err
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return nil, fmt.Errorf("bidi browsingContext.captureScreenshot: %w", err)
	}
	return png, nil
}

// Close closes the tab.
func (t *Tab) Close(ctx context.Context) error {
	return t.conn.Call(ctx, "browsingContext.close", map[string]any{"context": t.ID}, nil)
}

// remoteValue is the protocol's serialization of a JavaScript value.
type remoteValue struct {
	Type     string          `json:"type"`
	Value    json.RawMessage `json:"value"`
	SharedID string          `json:"sharedId"`
}

// decode turns v into the Go value Evaluate documents.
func (v *remoteValue) decode() (any, error) {
	switch v.Type {
	case "undefined", "null":
		return nil, nil
	case "boolean", "string":
		var x any
		err := json.Unmarshal(v.Value, &x)
		return x, err
	case "number":
		return decodeNumber(v.Value)
	case "bigint", "date":
		var s string
		err := json.Unmarshal(v.Value, &s)
		return s, err
	case "array", "set", "object", "map":
		if len(v.Value) == 0 { // deeper than the serialization went
			return Remote{Type: v.Type, SharedID: v.SharedID}, nil
		}
	}
	switch v.Type {
	case "array", "set":
		var items []remoteValue
		if err := json.Unmarshal(v.Value, &items); err != nil {
			return nil, fmt.Errorf("decode %s: %w", v.Type, err)
		}
		out := make([]any, len(items))
		for i := range items {
			x, err := items[i].decode()
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case "object", "map":
		return decodeEntries(v.Type, v.Value)
	}
	return Remote{Type: v.Type, SharedID: v.SharedID}, nil
}

// decodeNumber decodes a number, which the protocol gives as JSON or, for
// the values JSON lacks, as a string.
func decodeNumber(raw json.RawMessage) (float64, error) {
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("decode number %s: %w", raw, err)
	}
	switch s {
	case "NaN":
		return math.NaN(), nil
	case "-0":
		return math.Copysign(0, -1), nil
	case "Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	return 0, fmt.Errorf("decode number: unknown value %q", s)
}

// decodeEntries decodes an object's or a map's [key, value] pairs. Keys
// that are not strings (a map's) are written as their JSON.
func decodeEntries(typ string, raw json.RawMessage) (map[string]any, error) {
	var pairs [][2]json.RawMessage
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("decode %s: %w", typ, err)
	}
	out := make(map[string]any, len(pairs))
	for _, p := range pairs {
		var key string
		if json.Unmarshal(p[0], &key) != nil {
			var kv remoteValue
			if err := json.Unmarshal(p[0], &kv); err != nil {
				return nil, fmt.Errorf("decode %s key: %w", typ, err)
			}
			k, err := kv.decode()
			if err != nil {
				return nil, err
			}
			b, _ := json.Marshal(k)
			key = string(b)
		}
		var vv remoteValue
		if err := json.Unmarshal(p[1], &vv); err != nil {
			return nil, fmt.Errorf("decode %s value: %w", typ, err)
		}
		x, err := vv.decode()
		if err != nil {
			return nil, err
		}
		out[key] = x
	}
	return out, nil
}

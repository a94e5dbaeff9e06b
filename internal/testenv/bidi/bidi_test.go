package bidi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/internal/testenv"
	"conversa/internal/testenv/bidi"
)

// page records what the test page sees of the user's input.
const page = `<!doctype html><html><body>
<input id="name" autocomplete="off">
<button id="go" style="margin-top: 1500px">Go</button>
<script>
window.seen = [];
const name = document.querySelector('#name');
for (const type of ['keydown', 'input', 'keyup']) {
  name.addEventListener(type, (e) => seen.push(type + ':' + (e.key || e.data) + ':' + e.isTrusted));
}
document.querySelector('#go').addEventListener('click', (e) => seen.push('click:' + e.isTrusted + ':' + (e.clientX > 0)));
</script></body></html>`

// logs collects the page log entries the browser reports.
type logs struct {
	mu    sync.Mutex
	texts []string
}

func (l *logs) event(e bidi.Event) {
	if e.Method != "log.entryAdded" {
		return
	}
	var p struct{ Text string }
	if json.Unmarshal(e.Params, &p) == nil {
		l.mu.Lock()
		l.texts = append(l.texts, p.Text)
		l.mu.Unlock()
	}
}

func (l *logs) has(text string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.texts {
		if t == text {
			return true
		}
	}
	return false
}

// launch starts Firefox for t and serves the test page.
func launch(t *testing.T, onEvent func(bidi.Event)) (*bidi.Browser, string) {
	t.Helper()
	path := testenv.Firefox(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cookie" {
			http.SetCookie(w, &http.Cookie{Name: "who", Value: r.URL.Query().Get("v")})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := bidi.Launch(ctx, path, bidi.Options{OnEvent: onEvent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return b, srv.URL
}

func timeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBrowser(t *testing.T) {
	var l logs
	b, base := launch(t, l.event)
	ctx := timeout(t)
	tab, err := b.NewTab(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, base+"/"); err != nil {
		t.Fatal(err)
	}

	t.Run("evaluate", func(t *testing.T) {
		for _, tc := range []struct {
			expr string
			want any
		}{
			{`1 + 1`, 2.0},
			{`'a' + 'é'`, "aé"},
			{`document.querySelectorAll('button').length === 1`, true},
			{`null`, nil},
			{`undefined`, nil},
			{`[1, 'two', [false]]`, []any{1.0, "two", []any{false}}},
			{`({a: 1, b: {c: 'd'}})`, map[string]any{"a": 1.0, "b": map[string]any{"c": "d"}}},
			{`new Map([[1, 'one']])`, map[string]any{"1": "one"}},
			{`Infinity`, math.Inf(1)},
			{`10n ** 20n`, "100000000000000000000"},
			{`new Promise((ok) => setTimeout(() => ok('later'), 10))`, "later"},
		} {
			got, err := tab.Evaluate(ctx, tc.expr)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Evaluate(%s) = %#v, %v; want %#v", tc.expr, got, err, tc.want)
			}
		}
		got, err := tab.Evaluate(ctx, `document.body`)
		if r, ok := got.(bidi.Remote); err != nil || !ok || r.Type != "node" || r.SharedID == "" {
			t.Errorf("Evaluate(document.body) = %#v, %v; want a node with a shared id", got, err)
		}
		got, err = tab.Evaluate(ctx, `NaN`)
		if f, ok := got.(float64); err != nil || !ok || !math.IsNaN(f) {
			t.Errorf("Evaluate(NaN) = %#v, %v", got, err)
		}
	})

	t.Run("exception", func(t *testing.T) {
		_, err := tab.Evaluate(ctx, `(() => { throw new Error('boom'); })()`)
		var se *bidi.ScriptError
		if !errors.As(err, &se) || !strings.Contains(se.Text, "boom") {
			t.Fatalf("got %v, want a ScriptError about boom", err)
		}
		_, err = tab.Evaluate(ctx, `Promise.reject(new Error('later boom'))`)
		if !errors.As(err, &se) || !strings.Contains(se.Text, "later boom") {
			t.Fatalf("got %v, want a ScriptError about later boom", err)
		}
	})

	t.Run("protocol errors", func(t *testing.T) {
		err := b.Call(ctx, "browsingContext.nonsense", nil, nil)
		var pe *bidi.Error
		if !errors.As(err, &pe) || pe.Code != "unknown command" || pe.Method != "browsingContext.nonsense" {
			t.Fatalf("unknown command: got %v", err)
		}
		gone := *tab
		gone.ID = "no-such-context"
		err = gone.Navigate(ctx, base)
		if !errors.As(err, &pe) || pe.Code != "no such frame" {
			t.Fatalf("navigate a context that is not there: got %v", err)
		}
		// The connection still works after errors.
		if v, err := tab.Evaluate(ctx, `'ok'`); err != nil || v != "ok" {
			t.Fatalf("after errors: %v, %v", v, err)
		}
	})

	t.Run("input", func(t *testing.T) {
		if _, err := tab.Evaluate(ctx, `seen.length = 0`); err != nil {
			t.Fatal(err)
		}
		if err := tab.Type(ctx, `document.querySelector('#name')`, "hé\n"); err != nil {
			t.Fatal(err)
		}
		if err := tab.Click(ctx, `document.querySelector('#go')`); err != nil {
			t.Fatal(err)
		}
		want := []any{
			"keydown:h:true", "input:h:true", "keyup:h:true",
			"keydown:é:true", "input:é:true", "keyup:é:true",
			"keydown:Enter:true", "keyup:Enter:true",
			"click:true:true", // the button, scrolled into view from below the fold
		}
		var got any
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			got, err = tab.Evaluate(ctx, `seen`)
			if err != nil || reflect.DeepEqual(got, want) || time.Now().After(deadline) {
				break
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("the page saw %v, %v\nwant %v", got, err, want)
		}
		if v, err := tab.Evaluate(ctx, `document.querySelector('#name').value`); err != nil || v != "hé" {
			t.Errorf("input value %q, %v", v, err)
		}
		err := tab.Click(ctx, `document.querySelector('#absent')`)
		var se *bidi.ScriptError
		if !errors.As(err, &se) || !strings.Contains(se.Text, "no element") {
			t.Errorf("click on nothing: %v", err)
		}
	})

	t.Run("screenshot", func(t *testing.T) {
		shot, err := tab.Screenshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("not a PNG: %v", err)
		}
		if h := img.Bounds().Dy(); h < 1500 {
			t.Errorf("screenshot %d px high; want the whole page, over 1500", h)
		}
	})

	t.Run("user contexts", func(t *testing.T) {
		if err := tab.Navigate(ctx, base+"/cookie?v=default"); err != nil {
			t.Fatal(err)
		}
		uc, err := b.NewUserContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		other, err := b.NewTab(ctx, uc)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close(ctx)
		same, err := b.NewTab(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		defer same.Close(ctx)
		for _, c := range []struct {
			tab  *bidi.Tab
			want string
		}{{same, "who=default"}, {other, ""}} {
			if err := c.tab.Navigate(ctx, base+"/"); err != nil {
				t.Fatal(err)
			}
			if v, err := c.tab.Evaluate(ctx, `document.cookie`); err != nil || v != c.want {
				t.Errorf("cookies %q, %v; want %q", v, err, c.want)
			}
		}
	})

	t.Run("events", func(t *testing.T) {
		if err := b.Subscribe(ctx, "log.entryAdded"); err != nil {
			t.Fatal(err)
		}
		if _, err := tab.Evaluate(ctx, `console.log('hello from the page')`); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); !l.has("hello from the page"); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("no log.entryAdded event for the page's console.log")
			}
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := tab.Evaluate(cctx, `1`); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	})
}

// TestClose checks that Close ends Firefox, leaves no profile behind, and
// that calls after it fail rather than hang.
func TestClose(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // where Launch makes the profile
	b, _ := launch(t, nil)
	if n := len(profiles(t)); n != 1 {
		t.Fatalf("%d profile directories in %s, want the browser's", n, os.TempDir())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(profiles(t)); n != 0 {
		t.Errorf("%d profile directories after Close, want none", n)
	}
	ctx := timeout(t)
	if err := b.Call(ctx, "session.status", nil, nil); err == nil {
		t.Error("a call after Close succeeded")
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestLaunchFails(t *testing.T) {
	ctx := timeout(t)
	if _, err := bidi.Launch(ctx, "/bin/false", bidi.Options{}); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("launching /bin/false: %v, want an error saying it exited", err)
	}
}

func profiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "bidi-firefox-") {
			out = append(out, e.Name())
		}
	}
	return out
}

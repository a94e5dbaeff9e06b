package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"conversa/internal/testenv"
	"conversa/internal/testenv/bidi"
)

// tab is a browser tab that the console scenario drives, in Chromium or in
// Firefox. Elements are named by JavaScript expressions (sel, inWidget).
type tab interface {
	// Navigate loads url and waits for its load event.
	Navigate(ctx context.Context, url string) error
	// Click clicks the element with the mouse.
	Click(ctx context.Context, elem string) error
	// Type focuses the element and types text, a key press per character;
	// '\n' presses Enter.
	Type(ctx context.Context, elem, text string) error
	// Evaluate returns the value of a JavaScript expression, as JSON
	// decodes into an any.
	Evaluate(ctx context.Context, expr string) (any, error)
	// Screenshot returns a PNG of the whole page.
	Screenshot(ctx context.Context) ([]byte, error)
}

// browserRun is one browser running the scenario: it opens tabs, and
// says what the pages logged, if the browser tells.
type browserRun struct {
	// open opens a tab; an isolated one shares no cookies with the others.
	open func(isolated bool) tab
	// logs returns the pages' recent console and error output, or "".
	logs func() string
}

// sel names the page's element matching a CSS selector.
func sel(css string) string { return fmt.Sprintf(`document.querySelector(%q)`, css) }

// inWidget names an element of the widget's shadow DOM.
func inWidget(css string) string { return string(in(css)) }

// step is one action or wait of the scenario in a tab.
type step func(ctx context.Context, p tab) error

func navigate(url string) step {
	return func(ctx context.Context, p tab) error { return p.Navigate(ctx, url) }
}

func click(elem string) step {
	return func(ctx context.Context, p tab) error { return p.Click(ctx, elem) }
}

func typeIn(elem, text string) step {
	return func(ctx context.Context, p tab) error { return p.Type(ctx, elem, text) }
}

// script runs JavaScript statements for their effect.
func script(js string) step {
	return func(ctx context.Context, p tab) error {
		_, err := p.Evaluate(ctx, `(() => { `+js+`; })()`)
		return err
	}
}

// pause waits for d: only for a time the product itself waits, never for
// something to happen (jsTrue waits for that).
func pause(d time.Duration) step {
	return func(ctx context.Context, p tab) error {
		select {
		case <-time.After(d):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// jsTrue waits until a JavaScript expression is true, across the page's
// navigations (an evaluation that fails or that a navigation interrupts
// is retried).
func jsTrue(expr string) step {
	check := `(() => { try { return !!(` + expr + `); } catch (e) { return false; } })()`
	return func(ctx context.Context, p tab) error {
		var last error
		for {
			ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
			v, err := p.Evaluate(ectx, check)
			cancel()
			if err == nil && v == true {
				return nil
			}
			last = err
			select {
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w (last error %v)", expr, ctx.Err(), last)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// pageHas waits until the page's text includes text.
func pageHas(text string) step {
	return jsTrue(fmt.Sprintf(`document.body.innerText.includes(%q)`, text))
}

// visible waits until an element is there and shown.
func visible(css string) step {
	return jsTrue(fmt.Sprintf(`(() => { const e = %s; return e && e.offsetParent !== null; })()`, sel(css)))
}

// widgetHas waits until the widget's conversation shows text.
func widgetHas(text string) step {
	return jsTrue(fmt.Sprintf(`%s.innerText.includes(%q)`, inWidget(".log"), text))
}

// widgetShows waits until the text of the widget's element includes text.
func widgetShows(css, text string) step {
	return jsTrue(fmt.Sprintf(`%s.textContent.includes(%q)`, inWidget(css), text))
}

// consoleTabs are the tabs of a console scenario, screenshotted when it
// fails.
type consoleTabs struct {
	t    *testing.T
	b    browserRun
	tabs map[string]tab
}

// step runs steps in a named tab; on failure it saves a screenshot of every
// tab in the test's artifact directory and fails the test.
func (c *consoleTabs) step(name string, steps ...step) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, s := range steps {
		if err := s(ctx, c.tabs[name]); err != nil {
			c.screenshots()
			c.t.Fatalf("%s, step %d: %v", name, i+1, err)
		}
	}
}

func (c *consoleTabs) screenshots() {
	dir := c.t.ArtifactDir()
	for name, tab := range c.tabs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		png, err := tab.Screenshot(ctx)
		text, _ := tab.Evaluate(ctx, `location.href + " " + JSON.stringify(document.body.dataset) + "\n" + document.body.innerText`)
		cancel()
		c.t.Logf("%s shows: %.2000v", name, text)
		if err != nil {
			c.t.Logf("screenshot of %s: %v", name, err)
			continue
		}
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, png, 0o644); err == nil {
			c.t.Logf("screenshot of %s: %s", name, path)
		}
	}
	if logs := c.b.logs(); logs != "" {
		c.t.Logf("the pages logged:\n%s", logs)
	}
}

func consoleLogin(base, email, password string) []step {
	return []step{
		navigate(base + "/console/"),
		visible("#email"),
		typeIn(sel("#email"), email),
		typeIn(sel("#password"), password),
		click(sel("#login")),
		visible("#status"),
	}
}

func setAvailable() []step {
	return []step{
		script(`document.querySelector('#status').value = 'available'`),
		click(sel("#status-form button")),
		jsTrue(`document.querySelector('#status') && document.querySelector('#status').value === 'available'`),
		jsTrue(`document.body.dataset.socket === 'on'`),
	}
}

// TestConsoleInBrowser drives the console and the widget in headless
// Chromium and in headless Firefox: a visitor asks the demo bot for a
// person, the offer reaches agent 1's console live, they accept and both
// exchange messages, with typing shown on both sides; agent 1 transfers to
// agent 2 (who shares no cookies with them) with a note, and agent 2
// closes the conversation.
func TestConsoleInBrowser(t *testing.T) {
	t.Run("chromium", func(t *testing.T) { consoleScenario(t, chromiumRun(t)) })
	t.Run("firefox", func(t *testing.T) { consoleScenario(t, firefoxRun(t)) })
}

func consoleScenario(t *testing.T, b browserRun) {
	dir := t.TempDir()
	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}, "--demo")
	re := regexp.MustCompile(`password (\S+)`)
	var password string
	for deadline := time.Now().Add(10 * time.Second); password == ""; time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(s.out.String()); m != nil {
			password = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no demo console password printed:\n%s", s.out.String())
		}
	}
	c := &consoleTabs{t: t, b: b, tabs: map[string]tab{"agent1": b.open(false), "visitor": b.open(false), "agent2": b.open(true)}}

	// Agent 1 logs in, in the browser's English, and becomes available.
	c.step("agent1", consoleLogin(s.url, "agente@example.com", password)...)
	c.step("agent1", setAvailable()...)
	c.step("agent1", pageHas("Offered to you"))

	// The visitor asks for a person.
	c.step("visitor",
		navigate(s.url+"/webchat/demo?channel=demo-web"),
		click(inWidget(".launcher")),
		widgetHas("Soy el bot de demostración"),
		typeIn(inWidget("textarea"), "quiero hablar con una persona\n"),
		widgetHas("persona"),
	)
	// The offer reaches agent 1 live; they accept it.
	c.step("agent1",
		visible(".offer .accept"),
		jsTrue(`document.querySelector('.offer .countdown b').textContent.endsWith(' s')`),
		click(sel(".offer .accept")),
		visible("#reply"),
		pageHas("quiero hablar con una persona"),
		jsTrue(`document.body.dataset.watching !== undefined`),
	)
	// Agent 1 types: the visitor sees it; then answers.
	c.step("agent1", typeIn(sel("#reply"), "Hola, soy Ana"))
	c.step("visitor", widgetShows(".typing", "Escribiendo"))
	c.step("agent1", typeIn(sel("#reply"), "\n"), jsTrue(`document.querySelector('#reply').value === ''`))
	c.step("visitor", widgetHas("Hola, soy Ana"))
	// The visitor types and writes: agent 1 sees both live. The widget
	// says "typing" at most every 3 s and "stopped" 4 s after the last
	// key: let the window of the visitor's first message pass, or its
	// "typing" was said while agent 1 was not watching yet.
	c.step("visitor", pause(4500*time.Millisecond), typeIn(inWidget("textarea"), "gracias"))
	c.step("agent1", jsTrue(`!document.querySelector('#typing').hidden`))
	c.step("visitor", typeIn(inWidget("textarea"), ", mi pedido no llegó\n"))
	c.step("agent1", pageHas("gracias, mi pedido no llegó"))

	// Agent 2 logs in and switches to Spanish.
	c.step("agent2", consoleLogin(s.url, "admin@example.com", password)...)
	c.step("agent2",
		click(sel(`button[name="lang"]`)),
		pageHas("Mis conversaciones"),
	)
	c.step("agent2", setAvailable()...)

	// Agent 1 transfers to agent 2 with a note.
	c.step("agent1",
		click(sel("details.actions summary")),
		visible("#transfer-agent"),
		script(`const s = document.querySelector('#transfer-agent'); for (const o of s.options) { if (o.text.startsWith('Alba Admin')) s.value = o.value; }`),
		typeIn(sel("#transfer-note"), "pedido 123 no llegó"),
		click(sel("#transfer")),
		pageHas("My conversations"),
	)
	// Agent 2 sees it live, with the note, opens it and closes it.
	c.step("agent2",
		pageHas("pedido 123 no llegó"),
		click(sel(".mine a.open")),
		visible("#reply"),
		pageHas("gracias, mi pedido no llegó"),
		typeIn(sel("#reply"), "Lo reviso ya mismo\n"),
	)
	c.step("visitor", widgetHas("Lo reviso ya mismo"))
	c.step("agent2",
		script(`document.querySelectorAll('details.actions')[1].open = true`),
		click(sel("#close")),
		pageHas("Mis conversaciones"),
		jsTrue(`document.querySelectorAll('.mine .card').length === 0`),
	)

	// Agent 2, an admin, opens the dashboard: the agents online, and the
	// counts redrawn live when the visitor writes again (a new
	// conversation, with the bot); then the report page and its charts.
	c.step("agent2",
		navigate(s.url+"/console/dashboard"),
		jsTrue(`document.body.dataset.socket === 'on' && Number(document.body.dataset.dashboard || 0) > 0`),
		jsTrue(`document.querySelector('#dash-agents').textContent.includes('Alba Admin')`),
		jsTrue(`(window.withBot = Number(document.querySelectorAll('#dash-total th')[3].textContent)) >= 0`),
	)
	c.step("visitor", typeIn(inWidget("textarea"), "hola otra vez\n"))
	c.step("agent2",
		jsTrue(`Number(document.querySelectorAll('#dash-total th')[3].textContent) === window.withBot + 1`),
		navigate(s.url+"/console/reports"),
		jsTrue(`document.querySelectorAll('svg.chart').length === 3 && !!document.querySelector('#rep-bot')`),
	)
}

// chromiumRun starts headless Chromium (chromedp) for t.
func chromiumRun(t *testing.T) browserRun {
	bctx, newTab := browser(t)
	open := func(isolated bool) tab {
		if !isolated {
			return chromiumTab{newTab()}
		}
		ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("new browser context: %v", err)
		}
		return chromiumTab{ctx}
	}
	return browserRun{open: open, logs: func() string { return "" }}
}

// chromiumTab is a Chromium tab: ctx is its chromedp context.
type chromiumTab struct{ ctx context.Context }

// do runs chromedp actions in the tab until ctx ends.
func (c chromiumTab) do(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	tctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	err := chromedp.Do(tctx, steps...)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	return err
}

func (c chromiumTab) Navigate(ctx context.Context, url string) error {
	return c.do(ctx, chromedp.Navigate(url))
}

func (c chromiumTab) Click(ctx context.Context, elem string) error {
	return c.do(ctx, chromedp.Click(chromedp.JSPath(elem)))
}

func (c chromiumTab) Type(ctx context.Context, elem, text string) error {
	return c.do(ctx, chromedp.SendKeys(chromedp.JSPath(elem), strings.ReplaceAll(text, "\n", kb.Enter)))
}

func (c chromiumTab) Evaluate(ctx context.Context, expr string) (any, error) {
	var v any
	err := c.do(ctx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var err error
		v, err = chromedp.Evaluate[any](expr)(ctx, t)
		return chromedp.Void{}, err
	})
	return v, err
}

func (c chromiumTab) Screenshot(ctx context.Context) ([]byte, error) {
	var png []byte
	err := c.do(ctx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var err error
		png, err = chromedp.FullScreenshot(100)(ctx, t)
		return chromedp.Void{}, err
	})
	return png, err
}

// firefoxRun starts headless Firefox (WebDriver BiDi) for t, in English,
// and keeps what its pages log.
func firefoxRun(t *testing.T) browserRun {
	path := testenv.Firefox(t)
	pl := &pageLog{max: 50}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := bidi.Launch(ctx, path, bidi.Options{
		Prefs:   map[string]any{"intl.accept_languages": "en-US, en"},
		OnEvent: pl.event,
	})
	if err != nil {
		t.Fatalf("start firefox: %v", err)
	}
	t.Cleanup(func() {
		// The console's test is done by now; a Firefox slow to exit on a
		// loaded machine is killed, and said, without failing it.
		if err := b.Close(); err != nil {
			t.Logf("close firefox: %v", err)
		}
	})
	if err := b.Subscribe(ctx, "log.entryAdded"); err != nil {
		t.Fatalf("firefox: %v", err)
	}
	var isolated string // the user context of isolated tabs
	open := func(isolate bool) tab {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		uc := ""
		if isolate {
			if isolated == "" {
				var err error
				if isolated, err = b.NewUserContext(ctx); err != nil {
					t.Fatalf("firefox: %v", err)
				}
			}
			uc = isolated
		}
		tab, err := b.NewTab(ctx, uc)
		if err != nil {
			t.Fatalf("firefox: %v", err)
		}
		return tab
	}
	return browserRun{open: open, logs: pl.String}
}

// pageLog keeps the last max entries the pages logged (console output and
// uncaught errors), from BiDi's log.entryAdded events.
type pageLog struct {
	mu      sync.Mutex
	max     int
	entries []string
}

func (l *pageLog) event(e bidi.Event) {
	if e.Method != "log.entryAdded" {
		return
	}
	var p struct {
		Level, Text string
		Source      struct{ Context string }
	}
	if err := json.Unmarshal(e.Params, &p); err != nil {
		p.Text = fmt.Sprintf("(unreadable entry: %v)", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) == l.max {
		l.entries = l.entries[1:]
	}
	l.entries = append(l.entries, fmt.Sprintf("[%s %s] %s", p.Source.Context, p.Level, p.Text))
}

func (l *pageLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.entries, "\n")
}

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// consoleTabs are the browser tabs of a console test, screenshotted when
// the test fails.
type consoleTabs struct {
	t    *testing.T
	tabs map[string]context.Context
}

// step runs actions in a named tab; on failure it saves a screenshot of
// every tab in the test's artifact directory and fails the test.
func (c *consoleTabs) step(name string, steps ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.tabs[name], 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c.screenshots()
		c.t.Fatalf("%s: %v", name, err)
	}
}

func (c *consoleTabs) screenshots() {
	dir := c.t.ArtifactDir()
	for name, tab := range c.tabs {
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + " " + JSON.stringify(document.body.dataset) + "\n" + document.body.innerText`))
		cancel()
		c.t.Logf("%s shows: %.2000s", name, text)
		if err != nil {
			c.t.Logf("screenshot of %s: %v", name, err)
			continue
		}
		path := filepath.Join(dir, name+".png")
		if err := os.WriteFile(path, png, 0o644); err == nil {
			c.t.Logf("screenshot of %s: %s", name, path)
		}
	}
}

// pageHas waits until the page's text includes text.
func pageHas(text string) chromedp.Action[chromedp.Void] {
	return jsTrue(fmt.Sprintf(`document.body.innerText.includes(%q)`, text))
}

// jsTrue waits until a JavaScript expression is true, across the page's
// navigations (an evaluation that a navigation interrupts is retried).
func jsTrue(expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		check := chromedp.Evaluate[bool](`(() => { try { return !!(` + expr + `); } catch (e) { return false; } })()`)
		var last error
		for {
			ok, err := check(ctx, t)
			if err == nil && ok {
				return chromedp.Void{}, nil
			}
			last = err
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("waiting for %s: %w (last error %v)", expr, ctx.Err(), last)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// visible waits until an element is there and shown.
func visible(sel string) chromedp.Action[chromedp.Void] {
	return jsTrue(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e && e.offsetParent !== null; })()`, sel))
}

// click clicks an element after the evaluation returns, so that a click
// that navigates does not interrupt it.
func click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) throw new Error('no ' + %q); setTimeout(() => e.click(), 0); })()`, sel, sel))
}

func consoleLogin(base, email, password string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(base + "/console/"),
		visible("#email"),
		chromedp.SendKeys("#email", email),
		chromedp.SendKeys("#password", password),
		click("#login"),
		visible("#status"),
	}
}

func setAvailable() []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.SetValue("#status", "available"),
		click("#status-form button"),
		jsTrue(`document.querySelector('#status') && document.querySelector('#status').value === 'available'`),
		jsTrue(`document.body.dataset.socket === 'on'`),
	}
}

// TestConsoleInBrowser drives the console and the widget in headless
// Chromium: a visitor asks the demo bot for a person, the offer reaches
// agent 1's console live, they accept and both exchange messages, with
// typing shown on both sides; agent 1 transfers to agent 2 (another
// browser context) with a note, and agent 2 closes the conversation.
func TestConsoleInBrowser(t *testing.T) {
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
	bctx, newTab := browser(t)
	second, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(second); err != nil {
		t.Fatalf("second browser context: %v", err)
	}
	c := &consoleTabs{t: t, tabs: map[string]context.Context{"agent1": newTab(), "visitor": newTab(), "agent2": second}}

	// Agent 1 logs in, in the browser's English, and becomes available.
	c.step("agent1", consoleLogin(s.url, "agente@example.com", password)...)
	c.step("agent1", setAvailable()...)
	c.step("agent1", pageHas("Offered to you"))

	// The visitor asks for a person.
	c.step("visitor",
		chromedp.Navigate(s.url+"/webchat/demo?channel=demo-web"),
		chromedp.Click(in(".launcher")),
		logHas("Soy el bot de demostración"),
		chromedp.SendKeys(in("textarea"), "quiero hablar con una persona"+kb.Enter),
		logHas("persona"),
	)
	// The offer reaches agent 1 live; they accept it.
	c.step("agent1",
		visible(".offer .accept"),
		jsTrue(`document.querySelector('.offer .countdown b').textContent.endsWith(' s')`),
		click(".offer .accept"),
		visible("#reply"),
		pageHas("quiero hablar con una persona"),
		jsTrue(`document.body.dataset.watching !== undefined`),
	)
	// Agent 1 types: the visitor sees it; then answers.
	c.step("agent1", chromedp.SendKeys("#reply", "Hola, soy Ana"))
	c.step("visitor", showsText(".typing", "Escribiendo"))
	c.step("agent1", chromedp.SendKeys("#reply", kb.Enter), jsTrue(`document.querySelector('#reply').value === ''`))
	c.step("visitor", logHas("Hola, soy Ana"))
	// The visitor types and writes: agent 1 sees both live. The widget
	// says "typing" at most every 3 s and "stopped" 4 s after the last
	// key: let the window of the visitor's first message pass, or its
	// "typing" was said while agent 1 was not watching yet.
	c.step("visitor", chromedp.Sleep(4500*time.Millisecond), chromedp.SendKeys(in("textarea"), "gracias"))
	c.step("agent1", jsTrue(`!document.querySelector('#typing').hidden`))
	c.step("visitor", chromedp.SendKeys(in("textarea"), ", mi pedido no llegó"+kb.Enter))
	c.step("agent1", pageHas("gracias, mi pedido no llegó"))

	// Agent 2, in another browser context, logs in and switches to
	// Spanish.
	c.step("agent2", consoleLogin(s.url, "admin@example.com", password)...)
	c.step("agent2",
		click(`button[name="lang"]`),
		pageHas("Mis conversaciones"),
	)
	c.step("agent2", setAvailable()...)

	// Agent 1 transfers to agent 2 with a note.
	c.step("agent1",
		click("details.actions summary"),
		visible("#transfer-agent"),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#transfer-agent'); for (const o of s.options) { if (o.text.startsWith('Alba Admin')) s.value = o.value; } })()`),
		chromedp.SendKeys("#transfer-note", "pedido 123 no llegó"),
		click("#transfer"),
		pageHas("My conversations"),
	)
	// Agent 2 sees it live, with the note, opens it and closes it.
	c.step("agent2",
		pageHas("pedido 123 no llegó"),
		click(".mine a.open"),
		visible("#reply"),
		pageHas("gracias, mi pedido no llegó"),
		chromedp.SendKeys("#reply", "Lo reviso ya mismo"+kb.Enter),
	)
	c.step("visitor", logHas("Lo reviso ya mismo"))
	c.step("agent2",
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('details.actions')[1].open = true`),
		click("#close"),
		pageHas("Mis conversaciones"),
		jsTrue(`document.querySelectorAll('.mine .card').length === 0`),
	)
}

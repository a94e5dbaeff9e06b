package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"conversa/internal/testenv"
)

// in returns a JavaScript path to an element of the widget's shadow DOM.
func in(selector string) chromedp.JSPath {
	return chromedp.JSPath(fmt.Sprintf(`document.querySelector('#conversa-widget').shadowRoot.querySelector(%q)`, selector))
}

// logHas waits until the widget's conversation shows text.
func logHas(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(() => { const w = document.querySelector('#conversa-widget'); return w && w.shadowRoot.querySelector('.log').innerText.includes(%q); })()`, text),
		chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}

// visible waits until the widget element's text includes text.
func showsText(selector, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(
		`(() => { const w = document.querySelector('#conversa-widget'); return w && w.shadowRoot.querySelector(%q).textContent.includes(%q); })()`, selector, text),
		chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
}

func count(selector string) chromedp.Action[int] {
	return chromedp.Evaluate[int](fmt.Sprintf(`document.querySelector('#conversa-widget').shadowRoot.querySelectorAll(%q).length`, selector))
}

// browser starts headless Chromium, as the machine's users would, and
// returns a context for one tab.
func browser(t *testing.T) (context.Context, func() context.Context) {
	t.Helper()
	path := testenv.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil { // start the browser
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	newTab := func() context.Context {
		ctx, cancel := chromedp.NewContext(bctx)
		t.Cleanup(cancel)
		// The tab lives as long as the context of its first run: open it
		// here, so that steps can run under timeouts of their own.
		if err := chromedp.Do(ctx); err != nil {
			t.Fatalf("open a tab: %v", err)
		}
		return ctx
	}
	return bctx, newTab
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// evalIn runs one action that returns a value, under a timeout.
func evalIn[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, a)
}

// apiGet reads a JSON answer of the REST API.
func apiGet(t *testing.T, base, key, path string, v any) {
	t.Helper()
	code, _, body := get(t, base+path, "Authorization", "Bearer "+key)
	if code != 200 || json.Unmarshal([]byte(body), v) != nil {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
}

// TestWidgetInBrowser drives the real widget in headless Chromium: a
// visitor chats with the demo bot, uses its buttons, reloads the page and
// finds the conversation, sees an agent typing, comes back in a new tab to
// the same thread, and writes while the server is down.
func TestWidgetInBrowser(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn"}
	s := serve(t, env, "--demo")
	key := s.demoKey(t)
	demo := s.url + "/webchat/demo?channel=demo-web"
	_, newTab := browser(t)

	tab := newTab()
	do(t, tab,
		chromedp.Navigate(demo),
		chromedp.Click(in(".launcher")),
		showsText(".title", "Conversa Demo"),
		logHas("Soy el bot de demostración"), // the channel's Spanish greeting
		chromedp.SendKeys(in("textarea"), "hola"+kb.Enter),
		logHas("Servicios Andinos"),
	)
	if n, err := evalIn(t, tab, count(".buttons button")); err != nil || n != 4 {
		t.Fatalf("quick-reply buttons: %d, %v", n, err)
	}
	do(t, tab,
		chromedp.Click(in(".buttons button")), // "Consultar saldo"
		logHas("número de cuenta"),
	)

	// A reload restores the conversation and keeps the chat open.
	do(t, tab,
		chromedp.Reload(),
		logHas("Servicios Andinos"),
		logHas("número de cuenta"),
	)
	if open, err := evalIn(t, tab, chromedp.Evaluate[bool](`document.querySelector('#conversa-widget').shadowRoot.querySelector('.panel').classList.contains('open')`)); err != nil || !open {
		t.Fatalf("the chat closed on reload: %v", err)
	}

	// An agent typing shows in the widget.
	var convs struct {
		Data []struct{ ID int64 }
	}
	apiGet(t, s.url, key, "/api/v1/conversations", &convs)
	if len(convs.Data) != 1 {
		t.Fatalf("%d conversations after a reload, want the one", len(convs.Data))
	}
	conv := convs.Data[0].ID

	// With the chat open on a visible page, the widget reports the replies
	// read.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var page struct {
			Data []struct {
				Direction, Status string
			}
		}
		apiGet(t, s.url, key, "/api/v1/conversations/"+strconv.FormatInt(conv, 10)+"/messages", &page)
		read := 0
		for _, m := range page.Data {
			if m.Direction == "out" && m.Status == "read" {
				read++
			}
		}
		if read == 2 { // the greeting and the account question
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replies read: %d of 2; messages %+v", read, page.Data)
		}
		time.Sleep(50 * time.Millisecond)
	}
	req, _ := http.NewRequest("POST", s.url+"/api/v1/conversations/"+strconv.FormatInt(conv, 10)+"/typing", strings.NewReader(`{"on":true,"author_name":"Luis"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("typing: %v %v", resp, err)
	}
	do(t, tab, showsText(".typing", "Escribiendo"))

	// The visitor closes the tab and comes back later: same thread.
	chromedp.Cancel(tab)
	tab = newTab()
	do(t, tab,
		chromedp.Navigate(demo),
		chromedp.Click(in(".launcher")),
		logHas("número de cuenta"),
	)
	apiGet(t, s.url, key, "/api/v1/conversations", &convs)
	if len(convs.Data) != 1 || convs.Data[0].ID != conv {
		t.Fatalf("coming back opened another conversation: %+v", convs.Data)
	}

	// The server goes away; the visitor writes anyway; when the server is
	// back on the same address, the message is sent and answered, once:
	// the account number the bot asked for before the restart.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	do(t, tab,
		showsText(".status", "Reconectando"),
		chromedp.SendKeys(in("textarea"), "12345678"+kb.Enter),
	)
	if n, err := evalIn(t, tab, count(".msg.pending")); err != nil || n != 1 {
		t.Fatalf("pending bubbles while offline: %d, %v", n, err)
	}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	s = serve(t, env, "--demo", "--addr", "127.0.0.1:"+port)
	do(t, tab, logHas("La cuenta 12345678 tiene un saldo de $"))
	var msgs struct {
		Data []struct {
			Direction string
			Parts     []struct{ Text string }
		}
	}
	apiGet(t, s.url, key, "/api/v1/conversations/"+strconv.FormatInt(conv, 10)+"/messages?limit=200", &msgs)
	n := 0
	for _, m := range msgs.Data {
		if m.Direction == "in" && m.Parts[0].Text == "12345678" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the message written offline was stored %d times", n)
	}

	// The page's language picks the widget's.
	en := newTab()
	do(t, en,
		chromedp.Navigate(demo+"&lang=en"),
		chromedp.Click(in(".launcher")),
		chromedp.Poll[chromedp.Void](`document.querySelector('#conversa-widget').shadowRoot.querySelector('textarea').placeholder === 'Type your message…'`,
			chromedp.WithPollingTimeout(10*time.Second)),
	)
}

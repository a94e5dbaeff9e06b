package bidi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Options configure Launch.
type Options struct {
	// Prefs are Firefox preferences written to the profile's user.js, over
	// the defaults of Launch (which silence first-run pages and telemetry).
	Prefs map[string]any
	// OnEvent, if not nil, receives the events of the session (see Dial);
	// subscribe to them with Browser.Subscribe.
	OnEvent func(Event)
}

// defaultPrefs keep a test browser quiet: no first-run or update pages, no
// telemetry or background traffic. Firefox's remote agent sets more of the
// same when it starts.
var defaultPrefs = map[string]any{
	"browser.shell.checkDefaultBrowser":           false,
	"browser.startup.homepage_override.mstone":    "ignore",
	"browser.aboutwelcome.enabled":                false,
	"datareporting.policy.dataSubmissionEnabled":  false,
	"datareporting.healthreport.uploadEnabled":    false,
	"toolkit.telemetry.enabled":                   false,
	"toolkit.telemetry.reportingpolicy.firstRun":  false,
	"app.update.disabledForTesting":               true,
	"browser.backup.enabled":                      false,
	"messaging-system.rsexperimentloader.enabled": false,
}

// listening is what Firefox prints on stderr when its BiDi server is up.
const listening = "WebDriver BiDi listening on "

// Browser is a headless Firefox with a WebDriver BiDi session on it. Its
// methods may be called concurrently.
type Browser struct {
	*Conn
	cmd     *exec.Cmd
	profile string
	exited  chan struct{} // closed when the process has been waited for
	stderr  *tail
	once    sync.Once
}

// Launch starts the Firefox binary at path headless, with a new profile in
// a temporary directory and its BiDi server on a free loopback port, and
// opens a session. Close the browser to end the process and remove the
// profile. ctx bounds the start only.
func Launch(ctx context.Context, path string, opts Options) (*Browser, error) {
	profile, err := os.MkdirTemp("", "bidi-firefox-")
	if err != nil {
		return nil, fmt.Errorf("launch firefox: %w", err)
	}
	if err := writePrefs(profile, opts.Prefs); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("launch firefox: %w", err)
	}
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	ownProcessGroup(cmd)
	// A pipe of our own rather than StderrPipe: Wait must not wait for
	// Firefox's child processes, which inherit stderr, to close it.
	stderr, w, err := os.Pipe()
	if err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("launch firefox: %w", err)
	}
	cmd.Stderr = w
	err = cmd.Start()
	w.Close()
	if err != nil {
		stderr.Close()
		os.RemoveAll(profile)
		return nil, fmt.Errorf("launch firefox: %w", err)
	}
	b := &Browser{cmd: cmd, profile: profile, exited: make(chan struct{}), stderr: &tail{max: 40}}
	addr := make(chan string, 1)
	go b.readStderr(stderr, addr)
	go func() {
		cmd.Wait()
		close(b.exited)
	}()
	if err := b.connect(ctx, addr, opts.OnEvent); err != nil {
		b.Close()
		return nil, fmt.Errorf("launch firefox: %w", err)
	}
	return b, nil
}

// connect waits for the BiDi server's address, dials it and starts a
// session.
func (b *Browser) connect(ctx context.Context, addr <-chan string, onEvent func(Event)) error {
	var url string
	select {
	case url = <-addr:
	case <-b.exited:
		return fmt.Errorf("firefox exited (%v) before its BiDi server listened; its last output:\n%s", b.cmd.ProcessState, b.stderr)
	case <-ctx.Done():
		return fmt.Errorf("waiting for the BiDi server: %w; firefox's last output:\n%s", ctx.Err(), b.stderr)
	}
	conn, err := Dial(ctx, url+"/session", onEvent)
	if err != nil {
		return err
	}
	b.Conn = conn
	return b.Call(ctx, "session.new", map[string]any{"capabilities": map[string]any{
		"alwaysMatch": map[string]any{"acceptInsecureCerts": true},
	}}, nil)
}

// readStderr keeps Firefox's last lines of output, and sends the BiDi
// server's address once it is printed.
func (b *Browser) readStderr(r io.ReadCloser, addr chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sent := false
	for sc.Scan() {
		line := sc.Text()
		if url, ok := strings.CutPrefix(line, listening); ok && !sent {
			addr <- strings.TrimSpace(url)
			sent = true
		}
		b.stderr.add(line)
	}
	io.Copy(io.Discard, r) // a line too long for the scanner
	r.Close()
}

// Output returns Firefox's last lines of output, for failure messages.
func (b *Browser) Output() string { return b.stderr.String() }

// Close ends the session and the browser, kills it if it does not exit
// within 10 s, and removes its profile.
func (b *Browser) Close() error {
	var err error
	b.once.Do(func() { err = b.close() })
	return err
}

// exitWait is how long Close waits for Firefox to exit on its own before
// it kills it: a loaded machine (the whole test suite on two cores) has
// made Firefox take more than 10 s.
const exitWait = 30 * time.Second

func (b *Browser) close() error {
	var err error
	if b.Conn == nil { // no session to close it with
		killProcessGroup(b.cmd)
		<-b.exited
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// The browser may close the connection before it answers.
		b.Call(ctx, "browser.close", nil, nil)
		cancel()
		b.Conn.Close()
		select {
		case <-b.exited:
		case <-time.After(exitWait):
			err = fmt.Errorf("firefox did not exit within %v of browser.close: killed", exitWait)
			killProcessGroup(b.cmd)
			<-b.exited
		}
	}
	if rerr := os.RemoveAll(b.profile); rerr != nil && err == nil {
		err = fmt.Errorf("remove firefox profile: %w", rerr)
	}
	return err
}

// Subscribe asks for the events named (a module, "log", or an event,
// "log.entryAdded") of every browsing context; they go to Options.OnEvent.
func (b *Browser) Subscribe(ctx context.Context, events ...string) error {
	return b.Call(ctx, "session.subscribe", map[string]any{"events": events}, nil)
}

// NewUserContext creates a user context: tabs opened in it share no
// cookies or storage with other user contexts, like a private window.
func (b *Browser) NewUserContext(ctx context.Context) (string, error) {
	var r struct {
		UserContext string `json:"userContext"`
	}
	if err := b.Call(ctx, "browser.createUserContext", nil, &r); err != nil {
		return "", err
	}
	return r.UserContext, nil
}

// NewTab opens a tab in userContext ("" for the default one).
func (b *Browser) NewTab(ctx context.Context, userContext string) (*Tab, error) {
	params := map[string]any{"type": "tab"}
	if userContext != "" {
		params["userContext"] = userContext
	}
	var r struct {
		Context string `json:"context"`
	}
	if err := b.Call(ctx, "browsingContext.create", params, &r); err != nil {
		return nil, err
	}
	return &Tab{ID: r.Context, conn: b.Conn}, nil
}

// writePrefs writes the profile's user.js: the default prefs, then prefs.
func writePrefs(profile string, prefs map[string]any) error {
	var sb strings.Builder
	for _, m := range []map[string]any{defaultPrefs, prefs} {
		for name, v := range m {
			val, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("pref %s: %w", name, err)
			}
			name, _ := json.Marshal(name)
			fmt.Fprintf(&sb, "user_pref(%s, %s);\n", name, val)
		}
	}
	if err := os.WriteFile(profile+"/user.js", []byte(sb.String()), 0o600); err != nil {
		return fmt.Errorf("write user.js: %w", err)
	}
	return nil
}

// tail keeps the last max lines written to it.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == t.max {
		t.lines = t.lines[1:]
	}
	t.lines = append(t.lines, line)
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

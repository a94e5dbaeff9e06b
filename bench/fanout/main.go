// Command fanout measures how fast a customer's web-chat message reaches
// an agent's console across two nodes: node A serves the widget, node B
// the console, both "conversa serve" on one PostgreSQL and one Valkey.
//
// -visitors visitors connect to node A's widget socket and write once,
// which opens their conversations; an admin logs into node B's console
// (with the demo password node A prints) and opens one console socket per
// visitor, each watching that visitor's conversation (a supervisor may
// watch any). Then every visitor sends -messages messages, one after the
// other, and the time from writing a message on node A's socket to its
// frame on node B's console socket is measured: the ingest on A, the
// publication through Valkey, B's subscription and the console's frame.
//
//	go run ./bench/fanout [-visitors 20] [-messages 20]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"conversa/bench"
)

type config struct {
	bin         string
	postgresURL string
	valkeyURL   string
	visitors    int
	messages    int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.bin, "bin", "", "conversa binary to run (default: bin/conversa if newer than the sources, else a fresh build)")
	flag.StringVar(&cfg.postgresURL, "postgres-url", os.Getenv("TEST_POSTGRES_URL"), "PostgreSQL server (default $TEST_POSTGRES_URL)")
	flag.StringVar(&cfg.valkeyURL, "valkey-url", os.Getenv("TEST_VALKEY_URL"), "Valkey server (default $TEST_VALKEY_URL)")
	flag.IntVar(&cfg.visitors, "visitors", 20, "visitors writing at once, each watched by a console socket")
	flag.IntVar(&cfg.messages, "messages", 20, "messages each visitor sends, one after the other (a visitor may send 30 a minute)")
	flag.Parse()
	if cfg.postgresURL == "" || cfg.valkeyURL == "" {
		fmt.Fprintln(os.Stderr, "fanout: set TEST_POSTGRES_URL and TEST_VALKEY_URL (scripts/services .test/env writes them)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) (err error) {
	root, err := bench.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	if cfg.bin == "" {
		if cfg.bin, err = bench.Binary(ctx, root, os.Stderr); err != nil {
			return err
		}
	}
	db, err := bench.CreateTempDB(ctx, cfg.postgresURL)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, db.Drop(ctx)) }()
	dir, err := os.MkdirTemp("", "fanout")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	prefix := fmt.Sprintf("bench-fanout-%d", time.Now().UnixNano())
	store := []string{"--database-url", db.URL, "--encryption-key", bench.EncryptionKey, "--valkey-url", cfg.valkeyURL, "--valkey-prefix", prefix}
	if _, err := bench.Command(ctx, cfg.bin, append([]string{"migrate"}, store...)...); err != nil {
		return err
	}
	serve := func(dataDir string, extra ...string) []string {
		return append(append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "warn",
			"--webchat-visitors-per-minute", "1000000", "--shutdown-timeout", "10s", "--data-dir", dataDir}, store...), extra...)
	}
	// Node A seeds the demo tenant and prints its console password; node
	// B only serves (a second seed would change the password).
	a, err := bench.Start(ctx, cfg.bin, serve(dir+"/a", "--demo")...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, a.Stop()) }()
	m := regexp.MustCompile(`admin@example.com\s+password (\S+)`).FindStringSubmatch(a.Output())
	if m == nil {
		return fmt.Errorf("node A printed no console password:\n%s", a.Output())
	}
	b, err := bench.Start(ctx, cfg.bin, serve(dir+"/b")...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, b.Stop()) }()
	fmt.Printf("node A (widget) %s pid %d, node B (console) %s pid %d, PostgreSQL database %s, Valkey prefix %s\n",
		a.URL, a.Pid(), b.URL, b.Pid(), db.Name, prefix)
	for _, line := range bench.Machine() {
		fmt.Println(line)
	}

	agent, err := login(ctx, b.URL, "admin@example.com", m[1])
	if err != nil {
		return err
	}
	pairs := make([]*pair, cfg.visitors)
	for i := range pairs {
		if pairs[i], err = open(ctx, a.URL, agent, i); err != nil {
			return err
		}
		defer pairs[i].close()
	}
	fmt.Printf("%d visitors on node A, each watched by a console socket on node B; %d messages each ...\n", cfg.visitors, cfg.messages)
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range pairs {
		wg.Go(func() {
			ds, err := p.measure(ctx, cfg.messages)
			mu.Lock()
			all = append(all, ds...)
			if err != nil {
				errs = append(errs, err)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s := bench.Summarize(all)
	fmt.Printf("customer message on node A -> agent console on node B: n=%d p50 %s p90 %s p99 %s max %s (target p99 < 50 ms)\n",
		s.N, bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max))
	return nil
}

// agentSession is a logged-in console on node B.
type agentSession struct {
	base   string
	client *http.Client
	csrf   string
}

var (
	loginTokenRE = regexp.MustCompile(`name="login_token" value="([^"]+)"`)
	csrfRE       = regexp.MustCompile(`data-csrf="([^"]+)"`)
)

// login logs into the console as a browser does.
func login(ctx context.Context, base, email, password string) (*agentSession, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	page := func(req *http.Request) (string, error) {
		resp, err := c.Do(req.WithContext(ctx))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
		}
		return string(body), err
	}
	req, _ := http.NewRequest("GET", base+"/console/login", nil)
	body, err := page(req)
	if err != nil {
		return nil, err
	}
	tok := loginTokenRE.FindStringSubmatch(body)
	if tok == nil {
		return nil, errors.New("no login form")
	}
	form := url.Values{"login_token": {tok[1]}, "email": {email}, "password": {password}}
	req, _ = http.NewRequest("POST", base+"/console/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	if body, err = page(req); err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	csrf := csrfRE.FindStringSubmatch(body)
	if csrf == nil {
		return nil, errors.New("login: no console page after it")
	}
	return &agentSession{base: base, client: c, csrf: csrf[1]}, nil
}

// pair is a visitor on node A and the console socket on node B that
// watches their conversation.
type pair struct {
	visitor *websocket.Conn
	console *websocket.Conn
	n       int
	// arrived carries the texts of the visitor's messages as the console
	// socket receives them.
	arrived chan arrival
}

type arrival struct {
	text string
	at   time.Time
}

func open(ctx context.Context, widgetBase string, agent *agentSession, n int) (*pair, error) {
	p := &pair{n: n, arrived: make(chan arrival, 64)}
	tok, err := visitorToken(ctx, widgetBase)
	if err != nil {
		return nil, err
	}
	wsURL := "ws" + strings.TrimPrefix(widgetBase, "http") + "/webchat/demo-web/ws"
	if p.visitor, _, err = websocket.Dial(ctx, wsURL, nil); err != nil {
		return nil, fmt.Errorf("widget socket: %w", err)
	}
	write(ctx, p.visitor, map[string]string{"type": "hello", "token": tok, "lang": "es"})
	write(ctx, p.visitor, map[string]string{"type": "message", "id": "first", "text": "hola"})
	var conv int64
	for conv == 0 {
		var f struct {
			Type    string `json:"type"`
			Message *struct {
				ConversationID int64 `json:"conversation_id"`
			} `json:"message"`
		}
		if err := read(ctx, p.visitor, &f); err != nil {
			return nil, fmt.Errorf("widget: %w", err)
		}
		if f.Type == "ack" && f.Message != nil {
			conv = f.Message.ConversationID
		}
	}
	go drain(p.visitor)

	h := http.Header{"Origin": {agent.base}}
	u, _ := url.Parse(agent.base)
	for _, c := range agent.client.Jar.Cookies(u) {
		h.Add("Cookie", c.Name+"="+c.Value)
	}
	consoleURL := "ws" + strings.TrimPrefix(agent.base, "http") + "/console/ws?csrf=" + url.QueryEscape(agent.csrf)
	if p.console, _, err = websocket.Dial(ctx, consoleURL, &websocket.DialOptions{HTTPHeader: h}); err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	write(ctx, p.console, map[string]any{"type": "watch", "conversation_id": conv})
	for {
		var f struct {
			Type string `json:"type"`
			Code string `json:"code"`
		}
		if err := read(ctx, p.console, &f); err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		if f.Type == "error" {
			return nil, fmt.Errorf("console: watch: %s", f.Code)
		}
		if f.Type == "watching" {
			break
		}
	}
	go func() {
		for {
			var f struct {
				Type    string `json:"type"`
				Message *struct {
					Direction string `json:"direction"`
					Text      string `json:"text"`
				} `json:"message"`
			}
			if err := read(context.Background(), p.console, &f); err != nil {
				close(p.arrived)
				return
			}
			if f.Type == "message" && f.Message != nil && f.Message.Direction == "in" {
				select {
				case p.arrived <- arrival{f.Message.Text, time.Now()}:
				default:
				}
			}
		}
	}()
	return p, nil
}

// measure sends messages one after the other and times each until the
// console socket has it.
func (p *pair) measure(ctx context.Context, n int) ([]time.Duration, error) {
	var out []time.Duration
	for i := range n {
		text := fmt.Sprintf("mensaje %d de %d", i, p.n)
		start := time.Now()
		if err := write(ctx, p.visitor, map[string]string{"type": "message", "id": fmt.Sprintf("m%d", i), "text": text}); err != nil {
			return out, err
		}
		timeout := time.After(10 * time.Second)
	wait:
		for {
			select {
			case a, ok := <-p.arrived:
				if !ok {
					return out, errors.New("the console socket closed")
				}
				if a.text == text {
					out = append(out, a.at.Sub(start))
					break wait
				}
			case <-timeout:
				return out, fmt.Errorf("visitor %d: message %d did not reach the console in 10 s", p.n, i)
			}
		}
		// Pace below the widget's 30 messages a minute per visitor.
		time.Sleep(2 * time.Second)
	}
	return out, nil
}

func (p *pair) close() {
	p.visitor.CloseNow()
	p.console.CloseNow()
}

func visitorToken(ctx context.Context, base string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/webchat/demo-web/session", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var s struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil || s.Token == "" {
		return "", fmt.Errorf("visitor session: %s", resp.Status)
	}
	return s.Token, nil
}

func write(ctx context.Context, ws *websocket.Conn, v any) error {
	b, _ := json.Marshal(v)
	return ws.Write(ctx, websocket.MessageText, b)
}

func read(ctx context.Context, ws *websocket.Conn, v any) error {
	_, data, err := ws.Read(ctx)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

// drain reads the visitor's frames (the bot's replies) so that the
// server never finds the visitor too slow.
func drain(ws *websocket.Conn) {
	for {
		if _, _, err := ws.Read(context.Background()); err != nil {
			return
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"conversa/channels/apichannel"
	"conversa/internal/testenv"
)

// buildBinary builds conversa once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "conversa-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "conversa")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is a conversa node running as its own process.
type process struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
}

func runBinary(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%v: %s", err, stderr.String())
	}
	return string(out), nil
}

func startProcess(t *testing.T, env []string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: exec.Command(bin, "serve", "--addr", "127.0.0.1:0"), stderr: &syncBuffer{}}
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("node exited with %v:\n%s", err, p.stderr.String())
			}
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			t.Errorf("node did not stop within 30s of SIGTERM")
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`running on (http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case p.url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("node did not start:\n%s", p.stderr.String())
	}
	return p
}

// TestScaleOut runs two nodes on one PostgreSQL and one Valkey-compatible
// server: a widget on node A and the API on node B see each other's
// messages live, and every delivery job runs exactly once.
func TestScaleOut(t *testing.T) {
	pgURL := testenv.PostgresURL(t)
	valkeyURL, prefix := testenv.ValkeyURL(t)

	var mu sync.Mutex
	deliveries := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := apichannel.Verify([]byte("scale-out-secret-0123"), r.Header.Get(apichannel.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		mu.Lock()
		deliveries[r.Header.Get("X-Conversa-Delivery")]++
		mu.Unlock()
	}))
	defer hook.Close()

	env := append(os.Environ(),
		"CONVERSA_DATABASE_URL="+pgURL,
		"CONVERSA_VALKEY_URL="+valkeyURL,
		"CONVERSA_VALKEY_PREFIX="+prefix,
		"CONVERSA_ALLOW_PRIVATE_WEBHOOKS=true",
		"CONVERSA_ENCRYPTION_KEY="+strings.Repeat("ab", 32),
		"CONVERSA_LOG_LEVEL=warn",
		"CONVERSA_API_REQUESTS_PER_MINUTE=100000",
	)
	if _, err := runBinary(t, env, "serve", "--addr", "127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "run conversa migrate") {
		t.Fatalf("serve on an empty database: %v, want it to ask for conversa migrate", err)
	}
	if out, err := runBinary(t, env, "migrate"); err != nil || !strings.Contains(out, "applied 0001_init.sql") {
		t.Fatalf("migrate: %q, %v", out, err)
	}
	tenantFile := filepath.Join(t.TempDir(), "tenant.yaml")
	os.WriteFile(tenantFile, []byte(`tenant:
  slug: acme
  name: Acme
channels:
  - kind: webchat
    key: acme-web
  - kind: api
    key: acme-crm
    settings:
      webhook_url: `+hook.URL+`
      webhook_secret: scale-out-secret-0123
`), 0o600)
	if _, err := runBinary(t, env, "apply", "-f", tenantFile); err != nil {
		t.Fatal(err)
	}
	key, err := runBinary(t, env, "apikey", "create", "--tenant", "acme")
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(key)

	a := startProcess(t, env)
	b := startProcess(t, env)

	// The API on B streams the tenant's events.
	events := streamEvents(t, b.url, key)

	// A visitor on A writes; B sees it live; the bot's reply reaches A.
	w := openWidget(t, a.url, "acme-web", "")
	w.send(map[string]any{"type": "message", "id": "x1", "text": "hola desde el nodo A"})
	ack := w.next("ack")
	conv := int64(ack["message"].(map[string]any)["conversation_id"].(float64))
	events.waitFor(t, func(e event) bool {
		return e.Type == "message.created" && e.Message != nil && e.Message.Direction == "in" && strings.Contains(e.Message.Parts[0].Text, "nodo A")
	})
	if reply := w.reply(); !strings.Contains(textOf(reply), "¿En qué te puedo ayudar?") {
		t.Fatalf("bot reply on A = %v (want the built-in bot's greeting)", reply)
	}

	// A bot version trained and activated through B answers on A at the
	// next message, with no restart.
	def := "name: acme\nintents:\n  - name: greet\n    response: hi\n    examples:\n      es: [hola, buenas, buenos días, qué tal]\n" +
		"  - name: pay\n    response: pay\n    examples:\n      es: [quiero pagar, cómo pago, medios de pago]\n" +
		"responses:\n  hi: [{text: \"Hola, soy el bot de Acme, versión nueva.\"}]\n  pay: [{text: \"Paga en línea.\"}]\n"
	train, _ := http.NewRequest("POST", b.url+"/api/v1/bot/versions?activate=true", strings.NewReader(def))
	train.Header.Set("Authorization", "Bearer "+key)
	train.Header.Set("Content-Type", "application/yaml")
	trained, err := http.DefaultClient.Do(train)
	if err != nil || trained.StatusCode != http.StatusCreated {
		t.Fatalf("training on B: %v %v", trained, err)
	}
	trained.Body.Close()
	w.send(map[string]any{"type": "message", "id": "x2", "text": "hola otra vez"})
	w.next("ack")
	if reply := w.reply(); !strings.Contains(textOf(reply), "versión nueva") {
		t.Fatalf("bot reply on A after the activation on B = %v", reply)
	}

	// An agent answers through the API on B; the widget on A shows it.
	body, _ := json.Marshal(map[string]any{"text": "Le atiende Luis desde el nodo B", "author": map[string]any{"kind": "agent", "name": "Luis"}})
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/conversations/%d/messages", b.url, conv), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("send on B: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if reply := w.reply(); textOf(reply) != "Le atiende Luis desde el nodo B" {
		t.Fatalf("widget on A got %v", reply)
	}

	// Contacts of the api channel write through both nodes; the bot answers
	// each, and every answer is delivered exactly once, by some node.
	const n = 60
	channels := listChannels(t, a.url, key)
	var wg sync.WaitGroup
	for i := range n {
		node := a
		if i%2 == 1 {
			node = b
		}
		wg.Go(func() {
			body := fmt.Sprintf(`{"channel_id":%d,"from":"user-%d","id":"m-%d","text":"hola"}`, channels["acme-crm"], i, i)
			req, _ := http.NewRequest("POST", node.url+"/api/v1/inbound", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Errorf("inbound %d on %s: %d", i, node.url, resp.StatusCode)
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		got := len(deliveries)
		mu.Unlock()
		if got == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d replies delivered within 30s", got, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Both nodes worked, and the queue empties: nothing is left to run
	// twice. A node counts a delivery, and finishes its job, a moment
	// after the webhook has it: read the metrics until they settle.
	var total, left int
	var perNode []int
	settle := time.Now().Add(10 * time.Second)
	for {
		total, left, perNode = 0, 0, perNode[:0]
		for _, p := range []*process{a, b} {
			sent := metricValue(t, p.url, `conversa_delivery_total{channel="api",outcome="sent"}`)
			perNode = append(perNode, sent)
			total += sent
			for _, state := range []string{"pending", "running"} {
				left += metricValue(t, p.url, `conversa_jobs{kind="deliver",state="`+state+`"}`)
			}
		}
		if total == n && left == 0 || time.Now().After(settle) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i, sent := range perNode {
		if sent == 0 {
			t.Errorf("node %d delivered nothing: both nodes run jobs", i)
		}
	}
	if left != 0 {
		t.Errorf("%d deliver jobs pending or running", left)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, c := range deliveries {
		if c != 1 {
			t.Errorf("message %s was delivered %d times", id, c)
		}
	}
	if total != n {
		t.Errorf("the nodes report %d deliveries, want %d", total, n)
	}
}

// event is what the scale-out test reads of a domain event.
type event struct {
	Type    string `json:"type"`
	Message *struct {
		Direction string `json:"direction"`
		Parts     []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"message"`
}

type eventStream struct {
	mu     sync.Mutex
	events []event
}

func streamEvents(t *testing.T, base, key string) *eventStream {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("event stream: %v %v", resp, err)
	}
	s := &eventStream{}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var e event
			if json.Unmarshal([]byte(data), &e) == nil {
				s.mu.Lock()
				s.events = append(s.events, e)
				s.mu.Unlock()
			}
		}
	}()
	return s
}

func (s *eventStream) waitFor(t *testing.T, match func(event) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, e := range s.events {
			if match(e) {
				s.mu.Unlock()
				return
			}
		}
		s.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the event did not arrive within 10s")
}

func listChannels(t *testing.T, base, key string) map[string]int64 {
	t.Helper()
	code, _, body := get(t, base+"/api/v1/channels", "Authorization", "Bearer "+key)
	var page struct {
		Data []struct {
			ID  int64
			Key string
		}
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || code != 200 {
		t.Fatalf("channels: %d %v", code, err)
	}
	m := map[string]int64{}
	for _, c := range page.Data {
		m[c.Key] = c.ID
	}
	return m
}

// metricValue reads one sample of a node's /metrics; a missing sample is 0.
func metricValue(t *testing.T, base, sample string) int {
	t.Helper()
	_, _, body := get(t, base+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", sample, v)
			}
			return int(f)
		}
	}
	return 0
}

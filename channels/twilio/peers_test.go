package twilio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"

	"conversa/conversation"
	"conversa/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	prism.stop()
	os.Exit(code)
}

// unavailable skips t for lack of a service, or fails it under CI=true.
// prism is one Prism mock of Twilio's API for the whole test binary,
// started by the first test that needs it and stopped by TestMain.
var prism prismServer

type prismServer struct {
	once sync.Once
	url  string
	err  error
	cmd  *exec.Cmd
	out  bytes.Buffer
	// dir holds the patched copy of the spec.
	dir string
}

// URL returns the base URL of the mock, starting it if needed.
func (p *prismServer) URL(t testing.TB) string {
	t.Helper()
	peers := testenv.Peers(t)
	spec := testenv.TwilioOAI(t)
	p.once.Do(func() { p.url, p.err = p.start(peers, spec) })
	if p.err != nil {
		t.Fatalf("start Prism: %v\n%s", p.err, p.out.String())
	}
	return p.url
}

func (p *prismServer) start(peers, spec string) (string, error) {
	dir, err := os.MkdirTemp("", "twilio-oai-")
	if err != nil {
		return "", err
	}
	p.dir = dir
	patched, err := patchSpec(spec, dir)
	if err != nil {
		return "", err
	}
	// A port the system picks, handed to Prism.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p.cmd = exec.Command("node", filepath.Join(peers, "node_modules", ".bin", "prism"), "mock",
		"-h", "127.0.0.1", "-p", fmt.Sprint(port), "--errors", patched)
	p.cmd.Dir = peers
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			p.cmd = nil
			return "", fmt.Errorf("prism exited: %v", err)
		default:
		}
		// Any HTTP answer means Prism serves.
		if res, err := http.Get(base + "/2010-04-01/Accounts.json"); err == nil {
			res.Body.Close()
			return base, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("prism did not start within 90 s")
}

func (p *prismServer) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	}
	if p.dir != "" {
		os.RemoveAll(p.dir)
	}
}

// patchSpec writes a copy of the spec that accepts repeated MediaUrl
// fields, as twilio-go sends them and Twilio takes them (Prism otherwise
// wants an array encoding it cannot read: stoplightio/prism issue 2473).
func patchSpec(path, dir string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		return "", err
	}
	content, found := dig(spec, "paths", "/2010-04-01/Accounts/{AccountSid}/Messages.json", "post", "requestBody", "content", "application/x-www-form-urlencoded")
	if !found {
		return "", errors.New("the spec has no Messages create request")
	}
	content["encoding"] = map[string]any{"MediaUrl": map[string]any{"style": "form", "explode": false}}
	out, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	patched := filepath.Join(dir, "twilio_api_v2010.json")
	return patched, os.WriteFile(patched, out, 0o600)
}

func dig(m map[string]any, keys ...string) (map[string]any, bool) {
	for _, k := range keys {
		next, isMap := m[k].(map[string]any)
		if !isMap {
			return nil, false
		}
		m = next
	}
	return m, true
}

// TestPrismContract: the requests the channels make through twilio-go are
// valid for Twilio's published OpenAPI description, as Prism checks them.
func TestPrismContract(t *testing.T) {
	base := prism.URL(t)
	e := newEnv(t, envOptions{
		cfg:      Config{APIBaseURL: base},
		sms:      map[string]string{SettingMessagesPerSecond: "1000"},
		whatsapp: map[string]string{SettingTemplateContentSID: templateSID, SettingTemplateVariables: `{"1":"ACME"}`},
	})
	photo := conversation.Part{Type: conversation.PartMedia, Text: "Su factura", Media: &conversation.Media{ContentType: "image/png", URL: "https://files.example.com/f.png"}}
	pdf := conversation.Part{Type: conversation.PartMedia, Media: &conversation.Media{ContentType: "application/pdf", URL: "https://files.example.com/f.pdf"}}
	outside := delivery(e.wa, conversation.TextPart("¿Sigue ahí?"))
	outside.LastInbound = time.Time{}
	tests := []struct {
		name string
		kind conversation.ChannelKind
		d    conversation.Delivery
	}{
		{"WhatsApp text", conversation.ChannelWhatsApp, delivery(e.wa, conversation.TextPart("Hola, ¿en qué le ayudo? 👋"))},
		{"WhatsApp media", conversation.ChannelWhatsApp, delivery(e.wa, photo)},
		{"WhatsApp template", conversation.ChannelWhatsApp, outside},
		{"SMS text", conversation.ChannelSMS, delivery(e.sms, conversation.TextPart("Su pedido va en camino"))},
		{"SMS media", conversation.ChannelSMS, delivery(e.sms, photo, pdf)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := e.tw.SMS()
			if tt.kind == conversation.ChannelWhatsApp {
				ch = e.tw.WhatsApp()
			}
			r, err := ch.Send(t.Context(), tt.d)
			if err != nil {
				t.Fatalf("Prism refused the request: %v\n%s", err, prism.out.String())
			}
			if !strings.HasPrefix(r.ProviderID, "SM") || r.Status != conversation.StatusSent {
				t.Fatalf("receipt %+v", r)
			}
		})
	}

	// Prism does check: a request without To, or without credentials, is
	// refused.
	t.Run("Prism refuses a malformed request", func(t *testing.T) {
		call := &apiCall{ctx: t.Context(), base: http.DefaultTransport, rewrite: mustURL(t, base)}
		c := &client.Client{Credentials: client.NewCredentials(testAccountSID, testAuthToken), HTTPClient: &http.Client{Transport: call}}
		c.SetAccountSid(testAccountSID)
		p := &openapi.CreateMessageParams{}
		p.SetFrom(smsNumber).SetBody("sin destinatario").SetStatusCallback("not a url")
		_, err := openapi.NewApiServiceWithClient(c).CreateMessage(p)
		if err == nil || call.status < 400 {
			t.Fatalf("Prism accepted a message without To: %v (HTTP %d)", err, call.status)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/2010-04-01/Accounts/"+testAccountSID+"/Messages.json",
			strings.NewReader(url.Values{"To": {customer}, "From": {smsNumber}, "Body": {"x"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("without credentials: HTTP %d, want 401", res.StatusCode)
		}
	})
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// nodeCheck is one webhook for Twilio's Node library to sign and check.
type nodeCheck struct {
	Token     string            `json:"token"`
	URL       string            `json:"url"`
	Params    map[string]string `json:"params"`
	Signature string            `json:"signature"`
}

type nodeResult struct {
	Signature string `json:"signature"`
	Valid     bool   `json:"valid"`
}

// twilioNode runs testdata/node/signature.js with Twilio's Node library.
func twilioNode(t *testing.T, checks []nodeCheck) []nodeResult {
	t.Helper()
	peers := testenv.Peers(t)
	script, err := filepath.Abs("testdata/node/signature.js")
	if err != nil {
		t.Fatal(err)
	}
	in, err := json.Marshal(checks)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", script)
	cmd.Dir = peers
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(peers, "node_modules"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	var res []nodeResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(checks) {
		t.Fatalf("node answered %q: %v", out, err)
	}
	return res
}

func params(f url.Values) map[string]string {
	m := map[string]string{}
	for k := range f {
		m[k] = f.Get(k)
	}
	return m
}

// TestSignatureFromTwilioNode: webhooks signed by Twilio's own Node library
// are accepted, and one tampered with after signing is refused.
func TestSignatureFromTwilioNode(t *testing.T) {
	e := newEnv(t, envOptions{})
	sms := inboundForm(conversation.ChannelSMS, sid(1), "Hola, ¿mi pedido? ñandú 👋 a+b=c&d")
	wa := readForm(t, "testdata/inbound/whatsapp-location.form")
	status := statusForm(conversation.ChannelSMS, sid(50), "delivered", "")
	tampered := inboundForm(conversation.ChannelSMS, sid(2), "hola")
	checks := []nodeCheck{
		{testAuthToken, testPublicURL + MessagesPath, params(sms), ""},
		{testAuthToken, testPublicURL + MessagesPath + "?tenant=acme&x=%20y", params(wa), ""},
		{testAuthToken, testPublicURL + StatusPath, params(status), ""},
		{testAuthToken, testPublicURL + MessagesPath, params(tampered), ""},
		// Twilio's library accepts what the tests' own signer signs.
		{testAuthToken, testPublicURL + MessagesPath, params(sms), sign(testAuthToken, testPublicURL+MessagesPath, sms)},
	}
	res := twilioNode(t, checks)
	if !res[4].Valid {
		t.Fatal("Twilio's library refuses the tests' signature")
	}

	if code, body := e.post(MessagesPath, sms, res[0].Signature); code != http.StatusOK {
		t.Fatalf("SMS signed by twilio-node: %d %s", code, body)
	}
	if code, body := e.post(MessagesPath+"?tenant=acme&x=%20y", wa, res[1].Signature); code != http.StatusOK {
		t.Fatalf("WhatsApp signed by twilio-node: %d %s", code, body)
	}
	if code, body := e.post(StatusPath, status, res[2].Signature); code != http.StatusOK {
		t.Fatalf("status signed by twilio-node: %d %s", code, body)
	}
	tampered.Set("Body", "STOP")
	if code, _ := e.post(MessagesPath, tampered, res[3].Signature); code != http.StatusForbidden {
		t.Fatalf("tampered webhook: %d, want 403", code)
	}
	if got := twilioNode(t, []nodeCheck{{testAuthToken, testPublicURL + MessagesPath, params(tampered), res[3].Signature}}); got[0].Valid {
		t.Fatal("Twilio's library accepts the tampered webhook too: the test proves nothing")
	}

	if sms, wa := e.messages(e.sms), e.messages(e.wa); len(sms) != 1 || sms[0].ProviderID != sid(1) ||
		conversation.PartsText(sms[0].Parts) != "Hola, ¿mi pedido? ñandú 👋 a+b=c&d" || len(wa) != 1 || wa[0].Parts[0].Location == nil {
		t.Fatalf("stored %+v and %+v", sms, wa)
	}
}

package telegram

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"conversa/channels/channeltest"
	"conversa/conversation"
	"conversa/internal/testenv"
)

// The npm telegram-test-api emulator, started once per test binary.
var emu struct {
	once sync.Once
	url  string
	err  error
	cmd  *exec.Cmd
}

func TestMain(m *testing.M) {
	code := m.Run()
	if emu.cmd != nil {
		emu.cmd.Process.Kill()
		emu.cmd.Wait()
	}
	os.Exit(code)
}

// emulatorScript starts the emulator on the port given, says "ready" and
// exits when its standard input closes (when the test binary ends, however
// it ends).
const emulatorScript = `
const TelegramServer = require('telegram-test-api');
const server = new TelegramServer({port: Number(process.argv[1]), host: '127.0.0.1', storeTimeout: 600});
server.start().then(() => console.log('ready'), (e) => { console.error(e); process.exit(1); });
process.stdin.on('end', () => process.exit(0));
// A webhook that refuses a post rejects a promise nobody awaits.
process.on('unhandledRejection', (e) => console.error('telegram-test-api: ' + e.message));
process.stdin.resume();
`

// emulator returns the URL of telegram-test-api.
func emulator(t *testing.T) string {
	t.Helper()
	dir := testenv.Peers(t)
	emu.once.Do(func() {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			emu.err = err
			return
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command("node", "-e", emulatorScript, fmt.Sprint(port))
		cmd.Dir = dir
		cmd.Stderr = os.Stderr
		if _, err := cmd.StdinPipe(); err != nil {
			emu.err = err
			return
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			emu.err = err
			return
		}
		if err := cmd.Start(); err != nil {
			emu.err = err
			return
		}
		emu.cmd = cmd
		ready := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if sc.Text() == "ready" {
					ready <- nil
					io.Copy(io.Discard, out)
					return
				}
			}
			ready <- fmt.Errorf("telegram-test-api ended before it was ready: %v", sc.Err())
		}()
		select {
		case emu.err = <-ready:
		case <-time.After(30 * time.Second):
			emu.err = fmt.Errorf("telegram-test-api not ready after 30s")
		}
		emu.url = fmt.Sprintf("http://127.0.0.1:%d", port)
	})
	if emu.err != nil {
		t.Fatalf("telegram-test-api: %v", emu.err)
	}
	return emu.url
}

// formTranscoder re-encodes go-telegram's multipart requests as URL-encoded
// forms, which is all telegram-test-api reads. Files are left out.
type formTranscoder struct{}

func (formTranscoder) RoundTrip(r *http.Request) (*http.Response, error) {
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return http.DefaultTransport.RoundTrip(r)
	}
	form := url.Values{}
	if r.Body != nil {
		c := apiCall{Fields: map[string]string{}, Files: map[string][]byte{}}
		rr := r.Clone(r.Context())
		rr.Header.Set("Content-Type", mime.FormatMediaType(mt, params))
		if err := readCall(rr, &c); err != nil {
			return nil, err
		}
		for k, v := range c.Fields {
			form.Set(k, v)
		}
	}
	body := form.Encode()
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(strings.NewReader(body))
	r2.ContentLength = int64(len(body))
	r2.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return http.DefaultTransport.RoundTrip(r2)
}

// emuPost posts JSON to the emulator's client API.
func emuPost(ctx context.Context, base, path string, v any) (json.RawMessage, error) {
	b, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var r struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
	}
	data, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(data, &r); err != nil || !r.OK {
		return nil, fmt.Errorf("emulator %s: HTTP %d %s", path, res.StatusCode, data)
	}
	return r.Result, nil
}

var emuTokens atomic.Int64

// emuEnv is a node whose bot, in polling mode, lives in telegram-test-api.
func emuEnv(t *testing.T) (*env, string) {
	base := emulator(t)
	token := fmt.Sprintf("%d:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", 500000+emuTokens.Add(1))
	e := newEnv(t, envOptions{
		apiURL:   base,
		run:      true,
		settings: map[string]string{SettingBotToken: token, SettingMode: ModePolling},
		cfg:      Config{HTTPClient: &http.Client{Transport: formTranscoder{}}},
	})
	return e, token
}

// userMessage makes the emulator's user write text to the bot.
func userMessage(ctx context.Context, base, token string, chat int64, text string) error {
	_, err := emuPost(ctx, base, "/sendMessage", map[string]any{
		"botToken": token, "date": time.Now().Unix(), "text": text,
		"from": map[string]any{"id": chat, "is_bot": false, "first_name": "Ana", "language_code": "es"},
		"chat": map[string]any{"id": chat, "type": "private", "first_name": "Ana"},
	})
	return err
}

// TestChannelEmulator runs the channel suite against telegram-test-api:
// updates arrive by long polling, sends go to the emulator, and the
// emulator's user reads them.
func TestChannelEmulator(t *testing.T) {
	channeltest.TestChannel(t, func(t *testing.T) channeltest.Harness {
		e, token := emuEnv(t)
		base := emulator(t)
		if err := userMessage(timeout(t), base, token, testChat, "hola"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the first message", func() bool { return len(e.inbound()) == 1 })
		first := e.inbound()[0]
		contact := e.contact(testChat)
		last := conversation.MessagePos{ConversationID: first.ConversationID, Seq: first.Seq}
		var pending [][]conversation.Part
		return channeltest.Harness{
			Channel: e.ch,
			Account: e.acct,
			Contact: contact,
			To:      conversation.Identity{Channel: conversation.ChannelTelegram, Address: fmt.Sprint(testChat)},
			Receive: func(ctx context.Context) ([]conversation.Part, error) {
				for len(pending) == 0 {
					res, err := emuPost(ctx, base, "/getUpdates", map[string]any{"token": token, "chatId": testChat})
					if err != nil {
						return nil, err
					}
					var got []struct {
						Message struct {
							Text        string          `json:"text"`
							ReplyMarkup json.RawMessage `json:"reply_markup"`
						} `json:"message"`
					}
					if err := json.Unmarshal(res, &got); err != nil {
						return nil, err
					}
					for _, g := range got {
						c := apiCall{Fields: map[string]string{"text": g.Message.Text}}
						if len(g.Message.ReplyMarkup) > 0 {
							c.Fields["reply_markup"] = string(g.Message.ReplyMarkup)
						}
						parts, err := partsOf(c)
						if err != nil {
							return nil, err
						}
						pending = append(pending, parts)
					}
					if len(pending) == 0 {
						select {
						case <-ctx.Done():
							return nil, ctx.Err()
						case <-time.After(20 * time.Millisecond):
						}
					}
				}
				p := pending[0]
				pending = pending[1:]
				return p, nil
			},
			Inject: func(ctx context.Context, providerID, text string) error {
				return userMessage(ctx, base, token, testChat, text)
			},
			Ingested: func(ctx context.Context) (conversation.Message, error) {
				return e.ingested(ctx, contact.ID, &last)
			},
			InvalidSettings: invalidSettings,
		}
	})
}

// TestEmulatorWebhookWithoutSecret sets the webhook in telegram-test-api,
// which then posts updates without the secret token header, as a forger
// would: every one is refused and nothing is stored.
func TestEmulatorWebhookWithoutSecret(t *testing.T) {
	base := emulator(t)
	token := fmt.Sprintf("%d:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", 600000+emuTokens.Add(1))
	e := newEnv(t, envOptions{
		apiURL:   base,
		settings: map[string]string{SettingBotToken: token, SettingWebhookSecret: testSecret},
		cfg:      Config{HTTPClient: &http.Client{Transport: formTranscoder{}}},
	})
	if err := e.ch.SetWebhook(t.Context(), e.acct); err != nil {
		t.Fatal(err)
	}
	if err := userMessage(timeout(t), base, token, testChat, "hola"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refusal", func() bool { return strings.Contains(e.logs.String(), "missing or wrong secret token") })
	if n := len(e.messages()); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

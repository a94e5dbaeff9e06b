package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
)

// fakeTwilio answers the Messages API as Twilio does and records what it
// was sent.
type fakeTwilio struct {
	srv  *httptest.Server
	mu   sync.Mutex
	sent []url.Values
}

func newFakeTwilio(t *testing.T) *fakeTwilio {
	f := &fakeTwilio{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/Messages.json") {
			http.Error(w, `{"code":20404,"message":"not found","status":404}`, http.StatusNotFound)
			return
		}
		r.ParseForm()
		f.mu.Lock()
		f.sent = append(f.sent, r.PostForm)
		n := len(f.sent)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"sid":"`+fakeSID(n)+`","status":"queued"}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// fakeSID is the SID the fake gives the nth message (from 1).
func fakeSID(n int) string { return fmt.Sprintf("SMout%029d", n) }

func (f *fakeTwilio) messages() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

// twilioSign signs a webhook as Twilio does: HMAC-SHA1 of the URL and the
// sorted form fields, with the account's auth token.
func twilioSign(token, u string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(u)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(form.Get(k))
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// TestTwilioSMSEndToEnd: an SMS account applied from a tenant file takes a
// signed Twilio webhook; the bot's answer goes out through Twilio's
// Messages API with a status callback, and Twilio's delivered callback
// marks it delivered. A STOP then stops everything but the answer to HELP.
func TestTwilioSMSEndToEnd(t *testing.T) {
	dir := t.TempDir()
	tw := newFakeTwilio(t)
	const (
		sid    = "AC0123456789abcdef0123456789abcdef"
		token  = "0123456789abcdef0123456789abcdef"
		number = "+15005550006"
		ana    = "+573001112233"
	)
	file := acmeFile + `  - kind: sms
    key: "` + number + `"
    settings:
      account_sid: ` + sid + `
      auth_token: ` + token + `
      messages_per_second: "100"
`
	if _, err := applyFile(t, dir, file); err != nil {
		t.Fatal(err)
	}
	s := serve(t, map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn", "CONVERSA_TWILIO_API_URL": tw.srv.URL})
	post := func(path string, form url.Values) int {
		t.Helper()
		req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", twilioSign(token, s.url+path, form))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	inbound := func(msgSid, body string) {
		t.Helper()
		form := url.Values{"MessageSid": {msgSid}, "SmsSid": {msgSid}, "AccountSid": {sid}, "From": {ana}, "To": {number},
			"Body": {body}, "NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"}}
		if code := post("/channels/twilio/messages", form); code != http.StatusOK {
			t.Fatalf("webhook %s: %d", msgSid, code)
		}
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	inbound("SM00000000000000000000000000000001", "hola")
	wait("the bot's answer at Twilio", func() bool { return len(tw.messages()) == 1 })
	out := tw.messages()[0]
	cb := out.Get("StatusCallback")
	if out.Get("To") != ana || out.Get("From") != number || out.Get("Body") == "" || !strings.HasPrefix(cb, s.url+"/channels/twilio/status?message=") {
		t.Fatalf("Twilio got %v", out)
	}
	u, _ := url.Parse(cb)
	status := url.Values{"MessageSid": {"SMout" + strings.Repeat("0", 28) + "1"}, "MessageStatus": {"delivered"}, "AccountSid": {sid}, "From": {number}, "To": {ana}}
	if code := post(u.RequestURI(), status); code != http.StatusOK {
		t.Fatalf("status callback: %d", code)
	}
	store := storeAt(t, dir)
	tn, err := store.TenantBySlug(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	wait("the answer delivered", func() bool {
		ms, err := store.ListMessages(t.Context(), tn.ID, conversation.MessageFilter{})
		return err == nil && len(ms) == 2 && ms[1].Status == conversation.StatusDelivered
	})

	// A webhook Twilio did not sign is refused.
	form := url.Values{"MessageSid": {"SM00000000000000000000000000000009"}, "AccountSid": {sid}, "From": {ana}, "To": {number}, "Body": {"hola"}}
	req, _ := http.NewRequest("POST", s.url+"/channels/twilio/messages", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", twilioSign("another-token-0123456789abcdef00", s.url+"/channels/twilio/messages", form))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a forged webhook: %v, %v", resp, err)
	}

	inbound("SM00000000000000000000000000000002", "STOP")
	inbound("SM00000000000000000000000000000003", "HELP")
	wait("the HELP answer at Twilio", func() bool { return len(tw.messages()) == 2 })
	if got := tw.messages()[1].Get("Body"); got == "" {
		t.Fatal("HELP was answered with nothing")
	}
	inbound("SM00000000000000000000000000000004", "¿siguen ahí?")
	wait("the reply to a STOPped number failed", func() bool {
		ms, err := store.ListMessages(t.Context(), tn.ID, conversation.MessageFilter{})
		if err != nil {
			return false
		}
		for _, m := range ms {
			if m.Direction == conversation.DirectionOut && m.Failure != nil && m.Failure.Code == conversation.FailureOptedOut {
				return true
			}
		}
		return false
	})
	if n := len(tw.messages()); n != 2 {
		t.Fatalf("Twilio got %d messages; after STOP only the answer to HELP may go", n)
	}
}

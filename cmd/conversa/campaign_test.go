package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/adapters/api"
	"conversa/conversation"
	"conversa/notify/campaign"
	"conversa/notify/webhook"
)

// TestCampaignEndToEnd: a campaign to a CSV of 1,000 contacts (and three
// bad rows) goes out by SMS through the Twilio API, paced; it is paused,
// the server restarts, nothing moves while it is paused, and once resumed
// every contact gets one message. Twilio's callbacks and a reply show in
// the report.
func TestCampaignEndToEnd(t *testing.T) {
	dir := t.TempDir()
	tw := newFakeTwilio(t)
	const (
		sid    = "AC0123456789abcdef0123456789abcdef"
		token  = "0123456789abcdef0123456789abcdef"
		number = "+15005550006"
		total  = 1000
	)
	tplDir := filepath.Join(dir, "templates")
	if err := os.MkdirAll(tplDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tplDir, "reminder.yaml"), []byte(`purpose: reminder
variables:
  when: {sample: "mañana", required: true}
variants:
  - channel: default
    language: es
    text: "Recuerde su cita {{.when}}."
`), 0o600); err != nil {
		t.Fatal(err)
	}
	file := acmeFile + `  - kind: sms
    key: "` + number + `"
    settings:
      account_sid: ` + sid + `
      auth_token: ` + token + `
      messages_per_second: "1000"
templates: [templates]
notifications:
  quiet_hours: {start: "00:00", end: "00:00"}
`
	if out, err := applyFile(t, dir, file); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	store := storeAt(t, dir)
	tn, err := store.TenantBySlug(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	key, rec := api.NewKey(tn.ID, "test")
	if _, err := store.CreateAPIKey(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CONVERSA_DATA_DIR": dir, "CONVERSA_LOG_LEVEL": "warn", "CONVERSA_TWILIO_API_URL": tw.srv.URL,
		"CONVERSA_ALLOW_PRIVATE_WEBHOOKS": "true"}
	s := serve(t, env)

	// The tenant's system takes delivery results on a webhook.
	var hookMu sync.Mutex
	hookEvents := map[string]int{}
	var hookSecret string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		defer hookMu.Unlock()
		if !webhook.Verify([]byte(hookSecret), r.Header.Get(webhook.SignatureHeader), b, time.Now(), time.Minute) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		hookEvents[r.Header.Get(webhook.EventHeader)]++
	}))
	t.Cleanup(hook.Close)

	call := func(method, path, contentType string, body io.Reader, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, s.url+path, body)
		req.Header.Set("Authorization", "Bearer "+key)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil && resp.StatusCode < 300 {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v\n%s", method, path, err, b)
			}
		}
		if resp.StatusCode >= 300 {
			t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode
	}
	wait := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	var ep webhook.Endpoint
	hookMu.Lock()
	if code := call("POST", "/api/v1/webhooks", "application/json", strings.NewReader(`{"url":"`+hook.URL+`/conversa"}`), &ep); code != http.StatusCreated {
		t.Fatalf("create the webhook: %d", code)
	}
	hookSecret = ep.Secret
	hookMu.Unlock()

	// The upload: 1,000 good rows, numbers written the Colombian way, and
	// three bad ones.
	var csv bytes.Buffer
	csv.WriteString("name,phone,email,language,city\n")
	for i := range total {
		fmt.Fprintf(&csv, "Cliente %d,300 %07d,,es,bogota\n", i, 1000000+i)
		if i == 10 {
			csv.WriteString("Mal,12,,es,cali\n")         // line 13: an invalid phone
			csv.WriteString("Nadie,,,es,cali\n")         // line 14: no channel
			csv.WriteString("\"Roto,3001234567,,es,x\n") // line 15 on: broken quoting to the end of the line
		}
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormField("campaign")
	part.Write([]byte(`{"name":"Recordatorio marzo","purpose":"reminder","data":{"when":"el lunes"},"throttle":{"per_second":300,"per_channel":{"sms":200}}}`))
	fw, _ := mw.CreateFormFile("contacts", "contacts.csv")
	fw.Write(csv.Bytes())
	mw.Close()
	var c campaign.Campaign
	if code := call("POST", "/api/v1/campaigns", mw.FormDataContentType(), &body, &c); code != http.StatusCreated {
		t.Fatalf("create: %d\n%s", code, s.out.String())
	}
	if c.Status != campaign.StatusRunning || c.Import == nil || c.Import.Bad < 2 || c.Import.BadRows[0].Line != 13 || c.Import.BadRows[1].Line != 14 {
		t.Fatalf("created %+v, import %+v", c, c.Import)
	}
	good := c.Import.Imported
	if good < total-1 || good > total {
		t.Fatalf("imported %d rows of %d good ones: %+v", good, total, c.Import)
	}

	// Paced at 200 a second on SMS: pause once some went.
	path := fmt.Sprintf("/api/v1/campaigns/%d", c.ID)
	wait("the first messages at Twilio", 20*time.Second, func() bool { return len(tw.messages()) >= 100 })
	if code := call("POST", path+"/pause", "", nil, &c); code != http.StatusOK || c.Status != campaign.StatusPaused {
		t.Fatalf("pause: %d %+v", code, c)
	}
	if code := call("POST", path+"/pause", "", nil, nil); code != http.StatusConflict {
		t.Fatalf("pause twice: %d, want 409", code)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	var rep campaign.Report
	s = serve(t, env)
	if code := call("GET", path+"/report", "", nil, &rep); code != http.StatusOK {
		t.Fatalf("report: %d", code)
	}
	if rep.Status != campaign.StatusPaused || rep.Planned == 0 || rep.Queued == 0 || rep.Planned+rep.Queued != rep.Recipients {
		t.Fatalf("report after the restart: %+v", rep)
	}
	// Paused across the restart: two release ticks later, nothing more
	// was released.
	time.Sleep(2500 * time.Millisecond)
	var again campaign.Report
	call("GET", path+"/report", "", nil, &again)
	if again.Planned != rep.Planned {
		t.Fatalf("a paused campaign released %d recipients after the restart", rep.Planned-again.Planned)
	}

	if code := call("POST", path+"/resume", "", nil, &c); code != http.StatusOK || c.Status != campaign.StatusRunning {
		t.Fatalf("resume: %d %+v", code, c)
	}
	wait("the campaign done", 180*time.Second, func() bool {
		call("GET", path, "", nil, &c)
		return c.Status == campaign.StatusDone
	})
	wait("every message at Twilio", 30*time.Second, func() bool { return len(tw.messages()) >= good })
	if n := len(tw.messages()); n != good {
		t.Fatalf("Twilio got %d messages for %d recipients", n, good)
	}
	first := tw.messages()[0]
	if first.Get("From") != number || !strings.HasPrefix(first.Get("To"), "+57300") || first.Get("Body") != "Recuerde su cita el lunes." {
		t.Fatalf("Twilio got %v", first)
	}

	// Twilio reports two delivered and one failed; one contact answers.
	post := func(path string, form url.Values) {
		t.Helper()
		req, _ := http.NewRequest("POST", s.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", twilioSign(token, s.url+path, form))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("post %s: %v %v", path, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
	for i, status := range []string{"delivered", "delivered", "undelivered"} {
		form, msgSid := tw.messages()[i], fakeSID(i+1)
		u, _ := url.Parse(form.Get("StatusCallback"))
		cb := url.Values{"MessageSid": {msgSid}, "MessageStatus": {status}, "AccountSid": {sid}, "From": {number}, "To": {form.Get("To")}}
		if status == "undelivered" {
			cb.Set("ErrorCode", "30003")
		}
		post(u.RequestURI(), cb)
	}
	form := tw.messages()[0]
	post("/channels/twilio/messages", url.Values{"MessageSid": {"SM99999999999999999999999999999999"}, "AccountSid": {sid},
		"From": {form.Get("To")}, "To": {number}, "Body": {"gracias, allí estaré"}, "NumMedia": {"0"}})

	wait("the report", 20*time.Second, func() bool {
		call("GET", path+"/report", "", nil, &rep)
		return rep.Delivered == 2 && rep.Failed == 1 && rep.Replied == 1
	})
	if rep.Recipients != good || rep.Queued != good || rep.Sent != good-1 || rep.FailedBy["30003"] != 1 || rep.Planned != 0 || rep.OptedOut != 0 {
		t.Fatalf("report: %+v", rep)
	}
	// The recipient who got the first message, found in the pages of
	// recipients, shows its delivery and its reply.
	to := form.Get("To")
	var found *campaign.Recipient
	for cursor := ""; found == nil; {
		var page struct {
			Data       []campaign.Recipient `json:"data"`
			NextCursor string               `json:"next_cursor"`
		}
		if code := call("GET", path+"/recipients?limit=100&cursor="+cursor, "", nil, &page); code != http.StatusOK {
			t.Fatalf("recipients: %d", code)
		}
		for i, r := range page.Data {
			if r.Address == to {
				found = &page.Data[i]
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if found == nil || found.Status != string(conversation.StatusDelivered) || !found.Replied || found.Channel != conversation.ChannelSMS {
		t.Fatalf("the recipient of the first message: %+v", found)
	}

	// The webhook got the delivery results and the campaign's progress,
	// signed.
	wait("the webhook events", 20*time.Second, func() bool {
		hookMu.Lock()
		defer hookMu.Unlock()
		return hookEvents[webhook.EventMessageDelivered] == 2 && hookEvents[webhook.EventMessageFailed] == 1 && hookEvents[webhook.EventCampaignProgress] > 0
	})
	// The endpoint's secret, which signed them, is not in the database's
	// files: it is encrypted with the server's key.
	files, _ := filepath.Glob(filepath.Join(dir, "conversa.db*"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err != nil || bytes.Contains(b, []byte(hookSecret)) {
			t.Fatalf("%s holds the webhook secret in the clear (%v)", filepath.Base(f), err)
		}
	}
}

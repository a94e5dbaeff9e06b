package twilio

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"conversa/conversation"
)

func statusForm(kind conversation.ChannelKind, sid, status, errorCode string) url.Values {
	prefix, from := "", smsNumber
	if kind == conversation.ChannelWhatsApp {
		prefix, from = "whatsapp:", waNumber
	}
	f := url.Values{
		"MessageSid": {sid}, "SmsSid": {sid}, "MessageStatus": {status}, "SmsStatus": {status},
		"AccountSid": {testAccountSID}, "From": {prefix + from}, "To": {prefix + customer}, "ApiVersion": {"2010-04-01"},
	}
	if errorCode != "" {
		f.Set("ErrorCode", errorCode)
	}
	return f
}

// callbackPath returns the path and query of the StatusCallback Twilio was
// given, checking that it is under the public URL.
func callbackPath(t *testing.T, f url.Values) string {
	t.Helper()
	cb := f.Get("StatusCallback")
	rest, found := strings.CutPrefix(cb, testPublicURL+StatusPath+"?")
	if !found {
		t.Fatalf("StatusCallback %q", cb)
	}
	return StatusPath + "?" + rest
}

// TestStatusCallbacks: callbacks move a message forward only, whatever
// their order, and a replay changes nothing.
func TestStatusCallbacks(t *testing.T) {
	e := newEnv(t, envOptions{sms: map[string]string{SettingMessagesPerSecond: "100"}})
	if status, _ := e.post(MessagesPath, inboundForm(conversation.ChannelSMS, sid(1), "hola")); status != http.StatusOK {
		t.Fatal(status)
	}
	m := e.reply(e.sms, "Su pedido va en camino")
	m = e.waitStatus(m.ID, conversation.StatusSent)
	f := e.twilio.sentForms()[0]
	path := callbackPath(t, f)
	if path != fmt.Sprintf("%s?%s=%d", StatusPath, StatusParam, m.ID) || m.ProviderID == "" {
		t.Fatalf("callback %s, provider id %q", path, m.ProviderID)
	}

	steps := []struct {
		status string
		want   conversation.Status
	}{
		{"queued", conversation.StatusSent},
		{"delivered", conversation.StatusDelivered},
		{"sent", conversation.StatusDelivered}, // late: ignored
		{"delivered", conversation.StatusDelivered},
		{"read", conversation.StatusRead},
		{"failed", conversation.StatusRead}, // it reached the contact
		{"delivered", conversation.StatusRead},
	}
	for _, s := range steps {
		if code, body := e.post(path, statusForm(conversation.ChannelSMS, m.ProviderID, s.status, "")); code != http.StatusOK {
			t.Fatalf("%s: %d %s", s.status, code, body)
		}
		got, err := e.store.Message(t.Context(), e.tenant.ID, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != s.want || got.Failure != nil {
			t.Fatalf("after %s: %s %+v, want %s", s.status, got.Status, got.Failure, s.want)
		}
	}

	// Undelivered, with Twilio's error code: failed, saying why. The
	// callback without the message parameter finds it by its sid.
	m2 := e.reply(e.sms, "¿Recibió el paquete?")
	m2 = e.waitStatus(m2.ID, conversation.StatusSent)
	if code, _ := e.post(StatusPath, statusForm(conversation.ChannelSMS, m2.ProviderID, "undelivered", "30003")); code != http.StatusOK {
		t.Fatal(code)
	}
	m2 = e.waitStatus(m2.ID, conversation.StatusFailed)
	if m2.Failure == nil || m2.Failure.Code != "30003" || !strings.Contains(m2.Failure.Message, "unreachable") {
		t.Fatalf("failure %+v", m2.Failure)
	}

	// A callback about a message Conversa did not send: 200, logged.
	if code, _ := e.post(StatusPath, statusForm(conversation.ChannelSMS, sid(99), "delivered", "")); code != http.StatusOK {
		t.Fatalf("unknown message: %d", code)
	}
	if !strings.Contains(e.logs.String(), "status of an unknown message") {
		t.Fatalf("no log line:\n%s", e.logs)
	}
	// Another tenant's message id in the query finds nothing.
	if code, _ := e.post(StatusPath+"?message=999999", statusForm(conversation.ChannelSMS, sid(98), "delivered", "")); code != http.StatusOK {
		t.Fatalf("unknown message id: %d", code)
	}

	// Unsigned, malformed, or from an unknown sender: refused, unchanged.
	form := statusForm(conversation.ChannelSMS, m2.ProviderID, "delivered", "")
	if code, _ := e.post(path, form, "bad"); code != http.StatusForbidden {
		t.Fatalf("unsigned: %d", code)
	}
	bad := statusForm(conversation.ChannelSMS, "SM1", "delivered", "")
	if code, _ := e.post(StatusPath, bad); code != http.StatusBadRequest {
		t.Fatalf("malformed: %d", code)
	}
	other := statusForm(conversation.ChannelSMS, m2.ProviderID, "delivered", "")
	other.Set("From", "+15550001111")
	if code, _ := e.post(StatusPath, other); code != http.StatusNotFound {
		t.Fatalf("unknown sender: %d", code)
	}
	if got, _ := e.store.Message(t.Context(), e.tenant.ID, m2.ID); got.Status != conversation.StatusFailed {
		t.Fatalf("a refused callback changed the message: %s", got.Status)
	}
}

// TestStatusBeforeSendReturns: a callback that overtakes the answer to the
// send, before Conversa has recorded the message's sid, still lands,
// because the callback URL names the stored message.
func TestStatusBeforeSendReturns(t *testing.T) {
	e := newEnv(t, envOptions{})
	if status, _ := e.post(MessagesPath, inboundForm(conversation.ChannelWhatsApp, sid(1), "hola")); status != http.StatusOK {
		t.Fatal(status)
	}
	early := make(chan string, 1)
	e.twilio.beforeAnswer = func(f url.Values, msid string) {
		// What Twilio would post while the send's answer is on its way.
		cb := strings.TrimPrefix(f.Get("StatusCallback"), testPublicURL)
		form := statusForm(conversation.ChannelWhatsApp, msid, "delivered", "")
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+cb, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Twilio-Signature", sign(testAuthToken, testPublicURL+cb, form))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			early <- err.Error()
			return
		}
		res.Body.Close()
		early <- res.Status
	}
	m := e.reply(e.wa, "Ya lo reviso")
	if got := <-early; got != "200 OK" {
		t.Fatalf("early callback: %s", got)
	}
	m = e.waitMessage(m.ID, "the message delivered with its sid", func(m conversation.Message) bool {
		return m.Status == conversation.StatusDelivered && m.ProviderID != ""
	})
	e.idle()
	if got, _ := e.store.Message(t.Context(), e.tenant.ID, m.ID); got.Status != conversation.StatusDelivered {
		t.Fatalf("the send's own record moved the message back to %s", got.Status)
	}
}

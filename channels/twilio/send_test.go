package twilio

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"conversa/channels"
	"conversa/conversation"
	"conversa/storage/memory"
)

const (
	twilio500   = `{"code":20500,"message":"Internal Server Error","more_info":"https://www.twilio.com/docs/errors/20500","status":500}`
	twilio429   = `{"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}`
	twilio21211 = `{"code":21211,"message":"Invalid 'To' Phone Number","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`
)

// TestSendFailures: through the service's delivery jobs, a provider that
// fails temporarily is retried, and one that keeps failing, or refuses for
// good, leaves the message failed with the reason.
func TestSendFailures(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		respond func(n int) (int, string, string)
		hang    bool
		status  conversation.Status
		calls   int
		code    string
		reason  string
	}{
		{name: "500 then accepted", respond: func(n int) (int, string, string) {
			if n == 1 {
				return http.StatusInternalServerError, "oops", ""
			}
			return 0, "", ""
		}, status: conversation.StatusSent, calls: 2},
		{name: "500 every time", respond: func(int) (int, string, string) {
			return http.StatusInternalServerError, twilio500, ""
		}, status: conversation.StatusFailed, calls: conversation.DeliverMaxAttempts, code: "20500", reason: "Twilio answered HTTP 500"},
		{name: "502 without JSON every time", respond: func(int) (int, string, string) {
			return http.StatusBadGateway, "<html>bad gateway</html>", ""
		}, status: conversation.StatusFailed, calls: conversation.DeliverMaxAttempts, code: "http_502", reason: "HTTP 502"},
		{name: "timeout every time", cfg: Config{RequestTimeout: 50 * time.Millisecond}, hang: true,
			status: conversation.StatusFailed, calls: conversation.DeliverMaxAttempts, code: FailureTimeout, reason: "did not answer within 50ms"},
		{name: "429 then accepted", respond: func(n int) (int, string, string) {
			if n == 1 {
				return http.StatusTooManyRequests, twilio429, "1"
			}
			return 0, "", ""
		}, status: conversation.StatusSent, calls: 2},
		{name: "invalid number", respond: func(int) (int, string, string) {
			return http.StatusBadRequest, twilio21211, ""
		}, status: conversation.StatusFailed, calls: 1, code: "21211", reason: "Invalid 'To' Phone Number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{cfg: tt.cfg})
			e.twilio.respond, e.twilio.hang = tt.respond, tt.hang
			if status, _ := e.post(MessagesPath, inboundForm(conversation.ChannelWhatsApp, sid(1), "hola")); status != http.StatusOK {
				t.Fatal(status)
			}
			m := e.reply(e.wa, "Un momento, por favor")
			m = e.waitStatus(m.ID, tt.status)
			e.idle()
			if n := e.twilio.callCount(); n != tt.calls {
				t.Fatalf("Twilio was called %d times, want %d", n, tt.calls)
			}
			if tt.status == conversation.StatusFailed {
				if m.Failure == nil || m.Failure.Code != tt.code || !strings.Contains(m.Failure.Message, tt.reason) {
					t.Fatalf("failure %+v, want code %s and %q", m.Failure, tt.code, tt.reason)
				}
			} else if m.ProviderID == "" {
				t.Fatal("no provider id recorded")
			}
		})
	}
}

// delivery is a message to the customer through acct, within WhatsApp's
// window.
func delivery(acct conversation.ChannelAccount, parts ...conversation.Part) conversation.Delivery {
	return conversation.Delivery{
		Message:     conversation.Message{ID: 5, Parts: parts},
		Account:     acct,
		To:          conversation.Identity{Channel: acct.Kind, Address: customer},
		LastInbound: time.Now().Add(-time.Hour),
	}
}

// TestSendRateLimited: Twilio's 429 and its error 20429 become a retry
// after the wait Twilio asked for, never a failure.
func TestSendRateLimited(t *testing.T) {
	tests := []struct {
		name, retryAfter, body string
		status                 int
		want                   time.Duration
	}{
		{"Retry-After in seconds", "7", twilio429, http.StatusTooManyRequests, 7 * time.Second},
		{"Retry-After as a date", time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat), twilio429, http.StatusTooManyRequests, 85 * time.Second},
		{"no Retry-After", "", twilio429, http.StatusTooManyRequests, 3 * time.Second},
		{"20429 without a 429", "", `{"code":20429,"message":"Too Many Requests","status":400}`, http.StatusBadRequest, 3 * time.Second},
		{"429 without JSON", "2", "slow down", http.StatusTooManyRequests, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{cfg: Config{RetryAfter: 3 * time.Second}})
			e.twilio.respond = func(int) (int, string, string) { return tt.status, tt.body, tt.retryAfter }
			_, err := e.tw.WhatsApp().Send(t.Context(), delivery(e.wa, conversation.TextPart("hola")))
			de, isDelivery := errors.AsType[*conversation.DeliveryError](err)
			if !isDelivery || de.Permanent || de.RetryAfter < tt.want || de.RetryAfter > tt.want+5*time.Second {
				t.Fatalf("got %#v, want a retry after %s", err, tt.want)
			}
		})
	}
}

// TestSendPacing: a sender sends at its pace; a send that cannot wait for
// its turn is retried later, not dropped.
func TestSendPacing(t *testing.T) {
	e := newEnv(t, envOptions{sms: map[string]string{SettingMessagesPerSecond: "1"}})
	d := delivery(e.sms, conversation.TextPart("uno"))
	if _, err := e.tw.SMS().Send(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	// The next turn is a second away; this send may wait 100 ms.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := e.tw.SMS().Send(ctx, delivery(e.sms, conversation.TextPart("dos")))
	if de, isDelivery := errors.AsType[*conversation.DeliveryError](err); err == nil || (isDelivery && de.Permanent) {
		t.Fatalf("got %v, want a temporary error", err)
	}
	// Another sender is not held up.
	if _, err := e.tw.WhatsApp().Send(t.Context(), delivery(e.wa, conversation.TextPart("otro"))); err != nil {
		t.Fatal(err)
	}
	// Given time, it goes.
	if _, err := e.tw.SMS().Send(t.Context(), delivery(e.sms, conversation.TextPart("dos"))); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, f := range e.twilio.sentForms() {
		bodies = append(bodies, f.Get("Body"))
	}
	if strings.Join(bodies, ",") != "uno,otro,dos" {
		t.Fatalf("Twilio got %v", bodies)
	}
}

// TestSendContent: what each kind of part becomes in the Messages API.
func TestSendContent(t *testing.T) {
	e := newEnv(t, envOptions{
		sms:      map[string]string{SettingMessagesPerSecond: "1000"},
		whatsapp: map[string]string{SettingMessagingServiceSID: "MG0123456789abcdef0123456789abcdef"},
	})
	photo := conversation.Part{Type: conversation.PartMedia, Text: "Su factura", Media: &conversation.Media{ContentType: "image/png", URL: "https://files.example.com/f.png"}}
	pdf := conversation.Part{Type: conversation.PartMedia, Media: &conversation.Media{ContentType: "application/pdf", URL: "https://files.example.com/f.pdf"}}
	stored := conversation.Part{Type: conversation.PartMedia, Media: &conversation.Media{ContentType: "image/png", Key: "0123456789abcdef0123456789abcdef"}}

	t.Run("SMS with files", func(t *testing.T) {
		if _, err := e.tw.SMS().Send(t.Context(), delivery(e.sms, photo, pdf)); err != nil {
			t.Fatal(err)
		}
		f := e.twilio.sentForms()[len(e.twilio.sentForms())-1]
		if f.Get("Body") != "Su factura" || strings.Join(f["MediaUrl"], " ") != "https://files.example.com/f.png https://files.example.com/f.pdf" ||
			f.Get("From") != smsNumber || f.Has("MessagingServiceSid") {
			t.Fatalf("Twilio got %v", f)
		}
	})
	t.Run("WhatsApp through a Messaging Service", func(t *testing.T) {
		loc := conversation.Part{Type: conversation.PartLocation, Location: &conversation.Location{Latitude: 6.2442, Longitude: -75.5812, Name: "Oficina"}}
		card := conversation.Part{Type: conversation.PartContact, Contact: &conversation.ContactCard{Name: "Soporte", Phones: []string{"+5746040000"}}}
		if _, err := e.tw.WhatsApp().Send(t.Context(), delivery(e.wa, loc, card)); err != nil {
			t.Fatal(err)
		}
		f := e.twilio.sentForms()[len(e.twilio.sentForms())-1]
		if f.Get("Body") != "Oficina\ngeo:6.2442,-75.5812\n\nSoporte\n+5746040000" || f.Get("MessagingServiceSid") == "" || f.Has("From") {
			t.Fatalf("Twilio got %v", f)
		}
	})
	refused := []struct {
		name string
		kind conversation.ChannelKind
		part []conversation.Part
		want string
	}{
		{"a file of the media store, with no links", conversation.ChannelSMS, []conversation.Part{stored}, "public URL"},
		{"two files on WhatsApp", conversation.ChannelWhatsApp, []conversation.Part{photo, pdf}, "at most one file"},
		{"too long", conversation.ChannelSMS, []conversation.Part{conversation.TextPart(strings.Repeat("á", 1601))}, "1600"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			acct, ch := e.sms, e.tw.SMS()
			if tt.kind == conversation.ChannelWhatsApp {
				acct, ch = e.wa, e.tw.WhatsApp()
			}
			before := e.twilio.callCount()
			_, err := ch.Send(t.Context(), delivery(acct, tt.part...))
			de, isDelivery := errors.AsType[*conversation.DeliveryError](err)
			if !isDelivery || !de.Permanent || de.Code != FailureUnsupported || !strings.Contains(de.Message, tt.want) {
				t.Fatalf("got %v", err)
			}
			if e.twilio.callCount() != before {
				t.Fatal("Twilio was called")
			}
		})
	}
}

// TestSendStoredFile: a file of the media store (an agent's attachment)
// goes to Twilio as a signed link that Twilio can fetch, and serves the
// file's bytes.
func TestSendStoredFile(t *testing.T) {
	links := &channels.MediaLinks{Secret: []byte("0123456789abcdef0123456789abcdef")}
	e := newEnv(t, envOptions{cfg: Config{Links: links}, sms: map[string]string{SettingMessagesPerSecond: "1000"}})
	links.Store = e.media
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux := http.NewServeMux()
		links.Routes(mux)
		mux.ServeHTTP(w, r)
	}))
	defer files.Close()
	links.BaseURL = files.URL

	m, err := e.media.Put(t.Context(), e.tenant.ID, conversation.Media{ContentType: "application/pdf", Filename: "factura.pdf"}, strings.NewReader("%PDF-1.7"))
	if err != nil {
		t.Fatal(err)
	}
	d := delivery(e.sms, conversation.Part{Type: conversation.PartMedia, Text: "Su factura", Media: &m})
	d.Message.TenantID = e.tenant.ID
	if _, err := e.tw.SMS().Send(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	f := e.twilio.sentForms()[len(e.twilio.sentForms())-1]
	u := f.Get("MediaUrl")
	if !strings.HasPrefix(u, files.URL+channels.MediaPath) || f.Get("Body") != "Su factura" {
		t.Fatalf("Twilio got %v; want a link to the stored file", f)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "%PDF-1.7" {
		t.Fatalf("the link served %d %q", resp.StatusCode, b)
	}
}

// TestSendPacingAcrossNodes: with a limiter shared by the nodes, a send on
// one node takes the sender's turn for all of them, so a second node waits
// for the next one instead of sending at once.
func TestSendPacingAcrossNodes(t *testing.T) {
	shared := memory.New()
	e := newEnv(t, envOptions{cfg: Config{Limiter: shared}, sms: map[string]string{SettingMessagesPerSecond: "1"}})
	other, err := New(Config{PublicURL: testPublicURL, APIBaseURL: e.twilio.srv.URL, Limiter: shared}, e.svc, e.media)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tw.SMS().Send(t.Context(), delivery(e.sms, conversation.TextPart("uno"))); err != nil {
		t.Fatal(err)
	}
	// The other node has its own, unused, local pace: only the shared
	// window can hold it back, for longer than this send may wait.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := other.SMS().Send(ctx, delivery(e.sms, conversation.TextPart("dos"))); err == nil {
		t.Fatal("the second node sent within the same second")
	}
	if n := len(e.twilio.sentForms()); n != 1 {
		t.Fatalf("Twilio got %d messages; want 1", n)
	}
	// Given time, it goes.
	if _, err := other.SMS().Send(t.Context(), delivery(e.sms, conversation.TextPart("dos"))); err != nil {
		t.Fatal(err)
	}
	if n := len(e.twilio.sentForms()); n != 2 {
		t.Fatalf("Twilio got %d messages; want 2", n)
	}
}

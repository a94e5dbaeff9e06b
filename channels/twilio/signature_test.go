package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"testing"

	"github.com/twilio/twilio-go/client"
)

// TestValidSignatureAgreesWithTwilioGo: our check of X-Twilio-Signature
// accepts and refuses exactly what twilio-go's RequestValidator does, on
// Twilio's documented example and on random forms and URLs, with and
// without the default port.
func TestValidSignatureAgreesWithTwilioGo(t *testing.T) {
	// Twilio's documented example (Security, "Validating requests").
	const token = "12345"
	doc := url.Values{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+12349013030"}, "Digits": {"1234"},
		"From": {"+12349013030"}, "To": {"+18005551212"}}
	const docURL = "https://mycompany.com/myapp.php?foo=1&bar=2"
	const docSig = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
	if !validSignature(token, docURL, doc, docSig) {
		t.Fatal("Twilio's documented example is refused")
	}

	r := rand.New(rand.NewPCG(3, 4))
	urls := []string{"https://chat.example.com/channels/twilio/messages", "https://chat.example.com:443/channels/twilio/messages",
		"http://127.0.0.1:8080/channels/twilio/status?message=12", "http://chat.example.com/x", "https://chat.example.com:8443/x?a=1"}
	for i := range 300 {
		form := url.Values{}
		for j := range 1 + r.IntN(8) {
			form.Set("F"+strconv.Itoa(j*7%5)+strconv.Itoa(r.IntN(3)), strconv.Itoa(r.IntN(1000))+"é")
		}
		params := map[string]string{}
		for k, vs := range form {
			params[k] = vs[0]
		}
		signedAt, checkedAt := urls[r.IntN(len(urls))], urls[r.IntN(len(urls))]
		sig := twilioSign(token, signedAt, params)
		if r.IntN(4) == 0 {
			sig = twilioSign("other", signedAt, params)
		}
		v := client.NewRequestValidator(token)
		if want, got := v.Validate(checkedAt, params, sig), validSignature(token, checkedAt, form, sig); want != got {
			t.Fatalf("case %d: signed at %s, checked at %s: twilio-go says %v, we say %v", i, signedAt, checkedAt, want, got)
		}
	}
	if validSignature(token, docURL, doc, "not base64!") || validSignature(token, docURL, doc, "") {
		t.Fatal("a malformed signature is accepted")
	}
}

// twilioSign signs as Twilio's documentation describes, written out here
// independently of the code under test.
func twilioSign(token, u string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data := u
	for _, k := range keys {
		data += k + params[k]
	}
	mac := hmac.New(sha1.New, []byte(token))
	mac.Write([]byte(data))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

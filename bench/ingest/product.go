package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"conversa/bench"
)

// tenantFile is the tenant conversa is set up with, by "conversa apply": one
// api channel. Its replies would go to the webhook, but the node runs no
// workers, so none is ever sent.
const tenantFile = `tenant:
  slug: bench
  name: Bench
  language: es
  region: CO
  time_zone: America/Bogota
channels:
  - kind: api
    key: bench-api
    name: Bench API
    settings:
      webhook_url: https://example.com/hook
      webhook_secret: bench-webhook-secret-0123456789
  - kind: sms
    key: "` + twilioNumber + `"
    name: Bench SMS
    settings:
      account_sid: ` + twilioAccount + `
      auth_token: ` + twilioToken + `
`

// The Twilio account of the SMS channel: the webhooks are signed with its
// token, as Twilio signs them.
const (
	twilioNumber  = "+15005550006"
	twilioAccount = "AC0123456789abcdef0123456789abcdef"
	twilioToken   = "bench0123456789abcdef0123456789a"
)

// twilioSender makes the webhook requests Twilio makes for incoming SMS.
type twilioSender struct{}

// request returns the signed webhook of the SMS contact from sends, with
// the unique MessageSid of id: the form Twilio posts, fields in its order,
// and X-Twilio-Signature, the HMAC-SHA1 of the URL and the sorted fields
// with the account's auth token.
func (twilioSender) request(ctx context.Context, u string, from int, id int64) (*http.Request, error) {
	sid := fmt.Sprintf("SM%032x", id)
	phone := fmt.Sprintf("+57300%07d", from)
	form := url.Values{
		"ToCountry": {"US"}, "ToState": {"CA"}, "SmsMessageSid": {sid}, "NumMedia": {"0"}, "ToCity": {""},
		"FromZip": {""}, "SmsSid": {sid}, "FromState": {""}, "SmsStatus": {"received"}, "FromCity": {""},
		"Body": {messageText}, "FromCountry": {"CO"}, "To": {twilioNumber}, "ToZip": {""}, "NumSegments": {"1"},
		"MessageSid": {sid}, "AccountSid": {twilioAccount}, "From": {phone}, "ApiVersion": {"2010-04-01"},
	}
	keys := slices.Sorted(maps.Keys(form))
	mac := hmac.New(sha1.New, []byte(twilioToken))
	mac.Write([]byte(u))
	for _, k := range keys {
		mac.Write([]byte(k))
		mac.Write([]byte(form.Get(k)))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	return req, nil
}

// twilioTarget is the Twilio webhook of a started node.
func twilioTarget(node *bench.Node, concurrency int) *target {
	return &target{name: nameTwilio, url: node.URL + "/channels/twilio/messages", pid: node.Pid(), client: newClient(concurrency), twilio: &twilioSender{}}
}

// serveArgs returns the command line of every measured node, with the
// store's flags: loopback on a free port, no job workers (only the ingest
// path runs), quiet logs, and an API rate limit the load cannot reach.
func serveArgs(storeArgs []string) []string {
	return append([]string{
		"serve", "--addr", "127.0.0.1:0", "--workers", "0", "--log-level", "warn",
		"--api-requests-per-minute", "100000000", "--shutdown-timeout", "10s",
	}, storeArgs...)
}

// startProduct sets a store up with conversa's own commands (migrate on
// PostgreSQL, apply the tenant file, create an API key) and starts
// "conversa serve" on it. storeArgs select the store (--database-url or
// --data-dir). The caller stops the node.
func startProduct(ctx context.Context, bin, dir, name string, storeArgs []string, postgres bool, concurrency int) (*bench.Node, *target, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	file := filepath.Join(dir, "tenant.yaml")
	if err := os.WriteFile(file, []byte(tenantFile), 0o644); err != nil {
		return nil, nil, err
	}
	if postgres {
		if _, err := bench.Command(ctx, bin, append([]string{"migrate"}, storeArgs...)...); err != nil {
			return nil, nil, err
		}
	}
	if _, err := bench.Command(ctx, bin, append([]string{"apply", "-f", file}, storeArgs...)...); err != nil {
		return nil, nil, err
	}
	out, err := bench.Command(ctx, bin, append([]string{"apikey", "create", "--tenant", "bench", "--name", "bench"}, storeArgs...)...)
	if err != nil {
		return nil, nil, err
	}
	key := strings.TrimSpace(out)
	node, err := bench.Start(ctx, bin, serveArgs(storeArgs)...)
	if err != nil {
		return nil, nil, err
	}
	t := &target{name: name, url: node.URL + "/api/v1/inbound", apiKey: key, pid: node.Pid(), client: newClient(concurrency)}
	if t.channelID, err = channelID(ctx, t.client, node.URL, key, "bench-api"); err != nil {
		return nil, nil, errors.Join(err, node.Stop())
	}
	return node, t, nil
}

// channelID finds the id of the channel account with the given key through
// GET /api/v1/channels.
func channelID(ctx context.Context, client *http.Client, baseURL, apiKey, key string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/api/v1/channels", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("list channels: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("list channels: %s", resp.Status)
	}
	var page struct {
		Data []struct {
			ID  int64  `json:"id"`
			Key string `json:"key"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return 0, fmt.Errorf("list channels: %w", err)
	}
	for _, c := range page.Data {
		if c.Key == key {
			return c.ID, nil
		}
	}
	return 0, fmt.Errorf("list channels: no channel %q", key)
}

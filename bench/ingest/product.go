package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
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
`

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

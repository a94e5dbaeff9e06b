package main

import (
	"context"
	_ "embed"
	"fmt"

	"conversa/adapters/api"
	"conversa/channels"
	"conversa/conversation"
)

//go:embed demo.yaml
var demoFile []byte

const demoChannel = "demo-web"

// demoInfo is what the start-up banner tells about the demo tenant.
type demoInfo struct {
	tenant, channel string
	// apiKey is set only when the tenant was created by this start, the one
	// time its key can be shown.
	apiKey string
}

// seedDemo applies the demo tenant file, which does nothing when it is
// already in place, and gives a new demo tenant an API key.
func seedDemo(ctx context.Context, store conversation.Store, reg *channels.Registry) (*demoInfo, error) {
	f, err := parseTenantFile(demoFile)
	if err != nil {
		return nil, fmt.Errorf("demo tenant: %w", err)
	}
	p, err := planApply(ctx, store, reg, f)
	if err != nil {
		return nil, fmt.Errorf("demo tenant: %w", err)
	}
	if err := p.execute(ctx, store); err != nil {
		return nil, fmt.Errorf("demo tenant: %w", err)
	}
	info := &demoInfo{tenant: p.tenant.Slug, channel: demoChannel}
	if p.create {
		key, rec := api.NewKey(p.tenant.ID, "demo")
		if _, err := store.CreateAPIKey(ctx, rec); err != nil {
			return nil, fmt.Errorf("demo API key: %w", err)
		}
		info.apiKey = key
	}
	return info, nil
}

package main

import (
	"context"
	_ "embed"
	"fmt"

	"conversa/adapters/api"
	"conversa/bot"
	"conversa/channels"
	"conversa/examples"
	"conversa/handoff"
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
	// password is this start's password of the demo console logins.
	password string
}

// demoBot is the example bot the demo tenant runs.
const demoBot = "servicios"

// seedDemo applies the demo tenant file, which does nothing when it is
// already in place, gives a new demo tenant an API key, and trains and
// activates the example bot when the tenant has no bot yet.
func seedDemo(ctx context.Context, store durableStore, bots *bot.Engine, reg *channels.Registry, router *handoff.Router) (*demoInfo, error) {
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
	// One queue, so that the bot's handoffs wait for an agent in it.
	if queues, err := store.ListQueues(ctx, p.tenant.ID); err != nil {
		return nil, fmt.Errorf("demo queue: %w", err)
	} else if len(queues) == 0 {
		if _, err := router.CreateQueue(ctx, handoff.Queue{TenantID: p.tenant.ID, Name: "General", Strategy: handoff.StrategyLongestIdle}); err != nil {
			return nil, fmt.Errorf("demo queue: %w", err)
		}
	}
	if info.password, err = seedDemoAgents(ctx, store, router, p.tenant.ID); err != nil {
		return nil, err
	}
	_, active, err := bots.Bot(ctx, p.tenant)
	if err != nil {
		return nil, fmt.Errorf("demo bot: %w", err)
	}
	if active == 0 {
		src, err := examples.Bot(demoBot)
		if err != nil {
			return nil, fmt.Errorf("demo bot: %w", err)
		}
		v, _, err := bots.Train(ctx, p.tenant, src, "the example bot "+demoBot)
		if err != nil {
			return nil, fmt.Errorf("demo bot: %w", err)
		}
		if err := bots.Activate(ctx, p.tenant, v.Number); err != nil {
			return nil, fmt.Errorf("demo bot: %w", err)
		}
	}
	return info, nil
}

package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"

	"conversa/handoff"
)

// demoAgents are the demo tenant's console logins.
var demoAgents = []handoff.Agent{
	{Name: "Alba Admin", Email: "admin@example.com", Role: handoff.RoleAdmin, Capacity: 5},
	{Name: "Ana Agente", Email: "agente@example.com", Role: handoff.RoleAgent, Capacity: 3},
}

// seedDemoAgents makes sure the demo tenant has its admin and agent, and
// gives both a new random password, printed at start: the demo's data
// stays, its password is this start's.
func seedDemoAgents(ctx context.Context, store durableStore, router *handoff.Router, tenantID int64) (string, error) {
	agents, err := store.ListAgents(ctx, tenantID)
	if err != nil {
		return "", err
	}
	password := rand.Text()[:16]
	hash, err := handoff.HashPassword(password)
	if err != nil {
		return "", err
	}
	for _, want := range demoAgents {
		var a handoff.Agent
		found := false
		for _, got := range agents {
			if got.Email == want.Email {
				a, found = got, true
			}
		}
		if !found {
			want.TenantID = tenantID
			if a, err = router.CreateAgent(ctx, want); err != nil {
				return "", fmt.Errorf("demo agent: %w", err)
			}
		}
		if err := store.SetPassword(ctx, tenantID, a.ID, hash); err != nil {
			return "", fmt.Errorf("demo agent: %w", err)
		}
	}
	return password, nil
}

// printConsole tells where the console is and the demo's logins.
func printConsole(w io.Writer, base string, demo *demoInfo) {
	fmt.Fprintf(w, "  Agent console   %s/console/\n", base)
	if demo != nil && demo.password != "" {
		for _, a := range demoAgents {
			fmt.Fprintf(w, "                  %-10s %s  password %s\n", a.Role, a.Email, demo.password)
		}
	}
}

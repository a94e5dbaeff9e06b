package console_test

import (
	"testing"
	"time"

	"conversa/adapters/console"
	"conversa/handoff"
)

// TestSessionSweep: a running console deletes the sessions that have
// expired from the store and keeps the live ones.
func TestSessionSweep(t *testing.T) {
	e := newEnv(t, console.Config{SessionSweep: 20 * time.Millisecond})
	a := e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)
	ctx := t.Context()
	now := time.Now()
	_, expired, err := handoff.NewSession(e.tenant.ID, a.ID, now.Add(-2*time.Hour), time.Hour)
	must(t, err)
	live, s, err := handoff.NewSession(e.tenant.ID, a.ID, now, time.Hour)
	must(t, err)
	must(t, e.store.CreateAgentSession(ctx, expired))
	must(t, e.store.CreateAgentSession(ctx, s))
	// The sweep runs every 20 ms; after a second it has run many times.
	// Had it not, this call would delete the expired session itself.
	time.Sleep(time.Second)
	n, err := e.store.DeleteExpiredAgentSessions(ctx, time.Now())
	must(t, err)
	if n != 0 {
		t.Errorf("%d expired sessions left after the sweeps, want 0", n)
	}
	if _, err := e.store.AgentSession(ctx, handoff.HashToken(live), time.Now()); err != nil {
		t.Errorf("the live session: %v", err)
	}
}

package console_test

import (
	"testing"
	"time"

	"conversa/adapters/console"
	"conversa/handoff"
)

// TestClosedConsoleGoesOffline: an agent whose last console closes goes
// offline within seconds, not at the router's sweep; while another of their
// consoles is open, or the page that closed is followed by the next one,
// they stay available.
func TestClosedConsoleGoesOffline(t *testing.T) {
	// Long enough for the next page's socket to open in time on a loaded
	// machine (the whole suite under -race on two cores).
	const touch = 500 * time.Millisecond
	e := newEnv(t, console.Config{TouchInterval: touch})
	ctx := t.Context()
	ana := e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)
	_, err := e.router.SetStatus(ctx, e.tenant.ID, ana.ID, handoff.StatusAvailable)
	must(t, err)
	a := e.session(t, ana)
	status := func() handoff.AgentStatus {
		t.Helper()
		got, err := e.store.Agent(ctx, ana.TenantID, ana.ID)
		must(t, err)
		return got.Status
	}

	first, _, err := dial(t, a, e.srv.URL, a.csrf)
	must(t, err)
	next(t, first, "hello")
	second, _, err := dial(t, a, e.srv.URL, a.csrf)
	must(t, err)
	next(t, second, "hello")

	// One of two tabs closes: the other keeps the agent there.
	first.CloseNow()
	time.Sleep(4 * touch)
	if s := status(); s != handoff.StatusAvailable {
		t.Fatalf("with a console still open the agent is %s, want available", s)
	}

	// The next page of the same console opens right after the last closes.
	second.CloseNow()
	time.Sleep(touch / 4)
	third, _, err := dial(t, a, e.srv.URL, a.csrf)
	must(t, err)
	next(t, third, "hello")
	time.Sleep(4 * touch)
	if s := status(); s != handoff.StatusAvailable {
		t.Fatalf("after the console's next page opened the agent is %s, want available", s)
	}

	// The last console closes: offline after a touch interval and a half.
	third.CloseNow()
	deadline := time.Now().Add(10 * time.Second)
	for status() != handoff.StatusOffline {
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the last console closed the agent is %s, want offline", status())
		}
		time.Sleep(touch / 4)
	}
}

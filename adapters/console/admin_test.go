package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"conversa/adapters/console"
	"conversa/handoff"
)

// TestAdminCreatesAgent: an admin creates an agent with a password through
// the form, who then logs in; a weak password creates nothing.
func TestAdminCreatesAgent(t *testing.T) {
	e := newEnv(t, console.Config{})
	admin := e.agent(t, e.tenant, "Alba Admin", handoff.RoleAdmin)
	b := e.session(t, admin)
	form := url.Values{"name": {"Nico Nuevo"}, "email": {"nico@example.com"}, "role": {"agent"}, "skills": {"billing, EN"}, "capacity": {"2"}, "password": {"short"}}
	if resp := b.post(t, "/console/admin/agents", form, true); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("weak password: %d", resp.StatusCode)
	}
	agents, err := e.store.ListAgents(t.Context(), e.tenant.ID)
	must(t, err)
	if len(agents) != 1 {
		t.Fatalf("a refused form left %d agents", len(agents))
	}
	form.Set("password", "a long enough password")
	if resp := b.post(t, "/console/admin/agents", form, true); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create agent: %d", resp.StatusCode)
	}
	agents, err = e.store.ListAgents(t.Context(), e.tenant.ID)
	must(t, err)
	nico := agents[len(agents)-1]
	if nico.Name != "Nico Nuevo" || nico.Capacity != 2 || strings.Join(nico.Skills, ",") != "billing,en" || nico.Role != handoff.RoleAgent {
		t.Fatalf("created %+v", nico)
	}
	n := e.browser(t)
	if resp := n.login(t, "nico@example.com", "a long enough password"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the new agent's login: %d", resp.StatusCode)
	}
	// An admin may not take away their own admin role.
	self := url.Values{"name": {admin.Name}, "email": {admin.Email}, "role": {"agent"}, "capacity": {"3"}}
	if resp := b.post(t, "/console/admin/agents/"+id(admin.ID), self, true); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("demoting oneself: %d", resp.StatusCode)
	}
	// Another tenant's agent is not found.
	rival := e.agent(t, e.other, "Rolo Rival", handoff.RoleAgent)
	if resp := b.post(t, "/console/admin/agents/"+id(rival.ID), url.Values{"name": {"x"}, "capacity": {"1"}}, true); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another tenant's agent: %d", resp.StatusCode)
	}
}

// TestCannedAndReassign: the reply box offers the tenant's canned responses
// with the contact's values; a supervisor reassigns from the live view.
func TestCannedAndReassign(t *testing.T) {
	e := newEnv(t, console.Config{})
	ctx := t.Context()
	q := e.queue(t, e.tenant, "General")
	ana := e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)
	beto := e.agent(t, e.tenant, "Beto Agent", handoff.RoleAgent)
	sara := e.agent(t, e.tenant, "Sara Super", handoff.RoleSupervisor)
	for _, a := range []handoff.Agent{ana, beto} {
		_, err := e.router.SetStatus(ctx, e.tenant.ID, a.ID, handoff.StatusAvailable)
		must(t, err)
	}
	_, err := e.store.CreateCanned(ctx, handoff.Canned{TenantID: e.tenant.ID, Code: "/saludo", Title: "Saludo", Body: "Hola {{contact.first_name}}, soy {{agent.first_name}}"})
	must(t, err)
	conv := e.conversation(t, e.tenant, "Carla Gómez", "hola")
	_, err = e.router.Enqueue(ctx, e.tenant.ID, conv.ID, handoff.QueueRequest{QueueID: q.ID})
	must(t, err)
	_, err = e.router.Pick(ctx, e.tenant.ID, ana.ID, conv.ID)
	must(t, err)
	_, page := e.session(t, ana).get(t, "/console/conversations/"+id(conv.ID))
	if !strings.Contains(page, `data-shortcut="saludo" data-text="Hola Carla, soy Ana"`) {
		t.Fatalf("the canned response is not offered with its values")
	}

	s := e.session(t, sara)
	_, live := s.get(t, "/console/supervisor")
	if !strings.Contains(live, "Carla Gómez") || !strings.Contains(live, "api: <b>1</b>") {
		t.Fatalf("the live view lacks the conversation in progress by channel")
	}
	if resp := s.post(t, "/console/conversations/"+id(conv.ID)+"/transfer", url.Values{"agent": {id(beto.ID)}, "back": {"supervisor"}}, true); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/supervisor" {
		t.Fatalf("reassign: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	en, err := e.store.Entry(ctx, e.tenant.ID, conv.ID)
	must(t, err)
	if en.AgentID != beto.ID || en.State != handoff.EntryAssigned {
		t.Fatalf("after reassigning: %+v", en)
	}
}

// TestStaleOfferRefused: an offer that expired and went back to the queue
// cannot be accepted from an old page.
func TestStaleOfferRefused(t *testing.T) {
	e := newEnv(t, console.Config{})
	ctx := t.Context()
	q, err := e.router.CreateQueue(ctx, handoff.Queue{TenantID: e.tenant.ID, Name: "General"})
	must(t, err)
	ana := e.agent(t, e.tenant, "Ana Agent", handoff.RoleAgent)
	_, err = e.router.SetStatus(ctx, e.tenant.ID, ana.ID, handoff.StatusAvailable)
	must(t, err)
	conv := e.conversation(t, e.tenant, "Carla", "hola")
	offered, err := e.router.Enqueue(ctx, e.tenant.ID, conv.ID, handoff.QueueRequest{QueueID: q.ID})
	must(t, err)
	if offered.State != handoff.EntryOffered || offered.AgentID != ana.ID {
		t.Fatalf("not offered to Ana: %+v", offered)
	}
	// Ana goes away: her offer returns to the queue.
	_, err = e.router.SetStatus(ctx, e.tenant.ID, ana.ID, handoff.StatusAway)
	must(t, err)
	a := e.session(t, ana)
	if resp := a.post(t, "/console/conversations/"+id(conv.ID)+"/accept", url.Values{"offer": {id(offered.Version)}}, true); resp.StatusCode != http.StatusConflict {
		t.Fatalf("accepting a stale offer: %d, want 409", resp.StatusCode)
	}
}

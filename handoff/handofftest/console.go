package handofftest

import (
	"slices"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// TestConsoleStore runs the handoff.ConsoleStore contract: passwords and
// logins, sessions, notes and canned responses. newStore returns an empty
// database of its own for every subtest: the conversation.Store that holds
// its tenants and conversations, the handoff.RoutingStore that holds its
// agents, and the handoff.ConsoleStore under test (usually one value); the
// subtests run in parallel.
func TestConsoleStore(t *testing.T, newStore func(t *testing.T) (conversation.Store, handoff.RoutingStore, handoff.ConsoleStore)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, cs conversation.Store, rs handoff.RoutingStore, s handoff.ConsoleStore)
	}{
		{"PasswordsAndLogins", testLogins},
		{"Sessions", testSessions},
		{"Notes", testNotes},
		{"Canned", testCanned},
		{"ConsoleTenantIsolation", testConsoleIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cs, rs, s := newStore(t)
			tt.fn(t, cs, rs, s)
		})
	}
}

func testLogins(t *testing.T, cs conversation.Store, rs handoff.RoutingStore, s handoff.ConsoleStore) {
	ctx := t.Context()
	a, b := tenant(t, cs, "alpha"), tenant(t, cs, "beta")
	ana := agent(t, rs, a, "ana", 2)
	anaB := agent(t, rs, b, "ana", 1)
	agent(t, rs, a, "luis", 1)

	hash, err := handoff.HashPassword("correct horse battery")
	must(t, err)
	must(t, s.SetPassword(ctx, a, ana.ID, hash))
	logins, err := s.Logins(ctx, "  ANA@example.com ")
	must(t, err)
	if len(logins) != 2 || logins[0].Agent.ID != ana.ID || logins[1].Agent.ID != anaB.ID {
		t.Fatalf("Logins = %+v, want ana of both tenants", logins)
	}
	if logins[0].Agent.Name != "ana" || logins[0].Agent.TenantID != a || logins[1].Agent.TenantID != b {
		t.Fatalf("Logins agents = %+v", logins)
	}
	if logins[0].PasswordHash != hash || logins[1].PasswordHash != "" {
		t.Fatalf("Logins hashes = %q, %q", logins[0].PasswordHash, logins[1].PasswordHash)
	}
	if !handoff.CheckPassword(logins[0].PasswordHash, "correct horse battery") || handoff.CheckPassword(logins[1].PasswordHash, "correct horse battery") {
		t.Fatal("the stored hash does not check as it should")
	}
	if got, err := s.Logins(ctx, "nobody@example.com"); err != nil || len(got) != 0 {
		t.Fatalf("Logins of an unknown email = %+v, %v", got, err)
	}
	if got, err := s.Logins(ctx, ""); err != nil || len(got) != 0 {
		t.Fatalf("Logins of no email = %+v, %v", got, err)
	}
	// Removing the password leaves nothing to log in with.
	must(t, s.SetPassword(ctx, a, ana.ID, ""))
	logins, err = s.Logins(ctx, "ana@example.com")
	must(t, err)
	if logins[0].PasswordHash != "" {
		t.Fatalf("after removing the password: %q", logins[0].PasswordHash)
	}
	wantNotFound(t, s.SetPassword(ctx, a, 999999, hash), "SetPassword of a missing agent")
}

func testSessions(t *testing.T, cs conversation.Store, rs handoff.RoutingStore, s handoff.ConsoleStore) {
	ctx := t.Context()
	a := tenant(t, cs, "alpha")
	ana, luis := agent(t, rs, a, "ana", 1), agent(t, rs, a, "luis", 1)
	at := time.Date(2026, time.March, 9, 15, 0, 0, 123456789, time.UTC)

	token, ses, err := handoff.NewSession(a, ana.ID, at, time.Hour)
	must(t, err)
	if len(token) != 43 || ses.TokenHash != handoff.HashToken(token) || ses.TokenHash == token || len(ses.CSRF) < 40 {
		t.Fatalf("NewSession = %q, %+v", token, ses)
	}
	must(t, s.CreateAgentSession(ctx, ses))
	wantConflict(t, s.CreateAgentSession(ctx, ses), "CreateAgentSession of a taken token")

	got, err := s.AgentSession(ctx, handoff.HashToken(token), at.Add(time.Minute))
	must(t, err)
	if got.TenantID != a || got.AgentID != ana.ID || got.CSRF != ses.CSRF || got.TokenHash != ses.TokenHash ||
		!got.CreatedAt.Equal(micro(at)) || !got.SeenAt.Equal(micro(at)) || !got.ExpiresAt.Equal(micro(at).Add(time.Hour)) {
		t.Fatalf("AgentSession = %+v, want %+v", got, ses)
	}
	_, err = s.AgentSession(ctx, token, at)
	wantNotFound(t, err, "AgentSession by the token itself rather than its hash")
	_, err = s.AgentSession(ctx, ses.TokenHash, at.Add(time.Hour))
	wantNotFound(t, err, "AgentSession at its expiry")

	// Touching slides the expiry.
	must(t, s.TouchAgentSession(ctx, ses.TokenHash, at.Add(50*time.Minute), at.Add(110*time.Minute)))
	got, err = s.AgentSession(ctx, ses.TokenHash, at.Add(100*time.Minute))
	must(t, err)
	if !got.SeenAt.Equal(micro(at).Add(50*time.Minute)) || !got.ExpiresAt.Equal(micro(at).Add(110*time.Minute)) {
		t.Fatalf("after touching: %+v", got)
	}
	wantNotFound(t, s.TouchAgentSession(ctx, ses.TokenHash, at.Add(2*time.Hour), at.Add(3*time.Hour)), "TouchAgentSession of an expired session")
	wantNotFound(t, s.TouchAgentSession(ctx, "missing", at, at.Add(time.Hour)), "TouchAgentSession of a missing session")

	// An agent's sessions end together but for the one kept.
	var hashes []string
	for range 3 {
		_, ss, err := handoff.NewSession(a, luis.ID, at, time.Hour)
		must(t, err)
		must(t, s.CreateAgentSession(ctx, ss))
		hashes = append(hashes, ss.TokenHash)
	}
	n, err := s.DeleteAgentSessions(ctx, a, luis.ID, hashes[0])
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteAgentSessions ended %d, want 2", n)
	}
	_, err = s.AgentSession(ctx, hashes[0], at)
	must(t, err)
	_, err = s.AgentSession(ctx, hashes[1], at)
	wantNotFound(t, err, "a deleted session")
	must(t, s.DeleteAgentSession(ctx, hashes[0]))
	must(t, s.DeleteAgentSession(ctx, hashes[0]))
	_, err = s.AgentSession(ctx, hashes[0], at)
	wantNotFound(t, err, "a logged out session")
	// Ana's session, expired at 110 minutes, is swept; a fresh one stays.
	_, fresh, err := handoff.NewSession(a, ana.ID, at.Add(2*time.Hour), time.Hour)
	must(t, err)
	must(t, s.CreateAgentSession(ctx, fresh))
	n, err = s.DeleteExpiredAgentSessions(ctx, at.Add(2*time.Hour))
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredAgentSessions removed %d, want 1", n)
	}
	_, err = s.AgentSession(ctx, fresh.TokenHash, at.Add(2*time.Hour))
	must(t, err)

	_, bad, err := handoff.NewSession(a, 999999, at, time.Hour)
	must(t, err)
	wantNotFound(t, s.CreateAgentSession(ctx, bad), "CreateAgentSession of a missing agent")
}

func testNotes(t *testing.T, cs conversation.Store, rs handoff.RoutingStore, s handoff.ConsoleStore) {
	ctx := t.Context()
	f := newFixture(t, cs, "alpha")
	ana := agent(t, rs, f.tenant.ID, "ana", 1)
	luis := agent(t, rs, f.tenant.ID, "luis", 1)
	at := time.Date(2026, time.March, 9, 15, 0, 0, 123456789, time.UTC)

	n1 := handoff.Note{TenantID: f.tenant.ID, ConversationID: f.conv.ID, AgentID: ana.ID, Body: "  Cliente VIP, <b>cuidado</b>  ", CreatedAt: at}
	must(t, n1.Validate())
	got, err := s.CreateNote(ctx, n1)
	must(t, err)
	if got.ID == 0 || got.AgentName != "ana" || got.Body != "Cliente VIP, <b>cuidado</b>" || !got.CreatedAt.Equal(micro(at)) ||
		got.TenantID != f.tenant.ID || got.ConversationID != f.conv.ID || got.AgentID != ana.ID {
		t.Fatalf("CreateNote = %+v", got)
	}
	n2 := handoff.Note{TenantID: f.tenant.ID, ConversationID: f.conv.ID, AgentID: luis.ID, Body: "Ya le devolví el dinero"}
	must(t, n2.Validate())
	got2, err := s.CreateNote(ctx, n2)
	must(t, err)
	if got2.CreatedAt.IsZero() || got2.ID <= got.ID {
		t.Fatalf("CreateNote without a time = %+v", got2)
	}
	notes, err := s.Notes(ctx, f.tenant.ID, f.conv.ID)
	must(t, err)
	if len(notes) != 2 || notes[0] != got || notes[1].ID != got2.ID || notes[1].AgentName != "luis" {
		t.Fatalf("Notes = %+v", notes)
	}
	_, err = s.CreateNote(ctx, handoff.Note{TenantID: f.tenant.ID, ConversationID: 999999, AgentID: ana.ID, Body: "x"})
	wantNotFound(t, err, "CreateNote on a missing conversation")
	_, err = s.CreateNote(ctx, handoff.Note{TenantID: f.tenant.ID, ConversationID: f.conv.ID, AgentID: 999999, Body: "x"})
	wantNotFound(t, err, "CreateNote by a missing agent")
	if none, err := s.Notes(ctx, f.tenant.ID, 999999); err != nil || len(none) != 0 {
		t.Fatalf("Notes of a missing conversation = %+v, %v", none, err)
	}
}

func canned(t *testing.T, s handoff.CannedStore, tenantID int64, code, body string) handoff.Canned {
	t.Helper()
	c := handoff.Canned{TenantID: tenantID, Code: code, Title: "Title " + code, Body: body}
	must(t, c.Validate())
	c, err := s.CreateCanned(t.Context(), c)
	must(t, err)
	return c
}

func cannedCodes(cs []handoff.Canned) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Code
	}
	return out
}

func testCanned(t *testing.T, cs conversation.Store, _ handoff.RoutingStore, s handoff.ConsoleStore) {
	ctx := t.Context()
	a := tenant(t, cs, "alpha")
	saldo := canned(t, s, a, "/saldo", "Hola {{contact.name}}, tu saldo está en la app.")
	if saldo.ID == 0 || saldo.TenantID != a || saldo.Code != "/saldo" || saldo.Title != "Title /saldo" || saldo.CreatedAt.IsZero() {
		t.Fatalf("CreateCanned = %+v", saldo)
	}
	canned(t, s, a, "saludo", "Hola, soy {{agent.name}}")
	canned(t, s, a, "/sa_", "Literal underscore")
	canned(t, s, a, "/envio", "Tu pedido va en camino")
	dup := handoff.Canned{TenantID: a, Code: "/saldo", Title: "x", Body: "y"}
	_, err := s.CreateCanned(ctx, dup)
	wantConflict(t, err, "CreateCanned of a taken code")

	for _, tt := range []struct {
		prefix string
		limit  int
		want   []string
	}{
		{"", 0, []string{"/envio", "/sa_", "/saldo", "/saludo"}},
		{"/sa", 0, []string{"/sa_", "/saldo", "/saludo"}},
		{"/sal", 0, []string{"/saldo", "/saludo"}},
		{"/sa_", 0, []string{"/sa_"}}, // "_" is no pattern
		{"/s%", 0, []string{}},
		{"/", 2, []string{"/envio", "/sa_"}},
		{"/saldos", 0, []string{}},
	} {
		got, err := s.ListCanned(ctx, a, tt.prefix, tt.limit)
		must(t, err)
		if !slices.Equal(cannedCodes(got), tt.want) {
			t.Errorf("ListCanned(%q, %d) = %v, want %v", tt.prefix, tt.limit, cannedCodes(got), tt.want)
		}
	}

	saldo.Code, saldo.Body = "/balance", "Your balance is in the app, {{contact.first_name}}."
	upd, err := s.UpdateCanned(ctx, saldo)
	must(t, err)
	if upd.Code != "/balance" || upd.Body != saldo.Body || upd.ID != saldo.ID || !upd.CreatedAt.Equal(saldo.CreatedAt) {
		t.Fatalf("UpdateCanned = %+v", upd)
	}
	got, err := s.Canned(ctx, a, saldo.ID)
	must(t, err)
	if got != upd {
		t.Fatalf("Canned = %+v, want %+v", got, upd)
	}
	upd.Code = "/envio"
	_, err = s.UpdateCanned(ctx, upd)
	wantConflict(t, err, "UpdateCanned to a taken code")

	must(t, s.DeleteCanned(ctx, a, saldo.ID))
	wantNotFound(t, s.DeleteCanned(ctx, a, saldo.ID), "DeleteCanned twice")
	_, err = s.Canned(ctx, a, saldo.ID)
	wantNotFound(t, err, "a deleted canned response")
	_, err = s.CreateCanned(ctx, handoff.Canned{TenantID: 999999, Code: "/x", Title: "x", Body: "x"})
	wantNotFound(t, err, "CreateCanned of a missing tenant")
}

func testConsoleIsolation(t *testing.T, cs conversation.Store, rs handoff.RoutingStore, s handoff.ConsoleStore) {
	ctx := t.Context()
	fa, fb := newFixture(t, cs, "alpha"), newFixture(t, cs, "beta")
	a, b := fa.tenant.ID, fb.tenant.ID
	anaA, anaB := agent(t, rs, a, "ana", 1), agent(t, rs, b, "bea", 1)
	hash, err := handoff.HashPassword("correct horse battery")
	must(t, err)

	wantNotFound(t, s.SetPassword(ctx, b, anaA.ID, hash), "SetPassword of another tenant's agent")
	_, ses, err := handoff.NewSession(b, anaA.ID, time.Now(), time.Hour)
	must(t, err)
	wantNotFound(t, s.CreateAgentSession(ctx, ses), "CreateAgentSession for another tenant's agent")
	_, ses, err = handoff.NewSession(a, anaA.ID, time.Now(), time.Hour)
	must(t, err)
	must(t, s.CreateAgentSession(ctx, ses))
	n, err := s.DeleteAgentSessions(ctx, b, anaA.ID, "")
	must(t, err)
	if n != 0 {
		t.Fatal("DeleteAgentSessions ended another tenant's sessions")
	}

	note := handoff.Note{TenantID: a, ConversationID: fa.conv.ID, AgentID: anaA.ID, Body: "secreto"}
	_, err = s.CreateNote(ctx, note)
	must(t, err)
	for _, n := range []handoff.Note{
		{TenantID: b, ConversationID: fa.conv.ID, AgentID: anaB.ID, Body: "x"}, // their conversation
		{TenantID: b, ConversationID: fb.conv.ID, AgentID: anaA.ID, Body: "x"}, // their agent
		{TenantID: a, ConversationID: fb.conv.ID, AgentID: anaA.ID, Body: "x"}, // conversation of b
	} {
		_, err = s.CreateNote(ctx, n)
		wantNotFound(t, err, "CreateNote across tenants")
	}
	if notes, err := s.Notes(ctx, b, fa.conv.ID); err != nil || len(notes) != 0 {
		t.Fatalf("Notes of another tenant's conversation = %+v, %v", notes, err)
	}

	c := canned(t, s, a, "/saldo", "Hola")
	_, err = s.Canned(ctx, b, c.ID)
	wantNotFound(t, err, "Canned of another tenant")
	c.TenantID = b
	_, err = s.UpdateCanned(ctx, c)
	wantNotFound(t, err, "UpdateCanned of another tenant's")
	wantNotFound(t, s.DeleteCanned(ctx, b, c.ID), "DeleteCanned of another tenant's")
	if got, err := s.ListCanned(ctx, b, "", 0); err != nil || len(got) != 0 {
		t.Fatalf("ListCanned of the other tenant = %+v, %v", got, err)
	}
	// The same code is free in another tenant.
	canned(t, s, b, "/saldo", "Hola")
}

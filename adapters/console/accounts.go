package console

import (
	"context"
	"sync"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// accounts checks passwords and keeps sessions on the console store.
type accounts struct {
	store handoff.AuthStore
	now   func() time.Time
}

// dummyHash is checked when an email has no agent, so that an unknown
// email takes as long as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := handoff.HashPassword("not a password of anyone")
	return h
})

// logins returns the agents with the email and the password.
func (a accounts) logins(ctx context.Context, email, password string) ([]handoff.Agent, error) {
	found, err := a.store.Logins(ctx, email)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		handoff.CheckPassword(dummyHash(), password)
		return nil, nil
	}
	var out []handoff.Agent
	for _, l := range found {
		if handoff.CheckPassword(l.PasswordHash, password) {
			out = append(out, l.Agent)
		}
	}
	return out, nil
}

func (a accounts) start(ctx context.Context, tenantID, agentID int64, ttl time.Duration) (string, handoff.Session, error) {
	token, s, err := handoff.NewSession(tenantID, agentID, a.now(), ttl)
	if err != nil {
		return "", handoff.Session{}, err
	}
	if err := a.store.CreateAgentSession(ctx, s); err != nil {
		return "", handoff.Session{}, err
	}
	return token, s, nil
}

func (a accounts) session(ctx context.Context, token string) (handoff.Session, error) {
	if token == "" || len(token) > 100 {
		return handoff.Session{}, conversation.Errorf(conversation.ENOTFOUND, "no session")
	}
	return a.store.AgentSession(ctx, handoff.HashToken(token), a.now())
}

func (a accounts) end(ctx context.Context, token string) error {
	return a.store.DeleteAgentSession(ctx, handoff.HashToken(token))
}

// setPassword sets an agent's password and ends their sessions but the
// one of keep (a token, "" for none).
func (a accounts) setPassword(ctx context.Context, tenantID, agentID int64, password, keep string) error {
	hash, err := handoff.HashPassword(password)
	if err != nil {
		return err
	}
	if err := a.store.SetPassword(ctx, tenantID, agentID, hash); err != nil {
		return err
	}
	keepHash := ""
	if keep != "" {
		keepHash = handoff.HashToken(keep)
	}
	_, err = a.store.DeleteAgentSessions(ctx, tenantID, agentID, keepHash)
	return err
}

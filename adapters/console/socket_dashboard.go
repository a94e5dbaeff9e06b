package console

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coder/websocket"

	"conversa/conversation"
	"conversa/reports"
)

// dashboardEvery is the least time between two "dashboard" frames.
const dashboardEvery = time.Second

// watchDashboard makes the socket send a "dashboard" frame, at most once
// every dashboardEvery, while the tenant's conversations change state
// (opened, queued, assigned, closed) or the report pipeline says its
// figures changed: the dashboard page then reads its JSON again. Routing
// events (queues, offers, agents' status and load) come as "routing"
// frames already. The frame carries nothing, so a supervisor learns
// nothing beyond their teams from it. Only supervisors and admins may
// ask; asking again changes nothing.
func (cn *consoleConn) watchDashboard(ctx context.Context) error {
	a := cn.agent
	if !a.Role.Supervises() {
		return conversation.Errorf(conversation.EFORBIDDEN, "your role may not do this")
	}
	cn.mu.Lock()
	if cn.dashboard || cn.ended {
		cn.mu.Unlock()
		return nil
	}
	cn.dashboard = true
	cn.mu.Unlock()
	sub, err := cn.c.deps.Bus.Subscribe(ctx, conversation.TenantTopic(a.TenantID), reports.Topic(a.TenantID))
	if err != nil {
		return err
	}
	cn.mu.Lock()
	if cn.ended {
		cn.mu.Unlock()
		sub.Close()
		return nil
	}
	cn.subs = append(cn.subs, sub)
	cn.mu.Unlock()
	go cn.dashboardChanges(sub)
	return nil
}

// dashboardChanges coalesces the subscription's relevant events into
// "dashboard" frames until the socket ends.
func (cn *consoleConn) dashboardChanges(sub *conversation.Subscription) {
	t := time.NewTicker(dashboardEvery)
	defer t.Stop()
	dirty := false
	for {
		select {
		case <-cn.done:
			return
		case m, ok := <-sub.C():
			if !ok {
				if err := sub.Err(); err != nil {
					cn.c.log.Info("console events interrupted; closing", "err", err)
					cn.ws.Close(websocket.StatusTryAgainLater, "events interrupted; reconnect")
				}
				return
			}
			dirty = dirty || cn.dashboardEvent(m)
		case <-t.C:
			if dirty {
				dirty = false
				cn.send(serverFrame{Type: "dashboard"})
			}
		}
	}
}

// dashboardEvent reports whether m changes what the dashboard shows: a
// conversation of the agent's tenant that changed state, or the report
// pipeline's word that the tenant's figures changed. Messages and typing
// do not (the pipeline's word covers their counts).
func (cn *consoleConn) dashboardEvent(m conversation.BusMessage) bool {
	if m.Topic == reports.Topic(cn.agent.TenantID) {
		return true
	}
	var e struct {
		Type     conversation.EventType `json:"type"`
		TenantID int64                  `json:"tenant_id"`
	}
	return json.Unmarshal(m.Payload, &e) == nil && e.TenantID == cn.agent.TenantID && e.Type == conversation.EventConversationUpdated
}

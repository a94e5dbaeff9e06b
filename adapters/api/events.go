package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"conversa/conversation"
)

// Run waits until ctx ends, then ends every open event stream so that the
// server can shut down; clients reconnect, to another node if this one
// stops.
func (a *API) Run(ctx context.Context) error {
	<-ctx.Done()
	a.stopOnce.Do(func() { close(a.stopping) })
	return nil
}

// events streams the tenant's events as server-sent events, optionally of
// one conversation. Delivery is best effort: a client that falls behind is
// disconnected, and after reconnecting reads what it missed from the lists.
func (a *API) events(w http.ResponseWriter, r *http.Request, t tenant) error {
	convID, err := queryInt(r, "conversation_id")
	if err != nil {
		return err
	}
	sub, err := a.bus.Subscribe(r.Context(), conversation.TenantTopic(t.ID))
	if err != nil {
		return err
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		return nil
	}
	heartbeat := time.NewTicker(a.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-a.stopping:
			return nil
		case <-heartbeat.C:
			fmt.Fprint(w, ": keep-alive\n\n")
		case m, ok := <-sub.C():
			if !ok {
				return nil
			}
			var head struct {
				Type           conversation.EventType `json:"type"`
				ConversationID int64                  `json:"conversation_id"`
			}
			if json.Unmarshal(m.Payload, &head) != nil || (convID != 0 && head.ConversationID != convID) {
				continue
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", head.Type, m.Payload)
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

package handoff

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// The purposes of the notifications cases send. templates has a built-in
// template for each (templates/defaults).
const (
	PurposeFiled    = "case_filed"    // name, radicado, type, due
	PurposeStatus   = "case_status"   // name, radicado, status, due
	PurposeExtended = "case_extended" // name, radicado, days, reason, due
	PurposeResolved = "case_resolved" // name, radicado, answer
	PurposeSurvey   = "case_survey"   // name, radicado
)

// Notice is a notification a case asks for: a purpose's template and its
// data, to the case's contact, on the channel and at the time the
// notification service picks.
type Notice struct {
	TenantID  int64
	ContactID int64
	Purpose   string
	Data      map[string]string
	// Key makes a retry ask once: "case:<id>:<event>:<version>".
	Key string
}

// Notifier sends notifications. cmd/conversa adapts the notification
// service (notify.Service) to it.
type Notifier interface {
	// Notify schedules the notice and returns its notification's id; the
	// same Key returns the first one. Returns EINVALID when the service
	// refuses it (no template for the purpose, a required variable
	// missing), ENOTFOUND for a contact that is not the tenant's. It must
	// be safe for concurrent use.
	Notify(ctx context.Context, n Notice) (int64, error)
}

// NoticeOutcome is what became of a notification, as the notification
// service's job decided it.
type NoticeOutcome struct {
	TenantID int64
	// ID is the notification's id; Key the Notice's.
	ID      int64
	Key     string
	Purpose string
	// Status is "sent", "undeliverable", "suppressed" or "scheduled" (put
	// off, for the contact's quiet hours say).
	Status string
	// Reason says why it was not sent: the reason of each channel tried.
	Reason string
}

// noticeKey is the key of a case's notice about an event at a version of
// the case.
func noticeKey(caseID int64, event string, version int64) string {
	return fmt.Sprintf("case:%d:%s:%d", caseID, event, version)
}

// parseNoticeKey reads a key noticeKey made.
func parseNoticeKey(key string) (caseID int64, event string, version int64, ok bool) {
	parts := strings.Split(key, ":")
	if len(parts) != 4 || parts[0] != "case" {
		return 0, "", 0, false
	}
	id, err1 := strconv.ParseInt(parts[1], 10, 64)
	v, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return 0, "", 0, false
	}
	return id, parts[2], v, true
}

// dateOf is a case's date as notices carry it: 2006-01-02 in the tenant's
// time zone, which templates write out with {{date .due}}.
func (s *Cases) dateOf(ctx context.Context, tenantID int64, t time.Time) string {
	loc := time.UTC
	if s.cfg.Tenants != nil {
		if tn, err := s.cfg.Tenants.Tenant(ctx, tenantID); err == nil {
			loc = CalendarOf(tn).Location
		}
	}
	return t.In(loc).Format(time.DateOnly)
}

// notice asks for a notification about an event of c, at c's version, with
// the case's name and radicado added to data. Without a Notifier it does
// nothing. The case changed already, so a notification that cannot be
// asked for fails nothing: it is logged, and recorded in the case's history
// for agents to see.
func (s *Cases) notice(ctx context.Context, c Case, event, purpose string, data map[string]string) {
	if s.cfg.Notifier == nil {
		return
	}
	data["radicado"] = c.Radicado
	if s.cfg.Contacts != nil {
		if contact, err := s.cfg.Contacts.Contact(ctx, c.TenantID, c.ContactID); err == nil && contact.Name != "" {
			data["name"] = contact.Name
		}
	}
	key := noticeKey(c.ID, event, c.Version)
	_, err := s.cfg.Notifier.Notify(ctx, Notice{TenantID: c.TenantID, ContactID: c.ContactID, Purpose: purpose, Data: data, Key: key})
	if err == nil {
		return
	}
	s.cfg.Logger.Error("case notification not sent", "case", c.Radicado, "tenant", c.TenantID, "purpose", purpose, "err", err)
	note := fmt.Sprintf("notification not sent: %s (%s): %s", purpose, key, conversation.ErrorMessage(err))
	if err := s.appendEvent(ctx, c.TenantID, c.ID, CaseEvent{Kind: "notification", Actor: "system", Note: note}, key); err != nil {
		s.cfg.Logger.Error("record an unsent case notification", "case", c.Radicado, "tenant", c.TenantID, "err", err)
	}
}

// appendEvent appends ev to a case's history unless an event of the same
// kind whose note holds mark is there already, retrying when another
// change came first.
func (s *Cases) appendEvent(ctx context.Context, tenantID, caseID int64, ev CaseEvent, mark string) error {
	for attempt := 0; ; attempt++ {
		c, err := s.store.Case(ctx, tenantID, caseID)
		if err != nil {
			return err
		}
		hist, err := s.store.CaseHistory(ctx, tenantID, caseID)
		if err != nil {
			return err
		}
		for _, e := range hist {
			if e.Kind == ev.Kind && strings.Contains(e.Note, mark) {
				return nil
			}
		}
		if ev.CreatedAt.IsZero() {
			ev.CreatedAt = s.cfg.Now()
		}
		err = s.store.UpdateCase(ctx, &c, ev)
		if !conversation.IsConflict(err) || attempt == 4 {
			return err
		}
	}
}

// NoticeDone learns what became of a notification that the notification
// service's job decided, and ignores those that are not a case's. A case's
// notification that was not sent (undeliverable, suppressed) is recorded
// in its history with the reasons, for agents to see; a resolution that
// was sent is followed by the satisfaction survey; a survey that was sent
// starts waiting for the customer's answer. It is idempotent: cmd/conversa
// calls it after every run of the notification job, which may run again.
func (s *Cases) NoticeDone(ctx context.Context, o NoticeOutcome) error {
	caseID, event, version, ok := parseNoticeKey(o.Key)
	if !ok {
		return nil
	}
	switch o.Status {
	case "undeliverable", "suppressed":
		note := fmt.Sprintf("notification %s: %s (notification %d)", o.Status, o.Purpose, o.ID)
		if o.Reason != "" {
			note += ": " + o.Reason
		}
		err := s.appendEvent(ctx, o.TenantID, caseID, CaseEvent{Kind: "notification", Actor: "system", Note: note},
			fmt.Sprintf("(notification %d)", o.ID))
		if conversation.IsNotFound(err) {
			return nil
		}
		return err
	case "sent":
	default:
		return nil
	}
	c, err := s.store.Case(ctx, o.TenantID, caseID)
	if conversation.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	switch event {
	case "resolved":
		if c.Status != Resuelto && c.Status != Cerrado {
			return nil // reopened meanwhile: no survey about it
		}
		// Ask once the answer is out, so that the question comes after it.
		c.Version = version
		s.notice(ctx, c, "survey", PurposeSurvey, map[string]string{})
		return nil
	case "survey":
		return s.startSurvey(ctx, c, o.Key, version)
	}
	return nil
}

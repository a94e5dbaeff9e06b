package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/notify"
)

// caseRules reads the case settings into the rules of every tenant's
// cases: case_term_hours ("denuncia=4,queja=8") and case_pause_rule.
func caseRules(c *Config) (handoff.CaseRules, error) {
	r := handoff.CaseRules{Pause: c.CasePauseRule}
	for item := range strings.SplitSeq(c.CaseTermHours, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		name, hours, ok := strings.Cut(item, "=")
		typ, err := handoff.ParseCaseType(name)
		n, nerr := strconv.Atoi(strings.TrimSpace(hours))
		if !ok || err != nil || nerr != nil || n < 1 {
			return r, fmt.Errorf("case_term_hours: %q is not type=hours, such as denuncia=4", item)
		}
		if r.TermHours == nil {
			r.TermHours = map[handoff.CaseType]int{}
		}
		r.TermHours[typ] = n
	}
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("case rules: %w", err)
	}
	return r, nil
}

// validateCases checks the case settings.
func (c *Config) validateCases() error {
	var errs []error
	if _, err := caseRules(c); err != nil {
		errs = append(errs, err)
	}
	if c.CaseAttachmentMaxBytes < 1 || c.CaseAttachmentMaxBytes > 100<<20 {
		errs = append(errs, errors.New("case_attachment_max_bytes: must be 1 to 104857600 (100 MiB)"))
	}
	return errors.Join(errs...)
}

// staffNotifier emails agents through the notification service: the
// service writes to contacts, so an agent is emailed as the tenant's
// contact with the agent's email address (one who has written to the
// tenant's email channel), on the email channel only.
type staffNotifier struct {
	svc      *notify.Service
	contacts interface {
		ContactByIdentity(ctx context.Context, tenantID int64, id conversation.Identity) (conversation.Contact, error)
	}
}

func (s *staffNotifier) NotifyAgent(ctx context.Context, n handoff.StaffNotice) error {
	if n.Agent.Email == "" {
		return conversation.FieldError("email", "agent %d has no email address", n.Agent.ID)
	}
	c, err := s.contacts.ContactByIdentity(ctx, n.TenantID, conversation.Identity{Channel: conversation.ChannelEmail, Address: n.Agent.Email})
	if conversation.IsNotFound(err) {
		return conversation.FieldError("email", "agent %d's address %s is no contact of the tenant's email channel", n.Agent.ID, n.Agent.Email)
	}
	if err != nil {
		return err
	}
	_, err = s.svc.Notify(ctx, notify.Request{TenantID: n.TenantID, ContactID: c.ID, Purpose: n.Purpose, Data: n.Data,
		IdempotencyKey: n.Key, Channels: []conversation.ChannelKind{conversation.ChannelEmail}})
	return err
}

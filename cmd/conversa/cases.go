package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"conversa/channels"
	"conversa/channels/email"
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

// staffNotifier emails agents through the staff mail: from the tenant's
// email account straight to the agent's address, with no contact.
type staffNotifier struct{ mail *notify.StaffMail }

func (s *staffNotifier) NotifyAgent(ctx context.Context, n handoff.StaffNotice) error {
	if n.Agent.Email == "" {
		return conversation.FieldError("email", "agent %d has no email address", n.Agent.ID)
	}
	_, err := s.mail.Send(ctx, notify.StaffRequest{TenantID: n.TenantID, Key: n.Key, To: n.Agent.Email, Name: n.Agent.Name,
		Language: n.Language, Purpose: n.Purpose, Data: n.Data})
	return err
}

// letterMailer sends staff emails through the registry's email channel.
type letterMailer struct{ registry *channels.Registry }

func (m letterMailer) SendMail(ctx context.Context, acct conversation.ChannelAccount, x notify.Mail) (string, error) {
	ch, _ := m.registry.Channel(conversation.ChannelEmail)
	mail, ok := ch.(*email.Channel)
	if !ok {
		return "", &conversation.DeliveryError{Message: "this server runs no email channel", Permanent: true}
	}
	return mail.SendLetter(ctx, acct, email.Letter{TenantID: x.TenantID, Key: x.Key, To: x.To, Name: x.Name,
		Language: x.Language, Subject: x.Subject, Text: x.Text, HTML: x.HTML})
}

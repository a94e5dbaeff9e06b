package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"conversa/conversation"
)

// OptOut is an address that opted out of an account's messages, of every
// purpose (Purpose "") or of one.
type OptOut struct {
	AccountID int64  `json:"account_id"`
	Address   string `json:"address"`
	Purpose   string `json:"purpose,omitempty"`
}

// Plan is what a Planner decided for one contact: the channel, account
// and address the notification would go to and when, or no channel
// (Channel "") with the reason of each channel in Skipped.
type Plan struct {
	Channel   conversation.ChannelKind `json:"channel,omitempty"`
	AccountID int64                    `json:"account_id,omitempty"`
	Address   string                   `json:"address,omitempty"`
	// Due is the first allowed time: now, or the end of the contact's
	// quiet hours in their time zone.
	Due      time.Time `json:"due"`
	TimeZone string    `json:"time_zone"`
	Skipped  []Skip    `json:"skipped,omitempty"`
}

// OptedOut reports whether the contact was passed over because they opted
// out (of everything or of the purpose) on every channel where they have
// an address the tenant has an account for.
func (p Plan) OptedOut() bool {
	if p.Channel != "" || len(p.Skipped) == 0 {
		return false
	}
	opted := false
	for _, s := range p.Skipped {
		switch s.Code {
		case SkipOptedOut, SkipPurposeOptOut:
			opted = true
		case SkipNoIdentity, SkipNoAccount:
		default:
			return false
		}
	}
	return opted
}

// Planner applies the service's rules to many contacts at once, for a
// campaign: the channel chain, identities, enabled accounts, the consent
// ledger and quiet hours, all read once. It does not render templates nor
// read when each contact last wrote (the WhatsApp window): NotifyJob
// checks those when it sends, and may then fall back to another channel.
// A Planner is safe for concurrent use.
type Planner struct {
	purpose  string
	tenant   conversation.Tenant
	policy   Policy
	urgent   bool
	accounts map[conversation.ChannelKind]conversation.ChannelAccount
	optOuts  map[OptOut]bool
	now      time.Time
}

// Planner returns a planner of the tenant's notifications of purpose, at
// the service's current time, given the tenant's opt-outs of every purpose
// and of this one (other purposes' are ignored). Of several enabled
// accounts of a kind it plans on the first. Returns EINVALID naming
// "purpose" when the tenant has no template for it.
func (s *Service) Planner(ctx context.Context, tenantID int64, purpose string, optOuts []OptOut) (*Planner, error) {
	tenant, err := s.deps.Conversations.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	tpl, _, err := s.deps.Templates.Template(ctx, tenantID, purpose)
	if conversation.IsNotFound(err) {
		return nil, conversation.FieldError("purpose", "the tenant has no template for purpose %q", purpose)
	}
	if err != nil {
		return nil, fmt.Errorf("read template %s: %w", purpose, err)
	}
	policy, err := s.policy(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	accounts, err := s.deps.Conversations.ListChannelAccounts(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	p := &Planner{purpose: purpose, tenant: tenant, policy: policy, urgent: policy.urgent(purpose, tpl.Urgent),
		accounts: map[conversation.ChannelKind]conversation.ChannelAccount{}, optOuts: map[OptOut]bool{}, now: s.cfg.Now()}
	for _, a := range accounts {
		if _, ok := p.accounts[a.Kind]; !ok && !a.Disabled {
			p.accounts[a.Kind] = a
		}
	}
	for _, o := range optOuts {
		if o.Purpose == "" || o.Purpose == purpose {
			p.optOuts[o] = true
		}
	}
	return p, nil
}

// Plan decides a contact's channel and time by the rules NotifyJob sends
// by.
func (p *Planner) Plan(c conversation.Contact) Plan {
	loc, _ := ContactZone(c, p.tenant)
	out := Plan{Due: p.now, TimeZone: loc.String()}
	if !p.urgent {
		out.Due = p.policy.quietHours(p.purpose).NextAllowed(p.now, loc)
	}
	preferred := conversation.ChannelKind(strings.TrimSpace(c.Attributes[AttrPreferredChannel]))
	for _, kind := range p.policy.chain(p.purpose, preferred, nil) {
		skip := func(acct int64, code, format string, args ...any) {
			out.Skipped = append(out.Skipped, Skip{Channel: kind, AccountID: acct, Code: code, Reason: fmt.Sprintf(format, args...)})
		}
		to, ok := c.IdentityOn(kind)
		if !ok {
			skip(0, SkipNoIdentity, "the contact has no %s address", kind)
			continue
		}
		acct, ok := p.accounts[kind]
		if !ok {
			skip(0, SkipNoAccount, "the tenant has no enabled %s account", kind)
			continue
		}
		if p.optOuts[OptOut{AccountID: acct.ID, Address: to.Address}] {
			skip(acct.ID, SkipOptedOut, "%s opted out of messages from %s", to.Address, acct.Key)
			continue
		}
		if p.optOuts[OptOut{AccountID: acct.ID, Address: to.Address, Purpose: p.purpose}] {
			skip(acct.ID, SkipPurposeOptOut, "%s opted out of %s messages from %s", to.Address, p.purpose, acct.Key)
			continue
		}
		out.Channel, out.AccountID, out.Address = kind, acct.ID, to.Address
		return out
	}
	return out
}

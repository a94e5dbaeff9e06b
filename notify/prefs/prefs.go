// Package prefs lets contacts see and change their communication
// preferences: the channel notifications go to first (the contact
// attribute notify.AttrPreferredChannel) and the consent ledger's opt-outs,
// per channel account and purpose. It serves the API's view of a contact's
// preferences and, as a conversation.Interceptor, the requests contacts
// write on any channel ("quiero recibir notificaciones por correo", "no
// quiero recibir encuestas").
package prefs

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

// Store is what the service reads and writes of the conversation store.
// conversation.Store implements it.
type Store interface {
	Tenant(ctx context.Context, id int64) (conversation.Tenant, error)
	Contact(ctx context.Context, tenantID, id int64) (conversation.Contact, error)
	UpdateContact(ctx context.Context, tenantID, id int64, u conversation.ContactUpdate) (conversation.Contact, error)
	ListChannelAccounts(ctx context.Context, tenantID int64) ([]conversation.ChannelAccount, error)
	RecordConsent(ctx context.Context, c conversation.ConsentChange) (conversation.ConsentChange, error)
	ListConsent(ctx context.Context, tenantID int64, f conversation.ConsentFilter) ([]conversation.ConsentChange, error)
}

// Config configures the service.
type Config struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service reads and changes contacts' preferences. It is safe for
// concurrent use.
type Service struct {
	store Store
	now   func() time.Time
}

var _ conversation.Interceptor = (*Service)(nil)

// New returns the preferences service.
func New(store Store, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: store, now: cfg.Now}
}

// Preferences are a contact's communication preferences as a whole.
type Preferences struct {
	ContactID int64 `json:"contact_id"`
	// PreferredChannel is the channel notifications try first, "" when
	// the contact has none and the tenant's chain decides.
	PreferredChannel conversation.ChannelKind `json:"preferred_channel,omitempty"`
	// Reachable are the channels the contact can be notified on: those
	// they have an address on and the tenant has an enabled account of.
	Reachable []conversation.ChannelKind `json:"reachable"`
	// Channels are the consent state of each of those accounts.
	Channels []ChannelConsent `json:"channels"`
	// TimeZone is the time zone of the contact's quiet hours, and
	// TimeZoneSource where it comes from ("contact", "tenant", ...).
	TimeZone       string `json:"time_zone"`
	TimeZoneSource string `json:"time_zone_source"`
	Language       string `json:"language,omitempty"`
}

// ChannelConsent is the consent state of a contact's address on one of the
// tenant's channel accounts, derived from the ledger: the latest change
// for each purpose decides.
type ChannelConsent struct {
	AccountID int64                    `json:"account_id"`
	Channel   conversation.ChannelKind `json:"channel"`
	Address   string                   `json:"address"`
	// OptedOut is an opt-out of every message from the account.
	OptedOut bool `json:"opted_out"`
	// OptedOutPurposes are the purposes opted out of, sorted.
	OptedOutPurposes []string `json:"opted_out_purposes"`
	// Changed is the time of the latest change, zero if none.
	Changed time.Time `json:"changed,omitzero"`
}

// accountAddress is one of the tenant's enabled accounts with the
// contact's address on its channel.
type accountAddress struct {
	account conversation.ChannelAccount
	address string
}

// reachable returns the tenant's enabled accounts the contact has an
// address for, in the order of the tenant's accounts.
func reachable(c conversation.Contact, accounts []conversation.ChannelAccount) []accountAddress {
	var out []accountAddress
	for _, a := range accounts {
		if a.Disabled {
			continue
		}
		if id, ok := c.IdentityOn(a.Kind); ok {
			out = append(out, accountAddress{a, id.Address})
		}
	}
	return out
}

// Get returns the contact's preferences. Returns ENOTFOUND unless the
// contact is the tenant's.
func (s *Service) Get(ctx context.Context, tenantID, contactID int64) (Preferences, error) {
	contact, err := s.store.Contact(ctx, tenantID, contactID)
	if err != nil {
		return Preferences{}, err
	}
	tenant, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return Preferences{}, err
	}
	return s.view(ctx, tenant, contact)
}

func (s *Service) view(ctx context.Context, tenant conversation.Tenant, contact conversation.Contact) (Preferences, error) {
	accounts, err := s.store.ListChannelAccounts(ctx, tenant.ID)
	if err != nil {
		return Preferences{}, fmt.Errorf("list channel accounts: %w", err)
	}
	loc, source := notify.ContactZone(contact, tenant)
	p := Preferences{ContactID: contact.ID, PreferredChannel: preferred(contact), Reachable: []conversation.ChannelKind{},
		Channels: []ChannelConsent{}, TimeZone: loc.String(), TimeZoneSource: source, Language: contact.Language}
	for _, aa := range reachable(contact, accounts) {
		if !slices.Contains(p.Reachable, aa.account.Kind) {
			p.Reachable = append(p.Reachable, aa.account.Kind)
		}
		cc, err := s.consentOf(ctx, tenant.ID, aa)
		if err != nil {
			return Preferences{}, err
		}
		p.Channels = append(p.Channels, cc)
	}
	return p, nil
}

// maxLedgerPages bounds how much of one address's ledger consentOf reads.
const maxLedgerPages = 20

// consentOf derives the consent state of an address on an account from
// the ledger, newest first: the first change seen of each purpose decides.
func (s *Service) consentOf(ctx context.Context, tenantID int64, aa accountAddress) (ChannelConsent, error) {
	cc := ChannelConsent{AccountID: aa.account.ID, Channel: aa.account.Kind, Address: aa.address, OptedOutPurposes: []string{}}
	seen := map[string]bool{}
	f := conversation.ConsentFilter{AccountID: aa.account.ID, Address: aa.address, Limit: conversation.MaxLimit}
	for range maxLedgerPages {
		page, err := s.store.ListConsent(ctx, tenantID, f)
		if err != nil {
			return cc, fmt.Errorf("read the consent ledger: %w", err)
		}
		for _, c := range page {
			if cc.Changed.IsZero() {
				cc.Changed = c.At
			}
			if seen[c.Purpose] {
				continue
			}
			seen[c.Purpose] = true
			switch {
			case c.Purpose == "":
				cc.OptedOut = c.OptedOut
			case c.OptedOut:
				cc.OptedOutPurposes = append(cc.OptedOutPurposes, c.Purpose)
			}
		}
		if len(page) < f.Limit {
			break
		}
		f.BeforeID = page[len(page)-1].ID
	}
	slices.Sort(cc.OptedOutPurposes)
	return cc, nil
}

func preferred(c conversation.Contact) conversation.ChannelKind {
	return conversation.ChannelKind(strings.TrimSpace(c.Attributes[notify.AttrPreferredChannel]))
}

// Change is a change of a contact's preferences.
type Change struct {
	// PreferredChannel, when set, becomes the preferred channel; "" clears
	// it.
	PreferredChannel *conversation.ChannelKind
	// Consent are opt-outs and opt-ins, recorded in order.
	Consent []ConsentUpdate
	// Source says how the change came, for the ledger: "api", "bot:sms".
	Source string
	// Key, when set, makes the change idempotent: the ledger keeps one
	// change per key, account and purpose (conversation.ConsentChange's
	// ProviderID).
	Key string
}

// ConsentUpdate opts a contact out of, or back into, messages.
type ConsentUpdate struct {
	// Channel narrows the update to the accounts of one channel; "" is
	// every channel the contact is reachable on.
	Channel conversation.ChannelKind
	// Purposes narrow it to notifications of these purposes; none is every
	// message.
	Purposes []string
	OptedOut bool
}

// Update applies a change to the contact's preferences and returns them.
// Returns ENOTFOUND unless the contact is the tenant's; EINVALID naming the
// field ("preferred_channel", "consent[0].channel") when the preferred
// channel or a consent update's channel is not one the contact is
// reachable on, or a purpose is not valid. Nothing is changed then.
func (s *Service) Update(ctx context.Context, tenantID, contactID int64, ch Change) (Preferences, error) {
	contact, err := s.store.Contact(ctx, tenantID, contactID)
	if err != nil {
		return Preferences{}, err
	}
	tenant, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return Preferences{}, err
	}
	accounts, err := s.store.ListChannelAccounts(ctx, tenantID)
	if err != nil {
		return Preferences{}, fmt.Errorf("list channel accounts: %w", err)
	}
	reach := reachable(contact, accounts)
	changes, err := consentChanges(tenantID, contact, reach, ch)
	if err != nil {
		return Preferences{}, err
	}
	if k := ch.PreferredChannel; k != nil && *k != "" {
		if err := canPrefer(*k, reach); err != nil {
			return Preferences{}, err
		}
	}
	if k := ch.PreferredChannel; k != nil && *k != preferred(contact) {
		contact, err = s.store.UpdateContact(ctx, tenantID, contactID, conversation.ContactUpdate{
			Attributes: map[string]string{notify.AttrPreferredChannel: string(*k)}})
		if err != nil {
			return Preferences{}, fmt.Errorf("set the preferred channel: %w", err)
		}
	}
	now := s.now()
	for _, c := range changes {
		c.At = now
		if _, err := s.store.RecordConsent(ctx, c); err != nil {
			return Preferences{}, fmt.Errorf("record consent: %w", err)
		}
	}
	return s.view(ctx, tenant, contact)
}

// canPrefer returns EINVALID naming preferred_channel unless k is a
// channel in reach.
func canPrefer(k conversation.ChannelKind, reach []accountAddress) error {
	if !k.Valid() {
		return conversation.FieldError("preferred_channel", "unknown channel %q", k)
	}
	if !slices.ContainsFunc(reach, func(aa accountAddress) bool { return aa.account.Kind == k }) {
		return conversation.FieldError("preferred_channel", "the contact cannot be reached on %s: no %s address, or no enabled %s account", k, k, k)
	}
	return nil
}

// consentChanges returns the ledger entries of a change, validated.
func consentChanges(tenantID int64, contact conversation.Contact, reach []accountAddress, ch Change) ([]conversation.ConsentChange, error) {
	var out []conversation.ConsentChange
	for i, u := range ch.Consent {
		field := fmt.Sprintf("consent[%d]", i)
		if u.Channel != "" && !u.Channel.Valid() {
			return nil, conversation.FieldError(field+".channel", "unknown channel %q", u.Channel)
		}
		for j, p := range u.Purposes {
			if !conversation.ValidPurpose(p) {
				return nil, conversation.FieldError(fmt.Sprintf("%s.purposes[%d]", field, j), "%q is not a purpose: lower-case letters, digits and _, starting with a letter", p)
			}
		}
		purposes := u.Purposes
		if len(purposes) == 0 {
			purposes = []string{""}
		}
		n := len(out)
		for _, aa := range reach {
			if u.Channel != "" && aa.account.Kind != u.Channel {
				continue
			}
			for _, p := range purposes {
				c := conversation.ConsentChange{TenantID: tenantID, AccountID: aa.account.ID, ContactID: contact.ID,
					Channel: aa.account.Kind, Address: aa.address, OptedOut: u.OptedOut, Purpose: p, Source: ch.Source}
				if ch.Key != "" {
					c.ProviderID = fmt.Sprintf("%s:%d:%s", ch.Key, i, p)
				}
				if err := c.Validate(); err != nil {
					return nil, err
				}
				out = append(out, c)
			}
		}
		if len(out) == n {
			if u.Channel != "" {
				return nil, conversation.FieldError(field+".channel", "the contact cannot be reached on %s: no %s address, or no enabled %s account", u.Channel, u.Channel, u.Channel)
			}
			return nil, conversation.FieldError(field, "the contact cannot be reached on any channel")
		}
	}
	return out, nil
}

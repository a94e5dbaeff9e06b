// Package billing bills the tenants (client companies) of the platform:
// plans with a monthly fee and a price per PQR (a case) by channel, the
// tenants' subscriptions to plans, rates per channel negotiated with a
// tenant, and monthly statements: computed on request while a month is
// open, stored and never changed again once closed.
//
// Money is an int64 of minor units (cents) with an ISO 4217 currency;
// never a float. Dates are calendar days in the platform's billing time
// zone (Config.Location); ranges of days include both ends.
package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// MaxPrice bounds any fee or price, in minor units: a trillion units of a
// currency, far from overflowing a month's sums.
const MaxPrice = 1_000_000_000_000_00

// currencies maps the ISO 4217 codes accepted to the digits of their minor
// unit.
var currencies = map[string]int{
	"ARS": 2, "BOB": 2, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "COP": 2, "CRC": 2, "DOP": 2, "EUR": 2,
	"GBP": 2, "GTQ": 2, "HNL": 2, "JPY": 0, "KRW": 0, "MXN": 2, "NIO": 2, "PAB": 2, "PEN": 2, "PYG": 0,
	"USD": 2, "UYU": 2, "VES": 2, "CNY": 2, "INR": 2, "AUD": 2, "KWD": 3, "BHD": 3,
}

// ValidCurrency reports whether code is an ISO 4217 currency billing knows.
func ValidCurrency(code string) bool {
	_, ok := currencies[code]
	return ok
}

// FormatAmount writes minor units of currency as a decimal string:
// 12345 COP is "123.45", -5 USD "-0.05", 900 CLP "900".
func FormatAmount(minor int64, currency string) string {
	digits, ok := currencies[currency]
	if !ok {
		digits = 2
	}
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Date is a calendar day, "2006-01-02".
type Date = string

// Month is a calendar month, "2006-01".
type Month = string

// OpenEnd is the ValidTo of a range without end.
const OpenEnd Date = "9999-12-31"

// ParseDate checks a date and returns its day.
func ParseDate(field string, d Date) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil || t.Year() < 2000 {
		return time.Time{}, conversation.FieldError(field, "must be a date 2006-01-02 from the year 2000 on, not %q", d)
	}
	return t, nil
}

// ParseMonth checks a month "2006-01" and returns its first day.
func ParseMonth(m Month) (time.Time, error) {
	t, err := time.Parse("2006-01", m)
	if err != nil || t.Year() < 2000 || t.Year() > 9998 {
		return time.Time{}, conversation.FieldError("month", "must be a month 2006-01 from the year 2000 on, not %q", m)
	}
	return t, nil
}

// Plan is what the platform offers: a monthly fee and a price per PQR by
// channel, with a default for channels not listed.
type Plan struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Currency string `json:"currency"`
	// MonthlyFee is charged per month, prorated by days for part of one.
	MonthlyFee int64 `json:"monthly_fee"`
	// DefaultPrice is the price of a PQR on a channel not in Prices.
	DefaultPrice int64                              `json:"default_price"`
	Prices       map[conversation.ChannelKind]int64 `json:"prices,omitempty"`
	CreatedAt    time.Time                          `json:"created_at"`
	UpdatedAt    time.Time                          `json:"updated_at"`
}

// Price returns the plan's price of a PQR filed on channel ch.
func (p Plan) Price(ch string) int64 {
	if v, ok := p.Prices[conversation.ChannelKind(ch)]; ok {
		return v
	}
	return p.DefaultPrice
}

// Validate checks p's fields.
func (p *Plan) Validate() error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" || len(p.Name) > 100 {
		return conversation.FieldError("name", "is required, up to 100 bytes")
	}
	if !ValidCurrency(p.Currency) {
		return conversation.FieldError("currency", "unknown ISO 4217 currency %q", p.Currency)
	}
	if err := validPrice("monthly_fee", p.MonthlyFee); err != nil {
		return err
	}
	if err := validPrice("default_price", p.DefaultPrice); err != nil {
		return err
	}
	for ch, v := range p.Prices {
		if !ch.Valid() {
			return conversation.FieldError("prices", "unknown channel %q", ch)
		}
		if err := validPrice("prices."+string(ch), v); err != nil {
			return err
		}
	}
	return nil
}

func validPrice(field string, v int64) error {
	if v < 0 || v > MaxPrice {
		return conversation.FieldError(field, "must be an amount in minor units from 0 to %d, not %d", int64(MaxPrice), v)
	}
	return nil
}

// PricesJSON returns the JSON a store keeps of p.Prices: "{}" for none.
func (p Plan) PricesJSON() string {
	if len(p.Prices) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(p.Prices)
	return string(b)
}

// SetPricesJSON sets p.Prices from the JSON a store kept.
func (p *Plan) SetPricesJSON(b []byte) error {
	p.Prices = nil
	if err := json.Unmarshal(b, &p.Prices); err != nil {
		return fmt.Errorf("plan %d prices: %w", p.ID, err)
	}
	if len(p.Prices) == 0 {
		p.Prices = nil
	}
	return nil
}

// Range is a range of days, both included; ValidTo "" is without end.
type Range struct {
	ValidFrom Date `json:"valid_from"`
	ValidTo   Date `json:"valid_to,omitempty"`
}

// StoredTo is ValidTo as stores keep it: OpenEnd when there is none.
// Stores read OpenEnd back as "".
func (r Range) StoredTo() Date { return r.end() }

// end returns the last day, OpenEnd when there is none.
func (r Range) end() Date {
	if r.ValidTo == "" {
		return OpenEnd
	}
	return r.ValidTo
}

// Overlaps reports whether r and o share a day.
func (r Range) Overlaps(o Range) bool {
	return r.ValidFrom <= o.end() && o.ValidFrom <= r.end()
}

// Covers reports whether day d is in r.
func (r Range) Covers(d Date) bool { return r.ValidFrom <= d && d <= r.end() }

// Validate checks the dates.
func (r *Range) Validate() error {
	from, err := ParseDate("valid_from", r.ValidFrom)
	if err != nil {
		return err
	}
	if r.ValidTo == "" {
		return nil
	}
	to, err := ParseDate("valid_to", r.ValidTo)
	if err != nil {
		return err
	}
	if to.Before(from) {
		return conversation.FieldError("valid_to", "must not be before valid_from")
	}
	return nil
}

// Subscription puts a tenant on a plan for a range of days. A tenant's
// subscriptions never overlap.
type Subscription struct {
	ID       int64 `json:"id"`
	TenantID int64 `json:"tenant_id"`
	PlanID   int64 `json:"plan_id"`
	Range
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks s's fields.
func (s *Subscription) Validate() error {
	if s.TenantID <= 0 {
		return conversation.FieldError("tenant_id", "is required")
	}
	if s.PlanID <= 0 {
		return conversation.FieldError("plan_id", "is required")
	}
	return s.Range.Validate()
}

// Rate is a price per PQR on one channel negotiated with one tenant for a
// range of days: it overrides the plan's price for the cases filed in it.
// A tenant's rates of one channel never overlap.
type Rate struct {
	ID       int64                    `json:"id"`
	TenantID int64                    `json:"tenant_id"`
	Channel  conversation.ChannelKind `json:"channel"`
	Price    int64                    `json:"price"`
	Currency string                   `json:"currency"`
	Range
	CreatedAt time.Time `json:"created_at"`
}

// Validate checks r's fields.
func (r *Rate) Validate() error {
	if r.TenantID <= 0 {
		return conversation.FieldError("tenant_id", "is required")
	}
	if !r.Channel.Valid() {
		return conversation.FieldError("channel", "unknown channel %q", r.Channel)
	}
	if err := validPrice("price", r.Price); err != nil {
		return err
	}
	if !ValidCurrency(r.Currency) {
		return conversation.FieldError("currency", "unknown ISO 4217 currency %q", r.Currency)
	}
	return r.Range.Validate()
}

// Terms are a tenant's subscriptions, with their plans, and rates: what a
// new subscription or rate is checked against.
type Terms struct {
	Subscriptions []Subscription
	Plans         map[int64]Plan // by id, those of Subscriptions
	Rates         []Rate
}

// currencies returns the currencies the terms use, sorted.
func (t Terms) currencies() []string {
	var cs []string
	for _, s := range t.Subscriptions {
		cs = append(cs, t.Plans[s.PlanID].Currency)
	}
	for _, r := range t.Rates {
		cs = append(cs, r.Currency)
	}
	slices.Sort(cs)
	return slices.Compact(cs)
}

// sameCurrency checks that a tenant billed in the currencies of t may be
// billed in c: one currency per tenant, so per statement.
func (t Terms) sameCurrency(field, c string) error {
	for _, have := range t.currencies() {
		if have != c {
			return conversation.FieldError(field, "is %s but the tenant is billed in %s: one currency per tenant", c, have)
		}
	}
	return nil
}

// CheckSubscription checks a new subscription s to plan p against the
// tenant's terms: no overlap with another subscription, one currency.
// Stores call it in the transaction that inserts s.
func (t Terms) CheckSubscription(s Subscription, p Plan) error {
	for _, o := range t.Subscriptions {
		if o.Overlaps(s.Range) {
			return conversation.FieldError("valid_from", "overlaps subscription %d (%s to %s)", o.ID, o.ValidFrom, o.end())
		}
	}
	return t.sameCurrency("plan_id", p.Currency)
}

// CheckRate checks a new rate r against the tenant's terms: no overlap with
// another rate of its channel, one currency. Stores call it in the
// transaction that inserts r.
func (t Terms) CheckRate(r Rate) error {
	for _, o := range t.Rates {
		if o.Channel == r.Channel && o.Overlaps(r.Range) {
			return conversation.FieldError("valid_from", "overlaps rate %d of %s (%s to %s)", o.ID, o.Channel, o.ValidFrom, o.end())
		}
	}
	return t.sameCurrency("currency", r.Currency)
}

// ChannelCount is a number of PQRs filed on a channel ("" when the case
// names none).
type ChannelCount struct {
	Channel string `json:"channel"`
	Count   int64  `json:"count"`
}

// Store keeps plans, subscriptions, rates and closed statements, and counts
// cases. storage/sqlite and storage/postgres implement it, proven by
// billingtest.TestStore. Every method is safe for concurrent use, also from
// several processes; those of a tenant are scoped to it: another tenant's
// ids are ENOTFOUND (or an empty list).
type Store interface {
	// CreatePlan stores a valid plan and returns it with ID and times set.
	CreatePlan(ctx context.Context, p Plan) (Plan, error)
	// UpdatePlan replaces the name, fee and prices of plan p.ID. Its
	// currency never changes: another is EINVALID. Returns ENOTFOUND when
	// there is no such plan.
	UpdatePlan(ctx context.Context, p Plan) (Plan, error)
	// Plan returns ENOTFOUND when there is no such plan.
	Plan(ctx context.Context, id int64) (Plan, error)
	// ListPlans returns every plan by id.
	ListPlans(ctx context.Context) ([]Plan, error)

	// CreateSubscription stores a valid subscription after Terms.
	// CheckSubscription against the tenant's, in one transaction: its
	// EINVALID stores nothing. Returns ENOTFOUND when the tenant or the
	// plan does not exist.
	CreateSubscription(ctx context.Context, s Subscription) (Subscription, error)
	// DeleteSubscription returns ENOTFOUND unless id is the tenant's.
	DeleteSubscription(ctx context.Context, tenantID, id int64) error
	// CreateRate stores a valid rate after Terms.CheckRate against the
	// tenant's, in one transaction: its EINVALID stores nothing. Returns
	// ENOTFOUND when the tenant does not exist.
	CreateRate(ctx context.Context, r Rate) (Rate, error)
	// DeleteRate returns ENOTFOUND unless id is the tenant's.
	DeleteRate(ctx context.Context, tenantID, id int64) error
	// Terms returns the tenant's subscriptions (by ValidFrom), their plans
	// and its rates (by channel and ValidFrom).
	Terms(ctx context.Context, tenantID int64) (Terms, error)
	// BilledTenants returns, by id, the tenants with a subscription or a
	// rate.
	BilledTenants(ctx context.Context) ([]int64, error)

	// CountCases counts the tenant's cases filed at or after from and
	// before to, by channel (sorted).
	CountCases(ctx context.Context, tenantID int64, from, to time.Time) ([]ChannelCount, error)

	// InsertStatement stores a closed statement: st.Status is closed and
	// st.ClosedAt set. Returns ECONFLICT, storing nothing, when the
	// tenant's statement of st.Month is stored already; ENOTFOUND when the
	// tenant does not exist. A stored statement never changes: the store
	// refuses to update or delete it.
	InsertStatement(ctx context.Context, st Statement) (Statement, error)
	// ClosedStatement returns the tenant's closed statement of month, or
	// ENOTFOUND.
	ClosedStatement(ctx context.Context, tenantID int64, month Month) (Statement, error)
	// ClosedMonths returns the months of the tenant's closed statements,
	// newest first.
	ClosedMonths(ctx context.Context, tenantID int64) ([]Month, error)
}

// String returns the range for messages.
func (r Range) String() string { return fmt.Sprintf("%s to %s", r.ValidFrom, r.end()) }

package billing

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"conversa/conversation"
)

// Status is whether a statement may still change.
type Status string

// Statement statuses. An open statement is computed on request from the
// terms and cases as they are now; a closed one was stored when closed and
// never changes.
const (
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// Sources of a line's unit price.
const (
	SourceRate = "rate" // a negotiated rate
	SourcePlan = "plan" // the plan's price of the channel, or its default
	SourceNone = "none" // filed on a day without subscription or rate: free
)

// FeeLine is the monthly fee of one plan for the days of the month the
// tenant was subscribed to it: MonthlyFee × Days / MonthDays, rounded to
// the nearest minor unit (halves up).
type FeeLine struct {
	PlanID     int64  `json:"plan_id"`
	Plan       string `json:"plan"`
	From       Date   `json:"from"`
	To         Date   `json:"to"`
	Days       int    `json:"days"`
	MonthDays  int    `json:"month_days"`
	MonthlyFee int64  `json:"monthly_fee"`
	Amount     int64  `json:"amount"`
}

// Line is the PQRs filed on one channel at one unit price: Amount is
// Cases × UnitPrice. From and To are the days of the month the price was
// in force.
type Line struct {
	Channel   string `json:"channel"`
	UnitPrice int64  `json:"unit_price"`
	Source    string `json:"source"`
	SourceID  int64  `json:"source_id,omitempty"` // the rate's or the plan's id
	From      Date   `json:"from"`
	To        Date   `json:"to"`
	Cases     int64  `json:"cases"`
	Amount    int64  `json:"amount"`
}

// Subtotal is the PQRs of one channel and what they cost.
type Subtotal struct {
	Channel string `json:"channel"`
	Cases   int64  `json:"cases"`
	Amount  int64  `json:"amount"`
}

// Statement is what a tenant owes for a month: the plan fees, the PQRs by
// channel and unit price, subtotals by channel, and the total, in one
// currency ("" when the tenant had no terms in the month).
type Statement struct {
	TenantID   int64      `json:"tenant_id"`
	Month      Month      `json:"month"`
	Zone       string     `json:"zone"`
	Currency   string     `json:"currency"`
	Status     Status     `json:"status"`
	ClosedAt   time.Time  `json:"closed_at,omitzero"`
	Fees       []FeeLine  `json:"fees"`
	Lines      []Line     `json:"lines"`
	Subtotals  []Subtotal `json:"subtotals"`
	FeeTotal   int64      `json:"fee_total"`
	UsageTotal int64      `json:"usage_total"`
	Total      int64      `json:"total"`
}

// monthBounds returns the first instant of month in loc, the first of the
// next month, and the month's number of days.
func monthBounds(month Month, loc *time.Location) (start, end time.Time, days int, err error) {
	first, err := ParseMonth(month)
	if err != nil {
		return
	}
	start = time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, loc)
	end = time.Date(first.Year(), first.Month()+1, 1, 0, 0, 0, 0, loc)
	days = time.Date(first.Year(), first.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return
}

// counter counts a tenant's cases filed in [from, to) by channel.
type counter func(ctx context.Context, from, to time.Time) ([]ChannelCount, error)

// segment is a run of days of the month under the same terms.
type segment struct {
	first, last int // days of the month, 1-based
	sub         *Subscription
	rates       map[conversation.ChannelKind]*Rate
}

// compute builds the open statement of a month from the tenant's terms and
// cases. Case counts are asked once per run of days under the same terms.
func compute(ctx context.Context, tenantID int64, month Month, loc *time.Location, t Terms, count counter) (Statement, error) {
	start, _, monthDays, err := monthBounds(month, loc)
	if err != nil {
		return Statement{}, err
	}
	st := Statement{TenantID: tenantID, Month: month, Zone: loc.String(), Status: StatusOpen,
		Fees: []FeeLine{}, Lines: []Line{}, Subtotals: []Subtotal{}}
	day := func(d int) Date { return start.AddDate(0, 0, d-1).Format(time.DateOnly) }

	// The terms in force each day, in runs.
	var segs []segment
	for d := 1; d <= monthDays; d++ {
		date := day(d)
		sg := segment{first: d, last: d, rates: map[conversation.ChannelKind]*Rate{}}
		for i, s := range t.Subscriptions {
			if s.Covers(date) {
				sg.sub = &t.Subscriptions[i]
			}
		}
		for i, r := range t.Rates {
			if r.Covers(date) {
				sg.rates[r.Channel] = &t.Rates[i]
			}
		}
		if n := len(segs); n > 0 && segs[n-1].sub == sg.sub && sameRates(segs[n-1].rates, sg.rates) {
			segs[n-1].last = d
			continue
		}
		segs = append(segs, sg)
	}

	var currencies []string
	fees := map[int64]int{} // by subscription id, index in st.Fees
	for _, sg := range segs {
		if sg.sub != nil {
			p := t.Plans[sg.sub.PlanID]
			currencies = append(currencies, p.Currency)
			i, ok := fees[sg.sub.ID]
			if !ok {
				i = len(st.Fees)
				fees[sg.sub.ID] = i
				st.Fees = append(st.Fees, FeeLine{PlanID: p.ID, Plan: p.Name, From: day(sg.first), MonthDays: monthDays, MonthlyFee: p.MonthlyFee})
			}
			st.Fees[i].To = day(sg.last)
			st.Fees[i].Days += sg.last - sg.first + 1
		}
		for _, r := range sg.rates {
			currencies = append(currencies, r.Currency)
		}
		counts, err := count(ctx, start.AddDate(0, 0, sg.first-1), start.AddDate(0, 0, sg.last))
		if err != nil {
			return Statement{}, err
		}
		for _, c := range counts {
			if c.Count == 0 {
				continue
			}
			l := Line{Channel: c.Channel, Source: SourceNone, From: day(sg.first), To: day(sg.last), Cases: c.Count}
			if r := sg.rates[conversation.ChannelKind(c.Channel)]; r != nil {
				l.UnitPrice, l.Source, l.SourceID = r.Price, SourceRate, r.ID
			} else if sg.sub != nil {
				p := t.Plans[sg.sub.PlanID]
				l.UnitPrice, l.Source, l.SourceID = p.Price(c.Channel), SourcePlan, p.ID
			}
			st.Lines = addLine(st.Lines, l)
		}
	}
	slices.Sort(currencies)
	if currencies = slices.Compact(currencies); len(currencies) > 1 {
		return Statement{}, conversation.Errorf(conversation.ECONFLICT, "the terms of tenant %d in %s mix currencies %s", tenantID, month, strings.Join(currencies, ", "))
	}
	if len(currencies) == 1 {
		st.Currency = currencies[0]
	}
	for i := range st.Fees {
		f := &st.Fees[i]
		f.Amount = (f.MonthlyFee*int64(f.Days)*2 + int64(monthDays)) / (2 * int64(monthDays))
		st.FeeTotal += f.Amount
	}
	slices.SortStableFunc(st.Lines, func(a, b Line) int {
		return cmp.Or(cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.From, b.From), cmp.Compare(a.UnitPrice, b.UnitPrice))
	})
	for i := range st.Lines {
		l := &st.Lines[i]
		l.Amount = l.Cases * l.UnitPrice
		st.UsageTotal += l.Amount
		if n := len(st.Subtotals); n > 0 && st.Subtotals[n-1].Channel == l.Channel {
			st.Subtotals[n-1].Cases += l.Cases
			st.Subtotals[n-1].Amount += l.Amount
		} else {
			st.Subtotals = append(st.Subtotals, Subtotal{Channel: l.Channel, Cases: l.Cases, Amount: l.Amount})
		}
	}
	st.Total = st.FeeTotal + st.UsageTotal
	return st, nil
}

// addLine adds l's cases to the line of the same channel and price source,
// widening its days, or appends l.
func addLine(lines []Line, l Line) []Line {
	for i, o := range lines {
		if o.Channel == l.Channel && o.Source == l.Source && o.SourceID == l.SourceID && o.UnitPrice == l.UnitPrice {
			lines[i].Cases += l.Cases
			lines[i].To = l.To
			return lines
		}
	}
	return append(lines, l)
}

func sameRates(a, b map[conversation.ChannelKind]*Rate) bool {
	if len(a) != len(b) {
		return false
	}
	for ch, r := range a {
		if b[ch] != r {
			return false
		}
	}
	return true
}

// statementBody is what a store keeps of a closed statement beside its
// totals.
type statementBody struct {
	Fees      []FeeLine  `json:"fees"`
	Lines     []Line     `json:"lines"`
	Subtotals []Subtotal `json:"subtotals"`
}

// EncodeStatementBody returns the JSON a store keeps of st's fees, lines
// and subtotals.
func EncodeStatementBody(st Statement) ([]byte, error) {
	return json.Marshal(statementBody{Fees: st.Fees, Lines: st.Lines, Subtotals: st.Subtotals})
}

// DecodeStatementBody completes st, read from a store with its totals,
// from its stored body: a closed statement, closed at closedAt.
func DecodeStatementBody(st Statement, body []byte, closedAt time.Time) (Statement, error) {
	var b statementBody
	if err := json.Unmarshal(body, &b); err != nil {
		return st, fmt.Errorf("statement of tenant %d for %s: %w", st.TenantID, st.Month, err)
	}
	st.Fees, st.Lines, st.Subtotals = b.Fees, b.Lines, b.Subtotals
	if st.Fees == nil {
		st.Fees = []FeeLine{}
	}
	if st.Lines == nil {
		st.Lines = []Line{}
	}
	if st.Subtotals == nil {
		st.Subtotals = []Subtotal{}
	}
	st.Status, st.ClosedAt = StatusClosed, closedAt
	return st, nil
}

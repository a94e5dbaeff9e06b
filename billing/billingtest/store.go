// Package billingtest holds the contract suite that every billing.Store
// must pass, and the hand-computed statement fixture it is proven with.
package billingtest

import (
	"bytes"
	"encoding/csv"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"conversa/billing"
	"conversa/conversation"
)

// FileCase files a case of the tenant on channel at the instant at, as the
// case service would (the suite cannot import handoff, a sibling).
type FileCase func(t *testing.T, tenantID int64, channel string, at time.Time)

// NewStore returns an empty store of its own: the conversation.Store that
// holds the tenants and jobs, the billing.Store under test (usually the
// same value), and how to file a case in it.
type NewStore func(t *testing.T) (conversation.Store, billing.Store, FileCase)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code, what string) {
	t.Helper()
	if got := conversation.ErrorCode(err); got != code {
		t.Errorf("%s: %v (code %q), want %s", what, err, got, code)
	}
}

func tenant(t *testing.T, cs conversation.Store, slug string) int64 {
	t.Helper()
	tn := conversation.Tenant{Slug: slug, Name: slug}
	must(t, tn.Validate())
	tn, err := cs.CreateTenant(t.Context(), tn)
	must(t, err)
	return tn.ID
}

// Bogota is the billing zone of the fixture (UTC-5 all year).
var Bogota = func() *time.Location {
	loc, err := time.LoadLocation("America/Bogota")
	if err != nil {
		panic(err)
	}
	return loc
}()

func bog(month time.Month, day, hour, minute, sec int) time.Time {
	return time.Date(2026, month, day, hour, minute, sec, 0, Bogota)
}

// TestStore runs the billing.Store contract and the statement fixture
// through billing.Service over the store.
func TestStore(t *testing.T, newStore NewStore) {
	t.Run("TermsAndIsolation", func(t *testing.T) {
		t.Parallel()
		testTerms(t, newStore)
	})
	t.Run("Statement", func(t *testing.T) {
		t.Parallel()
		testStatement(t, newStore)
	})
	t.Run("ConcurrentOverlap", func(t *testing.T) {
		t.Parallel()
		testConcurrentOverlap(t, newStore)
	})
}

func testTerms(t *testing.T, newStore NewStore) {
	cs, s, _ := newStore(t)
	ctx := t.Context()
	acme, other := tenant(t, cs, "acme"), tenant(t, cs, "other")

	in := billing.Plan{Name: "Básico", Currency: "COP", MonthlyFee: 3_100_000, DefaultPrice: 1000,
		Prices: map[conversation.ChannelKind]int64{conversation.ChannelWhatsApp: 2000}}
	p, err := s.CreatePlan(ctx, in)
	must(t, err)
	if p.ID == 0 || p.CreatedAt.IsZero() || !p.CreatedAt.Equal(p.UpdatedAt) {
		t.Fatalf("created %+v", p)
	}
	in.ID, in.CreatedAt, in.UpdatedAt = p.ID, p.CreatedAt, p.UpdatedAt
	if !reflect.DeepEqual(p, in) {
		t.Fatalf("stored\n%+v\nwant\n%+v", p, in)
	}
	if got, err := s.Plan(ctx, p.ID); err != nil || !reflect.DeepEqual(got, p) {
		t.Fatalf("read back %+v %v", got, err)
	}
	up := p
	up.Name, up.MonthlyFee, up.Prices = "Básico 2", 3_200_000, nil
	got, err := s.UpdatePlan(ctx, up)
	must(t, err)
	if got.Name != "Básico 2" || got.MonthlyFee != 3_200_000 || got.Prices != nil || got.Currency != "COP" {
		t.Fatalf("updated %+v", got)
	}
	up.Currency = "USD"
	_, err = s.UpdatePlan(ctx, up)
	wantCode(t, err, conversation.EINVALID, "change a plan's currency")
	up.ID = p.ID + 1000
	up.Currency = "COP"
	_, err = s.UpdatePlan(ctx, up)
	wantCode(t, err, conversation.ENOTFOUND, "update a missing plan")
	_, err = s.Plan(ctx, p.ID+1000)
	wantCode(t, err, conversation.ENOTFOUND, "read a missing plan")
	usd, err := s.CreatePlan(ctx, billing.Plan{Name: "Dollar", Currency: "USD", MonthlyFee: 10000, DefaultPrice: 100})
	must(t, err)
	if plans, err := s.ListPlans(ctx); err != nil || len(plans) != 2 || plans[0].ID != p.ID || plans[1].ID != usd.ID {
		t.Fatalf("plans %+v %v", plans, err)
	}

	sub, err := s.CreateSubscription(ctx, billing.Subscription{TenantID: acme, PlanID: p.ID, Range: billing.Range{ValidFrom: "2026-09-01", ValidTo: "2026-10-10"}})
	must(t, err)
	if sub.ID == 0 || sub.ValidTo != "2026-10-10" || sub.CreatedAt.IsZero() {
		t.Fatalf("subscription %+v", sub)
	}
	open, err := s.CreateSubscription(ctx, billing.Subscription{TenantID: acme, PlanID: p.ID, Range: billing.Range{ValidFrom: "2026-10-11"}})
	must(t, err)
	if open.ValidTo != "" {
		t.Fatalf("open-ended subscription read back with valid_to %q", open.ValidTo)
	}
	// Overlaps, by one day at either end, and a currency not the tenant's:
	// refused, nothing stored.
	for _, r := range []billing.Range{{ValidFrom: "2026-10-10", ValidTo: "2026-10-10"}, {ValidFrom: "2026-08-01", ValidTo: "2026-09-01"}, {ValidFrom: "2027-01-01"}} {
		_, err = s.CreateSubscription(ctx, billing.Subscription{TenantID: acme, PlanID: p.ID, Range: r})
		wantCode(t, err, conversation.EINVALID, "an overlapping subscription "+r.String())
	}
	_, err = s.CreateSubscription(ctx, billing.Subscription{TenantID: acme, PlanID: usd.ID, Range: billing.Range{ValidFrom: "2026-01-01", ValidTo: "2026-01-31"}})
	wantCode(t, err, conversation.EINVALID, "a subscription in another currency")
	_, err = s.CreateSubscription(ctx, billing.Subscription{TenantID: acme, PlanID: p.ID + 1000, Range: billing.Range{ValidFrom: "2020-01-01", ValidTo: "2020-01-31"}})
	wantCode(t, err, conversation.ENOTFOUND, "a subscription to a missing plan")
	_, err = s.CreateSubscription(ctx, billing.Subscription{TenantID: other + 1000, PlanID: p.ID, Range: billing.Range{ValidFrom: "2020-01-01"}})
	wantCode(t, err, conversation.ENOTFOUND, "a subscription of a missing tenant")

	rate, err := s.CreateRate(ctx, billing.Rate{TenantID: acme, Channel: conversation.ChannelWhatsApp, Price: 1200, Currency: "COP",
		Range: billing.Range{ValidFrom: "2026-10-20", ValidTo: "2026-11-30"}})
	must(t, err)
	_, err = s.CreateRate(ctx, billing.Rate{TenantID: acme, Channel: conversation.ChannelWhatsApp, Price: 1100, Currency: "COP",
		Range: billing.Range{ValidFrom: "2026-11-30"}})
	wantCode(t, err, conversation.EINVALID, "an overlapping rate")
	_, err = s.CreateRate(ctx, billing.Rate{TenantID: acme, Channel: conversation.ChannelEmail, Price: 100, Currency: "USD",
		Range: billing.Range{ValidFrom: "2026-10-01"}})
	wantCode(t, err, conversation.EINVALID, "a rate in another currency")
	// Another channel's rate over the same days is fine.
	email, err := s.CreateRate(ctx, billing.Rate{TenantID: acme, Channel: conversation.ChannelEmail, Price: 300, Currency: "COP",
		Range: billing.Range{ValidFrom: "2026-10-20", ValidTo: "2026-11-30"}})
	must(t, err)
	_, err = s.CreateRate(ctx, billing.Rate{TenantID: other + 1000, Channel: conversation.ChannelEmail, Price: 300, Currency: "COP",
		Range: billing.Range{ValidFrom: "2026-10-20"}})
	wantCode(t, err, conversation.ENOTFOUND, "a rate of a missing tenant")

	terms, err := s.Terms(ctx, acme)
	must(t, err)
	if len(terms.Subscriptions) != 2 || terms.Subscriptions[0].ID != sub.ID || terms.Subscriptions[1].ID != open.ID ||
		len(terms.Plans) != 1 || terms.Plans[p.ID].Name != "Básico 2" ||
		len(terms.Rates) != 2 || terms.Rates[0].ID != email.ID || terms.Rates[1].ID != rate.ID {
		t.Fatalf("terms %+v", terms)
	}
	if !reflect.DeepEqual(terms.Rates[1], rate) {
		t.Fatalf("rate read back %+v, want %+v", terms.Rates[1], rate)
	}

	// Another tenant sees and removes nothing of acme's.
	if tt, err := s.Terms(ctx, other); err != nil || len(tt.Subscriptions)+len(tt.Rates)+len(tt.Plans) != 0 {
		t.Errorf("another tenant's terms %+v %v", tt, err)
	}
	wantCode(t, s.DeleteSubscription(ctx, other, sub.ID), conversation.ENOTFOUND, "delete another tenant's subscription")
	wantCode(t, s.DeleteRate(ctx, other, rate.ID), conversation.ENOTFOUND, "delete another tenant's rate")
	if ids, err := s.BilledTenants(ctx); err != nil || !reflect.DeepEqual(ids, []int64{acme}) {
		t.Errorf("billed tenants %v %v, want [%d]", ids, err, acme)
	}
	must(t, s.DeleteRate(ctx, acme, email.ID))
	wantCode(t, s.DeleteRate(ctx, acme, email.ID), conversation.ENOTFOUND, "delete a rate twice")
	must(t, s.DeleteSubscription(ctx, acme, open.ID))
	if terms, err = s.Terms(ctx, acme); err != nil || len(terms.Subscriptions) != 1 || len(terms.Rates) != 1 {
		t.Fatalf("terms after deletes %+v %v", terms, err)
	}

	// Closed statements: stored once, never again, never another tenant's.
	st := billing.Statement{TenantID: acme, Month: "2026-09", Zone: "America/Bogota", Currency: "COP", Status: billing.StatusClosed,
		ClosedAt: time.Date(2026, 10, 4, 5, 0, 0, 123000, time.UTC), Fees: []billing.FeeLine{{PlanID: p.ID, Plan: "Básico", From: "2026-09-01", To: "2026-09-30",
			Days: 30, MonthDays: 30, MonthlyFee: 3_100_000, Amount: 3_100_000}},
		Lines:     []billing.Line{{Channel: "whatsapp", UnitPrice: 2000, Source: billing.SourcePlan, SourceID: p.ID, From: "2026-09-01", To: "2026-09-30", Cases: 2, Amount: 4000}},
		Subtotals: []billing.Subtotal{{Channel: "whatsapp", Cases: 2, Amount: 4000}}, FeeTotal: 3_100_000, UsageTotal: 4000, Total: 3_104_000}
	stored, err := s.InsertStatement(ctx, st)
	must(t, err)
	if !reflect.DeepEqual(stored, st) {
		t.Fatalf("stored statement\n%+v\nwant\n%+v", stored, st)
	}
	again := st
	again.Total = 1
	_, err = s.InsertStatement(ctx, again)
	wantCode(t, err, conversation.ECONFLICT, "close a month twice")
	if got, err := s.ClosedStatement(ctx, acme, "2026-09"); err != nil || !reflect.DeepEqual(got, st) {
		t.Fatalf("read back %+v %v", got, err)
	}
	_, err = s.ClosedStatement(ctx, other, "2026-09")
	wantCode(t, err, conversation.ENOTFOUND, "read another tenant's statement")
	_, err = s.ClosedStatement(ctx, acme, "2026-08")
	wantCode(t, err, conversation.ENOTFOUND, "read a statement never closed")
	if ms, err := s.ClosedMonths(ctx, acme); err != nil || !reflect.DeepEqual(ms, []string{"2026-09"}) {
		t.Fatalf("closed months %v %v", ms, err)
	}
	if ms, err := s.ClosedMonths(ctx, other); err != nil || len(ms) != 0 {
		t.Fatalf("another tenant's closed months %v %v", ms, err)
	}
	foreign := st
	foreign.TenantID = other + 1000
	_, err = s.InsertStatement(ctx, foreign)
	wantCode(t, err, conversation.ENOTFOUND, "close a missing tenant's statement")
}

func testConcurrentOverlap(t *testing.T, newStore NewStore) {
	cs, s, _ := newStore(t)
	acme := tenant(t, cs, "acme")
	const n = 6
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.CreateRate(t.Context(), billing.Rate{TenantID: acme, Channel: conversation.ChannelSMS, Price: int64(100 + i),
				Currency: "COP", Range: billing.Range{ValidFrom: "2026-10-01", ValidTo: "2026-10-31"}})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch conversation.ErrorCode(err) {
		case "":
			ok++
		case conversation.EINVALID:
		default:
			t.Errorf("concurrent rate: %v", err)
		}
	}
	terms, err := s.Terms(t.Context(), acme)
	must(t, err)
	if ok != 1 || len(terms.Rates) != 1 {
		t.Fatalf("%d of %d overlapping rates stored at once (%d kept), want 1", ok, n, len(terms.Rates))
	}
}

// Fixture is the hand-computed statement of October 2026 in Bogotá.
//
// Plans: Básico, COP, fee 31,000.00 a month, whatsapp 20.00, else 10.00
// (email 5.00); Pro, COP, fee 62,000.01, whatsapp 15.00, else 8.00.
// acme is on Básico from September 1 to October 10 (10 of 31 days: fee
// 3,100,000 × 10 / 31 = 1,000,000 cents) and on Pro from October 11 on
// (21 days: 6,200,001 × 21 / 31 = 4,200,000.68, rounded 4,200,001). A rate
// of 12.00 on whatsapp starts October 20.
//
// Cases (Bogotá time):
//
//	webchat   Oct 1 00:00:00 (the month's first instant)  Básico 1000
//	webchat   Oct 3                                       Básico 1000
//	whatsapp  Oct 5                                       Básico 2000
//	email     Oct 10 23:59:59                             Básico  500
//	email     Oct 11 00:00:00                             Pro      800
//	webchat   Oct 12                                      Pro      800
//	whatsapp  Oct 15 ×2                                   Pro     1500
//	whatsapp  Oct 20 00:00:00 (the rate's first instant)  rate    1200
//	whatsapp  Oct 25                                      rate    1200
//	email     Oct 28                                      Pro      800
//
// and outside the month: Sep 30 23:59:59 and Nov 1 00:00:00 (whatsapp),
// and another tenant's webchat case of October 5.
func testStatement(t *testing.T, newStore NewStore) {
	cs, s, file := newStore(t)
	ctx := t.Context()
	acme, other := tenant(t, cs, "acme"), tenant(t, cs, "other")
	clock := bog(time.November, 5, 12, 0, 0)
	svc, err := billing.New(s, cs, billing.Config{Location: Bogota, Now: func() time.Time { return clock }})
	must(t, err)

	basico, err := svc.CreatePlan(ctx, billing.Plan{Name: "Básico", Currency: "COP", MonthlyFee: 3_100_000, DefaultPrice: 1000,
		Prices: map[conversation.ChannelKind]int64{conversation.ChannelWhatsApp: 2000, conversation.ChannelEmail: 500}})
	must(t, err)
	pro, err := svc.CreatePlan(ctx, billing.Plan{Name: "Pro", Currency: "COP", MonthlyFee: 6_200_001, DefaultPrice: 800,
		Prices: map[conversation.ChannelKind]int64{conversation.ChannelWhatsApp: 1500}})
	must(t, err)
	_, err = svc.Subscribe(ctx, billing.Subscription{TenantID: acme, PlanID: basico.ID, Range: billing.Range{ValidFrom: "2026-09-01", ValidTo: "2026-10-10"}})
	must(t, err)
	_, err = svc.Subscribe(ctx, billing.Subscription{TenantID: acme, PlanID: pro.ID, Range: billing.Range{ValidFrom: "2026-10-11"}})
	must(t, err)
	rate, err := svc.CreateRate(ctx, billing.Rate{TenantID: acme, Channel: conversation.ChannelWhatsApp, Price: 1200, Currency: "COP",
		Range: billing.Range{ValidFrom: "2026-10-20", ValidTo: "2026-11-30"}})
	must(t, err)

	for _, c := range []struct {
		ch string
		at time.Time
	}{
		{"webchat", bog(time.October, 1, 0, 0, 0)},
		{"webchat", bog(time.October, 3, 9, 0, 0)},
		{"whatsapp", bog(time.October, 5, 9, 0, 0)},
		{"email", bog(time.October, 10, 23, 59, 59)},
		{"email", bog(time.October, 11, 0, 0, 0)},
		{"webchat", bog(time.October, 12, 9, 0, 0)},
		{"whatsapp", bog(time.October, 15, 9, 0, 0)},
		{"whatsapp", bog(time.October, 15, 18, 0, 0)},
		{"whatsapp", bog(time.October, 20, 0, 0, 0)},
		{"whatsapp", bog(time.October, 25, 9, 0, 0)},
		{"email", bog(time.October, 28, 9, 0, 0)},
		{"whatsapp", bog(time.September, 30, 23, 59, 59)},
		{"whatsapp", bog(time.November, 1, 0, 0, 0)},
	} {
		file(t, acme, c.ch, c.at)
	}
	file(t, other, "webchat", bog(time.October, 5, 9, 0, 0))

	want := billing.Statement{TenantID: acme, Month: "2026-10", Zone: "America/Bogota", Currency: "COP", Status: billing.StatusOpen,
		Fees: []billing.FeeLine{
			{PlanID: basico.ID, Plan: "Básico", From: "2026-10-01", To: "2026-10-10", Days: 10, MonthDays: 31, MonthlyFee: 3_100_000, Amount: 1_000_000},
			{PlanID: pro.ID, Plan: "Pro", From: "2026-10-11", To: "2026-10-31", Days: 21, MonthDays: 31, MonthlyFee: 6_200_001, Amount: 4_200_001},
		},
		Lines: []billing.Line{
			{Channel: "email", UnitPrice: 500, Source: billing.SourcePlan, SourceID: basico.ID, From: "2026-10-01", To: "2026-10-10", Cases: 1, Amount: 500},
			{Channel: "email", UnitPrice: 800, Source: billing.SourcePlan, SourceID: pro.ID, From: "2026-10-11", To: "2026-10-31", Cases: 2, Amount: 1600},
			{Channel: "webchat", UnitPrice: 1000, Source: billing.SourcePlan, SourceID: basico.ID, From: "2026-10-01", To: "2026-10-10", Cases: 2, Amount: 2000},
			{Channel: "webchat", UnitPrice: 800, Source: billing.SourcePlan, SourceID: pro.ID, From: "2026-10-11", To: "2026-10-19", Cases: 1, Amount: 800},
			{Channel: "whatsapp", UnitPrice: 2000, Source: billing.SourcePlan, SourceID: basico.ID, From: "2026-10-01", To: "2026-10-10", Cases: 1, Amount: 2000},
			{Channel: "whatsapp", UnitPrice: 1500, Source: billing.SourcePlan, SourceID: pro.ID, From: "2026-10-11", To: "2026-10-19", Cases: 2, Amount: 3000},
			{Channel: "whatsapp", UnitPrice: 1200, Source: billing.SourceRate, SourceID: rate.ID, From: "2026-10-20", To: "2026-10-31", Cases: 2, Amount: 2400},
		},
		Subtotals: []billing.Subtotal{{Channel: "email", Cases: 3, Amount: 2100}, {Channel: "webchat", Cases: 3, Amount: 2800}, {Channel: "whatsapp", Cases: 5, Amount: 7400}},
		FeeTotal:  5_200_001, UsageTotal: 12_300, Total: 5_212_301,
	}
	got, err := svc.Statement(ctx, acme, "2026-10")
	must(t, err)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("open statement\n%+v\nwant\n%+v", got, want)
	}
	usage, err := svc.Usage(ctx, acme, "2026-10")
	must(t, err)
	if usage.Cases != 11 || !reflect.DeepEqual(usage.ByChannel, []billing.ChannelCount{{Channel: "email", Count: 3}, {Channel: "webchat", Count: 3}, {Channel: "whatsapp", Count: 5}}) {
		t.Fatalf("usage %+v", usage)
	}

	// The CSV: amounts in pesos with two decimals, beside the currency.
	var buf bytes.Buffer
	must(t, billing.WriteCSV(&buf, got))
	rows, err := csv.NewReader(&buf).ReadAll()
	must(t, err)
	find := func(kind, channel, unit string) []string {
		for _, r := range rows {
			if r[5] == kind && r[6] == channel && (unit == "" || r[11] == unit) {
				return r
			}
		}
		t.Fatalf("no CSV row %s %s %s in\n%v", kind, channel, unit, rows)
		return nil
	}
	if r := find("fee", "", "62000.01"); r[12] != "42000.01" || r[4] != "COP" || r[10] != "21" {
		t.Errorf("Pro's fee row %q", r)
	}
	if r := find("pqr", "whatsapp", "12.00"); r[12] != "24.00" || r[10] != "2" || r[8] != "2026-10-20" {
		t.Errorf("the rate's row %q", r)
	}
	if r := find("subtotal", "email", ""); r[12] != "21.00" || r[10] != "3" {
		t.Errorf("email's subtotal row %q", r)
	}
	if r := find("total", "", ""); r[12] != "52123.01" || r[1] != "2026-10" {
		t.Errorf("total row %q", r)
	}
	if len(rows) != 1+2+7+3+3 {
		t.Errorf("%d CSV rows, want 16", len(rows))
	}

	// Months that have not begun or ended, and malformed ones.
	_, err = svc.Statement(ctx, acme, "2026-12")
	wantCode(t, err, conversation.EINVALID, "the statement of a month not begun")
	_, _, err = svc.Close(ctx, acme, "2026-11")
	wantCode(t, err, conversation.EINVALID, "close a month not ended")
	for _, m := range []string{"2026-13", "26-10", "2026-1", "", "1999-12"} {
		_, err = svc.Statement(ctx, acme, m)
		wantCode(t, err, conversation.EINVALID, "statement of month "+m)
	}

	// Closing stores it as computed; afterwards late cases and plan
	// changes leave it as it is, while they change the open months.
	closed, did, err := svc.Close(ctx, acme, "2026-10")
	must(t, err)
	if !did || closed.Status != billing.StatusClosed || !closed.ClosedAt.Equal(clock.UTC()) {
		t.Fatalf("closed %v %+v", did, closed)
	}
	want.Status, want.ClosedAt = billing.StatusClosed, clock.UTC()
	if !reflect.DeepEqual(closed, want) {
		t.Fatalf("closed statement\n%+v\nwant\n%+v", closed, want)
	}
	file(t, acme, "whatsapp", bog(time.October, 16, 9, 0, 0))
	pro.MonthlyFee, pro.DefaultPrice = 9_900_000, 9999
	_, err = svc.UpdatePlan(ctx, pro)
	must(t, err)
	after, err := svc.Statement(ctx, acme, "2026-10")
	must(t, err)
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("the closed statement changed\n%+v\nwant\n%+v", after, want)
	}
	again, did, err := svc.Close(ctx, acme, "2026-10")
	must(t, err)
	if did || !reflect.DeepEqual(again, want) {
		t.Fatalf("closed twice: %v %+v", did, again)
	}
	_, err = s.InsertStatement(ctx, after)
	wantCode(t, err, conversation.ECONFLICT, "store a closed statement again")
	nov, err := svc.Statement(ctx, acme, "2026-11")
	must(t, err)
	// November so far: Pro all month (30 days, new fee), whatsapp at the rate
	// (the Nov 1 case), nothing else.
	if nov.Status != billing.StatusOpen || nov.FeeTotal != 9_900_000 || nov.UsageTotal != 1200 || nov.Total != 9_901_200 {
		t.Errorf("November %+v", nov)
	}

	// Another tenant's statement holds only its own cases: no terms, so
	// free, and no currency.
	ost, err := svc.Statement(ctx, other, "2026-10")
	must(t, err)
	if ost.Currency != "" || ost.Total != 0 || len(ost.Lines) != 1 || ost.Lines[0].Cases != 1 || ost.Lines[0].Source != billing.SourceNone {
		t.Errorf("the other tenant's statement %+v", ost)
	}

	// The operator's view of the month: every billed tenant (only acme
	// has terms); closing the month closes the rest, which here is none.
	all, err := svc.MonthStatements(ctx, "2026-10")
	must(t, err)
	if len(all) != 1 || !reflect.DeepEqual(all[0], want) {
		t.Errorf("month statements %+v", all)
	}
	list, err := svc.Statements(ctx, acme)
	must(t, err)
	if len(list) != 2 || list[0].Month != "2026-11" || list[1].Month != "2026-10" || list[1].Status != billing.StatusClosed {
		t.Errorf("acme's statements %+v", list)
	}

	// The close job closes the month for every billed tenant and
	// schedules the next month's.
	sub, err := svc.Subscribe(ctx, billing.Subscription{TenantID: other, PlanID: basico.ID, Range: billing.Range{ValidFrom: "2026-10-01", ValidTo: "2026-10-31"}})
	must(t, err)
	must(t, svc.CloseJob(ctx, conversation.Job{ID: 1, Kind: billing.JobClose, Payload: []byte("2026-10")}))
	ocl, err := s.ClosedStatement(ctx, other, "2026-10")
	must(t, err)
	if ocl.FeeTotal != 3_100_000 || ocl.UsageTotal != 1000 || ocl.Fees[0].PlanID != sub.PlanID {
		t.Errorf("the job's statement of the other tenant %+v", ocl)
	}
	counts, err := cs.JobCounts(ctx)
	must(t, err)
	scheduled := 0
	for _, c := range counts {
		if c.Kind == billing.JobClose {
			scheduled += c.Count
		}
	}
	if scheduled != 1 {
		t.Errorf("%d close jobs pending after the job, want 1 (November's): %+v", scheduled, counts)
	}
	err = svc.CloseJob(ctx, conversation.Job{ID: 2, Kind: billing.JobClose, Payload: []byte("october")})
	if je, ok := errors.AsType[*conversation.JobError](err); !ok || !je.Permanent {
		t.Errorf("a malformed job: %v", err)
	}
}

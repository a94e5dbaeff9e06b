package api

import (
	"testing"

	"conversa/billing"
	"conversa/conversation"
)

// refusedAsInvalid fails unless err is nil or EINVALID.
func refusedAsInvalid(t *testing.T, err error) bool {
	t.Helper()
	if err != nil && conversation.ErrorCode(err) != conversation.EINVALID {
		t.Fatalf("refused with %v, want EINVALID", err)
	}
	return err != nil
}

// FuzzDecodePlan checks the decoder of plans: what it accepts is valid
// (known currency, prices from 0 up, known channels); the rest EINVALID.
func FuzzDecodePlan(f *testing.F) {
	for _, s := range []string{
		`{"name":"Básico","currency":"COP","monthly_fee":3100000,"default_price":1000,"prices":{"whatsapp":2000}}`,
		`{"name":"x","currency":"XXX"}`,
		`{"name":"x","currency":"COP","monthly_fee":-1}`,
		`{"name":"x","currency":"COP","monthly_fee":1.5}`,
		`{"name":"x","currency":"COP","monthly_fee":1e30}`,
		`{"name":"x","currency":"COP","prices":{"fax":1}}`,
		`{"name":"   ","currency":"COP"}`,
		`[]`, `null`, ``, `{"name":"x","currency":"COP"}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := decodePlan(body)
		if refusedAsInvalid(t, err) {
			return
		}
		if p.Name == "" || !billing.ValidCurrency(p.Currency) || p.MonthlyFee < 0 || p.DefaultPrice < 0 || p.MonthlyFee > billing.MaxPrice {
			t.Fatalf("accepted %+v", p)
		}
		for ch, v := range p.Prices {
			if !ch.Valid() || v < 0 || v > billing.MaxPrice {
				t.Fatalf("accepted price %q %d", ch, v)
			}
		}
	})
}

// FuzzDecodeRate checks the decoder of negotiated rates and of
// subscriptions: what they accept has real dates in order, a known
// channel and currency, a price from 0 up, and the tenant of the path.
func FuzzDecodeRate(f *testing.F) {
	for _, s := range []string{
		`{"channel":"whatsapp","price":1200,"currency":"COP","valid_from":"2026-10-20","valid_to":"2026-11-30"}`,
		`{"channel":"whatsapp","price":1200,"currency":"COP","valid_from":"2026-10-20"}`,
		`{"channel":"whatsapp","price":1200,"currency":"COP","valid_from":"2026-02-30"}`,
		`{"channel":"whatsapp","price":1200,"currency":"COP","valid_from":"2026-10-20","valid_to":"2026-10-19"}`,
		`{"channel":"fax","price":-1,"currency":"usd","valid_from":"20261020"}`,
		`{"plan_id":3,"valid_from":"2026-10-01"}`,
		`{"plan_id":-3,"valid_from":"1999-10-01"}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ordered := func(r billing.Range) {
			from, err := billing.ParseDate("valid_from", r.ValidFrom)
			if err != nil {
				t.Fatalf("accepted valid_from %q", r.ValidFrom)
			}
			if r.ValidTo != "" {
				to, err := billing.ParseDate("valid_to", r.ValidTo)
				if err != nil || to.Before(from) {
					t.Fatalf("accepted %+v", r)
				}
			}
		}
		if r, err := decodeRate(body, 5); !refusedAsInvalid(t, err) {
			if r.TenantID != 5 || !r.Channel.Valid() || !billing.ValidCurrency(r.Currency) || r.Price < 0 || r.Price > billing.MaxPrice {
				t.Fatalf("accepted rate %+v", r)
			}
			ordered(r.Range)
		}
		if s, err := decodeSubscription(body, 5); !refusedAsInvalid(t, err) {
			if s.TenantID != 5 || s.PlanID <= 0 {
				t.Fatalf("accepted subscription %+v", s)
			}
			ordered(s.Range)
		}
	})
}

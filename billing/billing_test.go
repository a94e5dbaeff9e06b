package billing_test

import (
	"math"
	"testing"

	"conversa/billing"
	"conversa/conversation"
)

func TestFormatAmount(t *testing.T) {
	for _, c := range []struct {
		minor    int64
		currency string
		want     string
	}{
		{12345, "COP", "123.45"},
		{5, "USD", "0.05"},
		{-5, "USD", "-0.05"},
		{0, "EUR", "0.00"},
		{100, "EUR", "1.00"},
		{900, "CLP", "900"},
		{1234, "KWD", "1.234"},
		{7, "KWD", "0.007"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
		{math.MaxInt64, "JPY", "9223372036854775807"},
	} {
		if got := billing.FormatAmount(c.minor, c.currency); got != c.want {
			t.Errorf("FormatAmount(%d, %s) = %q, want %q", c.minor, c.currency, got, c.want)
		}
	}
}

func TestRanges(t *testing.T) {
	r := func(from, to string) billing.Range { return billing.Range{ValidFrom: from, ValidTo: to} }
	for _, c := range []struct {
		a, b billing.Range
		want bool
	}{
		{r("2026-10-01", "2026-10-10"), r("2026-10-10", "2026-10-20"), true}, // the ends are included
		{r("2026-10-01", "2026-10-10"), r("2026-10-11", ""), false},
		{r("2026-10-01", ""), r("2030-01-01", "2030-01-01"), true},
		{r("2026-10-05", "2026-10-06"), r("2026-10-01", "2026-10-31"), true},
	} {
		if c.a.Overlaps(c.b) != c.want || c.b.Overlaps(c.a) != c.want {
			t.Errorf("%v overlaps %v: want %v", c.a, c.b, c.want)
		}
	}
	for _, bad := range []billing.Range{r("", ""), r("2026-02-30", ""), r("2026-10-10", "2026-10-09"), r("1999-12-31", ""), r("2026-10-01", "tomorrow")} {
		if err := bad.Validate(); conversation.ErrorCode(err) != conversation.EINVALID {
			t.Errorf("%v validates: %v", bad, err)
		}
	}
	if err := (&billing.Range{ValidFrom: "2026-10-10", ValidTo: "2026-10-10"}).Validate(); err != nil {
		t.Errorf("a one-day range: %v", err)
	}
	for _, m := range []string{"2026-1", "2026-00", "2026-13", "1999-12", "2026-10-01", ""} {
		if _, err := billing.ParseMonth(m); conversation.ErrorField(err) != "month" {
			t.Errorf("month %q: %v", m, err)
		}
	}
}

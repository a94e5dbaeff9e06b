package billing

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
)

// csvHeader is the first row of a statements' CSV.
var csvHeader = []string{"tenant_id", "month", "zone", "status", "currency", "kind", "channel", "description",
	"from", "to", "quantity", "unit_price", "amount"}

// WriteCSV writes statements as CSV, one row per fee, line, channel
// subtotal and total, after a header. Amounts are decimal strings of the
// currency's units ("123.45" for 12345 COP cents), beside the currency.
func WriteCSV(w io.Writer, statements ...Statement) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, st := range statements {
		money := func(minor int64) string { return FormatAmount(minor, st.Currency) }
		row := func(kind, channel, desc, from, to, qty, unit string, amount int64) {
			cw.Write([]string{strconv.FormatInt(st.TenantID, 10), st.Month, st.Zone, string(st.Status), st.Currency,
				kind, cell(channel), cell(desc), from, to, qty, unit, money(amount)})
		}
		for _, f := range st.Fees {
			row("fee", "", "plan "+f.Plan+", "+strconv.Itoa(f.Days)+"/"+strconv.Itoa(f.MonthDays)+" days", f.From, f.To,
				strconv.Itoa(f.Days), money(f.MonthlyFee), f.Amount)
		}
		for _, l := range st.Lines {
			row("pqr", l.Channel, "PQRs at the "+l.Source+" price", l.From, l.To, strconv.FormatInt(l.Cases, 10), money(l.UnitPrice), l.Amount)
		}
		for _, sub := range st.Subtotals {
			row("subtotal", sub.Channel, "PQRs of the channel", "", "", strconv.FormatInt(sub.Cases, 10), "", sub.Amount)
		}
		row("fees", "", "plan fees", "", "", "", "", st.FeeTotal)
		row("usage", "", "PQRs", "", "", "", "", st.UsageTotal)
		row("total", "", "total", "", "", "", "", st.Total)
	}
	cw.Flush()
	return cw.Error()
}

// cell keeps text a spreadsheet would take for a formula (starting with =,
// +, -, @, tab or carriage return) text, with an apostrophe before it. A
// case's channel is whatever filed it.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

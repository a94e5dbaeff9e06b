package reports

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVHeader is the first row of WriteCSV's output.
var CSVHeader = []string{"section", "dimension", "key", "name", "metric", "value"}

// WriteCSV writes r as one CSV table in long form, a figure per row:
// section (report, summary, channel, hour, day, bot, handoff_reason,
// intent, unrecognized, first_response, resolution, cases, case_type,
// case_status, case_channel, csat, nps, failure), dimension (a timing's
// all, channel, queue or agent; a failure's channel), key (the channel,
// hour, day, intent, id, code), name (what to show for a queue or agent),
// metric and value. Durations are seconds with three decimals, rates
// percentages; a rate with nothing to divide by is an empty value. Text
// cells that a spreadsheet would take for a formula (starting with =, +,
// -, @, a tab or a carriage return) are prefixed with a quote ('); the
// numbers written as values never are.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	row := func(section, dimension, key, name, metric, value string) {
		cw.Write([]string{section, CSVCell(dimension), CSVCell(key), CSVCell(name), metric, value})
	}
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	rate := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', 1, 64)
	}
	secs := func(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

	cw.Write(CSVHeader)
	row("report", "", "", "", "tenant_id", num(r.TenantID))
	row("report", "", "", "", "from", r.From.Format(time.RFC3339))
	row("report", "", "", "", "to", r.To.Format(time.RFC3339))
	row("report", "", "", "", "zone", r.Zone)
	row("report", "", "", "", "generated", r.Generated.Format(time.RFC3339))
	row("summary", "", "", "", "conversations", num(r.Conversations))
	row("summary", "", "", "", "messages_in", num(r.MessagesIn))
	row("summary", "", "", "", "messages_out", num(r.MessagesOut))
	for _, c := range r.ByChannel {
		k := string(c.Channel)
		row("channel", "", k, "", "conversations", num(c.Conversations))
		row("channel", "", k, "", "messages_in", num(c.MessagesIn))
		row("channel", "", k, "", "messages_out", num(c.MessagesOut))
	}
	for _, h := range r.ByHour {
		k := strconv.Itoa(h.Hour)
		row("hour", "", k, "", "conversations", num(h.Conversations))
		row("hour", "", k, "", "messages_in", num(h.MessagesIn))
		row("hour", "", k, "", "messages_out", num(h.MessagesOut))
	}
	for _, d := range r.ByDay {
		row("day", "", d.Day, "", "conversations", num(d.Conversations))
		row("day", "", d.Day, "", "messages_in", num(d.MessagesIn))
		row("day", "", d.Day, "", "messages_out", num(d.MessagesOut))
		row("day", "", d.Day, "", "handoffs", num(d.Handoffs))
		row("day", "", d.Day, "", "cases", num(d.Cases))
	}
	b := r.Bot
	row("bot", "", "", "", "closed", num(b.Closed))
	row("bot", "", "", "", "contained", num(b.Contained))
	row("bot", "", "", "", "containment_rate", rate(b.ContainmentRate))
	row("bot", "", "", "", "handoffs", num(b.Handoffs))
	row("bot", "", "", "", "handoff_rate", rate(b.HandoffRate))
	counts := func(section string, list []Count) {
		for _, c := range list {
			row(section, "", c.Key, "", "count", num(c.Count))
		}
	}
	counts("handoff_reason", b.HandoffReasons)
	counts("intent", b.TopIntents)
	counts("unrecognized", b.TopUnrecognized)
	timings := func(section string, list []Timing) {
		for _, t := range list {
			row(section, t.Dimension, t.Key, t.Name, "count", num(t.Count))
			row(section, t.Dimension, t.Key, t.Name, "median_seconds", secs(t.Median))
			row(section, t.Dimension, t.Key, t.Name, "p90_seconds", secs(t.P90))
		}
	}
	timings("first_response", r.FirstResponse)
	timings("resolution", r.Resolution)
	c := r.Cases
	row("cases", "", "", "", "filed", num(c.Filed))
	row("cases", "", "", "", "due", num(c.Due))
	row("cases", "", "", "", "on_time", num(c.OnTime))
	row("cases", "", "", "", "sla_compliance", rate(c.SLACompliance))
	row("cases", "", "", "", "overdue", num(c.Overdue))
	counts("case_type", c.ByType)
	counts("case_status", c.ByStatus)
	counts("case_channel", c.ByChannel)
	for _, s := range []struct {
		name string
		f    SurveyFigures
	}{{"csat", r.CSAT}, {"nps", r.NPS}} {
		row(s.name, "", "", "", "sent", num(s.f.Sent))
		row(s.name, "", "", "", "answered", num(s.f.Answered))
		row(s.name, "", "", "", "score", rate(s.f.Score))
	}
	for _, f := range r.Failures {
		row("failure", string(f.Channel), f.Code, "", "count", num(f.Count))
	}
	cw.Flush()
	return cw.Error()
}

// CSVCell guards a text cell against formula injection: a value starting
// with =, +, -, @, a tab or a carriage return gets a leading quote, so a
// spreadsheet shows it as text instead of running it.
func CSVCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

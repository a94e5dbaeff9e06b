package console

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/reports"
)

func pct(v float64) *float64 { return &v }

// handReport has a value in every section, some of them text a customer
// wrote.
func handReport() reports.Report {
	bogota := time.FixedZone("COT", -5*3600)
	r := reports.Report{
		TenantID: 7, From: time.Date(2026, 11, 1, 0, 0, 0, 0, bogota), To: time.Date(2026, 12, 1, 0, 0, 0, 0, bogota),
		Zone: "America/Bogota", Generated: time.Date(2026, 12, 1, 13, 0, 0, 0, time.UTC),
		Conversations: 1234, MessagesIn: 5678, MessagesOut: 4321,
		ByChannel: []reports.ChannelFigures{{Channel: conversation.ChannelWhatsApp, Conversations: 1000, MessagesIn: 5000, MessagesOut: 4000},
			{Channel: conversation.ChannelWebchat, Conversations: 234, MessagesIn: 678, MessagesOut: 321}},
		ByDay: []reports.DayFigures{{Day: "2026-11-02", Conversations: 40, Handoffs: 4, Cases: 1}},
		Bot: reports.BotFigures{Closed: 900, Contained: 630, ContainmentRate: pct(70), Handoffs: 270, HandoffRate: pct(21.9),
			HandoffReasons:  []reports.Count{{Key: "negative_sentiment", Count: 170}},
			TopIntents:      []reports.Count{{Key: "order_status", Count: 777}},
			TopUnrecognized: []reports.Count{{Key: `<script>alert("x")</script>`, Count: 31}}},
		FirstResponse: []reports.Timing{{Dimension: "all", Key: "all", Count: 270, Median: 90 * time.Second, P90: 7 * time.Minute},
			{Dimension: "queue", Key: "3", Name: "Ventas Norte", Count: 100, Median: 2 * time.Minute, P90: 9 * time.Minute}},
		Resolution: []reports.Timing{{Dimension: "agent", Key: "5", Name: "Ana Agente", Count: 80, Median: 3 * time.Hour, P90: 26 * time.Hour}},
		Cases: reports.CaseFigures{Filed: 55, ByType: []reports.Count{{Key: "queja", Count: 33}}, ByStatus: []reports.Count{{Key: "en_tramite", Count: 21}},
			ByChannel: []reports.Count{{Key: "whatsapp", Count: 44}}, Due: 40, OnTime: 36, SLACompliance: pct(90), Overdue: 3},
		CSAT:     reports.SurveyFigures{Sent: 300, Answered: 120, Score: pct(83.3)},
		NPS:      reports.SurveyFigures{Sent: 200, Answered: 90, Score: pct(-12.5)},
		Failures: []reports.Failure{{Channel: conversation.ChannelWhatsApp, Code: "63016", Count: 12}},
	}
	for h := range 24 {
		r.ByHour = append(r.ByHour, reports.HourFigures{Hour: h, Conversations: int64(h), MessagesIn: int64(2 * h)})
	}
	return r
}

func renderReport(t *testing.T, r reports.Report, scoped bool) string {
	t.Helper()
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pages["reports"].Execute(&buf, page{Lang: "en", Name: "reports", Data: reportPage(r, "en", scoped)}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestReportPageRendersEverySection renders a report built by hand: every
// figure shows, text is escaped, three charts are drawn.
func TestReportPageRendersEverySection(t *testing.T) {
	page := renderReport(t, handReport(), false)
	for _, want := range []string{
		"Report: 2026-11-01 – 2026-11-30", "America/Bogota", "2026-12-01 08:00",
		`value="2026-11-01"`, `value="2026-11-30"`, `/console/reports.csv?from=2026-11-01&amp;to=2026-11-30`,
		"<dd>1234</dd>", "<dd>5678</dd>", "<dd>4321</dd>", "<td>whatsapp</td>", ">5000<",
		"<dd>900</dd>", "<dd>630</dd>", "70.0 %", "<dd>270</dd>", "21.9 %",
		"negative_sentiment", ">170<", "order_status", ">777<", "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", ">31<",
		"Ventas Norte", "1m30s", "7m0s", "2m0s", "9m0s", "Ana Agente", "3h0m0s", "26h0m0s",
		"<dd>55</dd>", "queja", ">33<", "en_tramite", ">21<", ">44<", "<dd>40</dd>", "<dd>36</dd>", "90.0 %", "<dd>3</dd>",
		"83.3 %", ">300<", ">120<", "-12.5", ">200<", ">90<",
		"63016", ">12<",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the report page has no %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("an unrecognized message is not escaped")
	}
	if n := strings.Count(page, "<svg"); n != 3 {
		t.Errorf("%d charts, want by hour, by day and by channel", n)
	}
	for _, id := range []string{"rep-summary", "rep-bot", "rep-handoffs", "rep-timings", "rep-cases", "rep-surveys", "rep-failures"} {
		if strings.Count(page, `id="`+id+`"`) != 1 || !strings.Contains(page, `class="section" id="`+id+`"`) {
			t.Errorf("section %s missing or not a printable section", id)
		}
	}

	// A supervisor's report has no tenant-wide sections.
	scoped := renderReport(t, reports.Report{From: handReport().From, To: handReport().To, Zone: "UTC",
		Bot: reports.BotFigures{Handoffs: 4, HandoffReasons: []reports.Count{{Key: "fallback", Count: 4}}}}, true)
	for _, id := range []string{"rep-summary", "rep-bot", "rep-surveys", "rep-failures"} {
		if strings.Contains(scoped, `id="`+id+`"`) {
			t.Errorf("a supervisor's report shows %s", id)
		}
	}
	if !strings.Contains(scoped, "fallback") || !strings.Contains(scoped, "<b>4</b>") {
		t.Error("a supervisor's report lacks their teams' handoffs")
	}
}

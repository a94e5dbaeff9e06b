package reports_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/reports"
)

func asError(err error, target **conversation.Error) bool { return errors.As(err, target) }

func pct(v float64) *float64 { return &v }

// sampleReport has a value in every section, and text that a spreadsheet
// would run as a formula.
func sampleReport() reports.Report {
	bogota := time.FixedZone("COT", -5*3600)
	return reports.Report{
		TenantID: 7, From: time.Date(2026, 11, 1, 0, 0, 0, 0, bogota), To: time.Date(2026, 12, 1, 0, 0, 0, 0, bogota),
		Zone: "America/Bogota", Generated: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC),
		Conversations: 12, MessagesIn: 40, MessagesOut: 38,
		ByChannel: []reports.ChannelFigures{{Channel: conversation.ChannelWhatsApp, Conversations: 8, MessagesIn: 30, MessagesOut: 28}, {Channel: conversation.ChannelWebchat, Conversations: 4, MessagesIn: 10, MessagesOut: 10}},
		ByHour:    []reports.HourFigures{{Hour: 9, Conversations: 5, MessagesIn: 20, MessagesOut: 19}},
		ByDay:     []reports.DayFigures{{Day: "2026-11-02", Conversations: 12, MessagesIn: 40, MessagesOut: 38, Handoffs: 3, Cases: 2}},
		Bot: reports.BotFigures{Closed: 10, Contained: 7, ContainmentRate: pct(70), Handoffs: 3, HandoffRate: pct(25),
			HandoffReasons:  []reports.Count{{Key: "asked_for_agent", Count: 2}, {Key: "fallback", Count: 1}},
			TopIntents:      []reports.Count{{Key: "order_status", Count: 9}},
			TopUnrecognized: []reports.Count{{Key: "=HYPERLINK(\"http://evil\",\"x\")", Count: 2}, {Key: "-1+1", Count: 1}, {Key: "hola, \"amigo\"\nqué tal", Count: 1}}},
		FirstResponse: []reports.Timing{{Dimension: "queue", Key: "3", Name: "@ventas", Count: 3, Median: 90 * time.Second, P90: 1500 * time.Millisecond}},
		Resolution:    []reports.Timing{{Dimension: "agent", Key: "5", Name: "+Ana", Count: 2, Median: time.Hour, P90: 2 * time.Hour}},
		Cases: reports.CaseFigures{Filed: 2, ByType: []reports.Count{{Key: "queja", Count: 2}}, ByStatus: []reports.Count{{Key: "radicado", Count: 1}},
			ByChannel: []reports.Count{{Key: "whatsapp", Count: 2}}, Due: 2, OnTime: 1, SLACompliance: pct(50), Overdue: 1},
		CSAT:     reports.SurveyFigures{Sent: 4, Answered: 2, Score: pct(50)},
		NPS:      reports.SurveyFigures{Sent: 3, Answered: 0},
		Failures: []reports.Failure{{Channel: conversation.ChannelWhatsApp, Code: "63016", Count: 2}},
	}
}

func TestWriteCSV(t *testing.T) {
	var buf bytes.Buffer
	if err := reports.WriteCSV(&buf, sampleReport()); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("the output is not CSV: %v\n%s", err, buf.String())
	}
	if !slices.Equal(rows[0], reports.CSVHeader) {
		t.Fatalf("header %q", rows[0])
	}
	has := func(want ...string) {
		t.Helper()
		if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, want) }) {
			t.Errorf("no row %q", want)
		}
	}
	has("report", "", "", "", "from", "2026-11-01T00:00:00-05:00")
	has("report", "", "", "", "to", "2026-12-01T00:00:00-05:00")
	has("summary", "", "", "", "conversations", "12")
	has("channel", "", "whatsapp", "", "messages_in", "30")
	has("hour", "", "9", "", "messages_out", "19")
	has("day", "", "2026-11-02", "", "handoffs", "3")
	has("bot", "", "", "", "containment_rate", "70.0")
	has("handoff_reason", "", "fallback", "", "count", "1")
	has("intent", "", "order_status", "", "count", "9")
	has("unrecognized", "", "'=HYPERLINK(\"http://evil\",\"x\")", "", "count", "2")
	has("unrecognized", "", "'-1+1", "", "count", "1")
	has("unrecognized", "", "hola, \"amigo\"\nqué tal", "", "count", "1")
	has("first_response", "queue", "3", "'@ventas", "median_seconds", "90.000")
	has("first_response", "queue", "3", "'@ventas", "p90_seconds", "1.500")
	has("resolution", "agent", "5", "'+Ana", "count", "2")
	has("cases", "", "", "", "sla_compliance", "50.0")
	has("cases", "", "", "", "overdue", "1")
	has("case_type", "", "queja", "", "count", "2")
	has("csat", "", "", "", "score", "50.0")
	has("nps", "", "", "", "score", "") // nothing to divide by
	has("failure", "whatsapp", "63016", "", "count", "2")
	for _, r := range rows {
		if len(r) != len(reports.CSVHeader) {
			t.Errorf("row %q has %d cells", r, len(r))
		}
	}
}

func TestCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"": "", "hola": "hola", "=1+1": "'=1+1", "+57": "'+57", "-x": "'-x", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx", "a=b": "a=b", "'x": "'x",
	} {
		if got := reports.CSVCell(in); got != want {
			t.Errorf("CSVCell(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzWriteCSV checks that whatever customers write (unrecognized
// messages) and names hold, the CSV parses back to the same text, guarded,
// in its cell.
func FuzzWriteCSV(f *testing.F) {
	for _, s := range []string{"hola", "=cmd|' /C calc'!A0", "a,b\n\"c\"", "@x", "\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		r := reports.Report{Bot: reports.BotFigures{TopUnrecognized: []reports.Count{{Key: text, Count: 1}}},
			FirstResponse: []reports.Timing{{Dimension: "agent", Key: "1", Name: text}}}
		var buf bytes.Buffer
		if err := reports.WriteCSV(&buf, r); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatalf("unreadable CSV: %v", err)
		}
		// encoding/csv writes \r\n inside quotes as \n when read back.
		want := strings.ReplaceAll(reports.CSVCell(text), "\r\n", "\n")
		found := 0
		for _, row := range rows {
			for _, cell := range row[1:4] {
				if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
					t.Fatalf("cell %q of row %q starts a formula", cell, row)
				}
			}
			if (row[0] == "unrecognized" && row[2] == want) || (row[0] == "first_response" && row[3] == want && row[4] == "count") {
				found++
			}
		}
		if found != 2 {
			t.Fatalf("text %q found %d times in %q", text, found, rows)
		}
	})
}

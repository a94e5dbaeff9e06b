package reports

import (
	"strings"
	"testing"
	"time"

	"conversa/conversation"
)

func TestPercentileDisc(t *testing.T) {
	d := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n)
		}
		return out
	}
	for _, c := range []struct {
		sorted    []time.Duration
		p         float64
		want      time.Duration
		rationale string
	}{
		{nil, 0.5, 0, "nothing"},
		{d(7), 0.9, 7, "one value is every percentile"},
		{d(1, 2), 0.5, 1, "1/2 reaches 0.5"},
		{d(1, 2, 3), 0.5, 2, "1/3 < 0.5 <= 2/3"},
		{d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9, "9/10 reaches 0.9"},
		{d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), 0.9, 10, "9/11 < 0.9 <= 10/11"},
		{d(1, 2, 3, 4), 0.5, 2, "2/4 reaches 0.5"},
	} {
		if got := PercentileDisc(c.sorted, c.p); got != c.want {
			t.Errorf("PercentileDisc(%v, %v) = %v, want %v (%s)", c.sorted, c.p, got, c.want, c.rationale)
		}
	}
}

func TestNormalizeText(t *testing.T) {
	for in, want := range map[string]string{
		"  Quiero   HABLAR con\talguien!!  ": "quiero hablar con alguien",
		"¿Dónde está mi PEDIDO?":             "donde esta mi pedido",
		"":                                   "",
		"...":                                "",
		"ÑANDÚ\n\nçà":                        "nandu ca",
	} {
		if got := NormalizeText(in); got != want {
			t.Errorf("NormalizeText(%q) = %q, want %q", in, got, want)
		}
	}
	long := NormalizeText(strings.Repeat("ab ", 100))
	if n := len([]rune(long)); n > MaxTextLen {
		t.Errorf("kept %d runes, want at most %d", n, MaxTextLen)
	}
}

// TestFoldOrder checks that facts learned in any order merge to the same
// fact: the first handoff, the last assignment, the first reply, the last
// close.
func TestFoldOrder(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	rows := []Row{
		MessageRow(1, 10, 5, 3, 1, conversation.DirectionIn, "contact", 0, conversation.ChannelWhatsApp, at(0)),
		{Name: EventHandedOff, TenantID: 1, ConversationID: 5, At: at(10), QueueID: 7, Key: "fallback"},
		{Name: EventHandedOff, TenantID: 1, ConversationID: 5, At: at(30), QueueID: 8, Key: "fallback"},
		{Name: EventAssigned, TenantID: 1, ConversationID: 5, At: at(12), AgentID: 20},
		{Name: EventAssigned, TenantID: 1, ConversationID: 5, At: at(31), AgentID: 21},
		MessageRow(1, 11, 5, 3, 2, conversation.DirectionOut, "agent", 21, conversation.ChannelTelegram, at(40)),
		MessageRow(1, 12, 5, 3, 3, conversation.DirectionOut, "agent", 20, conversation.ChannelWhatsApp, at(15)),
		{Name: EventConversationClosed, TenantID: 1, ConversationID: 5, At: at(50)},
		{Name: EventConversationClosed, TenantID: 1, ConversationID: 5, At: at(45)},
	}
	want := Fact{TenantID: 1, ConversationID: 5, Channel: conversation.ChannelWhatsApp, OpenedAt: at(0), QueuedAt: at(10), QueueID: 7,
		AssignedAt: at(31), AgentID: 21, FirstReplyAt: at(15), ClosedAt: at(50)}
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8}, {8, 7, 6, 5, 4, 3, 2, 1, 0}, {4, 0, 8, 2, 6, 1, 7, 3, 5}} {
		var in []Row
		for _, i := range order {
			in = append(in, rows[i])
		}
		// One batch, and one row per batch merged as a store does.
		d := Fold(in)
		if len(d.Facts) != 1 || d.Facts[0] != want {
			t.Errorf("order %v: one batch gives %+v", order, d.Facts)
		}
		var merged Fact
		for _, r := range in {
			for _, f := range Fold([]Row{r}).Facts {
				if merged.ConversationID == 0 {
					merged = f
				} else {
					merged.Merge(f)
				}
			}
		}
		if merged != want {
			t.Errorf("order %v: batch by batch gives %+v", order, merged)
		}
	}
	// Two handoffs, two messages in, one out: the counters.
	d := Fold(rows)
	got := map[string]int64{}
	for _, c := range d.Counters {
		got[c.Metric+"/"+c.Dim+"/"+c.Dim2] += c.N
	}
	for k, n := range map[string]int64{"conversations/whatsapp/": 1, "messages_in/whatsapp/": 1, "messages_out/whatsapp/": 1,
		"messages_out/telegram/": 1, "handoffs/fallback/7": 1, "handoffs/fallback/8": 1} {
		if got[k] != n {
			t.Errorf("%s: %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

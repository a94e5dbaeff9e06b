package survey

import (
	"encoding/json"
	"testing"
	"time"

	"conversa/conversation"
)

func TestSummarize(t *testing.T) {
	d1 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	d2 := d1.Add(24 * time.Hour)
	from, to := d1, d2.Add(24*time.Hour)

	t.Run("NPS", func(t *testing.T) {
		r := Summarize(KindNPS, from, to, nil, []Tally{
			{Hour: d1, Channel: conversation.ChannelSMS, Score: 10, Count: 3},
			{Hour: d1, Channel: conversation.ChannelSMS, Score: 8, Count: 1},
			{Hour: d1, Channel: conversation.ChannelWebchat, Score: 2, Count: 1},
			{Hour: d2, Channel: conversation.ChannelWebchat, Score: 9, Count: 1},
			{Hour: d2, Channel: conversation.ChannelWebchat, Score: -1, Count: 4},
		})
		tot := r.Total
		// 6 answers: 4 promoters, 1 passive, 1 detractor: (4-1)/6 = 50.
		if tot.Sent != 10 || tot.Answered != 6 || tot.ResponseRate != 60 || tot.Promoters != 4 || tot.Passives != 1 ||
			tot.Detractors != 1 || tot.NPS == nil || *tot.NPS != 50 || tot.CSAT != nil || tot.Average != 8.2 {
			t.Fatalf("total %+v", tot)
		}
		if len(r.ByDay) != 2 || r.ByDay[0].Day != "2026-03-02" || r.ByDay[0].Sent != 5 || *r.ByDay[0].NPS != 40 ||
			r.ByDay[1].Day != "2026-03-03" || r.ByDay[1].ResponseRate != 20 || *r.ByDay[1].NPS != 100 {
			t.Fatalf("by day %+v", r.ByDay)
		}
		if len(r.ByChannel) != 2 || r.ByChannel[0].Channel != conversation.ChannelSMS || *r.ByChannel[0].NPS != 75 ||
			r.ByChannel[1].Channel != conversation.ChannelWebchat || *r.ByChannel[1].NPS != 0 {
			t.Fatalf("by channel %+v", r.ByChannel)
		}
	})

	t.Run("CSAT", func(t *testing.T) {
		r := Summarize(KindCSAT, from, to, time.UTC, []Tally{
			{Hour: d1, Channel: conversation.ChannelWhatsApp, Score: 5, Count: 1},
			{Hour: d1, Channel: conversation.ChannelWhatsApp, Score: 4, Count: 1},
			{Hour: d1, Channel: conversation.ChannelWhatsApp, Score: 1, Count: 1},
		})
		if r.Total.CSAT == nil || *r.Total.CSAT != 66.7 || r.Total.Average != 3.3 || r.Total.NPS != nil || r.Total.Scores["4"] != 1 {
			t.Fatalf("total %+v", r.Total)
		}
	})

	t.Run("TenantDays", func(t *testing.T) {
		// 03:00 UTC is 22:00 the day before in Bogotá: the tenant's day.
		bogota, err := time.LoadLocation("America/Bogota")
		if err != nil {
			t.Fatal(err)
		}
		tallies := []Tally{
			{Hour: d2.Add(3 * time.Hour), Channel: conversation.ChannelSMS, Score: 9, Count: 1},
			{Hour: d2.Add(5 * time.Hour), Channel: conversation.ChannelSMS, Score: 9, Count: 2},
		}
		r := Summarize(KindNPS, from, to, bogota, tallies)
		if len(r.ByDay) != 2 || r.ByDay[0].Day != "2026-03-02" || r.ByDay[0].Sent != 1 || r.ByDay[1].Day != "2026-03-03" || r.ByDay[1].Sent != 2 {
			t.Fatalf("Bogotá's days %+v", r.ByDay)
		}
		if r := Summarize(KindNPS, from, to, time.UTC, tallies); len(r.ByDay) != 1 || r.ByDay[0].Day != "2026-03-03" || r.ByDay[0].Sent != 3 {
			t.Fatalf("UTC days %+v", r.ByDay)
		}
	})

	t.Run("Empty", func(t *testing.T) {
		r := Summarize(KindCSAT, from, to, nil, nil)
		b, _ := json.Marshal(r)
		var back map[string]any
		json.Unmarshal(b, &back)
		if r.Total.CSAT != nil || r.Total.ResponseRate != 0 || back["by_day"] == nil || back["by_channel"] == nil {
			t.Fatalf("empty report %s", b)
		}
	})
}

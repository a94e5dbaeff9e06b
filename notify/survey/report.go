package survey

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"time"

	"conversa/conversation"
)

// MaxReportPeriod is the longest period one report covers.
const MaxReportPeriod = 366 * 24 * time.Hour

// Figures are the results of a set of surveys of one kind. Rates and
// scores are percentages rounded to 0.1; CSAT and NPS are absent without
// answers.
type Figures struct {
	// Sent counts the surveys sent; Answered those answered.
	Sent     int `json:"sent"`
	Answered int `json:"answered"`
	// ResponseRate is Answered / Sent, in percent.
	ResponseRate float64 `json:"response_rate"`
	// Average is the mean score of the answers.
	Average float64 `json:"average"`
	// Scores counts the answers by score ("1" to "5", "0" to "10").
	Scores map[string]int `json:"scores"`
	// CSAT is the share of 4 and 5 among the answers, in percent.
	CSAT *float64 `json:"csat,omitempty"`
	// Promoters (9-10), Passives (7-8) and Detractors (0-6) count NPS
	// answers; NPS is the percentage of promoters less that of
	// detractors, from -100 to 100.
	Promoters  int      `json:"promoters,omitempty"`
	Passives   int      `json:"passives,omitempty"`
	Detractors int      `json:"detractors,omitempty"`
	NPS        *float64 `json:"nps,omitempty"`

	sum int
}

// DayFigures are the figures of the surveys sent on one day of the
// tenant's time zone.
type DayFigures struct {
	Day string `json:"day"` // 2006-01-02
	Figures
}

// ChannelFigures are the figures of the surveys sent on one channel.
type ChannelFigures struct {
	Channel conversation.ChannelKind `json:"channel"`
	Figures
}

// Report sums up the surveys of one kind sent in a period, by day and by
// channel.
type Report struct {
	Kind      Kind             `json:"kind"`
	From      time.Time        `json:"from"`
	To        time.Time        `json:"to"`
	Total     Figures          `json:"total"`
	ByDay     []DayFigures     `json:"by_day"`
	ByChannel []ChannelFigures `json:"by_channel"`
}

// Report returns the report of the tenant's surveys of a kind sent at or
// after from and before to, its days those of loc (the tenant's time zone;
// nil is UTC). Returns EINVALID naming kind, from or to when
// the kind is unknown or the period empty or longer than MaxReportPeriod.
func (s *Service) Report(ctx context.Context, tenantID int64, kind Kind, from, to time.Time, loc *time.Location) (Report, error) {
	switch {
	case !kind.Valid():
		return Report{}, conversation.FieldError("kind", "must be csat or nps")
	case !from.Before(to):
		return Report{}, conversation.FieldError("to", "must be after from")
	case to.Sub(from) > MaxReportPeriod:
		return Report{}, conversation.FieldError("from", "a report covers at most %d days", int(MaxReportPeriod.Hours()/24))
	}
	tallies, err := s.store.SurveyTallies(ctx, tenantID, kind, from, to)
	if err != nil {
		return Report{}, err
	}
	return Summarize(kind, from, to, loc, tallies), nil
}

// Summarize computes a report from the tallies of a period, by the days
// of loc (nil is UTC). A zone whose offset is not whole hours (India's)
// counts the hour in which its midnight falls in the day it starts.
func Summarize(kind Kind, from, to time.Time, loc *time.Location, tallies []Tally) Report {
	if loc == nil {
		loc = time.UTC
	}
	r := Report{Kind: kind, From: from, To: to, Total: Figures{Scores: map[string]int{}}}
	days := map[string]*Figures{}
	channels := map[conversation.ChannelKind]*Figures{}
	for _, t := range tallies {
		day := t.Hour.In(loc).Format(time.DateOnly)
		if days[day] == nil {
			days[day] = &Figures{Scores: map[string]int{}}
		}
		if channels[t.Channel] == nil {
			channels[t.Channel] = &Figures{Scores: map[string]int{}}
		}
		for _, f := range []*Figures{&r.Total, days[day], channels[t.Channel]} {
			f.add(kind, t.Score, t.Count)
		}
	}
	r.Total.finish(kind)
	r.ByDay, r.ByChannel = []DayFigures{}, []ChannelFigures{}
	for day, f := range days {
		f.finish(kind)
		r.ByDay = append(r.ByDay, DayFigures{Day: day, Figures: *f})
	}
	slices.SortFunc(r.ByDay, func(a, b DayFigures) int { return cmp.Compare(a.Day, b.Day) })
	for ch, f := range channels {
		f.finish(kind)
		r.ByChannel = append(r.ByChannel, ChannelFigures{Channel: ch, Figures: *f})
	}
	slices.SortFunc(r.ByChannel, func(a, b ChannelFigures) int { return cmp.Compare(a.Channel, b.Channel) })
	return r
}

// add counts n surveys with a score (-1: not answered).
func (f *Figures) add(kind Kind, score, n int) {
	f.Sent += n
	if score < 0 {
		return
	}
	f.Answered += n
	f.sum += score * n
	f.Scores[strconv.Itoa(score)] += n
	if kind != KindNPS {
		return
	}
	switch {
	case score >= 9:
		f.Promoters += n
	case score >= 7:
		f.Passives += n
	default:
		f.Detractors += n
	}
}

// finish computes the rates from the counts.
func (f *Figures) finish(kind Kind) {
	if f.Sent > 0 {
		f.ResponseRate = percent(f.Answered, f.Sent)
	}
	if f.Answered == 0 {
		return
	}
	f.Average = round1(float64(f.sum) / float64(f.Answered))
	switch kind {
	case KindCSAT:
		v := percent(f.Scores["4"]+f.Scores["5"], f.Answered)
		f.CSAT = &v
	case KindNPS:
		v := round1(100 * float64(f.Promoters-f.Detractors) / float64(f.Answered))
		f.NPS = &v
	}
}

func percent(part, whole int) float64 { return round1(100 * float64(part) / float64(whole)) }

func round1(v float64) float64 { return math.Round(v*10) / 10 }

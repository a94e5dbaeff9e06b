package reports

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strconv"
	"time"

	"conversa/conversation"
)

// TopLimit is how many intents, unrecognized texts and failures a report
// lists.
const TopLimit = 20

// Validate checks a query. Returns EINVALID naming the field.
func (q Query) Validate() error {
	switch {
	case q.TenantID <= 0:
		return conversation.FieldError("tenant_id", "is required")
	case q.From.IsZero():
		return conversation.FieldError("from", "is required")
	case q.To.IsZero():
		return conversation.FieldError("to", "is required")
	case !q.From.Before(q.To):
		return conversation.FieldError("to", "must be after from")
	case q.To.Sub(q.From) > MaxPeriod:
		return conversation.FieldError("from", "a report covers at most %d days", int(MaxPeriod.Hours()/24))
	}
	return nil
}

// Report computes every figure of q's period from the aggregates and the
// cases and surveys tables. Hours and days are those of q.Location; the
// counters are kept by UTC hour, so in a zone whose offset is not whole
// hours an hour is counted in the local hour (and day) it starts in, and
// the period covers the hours that start in it. Returns EINVALID naming
// the field for a bad query (see Query.Validate), or a team that is not
// the tenant's.
func (s *Service) Report(ctx context.Context, q Query) (Report, error) {
	if err := q.Validate(); err != nil {
		return Report{}, err
	}
	loc := q.Location
	if loc == nil {
		loc = time.UTC
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return Report{}, ctx.Err()
	}
	st := s.store
	dir, err := st.Directory(ctx, q.TenantID)
	if err != nil {
		return Report{}, err
	}
	var scope *Scope
	if len(q.Teams) > 0 {
		if scope, err = dir.scope(q.Teams); err != nil {
			return Report{}, err
		}
	}
	r, err := s.figures(ctx, q, loc, scope)
	if err != nil {
		return Report{}, err
	}
	r.Generated = s.now().UTC()
	dir.name(r.FirstResponse)
	dir.name(r.Resolution)

	cases, filed, err := st.Cases(ctx, q.TenantID, q.From, q.To, s.now(), scope)
	if err != nil {
		return Report{}, err
	}
	r.Cases = cases
	r.Cases.SLACompliance = rate(cases.OnTime, cases.Due)
	day := dayOf(r.ByDay, loc)
	for _, c := range filed {
		day(c.Hour).Cases += c.N
	}
	if scope == nil {
		if r.CSAT, err = s.survey(ctx, q, "csat"); err != nil {
			return Report{}, err
		}
		if r.NPS, err = s.survey(ctx, q, "nps"); err != nil {
			return Report{}, err
		}
	}
	return r, nil
}

// figures returns the figures of q that come from the aggregates: all
// but the cases, the surveys and the names in the timings. Those of a
// settled period (see Settled) are kept, and used again while the store's
// Revision of the period stays the same; the revision is read before the
// figures, so a change committed while they are computed is seen as one.
func (s *Service) figures(ctx context.Context, q Query, loc *time.Location, scope *Scope) (Report, error) {
	if q.To.After(Settled(s.now())) {
		return s.compute(ctx, q, loc, scope)
	}
	rev, err := s.store.Revision(ctx, q.TenantID, q.From, q.To)
	if err != nil {
		return Report{}, err
	}
	key := cacheKey(q, loc, scope)
	if r, ok := s.cache.get(key, rev); ok {
		return r, nil
	}
	r, err := s.compute(ctx, q, loc, scope)
	if err != nil {
		return Report{}, err
	}
	s.cache.put(key, rev, r)
	return r, nil
}

// compute computes the figures of q that come from the aggregates.
func (s *Service) compute(ctx context.Context, q Query, loc *time.Location, scope *Scope) (Report, error) {
	st := s.store
	r := Report{TenantID: q.TenantID, From: q.From, To: q.To, Zone: loc.String(),
		ByChannel: []ChannelFigures{}, ByHour: []HourFigures{}, ByDay: []DayFigures{},
		FirstResponse: []Timing{}, Resolution: []Timing{}, Failures: []Failure{},
		Bot:   BotFigures{HandoffReasons: []Count{}, TopIntents: []Count{}, TopUnrecognized: []Count{}},
		Cases: CaseFigures{ByType: []Count{}, ByStatus: []Count{}, ByChannel: []Count{}}}
	hFrom, hTo := ceilHour(q.From), ceilHour(q.To)

	for d := dayStart(q.From.In(loc)); d.Before(q.To); d = d.AddDate(0, 0, 1) {
		r.ByDay = append(r.ByDay, DayFigures{Day: d.Format(time.DateOnly)})
	}
	day := dayOf(r.ByDay, loc)

	counters, err := st.Counters(ctx, q.TenantID, hFrom, hTo, MetricConversations, MetricMessagesIn, MetricMessagesOut, MetricHandoffs)
	if err != nil {
		return Report{}, err
	}
	var hours [24]HourFigures
	channels := map[conversation.ChannelKind]*ChannelFigures{}
	reasons := map[string]int64{}
	for _, c := range counters {
		d := day(c.Hour)
		h := &hours[c.Hour.In(loc).Hour()]
		if c.Metric == MetricHandoffs {
			if scope != nil && !slices.Contains(scope.Queues, atoi(c.Dim2)) {
				continue
			}
			r.Bot.Handoffs += c.N
			reasons[c.Dim] += c.N
			d.Handoffs += c.N
			continue
		}
		if scope != nil {
			continue
		}
		ch := conversation.ChannelKind(c.Dim)
		if channels[ch] == nil {
			channels[ch] = &ChannelFigures{Channel: ch}
		}
		switch c.Metric {
		case MetricConversations:
			r.Conversations += c.N
			channels[ch].Conversations += c.N
			h.Conversations += c.N
			d.Conversations += c.N
		case MetricMessagesIn:
			r.MessagesIn += c.N
			channels[ch].MessagesIn += c.N
			h.MessagesIn += c.N
			d.MessagesIn += c.N
		case MetricMessagesOut:
			r.MessagesOut += c.N
			channels[ch].MessagesOut += c.N
			h.MessagesOut += c.N
			d.MessagesOut += c.N
		}
	}
	for _, c := range channels {
		r.ByChannel = append(r.ByChannel, *c)
	}
	slices.SortFunc(r.ByChannel, func(a, b ChannelFigures) int { return cmp.Compare(a.Channel, b.Channel) })
	r.Bot.HandoffReasons = sortedCounts(reasons)

	if scope == nil {
		for i := range hours {
			hours[i].Hour = i
		}
		r.ByHour = hours[:]
		if r.Bot.Closed, r.Bot.Contained, err = st.Closed(ctx, q.TenantID, q.From, q.To); err != nil {
			return Report{}, err
		}
		r.Bot.ContainmentRate = rate(r.Bot.Contained, r.Bot.Closed)
		r.Bot.HandoffRate = rate(r.Bot.Handoffs, r.Conversations)
		if r.Bot.TopIntents, err = s.top(ctx, q.TenantID, MetricIntents, hFrom, hTo); err != nil {
			return Report{}, err
		}
		if r.Bot.TopUnrecognized, err = s.top(ctx, q.TenantID, MetricUnrecognized, hFrom, hTo); err != nil {
			return Report{}, err
		}
		failures, err := st.Top(ctx, q.TenantID, MetricFailures, hFrom, hTo, 100)
		if err != nil {
			return Report{}, err
		}
		for _, f := range failures {
			r.Failures = append(r.Failures, Failure{Channel: conversation.ChannelKind(f.Dim), Code: f.Dim2, Count: f.N})
		}
	}

	for kind, out := range map[string]*[]Timing{TimingFirstResponse: &r.FirstResponse, TimingResolution: &r.Resolution} {
		ts, err := st.Timings(ctx, TimingQuery{TenantID: q.TenantID, Kind: kind, From: q.From, To: q.To, Scope: scope})
		if err != nil {
			return Report{}, err
		}
		SortTimings(ts)
		*out = append(*out, ts...)
	}
	return r, nil
}

func (s *Service) top(ctx context.Context, tenantID int64, metric string, from, to time.Time) ([]Count, error) {
	cs, err := s.store.Top(ctx, tenantID, metric, from, to, TopLimit)
	out := make([]Count, 0, len(cs))
	for _, c := range cs {
		out = append(out, Count{Key: c.Dim, Count: c.N})
	}
	return out, err
}

func (s *Service) survey(ctx context.Context, q Query, kind string) (SurveyFigures, error) {
	scores, err := s.store.SurveyScores(ctx, q.TenantID, kind, q.From, q.To)
	if err != nil {
		return SurveyFigures{}, err
	}
	var f SurveyFigures
	var good, promoters, detractors int64
	for _, c := range scores {
		f.Sent += c.Count
		if c.Key == "" {
			continue
		}
		f.Answered += c.Count
		score := atoi(c.Key)
		switch {
		case kind == "csat" && score >= 4:
			good += c.Count
		case kind == "nps" && score >= 9:
			promoters += c.Count
		case kind == "nps" && score <= 6:
			detractors += c.Count
		}
	}
	if f.Answered > 0 {
		v := round1(100 * float64(good) / float64(f.Answered))
		if kind == "nps" {
			v = round1(100 * float64(promoters-detractors) / float64(f.Answered))
		}
		f.Score = &v
	}
	return f, nil
}

// Backfill rebuilds the tenant's aggregates (0: every tenant's) for the
// hours from from (rounded down to the hour) to to (rounded up); see
// Aggregates.Backfill. Returns EINVALID naming from or to for an empty
// or reversed period.
func (s *Service) Backfill(ctx context.Context, tenantID int64, from, to time.Time) error {
	switch {
	case from.IsZero():
		return conversation.FieldError("from", "is required")
	case to.IsZero():
		return conversation.FieldError("to", "is required")
	case !from.Before(to):
		return conversation.FieldError("to", "must be after from")
	}
	return s.store.Backfill(ctx, tenantID, from.UTC().Truncate(time.Hour), ceilHour(to).UTC())
}

// scope returns what the teams handle. Returns EINVALID naming teams if
// one is not in the directory.
func (d Directory) scope(teams []int64) (*Scope, error) {
	sc := &Scope{Teams: teams, Queues: []int64{}, Agents: []int64{}}
	for _, t := range teams {
		if !slices.ContainsFunc(d.Teams, func(n Named) bool { return n.ID == t }) {
			return nil, conversation.FieldError("teams", "team %d is not the tenant's", t)
		}
	}
	for _, q := range d.Queues {
		if q.TeamID != 0 && slices.Contains(teams, q.TeamID) {
			sc.Queues = append(sc.Queues, q.ID)
		}
	}
	for _, a := range d.Agents {
		if slices.ContainsFunc(a.Teams, func(t int64) bool { return slices.Contains(teams, t) }) {
			sc.Agents = append(sc.Agents, a.ID)
		}
	}
	return sc, nil
}

// name fills in the names of the queues and agents of ts.
func (d Directory) name(ts []Timing) {
	find := func(ns []Named, key string) string {
		for _, n := range ns {
			if strconv.FormatInt(n.ID, 10) == key {
				return n.Name
			}
		}
		return ""
	}
	for i := range ts {
		switch ts[i].Dimension {
		case "all":
			ts[i].Name = "All"
		case "channel":
			ts[i].Name = ts[i].Key
		case "queue":
			ts[i].Name = find(d.Queues, ts[i].Key)
		case "agent":
			ts[i].Name = find(d.Agents, ts[i].Key)
		}
	}
}

func sortedCounts(m map[string]int64) []Count {
	out := make([]Count, 0, len(m))
	for k, n := range m {
		out = append(out, Count{Key: k, Count: n})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Key, b.Key)) })
	return out
}

// rate is part over whole in percent rounded to 0.1, nil when whole is 0.
func rate(part, whole int64) *float64 {
	if whole == 0 {
		return nil
	}
	v := round1(100 * float64(part) / float64(whole))
	return &v
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// ceilHour rounds t up to the hour.
func ceilHour(t time.Time) time.Time {
	h := t.UTC().Truncate(time.Hour)
	if h.Before(t) {
		h = h.Add(time.Hour)
	}
	return h
}

// dayOf returns a lookup of the entry of days that holds a time, in loc;
// a time outside them gets a scratch entry, counted nowhere.
func dayOf(days []DayFigures, loc *time.Location) func(time.Time) *DayFigures {
	index := make(map[string]*DayFigures, len(days))
	for i := range days {
		index[days[i].Day] = &days[i]
	}
	return func(t time.Time) *DayFigures {
		if d := index[t.In(loc).Format(time.DateOnly)]; d != nil {
			return d
		}
		return &DayFigures{}
	}
}

func dayStart(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}

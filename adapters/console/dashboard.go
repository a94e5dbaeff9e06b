package console

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/handoff"
	"conversa/reports"
)

// Reports computes what the dashboard and the report pages show;
// *reports.Service is one.
type Reports interface {
	Live(ctx context.Context, tenantID int64, loc *time.Location, teams []int64) (reports.Live, error)
	Report(ctx context.Context, q reports.Query) (reports.Report, error)
}

// scope returns the teams whose figures the agent may see: none (the
// whole tenant) for an admin, their teams for a supervisor. A supervisor
// in no team sees nothing: nothing is true, and the pages say why.
func scope(a *handoff.Agent) (teams []int64, nothing bool, err error) {
	switch {
	case a.Role == handoff.RoleAdmin:
		return nil, false, nil
	case !a.Role.Supervises():
		return nil, false, conversation.Errorf(conversation.EFORBIDDEN, "your role may not do this")
	case len(a.Teams) == 0:
		return nil, true, nil
	}
	return a.Teams, false, nil
}

// location is the tenant's time zone; UTC when it has none or an unknown
// one (logged).
func (c *Console) location(ctx context.Context, tenantID int64) (*time.Location, error) {
	tn, err := c.deps.Store.Tenant(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if tn.TimeZone == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tn.TimeZone)
	if err != nil {
		c.log.Warn("tenant time zone unknown; using UTC", "tenant", tenantID, "zone", tn.TimeZone, "err", err)
		return time.UTC, nil
	}
	return loc, nil
}

// channelRow is a channel's open conversations on the dashboard.
type channelRow struct {
	Channel string `json:"channel"`
	Waiting int64  `json:"waiting"`
	Active  int64  `json:"active"`
	WithBot int64  `json:"with_bot"`
}

// agentRow is an agent on the dashboard.
type agentRow struct {
	reports.AgentLoad
	StatusLabel string `json:"status_label"`
}

// figure is one of today's figures, labelled in the agent's language.
type figure struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Value string `json:"value"`
}

// dashboardView is what the dashboard shows, and what
// /console/dashboard.json returns for the page's script to redraw it.
type dashboardView struct {
	At       time.Time    `json:"at"`
	Scoped   bool         `json:"scoped"`  // a supervisor's teams, not the whole tenant
	NoTeam   bool         `json:"no_team"` // a supervisor of no team, who sees nothing
	Channels []channelRow `json:"channels"`
	Total    channelRow   `json:"total"`
	Agents   []agentRow   `json:"agents"`
	Today    []figure     `json:"today"`
}

// dashboardData reads the live view of the agent's scope.
func (c *Console) dashboardData(ctx context.Context, a *handoff.Agent, lang string) (dashboardView, reports.Live, error) {
	teams, nothing, err := scope(a)
	if err != nil {
		return dashboardView{}, reports.Live{}, err
	}
	loc, err := c.location(ctx, a.TenantID)
	if err != nil {
		return dashboardView{}, reports.Live{}, err
	}
	var live reports.Live
	if nothing {
		live = reports.Live{At: time.Now().In(loc)}
	} else if live, err = c.deps.Reports.Live(ctx, a.TenantID, loc, teams); err != nil {
		return dashboardView{}, reports.Live{}, err
	}
	scoped := teams != nil || nothing
	v := dashboardView{At: live.At, Scoped: scoped, NoTeam: nothing, Channels: []channelRow{}, Agents: []agentRow{}, Total: channelRow{Channel: tr(lang, "dash.total")}}
	row := func(ch string) *channelRow {
		i := slices.IndexFunc(v.Channels, func(r channelRow) bool { return r.Channel == ch })
		if i < 0 {
			v.Channels = append(v.Channels, channelRow{Channel: ch})
			i = len(v.Channels) - 1
		}
		return &v.Channels[i]
	}
	for _, x := range live.Waiting {
		row(x.Key).Waiting += x.Count
		v.Total.Waiting += x.Count
	}
	for _, x := range live.Active {
		row(x.Key).Active += x.Count
		v.Total.Active += x.Count
	}
	for _, x := range live.WithBot {
		row(x.Key).WithBot += x.Count
		v.Total.WithBot += x.Count
	}
	slices.SortFunc(v.Channels, func(x, y channelRow) int { return cmp.Compare(x.Channel, y.Channel) })
	for _, ag := range live.Agents {
		v.Agents = append(v.Agents, agentRow{AgentLoad: ag, StatusLabel: tr(lang, "status."+ag.Status)})
	}
	v.Today = todayFigures(live.Today, lang, scoped)
	return v, live, nil
}

// todayFigures are the day's headline figures; a supervisor's view leaves
// out the tenant-wide ones (the bot's, the channels').
func todayFigures(r reports.Report, lang string, scoped bool) []figure {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	var out []figure
	add := func(key, value string) {
		out = append(out, figure{Key: key, Label: tr(lang, "fig."+key), Value: value})
	}
	if !scoped {
		add("conversations", n(r.Conversations))
		add("messages_in", n(r.MessagesIn))
		add("messages_out", n(r.MessagesOut))
		add("containment_rate", percent(r.Bot.ContainmentRate))
	}
	add("handoffs", n(r.Bot.Handoffs))
	for _, t := range r.FirstResponse {
		if t.Dimension == "all" {
			add("first_response", duration(t.Median))
		}
	}
	for _, t := range r.Resolution {
		if t.Dimension == "all" {
			add("resolution", duration(t.Median))
		}
	}
	add("cases_filed", n(r.Cases.Filed))
	add("overdue", n(r.Cases.Overdue))
	return out
}

// percent writes a rate, or a dash when there was nothing to divide by.
func percent(p *float64) string {
	if p == nil {
		return "–"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64) + " %"
}

// duration writes a timing to the second.
func duration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(time.Second).String()
}

// dashboard shows the live operations of the agent's scope: open
// conversations by channel and state, agents not offline with their load,
// and today's figures; the page's script redraws it from
// /console/dashboard.json when the socket says something changed.
func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, rq *request) error {
	v, live, err := c.dashboardData(r.Context(), rq.agent, rq.lang)
	if err != nil {
		return err
	}
	var hours []string
	var convs []int64
	for _, h := range live.Today.ByHour {
		hours = append(hours, strconv.Itoa(h.Hour))
		convs = append(convs, h.Conversations)
	}
	byHour := chart{ID: "today-hours", Title: tr(rq.lang, "dash.byhour"), XLabel: tr(rq.lang, "chart.hour"), YLabel: tr(rq.lang, "fig.conversations"),
		Empty: tr(rq.lang, "chart.empty"), Labels: hours, Series: []series{{Name: tr(rq.lang, "fig.conversations"), Values: convs}}}
	c.render(w, rq, http.StatusOK, "dashboard", map[string]any{"View": v, "ByHour": byHour.SVG()})
	return nil
}

// dashboardJSON returns the dashboard's view as JSON.
func (c *Console) dashboardJSON(w http.ResponseWriter, r *http.Request, rq *request) error {
	v, _, err := c.dashboardData(r.Context(), rq.agent, rq.lang)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(v)
}

// periodReport reads the report of the period the request names (from,
// to: days in the tenant's zone, to excluded; default this month so far)
// for the agent's scope.
func (c *Console) periodReport(r *http.Request, a *handoff.Agent) (rep reports.Report, scoped, nothing bool, err error) {
	teams, nothing, err := scope(a)
	if err != nil {
		return reports.Report{}, false, false, err
	}
	loc, err := c.location(r.Context(), a.TenantID)
	if err != nil {
		return reports.Report{}, false, false, err
	}
	q := r.URL.Query()
	from, to, err := reports.ParsePeriod(q.Get("from"), q.Get("to"), loc, time.Now())
	if err != nil {
		return reports.Report{}, false, false, err
	}
	scoped = teams != nil || nothing
	if nothing {
		return reports.Report{TenantID: a.TenantID, From: from, To: to, Zone: loc.String(), Generated: time.Now().UTC()}, scoped, nothing, nil
	}
	rep, err = c.deps.Reports.Report(r.Context(), reports.Query{TenantID: a.TenantID, From: from, To: to, Location: loc, Teams: teams})
	return rep, scoped, nothing, err
}

// reportsPage shows the report of a period: tables where exact numbers
// matter, charts where a picture says more; printable (see console.css).
func (c *Console) reportsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	rep, scoped, nothing, err := c.periodReport(r, rq.agent)
	if err != nil {
		return err
	}
	data := reportPage(rep, rq.lang, scoped)
	data["NoTeam"] = nothing
	c.render(w, rq, http.StatusOK, "reports", data)
	return nil
}

// reportPage is the data of the reports template for rep.
func reportPage(rep reports.Report, lang string, scoped bool) map[string]any {
	loc, err := time.LoadLocation(rep.Zone)
	if err != nil {
		loc = time.UTC
	}
	lastDay := rep.To.In(loc).AddDate(0, 0, -1)
	return map[string]any{
		"R": rep, "Scoped": scoped,
		"From": rep.From.In(loc).Format(reports.DateLayout), "To": lastDay.Format(reports.DateLayout), "Generated": rep.Generated.In(loc).Format("2006-01-02 15:04 MST"),
		"Charts": reportCharts(rep, lang),
	}
}

// reportCharts draws the report's pictures: by hour of day, by day and by
// channel.
func reportCharts(rep reports.Report, lang string) []template.HTML {
	var out []template.HTML
	traffic := [3]string{"fig.conversations", "fig.messages_in", "fig.messages_out"}
	if len(rep.ByHour) > 0 {
		out = append(out, seriesChart(lang, "hours", "rep.byhour", "chart.hour", traffic, len(rep.ByHour), func(i int) (string, [3]int64) {
			h := rep.ByHour[i]
			return strconv.Itoa(h.Hour), [3]int64{h.Conversations, h.MessagesIn, h.MessagesOut}
		}))
	}
	if len(rep.ByDay) > 0 {
		out = append(out, seriesChart(lang, "days", "rep.byday", "chart.day", [3]string{"fig.conversations", "fig.handoffs", "fig.cases_filed"}, len(rep.ByDay), func(i int) (string, [3]int64) {
			d := rep.ByDay[i]
			return strings.TrimPrefix(d.Day[min(4, len(d.Day)):], "-"), [3]int64{d.Conversations, d.Handoffs, d.Cases}
		}))
	}
	if len(rep.ByChannel) > 0 {
		out = append(out, seriesChart(lang, "channels", "rep.bychannel", "conv.channel", traffic, len(rep.ByChannel), func(i int) (string, [3]int64) {
			c := rep.ByChannel[i]
			return string(c.Channel), [3]int64{c.Conversations, c.MessagesIn, c.MessagesOut}
		}))
	}
	return out
}

// seriesChart draws n labels with three series each, named by the
// catalog keys names; at gives the i-th label and its values.
func seriesChart(lang, id, title, xLabel string, names [3]string, n int, at func(i int) (string, [3]int64)) template.HTML {
	c := chart{ID: id, Title: tr(lang, title), XLabel: tr(lang, xLabel), YLabel: tr(lang, "chart.count"), Empty: tr(lang, "chart.empty"),
		Series: []series{{Name: tr(lang, names[0])}, {Name: tr(lang, names[1])}, {Name: tr(lang, names[2])}}}
	for i := range n {
		label, v := at(i)
		c.Labels = append(c.Labels, label)
		for j := range c.Series {
			c.Series[j].Values = append(c.Series[j].Values, v[j])
		}
	}
	return c.SVG()
}

// reportsCSV exports the report of a period as CSV (reports.WriteCSV).
func (c *Console) reportsCSV(w http.ResponseWriter, r *http.Request, rq *request) error {
	rep, _, _, err := c.periodReport(r, rq.agent)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := reports.WriteCSV(&buf, rep); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	loc, err := time.LoadLocation(rep.Zone)
	if err != nil {
		loc = time.UTC
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="report-%s-%s.csv"`,
		rep.From.In(loc).Format(reports.DateLayout), rep.To.In(loc).AddDate(0, 0, -1).Format(reports.DateLayout)))
	_, err = w.Write(buf.Bytes())
	return err
}

package api

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
	"conversa/reports"
)

// Reports is what the API needs of the report service. *reports.Service
// implements it; it must be safe for concurrent use.
type Reports interface {
	// Report computes every figure of a period. Returns EINVALID naming
	// the field of a bad query.
	Report(ctx context.Context, q reports.Query) (reports.Report, error)
	// Live returns the live view of the tenant (of the teams, when given)
	// in the zone loc. Returns EINVALID for a team that is not the
	// tenant's.
	Live(ctx context.Context, tenantID int64, loc *time.Location, teams []int64) (reports.Live, error)
}

func withReports(h func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error) func(*API, http.ResponseWriter, *http.Request, tenant) error {
	return func(a *API, w http.ResponseWriter, r *http.Request, t tenant) error {
		if a.cfg.Reports == nil {
			return conversation.Errorf(conversation.EUNAVAILABLE, "this server has no report service")
		}
		return h(a, w, r, t)
	}
}

// maxZoneLen bounds the zone parameter.
const maxZoneLen = 64

// reportQuery reads the query of GET /reports: from and to (RFC 3339
// times, or YYYY-MM-DD days of the zone, to included), zone (an IANA
// name; by default tenantZone, UTC when that is empty or unknown), and
// teams (a comma-separated list of team ids). Without from and to it is
// the last 30 days up to now. Returns EINVALID naming the parameter.
func reportQuery(v url.Values, tenantID int64, tenantZone string, now time.Time) (reports.Query, error) {
	q := reports.Query{TenantID: tenantID}
	zone := v.Get("zone")
	if zone == "" {
		var err error
		if q.Location, err = time.LoadLocation(tenantZone); err != nil || tenantZone == "" || tenantZone == "Local" {
			q.Location = time.UTC
		}
	} else {
		if len(zone) > maxZoneLen || zone == "Local" || strings.ContainsFunc(zone, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+-", r))
		}) {
			return q, conversation.FieldError("zone", "must be an IANA time zone such as America/Bogota")
		}
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return q, conversation.FieldError("zone", "is not a known time zone: %q", zone)
		}
		q.Location = loc
	}
	var err error
	if q.From, err = queryDate(v.Get("from"), "from", q.Location, false); err != nil {
		return q, err
	}
	if q.To, err = queryDate(v.Get("to"), "to", q.Location, true); err != nil {
		return q, err
	}
	if q.To.IsZero() {
		q.To = now.UTC()
	}
	if q.From.IsZero() {
		q.From = q.To.AddDate(0, 0, -defaultReportDays)
	}
	if teams := v.Get("teams"); teams != "" {
		for f := range strings.SplitSeq(teams, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || id <= 0 || len(q.Teams) >= 100 {
				return q, conversation.FieldError("teams", "must be up to 100 team ids separated by commas")
			}
			q.Teams = append(q.Teams, id)
		}
	}
	return q, q.Validate()
}

// report serves every figure of a period.
func (a *API) report(w http.ResponseWriter, r *http.Request, t tenant) error {
	tn, err := a.store.Tenant(r.Context(), t.ID)
	if err != nil {
		return err
	}
	q, err := reportQuery(r.URL.Query(), t.ID, tn.TimeZone, time.Now())
	if err != nil {
		return err
	}
	rep, err := a.cfg.Reports.Report(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

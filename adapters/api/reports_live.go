package api

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"conversa/reports"
)

// tenantReportQuery reads the query of the report routes for the key's
// tenant (see reportQuery).
func (a *API) tenantReportQuery(r *http.Request, t tenant) (reports.Query, error) {
	tn, err := a.store.Tenant(r.Context(), t.ID)
	if err != nil {
		return reports.Query{}, err
	}
	return reportQuery(r.URL.Query(), t.ID, tn.TimeZone, time.Now())
}

// reportCSV serves the report of a period (the query of GET /reports) as
// CSV in reports.WriteCSV's layout.
func (a *API) reportCSV(w http.ResponseWriter, r *http.Request, t tenant) error {
	q, err := a.tenantReportQuery(r, t)
	if err != nil {
		return err
	}
	rep, err := a.cfg.Reports.Report(r.Context(), q)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := reports.WriteCSV(&buf, rep); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="report-%d-%s.csv"`, t.ID, q.From.In(q.Location).Format(reports.DateLayout)))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}

// live serves the live view of the tenant: conversations open now by
// state and channel, agents not offline, and today's report, in the zone
// (the tenant's by default) and of the teams when given (the zone and
// teams parameters of GET /reports).
func (a *API) live(w http.ResponseWriter, r *http.Request, t tenant) error {
	q, err := a.tenantReportQuery(r, t)
	if err != nil {
		return err
	}
	live, err := a.cfg.Reports.Live(r.Context(), t.ID, q.Location, q.Teams)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, live)
	return nil
}

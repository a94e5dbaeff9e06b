package api_test

import (
	"net/http"
	"testing"

	"conversa/conversation"
	"conversa/reports"
)

func TestReportRoute(t *testing.T) {
	t.Parallel()
	e, tn, _ := reportsEnv(t)
	// Acme's two conversations of January 10th (10:00 in Bogota), not
	// other's; hour 10 of the zone.
	rep := decode[reports.Report](t, e.do(t, "GET", "/api/v1/reports?from=2026-01-01&to=2026-01-31&zone=America/Bogota", tn.key, nil), http.StatusOK)
	if rep.TenantID != tn.ID || rep.Conversations != 2 || rep.MessagesIn != 2 || len(rep.ByHour) != 24 || rep.ByHour[10].MessagesIn != 2 || len(rep.ByDay) != 31 || rep.Zone != "America/Bogota" {
		t.Errorf("report %+v", rep)
	}
	for query, field := range map[string]string{
		"?zone=Mars/Olympus":                            "zone",
		"?from=2026-02-01&to=2026-01-01":                "to",
		"?from=2020-01-01&to=2026-01-01":                "from",
		"?from=someday":                                 "from",
		"?teams=1,x":                                    "teams",
		"?from=2026-01-01&to=2026-01-31&teams=" + "999": "teams",
	} {
		wantError(t, e.do(t, "GET", "/api/v1/reports"+query, tn.key, nil), http.StatusBadRequest, conversation.EINVALID, field)
	}
}

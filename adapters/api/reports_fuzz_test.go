package api

import (
	"net/url"
	"testing"
	"time"

	"conversa/conversation"
)

// FuzzReportQuery checks the parser of GET /reports: what it accepts is a
// valid query of the tenant; what it refuses is EINVALID.
func FuzzReportQuery(f *testing.F) {
	for _, s := range []string{
		"from=2026-01-01&to=2026-01-31&zone=America/Bogota",
		"from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00-05:00",
		"zone=Asia/Kolkata", "zone=Local", "zone=../../etc/passwd", "zone=Mars/Olympus",
		"from=2026-02-01&to=2026-01-01", "from=2020-01-01&to=2026-01-01", "from=yesterday",
		"teams=1,2,3", "teams=0", "teams=x", "teams=", "",
	} {
		f.Add(s, "America/Bogota")
	}
	f.Add("", "")
	f.Add("", "Nowhere/Land")
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw, tenantZone string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := reportQuery(v, 7, tenantZone, now)
		if err != nil {
			if conversation.ErrorCode(err) != conversation.EINVALID {
				t.Fatalf("refused with %v, want EINVALID", err)
			}
			return
		}
		if q.TenantID != 7 || q.Location == nil || q.Validate() != nil {
			t.Fatalf("accepted %+v", q)
		}
		for _, id := range q.Teams {
			if id <= 0 {
				t.Fatalf("accepted team %d", id)
			}
		}
	})
}

func TestReportQuery(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	bogota, _ := time.LoadLocation("America/Bogota")
	v, _ := url.ParseQuery("from=2026-01-01&to=2026-01-31&teams=4,5")
	q, err := reportQuery(v, 7, "America/Bogota", now)
	if err != nil {
		t.Fatal(err)
	}
	// Days of the tenant's zone; to is included.
	if !q.From.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, bogota)) || !q.To.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, bogota)) ||
		q.Location.String() != "America/Bogota" || len(q.Teams) != 2 {
		t.Errorf("query %+v", q)
	}
	q, err = reportQuery(url.Values{"zone": {"Asia/Kolkata"}}, 7, "America/Bogota", now)
	if err != nil || q.Location.String() != "Asia/Kolkata" || !q.To.Equal(now) || !q.From.Equal(now.AddDate(0, 0, -30)) {
		t.Errorf("default period: %+v, %v", q, err)
	}
	for _, bad := range []string{"zone=Local", "zone=Mars/Olympus", "zone=../x", "from=2026-02-01&to=2026-01-01", "from=x", "teams=1,-2"} {
		v, _ := url.ParseQuery(bad)
		if _, err := reportQuery(v, 7, "UTC", now); conversation.ErrorCode(err) != conversation.EINVALID {
			t.Errorf("%s: %v, want EINVALID", bad, err)
		}
	}
}

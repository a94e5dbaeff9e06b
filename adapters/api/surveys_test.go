package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify/survey"
)

const surveysPath = "/api/v1/surveys"

// TestSurveys: a survey is sent to a contact, read, listed and reported
// through the API; bad input is 400 naming the field, a retry under the
// same key answers the first survey, and another tenant sees nothing.
func TestSurveys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{surveys: true})
	tn := e.newTenant(t, "acme", "")
	other := e.newTenant(t, "other", "")
	contact := e.ingest(t, tn, "customer-1", "m-1", "hola").Message.ContactID
	k := tn.key

	body := map[string]any{"kind": "nps", "contact_id": contact, "topic": "la entrega", "channels": []string{"api"}, "expires_in_hours": 48}
	sv := decode[survey.Survey](t, e.do(t, "POST", surveysPath, k, body, "Idempotency-Key", "nps-1"), http.StatusAccepted)
	if sv.ID == 0 || sv.Kind != survey.KindNPS || sv.Purpose != survey.PurposeNPS || sv.Subject != "topic:la entrega" ||
		sv.Status != survey.StatusScheduled || sv.NotificationID == 0 || sv.ContactID != contact {
		t.Fatalf("created %+v", sv)
	}
	again := decode[survey.Survey](t, e.do(t, "POST", surveysPath, k, body, "Idempotency-Key", "nps-1"), http.StatusAccepted)
	if again.ID != sv.ID {
		t.Fatalf("a retry made survey %d, want %d", again.ID, sv.ID)
	}
	body["kind"] = "csat"
	wantError(t, e.do(t, "POST", surveysPath, k, body, "Idempotency-Key", "nps-1"), http.StatusConflict, conversation.ECONFLICT, "idempotency_key")
	body["kind"] = "nps"
	body["expires_in_hours"] = 24
	wantError(t, e.do(t, "POST", surveysPath, k, body, "Idempotency-Key", "nps-1"), http.StatusConflict, conversation.ECONFLICT, "idempotency_key")

	csat := decode[survey.Survey](t, e.do(t, "POST", surveysPath, k, map[string]any{"kind": "csat", "contact_id": contact, "case_id": 7,
		"idempotency_key": "csat-1"}), http.StatusAccepted)
	if csat.Kind != survey.KindCSAT || csat.Purpose != survey.PurposeCSAT || csat.Subject != "case:7" {
		t.Fatalf("created %+v", csat)
	}

	got := decode[survey.Survey](t, e.do(t, "GET", fmt.Sprintf("%s/%d", surveysPath, sv.ID), k, nil), http.StatusOK)
	if got.ID != sv.ID || got.Subject != sv.Subject {
		t.Fatalf("get %+v", got)
	}
	list := decode[page[survey.Survey]](t, e.do(t, "GET", surveysPath+"?limit=1", k, nil), http.StatusOK)
	if len(list.Data) != 1 || list.Data[0].ID != csat.ID || list.NextCursor == "" {
		t.Fatalf("first page %+v", list)
	}
	list = decode[page[survey.Survey]](t, e.do(t, "GET", surveysPath+"?limit=1&cursor="+list.NextCursor, k, nil), http.StatusOK)
	if len(list.Data) != 1 || list.Data[0].ID != sv.ID {
		t.Fatalf("second page %+v", list)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	list = decode[page[survey.Survey]](t, e.do(t, "GET", surveysPath+"?kind=nps&from="+today+"&to="+today, k, nil), http.StatusOK)
	if len(list.Data) != 1 || list.Data[0].ID != sv.ID {
		t.Fatalf("today's NPS surveys %+v", list)
	}
	rep := decode[survey.Report](t, e.do(t, "GET", surveysPath+"/report?kind=nps", k, nil), http.StatusOK)
	if rep.Kind != survey.KindNPS || rep.Total.Sent != 0 || rep.Total.NPS != nil || !rep.To.After(rep.From) {
		t.Fatalf("report of surveys not sent yet %+v", rep)
	}

	// Another tenant sees nothing, and cannot survey this tenant's contact.
	wantError(t, e.do(t, "GET", fmt.Sprintf("%s/%d", surveysPath, sv.ID), other.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
	if l := decode[page[survey.Survey]](t, e.do(t, "GET", surveysPath, other.key, nil), http.StatusOK); len(l.Data) != 0 {
		t.Fatalf("another tenant lists %+v", l)
	}
	wantError(t, e.do(t, "POST", surveysPath, other.key, map[string]any{"kind": "csat", "contact_id": contact}), http.StatusNotFound, conversation.ENOTFOUND, "contact_id")

	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"no kind":         {map[string]any{"contact_id": contact}, "kind"},
		"bad kind":        {map[string]any{"kind": "ces", "contact_id": contact}, "kind"},
		"no contact":      {map[string]any{"kind": "csat"}, "contact_id"},
		"two subjects":    {map[string]any{"kind": "csat", "contact_id": contact, "topic": "x", "case_id": 3}, "topic"},
		"blank topic":     {map[string]any{"kind": "csat", "contact_id": contact, "topic": "  "}, "topic"},
		"long topic":      {map[string]any{"kind": "csat", "contact_id": contact, "topic": strings.Repeat("a", 300)}, "topic"},
		"purpose of nps":  {map[string]any{"kind": "csat", "contact_id": contact, "purpose": "survey_nps"}, "purpose"},
		"not a survey":    {map[string]any{"kind": "csat", "contact_id": contact, "purpose": "reminder"}, "purpose"},
		"no template":     {map[string]any{"kind": "csat", "contact_id": contact, "purpose": "survey_csat_q9"}, "purpose"},
		"expiry too long": {map[string]any{"kind": "csat", "contact_id": contact, "expires_in_hours": 5000}, "expires_in_hours"},
		"negative expiry": {map[string]any{"kind": "csat", "contact_id": contact, "expires_in_hours": -1}, "expires_in_hours"},
		"bad channel":     {map[string]any{"kind": "csat", "contact_id": contact, "channels": []string{"fax"}}, "channels[0]"},
		"unknown field":   {map[string]any{"kind": "csat", "contact_id": contact, "question": "?"}, "question"},
		"wrong type":      {map[string]any{"kind": "csat", "contact_id": "one"}, "contact_id"},
		"missing contact": {map[string]any{"kind": "csat", "contact_id": 999999}, "contact_id"},
		"bad data name":   {map[string]any{"kind": "csat", "contact_id": contact, "data": map[string]string{"": "x"}}, "data"},
		"bad purpose":     {map[string]any{"kind": "csat", "contact_id": contact, "expires_in_hours": 0, "purpose": "bad purpose"}, "purpose"},
	} {
		t.Run(name, func(t *testing.T) {
			status, code := http.StatusBadRequest, conversation.EINVALID
			if name == "missing contact" {
				status, code = http.StatusNotFound, conversation.ENOTFOUND
			}
			wantError(t, e.do(t, "POST", surveysPath, k, tc.body), status, code, tc.field)
		})
	}
	for query, field := range map[string]string{
		"?kind=ces": "kind", "?status=lost": "status", "?from=yesterday": "from", "?to=2026-13-01": "to",
		"?from=2026-03-02&to=2026-03-01": "to", "?cursor=zz": "cursor", "?contact_id=-1": "contact_id",
	} {
		wantError(t, e.do(t, "GET", surveysPath+query, k, nil), http.StatusBadRequest, conversation.EINVALID, field)
	}
	for query, field := range map[string]string{
		"": "kind", "?kind=ces": "kind", "?kind=csat&from=2024-01-01&to=2026-01-01": "from", "?kind=csat&from=nope": "from",
	} {
		wantError(t, e.do(t, "GET", surveysPath+"/report"+query, k, nil), http.StatusBadRequest, conversation.EINVALID, field)
	}
	wantError(t, e.do(t, "GET", surveysPath+"/99999", k, nil), http.StatusNotFound, conversation.ENOTFOUND, "")

	// A server without the survey service answers 503.
	bare := newEnv(t, envOptions{})
	bt := bare.newTenant(t, "acme", "")
	wantError(t, bare.do(t, "GET", surveysPath, bt.key, nil), http.StatusServiceUnavailable, conversation.EUNAVAILABLE, "")
}

// TestSurveysOpenAPI checks the survey routes' real responses, and the
// requests of a client that follows it, against the description.
func TestSurveysOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{surveys: true})
	_, router := loadSpec(t, e)
	tn := e.newTenant(t, "acme", "")
	contact := e.ingest(t, tn, "customer-1", "m-1", "hola").Message.ContactID
	k := tn.key
	create := exchange{name: "create", method: "POST", path: surveysPath, key: k, status: 202, validRequest: true, env: e,
		body: map[string]any{"kind": "csat", "contact_id": contact, "topic": "soporte", "channels": []string{"api"}}}
	checkExchange(t, router, create)
	sv := decode[page[survey.Survey]](t, e.do(t, "GET", surveysPath, k, nil), http.StatusOK).Data[0]
	for _, x := range []exchange{
		{name: "bad create", method: "POST", path: surveysPath, key: k, status: 400, body: map[string]any{"kind": "x", "contact_id": contact}},
		{name: "missing contact", method: "POST", path: surveysPath, key: k, status: 404, validRequest: true, body: map[string]any{"kind": "nps", "contact_id": 99999}},
		{name: "list", method: "GET", path: surveysPath + "?kind=csat&status=scheduled&limit=5", key: k, status: 200, validRequest: true},
		{name: "bad list", method: "GET", path: surveysPath + "?status=lost", key: k, status: 400},
		{name: "get", method: "GET", path: fmt.Sprintf("%s/%d", surveysPath, sv.ID), key: k, status: 200, validRequest: true},
		{name: "get missing", method: "GET", path: surveysPath + "/99999", key: k, status: 404, validRequest: true},
		{name: "report", method: "GET", path: surveysPath + "/report?kind=csat&from=2026-01-01&to=2026-12-31", key: k, status: 200, validRequest: true},
		{name: "bad report", method: "GET", path: surveysPath + "/report", key: k, status: 400},
	} {
		x.env = e
		t.Run(x.name, func(t *testing.T) { checkExchange(t, router, x) })
	}
}

package api_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"conversa/adapters/api"
	"conversa/conversation"
	"conversa/notify"
	"conversa/notify/campaign"
)

const campaignsPath = "/api/v1/campaigns"

func campaignPath(id int64, rest string) string {
	return fmt.Sprintf("%s/%d%s", campaignsPath, id, rest)
}

// campaignEnv is an API with the campaign service, a tenant with its
// templates and three contacts on its api channel, one of them in Cali.
func campaignEnv(t *testing.T, o envOptions) (*env, tenant) {
	t.Helper()
	o.notifications, o.campaigns, o.now = true, true, func() time.Time { return noon }
	e := newEnv(t, o)
	tn := e.newTenant(t, "acme", "")
	e.withTemplates(t, tn)
	for i, city := range []string{"bogota", "bogota", "cali"} {
		id := e.ingest(t, tn, fmt.Sprintf("c%d", i), fmt.Sprintf("m%d", i), "hola").Message.ContactID
		decode[conversation.Contact](t, e.do(t, "PATCH", fmt.Sprintf("/api/v1/contacts/%d", id), tn.key,
			map[string]any{"attributes": map[string]string{"city": city, notify.AttrPreferredChannel: "api"}}), http.StatusOK)
	}
	return e, tn
}

// upload sends a campaign with a CSV as multipart parts, in order.
func (e *env) upload(t *testing.T, key string, parts ...[2]string) (response, *http.Request) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, p := range parts {
		var w io.Writer
		if p[0] == "contacts" {
			w, _ = mw.CreateFormFile(p[0], "contacts.csv")
		} else {
			w, _ = mw.CreateFormField(p[0])
		}
		io.WriteString(w, p[1])
	}
	mw.Close()
	raw := body.Bytes()
	r := e.do(t, "POST", campaignsPath, key, rawBody(raw), "Content-Type", mw.FormDataContentType())
	req, _ := http.NewRequest("POST", e.srv.URL+campaignsPath, bytes.NewReader(raw))
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return r, req
}

func TestCampaigns(t *testing.T) {
	t.Parallel()
	e, tn := campaignEnv(t, envOptions{})
	k := tn.key

	spec := map[string]any{"name": "Encuesta", "purpose": "survey", "segment": map[string]any{"attributes": map[string]string{"city": "bogota"}},
		"throttle": map[string]any{"per_second": 5, "per_channel": map[string]int{"api": 2}}}
	c := decode[campaign.Campaign](t, e.do(t, "POST", campaignsPath, k, spec), http.StatusCreated)
	if c.Status != campaign.StatusRunning || c.Source != campaign.SourceSegment || c.Throttle.PerChannel[conversation.ChannelAPI] != 2 {
		t.Fatalf("created %+v", c)
	}
	rep := decode[campaign.Report](t, e.do(t, "GET", campaignPath(c.ID, "/report"), k, nil), http.StatusOK)
	if rep.Recipients != 2 || rep.Planned != 2 || rep.Status != campaign.StatusRunning {
		t.Fatalf("report %+v", rep)
	}
	rs := decode[page[campaign.Recipient]](t, e.do(t, "GET", campaignPath(c.ID, "/recipients?state=planned"), k, nil), http.StatusOK)
	if len(rs.Data) != 2 || rs.Data[0].Channel != conversation.ChannelAPI || rs.Data[0].Status != "planned" {
		t.Fatalf("recipients %+v", rs)
	}
	if got := decode[campaign.Campaign](t, e.do(t, "POST", campaignPath(c.ID, "/pause"), k, nil), http.StatusOK); got.Status != campaign.StatusPaused {
		t.Fatalf("paused %+v", got)
	}
	wantError(t, e.do(t, "POST", campaignPath(c.ID, "/pause"), k, nil), http.StatusConflict, conversation.ECONFLICT, "status")
	if got := decode[campaign.Campaign](t, e.do(t, "POST", campaignPath(c.ID, "/resume"), k, nil), http.StatusOK); got.Status != campaign.StatusRunning {
		t.Fatalf("resumed %+v", got)
	}
	if got := decode[campaign.Campaign](t, e.do(t, "POST", campaignPath(c.ID, "/cancel"), k, nil), http.StatusOK); got.Status != campaign.StatusCancelled {
		t.Fatalf("cancelled %+v", got)
	}
	wantError(t, e.do(t, "POST", campaignPath(c.ID, "/resume"), k, nil), http.StatusConflict, conversation.ECONFLICT, "status")
	if rep = decode[campaign.Report](t, e.do(t, "GET", campaignPath(c.ID, "/report"), k, nil), http.StatusOK); rep.Cancelled != 2 {
		t.Fatalf("report after cancel %+v", rep)
	}

	// Everyone, then the list newest first, paged.
	all := decode[campaign.Campaign](t, e.do(t, "POST", campaignsPath, k, map[string]any{"name": "Todos", "purpose": "survey"}), http.StatusCreated)
	pages := walk[campaign.Campaign](t, e, k, campaignsPath+"?", 1)
	if len(pages) != 3 || pages[0][0].ID != all.ID || pages[1][0].ID != c.ID || len(pages[2]) != 0 {
		t.Fatalf("pages %+v", pages)
	}
	if got := decode[campaign.Campaign](t, e.do(t, "GET", campaignPath(all.ID, ""), k, nil), http.StatusOK); got.Name != "Todos" || got.Source != campaign.SourceSegment {
		t.Fatalf("get %+v", got)
	}

	// Bad input: a clear 400 naming the field.
	for name, tc := range map[string]struct {
		body  any
		field string
	}{
		"no name":           {map[string]any{"purpose": "survey"}, "name"},
		"bad purpose":       {map[string]any{"name": "x", "purpose": "Survey!"}, "purpose"},
		"no template":       {map[string]any{"name": "x", "purpose": "outage"}, "purpose"},
		"unknown field":     {map[string]any{"name": "x", "purpose": "survey", "audience": "all"}, "audience"},
		"bad rate":          {map[string]any{"name": "x", "purpose": "survey", "throttle": map[string]any{"per_second": 1_000_000}}, "throttle.per_second"},
		"bad channel rate":  {map[string]any{"name": "x", "purpose": "survey", "throttle": map[string]any{"per_channel": map[string]int{"fax": 1}}}, "throttle.per_channel.fax"},
		"bad segment field": {map[string]any{"name": "x", "purpose": "survey", "segment": map[string]any{"channels": []string{"fax"}}}, "segment.channels[0]"},
		"seen not a time":   {map[string]any{"name": "x", "purpose": "survey", "segment": map[string]any{"seen_after": "ayer"}}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := e.do(t, "POST", campaignsPath, k, tc.body)
			if eb := decode[errorBody](t, r, http.StatusBadRequest); eb.Error.Code != conversation.EINVALID || (tc.field != "" && eb.Error.Field != tc.field) {
				t.Fatalf("error %+v, want field %q", eb.Error, tc.field)
			}
		})
	}
	wantError(t, e.do(t, "GET", campaignPath(c.ID, "/recipients?state=lost"), k, nil), http.StatusBadRequest, conversation.EINVALID, "state")
	wantError(t, e.do(t, "GET", campaignsPath+"/abc", k, nil), http.StatusNotFound, conversation.ENOTFOUND, "")

	// Another tenant's campaign is not found on any route.
	other := e.newTenant(t, "other", "")
	for _, x := range [][2]string{{"GET", ""}, {"GET", "/report"}, {"GET", "/recipients"}, {"POST", "/pause"}, {"POST", "/resume"}, {"POST", "/cancel"}} {
		wantError(t, e.do(t, x[0], campaignPath(c.ID, x[1]), other.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
	}
	if got := decode[page[campaign.Campaign]](t, e.do(t, "GET", campaignsPath, other.key, nil), http.StatusOK); len(got.Data) != 0 {
		t.Fatalf("another tenant lists %+v", got.Data)
	}
}

func TestCampaignCSVUpload(t *testing.T) {
	t.Parallel()
	e, tn := campaignEnv(t, envOptions{cfg: api.Config{MaxCSVBytes: 4096}})
	k := tn.key
	spec := `{"name":"Carga","purpose":"survey","throttle":{"per_second":100}}`
	csv := "name,phone,email\nAna,3001234567,\nMal,12,\n\"Roto,3009876543,\nLuis,,luis@example.com\n"
	r, _ := e.upload(t, k, [2]string{"campaign", spec}, [2]string{"contacts", csv})
	c := decode[campaign.Campaign](t, r, http.StatusCreated)
	if c.Source != campaign.SourceCSV || c.Import == nil || c.Import.Rows != 4 || c.Import.Imported != 2 || c.Import.Bad != 2 ||
		c.Import.BadRows[0].Line != 3 || c.Import.BadRows[1].Line != 4 {
		t.Fatalf("created %+v, import %+v", c, c.Import)
	}
	// The tenant has no SMS, WhatsApp nor email account: planned, nobody
	// can be reached, each for that reason.
	rep := decode[campaign.Report](t, e.do(t, "GET", campaignPath(c.ID, "/report"), k, nil), http.StatusOK)
	if rep.Recipients != 2 || rep.Failed != 2 || rep.FailedBy["no_channel"] != 2 {
		t.Fatalf("report %+v", rep)
	}

	for name, tc := range map[string]struct {
		parts  [][2]string
		status int
		field  string
	}{
		"contacts first":  {[][2]string{{"contacts", csv}, {"campaign", spec}}, 400, "campaign"},
		"no contacts":     {[][2]string{{"campaign", spec}}, 400, "contacts"},
		"bad spec":        {[][2]string{{"campaign", `{"name":"x"`}, {"contacts", csv}}, 400, ""},
		"segment":         {[][2]string{{"campaign", `{"name":"x","purpose":"survey","segment":{}}`}, {"contacts", csv}}, 400, "segment"},
		"no phone column": {[][2]string{{"campaign", spec}, {"contacts", "name\nAna\n"}}, 400, "csv"},
		"too large":       {[][2]string{{"campaign", spec}, {"contacts", "phone\n" + strings.Repeat("3001234567\n", 500)}}, 413, ""},
	} {
		t.Run(name, func(t *testing.T) {
			var parts [][2]string
			parts = append(parts, tc.parts...)
			r, _ := e.upload(t, k, parts...)
			eb := decode[errorBody](t, r, tc.status)
			if tc.field != "" && eb.Error.Field != tc.field {
				t.Fatalf("error %+v, want field %q", eb.Error, tc.field)
			}
		})
	}
}

// TestCampaignsOpenAPI checks the campaign routes' real responses, and
// the requests of a client that follows it, against the description.
func TestCampaignsOpenAPI(t *testing.T) {
	t.Parallel()
	e, tn := campaignEnv(t, envOptions{})
	_, router := loadSpec(t, e)
	none := newEnv(t, envOptions{})
	nt := none.newTenant(t, "acme", "")
	k := tn.key
	spec := map[string]any{"name": "Encuesta", "purpose": "survey", "data": map[string]string{"x": "y"},
		"segment":  map[string]any{"attributes": map[string]string{"city": "bogota"}, "language": "es", "seen_after": "2026-01-01T00:00:00Z", "opted_in": true},
		"throttle": map[string]any{"per_second": 5, "per_channel": map[string]int{"api": 2}}}
	c := decode[campaign.Campaign](t, e.do(t, "POST", campaignsPath, k, map[string]any{"name": "Todos", "purpose": "survey"}), http.StatusCreated)
	paused := decode[campaign.Campaign](t, e.do(t, "POST", campaignsPath, k, map[string]any{"name": "Pausa", "purpose": "survey"}), http.StatusCreated)
	decode[campaign.Campaign](t, e.do(t, "POST", campaignPath(paused.ID, "/pause"), k, nil), http.StatusOK)

	for _, x := range []exchange{
		{name: "create", method: "POST", path: campaignsPath, key: k, status: 201, validRequest: true, body: spec},
		{name: "create bad", method: "POST", path: campaignsPath, key: k, status: 400, validRequest: true, body: map[string]any{"name": "x", "purpose": "outage"}},
		{name: "create too large", method: "POST", path: campaignsPath, key: k, status: 413, body: map[string]any{"name": strings.Repeat("x", bodyLimit), "purpose": "survey"}},
		{name: "create without service", method: "POST", path: campaignsPath, key: nt.key, status: 503, validRequest: true, body: spec, env: none},
		{name: "list", method: "GET", path: campaignsPath + "?limit=1", key: k, status: 200, validRequest: true},
		{name: "list bad cursor", method: "GET", path: campaignsPath + "?cursor=zz", key: k, status: 400},
		{name: "get", method: "GET", path: campaignPath(c.ID, ""), key: k, status: 200, validRequest: true},
		{name: "get missing", method: "GET", path: campaignPath(99999, ""), key: k, status: 404, validRequest: true},
		{name: "report", method: "GET", path: campaignPath(c.ID, "/report"), key: k, status: 200, validRequest: true},
		{name: "recipients", method: "GET", path: campaignPath(c.ID, "/recipients?limit=2&state=planned"), key: k, status: 200, validRequest: true},
		{name: "recipients bad state", method: "GET", path: campaignPath(c.ID, "/recipients?state=lost"), key: k, status: 400},
		{name: "resume running", method: "POST", path: campaignPath(c.ID, "/resume"), key: k, status: 409, validRequest: true},
		{name: "pause", method: "POST", path: campaignPath(c.ID, "/pause"), key: k, status: 200, validRequest: true},
		{name: "resume", method: "POST", path: campaignPath(paused.ID, "/resume"), key: k, status: 200, validRequest: true},
		{name: "cancel", method: "POST", path: campaignPath(paused.ID, "/cancel"), key: k, status: 200, validRequest: true},
		{name: "cancel missing", method: "POST", path: campaignPath(99999, "/cancel"), key: k, status: 404, validRequest: true},
		{name: "report without service", method: "GET", path: campaignPath(1, "/report"), key: nt.key, status: 503, validRequest: true, env: none},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
	t.Run("upload", func(t *testing.T) {
		r, req := e.upload(t, k, [2]string{"campaign", `{"name":"Carga","purpose":"survey"}`}, [2]string{"contacts", "phone\n3001234567\n12\n"})
		if r.status != http.StatusCreated {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		validateResponse(t, router, req, r.status, r.header, r.body, false)
	})
}

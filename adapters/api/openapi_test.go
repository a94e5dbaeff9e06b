package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"conversa/adapters/api"
	"conversa/conversation"
)

// descriptionRoute is the one route outside api.RouteTable: the
// description itself, served without a key.
const descriptionRoute = "GET /api/openapi.json"

// loadSpec fetches the served description, checks that it is a valid
// OpenAPI document, and returns it with a router over its paths.
func loadSpec(t *testing.T, e *env) (*openapi3.T, routers.Router) {
	t.Helper()
	r := e.do(t, "GET", "/api/openapi.json", "", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/openapi.json: status %d, Content-Type %q", r.status, r.header.Get("Content-Type"))
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(r.body)
	if err != nil {
		t.Fatalf("load the description: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("the description is not valid OpenAPI: %v", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// TestOpenAPIRoutes checks that the description documents exactly the
// routes the API serves, and that each of them is really registered.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	doc, router := loadSpec(t, e)

	registered := append(append(api.RouteTable(), api.OperatorRouteTable()...), descriptionRoute)
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	for _, rt := range registered {
		if !slices.Contains(documented, rt) {
			t.Errorf("%s is served but not documented", rt)
		}
	}
	for _, rt := range documented {
		if !slices.Contains(registered, rt) {
			t.Errorf("%s is documented but not served", rt)
		}
	}

	// Each route answers on the mux (not the catch-all 404), and the
	// document's router finds it.
	for _, rt := range registered {
		method, path, _ := strings.Cut(rt, " ")
		concrete := strings.ReplaceAll(path, "{id}", "1")
		r := e.do(t, method, concrete, "", nil)
		want := http.StatusUnauthorized
		if rt == descriptionRoute {
			want = http.StatusOK
		}
		if r.status != want {
			t.Errorf("%s %s without a key: status %d, want %d", method, concrete, r.status, want)
		}
		req, _ := http.NewRequest(method, e.srv.URL+concrete, nil)
		route, _, err := router.FindRoute(req)
		if err != nil || route.Path != path {
			t.Errorf("%s %s: the description's router finds %v, %v", method, concrete, route, err)
		}
		security := doc.Security
		if item := doc.Paths.Value(path); item == nil {
			continue // reported above
		} else if op := item.GetOperation(method); op != nil && op.Security != nil {
			security = *op.Security
		}
		if needsKey := rt != descriptionRoute; needsKey != (len(security) > 0) {
			t.Errorf("%s: documented security %v, but a key is needed: %v", rt, security, needsKey)
		}
	}
}

// exchange is one request of TestOpenAPIResponses.
type exchange struct {
	name   string
	method string
	path   string
	key    string
	body   any
	header []string
	status int
	// validRequest also checks the request against the description; set
	// it on requests a client following the description would send.
	validRequest bool
	// env, when set, serves the request instead of the test's main env.
	env *env
}

// TestOpenAPIResponses sends a representative good and bad request to every
// endpoint and checks each real response, error bodies included, against
// the description.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	_, router := loadSpec(t, e)
	tn := e.newTenant(t, "acme", "")
	ctx := t.Context()

	// Fixtures: conversations in each state a transition starts from.
	open := e.ingest(t, tn, "open", "m-open", "hola, quiero poner una queja")
	toQueue := e.ingest(t, tn, "to-queue", "m-q", "hola").Conversation.ID
	toBot := e.ingest(t, tn, "to-bot", "m-b", "hola").Conversation.ID
	toClose := e.ingest(t, tn, "to-close", "m-c", "hola").Conversation.ID
	toReopen := e.ingest(t, tn, "to-reopen", "m-r", "hola").Conversation.ID
	closed := e.ingest(t, tn, "closed", "m-x", "hola").Conversation.ID
	if _, err := e.svc.Queue(ctx, tn.ID, toBot); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{toReopen, closed} {
		if _, err := e.svc.Close(ctx, tn.ID, id); err != nil {
			t.Fatal(err)
		}
	}
	sent, err := e.svc.Send(ctx, conversation.Outbound{TenantID: tn.ID, ConversationID: open.Conversation.ID,
		Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("respuesta")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateStatus(ctx, conversation.StatusUpdate{TenantID: tn.ID, MessageID: sent[0].Message.ID,
		Status: conversation.StatusFailed, Failure: &conversation.Failure{Code: "21211", Message: "invalid number"}}); err != nil {
		t.Fatal(err)
	}
	disabled, err := e.store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: tn.ID, Kind: conversation.ChannelAPI, Key: "acme-off", Name: "Off", Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	// An API without the de-duplication fast path, whose duplicates are
	// found by the store, and one with a tiny rate limit.
	storeDedup := newEnv(t, envOptions{noDedup: true})
	sdTenant := storeDedup.newTenant(t, "acme", "")
	limited := newEnv(t, envOptions{cfg: api.Config{RequestsPerMinute: 1}})
	ltTenant := limited.newTenant(t, "acme", "")

	conv := open.Conversation.ID
	contact := open.Message.ContactID
	convPath := func(id int64, rest string) string { return fmt.Sprintf("/api/v1/conversations/%d%s", id, rest) }
	inbound := func(channel int64, id string) map[string]any {
		return map[string]any{"channel_id": channel, "from": "customer-1", "from_name": "Carla", "id": id, "text": "hola", "language": "es"}
	}
	richParts := map[string]any{"parts": []any{
		map[string]any{"type": "text", "text": "Mira esto:"},
		map[string]any{"type": "media", "text": "la factura", "media": map[string]any{"content_type": "application/pdf", "url": "https://example.com/f.pdf", "filename": "f.pdf", "size": 1234}},
		map[string]any{"type": "location", "location": map[string]any{"latitude": 4.6, "longitude": -74.08, "name": "Oficina"}},
		map[string]any{"type": "contact", "contact": map[string]any{"name": "Soporte", "phones": []string{"+573001234567"}}},
		map[string]any{"type": "buttons", "text": "¿Te sirvió?", "buttons": []any{map[string]any{"id": "yes", "title": "Sí"}, map[string]any{"title": "No"}}},
	}}
	k := tn.key

	for _, x := range []exchange{
		{name: "description", method: "GET", path: "/api/openapi.json", status: 200, validRequest: true},

		{name: "channels", method: "GET", path: "/api/v1/channels", key: k, status: 200, validRequest: true},
		{name: "report", method: "GET", path: "/api/v1/reports?from=2026-01-01&to=2026-01-31&zone=America/Bogota", key: k, status: 200, validRequest: true},
		{name: "report bad zone", method: "GET", path: "/api/v1/reports?zone=Mars/Olympus", key: k, status: 400, validRequest: true},
		{name: "report CSV reversed", method: "GET", path: "/api/v1/reports.csv?from=2026-02-01&to=2026-01-01", key: k, status: 400, validRequest: true},
		{name: "live", method: "GET", path: "/api/v1/reports/live", key: k, status: 200, validRequest: true},
		{name: "live bad teams", method: "GET", path: "/api/v1/reports/live?teams=x", key: k, status: 400, validRequest: true},
		{name: "channels without key", method: "GET", path: "/api/v1/channels", status: 401},
		{name: "channels with a bad key", method: "GET", path: "/api/v1/channels", key: "cnv_nope", status: 401},

		{name: "contacts", method: "GET", path: "/api/v1/contacts?limit=2", key: k, status: 200, validRequest: true},
		{name: "contacts bad cursor", method: "GET", path: "/api/v1/contacts?cursor=zz", key: k, status: 400},
		{name: "contacts over the limit", method: "GET", path: "/api/v1/contacts?limit=201", key: k, status: 400},
		{name: "contact", method: "GET", path: fmt.Sprintf("/api/v1/contacts/%d", contact), key: k, status: 200, validRequest: true},
		{name: "contact missing", method: "GET", path: "/api/v1/contacts/99999", key: k, status: 404, validRequest: true},
		{name: "patch contact", method: "PATCH", path: fmt.Sprintf("/api/v1/contacts/%d", contact), key: k, status: 200, validRequest: true,
			body: map[string]any{"name": "Ana", "language": "es-CO", "attributes": map[string]string{"plan": "gold"}}},
		{name: "patch contact unknown field", method: "PATCH", path: fmt.Sprintf("/api/v1/contacts/%d", contact), key: k, status: 400, body: map[string]any{"nick": "A"}},
		{name: "patch contact too large", method: "PATCH", path: fmt.Sprintf("/api/v1/contacts/%d", contact), key: k, status: 413,
			body: map[string]any{"attributes": map[string]string{"bio": strings.Repeat("x", conversation.MaxAttributeValue+1)}}},
		{name: "patch contact missing", method: "PATCH", path: "/api/v1/contacts/99999", key: k, status: 404, body: map[string]any{"name": "A"}, validRequest: true},

		{name: "conversations", method: "GET", path: "/api/v1/conversations?limit=3", key: k, status: 200, validRequest: true},
		{name: "conversations by state", method: "GET", path: fmt.Sprintf("/api/v1/conversations?state=closed&contact_id=%d", contact), key: k, status: 200, validRequest: true},
		{name: "conversations bad state", method: "GET", path: "/api/v1/conversations?state=open", key: k, status: 400},
		{name: "conversation", method: "GET", path: convPath(conv, ""), key: k, status: 200, validRequest: true},
		{name: "closed conversation", method: "GET", path: convPath(closed, ""), key: k, status: 200, validRequest: true},
		{name: "conversation missing", method: "GET", path: convPath(99999, ""), key: k, status: 404, validRequest: true},

		{name: "messages", method: "GET", path: convPath(conv, "/messages?order=desc&limit=1"), key: k, status: 200, validRequest: true},
		{name: "messages bad order", method: "GET", path: convPath(conv, "/messages?order=sideways"), key: k, status: 400},
		{name: "messages of a missing conversation", method: "GET", path: convPath(99999, "/messages"), key: k, status: 404, validRequest: true},

		{name: "send text", method: "POST", path: convPath(conv, "/messages"), key: k, status: 201, validRequest: true,
			body: map[string]any{"text": "hola", "author": map[string]any{"kind": "agent", "id": 4, "name": "Laura"}}, header: []string{"Idempotency-Key", "k-1"}},
		{name: "send replayed", method: "POST", path: convPath(conv, "/messages"), key: k, status: 200, validRequest: true,
			body: map[string]any{"text": "hola"}, header: []string{"Idempotency-Key", "k-1"}},
		{name: "send parts", method: "POST", path: convPath(conv, "/messages"), key: k, status: 201, validRequest: true, body: richParts},
		{name: "send both", method: "POST", path: convPath(conv, "/messages"), key: k, status: 400, body: map[string]any{"text": "a", "parts": []any{map[string]any{"type": "text", "text": "b"}}}},
		{name: "send to a missing conversation", method: "POST", path: convPath(99999, "/messages"), key: k, status: 404, body: map[string]any{"text": "a"}, validRequest: true},
		{name: "send to a closed conversation", method: "POST", path: convPath(closed, "/messages"), key: k, status: 409, body: map[string]any{"text": "a"}, validRequest: true},
		{name: "send too much text", method: "POST", path: convPath(conv, "/messages"), key: k, status: 413, body: map[string]any{"text": strings.Repeat("a", conversation.MaxTextBytes+1)}},
		{name: "send too large a body", method: "POST", path: convPath(conv, "/messages"), key: k, status: 413, body: map[string]any{"text": strings.Repeat("a", bodyLimit)}},

		{name: "assign", method: "POST", path: convPath(conv, "/assign"), key: k, status: 200, body: map[string]any{"agent_id": 9}, validRequest: true},
		{name: "assign without agent", method: "POST", path: convPath(conv, "/assign"), key: k, status: 400, body: map[string]any{}},
		{name: "assign closed", method: "POST", path: convPath(closed, "/assign"), key: k, status: 409, body: map[string]any{"agent_id": 9}, validRequest: true},
		{name: "assign missing", method: "POST", path: convPath(99999, "/assign"), key: k, status: 404, body: map[string]any{"agent_id": 9}, validRequest: true},
		{name: "assign too large", method: "POST", path: convPath(conv, "/assign"), key: k, status: 413, body: map[string]any{"agent_id": 9, "pad": strings.Repeat(" ", bodyLimit)}},
		{name: "queue", method: "POST", path: convPath(toQueue, "/queue"), key: k, status: 200, validRequest: true},
		{name: "queue closed", method: "POST", path: convPath(closed, "/queue"), key: k, status: 409, validRequest: true},
		{name: "queue missing", method: "POST", path: convPath(99999, "/queue"), key: k, status: 404, validRequest: true},
		{name: "bot", method: "POST", path: convPath(toBot, "/bot"), key: k, status: 200, validRequest: true},
		{name: "bot closed", method: "POST", path: convPath(closed, "/bot"), key: k, status: 409, validRequest: true},
		{name: "close", method: "POST", path: convPath(toClose, "/close"), key: k, status: 200, validRequest: true},
		{name: "close missing", method: "POST", path: convPath(99999, "/close"), key: k, status: 404, validRequest: true},
		{name: "reopen", method: "POST", path: convPath(toReopen, "/reopen"), key: k, status: 200, validRequest: true},
		{name: "reopen open", method: "POST", path: convPath(conv, "/reopen"), key: k, status: 409, validRequest: true},

		{name: "typing", method: "POST", path: convPath(conv, "/typing"), key: k, status: 204, body: map[string]any{"on": true, "author_name": "Laura"}, validRequest: true},
		{name: "typing bad body", method: "POST", path: convPath(conv, "/typing"), key: k, status: 400, body: map[string]any{"on": "yes"}},
		{name: "typing missing", method: "POST", path: convPath(99999, "/typing"), key: k, status: 404, body: map[string]any{"on": false}, validRequest: true},
		{name: "typing too large", method: "POST", path: convPath(conv, "/typing"), key: k, status: 413, body: map[string]any{"on": true, "author_name": strings.Repeat("x", bodyLimit)}},

		{name: "search", method: "GET", path: "/api/v1/messages/search?q=queja&limit=5", key: k, status: 200, validRequest: true},
		{name: "search without words", method: "GET", path: "/api/v1/messages/search?q=%21", key: k, status: 400, validRequest: true},
		{name: "message", method: "GET", path: fmt.Sprintf("/api/v1/messages/%d", open.Message.ID), key: k, status: 200, validRequest: true},
		{name: "failed message", method: "GET", path: fmt.Sprintf("/api/v1/messages/%d", sent[0].Message.ID), key: k, status: 200, validRequest: true},
		{name: "message missing", method: "GET", path: "/api/v1/messages/99999", key: k, status: 404, validRequest: true},

		{name: "inbound", method: "POST", path: "/api/v1/inbound", key: k, status: 201, body: inbound(tn.api.ID, "in-1"), validRequest: true},
		{name: "inbound duplicate", method: "POST", path: "/api/v1/inbound", key: k, status: 200, body: inbound(tn.api.ID, "in-1"), validRequest: true},
		{name: "inbound", method: "POST", path: "/api/v1/inbound", key: sdTenant.key, status: 201, body: inbound(sdTenant.api.ID, "in-1"), validRequest: true, env: storeDedup},
		{name: "inbound duplicate found by the store", method: "POST", path: "/api/v1/inbound", key: sdTenant.key, status: 200, body: inbound(sdTenant.api.ID, "in-1"), validRequest: true, env: storeDedup},
		{name: "inbound on a webchat channel", method: "POST", path: "/api/v1/inbound", key: k, status: 400, body: inbound(tn.webchat.ID, "in-2"), validRequest: true},
		{name: "inbound on a disabled channel", method: "POST", path: "/api/v1/inbound", key: k, status: 403, body: inbound(disabled.ID, "in-3"), validRequest: true},
		{name: "inbound on a missing channel", method: "POST", path: "/api/v1/inbound", key: k, status: 404, body: inbound(99999, "in-4"), validRequest: true},
		{name: "inbound too large", method: "POST", path: "/api/v1/inbound", key: k, status: 413, body: map[string]any{"channel_id": tn.api.ID, "from": "c", "id": "x", "text": strings.Repeat("a", conversation.MaxTextBytes+1)}},

		{name: "events bad filter", method: "GET", path: "/api/v1/events?conversation_id=x", key: k, status: 400},

		{name: "rate limit first", method: "GET", path: "/api/v1/channels", key: ltTenant.key, status: 200, env: limited, validRequest: true},
		{name: "rate limited", method: "GET", path: "/api/v1/channels", key: ltTenant.key, status: 429, env: limited, validRequest: true},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}

	t.Run("events", func(t *testing.T) {
		// The stream never ends by itself: check its status and headers
		// and leave the body alone.
		req, resp := e.streamEvents(t, k, fmt.Sprintf("?conversation_id=%d", conv))
		defer resp.Body.Close()
		validateResponse(t, router, req, resp.StatusCode, resp.Header, nil, true)
	})
}

// streamEvents opens the event stream.
func (e *env) streamEvents(t *testing.T, key, query string) (*http.Request, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events"+query, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return req, resp
}

// checkExchange sends x and validates the request (when x says so) and the
// response against the description.
func checkExchange(t *testing.T, router routers.Router, x exchange) {
	t.Helper()
	var body []byte
	if x.body != nil {
		var err error
		if body, err = json.Marshal(x.body); err != nil {
			t.Fatal(err)
		}
	}
	newReq := func() *http.Request {
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(t.Context(), x.method, x.env.srv.URL+x.path, r)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if x.key != "" {
			req.Header.Set("Authorization", "Bearer "+x.key)
		}
		for i := 0; i+1 < len(x.header); i += 2 {
			req.Header.Set(x.header[i], x.header[i+1])
		}
		return req
	}

	if x.validRequest {
		req := newReq()
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Fatalf("the description has no route for %s %s: %v", x.method, x.path, err)
		}
		err = openapi3filter.ValidateRequest(t.Context(), &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
		})
		if err != nil {
			t.Errorf("the request does not match the description: %v", err)
		}
	}

	resp, err := x.env.srv.Client().Do(newReq())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != x.status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, x.status, respBody)
	}
	validateResponse(t, router, newReq(), resp.StatusCode, resp.Header, respBody, false)
}

// validateResponse checks one response against the description; noBody
// leaves the body out (for streams).
func validateResponse(t *testing.T, router routers.Router, req *http.Request, status int, header http.Header, body []byte, noBody bool) {
	t.Helper()
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("the description has no route for %s %s: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: noBody},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(t.Context(), in); err != nil {
		t.Errorf("the %d response does not match the description: %v\nbody: %.2000s", status, err, body)
	}
	if noBody || status == http.StatusNoContent {
		return
	}
	if ct := header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	// The schemas do not forbid other properties, but a property the
	// description does not name is a mistake of one or the other.
	resp := route.Operation.Responses.Status(status)
	if resp == nil || resp.Value.Content.Get("application/json") == nil {
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("the body is not JSON: %v", err)
	}
	if extra := undocumented(resp.Value.Content.Get("application/json").Schema, v, ""); len(extra) > 0 {
		t.Errorf("the %d response has properties the description does not name: %v", status, extra)
	}
}

// undocumented returns the paths of the properties of v that the schema
// does not describe. An object schema without properties is free-form.
func undocumented(ref *openapi3.SchemaRef, v any, at string) []string {
	if ref == nil || ref.Value == nil {
		return nil
	}
	s := ref.Value
	if len(s.AllOf) == 1 && len(s.Properties) == 0 {
		return undocumented(s.AllOf[0], v, at)
	}
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for name, pv := range v {
			switch prop, extra := s.Properties[name], s.AdditionalProperties.Schema; {
			case prop != nil:
				out = append(out, undocumented(prop, pv, at+"/"+name)...)
			case extra != nil:
				out = append(out, undocumented(extra, pv, at+"/"+name)...)
			case len(s.Properties) > 0:
				out = append(out, at+"/"+name)
			}
		}
	case []any:
		for i, item := range v {
			out = append(out, undocumented(s.Items, item, fmt.Sprintf("%s/%d", at, i))...)
		}
	}
	slices.Sort(out)
	return out
}

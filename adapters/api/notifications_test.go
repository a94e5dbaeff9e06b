package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"conversa/adapters/api"
	"conversa/conversation"
	"conversa/notify"
	"conversa/templates"
)

// noon is the notification service's clock in these tests: 15:00 UTC,
// 10:00 in the tenants' time zone (America/Bogota, the default).
var noon = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)

// appointmentYAML and notifySurveyYAML are templates for any channel.
const (
	appointmentYAML = `purpose: appointment
variables:
  name: {sample: "Ana", required: true}
  when: {sample: "mañana a las 10"}
variants:
  - channel: default
    language: es
    text: "Hola {{.name}}, su cita es {{default \"pronto\" .when}}."
  - channel: default
    language: en
    text: "Hi {{.name}}, your appointment is {{default \"soon\" .when}}."
`
	notifySurveyYAML = `purpose: survey
variants:
  - channel: default
    language: es
    text: "Califique nuestra atencion de 1 a 5."
  - channel: default
    language: en
    text: "Rate us from 1 to 5."
`
)

// notifyEnv is an API with the notification service on a clock at noon.
func notifyEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, envOptions{notifications: true, now: func() time.Time { return noon }})
}

// withTemplates saves the notification tests' templates for tn.
func (e *env) withTemplates(t *testing.T, tn tenant) {
	t.Helper()
	svc := templates.NewService(e.store)
	for purpose, src := range map[string]string{"appointment": appointmentYAML, "survey": notifySurveyYAML} {
		if _, _, _, err := svc.Save(t.Context(), tn.ID, purpose, purpose+".yaml", []byte(src)); err != nil {
			t.Fatalf("template %s: %v", purpose, err)
		}
	}
}

// runJob runs a notification's job as the Worker would.
func (e *env) runJob(t *testing.T, n notify.Notification) {
	t.Helper()
	if err := e.notifier.NotifyJob(t.Context(), conversation.Job{TenantID: n.TenantID, Kind: notify.JobNotify, Ref: n.ID, RunAt: n.Due}); err != nil {
		t.Fatalf("job of notification %d: %v", n.ID, err)
	}
}

// countNotifications counts a tenant's stored notifications.
func (e *env) countNotifications(t *testing.T, tenantID int64) int {
	t.Helper()
	ns, err := e.notifier.List(t.Context(), tenantID, notify.Filter{Limit: conversation.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(ns)
}

// sameJSON reports whether a and b are the same JSON value, whatever the
// order of their properties.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	var va, vb any
	for _, x := range []struct {
		in  any
		out *any
	}{{a, &va}, {b, &vb}} {
		j, err := json.Marshal(x.in)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(j, x.out); err != nil {
			t.Fatal(err)
		}
	}
	return reflect.DeepEqual(va, vb)
}

const notificationsPath = "/api/v1/notifications"

func notificationPath(id int64) string { return fmt.Sprintf("%s/%d", notificationsPath, id) }

func TestNotifications(t *testing.T) {
	t.Parallel()
	e := notifyEnv(t)
	tn := e.newTenant(t, "acme", "")
	e.withTemplates(t, tn)
	k := tn.key
	ana := e.ingest(t, tn, "ana-17", "m-1", "hola").Message.ContactID
	bob := e.ingest(t, tn, "bob-3", "m-2", "hola").Message.ContactID
	// The api channel is in no default chain: Ana prefers it.
	decode[conversation.Contact](t, e.do(t, "PATCH", fmt.Sprintf("/api/v1/contacts/%d", ana), k,
		map[string]any{"attributes": map[string]string{notify.AttrPreferredChannel: "api"}}), http.StatusOK)
	post := func(body any, key string) response {
		t.Helper()
		if key == "" {
			return e.do(t, "POST", notificationsPath, k, body)
		}
		return e.do(t, "POST", notificationsPath, k, body, "Idempotency-Key", key)
	}
	appointment := map[string]any{"contact_id": ana, "purpose": "appointment", "data": map[string]string{"name": "Ana", "when": "hoy a las 4"}}

	first := decode[notify.Notification](t, post(appointment, "cita:1"), http.StatusAccepted)
	if first.ID == 0 || first.TenantID != tn.ID || first.ContactID != ana || first.Purpose != "appointment" || first.Status != notify.StatusScheduled ||
		first.IdempotencyKey != "cita:1" || !first.Due.Equal(noon) || first.Data["when"] != "hoy a las 4" || first.MessageID != 0 {
		t.Fatalf("created %+v", first)
	}

	t.Run("idempotency", func(t *testing.T) {
		// The same key and request, with its data in another order: the
		// first notification.
		same := map[string]any{"data": map[string]string{"when": "hoy a las 4", "name": "Ana"}, "purpose": "appointment", "contact_id": ana}
		if again := decode[notify.Notification](t, post(same, "cita:1"), http.StatusAccepted); again.ID != first.ID {
			t.Fatalf("a retry created notification %d; want the first, %d", again.ID, first.ID)
		}
		for name, body := range map[string]map[string]any{
			"other data":     {"contact_id": ana, "purpose": "appointment", "data": map[string]string{"name": "Ana", "when": "mañana"}},
			"other contact":  {"contact_id": bob, "purpose": "appointment", "data": map[string]string{"name": "Ana", "when": "hoy a las 4"}},
			"other channels": {"contact_id": ana, "purpose": "appointment", "data": map[string]string{"name": "Ana", "when": "hoy a las 4"}, "channels": []string{"api"}},
			"a delay":        {"contact_id": ana, "purpose": "appointment", "data": map[string]string{"name": "Ana", "when": "hoy a las 4"}, "send_after": "2026-03-11T09:00:00-05:00"},
		} {
			t.Run(name, func(t *testing.T) {
				wantError(t, post(body, "cita:1"), http.StatusConflict, conversation.ECONFLICT, "idempotency_key")
			})
		}
		// Without a key every request is a new notification.
		a := decode[notify.Notification](t, post(appointment, ""), http.StatusAccepted)
		b := decode[notify.Notification](t, post(appointment, ""), http.StatusAccepted)
		if a.ID == b.ID || a.ID == first.ID || a.IdempotencyKey != "" {
			t.Fatalf("without a key: %d and %d (first %d), key %q", a.ID, b.ID, first.ID, a.IdempotencyKey)
		}
	})

	t.Run("sent", func(t *testing.T) {
		e.runJob(t, first)
		n := decode[notify.Notification](t, e.do(t, "GET", notificationPath(first.ID), k, nil), http.StatusOK)
		if n.Status != notify.StatusSent || n.Channel != conversation.ChannelAPI || n.AccountID != tn.api.ID || n.MessageID == 0 ||
			n.ConversationID == 0 || n.SentAt.IsZero() || len(n.Skipped) != 0 {
			t.Fatalf("after its job: %+v", n)
		}
		m := decode[conversation.Message](t, e.do(t, "GET", fmt.Sprintf("/api/v1/messages/%d", n.MessageID), k, nil), http.StatusOK)
		if got := conversation.PartsText(m.Parts); got != "Hi Ana, your appointment is hoy a las 4." && got != "Hola Ana, su cita es hoy a las 4." {
			t.Errorf("the message says %q", got)
		}
		if m.ContactID != ana || m.Direction != conversation.DirectionOut {
			t.Errorf("message %+v", m)
		}
		// A retry after it was sent answers it as it stands.
		if again := decode[notify.Notification](t, post(appointment, "cita:1"), http.StatusAccepted); again.ID != first.ID || again.Status != notify.StatusSent {
			t.Errorf("a retry after sending: %+v", again)
		}
	})

	t.Run("undeliverable", func(t *testing.T) {
		body := map[string]any{"contact_id": bob, "purpose": "survey", "channels": []string{"sms", "webchat"}}
		n := decode[notify.Notification](t, post(body, ""), http.StatusAccepted)
		e.runJob(t, n)
		n = decode[notify.Notification](t, e.do(t, "GET", notificationPath(n.ID), k, nil), http.StatusOK)
		var codes []string
		for _, s := range n.Skipped {
			codes = append(codes, string(s.Channel)+":"+s.Code)
			if s.Reason == "" {
				t.Errorf("skip %+v without a reason", s)
			}
		}
		if n.Status != notify.StatusUndeliverable || n.Note == "" || n.MessageID != 0 ||
			!slices.Equal(codes, []string{"sms:" + notify.SkipNoIdentity, "webchat:" + notify.SkipNoIdentity}) {
			t.Fatalf("a notification on channels bob has no address on: %+v (skips %v)", n, codes)
		}
	})

	t.Run("quiet hours in the contact's zone", func(t *testing.T) {
		// 15:00 UTC is midnight in Tokyo: due at 08:00 there.
		r := e.do(t, "PATCH", fmt.Sprintf("/api/v1/contacts/%d", bob), k, map[string]any{"attributes": map[string]string{"time_zone": "Asia/Tokyo"}})
		decode[conversation.Contact](t, r, http.StatusOK)
		n := decode[notify.Notification](t, post(map[string]any{"contact_id": bob, "purpose": "appointment", "data": map[string]string{"name": "Bob"}}, ""), http.StatusAccepted)
		if want := time.Date(2026, 3, 10, 23, 0, 0, 0, time.UTC); !n.Due.Equal(want) || n.TimeZone != "Asia/Tokyo" || n.Status != notify.StatusScheduled {
			t.Fatalf("due %v in %q (%s), want %v", n.Due, n.TimeZone, n.Status, want)
		}
		got := decode[notify.Notification](t, e.do(t, "GET", notificationPath(n.ID), k, nil), http.StatusOK)
		if !got.Due.Equal(n.Due) || got.Status != notify.StatusScheduled {
			t.Fatalf("read back %+v", got)
		}
		// A send_after in the afternoon there is kept.
		later := decode[notify.Notification](t, post(map[string]any{"contact_id": bob, "purpose": "appointment", "data": map[string]string{"name": "Bob"},
			"send_after": "2026-03-12T15:30:00+09:00"}, ""), http.StatusAccepted)
		if want := time.Date(2026, 3, 12, 6, 30, 0, 0, time.UTC); !later.Due.Equal(want) || !later.SendAfter.Equal(want) {
			t.Fatalf("send_after: due %v, send_after %v; want %v", later.Due, later.SendAfter, want)
		}
	})

	t.Run("list", func(t *testing.T) {
		all := decode[page[notify.Notification]](t, e.do(t, "GET", notificationsPath, k, nil), http.StatusOK)
		if len(all.Data) != e.countNotifications(t, tn.ID) || len(all.Data) < 5 || all.NextCursor != "" {
			t.Fatalf("listed %d, next %q; stored %d", len(all.Data), all.NextCursor, e.countNotifications(t, tn.ID))
		}
		got := ids(all.Data, func(n notify.Notification) int64 { return n.ID })
		if !slices.IsSortedFunc(got, func(a, b int64) int { return int(b - a) }) {
			t.Errorf("not newest first: %v", got)
		}
		var paged []int64
		for _, p := range walk[notify.Notification](t, e, k, notificationsPath+"?", 2) {
			paged = append(paged, ids(p, func(n notify.Notification) int64 { return n.ID })...)
		}
		if !slices.Equal(paged, got) {
			t.Errorf("paged %v, want %v", paged, got)
		}
		for _, tc := range []struct {
			query string
			keep  func(notify.Notification) bool
		}{
			{fmt.Sprintf("contact_id=%d", bob), func(n notify.Notification) bool { return n.ContactID == bob }},
			{"status=sent", func(n notify.Notification) bool { return n.Status == notify.StatusSent }},
			{"status=undeliverable&purpose=survey", func(n notify.Notification) bool {
				return n.Status == notify.StatusUndeliverable && n.Purpose == "survey"
			}},
			{fmt.Sprintf("purpose=appointment&contact_id=%d&status=scheduled", ana), func(n notify.Notification) bool {
				return n.Purpose == "appointment" && n.ContactID == ana && n.Status == notify.StatusScheduled
			}},
			{"purpose=outage", func(notify.Notification) bool { return false }},
		} {
			t.Run(tc.query, func(t *testing.T) {
				var want []int64
				for _, n := range all.Data {
					if tc.keep(n) {
						want = append(want, n.ID)
					}
				}
				pg := decode[page[notify.Notification]](t, e.do(t, "GET", notificationsPath+"?"+tc.query, k, nil), http.StatusOK)
				if got := ids(pg.Data, func(n notify.Notification) int64 { return n.ID }); !slices.Equal(got, want) {
					t.Errorf("got %v, want %v", got, want)
				}
			})
		}
		if len(decode[page[notify.Notification]](t, e.do(t, "GET", notificationsPath+"?status=sent", k, nil), http.StatusOK).Data) == 0 {
			t.Error("no sent notification listed")
		}
	})

	t.Run("refused", func(t *testing.T) {
		other := e.newTenant(t, "other", "")
		stranger := e.ingest(t, other, "eve", "m-3", "hola").Message.ContactID
		before := e.countNotifications(t, tn.ID)
		for _, tc := range []struct {
			name   string
			body   any
			key    string
			status int
			code   string
			field  string
		}{
			{"no contact", map[string]any{"purpose": "appointment"}, "", 400, conversation.EINVALID, "contact_id"},
			{"no purpose", map[string]any{"contact_id": ana}, "", 400, conversation.EINVALID, "purpose"},
			{"a bad purpose", map[string]any{"contact_id": ana, "purpose": "Cita"}, "", 400, conversation.EINVALID, "purpose"},
			{"a purpose without a template", map[string]any{"contact_id": ana, "purpose": "outage"}, "", 400, conversation.EINVALID, "purpose"},
			{"a required variable missing", map[string]any{"contact_id": ana, "purpose": "appointment", "data": map[string]string{"when": "hoy"}}, "", 400, conversation.EINVALID, "data.name"},
			{"data not strings", map[string]any{"contact_id": ana, "purpose": "appointment", "data": map[string]any{"name": 1}}, "", 400, conversation.EINVALID, "data"},
			{"a NUL in data", map[string]any{"contact_id": ana, "purpose": "appointment", "data": map[string]string{"name": "A\x00"}}, "", 400, conversation.EINVALID, "data.name"},
			{"too much data", map[string]any{"contact_id": ana, "purpose": "appointment", "data": map[string]string{"name": strings.Repeat("a", 4097)}}, "", 400, conversation.EINVALID, "data.name"},
			{"an unknown channel", map[string]any{"contact_id": ana, "purpose": "survey", "channels": []string{"fax"}}, "", 400, conversation.EINVALID, "channels[0]"},
			{"a channel twice", map[string]any{"contact_id": ana, "purpose": "survey", "channels": []string{"sms", "sms"}}, "", 400, conversation.EINVALID, "channels[1]"},
			{"a bad send_after", map[string]any{"contact_id": ana, "purpose": "survey", "send_after": "tomorrow"}, "", 400, conversation.EINVALID, "send_after"},
			{"a send_after years ahead", map[string]any{"contact_id": ana, "purpose": "survey", "send_after": "2999-01-01T00:00:00Z"}, "", 400, conversation.EINVALID, "send_after"},
			{"an unknown field", map[string]any{"contact_id": ana, "purpose": "survey", "urgent": true}, "", 400, conversation.EINVALID, "urgent"},
			{"a bad key", map[string]any{"contact_id": ana, "purpose": "survey"}, strings.Repeat("k", conversation.MaxShortField+1), 400, conversation.EINVALID, "idempotency_key"},
			{"a missing contact", map[string]any{"contact_id": 99999, "purpose": "survey"}, "", 404, conversation.ENOTFOUND, "contact_id"},
			{"another tenant's contact", map[string]any{"contact_id": stranger, "purpose": "survey"}, "", 404, conversation.ENOTFOUND, "contact_id"},
			{"not an object", []any{1}, "", 400, conversation.EINVALID, ""},
			{"too large", map[string]any{"contact_id": ana, "purpose": "survey", "data": map[string]string{"x": strings.Repeat("a", bodyLimit)}}, "", 413, conversation.ETOOLARGE, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantError(t, post(tc.body, tc.key), tc.status, tc.code, tc.field)
			})
		}
		if after := e.countNotifications(t, tn.ID); after != before {
			t.Errorf("refused requests stored %d notifications", after-before)
		}
		for _, tc := range []struct {
			path   string
			status int
			code   string
			field  string
		}{
			{notificationPath(99999), 404, conversation.ENOTFOUND, ""},
			{notificationsPath + "/x", 404, conversation.ENOTFOUND, ""},
			{notificationsPath + "?status=lost", 400, conversation.EINVALID, "status"},
			{notificationsPath + "?purpose=No", 400, conversation.EINVALID, "purpose"},
			{notificationsPath + "?contact_id=-1", 400, conversation.EINVALID, "contact_id"},
			{notificationsPath + "?cursor=zz", 400, conversation.EINVALID, "cursor"},
			{notificationsPath + "?limit=201", 400, conversation.EINVALID, "limit"},
		} {
			t.Run("GET "+tc.path, func(t *testing.T) {
				wantError(t, e.do(t, "GET", tc.path, k, nil), tc.status, tc.code, tc.field)
			})
		}
	})
}

// TestNotificationIsolation: a tenant sees, lists and replays only its own
// notifications and policy.
func TestNotificationIsolation(t *testing.T) {
	t.Parallel()
	e := notifyEnv(t)
	a, b := e.newTenant(t, "acme", ""), e.newTenant(t, "other", "")
	e.withTemplates(t, a)
	e.withTemplates(t, b)
	anaA := e.ingest(t, a, "ana", "m-1", "hola").Message.ContactID
	anaB := e.ingest(t, b, "ana", "m-2", "hola").Message.ContactID

	body := func(contact int64) map[string]any {
		return map[string]any{"contact_id": contact, "purpose": "appointment", "data": map[string]string{"name": "Ana"}}
	}
	na := decode[notify.Notification](t, e.do(t, "POST", notificationsPath, a.key, body(anaA), "Idempotency-Key", "same"), http.StatusAccepted)
	// The same key in another tenant is another notification.
	nb := decode[notify.Notification](t, e.do(t, "POST", notificationsPath, b.key, body(anaB), "Idempotency-Key", "same"), http.StatusAccepted)
	if na.ID == nb.ID || nb.TenantID != b.ID {
		t.Fatalf("the same key in two tenants: %+v and %+v", na, nb)
	}
	wantError(t, e.do(t, "GET", notificationPath(na.ID), b.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
	wantError(t, e.do(t, "GET", notificationPath(nb.ID), a.key, nil), http.StatusNotFound, conversation.ENOTFOUND, "")
	for _, tc := range []struct {
		tn   tenant
		want int64
	}{{a, na.ID}, {b, nb.ID}} {
		pg := decode[page[notify.Notification]](t, e.do(t, "GET", notificationsPath, tc.tn.key, nil), http.StatusOK)
		if got := ids(pg.Data, func(n notify.Notification) int64 { return n.ID }); !slices.Equal(got, []int64{tc.want}) {
			t.Errorf("tenant %s lists %v, want [%d]", tc.tn.Slug, got, tc.want)
		}
	}
	// Filtering by another tenant's contact finds nothing.
	pg := decode[page[notify.Notification]](t, e.do(t, "GET", fmt.Sprintf("%s?contact_id=%d", notificationsPath, anaA), b.key, nil), http.StatusOK)
	if len(pg.Data) != 0 {
		t.Errorf("tenant b lists a's contact's notifications: %+v", pg.Data)
	}

	policy := map[string]any{"fallback": []string{"sms"}, "quiet_hours": map[string]string{"start": "22:00", "end": "07:00"}}
	decode[notify.Policy](t, e.do(t, "PUT", "/api/v1/notification-policy", a.key, policy), http.StatusOK)
	if got := decode[notify.Policy](t, e.do(t, "GET", "/api/v1/notification-policy", b.key, nil), http.StatusOK); !sameJSON(t, got, notify.DefaultPolicy()) {
		t.Errorf("tenant b's policy is %+v after a's changed", got)
	}
}

func TestNotificationPolicy(t *testing.T) {
	t.Parallel()
	e := notifyEnv(t)
	tn := e.newTenant(t, "acme", "")
	e.withTemplates(t, tn)
	k := tn.key
	const path = "/api/v1/notification-policy"
	ana := e.ingest(t, tn, "ana", "m-1", "hola").Message.ContactID

	if got := decode[notify.Policy](t, e.do(t, "GET", path, k, nil), http.StatusOK); !sameJSON(t, got, notify.DefaultPolicy()) {
		t.Fatalf("the policy of a new tenant is %+v, want the default", got)
	}

	// Quiet hours around 10:00 in Bogotá: a notification waits for their
	// end; an urgent purpose does not.
	policy := map[string]any{
		"fallback":    []string{"sms", "api"},
		"quiet_hours": map[string]string{"start": "09:00", "end": "11:30"},
		"purposes": map[string]any{
			"survey":      map[string]any{"urgent": true, "cap": map[string]any{"count": 2, "period": "24h"}},
			"appointment": map[string]any{"fallback": []string{"api"}},
		},
	}
	stored := decode[notify.Policy](t, e.do(t, "PUT", path, k, policy), http.StatusOK)
	if !sameJSON(t, stored, policy) {
		t.Fatalf("stored %+v, sent %v", stored, policy)
	}
	if got := decode[notify.Policy](t, e.do(t, "GET", path, k, nil), http.StatusOK); !sameJSON(t, got, policy) {
		t.Fatalf("read %+v, sent %v", got, policy)
	}
	n := decode[notify.Notification](t, e.do(t, "POST", notificationsPath, k, map[string]any{"contact_id": ana, "purpose": "appointment", "data": map[string]string{"name": "Ana"}}), http.StatusAccepted)
	if want := time.Date(2026, 3, 10, 16, 30, 0, 0, time.UTC); !n.Due.Equal(want) {
		t.Errorf("due %v under quiet hours 09:00-11:30 in Bogotá, want %v", n.Due, want)
	}
	if n := decode[notify.Notification](t, e.do(t, "POST", notificationsPath, k, map[string]any{"contact_id": ana, "purpose": "survey"}), http.StatusAccepted); !n.Due.Equal(noon) {
		t.Errorf("an urgent purpose is due %v, want now (%v)", n.Due, noon)
	}

	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"an unknown channel", map[string]any{"fallback": []string{"sms", "fax"}}, "fallback[1]"},
		{"a channel twice", map[string]any{"fallback": []string{"sms", "sms"}}, "fallback[1]"},
		{"a bad start", map[string]any{"quiet_hours": map[string]string{"start": "25:00", "end": "08:00"}}, "quiet_hours.start"},
		{"no end", map[string]any{"quiet_hours": map[string]string{"start": "21:00"}}, "quiet_hours.end"},
		{"a bad purpose", map[string]any{"purposes": map[string]any{"Survey": map[string]any{}}}, "purposes.Survey"},
		{"a bad period", map[string]any{"purposes": map[string]any{"survey": map[string]any{"cap": map[string]any{"count": 1, "period": "7x"}}}}, "purposes.survey.cap.period"},
		{"a zero cap", map[string]any{"purposes": map[string]any{"survey": map[string]any{"cap": map[string]any{"count": 0, "period": "7d"}}}}, "purposes.survey.cap.count"},
		{"a purpose's bad quiet hours", map[string]any{"purposes": map[string]any{"survey": map[string]any{"quiet_hours": map[string]string{"start": "9", "end": "10:00"}}}}, "purposes.survey.quiet_hours.start"},
		{"a purpose's bad chain", map[string]any{"purposes": map[string]any{"survey": map[string]any{"fallback": []string{"pigeon"}}}}, "purposes.survey.fallback[0]"},
		{"urgent not a boolean", map[string]any{"purposes": map[string]any{"survey": map[string]any{"urgent": "yes"}}}, "purposes.urgent"},
		{"an unknown field", map[string]any{"quiet": true}, "quiet"},
		{"an unknown field of a purpose", map[string]any{"purposes": map[string]any{"survey": map[string]any{"max": 1}}}, "max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eb := wantError(t, e.do(t, "PUT", path, k, tc.body), http.StatusBadRequest, conversation.EINVALID, tc.field)
			if tc.name == "urgent not a boolean" && !strings.Contains(eb.Error.Message, "bool") {
				t.Errorf("message %q", eb.Error.Message)
			}
		})
	}
	wantError(t, e.do(t, "PUT", path, k, rawBody("")), http.StatusBadRequest, conversation.EINVALID, "")
	wantError(t, e.do(t, "PUT", path, k, map[string]any{"fallback": []string{strings.Repeat("a", bodyLimit)}}), http.StatusRequestEntityTooLarge, conversation.ETOOLARGE, "")
	if got := decode[notify.Policy](t, e.do(t, "GET", path, k, nil), http.StatusOK); !sameJSON(t, got, policy) {
		t.Fatalf("refused policies changed the stored one: %+v", got)
	}

	// An empty policy is whole by itself: defaults, and no cap.
	if got := decode[notify.Policy](t, e.do(t, "PUT", path, k, map[string]any{}), http.StatusOK); !sameJSON(t, got, map[string]any{}) {
		t.Fatalf("an empty policy is stored as %+v", got)
	}
}

// TestNotificationsUnavailable checks the notification routes of a server
// without a notification service.
func TestNotificationsUnavailable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	n := 0
	for _, rt := range api.RouteTable() {
		method, path, _ := strings.Cut(rt, " ")
		if !strings.HasPrefix(path, "/api/v1/notification") {
			continue
		}
		n++
		t.Run(rt, func(t *testing.T) {
			var body any
			switch method {
			case "POST":
				body = map[string]any{"contact_id": 1, "purpose": "survey"}
			case "PUT":
				body = map[string]any{}
			}
			wantError(t, e.do(t, method, strings.ReplaceAll(path, "{id}", "1"), tn.key, body), http.StatusServiceUnavailable, conversation.EUNAVAILABLE, "")
		})
	}
	if n != 5 {
		t.Errorf("%d notification routes, want 5", n)
	}
}

// TestConsentPurpose: an opt-out of one purpose stops only that purpose's
// notifications on the account.
func TestConsentPurpose(t *testing.T) {
	t.Parallel()
	e := notifyEnv(t)
	tn := e.newTenant(t, "acme", "")
	e.withTemplates(t, tn)
	ctx := t.Context()
	ana := e.ingest(t, tn, "ana-17", "m-1", "hola").Message.ContactID
	path := fmt.Sprintf("/api/v1/contacts/%d/consent", ana)

	c := decode[conversation.ConsentChange](t, e.do(t, "POST", path, tn.key, map[string]any{"channel_id": tn.api.ID, "opted_out": true, "purpose": "survey"}), http.StatusCreated)
	if c.Purpose != "survey" || !c.OptedOut || c.Address != "ana-17" {
		t.Fatalf("recorded %+v", c)
	}
	for purpose, want := range map[string]bool{"survey": true, "appointment": false, "": false} {
		if out, err := e.store.OptedOutOf(ctx, tn.ID, tn.api.ID, "ana-17", purpose); err != nil || out != want {
			t.Errorf("opted out of %q: %v, %v; want %v", purpose, out, err, want)
		}
	}
	pg := decode[page[conversation.ConsentChange]](t, e.do(t, "GET", path, tn.key, nil), http.StatusOK)
	if len(pg.Data) != 1 || pg.Data[0].Purpose != "survey" || pg.Data[0].ID != c.ID {
		t.Errorf("listed %+v", pg.Data)
	}

	send := func(purpose string, data map[string]string) notify.Notification {
		t.Helper()
		n := decode[notify.Notification](t, e.do(t, "POST", notificationsPath, tn.key, map[string]any{"contact_id": ana, "purpose": purpose, "data": data, "channels": []string{"api"}}), http.StatusAccepted)
		e.runJob(t, n)
		return decode[notify.Notification](t, e.do(t, "GET", notificationPath(n.ID), tn.key, nil), http.StatusOK)
	}
	if n := send("survey", nil); n.Status != notify.StatusUndeliverable || len(n.Skipped) != 1 || n.Skipped[0].Code != notify.SkipPurposeOptOut {
		t.Errorf("a survey after its opt-out: %+v", n)
	}
	if n := send("appointment", map[string]string{"name": "Ana"}); n.Status != notify.StatusSent {
		t.Errorf("an appointment after a survey opt-out: %+v", n)
	}

	// Without a purpose the change covers every message, and shows none;
	// opting back into a purpose does not undo it.
	r := e.do(t, "POST", path, tn.key, map[string]any{"channel_id": tn.api.ID, "opted_out": true})
	if all := decode[conversation.ConsentChange](t, r, http.StatusCreated); all.Purpose != "" || strings.Contains(string(r.body), `"purpose"`) {
		t.Errorf("an opt-out without a purpose: %s", r.body)
	}
	in := decode[conversation.ConsentChange](t, e.do(t, "POST", path, tn.key, map[string]any{"channel_id": tn.api.ID, "opted_out": false, "purpose": "survey"}), http.StatusCreated)
	if in.Purpose != "survey" || in.OptedOut {
		t.Errorf("a purpose's opt-in: %+v", in)
	}
	for purpose, data := range map[string]map[string]string{"appointment": {"name": "Ana"}, "survey": nil} {
		if n := send(purpose, data); n.Status != notify.StatusUndeliverable || len(n.Skipped) != 1 || n.Skipped[0].Code != notify.SkipOptedOut {
			t.Errorf("%s after opting out of everything: %+v", purpose, n)
		}
	}

	for _, tc := range []struct {
		name    string
		purpose any
	}{{"a bad purpose", "Survey"}, {"a purpose too long", strings.Repeat("a", 65)}, {"a number", 7}} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.do(t, "POST", path, tn.key, map[string]any{"channel_id": tn.api.ID, "opted_out": true, "purpose": tc.purpose}), http.StatusBadRequest, conversation.EINVALID, "purpose")
		})
	}
}

// TestNotificationsOpenAPI checks the notification routes' real responses,
// and the requests of a client that follows it, against the description.
func TestNotificationsOpenAPI(t *testing.T) {
	t.Parallel()
	e := notifyEnv(t)
	_, router := loadSpec(t, e)
	none := newEnv(t, envOptions{})
	tn := e.newTenant(t, "acme", "")
	nt := none.newTenant(t, "acme", "")
	e.withTemplates(t, tn)
	k := tn.key
	ana := e.ingest(t, tn, "ana-17", "m-1", "hola").Message.ContactID
	decode[conversation.Contact](t, e.do(t, "PATCH", fmt.Sprintf("/api/v1/contacts/%d", ana), k,
		map[string]any{"attributes": map[string]string{notify.AttrPreferredChannel: "api"}}), http.StatusOK)
	appointment := map[string]any{"contact_id": ana, "purpose": "appointment", "data": map[string]string{"name": "Ana"}, "send_after": "2026-03-10T09:00:00-05:00"}
	sent := decode[notify.Notification](t, e.do(t, "POST", notificationsPath, k, map[string]any{"contact_id": ana, "purpose": "survey"}), http.StatusAccepted)
	e.runJob(t, sent)
	lost := decode[notify.Notification](t, e.do(t, "POST", notificationsPath, k, map[string]any{"contact_id": ana, "purpose": "appointment",
		"data": map[string]string{"name": "Ana"}, "channels": []string{"sms", "email"}}), http.StatusAccepted)
	e.runJob(t, lost)
	// A second survey within 7 days.
	capped := decode[notify.Notification](t, e.do(t, "POST", notificationsPath, k, map[string]any{"contact_id": ana, "purpose": "survey"}), http.StatusAccepted)
	e.runJob(t, capped)
	policy := map[string]any{"fallback": []string{"whatsapp", "sms", "email"}, "quiet_hours": map[string]string{"start": "21:00", "end": "08:00"},
		"purposes": map[string]any{"survey": map[string]any{"cap": map[string]any{"count": 1, "period": "7d"}}, "service_outage": map[string]any{"urgent": true}}}

	for _, x := range []exchange{
		{name: "notify", method: "POST", path: notificationsPath, key: k, status: 202, validRequest: true, body: appointment, header: []string{"Idempotency-Key", "cita-1"}},
		{name: "notify replayed", method: "POST", path: notificationsPath, key: k, status: 202, validRequest: true, body: appointment, header: []string{"Idempotency-Key", "cita-1"}},
		{name: "notify conflict", method: "POST", path: notificationsPath, key: k, status: 409, validRequest: true, header: []string{"Idempotency-Key", "cita-1"},
			body: map[string]any{"contact_id": ana, "purpose": "appointment", "data": map[string]string{"name": "Bea"}}},
		{name: "notify without template", method: "POST", path: notificationsPath, key: k, status: 400, validRequest: true, body: map[string]any{"contact_id": ana, "purpose": "outage"}},
		{name: "notify without a variable", method: "POST", path: notificationsPath, key: k, status: 400, validRequest: true, body: map[string]any{"contact_id": ana, "purpose": "appointment"}},
		{name: "notify a missing contact", method: "POST", path: notificationsPath, key: k, status: 404, validRequest: true, body: map[string]any{"contact_id": 99999, "purpose": "survey"}},
		{name: "notify unknown field", method: "POST", path: notificationsPath, key: k, status: 400, body: map[string]any{"contact_id": ana, "purpose": "survey", "to": "x"}},
		{name: "notify too large", method: "POST", path: notificationsPath, key: k, status: 413, body: map[string]any{"contact_id": ana, "purpose": "survey", "data": map[string]string{"a": strings.Repeat("a", bodyLimit)}}},
		{name: "notify without service", method: "POST", path: notificationsPath, key: nt.key, status: 503, validRequest: true, body: map[string]any{"contact_id": 1, "purpose": "survey"}, env: none},
		{name: "notify without key", method: "POST", path: notificationsPath, status: 401, body: map[string]any{"contact_id": 1, "purpose": "survey"}},
		{name: "list", method: "GET", path: notificationsPath + "?limit=2", key: k, status: 200, validRequest: true},
		{name: "list filtered", method: "GET", path: fmt.Sprintf("%s?contact_id=%d&status=sent&purpose=survey", notificationsPath, ana), key: k, status: 200, validRequest: true},
		{name: "list bad status", method: "GET", path: notificationsPath + "?status=lost", key: k, status: 400},
		{name: "list without service", method: "GET", path: notificationsPath, key: nt.key, status: 503, validRequest: true, env: none},
		{name: "get sent", method: "GET", path: notificationPath(sent.ID), key: k, status: 200, validRequest: true},
		{name: "get undeliverable", method: "GET", path: notificationPath(lost.ID), key: k, status: 200, validRequest: true},
		{name: "get suppressed", method: "GET", path: notificationPath(capped.ID), key: k, status: 200, validRequest: true},
		{name: "get missing", method: "GET", path: notificationPath(99999), key: k, status: 404, validRequest: true},
		{name: "get without service", method: "GET", path: notificationPath(1), key: nt.key, status: 503, validRequest: true, env: none},
		{name: "policy default", method: "GET", path: "/api/v1/notification-policy", key: k, status: 200, validRequest: true},
		{name: "put policy", method: "PUT", path: "/api/v1/notification-policy", key: k, status: 200, validRequest: true, body: policy},
		{name: "policy", method: "GET", path: "/api/v1/notification-policy", key: k, status: 200, validRequest: true},
		{name: "put bad policy", method: "PUT", path: "/api/v1/notification-policy", key: k, status: 400, validRequest: true,
			body: map[string]any{"purposes": map[string]any{"survey": map[string]any{"cap": map[string]any{"count": 1, "period": "a week"}}}}},
		{name: "put policy too large", method: "PUT", path: "/api/v1/notification-policy", key: k, status: 413, body: map[string]any{"fallback": []string{strings.Repeat("a", bodyLimit)}}},
		{name: "policy without service", method: "GET", path: "/api/v1/notification-policy", key: nt.key, status: 503, validRequest: true, env: none},
		{name: "put policy without service", method: "PUT", path: "/api/v1/notification-policy", key: nt.key, status: 503, validRequest: true, body: policy, env: none},
		{name: "consent of a purpose", method: "POST", path: fmt.Sprintf("/api/v1/contacts/%d/consent", ana), key: k, status: 201, validRequest: true,
			body: map[string]any{"channel_id": tn.api.ID, "opted_out": true, "purpose": "survey"}},
		{name: "consent of a bad purpose", method: "POST", path: fmt.Sprintf("/api/v1/contacts/%d/consent", ana), key: k, status: 400,
			body: map[string]any{"channel_id": tn.api.ID, "opted_out": true, "purpose": "Survey!"}},
		{name: "consent list", method: "GET", path: fmt.Sprintf("/api/v1/contacts/%d/consent", ana), key: k, status: 200, validRequest: true},
	} {
		t.Run(x.name, func(t *testing.T) {
			if x.env == nil {
				x.env = e
			}
			checkExchange(t, router, x)
		})
	}
	if got := decode[notify.Notification](t, e.do(t, "GET", notificationPath(sent.ID), k, nil), http.StatusOK); got.Status != notify.StatusSent {
		t.Errorf("the notification checked as sent is %s", got.Status)
	}
	if got := decode[notify.Notification](t, e.do(t, "GET", notificationPath(lost.ID), k, nil), http.StatusOK); got.Status != notify.StatusUndeliverable || len(got.Skipped) != 2 {
		t.Errorf("the notification checked as undeliverable is %+v", got)
	}
	if got := decode[notify.Notification](t, e.do(t, "GET", notificationPath(capped.ID), k, nil), http.StatusOK); got.Status != notify.StatusSuppressed || got.Note == "" {
		t.Errorf("the notification checked as suppressed is %+v", got)
	}
}

package notify_test

import (
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/notify"
)

// TestQuietHours asks for notifications at several local times in several
// zones, some across daylight-saving changes, and checks when each is
// due; then runs the job at the wrong time (it reschedules itself and
// sends nothing) and at the right one (it sends).
func TestQuietHours(t *testing.T) {
	for _, tt := range []struct {
		name string
		// phone is the contact's number; zone, when set, their time_zone
		// attribute.
		phone, zone string
		// at is the local time of the request in the contact's zone, want
		// the local time it is due, both "2006-01-02 15:04 MST".
		wantZone string
		at, want string
		quiet    *notify.QuietHours // the tenant's, default 21:00–08:00
	}{
		{name: "Bogotá at night: 08:00 the next day", phone: "+573001234567", wantZone: "America/Bogota",
			at: "2026-03-10 22:30 -05", want: "2026-03-11 08:00 -05"},
		{name: "Bogotá in the day: now", phone: "+573001234567", wantZone: "America/Bogota",
			at: "2026-03-10 20:59 -05", want: "2026-03-10 20:59 -05"},
		{name: "Mexico City before 08:00: 08:00 the same day", phone: "+525512345678", wantZone: "America/Mexico_City",
			at: "2026-03-10 07:59 CST", want: "2026-03-10 08:00 CST"},
		{name: "Madrid, the night clocks go forward (a 23-hour day)", phone: "+34612345678", wantZone: "Europe/Madrid",
			at: "2026-03-28 22:00 CET", want: "2026-03-29 08:00 CEST"},
		{name: "Madrid, the night clocks go back (a 25-hour day)", phone: "+34612345678", wantZone: "Europe/Madrid",
			at: "2026-10-24 23:30 CEST", want: "2026-10-25 08:00 CET"},
		{name: "New York, spring forward", phone: "+12125551234", wantZone: "America/New_York",
			at: "2026-03-07 23:00 EST", want: "2026-03-08 08:00 EDT"},
		{name: "New York, fall back", phone: "+12125551234", wantZone: "America/New_York",
			at: "2026-10-31 21:00 EDT", want: "2026-11-01 08:00 EST"},
		{name: "Santiago, fall back at midnight", phone: "+56912345678", wantZone: "America/Santiago",
			at: "2026-04-04 23:30 -03", want: "2026-04-05 08:00 -04"},
		{name: "Santiago, quiet until a midnight that does not exist: 01:00", phone: "+56912345678", wantZone: "America/Santiago",
			quiet: &notify.QuietHours{Start: "22:00", End: "00:00"}, at: "2026-09-05 22:30 -04", want: "2026-09-06 01:00 -03"},
		{name: "the contact's own zone wins over the number's", phone: "+573001234567", zone: "Europe/Madrid", wantZone: "Europe/Madrid",
			at: "2026-03-11 04:30 CET", want: "2026-03-11 08:00 CET"},
		{name: "a daytime quiet period", phone: "+573001234567", wantZone: "America/Bogota",
			quiet: &notify.QuietHours{Start: "12:00", End: "14:00"}, at: "2026-03-10 12:15 -05", want: "2026-03-10 14:00 -05"},
		{name: "no quiet hours", phone: "+573001234567", wantZone: "America/Bogota",
			quiet: &notify.QuietHours{Start: "00:00", End: "00:00"}, at: "2026-03-10 03:00 -05", want: "2026-03-10 03:00 -05"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			loc := mustZone(tt.wantZone)
			at, err := time.ParseInLocation("2006-01-02 15:04 MST", tt.at, loc)
			must(t, err)
			c := e.write(t, conversation.ChannelSMS, tt.phone, afternoon.Add(-time.Hour))
			if tt.zone != "" {
				e.setAttr(t, c, notify.AttrTimeZone, tt.zone)
			}
			if tt.quiet != nil {
				must(t, e.svc.PutPolicy(t.Context(), e.tenant.ID, notify.Policy{QuietHours: tt.quiet}))
			}
			e.clock.set(at)
			n := e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved})
			if got := n.Due.In(loc).Format("2006-01-02 15:04 MST"); got != tt.want || n.TimeZone != tt.wantZone {
				t.Fatalf("due %s in %s, want %s in %s", got, n.TimeZone, tt.want, tt.wantZone)
			}
			if !n.Due.After(at) {
				n = e.run(t, n)
				if n.Status != notify.StatusSent {
					t.Fatalf("due now, the job left %+v", n)
				}
				return
			}
			// A job run early (a worker's clock, a retry) reschedules.
			n = e.run(t, n)
			if n.Status != notify.StatusScheduled || n.MessageID != 0 || n.Due.In(loc).Format("2006-01-02 15:04 MST") != tt.want ||
				!strings.Contains(n.Note, "quiet hours") {
				t.Fatalf("run in quiet hours: %+v", n)
			}
			probe, err := e.store.EnqueueJob(t.Context(), conversation.Job{TenantID: e.tenant.ID, Kind: "probe", Key: notify.JobKey(n.ID, n.Due)})
			must(t, err)
			if probe.Kind != notify.JobNotify || !probe.RunAt.Equal(n.Due) {
				t.Fatalf("the job due at the end of quiet hours: %+v", probe)
			}
			e.clock.set(n.Due.Add(-time.Minute))
			if n = e.run(t, n); n.Status != notify.StatusScheduled {
				t.Fatalf("a minute before: %+v", n)
			}
			e.clock.set(n.Due)
			if n = e.run(t, n); n.Status != notify.StatusSent || !n.SentAt.Equal(n.Due) {
				t.Fatalf("at the end of quiet hours: %+v", n)
			}
		})
	}
}

// TestUrgent: an urgent purpose is delivered in quiet hours; the policy
// may make a purpose urgent or not, over the template's flag; a purpose
// may have its own quiet hours.
func TestUrgent(t *testing.T) {
	e := newEnv(t)
	c := e.write(t, conversation.ChannelSMS, ana, afternoon.Add(-time.Hour))
	night := time.Date(2026, 3, 10, 23, 0, 0, 0, mustZone("America/Bogota"))
	e.clock.set(night)

	n := e.notify(t, notify.Request{ContactID: c.ID, Purpose: "outage"})
	if !n.Due.Equal(night) {
		t.Fatalf("urgent template: due %v, want now", n.Due)
	}
	if n = e.run(t, n); n.Status != notify.StatusSent {
		t.Fatalf("urgent template at night: %+v", n)
	}

	yes, no := true, false
	must(t, e.svc.PutPolicy(t.Context(), e.tenant.ID, notify.Policy{Purposes: map[string]notify.PurposePolicy{
		"outage":        {Urgent: &no},
		"case_resolved": {Urgent: &yes},
		"reminder":      {QuietHours: &notify.QuietHours{Start: "23:30", End: "06:00"}},
	}}))
	if n := e.notify(t, notify.Request{ContactID: c.ID, Purpose: "outage"}); n.Due.Equal(night) {
		t.Fatalf("outage made not urgent: due %v, want the morning", n.Due)
	}
	if n := e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved}); !n.Due.Equal(night) {
		t.Fatalf("case_resolved made urgent: due %v, want now", n.Due)
	}
	if n := e.notify(t, notify.Request{ContactID: c.ID, Purpose: "reminder", Data: map[string]string{"when": "hoy"}}); !n.Due.Equal(night) {
		t.Fatalf("reminder quiet from 23:30: due %v, want now (23:00)", n.Due)
	}
}

// TestSendAfter: a notification is not sent before the caller's time, nor
// then if it falls in quiet hours.
func TestSendAfter(t *testing.T) {
	e := newEnv(t)
	c := e.write(t, conversation.ChannelSMS, ana, afternoon.Add(-time.Hour))
	bogota := mustZone("America/Bogota")
	n := e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved, SendAfter: afternoon.Add(2 * time.Hour)})
	if !n.Due.Equal(afternoon.Add(2 * time.Hour)) {
		t.Fatalf("due %v, want 17:00", n.Due.In(bogota))
	}
	if n = e.run(t, n); n.Status != notify.StatusScheduled {
		t.Fatalf("run before SendAfter: %+v", n)
	}
	late := e.notify(t, notify.Request{ContactID: c.ID, Purpose: "case_resolved", Data: resolved, SendAfter: afternoon.Add(7 * time.Hour)})
	if got := late.Due.In(bogota).Format("2006-01-02 15:04"); got != "2026-03-11 08:00" {
		t.Fatalf("SendAfter 22:00: due %s, want the morning after", got)
	}
}

// TestContactZone covers the zone's sources: attribute, phone number (a
// country of several zones: the tenant's when it is one of them, else the
// most populous), the tenant's.
func TestContactZone(t *testing.T) {
	chicago := conversation.Tenant{TimeZone: "America/Chicago"}
	bogota := conversation.Tenant{TimeZone: "America/Bogota"}
	phone := func(n string) conversation.Contact {
		return conversation.Contact{Identities: []conversation.Identity{{Channel: conversation.ChannelWhatsApp, Address: n}}}
	}
	for name, tt := range map[string]struct {
		c          conversation.Contact
		t          conversation.Tenant
		zone, from string
	}{
		"attribute":                  {conversation.Contact{Attributes: map[string]string{"time_zone": "Asia/Tokyo"}}, bogota, "Asia/Tokyo", "contact"},
		"a bad attribute is ignored": {conversation.Contact{Attributes: map[string]string{"time_zone": "Mars/Olympus"}}, bogota, "America/Bogota", "tenant"},
		"phone":                      {phone("+34612345678"), bogota, "Europe/Madrid", "phone"},
		"toll-free, the tenant's":    {phone("+18005550100"), chicago, "America/Chicago", "phone"},
		"toll-free, most populous":   {phone("+18005550100"), bogota, "America/New_York", "phone"},
		"email only: the tenant's":   {conversation.Contact{Identities: []conversation.Identity{{Channel: conversation.ChannelEmail, Address: "a@b.co"}}}, chicago, "America/Chicago", "tenant"},
		"nothing at all":             {conversation.Contact{}, conversation.Tenant{}, "UTC", "default"},
	} {
		loc, from := notify.ContactZone(tt.c, tt.t)
		if loc.String() != tt.zone || from != tt.from {
			t.Errorf("%s: %s from %s, want %s from %s", name, loc, from, tt.zone, tt.from)
		}
	}
}

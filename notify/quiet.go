package notify

import (
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // contacts' time zones, also where the system has no zoneinfo

	"github.com/nyaruka/phonenumbers"

	"conversa/conversation"
)

// quiet reports whether t falls within quiet hours q, read on the wall
// clock of loc.
func (q QuietHours) quiet(t time.Time, loc *time.Location) bool {
	start, err1 := clock(q.Start)
	end, err2 := clock(q.End)
	if err1 != nil || err2 != nil || start == end {
		return false
	}
	local := t.In(loc)
	m := local.Hour()*60 + local.Minute()
	if start < end {
		return start <= m && m < end
	}
	return m >= start || m < end // across midnight
}

// NextAllowed returns t when it is outside quiet hours q in loc, and
// otherwise the first minute after them: "08:00 tomorrow" on the wall
// clock, also on a day of 23 or 25 hours. When the end falls in a
// daylight-saving gap (00:00 on a night the clocks jump to 01:00), it is
// the first minute that exists after it.
func (q QuietHours) NextAllowed(t time.Time, loc *time.Location) time.Time {
	if !q.quiet(t, loc) {
		return t
	}
	// Minute by minute on the absolute time line: every zone in use has
	// whole-minute offsets, so UTC minutes are local minutes, and a day of
	// any length is crossed correctly. At most a day's minutes.
	c := t.Truncate(time.Minute)
	for range 2 * 24 * 60 {
		c = c.Add(time.Minute)
		if !q.quiet(c, loc) {
			return c
		}
	}
	return t // unreachable for a valid q
}

// mostPopulous is the zone with the most people of countries with several,
// for a phone number whose prefix does not tell the zone.
var mostPopulous = map[string]string{
	"US": "America/New_York", "CA": "America/Toronto", "MX": "America/Mexico_City",
	"BR": "America/Sao_Paulo", "AR": "America/Argentina/Buenos_Aires", "CL": "America/Santiago",
	"EC": "America/Guayaquil", "ES": "Europe/Madrid", "PT": "Europe/Lisbon", "RU": "Europe/Moscow",
	"AU": "Australia/Sydney", "ID": "Asia/Jakarta", "CD": "Africa/Kinshasa", "KZ": "Asia/Almaty",
}

// ContactZone returns the time zone a contact's notifications are timed
// in, and where it came from: the contact's time_zone attribute when it
// is an IANA zone; else the zone of their phone number's prefix (of a
// country with several, the tenant's zone when it is one of them, else the
// country's most populous); else the tenant's zone; else UTC.
func ContactZone(c conversation.Contact, t conversation.Tenant) (*time.Location, string) {
	if name := strings.TrimSpace(c.Attributes[AttrTimeZone]); name != "" && name != "Local" {
		if loc, err := time.LoadLocation(name); err == nil {
			return loc, "contact"
		}
	}
	for _, id := range c.Identities {
		if !id.Channel.PhoneAddressed() {
			continue
		}
		if name := phoneZone(id.Address, t.TimeZone); name != "" {
			if loc, err := time.LoadLocation(name); err == nil {
				return loc, "phone"
			}
		}
	}
	if loc, err := time.LoadLocation(t.TimeZone); err == nil && t.TimeZone != "" && t.TimeZone != "Local" {
		return loc, "tenant"
	}
	return time.UTC, "default"
}

// phoneZone returns the IANA zone of an E.164 number, or "".
func phoneZone(e164, tenantZone string) string {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	zones, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return ""
	}
	zones = slices.DeleteFunc(slices.Clone(zones), func(z string) bool { return z == phonenumbers.UNKNOWN_TIMEZONE || z == "" })
	switch {
	case len(zones) == 0:
		return ""
	case len(zones) == 1:
		return zones[0]
	case slices.Contains(zones, tenantZone):
		return tenantZone
	}
	if z := mostPopulous[phonenumbers.GetRegionCodeForNumber(num)]; slices.Contains(zones, z) {
		return z
	}
	return zones[0]
}

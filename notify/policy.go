package notify

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// Policy is a tenant's rules for notifications. A tenant without a stored
// policy has DefaultPolicy; a stored policy is whole by itself.
type Policy struct {
	// Fallback is the channel chain tried after the contact's preferred
	// channel; empty is DefaultFallback.
	Fallback []conversation.ChannelKind `json:"fallback,omitempty" yaml:"fallback,omitempty"`
	// QuietHours are when nothing is delivered, in the contact's time
	// zone; nil is DefaultQuietHours.
	QuietHours *QuietHours `json:"quiet_hours,omitempty" yaml:"quiet_hours,omitempty"`
	// Purposes override the rules for one purpose, by name.
	Purposes map[string]PurposePolicy `json:"purposes,omitempty" yaml:"purposes,omitempty"`
}

// QuietHours is a daily period, from Start to End in "15:04" form, local
// to the contact. Start after End spans midnight (21:00 to 08:00); Start
// equal to End is no quiet hours at all.
type QuietHours struct {
	Start string `json:"start" yaml:"start"`
	End   string `json:"end" yaml:"end"`
}

// PurposePolicy are the rules of one purpose.
type PurposePolicy struct {
	// QuietHours replace the tenant's for this purpose.
	QuietHours *QuietHours `json:"quiet_hours,omitempty" yaml:"quiet_hours,omitempty"`
	// Urgent, when set, replaces the template's urgent flag: urgent
	// notifications are delivered within quiet hours.
	Urgent *bool `json:"urgent,omitempty" yaml:"urgent,omitempty"`
	// Fallback replaces the tenant's chain for this purpose.
	Fallback []conversation.ChannelKind `json:"fallback,omitempty" yaml:"fallback,omitempty"`
	// Cap limits how many notifications of the purpose a contact gets.
	Cap *Cap `json:"cap,omitempty" yaml:"cap,omitempty"`
}

// Cap is a frequency cap: at most Count notifications per contact in any
// Period ("7d", "24h", "90m").
type Cap struct {
	Count  int    `json:"count" yaml:"count"`
	Period string `json:"period" yaml:"period"`
}

// DefaultFallback is the channel chain of a tenant that sets none. Voice
// and the tenant's own api channel are not in it: a tenant names them.
var DefaultFallback = []conversation.ChannelKind{
	conversation.ChannelWhatsApp, conversation.ChannelSMS, conversation.ChannelTelegram,
	conversation.ChannelEmail, conversation.ChannelWebchat,
}

// DefaultQuietHours are 21:00 to 08:00.
var DefaultQuietHours = QuietHours{Start: "21:00", End: "08:00"}

// DefaultPolicy is the policy of a tenant that stored none: the default
// chain and quiet hours, and surveys at most once a week.
func DefaultPolicy() Policy {
	week := func() PurposePolicy { return PurposePolicy{Cap: &Cap{Count: 1, Period: "7d"}} }
	// survey_csat and survey_nps are notify/survey's built-in purposes.
	return Policy{Purposes: map[string]PurposePolicy{"survey": week(), "survey_csat": week(), "survey_nps": week()}}
}

// Limits of a policy.
const (
	maxPurposes = 200
	maxCap      = 1000
	maxPeriod   = 366 * 24 * time.Hour
)

// Validate checks the policy and returns EINVALID naming the first bad
// field, such as "purposes.survey.cap.period".
func (p Policy) Validate() error {
	if err := validateChain("fallback", p.Fallback); err != nil {
		return err
	}
	if err := p.QuietHours.validate("quiet_hours"); err != nil {
		return err
	}
	if len(p.Purposes) > maxPurposes {
		return conversation.FieldError("purposes", "at most %d purposes", maxPurposes)
	}
	for _, name := range slices.Sorted(maps.Keys(p.Purposes)) {
		pp, f := p.Purposes[name], "purposes."+name
		if !conversation.ValidPurpose(name) {
			return conversation.FieldError(f, "%q is not a purpose: lower-case letters, digits and _, starting with a letter", name)
		}
		if err := pp.QuietHours.validate(f + ".quiet_hours"); err != nil {
			return err
		}
		if err := validateChain(f+".fallback", pp.Fallback); err != nil {
			return err
		}
		if c := pp.Cap; c != nil {
			if c.Count < 1 || c.Count > maxCap {
				return conversation.FieldError(f+".cap.count", "must be 1 to %d", maxCap)
			}
			if _, err := ParsePeriod(c.Period); err != nil {
				return conversation.FieldError(f+".cap.period", "%v", err)
			}
		}
	}
	return nil
}

func validateChain(field string, chain []conversation.ChannelKind) error {
	for i, k := range chain {
		switch {
		case !k.Valid():
			return conversation.FieldError(fmt.Sprintf("%s[%d]", field, i), "unknown channel %q", k)
		case slices.Index(chain, k) < i:
			return conversation.FieldError(fmt.Sprintf("%s[%d]", field, i), "channel %s is twice in the chain", k)
		}
	}
	return nil
}

func (q *QuietHours) validate(field string) error {
	if q == nil {
		return nil
	}
	if _, err := clock(q.Start); err != nil {
		return conversation.FieldError(field+".start", "%v", err)
	}
	if _, err := clock(q.End); err != nil {
		return conversation.FieldError(field+".end", "%v", err)
	}
	return nil
}

// clock reads "HH:MM" as minutes after midnight.
func clock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || len(h) != 2 || len(m) != 2 || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("%q is not a time of day like 21:00", s)
	}
	return hh*60 + mm, nil
}

// ParsePeriod reads a cap's period: a number of days ("7d") or a Go
// duration ("24h", "90m"), from one minute to a year.
func ParsePeriod(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, fmt.Errorf("%q is not a period like 7d or 24h", s)
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("%q is not a period like 7d or 24h", s)
		}
	}
	if d < time.Minute || d > maxPeriod {
		return 0, fmt.Errorf("%q must be from 1m to 366d", s)
	}
	return d, nil
}

// chain returns the channels to try for a purpose, in order: the
// override, or the contact's preferred channel and then the purpose's or
// the tenant's chain, each once.
func (p Policy) chain(purpose string, preferred conversation.ChannelKind, override []conversation.ChannelKind) []conversation.ChannelKind {
	if len(override) > 0 {
		return override
	}
	base := cmpOr(p.Purposes[purpose].Fallback, p.Fallback, DefaultFallback)
	out := make([]conversation.ChannelKind, 0, len(base)+1)
	if preferred.Valid() {
		out = append(out, preferred)
	}
	for _, k := range base {
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}

// quietHours returns the quiet hours of a purpose.
func (p Policy) quietHours(purpose string) QuietHours {
	if q := p.Purposes[purpose].QuietHours; q != nil {
		return *q
	}
	if p.QuietHours != nil {
		return *p.QuietHours
	}
	return DefaultQuietHours
}

// urgent says whether a purpose skips quiet hours: the policy's word, else
// the template's.
func (p Policy) urgent(purpose string, template bool) bool {
	if u := p.Purposes[purpose].Urgent; u != nil {
		return *u
	}
	return template
}

func cmpOr[T any](vs ...[]T) []T {
	for _, v := range vs {
		if len(v) > 0 {
			return v
		}
	}
	return nil
}

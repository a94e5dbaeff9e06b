package entity

import "strings"

// region is a country's numbering plan, enough to tell a phone number
// from any other number.
type region struct {
	code  string // country calling code
	trunk string // national trunk prefix dropped in E.164, or ""
	// nsn reports whether s is a national significant number, and returns
	// it as written in E.164.
	nsn func(s string) (string, bool)
}

func in(c byte, set string) bool { return strings.IndexByte(set, c) >= 0 }

// plan returns an nsn check: one of lengths, whose first digit is in
// first.
func plan(first string, lengths ...int) func(string) (string, bool) {
	return func(s string) (string, bool) {
		for _, n := range lengths {
			if len(s) == n && in(s[0], first) {
				return s, true
			}
		}
		return "", false
	}
}

func anyOf(checks ...func(string) (string, bool)) func(string) (string, bool) {
	return func(s string) (string, bool) {
		for _, c := range checks {
			if v, ok := c(s); ok {
				return v, true
			}
		}
		return "", false
	}
}

var nanp = &region{code: "1", trunk: "1", nsn: func(s string) (string, bool) {
	if len(s) == 10 && in(s[0], "23456789") && in(s[3], "23456789") {
		return s, true
	}
	return "", false
}}

// regions are the numbering plans by ISO 3166 country code.
var regions = map[string]*region{
	"CO": {code: "57", nsn: func(s string) (string, bool) {
		if len(s) == 10 && (s[0] == '3' || strings.HasPrefix(s, "60")) {
			return s, true
		}
		return "", false
	}},
	"MX": {code: "52", nsn: func(s string) (string, bool) {
		if len(s) == 11 && s[0] == '1' { // the old mobile prefix
			s = s[1:]
		}
		if len(s) == 10 && in(s[0], "23456789") {
			return s, true
		}
		return "", false
	}},
	"US": nanp, "CA": nanp, "DO": nanp, "PR": nanp,
	"PE": {code: "51", trunk: "0", nsn: anyOf(plan("9", 9), plan("12345678", 8))},
	"CL": {code: "56", nsn: plan("23456789", 9)},
	"AR": {code: "54", trunk: "0", nsn: func(s string) (string, bool) {
		if len(s) == 11 && s[0] == '9' && in(s[1], "123") || len(s) == 10 && in(s[0], "123") {
			return s, true
		}
		return "", false
	}},
	"EC": {code: "593", trunk: "0", nsn: anyOf(plan("9", 9), plan("234567", 8))},
	"BR": {code: "55", trunk: "0", nsn: func(s string) (string, bool) {
		if (len(s) == 10 || len(s) == 11) && s[0] != '0' && s[1] != '0' {
			return s, true
		}
		return "", false
	}},
	"ES": {code: "34", nsn: plan("6789", 9)},
	"VE": {code: "58", trunk: "0", nsn: plan("24", 10)},
	"GT": {code: "502", nsn: plan("234567", 8)},
	"CR": {code: "506", nsn: plan("245678", 8)},
	"PA": {code: "507", nsn: anyOf(plan("23456789", 7), plan("6", 8))},
	"UY": {code: "598", trunk: "0", nsn: plan("249", 8)},
	"BO": {code: "591", trunk: "0", nsn: plan("234567", 8)},
	"PY": {code: "595", trunk: "0", nsn: anyOf(plan("9", 9), plan("2345678", 8, 9))},
	"SV": {code: "503", nsn: plan("267", 8)},
	"HN": {code: "504", nsn: plan("23789", 8)},
	"NI": {code: "505", nsn: plan("2578", 8)},
}

// byCode holds the plans by calling code; "1" is NANP.
var byCode = func() map[string]*region {
	m := map[string]*region{}
	for _, r := range regions {
		m[r.code] = r
	}
	return m
}()

// national reads digits written without "+" in region r.
func (r *region) national(digits string) (string, bool) {
	if r.trunk != "" && strings.HasPrefix(digits, r.trunk) {
		if n, ok := r.nsn(digits[len(r.trunk):]); ok {
			return "+" + r.code + n, true
		}
	}
	if n, ok := r.nsn(digits); ok {
		return "+" + r.code + n, true
	}
	// The country code written without "+": 57 300 123 4567.
	if strings.HasPrefix(digits, r.code) && r.code != r.trunk {
		if n, ok := r.nsn(digits[len(r.code):]); ok {
			return "+" + r.code + n, true
		}
	}
	return "", false
}

// international reads digits written after "+".
func international(digits string) (string, bool) {
	for n := 1; n <= 3 && n < len(digits); n++ {
		if r := byCode[digits[:n]]; r != nil {
			if nsn, ok := r.nsn(digits[n:]); ok {
				return "+" + r.code + nsn, true
			}
			return "", false
		}
	}
	if len(digits) >= 8 && len(digits) <= 15 {
		return "+" + digits, true
	}
	return "", false
}

// pgroup is one group of digits of a written phone number.
type pgroup struct {
	digits      string
	first, last int  // tokens, with parentheses
	sep         byte // separator before the group: ' ', '-', '.', or 0 for the first
}

// phones finds phone numbers: runs of digit groups, perhaps after "+",
// the first perhaps in parentheses, separated by a space, "-" or ".",
// whose digits, or those of a stretch of their groups, are a number of
// the region, or international.
func (p *parser) phones() {
	d := p.d
	for i := 0; i < len(d.toks); i++ {
		t := d.toks[i]
		if t.kind != kNum && t.s != "+" && t.s != "(" {
			continue
		}
		if d.adj(i) && (d.alnum(i-1) || d.p(i-1) == "$") || !d.adj(i) && d.p(i-1) == "$" {
			// Part of a code or an amount; skip the rest of the run too.
			for i+1 < len(d.toks) && d.adj(i+1) {
				i++
			}
			continue
		}
		plus := t.s == "+"
		j := i
		if plus {
			if !d.adj(i+1) || d.n(i+1) == "" {
				continue
			}
			j = i + 1
		}
		groups := p.phoneGroups(j)
		if len(groups) == 0 {
			continue
		}
		end := groups[len(groups)-1].last
		if d.adj(end+1) && d.alnum(end+1) {
			i = end
			continue
		}
		if plus {
			groups[0].first = i
		}
		p.phoneRun(groups, plus)
		i = end
	}
}

// phoneGroups reads the groups of digits that start at token j.
func (p *parser) phoneGroups(j int) []pgroup {
	d := p.d
	var groups []pgroup
	var sep byte
	for j < len(d.toks) {
		g := pgroup{sep: sep, first: j}
		switch {
		case d.n(j) != "":
			g.digits, g.last = d.toks[j].s, j
		case d.p(j) == "(" && d.adj(j+1) && d.n(j+1) != "" && d.adj(j+2) && d.p(j+2) == ")" && len(groups) <= 1:
			g.digits, g.last = d.toks[j+1].s, j+2
		default:
			return groups
		}
		groups = append(groups, g)
		k := g.last + 1
		switch s := d.p(k); {
		case s == "-" && short(d.between(k)) && short(d.between(k+1)) && d.n(k+1) != "",
			s == "." && d.adj(k) && d.adj(k+1) && d.n(k+1) != "":
			sep, j = s[0], k+1
		case k < len(d.toks) && !d.adj(k) && (d.n(k) != "" || d.p(k) == "(" && len(groups) == 1) && short(d.between(k)):
			sep, j = ' ', k
		default:
			return groups
		}
	}
	return groups
}

// short reports whether s is at most one space.
func short(s string) bool { return s == "" || s == " " }

// phoneRun adds the phones in a run of groups: at each group, the
// longest stretch of groups that reads as a phone.
func (p *parser) phoneRun(groups []pgroup, plus bool) {
	for s := 0; s < len(groups); {
		best, value := -1, ""
		digits := ""
		for e := s; e < len(groups) && len(digits)+len(groups[e].digits) <= 15; e++ {
			digits += groups[e].digits
			if e > s && groups[e].sep == '.' && thousands(groups[s:e+1]) {
				break
			}
			var v string
			var ok bool
			if plus && s == 0 {
				v, ok = international(digits)
			} else {
				v, ok = p.region.national(digits)
			}
			if ok {
				best, value = e, v
			}
		}
		if best < 0 {
			s++
			continue
		}
		p.add(bPhone, groups[s].first, groups[best].last, value)
		s = best + 1
	}
}

// thousands reports whether groups read as an amount: 1.500.000.
func thousands(groups []pgroup) bool {
	if len(groups[0].digits) > 3 {
		return false
	}
	for _, g := range groups[1:] {
		if len(g.digits) != 3 {
			return false
		}
	}
	return true
}

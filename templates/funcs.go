package templates

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The functions a template may call: the package's own (funcs) and these
// built-ins of text/template. The others (printf, call, index, slice, html,
// js, println) are refused, so that a template cannot build output out of
// proportion to its data nor reach anything but the data's strings.
var builtins = map[string]bool{
	"and": true, "or": true, "not": true, "len": true, "print": true, "urlquery": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
}

// funcs returns the package's template functions for a variant in lang:
//
//	upper, lower, trim       {{upper .name}}
//	default                  {{default "cliente" .name}}: the value, or the default when it is empty
//	truncate                 {{truncate 40 .answer}}: at most 40 characters, ending in "…" when cut
//	date                     {{date .due}}: "30 de marzo de 2026" (es), "March 30, 2026" (en), else 2026-03-30
//	                         {{date "02/01/2006" .due}}: a Go layout
//
// date reads 2006-01-02, 2006-01-02 15:04 and RFC 3339 values.
func funcs(lang string) map[string]any {
	return map[string]any{
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"trim":  strings.TrimSpace,
		"default": func(def, v string) string {
			if strings.TrimSpace(v) == "" {
				return def
			}
			return v
		},
		"truncate": truncate,
		"date": func(args ...string) (string, error) {
			switch len(args) {
			case 1:
				return longDate(lang, args[0])
			case 2:
				t, err := parseDate(args[1])
				if err != nil {
					return "", err
				}
				return t.Format(args[0]), nil
			}
			return "", fmt.Errorf("date takes a value, or a layout and a value")
		},
	}
}

// truncate cuts s to at most n characters, the last being "…" when it cut.
func truncate(n int, s string) (string, error) {
	if n < 1 {
		return "", fmt.Errorf("truncate needs a length of at least 1")
	}
	if utf8.RuneCountInString(s) <= n {
		return s, nil
	}
	runes := []rune(s)
	return strings.TrimRight(string(runes[:n-1]), " ") + "…", nil
}

var dateLayouts = []string{"2006-01-02", "2006-01-02 15:04", "2006-01-02T15:04", time.RFC3339}

// parseDate reads a date as data carries it.
func parseDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date (2006-01-02, 2006-01-02 15:04 or RFC 3339)", v)
}

var monthsES = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}

// longDate writes a date as a person of lang reads it.
func longDate(lang, v string) (string, error) {
	t, err := parseDate(v)
	if err != nil {
		return "", err
	}
	switch baseLanguage(lang) {
	case "es":
		return fmt.Sprintf("%d de %s de %d", t.Day(), monthsES[t.Month()-1], t.Year()), nil
	case "en":
		return t.Format("January 2, 2006"), nil
	}
	return t.Format("2006-01-02"), nil
}

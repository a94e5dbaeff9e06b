// Package handoff is where conversations meet people: support cases (PQRs)
// with their legal terms, and (with the handoff issue) agents, queues and
// routing. This file holds the case's types, statuses and filing numbers;
// handoff/calendar counts their business days.
package handoff

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"conversa/conversation"
)

// CaseType is the kind of a PQR.
type CaseType string

// The case types. Informacion is a petition for documents or information,
// which Colombian law gives a shorter term.
const (
	Peticion     CaseType = "peticion"
	Informacion  CaseType = "informacion"
	Consulta     CaseType = "consulta"
	Queja        CaseType = "queja"
	Reclamo      CaseType = "reclamo"
	Sugerencia   CaseType = "sugerencia"
	Felicitacion CaseType = "felicitacion"
	Denuncia     CaseType = "denuncia"
)

// CaseTypes lists every case type.
var CaseTypes = []CaseType{Peticion, Informacion, Consulta, Queja, Reclamo, Sugerencia, Felicitacion, Denuncia}

// DefaultTerms are the terms in business days of Ley 1755 de 2015, art. 14:
// 15 days for a petition (and for complaints, claims, suggestions and
// compliments, which are petitions), 10 for documents or information, 30
// for a consultation. A tenant may set its own.
var DefaultTerms = map[CaseType]int{
	Peticion: 15, Informacion: 10, Consulta: 30, Queja: 15, Reclamo: 15, Sugerencia: 15, Felicitacion: 15, Denuncia: 15,
}

// MaxExtension returns the most business days a term of days may be
// extended by: the new term may not exceed twice the first (Ley 1755 de
// 2015, art. 14, parágrafo).
func MaxExtension(days int) int { return days }

// ParseCaseType reads a case type, without regard to case or accents
// ("Petición", "QUEJA").
func ParseCaseType(s string) (CaseType, error) {
	t := CaseType(strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u").Replace(strings.ToLower(strings.TrimSpace(s))))
	if !slices.Contains(CaseTypes, t) {
		return "", conversation.FieldError("type", "unknown case type %q", s)
	}
	return t, nil
}

// CaseStatus is where a case stands.
type CaseStatus string

// The statuses of a case.
const (
	Radicado  CaseStatus = "radicado"   // filed, with its number
	EnTramite CaseStatus = "en_tramite" // being worked
	Escalado  CaseStatus = "escalado"   // raised up the escalation chain
	Resuelto  CaseStatus = "resuelto"   // answered
	Cerrado   CaseStatus = "cerrado"    // closed
	Reabierto CaseStatus = "reabierto"  // reopened after an answer
)

// transitions are the allowed moves between statuses.
var transitions = map[CaseStatus][]CaseStatus{
	Radicado:  {EnTramite, Escalado, Resuelto},
	EnTramite: {Escalado, Resuelto},
	Escalado:  {EnTramite, Resuelto},
	Resuelto:  {Cerrado, Reabierto},
	Cerrado:   {Reabierto},
	Reabierto: {EnTramite, Escalado, Resuelto},
}

// Next returns the statuses a case in s may move to.
func (s CaseStatus) Next() []CaseStatus { return slices.Clone(transitions[s]) }

// Valid says s is a known status.
func (s CaseStatus) Valid() bool { _, ok := transitions[s]; return ok }

// CheckTransition returns nil when a case may move from one status to
// another, EINVALID for an unknown status, and ECONFLICT naming the allowed
// moves otherwise.
func CheckTransition(from, to CaseStatus) error {
	if !to.Valid() {
		return conversation.FieldError("status", "unknown status %q", to)
	}
	next := transitions[from]
	if slices.Contains(next, to) {
		return nil
	}
	allowed := make([]string, len(next))
	for i, s := range next {
		allowed[i] = string(s)
	}
	return conversation.Errorf(conversation.ECONFLICT, "a case in status %s cannot move to %s; allowed: %s", from, to, strings.Join(allowed, ", "))
}

// FormatRadicado formats a filing number: the tenant's prefix, the year and the
// tenant's sequence of that year, "PQR-2026-000123".
func FormatRadicado(prefix string, year int, seq int64) string {
	return fmt.Sprintf("%s-%04d-%06d", prefix, year, seq)
}

var radicadoPattern = regexp.MustCompile(`(?i)\b([A-Z]{2,10})[\s-]*(\d{4})[\s-]*(\d{1,9})\b`)

// FindRadicado finds a filing number with the tenant's prefix in a
// customer's text ("¿cómo va mi radicado pqr 2026 123?") and returns it
// formatted, or "".
func FindRadicado(text, prefix string) string {
	for _, m := range radicadoPattern.FindAllStringSubmatch(text, -1) {
		if !strings.EqualFold(m[1], prefix) {
			continue
		}
		year, _ := strconv.Atoi(m[2])
		seq, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil || year < 2000 || year > 2999 || seq == 0 {
			continue
		}
		return FormatRadicado(strings.ToUpper(prefix), year, seq)
	}
	return ""
}

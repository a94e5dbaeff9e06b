package handoff

import (
	"context"
	"strings"
	"unicode/utf8"

	"conversa/conversation"
)

// MaxAnswer is the longest answer to a case, in characters: it is sent to
// the customer in one message on any channel.
const MaxAnswer = 1000

// Resolve resolves a case with the answer the customer is told: the case
// moves to resuelto, the answer is the note of the "resolved" event of its
// history, and the customer gets it (case_resolved), then the satisfaction
// survey. Returns EINVALID naming answer when it is empty or longer than
// MaxAnswer, ENOTFOUND when the case is not the tenant's, and ECONFLICT
// naming the allowed statuses when the case may not be resolved.
func (s *Cases) Resolve(ctx context.Context, tenantID, id int64, answer, actor string) (Case, error) {
	answer = strings.TrimSpace(answer)
	switch {
	case answer == "":
		return Case{}, conversation.FieldError("answer", "a resolution needs the answer the customer is told")
	case utf8.RuneCountInString(answer) > MaxAnswer || !utf8.ValidString(answer):
		return Case{}, conversation.FieldError("answer", "must be UTF-8 text of at most %d characters", MaxAnswer)
	}
	return s.move(ctx, tenantID, id, Resuelto, actor, "", answer)
}

// Answer returns the answer of a case's latest resolution, "" when it was
// resolved without one or not at all. Returns ENOTFOUND when the case is
// not the tenant's.
func (s *Cases) Answer(ctx context.Context, tenantID, id int64) (string, error) {
	hist, err := s.store.CaseHistory(ctx, tenantID, id)
	if err != nil {
		return "", err
	}
	answer := ""
	for _, e := range hist {
		if e.To == Resuelto {
			answer = ""
			if e.Kind == "resolved" {
				answer = e.Note
			}
		}
	}
	return answer, nil
}

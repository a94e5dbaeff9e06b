package handoff

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"conversa/conversation"
)

// Defaults of the survey.
const (
	// DefaultSurveyTTL is how long a survey waits for its answer.
	DefaultSurveyTTL = 3 * 24 * time.Hour
	// DefaultReopenWithin is how long after its resolution a customer who
	// rated it 1 or 2 may reopen a case.
	DefaultReopenWithin = 15 * 24 * time.Hour
)

// ActorContact starts the actor of what a customer did to their case:
// "contact:<id>".
const ActorContact = "contact:"

// Button payloads of the survey: "csat:1" to "csat:5", and "csat:reopen".
const (
	payloadScore  = "csat:"
	payloadReopen = "csat:reopen"
)

var _ conversation.Interceptor = (*Cases)(nil)

// startSurvey starts waiting for the answer to the survey of a case, sent
// with the notice key.
func (s *Cases) startSurvey(ctx context.Context, c Case, key string, version int64) error {
	if s.cfg.Surveys == nil {
		return nil
	}
	hist, err := s.store.CaseHistory(ctx, c.TenantID, c.ID)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	resolved := now
	for _, e := range hist {
		if e.To == Resuelto {
			resolved = e.CreatedAt
		}
	}
	sv := &Survey{TenantID: c.TenantID, CaseID: c.ID, ContactID: c.ContactID, Key: key,
		ResolvedAt: resolved, AskedAt: now, ExpiresAt: now.Add(s.cfg.SurveyTTL)}
	_, err = s.cfg.Surveys.CreateSurvey(ctx, sv)
	return err
}

// Surveys returns a case's surveys, oldest first, with their answers.
func (s *Cases) Surveys(ctx context.Context, tenantID, caseID int64) ([]Survey, error) {
	if s.cfg.Surveys == nil {
		return nil, nil
	}
	if _, err := s.store.Case(ctx, tenantID, caseID); err != nil {
		return nil, err
	}
	return s.cfg.Surveys.CaseSurveys(ctx, tenantID, caseID)
}

// Intercept implements conversation.Interceptor: it takes a customer's
// answer to the satisfaction survey of their case, whatever channel they
// write on, before the bot sees it. A rating (a button's csat:<n>, a digit
// 1 to 5, or a word: excelente 5, bueno 4, regular 3, malo 2, pésimo 1,
// and English alike) answers the contact's latest survey still waiting,
// when the last thing the contact was asked is the survey (a button's
// payload always does); the score is recorded on the survey and in the
// case's history, and the customer thanked. A score of 1 or 2 within the
// reopen period offers to reopen the case; "reabrir" ("reopen") then
// reopens it. Anything else goes to the bot. A retried message is answered
// the same and recorded once.
//
// Any message of the contact also resumes their cases whose term is paused
// waiting on them (unless the tenant's rules say ManualResume).
func (s *Cases) Intercept(ctx context.Context, t conversation.Turn) (bool, [][]conversation.Part, error) {
	if t.Message.Direction != conversation.DirectionIn {
		return false, nil, nil
	}
	if err := s.resumeOnAnswer(ctx, t); err != nil {
		// The answer is taken all the same; an agent resumes the case.
		s.cfg.Logger.Error("resume the contact's paused cases", "tenant", t.Tenant.ID, "contact", t.Contact.ID, "err", err)
	}
	if s.cfg.Surveys == nil {
		return false, nil, nil
	}
	text, payload := answerOf(t.Message)
	score := ratingOf(text, payload)
	reopen := isReopen(text, payload)
	if score == 0 && !reopen {
		return false, nil, nil
	}
	now := s.cfg.Now()
	since := now.Add(-(s.cfg.SurveyTTL + s.cfg.ReopenWithin + 24*time.Hour))
	surveys, err := s.cfg.Surveys.ContactSurveys(ctx, t.Tenant.ID, t.Contact.ID, since)
	if err != nil {
		return false, nil, fmt.Errorf("read the contact's surveys: %w", err)
	}
	lang := languageOf(t)
	// A retried message: answer as the first time.
	for _, sv := range surveys {
		switch t.Message.ID {
		case sv.AnswerMessageID:
			return true, s.thanks(ctx, t, sv, lang), s.recordScore(ctx, t, sv)
		case sv.ReopenMessageID:
			c, err := s.reopenCase(ctx, t, sv)
			return true, reopenedReply(c, lang, t.Message.Channel), err
		}
	}
	if reopen {
		for _, sv := range surveys {
			if !sv.AnsweredAt.IsZero() && sv.ReopenedAt.IsZero() && now.Before(sv.ReopenUntil) {
				sv.ReopenedAt, sv.ReopenMessageID = now, t.Message.ID
				if err := s.cfg.Surveys.ReopenSurvey(ctx, sv); conversation.IsConflict(err) {
					return false, nil, nil // another message reopened it
				} else if err != nil {
					return false, nil, err
				}
				c, err := s.reopenCase(ctx, t, sv)
				return true, reopenedReply(c, lang, t.Message.Channel), err
			}
		}
		return false, nil, nil
	}
	var pending *Survey
	for i, sv := range surveys {
		if sv.AnsweredAt.IsZero() && now.Before(sv.ExpiresAt) {
			pending = &surveys[i]
			break
		}
	}
	if pending == nil {
		return false, nil, nil
	}
	if !strings.HasPrefix(payload, payloadScore) {
		asked, err := s.surveyWasLast(ctx, t)
		if err != nil || !asked {
			return false, nil, err
		}
	}
	sv := *pending
	sv.AnsweredAt, sv.Score, sv.AnswerMessageID = now, score, t.Message.ID
	if score <= 2 && now.Before(sv.ResolvedAt.Add(s.cfg.ReopenWithin)) {
		sv.ReopenUntil = sv.ResolvedAt.Add(s.cfg.ReopenWithin)
	}
	if err := s.cfg.Surveys.AnswerSurvey(ctx, sv); conversation.IsConflict(err) {
		return false, nil, nil // another message answered it
	} else if err != nil {
		return false, nil, err
	}
	return true, s.thanks(ctx, t, sv, lang), s.recordScore(ctx, t, sv)
}

// surveyWasLast says whether the last message the contact got before t's
// is the survey (or it cannot tell), so that a "2" that answers a menu
// the bot showed since is the bot's.
func (s *Cases) surveyWasLast(ctx context.Context, t conversation.Turn) (bool, error) {
	if s.cfg.Messages == nil {
		return true, nil
	}
	ms, err := s.cfg.Messages.ListMessages(ctx, t.Tenant.ID, conversation.MessageFilter{
		ConversationID: t.Message.ConversationID,
		Before:         &conversation.MessagePos{ConversationID: t.Message.ConversationID, Seq: t.Message.Seq},
		Newest:         true, Limit: 10,
	})
	if err != nil {
		return false, fmt.Errorf("read the conversation: %w", err)
	}
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Direction == conversation.DirectionOut {
			return ms[i].Meta[conversation.MetaPurpose] == PurposeSurvey, nil
		}
	}
	// The survey went on another channel's conversation, or long ago.
	return true, nil
}

// recordScore writes the survey's score in its case's history, once.
func (s *Cases) recordScore(ctx context.Context, t conversation.Turn, sv Survey) error {
	mark := fmt.Sprintf("(message %d)", sv.AnswerMessageID)
	ev := CaseEvent{Kind: "survey", Actor: ActorContact + strconv.FormatInt(t.Contact.ID, 10), CreatedAt: sv.AnsweredAt,
		Note: fmt.Sprintf("satisfaction %d/5 on %s %s", sv.Score, t.Message.Channel, mark)}
	return s.appendEvent(ctx, sv.TenantID, sv.CaseID, ev, mark)
}

// reopenCase reopens the case of a survey for the customer, unless it is
// open again already, and returns it.
func (s *Cases) reopenCase(ctx context.Context, t conversation.Turn, sv Survey) (Case, error) {
	c, err := s.store.Case(ctx, sv.TenantID, sv.CaseID)
	if err != nil || CheckTransition(c.Status, Reabierto) != nil {
		return c, err
	}
	return s.move(ctx, sv.TenantID, sv.CaseID, Reabierto, ActorContact+strconv.FormatInt(t.Contact.ID, 10),
		fmt.Sprintf("the customer reopened it after rating it %d/5 (message %d)", sv.Score, t.Message.ID), "")
}

// thanks is the reply to a rating: thanks, and the offer to reopen the
// case after a low score within the period.
func (s *Cases) thanks(ctx context.Context, t conversation.Turn, sv Survey, lang string) [][]conversation.Part {
	if sv.ReopenUntil.IsZero() {
		if lang == "en" {
			return [][]conversation.Part{{conversation.TextPart("Thank you for your rating!")}}
		}
		return [][]conversation.Part{{conversation.TextPart("¡Gracias por tu calificación!")}}
	}
	radicado := ""
	if c, err := s.store.Case(ctx, sv.TenantID, sv.CaseID); err == nil {
		radicado = " " + c.Radicado
	}
	until := DueText(Case{Due: sv.ReopenUntil}, t.Tenant, lang)
	var text, button string
	if lang == "en" {
		text = fmt.Sprintf("Thank you for your rating. We are sorry we did not do better. If your case%s is not solved, reply REOPEN to reopen it (until %s).", radicado, until)
		button = "Reopen"
	} else {
		text = fmt.Sprintf("Gracias por tu calificación. Lamentamos no haberlo hecho mejor. Si tu caso%s no quedó resuelto, responde REABRIR para reabrirlo (hasta el %s).", radicado, until)
		button = "Reabrir"
	}
	if !t.Message.Channel.ShowsButtons() {
		return [][]conversation.Part{{conversation.TextPart(text)}}
	}
	return [][]conversation.Part{{{Type: conversation.PartButtons, Text: text, Buttons: []conversation.Button{{ID: payloadReopen, Title: button}}}}}
}

// reopenedReply tells the customer their case was reopened.
func reopenedReply(c Case, lang string, _ conversation.ChannelKind) [][]conversation.Part {
	if lang == "en" {
		return [][]conversation.Part{{conversation.TextPart(fmt.Sprintf("We reopened your case %s. An agent will review it and get back to you.", c.Radicado))}}
	}
	return [][]conversation.Part{{conversation.TextPart(fmt.Sprintf("Reabrimos tu caso %s. Un agente lo revisará y te responderemos.", c.Radicado))}}
}

// languageOf is the language to answer a turn in: the contact's, else the
// tenant's, as "es" or "en".
func languageOf(t conversation.Turn) string {
	lang := t.Contact.Language
	if lang == "" {
		lang = t.Tenant.Language
	}
	if strings.HasPrefix(strings.ToLower(lang), "en") {
		return "en"
	}
	return "es"
}

// answerOf returns a message's text, folded (lower case, no accents, no
// punctuation at the ends, spaces collapsed), and the payload of the
// button it answers with, if any.
func answerOf(m conversation.Message) (text, payload string) {
	for _, p := range m.Parts {
		if p.Payload != "" {
			payload = p.Payload
		}
	}
	text = strings.ToLower(strings.Join(strings.Fields(m.Text()), " "))
	text = strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ü", "u").Replace(text)
	text = strings.TrimFunc(text, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSpace(r) || unicode.IsSymbol(r) })
	return text, payload
}

// ratingWords are the words that rate, folded.
var ratingWords = map[string]int{
	"excelente": 5, "muy bueno": 5, "muy buena": 5, "excellent": 5, "very good": 5,
	"bueno": 4, "buena": 4, "good": 4,
	"regular": 3, "normal": 3, "ok": 3, "fair": 3, "average": 3,
	"malo": 2, "mala": 2, "bad": 2, "poor": 2,
	"pesimo": 1, "pesima": 1, "muy malo": 1, "muy mala": 1, "terrible": 1, "awful": 1, "very bad": 1, "very poor": 1,
}

// ratingOf reads a rating, 1 to 5, from a folded text and a payload; 0 is
// none. A digit may come with what a button's title or a star adds ("5/5",
// "4 ⭐", "3 estrellas").
func ratingOf(text, payload string) int {
	if n, ok := strings.CutPrefix(payload, payloadScore); ok {
		if v, err := strconv.Atoi(n); err == nil && v >= 1 && v <= 5 {
			return v
		}
	}
	if v, ok := ratingWords[text]; ok {
		return v
	}
	if text == "" || text[0] < '1' || text[0] > '5' {
		return 0
	}
	rest := strings.TrimSpace(text[1:])
	switch rest {
	case "", "/5", "de 5", "of 5", "out of 5", "estrellas", "estrella", "stars", "star", "puntos", "points":
		return int(text[0] - '0')
	}
	if _, ok := ratingWords[rest]; ok && !strings.ContainsFunc(rest, unicode.IsDigit) {
		return int(text[0] - '0') // a button's title, "5 excelente"
	}
	return 0
}

// isReopen says whether a folded text or a payload asks to reopen a case.
func isReopen(text, payload string) bool {
	if payload == payloadReopen {
		return true
	}
	switch text {
	case "reabrir", "reabre", "reabrirlo", "reabrir caso", "reabrir el caso", "reabrir mi caso", "reopen", "reopen it", "reopen case", "reopen my case":
		return true
	}
	return false
}

// SurveyButtons returns outbound messages with the survey's rating
// buttons, 1 to 5 (payloads csat:1 to csat:5), added to each case_survey
// message bound for a channel that shows buttons; the template's text
// stays the prompt. Others are returned as they are. kindOf tells an
// account's channel. cmd/conversa puts it between the notification service
// and the conversation service, since templates hold text only.
func SurveyButtons(ctx context.Context, outs []conversation.Outbound, kindOf func(ctx context.Context, tenantID, accountID int64) (conversation.ChannelKind, error)) ([]conversation.Outbound, error) {
	for i, o := range outs {
		if o.Meta[conversation.MetaPurpose] != PurposeSurvey || len(o.Parts) != 1 || o.Parts[0].Type != conversation.PartText {
			continue
		}
		kind, err := kindOf(ctx, o.TenantID, o.AccountID)
		if err != nil {
			return nil, err
		}
		if !kind.ShowsButtons() {
			continue
		}
		p := conversation.Part{Type: conversation.PartButtons, Text: o.Parts[0].Text}
		for n := 1; n <= 5; n++ {
			p.Buttons = append(p.Buttons, conversation.Button{ID: payloadScore + strconv.Itoa(n), Title: strconv.Itoa(n)})
		}
		o.Parts = []conversation.Part{p}
		outs[i] = o
	}
	return outs, nil
}

package handoff_test

import (
	"strings"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/handoff"
)

// resolved files a case for the contact, resolves it and sends the
// resolution and the survey; it returns the case.
func (e *caseEnv) resolved(t *testing.T, contact int64) handoff.Case {
	t.Helper()
	c := e.file(t, contact)
	if _, err := e.cases.Resolve(t.Context(), e.tenant.ID, c.ID, "Reembolsamos el cobro doble.", "agent:luis"); err != nil {
		t.Fatal(err)
	}
	if ns := e.runNotices(t); !strings.HasSuffix(purposes(ns), "case_resolved:sent,case_survey:sent") {
		t.Fatalf("notices %s", purposes(ns))
	}
	return c
}

func (e *caseEnv) survey(t *testing.T, c handoff.Case) handoff.Survey {
	t.Helper()
	ss, err := e.cases.Surveys(t.Context(), e.tenant.ID, c.ID)
	if err != nil || len(ss) != 1 {
		t.Fatalf("surveys %+v, %v", ss, err)
	}
	return ss[0]
}

func (e *caseEnv) status(t *testing.T, c handoff.Case) handoff.CaseStatus {
	t.Helper()
	got, err := e.store.Case(t.Context(), e.tenant.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return got.Status
}

func count(lines []string, sub string) int {
	n := 0
	for _, l := range lines {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// TestSurveyOnWebchat: the customer answers with a button; the score is
// recorded on the survey and once in the history, and they are thanked.
// What is not a rating goes to the bot, and a bare digit after the bot
// asked something since is the bot's too.
func TestSurveyOnWebchat(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	hello := e.write(t, conversation.ChannelWebchat, "visitor-1", text("hola"))
	c := e.resolved(t, hello.ContactID)

	// Not a rating: the bot answers, the survey waits.
	m := e.write(t, conversation.ChannelWebchat, "visitor-1", text("hola otra vez"))
	if got := e.replies(t, m); len(got) != 1 || strings.Contains(got[0], "calificación") {
		t.Fatalf("a greeting got %q", got)
	}
	// The bot spoke last: a bare "5" is not taken for the survey.
	m = e.write(t, conversation.ChannelWebchat, "visitor-1", text("5"))
	if got := e.replies(t, m); len(got) != 1 || strings.Contains(got[0], "calificación") || !e.survey(t, c).AnsweredAt.IsZero() {
		t.Fatalf("a 5 after the bot's answer got %q; survey %+v", got, e.survey(t, c))
	}
	// The survey's button is.
	m = e.write(t, conversation.ChannelWebchat, "visitor-1", conversation.Part{Type: conversation.PartText, Text: "4", Payload: "csat:4"})
	if got := e.replies(t, m); len(got) != 1 || got[0] != "¡Gracias por tu calificación!" {
		t.Fatalf("the rating got %q", got)
	}
	sv := e.survey(t, c)
	if sv.Score != 4 || sv.AnswerMessageID != m.ID || !sv.AnsweredAt.Equal(tuesday) || !sv.ReopenUntil.IsZero() {
		t.Fatalf("survey %+v", sv)
	}
	if h := e.notes(t, c.ID); count(h, "satisfaction 4/5 on webchat") != 1 {
		t.Fatalf("history %q", h)
	}
	// Answered: the next rating is the bot's.
	m = e.write(t, conversation.ChannelWebchat, "visitor-1", conversation.Part{Type: conversation.PartText, Text: "5", Payload: "csat:5"})
	if got := e.replies(t, m); len(got) == 1 && strings.Contains(got[0], "calificación") {
		t.Fatalf("a second rating got %q", got)
	}
	if sv := e.survey(t, c); sv.Score != 4 {
		t.Fatalf("a second rating changed the survey: %+v", sv)
	}
}

// TestSurveyOnSMSReopens: on SMS the survey is text, answered with a
// digit; a low score within the reopen period offers to reopen the case,
// and REABRIR reopens it, without a notification (the reply says it).
func TestSurveyOnSMSReopens(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	const ana = "+573001234567"
	hello := e.write(t, conversation.ChannelSMS, ana, text("hola"))
	c := e.resolved(t, hello.ContactID)
	e.clock.add(2 * time.Hour)

	m := e.write(t, conversation.ChannelSMS, ana, text("2"))
	got := e.replies(t, m)
	if len(got) != 1 || got[0] != "Gracias por tu calificación. Lamentamos no haberlo hecho mejor. Si tu caso "+c.Radicado+
		" no quedó resuelto, responde REABRIR para reabrirlo (hasta el 25 de marzo de 2026)." {
		t.Fatalf("a 2 got %q", got)
	}
	if sv := e.survey(t, c); sv.Score != 2 || !sv.ReopenUntil.Equal(tuesday.Add(15*24*time.Hour)) {
		t.Fatalf("survey %+v", sv)
	}
	e.clock.add(24 * time.Hour)
	m = e.write(t, conversation.ChannelSMS, ana, text("Reabrir."))
	if got := e.replies(t, m); len(got) != 1 || got[0] != "Reabrimos tu caso "+c.Radicado+". Un agente lo revisará y te responderemos." {
		t.Fatalf("REABRIR got %q", got)
	}
	if s := e.status(t, c); s != handoff.Reabierto {
		t.Fatalf("status %s after REABRIR", s)
	}
	h := e.notes(t, c.ID)
	if count(h, "satisfaction 2/5 on sms") != 1 || count(h, "status: reabierto the customer reopened it after rating it 2/5") != 1 {
		t.Fatalf("history %q", h)
	}
	if ns := e.runNotices(t); len(ns) != 0 {
		t.Fatalf("the customer's own reopening notified them: %s", purposes(ns))
	}
	// Once: a second REABRIR is the bot's.
	m = e.write(t, conversation.ChannelSMS, ana, text("reabrir"))
	if got := e.replies(t, m); len(got) == 1 && strings.HasPrefix(got[0], "Reabrimos") {
		t.Fatalf("a second REABRIR got %q", got)
	}
	if sv := e.survey(t, c); sv.ReopenMessageID == m.ID {
		t.Fatalf("survey %+v", sv)
	}
}

// TestSurveyOtherChannel: the survey goes on WhatsApp, the channel the
// customer prefers; they answer in words on SMS, the same contact (one
// phone number), and the answer is taken.
func TestSurveyOtherChannel(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	const ana = "+573001234567"
	e.write(t, conversation.ChannelWhatsApp, ana, text("hola"))
	first := e.write(t, conversation.ChannelSMS, ana, text("hola"))
	if _, err := e.store.UpdateContact(t.Context(), e.tenant.ID, first.ContactID, conversation.ContactUpdate{
		Attributes: map[string]string{"preferred_channel": "whatsapp"}}); err != nil {
		t.Fatal(err)
	}
	c := e.file(t, first.ContactID)
	if _, err := e.cases.Resolve(t.Context(), e.tenant.ID, c.ID, "Listo.", "agent:luis"); err != nil {
		t.Fatal(err)
	}
	ns := e.runNotices(t)
	if purposes(ns) != "case_filed:sent,case_resolved:sent,case_survey:sent" || ns[2].Channel != conversation.ChannelWhatsApp {
		t.Fatalf("notices %s, the survey on %s", purposes(ns), ns[2].Channel)
	}
	m := e.write(t, conversation.ChannelSMS, ana, text("Excelente!"))
	if got := e.replies(t, m); len(got) != 1 || got[0] != "¡Gracias por tu calificación!" {
		t.Fatalf("excelente got %q", got)
	}
	if sv := e.survey(t, c); sv.Score != 5 {
		t.Fatalf("survey %+v", sv)
	}
	if h := e.notes(t, c.ID); count(h, "satisfaction 5/5 on sms") != 1 {
		t.Fatalf("history %q", h)
	}
}

// TestSurveyExpires: a survey unanswered after three days takes no answer.
func TestSurveyExpires(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	const ana = "+573001234567"
	hello := e.write(t, conversation.ChannelSMS, ana, text("hola"))
	c := e.resolved(t, hello.ContactID)
	e.clock.add(72*time.Hour + time.Minute)
	m := e.write(t, conversation.ChannelSMS, ana, text("1"))
	if got := e.replies(t, m); len(got) == 1 && strings.Contains(got[0], "calificación") {
		t.Fatalf("an expired survey got %q", got)
	}
	if sv := e.survey(t, c); !sv.AnsweredAt.IsZero() {
		t.Fatalf("an expired survey was answered: %+v", sv)
	}
}

// TestReopenWindow: a low score after the reopen period (here 1 day)
// offers nothing; and an offer taken up after its period reopens nothing.
// (The clock moves by whole days, out of the contact's quiet hours.)
func TestReopenWindow(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{ReopenWithin: 24 * time.Hour})
	const ana = "+573001234567"
	hello := e.write(t, conversation.ChannelSMS, ana, text("hola"))
	c := e.resolved(t, hello.ContactID)
	e.clock.add(48 * time.Hour)
	m := e.write(t, conversation.ChannelSMS, ana, text("1"))
	if got := e.replies(t, m); len(got) != 1 || got[0] != "¡Gracias por tu calificación!" {
		t.Fatalf("a 1 after the period got %q", got)
	}
	m = e.write(t, conversation.ChannelSMS, ana, text("reabrir"))
	if got := e.replies(t, m); len(got) == 1 && strings.HasPrefix(got[0], "Reabrimos") || e.status(t, c) != handoff.Resuelto {
		t.Fatalf("REABRIR without an offer got %q, status %s", got, e.status(t, c))
	}

	// Within the period the offer comes, and lapses with it.
	c = e.resolved(t, hello.ContactID)
	e.clock.add(time.Hour)
	m = e.write(t, conversation.ChannelSMS, ana, text("malo"))
	if got := e.replies(t, m); len(got) != 1 || !strings.Contains(got[0], "responde REABRIR") {
		t.Fatalf("malo got %q", got)
	}
	e.clock.add(24 * time.Hour)
	m = e.write(t, conversation.ChannelSMS, ana, text("REABRIR"))
	if got := e.replies(t, m); len(got) == 1 && strings.HasPrefix(got[0], "Reabrimos") || e.status(t, c) != handoff.Resuelto {
		t.Fatalf("REABRIR after the period got %q, status %s", got, e.status(t, c))
	}
}

// TestRatingWords: what counts as a rating.
func TestRatingWords(t *testing.T) {
	e := newCaseEnv(t, handoff.CasesConfig{})
	hello := e.write(t, conversation.ChannelWebchat, "visitor-1", text("hola"))
	for _, tt := range []struct {
		text  string
		score int
	}{
		{"5", 5}, {" 4. ", 4}, {"3/5", 3}, {"2 estrellas", 2}, {"Pésimo", 1}, {"muy bueno", 5}, {"Regular", 3},
		{"bad", 2}, {"excellent!", 5}, {"5 excelente", 5},
		{"6", 0}, {"15", 0}, {"2 facturas", 0}, {"quiero mi factura", 0}, {"0", 0},
	} {
		t.Run(tt.text, func(t *testing.T) {
			c := e.resolved(t, hello.ContactID)
			m := e.write(t, conversation.ChannelWebchat, "visitor-1", text(tt.text))
			sv := e.survey(t, c)
			if sv.Score != tt.score {
				t.Fatalf("%q scored %d, want %d (replies %q)", tt.text, sv.Score, tt.score, e.replies(t, m))
			}
			if tt.score == 0 {
				// Close the survey so the next case's is the one waiting.
				e.clock.add(73 * time.Hour)
			}
		})
	}
}

package handoff

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"

	"conversa/conversation"
)

var _ conversation.ActionHandler = (*Cases)(nil)

// paramsNotFields are the create_case parameters that describe the action
// rather than the case.
var paramsNotFields = map[string]bool{"type": true, "language": true, "channel": true, "flow": true, "description": true, "subject": true}

// HandleAction files the case a bot asks for with create_case: its type,
// and the fields the bot's flow collected (description and subject become
// the case's own). It answers the customer with the filing number and the
// due date, in their language. A second call for the same message finds
// the case the first filed and answers the same.
func (s *Cases) HandleAction(ctx context.Context, t conversation.Turn, a conversation.Action) ([]conversation.Part, error) {
	if a.Name != conversation.ActionCreateCase {
		return nil, fmt.Errorf("cases carry out %s, not %s", conversation.ActionCreateCase, a.Name)
	}
	source := "message:" + strconv.FormatInt(t.Message.ID, 10)
	c, err := s.store.CaseBySource(ctx, t.Tenant.ID, source)
	if conversation.IsNotFound(err) {
		c, err = s.fileFromBot(ctx, t, a, source)
	}
	if conversation.IsConflict(err) {
		// Another run of this job filed it in the meantime.
		c, err = s.store.CaseBySource(ctx, t.Tenant.ID, source)
	}
	if err != nil {
		return nil, err
	}
	return []conversation.Part{conversation.TextPart(filedMessage(c, a.Params["language"], t.Tenant))}, nil
}

func (s *Cases) fileFromBot(ctx context.Context, t conversation.Turn, a conversation.Action, source string) (Case, error) {
	typ, err := ParseCaseType(a.Params["type"])
	if err != nil {
		typ = Peticion
	}
	fields := map[string]string{}
	for k, v := range a.Params {
		if !paramsNotFields[k] {
			fields[k] = v
		}
	}
	desc := a.Params["description"]
	if strings.TrimSpace(desc) == "" {
		desc = t.Message.Text()
	}
	if strings.TrimSpace(desc) == "" {
		desc = "(sin descripción)"
	}
	f := Filing{
		Type: typ, ContactID: t.Contact.ID, ConversationID: t.Conversation.ID, Channel: a.Params["channel"],
		Subject: a.Params["subject"], Description: desc, Fields: maps.Clone(fields), Actor: "bot", source: source,
	}
	if f.Channel == "" {
		f.Channel = string(t.Message.Channel)
	}
	return s.File(ctx, t.Tenant, f)
}

var monthsES = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}

// filedMessage tells the customer the filing number and the due date.
func filedMessage(c Case, lang string, tenant conversation.Tenant) string {
	if lang == "" {
		lang = tenant.Language
	}
	if lang == "en" {
		return fmt.Sprintf("Your case was filed with number %s. You will get an answer by %s at the latest.", c.Radicado, DueText(c, tenant, lang))
	}
	return fmt.Sprintf("Tu caso quedó radicado con el número %s. Recibirás respuesta a más tardar el %s.", c.Radicado, DueText(c, tenant, lang))
}

package conversation_test

import (
	"strings"
	"testing"

	"conversa/conversation"
)

func TestSMSKeyword(t *testing.T) {
	for body, want := range map[string]conversation.Keyword{
		"STOP": conversation.KeywordStop, " stop ": conversation.KeywordStop, "Stop!": conversation.KeywordStop,
		"unsubscribe": conversation.KeywordStop, "StopAll": conversation.KeywordStop, "quit.": conversation.KeywordStop,
		"START": conversation.KeywordStart, "yes": conversation.KeywordStart, "UNSTOP": conversation.KeywordStart,
		"help": conversation.KeywordHelp, "INFO?": conversation.KeywordHelp,
	} {
		if got, ok := conversation.SMSKeyword(body); !ok || got != want {
			t.Errorf("SMSKeyword(%q) = %q, %v; want %q", body, got, ok, want)
		}
	}
	for _, body := range []string{"", "please stop", "stop it", "STOP STOP", "stopp", "yes please", "ayuda", "!", "s.t.o.p"} {
		if got, ok := conversation.SMSKeyword(body); ok {
			t.Errorf("SMSKeyword(%q) = %q; want no keyword", body, got)
		}
	}
}

func TestOptedOutRecipientGetsNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.run(t)
	ctx := t.Context()
	conv := e.conversationWithContact(t)
	stop, err := e.svc.RecordConsent(ctx, conversation.ConsentChange{TenantID: e.tenant.ID, AccountID: e.api.ID, ContactID: conv.ContactID,
		Channel: conversation.ChannelAPI, Address: "user-1", OptedOut: true, Source: "api"})
	if err != nil {
		t.Fatal(err)
	}
	m := e.send(t, conv, "¿Sigue ahí?")
	eventually(t, "the message failed", func() bool { return e.message(t, m.ID).Status == conversation.StatusFailed })
	if f := e.message(t, m.ID).Failure; f == nil || f.Code != conversation.FailureOptedOut {
		t.Fatalf("failure = %+v; want code %s", f, conversation.FailureOptedOut)
	}
	if n := len(e.hook.received()); n != 0 {
		t.Fatalf("%d webhooks reached an opted-out recipient", n)
	}
	// The answer to a HELP keyword is the one message carriers require even
	// then.
	help, err := e.svc.Send(ctx, conversation.Outbound{TenantID: e.tenant.ID, ConversationID: conv.ID,
		Author: conversation.Author{Kind: conversation.AuthorBot}, Parts: []conversation.Part{conversation.TextPart("Ayuda: responde START para volver a recibir mensajes.")},
		Meta: map[string]string{conversation.MetaKeywordReply: "HELP"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the HELP answer delivered", func() bool { return e.message(t, help[0].Message.ID).Status == conversation.StatusDelivered })

	if _, err := e.svc.RecordConsent(ctx, conversation.ConsentChange{TenantID: e.tenant.ID, AccountID: e.api.ID, ContactID: conv.ContactID,
		Channel: conversation.ChannelAPI, Address: "user-1", OptedOut: false, Source: "api"}); err != nil {
		t.Fatal(err)
	}
	m = e.send(t, conv, "Bienvenido de nuevo")
	eventually(t, "the message delivered", func() bool { return e.message(t, m.ID).Status == conversation.StatusDelivered })

	// A change that names no source, or another tenant's account, is refused.
	bad := stop
	bad.Source = ""
	if _, err := e.svc.RecordConsent(ctx, bad); conversation.ErrorCode(err) != conversation.EINVALID {
		t.Errorf("RecordConsent with no source = %v; want invalid", err)
	}
	bad = stop
	bad.TenantID = e.tenant.ID + 1
	if _, err := e.svc.RecordConsent(ctx, bad); conversation.ErrorCode(err) != conversation.ENOTFOUND {
		t.Errorf("RecordConsent on another tenant's account = %v; want not found", err)
	}
}

func TestBotNeverAnswersSMSKeywords(t *testing.T) {
	e := newEngineEnv(t)
	e.run(t)
	ctx := t.Context()
	sms, err := e.store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: e.tenant.ID, Kind: conversation.ChannelSMS, Key: "+15005550006"})
	if err != nil {
		t.Fatal(err)
	}
	in := func(id, text string) conversation.IngestResult {
		res, err := e.svc.Ingest(ctx, conversation.Inbound{Channel: conversation.ChannelSMS, Account: sms.Key, From: "+573001112233",
			ProviderID: id, Parts: []conversation.Part{conversation.TextPart(text)}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	outbound := func(convID int64) int {
		ms, err := e.store.ListMessages(ctx, e.tenant.ID, conversation.MessageFilter{ConversationID: convID})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range ms {
			if m.Direction == conversation.DirectionOut {
				n++
			}
		}
		return n
	}
	idle := func() bool {
		counts, err := e.store.JobCounts(ctx)
		return err == nil && len(counts) == 0
	}
	res := in("SM1", "STOP")
	in("SM2", "help")
	eventually(t, "the route jobs done", idle)
	if n := outbound(res.Conversation.ID); n != 0 {
		t.Fatalf("the bot answered a keyword: %d outbound messages", n)
	}
	// The route job recorded the STOP, once, whatever the channel did.
	if out, err := e.svc.OptedOut(ctx, e.tenant.ID, sms.ID, "+573001112233"); err != nil || !out {
		t.Fatalf("OptedOut after STOP = %v, %v", out, err)
	}
	if cs, err := e.store.ListConsent(ctx, e.tenant.ID, conversation.ConsentFilter{ContactID: res.Message.ContactID}); err != nil ||
		len(cs) != 1 || cs[0].Source != "keyword:STOP" || cs[0].ProviderID != "SM1" {
		t.Fatalf("consent ledger = %+v, %v; want the one STOP", cs, err)
	}
	in("SM4", "Start")
	eventually(t, "the START recorded", func() bool {
		out, err := e.svc.OptedOut(ctx, e.tenant.ID, sms.ID, "+573001112233")
		return err == nil && !out
	})
	// Anything else is the bot's, even with a keyword in it.
	in("SM3", "hola, no quiero que me escriban: stop")
	eventually(t, "the bot's answer", func() bool { return outbound(res.Conversation.ID) > 0 })
}

func TestMetaValidated(t *testing.T) {
	base := func() conversation.Inbound {
		return conversation.Inbound{Channel: conversation.ChannelAPI, Account: "crm", From: "user-1", ProviderID: "m1",
			Parts: []conversation.Part{conversation.TextPart("hola")}}
	}
	ok := base()
	ok.Meta = map[string]string{"subject": "Factura", "in_reply_to": "a@b"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid meta refused: %v", err)
	}
	many := map[string]string{}
	for i := range conversation.MaxMetaKeys + 1 {
		many[string(rune('a'+i))] = "x"
	}
	for name, c := range map[string]struct {
		meta map[string]string
		code string
	}{
		"a key with capitals": {map[string]string{"Subject": "x"}, conversation.EINVALID},
		"an empty key":        {map[string]string{"": "x"}, conversation.EINVALID},
		"invalid UTF-8":       {map[string]string{"subject": "\xff"}, conversation.EINVALID},
		"too many keys":       {many, conversation.EINVALID},
		"too large":           {map[string]string{"references": strings.Repeat("x", conversation.MaxMetaBytes)}, conversation.ETOOLARGE},
	} {
		in := base()
		in.Meta = c.meta
		if err := in.Validate(); conversation.ErrorCode(err) != c.code {
			t.Errorf("%s: Validate = %v; want %s", name, err, c.code)
		}
		out := conversation.Outbound{TenantID: 1, ConversationID: 1, Author: conversation.Author{Kind: conversation.AuthorBot},
			Parts: []conversation.Part{conversation.TextPart("hola")}, Meta: c.meta}
		if err := out.Validate(); conversation.ErrorCode(err) != c.code {
			t.Errorf("%s: outbound Validate = %v; want %s", name, err, c.code)
		}
	}
}

func TestBotNeverAnswersAutomatedMail(t *testing.T) {
	e := newEngineEnv(t)
	e.run(t)
	ctx := t.Context()
	auto := e.inbound("user-1", "m1", "Estoy fuera de la oficina hasta el lunes.")
	auto.Meta = map[string]string{conversation.MetaNoReply: "Auto-Submitted: auto-replied"}
	res, err := e.svc.Ingest(ctx, auto)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the route job done", func() bool {
		counts, err := e.store.JobCounts(ctx)
		return err == nil && len(counts) == 0
	})
	if n := len(e.hook.received()); n != 0 {
		t.Fatalf("the bot answered an autoresponder: %d replies", n)
	}
	if _, err := e.svc.Ingest(ctx, e.inbound("user-1", "m2", "hola, ¿cuál es el horario?")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the bot's answer to a person", func() bool { return len(e.hook.received()) == 1 })
	if m := e.message(t, res.Message.ID); m.Meta[conversation.MetaNoReply] == "" {
		t.Fatalf("the stored message lost its meta: %+v", m.Meta)
	}
}

package email_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"conversa/channels/email"
	"conversa/conversation"
)

// personEmail is an email from a person (no automated headers); id "" is
// an email without Message-ID.
func personEmail(from, id, subject, body string) []byte {
	h := fmt.Sprintf("From: %s\r\nTo: soporte@conversa.test\r\nSubject: %s\r\nDate: Mon, 3 Nov 2025 10:15:00 -0500\r\n", from, subject)
	if id != "" {
		h += "Message-ID: <" + id + ">\r\n"
	}
	return []byte(h + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n")
}

// TestMessageIDs: the same email in the mailbox twice is stored and
// answered once; another email that reuses its Message-ID is kept as its
// own message; an email without Message-ID is stored with a note, answered,
// and also stored once when it comes twice.
func TestMessageIDs(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := deadline(t, 90*time.Second)
	a, b, c := e.customer("dup-a"), e.customer("dup-b"), e.customer("sin-id")
	first := personEmail(a.addr, "repetido@cliente.test", "Pedido", "¿dónde está mi pedido?")
	e.appendRaw("INBOX", first)
	e.appendRaw("INBOX", first)
	e.appendRaw("INBOX", personEmail(b.addr, "repetido@cliente.test", "Otra cosa", "quiero cambiar mi dirección"))
	noID := personEmail(c.addr, "", "Sin identificador", "hola, no tengo Message-ID")
	e.appendRaw("INBOX", noID)
	e.appendRaw("INBOX", noID)

	for _, m := range []*mailbox{a, b, c} {
		if _, err := m.next(ctx); err != nil {
			t.Fatalf("no answer to %s: %v", m.addr, err)
		}
	}
	for strings.Count(e.logs.String(), "email already ingested") < 2 {
		select {
		case <-ctx.Done():
			t.Fatalf("the repeated emails were not read: %d duplicates logged", strings.Count(e.logs.String(), "email already ingested"))
		case <-time.After(20 * time.Millisecond):
		}
	}
	e.idle(ctx)
	in := e.inbound(ctx, 3)
	if len(in) != 3 {
		t.Fatalf("%d inbound messages, want 3", len(in))
	}
	byText := map[string]conversation.Message{}
	for _, m := range in {
		byText[conversation.PartsText(m.Parts)] = m
	}
	pa, pb := byText["¿dónde está mi pedido?"], byText["quiero cambiar mi dirección"]
	if pa.ID == 0 || pb.ID == 0 || pa.ProviderID == pb.ProviderID || pa.Meta[email.MetaMessageID] != "repetido@cliente.test" || pb.Meta[email.MetaMessageID] != "repetido@cliente.test" {
		t.Errorf("the two emails with one Message-ID: %+v / %+v", pa, pb)
	}
	pc := byText["hola, no tengo Message-ID"]
	if !strings.HasPrefix(pc.ProviderID, "sha256:") || !strings.Contains(pc.Meta[email.MetaProblems], "Message-ID") {
		t.Errorf("the email without Message-ID: provider id %q, meta %v", pc.ProviderID, pc.Meta)
	}
	if out := e.outbound(ctx); len(out) != 3 {
		t.Errorf("%d answers, want one per email", len(out))
	}
}

// TestMalformedEmail: an email whose MIME tree is broken (multipart
// without a boundary, a base64 part that is not base64) is stored as
// plain text with the problem noted and logged, and its original kept.
func TestMalformedEmail(t *testing.T) {
	e := newEnv(t, envOptions{noBot: true})
	ctx := deadline(t, 60*time.Second)
	raw, err := os.ReadFile(filepath.Join("testdata", "malformed_mime.eml"))
	if err != nil {
		t.Fatal(err)
	}
	e.appendRaw("INBOX", raw)
	m := e.inbound(ctx, 1)[0]
	if !strings.Contains(m.Meta[email.MetaProblems], "malformed MIME") || m.Meta[email.MetaEML] == "" ||
		!strings.Contains(conversation.PartsText(m.Parts), "esto no es base64") {
		t.Errorf("stored %q with meta %v", conversation.PartsText(m.Parts), m.Meta)
	}
	if !strings.Contains(e.logs.String(), "email read with problems") {
		t.Error("no log line about the malformed email")
	}
}

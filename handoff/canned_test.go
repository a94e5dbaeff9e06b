package handoff_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"conversa/conversation"
	"conversa/handoff"
)

func TestCannedValidate(t *testing.T) {
	c := handoff.Canned{Code: " SALDO ", Title: " Saldo ", Body: " Hola {{ contact.name }}, soy {{agent.first_name}}. "}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Code != "/saldo" || c.Title != "Saldo" || c.Body != "Hola {{ contact.name }}, soy {{agent.first_name}}." {
		t.Fatalf("normalized %+v", c)
	}
	for name, tt := range map[string]struct {
		c     handoff.Canned
		field string
		msg   string
	}{
		"unknown variable": {handoff.Canned{Code: "/a", Title: "t", Body: "{{contact.phone}} {{ contact.name }} {{contact.phone}}"}, "body", "{{contact.phone}}"},
		"unclosed":         {handoff.Canned{Code: "/a", Title: "t", Body: "Hola {{contact.name"}, "body", "without"},
		"no code":          {handoff.Canned{Title: "t", Body: "b"}, "code", ""},
		"bad code":         {handoff.Canned{Code: "/sal do", Title: "t", Body: "b"}, "code", ""},
		"pattern code":     {handoff.Canned{Code: "/sal%", Title: "t", Body: "b"}, "code", ""},
		"long code":        {handoff.Canned{Code: "/" + strings.Repeat("a", 41), Title: "t", Body: "b"}, "code", ""},
		"no title":         {handoff.Canned{Code: "/a", Body: "b"}, "title", ""},
		"no body":          {handoff.Canned{Code: "/a", Title: "t", Body: "  "}, "body", ""},
		"long body":        {handoff.Canned{Code: "/a", Title: "t", Body: strings.Repeat("b", handoff.MaxCannedBody+1)}, "body", ""},
	} {
		err := tt.c.Validate()
		e, ok := errors.AsType[*conversation.Error](err)
		if !ok || e.Code != conversation.EINVALID || e.Field != tt.field || !strings.Contains(e.Message, tt.msg) {
			t.Errorf("%s: Validate = %v, want invalid %s mentioning %q", name, err, tt.field, tt.msg)
		}
	}
	if got := handoff.UnknownVariables("{{b}} {{a}} {{b}} {{tenant.name}}"); !slices.Equal(got, []string{"{{a}}", "{{b}}"}) {
		t.Errorf("UnknownVariables = %v", got)
	}
}

func TestRenderCanned(t *testing.T) {
	d := handoff.CannedData{
		Tenant:       conversation.Tenant{Name: "Tienda & Cía"},
		Contact:      conversation.Contact{Name: "  María\r\nJosé <script>alert(1)</script> {{agent.name}}"},
		Conversation: conversation.Conversation{ID: 42, Channel: conversation.ChannelWebchat},
		Agent:        handoff.Agent{Name: "Ana Gómez"},
	}
	body := "Hola {{contact.first_name}} ({{ contact.name }}), soy {{agent.first_name}} de {{tenant.name}}.\nCaso {{conversation.id}} por {{conversation.channel}}. {{unknown}} <b>"
	if got, want := handoff.RenderCanned(body, d, handoff.TargetText),
		"Hola María (María José <script>alert(1)</script> {{agent.name}}), soy Ana de Tienda & Cía.\nCaso 42 por webchat.  <b>"; got != want {
		t.Errorf("text:\n got %q\nwant %q", got, want)
	}
	if got, want := handoff.RenderCanned(body, d, handoff.TargetHTML),
		"Hola María (María José &lt;script&gt;alert(1)&lt;/script&gt; {{agent.name}}), soy Ana de Tienda &amp; Cía.\nCaso 42 por webchat.  &lt;b&gt;"; got != want {
		t.Errorf("html:\n got %q\nwant %q", got, want)
	}
	long := handoff.CannedData{Contact: conversation.Contact{Name: strings.Repeat("ñ", 500)}}
	if got := handoff.RenderCanned("{{contact.name}}", long, handoff.TargetText); got != strings.Repeat("ñ", 200) {
		t.Errorf("a long value is %d characters", len([]rune(got)))
	}
	if got := handoff.RenderCanned("a {{ b", d, handoff.TargetText); got != "a {{ b" {
		t.Errorf("unclosed = %q", got)
	}
	if got := handoff.RenderCanned("{{conversation.id}}", handoff.CannedData{}, handoff.TargetText); got != "" {
		t.Errorf("no conversation = %q", got)
	}
}

// FuzzRenderCanned feeds the renderer bodies and contact names it did not
// write: it never panics, HTML output has no markup left, and a value never
// adds a line or a variable to the text.
func FuzzRenderCanned(f *testing.F) {
	f.Add("Hola {{contact.name}}, soy {{ agent.first_name }}.", "María <b>")
	f.Add("{{contact.name}}{{", "{{agent.name}}")
	f.Add("}}{{}}{{ {{contact.name}} }}", "a\nb\r\u2028c")
	f.Add("<script>{{tenant.name}}</script>", "\xff")
	f.Fuzz(func(t *testing.T, body, name string) {
		d := handoff.CannedData{Contact: conversation.Contact{Name: name}, Agent: handoff.Agent{Name: "Ana"}, Tenant: conversation.Tenant{Name: "T"}}
		html := handoff.RenderCanned(body, d, handoff.TargetHTML)
		if strings.ContainsAny(html, "<>") {
			t.Fatalf("HTML output %q has markup", html)
		}
		text := handoff.RenderCanned(body, d, handoff.TargetText)
		if strings.Count(text, "\n") > strings.Count(body, "\n") {
			t.Fatalf("a value added a line: %q -> %q", body, text)
		}
		if !strings.Contains(body, "{{") && text != body {
			t.Fatalf("a body without variables changed: %q -> %q", body, text)
		}
		_ = handoff.UnknownVariables(body)
	})
}

package handoff

import (
	"context"
	"html"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/conversation"
)

// Canned is a canned response of a tenant: an agent types its Code (such as
// "/saldo") in the console and gets its Body, with the variables filled
// (see RenderCanned).
type Canned struct {
	ID       int64 `json:"id"`
	TenantID int64 `json:"tenant_id"`
	// Code is "/" and 1 to 40 lower-case letters, digits, dashes or
	// underscores, unique per tenant.
	Code      string    `json:"code"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Limits of canned responses.
const (
	maxCannedCode  = 40
	maxCannedTitle = 200
	MaxCannedBody  = 4000
)

// Validate normalizes and checks a canned response before it is stored,
// including that its body names only known variables.
func (c *Canned) Validate() error {
	c.Code = strings.ToLower(strings.TrimSpace(c.Code))
	if c.Code != "" && !strings.HasPrefix(c.Code, "/") {
		c.Code = "/" + c.Code
	}
	c.Title = strings.TrimSpace(c.Title)
	c.Body = strings.TrimSpace(c.Body)
	switch {
	case !ValidCannedCode(c.Code):
		return conversation.FieldError("code", "a code is / and 1 to %d lower-case letters, digits, dashes or underscores", maxCannedCode)
	case c.Title == "" || !utf8.ValidString(c.Title) || utf8.RuneCountInString(c.Title) > maxCannedTitle:
		return conversation.FieldError("title", "a canned response needs a title of at most %d characters", maxCannedTitle)
	case c.Body == "" || !utf8.ValidString(c.Body) || utf8.RuneCountInString(c.Body) > MaxCannedBody:
		return conversation.FieldError("body", "a canned response needs a body of at most %d characters", MaxCannedBody)
	}
	if unknown := UnknownVariables(c.Body); len(unknown) > 0 {
		return conversation.FieldError("body", "unknown variables %s; known are %s",
			strings.Join(unknown, ", "), strings.Join(CannedVariables, ", "))
	}
	return nil
}

// ValidCannedCode reports whether code is a canned response's code.
func ValidCannedCode(code string) bool {
	name, ok := strings.CutPrefix(code, "/")
	if !ok || name == "" || len(name) > maxCannedCode {
		return false
	}
	return strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) < 0
}

// CannedStore keeps canned responses. storage/sqlite and storage/postgres
// implement it, proven by handofftest.TestConsoleStore. Every method is
// safe for concurrent use and scoped to one tenant: another tenant's ids
// are ENOTFOUND.
type CannedStore interface {
	// CreateCanned stores a validated canned response. Returns ECONFLICT
	// if the tenant has one with the code, ENOTFOUND if the tenant does
	// not exist.
	CreateCanned(ctx context.Context, c Canned) (Canned, error)
	// UpdateCanned stores the code, title and body of c. Returns
	// ENOTFOUND or ECONFLICT as CreateCanned.
	UpdateCanned(ctx context.Context, c Canned) (Canned, error)
	// DeleteCanned removes one. Returns ENOTFOUND unless it is the
	// tenant's.
	DeleteCanned(ctx context.Context, tenantID, id int64) error
	// Canned returns one. Returns ENOTFOUND unless it is the tenant's.
	Canned(ctx context.Context, tenantID, id int64) (Canned, error)
	// ListCanned returns the tenant's canned responses whose code starts
	// with prefix ("" for all), by code, at most limit (0: all).
	ListCanned(ctx context.Context, tenantID int64, prefix string, limit int) ([]Canned, error)
}

// CannedVariables are the variables a canned response's body may name,
// as {{contact.name}}.
var CannedVariables = []string{
	"agent.first_name", "agent.name",
	"contact.first_name", "contact.name",
	"conversation.channel", "conversation.id",
	"tenant.name",
}

// CannedData is what fills a canned response's variables.
type CannedData struct {
	Tenant       conversation.Tenant
	Contact      conversation.Contact
	Conversation conversation.Conversation
	Agent        Agent
}

func (d CannedData) value(name string) string {
	switch name {
	case "agent.name":
		return d.Agent.Name
	case "agent.first_name":
		return firstName(d.Agent.Name)
	case "contact.name":
		return d.Contact.Name
	case "contact.first_name":
		return firstName(d.Contact.Name)
	case "conversation.id":
		if d.Conversation.ID == 0 {
			return ""
		}
		return strconv.FormatInt(d.Conversation.ID, 10)
	case "conversation.channel":
		return string(d.Conversation.Channel)
	case "tenant.name":
		return d.Tenant.Name
	}
	return ""
}

func firstName(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// Target is what a rendered canned response becomes, which says how the
// variables' values are escaped.
type Target string

// Targets.
const (
	// TargetText is a plain-text message: values lose control characters
	// and line breaks (a name cannot add lines to the message), and are
	// cut to 200 characters.
	TargetText Target = "text"
	// TargetHTML is HTML (an email body): values are also HTML-escaped.
	TargetHTML Target = "html"
)

// maxValue is the longest a variable's value becomes when rendered.
const maxValue = 200

// RenderCanned fills the variables of body, a canned response's body, with
// d's values escaped for target. Whitespace inside the braces is allowed
// ({{ contact.name }}); an unknown variable (which Validate refuses) and a
// value that is not known (no contact name) become "". The body itself is
// the tenant's text and is not escaped, but for TargetHTML.
func RenderCanned(body string, d CannedData, target Target) string {
	var b strings.Builder
	scanVariables(body, func(literal, name string, ok bool) {
		writeLiteral(&b, literal, target)
		if ok {
			b.WriteString(escapeValue(d.value(name), target))
		}
	})
	return b.String()
}

// scanVariables calls fn for each variable of body, with the text before it
// and its name, trimmed, and ok; then for the text after the last one,
// with ok false. A "{{" without "}}" is text.
func scanVariables(body string, fn func(literal, name string, ok bool)) {
	for {
		i := strings.Index(body, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(body[i+2:], "}}")
		if j < 0 {
			break
		}
		fn(body[:i], strings.TrimSpace(body[i+2:i+2+j]), true)
		body = body[i+2+j+2:]
	}
	fn(body, "", false)
}

func writeLiteral(b *strings.Builder, s string, target Target) {
	if target == TargetHTML {
		s = html.EscapeString(s)
	}
	b.WriteString(s)
}

// escapeValue makes a variable's value safe to put in a message of the
// target.
func escapeValue(v string, target Target) string {
	v = strings.ToValidUTF8(v, "")
	v = strings.Join(strings.FieldsFunc(v, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}), " ")
	if utf8.RuneCountInString(v) > maxValue {
		v = string([]rune(v)[:maxValue])
	}
	if target == TargetHTML {
		v = html.EscapeString(v)
	}
	return v
}

// UnknownVariables returns the variables body names that are not
// CannedVariables, sorted, each once; and "{{" without its "}}".
func UnknownVariables(body string) []string {
	var out []string
	scanVariables(body, func(literal, name string, ok bool) {
		switch {
		case ok && !slices.Contains(CannedVariables, name):
			out = append(out, "{{"+name+"}}")
		case !ok && strings.Contains(literal, "{{"):
			out = append(out, "{{ without }}")
		}
	})
	slices.Sort(out)
	return slices.Compact(out)
}

package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"conversa/billing"
	"conversa/conversation"
	"conversa/handoff"
)

// pageNames are the console's pages; each is templates/<name>.html inside
// templates/layout.html.
var pageNames = []string{"login", "error", "inbox", "conversation", "supervisor", "agents", "queues", "canned", "dashboard", "reports", "billing"}

var funcs = template.FuncMap{
	"t":       tr,
	"linkify": linkify,
	"text":    func(m conversation.Message) string { return m.Text() },
	"wait": func(d time.Duration) string {
		return d.Round(time.Second).String()
	},
	"unixms": func(t time.Time) int64 { return t.UnixMilli() },
	"clock":  func(t time.Time) string { return t.Local().Format("2006-01-02 15:04") },
	"join":   strings.Join,
	"has":    slices.Contains[[]int64],
	"supervises": func(a *handoff.Agent) bool {
		return a != nil && a.Role.Supervises()
	},
	"isadmin": func(a *handoff.Agent) bool { return a != nil && a.Role == handoff.RoleAdmin },
	"statuses": func() []handoff.AgentStatus {
		return []handoff.AgentStatus{handoff.StatusAvailable, handoff.StatusBusy, handoff.StatusAway, handoff.StatusOffline}
	},
	"str":     func(v any) string { return fmt.Sprint(v) },
	"percent": percent,
	"deref":   func(p *float64) float64 { return *p },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"duration": duration,
	// money writes minor units of a currency as a decimal: 12345 COP is
	// 123.45.
	"money": billing.FormatAmount,
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// page is what every template gets: the language, the agent and the CSRF
// token of the session, and the page's own data.
type page struct {
	Lang  string
	Agent *handoff.Agent
	CSRF  string
	Name  string
	Data  any
}

// render writes a page; a template that fails writes nothing but a
// generic error, so no half page reaches the browser.
func (c *Console) render(w http.ResponseWriter, rq *request, status int, name string, data any) {
	p := page{Lang: rq.lang, Agent: rq.agent, Name: name, Data: data}
	if rq.session != nil {
		p.CSRF = rq.session.CSRF
	}
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, p); err != nil {
		c.log.Error("render console page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

var linkRE = regexp.MustCompile(`(?i)\b(?:https?://|mailto:)[^\s<>"']+`)

// linkify escapes text for HTML and makes its http, https and mailto links
// into anchors that open apart from the console and pass on nothing.
// Anything else, javascript: and data: included, stays text.
func linkify(s string) template.HTML {
	var b strings.Builder
	last := 0
	for _, loc := range linkRE.FindAllStringIndex(s, -1) {
		raw := strings.TrimRight(s[loc[0]:loc[1]], ".,;:!?)")
		end := loc[0] + len(raw)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto") {
			continue
		}
		b.WriteString(template.HTMLEscapeString(s[last:loc[0]]))
		fmt.Fprintf(&b, `<a href="%s" rel="noopener noreferrer nofollow" target="_blank">%s</a>`,
			template.HTMLEscapeString(u.String()), template.HTMLEscapeString(raw))
		last = end
	}
	b.WriteString(template.HTMLEscapeString(s[last:]))
	return template.HTML(b.String())
}

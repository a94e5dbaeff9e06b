package email

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"conversa/conversation"
)

// Rendered is an outbound email's body: the same content as plain text and
// as HTML, and the stored files to attach.
type Rendered struct {
	Text  string
	HTML  string
	Files []conversation.Media
}

// Quote is the customer's email a reply quotes below the answer.
type Quote struct {
	Name    string
	Address string
	Date    time.Time
	Text    string
}

var htmlTmpl = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Subject}}</title></head>
<body style="margin:0;padding:16px;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#1f2328">
{{- if .Fragment}}
{{.Fragment}}
{{- end}}
{{- range .Blocks}}
{{- if .Items}}
<ol style="margin:0 0 12px 0;padding-left:24px">{{range .Items}}<li>{{.}}</li>{{end}}</ol>
{{- else if .Link}}
<p style="margin:0 0 12px 0"><a href="{{.Link}}">{{.Line}}</a></p>
{{- else}}
<p style="margin:0 0 12px 0">{{range $i, $l := .Lines}}{{if $i}}<br>{{end}}{{$l}}{{end}}</p>
{{- end}}
{{- end}}
{{- if .Quote}}
<p style="margin:24px 0 4px 0;color:#57606a">{{.Quote.Attribution}}</p>
<blockquote style="margin:0;padding-left:12px;border-left:3px solid #d0d7de;color:#57606a">{{range $i, $l := .Quote.Lines}}{{if $i}}<br>{{end}}{{$l}}{{end}}</blockquote>
{{- end}}
</body>
</html>
`))

type htmlBlock struct {
	Lines []string
	Items []string
	Link  string
	Line  string
}

// Render turns message parts into an email body in language lang ("es" or
// "en"), quoting q when it is not nil. Customer and agent text is escaped in
// the HTML by html/template. It is safe for concurrent use.
func Render(parts []conversation.Part, lang, subject string, q *Quote) (Rendered, error) {
	var r Rendered
	var text strings.Builder
	var blocks []htmlBlock
	para := func(s string) {
		s = strings.TrimSpace(cleanText(s))
		if s == "" {
			return
		}
		if text.Len() > 0 {
			text.WriteString("\n\n")
		}
		text.WriteString(s)
		for _, p := range strings.Split(s, "\n\n") {
			blocks = append(blocks, htmlBlock{Lines: strings.Split(p, "\n")})
		}
	}
	for _, p := range parts {
		switch p.Type {
		case conversation.PartText:
			para(p.Text)
		case conversation.PartButtons:
			para(p.Text)
			var items []string
			var b strings.Builder
			for i, btn := range p.Buttons {
				items = append(items, btn.Title)
				fmt.Fprintf(&b, "%d. %s\n", i+1, oneLine(btn.Title, 200))
			}
			if len(items) > 0 {
				text.WriteString("\n\n" + strings.TrimRight(b.String(), "\n"))
				blocks = append(blocks, htmlBlock{Items: items})
			}
		case conversation.PartMedia:
			para(p.Text)
			if p.Media == nil {
				continue
			}
			switch {
			case p.Media.Key != "":
				r.Files = append(r.Files, *p.Media)
			case p.Media.URL != "":
				name := p.Media.Filename
				if name == "" {
					name = p.Media.URL
				}
				text.WriteString("\n\n" + name + ": " + p.Media.URL)
				blocks = append(blocks, htmlBlock{Link: p.Media.URL, Line: name})
			}
		case conversation.PartLocation:
			if l := p.Location; l != nil {
				lines := []string{l.Name, l.Address, strconv.FormatFloat(l.Latitude, 'f', 6, 64) + ", " + strconv.FormatFloat(l.Longitude, 'f', 6, 64)}
				para(strings.Join(nonEmpty(lines), "\n"))
			}
		case conversation.PartContact:
			if c := p.Contact; c != nil {
				para(strings.Join(nonEmpty(append(append([]string{c.Name}, c.Phones...), c.Emails...)), "\n"))
			}
		}
	}
	var quote *struct {
		Attribution string
		Lines       []string
	}
	if q != nil && strings.TrimSpace(q.Text) != "" {
		attr := attribution(lang, q)
		quote = &struct {
			Attribution string
			Lines       []string
		}{attr, strings.Split(q.Text, "\n")}
		text.WriteString("\n\n" + attr + "\n")
		for _, l := range strings.Split(q.Text, "\n") {
			text.WriteString("> " + l + "\n")
		}
	}
	r.Text = strings.TrimRight(text.String(), "\n") + "\n"
	var b bytes.Buffer
	if lang == "" {
		lang = "es"
	}
	err := htmlTmpl.Execute(&b, struct {
		Lang, Subject string
		Fragment      template.HTML
		Blocks        []htmlBlock
		Quote         any
	}{lang, subject, "", blocks, quote})
	if err != nil {
		return Rendered{}, fmt.Errorf("render email: %w", err)
	}
	r.HTML = b.String()
	return r, nil
}

// attribution is the line above a quote, in the style of the clients whose
// replies the quote stripper recognizes.
func attribution(lang string, q *Quote) string {
	who := q.Address
	if q.Name != "" {
		who = oneLine(q.Name, 200) + " <" + q.Address + ">"
	}
	if q.Date.IsZero() {
		if lang == "en" {
			return who + " wrote:"
		}
		return who + " escribió:"
	}
	if lang == "en" {
		return "On " + q.Date.Format("Mon, 2 Jan 2006 at 15:04") + ", " + who + " wrote:"
	}
	return "El " + q.Date.Format("02/01/2006 15:04") + ", " + who + " escribió:"
}

func nonEmpty(ss []string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// acknowledgement is the automatic answer to an email the bot did not
// understand: a person will answer.
func acknowledgement(lang string) string {
	if lang == "en" {
		return "Thank you for writing to us. We have received your email and a member of our team will answer you as soon as possible; there is no need to send it again."
	}
	return "Gracias por escribirnos. Recibimos tu correo y una persona de nuestro equipo te responderá lo antes posible; no es necesario que lo envíes de nuevo."
}

// replySubject returns the subject of a reply to subject.
func replySubject(subject string) string {
	s := strings.TrimSpace(subject)
	l := strings.ToLower(s)
	for _, p := range []string{"re:", "re :", "aw:", "sv:"} {
		if strings.HasPrefix(l, p) {
			return s
		}
	}
	if s == "" {
		return ""
	}
	return "Re: " + s
}

// RenderHTML is Render for a message whose HTML was rendered already: a
// notification's email variant, which the templates package renders with
// html/template (the tenant's markup, the data escaped). The fragment
// goes into the same document as Render's, whose plain text stays the
// text alternative.
func RenderHTML(parts []conversation.Part, lang, subject, fragment string) (Rendered, error) {
	r, err := Render(parts, lang, subject, nil)
	if err != nil || strings.TrimSpace(fragment) == "" {
		return r, err
	}
	if lang == "" {
		lang = "es"
	}
	var b bytes.Buffer
	err = htmlTmpl.Execute(&b, struct {
		Lang, Subject string
		Fragment      template.HTML
		Blocks        []htmlBlock
		Quote         any
	}{lang, subject, template.HTML(fragment), nil, nil})
	if err != nil {
		return Rendered{}, fmt.Errorf("render email: %w", err)
	}
	r.HTML = b.String()
	return r, nil
}

package bot

import (
	"hash/fnv"
	"mime"
	"path"
	"regexp"
	"strconv"
	"strings"

	"conversa/conversation"
)

// say adds one alternative of a response, for the customer's channel and
// language, to the turn's replies.
func (t *turn) say(name string) {
	alts := t.b.responses[name]
	if len(alts) == 0 {
		t.env.Logger.Warn("bot has no response of that name", "response", name)
		return
	}
	var pick []Response
	for _, r := range alts {
		if r.Channel == string(t.in.Channel) {
			pick = append(pick, r)
		}
	}
	if len(pick) == 0 {
		for _, r := range alts {
			if r.Channel == "" {
				pick = append(pick, r)
			}
		}
	}
	if len(pick) == 0 {
		pick = alts
	}
	// The same message always gets the same alternative, so a retried turn
	// answers the same.
	h := fnv.New64a()
	h.Write([]byte(name))
	r := pick[int((h.Sum64()^t.rng.Uint64())%uint64(len(pick)))]
	t.reply(t.render(r))
}

// reply adds a message to the turn's replies.
func (t *turn) reply(parts []conversation.Part) {
	if len(parts) > 0 {
		t.out.Replies = append(t.out.Replies, parts)
	}
}

// render turns a response alternative into message parts for the channel:
// buttons stay buttons where the channel has them and become numbered
// options in the text elsewhere (SMS, voice, email).
func (t *turn) render(r Response) []conversation.Part {
	var parts []conversation.Part
	if r.Image != "" {
		parts = append(parts, conversation.Part{Type: conversation.PartMedia, Media: &conversation.Media{
			URL: r.Image, ContentType: imageType(r.Image),
		}})
	}
	text := t.fill(t.localized(r.Text))
	if len(r.Buttons) == 0 {
		if text != "" {
			parts = append(parts, conversation.TextPart(text))
		}
		return parts
	}
	opts := make([]Option, 0, len(r.Buttons))
	for _, b := range r.Buttons {
		opts = append(opts, Option{
			ID: b.ID, Title: t.fill(t.localized(b.Title)),
			Intent: b.Intent, Flow: b.Flow, Response: b.Response, Handoff: b.Handoff, Value: b.Value,
		})
	}
	t.offered = opts
	if t.in.Channel.ShowsButtons() {
		p := conversation.Part{Type: conversation.PartButtons, Text: text}
		for _, o := range opts {
			p.Buttons = append(p.Buttons, conversation.Button{ID: o.ID, Title: o.Title})
		}
		return append(parts, p)
	}
	return append(parts, conversation.TextPart(numbered(text, opts, t.in.Channel, t.lang)))
}

// numbered writes options as text: "1. Facturas" lines, or for voice
// "Marque 1 para facturas, 2 para soporte."
func numbered(text string, opts []Option, k conversation.ChannelKind, lang string) string {
	var b strings.Builder
	b.WriteString(text)
	if k == conversation.ChannelVoice {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		press, forWord := "Marque", "para"
		if lang == "en" {
			press, forWord = "Press", "for"
		}
		b.WriteString(press)
		for i, o := range opts {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(" " + strconv.Itoa(i+1) + " " + forWord + " " + o.Title)
		}
		b.WriteString(".")
		return b.String()
	}
	for i, o := range opts {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(strconv.Itoa(i+1) + ". " + o.Title)
	}
	return b.String()
}

func imageType(u string) string {
	ext := path.Ext(strings.SplitN(u, "?", 2)[0])
	if t := mime.TypeByExtension(ext); strings.HasPrefix(t, "image/") {
		t, _, _ = strings.Cut(t, ";")
		return t
	}
	return "image/jpeg"
}

// localized picks the text in the turn's language, else the text for
// every language, else the bot's first language's, else any.
func (t *turn) localized(l Localized) string {
	if s, ok := l[t.lang]; ok {
		return s
	}
	if s, ok := l[""]; ok {
		return s
	}
	if s, ok := l[t.b.languages[0]]; ok {
		return s
	}
	for _, k := range sortedKeys(l) {
		return l[k]
	}
	return ""
}

var placeholder = regexp.MustCompile(`\{([a-z][a-z0-9_.-]*)\}`)

// fill replaces {slot}, {contact.name} and {next_open} in s.
func (t *turn) fill(s string) string {
	if !strings.Contains(s, "{") {
		return s
	}
	return placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := m[1 : len(m)-1]
		switch name {
		case "contact.name":
			return t.in.Contact.Name
		case "next_open":
			return t.nextOpen
		}
		if v, ok := t.st.Slots[name]; ok {
			return v
		}
		if v, ok := strings.CutPrefix(name, "contact."); ok {
			return t.in.Contact.Attributes[v]
		}
		return ""
	})
}

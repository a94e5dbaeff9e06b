package email

import (
	"regexp"
	"strings"

	"github.com/inbucket/html2text"
)

// htmlToText derives text from HTML: scripts, styles and the head are left
// out, links keep their address, quotes become "> " lines.
func htmlToText(h string) string {
	t, err := html2text.FromString(h)
	if err != nil {
		return ""
	}
	return t
}

// Lines that start the quoted history of a reply, in the styles of common
// mail clients, in Spanish and English.
var (
	// Gmail and Apple Mail: "On Mon, 3 Nov 2025 at 10:15, Ana <ana@x> wrote:",
	// "El lun, 3 nov 2025 a las 10:15, Ana (<ana@x>) escribió:",
	// possibly wrapped over two lines.
	attributionRE = regexp.MustCompile(`(?i)^(on|el)\s.{4,300}(wrote|escribió|escribio)\s*:\s*$`)
	// Outlook: "-----Original Message-----", "-----Mensaje original-----",
	// or a line of underscores before a From/De block.
	separatorRE = regexp.MustCompile(`(?i)^\s*(-{2,}\s*(original message|mensaje original|forwarded message|mensaje reenviado)\s*-{2,}|_{10,})\s*$`)
	// The header block Outlook puts before the quoted email.
	outlookFromRE = regexp.MustCompile(`(?i)^\*?(from|de)\*?\s*:\s*\S`)
	outlookNextRE = regexp.MustCompile(`(?i)^\*?(sent|enviado|date|fecha|to|para|subject|asunto)\*?\s*:`)
	// Mobile signatures.
	mobileSigRE = regexp.MustCompile(`(?i)^(sent from my|enviado desde mi|get outlook for|obtener outlook para|enviado desde outlook|sent from outlook|enviado desde yahoo|sent from yahoo)\b`)
)

// stripQuotes removes the quoted history and the signature of a reply. It
// reports whether it removed anything.
func stripQuotes(text string) (string, bool) {
	lines := strings.Split(text, "\n")
	cut := len(lines)
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		switch {
		case attributionRE.MatchString(l),
			i+1 < len(lines) && attributionRE.MatchString(l+" "+strings.TrimSpace(lines[i+1])) && (strings.HasPrefix(strings.ToLower(l), "on ") || strings.HasPrefix(strings.ToLower(l), "el ")),
			separatorRE.MatchString(l),
			outlookFromRE.MatchString(l) && i+1 < len(lines) && outlookNextRE.MatchString(strings.TrimSpace(lines[i+1])),
			mobileSigRE.MatchString(l),
			lines[i] == "-- " || l == "--":
			cut = i
		case strings.HasPrefix(l, ">"):
			// A block of quoted lines that runs to the end (blank lines and
			// more quotes only) is history; quotes answered inline are not.
			rest := true
			for _, m := range lines[i:] {
				if m = strings.TrimSpace(m); m != "" && !strings.HasPrefix(m, ">") {
					rest = false
					break
				}
			}
			if rest {
				cut = i
			}
		}
		if cut < len(lines) {
			break
		}
	}
	if cut == len(lines) {
		return text, false
	}
	return strings.TrimRight(strings.Join(lines[:cut], "\n"), " \n\t"), true
}

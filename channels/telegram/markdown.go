package telegram

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// markdownSpecial are the characters MarkdownV2 reserves outside entities
// (core.telegram.org/bots/api#markdownv2-style), and the backslash that
// escapes them.
const markdownSpecial = "_*[]()~`>#+-=|{}.!\\"

// escapeMarkdownV2 returns s escaped so that Telegram shows it exactly as
// written under parse_mode MarkdownV2.
func escapeMarkdownV2(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for _, r := range s {
		if r < utf8.RuneSelf && strings.ContainsRune(markdownSpecial, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapeCode escapes the text of a code entity, where only ` and \ are
// reserved.
func escapeCode(s string) string {
	return strings.NewReplacer(`\`, `\\`, "`", "\\`").Replace(s)
}

// markdownV2 turns the light Markdown that tenants write (*bold*,
// _italic_, `code`) into Telegram's MarkdownV2, escaping everything else.
// A marker counts only in pairs on one line, around text that does not
// start or end with a space, and not inside a word (snake_case stays as
// written). Text that is not such a pair is shown as written.
func markdownV2(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); {
		c := s[i]
		if c == '*' || c == '_' || c == '`' {
			if end, ok := closing(s, i); ok {
				inner := s[i+1 : end]
				if c == '`' {
					b.WriteString("`" + escapeCode(inner) + "`")
				} else {
					b.WriteByte(c)
					b.WriteString(escapeMarkdownV2(inner))
					b.WriteByte(c)
				}
				i = end + 1
				continue
			}
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		b.WriteString(escapeMarkdownV2(string(r)))
		i += n
	}
	return b.String()
}

// closing finds the marker that closes the one at s[i], on the same line.
func closing(s string, i int) (int, bool) {
	c := s[i]
	if c != '`' && i > 0 && wordByte(s[:i], true) {
		return 0, false
	}
	rest := s[i+1:]
	j := strings.IndexByte(rest, c)
	if j <= 0 {
		return 0, false
	}
	inner := rest[:j]
	if strings.ContainsRune(inner, '\n') {
		return 0, false
	}
	if c != '`' {
		if strings.TrimSpace(inner) != inner || wordByte(rest[j+1:], false) {
			return 0, false
		}
	}
	return i + 1 + j, true
}

// wordByte reports whether the rune at the end (or start) of s is a
// letter or digit.
func wordByte(s string, atEnd bool) bool {
	var r rune
	if atEnd {
		r, _ = utf8.DecodeLastRuneInString(s)
	} else {
		r, _ = utf8.DecodeRuneInString(s)
	}
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

package campaign

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"conversa/conversation"
)

// ImportReport is what a CSV upload held.
type ImportReport struct {
	// Rows counts the data rows read (not the header).
	Rows int `json:"rows"`
	// Imported counts the rows that became recipients' contacts.
	Imported int `json:"imported"`
	// Bad counts the rows refused; BadRows lists the first MaxBadRows.
	Bad     int      `json:"bad"`
	BadRows []BadRow `json:"bad_rows,omitempty"`
}

// BadRow is a CSV row refused, by its line in the file (from 1, the
// header's line).
type BadRow struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Limits of a CSV upload.
const (
	// MaxBadRows is how many bad rows a report lists; it counts them all.
	MaxBadRows = 100
	// csvBatch is how many rows are handed on at once.
	csvBatch     = 500
	maxColumns   = 64
	maxAttrValue = 1024
)

// Columns of a CSV upload. Other columns are contact attributes named by
// their header; "attributes" holds a JSON object of more.
const (
	ColName       = "name"
	ColPhone      = "phone"
	ColEmail      = "email"
	ColLanguage   = "language"
	ColAttributes = "attributes"
)

var (
	headerRE   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	languageRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)
)

// ReadCSV streams a CSV upload (RFC 4180, comma-separated): a header row
// naming the columns, then one contact a row. Phone numbers are
// normalized to E.164, read in region (the tenant's country, such as "CO")
// unless written with their country code, and become the contact's
// WhatsApp and SMS identities; an email address its email identity. Rows
// that do not parse (broken quoting: a quoted field left open is given up
// after maxRecordLines lines, and reading goes on at the line after its
// start), or have an invalid phone number or email address, or no channel
// at all, are counted as bad with their line; the others are handed to
// batch, at most csvBatch at a time, with the line of each. Memory stays
// bounded whatever the file's size. Returns EINVALID when the header is
// missing or bad or a line is longer than maxLine, and batch's error.
func ReadCSV(r io.Reader, region string, batch func(cs []ContactImport, lines []int) error) (ImportReport, error) {
	var rep ImportReport
	rd := newRecordReader(r)
	header, line, err := rd.next()
	switch {
	case errors.Is(err, io.EOF):
		return rep, conversation.FieldError("csv", "is empty: it needs a header row such as name,phone,email,language")
	case errors.Is(err, errLineTooLong):
		return rep, conversation.FieldError("csv", "line %d is longer than %d bytes", line, maxLine)
	case err != nil && !isRecordError(err):
		return rep, fmt.Errorf("read csv: %w", err)
	case err != nil:
		return rep, conversation.FieldError("csv", "header: %v", err)
	}
	cols, err := readHeader(header)
	if err != nil {
		return rep, err
	}
	region = strings.ToUpper(region)
	cs := make([]ContactImport, 0, csvBatch)
	lines := make([]int, 0, csvBatch)
	flush := func() error {
		if len(cs) == 0 {
			return nil
		}
		if err := batch(cs, lines); err != nil {
			return err
		}
		rep.Imported += len(cs)
		cs, lines = cs[:0], lines[:0]
		return nil
	}
	for {
		rec, line, err := rd.next()
		switch {
		case errors.Is(err, io.EOF):
			return rep, flush()
		case errors.Is(err, errLineTooLong):
			return rep, conversation.FieldError("csv", "line %d is longer than %d bytes", line, maxLine)
		case isRecordError(err):
			rep.Rows++
			rep.bad(line, err.Error())
			continue
		case err != nil:
			return rep, fmt.Errorf("read csv: %w", err)
		}
		rep.Rows++
		c, reason := parseRow(cols, rec, region)
		if reason != "" {
			rep.bad(line, reason)
			continue
		}
		cs, lines = append(cs, c), append(lines, line)
		if len(cs) == csvBatch {
			if err := flush(); err != nil {
				return rep, err
			}
		}
	}
}

// Limits of the CSV reader.
const (
	// maxLine bounds a physical line.
	maxLine = 64 << 10
	// maxRecordLines bounds the lines of one record: a quoted field
	// still open after them is broken quoting.
	maxRecordLines = 10
)

var errLineTooLong = errors.New("line too long")

// recordError is a record that does not parse.
type recordError struct{ msg string }

func (e *recordError) Error() string { return e.msg }

func isRecordError(err error) bool {
	_, ok := errors.AsType[*recordError](err)
	return ok
}

// recordReader reads CSV records line by line, so that a broken quote
// costs its own line only.
type recordReader struct {
	sc      *bufio.Scanner
	line    int      // the number of the last line taken from sc
	pending []string // lines read ahead, given back by a broken record
	fields  []string
}

func newRecordReader(r io.Reader) *recordReader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	return &recordReader{sc: sc}
}

// nextLine returns the next physical line without its line ending.
func (rd *recordReader) nextLine() (string, error) {
	if len(rd.pending) > 0 {
		l := rd.pending[0]
		rd.pending = rd.pending[1:]
		return l, nil
	}
	if !rd.sc.Scan() {
		if err := rd.sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				return "", errLineTooLong
			}
			return "", err
		}
		return "", io.EOF
	}
	rd.line++
	return strings.TrimSuffix(rd.sc.Text(), "\r"), nil
}

// next returns the next record and the number of its first line. Blank
// lines are skipped. A record that does not parse is a *recordError.
func (rd *recordReader) next() ([]string, int, error) {
	var l string
	var err error
	for {
		l, err = rd.nextLine()
		if err != nil {
			return nil, rd.lineNo() + 1, err
		}
		if strings.TrimSpace(l) != "" {
			break
		}
	}
	start := rd.lineNo()
	used := []string{l}
	text := l
	for {
		fields, complete, perr := splitRecord(text, rd.fields[:0])
		rd.fields = fields
		if perr != nil {
			rd.giveBack(used[1:])
			return nil, start, &recordError{perr.Error()}
		}
		if complete {
			return fields, start, nil
		}
		if len(used) == maxRecordLines {
			rd.giveBack(used[1:])
			return nil, start, &recordError{"broken quoting: a quoted field is not closed"}
		}
		more, err := rd.nextLine()
		if errors.Is(err, io.EOF) {
			rd.giveBack(used[1:])
			return nil, start, &recordError{"broken quoting: a quoted field is not closed"}
		}
		if err != nil {
			return nil, start, err
		}
		used = append(used, more)
		text += "\n" + more
	}
}

// lineNo is the number of the line nextLine returned last.
func (rd *recordReader) lineNo() int { return rd.line - len(rd.pending) }

// giveBack returns lines read ahead, to be read again.
func (rd *recordReader) giveBack(lines []string) {
	rd.pending = append(slices.Clone(lines), rd.pending...)
}

// splitRecord splits one CSV record into fields, appended to fields.
// complete is false when a quoted field is still open at the end of s.
func splitRecord(s string, fields []string) (_ []string, complete bool, _ error) {
	for {
		if rest, ok := strings.CutPrefix(s, `"`); ok {
			var b strings.Builder
			s = rest
			for {
				i := strings.IndexByte(s, '"')
				if i < 0 {
					return fields, false, nil
				}
				b.WriteString(s[:i])
				s = s[i+1:]
				if rest, ok := strings.CutPrefix(s, `"`); ok {
					b.WriteByte('"')
					s = rest
					continue
				}
				break
			}
			fields = append(fields, b.String())
			if s == "" {
				return fields, true, nil
			}
			if s[0] != ',' {
				return fields, true, fmt.Errorf("column %d: broken quoting: text after a closing quote", len(fields))
			}
			s = s[1:]
			if s == "" {
				return append(fields, ""), true, nil
			}
			continue
		}
		i := strings.IndexByte(s, ',')
		f := s
		if i >= 0 {
			f = s[:i]
		}
		if strings.Contains(f, `"`) {
			return fields, true, fmt.Errorf("column %d: broken quoting: a quote in an unquoted field", len(fields)+1)
		}
		fields = append(fields, f)
		if i < 0 {
			return fields, true, nil
		}
		s = s[i+1:]
	}
}

func (rep *ImportReport) bad(line int, reason string) {
	rep.Bad++
	if len(rep.BadRows) < MaxBadRows {
		rep.BadRows = append(rep.BadRows, BadRow{Line: line, Reason: reason})
	}
}

func readHeader(header []string) ([]string, error) {
	if len(header) > maxColumns {
		return nil, conversation.FieldError("csv", "at most %d columns", maxColumns)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !headerRE.MatchString(h) {
			return nil, conversation.FieldError("csv", "header column %d %q: names are lower-case letters, digits and _", i+1, h)
		}
		if seen[h] {
			return nil, conversation.FieldError("csv", "header column %q is twice", h)
		}
		seen[h] = true
		cols[i] = h
	}
	if !seen[ColPhone] && !seen[ColEmail] {
		return nil, conversation.FieldError("csv", "the header needs a phone or an email column")
	}
	return cols, nil
}

// parseRow reads one row, or says why it is bad.
func parseRow(cols, rec []string, region string) (ContactImport, string) {
	var c ContactImport
	if len(rec) != len(cols) {
		return c, fmt.Sprintf("%d fields, the header has %d", len(rec), len(cols))
	}
	for i, v := range rec {
		v = strings.TrimSpace(v)
		if !utf8.ValidString(v) || len(v) > maxAttrValue {
			return c, fmt.Sprintf("%s: must be UTF-8, at most %d bytes", cols[i], maxAttrValue)
		}
		if v == "" {
			continue
		}
		switch cols[i] {
		case ColName:
			c.Name = v
		case ColLanguage:
			if !languageRE.MatchString(v) {
				return c, fmt.Sprintf("language %q is not a language tag like es or es-CO", v)
			}
			c.Language = v
		case ColPhone:
			num, err := phonenumbers.Parse(v, region)
			if err != nil || !phonenumbers.IsValidNumber(num) {
				return c, fmt.Sprintf("phone %q is not a valid phone number", v)
			}
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			c.Identities = append(c.Identities,
				conversation.Identity{Channel: conversation.ChannelWhatsApp, Address: e164},
				conversation.Identity{Channel: conversation.ChannelSMS, Address: e164})
		case ColEmail:
			a, err := mail.ParseAddress(v)
			if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
				return c, fmt.Sprintf("email %q is not an email address", v)
			}
			c.Identities = append(c.Identities, conversation.Identity{Channel: conversation.ChannelEmail, Address: strings.ToLower(a.Address)})
		case ColAttributes:
			var attrs map[string]string
			if err := json.Unmarshal([]byte(v), &attrs); err != nil {
				return c, "attributes: not a JSON object of strings"
			}
			for k, av := range attrs {
				if !headerRE.MatchString(k) || len(av) > maxAttrValue {
					return c, fmt.Sprintf("attributes: %q is not an attribute name", k)
				}
				c.setAttr(k, av)
			}
		default:
			c.setAttr(cols[i], v)
		}
	}
	if len(c.Identities) == 0 {
		return c, "no channel: the row has neither a phone number nor an email address"
	}
	return c, ""
}

func (c *ContactImport) setAttr(k, v string) {
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	c.Attributes[k] = v
}

package templates

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"conversa/conversation"
)

// Template is a checked and compiled definition. It is safe for concurrent
// use; its Definition must not be changed.
type Template struct {
	Definition
	// Checksum is the SHA-256 of the source, hex.
	Checksum string `json:"checksum"`

	source   []byte
	variants []*variant
}

// Source returns the definition file the template was parsed from.
func (t *Template) Source() []byte { return t.source }

// Checksum returns the SHA-256 of a definition's source, hex, as stores
// keep it.
func Checksum(src []byte) string {
	sum := sha256.Sum256(src)
	return hex.EncodeToString(sum[:])
}

// variant is a compiled Variant.
type variant struct {
	Variant
	index   int
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// compiler checks one definition and collects its problems.
type compiler struct {
	file  string
	lines []string // of the source, for positions
	nodes map[string]*yaml.Node
	d     *Definition
	ps    Problems
	// samples tells whether to render the variants with the samples.
	samples bool
}

// problem records a problem of a field, at the field's position.
func (c *compiler) problem(field, format string, args ...any) {
	p := &Problem{File: c.file, Field: field, Msg: sprintf(format, args...)}
	if n := c.nodes[field]; n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	c.ps = append(c.ps, p)
}

// problemAt records a problem at line and column (from 1; 0 unknown) of
// the template text of field. Where the text's position in the file is
// known exactly the problem has it; otherwise it has the field's, and the
// message the position in the text.
func (c *compiler) problemAt(field string, line, col int, format string, args ...any) {
	p := &Problem{File: c.file, Field: field, Msg: sprintf(format, args...)}
	n := c.nodes[field]
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	if line <= 0 {
		c.ps = append(c.ps, p)
		return
	}
	if fl, fc, ok := c.filePosition(n, line, col); ok {
		p.Line, p.Column = fl, fc
	} else if col > 0 {
		p.Msg = sprintf("line %d, column %d of the text: %s", line, col, p.Msg)
	} else {
		p.Msg = sprintf("line %d of the text: %s", line, p.Msg)
	}
	c.ps = append(c.ps, p)
}

// filePosition maps a position in a scalar's value to the file, when the
// scalar is a literal block (|) or a one-line scalar written as it reads.
func (c *compiler) filePosition(n *yaml.Node, line, col int) (int, int, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, 0, false
	}
	switch n.Style {
	case yaml.LiteralStyle:
		// The value's lines follow the indicator's line, indented alike.
		fl := n.Line + line
		if fl > len(c.lines) {
			return 0, 0, false
		}
		indent := -1
		for _, l := range c.lines[n.Line:] {
			if strings.TrimSpace(l) != "" {
				indent = len(l) - len(strings.TrimLeft(l, " "))
				break
			}
		}
		if indent < 0 {
			return 0, 0, false
		}
		if col == 0 {
			return fl, 0, true
		}
		return fl, indent + col, true
	case 0, yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		if line != 1 || strings.Contains(n.Value, "\n") || n.Line > len(c.lines) {
			return 0, 0, false
		}
		start := n.Column - 1 // runes before the scalar
		if n.Style != 0 {
			start++ // the quote
		}
		src := []rune(c.lines[n.Line-1])
		value := []rune(n.Value)
		if start < 0 || start+len(value) > len(src) || string(src[start:start+len(value)]) != n.Value {
			return 0, 0, false // escapes or folding: the text is not written as it reads
		}
		if col == 0 {
			return n.Line, 0, true
		}
		return n.Line, start + col, true
	}
	return 0, 0, false
}

var sprintf = fmt.Sprintf

// compile checks a decoded definition and compiles its variants.
func compile(file string, src []byte, d *Definition, nodes map[string]*yaml.Node) (*Template, Problems) {
	c := &compiler{file: file, lines: strings.Split(string(src), "\n"), nodes: nodes, d: d}
	c.checkHeader()
	c.samples = len(c.ps) == 0 // samples of a bad header prove nothing
	t := &Template{Definition: *d, Checksum: Checksum(src), source: src}
	seen := map[[2]string]int{}
	for i, raw := range d.Variants {
		if lang := CanonicalLanguage(raw.Language); raw.Channel != "" && lang != "" {
			key := [2]string{string(raw.Channel), lang}
			if j, ok := seen[key]; ok {
				c.problem(sprintf("variants[%d]", i), "variants[%d] is also for channel %s and language %s", j, raw.Channel, lang)
				continue
			}
			seen[key] = i
		}
		if v := c.variant(i); v != nil {
			t.variants = append(t.variants, v)
			t.Variants[i] = v.Variant
		}
	}
	if len(c.ps) > 0 {
		return nil, c.ps
	}
	return t, nil
}

// checkHeader checks everything but the variants.
func (c *compiler) checkHeader() {
	d := c.d
	switch {
	case d.Purpose == "":
		c.ps = append(c.ps, &Problem{File: c.file, Field: "purpose", Msg: "is required"})
	case !purposeRE.MatchString(d.Purpose):
		c.problem("purpose", "must be 1 to 64 lower-case letters, digits or underscores, starting with a letter")
	}
	if utf8.RuneCountInString(d.Description) > MaxDescription {
		c.problem("description", "is longer than %d characters", MaxDescription)
	}
	if len(d.Variables) > MaxVariables {
		c.problem("variables", "has more than %d variables", MaxVariables)
	}
	for _, name := range slices.Sorted(maps.Keys(d.Variables)) {
		v := d.Variables[name]
		field := "variables." + name
		if !variableRE.MatchString(name) {
			c.problemKey(field, "a variable's name must be a letter and up to 63 letters, digits or underscores")
		}
		if len(v.Sample) > MaxSampleSize {
			c.problem(field+".sample", "is longer than %d bytes", MaxSampleSize)
		}
		if v.Required && strings.TrimSpace(v.Sample) == "" {
			c.problemKey(field, "a required variable needs a sample, which previews and checks render with")
		}
	}
	switch {
	case len(d.Variants) == 0:
		c.ps = append(c.ps, &Problem{File: c.file, Field: "variants", Msg: "at least one variant is required"})
		if n := c.nodes["variants"]; n != nil {
			c.ps[len(c.ps)-1].Line, c.ps[len(c.ps)-1].Column = n.Line, n.Column
		}
	case len(d.Variants) > MaxVariants:
		c.problem("variants", "has more than %d variants", MaxVariants)
	}
}

// problemKey records a problem at a map key's position.
func (c *compiler) problemKey(field, msg string) {
	p := &Problem{File: c.file, Field: field, Msg: msg}
	if n := c.nodes[field+"#key"]; n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	c.ps = append(c.ps, p)
}

// variant checks and compiles variant i; nil when it has problems.
func (c *compiler) variant(i int) *variant {
	before := len(c.ps)
	v := &variant{Variant: c.d.Variants[i], index: i}
	f := func(name string) string { return sprintf("variants[%d].%s", i, name) }
	ch := v.Channel
	switch {
	case ch == "":
		c.problem(f("channel"), "is required")
		c.fieldMissing(i, "channel")
	case ch != AnyChannel && !ch.Valid():
		c.problem(f("channel"), "must be one of whatsapp, sms, telegram, email, webchat, voice, api, default")
	}
	switch lang := CanonicalLanguage(v.Language); {
	case v.Language == "":
		c.fieldMissing(i, "language")
	case lang == "":
		c.problem(f("language"), "%q is not a language tag such as es, en or es-CO", v.Language)
	default:
		v.Language = lang
	}
	if v.Text == "" {
		c.fieldMissing(i, "text")
	}
	if ch == conversation.ChannelEmail {
		if v.Subject == "" {
			c.fieldMissing(i, "subject")
		}
	} else {
		if v.Subject != "" {
			c.problem(f("subject"), "is for email only")
		}
		if v.HTML != "" {
			c.problem(f("html"), "is for email only")
		}
	}
	if ch != conversation.ChannelWhatsApp {
		if v.ContentSid != "" {
			c.problem(f("content_sid"), "is for whatsapp only")
		}
		if len(v.ContentVariables) > 0 {
			c.problem(f("content_variables"), "is for whatsapp only")
		}
	} else {
		if v.ContentSid != "" && !sidRE.MatchString(v.ContentSid) {
			c.problem(f("content_sid"), "must be an approved content template's SID: HX and 32 hex digits")
		}
		if v.ContentSid == "" && len(v.ContentVariables) > 0 {
			c.problem(f("content_variables"), "needs a content_sid")
		}
		for j, name := range v.ContentVariables {
			field := sprintf("variants[%d].content_variables[%d]", i, j)
			switch vr, ok := c.d.Variables[name]; {
			case !ok:
				c.problem(field, "%q is not a declared variable", name)
			case !vr.Required:
				c.problem(field, "%q is optional, and WhatsApp rejects an empty template variable; make it required", name)
			}
		}
	}
	if ch == conversation.ChannelSMS {
		if v.MaxSegments < 0 || v.MaxSegments > DefaultMaxSegments {
			c.problem(f("max_segments"), "must be 1 to %d", DefaultMaxSegments)
		}
	} else if v.MaxSegments != 0 {
		c.problem(f("max_segments"), "is for sms only")
	}
	for _, part := range []struct {
		name, src string
	}{{"subject", v.Subject}, {"text", v.Text}, {"html", v.HTML}} {
		if len(part.src) > MaxPartSize {
			c.problem(f(part.name), "is longer than %d bytes", MaxPartSize)
		}
	}
	if len(c.ps) > before {
		return nil
	}
	fm := funcs(v.Language)
	if v.Subject != "" {
		v.subject = parseText(c, f("subject"), v.Subject, fm)
	}
	v.text = parseText(c, f("text"), v.Text, fm)
	if v.HTML != "" {
		v.html = parseHTML(c, f("html"), v.HTML, fm)
	}
	if len(c.ps) > before {
		return nil
	}
	if c.samples {
		c.checkSamples(v)
	}
	if len(c.ps) > before {
		return nil
	}
	return v
}

// fieldMissing records a required field of variant i that is not given,
// at the variant's position.
func (c *compiler) fieldMissing(i int, name string) {
	p := &Problem{File: c.file, Field: sprintf("variants[%d].%s", i, name), Msg: "is required"}
	if n := c.nodes[sprintf("variants[%d]", i)]; n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	c.ps = append(c.ps, p)
}

// parseErrorRE reads text/template's parse errors: "template: name:line: message".
var parseErrorRE = regexp.MustCompile(`^template: [^:]*:(\d+): (.*)$`)

// funcNotDefinedRE finds the function a parse error is about.
var funcNotDefinedRE = regexp.MustCompile(`function "([^"]+)" not defined`)

func parseText(c *compiler, field, src string, fm map[string]any) *texttemplate.Template {
	t, err := texttemplate.New("t").Funcs(fm).Option("missingkey=error").Parse(src)
	if err != nil {
		c.syntaxError(field, src, err)
		return nil
	}
	if !c.checkTree(field, src, t.Tree, len(t.Templates())) {
		return nil
	}
	return t
}

func parseHTML(c *compiler, field, src string, fm map[string]any) *htmltemplate.Template {
	t, err := htmltemplate.New("t").Funcs(fm).Option("missingkey=error").Parse(src)
	if err != nil {
		c.syntaxError(field, src, err)
		return nil
	}
	if !c.checkTree(field, src, t.Tree, len(t.Templates())) {
		return nil
	}
	return t
}

// syntaxError reports a template's parse error at its line and, as
// text/template names none, the column of the function it is about or
// else of the first action on the line.
func (c *compiler) syntaxError(field, src string, err error) {
	m := parseErrorRE.FindStringSubmatch(err.Error())
	if m == nil {
		c.problem(field, "%s", strings.TrimPrefix(err.Error(), "template: "))
		return
	}
	line, _ := strconv.Atoi(m[1])
	msg := m[2]
	if msg == "unexpected EOF" {
		if l, col, kw, ok := unclosed(src); ok {
			c.problemAt(field, l, col, "{{%s}} has no {{end}}", kw)
			return
		}
	}
	if msg == "bad character U+007D '}'" {
		msg = "an action ends with } where it needs }}"
	}
	col := 0
	lines := strings.Split(src, "\n")
	if line >= 1 && line <= len(lines) {
		l := lines[line-1]
		at := -1
		if fn := funcNotDefinedRE.FindStringSubmatch(msg); fn != nil {
			at = indexIdent(l, fn[1])
		}
		if at < 0 {
			at = strings.Index(l, "{{")
		}
		if at >= 0 {
			col = utf8.RuneCountInString(l[:at]) + 1
		}
	}
	c.problemAt(field, line, col, "%s", msg)
}

// blockRE finds the actions that open and close blocks.
var blockRE = regexp.MustCompile(`\{\{-?\s*(if|with|range|block|define|end)\b`)

// unclosed returns the line, column and keyword of the innermost block
// that src opens and does not close.
func unclosed(src string) (line, col int, keyword string, ok bool) {
	type open struct {
		pos     int
		keyword string
	}
	var stack []open
	for _, m := range blockRE.FindAllStringSubmatchIndex(src, -1) {
		kw := src[m[2]:m[3]]
		if kw != "end" {
			stack = append(stack, open{m[0], kw})
		} else if len(stack) > 0 {
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) == 0 {
		return 0, 0, "", false
	}
	top := stack[len(stack)-1]
	line, col = position(src, parse.Pos(top.pos))
	return line, col, top.keyword, true
}

// indexIdent returns the byte index of the first whole-word name in l
// inside an action, or -1.
func indexIdent(l, name string) int {
	for off := 0; ; {
		open := strings.Index(l[off:], "{{")
		if open < 0 {
			return -1
		}
		open += off
		end := strings.Index(l[open:], "}}")
		action := l[open:]
		if end >= 0 {
			action = l[open : open+end]
		}
		for i := 0; ; {
			j := strings.Index(action[i:], name)
			if j < 0 {
				break
			}
			j += i
			before := j == 0 || !isIdentByte(action[j-1])
			after := j+len(name) == len(action) || !isIdentByte(action[j+len(name)])
			if before && after {
				return open + j
			}
			i = j + len(name)
		}
		if end < 0 {
			return -1
		}
		off = open + end + 2
	}
}

func isIdentByte(b byte) bool {
	return b == '_' || b == '.' || b == '$' || '0' <= b && b <= '9' || 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z'
}

// position returns the line and column, from 1 and in characters, of a
// byte offset in src.
func position(src string, pos parse.Pos) (int, int) {
	p := min(max(int(pos), 0), len(src))
	before := src[:p]
	line := 1 + strings.Count(before, "\n")
	if nl := strings.LastIndexByte(before, '\n'); nl >= 0 {
		before = before[nl+1:]
	}
	return line, utf8.RuneCountInString(before) + 1
}

// checkTree walks a parsed template and reports what a template may not
// do: use an undeclared variable, call a function outside the FuncMap,
// loop, or define and include templates. It reports whether it found
// nothing wrong.
func (c *compiler) checkTree(field, src string, tree *parse.Tree, templates int) bool {
	before := len(c.ps)
	if templates > 1 {
		c.problem(field, "{{define}} and {{block}} are not supported; a template is one text")
	}
	w := &walker{c: c, field: field, src: src, vars: c.d.Variables}
	if tree != nil && tree.Root != nil {
		w.node(tree.Root, true)
	}
	return len(c.ps) == before
}

// walker checks the nodes of one template.
type walker struct {
	c     *compiler
	field string
	src   string
	vars  map[string]Variable
}

func (w *walker) at(n parse.Node, format string, args ...any) {
	line, col := position(w.src, n.Position())
	w.c.problemAt(w.field, line, col, format, args...)
}

// node checks n; root tells whether dot is the data (true) or a value
// that {{with}} set.
func (w *walker) node(n parse.Node, root bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			w.node(c, root)
		}
	case *parse.TextNode, *parse.CommentNode:
	case *parse.ActionNode:
		w.pipe(n.Pipe, root)
	case *parse.IfNode:
		w.pipe(n.Pipe, root)
		w.node(n.List, root)
		w.node(n.ElseList, root)
	case *parse.WithNode:
		w.pipe(n.Pipe, root)
		w.node(n.List, false)
		w.node(n.ElseList, root)
	case *parse.RangeNode:
		w.at(n, "{{range}} is not supported: variables are text")
	case *parse.TemplateNode:
		w.at(n, "{{template}} is not supported; a template is one text")
	case *parse.BreakNode, *parse.ContinueNode:
		w.at(n, "{{break}} and {{continue}} are not supported")
	default:
		w.at(n, "%s is not supported", n)
	}
}

func (w *walker) pipe(p *parse.PipeNode, root bool) {
	if p == nil {
		return
	}
	for _, cmd := range p.Cmds {
		for _, arg := range cmd.Args {
			w.arg(arg, root)
		}
	}
}

// arg checks one argument of a command.
func (w *walker) arg(n parse.Node, root bool) {
	switch n := n.(type) {
	case *parse.FieldNode:
		switch {
		case !root:
			w.at(n, "inside {{with}}, . is the value; write $%s for the variable", n)
		case len(n.Ident) > 1:
			w.at(n, "%s: variables are text and have no fields", n)
		default:
			w.declared(n, n.Ident[0])
		}
	case *parse.VariableNode:
		switch {
		case n.Ident[0] != "$" && len(n.Ident) > 1:
			w.at(n, "%s: variables are text and have no fields", n)
		case n.Ident[0] != "$":
		case len(n.Ident) == 1:
			w.at(n, "$ is all the data; name a variable, such as $.name")
		case len(n.Ident) > 2:
			w.at(n, "%s: variables are text and have no fields", n)
		default:
			w.declared(n, n.Ident[1])
		}
	case *parse.DotNode:
		if root {
			w.at(n, "{{.}} is all the data; name a variable, such as {{.name}}")
		}
	case *parse.IdentifierNode:
		if _, ok := funcs("")[n.Ident]; !ok && !builtins[n.Ident] {
			w.at(n, "function %q is not allowed (allowed: default, date, lower, trim, truncate, upper, and, or, not, eq, ne, lt, le, gt, ge, len, print, urlquery)", n.Ident)
		}
	case *parse.PipeNode:
		w.pipe(n, root)
	case *parse.StringNode, *parse.NumberNode, *parse.BoolNode:
	case *parse.ChainNode:
		w.at(n, "%s: variables are text and have no fields", n)
	default:
		w.at(n, "%s is not supported", n)
	}
}

// declared reports name when the definition does not declare it.
func (w *walker) declared(n parse.Node, name string) {
	if _, ok := w.vars[name]; ok {
		return
	}
	names := slices.Sorted(maps.Keys(w.vars))
	hint := "no variables are declared"
	if len(names) > 0 {
		hint = "declared: " + strings.Join(names, ", ")
	}
	w.at(n, "variable %q is not declared in variables (%s)", name, hint)
}

// checkSamples renders a compiled variant with every sample and with only
// the required ones, for its own channel, and reports what fails.
func (c *compiler) checkSamples(v *variant) {
	full := map[string]string{}
	required := map[string]string{}
	for name, vr := range c.d.Variables {
		full[name] = vr.Sample
		if vr.Required {
			required[name] = vr.Sample
		}
	}
	ch := v.Channel
	for _, data := range []map[string]string{full, required} {
		_, err := renderVariant(c.d, v, ch, data)
		if err == nil {
			continue
		}
		field := sprintf("variants[%d]", v.index)
		var re *renderError
		if errors.As(err, &re) {
			field = sprintf("variants[%d].%s", v.index, re.part)
			if re.line > 0 {
				c.problemAt(field, re.line, re.col, "%s", re.msg)
				return
			}
			c.problem(field, "%s", re.msg)
			return
		}
		if f := conversation.ErrorField(err); f != "" {
			field = sprintf("variants[%d].%s", v.index, f)
		}
		what := "with the samples"
		if len(data) < len(full) {
			what = "with only the required variables' samples"
		}
		c.problem(field, "rendering %s: %s", what, conversation.ErrorMessage(err))
		return
	}
}

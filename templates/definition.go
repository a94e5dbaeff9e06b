package templates

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"conversa/conversation"
)

// Limits on a definition, so that one tenant cannot exhaust a node.
const (
	MaxSourceSize  = 256 << 10 // bytes of a definition file
	MaxVariables   = 100
	MaxVariants    = 100
	MaxSampleSize  = 4096      // bytes of one variable's sample
	MaxPartSize    = 128 << 10 // bytes of one variant's subject, text or html, as written and as rendered
	MaxDescription = 1000      // characters
)

// Definition is a template as a tenant writes it: one purpose, the
// variables its texts may use, and its variants per channel and language.
type Definition struct {
	// Purpose names the template, unique per tenant: lower-case letters,
	// digits and underscores, such as "case_resolved".
	Purpose string `yaml:"purpose" json:"purpose"`
	// Description says what the template is for, for people.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Variables are the only variables the texts may use, by name.
	Variables map[string]Variable `yaml:"variables,omitempty" json:"variables,omitempty"`
	// Urgent messages may be sent within a contact's quiet hours.
	Urgent bool `yaml:"urgent,omitempty" json:"urgent,omitempty"`
	// Variants are the texts per channel and language; at least one.
	Variants []Variant `yaml:"variants" json:"variants"`
}

// Variable is a value a template's texts may use, written {{.name}}.
type Variable struct {
	// Sample is the value previews and checks render with. A required
	// variable needs one.
	Sample string `yaml:"sample,omitempty" json:"sample,omitempty"`
	// Required variables must be given, not empty, to render.
	Required bool `yaml:"required,omitempty" json:"required,omitempty"`
	// Description says what the variable holds, for people.
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
}

// AnyChannel is the channel of a variant that serves every channel without
// a variant of its own.
const AnyChannel conversation.ChannelKind = "default"

// Variant is a template's texts for one channel and one language.
type Variant struct {
	// Channel is a conversation.ChannelKind or AnyChannel ("default").
	Channel conversation.ChannelKind `yaml:"channel" json:"channel"`
	// Language is a language tag: "es", "en", "es-CO".
	Language string `yaml:"language" json:"language"`
	// Subject is an email's subject (text/template); email only, required
	// there.
	Subject string `yaml:"subject,omitempty" json:"subject,omitempty"`
	// Text is the message (text/template); for email, the plain-text part.
	Text string `yaml:"text" json:"text"`
	// HTML is an email's HTML part (html/template, which escapes the data
	// for where it appears); email only, optional.
	HTML string `yaml:"html,omitempty" json:"html,omitempty"`
	// ContentSid names the approved WhatsApp content template ("HX" and 32
	// hex digits) that a message outside the 24-hour window must use;
	// whatsapp only. Text is then the free-form version, and the preview.
	ContentSid string `yaml:"content_sid,omitempty" json:"content_sid,omitempty"`
	// ContentVariables are the variables that fill the approved template's
	// {{1}}, {{2}}, … in that order. They must be required variables:
	// WhatsApp rejects an empty one.
	ContentVariables []string `yaml:"content_variables,omitempty" json:"content_variables,omitempty"`
	// MaxSegments bounds an SMS's length in segments; default and at most
	// 10. SMS only.
	MaxSegments int `yaml:"max_segments,omitempty" json:"max_segments,omitempty"`
}

// Problem is one problem in a definition, with where it is: the line and
// column in the file when known, and the field, such as "variants[2].text".
type Problem struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Field  string `json:"field,omitempty"`
	Msg    string `json:"message"`
}

// Error returns "file:line:column: field: message".
func (p *Problem) Error() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
			if p.Column > 0 {
				b.WriteString(":" + strconv.Itoa(p.Column))
			}
		}
		b.WriteString(": ")
	}
	if p.Field != "" {
		b.WriteString(p.Field + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems are all the problems found in a definition. Parse returns them
// wrapped in an EINVALID *conversation.Error; errors.As finds them.
type Problems []*Problem

func (ps Problems) Error() string {
	switch len(ps) {
	case 0:
		return "invalid template definition"
	case 1:
		return ps[0].Error()
	}
	lines := make([]string, 0, len(ps))
	for _, p := range ps {
		lines = append(lines, p.Error())
	}
	return fmt.Sprintf("%d problems in the template definition:\n%s", len(ps), strings.Join(lines, "\n"))
}

// invalid wraps problems in the application's error type, so that callers
// translate it like any other EINVALID error and reach the list with
// errors.As.
func invalid(ps Problems) error {
	msg := ps[0].Error()
	if len(ps) > 1 {
		msg = fmt.Sprintf("%d problems in the template definition, the first: %s", len(ps), msg)
	}
	return &conversation.Error{Code: conversation.EINVALID, Message: msg, Err: ps}
}

var (
	purposeRE  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	variableRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)
	sidRE      = regexp.MustCompile(`^HX[0-9a-f]{32}$`)
	langTagRE  = regexp.MustCompile(`^[a-z]{2,3}(-([A-Z]{2}|[0-9]{3}))?$`)
)

// Parse reads a definition file named name, checks it completely and
// compiles it. Every problem is reported at once, each with its line and
// column; the error is EINVALID and wraps Problems.
func Parse(name string, src []byte) (*Template, error) {
	d, nodes, ps := decode(name, src)
	if len(ps) > 0 {
		return nil, invalid(ps)
	}
	t, ps := compile(name, src, d, nodes)
	if len(ps) > 0 {
		return nil, invalid(ps)
	}
	return t, nil
}

// decode reads src strictly into a Definition and returns the YAML nodes of
// its fields by path ("variants[0].text"), for positions.
func decode(name string, src []byte) (*Definition, map[string]*yaml.Node, Problems) {
	if len(src) > MaxSourceSize {
		return nil, nil, Problems{{File: name, Msg: fmt.Sprintf("the file is larger than %d bytes", MaxSourceSize)}}
	}
	if !utf8.Valid(src) {
		return nil, nil, Problems{{File: name, Msg: "the file is not UTF-8 text"}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, Problems{{File: name, Msg: "the file is empty"}}
		}
		return nil, nil, Problems{yamlProblem(name, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, nil, Problems{{File: name, Line: extra.Line, Msg: "a template file holds one YAML document"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	nodes := map[string]*yaml.Node{}
	if ps := checkFields(name, "", root, reflect.TypeFor[Definition](), nodes); len(ps) > 0 {
		return nil, nil, ps
	}
	var d Definition
	if err := root.Decode(&d); err != nil {
		return nil, nil, Problems{yamlProblem(name, err)}
	}
	return &d, nodes, nil
}

// yamlProblem turns a YAML error ("yaml: line 3: …") into a Problem.
func yamlProblem(file string, err error) *Problem {
	msg := err.Error()
	if te, ok := errors.AsType[*yaml.TypeError](err); ok && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ":"); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, strings.TrimSpace(tail)
			}
		}
	}
	r := strings.NewReplacer("!!str", "text", "!!seq", "a list", "!!map", "a map", "!!int", "a number", "!!bool", "true or false")
	return &Problem{File: file, Line: line, Msg: r.Replace(msg)}
}

// checkFields walks a YAML node beside the Go type it decodes into,
// reports every unknown or repeated key and every value of the wrong
// shape, with its line and column, and records the node of every field
// by its path.
func checkFields(file, path string, n *yaml.Node, t reflect.Type, nodes map[string]*yaml.Node) Problems {
	if n == nil {
		return nil
	}
	at := func(n *yaml.Node, field, msg string) *Problem {
		return &Problem{File: file, Line: n.Line, Column: n.Column, Field: field, Msg: msg}
	}
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return Problems{at(n, path, "YAML anchors and aliases are not supported")}
	}
	nodes[path] = n
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	mismatch := func(want string) Problems { return Problems{at(n, path, "must be "+want)} }
	var ps Problems
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return mismatch("a map of fields")
		}
		fields := yamlFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			field := join(path, k.Value)
			if seen[k.Value] {
				ps = append(ps, at(k, field, "field is given twice"))
				continue
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				ps = append(ps, at(k, field, "unknown field"+suggest(k.Value, fields)))
				continue
			}
			ps = append(ps, checkFields(file, field, v, ft, nodes)...)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return mismatch("a list")
		}
		for i, c := range n.Content {
			ps = append(ps, checkFields(file, path+"["+strconv.Itoa(i)+"]", c, t.Elem(), nodes)...)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return mismatch("a map")
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if seen[k.Value] {
				ps = append(ps, at(k, join(path, k.Value), "key is given twice"))
				continue
			}
			seen[k.Value] = true
			nodes[join(path, k.Value)+"#key"] = k
			ps = append(ps, checkFields(file, join(path, k.Value), n.Content[i+1], t.Elem(), nodes)...)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return mismatch("text")
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return mismatch("true or false")
		}
	case reflect.Int:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			return mismatch("a whole number")
		}
	}
	return ps
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the YAML names of a struct's exported fields to their
// types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			out[name] = f.Type
		}
	}
	return out
}

// suggest names the known field closest to an unknown one, or lists them.
func suggest(key string, fields map[string]reflect.Type) string {
	known := make([]string, 0, len(fields))
	for name := range fields {
		known = append(known, name)
	}
	slices.Sort(known)
	best, bestD := "", 3
	for _, name := range known {
		if d := editDistance(key, name); d < bestD {
			best, bestD = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known fields: " + strings.Join(known, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// CanonicalLanguage writes a language tag as the definitions do: "es",
// "es-CO", "es-419" (a lower-case language, an upper-case region). It
// returns "" for a tag that is not a language and region.
func CanonicalLanguage(tag string) string {
	lang, region, hasRegion := strings.Cut(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"), "-")
	out := strings.ToLower(lang)
	if hasRegion {
		out += "-" + strings.ToUpper(region)
	}
	if !langTagRE.MatchString(out) {
		return ""
	}
	return out
}

// baseLanguage returns the language of a canonical tag: "es" for "es-CO".
func baseLanguage(tag string) string {
	base, _, _ := strings.Cut(tag, "-")
	return base
}

package bot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits on a definition, so that one tenant cannot exhaust a node.
const (
	MaxFileSize   = 2 << 20 // bytes per file
	MaxSourceSize = 8 << 20 // bytes of all files
	MaxExamples   = 50000   // examples of all intents, articles and out_of_scope
	MaxTextLength = 2000    // characters of one example
)

// DefinitionError is one problem in a definition, with where it is.
type DefinitionError struct {
	File  string `json:"file,omitempty"`
	Line  int    `json:"line,omitempty"`
	Field string `json:"field,omitempty"`
	Msg   string `json:"message"`
}

func (e *DefinitionError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// DefinitionErrors are all the problems found in a definition. Parse and
// Compile return them; errors.As finds them.
type DefinitionErrors []*DefinitionError

func (es DefinitionErrors) Error() string {
	switch len(es) {
	case 0:
		return "invalid bot definition"
	case 1:
		return es[0].Error()
	}
	lines := make([]string, 0, len(es))
	for _, e := range es {
		lines = append(lines, e.Error())
	}
	return fmt.Sprintf("%d problems in the bot definition:\n%s", len(es), strings.Join(lines, "\n"))
}

// Source is a definition as files: name to content. A bot may be one file
// or several (intents in one, flows in another); Parse merges them.
type Source map[string][]byte

// Parse reads the files of a definition, rejecting unknown fields, and
// merges them in name order. Lists (intents, entities, flows, actions,
// knowledge) are concatenated; maps (slots, responses) must not define a
// key twice; scalar settings may appear in one file only. It does not
// check references: Compile does.
func Parse(src Source) (*Definition, error) {
	if len(src) == 0 {
		return nil, DefinitionErrors{{Msg: "no files"}}
	}
	total := 0
	names := slices.Sorted(maps.Keys(src))
	var errs DefinitionErrors
	var out Definition
	settingsFrom := map[string]string{}
	for _, name := range names {
		data := src[name]
		total += len(data)
		if len(data) > MaxFileSize {
			errs = append(errs, &DefinitionError{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)})
			continue
		}
		if total > MaxSourceSize {
			errs = append(errs, &DefinitionError{File: name, Msg: fmt.Sprintf("the files are larger than %d bytes together", MaxSourceSize)})
			break
		}
		d, err := parseFile(name, data)
		if err != nil {
			var de DefinitionErrors
			if errors.As(err, &de) {
				errs = append(errs, de...)
				continue
			}
			return nil, err
		}
		errs = append(errs, merge(&out, d, name, settingsFrom)...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &out, nil
}

// ParseYAML reads a definition of one file.
func ParseYAML(name string, data []byte) (*Definition, error) {
	return Parse(Source{name: data})
}

func parseFile(name string, data []byte) (*Definition, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, DefinitionErrors{{File: name, Msg: "the file is empty"}}
		}
		return nil, DefinitionErrors{yamlError(name, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, DefinitionErrors{{File: name, Line: extra.Line, Msg: "a definition file holds one YAML document"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if errs := checkFields(name, "", root, reflect.TypeFor[Definition]()); len(errs) > 0 {
		return nil, errs
	}
	var d Definition
	if err := root.Decode(&d); err != nil {
		return nil, DefinitionErrors{yamlError(name, err)}
	}
	d.setFile(name)
	d.keys = map[string]pos{}
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			d.keys[root.Content[i].Value] = pos{file: name, line: root.Content[i].Line}
		}
	}
	return &d, nil
}

// yamlError turns a YAML error ("yaml: line 3: …") into a DefinitionError.
func yamlError(file string, err error) *DefinitionError {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
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
	msg = strings.ReplaceAll(msg, "!!str", "text")
	msg = strings.ReplaceAll(msg, "!!seq", "a list")
	msg = strings.ReplaceAll(msg, "!!map", "a map")
	return &DefinitionError{File: file, Line: line, Msg: msg}
}

// checkFields walks a YAML node beside the Go type it decodes into and
// reports every mapping key that names no field, with its line.
func checkFields(file, path string, n *yaml.Node, t reflect.Type) DefinitionErrors {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return DefinitionErrors{{File: file, Line: n.Line, Field: path, Msg: "YAML aliases are not supported"}}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[Localized](), reflect.TypeFor[Examples]():
		return nil // their UnmarshalYAML checks their shape
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	var errs DefinitionErrors
	mismatch := func(want string) DefinitionErrors {
		return DefinitionErrors{{File: file, Line: n.Line, Field: path, Msg: "must be " + want}}
	}
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
				errs = append(errs, &DefinitionError{File: file, Line: k.Line, Field: field, Msg: "field is given twice"})
				continue
			}
			seen[k.Value] = true
			ft, ok := fields[k.Value]
			if !ok {
				errs = append(errs, &DefinitionError{File: file, Line: k.Line, Field: field, Msg: "unknown field" + suggest(k.Value, fields)})
				continue
			}
			errs = append(errs, checkFields(file, field, v, ft)...)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return mismatch("a list")
		}
		for i, c := range n.Content {
			errs = append(errs, checkFields(file, path+"["+strconv.Itoa(i)+"]", c, t.Elem())...)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return mismatch("a map")
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if seen[k.Value] {
				errs = append(errs, &DefinitionError{File: file, Line: k.Line, Field: join(path, k.Value), Msg: "key is given twice"})
				continue
			}
			seen[k.Value] = true
			errs = append(errs, checkFields(file, join(path, k.Value), n.Content[i+1], t.Elem())...)
		}
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		if n.Kind != yaml.ScalarNode {
			return mismatch("a single value")
		}
	}
	return errs
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
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// suggest names the known field closest to an unknown one.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	known := sortedKeys(fields)
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

// merge adds d (from file) into out.
func merge(out, d *Definition, file string, settingsFrom map[string]string) DefinitionErrors {
	var errs DefinitionErrors
	if out.keys == nil {
		out.keys = map[string]pos{}
	}
	for k, p := range d.keys {
		if _, ok := out.keys[k]; !ok {
			out.keys[k] = p
		}
	}
	setting := func(name string, set bool, apply func()) {
		if !set {
			return
		}
		if prev, ok := settingsFrom[name]; ok {
			errs = append(errs, &DefinitionError{File: file, Field: name, Msg: "is also set in " + prev + "; set it in one file"})
			return
		}
		settingsFrom[name] = file
		apply()
	}
	setting("name", d.Name != "", func() { out.Name = d.Name })
	setting("languages", len(d.Languages) > 0, func() { out.Languages = d.Languages })
	setting("small_talk", d.SmallTalk != nil, func() { out.SmallTalk = d.SmallTalk })
	setting("policy", d.Policy != (Policy{}), func() { out.Policy = d.Policy })
	setting("business_hours", d.BusinessHours != nil, func() { out.BusinessHours = d.BusinessHours })
	out.Intents = append(out.Intents, d.Intents...)
	out.Entities = append(out.Entities, d.Entities...)
	out.Flows = append(out.Flows, d.Flows...)
	out.Actions = append(out.Actions, d.Actions...)
	out.Knowledge = append(out.Knowledge, d.Knowledge...)
	if len(d.OutOfScope) > 0 {
		if out.OutOfScope == nil {
			out.OutOfScope = Examples{}
		}
		for lang, xs := range d.OutOfScope {
			out.OutOfScope[lang] = append(out.OutOfScope[lang], xs...)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.Slots)) {
		if out.Slots == nil {
			out.Slots = map[string]Slot{}
		}
		if prev, ok := out.Slots[k]; ok {
			errs = append(errs, &DefinitionError{File: file, Line: d.Slots[k].pos.line, Field: "slots." + k, Msg: fmt.Sprintf("slot is also defined in %s:%d", prev.pos.file, prev.pos.line)})
			continue
		}
		out.Slots[k] = d.Slots[k]
	}
	for _, k := range slices.Sorted(maps.Keys(d.Responses)) {
		if out.Responses == nil {
			out.Responses = map[string]Responses{}
		}
		if prev, ok := out.Responses[k]; ok {
			line, prevLine := 0, 0
			if len(d.Responses[k]) > 0 {
				line = d.Responses[k][0].pos.line
			}
			if len(prev) > 0 {
				prevLine = prev[0].pos.line
			}
			errs = append(errs, &DefinitionError{File: file, Line: line, Field: "responses." + k, Msg: fmt.Sprintf("response is also defined in %s:%d", prevFile(prev), prevLine)})
			continue
		}
		out.Responses[k] = d.Responses[k]
	}
	return errs
}

func prevFile(rs Responses) string {
	if len(rs) > 0 {
		return rs[0].pos.file
	}
	return "another file"
}

// setFile records the file of everything d defines.
func (d *Definition) setFile(name string) {
	if d.BusinessHours != nil {
		d.BusinessHours.pos.file = name
	}
	for i := range d.Intents {
		d.Intents[i].pos = pos{name, d.Intents[i].pos.line, i}
	}
	for i := range d.Entities {
		d.Entities[i].pos = pos{name, d.Entities[i].pos.line, i}
	}
	for k, s := range d.Slots {
		s.pos.file = name
		d.Slots[k] = s
	}
	for _, rs := range d.Responses {
		for i := range rs {
			rs[i].pos.file = name
		}
	}
	for i := range d.Flows {
		d.Flows[i].pos = pos{name, d.Flows[i].pos.line, i}
		for j := range d.Flows[i].Steps {
			d.Flows[i].Steps[j].pos = pos{name, d.Flows[i].Steps[j].pos.line, j}
		}
	}
	for i := range d.Actions {
		d.Actions[i].pos = pos{name, d.Actions[i].pos.line, i}
	}
	for i := range d.Knowledge {
		d.Knowledge[i].pos = pos{name, d.Knowledge[i].pos.line, i}
	}
}

// UnmarshalYAML reads a plain string (every language) or a map of
// language to text.
func (l *Localized) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = Localized{"": n.Value}
		return nil
	case yaml.MappingNode:
		m := map[string]string{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: the %s text must be a string", v.Line, k.Value)
			}
			if _, dup := m[k.Value]; dup {
				return fmt.Errorf("line %d: language %q is given twice", k.Line, k.Value)
			}
			m[k.Value] = v.Value
		}
		*l = m
		return nil
	}
	return fmt.Errorf("line %d: a text must be a string or a map of language to string", n.Line)
}

// UnmarshalYAML reads a list (in the bot's first language) or a map of
// language to list.
func (e *Examples) UnmarshalYAML(n *yaml.Node) error {
	list := func(n *yaml.Node) ([]string, error) {
		if n.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("line %d: examples must be a list of strings", n.Line)
		}
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: an example must be a string", c.Line)
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	switch n.Kind {
	case yaml.SequenceNode:
		xs, err := list(n)
		if err != nil {
			return err
		}
		*e = Examples{"": xs}
		return nil
	case yaml.MappingNode:
		m := Examples{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			xs, err := list(n.Content[i+1])
			if err != nil {
				return err
			}
			m[n.Content[i].Value] = append(m[n.Content[i].Value], xs...)
		}
		*e = m
		return nil
	}
	return fmt.Errorf("line %d: examples must be a list, or a map of language to list", n.Line)
}

// The types below record their line while decoding.

func (x *Intent) UnmarshalYAML(n *yaml.Node) error {
	type plain Intent
	x.pos.line = n.Line
	return n.Decode((*plain)(x))
}

func (x *Entity) UnmarshalYAML(n *yaml.Node) error {
	type plain Entity
	x.pos.line = n.Line
	return n.Decode((*plain)(x))
}

func (x *Slot) UnmarshalYAML(n *yaml.Node) error {
	type plain Slot
	x.pos.line = n.Line
	return n.Decode((*plain)(x))
}

func (x *Response) UnmarshalYAML(n *yaml.Node) error {
	type plain Response
	x.pos.line = n.Line
	return n.Decode((*plain)(x))
}

func (x *Flow) UnmarshalYAML(n *yaml.Node) error {
	type plain Flow
	x.pos.line = n.Line
	return n.Decode((*plain)(x))
}

func (x *Step) UnmarshalYAML(n *yaml.Node) error {
	type plain Step
	x.pos.line = n.Line
	return n.Decode((*plain)(x))
}

func (x *ActionDef) UnmarshalYAML(n *yaml.Node) error {
	type plain ActionDef
	x.pos.line = n.Line
	return n.Decode((*plain)(x))
}

func (x *Article) UnmarshalYAML(n *yaml.Node) error {
	type plain Article
	x.pos.line = n.Line
	return n.Decode((*plain)(x))
}

func (x *BusinessHours) UnmarshalYAML(n *yaml.Node) error {
	type plain BusinessHours
	x.pos.line = n.Line
	return n.Decode((*plain)(x))
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

package bot

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"conversa/bot/entity"
)

// This file holds the importers, which turn a company's existing training
// data into a definition: a Rasa 3.x project (ImportRasa) or a spreadsheet
// of utterances and intents (ImportCSV). MarshalDefinition writes the
// result as YAML that Parse reads.

// rasaDomainFile names the domain in errors and warnings.
const rasaDomainFile = "domain.yml"

// maxCSVErrors caps the problems ImportCSV reports.
const maxCSVErrors = 50

// ImportRasa converts a Rasa 3.x project into a definition whose texts
// and examples are in lang ("es" or "en").
//
// nlu maps file names to training data files (nlu.yml; stories and rules
// in them are reported, not imported). Their intent items become intents;
// entity annotations ([text](entity), [text]{"entity": "e", "value": "v"})
// are stripped from the examples and their values become the values of a
// list entity; synonym items add synonyms to the entity value they name,
// lookup items add values, and regex items become regex entities (several
// patterns joined with |). domain is domain.yml, or nil: its slots become
// slots (from_entity mappings fill them from the entity; text slots take
// the whole message), its responses become responses (a button whose
// payload is "/intent" triggers the intent), and an intent with an
// utter_<intent> response says it.
//
// Names are lowercased and characters outside a-z, 0-9, _ . - replaced
// with _. The warnings, one a line, report every rename, every Rasa
// feature without an equivalent (stories, rules, forms, custom actions,
// entity roles and groups, conditional responses, …) and every skipped
// item. Input that stops the import (YAML that does not parse, an nlu item
// that is none of intent, synonym, regex or lookup, examples that are not
// a list of "- " lines, a regex that does not compile, …) gives
// DefinitionErrors naming the file and line; the definition is then nil.
func ImportRasa(nlu map[string][]byte, domain []byte, lang string) (*Definition, []string, error) {
	if !slices.Contains(supportedLanguages, lang) {
		return nil, nil, DefinitionErrors{{Field: "language", Msg: fmt.Sprintf("unsupported language %q (use es or en)", lang)}}
	}
	im := &rasaImport{
		lang:            lang,
		warned:          map[string]bool{},
		intents:         map[string]*rasaIntent{},
		intentByOrig:    map[string]*rasaIntent{},
		entities:        map[string]*rasaEntity{},
		entityByOrig:    map[string]*rasaEntity{},
		declaredIntents: map[string]bool{},
		slots:           map[string]*rasaSlot{},
		responses:       map[string]*rasaResponse{},
		responseByOrig:  map[string]*rasaResponse{},
	}
	total := 0
	for _, name := range slices.Sorted(maps.Keys(nlu)) {
		total += len(nlu[name])
		im.file(name, nlu[name], total)
	}
	if domain != nil {
		total += len(domain)
		im.file(rasaDomainFile, domain, total)
	}
	d := im.definition()
	if len(im.errs) > 0 {
		return nil, im.warnings, im.errs
	}
	return d, im.warnings, nil
}

// rasaImport is the state of one ImportRasa.
type rasaImport struct {
	lang     string
	errs     DefinitionErrors
	warnings []string
	warned   map[string]bool

	intents      map[string]*rasaIntent // by name
	intentByOrig map[string]*rasaIntent // by Rasa name
	intentOrder  []*rasaIntent

	entities     map[string]*rasaEntity
	entityByOrig map[string]*rasaEntity
	entityOrder  []*rasaEntity
	synonyms     []rasaSynonym

	declaredIntents  map[string]bool // intents of the domain, by Rasa name
	declaredIntentAt []rasaName
	declaredEntities []rasaName

	slots     map[string]*rasaSlot
	slotOrder []*rasaSlot

	responses      map[string]*rasaResponse
	responseByOrig map[string]*rasaResponse
	responseOrder  []*rasaResponse
}

// rasaName is a Rasa name and where it was written.
type rasaName struct {
	name string
	file string
	line int
}

type rasaIntent struct {
	name     string
	orig     []string // the Rasa names merged into it
	examples []string
	seen     map[string]bool
	file     string
	line     int
}

type rasaEntity struct {
	name    string
	values  []EntityItem
	regexes []string
	lookup  bool // values come from a lookup, not only from annotations
	file    string
	line    int
}

type rasaSynonym struct {
	value    string
	examples []string
	file     string
	line     int
}

type rasaSlot struct {
	name    string
	entity  string // a Rasa entity name, or "" when builtin is set
	builtin string // "text" or "number"
	pattern string
	file    string
	line    int
}

type rasaResponse struct {
	name string
	alts []rasaAlt
	file string
	line int
}

type rasaAlt struct {
	text    string
	channel string
	image   string
	buttons []rasaButton
	line    int
}

type rasaButton struct {
	title  string
	intent string // the Rasa intent of a "/intent" payload
	value  string // a payload of plain text
	line   int
}

// rasaLine is one example of an examples block.
type rasaLine struct {
	text string
	line int
}

// fail records a problem that stops the import.
func (im *rasaImport) fail(file string, line int, field, format string, args ...any) {
	im.errs = append(im.errs, &DefinitionError{File: file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// warn records a warning, once.
func (im *rasaImport) warn(file string, line int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	switch {
	case file != "" && line > 0:
		msg = file + ":" + strconv.Itoa(line) + ": " + msg
	case file != "":
		msg = file + ": " + msg
	}
	if !im.warned[msg] {
		im.warned[msg] = true
		im.warnings = append(im.warnings, msg)
	}
}

// warnOnce records a warning the first time key is seen.
func (im *rasaImport) warnOnce(key, file string, line int, format string, args ...any) {
	if im.warned["\x00"+key] {
		return
	}
	im.warned["\x00"+key] = true
	im.warn(file, line, format, args...)
}

// file reads one Rasa file: training data, domain, or both.
func (im *rasaImport) file(name string, data []byte, total int) {
	switch {
	case len(data) > MaxFileSize:
		im.fail(name, 0, "", "file is larger than %d bytes", MaxFileSize)
		return
	case total > MaxSourceSize:
		im.fail(name, 0, "", "the files are larger than %d bytes together", MaxSourceSize)
		return
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		im.errs = append(im.errs, yamlError(name, err))
		return
	}
	if len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		im.warn(name, 0, "the file is empty; skipped")
		return
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		im.fail(name, root.Line, "", "a Rasa file is a map of keys such as version, nlu, intents, slots or responses")
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if v.Kind == yaml.AliasNode {
			im.fail(name, v.Line, k.Value, "YAML aliases are not supported")
			continue
		}
		switch k.Value {
		case "version":
			if !strings.HasPrefix(v.Value, "3") {
				im.warn(name, v.Line, "version %q: the importer reads Rasa 3.x files; check the result", v.Value)
			}
		case "nlu":
			im.nlu(name, v)
		case "intents":
			im.domainIntents(name, v)
		case "entities":
			im.domainEntities(name, v)
		case "slots":
			im.domainSlots(name, v)
		case "responses":
			im.domainResponses(name, v)
		case "stories":
			im.warn(name, k.Line, "%d stories are not imported: Conversa has no stories; write flows instead", len(v.Content))
		case "rules":
			im.warn(name, k.Line, "%d rules are not imported: give intents a response or write flows instead", len(v.Content))
		case "forms":
			im.warn(name, k.Line, "forms are not imported (%s): write each as a flow of ask steps", strings.Join(yamlKeys(v), ", "))
		case "actions":
			var custom []string
			for _, a := range v.Content {
				if a.Kind == yaml.ScalarNode && !strings.HasPrefix(a.Value, "utter_") {
					custom = append(custom, a.Value)
				}
			}
			if len(custom) > 0 {
				im.warn(name, k.Line, "custom actions are not imported (%s): declare them as HTTP actions", strings.Join(custom, ", "))
			}
		case "session_config", "config", "e2e_actions":
			im.warn(name, k.Line, "%s has no equivalent in Conversa; ignored", k.Value)
		default:
			im.warn(name, k.Line, "unknown key %q; ignored", k.Value)
		}
	}
}

// yamlKeys returns the keys of a mapping node.
func yamlKeys(n *yaml.Node) []string {
	var keys []string
	if n.Kind == yaml.MappingNode {
		for i := 0; i < len(n.Content); i += 2 {
			keys = append(keys, n.Content[i].Value)
		}
	}
	return keys
}

// yamlNull reports whether n is an empty value.
func yamlNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func (im *rasaImport) nlu(file string, list *yaml.Node) {
	if yamlNull(list) {
		return
	}
	if list.Kind != yaml.SequenceNode {
		im.fail(file, list.Line, "nlu", "must be a list of items")
		return
	}
	for i, item := range list.Content {
		field := "nlu[" + strconv.Itoa(i) + "]"
		if item.Kind != yaml.MappingNode {
			im.fail(file, item.Line, field, "an nlu item is a map with intent, synonym, regex or lookup, and examples")
			continue
		}
		var kind, name, examples *yaml.Node
		bad := false
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, v := item.Content[j], item.Content[j+1]
			switch k.Value {
			case "intent", "synonym", "regex", "lookup":
				if kind != nil {
					im.fail(file, k.Line, field+"."+k.Value, "an nlu item has one of intent, synonym, regex or lookup; this one also has %s", kind.Value)
					bad = true
					continue
				}
				kind, name = k, v
			case "examples":
				examples = v
			case "metadata":
				im.warnOnce("nlu metadata", file, k.Line, "metadata of nlu items has no equivalent; ignored")
			default:
				im.warn(file, k.Line, "%s.%s is not an nlu key; ignored", field, k.Value)
			}
		}
		if bad {
			continue
		}
		if kind == nil {
			im.fail(file, item.Line, field, "an nlu item needs intent, synonym, regex or lookup")
			continue
		}
		if name.Kind != yaml.ScalarNode || strings.TrimSpace(name.Value) == "" || yamlNull(name) {
			im.fail(file, name.Line, field+"."+kind.Value, "must be a name")
			continue
		}
		if examples == nil {
			im.fail(file, item.Line, field+".examples", "is required")
			continue
		}
		lines, ok := im.examples(file, field+".examples", examples)
		if !ok {
			continue
		}
		switch kind.Value {
		case "intent":
			im.intentItem(file, field, name, lines)
		case "synonym":
			s := rasaSynonym{value: strings.TrimSpace(name.Value), file: file, line: name.Line}
			for _, l := range lines {
				s.examples = append(s.examples, l.text)
			}
			im.synonyms = append(im.synonyms, s)
		case "regex":
			e := im.entity(file, name.Line, field+".regex", name.Value)
			for _, l := range lines {
				if _, err := regexp.Compile(l.text); err != nil {
					im.fail(file, l.line, field+".examples", "the regex %q does not compile: %v", l.text, regexpReason(err))
					continue
				}
				if e != nil && !slices.Contains(e.regexes, l.text) {
					e.regexes = append(e.regexes, l.text)
				}
			}
		case "lookup":
			e := im.entity(file, name.Line, field+".lookup", name.Value)
			if e == nil {
				continue
			}
			e.lookup = true
			for _, l := range lines {
				e.addValue(l.text, "")
			}
		}
	}
}

// regexpReason is a regexp error without the pattern, which the message
// already quotes.
func regexpReason(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}

// examples reads an examples block: lines starting with "- " (or a list
// of texts, or of maps with a text).
func (im *rasaImport) examples(file, field string, n *yaml.Node) ([]rasaLine, bool) {
	var out []rasaLine
	switch n.Kind {
	case yaml.ScalarNode:
		ok := true
		for i, l := range strings.Split(n.Value, "\n") {
			line := n.Line
			if n.Style == yaml.LiteralStyle {
				line = n.Line + 1 + i
			}
			t := strings.TrimSpace(l)
			if t == "" {
				continue
			}
			rest, item := strings.CutPrefix(t, "-")
			if !item {
				im.fail(file, line, field, "examples are lines starting with \"- \"; this one does not: %q", clipText(t))
				ok = false
				continue
			}
			rest = strings.TrimSpace(rest)
			if rest == "" {
				im.warn(file, line, "an empty example is skipped")
				continue
			}
			out = append(out, rasaLine{text: rest, line: line})
		}
		return out, ok
	case yaml.SequenceNode:
		ok := true
		for _, c := range n.Content {
			text := c
			if c.Kind == yaml.MappingNode {
				text = nil
				for j := 0; j+1 < len(c.Content); j += 2 {
					switch k := c.Content[j]; k.Value {
					case "text":
						text = c.Content[j+1]
					case "metadata":
						im.warnOnce("nlu metadata", file, k.Line, "metadata of nlu items has no equivalent; ignored")
					default:
						im.warn(file, k.Line, "%s: %q is not a key of an example; ignored", field, k.Value)
					}
				}
			}
			if text == nil || text.Kind != yaml.ScalarNode {
				im.fail(file, c.Line, field, "an example is a text, or a map with a text")
				ok = false
				continue
			}
			if t := strings.TrimSpace(text.Value); t != "" {
				out = append(out, rasaLine{text: t, line: text.Line})
			}
		}
		return out, ok
	}
	im.fail(file, n.Line, field, "examples are a block of lines starting with \"- \"")
	return nil, false
}

// clipText shortens a text for a message.
func clipText(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	return string([]rune(s)[:60]) + "…"
}

func (im *rasaImport) intentItem(file, field string, name *yaml.Node, lines []rasaLine) {
	in := im.intent(file, name.Line, field+".intent", name.Value)
	if in == nil {
		return
	}
	for _, l := range lines {
		text, mentions, err := parseRasaExample(l.text)
		if err != nil {
			im.fail(file, l.line, field+".examples", "%v", err)
			continue
		}
		for _, m := range mentions {
			if m.role != "" || m.group != "" {
				im.warnOnce("role "+m.entity, file, l.line, "entity roles and groups have no equivalent: the roles and groups of %q are dropped", m.entity)
			}
			e := im.entity(file, l.line, field+".examples", m.entity)
			if e == nil {
				continue
			}
			if m.value != "" {
				e.addValue(m.value, m.text)
			} else {
				e.addValue(m.text, "")
			}
		}
		switch {
		case strings.TrimSpace(text) == "":
			im.warn(file, l.line, "an empty example is skipped")
		case utf8.RuneCountInString(text) > MaxTextLength:
			im.warn(file, l.line, "an example longer than %d characters is skipped", MaxTextLength)
		case !in.seen[text]:
			in.seen[text] = true
			in.examples = append(in.examples, text)
		}
	}
}

// intent returns the intent of a Rasa name, creating it.
func (im *rasaImport) intent(file string, line int, field, orig string) *rasaIntent {
	if in := im.intentByOrig[orig]; in != nil {
		return in
	}
	name, ok := importName(orig, "intent")
	if !ok {
		im.fail(file, line, field, "intent %q has no letters or digits to make a name of", orig)
		return nil
	}
	if name != orig {
		im.warn(file, line, "intent %q is renamed %q (names are lowercase letters, digits, _ . or -)", orig, name)
	}
	in := im.intents[name]
	if in == nil {
		in = &rasaIntent{name: name, seen: map[string]bool{}, file: file, line: line}
		im.intents[name] = in
		im.intentOrder = append(im.intentOrder, in)
	} else {
		im.warn(file, line, "intents %q and %q are both named %q; their examples are merged", in.orig[0], orig, name)
	}
	in.orig = append(in.orig, orig)
	im.intentByOrig[orig] = in
	return in
}

// entity returns the entity of a Rasa name, creating it.
func (im *rasaImport) entity(file string, line int, field, orig string) *rasaEntity {
	if e := im.entityByOrig[orig]; e != nil {
		return e
	}
	name, ok := importName(orig, "entity")
	if !ok {
		im.fail(file, line, field, "entity %q has no letters or digits to make a name of", orig)
		return nil
	}
	if name != orig {
		im.warn(file, line, "entity %q is renamed %q (names are lowercase letters, digits, _ . or -)", orig, name)
	}
	e := im.entities[name]
	if e == nil {
		e = &rasaEntity{name: name, file: file, line: line}
		im.entities[name] = e
		im.entityOrder = append(im.entityOrder, e)
	}
	im.entityByOrig[orig] = e
	return e
}

// addValue adds a value, and a synonym of it unless empty.
func (e *rasaEntity) addValue(value, synonym string) {
	value, synonym = strings.TrimSpace(value), strings.TrimSpace(synonym)
	if value == "" {
		return
	}
	i := e.find(value)
	if i < 0 {
		e.values = append(e.values, EntityItem{Value: value})
		i = len(e.values) - 1
	}
	e.addSynonym(i, synonym)
}

func (e *rasaEntity) addSynonym(i int, synonym string) {
	v := &e.values[i]
	if synonym == "" || foldKey(synonym) == foldKey(v.Value) {
		return
	}
	for _, s := range v.Synonyms {
		if foldKey(s) == foldKey(synonym) {
			return
		}
	}
	v.Synonyms = append(v.Synonyms, synonym)
}

// find returns the index of a value, or -1.
func (e *rasaEntity) find(value string) int {
	k := foldKey(value)
	return slices.IndexFunc(e.values, func(v EntityItem) bool { return foldKey(v.Value) == k })
}

// accentFolder folds the accents of Spanish (and a few other) letters.
var accentFolder = strings.NewReplacer(
	"á", "a", "à", "a", "ä", "a", "â", "a", "ã", "a",
	"é", "e", "è", "e", "ë", "e", "ê", "e",
	"í", "i", "ì", "i", "ï", "i", "î", "i",
	"ó", "o", "ò", "o", "ö", "o", "ô", "o", "õ", "o",
	"ú", "u", "ù", "u", "ü", "u", "û", "u",
	"ñ", "n", "ç", "c",
)

// foldKey is the form in which two entity values are the same.
func foldKey(s string) string {
	return accentFolder.Replace(strings.ToLower(strings.TrimSpace(s)))
}

// importName makes a name of a Rasa name: lowercase, accents folded,
// runs of other characters replaced with one _, and kind_ in front when it
// would not start with a letter. It is false when nothing is left.
func importName(s, kind string) (string, bool) {
	s = accentFolder.Replace(strings.ToLower(strings.TrimSpace(s)))
	var b strings.Builder
	gap := false
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			if gap && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
			gap = false
			continue
		}
		gap = true
	}
	name := b.String()
	if name == "" {
		return "", false
	}
	if name[0] < 'a' || name[0] > 'z' {
		name = kind + "_" + name
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name, true
}

// rasaMention is an entity annotation of an example.
type rasaMention struct {
	text, entity, value, role, group string
}

// rasaAnnotation matches [text](entity), [text](entity:value),
// [text]{"entity": …} and [text][{"entity": …}, …], as Rasa does.
var rasaAnnotation = regexp.MustCompile(`\[([^\]]+?)\](?:\(([^:)]+?)(?::([^)]+))?\)|\{([^}]+?)\}|\[(.*?)\])`)

// parseRasaExample strips the entity annotations of an example and
// returns them.
func parseRasaExample(s string) (string, []rasaMention, error) {
	var b strings.Builder
	var out []rasaMention
	last := 0
	for _, m := range rasaAnnotation.FindAllStringSubmatchIndex(s, -1) {
		b.WriteString(s[last:m[0]])
		last = m[1]
		text := s[m[2]:m[3]]
		b.WriteString(text)
		switch {
		case m[4] >= 0:
			mention := rasaMention{text: text, entity: strings.TrimSpace(s[m[4]:m[5]])}
			if m[6] >= 0 {
				mention.value = strings.TrimSpace(s[m[6]:m[7]])
			}
			out = append(out, mention)
		case m[8] >= 0:
			mention, err := parseRasaEntityJSON(text, "{"+s[m[8]:m[9]]+"}")
			if err != nil {
				return "", nil, err
			}
			out = append(out, mention)
		default:
			var list []json.RawMessage
			raw := "[" + s[m[10]:m[11]] + "]"
			if err := json.Unmarshal([]byte(raw), &list); err != nil {
				return "", nil, fmt.Errorf("the annotation %s of %q is not a JSON list of entities", raw, text)
			}
			for _, item := range list {
				mention, err := parseRasaEntityJSON(text, string(item))
				if err != nil {
					return "", nil, err
				}
				out = append(out, mention)
			}
		}
	}
	b.WriteString(s[last:])
	return b.String(), out, nil
}

// parseRasaEntityJSON reads {"entity": "e", "value": "v", "role": …}.
func parseRasaEntityJSON(text, raw string) (rasaMention, error) {
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		return rasaMention{}, fmt.Errorf("the annotation %s of %q is not JSON", raw, text)
	}
	str := func(key string) string {
		switch v := fields[key].(type) {
		case string:
			return strings.TrimSpace(v)
		case float64, bool:
			return fmt.Sprint(v)
		}
		return ""
	}
	m := rasaMention{text: text, entity: str("entity"), value: str("value"), role: str("role"), group: str("group")}
	if m.entity == "" {
		return rasaMention{}, fmt.Errorf("the annotation %s of %q names no entity", raw, text)
	}
	return m, nil
}

func (im *rasaImport) domainIntents(file string, n *yaml.Node) {
	if yamlNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		im.fail(file, n.Line, "intents", "must be a list of intent names")
		return
	}
	declare := func(name string, line int) {
		if !im.declaredIntents[name] {
			im.declaredIntents[name] = true
			im.declaredIntentAt = append(im.declaredIntentAt, rasaName{name: name, file: file, line: line})
		}
	}
	for i, c := range n.Content {
		switch c.Kind {
		case yaml.ScalarNode:
			declare(c.Value, c.Line)
			continue
		case yaml.MappingNode:
			for j := 0; j+1 < len(c.Content); j += 2 {
				k, v := c.Content[j], c.Content[j+1]
				declare(k.Value, k.Line)
				for _, opt := range yamlKeys(v) {
					im.warn(file, k.Line, "intent %q: %s has no equivalent; ignored", k.Value, opt)
				}
			}
			continue
		}
		im.fail(file, c.Line, "intents["+strconv.Itoa(i)+"]", "must be an intent name")
	}
}

func (im *rasaImport) domainEntities(file string, n *yaml.Node) {
	if yamlNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		im.fail(file, n.Line, "entities", "must be a list of entity names")
		return
	}
	for i, c := range n.Content {
		switch c.Kind {
		case yaml.ScalarNode:
			im.declaredEntities = append(im.declaredEntities, rasaName{name: c.Value, file: file, line: c.Line})
			continue
		case yaml.MappingNode:
			for j := 0; j+1 < len(c.Content); j += 2 {
				k, v := c.Content[j], c.Content[j+1]
				im.declaredEntities = append(im.declaredEntities, rasaName{name: k.Value, file: file, line: k.Line})
				for _, opt := range yamlKeys(v) {
					if opt == "roles" || opt == "groups" {
						im.warnOnce("role "+k.Value, file, k.Line, "entity roles and groups have no equivalent: the roles and groups of %q are dropped", k.Value)
						continue
					}
					im.warn(file, k.Line, "entity %q: %s has no equivalent; ignored", k.Value, opt)
				}
			}
			continue
		}
		im.fail(file, c.Line, "entities["+strconv.Itoa(i)+"]", "must be an entity name")
	}
}

func (im *rasaImport) domainSlots(file string, n *yaml.Node) {
	if yamlNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		im.fail(file, n.Line, "slots", "must be a map of slot names to slots")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "slots." + k.Value
		if v.Kind != yaml.MappingNode && !yamlNull(v) {
			im.fail(file, v.Line, field, "a slot is a map with type and mappings")
			continue
		}
		name, ok := importName(k.Value, "slot")
		if !ok {
			im.fail(file, k.Line, field, "slot %q has no letters or digits to make a name of", k.Value)
			continue
		}
		if name != k.Value {
			im.warn(file, k.Line, "slot %q is renamed %q (names are lowercase letters, digits, _ . or -)", k.Value, name)
		}
		if im.slots[name] != nil {
			im.warn(file, k.Line, "slot %q is defined twice; the second is skipped", name)
			continue
		}
		s := &rasaSlot{name: name, file: file, line: k.Line}
		var typ string
		var mappings *yaml.Node
		for j := 0; j+1 < len(v.Content); j += 2 {
			key, val := v.Content[j], v.Content[j+1]
			switch key.Value {
			case "type":
				typ = val.Value
			case "mappings":
				mappings = val
			case "values":
				var values []string
				for _, c := range val.Content {
					if c.Kind == yaml.ScalarNode && c.Value != "" {
						values = append(values, regexp.QuoteMeta(c.Value))
					}
				}
				if len(values) > 0 {
					s.pattern = "(?i)" + strings.Join(values, "|")
				}
			case "influence_conversation":
				im.warnOnce("slot influence", file, key.Line, "influence_conversation of slots has no equivalent; ignored")
			default:
				im.warn(file, key.Line, "slot %q: %s has no equivalent; ignored", k.Value, key.Value)
			}
		}
		if typ == "list" {
			im.warn(file, k.Line, "slot %q is a list slot; a Conversa slot holds one value", k.Value)
		}
		var others []string
		if mappings != nil {
			for _, m := range mappings.Content {
				if m.Kind != yaml.MappingNode {
					im.fail(file, m.Line, field+".mappings", "a mapping is a map with a type")
					continue
				}
				var mtype, ment string
				var extra []string
				for j := 0; j+1 < len(m.Content); j += 2 {
					switch key := m.Content[j].Value; key {
					case "type":
						mtype = m.Content[j+1].Value
					case "entity":
						ment = m.Content[j+1].Value
					default:
						extra = append(extra, key)
					}
				}
				switch mtype {
				case "from_entity":
					if ment == "" {
						im.fail(file, m.Line, field+".mappings", "a from_entity mapping names an entity")
						continue
					}
					if s.entity != "" || s.builtin != "" {
						im.warn(file, m.Line, "slot %q is filled by its first mapping only; the mapping from entity %q is dropped", k.Value, ment)
						continue
					}
					s.entity = ment
				case "from_text":
					if s.entity != "" || s.builtin != "" {
						im.warn(file, m.Line, "slot %q is filled by its first mapping only; the from_text mapping is dropped", k.Value)
						continue
					}
					s.builtin = "text"
				default:
					others = append(others, mtype)
					continue
				}
				if len(extra) > 0 {
					im.warn(file, m.Line, "slot %q: the conditions of its mapping (%s) have no equivalent; ignored", k.Value, strings.Join(extra, ", "))
				}
			}
		}
		if s.entity == "" && s.builtin == "" {
			s.builtin = "text"
			if typ == "float" {
				s.builtin = "number"
			}
			if len(others) > 0 {
				im.warn(file, k.Line, "slot %q is filled by %s mappings, which have no equivalent; it is imported as a %s slot that flows ask for", k.Value, strings.Join(others, ", "), s.builtin)
			}
		} else if len(others) > 0 {
			im.warn(file, k.Line, "slot %q: %s mappings have no equivalent; ignored", k.Value, strings.Join(others, ", "))
		}
		if s.pattern != "" && s.builtin == "text" {
			s.pattern = "" // a whole message is not one of the values
		}
		im.slots[name] = s
		im.slotOrder = append(im.slotOrder, s)
	}
}

// rasaChannels maps Rasa's input channels to Conversa's channel kinds.
var rasaChannels = map[string]string{
	"socketio": "webchat", "rest": "api", "callback": "api", "telegram": "telegram",
	"twilio": "sms", "twilio_voice": "voice", "whatsapp": "whatsapp",
	"webchat": "webchat", "sms": "sms", "email": "email", "voice": "voice", "api": "api",
}

func (im *rasaImport) domainResponses(file string, n *yaml.Node) {
	if yamlNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		im.fail(file, n.Line, "responses", "must be a map of response names to lists of variations")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "responses." + k.Value
		if v.Kind != yaml.SequenceNode {
			im.fail(file, v.Line, field, "a response is a list of variations")
			continue
		}
		name, ok := importName(k.Value, "response")
		if !ok {
			im.fail(file, k.Line, field, "response %q has no letters or digits to make a name of", k.Value)
			continue
		}
		if name != k.Value {
			im.warn(file, k.Line, "response %q is renamed %q (names are lowercase letters, digits, _ . or -)", k.Value, name)
		}
		if im.responses[name] != nil {
			im.warn(file, k.Line, "response %q is defined twice; the second is skipped", name)
			continue
		}
		r := &rasaResponse{name: name, file: file, line: k.Line}
		for j, c := range v.Content {
			if alt, ok := im.variation(file, fmt.Sprintf("%s[%d]", field, j), k.Value, c); ok {
				r.alts = append(r.alts, alt)
			}
		}
		if len(r.alts) == 0 {
			im.warn(file, k.Line, "response %q has no variation to import; skipped", k.Value)
			continue
		}
		im.responses[name] = r
		im.responseByOrig[k.Value] = r
		im.responseOrder = append(im.responseOrder, r)
	}
}

// variation reads one variation of a response.
func (im *rasaImport) variation(file, field, response string, n *yaml.Node) (rasaAlt, bool) {
	if n.Kind != yaml.MappingNode {
		im.fail(file, n.Line, field, "a variation is a map with text, buttons or image")
		return rasaAlt{}, false
	}
	alt := rasaAlt{line: n.Line}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "text", "image", "channel":
			if v.Kind != yaml.ScalarNode {
				im.fail(file, v.Line, field+"."+k.Value, "must be a text")
				return rasaAlt{}, false
			}
			switch k.Value {
			case "text":
				alt.text = v.Value
			case "image":
				alt.image = v.Value
			default:
				alt.channel = v.Value
			}
		case "buttons":
			if v.Kind != yaml.SequenceNode {
				im.fail(file, v.Line, field+".buttons", "must be a list of buttons")
				return rasaAlt{}, false
			}
			for _, b := range v.Content {
				if b.Kind != yaml.MappingNode {
					im.fail(file, b.Line, field+".buttons", "a button is a map with title and payload")
					return rasaAlt{}, false
				}
				alt.buttons = append(alt.buttons, im.button(file, response, b))
			}
		case "condition":
			im.warn(file, k.Line, "response %q: conditions of variations have no equivalent; the variation is imported without its condition", response)
		case "custom", "attachment", "elements", "quick_replies":
			im.warn(file, k.Line, "response %q: %s has no equivalent; dropped", response, k.Value)
		default:
			im.warn(file, k.Line, "response %q: %s has no equivalent; ignored", response, k.Value)
		}
	}
	if alt.channel != "" {
		kind, ok := rasaChannels[alt.channel]
		if !ok {
			im.warn(file, n.Line, "response %q: the variation for channel %q is skipped (Conversa has no such channel)", response, alt.channel)
			return rasaAlt{}, false
		}
		alt.channel = kind
	}
	var kept []rasaButton
	for _, b := range alt.buttons {
		if b.title != "" {
			kept = append(kept, b)
		}
	}
	alt.buttons = kept
	if strings.TrimSpace(alt.text) == "" && alt.image == "" && len(alt.buttons) == 0 {
		im.warn(file, n.Line, "response %q: a variation without text, buttons or image is skipped", response)
		return rasaAlt{}, false
	}
	return alt, true
}

// button reads a button: a title and a payload, "/intent",
// "/intent{entities}" or text.
func (im *rasaImport) button(file, response string, n *yaml.Node) rasaButton {
	b := rasaButton{line: n.Line}
	var payload string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch k.Value {
		case "title":
			b.title = strings.TrimSpace(v.Value)
		case "payload":
			payload = strings.TrimSpace(v.Value)
		default:
			im.warn(file, k.Line, "response %q: button %s has no equivalent; ignored", response, k.Value)
		}
	}
	if b.title == "" {
		im.warn(file, n.Line, "response %q: a button without a title is skipped", response)
		return b
	}
	if rest, ok := strings.CutPrefix(payload, "/"); ok {
		intent, entities, _ := strings.Cut(rest, "{")
		intent, _, _ = strings.Cut(intent, "@")
		b.intent = strings.TrimSpace(intent)
		if entities != "" {
			im.warn(file, n.Line, "response %q: button %q: the entities of its payload have no equivalent; it only triggers the intent", response, b.title)
		}
		return b
	}
	if payload != "" {
		b.value = payload
		im.warn(file, n.Line, "response %q: button %q sends the text %q, imported as a value: it answers a flow's question but triggers no intent", response, b.title, payload)
	}
	return b
}

// ducklingEntities maps the Duckling dimensions Rasa projects use to
// Conversa's built-in entities.
var ducklingEntities = map[string]string{
	"phone-number": "phone", "amount-of-money": "number", "ordinal": "number",
}

func isBuiltinEntity(name string) bool {
	return name == "text" || slices.Contains(entity.BuiltIns(), name)
}

// slotEntity resolves the entity a slot is filled from.
func (im *rasaImport) slotEntity(s *rasaSlot) string {
	if s.builtin != "" {
		return s.builtin
	}
	if e := im.entityByOrig[s.entity]; e != nil && !isBuiltinEntity(e.name) && (len(e.values) > 0 || len(e.regexes) > 0) {
		return e.name
	}
	if to, ok := ducklingEntities[s.entity]; ok {
		im.warn(s.file, s.line, "slot %q: the Duckling entity %q is the built-in entity %q", s.name, s.entity, to)
		return to
	}
	name, _ := importName(s.entity, "entity")
	if !isBuiltinEntity(name) {
		im.warnOnce("undefined "+name, s.file, s.line, "entity %q has no annotated examples, lookup or regex to import; define its values or regex", name)
	}
	return name
}

// isDeclared reports whether the domain lists a Rasa intent, or the
// retrieval intent ("faq") of one like "faq/hours".
func (im *rasaImport) isDeclared(orig string) bool {
	base, _, _ := strings.Cut(orig, "/")
	return im.declaredIntents[orig] || im.declaredIntents[base]
}

// applySynonyms files every synonym item under the entities that have its
// value or one of its examples as a value.
func (im *rasaImport) applySynonyms() {
	for _, syn := range im.synonyms {
		found := false
		for _, e := range im.entityOrder {
			if len(e.regexes) > 0 {
				continue
			}
			keys := append([]string{syn.value}, syn.examples...)
			if !slices.ContainsFunc(keys, func(k string) bool { return e.find(k) >= 0 }) {
				continue
			}
			found = true
			e.addValue(syn.value, "")
			for _, x := range syn.examples {
				// A value that is now a synonym gives its own synonyms to
				// the value.
				if j := e.find(x); j >= 0 && foldKey(x) != foldKey(syn.value) {
					moved := e.values[j].Synonyms
					e.values = slices.Delete(e.values, j, j+1)
					i := e.find(syn.value)
					for _, s := range moved {
						e.addSynonym(i, s)
					}
				}
				e.addSynonym(e.find(syn.value), x)
			}
		}
		if !found {
			im.warn(syn.file, syn.line, "synonym %q is skipped: no entity has it, or any of its examples, as a value", syn.value)
		}
	}
}

// definition puts together what the files held.
func (im *rasaImport) definition() *Definition {
	d := &Definition{Languages: []string{im.lang}}
	im.applySynonyms()

	declared := map[string]bool{}
	for _, de := range im.declaredEntities {
		if e := im.entityByOrig[de.name]; e != nil {
			declared[e.name] = true
		}
	}
	for _, e := range im.entityOrder {
		switch {
		case len(e.values) == 0 && len(e.regexes) == 0:
			continue
		case isBuiltinEntity(e.name):
			im.warn(e.file, e.line, "entity %q is built into Conversa; its Rasa values and regex are dropped and the built-in is used", e.name)
			continue
		case len(e.regexes) > 0:
			if e.lookup {
				im.warn(e.file, e.line, "entity %q has a regex and a lookup; a Conversa entity has one or the other: the regex is kept", e.name)
			}
			re := e.regexes[0]
			if len(e.regexes) > 1 {
				parts := make([]string, len(e.regexes))
				for i, r := range e.regexes {
					parts[i] = "(?:" + r + ")"
				}
				re = strings.Join(parts, "|")
			}
			d.Entities = append(d.Entities, Entity{Name: e.name, Regex: re})
		default:
			d.Entities = append(d.Entities, Entity{Name: e.name, Values: e.values})
		}
		if len(im.declaredEntities) > 0 && !declared[e.name] {
			im.warn(e.file, e.line, "entity %q is not in the domain's entities; imported anyway", e.name)
		}
	}
	for _, de := range im.declaredEntities {
		if e := im.entityByOrig[de.name]; e != nil && (len(e.values) > 0 || len(e.regexes) > 0) {
			continue
		}
		name, ok := importName(de.name, "entity")
		if _, duckling := ducklingEntities[de.name]; !ok || duckling || isBuiltinEntity(name) {
			continue
		}
		im.warnOnce("undefined "+name, de.file, de.line, "entity %q has no annotated examples, lookup or regex to import; define its values or regex", name)
	}

	imported := map[string]bool{}
	var silent []string
	for _, in := range im.intentOrder {
		if len(in.examples) == 0 {
			im.warn(in.file, in.line, "intent %q has no examples; skipped", in.name)
			continue
		}
		if len(in.examples) < 2 {
			im.warn(in.file, in.line, "intent %q has 1 example; Conversa needs at least 2 to train", in.name)
		}
		it := Intent{Name: in.name, Examples: Examples{im.lang: in.examples}}
		for _, o := range in.orig {
			if r := im.responseByOrig["utter_"+o]; r != nil {
				it.Response = r.name
				break
			}
		}
		if it.Response == "" {
			silent = append(silent, in.name)
		}
		if len(im.declaredIntents) > 0 && !slices.ContainsFunc(in.orig, im.isDeclared) {
			im.warn(in.file, in.line, "intent %q has examples but is not in the domain's intents; imported anyway", in.orig[0])
		}
		d.Intents = append(d.Intents, it)
		imported[in.name] = true
	}
	for _, di := range im.declaredIntentAt {
		has := func(in *rasaIntent) bool {
			return len(in.examples) > 0 && slices.ContainsFunc(in.orig, func(o string) bool {
				return o == di.name || strings.HasPrefix(o, di.name+"/")
			})
		}
		if !slices.ContainsFunc(im.intentOrder, has) {
			im.warn(di.file, di.line, "intent %q is in the domain but has no examples; skipped", di.name)
		}
	}
	if len(silent) > 0 {
		im.warn("", 0, "intents without an utter_<intent> response do nothing until you give them a response, flow, handoff or action: %s", strings.Join(silent, ", "))
	}

	for _, s := range im.slotOrder {
		if d.Slots == nil {
			d.Slots = map[string]Slot{}
		}
		d.Slots[s.name] = Slot{Entity: im.slotEntity(s), Pattern: s.pattern}
	}

	for _, r := range im.responseOrder {
		alts := make(Responses, 0, len(r.alts))
		for _, a := range r.alts {
			out := Response{Channel: a.channel, Image: a.image}
			if strings.TrimSpace(a.text) != "" {
				out.Text = Localized{im.lang: a.text}
			}
			ids := map[string]bool{}
			for _, b := range a.buttons {
				bt := Button{Title: Localized{im.lang: b.title}, Value: b.value}
				id := ""
				if b.intent != "" {
					in := im.intentByOrig[b.intent]
					if in == nil {
						if name, ok := importName(b.intent, "intent"); ok {
							in = im.intents[name]
						}
					}
					if in != nil && imported[in.name] {
						bt.Intent, id = in.name, in.name
					} else {
						im.warn(r.file, b.line, "response %q: button %q goes to intent %q, which has no examples; it is kept without a target", r.name, b.title, b.intent)
					}
				}
				if id == "" {
					id, _ = importName(b.title, "button")
				}
				if id == "" {
					id = "button"
				}
				base := id
				for n := 2; ids[id]; n++ {
					id = base + "_" + strconv.Itoa(n)
				}
				ids[id] = true
				bt.ID = id
				out.Buttons = append(out.Buttons, bt)
			}
			alts = append(alts, out)
		}
		if d.Responses == nil {
			d.Responses = map[string]Responses{}
		}
		d.Responses[r.name] = alts
	}
	return d
}

// ImportCSV reads training examples from a spreadsheet exported as CSV:
// rows of utterance,intent in language lang ("es" or "en"), with an
// optional third column, language, that overrides lang for its row. A
// first row whose cells are utterance (or text or example), intent (or
// label) and optionally language is a header; so is one in Spanish
// (texto, frase or ejemplo; intención or etiqueta; idioma). The separator is ; when the
// first line has a ; and no comma; a UTF-8 byte order mark is skipped.
// Intent names are lowercased with spaces replaced by _.
//
// Rows that repeat an utterance and intent are dropped; the same
// utterance under two intents is kept. A row with a wrong number of
// columns, an empty utterance or intent, or an intent that is not a valid
// name gives a DefinitionError with the file name, the row's line and the
// field (columns, utterance, intent or language); ImportCSV reports them
// all, up to 50, in DefinitionErrors. Only a failing reader gives another
// error.
func ImportCSV(name string, r io.Reader, lang string) (*Definition, error) {
	if !slices.Contains(supportedLanguages, lang) {
		return nil, DefinitionErrors{{File: name, Field: "language", Msg: fmt.Sprintf("unsupported language %q (use es or en)", lang)}}
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, DefinitionErrors{{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	if first, _, _ := bytes.Cut(data, []byte("\n")); bytes.IndexByte(first, ';') >= 0 && bytes.IndexByte(first, ',') < 0 {
		cr.Comma = ';'
	}

	var errs DefinitionErrors
	fail := func(line int, field, format string, args ...any) {
		errs = append(errs, &DefinitionError{File: name, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	d := &Definition{Languages: []string{lang}}
	index := map[string]int{}
	seen := map[[3]string]bool{}
	columns, rows, examples := 0, 0, 0 // columns of the header, if any
	for len(errs) < maxCSVErrors {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			fail(pe.Line, "", "%v", pe.Err)
			rows++
			continue
		}
		line, _ := cr.FieldPos(0)
		rows++
		if !slices.ContainsFunc(rec, func(c string) bool { return strings.TrimSpace(c) != "" }) {
			continue // a blank row of the spreadsheet
		}
		if rows == 1 && isCSVHeader(rec) {
			columns = len(rec)
			continue
		}
		if columns > 0 && len(rec) != columns || len(rec) < 2 || len(rec) > 3 {
			want := "2 (utterance,intent) or 3 (utterance,intent,language)"
			if columns > 0 {
				want = strconv.Itoa(columns) + " like the header"
			}
			fail(line, "columns", "the row has %d columns, want %s", len(rec), want)
			continue
		}
		ok := true
		for i, c := range rec {
			if !utf8.ValidString(c) {
				fail(line, csvFields[i], "is not UTF-8 text; save the spreadsheet as CSV UTF-8")
				ok = false
			}
		}
		if !ok {
			continue
		}
		text := strings.TrimSpace(rec[0])
		switch {
		case text == "":
			fail(line, "utterance", "is empty")
			ok = false
		case utf8.RuneCountInString(text) > MaxTextLength:
			fail(line, "utterance", "is longer than %d characters", MaxTextLength)
			ok = false
		}
		raw := strings.TrimSpace(rec[1])
		intent := strings.Join(strings.Fields(strings.ToLower(raw)), "_")
		switch {
		case raw == "":
			fail(line, "intent", "is empty")
			ok = false
		case !namePattern.MatchString(intent):
			fail(line, "intent", "%q is not a valid intent name: use letters, digits, spaces, _ . or -, starting with a letter, at most 64", clipText(raw))
			ok = false
		}
		rowLang := lang
		if len(rec) == 3 {
			if l := strings.ToLower(strings.TrimSpace(rec[2])); l != "" {
				rowLang = l
			}
			if !slices.Contains(supportedLanguages, rowLang) {
				fail(line, "language", "unsupported language %q (use es or en)", clipText(rec[2]))
				ok = false
			}
		}
		if !ok {
			continue
		}
		key := [3]string{text, intent, rowLang}
		if seen[key] {
			continue
		}
		seen[key] = true
		if examples++; examples > MaxExamples {
			fail(line, "", "more than %d examples", MaxExamples)
			break
		}
		if !slices.Contains(d.Languages, rowLang) {
			d.Languages = append(d.Languages, rowLang)
		}
		i, ok := index[intent]
		if !ok {
			i = len(d.Intents)
			index[intent] = i
			d.Intents = append(d.Intents, Intent{Name: intent, Examples: Examples{}})
		}
		d.Intents[i].Examples[rowLang] = append(d.Intents[i].Examples[rowLang], text)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(d.Intents) == 0 {
		return nil, DefinitionErrors{{File: name, Msg: "the file has no rows of utterance,intent"}}
	}
	return d, nil
}

// csvFields names the columns of ImportCSV.
var csvFields = []string{"utterance", "intent", "language"}

// isCSVHeader reports whether a row is the header of ImportCSV.
func isCSVHeader(rec []string) bool {
	if len(rec) < 2 || len(rec) > 3 {
		return false
	}
	cell := func(i int) string { return strings.ToLower(strings.TrimSpace(rec[i])) }
	switch cell(0) {
	case "utterance", "text", "example", "texto", "frase", "ejemplo":
	default:
		return false
	}
	switch cell(1) {
	case "intent", "label", "intención", "intencion", "etiqueta":
	default:
		return false
	}
	return len(rec) == 2 || slices.Contains([]string{"language", "lang", "idioma"}, cell(2))
}

// importHeader heads the YAML of MarshalDefinition.
const importHeader = "# Imported by conversa bot import. Review it, then validate and train the bot.\n"

// MarshalDefinition writes d as YAML that Parse reads back into an equal
// definition (positions aside): fields in the order of the types, empty
// ones left out, texts and examples that have no language (key "") as a
// plain string and a plain list.
func MarshalDefinition(d *Definition) ([]byte, error) {
	if d == nil {
		return nil, errors.New("marshal definition: no definition")
	}
	n, err := yamlNode(reflect.ValueOf(d).Elem())
	if err != nil {
		return nil, fmt.Errorf("marshal definition: %w", err)
	}
	var buf bytes.Buffer
	buf.WriteString(importHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("marshal definition: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal definition: %w", err)
	}
	return buf.Bytes(), nil
}

var (
	localizedType = reflect.TypeFor[Localized]()
	examplesType  = reflect.TypeFor[Examples]()
)

// yamlNode encodes a value of the definition's types as their yaml tags
// say, leaving out nil maps, slices and pointers even without omitempty so
// that they read back as nil.
func yamlNode(v reflect.Value) (*yaml.Node, error) {
	switch v.Type() {
	case localizedType:
		if l := v.Interface().(Localized); len(l) == 1 {
			if t, ok := l[""]; ok {
				return scalarNode(t)
			}
		}
	case examplesType:
		if e := v.Interface().(Examples); len(e) == 1 {
			if xs, ok := e[""]; ok && xs != nil {
				return yamlNode(reflect.ValueOf(xs))
			}
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		return yamlNode(v.Elem())
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for f := range v.Type().Fields() {
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			fv := v.FieldByIndex(f.Index)
			if omitField(fv, slices.Contains(strings.Split(opts, ","), "omitempty")) {
				continue
			}
			c, err := yamlNode(fv)
			if err != nil {
				return nil, err
			}
			k, _ := scalarNode(name)
			n.Content = append(n.Content, k, c)
		}
		return n, nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("unsupported map key type %s", v.Type().Key())
		}
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, key := range keys {
			k, err := scalarNode(key.String())
			if err != nil {
				return nil, err
			}
			c, err := yamlNode(v.MapIndex(key))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, k, c)
		}
		return n, nil
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for i := range v.Len() {
			c, err := yamlNode(v.Index(i))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, c)
		}
		return n, nil
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64, reflect.Float64:
		return scalarNode(v.Interface())
	}
	return nil, fmt.Errorf("unsupported type %s", v.Type())
}

// omitField reports whether a struct field is left out.
func omitField(v reflect.Value, omitempty bool) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Map, reflect.Slice:
		return v.IsNil() || omitempty && v.Len() == 0
	}
	return omitempty && v.IsZero()
}

// scalarNode encodes a scalar, quoted as YAML needs.
func scalarNode(x any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(x); err != nil {
		return nil, err
	}
	return &n, nil
}

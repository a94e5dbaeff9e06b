package bot

import (
	"context"
	_ "embed"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"conversa/bot/entity"
	"conversa/bot/nlu"
	"conversa/conversation"
)

//go:embed builtin.yaml
var builtinYAML []byte

// Languages the engine speaks.
var supportedLanguages = []string{"es", "en"}

// Case types the create_case step accepts: the PQR types.
var caseTypes = []string{"peticion", "queja", "reclamo", "sugerencia", "felicitacion", "consulta", "denuncia"}

// The channel kinds a response alternative may be limited to.
var channelKinds = []conversation.ChannelKind{
	conversation.ChannelWebchat, conversation.ChannelWhatsApp, conversation.ChannelSMS,
	conversation.ChannelTelegram, conversation.ChannelEmail, conversation.ChannelVoice, conversation.ChannelAPI,
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// Built-in actions a step or intent may name.
const (
	actionHandoff    = "handoff"
	actionCreateCase = "create_case"
)

// faqPrefix names the classifier's intent of a knowledge article with
// questions.
const faqPrefix = "faq:"

// outOfScopeIntent is the classifier's class of the definition's
// out_of_scope examples; no intent may take its name.
const outOfScopeIntent = "out_of_scope"

// CompileOptions are what compiling needs beyond the definition.
type CompileOptions struct {
	// Seed makes training deterministic.
	Seed int64
	// Actions are the custom Go actions the definition may name.
	Actions map[string]Action
	// Region and TimeZone are the tenant's, for phone numbers and dates.
	Region   string
	TimeZone string
}

// Bot is a compiled definition, ready to answer. It is immutable and safe
// for concurrent use.
type Bot struct {
	def       *Definition
	model     *nlu.Model
	extractor *entity.Extractor
	languages []string
	loc       *time.Location

	intents   map[string]*Intent
	entities  map[string]bool
	slots     map[string]*compiledSlot
	responses map[string]Responses
	flows     map[string]*compiledFlow
	actions   map[string]*httpAction
	custom    map[string]Action
	articles  map[string]*Article
	kb        *knowledgeIndex
	hours     *hours
	policy    Policy
	// vocab holds the words of each intent's examples (faq:<id> for
	// articles), for sure.
	vocab map[string]map[string]bool
}

type compiledSlot struct {
	Slot
	name    string
	pattern *regexp.Regexp
}

type compiledFlow struct {
	name  string
	steps []Step
	index map[string]int
}

// Definition returns the definition the bot was compiled from, with the
// built-ins merged in. It must not be modified.
func (b *Bot) Definition() *Definition { return b.def }

// Model returns the trained classifier.
func (b *Bot) Model() *nlu.Model { return b.model }

// Languages returns the languages the bot answers in, the default first.
func (b *Bot) Languages() []string { return b.languages }

// Training is the outcome of Train: the bot, its model's bytes and the
// evaluation report.
type Training struct {
	Bot    *Bot
	Model  []byte
	Report *nlu.Report
}

// Train checks a definition, trains its classifier, and evaluates it with
// k-fold cross-validation (folds ≤ 1 skips the evaluation). A definition
// with problems returns DefinitionErrors and trains nothing.
func Train(ctx context.Context, src Source, folds int, opts CompileOptions) (*Training, error) {
	def, err := Parse(src)
	if err != nil {
		return nil, err
	}
	b, err := build(def, opts)
	if err != nil {
		return nil, err
	}
	examples, oos := b.trainingData()
	model, err := nlu.Train(ctx, examples, nlu.Options{Seed: opts.Seed, OutOfScope: oos})
	if err != nil {
		return nil, fmt.Errorf("train the classifier: %w", err)
	}
	if b.policy.Threshold > 0 {
		model = model.WithThreshold(b.policy.Threshold)
	}
	b.model = model
	b.vocab = vocabulary(examples)
	data, err := model.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("save the classifier: %w", err)
	}
	t := &Training{Bot: b, Model: data}
	if folds > 1 {
		rep, err := nlu.CrossValidate(ctx, examples, folds, nlu.Options{Seed: opts.Seed, OutOfScope: oos})
		if err != nil {
			return nil, fmt.Errorf("evaluate the classifier: %w", err)
		}
		t.Report = rep
	}
	return t, nil
}

// Load rebuilds a trained bot from its stored source and model, without
// training.
func Load(src Source, model []byte, opts CompileOptions) (*Bot, error) {
	def, err := Parse(src)
	if err != nil {
		return nil, err
	}
	b, err := build(def, opts)
	if err != nil {
		return nil, err
	}
	m, err := nlu.Load(model)
	if err != nil {
		return nil, fmt.Errorf("load the classifier: %w", err)
	}
	b.model = m
	examples, _ := b.trainingData()
	b.vocab = vocabulary(examples)
	return b, nil
}

// vocabulary returns the content words of each intent's examples.
func vocabulary(examples []nlu.Example) map[string]map[string]bool {
	v := map[string]map[string]bool{}
	for _, x := range examples {
		words := v[x.Intent]
		if words == nil {
			words = map[string]bool{}
			v[x.Intent] = words
		}
		norm := nlu.Normalize(x.Text)
		words["="+norm] = true // the whole example, for short ones ("sí")
		for _, w := range strings.Fields(norm) {
			if len(w) >= 3 {
				words[w] = true
			}
		}
	}
	return v
}

// Validate checks a definition without training it.
func Validate(src Source, opts CompileOptions) error {
	def, err := Parse(src)
	if err != nil {
		return err
	}
	_, err = build(def, opts)
	return err
}

// trainingData returns the classifier's examples: every intent's, and the
// questions of articles as intents of their own.
func (b *Bot) trainingData() ([]nlu.Example, []string) {
	var out []nlu.Example
	for _, in := range b.def.Intents {
		for _, lang := range sortedKeys(in.Examples) {
			for _, x := range in.Examples[lang] {
				out = append(out, nlu.Example{Text: x, Intent: in.Name})
			}
		}
	}
	for _, a := range b.def.Knowledge {
		for _, lang := range sortedKeys(a.Questions) {
			for _, x := range a.Questions[lang] {
				out = append(out, nlu.Example{Text: x, Intent: faqPrefix + a.ID})
			}
		}
	}
	// Examples of what the bot does not do are a class of their own: a
	// message like them is out of scope however close it is to an intent.
	for _, lang := range sortedKeys(b.def.OutOfScope) {
		for _, x := range b.def.OutOfScope[lang] {
			out = append(out, nlu.Example{Text: x, Intent: outOfScopeIntent})
		}
	}
	return out, nil
}

// build merges the built-ins into def and checks every rule and reference.
func build(def *Definition, opts CompileOptions) (*Bot, error) {
	c := &checker{}
	b := &Bot{
		def:       def,
		intents:   map[string]*Intent{},
		entities:  map[string]bool{},
		slots:     map[string]*compiledSlot{},
		responses: map[string]Responses{},
		flows:     map[string]*compiledFlow{},
		actions:   map[string]*httpAction{},
		custom:    opts.Actions,
		articles:  map[string]*Article{},
		policy:    def.Policy,
	}

	// Languages first: examples and texts are read in their terms.
	b.languages = def.Languages
	if len(b.languages) == 0 {
		b.languages = []string{"es", "en"}
	}
	for i, l := range b.languages {
		if !slices.Contains(supportedLanguages, l) {
			c.add(def.at("languages"), "languages["+strconv.Itoa(i)+"]", "unsupported language %q (use es or en)", l)
		}
		if slices.Index(b.languages, l) != i {
			c.add(def.at("languages"), "languages["+strconv.Itoa(i)+"]", "language %q is listed twice", l)
		}
	}
	b.loc = time.UTC
	if opts.TimeZone != "" {
		if loc, err := time.LoadLocation(opts.TimeZone); err == nil {
			b.loc = loc
		}
	}

	builtin, err := ParseYAML("builtin.yaml", builtinYAML)
	if err != nil {
		return nil, fmt.Errorf("built-in definition: %w", err) // a bug
	}
	def.resolveLanguages(b.languages[0])
	builtin.resolveLanguages("")

	// Intents.
	seen := map[string]pos{}
	for i := range def.Intents {
		in := &def.Intents[i]
		field := fmt.Sprintf("intents[%d]", in.pos.index)
		if !namePattern.MatchString(in.Name) {
			c.add(in.pos, field+".name", "intent name %q must be lowercase letters, digits, _ . or -, starting with a letter", in.Name)
			continue
		}
		if in.Name == outOfScopeIntent {
			c.add(in.pos, field+".name", "%q is reserved: put such examples under out_of_scope", in.Name)
			continue
		}
		if p, dup := seen[in.Name]; dup {
			c.add(in.pos, field+".name", "duplicate intent %q (first defined at %s)", in.Name, p)
			continue
		}
		seen[in.Name] = in.pos
		b.intents[in.Name] = in
	}
	// The built-ins speak the bot's languages only.
	if def.SmallTalk == nil || *def.SmallTalk {
		for i := range builtin.Intents {
			in := builtin.Intents[i]
			if _, ok := b.intents[in.Name]; ok {
				continue
			}
			ex := Examples{}
			for _, l := range b.languages {
				if xs := in.Examples[l]; len(xs) > 0 {
					ex[l] = xs
				}
			}
			in.Examples = ex
			def.Intents = append(def.Intents, in)
		}
		for i := range def.Intents {
			b.intents[def.Intents[i].Name] = &def.Intents[i]
		}
	}
	for name, rs := range builtin.Responses {
		if _, ok := def.Responses[name]; ok {
			continue
		}
		if def.Responses == nil {
			def.Responses = map[string]Responses{}
		}
		alts := make(Responses, len(rs))
		for i, r := range rs {
			text := Localized{}
			for _, l := range b.languages {
				if t, ok := r.Text[l]; ok {
					text[l] = t
				}
			}
			r.Text = text
			alts[i] = r
		}
		def.Responses[name] = alts
	}
	b.responses = def.Responses

	// Entities and the extractor.
	var lists []entity.List
	var regexes []entity.Regex
	for _, e := range def.Entities {
		field := fmt.Sprintf("entities[%d]", e.pos.index)
		switch {
		case !namePattern.MatchString(e.Name):
			c.add(e.pos, field+".name", "entity name %q must be lowercase letters, digits, _ . or -", e.Name)
			continue
		case slices.Contains(entity.BuiltIns(), e.Name) || e.Name == "text":
			c.add(e.pos, field+".name", "%q is a built-in entity; choose another name", e.Name)
			continue
		case b.entities[e.Name]:
			c.add(e.pos, field+".name", "duplicate entity %q", e.Name)
			continue
		case (len(e.Values) > 0) == (e.Regex != ""):
			c.add(e.pos, field, "an entity has either values or a regex")
			continue
		}
		b.entities[e.Name] = true
		if e.Regex != "" {
			if _, err := regexp.Compile(e.Regex); err != nil {
				c.add(e.pos, field+".regex", "the regex does not compile: %v", err)
				continue
			}
			regexes = append(regexes, entity.Regex{Name: e.Name, Pattern: e.Regex})
			continue
		}
		l := entity.List{Name: e.Name}
		for j, v := range e.Values {
			if strings.TrimSpace(v.Value) == "" {
				c.add(e.pos, fmt.Sprintf("%s.values[%d].value", field, j), "a value must not be empty")
			}
			l.Values = append(l.Values, entity.ListValue{Value: v.Value, Synonyms: v.Synonyms})
		}
		lists = append(lists, l)
	}
	if c.ok() {
		ex, err := entity.New(entity.Options{Lists: lists, Regexes: regexes, Region: opts.Region, Location: b.loc})
		if err != nil {
			c.add(def.at("entities"), "entities", "%v", err)
		}
		b.extractor = ex
	}

	// Slots.
	for _, name := range sortedKeys(def.Slots) {
		s := def.Slots[name]
		field := "slots." + name
		if !namePattern.MatchString(name) {
			c.add(s.pos, field, "slot name %q must be lowercase letters, digits, _ . or -", name)
		}
		if !b.entityExists(s.Entity) {
			c.add(s.pos, field+".entity", "unknown entity %q (built-ins: %s, text; or one of entities)", s.Entity, strings.Join(entity.BuiltIns(), ", "))
		}
		cs := &compiledSlot{Slot: s, name: name}
		if s.Pattern != "" {
			re, err := regexp.Compile(`^(?:` + s.Pattern + `)$`)
			if err != nil {
				c.add(s.pos, field+".pattern", "the pattern does not compile: %v", err)
			}
			cs.pattern = re
		}
		if s.MinLength < 0 || s.MaxLength < 0 || (s.MaxLength > 0 && s.MinLength > s.MaxLength) {
			c.add(s.pos, field, "min_length and max_length must be positive and min ≤ max")
		}
		b.slots[name] = cs
	}

	// Actions.
	for i := range def.Actions {
		a := &def.Actions[i]
		field := fmt.Sprintf("actions[%d]", a.pos.index)
		if !namePattern.MatchString(a.Name) {
			c.add(a.pos, field+".name", "action name %q must be lowercase letters, digits, _ . or -", a.Name)
			continue
		}
		if b.actions[a.Name] != nil || isBuiltinAction(a.Name) || b.custom[a.Name] != nil {
			c.add(a.pos, field+".name", "action %q is defined twice (or is a built-in)", a.Name)
			continue
		}
		ha, err := newHTTPAction(a)
		if err != nil {
			c.add(a.pos, field+".http", "%v", err)
			continue
		}
		for slot := range a.HTTP.Result {
			if b.slots[slot] == nil {
				c.add(a.pos, field+".http.result."+slot, "unknown slot %q", slot)
			}
		}
		b.actions[a.Name] = ha
	}

	// Knowledge.
	for i := range def.Knowledge {
		a := &def.Knowledge[i]
		field := fmt.Sprintf("knowledge[%d]", a.pos.index)
		if !namePattern.MatchString(a.ID) {
			c.add(a.pos, field+".id", "article id %q must be lowercase letters, digits, _ . or -", a.ID)
			continue
		}
		if b.articles[a.ID] != nil {
			c.add(a.pos, field+".id", "duplicate article %q", a.ID)
			continue
		}
		if len(a.Answer) == 0 {
			c.add(a.pos, field+".answer", "an article needs an answer")
		}
		c.localized(a.pos, field+".answer", a.Answer, b.languages)
		c.localized(a.pos, field+".title", a.Title, b.languages)
		c.examples(a.pos, field+".questions", a.Questions, b.languages, 0)
		b.articles[a.ID] = a
	}
	b.kb = newKnowledgeIndex(def.Knowledge, b.languages[0])

	// Responses.
	for _, name := range sortedKeys(def.Responses) {
		rs := def.Responses[name]
		field := "responses." + name
		if len(rs) == 0 {
			c.add(def.at("responses"), field, "a response needs at least one alternative")
		}
		for j, r := range rs {
			f := fmt.Sprintf("%s[%d]", field, j)
			if len(r.Text) == 0 && r.Image == "" && len(r.Buttons) == 0 {
				c.add(r.pos, f, "an alternative needs text, buttons or an image")
			}
			c.localized(r.pos, f+".text", r.Text, b.languages)
			if r.Channel != "" && !slices.Contains(channelKinds, conversation.ChannelKind(r.Channel)) {
				c.add(r.pos, f+".channel", "unknown channel %q", r.Channel)
			}
			if r.Image != "" {
				if u, err := url.Parse(r.Image); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
					c.add(r.pos, f+".image", "the image must be an http(s) URL")
				}
			}
			ids := map[string]bool{}
			for k, bt := range r.Buttons {
				bf := fmt.Sprintf("%s.buttons[%d]", f, k)
				if bt.ID == "" || ids[bt.ID] {
					c.add(r.pos, bf+".id", "each button needs an id of its own")
				}
				ids[bt.ID] = true
				if len(bt.Title) == 0 {
					c.add(r.pos, bf+".title", "a button needs a title")
				}
				c.localized(r.pos, bf+".title", bt.Title, b.languages)
				if countSet(bt.Intent != "", bt.Flow != "", bt.Response != "", bt.Handoff, bt.Value != "") > 1 {
					c.add(r.pos, bf, "a button does one thing: intent, flow, response, handoff or value")
				}
				if bt.Intent != "" && b.intents[bt.Intent] == nil {
					c.add(r.pos, bf+".intent", "unknown intent %q", bt.Intent)
				}
				if bt.Flow != "" && !b.flowDefined(bt.Flow) {
					c.add(r.pos, bf+".flow", "unknown flow %q", bt.Flow)
				}
				if bt.Response != "" && def.Responses[bt.Response] == nil {
					c.add(r.pos, bf+".response", "unknown response %q", bt.Response)
				}
			}
		}
	}

	// Intents' examples and what they do.
	total := 0
	for i := range def.Intents {
		in := &def.Intents[i]
		field := fmt.Sprintf("intents[%d]", in.pos.index)
		if in.pos.file == "builtin.yaml" {
			field = "intents." + in.Name
		}
		n := c.examples(in.pos, field+".examples", in.Examples, b.languages, 2)
		total += n
		if countSet(in.Response != "", in.Flow != "", in.Handoff, in.Action != "") > 1 {
			c.add(in.pos, field, "an intent does one thing: response, flow, handoff or action")
		}
		if in.Response != "" && def.Responses[in.Response] == nil {
			c.add(in.pos, field+".response", "unknown response %q", in.Response)
		}
		if in.Flow != "" && !b.flowDefined(in.Flow) {
			c.add(in.pos, field+".flow", "unknown flow %q", in.Flow)
		}
		if in.Action != "" && !b.actionExists(in.Action) {
			c.add(in.pos, field+".action", "unknown action %q", in.Action)
		}
	}
	for _, xs := range def.OutOfScope {
		total += len(xs)
	}
	for _, a := range def.Knowledge {
		for _, xs := range a.Questions {
			total += len(xs)
		}
	}
	if total > MaxExamples {
		c.add(def.at("intents"), "intents", "%d examples is more than the limit of %d", total, MaxExamples)
	}
	c.examples(def.at("out_of_scope"), "out_of_scope", def.OutOfScope, b.languages, 0)
	if len(b.intents) < 2 {
		c.add(def.at("intents"), "intents", "a bot needs at least two intents")
	}

	// Flows.
	for i := range def.Flows {
		f := &def.Flows[i]
		field := fmt.Sprintf("flows[%d]", f.pos.index)
		if !namePattern.MatchString(f.Name) {
			c.add(f.pos, field+".name", "flow name %q must be lowercase letters, digits, _ . or -", f.Name)
			continue
		}
		if b.flows[f.Name] != nil {
			c.add(f.pos, field+".name", "duplicate flow %q", f.Name)
			continue
		}
		b.flows[f.Name] = b.checkFlow(c, f, field)
	}

	// Policy and hours.
	p := &b.policy
	if p.Fallback == "" {
		p.Fallback = "fallback"
	}
	if p.Handoff == "" {
		p.Handoff = "handoff"
	}
	for _, r := range []struct{ field, name string }{{"policy.fallback", p.Fallback}, {"policy.handoff", p.Handoff}} {
		if def.Responses[r.name] == nil {
			c.add(def.at("policy"), r.field, "unknown response %q", r.name)
		}
	}
	switch p.OutOfScope {
	case "":
		p.OutOfScope = "fallback"
	case "fallback", "handoff":
	default:
		c.add(def.at("policy"), "policy.out_of_scope", "must be fallback or handoff, not %q", p.OutOfScope)
	}
	if p.HandoffAfter == 0 {
		p.HandoffAfter = 2
	}
	if p.NegativeHandoffAfter == 0 {
		p.NegativeHandoffAfter = 2
	}
	if p.MaxDigressions == 0 {
		p.MaxDigressions = 3
	}
	if p.HandoffAfter < -1 || p.NegativeHandoffAfter < -1 || p.MaxDigressions < -1 {
		c.add(def.at("policy"), "policy", "counts must be positive, or -1 for never")
	}
	if p.Threshold < 0 || p.Threshold >= 1 {
		c.add(def.at("policy"), "policy.threshold", "must be between 0 and 1")
	}
	if def.BusinessHours != nil {
		h, err := parseHours(def.BusinessHours, opts.TimeZone)
		if err != nil {
			c.add(def.BusinessHours.pos, "business_hours", "%v", err)
		}
		b.hours = h
		closed := def.BusinessHours.Closed
		if closed == "" {
			def.BusinessHours.Closed = "closed"
		} else if def.Responses[closed] == nil {
			c.add(def.BusinessHours.pos, "business_hours.closed", "unknown response %q", closed)
		}
	}

	if !c.ok() {
		return nil, c.errs
	}
	return b, nil
}

func (b *Bot) flowDefined(name string) bool {
	for _, f := range b.def.Flows {
		if f.Name == name {
			return true
		}
	}
	return false
}

func (b *Bot) entityExists(name string) bool {
	return name == "text" || b.entities[name] || slices.Contains(entity.BuiltIns(), name)
}

func (b *Bot) actionExists(name string) bool {
	return isBuiltinAction(name) || b.actions[name] != nil || b.custom[name] != nil
}

func isBuiltinAction(name string) bool {
	return name == actionHandoff || name == actionCreateCase
}

// checkFlow checks a flow's steps and their references.
func (b *Bot) checkFlow(c *checker, f *Flow, field string) *compiledFlow {
	cf := &compiledFlow{name: f.Name, steps: f.Steps, index: map[string]int{}}
	if len(f.Steps) == 0 {
		c.add(f.pos, field+".steps", "a flow needs at least one step")
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		if s.ID == "" {
			s.ID = "step" + strconv.Itoa(i+1)
		}
		if _, dup := cf.index[s.ID]; dup {
			c.add(s.pos, fmt.Sprintf("%s.steps[%d].id", field, i), "duplicate step id %q", s.ID)
			continue
		}
		cf.index[s.ID] = i
	}
	response := func(s *Step, sf, key, name string, required bool) {
		if name == "" {
			if required {
				c.add(s.pos, sf+"."+key, "is required")
			}
			return
		}
		if b.responses[name] == nil {
			c.add(s.pos, sf+"."+key, "unknown response %q", name)
		}
	}
	step := func(s *Step, sf, key, id string) {
		if id == "" {
			return
		}
		if _, ok := cf.index[id]; !ok {
			c.add(s.pos, sf+"."+key, "flow %q has no step %q", f.Name, id)
		}
	}
	for i := range f.Steps {
		s := &f.Steps[i]
		sf := fmt.Sprintf("%s.steps[%d]", field, i)
		kinds := countSet(s.Ask != "", s.Action != "", s.Set != nil, s.Branch != nil, s.Handoff != "", s.CreateCase != "", s.Menu != "", s.End)
		// say is a step of its own, or what an end, a handoff or a
		// create_case says.
		sayAlso := s.End || s.Handoff != "" || s.CreateCase != ""
		if s.Say != "" && kinds == 0 {
			kinds = 1
		} else if s.Say != "" && !sayAlso {
			kinds = 2
		}
		if kinds != 1 {
			c.add(s.pos, sf, "a step does exactly one of ask, say, action, set, branch, handoff, create_case, menu or end")
			continue
		}
		response(s, sf, "say", s.Say, false)
		step(s, sf, "next", s.Next)
		switch {
		case s.Ask != "":
			if b.slots[s.Ask] == nil {
				c.add(s.pos, sf+".ask", "unknown slot %q", s.Ask)
			}
			response(s, sf, "prompt", s.Prompt, true)
			response(s, sf, "invalid", s.Invalid, false)
			if s.Attempts < 0 || s.Attempts > 10 {
				c.add(s.pos, sf+".attempts", "must be between 1 and 10")
			}
		case s.Action != "":
			if !b.actionExists(s.Action) {
				c.add(s.pos, sf+".action", "unknown action %q", s.Action)
			}
			step(s, sf, "on_error", s.OnError)
		case s.Set != nil:
			for _, slot := range sortedKeys(s.Set) {
				if b.slots[slot] == nil {
					c.add(s.pos, sf+".set."+slot, "unknown slot %q", slot)
				}
			}
		case s.Branch != nil:
			for j, cs := range s.Branch {
				cf := fmt.Sprintf("%s.branch[%d]", sf, j)
				conds := 0
				if cs.Slot != "" {
					conds++
					if b.slots[cs.Slot] == nil {
						c.add(s.pos, cf+".slot", "unknown slot %q", cs.Slot)
					}
					if cs.Equals == "" && cs.Filled == nil {
						c.add(s.pos, cf, "a slot case needs equals or filled")
					}
				}
				if cs.Intent != "" {
					conds++
					if b.intents[cs.Intent] == nil {
						c.add(s.pos, cf+".intent", "unknown intent %q", cs.Intent)
					}
				}
				if conds != 1 {
					c.add(s.pos, cf, "a case tests one slot or one intent")
				}
				if cs.Goto == "" {
					c.add(s.pos, cf+".goto", "is required")
				}
				step(s, cf, "goto", cs.Goto)
			}
			step(s, sf, "default", s.Default)
		case s.CreateCase != "":
			if !slices.Contains(caseTypes, s.CreateCase) {
				c.add(s.pos, sf+".create_case", "unknown case type %q (one of %s)", s.CreateCase, strings.Join(caseTypes, ", "))
			}
		case s.Menu != "":
			response(s, sf, "menu", s.Menu, true)
			hasButtons := false
			for _, r := range b.responses[s.Menu] {
				hasButtons = hasButtons || len(r.Buttons) > 0
			}
			if b.responses[s.Menu] != nil && !hasButtons {
				c.add(s.pos, sf+".menu", "response %q has no buttons to choose from", s.Menu)
			}
		}
	}
	return cf
}

// countSet counts the fields that are set, of those a thing may set one.
func countSet(set ...bool) int {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	return n
}

// checker collects definition errors.
type checker struct{ errs DefinitionErrors }

func (c *checker) add(p pos, field, format string, args ...any) {
	c.errs = append(c.errs, &DefinitionError{File: p.file, Line: p.line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) ok() bool { return len(c.errs) == 0 }

// localized checks that a text's languages are the bot's.
func (c *checker) localized(p pos, field string, l Localized, langs []string) {
	for _, k := range sortedKeys(l) {
		if k != "" && !slices.Contains(langs, k) {
			c.add(p, field+"."+k, "language %q is not one of the bot's languages (%s)", k, strings.Join(langs, ", "))
		}
		if utf8.RuneCountInString(l[k]) > 4096 {
			c.add(p, field+"."+k, "text is longer than 4096 characters")
		}
	}
}

// examples checks examples and returns how many there are.
func (c *checker) examples(p pos, field string, ex Examples, langs []string, least int) int {
	n := 0
	for _, lang := range sortedKeys(ex) {
		if !slices.Contains(langs, lang) {
			c.add(p, field+"."+lang, "language %q is not one of the bot's languages (%s)", lang, strings.Join(langs, ", "))
		}
		for i, x := range ex[lang] {
			switch {
			case strings.TrimSpace(x) == "":
				c.add(p, fmt.Sprintf("%s.%s[%d]", field, lang, i), "an example must not be empty")
			case !hasWord(x):
				c.add(p, fmt.Sprintf("%s.%s[%d]", field, lang, i), "an example needs a word to learn from: %q", x)
			case utf8.RuneCountInString(x) > MaxTextLength:
				c.add(p, fmt.Sprintf("%s.%s[%d]", field, lang, i), "an example is longer than %d characters", MaxTextLength)
			}
			n++
		}
	}
	if n < least {
		c.add(p, field, "an intent needs at least %d examples, it has %d", least, n)
	}
	return n
}

func (p pos) String() string {
	if p.line > 0 {
		return p.file + ":" + strconv.Itoa(p.line)
	}
	return p.file
}

// resolveLanguages files examples given as a plain list under lang, the
// bot's first language; for the built-ins (lang "") they stay as they are.
func (d *Definition) resolveLanguages(lang string) {
	if lang == "" {
		return
	}
	fix := func(ex Examples) {
		if xs, ok := ex[""]; ok {
			delete(ex, "")
			ex[lang] = append(ex[lang], xs...)
		}
	}
	for i := range d.Intents {
		fix(d.Intents[i].Examples)
	}
	for i := range d.Knowledge {
		fix(d.Knowledge[i].Questions)
	}
	fix(d.OutOfScope)
}

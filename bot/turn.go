package bot

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"conversa/bot/entity"
	"conversa/bot/nlu"
	"conversa/bot/sentiment"
	"conversa/conversation"
)

// State is the dialogue state of one conversation: the active flow and
// step, the slots collected, and the counters of the policies. The engine
// keeps it in the durable store between turns, so that a restart or
// another node continues the same flow.
type State struct {
	Flow string `json:"flow,omitempty"`
	Step string `json:"step,omitempty"`
	// Waiting says the step (an ask or a menu) has been said and waits for
	// the customer's answer.
	Waiting     bool `json:"waiting,omitempty"`
	Attempts    int  `json:"attempts,omitempty"`
	Digressions int  `json:"digressions,omitempty"`
	// Slots are the values collected in the conversation; they outlive
	// a flow (an email given once is known), and a handoff clears them.
	Slots map[string]string `json:"slots,omitempty"`
	// Fresh are the slots filled since the active flow started: an ask
	// step skips them, and skips the others only with skip_if_filled.
	Fresh []string `json:"fresh,omitempty"`
	// Options are the choices of the last reply with buttons, which the
	// customer may answer by number, title or click.
	Options []Option `json:"options,omitempty"`
	// Misses counts misunderstandings in a row, Negatives negative
	// messages in a row.
	Misses    int    `json:"misses,omitempty"`
	Negatives int    `json:"negatives,omitempty"`
	Turns     int    `json:"turns"`
	Language  string `json:"language,omitempty"`
	// Last is the id of the last message answered, and LastOutput what
	// was answered, so that a retried turn answers the same.
	Last       int64   `json:"last,omitempty"`
	LastOutput *Output `json:"last_output,omitempty"`
}

// Option is a choice offered to the customer.
type Option struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Intent   string `json:"intent,omitempty"`
	Flow     string `json:"flow,omitempty"`
	Response string `json:"response,omitempty"`
	Handoff  bool   `json:"handoff,omitempty"`
	Value    string `json:"value,omitempty"`
}

// Input is one inbound message with its context.
type Input struct {
	Tenant       conversation.Tenant
	Conversation conversation.Conversation
	Contact      conversation.Contact
	Message      conversation.Message
	// Channel is where the answer goes; default the message's channel.
	Channel conversation.ChannelKind
	Now     time.Time
}

// Output is the bot's answer to one message.
type Output struct {
	Replies  [][]conversation.Part `json:"replies,omitempty"`
	Actions  []conversation.Action `json:"actions,omitempty"`
	Analysis conversation.Analysis `json:"analysis"`
	// Trace tells what the engine did, for people testing the bot.
	Trace Trace `json:"trace"`
}

// Trace is what the engine did in a turn.
type Trace struct {
	Intent     string            `json:"intent,omitempty"`
	Confidence float64           `json:"confidence,omitempty"`
	Flow       string            `json:"flow,omitempty"`
	Step       string            `json:"step,omitempty"`
	Slots      map[string]string `json:"slots,omitempty"`
	Events     []string          `json:"events,omitempty"`
}

// Env is what a turn may use beyond the bot and the state.
type Env struct {
	// Client calls HTTP actions; nil uses NewActionClient(false).
	Client *http.Client
	Logger *slog.Logger
}

// maxAnalyzed bounds the characters of a message the classifier and the
// extractors read; a longer message is still stored whole.
const maxAnalyzed = 1000

// While a flow waits for an answer, an intent interrupts it (and a
// request for a person pre-empts the answer) only when it is sure: this
// confident. So does an intent win over a knowledge article.
const (
	sureConfidence  = 0.6
	defaultAttempts = 3
	maxStepsPerTurn = 64
)

// Respond answers one message and updates st. It is deterministic for a
// given state, input and action results. A retried message (the same
// message id as the last one answered) gets the same answer again.
func (b *Bot) Respond(ctx context.Context, st *State, in Input, env Env) Output {
	if st.Last != 0 && st.Last == in.Message.ID && st.LastOutput != nil {
		return *st.LastOutput
	}
	if in.Channel == "" {
		in.Channel = in.Message.Channel
	}
	if in.Now.IsZero() {
		in.Now = time.Now()
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	if st.Slots == nil {
		st.Slots = map[string]string{}
	}
	t := &turn{b: b, st: st, in: in, env: env, ctx: ctx}
	t.rng = rand.New(rand.NewPCG(uint64(in.Message.ID), uint64(st.Turns)))
	t.run()

	st.Turns++
	st.Last = in.Message.ID
	t.out.Trace.Flow, t.out.Trace.Step = st.Flow, st.Step
	if len(st.Slots) > 0 {
		t.out.Trace.Slots = maps.Clone(st.Slots)
	}
	out := t.out
	st.LastOutput = &out
	return out
}

type turn struct {
	b   *Bot
	st  *State
	in  Input
	env Env
	ctx context.Context
	rng *rand.Rand
	out Output

	text    string
	payload string
	lang    string
	pred    nlu.Prediction
	ents    []entity.Match
	mood    sentiment.Result
	// options offered by this turn's replies
	offered []Option
	// nextOpen is said in the closed response: when the team answers.
	nextOpen string
	// kb is the knowledge search of the message, once searched.
	kb *kbHit
}

type kbHit struct {
	id    string
	score float64
}

// knowledge returns the article the message's words find, searching once
// per turn.
func (t *turn) knowledge() (string, float64) {
	if t.kb == nil {
		id, score := t.b.kb.search(t.text)
		t.kb = &kbHit{id, score}
	}
	return t.kb.id, t.kb.score
}

func (t *turn) event(format string, args ...any) {
	t.out.Trace.Events = append(t.out.Trace.Events, fmt.Sprintf(format, args...))
}

func (t *turn) run() {
	t.analyze()
	st := t.st
	prevOptions := st.Options
	defer func() {
		// Options live until the next reply with buttons, or a turn that
		// offers none.
		st.Options = t.offered
	}()

	// A person, when the customer is angry again and again.
	if t.mood.Label == sentiment.Negative {
		st.Negatives++
	} else if t.text != "" {
		st.Negatives = 0
	}
	// While a flow waits for an answer, an angry answer that fills the slot
	// goes on (complaints are seldom happy); one that does not, hands off.
	if t.angry() && !(st.Flow != "" && st.Waiting) {
		t.event("negative sentiment %d times in a row", st.Negatives)
		t.handoff("negative_sentiment")
		return
	}

	choice := t.choice(prevOptions)
	if choice != nil {
		t.event("chose %q", choice.ID)
	}

	if st.Flow != "" && st.Waiting {
		if t.continueFlow(choice) {
			return
		}
	}
	if choice != nil {
		t.choose(choice)
		return
	}
	// An article that matches the message's words wins over an intent the
	// classifier is not sure of.
	if t.sure() {
		t.intent(t.pred.Intent)
		return
	}
	if id, score := t.knowledge(); id != "" {
		t.event("knowledge %s (%.2f)", id, score)
		t.article(id)
		return
	}
	if t.understood() {
		t.intent(t.pred.Intent)
		return
	}
	t.misunderstood()
}

// analyze reads the message: text, language, sentiment, entities, intent.
func (t *turn) analyze() {
	var parts []string
	for _, p := range t.in.Message.Parts {
		if p.Payload != "" && t.payload == "" {
			t.payload = p.Payload
		}
		if p.Type == conversation.PartText && p.Text != "" {
			parts = append(parts, p.Text)
		}
	}
	text := strings.TrimSpace(strings.Join(parts, "\n"))
	if utf8.RuneCountInString(text) > maxAnalyzed {
		r := []rune(text)
		text = string(r[:maxAnalyzed])
	}
	t.text = text

	if t.payload != "" {
		// A click says nothing of the language.
		t.lang = t.knownLanguage()
	} else {
		t.lang = t.language()
	}
	t.mood = sentiment.Analyze(text, t.lang)
	if t.b.extractor != nil && text != "" {
		t.ents = t.b.extractor.Extract(text, t.lang, t.in.Now)
	}
	if hasWord(text) && t.payload == "" {
		t.pred = t.b.model.Classify(text)
		if t.pred.Intent == outOfScopeIntent {
			t.pred.Intent, t.pred.OutOfScope = "", true
		}
	} else {
		t.pred = nlu.Prediction{OutOfScope: true}
	}

	a := &t.out.Analysis
	a.Language = t.lang
	if !t.pred.OutOfScope {
		a.Intent, a.Confidence = t.pred.Intent, t.pred.Confidence
	} else {
		a.OutOfScope = t.text != ""
		a.Confidence = t.pred.Confidence
	}
	a.Sentiment, a.SentimentScore = string(t.mood.Label), t.mood.Score
	for _, m := range t.ents {
		a.Entities = append(a.Entities, conversation.EntityValue{Entity: m.Entity, Value: m.Value, Text: m.Text})
	}
	t.out.Trace.Intent, t.out.Trace.Confidence = a.Intent, t.pred.Confidence
	if t.pred.OutOfScope && len(t.pred.Ranking) > 0 {
		t.event("out of scope (best %s %.2f)", t.pred.Ranking[0].Intent, t.pred.Ranking[0].Confidence)
	}
}

// language picks the language of the answer: the message's when it is
// clear, else the conversation's so far, the contact's, the tenant's, the
// bot's first.
func (t *turn) language() string {
	langs := t.b.languages
	if l, conf := nlu.DetectLanguage(t.text); l != "" && conf >= 0.6 && slices.Contains(langs, l) {
		t.st.Language = l
		return l
	}
	return t.knownLanguage()
}

// knownLanguage is the conversation's language so far, else the
// contact's, the tenant's, or the bot's first.
func (t *turn) knownLanguage() string {
	langs := t.b.languages
	for _, l := range []string{t.st.Language, t.in.Contact.Language, t.in.Tenant.Language} {
		if slices.Contains(langs, l) {
			return l
		}
	}
	return langs[0]
}

// hasWord says s has a word of two letters or more: codes such as "A-77"
// and numbers carry no intent.
func hasWord(s string) bool {
	run := 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			run++
			if run >= 2 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// angry says the customer has been negative too many times in a row.
func (t *turn) angry() bool {
	p := t.b.policy.NegativeHandoffAfter
	return p > 0 && t.st.Negatives >= p
}

func (t *turn) understood() bool { return t.text != "" && !t.pred.OutOfScope && t.pred.Intent != "" }

// sure says the intent stands out: an answer to a question is taken for
// another intent only then.
func (t *turn) sure() bool {
	if !t.understood() {
		return false
	}
	return t.pred.Confidence >= sureConfidence && t.evidence(t.pred.Intent)
}

// evidence says the message shares a word with the intent's examples: a
// short text that only looks like them letter by letter ("slow" and
// "hello") is no evidence.
func (t *turn) evidence(intent string) bool {
	words := t.b.vocab[intent]
	norm := nlu.Normalize(t.text)
	if words["="+norm] {
		return true
	}
	for _, w := range strings.Fields(norm) {
		if len(w) >= 3 && words[w] {
			return true
		}
	}
	return false
}

// choice finds the offered option the message picks: by the button's id
// (a click), its number, or its title.
func (t *turn) choice(opts []Option) *Option {
	if len(opts) == 0 {
		return nil
	}
	if t.payload != "" {
		for i := range opts {
			if opts[i].ID == t.payload {
				return &opts[i]
			}
		}
	}
	if n, ok := optionNumber(t.text); ok && n >= 1 && n <= len(opts) {
		return &opts[n-1]
	}
	norm := nlu.Normalize(t.text)
	if norm == "" {
		return nil
	}
	for i := range opts {
		if nlu.Normalize(opts[i].Title) == norm || nlu.Normalize(opts[i].ID) == norm {
			return &opts[i]
		}
	}
	return nil
}

var numberWords = map[string]int{
	"uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9,
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
	"primero": 1, "primera": 1, "segundo": 2, "segunda": 2, "tercero": 3, "tercera": 3, "first": 1, "second": 2, "third": 3,
}

var optionPattern = regexp.MustCompile(`^(?:(?:la |el )?(?:opcion|option|numero|number|#)\s*)?(\w+)[.)]?$`)

// optionNumber reads an answer like "2", "2.", "opción 2", "dos".
func optionNumber(s string) (int, bool) {
	m := optionPattern.FindStringSubmatch(nlu.Normalize(s))
	if m == nil {
		return 0, false
	}
	if n, err := strconv.Atoi(m[1]); err == nil && len(m[1]) <= 2 {
		return n, true
	}
	n, ok := numberWords[m[1]]
	return n, ok
}

// continueFlow handles a message that answers the waiting step of the
// active flow. It returns false when the message is something else, for
// the caller to handle as outside the flow.
func (t *turn) continueFlow(choice *Option) bool {
	st := t.st
	f := t.b.flows[st.Flow]
	idx, ok := 0, false
	if f != nil {
		idx, ok = f.index[st.Step]
	}
	if !ok {
		// The bot was retrained without this flow or step.
		t.event("flow %s step %s no longer exists", st.Flow, st.Step)
		t.endFlow()
		return false
	}
	s := f.steps[idx]

	// A person, whenever asked for.
	if t.sure() && t.isHandoffIntent(t.pred.Intent) && choice == nil {
		t.intent(t.pred.Intent)
		return true
	}

	if s.Menu != "" {
		if choice == nil {
			return t.interrupt(s)
		}
		st.Waiting = false
		t.event("menu %s: %s", s.Menu, choice.ID)
		if choice.Response != "" || choice.Value != "" {
			if choice.Response != "" {
				t.say(choice.Response)
			}
			t.advance(s, f, idx)
			return true
		}
		t.endFlow()
		t.choose(choice)
		return true
	}

	// An ask.
	value, found := "", false
	if choice != nil && choice.Value != "" {
		value, found = choice.Value, true
	} else if choice != nil {
		// A navigation choice leaves the flow.
		t.endFlow()
		t.choose(choice)
		return true
	} else if t.b.slots[s.Ask].Entity == "text" && t.sure() && t.isDigression(t.pred.Intent) {
		// Free text takes any answer, but not a question the bot knows:
		// "¿cuál es el horario?" is no description.
		return t.interrupt(s)
	} else {
		value, found = t.slotValue(t.b.slots[s.Ask])
	}
	if found {
		t.setSlot(s.Ask, value)
		st.Waiting, st.Attempts = false, 0
		st.Misses = 0
		t.event("slot %s = %q", s.Ask, value)
		t.advance(s, f, idx)
		return true
	}
	if t.sure() && t.acts(t.pred.Intent) {
		return t.interrupt(s)
	}
	if id, _ := t.knowledge(); id != "" && t.b.slots[s.Ask].Entity != "text" {
		return t.interrupt(s)
	}
	if t.angry() {
		t.event("negative sentiment %d times in a row", st.Negatives)
		t.handoff("negative_sentiment")
		return true
	}
	st.Attempts++
	max := s.Attempts
	if max == 0 {
		max = defaultAttempts
	}
	t.event("invalid answer for %s (%d of %d)", s.Ask, st.Attempts, max)
	if st.Attempts >= max {
		t.handoff("flow_failed")
		return true
	}
	if s.Invalid != "" {
		t.say(s.Invalid)
	} else {
		t.say("invalid")
	}
	t.say(s.Prompt)
	return true
}

// interrupt answers a question asked in the middle of a flow and returns
// to the flow; an intent that starts something else leaves the flow.
func (t *turn) interrupt(s Step) bool {
	st := t.st
	intent := ""
	if t.understood() {
		intent = t.pred.Intent
	}
	article := ""
	if intent == "" {
		article, _ = t.knowledge()
	}
	if intent == "" && article == "" {
		if s.Menu != "" {
			st.Attempts++
			if st.Attempts >= defaultAttempts {
				t.handoff("flow_failed")
				return true
			}
			t.say(t.b.policy.Fallback)
			t.say(s.Menu)
			return true
		}
		return false
	}
	if intent != "" && !t.isDigression(intent) {
		t.event("left flow %s for %s", st.Flow, intent)
		t.endFlow()
		return false
	}
	st.Digressions++
	if max := t.b.policy.MaxDigressions; max >= 0 && st.Digressions > max {
		t.event("too many digressions; left flow %s", st.Flow)
		t.endFlow()
		return false
	}
	t.event("digression %d", st.Digressions)
	if intent != "" {
		t.intent(intent)
	} else {
		t.article(article)
	}
	t.say("resume")
	if s.Menu != "" {
		t.say(s.Menu)
	} else {
		t.say(s.Prompt)
	}
	return true
}

func (t *turn) isDigression(intent string) bool {
	if a, ok := strings.CutPrefix(intent, faqPrefix); ok {
		return t.b.articles[a] != nil
	}
	in := t.b.intents[intent]
	if in == nil {
		return false
	}
	if in.Digression != nil {
		return *in.Digression
	}
	return in.Response != "" && in.Flow == "" && !in.Handoff && in.Action == ""
}

// acts says an intent does something by itself; intents that only flows
// branch on ("yes", "no") never interrupt a question.
func (t *turn) acts(intent string) bool {
	if strings.HasPrefix(intent, faqPrefix) {
		return true
	}
	in := t.b.intents[intent]
	return in != nil && (in.Response != "" || in.Flow != "" || in.Handoff || in.Action != "")
}

func (t *turn) isHandoffIntent(intent string) bool {
	in := t.b.intents[intent]
	return in != nil && (in.Handoff || in.Action == actionHandoff)
}

// slotValue finds a slot's value in the message and validates it.
func (t *turn) slotValue(s *compiledSlot) (string, bool) {
	if s == nil {
		return "", false
	}
	var candidates []string
	if s.Entity == "text" {
		if t.text != "" {
			candidates = append(candidates, t.text)
		}
	} else {
		for _, m := range t.ents {
			if m.Entity == s.Entity {
				candidates = append(candidates, m.Value)
			}
		}
	}
	for _, v := range candidates {
		n := utf8.RuneCountInString(v)
		if s.MinLength > 0 && n < s.MinLength || s.MaxLength > 0 && n > s.MaxLength {
			continue
		}
		if s.pattern != nil && !s.pattern.MatchString(v) {
			continue
		}
		return v, true
	}
	return "", false
}

// intent does what an intent says.
func (t *turn) intent(name string) {
	st := t.st
	st.Misses = 0
	t.out.Analysis.Intent = name
	if a, ok := strings.CutPrefix(name, faqPrefix); ok {
		t.article(a)
		return
	}
	in := t.b.intents[name]
	if in == nil {
		t.misunderstood()
		return
	}
	switch {
	case in.Handoff:
		t.handoff("requested")
	case in.Flow != "":
		t.startFlow(in.Flow)
	case in.Action != "":
		t.action(in.Action, Step{})
	case in.Response != "":
		t.say(in.Response)
	default:
		// An intent that only flows branch on says nothing by itself.
		t.say(t.b.policy.Fallback)
	}
}

// choose does what an offered option says.
func (t *turn) choose(o *Option) {
	t.st.Misses = 0
	switch {
	case o.Handoff:
		t.handoff("requested")
	case o.Intent != "":
		t.intent(o.Intent)
	case o.Flow != "":
		t.startFlow(o.Flow)
	case o.Response != "":
		t.say(o.Response)
	case t.b.intents[o.ID] != nil:
		t.intent(o.ID)
	default:
		t.misunderstood()
	}
}

func (t *turn) article(id string) {
	a := t.b.articles[id]
	if a == nil {
		t.misunderstood()
		return
	}
	t.st.Misses = 0
	t.out.Analysis.Intent = faqPrefix + id
	t.reply([]conversation.Part{conversation.TextPart(t.fill(t.localized(a.Answer)))})
}

// misunderstood counts a misunderstanding and says the fallback, or hands
// off when the policy says so.
func (t *turn) misunderstood() {
	st := t.st
	st.Misses++
	if t.mood.Label == sentiment.Negative {
		st.Misses++ // an angry customer reaches a person sooner
	}
	p := t.b.policy
	switch {
	case t.text != "" && p.OutOfScope == "handoff":
		t.event("out of scope: handoff")
		t.handoff("out_of_scope")
	case p.HandoffAfter > 0 && st.Misses >= p.HandoffAfter:
		t.event("misunderstood %d times", st.Misses)
		t.handoff("misunderstood")
	default:
		t.say(p.Fallback)
	}
}

func (t *turn) startFlow(name string) {
	st := t.st
	f := t.b.flows[name]
	if f == nil || len(f.steps) == 0 {
		t.misunderstood()
		return
	}
	st.Fresh = nil
	st.Flow, st.Step, st.Waiting, st.Attempts, st.Digressions = name, f.steps[0].ID, false, 0, 0
	t.event("flow %s", name)
	// Entities of the message that starts the flow fill its slots at once,
	// replacing values of earlier flows: "el saldo de la cuenta 12345678"
	// needs no question, nor does a second case number asked about.
	for _, s := range f.steps {
		if s.Ask == "" || slices.Contains(st.Fresh, s.Ask) {
			continue
		}
		if sl := t.b.slots[s.Ask]; sl != nil && sl.Entity != "text" {
			if v, ok := t.slotValue(sl); ok {
				t.setSlot(s.Ask, v)
				t.event("slot %s = %q", s.Ask, v)
			}
		}
	}
	t.runFlow()
}

func (t *turn) endFlow() {
	st := t.st
	st.Flow, st.Step, st.Waiting, st.Attempts, st.Digressions, st.Fresh = "", "", false, 0, 0, nil
}

// advance moves past step s (at idx) and runs the flow on.
func (t *turn) advance(s Step, f *compiledFlow, idx int) {
	next := s.Next
	if next == "" && idx+1 < len(f.steps) {
		next = f.steps[idx+1].ID
	}
	if next == "" {
		t.endFlow()
		return
	}
	t.st.Step = next
	t.runFlow()
}

// runFlow runs steps until one waits for the customer or the flow ends.
func (t *turn) runFlow() {
	st := t.st
	for range maxStepsPerTurn {
		if st.Flow == "" {
			return
		}
		f := t.b.flows[st.Flow]
		idx, ok := f.index[st.Step]
		if !ok {
			t.endFlow()
			return
		}
		s := f.steps[idx]
		next := s.Next
		if next == "" && idx+1 < len(f.steps) {
			next = f.steps[idx+1].ID
		}
		switch {
		case s.Ask != "":
			if st.Slots[s.Ask] != "" && (s.Skip || slices.Contains(st.Fresh, s.Ask)) {
				break // already known
			}
			t.say(s.Prompt)
			st.Waiting = true
			return
		case s.Menu != "":
			t.say(s.Menu)
			st.Waiting = true
			return
		case s.End:
			if s.Say != "" {
				t.say(s.Say)
			}
			t.endFlow()
			return
		case s.Set != nil:
			for _, k := range sortedKeys(s.Set) {
				t.setSlot(k, t.fill(s.Set[k]))
			}
		case s.Branch != nil:
			next = s.Default
			if next == "" && idx+1 < len(f.steps) {
				next = f.steps[idx+1].ID
			}
			for _, c := range s.Branch {
				if t.holds(c) {
					next = c.Goto
					break
				}
			}
		case s.Action != "":
			if !t.action(s.Action, s) {
				if s.OnError != "" {
					next = s.OnError
					break
				}
				t.say("action_failed")
				t.handoff("action_failed")
				return
			}
			if st.Flow == "" {
				return // the action handed off
			}
		case s.Handoff != "":
			if s.Say != "" {
				t.say(s.Say)
			}
			t.handoff(s.Handoff)
			return
		case s.CreateCase != "":
			t.createCase(s.CreateCase)
			if s.Say != "" {
				t.say(s.Say)
			}
		case s.Say != "":
			t.say(s.Say)
		}
		if next == "" {
			t.endFlow()
			return
		}
		st.Step, st.Waiting, st.Attempts = next, false, 0
	}
	t.env.Logger.Warn("flow ran too many steps in one turn; ended it", "flow", st.Flow)
	t.endFlow()
}

// setSlot fills a slot, fresh for the active flow.
func (t *turn) setSlot(name, value string) {
	t.st.Slots[name] = value
	if !slices.Contains(t.st.Fresh, name) {
		t.st.Fresh = append(t.st.Fresh, name)
	}
}

func (t *turn) holds(c Case) bool {
	switch {
	case c.Intent != "":
		return t.out.Analysis.Intent == c.Intent
	case c.Filled != nil:
		return (t.st.Slots[c.Slot] != "") == *c.Filled
	default:
		return strings.EqualFold(nlu.Normalize(t.st.Slots[c.Slot]), nlu.Normalize(t.fill(c.Equals)))
	}
}

// action runs an action; it returns false when it failed.
func (t *turn) action(name string, s Step) bool {
	switch name {
	case actionHandoff:
		t.handoff("action")
		return true
	case actionCreateCase:
		t.createCase(s.CreateCase)
		return true
	}
	ac := ActionContext{
		Action: name, Tenant: t.in.Tenant, Conversation: t.in.Conversation, Contact: t.in.Contact,
		Message: t.in.Message, Channel: t.in.Channel, Intent: t.out.Analysis.Intent, Language: t.lang,
		Slots: maps.Clone(t.st.Slots),
	}
	var res ActionResult
	var err error
	switch {
	case t.b.actions[name] != nil:
		client := t.env.Client
		if client == nil {
			client = defaultActionClient
		}
		res, err = t.b.actions[name].run(t.ctx, client, ac)
	case t.b.custom[name] != nil:
		res, err = t.b.custom[name].Run(t.ctx, ac)
	default:
		err = fmt.Errorf("unknown action %q", name)
	}
	if err != nil {
		t.event("action %s failed: %v", name, err)
		t.env.Logger.Warn("bot action failed", "action", name, "conversation", t.in.Conversation.ID, "err", err)
		return false
	}
	t.event("action %s", name)
	for _, k := range sortedKeys(res.Slots) {
		t.setSlot(k, res.Slots[k])
	}
	if res.Say != "" {
		if t.b.responses[res.Say] == nil {
			t.env.Logger.Warn("bot action asked to say an unknown response", "action", name, "response", res.Say)
		} else {
			t.say(res.Say)
		}
	}
	return true
}

var defaultActionClient = NewActionClient(false)

// createCase asks the system to open a support case with the slots.
func (t *turn) createCase(kind string) {
	if kind == "" {
		kind = "peticion"
	}
	params := map[string]string{"type": kind, "language": t.lang, "channel": string(t.in.Channel)}
	if t.st.Flow != "" {
		params["flow"] = t.st.Flow
	}
	for k, v := range t.st.Slots {
		if _, reserved := params[k]; !reserved && t.flowUses(k) {
			params[k] = v
		}
	}
	t.event("create_case %s", kind)
	t.out.Actions = append(t.out.Actions, conversation.Action{Name: conversation.ActionCreateCase, Params: params})
}

// flowUses says a slot belongs to the active flow: one of its steps asks
// or sets it, or it was filled since the flow started. Outside a flow
// every slot does.
func (t *turn) flowUses(slot string) bool {
	f := t.b.flows[t.st.Flow]
	if f == nil || slices.Contains(t.st.Fresh, slot) {
		return true
	}
	for _, s := range f.steps {
		if _, set := s.Set[slot]; s.Ask == slot || set {
			return true
		}
	}
	return false
}

// handoff hands the conversation to a person: it says so (or, outside
// business hours, when the team will answer) and asks for the handoff.
func (t *turn) handoff(reason string) {
	st := t.st
	params := map[string]string{"reason": reason, "language": t.lang}
	if i := t.out.Analysis.Intent; i != "" {
		params["intent"] = i
	}
	if t.mood.Label != "" {
		params["sentiment"] = string(t.mood.Label)
	}
	if st.Flow != "" {
		params["flow"] = st.Flow
	}
	for k, v := range st.Slots {
		params["slot."+k] = v
	}
	if h := t.b.hours; h != nil && !h.open(t.in.Now) {
		next := h.nextOpen(t.in.Now)
		params["outside_hours"] = "true"
		if !next.IsZero() {
			params["next_open"] = next.UTC().Format(time.RFC3339)
		}
		t.nextOpen = describeOpen(next, t.in.Now, t.lang)
		t.say(t.b.def.BusinessHours.Closed)
	} else {
		t.say(t.b.policy.Handoff)
	}
	t.event("handoff (%s)", reason)
	t.out.Actions = append(t.out.Actions, conversation.Action{Name: conversation.ActionHandoff, Params: params})
	t.endFlow()
	st.Misses, st.Negatives, st.Slots = 0, 0, map[string]string{}
}

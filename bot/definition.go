package bot

// Definition is a client company's bot as it writes it: YAML files with
// intents, entities, slots, responses, flows, knowledge articles and the
// policies that tie them together. docs/bots.md describes every field and
// examples/bots holds a complete bot. Parse reads a definition and Compile
// checks it and trains its classifier.
type Definition struct {
	// Name names the bot, for people.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Languages the bot answers in, the first being the default.
	Languages []string `yaml:"languages,omitempty" json:"languages,omitempty"`
	// SmallTalk adds the built-in greet, thanks, bye and human intents
	// (with Spanish and English examples and answers) unless the definition
	// has intents of those names. Default true.
	SmallTalk *bool `yaml:"small_talk,omitempty" json:"small_talk,omitempty"`

	Policy        Policy         `yaml:"policy,omitempty" json:"policy,omitzero"`
	BusinessHours *BusinessHours `yaml:"business_hours,omitempty" json:"business_hours,omitempty"`

	Intents   []Intent             `yaml:"intents,omitempty" json:"intents,omitempty"`
	Entities  []Entity             `yaml:"entities,omitempty" json:"entities,omitempty"`
	Slots     map[string]Slot      `yaml:"slots,omitempty" json:"slots,omitempty"`
	Responses map[string]Responses `yaml:"responses,omitempty" json:"responses,omitempty"`
	Flows     []Flow               `yaml:"flows,omitempty" json:"flows,omitempty"`
	Actions   []ActionDef          `yaml:"actions,omitempty" json:"actions,omitempty"`
	Knowledge []Article            `yaml:"knowledge,omitempty" json:"knowledge,omitempty"`
	// OutOfScope are examples of messages the bot must not take for any
	// intent; they sharpen out-of-scope detection.
	OutOfScope Examples `yaml:"out_of_scope,omitempty" json:"out_of_scope,omitempty"`

	// keys are where each top-level field was given (the first file for
	// lists and maps).
	keys map[string]pos
}

// at returns where a top-level field was given.
func (d *Definition) at(key string) pos { return d.keys[key] }

// Policy says when the bot gives up and how it treats digressions.
type Policy struct {
	// Fallback is the response when the bot did not understand. Default:
	// the built-in "fallback" response.
	Fallback string `yaml:"fallback,omitempty" json:"fallback,omitempty"`
	// HandoffAfter is how many misunderstandings in a row hand the
	// conversation to a person. Default 2; 0 keeps the default, -1 never.
	HandoffAfter int `yaml:"handoff_after,omitempty" json:"handoff_after,omitempty"`
	// OutOfScope is what a message outside every intent and article does:
	// "fallback" (the default: counts as a misunderstanding) or "handoff"
	// (straight to a person).
	OutOfScope string `yaml:"out_of_scope,omitempty" json:"out_of_scope,omitempty"`
	// NegativeHandoffAfter is how many negative messages in a row hand the
	// conversation to a person. Default 2; -1 never. A negative message
	// also counts as a misunderstanding when the bot did not understand it.
	NegativeHandoffAfter int `yaml:"negative_handoff_after,omitempty" json:"negative_handoff_after,omitempty"`
	// MaxDigressions is how many unrelated questions a flow answers before
	// it is abandoned. Default 3.
	MaxDigressions int `yaml:"max_digressions,omitempty" json:"max_digressions,omitempty"`
	// Threshold overrides the out-of-scope threshold that training chooses
	// (0 to 1). Zero keeps the trained one.
	Threshold float64 `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	// Handoff is the response said when the conversation goes to a person.
	// Default: the built-in "handoff" response.
	Handoff string `yaml:"handoff,omitempty" json:"handoff,omitempty"`
}

// BusinessHours are when people answer. Outside them a handoff says the
// Closed response and the conversation waits in its queue.
type BusinessHours struct {
	// TimeZone is an IANA name; default the tenant's.
	TimeZone string `yaml:"time_zone,omitempty" json:"time_zone,omitempty"`
	// Week maps days ("mon", "tue", … or ranges like "mon-fri") to opening
	// spans like "08:00-18:00" (several separated by commas).
	Week map[string]string `yaml:"week" json:"week"`
	// Holidays are closed dates, "2026-12-25".
	Holidays []string `yaml:"holidays,omitempty" json:"holidays,omitempty"`
	// Closed is the response said on a handoff outside business hours.
	// Default: the built-in "closed" response.
	Closed string `yaml:"closed,omitempty" json:"closed,omitempty"`

	pos pos
}

// Intent is something a customer wants, learned from examples.
type Intent struct {
	Name     string   `yaml:"name" json:"name"`
	Examples Examples `yaml:"examples,omitempty" json:"examples,omitempty"`
	// What the intent does, at most one of Response, Flow, Handoff,
	// CreateCase and Action; none of them is allowed only for an intent
	// that flows branch on.
	Response string `yaml:"response,omitempty" json:"response,omitempty"`
	Flow     string `yaml:"flow,omitempty" json:"flow,omitempty"`
	Handoff  bool   `yaml:"handoff,omitempty" json:"handoff,omitempty"`
	Action   string `yaml:"action,omitempty" json:"action,omitempty"`
	// Digression marks an intent that may interrupt a flow: it is answered
	// and the flow resumes. Intents with only a Response are digressions
	// by default.
	Digression *bool `yaml:"digression,omitempty" json:"digression,omitempty"`

	pos pos
}

// Examples are example utterances by language ("es", "en"). In YAML a
// plain list is in the bot's first language.
type Examples map[string][]string

// Entity is a thing the bot extracts from messages: a list of values with
// synonyms, or a regular expression.
type Entity struct {
	Name   string       `yaml:"name" json:"name"`
	Values []EntityItem `yaml:"values,omitempty" json:"values,omitempty"`
	Regex  string       `yaml:"regex,omitempty" json:"regex,omitempty"`

	pos pos
}

// EntityItem is one value of a list entity.
type EntityItem struct {
	Value    string   `yaml:"value" json:"value"`
	Synonyms []string `yaml:"synonyms,omitempty" json:"synonyms,omitempty"`
}

// Slot is a named piece of data a flow collects.
type Slot struct {
	// Entity fills the slot: a built-in (number, email, phone, date, time)
	// or a definition's entity. "text" takes the whole message.
	Entity string `yaml:"entity" json:"entity"`
	// Pattern, when set, must match the whole value.
	Pattern string `yaml:"pattern,omitempty" json:"pattern,omitempty"`
	// MinLength and MaxLength bound the value's length in characters.
	MinLength int `yaml:"min_length,omitempty" json:"min_length,omitempty"`
	MaxLength int `yaml:"max_length,omitempty" json:"max_length,omitempty"`

	pos pos
}

// Responses are the alternatives of one response; the bot picks one at
// random among those for the customer's channel.
type Responses []Response

// Response is one alternative of a response. Text and button titles may
// use {slot} placeholders.
type Response struct {
	Text Localized `yaml:"text,omitempty" json:"text,omitempty"`
	// Channel limits the alternative to one channel kind (webchat, sms,
	// whatsapp, telegram, email, voice, api). Alternatives without a
	// channel are for every channel that has none of its own.
	Channel string   `yaml:"channel,omitempty" json:"channel,omitempty"`
	Buttons []Button `yaml:"buttons,omitempty" json:"buttons,omitempty"`
	Image   string   `yaml:"image,omitempty" json:"image,omitempty"`

	pos pos
}

// Button is a quick reply. On channels without buttons it becomes a
// numbered option ("1. Facturas"); the customer may answer with the number,
// the title or a click. What choosing it does is at most one of Intent,
// Flow, Response, Handoff or Value (the answer to the question being
// asked); with none, an ID that names an intent triggers that intent.
type Button struct {
	ID       string    `yaml:"id" json:"id"`
	Title    Localized `yaml:"title" json:"title"`
	Intent   string    `yaml:"intent,omitempty" json:"intent,omitempty"`
	Flow     string    `yaml:"flow,omitempty" json:"flow,omitempty"`
	Response string    `yaml:"response,omitempty" json:"response,omitempty"`
	Handoff  bool      `yaml:"handoff,omitempty" json:"handoff,omitempty"`
	Value    string    `yaml:"value,omitempty" json:"value,omitempty"`
}

// Localized is a text by language. In YAML a plain string is the same
// text in every language.
type Localized map[string]string

// Flow collects data step by step. Steps run in order unless a step says
// where to go next.
type Flow struct {
	Name  string `yaml:"name" json:"name"`
	Steps []Step `yaml:"steps" json:"steps"`

	pos pos
}

// Step is one step of a flow: exactly one of Ask, Say, Action, Set,
// Branch, Handoff, CreateCase, Menu or End.
type Step struct {
	// ID names the step for Next and Branch; default "step<N>".
	ID string `yaml:"id,omitempty" json:"id,omitempty"`

	// Ask collects a slot: it says Prompt (a response name), and reads the
	// next message. A value that does not validate says Invalid and asks
	// again, at most Attempts times (default 3), then hands off.
	Ask      string `yaml:"ask,omitempty" json:"ask,omitempty"`
	Prompt   string `yaml:"prompt,omitempty" json:"prompt,omitempty"`
	Invalid  string `yaml:"invalid,omitempty" json:"invalid,omitempty"`
	Attempts int    `yaml:"attempts,omitempty" json:"attempts,omitempty"`
	// Skip, on an ask, keeps a slot that is already filled.
	Skip bool `yaml:"skip_if_filled,omitempty" json:"skip_if_filled,omitempty"`

	// Say says a response.
	Say string `yaml:"say,omitempty" json:"say,omitempty"`
	// Action runs an action; its result may fill slots. OnError is the
	// step to go to when it fails (default: say the fallback and hand off).
	Action  string `yaml:"action,omitempty" json:"action,omitempty"`
	OnError string `yaml:"on_error,omitempty" json:"on_error,omitempty"`
	// Set sets slots to values (which may use {slot} placeholders).
	Set map[string]string `yaml:"set,omitempty" json:"set,omitempty"`
	// Branch goes to the first case that holds, else to Default (else on).
	Branch  []Case `yaml:"branch,omitempty" json:"branch,omitempty"`
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
	// Handoff hands the conversation to a person, with a reason.
	Handoff string `yaml:"handoff,omitempty" json:"handoff,omitempty"`
	// CreateCase opens a support case (PQR) of the given type (peticion,
	// queja, reclamo, sugerencia, felicitacion) with the flow's slots.
	CreateCase string `yaml:"create_case,omitempty" json:"create_case,omitempty"`
	// Menu says a response whose buttons are the options, and waits for
	// the choice.
	Menu string `yaml:"menu,omitempty" json:"menu,omitempty"`
	// End ends the flow (and says Say first if set).
	End bool `yaml:"end,omitempty" json:"end,omitempty"`

	// Next is the step after this one; default the following step, or the
	// end of the flow.
	Next string `yaml:"next,omitempty" json:"next,omitempty"`

	pos pos
}

// Case is one condition of a branch: on a slot's value, on whether a slot
// is filled, or on the intent of the last message.
type Case struct {
	Slot   string `yaml:"slot,omitempty" json:"slot,omitempty"`
	Equals string `yaml:"equals,omitempty" json:"equals,omitempty"`
	Filled *bool  `yaml:"filled,omitempty" json:"filled,omitempty"`
	Intent string `yaml:"intent,omitempty" json:"intent,omitempty"`
	Goto   string `yaml:"goto" json:"goto"`
}

// ActionDef declares an HTTP action: a signed POST to the client's
// endpoint with the conversation's context, whose JSON answer fills slots.
type ActionDef struct {
	Name string     `yaml:"name" json:"name"`
	HTTP HTTPAction `yaml:"http" json:"http"`

	pos pos
}

// HTTPAction is a call to a client's endpoint.
type HTTPAction struct {
	URL string `yaml:"url" json:"url"`
	// Timeout bounds the call, such as "3s"; default 5s, at most 30s.
	Timeout string `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Secret signs the request (X-Conversa-Signature: t=<unix>,v1=<hex
	// HMAC-SHA256 of "<unix>.<body>">).
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty"`
	// Result maps slots to fields of the JSON answer, as dotted paths
	// ("balance", "account.due_date").
	Result map[string]string `yaml:"result,omitempty" json:"result,omitempty"`
}

// Article is a knowledge (FAQ) article. Questions, when given, train the
// classifier like an intent's examples; the article is also found by its
// words when no intent matches.
type Article struct {
	ID        string    `yaml:"id" json:"id"`
	Title     Localized `yaml:"title" json:"title"`
	Questions Examples  `yaml:"questions,omitempty" json:"questions,omitempty"`
	Answer    Localized `yaml:"answer" json:"answer"`

	pos pos
}

// pos is where a thing was defined, for error messages.
type pos struct {
	file string
	line int
	// index is the thing's place in its file's list.
	index int
}

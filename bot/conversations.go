package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"conversa/conversation"
)

// TestSuite is a file of test conversations: what a customer says turn by
// turn, and what the bot must understand and answer. `conversa bot test`
// runs it and fails on any difference, so that retraining never silently
// breaks a conversation that worked.
type TestSuite struct {
	Tests []TestConversation `yaml:"tests"`
}

// TestConversation is one conversation of a test suite.
type TestConversation struct {
	Name string `yaml:"name"`
	// Channel is the customer's channel; default webchat.
	Channel string `yaml:"channel,omitempty"`
	// Language is the contact's language, for messages that tell none.
	Language string `yaml:"language,omitempty"`
	// Now is the clock of the conversation (RFC 3339), for business hours
	// and relative dates; default the time of the run.
	Now   string     `yaml:"now,omitempty"`
	Turns []TestTurn `yaml:"turns"`

	line int
}

// TestTurn is a customer message and what must follow.
type TestTurn struct {
	User string `yaml:"user,omitempty"`
	// Button is the id of a button the customer clicks.
	Button string `yaml:"button,omitempty"`
	// Intent is the intent the bot must recognize ("out_of_scope" for
	// none); empty checks nothing.
	Intent string `yaml:"intent,omitempty"`
	// Bot are texts the bot's replies must contain, in order (case and
	// accents matter).
	Bot []string `yaml:"bot,omitempty"`
	// Action is an action the turn must ask for (handoff, create_case);
	// "none" checks it asks for none.
	Action string `yaml:"action,omitempty"`
	// Slots are slot values that must hold after the turn.
	Slots map[string]string `yaml:"slots,omitempty"`

	line int
}

func (x *TestConversation) UnmarshalYAML(n *yaml.Node) error {
	type plain TestConversation
	x.line = n.Line
	return n.Decode((*plain)(x))
}

func (x *TestTurn) UnmarshalYAML(n *yaml.Node) error {
	type plain TestTurn
	x.line = n.Line
	return n.Decode((*plain)(x))
}

// ParseTests reads a test suite, rejecting unknown fields.
func ParseTests(name string, data []byte) (*TestSuite, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, DefinitionErrors{{File: name, Msg: "the file is empty"}}
		}
		return nil, DefinitionErrors{yamlError(name, err)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if errs := checkFields(name, "", root, reflect.TypeFor[TestSuite]()); len(errs) > 0 {
		return nil, errs
	}
	var s TestSuite
	if err := root.Decode(&s); err != nil {
		return nil, DefinitionErrors{yamlError(name, err)}
	}
	var errs DefinitionErrors
	for i, c := range s.Tests {
		field := fmt.Sprintf("tests[%d]", i)
		if c.Name == "" {
			errs = append(errs, &DefinitionError{File: name, Line: c.line, Field: field + ".name", Msg: "is required"})
		}
		if c.Now != "" {
			if _, err := time.Parse(time.RFC3339, c.Now); err != nil {
				errs = append(errs, &DefinitionError{File: name, Line: c.line, Field: field + ".now", Msg: "must be a time like 2026-11-23T10:00:00-05:00"})
			}
		}
		if len(c.Turns) == 0 {
			errs = append(errs, &DefinitionError{File: name, Line: c.line, Field: field + ".turns", Msg: "a test needs at least one turn"})
		}
		for j, t := range c.Turns {
			if (t.User == "") == (t.Button == "") {
				errs = append(errs, &DefinitionError{File: name, Line: t.line, Field: fmt.Sprintf("%s.turns[%d]", field, j), Msg: "a turn has either user or button"})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return &s, nil
}

// TestResult is the outcome of one test conversation.
type TestResult struct {
	Name     string
	Line     int
	Failures []string
	// Transcript is the conversation as it went.
	Transcript []string
}

// Passed says the conversation went as expected.
func (r TestResult) Passed() bool { return len(r.Failures) == 0 }

// RunTests runs every conversation of a suite against b, each from a
// fresh state, and returns their results.
func (b *Bot) RunTests(ctx context.Context, s *TestSuite, tenant conversation.Tenant, env Env) []TestResult {
	results := make([]TestResult, 0, len(s.Tests))
	for _, c := range s.Tests {
		results = append(results, b.runTest(ctx, c, tenant, env))
	}
	return results
}

func (b *Bot) runTest(ctx context.Context, c TestConversation, tenant conversation.Tenant, env Env) TestResult {
	res := TestResult{Name: c.Name, Line: c.line}
	now := time.Now()
	if c.Now != "" {
		now, _ = time.Parse(time.RFC3339, c.Now)
	}
	channel := conversation.ChannelKind(c.Channel)
	if channel == "" {
		channel = conversation.ChannelWebchat
	}
	contact := conversation.Contact{ID: 1, Name: "Test", Language: c.Language}
	conv := conversation.Conversation{ID: 1, State: conversation.StateBot, Channel: channel}
	var st State
	for i, tt := range c.Turns {
		part := conversation.TextPart(tt.User)
		shown := tt.User
		if tt.Button != "" {
			part = conversation.Part{Type: conversation.PartText, Text: tt.Button, Payload: tt.Button}
			shown = "[" + tt.Button + "]"
		}
		msg := conversation.Message{ID: int64(i + 1), Channel: channel, Direction: conversation.DirectionIn, Parts: []conversation.Part{part}}
		out := b.Respond(ctx, &st, Input{Tenant: tenant, Conversation: conv, Contact: contact, Message: msg, Channel: channel, Now: now.Add(time.Duration(i) * time.Minute)}, env)
		res.Transcript = append(res.Transcript, "> "+shown)
		said := RepliesText(out.Replies)
		for _, r := range said {
			res.Transcript = append(res.Transcript, "< "+r)
		}
		fail := func(format string, args ...any) {
			res.Failures = append(res.Failures, fmt.Sprintf("line %d, turn %d (%q): ", tt.line, i+1, shown)+fmt.Sprintf(format, args...))
		}
		if tt.Intent != "" {
			got := out.Analysis.Intent
			if got == "" {
				got = "out_of_scope"
			}
			if got != tt.Intent {
				fail("intent is %s (%.2f), want %s", got, out.Analysis.Confidence, tt.Intent)
			}
		}
		all := strings.Join(said, "\n")
		from := 0
		for _, want := range tt.Bot {
			k := strings.Index(all[from:], want)
			if k < 0 {
				fail("the bot did not say %q (it said %q)", want, all)
				break
			}
			from += k + len(want)
		}
		names := make([]string, 0, len(out.Actions))
		for _, a := range out.Actions {
			names = append(names, a.Name)
		}
		switch {
		case tt.Action == "none" && len(names) > 0:
			fail("asked for %v, want no action", names)
		case tt.Action != "" && tt.Action != "none" && !slices.Contains(names, tt.Action):
			fail("did not ask for %s (asked for %v)", tt.Action, names)
		}
		for _, k := range slices.Sorted(maps.Keys(tt.Slots)) {
			if got := st.Slots[k]; got != tt.Slots[k] {
				fail("slot %s is %q, want %q", k, got, tt.Slots[k])
			}
		}
	}
	return res
}

// RepliesText renders replies as text lines, buttons in brackets.
func RepliesText(replies [][]conversation.Part) []string {
	var out []string
	for _, parts := range replies {
		var b strings.Builder
		for _, p := range parts {
			if b.Len() > 0 {
				b.WriteString(" ")
			}
			switch p.Type {
			case conversation.PartMedia:
				if p.Media != nil {
					b.WriteString("[image " + p.Media.URL + "]")
				}
			default:
				b.WriteString(p.Text)
				for _, bt := range p.Buttons {
					b.WriteString(" [" + bt.Title + "]")
				}
			}
		}
		out = append(out, b.String())
	}
	return out
}

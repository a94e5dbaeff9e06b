package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"conversa/bot"
	"conversa/bot/nlu"
	"conversa/conversation"
	"conversa/handoff"
)

func botCmd(ctx context.Context, args []string, env environment) error {
	return subcommand(ctx, "bot", args, env, map[string]command{
		"train":    botTrainCmd,
		"eval":     botEvalCmd,
		"chat":     botChatCmd,
		"test":     botTestCmd,
		"import":   botImportCmd,
		"versions": botVersionsCmd,
		"activate": botActivateCmd,
		"rollback": botRollbackCmd,
	})
}

// readSource reads a bot definition: one YAML file, or every *.yaml and
// *.yml file of a folder (not its subfolders, where tests live).
func readSource(path string) (bot.Source, error) {
	if path == "" {
		return nil, errors.New("give the bot definition with -f (a YAML file or a folder of them)")
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		return bot.Source{filepath.Base(path): data}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	src := bot.Source{}
	for _, e := range entries {
		ext := filepath.Ext(e.Name())
		if e.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(path, e.Name()))
		if err != nil {
			return nil, err
		}
		src[e.Name()] = data
	}
	if len(src) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml files", path)
	}
	return src, nil
}

// botActions are the custom Go actions every bot may name: case_status
// tells a customer how their case (PQR) goes, with cases nil where there is
// no store (it then fails, and the flow takes its on_error); demo_balance
// is the example bot's stand-in for a billing system; set_preference
// changes the contact's communication preferences (prefs.go).
func botActions(cases *handoff.Cases) map[string]bot.Action {
	return map[string]bot.Action{
		"case_status":  caseStatusAction(cases),
		"demo_balance": bot.ActionFunc(demoBalance),
		// The server replaces it with one on its store.
		"set_preference": preferenceAction(nil),
	}
}

// caseStatusAction looks up the case whose number is in the slot radicado,
// if it is the contact's or the slot case_identity holds the email or
// document given when it was filed, and fills case_status, case_type and
// case_due in the conversation's language. A number that is not found, or
// another's case without the proof, fails alike.
func caseStatusAction(cases *handoff.Cases) bot.Action {
	return bot.ActionFunc(func(ctx context.Context, c bot.ActionContext) (bot.ActionResult, error) {
		if cases == nil {
			return bot.ActionResult{}, errors.New("no case store here")
		}
		k, err := cases.LookupVerified(ctx, c.Tenant.ID, c.Contact.ID, c.Slots["radicado"], c.Slots["case_identity"])
		if err != nil {
			return bot.ActionResult{}, err
		}
		return bot.ActionResult{Slots: map[string]string{
			"radicado":    k.Radicado,
			"case_status": handoff.StatusText(k.Status, c.Language),
			"case_type":   string(k.Type),
			"case_due":    handoff.DueText(k, c.Tenant, c.Language),
		}}, nil
	})
}

// botTenant is the tenant a bot is trained or tried for without a store:
// its language, region and time zone matter.
func botTenant(fs *flag.FlagSet) *conversation.Tenant {
	t := &conversation.Tenant{Slug: "local", Name: "local"}
	fs.StringVar(&t.Language, "language", "es", "the default language of the conversation")
	fs.StringVar(&t.Region, "region", "CO", "the country of local phone numbers")
	fs.StringVar(&t.TimeZone, "time-zone", "America/Bogota", "the time zone of dates and business hours")
	return t
}

func compileOptions(t conversation.Tenant) bot.CompileOptions {
	return bot.CompileOptions{Seed: 1, Actions: botActions(nil), Region: t.Region, TimeZone: t.TimeZone}
}

func botTrainCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("bot train", env)
	file := fs.String("f", "", "the bot definition: a YAML file or a folder of them")
	slug := fs.String("tenant", "", "the tenant to store the trained version for (without it, nothing is stored)")
	activate := fs.Bool("activate", false, "make the new version the tenant's bot")
	note := fs.String("note", "", "a note on the version, such as what changed")
	folds := fs.Int("folds", 5, "folds of the cross-validation (0 skips it)")
	minAcc := fs.Float64("min-accuracy", 0, "refuse to activate when the cross-validated accuracy is below this (0 to 1)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	src, err := readSource(*file)
	if err != nil {
		return err
	}
	if *slug == "" && *activate {
		return errors.New("--activate needs --tenant: the version to activate is a tenant's")
	}
	if *slug == "" {
		start := time.Now()
		tr, err := bot.Train(ctx, src, *folds, compileOptions(conversation.Tenant{Region: "CO", TimeZone: "America/Bogota"}))
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "trained in %s (nothing stored: give --tenant to store a version)\n", time.Since(start).Round(time.Millisecond))
		return printReport(env.stdout, tr.Report, *asJSON)
	}
	return withBotStore(ctx, load, *slug, func(store conversation.Store, bs bot.Store, t conversation.Tenant) error {
		e := bot.NewEngine(bs, store, store, bot.Config{Actions: botActions(nil), Folds: *folds})
		start := time.Now()
		v, tr, err := e.Train(ctx, t, src, *note)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "trained version %d of tenant %s in %s\n", v.Number, t.Slug, time.Since(start).Round(time.Millisecond))
		if err := printReport(env.stdout, tr.Report, *asJSON); err != nil {
			return err
		}
		if !*activate {
			fmt.Fprintf(env.stderr, "activate it with: conversa bot activate --tenant %s --version %d\n", t.Slug, v.Number)
			return nil
		}
		if tr.Report != nil && tr.Report.Accuracy < *minAcc {
			return fmt.Errorf("version %d was stored but not activated: accuracy %.3f is below --min-accuracy %.3f", v.Number, tr.Report.Accuracy, *minAcc)
		}
		if err := e.Activate(ctx, t, v.Number); err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "version %d is now the bot of tenant %s\n", v.Number, t.Slug)
		return nil
	})
}

func printReport(w io.Writer, r *nlu.Report, asJSON bool) error {
	if r == nil {
		return nil
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.WriteText(w)
}

func botEvalCmd(ctx context.Context, args []string, env environment) error {
	fs := flag.NewFlagSet("bot eval", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	file := fs.String("f", "", "the bot definition: a YAML file or a folder of them")
	folds := fs.Int("folds", 5, "folds of the cross-validation")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	t := botTenant(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *folds < 2 {
		return errors.New("--folds must be at least 2")
	}
	src, err := readSource(*file)
	if err != nil {
		return err
	}
	tr, err := bot.Train(ctx, src, *folds, compileOptions(*t))
	if err != nil {
		return err
	}
	return printReport(env.stdout, tr.Report, *asJSON)
}

// localBot trains a definition file, or loads a tenant's active version.
func localBot(ctx context.Context, file, slug string, load func() (Config, error), t *conversation.Tenant, stderr io.Writer) (*bot.Bot, func(), error) {
	if slug == "" {
		src, err := readSource(file)
		if err != nil {
			return nil, nil, err
		}
		tr, err := bot.Train(ctx, src, 0, compileOptions(*t))
		if err != nil {
			return nil, nil, err
		}
		return tr.Bot, func() {}, nil
	}
	cfg, err := load()
	if err != nil {
		return nil, nil, err
	}
	store, err := openStore(ctx, cfg, false)
	if err != nil {
		return nil, nil, err
	}
	tenant, err := store.TenantBySlug(ctx, slug)
	if err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("tenant %q: %w", slug, err)
	}
	*t = tenant
	e := bot.NewEngine(store, store, nil, bot.Config{Actions: botActions(handoff.NewCases(store, handoff.CasesConfig{}))})
	b, n, err := e.Bot(ctx, tenant)
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	if n == 0 {
		fmt.Fprintln(stderr, "tenant", slug, "has no trained bot; this is the built-in one")
	}
	return b, func() { store.Close() }, nil
}

func botChatCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("bot chat", env)
	file := fs.String("f", "", "the bot definition: a YAML file or a folder of them")
	slug := fs.String("tenant", "", "talk to this tenant's active bot instead of a file")
	channel := fs.String("channel", "webchat", "the channel to render for (webchat, sms, voice, …)")
	verbose := fs.Bool("v", true, "show the intent, confidence, flow and slots of each turn")
	t := botTenant(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	b, closeFn, err := localBot(ctx, *file, *slug, load, t, env.stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	return chat(ctx, b, *t, conversation.ChannelKind(*channel), stdinOf(env), env.stdout, *verbose)
}

// chat is a terminal conversation with a bot: a line in, the replies out.
func chat(ctx context.Context, b *bot.Bot, tenant conversation.Tenant, channel conversation.ChannelKind, in io.Reader, out io.Writer, verbose bool) error {
	fmt.Fprintln(out, "Write to the bot; an empty line or Ctrl-D ends. /button ID clicks a button.")
	var st bot.State
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	contact := conversation.Contact{ID: 1, Name: "Terminal", Language: tenant.Language}
	for id := int64(1); ; id++ {
		fmt.Fprint(out, "> ")
		if !sc.Scan() {
			fmt.Fprintln(out)
			return sc.Err()
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			return nil
		}
		part := conversation.TextPart(line)
		if btn, ok := strings.CutPrefix(line, "/button "); ok {
			part = conversation.Part{Type: conversation.PartText, Text: btn, Payload: strings.TrimSpace(btn)}
		}
		msg := conversation.Message{ID: id, Channel: channel, Direction: conversation.DirectionIn, Parts: []conversation.Part{part}}
		o := b.Respond(ctx, &st, bot.Input{Tenant: tenant, Contact: contact, Conversation: conversation.Conversation{ID: 1, Channel: channel}, Message: msg, Channel: channel}, bot.Env{})
		if verbose {
			a := o.Analysis
			intent := a.Intent
			if intent == "" {
				intent = "(none)"
			}
			fmt.Fprintf(out, "  [%s %.2f, %s, %s", intent, a.Confidence, a.Language, a.Sentiment)
			if o.Trace.Flow != "" {
				fmt.Fprintf(out, ", flow %s/%s", o.Trace.Flow, o.Trace.Step)
			}
			if len(o.Trace.Slots) > 0 {
				fmt.Fprintf(out, ", slots %v", o.Trace.Slots)
			}
			for _, ev := range o.Trace.Events {
				fmt.Fprintf(out, "; %s", ev)
			}
			fmt.Fprintln(out, "]")
		}
		for _, r := range bot.RepliesText(o.Replies) {
			fmt.Fprintln(out, "bot:", r)
		}
		for _, a := range o.Actions {
			fmt.Fprintf(out, "  → action %s %v\n", a.Name, a.Params)
		}
	}
}

func botTestCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("bot test", env)
	file := fs.String("f", "", "the bot definition: a YAML file or a folder of them")
	slug := fs.String("tenant", "", "test this tenant's active bot instead of a file")
	verbose := fs.Bool("v", false, "print the transcript of every conversation")
	t := botTenant(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("give one or more test files after the flags")
	}
	b, closeFn, err := localBot(ctx, *file, *slug, load, t, env.stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	failed, total := 0, 0
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		suite, err := bot.ParseTests(filepath.Base(path), data)
		if err != nil {
			return err
		}
		for _, r := range b.RunTests(ctx, suite, *t, bot.Env{}) {
			total++
			status := "ok  "
			if !r.Passed() {
				status = "FAIL"
				failed++
			}
			fmt.Fprintf(env.stdout, "%s %s:%d %s\n", status, filepath.Base(path), r.Line, r.Name)
			for _, f := range r.Failures {
				fmt.Fprintln(env.stdout, "     ", f)
			}
			if *verbose || !r.Passed() {
				for _, line := range r.Transcript {
					fmt.Fprintln(env.stdout, "       ", line)
				}
			}
		}
	}
	fmt.Fprintf(env.stdout, "%d of %d conversations passed\n", total-failed, total)
	if failed > 0 {
		return fmt.Errorf("%d test conversations failed", failed)
	}
	return nil
}

func botImportCmd(ctx context.Context, args []string, env environment) error {
	fs := flag.NewFlagSet("bot import", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	var rasa stringList
	fs.Var(&rasa, "rasa", "a Rasa nlu.yml file (repeatable)")
	domain := fs.String("domain", "", "the Rasa domain.yml file")
	csvFile := fs.String("csv", "", "a CSV file of utterance,intent[,language] rows")
	lang := fs.String("language", "es", "the language of the examples")
	out := fs.String("o", "", "write the definition to this file (default: standard output)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var def *bot.Definition
	switch {
	case len(rasa) > 0 && *csvFile != "":
		return errors.New("give --rasa or --csv, not both")
	case len(rasa) > 0:
		files := map[string][]byte{}
		for _, p := range rasa {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[filepath.Base(p)] = data
		}
		var dom []byte
		if *domain != "" {
			var err error
			if dom, err = os.ReadFile(*domain); err != nil {
				return err
			}
		}
		d, warnings, err := bot.ImportRasa(files, dom, *lang)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintln(env.stderr, "warning:", w)
		}
		def = d
	case *csvFile != "":
		f, err := os.Open(*csvFile)
		if err != nil {
			return err
		}
		defer f.Close()
		if def, err = bot.ImportCSV(filepath.Base(*csvFile), f, *lang); err != nil {
			return err
		}
	default:
		return errors.New("give --rasa nlu.yml [--domain domain.yml] or --csv file.csv")
	}
	data, err := bot.MarshalDefinition(def)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = env.stdout.Write(data)
		return err
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "wrote %s (%d intents); check it with: conversa bot eval -f %s\n", *out, len(def.Intents), *out)
	return nil
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// withBotStore is withTenant with the store's bot side.
func withBotStore(ctx context.Context, load func() (Config, error), slug string, fn func(conversation.Store, bot.Store, conversation.Tenant) error) error {
	return withTenant(ctx, load, slug, func(store conversation.Store, t conversation.Tenant) error {
		bs, ok := store.(bot.Store)
		if !ok {
			return errors.New("this store keeps no bots")
		}
		return fn(store, bs, t)
	})
}

func botVersionsCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("bot versions", env)
	slug := fs.String("tenant", "", "the tenant's slug")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withBotStore(ctx, load, *slug, func(_ conversation.Store, bs bot.Store, t conversation.Tenant) error {
		vs, err := bs.BotVersions(ctx, t.ID)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "VERSION\tACTIVE\tCREATED\tACTIVATED\tNOTE")
		for _, v := range vs {
			active, activated := "", "-"
			if v.Active {
				active = "*"
			}
			if !v.ActivatedAt.IsZero() {
				activated = v.ActivatedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", v.Number, active, v.CreatedAt.Format(time.RFC3339), activated, v.Note)
		}
		return w.Flush()
	})
}

func botActivateCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("bot activate", env)
	slug := fs.String("tenant", "", "the tenant's slug")
	number := fs.Int64("version", 0, "the version to activate")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withBotStore(ctx, load, *slug, func(store conversation.Store, bs bot.Store, t conversation.Tenant) error {
		e := bot.NewEngine(bs, store, nil, bot.Config{Actions: botActions(nil)})
		if err := e.Activate(ctx, t, *number); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "version %d is now the bot of tenant %s\n", *number, t.Slug)
		return nil
	})
}

func botRollbackCmd(ctx context.Context, args []string, env environment) error {
	fs, load := flags("bot rollback", env)
	slug := fs.String("tenant", "", "the tenant's slug")
	if err := parse(fs, args); err != nil {
		return err
	}
	return withBotStore(ctx, load, *slug, func(store conversation.Store, bs bot.Store, t conversation.Tenant) error {
		e := bot.NewEngine(bs, store, nil, bot.Config{Actions: botActions(nil)})
		n, err := e.Rollback(ctx, t)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "rolled back: version %d is again the bot of tenant %s\n", n, t.Slug)
		return nil
	})
}

// demoBalance is the example bot's custom action: a made-up balance and
// due date derived from the account number, in place of the company's
// billing system.
func demoBalance(_ context.Context, c bot.ActionContext) (bot.ActionResult, error) {
	acct := c.Slots["account_number"]
	if acct == "" {
		return bot.ActionResult{}, errors.New("no account number")
	}
	sum := 0
	for _, r := range acct {
		sum = sum*31 + int(r-'0')
	}
	balance := 40000 + (sum%2600)*100
	due := time.Now().AddDate(0, 0, 10)
	if c.Language == "en" {
		return bot.ActionResult{Slots: map[string]string{"balance": groupThousands(balance, ","), "due_date": due.Format("January 2")}}, nil
	}
	months := [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}
	return bot.ActionResult{Slots: map[string]string{
		"balance":  groupThousands(balance, "."),
		"due_date": strconv.Itoa(due.Day()) + " de " + months[due.Month()-1],
	}}, nil
}

func groupThousands(n int, sep string) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func stdinOf(env environment) io.Reader {
	if env.stdin == nil {
		return strings.NewReader("")
	}
	return env.stdin
}

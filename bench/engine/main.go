// Command engine measures a turn of the dialogue engine: the example bot
// (examples/bots/servicios) answers scripted conversations, and every
// turn is timed. A turn is the whole of bot.Bot.Respond: normalization,
// language detection, sentiment, entity extraction, classification, the
// flow step, actions, and rendering for the channel. A second run times
// bot.Engine.Respond on the embedded store, which adds reading and saving
// the dialogue state and recording the analysis on the message.
//
//	go run ./bench/engine [-conversations 2000] [-store=true]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"conversa/bench"
	"conversa/bot"
	"conversa/conversation"
	"conversa/examples"
	"conversa/storage/sqlite"
)

// script is one conversation of the benchmark: every kind of turn the
// engine takes (a flow with a wrong answer, a digression, entities, a
// knowledge answer, misunderstandings, a menu on SMS, English).
var scripts = [][]string{
	{"¿cuál es el saldo de mi factura?", "es la 123", "espera, ¿cuál es el horario de atención?", "12345678", "gracias"},
	{"hola", "quiero poner una queja", "me llegó la factura con un cobro doble del mes de octubre", "ana.perez@example.com", "chao"},
	{"necesito una visita técnica para el internet", "el 5 de diciembre", "¿qué documentos necesito para el cambio de titular?"},
	{"how much do I owe", "my account is 55512345", "how do I pay my bill", "thanks"},
	{"quiero pedir una pizza", "esto es una estafa, el servicio es pésimo"},
	{"menú", "2", "no tengo luz desde esta mañana"},
}

func main() {
	n := flag.Int("conversations", 2000, "conversations to run (each script in turn)")
	withStore := flag.Bool("store", true, "also time the engine on the embedded store")
	flag.Parse()
	if err := run(*n, *withStore); err != nil {
		fmt.Fprintln(os.Stderr, "engine:", err)
		os.Exit(1)
	}
}

func run(n int, withStore bool) error {
	ctx := context.Background()
	src, err := examples.Bot("servicios")
	if err != nil {
		return err
	}
	actions := map[string]bot.Action{
		"demo_balance": bot.ActionFunc(func(context.Context, bot.ActionContext) (bot.ActionResult, error) {
			return bot.ActionResult{Slots: map[string]string{"balance": "123.456", "due_date": "15 de diciembre"}}, nil
		}),
		"case_status": bot.ActionFunc(func(context.Context, bot.ActionContext) (bot.ActionResult, error) {
			return bot.ActionResult{Slots: map[string]string{"case_status": "en trámite", "case_type": "queja", "case_due": "24 de noviembre"}}, nil
		}),
	}
	opts := bot.CompileOptions{Seed: 1, Actions: actions, Region: "CO", TimeZone: "America/Bogota"}
	start := time.Now()
	tr, err := bot.Train(ctx, src, 0, opts)
	if err != nil {
		return err
	}
	train := time.Since(start)

	fmt.Println("== engine: a turn of the example bot")
	for _, line := range bench.Machine() {
		fmt.Println(line)
	}
	fmt.Printf("training the example bot (%d intents): %s\n\n", len(tr.Bot.Model().Intents()), train.Round(time.Millisecond))

	tenant := conversation.Tenant{ID: 1, Slug: "bench", Language: "es", Region: "CO", TimeZone: "America/Bogota"}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	turn := func(conv int, id int64, text string) bot.Input {
		ch := conversation.ChannelWebchat
		if conv%len(scripts) == 5 {
			ch = conversation.ChannelSMS
		}
		return bot.Input{
			Tenant:       tenant,
			Conversation: conversation.Conversation{ID: int64(conv + 1), TenantID: 1, State: conversation.StateBot, Channel: ch},
			Contact:      conversation.Contact{ID: int64(conv + 1), TenantID: 1},
			Message:      conversation.Message{ID: id, TenantID: 1, ConversationID: int64(conv + 1), Channel: ch, Direction: conversation.DirectionIn, Parts: []conversation.Part{conversation.TextPart(text)}},
			Channel:      ch,
			Now:          now,
		}
	}

	// Warm up, then time every turn.
	var lat []time.Duration
	id := int64(0)
	for round := range 2 {
		lat = lat[:0]
		for c := range n {
			var st bot.State
			for _, text := range scripts[c%len(scripts)] {
				id++
				in := turn(c, id, text)
				t0 := time.Now()
				tr.Bot.Respond(ctx, &st, in, bot.Env{})
				if round == 1 {
					lat = append(lat, time.Since(t0))
				}
			}
		}
	}
	s := bench.Summarize(lat)
	fmt.Printf("| %-34s | %6s | %9s | %9s | %9s | %9s |\n", "turn", "turns", "p50", "p90", "p99", "max")
	fmt.Printf("|%s|%s|%s|%s|%s|%s|\n", dashes(36), dashes(8), dashes(11), dashes(11), dashes(11), dashes(11))
	row := func(name string, s bench.Summary) {
		fmt.Printf("| %-34s | %6d | %9s | %9s | %9s | %9s |\n", name, s.N, bench.Ms(s.P50), bench.Ms(s.P90), bench.Ms(s.P99), bench.Ms(s.Max))
	}
	row("Bot.Respond (in memory)", s)

	if withStore {
		dir, err := os.MkdirTemp("", "conversa-bench-engine-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "bench.db")})
		if err != nil {
			return err
		}
		defer store.Close()
		t, err := store.CreateTenant(ctx, conversation.Tenant{Slug: "bench", Name: "Bench", Language: "es", Region: "CO", TimeZone: "America/Bogota"})
		if err != nil {
			return err
		}
		e := bot.NewEngine(store, store, store, bot.Config{Actions: actions, Folds: -1, Now: func() time.Time { return now }})
		v, _, err := e.Train(ctx, t, src, "bench")
		if err != nil {
			return err
		}
		if err := e.Activate(ctx, t, v.Number); err != nil {
			return err
		}
		acct, err := store.CreateChannelAccount(ctx, conversation.ChannelAccount{TenantID: t.ID, Kind: conversation.ChannelWebchat, Key: "bench-web", Name: "Bench"})
		if err != nil {
			return err
		}
		// Each message is stored first (not timed), as ingest does, so that
		// the engine reads and writes real rows.
		m := min(n, 300)
		lat = lat[:0]
		for c := range m {
			for k, text := range scripts[c%len(scripts)] {
				res, err := store.Ingest(ctx, []conversation.IngestRequest{{TenantID: t.ID, AccountID: acct.ID, Inbound: conversation.Inbound{
					Channel: conversation.ChannelWebchat, Account: acct.Key, From: fmt.Sprintf("visitor-%d", c),
					ProviderID: fmt.Sprintf("m-%d-%d", c, k), Parts: []conversation.Part{conversation.TextPart(text)},
				}}})
				if err != nil {
					return err
				}
				if res[0].Err != nil {
					return res[0].Err
				}
				t0 := time.Now()
				if _, err := e.Respond(ctx, conversation.Turn{Tenant: t, Conversation: res[0].Conversation, Message: res[0].Message}); err != nil {
					return err
				}
				lat = append(lat, time.Since(t0))
			}
		}
		row("Engine.Respond (SQLite state)", bench.Summarize(lat))
	}
	fmt.Printf("\ntarget: a turn p99 under 2 ms: %s (GOMAXPROCS %d)\n", verdict(s.P99 < 2*time.Millisecond), runtime.GOMAXPROCS(0))
	return nil
}

func dashes(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '-'
	}
	return string(b)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

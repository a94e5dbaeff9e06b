package bot

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"conversa/conversation"
	"conversa/examples"
)

// testActions stands in for cmd/conversa's demo_balance: the example bot's
// custom Go action.
func testActions() map[string]Action {
	return map[string]Action{
		"demo_balance": ActionFunc(func(_ context.Context, c ActionContext) (ActionResult, error) {
			if c.Slots["account_number"] == "" {
				return ActionResult{}, errors.New("no account")
			}
			return ActionResult{Slots: map[string]string{"balance": "123.456", "due_date": "15 de diciembre"}}, nil
		}),
		// case_status knows one case, PQR-2026-000123.
		"case_status": ActionFunc(func(_ context.Context, c ActionContext) (ActionResult, error) {
			if strings.ToUpper(strings.ReplaceAll(c.Slots["radicado"], " ", "-")) != "PQR-2026-000123" {
				return ActionResult{}, errors.New("not found")
			}
			return ActionResult{Slots: map[string]string{"radicado": "PQR-2026-000123", "case_status": "en trámite", "case_type": "queja", "case_due": "24 de noviembre de 2026"}}, nil
		}),
	}
}

var (
	exampleOnce sync.Once
	exampleBot  *Training
	exampleErr  error
)

// example trains the example bot once for all tests.
func example(t testing.TB) *Training {
	t.Helper()
	exampleOnce.Do(func() {
		src, err := examples.Bot("servicios")
		if err != nil {
			exampleErr = err
			return
		}
		exampleBot, exampleErr = Train(context.Background(), src, 3, CompileOptions{Seed: 1, Actions: testActions(), Region: "CO", TimeZone: "America/Bogota"})
	})
	if exampleErr != nil {
		t.Fatal(exampleErr)
	}
	return exampleBot
}

var testTenant = conversation.Tenant{ID: 1, Slug: "acme", Language: "es", Region: "CO", TimeZone: "America/Bogota"}

// TestExampleConversations runs the example bot's own test conversations:
// intents, flows with validation, digressions, handoffs, cases, menus on
// SMS, buttons, knowledge, entities and business hours.
func TestExampleConversations(t *testing.T) {
	tr := example(t)
	data, err := examples.Tests("servicios")
	if err != nil {
		t.Fatal(err)
	}
	suite, err := ParseTests("conversations.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(suite.Tests) < 10 {
		t.Fatalf("%d test conversations, want at least 10", len(suite.Tests))
	}
	for _, r := range tr.Bot.RunTests(context.Background(), suite, testTenant, Env{}) {
		t.Run(r.Name, func(t *testing.T) {
			if !r.Passed() {
				t.Errorf("%s\ntranscript:\n%s", strings.Join(r.Failures, "\n"), strings.Join(r.Transcript, "\n"))
			}
		})
	}
}

// TestRegressionIsCaught checks that the test runner fails when the bot
// answers differently: a test that cannot fail would prove nothing.
func TestRegressionIsCaught(t *testing.T) {
	tr := example(t)
	suite, err := ParseTests("t.yaml", []byte(`tests:
  - name: wrong expectations
    now: "2026-11-23T10:00:00-05:00"
    turns:
      - user: "¿cuál es el saldo de mi factura?"
        intent: pay_bill
        bot: ["this text is never said"]
        action: handoff
        slots: {account_number: "1"}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := tr.Bot.RunTests(context.Background(), suite, testTenant, Env{})[0]
	if len(r.Failures) != 4 {
		t.Fatalf("failures = %q, want 4 (intent, text, action, slot)", r.Failures)
	}
}

func say(t *testing.T, b *Bot, st *State, id int64, ch conversation.ChannelKind, text string) Output {
	t.Helper()
	msg := conversation.Message{ID: id, Channel: ch, Direction: conversation.DirectionIn, Parts: []conversation.Part{conversation.TextPart(text)}}
	return b.Respond(context.Background(), st, Input{Tenant: testTenant, Message: msg, Channel: ch, Now: monday10}, Env{})
}

var monday10 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("COT", -5*3600))

func TestRenderForChannel(t *testing.T) {
	b := example(t).Bot
	tests := []struct {
		ch   conversation.ChannelKind
		want string
	}{
		{conversation.ChannelSMS, "1. Consultar saldo\n2. Pagar factura"},
		{conversation.ChannelEmail, "1. Consultar saldo\n2. Pagar factura"},
		{conversation.ChannelVoice, "Marque 1 para Consultar saldo, 2 para Pagar factura"},
	}
	for _, tt := range tests {
		t.Run(string(tt.ch), func(t *testing.T) {
			var st State
			out := say(t, b, &st, 1, tt.ch, "menú")
			if len(out.Replies) != 1 || len(out.Replies[0]) != 1 || out.Replies[0][0].Type != conversation.PartText {
				t.Fatalf("replies = %+v, want one text", out.Replies)
			}
			if got := out.Replies[0][0].Text; !strings.Contains(got, tt.want) {
				t.Errorf("text = %q, want it to contain %q", got, tt.want)
			}
			// The number picks the option.
			out = say(t, b, &st, 2, tt.ch, "opción 2")
			if got := strings.Join(RepliesText(out.Replies), " "); !strings.Contains(got, "PSE") {
				t.Errorf("after choosing 2: %q", got)
			}
		})
	}
	t.Run("webchat keeps buttons", func(t *testing.T) {
		var st State
		out := say(t, b, &st, 1, conversation.ChannelWebchat, "show me the main menu")
		p := out.Replies[0][0]
		if p.Type != conversation.PartButtons || len(p.Buttons) != 5 || p.Buttons[0].ID != "check_balance" {
			t.Fatalf("part = %+v, want 5 buttons", p)
		}
		if got := p.Buttons[0].Title; got != "Check my balance" {
			t.Errorf("title = %q: the message was English", got)
		}
	})
	t.Run("voice alternative", func(t *testing.T) {
		var st State
		out := say(t, b, &st, 1, conversation.ChannelVoice, "cuál es el saldo de mi factura")
		if got := strings.Join(RepliesText(out.Replies), " "); !strings.Contains(got, "Diga o marque") {
			t.Errorf("voice prompt = %q, want the voice alternative", got)
		}
	})
}

func TestRetriedTurnAnswersTheSame(t *testing.T) {
	b := example(t).Bot
	var st State
	say(t, b, &st, 1, conversation.ChannelWebchat, "consultar mi saldo")
	first := say(t, b, &st, 2, conversation.ChannelWebchat, "12345678")
	turns := st.Turns
	again := say(t, b, &st, 2, conversation.ChannelWebchat, "12345678")
	a, _ := json.Marshal(first)
	c, _ := json.Marshal(again)
	if string(a) != string(c) || st.Turns != turns {
		t.Fatalf("retry answered %s, first %s (turns %d → %d)", c, a, turns, st.Turns)
	}
}

func TestEdgeInputs(t *testing.T) {
	b := example(t).Bot
	for _, text := range []string{"", "   ", "😀😀😀", "🤬🤬", strings.Repeat("factura ", 20000), "hola\x00\xff\xfe", "¿?¡!", "1234567890123456789012345678901234567890"} {
		var st State
		out := say(t, b, &st, 1, conversation.ChannelWebchat, text)
		if len(out.Replies) == 0 && len(out.Actions) == 0 {
			t.Errorf("%.40q: no answer at all", text)
		}
	}
	// Mixed languages answer in one of them.
	var st State
	out := say(t, b, &st, 1, conversation.ChannelWebchat, "hello, quiero pagar mi factura please")
	if l := out.Analysis.Language; l != "es" && l != "en" {
		t.Errorf("language = %q", l)
	}
}

func TestHTTPAction(t *testing.T) {
	secret := "s3cret"
	var got actionRequest
	var sig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig = r.Header.Get("X-Conversa-Signature")
		if err := json.Unmarshal(body, &got); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		ts := strings.TrimPrefix(strings.Split(sig, ",")[0], "t=")
		var sec int64
		if err := json.Unmarshal([]byte(ts), &sec); err != nil || Sign([]byte(secret), time.Unix(sec, 0), body) != sig {
			http.Error(w, "bad signature", 401)
			return
		}
		if got.Slots["order"] == "404" {
			http.Error(w, "no such order", 404)
			return
		}
		if got.Slots["order"] == "slow" {
			time.Sleep(2 * time.Second)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"order": {"status": "en camino", "items": [{"eta": 3}]}}`)
	}))
	defer srv.Close()

	def := `name: orders
intents:
  - name: track
    flow: track
    examples:
      es: [dónde está mi pedido, rastrear mi pedido, estado de mi pedido]
  - name: other
    response: other
    examples:
      es: [quiero pagar, medios de pago, cómo pago]
slots:
  order: {entity: text}
  status: {entity: text}
  eta: {entity: text}
responses:
  ask: [{text: "¿Número de pedido?"}]
  status: [{text: "Tu pedido {order} está {status}, llega en {eta} días."}]
  failed: [{text: "No encontré el pedido {order}."}]
  other: [{text: "Otro."}]
actions:
  - name: lookup
    http:
      url: ` + srv.URL + `/orders
      timeout: 1s
      secret: ` + secret + `
      result: {status: order.status, eta: order.items.0.eta}
flows:
  - name: track
    steps:
      - ask: order
        prompt: ask
      - action: lookup
        on_error: failed
      - say: status
        end: true
      - id: failed
        say: failed
        end: true
`
	tr, err := Train(context.Background(), Source{"orders.yaml": []byte(def)}, 0, CompileOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	run := func(client *http.Client, order string) string {
		var st State
		env := Env{Client: client}
		msg := func(id int64, text string) Input {
			return Input{Tenant: testTenant, Conversation: conversation.Conversation{ID: 7}, Channel: conversation.ChannelWebchat,
				Message: conversation.Message{ID: id, Parts: []conversation.Part{conversation.TextPart(text)}}}
		}
		tr.Bot.Respond(context.Background(), &st, msg(1, "dónde está mi pedido"), env)
		out := tr.Bot.Respond(context.Background(), &st, msg(2, order), env)
		return strings.Join(RepliesText(out.Replies), " ")
	}
	private := NewActionClient(true)
	if got := run(private, "A-77"); got != "Tu pedido A-77 está en camino, llega en 3 días." {
		t.Errorf("answer = %q", got)
	}
	if got.ConversationID != 7 || got.Action != "lookup" || got.Slots["order"] != "A-77" || got.Tenant != "acme" || !strings.HasPrefix(sig, "t=") {
		t.Errorf("request = %+v, signature %q", got, sig)
	}
	if ans := run(private, "404"); ans != "No encontré el pedido 404." {
		t.Errorf("on a 404: %q", ans)
	}
	if ans := run(private, "slow"); ans != "No encontré el pedido slow." {
		t.Errorf("on a timeout: %q", ans)
	}
	// The default client refuses loopback: a definition cannot reach the
	// network Conversa runs in.
	if ans := run(NewActionClient(false), "A-77"); ans != "No encontré el pedido A-77." {
		t.Errorf("with the public-only client: %q", ans)
	}
}

// TestCaseCarriesTheFlowsFields checks that create_case carries what its
// flow collected, and not the slots of earlier flows.
func TestCaseCarriesTheFlowsFields(t *testing.T) {
	b := example(t).Bot
	var st State
	var out Output
	for i, text := range []string{"cuál es el saldo de mi factura", "12345678", "quiero poner una queja", "me cobraron dos veces el mes pasado", "ana@example.com"} {
		out = say(t, b, &st, int64(i+1), conversation.ChannelWebchat, text)
	}
	if len(out.Actions) != 1 || out.Actions[0].Name != conversation.ActionCreateCase {
		t.Fatalf("actions %+v, want create_case", out.Actions)
	}
	p := out.Actions[0].Params
	if p["type"] != "queja" || p["email"] != "ana@example.com" || p["description"] != "me cobraron dos veces el mes pasado" || p["flow"] != "complaint" || p["language"] != "es" {
		t.Errorf("params %v", p)
	}
	for _, k := range []string{"balance", "due_date", "account_number"} {
		if _, ok := p[k]; ok {
			t.Errorf("params carry %s of the balance flow: %v", k, p)
		}
	}
}

// TestCaseStatusFlow asks for a case by its number, in the question, with
// the example bot's case_status action (stood in for by testActions).
func TestCaseStatusFlow(t *testing.T) {
	b := example(t).Bot
	var st State
	out := say(t, b, &st, 1, conversation.ChannelWebchat, "¿cómo va mi radicado PQR-2026-000123?")
	want := "Tu caso PQR-2026-000123 (queja) está en trámite. Recibirás respuesta a más tardar el 24 de noviembre de 2026."
	if got := strings.Join(RepliesText(out.Replies), "\n"); got != want {
		t.Fatalf("reply %q, want %q (trace %v)", got, want, out.Trace.Events)
	}
}

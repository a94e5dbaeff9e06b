package bot

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"conversa/conversation"
)

// flowBot exercises every kind of step: a menu, an ask with a button
// value, set, branch on a slot and on an intent, create_case, handoff,
// next and end.
const flowBot = `name: flows
languages: [es]
policy:
  max_digressions: 1
intents:
  - name: start
    flow: order
    examples: [quiero hacer un pedido, hacer un pedido nuevo, pedir productos]
  - name: hours
    response: hours
    examples: [cuál es el horario, a qué hora abren, horario de atención]
  - name: affirm
    examples: [sí, claro que sí, correcto, de acuerdo]
  - name: deny
    examples: [no, para nada, no gracias, negativo]
slots:
  size: {entity: text}
  qty: {entity: number, pattern: '[1-9][0-9]?'}
  kind: {entity: text}
  answer: {entity: text}
responses:
  menu:
    - text: "¿Qué quieres pedir?"
      buttons:
        - {id: pizza, title: Pizza, response: chose_pizza}
        - {id: human, title: Un asesor, handoff: true}
  chose_pizza: [{text: "Buena elección.", image: "https://example.com/pizza.png?v=2"}]
  ask_size:
    - text: "¿Tamaño?"
      buttons:
        - {id: s, title: Pequeña, value: pequeña}
        - {id: l, title: Grande, value: grande}
  ask_qty: [{text: "¿Cuántas?"}]
  bad_qty: [{text: "Entre 1 y 99."}]
  confirm: [{text: "¿Confirmas {qty} pizza(s) {size} de {kind}?"}]
  big: [{text: "Pedido grande: te llamará un asesor."}]
  done: [{text: "Pedido confirmado: {qty} {size}."}]
  cancelled: [{text: "Pedido cancelado."}]
  hours: [{text: "Abrimos de 8 a 18."}]
flows:
  - name: order
    steps:
      - id: what
        menu: menu
      - set: {kind: hawaiana}
      - id: size
        ask: size
        prompt: ask_size
      - id: qty
        ask: qty
        prompt: ask_qty
        invalid: bad_qty
        attempts: 2
      - branch:
          - {slot: qty, equals: "50", goto: big}
        default: confirm
      - id: big
        handoff: big_order
        say: big
      - id: confirm
        ask: answer
        prompt: confirm
      - branch:
          - {intent: affirm, goto: ok}
          - {intent: deny, goto: cancel}
      - id: ok
        create_case: peticion
        say: done
        next: end
      - id: cancel
        say: cancelled
      - id: end
        end: true
`

func TestFlowSteps(t *testing.T) {
	tr, err := Train(context.Background(), Source{"flows.yaml": []byte(flowBot)}, 0, CompileOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	type turn struct {
		user, button string
		want         []string // replies, each containing this text, in order
		action       string
		slot, value  string
	}
	tests := []struct {
		name  string
		turns []turn
	}{
		{"the whole order, by buttons and numbers", []turn{
			{user: "quiero hacer un pedido", want: []string{"¿Qué quieres pedir?"}},
			{button: "pizza", want: []string{"[image https://example.com/pizza.png?v=2] Buena elección.", "¿Tamaño?"}, slot: "kind", value: "hawaiana"},
			{user: "2", want: []string{"¿Cuántas?"}, slot: "size", value: "grande"},
			{user: "tres", want: []string{"¿Confirmas 3 pizza(s) grande de hawaiana?"}, slot: "qty", value: "3"},
			{user: "sí, claro", want: []string{"Pedido confirmado: 3 grande."}, action: conversation.ActionCreateCase},
		}},
		{"a branch on a slot hands off", []turn{
			{user: "hacer un pedido nuevo"},
			{user: "pizza", want: []string{"Buena elección."}},
			{user: "grande"},
			{user: "50", want: []string{"Pedido grande", "Te comunico"}, action: conversation.ActionHandoff},
		}},
		{"deny goes to the cancel step", []turn{
			{user: "pedir productos"},
			{button: "pizza"},
			{button: "s"},
			{user: "quiero 2"},
			{user: "no, para nada", want: []string{"Pedido cancelado."}},
		}},
		{"invalid answers end in a handoff after the attempts", []turn{
			{user: "pedir productos"},
			{button: "pizza"},
			{button: "s"},
			{user: "varias", want: []string{"Entre 1 y 99.", "¿Cuántas?"}},
			{user: "cien mil", action: conversation.ActionHandoff},
		}},
		{"one digression is answered, the second leaves the flow", []turn{
			{user: "pedir productos"},
			{button: "pizza"},
			{user: "cuál es el horario", want: []string{"Abrimos de 8 a 18.", "Sigamos", "¿Tamaño?"}},
			{user: "a qué hora abren", want: []string{"Abrimos de 8 a 18."}},
			{user: "grande", want: []string{"enten"}}, // the fallback: the flow is gone
		}},
		{"a menu button can hand off", []turn{
			{user: "quiero hacer un pedido"},
			{user: "un asesor", action: conversation.ActionHandoff},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st State
			for i, tu := range tt.turns {
				part := conversation.TextPart(tu.user)
				if tu.button != "" {
					part = conversation.Part{Type: conversation.PartText, Text: tu.button, Payload: tu.button}
				}
				out := tr.Bot.Respond(context.Background(), &st, Input{
					Tenant: testTenant, Channel: conversation.ChannelWebchat, Now: time.Now(),
					Message: conversation.Message{ID: int64(i + 1), Parts: []conversation.Part{part}},
				}, Env{})
				said := RepliesText(out.Replies)
				k := 0
				for _, w := range tu.want {
					for k < len(said) && !strings.Contains(said[k], w) {
						k++
					}
					if k == len(said) {
						t.Fatalf("turn %d (%q): replies %q lack %q in order (trace %v)", i+1, tu.user+tu.button, said, w, out.Trace.Events)
					}
				}
				names := []string{}
				for _, a := range out.Actions {
					names = append(names, a.Name)
				}
				if tu.action != "" && !slices.Contains(names, tu.action) {
					t.Fatalf("turn %d: actions %v, want %s", i+1, names, tu.action)
				}
				if tu.action == "" && len(names) > 0 {
					t.Fatalf("turn %d: unexpected actions %v", i+1, out.Actions)
				}
				if tu.slot != "" && st.Slots[tu.slot] != tu.value {
					t.Fatalf("turn %d: slot %s = %q, want %q", i+1, tu.slot, st.Slots[tu.slot], tu.value)
				}
				if tu.action == conversation.ActionCreateCase {
					p := out.Actions[0].Params
					if p["type"] != "peticion" || p["qty"] != "3" || p["size"] != "grande" || p["kind"] != "hawaiana" || p["answer"] != "sí, claro" {
						t.Fatalf("create_case params %v", p)
					}
				}
			}
		})
	}
}

func TestImageReply(t *testing.T) {
	tr, err := Train(context.Background(), Source{"flows.yaml": []byte(flowBot)}, 0, CompileOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	var st State
	in := func(id int64, p conversation.Part) Input {
		return Input{Tenant: testTenant, Channel: conversation.ChannelWhatsApp, Message: conversation.Message{ID: id, Parts: []conversation.Part{p}}}
	}
	tr.Bot.Respond(context.Background(), &st, in(1, conversation.TextPart("quiero hacer un pedido")), Env{})
	out := tr.Bot.Respond(context.Background(), &st, in(2, conversation.Part{Type: conversation.PartText, Text: "Pizza", Payload: "pizza"}), Env{})
	p := out.Replies[0][0]
	if p.Type != conversation.PartMedia || p.Media == nil || p.Media.URL != "https://example.com/pizza.png?v=2" || p.Media.ContentType != "image/png" {
		t.Fatalf("first part %+v, want the image", p)
	}
}

package main

import (
	"math/rand/v2"
	"slices"
	"time"
)

// The shape of the generated traffic: when conversations start, on which
// channels, what customers say and what goes wrong.

// hourWeights is the relative traffic of each hour of the day, in the
// tenant's time zone: quiet nights, a morning peak and an afternoon one.
var hourWeights = [24]float64{
	1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 3, 6, 8, 9, 9,
	7, 6, 8, 9, 8, 7, 5, 4, 3.5, 3, 2, 1.5,
}

// dayWeights is the relative traffic of each day of the week (Sunday
// first).
var dayWeights = [7]float64{0.35, 1, 1, 1, 1, 0.95, 0.6}

// timeline samples moments of [start, end) with the daily and hourly shape
// of a tenant's time zone, and a growth of a fifth over the window.
type timeline struct {
	start time.Time
	cum   []float64 // cumulative weight of each hour of the window
}

func newTimeline(start, end time.Time, loc *time.Location) *timeline {
	tl := &timeline{start: start}
	hours := int(end.Sub(start) / time.Hour)
	total := 0.0
	for h := range hours {
		t := start.Add(time.Duration(h) * time.Hour).In(loc)
		growth := 1 + 0.2*float64(h)/float64(hours)
		total += hourWeights[t.Hour()] * dayWeights[t.Weekday()] * growth
		tl.cum = append(tl.cum, total)
	}
	return tl
}

// at returns a moment of the window, drawn with the timeline's shape.
func (tl *timeline) at(rng *rand.Rand) time.Time {
	u := rng.Float64() * tl.cum[len(tl.cum)-1]
	h, _ := slices.BinarySearch(tl.cum, u)
	h = min(h, len(tl.cum)-1)
	return tl.start.Add(time.Duration(h)*time.Hour + time.Duration(rng.Int64N(int64(time.Hour))))
}

// channelMix is the share of conversations of each channel.
var channelMix = []struct {
	kind  string
	share float64
}{
	{"whatsapp", 0.45}, {"webchat", 0.22}, {"email", 0.10}, {"sms", 0.08}, {"telegram", 0.07}, {"api", 0.05}, {"voice", 0.03},
}

func pickChannel(rng *rand.Rand) string {
	return channelMix[pick(rng, len(channelMix), func(i int) float64 { return channelMix[i].share })].kind
}

// pick returns the index of one of n choices drawn by their shares, which
// sum to 1.
func pick(rng *rand.Rand, n int, share func(int) float64) int {
	u := rng.Float64()
	for i := range n {
		if u < share(i) {
			return i
		}
		u -= share(i)
	}
	return 0
}

// intents are what customers ask, with a few ways of asking it.
var intents = []struct {
	name    string
	weight  float64
	phrases []string
}{
	{"order_status", 0.24, []string{"¿Dónde está mi pedido?", "Hola, quisiera saber el estado de mi pedido", "Mi pedido no ha llegado", "¿Cuándo llega mi compra?"}},
	{"billing", 0.14, []string{"Me cobraron dos veces", "Necesito mi factura", "¿Por qué subió el valor de mi factura?"}},
	{"complaint", 0.10, []string{"Quiero poner una queja", "El servicio fue pésimo", "Estoy muy molesto con la atención"}},
	{"greeting", 0.14, []string{"Hola", "Buenos días", "Buenas tardes"}},
	{"goodbye", 0.09, []string{"Gracias, chao", "Listo, muchas gracias", "Eso era todo"}},
	{"opening_hours", 0.06, []string{"¿A qué hora abren?", "¿Atienden los domingos?"}},
	{"change_address", 0.05, []string{"Quiero cambiar la dirección de entrega", "Me mudé, ¿puedo cambiar la dirección?"}},
	{"cancel_order", 0.05, []string{"Quiero cancelar mi pedido", "Cancelen la compra por favor"}},
	{"talk_to_agent", 0.08, []string{"Quiero hablar con una persona", "Páseme con un asesor"}},
	{"refund", 0.05, []string{"Quiero que me devuelvan el dinero", "¿Cómo pido un reembolso?"}},
}

// unrecognized are messages the bot does not understand: the top of them
// is what a tenant trains next.
var unrecognized = []string{
	"el muchacho de la moto no me dejó nada", "necesito el certificado tributario", "¿venden tarjetas de regalo?",
	"mi perro se comió el control", "asdfgh", "¿tienen vacantes?", "el link no abre", "no me llega el código",
	"¿hacen envíos a Leticia?", "quiero ser distribuidor", "👍", "ok", "?", "la app se cierra sola",
}

func pickIntent(rng *rand.Rand) int {
	return pick(rng, len(intents), func(i int) float64 { return intents[i].weight })
}

// botReplies and agentReplies are the answers.
var (
	botReplies = []string{
		"Con gusto te ayudo. ¿Me das tu número de pedido?", "Tu pedido está en camino y llega mañana.",
		"Te envío la factura a tu correo.", "Atendemos de lunes a sábado de 8 a 18.",
		"No te entendí. ¿Puedes decirlo de otra forma?", "Te comunico con un asesor.",
	}
	agentReplies = []string{
		"Hola, soy tu asesor. Ya reviso tu caso.", "Listo, quedó registrado.", "Te confirmo que el reembolso está en proceso.",
		"¿Hay algo más en que te pueda ayudar?", "Ya escalé tu solicitud al área encargada.",
	}
)

// deliveryFailures are why outbound messages fail, by channel: the provider's
// code and message.
var deliveryFailures = map[string][][2]string{
	"whatsapp": {{"63016", "Failed to send freeform message because you are outside the allowed window"}, {"30008", "Unknown error"}, {"63003", "Channel could not find To address"}},
	"sms":      {{"30003", "Unreachable destination handset"}, {"30005", "Unknown destination handset"}, {"30007", "Message filtered"}},
	"telegram": {{"403", "Forbidden: bot was blocked by the user"}, {"400", "Bad Request: chat not found"}},
	"email":    {{"550", "5.1.1 mailbox unavailable"}, {"552", "5.2.2 mailbox full"}},
	"webchat":  {{"expired", "the widget session expired"}},
	"api":      {{"http_500", "webhook answered 500"}, {"timeout", "webhook timed out"}},
	"voice":    {{"busy", "the line was busy"}},
}

// caseTypes are the PQR types filed, with their share and term in
// business days.
var caseTypes = []struct {
	name  string
	share float64
	term  int
}{
	{"queja", 0.35, 15}, {"peticion", 0.25, 15}, {"reclamo", 0.20, 15}, {"consulta", 0.10, 30},
	{"informacion", 0.05, 10}, {"sugerencia", 0.03, 15}, {"felicitacion", 0.02, 15},
}

func pickCaseType(rng *rand.Rand) int {
	return pick(rng, len(caseTypes), func(i int) float64 { return caseTypes[i].share })
}

// zones are the tenants' time zones, in turn.
var zones = []string{"America/Bogota", "America/Bogota", "America/Mexico_City", "America/Lima", "America/Santiago", "Europe/Madrid"}

// names are contact and agent names.
var (
	firstNames = []string{"Ana", "Carlos", "María", "Juan", "Luisa", "Andrés", "Camila", "Jorge", "Valentina", "Diego", "Sofía", "Felipe"}
	lastNames  = []string{"Gómez", "Rodríguez", "López", "Martínez", "García", "Pérez", "Sánchez", "Ramírez", "Torres", "Díaz"}
)

func personName(n int) string {
	return firstNames[n%len(firstNames)] + " " + lastNames[(n/len(firstNames))%len(lastNames)]
}

// expDuration returns an exponentially distributed duration of the given
// mean, at least lo.
func expDuration(rng *rand.Rand, mean, lo time.Duration) time.Duration {
	return max(lo, time.Duration(rng.ExpFloat64()*float64(mean)))
}

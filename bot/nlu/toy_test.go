package nlu

// toy is a small bilingual bot, as a tenant would write it.
var toy = []Example{
	{"hola", "greet"},
	{"buenos días", "greet"},
	{"buenas tardes", "greet"},
	{"hola, qué tal", "greet"},
	{"hello", "greet"},
	{"hi there", "greet"},
	{"good morning", "greet"},
	{"hey, how are you", "greet"},

	{"adiós", "goodbye"},
	{"hasta luego", "goodbye"},
	{"nos vemos mañana", "goodbye"},
	{"chao, gracias", "goodbye"},
	{"bye", "goodbye"},
	{"goodbye", "goodbye"},
	{"see you later", "goodbye"},
	{"talk to you soon, bye", "goodbye"},

	{"quiero pagar mi factura", "billing"},
	{"cuánto debo este mes", "billing"},
	{"no entiendo el cobro de mi factura", "billing"},
	{"me cobraron dos veces", "billing"},
	{"I want to pay my bill", "billing"},
	{"how much do I owe this month", "billing"},
	{"I was charged twice on my invoice", "billing"},
	{"question about my bill", "billing"},

	{"perdí mi tarjeta", "card_lost"},
	{"me robaron la tarjeta de crédito", "card_lost"},
	{"bloquear mi tarjeta perdida", "card_lost"},
	{"no encuentro mi tarjeta", "card_lost"},
	{"I lost my card", "card_lost"},
	{"my credit card was stolen", "card_lost"},
	{"block my lost card", "card_lost"},
	{"I can't find my debit card", "card_lost"},
}

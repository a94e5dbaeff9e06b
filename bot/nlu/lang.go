package nlu

import (
	"bytes"
	"math"
	"strings"
)

// DetectLanguage guesses whether s is Spanish ("es") or English ("en") from
// a built-in profile of common words, word endings and Spanish-only
// characters, so that it works on short chat messages like "hola" or "I
// want to pay my bill". It returns "" with confidence 0 when s holds no
// evidence for either language, and otherwise the stronger language with a
// confidence between 0.5 (a tie broken by weak cues) and 1.
func DetectLanguage(s string) (lang string, confidence float64) {
	if len(s) > maxTextBytes {
		s = s[:maxTextBytes]
	}
	return detectLanguage(s, appendNormalized(nil, s))
}

// detectLanguage is DetectLanguage of s, whose normalized form is norm.
func detectLanguage(s string, norm []byte) (lang string, confidence float64) {
	var es, en float64
	if strings.ContainsAny(s, "ñÑ¿¡") {
		es += 2
	}
	if strings.ContainsAny(s, "áéíóúÁÉÍÓÚ") {
		es += 1
	}
	for len(norm) > 0 {
		w := norm
		if i := bytes.IndexByte(norm, ' '); i >= 0 {
			w, norm = norm[:i], norm[i+1:]
		} else {
			norm = nil
		}
		if v, ok := langWords[string(w)]; ok {
			es += v.es
			en += v.en
			continue
		}
		es += suffixScore(w, esEndings)
		en += suffixScore(w, enEndings)
	}
	total := es + en
	if total == 0 || es == en {
		return "", 0
	}
	lang, top := "es", es
	if en > es {
		lang, top = "en", en
	}
	// The share of the evidence, discounted when there is little of it.
	conf := top / total * (1 - math.Exp(-1.5*total))
	return lang, math.Max(0.5, math.Min(1, conf))
}

// suffixScore returns a small weight when w ends with one of the endings.
func suffixScore(w []byte, endings []string) float64 {
	if len(w) < 4 {
		return 0
	}
	for _, e := range endings {
		if len(w) >= len(e) && string(w[len(w)-len(e):]) == e {
			return 0.4
		}
	}
	return 0
}

var (
	esEndings = []string{"cion", "ciones", "mente", "ando", "iendo", "ado", "ada", "idos", "idas", "ario", "aria", "dad", "ito", "ita", "amos", "emos", "imos", "aron", "ieron", "ero", "era"}
	enEndings = []string{"ing", "tion", "tions", "ness", "ould", "ght", "ly", "ed", "ful", "less", "ship", "ment", "th", "ck", "sh", "ow", "ay", "ey"}
)

// langWord is how much a common word says for each language.
type langWord struct{ es, en float64 }

// langWords holds common words: function words, greetings and words of
// customer service chats, in their normalized spelling.
var langWords = func() map[string]langWord {
	m := map[string]langWord{}
	add := func(words string, es, en float64) {
		for _, w := range strings.Fields(words) {
			v := m[w]
			v.es = max(v.es, es)
			v.en = max(v.en, en)
			m[w] = v
		}
	}
	add(`el la los las lo le les de del al un una unos unas y e o u pero porque que quien
		cual cuales cuando donde como cuanto cuanta cuantos cuantas por para con sin sobre entre hasta desde
		mi mis tu tus su sus nuestro nuestra yo usted ustedes nosotros ellos ella es son esta estan estoy
		estas fue ser estar hay tengo tiene tienen tienes tenemos quiero quiere quisiera necesito necesita
		puedo puede puedes podria hacer hago hace muy mas menos tambien ya aun todavia aqui alli este esta
		esto ese esa eso estos esas nada algo todo todos bien mal si hola buenas buenos dias tardes noches
		gracias muchas adios chao chau hasta luego saludos favor ayuda ayudar ayudame hoy manana ayer ahora
		pagar pago factura cuenta tarjeta perdi perdido saldo pedido comprar compra precio cuesta envio
		dinero banco numero nombre correo telefono problema quiero cancelar cambiar hablar persona agente
		humano gustaria necesitamos vale claro listo genial perfecto se nos te me llamo decir dime sabes
		semana mes ano hora horas tiempo donde cita reservar mesa habitacion vuelo viaje clima tiempo`, 1, 0)
	add(`the an of to and or but because that which who whom whose when where why how what is are was
		were be been being am it its this these those there here my mine your yours our their his her we
		you they i me him them for with without about from into onto on at by up down out over under can
		could would should will shall may might must do does did done have has had want wants need needs
		please thanks thank hi hello hey bye goodbye yes yeah yep nope okay ok good morning afternoon
		evening night today tomorrow yesterday now help order orders bill pay payment invoice card lost
		account balance buy price cost shipping money bank number name email phone problem cancel change
		talk person agent human would like just get got know tell show find some any all very much more
		less also too not dont cant wont im ive id youre whats hows wheres thats lets if than then so as
		week month year hour time weather flight trip book table room set reminder alarm`, 0, 1)
	// Words both languages use count for neither.
	for w, v := range m {
		if v.es > 0 && v.en > 0 {
			delete(m, w)
		}
	}
	return m
}()

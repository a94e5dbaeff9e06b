package sentiment

import (
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

//go:embed lexicon/es.txt
var esLexicon string

//go:embed lexicon/en.txt
var enLexicon string

// Language bits.
const (
	es uint8 = 1 << iota
	en
)

// lexicon holds the valence of the words and phrases of one language.
type lexicon struct {
	words   map[string]float64
	phrases map[string][]phrase // by first word, longest first
}

type phrase struct {
	words []string
	v     float64
}

// lexicons are the Spanish and the English lexicon, in that order.
var lexicons = [2]*lexicon{mustParse("es", esLexicon), mustParse("en", enLexicon)}

func mustParse(name, text string) *lexicon {
	l, err := parseLexicon(text)
	if err != nil {
		panic(fmt.Sprintf("sentiment: lexicon/%s.txt: %v", name, err))
	}
	return l
}

// parseLexicon reads lines of a word or phrase and its valence; "#"
// starts a comment line.
func parseLexicon(text string) (*lexicon, error) {
	l := &lexicon{words: map[string]float64{}, phrases: map[string][]phrase{}}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cut := strings.LastIndexByte(line, ' ')
		if cut < 0 {
			return nil, fmt.Errorf("line %d: no valence", n+1)
		}
		v, err := strconv.ParseFloat(line[cut+1:], 64)
		if err != nil || v < -4 || v > 4 {
			return nil, fmt.Errorf("line %d: bad valence %q", n+1, line[cut+1:])
		}
		var words []string
		for _, t := range lex(line[:cut]) {
			if t.kind != tWord {
				return nil, fmt.Errorf("line %d: %q is not words", n+1, line[:cut])
			}
			words = append(words, t.w)
		}
		switch len(words) {
		case 0:
			return nil, fmt.Errorf("line %d: no words", n+1)
		case 1:
			l.words[words[0]] = v
		default:
			l.phrases[words[0]] = append(l.phrases[words[0]], phrase{words: words, v: v})
		}
	}
	for _, ps := range l.phrases {
		sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].words) > len(ps[j].words) })
	}
	return l, nil
}

type langFactor struct {
	f    float64
	lang uint8
}

// negators turn the valence of what follows them.
var negators = map[string]uint8{
	"no": es | en, "nunca": es, "jamas": es, "ni": es, "tampoco": es, "nada": es, "nadie": es,
	"ningun": es, "ninguno": es, "ninguna": es, "sin": es,
	"not": en, "never": en, "nothing": en, "nobody": en, "none": en, "neither": en, "nor": en, "without": en,
	"cannot": en, "hardly": en, "barely": en, "dont": en, "doesnt": en, "didnt": en, "isnt": en, "wasnt": en,
	"arent": en, "werent": en, "wont": en, "wouldnt": en, "shouldnt": en, "couldnt": en, "hasnt": en,
	"havent": en, "hadnt": en, "aint": en, "cant": en,
}

// boosters strengthen the sentiment word after them.
var boosters = map[string]langFactor{
	"muy": {1.4, es}, "super": {1.5, es | en}, "re": {1.4, es}, "recontra": {1.6, es}, "requete": {1.5, es},
	"demasiado": {1.5, es}, "tan": {1.3, es}, "tanto": {1.3, es}, "totalmente": {1.5, es},
	"completamente": {1.5, es}, "absolutamente": {1.5, es}, "extremadamente": {1.7, es}, "sumamente": {1.6, es},
	"realmente": {1.3, es}, "verdaderamente": {1.3, es}, "bastante": {1.25, es}, "increiblemente": {1.6, es},
	"mega": {1.5, es | en}, "ultra": {1.5, es | en}, "bien": {1.3, es}, "harto": {1.3, es}, "tremendo": {1.4, es},
	"tremenda": {1.4, es}, "terriblemente": {1.5, es}, "mucho": {1.2, es}, "muchisimo": {1.5, es},
	"pinche": {1.3, es}, "todo": {1.2, es},
	"very": {1.4, en}, "so": {1.3, en}, "extremely": {1.7, en}, "really": {1.3, en}, "totally": {1.5, en},
	"absolutely": {1.5, en}, "incredibly": {1.6, en}, "too": {1.3, en}, "completely": {1.5, en},
	"utterly": {1.6, en}, "truly": {1.3, en}, "highly": {1.4, en}, "most": {1.3, en}, "such": {1.3, en},
	"damn": {1.4, en}, "fucking": {1.6, en}, "freaking": {1.5, en}, "terribly": {1.5, en}, "awfully": {1.5, en},
	"seriously": {1.3, en}, "insanely": {1.6, en}, "especially": {1.2, en}, "quite": {1.2, en},
	"pretty": {1.2, en}, "exceptionally": {1.6, en}, "remarkably": {1.4, en}, "unbelievably": {1.6, en},
	"much": {1.2, en}, "way": {1.2, en}, "ridiculously": {1.5, en}, "hella": {1.5, en},
}

// dampeners weaken the sentiment word after them. "poco", "bit",
// "little", "tanto", "kind" and "sort" are handled with their neighbour.
var dampeners = map[string]langFactor{
	"algo": {0.7, es}, "medio": {0.7, es}, "ligeramente": {0.6, es}, "levemente": {0.6, es}, "casi": {0.7, es},
	"relativamente": {0.8, es}, "medianamente": {0.7, es},
	"slightly": {0.6, en}, "somewhat": {0.7, en}, "kinda": {0.6, en}, "sorta": {0.6, en}, "fairly": {0.8, en},
	"partly": {0.7, en}, "mildly": {0.6, en}, "marginally": {0.6, en}, "almost": {0.7, en}, "rather": {0.9, en},
	"tad": {0.7, en},
}

// contrasts weigh what follows them over what precedes them.
var contrasts = map[string]uint8{"pero": es, "but": en, "however": en, "although": en, "though": en}

// failWords say that something works, arrives or answers: neutral alone,
// negative when negated ("no funciona", "never works").
var failWords = func() map[string]uint8 {
	m := map[string]uint8{}
	for _, w := range strings.Fields(`funciona funcionan funciono funcionaba funcionado funcione sirve sirven sirvio
		servia servido sirva llega llegan llego llegaron llegado llegue responde responden respondio respondieron
		respondido contesta contestan contesto contestaron contestado ayuda ayudan ayudo ayudaron ayudado
		soluciona solucionan solucionaron arregla arreglan arreglaron arreglado resuelve resuelven resolvieron
		carga cargan abre abren prende enciende conecta anda andan sirvieron dejan deja`) {
		m[w] = es
	}
	for _, w := range strings.Fields(`work works working worked arrive arrives arrived respond responds responded
		answer answers answered help helps helped load loads loading connect connects connecting come came
		show showed shows turn turns start starts open opens reply replies replied`) {
		m[w] |= en
	}
	return m
}()

// between are the words that may stand between a negator and a fail
// word: "no me han respondido", "doesn't even work".
var between = map[string]bool{
	"me": true, "te": true, "se": true, "le": true, "les": true, "nos": true, "lo": true, "la": true, "los": true,
	"las": true, "ha": true, "han": true, "he": true, "has": true, "hemos": true, "habia": true, "ya": true,
	"aun": true, "todavia": true, "siquiera": true, "nunca": true, "mas": true,
	"it": true, "they": true, "you": true, "that": true, "this": true, "is": true, "are": true, "was": true,
	"were": true, "have": true, "had": true, "does": true, "do": true, "did": true, "even": true,
	"still": true, "ever": true, "really": true, "yet": true, "be": true, "been": true,
}

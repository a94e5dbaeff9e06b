package nlu

import (
	"math"
	"slices"
	"unicode/utf8"
)

// features describes how a normalized text becomes a vector: TF-IDF
// weights, with sublinear term frequency, of word n-grams (and, with
// Stems, of the words' stems and pairs of stems) and of character n-grams
// inside " word " (padded), each block scaled to unit length and then
// weighted.
type features struct {
	WordMax    int     // word n-grams of 1..WordMax words; 0 for none
	CharMin    int     // shortest character n-gram
	CharMax    int     // longest character n-gram; 0 for none
	CharWeight float64 // weight of the character block; the word block has 1
	Skip       bool    // add skip-bigrams (a word and the word after next)
	Stems      bool    // add the stem of each word and of each pair of words

	// Learned from the training texts.
	keys  []uint64         // feature hashes, by index
	idf   []float32        // by index
	index map[uint64]int32 // hash to index
}

// maxCharGram is the longest character n-gram a model may use.
const maxCharGram = 8

const (
	blockWord = 0
	blockChar = 1
	blocks    = 2
)

// hash64 is FNV-1a with a final mix.
type hash64 uint64

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func (h hash64) add(b []byte) hash64 {
	for _, c := range b {
		h ^= hash64(c)
		h *= fnvPrime
	}
	return h
}

func (h hash64) addByte(c byte) hash64 {
	h ^= hash64(c)
	h *= fnvPrime
	return h
}

// key returns the feature key of h in block: the block is the low bit.
func (h hash64) key(block uint64) uint64 {
	x := uint64(h)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x&^1 | block
}

// scratch holds the buffers of one vectorization; a sync.Pool keeps them.
type scratch struct {
	norm   []byte
	hashes []uint64
	offs   []int
	idx    []int32
	val    []float32
	scores []float64
	hidden []float32 // the network's hidden layer
	out    []float32 // the network's outputs
	// The words of the last text extracted, and how many of them the
	// model does not know (as word unigrams).
	words, unknown int
}

// extract appends the feature keys of the normalized text to s.hashes.
func (f *features) extract(s *scratch, text []byte) {
	s.hashes = s.hashes[:0]
	s.words, s.unknown = 0, 0
	// Words.
	var prev, prev2 []byte
	var prevStem stem
	for rest := text; len(rest) > 0; {
		w := rest
		if i := slices.Index(rest, ' '); i >= 0 {
			w, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if len(w) == 0 {
			continue
		}
		if f.WordMax >= 1 {
			h := hash64(fnvOffset).addByte('w').add(w).key(blockWord)
			s.hashes = append(s.hashes, h)
			if f.index != nil {
				s.words++
				if _, ok := f.index[h]; !ok {
					s.unknown++
				}
			}
		}
		if f.WordMax >= 2 && prev != nil {
			s.hashes = append(s.hashes, hash64(fnvOffset).addByte('b').add(prev).addByte(' ').add(w).key(blockWord))
		}
		if f.WordMax >= 3 && prev2 != nil {
			s.hashes = append(s.hashes, hash64(fnvOffset).addByte('t').add(prev2).addByte(' ').add(prev).addByte(' ').add(w).key(blockWord))
		}
		if f.Skip && prev2 != nil {
			s.hashes = append(s.hashes, hash64(fnvOffset).addByte('s').add(prev2).addByte(' ').add(w).key(blockWord))
		}
		if f.Stems {
			st := stemOf(w)
			s.hashes = append(s.hashes, st.add(hash64(fnvOffset).addByte('S')).key(blockWord))
			if prev != nil {
				s.hashes = append(s.hashes, st.add(prevStem.add(hash64(fnvOffset).addByte('B')).addByte(' ')).key(blockWord))
			}
			prevStem = st
		}
		prev2, prev = prev, w
		if f.CharMax > 0 {
			f.charGrams(s, w)
		}
	}
}

// charGrams appends the character n-grams of " w ".
func (f *features) charGrams(s *scratch, w []byte) {
	if len(w) > 64 {
		w = w[:64] // a word this long is noise; bound the work
	}
	// Rune offsets of " w ": offs[k] is where rune k starts.
	s.offs = s.offs[:0]
	s.offs = append(s.offs, -1) // the leading space
	for i := 0; i < len(w); {
		s.offs = append(s.offs, i)
		_, n := utf8.DecodeRune(w[i:])
		i += n
	}
	s.offs = append(s.offs, len(w)) // the trailing space
	runes := len(s.offs)
	for n := f.CharMin; n <= f.CharMax; n++ {
		for k := 0; k+n <= runes; k++ {
			h := hash64(fnvOffset).addByte('c')
			from, to := s.offs[k], len(w)
			if k+n < runes {
				to = s.offs[k+n]
			}
			if from < 0 {
				h = h.addByte(' ')
				from = 0
			}
			h = h.add(w[from:min(to, len(w))])
			if k+n == runes {
				h = h.addByte(' ')
			}
			s.hashes = append(s.hashes, h.key(blockChar))
		}
	}
}

// vectorize sets s.idx and s.val to the feature vector of the normalized
// text, leaving out features the model does not know.
func (f *features) vectorize(s *scratch, text []byte) {
	f.extract(s, text)
	slices.Sort(s.hashes)
	s.idx, s.val = s.idx[:0], s.val[:0]
	var norms [blocks]float64
	for i := 0; i < len(s.hashes); {
		j := i + 1
		for j < len(s.hashes) && s.hashes[j] == s.hashes[i] {
			j++
		}
		if k, ok := f.index[s.hashes[i]]; ok {
			v := float32((1 + math.Log(float64(j-i))) * float64(f.idf[k]))
			s.idx = append(s.idx, k)
			s.val = append(s.val, v)
			norms[s.hashes[i]&1] += float64(v) * float64(v)
		}
		i = j
	}
	f.scale(s, norms)
}

// scale makes each block of s unit length, then weights it.
func (f *features) scale(s *scratch, norms [blocks]float64) {
	var mul [blocks]float64
	weights := [blocks]float64{1, f.CharWeight}
	for b := range blocks {
		if norms[b] > 0 {
			mul[b] = weights[b] / math.Sqrt(norms[b])
		}
	}
	for i, k := range s.idx {
		s.val[i] = float32(float64(s.val[i]) * mul[f.keys[k]&1])
	}
}

// fit learns the vocabulary and the IDF of the texts (normalized), keeping
// features that occur in at least minDF texts.
func (f *features) fit(texts [][]byte, minDF int) {
	df := map[uint64]int32{}
	var s scratch
	for _, t := range texts {
		f.extract(&s, t)
		slices.Sort(s.hashes)
		for i, h := range s.hashes {
			if i == 0 || h != s.hashes[i-1] {
				df[h]++
			}
		}
	}
	keys := make([]uint64, 0, len(df))
	for h, n := range df {
		if int(n) >= minDF {
			keys = append(keys, h)
		}
	}
	slices.Sort(keys)
	f.keys = keys
	f.idf = make([]float32, len(keys))
	n := float64(len(texts))
	for i, h := range keys {
		f.idf[i] = float32(math.Log((n+1)/(float64(df[h])+1)) + 1)
	}
	f.buildIndex()
}

func (f *features) buildIndex() {
	f.index = make(map[uint64]int32, len(f.keys))
	for i, h := range f.keys {
		f.index[h] = int32(i)
	}
}

// stem is a word without its inflectional suffix: base, then y when the
// suffix was "ies" or "ied" ("companies" and "applied" give "company" and
// "apply").
type stem struct {
	base []byte
	y    bool
}

// stemSuffixes are the endings stemOf strips, the first that fits.
var stemSuffixes = []string{"ingly", "edly", "ings", "ing", "ies", "ied", "es", "ed", "ly", "s"}

// stemOf strips the first of stemSuffixes that w ends with, if at least
// three letters are left, then a final "e": "charge", "charged", "charges"
// and "charging" all give "charg"; "address" keeps its "ss". It is crude
// on purpose: a stem only has to be the same for the forms of a word, and
// the words themselves stay features too. Spanish plurals lose their "s"
// or "es" alike.
func stemOf(w []byte) stem {
	for _, suf := range stemSuffixes {
		n := len(w) - len(suf)
		if n < 3 || string(w[n:]) != suf {
			continue
		}
		if suf == "s" && w[n-1] == 's' {
			return stem{base: w}
		}
		w = w[:n]
		if suf == "ies" || suf == "ied" {
			return stem{base: w, y: true}
		}
		break
	}
	if len(w) > 3 && w[len(w)-1] == 'e' {
		w = w[:len(w)-1]
	}
	return stem{base: w}
}

// add hashes the stem after h.
func (s stem) add(h hash64) hash64 {
	h = h.add(s.base)
	if s.y {
		h = h.addByte('y')
	}
	return h
}

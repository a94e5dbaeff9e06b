package nlu

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"unicode/utf8"
)

// The serialized form of a Model, all numbers little-endian:
//
//	"CNLU" uint16(version)
//	uint8 WordMax, uint8 flags (1 Skip, 2 Stems, 4 TwoBest), uint8 CharMin, uint8 CharMax
//	float64 CharWeight, Scale, Background, Threshold, Unknown
//	uint32 intents, then per intent uint16 length and UTF-8 bytes (sorted)
//	uint32 features n, uint64 keys[n] (increasing), float32 idf[n]
//	float32 rowScale[n+1], int16 weights[(n+1)*intents]
//	uint32 hidden units h of the network, 0 for none; when h > 0:
//	  float64 weight, float32 w1Scale[n], int8 w1[n*h],
//	  float32 b1[h], w2[h*intents], b2[intents]
//	uint32 CRC-32C of all the bytes before it
//
// Load still reads versions 1 to 4: version 4 has no TwoBest flag (the
// threshold applies to the best probability alone), version 3 no Stems
// flag either, version 2 also lacks Unknown (the penalty for unknown
// words, 0), version 1 also the network (and its count).
const (
	magic   = "CNLU"
	version = 5

	maxUnknown = 1e3

	maxHidden        = 1 << 12
	maxNetworkWeight = 1e3
	maxNetworkParam  = 1e6

	maxIntents      = 1 << 16
	maxIntentLength = 1024
	maxFeatures     = 1 << 26

	// Bounds of the numbers, far beyond what Train makes, that keep every
	// score finite.
	maxIDF        = 1e3
	maxRowScale   = 1e3
	maxCharWeight = 1e3
	minScale      = 1e-3
	maxScale      = 1e3
)

// The bits of the flags byte.
const (
	flagSkip    = 1
	flagStems   = 2
	flagTwoBest = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalBinary returns the model as bytes that Load reads back; the same
// model always gives the same bytes.
func (m *Model) MarshalBinary() ([]byte, error) {
	nc, nf := len(m.intents), len(m.feat.keys)
	size := 4 + 2 + 4 + 5*8 + 4 + 4 + nf*12 + (nf+1)*4 + (nf+1)*nc*2 + 4 + 4
	if n := m.net; n != nil {
		size += 8 + nf*4 + nf*n.hidden + (n.hidden+n.hidden*nc+nc)*4
	}
	for _, in := range m.intents {
		size += 2 + len(in)
	}
	b := make([]byte, 0, size)
	b = append(b, magic...)
	b = binary.LittleEndian.AppendUint16(b, version)
	f := m.feat
	flags := byte(0)
	if f.Skip {
		flags |= flagSkip
	}
	if f.Stems {
		flags |= flagStems
	}
	if m.twoBest {
		flags |= flagTwoBest
	}
	b = append(b, byte(f.WordMax), flags, byte(f.CharMin), byte(f.CharMax))
	for _, v := range []float64{f.CharWeight, m.cal.Scale, m.cal.Background, m.threshold, m.unknown} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(nc))
	for _, in := range m.intents {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(in)))
		b = append(b, in...)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(nf))
	for _, k := range f.keys {
		b = binary.LittleEndian.AppendUint64(b, k)
	}
	for _, v := range f.idf {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	for _, v := range m.rowScale {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	for _, w := range m.weights {
		b = binary.LittleEndian.AppendUint16(b, uint16(w))
	}
	if n := m.net; n == nil {
		b = binary.LittleEndian.AppendUint32(b, 0)
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(n.hidden))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(n.weight))
		for _, v := range n.w1Scale {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		for _, w := range n.w1 {
			b = append(b, byte(w))
		}
		for _, s := range [][]float32{n.b1, n.w2, n.b2} {
			for _, v := range s {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
		}
	}
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	return b, nil
}

// reader reads the serialized form, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: model: "+format, append([]any{ErrInvalid}, args...)...)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	p := r.b[:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8() byte {
	if p := r.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if p := r.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if p := r.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

// f64 reads a finite float64 in [lo, hi].
func (r *reader) f64(name string, lo, hi float64) float64 {
	p := r.take(8)
	if p == nil {
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(p))
	if !(v >= lo && v <= hi) {
		r.fail("%s %v out of range", name, v)
	}
	return v
}

// f32s reads n float32 in [0, hi].
func (r *reader) f32s(name string, n int, hi float32) []float32 {
	return r.f32sIn(name, n, 0, hi)
}

// f32sIn reads n float32 in [lo, hi].
func (r *reader) f32sIn(name string, n int, lo, hi float32) []float32 {
	p := r.take(4 * n)
	if p == nil {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		v := math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
		if !(v >= lo && v <= hi) {
			r.fail("%s %d is %v", name, i, v)
			return nil
		}
		out[i] = v
	}
	return out
}

// Load reads a model that MarshalBinary wrote. It checks the bytes and
// returns an error wrapping ErrInvalid for bytes that are not a complete,
// intact model of a version it knows; it does not panic on any input.
func Load(b []byte) (*Model, error) {
	if len(b) < len(magic)+2+4 || string(b[:len(magic)]) != magic {
		return nil, fmt.Errorf("%w: not a model (bad magic)", ErrInvalid)
	}
	v := binary.LittleEndian.Uint16(b[len(magic):])
	if v < 1 || v > version {
		return nil, fmt.Errorf("%w: model version %d, want 1 to %d", ErrInvalid, v, version)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: model checksum mismatch (corrupt or truncated)", ErrInvalid)
	}
	r := &reader{b: body[len(magic)+2:]}
	f := &features{WordMax: int(r.u8())}
	flags := r.u8()
	f.Skip, f.Stems = flags&flagSkip != 0, flags&flagStems != 0
	f.CharMin, f.CharMax = int(r.u8()), int(r.u8())
	known := byte(flagSkip | flagStems | flagTwoBest)
	switch {
	case v < 4:
		known = flagSkip
	case v == 4:
		known = flagSkip | flagStems
	}
	switch {
	case r.err != nil:
	case f.WordMax < 1 || f.WordMax > 3 || flags&^known != 0:
		r.fail("bad word n-grams")
	case f.CharMax > maxCharGram || f.CharMax > 0 && (f.CharMin < 1 || f.CharMin > f.CharMax):
		r.fail("bad character n-grams")
	}
	f.CharWeight = r.f64("character weight", 0, maxCharWeight)
	m := &Model{feat: f, twoBest: flags&flagTwoBest != 0, pool: newPool()}
	m.cal.Scale = r.f64("scale", minScale, maxScale)
	m.cal.Background = r.f64("background", -maxScale, maxScale)
	m.threshold = r.f64("threshold", 0, 1)
	if v >= 3 {
		m.unknown = r.f64("unknown-word penalty", 0, maxUnknown)
	}
	nc := int(r.u32())
	if r.err == nil && (nc < 2 || nc > maxIntents) {
		r.fail("%d intents", nc)
	}
	for i := 0; i < nc && r.err == nil; i++ {
		n := int(r.u16())
		p := r.take(n)
		in := string(p)
		switch {
		case r.err != nil:
		case n == 0 || n > maxIntentLength || !utf8.Valid(p):
			r.fail("bad intent name")
		case i > 0 && in <= m.intents[i-1]:
			r.fail("intents not sorted")
		}
		m.intents = append(m.intents, in)
	}
	nf := int(r.u32())
	if r.err == nil {
		// Check the size before allocating anything for it.
		want := uint64(nf)*12 + (uint64(nf)+1)*4 + (uint64(nf)+1)*uint64(nc)*2
		if v > 1 {
			want += 4 // at least the network's count
		}
		if nf > maxFeatures || v == 1 && want != uint64(len(r.b)) || v > 1 && want > uint64(len(r.b)) {
			r.fail("%d features do not match the %d bytes left", nf, len(r.b))
		}
	}
	if p := r.take(8 * nf); p != nil {
		f.keys = make([]uint64, nf)
		for i := range f.keys {
			f.keys[i] = binary.LittleEndian.Uint64(p[8*i:])
			if i > 0 && f.keys[i] <= f.keys[i-1] {
				r.fail("feature keys not increasing")
				break
			}
		}
	}
	f.idf = r.f32s("idf", nf, maxIDF)
	m.rowScale = r.f32s("row scale", nf+1, maxRowScale)
	if p := r.take(2 * (nf + 1) * nc); p != nil {
		m.weights = make([]int16, (nf+1)*nc)
		for i := range m.weights {
			m.weights[i] = int16(binary.LittleEndian.Uint16(p[2*i:]))
		}
	}
	if v > 1 {
		m.net = r.network(nf, nc)
	}
	if r.err != nil {
		return nil, r.err
	}
	f.buildIndex()
	return m, nil
}

// network reads the network of a model with nf features and nc intents,
// which must take all the bytes left; nil for none.
func (r *reader) network(nf, nc int) *network {
	h := int(r.u32())
	if r.err != nil {
		return nil
	}
	if h == 0 {
		if len(r.b) != 0 {
			r.fail("%d bytes after the weights", len(r.b))
		}
		return nil
	}
	want := 8 + uint64(nf)*4 + uint64(nf)*uint64(h) + uint64(h+h*nc+nc)*4
	if h > maxHidden || want != uint64(len(r.b)) {
		r.fail("a network of %d units does not match the %d bytes left", h, len(r.b))
		return nil
	}
	n := &network{hidden: h, intents: nc}
	n.weight = r.f64("network weight", 0, maxNetworkWeight)
	n.w1Scale = r.f32s("network row scale", nf, maxRowScale)
	if p := r.take(nf * h); p != nil {
		n.w1 = make([]int8, nf*h)
		for i, c := range p {
			n.w1[i] = int8(c)
		}
	}
	n.b1 = r.f32sIn("network bias", h, -maxNetworkParam, maxNetworkParam)
	n.w2 = r.f32sIn("network weight", h*nc, -maxNetworkParam, maxNetworkParam)
	n.b2 = r.f32sIn("network bias", nc, -maxNetworkParam, maxNetworkParam)
	return n
}

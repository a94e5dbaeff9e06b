package nlu

import (
	"math"
	"math/bits"
)

// matrix is a sparse matrix in compressed rows.
type matrix struct {
	rows []int // row i is idx[rows[i]:rows[i+1]]
	idx  []int32
	val  []float32
	cols int
}

func (m *matrix) len() int { return len(m.rows) - 1 }

// rng is a small deterministic generator (SplitMix64), the same on every
// platform and Go version.
type rng struct{ s uint64 }

func newRNG(seed int64, stream uint64) *rng {
	r := &rng{s: uint64(seed) ^ (stream+1)*0x9e3779b97f4a7c15}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n).
func (r *rng) intn(n int) int {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return int(hi)
}

func (r *rng) shuffle(s []int32) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

// svmBinary trains a linear L2-regularized, L2-loss (squared hinge) support
// vector machine by dual coordinate descent with shrinking (Hsieh et al.
// 2008, as in LIBLINEAR), for the labels y (+1 or -1) and per-example costs
// cost. It adds into w (length x.cols+1, the last being the bias, whose
// feature has value bias) and returns the number of passes.
func svmBinary(x *matrix, sqnorm []float64, y []int8, cost []float64, bias float64, eps float64, maxIter int, r *rng, w []float64, stop func() bool) int {
	l := x.len()
	alpha := make([]float64, l)
	qd := make([]float64, l)
	diag := make([]float64, l)
	index := make([]int32, l)
	for i := range l {
		diag[i] = 0.5 / cost[i]
		qd[i] = diag[i] + sqnorm[i] + bias*bias
		index[i] = int32(i)
	}
	wb := len(w) - 1
	active := l
	pgMaxOld := math.Inf(1)
	iter := 0
	for iter < maxIter {
		if iter%8 == 7 && stop() {
			break
		}
		pgMaxNew, pgMinNew := math.Inf(-1), math.Inf(1)
		r.shuffle(index[:active])
		for s := 0; s < active; s++ {
			i := index[s]
			yi := float64(y[i])
			idx, val := x.idx[x.rows[i]:x.rows[i+1]], x.val[x.rows[i]:x.rows[i+1]]
			val = val[:len(idx)]
			g := w[wb] * bias
			for k, j := range idx {
				g += w[j] * float64(val[k])
			}
			g = g*yi - 1 + alpha[i]*diag[i]
			pg := 0.0
			if alpha[i] == 0 {
				if g > pgMaxOld {
					active--
					index[s], index[active] = index[active], index[s]
					s--
					continue
				}
				if g < 0 {
					pg = g
				}
			} else {
				pg = g
			}
			pgMaxNew = math.Max(pgMaxNew, pg)
			pgMinNew = math.Min(pgMinNew, pg)
			if math.Abs(pg) > 1e-12 {
				old := alpha[i]
				alpha[i] = math.Max(old-g/qd[i], 0)
				d := (alpha[i] - old) * yi
				for k, j := range idx {
					w[j] += d * float64(val[k])
				}
				w[wb] += d * bias
			}
		}
		iter++
		if pgMaxNew-pgMinNew <= eps {
			if active == l {
				break
			}
			active = l
			pgMaxOld = math.Inf(1)
			continue
		}
		pgMaxOld = pgMaxNew
		if pgMaxOld <= 0 {
			pgMaxOld = math.Inf(1)
		}
	}
	return iter
}

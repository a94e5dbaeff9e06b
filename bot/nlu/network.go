package nlu

import (
	"context"
	"math"
	"sync"
)

// network is a neural network over the same features as the SVMs: one
// hidden layer of ReLU units, then one linear output per intent. Its
// log-probabilities, times weight, are added to the SVMs' scores.
type network struct {
	hidden, intents int
	weight          float64
	// w1[k*hidden+u] is the weight of feature k for unit u, times
	// w1Scale[k] (8 bits lose nothing measurable here).
	w1      []int8
	w1Scale []float32
	b1      []float32 // per unit
	w2      []float32 // w2[u*intents+c]
	b2      []float32 // per intent
}

// The network's hyperparameters, chosen on the validation split of
// CLINC150 (where, added to the SVMs, it raised the accuracy by about a
// point and the out-of-scope recall more). It is trained only for data sets
// of at least networkMinExamples examples: with fewer it did not help and
// would slow down the training of small bots.
const (
	networkMinExamples = 3000
	networkHidden      = 256
	networkEpochs      = 8
	networkBatch       = 32
	networkRate        = 0.003 // Adam's learning rate, decreasing linearly to 0
	networkDropout     = 0.7   // of the input features, while training
	networkWeight      = 0.4   // of the log-probabilities in the scores
	// An example whose intent the network already gives at least
	// networkLearned of probability adds nothing to the gradient: its
	// backward pass is skipped (most examples after the first epochs).
	networkLearned = 0.8

	adamBeta1   = 0.9
	adamBeta2   = 0.999
	adamEpsilon = 1e-8
)

// adam holds the moments of Adam for a slice of parameters.
type adam struct{ m, v []float32 }

func newAdam(n int) adam { return adam{make([]float32, n), make([]float32, n)} }

// update applies one step of Adam, with the bias-corrected rate lr, to
// w[off:off+len(g)] for the gradient g.
func (a adam) update(w, g []float32, off int, lr float32) {
	n := len(g)
	m, v, w := a.m[off:off+n], a.v[off:off+n], w[off:off+n]
	for k := range n {
		gk := g[k]
		mk := adamBeta1*m[k] + (1-adamBeta1)*gk
		vk := adamBeta2*v[k] + (1-adamBeta2)*gk*gk
		m[k], v[k] = mk, vk
		w[k] -= lr * mk / (float32(math.Sqrt(float64(vk))) + adamEpsilon)
	}
}

// netParams are the hyperparameters of a network's training (see the
// constants above): hidden units, epochs, Adam's initial rate, the share of
// input features dropped, the probability above which an example is
// learned, and the weight of the log-probabilities in the scores.
type netParams struct {
	hidden, epochs         int
	rate, dropout, learned float64
	weight                 float64
}

// defaultNet is what Train uses; experiments on validation data vary it.
var defaultNet = netParams{hidden: networkHidden, epochs: networkEpochs, rate: networkRate, dropout: networkDropout, learned: networkLearned, weight: networkWeight}

// trainNetwork trains a network with the hyperparameters p on the rows of
// x by minibatch Adam on the cross-entropy of the labels, with dropout on
// the input. Only the weights of the input features that dropout kept, in
// the examples the network has not learned yet, are updated (lazy Adam).
// The work of each minibatch is split among workers by hidden unit (or
// example, or feature) so that the result does not depend on their number.
func trainNetwork(ctx context.Context, x *matrix, labels []int32, nc, workers int, r *rng, p netParams) (*network, error) {
	nf, H := x.cols, p.hidden
	w1 := make([]float32, nf*H)
	b1 := make([]float32, H)
	w2 := make([]float32, H*nc)
	b2 := make([]float32, nc)
	uniform := func(a float64) float32 { return float32((float64(r.next()>>11)/(1<<53)*2 - 1) * a) }
	a1 := 0.5 * math.Sqrt(6.0/float64(64+H))
	for i := range w1 {
		w1[i] = uniform(a1)
	}
	a2 := math.Sqrt(6.0 / float64(H+nc))
	for i := range w2 {
		w2[i] = uniform(a2)
	}
	aw1, ab1, aw2, ab2 := newAdam(nf*H), newAdam(H), newAdam(H*nc), newAdam(nc)
	gb1, gw2, gb2 := make([]float32, H), make([]float32, H*nc), make([]float32, nc)
	var gw1 []float32         // rows of the features in the batch, by slot
	slot := make([]int32, nf) // feature to its row in gw1, or -1
	var touched []int32       // features by slot
	for i := range slot {
		slot[i] = -1
	}
	l := x.len()
	order := make([]int32, l)
	for i := range order {
		order[i] = int32(i)
	}
	B := networkBatch
	hid := make([]float32, B*H)
	dh := make([]float32, B*H)
	out := make([]float32, B*nc)
	// The features of each example of the batch that dropout kept, and
	// their values.
	actIdx := make([][]int32, B)
	actVal := make([][]float32, B)
	keep := float32(1 - p.dropout)
	learned := make([]bool, B) // by example of the batch
	var live []int             // the examples of the batch not learned
	workers = max(1, workers)
	parallel := func(n int, f func(lo, hi int)) {
		if workers == 1 || n < 2*workers {
			f(0, n)
			return
		}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f(n*w/workers, n*(w+1)/workers)
			}()
		}
		wg.Wait()
	}
	steps := p.epochs * ((l + B - 1) / B)
	step := 0
	for range p.epochs {
		r.shuffle(order)
		for start := 0; start < l; start += B {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			batch := order[start:min(start+B, l)]
			nb := len(batch)
			for bi, i := range batch {
				ai, av := actIdx[bi][:0], actVal[bi][:0]
				for k, j := range x.idx[x.rows[i]:x.rows[i+1]] {
					if float32(r.next()>>40)/(1<<24) >= keep {
						continue
					}
					ai = append(ai, j)
					av = append(av, x.val[x.rows[i]+k]/keep)
				}
				actIdx[bi], actVal[bi] = ai, av
			}
			// The hidden layer.
			parallel(H, func(lo, hi int) {
				for bi := range nb {
					h := hid[bi*H+lo : bi*H+hi]
					copy(h, b1[lo:hi])
					for k, j := range actIdx[bi] {
						axpy32(actVal[bi][k], w1[int(j)*H+lo:int(j)*H+hi], h)
					}
					for u := range h {
						h[u] = max(h[u], 0)
					}
				}
			})
			// The outputs, and the gradient of the mean loss with respect
			// to them: softmax minus the label.
			parallel(nb, func(lo, hi int) {
				for bi := lo; bi < hi; bi++ {
					z := out[bi*nc : bi*nc+nc]
					copy(z, b2)
					for u, hv := range hid[bi*H : bi*H+H] {
						if hv != 0 {
							axpy32(hv, w2[u*nc:u*nc+nc], z)
						}
					}
					softmax32(z)
					lab := labels[batch[bi]]
					learned[bi] = z[lab] >= float32(p.learned)
					inv := 1 / float32(nb)
					for c := range z {
						z[c] *= inv
					}
					z[lab] -= inv
				}
			})
			live = live[:0]
			touched = touched[:0]
			for bi := range nb {
				if learned[bi] {
					continue
				}
				live = append(live, bi)
				for _, j := range actIdx[bi] {
					if slot[j] < 0 {
						slot[j] = int32(len(touched))
						touched = append(touched, j)
					}
				}
			}
			if cap(gw1) < len(touched)*H {
				gw1 = make([]float32, 2*len(touched)*H)
			}
			gw1 = gw1[:len(touched)*H]
			clear(gw1)
			clear(gb1)
			clear(gw2)
			clear(gb2)
			// Back to the hidden units and the first layer.
			parallel(H, func(lo, hi int) {
				for _, bi := range live {
					z := out[bi*nc : bi*nc+nc]
					for u := lo; u < hi; u++ {
						hv := hid[bi*H+u]
						if hv == 0 {
							dh[bi*H+u] = 0
							continue
						}
						d := dotAxpy32(w2[u*nc:u*nc+nc], z, hv, gw2[u*nc:u*nc+nc])
						dh[bi*H+u] = d
						gb1[u] += d
					}
					d := dh[bi*H+lo : bi*H+hi]
					for k, j := range actIdx[bi] {
						g := gw1[int(slot[j])*H+lo : int(slot[j])*H+hi]
						axpy32(actVal[bi][k], d, g)
					}
				}
			})
			for _, bi := range live {
				for c, v := range out[bi*nc : bi*nc+nc] {
					gb2[c] += v
				}
			}
			step++
			rate := p.rate * (1 - float64(step-1)/float64(steps))
			lr := float32(rate * math.Sqrt(1-math.Pow(adamBeta2, float64(step))) / (1 - math.Pow(adamBeta1, float64(step))))
			// Only the rows of the batch's features (lazy Adam).
			parallel(len(touched), func(lo, hi int) {
				for t := lo; t < hi; t++ {
					aw1.update(w1, gw1[t*H:t*H+H], int(touched[t])*H, lr)
				}
			})
			ab1.update(b1, gb1, 0, lr)
			aw2.update(w2, gw2, 0, lr)
			ab2.update(b2, gb2, 0, lr)
			for _, j := range touched {
				slot[j] = -1
			}
		}
	}
	q, scales := quantize8(w1, H)
	return &network{hidden: H, intents: nc, weight: p.weight, w1: q, w1Scale: scales, b1: b1, w2: w2, b2: b2}, nil
}

// axpy32 adds a times x to y, which is at least as long as x.
func axpy32(a float32, x, y []float32) {
	y = y[:len(x)]
	i := 0
	for ; i+4 <= len(x); i += 4 {
		y[i] += a * x[i]
		y[i+1] += a * x[i+1]
		y[i+2] += a * x[i+2]
		y[i+3] += a * x[i+3]
	}
	for ; i < len(x); i++ {
		y[i] += a * x[i]
	}
}

// dotAxpy32 returns the dot product of w and z, and adds a times z to g;
// w and g are at least as long as z.
func dotAxpy32(w, z []float32, a float32, g []float32) float32 {
	w, g = w[:len(z)], g[:len(z)]
	var d0, d1, d2, d3 float32
	i := 0
	for ; i+4 <= len(z); i += 4 {
		d0 += w[i] * z[i]
		d1 += w[i+1] * z[i+1]
		d2 += w[i+2] * z[i+2]
		d3 += w[i+3] * z[i+3]
		g[i] += a * z[i]
		g[i+1] += a * z[i+1]
		g[i+2] += a * z[i+2]
		g[i+3] += a * z[i+3]
	}
	for ; i < len(z); i++ {
		d0 += w[i] * z[i]
		g[i] += a * z[i]
	}
	return (d0 + d1) + (d2 + d3)
}

// quantize8 returns w (rows of n weights) as int8 rows with one scale per
// row.
func quantize8(w []float32, n int) ([]int8, []float32) {
	rows := len(w) / n
	q := make([]int8, len(w))
	scales := make([]float32, rows)
	for r := range rows {
		row := w[r*n : r*n+n]
		hi := 0.0
		for _, v := range row {
			hi = max(hi, math.Abs(float64(v)))
		}
		if hi == 0 {
			continue
		}
		s := float32(hi / math.MaxInt8)
		scales[r] = s
		for u, v := range row {
			q[r*n+u] = int8(max(-math.MaxInt8, min(math.MaxInt8, math.Round(float64(v)/float64(s)))))
		}
	}
	return q, scales
}

// softmax32 replaces z by its softmax.
func softmax32(z []float32) {
	hi := z[0]
	for _, v := range z {
		hi = max(hi, v)
	}
	var sum float32
	for c, v := range z {
		z[c] = float32(math.Exp(float64(v - hi)))
		sum += z[c]
	}
	for c := range z {
		z[c] /= sum
	}
}

// addTo adds to scores the network's log-probabilities of the vector in s,
// times its weight.
func (n *network) addTo(s *scratch, scores []float64) {
	H, nc := n.hidden, n.intents
	s.hidden = append(s.hidden[:0], n.b1...)
	h := s.hidden
	for i, k := range s.idx {
		v := s.val[i] * n.w1Scale[k]
		if v == 0 {
			continue
		}
		for u, w := range n.w1[int(k)*H : int(k)*H+H] {
			h[u] += v * float32(w)
		}
	}
	s.out = append(s.out[:0], n.b2...)
	z := s.out
	for u, hv := range h {
		if hv > 0 {
			for c, w := range n.w2[u*nc : u*nc+nc] {
				z[c] += hv * w
			}
		}
	}
	hi := z[0]
	for _, v := range z {
		hi = max(hi, v)
	}
	sum := 0.0
	for _, v := range z {
		sum += math.Exp(float64(v - hi))
	}
	lse := float64(hi) + math.Log(sum)
	for c, v := range z {
		scores[c] += n.weight * (float64(v) - lse)
	}
}

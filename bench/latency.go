package bench

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Summary is the distribution of a set of latencies.
type Summary struct {
	N                  int
	P50, P90, P99, Max time.Duration
}

// Summarize returns the distribution of ds, by the nearest-rank method. It
// sorts ds.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	slices.Sort(ds)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ds[max(i, 0)]
	}
	return Summary{N: len(ds), P50: rank(0.50), P90: rank(0.90), P99: rank(0.99), Max: ds[len(ds)-1]}
}

// Ms formats d in milliseconds with three significant figures or so, as
// in "0.912 ms", "12.4 ms" or "153 ms".
func Ms(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return fmt.Sprintf("%.3f ms", ms)
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

// MiB formats a byte count in mebibytes, as in "41.3 MiB".
func MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

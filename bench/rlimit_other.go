//go:build !unix

package bench

import "errors"

// RaiseFileLimit is not supported here: the benchmarks need Linux.
func RaiseFileLimit() (uint64, error) {
	return 0, errors.New("raising the open files limit needs a Unix system")
}

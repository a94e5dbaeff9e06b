//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit raises the soft limit of open files (RLIMIT_NOFILE) of this
// process to its hard limit and returns the new limit. Child processes
// started afterwards inherit it: calling Setrlimit tells os/exec not to
// restore the original limit in children.
func RaiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("get open file limit: %w", err)
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("raise open file limit: %w", err)
	}
	return l.Cur, nil
}

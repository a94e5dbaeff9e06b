package bench

import "syscall"

// childAttr makes a child process get SIGKILL when the benchmark dies, so
// that no node outlives a crashed benchmark.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

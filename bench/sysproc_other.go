//go:build !linux

package bench

import "syscall"

// childAttr returns nil: only Linux can tie a child's life to its parent.
// The measurements need Linux's /proc anyway; this keeps the package
// building elsewhere.
func childAttr() *syscall.SysProcAttr { return nil }

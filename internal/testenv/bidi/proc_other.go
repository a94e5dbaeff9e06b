//go:build !unix

package bidi

import "os/exec"

// ownProcessGroup does nothing where process groups are not known.
func ownProcessGroup(cmd *exec.Cmd) {}

// killProcessGroup kills cmd.
func killProcessGroup(cmd *exec.Cmd) { cmd.Process.Kill() }

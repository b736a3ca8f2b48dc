package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to kill cmd's process if this test binary
// dies first (a panic, a timeout, ^C), so no proxy process outlives a run.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

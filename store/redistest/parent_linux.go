package redistest

import (
	"os/exec"
	"syscall"
)

// startDyingWithParent starts cmd so that the kernel kills it when the
// test binary dies, even without running its cleanups (a panic, a
// timeout). Strictly, the kernel sends the signal when the thread that
// started the process ends; Go ends a thread only when a goroutine locked
// to it exits still locked, which neither the tests nor the libraries they
// use do, so in practice that is when the binary exits.
func startDyingWithParent(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return cmd.Start()
}

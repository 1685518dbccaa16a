//go:build !linux

package redistest

import "os/exec"

// startDyingWithParent starts cmd; only Linux can tie its life to the
// test binary's, so elsewhere a test binary that dies without running
// redistest.Main leaves the shared servers running.
func startDyingWithParent(cmd *exec.Cmd) error { return cmd.Start() }

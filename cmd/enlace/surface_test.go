package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoBenchInTheBinary: enlace links neither the profiler nor the load
// tool and its floor; they live in enlace-bench alone.
func TestNoBenchInTheBinary(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "runtime/pprof", pkg == "net/http/pprof", strings.HasSuffix(pkg, "/cmd/enlace-bench"):
			t.Errorf("enlace depends on %s", pkg)
		}
	}
}

// TestLayers: the layers point one way, cmd → server → consent → store, and
// nothing imports a layer above its own.
func TestLayers(t *testing.T) {
	t.Parallel()
	const mod = "github.com/enlace-oauth/enlace"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	layer := func(pkg string) int {
		rest, ok := strings.CutPrefix(pkg, mod+"/")
		switch {
		case !ok:
			return -1 // outside the module, or its root (the embedded files)
		case strings.HasPrefix(rest, "store"):
			return 0
		case strings.HasPrefix(rest, "consent"):
			return 1
		case strings.HasPrefix(rest, "server"):
			return 2
		case strings.HasPrefix(rest, "cmd"):
			return 3
		}
		t.Errorf("package %s is in no layer", pkg)
		return -1
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, imp := range f[1:] {
			if l, il := layer(f[0]), layer(imp); il > l && l >= 0 {
				t.Errorf("%s imports %s, a layer above it", f[0], imp)
			}
		}
	}
}

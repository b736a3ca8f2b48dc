package faults_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The codecs stand alone: none depends on the faults package, so that
// capture, replay and the daemon can frame protocols from outside it.
func TestCodecsDoNotImportTheRootPackage(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", "./internal/wire/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/gofaults/faults" || strings.HasPrefix(pkg, "github.com/gofaults/faults/faulttest") {
			t.Errorf("a codec depends on %s", pkg)
		}
	}
}

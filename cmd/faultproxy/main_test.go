package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// binary is the daemon the tests run, built once by TestMain (with the
// race detector when the tests have it).
var binary string

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(buildFirst{m})
}

// buildFirst builds the binary, runs the tests, and cleans up after them.
type buildFirst struct{ m *testing.M }

func (b buildFirst) Run() int {
	dir, err := os.MkdirTemp("", "faultproxy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "faultproxy")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building faultproxy: %v\n%s", err, out)
		return 1
	}
	code := b.m.Run()
	// The Toxiproxy client keeps connections to the daemons in the
	// default transport.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	return code
}

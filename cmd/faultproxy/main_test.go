package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(cleanUp{m})
}

// cleanUp runs the tests, then removes the binary they built.
type cleanUp struct{ m *testing.M }

func (c cleanUp) Run() int {
	code := c.m.Run()
	// The Toxiproxy client keeps connections to the daemons in the
	// default transport.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	return code
}

// built is the daemon the tests run, built once, when a test first needs
// it (fuzzing needs none), with the race detector when the tests have it.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// binary returns the path of the daemon's binary, building it first.
func binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "faultproxy-test-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "faultproxy")
		args := []string{"build", "-o", built.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			built.err = fmt.Errorf("building faultproxy: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

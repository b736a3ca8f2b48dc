// Package bench measures the faults proxy against the floor every proxy pays
// (a plain io.Copy proxy) and against Toxiproxy, all in one run on loopback.
//
// Every proxy runs as its own process (the plain and faults proxies in a
// re-executed copy of this test binary, Toxiproxy as its server binary), so
// the CPU each proxy spends is read the same way for all of them from
// /proc/PID/task/*/schedstat, and the client and backend never share a
// process with the proxy they measure.
//
// TestCompare (gated by FAULTS_BENCH=1) prints the side-by-side tables; the
// Benchmark functions give the same workloads to `go test -bench` and
// benchstat. See README.md.
package bench

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: backends,
// proxies and the helpers that watch child processes must all end.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

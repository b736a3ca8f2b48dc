package bench

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// A row is one way to reach the backend: directly, or through one proxy
// running as its own process.
type row struct {
	name     string
	child    string // child proxy kind, "" if none
	toxi     bool   // Toxiproxy
	latency0 bool   // Toxiproxy with a 0 ms latency toxic on both streams
}

// rows are compared in this order, in every table and benchmark.
var rows = []row{
	{name: "direct"},
	{name: "plain", child: kindPlain},
	{name: "plain-b", child: kindPlain}, // a second plain proxy: the noise floor
	{name: "faults", child: kindFaults},
	{name: "faults+inspect", child: kindFaultsInspect},
	{name: "toxiproxy", toxi: true},
	{name: "toxiproxy+latency0", toxi: true, latency0: true},
}

// endpoint is a started row: the address a client dials and, for a proxy,
// its process.
type endpoint struct {
	addr  string
	pid   int                                                 // 0 for direct
	mem   func() (heapStack int64, goroutines int, err error) // nil unless a Go child proxy
	close func() error
	info  string // e.g. the Toxiproxy version
}

// start brings the row up in front of the backend at target. For the
// Toxiproxy rows without a binary the error wraps errNoToxiproxy.
func (r row) start(target string) (*endpoint, error) {
	switch {
	case r.child != "":
		c, err := startChild(r.child, target)
		if err != nil {
			return nil, err
		}
		return &endpoint{addr: c.Addr(), pid: c.PID(), mem: c.mem, close: c.Close}, nil
	case r.toxi:
		tp, err := startToxiproxy(target, r.latency0)
		if err != nil {
			return nil, err
		}
		return &endpoint{addr: tp.Addr(), pid: tp.PID(), close: tp.Close, info: "Toxiproxy " + tp.version}, nil
	default:
		return &endpoint{addr: target, close: func() error { return nil }}, nil
	}
}

// Close stops the row's proxy process, if any.
func (e *endpoint) Close() error { return e.close() }

// settle is how long the CPU reading waits after a workload so that the
// proxy finishes the teardown the workload caused (closing connections).
const settle = 50 * time.Millisecond

// proxyCPU runs fn and returns the CPU time the row's proxy process spent
// meanwhile (and during a short settle after it). ok is false for the direct
// row or when /proc cannot be read.
func (e *endpoint) proxyCPU(fn func() error) (cpu time.Duration, ok bool, err error) {
	if e.pid == 0 {
		return 0, false, fn()
	}
	before, cerr := procCPU(e.pid)
	if err := fn(); err != nil {
		return 0, false, err
	}
	time.Sleep(settle)
	after, cerr2 := procCPU(e.pid)
	if cerr != nil || cerr2 != nil {
		return 0, false, nil
	}
	return after - before, true, nil
}

// selectRows returns the rows of all named in FAULTS_BENCH_ROWS, in order,
// or all of them when it is unset.
func selectRows(all []row) []row {
	s := os.Getenv(envBenchRows)
	if s == "" {
		return all
	}
	names := strings.Split(s, ",")
	return slices.DeleteFunc(slices.Clone(all), func(r row) bool { return !slices.Contains(names, r.name) })
}

// closeEndpoints stops every started row, reporting failures as errors.
func closeEndpoints(t *testing.T, selected []row, eps []*endpoint) {
	for i, ep := range eps {
		if ep != nil {
			if err := ep.Close(); err != nil {
				t.Errorf("%s: %v", selected[i].name, err)
			}
		}
	}
}

// startRows starts every selected row in front of target into eps, filling
// each result's head, and checks each with check. A missing Toxiproxy marks
// its row skipped; any other failure fails the test.
func startRows[R any, P interface {
	*R
	reportRow
}](t *testing.T, selected []row, target string, eps []*endpoint, results []R, check func(addr string) error) {
	t.Helper()
	for i, r := range selected {
		h := P(&results[i]).head()
		h.name = r.name
		ep, err := r.start(target)
		switch {
		case errors.Is(err, errNoToxiproxy):
			h.skipped = "Toxiproxy binary not found (see bench/README.md)"
			t.Logf("%s: %v", r.name, err)
			continue
		case err != nil:
			t.Fatalf("%s: %v", r.name, err)
		}
		eps[i] = ep
		h.info = ep.info
		if err := check(ep.addr); err != nil {
			t.Fatalf("%s: %v", r.name, err)
		}
	}
}

// eachEndpoint runs one workload through every started row in turn, failing
// the test on the first error.
func eachEndpoint(t *testing.T, selected []row, eps []*endpoint, what string, round int, run func(i int, ep *endpoint) error) {
	t.Helper()
	for i, ep := range eps {
		if ep != nil {
			if err := run(i, ep); err != nil {
				t.Fatalf("%s, %s, round %d: %v", selected[i].name, what, round+1, err)
			}
		}
	}
}

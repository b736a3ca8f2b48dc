package bench

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults/internal/testenv"
)

// Environment of TestCompareMemcached (besides FAULTS_BENCH,
// FAULTS_BENCH_ROWS and FAULTS_BENCH_OUT, read as by the others).
const (
	envBenchMcRounds = "FAULTS_BENCH_MEMCACHED_ROUNDS" // rounds, default 3
	envBenchMcN      = "FAULTS_BENCH_MEMCACHED_N"      // keys per thread and run, default 5000
)

const (
	memcslapThreads = 8                // memcslap's --concurrency
	memcslapLimit   = 90 * time.Second // longest one memcslap run may take
)

// memcachedRows are the ways TestCompareMemcached reaches the server.
var memcachedRows = []row{
	{name: "direct"},
	{name: "plain", child: kindPlain},
	{name: "plain-b", child: kindPlain}, // a second plain proxy: the noise floor
	{name: "faults", child: kindFaults},
	{name: "faults-memcached", child: kindFaultsMemcached},
	{name: "toxiproxy", toxi: true},
}

// memcachedTests are the memcslap tests run, in order.
var memcachedTests = []string{"set", "get", "mget"}

// memcachedTestResult is what one row measured with one memcslap test.
type memcachedTestResult struct {
	rate  []float64 // keys/s of the test proper (memcslap's own time), per round
	ops   int64     // operations, stores before the test included, all rounds
	lost  int64     // keys memcslap did not get back, all rounds (Toxiproxy)
	cpu   time.Duration
	noCPU bool
}

func (m *memcachedTestResult) keysPerSec() float64 { return median(m.rate) }

func (m *memcachedTestResult) cpuUsPerOp() float64 {
	return cpuPer(m.noCPU, us(m.cpu), float64(m.ops))
}

// memcachedResult is one row of TestCompareMemcached's report, a result
// per memcslap test.
type memcachedResult struct {
	rowHead
	tests [3]memcachedTestResult
}

func (r *memcachedResult) setRate() float64 { return r.tests[0].keysPerSec() }
func (r *memcachedResult) setCPU() float64  { return r.tests[0].cpuUsPerOp() }
func (r *memcachedResult) getRate() float64 { return r.tests[1].keysPerSec() }
func (r *memcachedResult) getCPU() float64  { return r.tests[1].cpuUsPerOp() }
func (r *memcachedResult) mgetRate() float64 {
	return r.tests[2].keysPerSec()
}
func (r *memcachedResult) mgetCPU() float64 { return r.tests[2].cpuUsPerOp() }

// TestCompareMemcached measures memcached through each proxy, side by side
// in one run, with memcslap (libmemcached-tools): its set, get and mget
// tests by 8 threads of N keys each, for keys/s and the proxy's CPU per
// operation. Rows are interleaved per round and test. The server is a
// private memcached (-m 1024), started for the run, so that memcslap's
// random keys land in no shared server, and emptied (flush_all) before
// each run, so that no key is ever evicted. It runs only with FAULTS_BENCH=1,
// memcached and memcslap; it takes about 2 minutes.
func TestCompareMemcached(t *testing.T) {
	requireBench(t, "the memcached comparison (about 2 minutes)")
	rounds := envInt(t, envBenchMcRounds, 3, 1, 10)
	n := envInt(t, envBenchMcN, 5000, 100, 1_000_000)
	bin, err := findTool("memcslap", "libmemcached-tools")
	if err != nil {
		t.Skip(err)
	}
	addr := testenv.StartMemcached(t, "-m", "1024")
	version, err := memcachedVersion(addr)
	if err != nil {
		t.Fatal(err)
	}
	selected := selectRows(memcachedRows)

	results := make([]memcachedResult, len(selected))
	eps := make([]*endpoint, len(selected))
	defer closeEndpoints(t, selected, eps)
	startRows(t, selected, addr, eps, results, checkMemcached)

	start := time.Now()
	for round := range rounds {
		for i, test := range memcachedTests {
			eachEndpoint(t, selected, eps, "memcslap "+test, round, func(j int, ep *endpoint) error {
				return measureMemcslap(ep, bin, addr, test, n, selected[j].toxi, &results[j].tests[i])
			})
		}
	}

	var sb strings.Builder
	writeMemcachedReport(&sb, results, version, n, rounds, time.Since(start))
	emitReport(t, sb.String())
}

// memcachedExchange sends cmd on a new connection to addr and returns the
// reply's lines up to the one last returns true for.
func memcachedExchange(addr, cmd string, last func(line string) bool) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, guard)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(guard))
	if _, err := io.WriteString(c, cmd); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	var lines []string
	for len(lines) < 1000 {
		line, err := r.ReadString('\n')
		if err != nil {
			return lines, err
		}
		line = strings.TrimSuffix(line, "\r\n")
		lines = append(lines, line)
		if last(line) {
			return lines, nil
		}
	}
	return lines, fmt.Errorf("no end to the reply to %q", cmd)
}

// memcachedVersion returns the server's version.
func memcachedVersion(addr string) (string, error) {
	lines, err := memcachedExchange(addr, "version\r\n", func(string) bool { return true })
	if err != nil {
		return "", err
	}
	v, ok := strings.CutPrefix(lines[0], "VERSION ")
	if !ok {
		return "", fmt.Errorf("version: %q", lines[0])
	}
	return v, nil
}

// checkMemcached sets a key through addr and gets it back.
func checkMemcached(addr string) error {
	lines, err := memcachedExchange(addr, "set faults:bench:check 0 0 2\r\nok\r\nget faults:bench:check\r\n",
		func(l string) bool { return l == "END" })
	if err != nil {
		return err
	}
	if want := "STORED|VALUE faults:bench:check 0 2|ok|END"; strings.Join(lines, "|") != want {
		return fmt.Errorf("set and get: %q", lines)
	}
	return nil
}

// memcachedCounts reads how many get keys and sets the server has served
// (stats cmd_get and cmd_set: all clients, the counts only grow).
func memcachedCounts(addr string) (gets, sets int64, err error) {
	lines, err := memcachedExchange(addr, "stats\r\n", func(l string) bool { return l == "END" })
	if err != nil {
		return 0, 0, err
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "STAT" {
			continue
		}
		switch f[1] {
		case "cmd_get":
			gets, err = strconv.ParseInt(f[2], 10, 64)
		case "cmd_set":
			sets, err = strconv.ParseInt(f[2], 10, 64)
		}
		if err != nil {
			return 0, 0, err
		}
	}
	return gets, sets, nil
}

// measureMemcslap runs one memcslap test through ep and adds its keys/s,
// and the proxy's CPU meanwhile, to res. memcslap must report the run it
// was asked for, and the server's counts must grow by at least the keys it
// stored and read. memcslap reports the keys a get or an mget got back:
// through Toxiproxy (lossy), fewer are counted in res.lost; through any
// other row that is an error.
func measureMemcslap(ep *endpoint, bin, server, test string, n int, lossy bool, res *memcachedTestResult) error {
	host, port, err := net.SplitHostPort(ep.addr)
	if err != nil {
		return err
	}
	if _, err := memcachedExchange(server, "flush_all\r\n", func(string) bool { return true }); err != nil {
		return err
	}
	gets0, sets0, err := memcachedCounts(server)
	if err != nil {
		return err
	}
	var run memcslapRun
	err = addProxyCPU(ep, &res.cpu, &res.noCPU, func() (err error) {
		run, err = runMemcslap(bin, memcslapArgs(host, port, test, memcslapThreads, n), memcslapLimit)
		return err
	})
	if err != nil {
		return err
	}
	want := int64(memcslapThreads * n)
	if lossy && test != "set" && run.keys < want {
		res.lost += want - run.keys
		run.keys = want // asked for, and read by the server
	}
	if run.test != test || run.threads != memcslapThreads || run.keys != want {
		return fmt.Errorf("memcslap reports %s of %d keys by %d threads; want %s of %d by %d", run.test, run.keys, run.threads, test, memcslapThreads*n, memcslapThreads)
	}
	gets1, sets1, err := memcachedCounts(server)
	if err != nil {
		return err
	}
	wantGets, wantSets := run.keys, run.loaded
	if test == "set" {
		wantGets, wantSets = 0, run.keys
	}
	if gets1-gets0 < wantGets || sets1-sets0 < wantSets {
		return fmt.Errorf("the server served %d get keys and %d sets during the run, want at least %d and %d", gets1-gets0, sets1-sets0, wantGets, wantSets)
	}
	res.rate = append(res.rate, float64(run.keys)/run.took.Seconds())
	res.ops += run.ops()
	return nil
}

var memcachedTargets = []target[*memcachedResult]{
	{"faults-memcached", "plain", "get keys/s", (*memcachedResult).getRate, true, 0.85},
	{"faults-memcached", "plain", "set keys/s", (*memcachedResult).setRate, true, 0.85},
	{"faults-memcached", "plain", "mget keys/s", (*memcachedResult).mgetRate, true, 0.85},
	{"faults-memcached", "plain", "get CPU µs/op", (*memcachedResult).getCPU, false, 1.3},
	{"faults-memcached", "plain", "set CPU µs/op", (*memcachedResult).setCPU, false, 1.3},
	{"faults-memcached", "plain", "mget CPU µs/op", (*memcachedResult).mgetCPU, false, 1.3},
}

// writeMemcachedReport renders TestCompareMemcached's results as Markdown.
func writeMemcachedReport(w io.Writer, results []memcachedResult, version string, n, rounds int, took time.Duration) {
	info := firstInfo(results)
	byName := rowsByName(results)
	fmt.Fprintf(w, "### memcached through each proxy (%s %s/%s, %d CPUs, memcached %s%s; %d rounds; took %.0fs)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), version, info, rounds, took.Seconds())
	fmt.Fprintf(w, "memcslap --concurrency=%d --execute-number=%d, --test=set, get and mget:\n\n", memcslapThreads, n)
	fmt.Fprint(w, "| path | set keys/s | spread | get keys/s | spread | mget keys/s | spread | CPU µs/op set | get | mget |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.skipped != "" {
			writeSkipped(w, r.name, r.skipped, 9)
			continue
		}
		fmt.Fprintf(w, "| %s |", r.name)
		for i := range r.tests {
			fmt.Fprintf(w, " %s | %s |", cell("%.0f", r.tests[i].keysPerSec()), spread(r.tests[i].rate))
		}
		for i := range r.tests {
			fmt.Fprintf(w, " %s |", cell("%.2f", r.tests[i].cpuUsPerOp()))
		}
		fmt.Fprintln(w)
	}
	for _, r := range results {
		for i, test := range memcachedTests {
			if lost := r.tests[i].lost; lost > 0 {
				fmt.Fprintf(w, "\n%s: memcslap's %s got %d keys fewer back than it asked for (all rounds); its rate counts the keys asked.\n", r.name, test, lost)
			}
		}
	}

	fmt.Fprint(w, "\n### Ratios (a / b)\n\nkeys/s: above 1 means a is faster. CPU: below 1 means a is cheaper.\n\n")
	fmt.Fprint(w, "| a / b | set keys/s | get keys/s | mget keys/s | set CPU µs/op | get CPU µs/op | mget CPU µs/op |\n|---|---:|---:|---:|---:|---:|---:|\n")
	writePairRatios(w, byName, [][2]string{{"faults-memcached", "plain"}, {"plain-b", "plain"}, {"faults-memcached", "faults"}, {"faults-memcached", "toxiproxy"}, {"plain", "direct"}, {"toxiproxy", "plain"}},
		(*memcachedResult).setRate, (*memcachedResult).getRate, (*memcachedResult).mgetRate,
		(*memcachedResult).setCPU, (*memcachedResult).getCPU, (*memcachedResult).mgetCPU)

	writeTargets(w, byName, memcachedTargets)
	fmt.Fprint(w, "\nkeys/s is the median of the rounds of the keys of memcslap's test divided by the time memcslap reports "+
		"for it (\"Time to get 40000 keys by 8 threads\"; get and mget first store the keys over one connection, which "+
		"that time leaves out). CPU is the proxy process's own (sum of /proc/PID/task/*/schedstat over all rounds, "+
		"divided by every operation of the runs, the stores before get and mget included; memcslap's connections "+
		"included). The server's cmd_get and cmd_set must grow by at least the keys of each run. memcslap, the "+
		"server, the proxy and the test process share the machine's CPUs. faults is the TCP (spliced) pass-through, "+
		"faults-memcached the same with WithProtocol(Memcached()) and no fault; plain-b is a second plain proxy, so that "+
		"plain-b / plain shows what two equal proxies differ by in the same run. Toxiproxy runs with LOG_LEVEL=error.\n")
}

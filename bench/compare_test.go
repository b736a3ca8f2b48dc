package bench

import (
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment of TestCompare.
const (
	envBench       = "FAULTS_BENCH"           // "1" runs TestCompare
	envBenchTime   = "FAULTS_BENCH_TIME"      // time per measurement and round, default 1s
	envBenchRounds = "FAULTS_BENCH_ROUNDS"    // rounds, default 5
	envBenchRTTs   = "FAULTS_BENCH_RTT_CONNS" // connections making round trips at once, default 8
	envBenchIdle   = "FAULTS_BENCH_IDLE"      // idle connections per row, default 500
	envBenchRows   = "FAULTS_BENCH_ROWS"      // comma-separated row names, default all
	envBenchOut    = "FAULTS_BENCH_OUT"       // also write the report to this file
)

// result is one row of the report; NaN means not measured.
type result struct {
	rowHead

	upMiBs, downMiBs float64 // throughput, 64 KiB writes / reads; median of rounds
	rttP50us         float64 // 64-byte round trip, median of all rounds' samples
	connsPerSec      float64 // sequential connect + 1-byte echo + close; median of rounds

	idleRSSKiB   float64 // proxy process VmRSS growth per idle connection
	idleHeapKiB  float64 // Go heap+stack in use growth per idle connection (Go child proxies)
	idleGorPerCn float64 // goroutines per idle connection (Go child proxies)

	cpuUpMsPerMiB   float64 // proxy CPU per MiB uploaded; median of rounds
	cpuDownMsPerMiB float64 // proxy CPU per MiB downloaded; median of rounds
	cpuUsPerRTT     float64 // proxy CPU per 64-byte round trip; median of rounds
	cpuUsPerConn    float64 // proxy CPU per connection (accept, dial, echo, teardown); median of rounds

	// per-round values (in round order), for the spread and the paired
	// ratios; a CPU value is NaN when it could not be read
	ups, downs, connRates             []float64
	cpuUps, cpuDowns, cpuRTTs, cpuCns []float64
}

func newResult(name string) result {
	n := math.NaN()
	return result{rowHead: rowHead{name: name}, upMiBs: n, downMiBs: n, rttP50us: n, connsPerSec: n,
		idleRSSKiB: n, idleHeapKiB: n, idleGorPerCn: n,
		cpuUpMsPerMiB: n, cpuDownMsPerMiB: n, cpuUsPerRTT: n, cpuUsPerConn: n}
}

// compareConfig bounds a TestCompare run.
type compareConfig struct {
	d      time.Duration // per measurement and round
	rounds int
	idle   int // idle connections per row

	rttConns int // connections making round trips at once
}

// TestCompare measures every row side by side in one run and prints the
// absolute numbers and their ratios as Markdown. All proxies are started
// first; idle memory is measured on each fresh process; then each round
// runs upload, download, round trips and connects through every row in
// turn, the rows in one order on even rounds and in the reverse order on odd
// ones, so that slow drifts of a shared machine and a row's place in the
// round hit all rows alike. Two identical plain proxies (plain and plain-b)
// give the noise floor: the ratio two equal proxies show in this run. Each
// measurement is bounded in time (FAULTS_BENCH_TIME) and count. It runs
// only with FAULTS_BENCH=1 (about 3 minutes with the defaults).
func TestCompare(t *testing.T) {
	requireBench(t, "the side-by-side comparison (about 3 minutes)")
	cfg := compareConfig{d: time.Second, rounds: 5, idle: 500, rttConns: 8}
	cfg.rttConns = envInt(t, envBenchRTTs, cfg.rttConns, 1, 64)
	cfg.d = envDuration(t, envBenchTime, cfg.d)
	cfg.rounds = envInt(t, envBenchRounds, cfg.rounds, 1, 30)
	cfg.idle = envInt(t, envBenchIdle, cfg.idle, 1, 5000)
	selected := selectRows(rows)

	be, err := startBackend()
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()

	results := make([]result, len(selected))
	eps := make([]*endpoint, len(selected))
	defer closeEndpoints(t, selected, eps)
	for i, r := range selected {
		results[i] = newResult(r.name)
		t.Run(r.name, func(t *testing.T) {
			eps[i] = startAndMeasureIdle(t, be, r, cfg.idle, &results[i])
		})
	}
	time.Sleep(teardownWait)

	accs := make([]accumulator, len(selected))
	for round := range cfg.rounds {
		order := roundOrder(len(selected), round)
		for _, w := range workloads {
			for _, i := range order {
				if eps[i] == nil {
					continue
				}
				if err := w.run(eps[i], be, cfg, &accs[i]); err != nil {
					t.Fatalf("%s, %s, round %d: %v", selected[i].name, w.name, round+1, err)
				}
			}
		}
	}
	for i := range accs {
		if eps[i] != nil {
			accs[i].fill(&results[i])
		}
	}

	var sb strings.Builder
	writeReport(&sb, results, cfg)
	emitReport(t, sb.String())
}

// roundOrder is the order in which round runs n rows: forward on even
// rounds, backward on odd ones.
func roundOrder(n, round int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
		if round%2 == 1 {
			order[i] = n - 1 - i
		}
	}
	return order
}

// requireBench skips the test unless FAULTS_BENCH=1; what says what it
// would run.
func requireBench(t *testing.T, what string) {
	t.Helper()
	if os.Getenv(envBench) != "1" {
		t.Skipf("set %s=1 to run %s; see bench/README.md", envBench, what)
	}
}

// envDuration reads a duration in (0, 10s] from the environment, def if
// unset.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 || v > 10*time.Second {
		t.Fatalf("%s=%q: want a duration in (0, 10s]", name, s)
	}
	return v
}

func envInt(t *testing.T, name string, def, lo, hi int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		t.Fatalf("%s=%q: want %d..%d", name, s, lo, hi)
	}
	return v
}

// startAndMeasureIdle starts one row and, for a proxy, measures its idle
// memory while its process is fresh. It returns nil (and the subtest skips or
// fails) when the row cannot run.
func startAndMeasureIdle(t *testing.T, be *backend, r row, idle int, res *result) *endpoint {
	ep, err := r.start(be.Addr())
	if errors.Is(err, errNoToxiproxy) {
		res.skipped = "Toxiproxy binary not found (see bench/README.md)"
		t.Skip(err)
	}
	if err != nil {
		res.skipped = "failed to start"
		t.Fatal(err)
	}
	res.info = ep.info
	if ep.pid != 0 {
		if err := measureIdle(ep, idle, res); err != nil {
			ep.Close()
			res.skipped = "failed: idle connections"
			t.Fatalf("idle connections: %v", err)
		}
	}
	return ep
}

// measureIdle opens n idle connections through the proxy and records how
// much the proxy process grew per connection: VmRSS for every proxy, and Go
// heap+stack in use (after a GC) and goroutines for the Go child proxies.
func measureIdle(ep *endpoint, n int, res *result) error {
	rss0, err := procRSS(ep.pid)
	if err != nil {
		return err
	}
	var heap0 int64
	var gor0 int
	if ep.mem != nil {
		if heap0, gor0, err = ep.mem(); err != nil {
			return err
		}
	}
	conns, err := openIdle(ep.addr, n)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	time.Sleep(idleSettle)
	rss1, err := procRSS(ep.pid)
	if err != nil {
		return err
	}
	res.idleRSSKiB = float64(rss1-rss0) / 1024 / float64(n)
	if ep.mem != nil {
		heap1, gor1, err := ep.mem()
		if err != nil {
			return err
		}
		res.idleHeapKiB = float64(heap1-heap0) / 1024 / float64(n)
		res.idleGorPerCn = float64(gor1-gor0) / float64(n)
	}
	return nil
}

// accumulator gathers one row's measurements, round by round.
type accumulator struct {
	ups, downs, connRates []float64
	rtts                  []time.Duration

	// proxy CPU per unit of work, one value per round (NaN: no reading)
	cpuUps, cpuDowns, cpuRTTs, cpuConns []float64
}

// workload is one measurement TestCompare makes per row and round.
type workload struct {
	name string
	run  func(ep *endpoint, be *backend, cfg compareConfig, a *accumulator) error
}

var workloads = []workload{
	{"upload", func(ep *endpoint, be *backend, cfg compareConfig, a *accumulator) error {
		var n int64
		var el time.Duration
		cpu, ok, err := ep.proxyCPU(func() (err error) {
			n, el, err = runUpload(ep.addr, be, cfg.d)
			return err
		})
		a.ups = append(a.ups, float64(n)/mib/el.Seconds())
		a.cpuUps = append(a.cpuUps, cpuPer(!ok, ms(cpu), float64(n)/mib))
		return err
	}},
	{"download", func(ep *endpoint, _ *backend, cfg compareConfig, a *accumulator) error {
		var n int64
		var el time.Duration
		cpu, ok, err := ep.proxyCPU(func() (err error) {
			n, el, err = runDownload(ep.addr, cfg.d)
			return err
		})
		a.downs = append(a.downs, float64(n)/mib/el.Seconds())
		a.cpuDowns = append(a.cpuDowns, cpuPer(!ok, ms(cpu), float64(n)/mib))
		return err
	}},
	{"round trips", func(ep *endpoint, _ *backend, cfg compareConfig, a *accumulator) error {
		var samples []time.Duration
		cpu, ok, err := ep.proxyCPU(func() (err error) {
			samples, err = runRTT(ep.addr, cfg.rttConns, cfg.d)
			return err
		})
		a.rtts = append(a.rtts, samples...)
		a.cpuRTTs = append(a.cpuRTTs, cpuPer(!ok, us(cpu), float64(len(samples))))
		return err
	}},
	{"connects", func(ep *endpoint, _ *backend, cfg compareConfig, a *accumulator) error {
		var n int
		var el time.Duration
		cpu, ok, err := ep.proxyCPU(func() (err error) {
			n, el, err = runConnects(ep.addr, cfg.d)
			return err
		})
		a.connRates = append(a.connRates, float64(n)/el.Seconds())
		a.cpuConns = append(a.cpuConns, cpuPer(!ok, us(cpu), float64(n)))
		return err
	}},
}

// fill turns the accumulated rounds into the report's numbers: medians of
// the per-round rates and CPU costs, and the median of all round-trip
// samples.
func (a *accumulator) fill(r *result) {
	r.upMiBs, r.downMiBs, r.connsPerSec = median(a.ups), median(a.downs), median(a.connRates)
	r.ups, r.downs, r.connRates = a.ups, a.downs, a.connRates
	if len(a.rtts) > 0 {
		r.rttP50us = us(percentile(a.rtts, 50))
	}
	r.cpuUps, r.cpuDowns, r.cpuRTTs, r.cpuCns = a.cpuUps, a.cpuDowns, a.cpuRTTs, a.cpuConns
	r.cpuUpMsPerMiB, r.cpuDownMsPerMiB = median(a.cpuUps), median(a.cpuDowns)
	r.cpuUsPerRTT, r.cpuUsPerConn = median(a.cpuRTTs), median(a.cpuConns)
}

// median is the median of v's values that are not NaN, or NaN if there are
// none.
func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	s = slices.DeleteFunc(s, math.IsNaN)
	if len(s) == 0 {
		return math.NaN()
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"testing"
)

// column is one measured quantity of the report.
type column struct {
	title  string
	format string
	get    func(*result) float64
}

var columns = []column{
	{"upload MiB/s", "%.0f", func(r *result) float64 { return r.upMiBs }},
	{"download MiB/s", "%.0f", func(r *result) float64 { return r.downMiBs }},
	{"RTT p50 µs", "%.1f", func(r *result) float64 { return r.rttP50us }},
	{"conns/s", "%.0f", func(r *result) float64 { return r.connsPerSec }},
	{"KiB/idle conn", "%.1f", func(r *result) float64 { return r.idleRSSKiB }},
	{"CPU ms/MiB up", "%.3f", func(r *result) float64 { return r.cpuUpMsPerMiB }},
	{"CPU ms/MiB down", "%.3f", func(r *result) float64 { return r.cpuDownMsPerMiB }},
	{"CPU µs/RTT", "%.1f", func(r *result) float64 { return r.cpuUsPerRTT }},
	{"CPU µs/conn", "%.0f", func(r *result) float64 { return r.cpuUsPerConn }},
}

// ratio is one line of the ratios table: a / b over the chosen columns.
type ratio struct {
	a, b string
	cols []int // indexes into columns; nil means all
}

var ratios = []ratio{
	{a: "faults", b: "plain"},
	{a: "plain-b", b: "plain"},
	{a: "faults+inspect", b: "faults"},
	{a: "toxiproxy", b: "faults", cols: []int{0, 1, 5, 6, 7, 8}},
	{a: "faults+inspect", b: "toxiproxy+latency0"},
}

// paired is one measure of the paired ratios table: its per-round values,
// and the most a / plain may be (0: no target).
type paired struct {
	title  string
	rounds func(*result) []float64
	atMost float64
}

var pairedMeasures = []paired{
	{"CPU ms/MiB, upload", func(r *result) []float64 { return r.cpuUps }, 1},
	{"CPU ms/MiB, download", func(r *result) []float64 { return r.cpuDowns }, 1},
	{"CPU µs/round trip", func(r *result) []float64 { return r.cpuRTTs }, 1},
	{"CPU µs/connection", func(r *result) []float64 { return r.cpuCns }, 1},
	{"upload MiB/s", func(r *result) []float64 { return r.ups }, 0},
	{"download MiB/s", func(r *result) []float64 { return r.downs }, 0},
	{"conns/s", func(r *result) []float64 { return r.connRates }, 0},
}

// pairedRatios returns a's value over b's, round by round, leaving out the
// rounds where either is missing.
func pairedRatios(a, b []float64) []float64 {
	var q []float64
	for i := range min(len(a), len(b)) {
		if v := a[i] / b[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			q = append(q, v)
		}
	}
	return q
}

// ratioCell formats the median of ratios and their range.
func ratioCell(q []float64) string {
	if len(q) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f× (%.2f–%.2f)", median(q), slices.Min(q), slices.Max(q))
}

// writePaired writes the table of a / plain ratios taken round by round,
// beside plain-b / plain, the ratio two identical proxies show in the same
// run.
func writePaired(w io.Writer, byName map[string]*result, a string) {
	base, twin, x := byName["plain"], byName["plain-b"], byName[a]
	if base == nil || x == nil || base.skipped != "" || x.skipped != "" {
		return
	}
	fmt.Fprintf(w, "\n### %s / plain, round by round, against the noise floor\n\n", a)
	fmt.Fprint(w, "Each round's ratio pairs two readings taken in that round; the cells are the median of the rounds "+
		"and (min–max). plain-b / plain is two identical plain proxies measured the same way: the noise floor.\n\n")
	fmt.Fprintf(w, "| measure | %s / plain | plain-b / plain (noise floor) | target | met |\n|---|---:|---:|---:|:---:|\n", a)
	for _, m := range pairedMeasures {
		q := pairedRatios(m.rounds(x), m.rounds(base))
		noise := "—"
		if twin != nil && twin.skipped == "" {
			noise = ratioCell(pairedRatios(m.rounds(twin), m.rounds(base)))
		}
		target, met := "—", "—"
		if m.atMost > 0 {
			target = fmt.Sprintf("≤ %.2f×", m.atMost)
			if len(q) > 0 {
				met = "no"
				if median(q) <= m.atMost {
					met = "yes"
				}
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", m.title, ratioCell(q), noise, target, met)
	}
}

// writeReport renders the results as Markdown: the absolute numbers, the
// ratios, and the per-connection detail of the Go child proxies.
func writeReport(w io.Writer, results []result, cfg compareConfig) {
	info := firstInfo(results)
	fmt.Fprintf(w, "### Proxies side by side (%s %s/%s, %d CPUs, GOMAXPROCS %d%s; %d rounds of %v per measurement, %d idle conns)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), info, cfg.rounds, cfg.d, cfg.idle)
	titles := make([]string, len(columns))
	for i, c := range columns {
		titles[i] = c.title
	}
	writeHeader(w, "path", titles)
	byName := map[string]*result{}
	for i := range results {
		r := &results[i]
		byName[r.name] = r
		if r.skipped != "" {
			writeSkipped(w, r.name, r.skipped, len(columns))
			continue
		}
		fmt.Fprintf(w, "| %s |", r.name)
		for _, c := range columns {
			fmt.Fprintf(w, " %s |", cell(c.format, c.get(r)))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprint(w, "\n### Ratios (a / b)\n\n")
	fmt.Fprint(w, "Throughput and conns/s: above 1 means a is faster. RTT, memory and CPU: below 1 means a is cheaper.\n\n")
	writeHeader(w, "a / b", titles)
	for _, q := range ratios {
		a, b := byName[q.a], byName[q.b]
		fmt.Fprintf(w, "| %s / %s |", q.a, q.b)
		for i, c := range columns {
			v := math.NaN()
			if a != nil && b != nil && (q.cols == nil || slices.Contains(q.cols, i)) {
				v = c.get(a) / c.get(b)
			}
			fmt.Fprintf(w, " %s |", cell("%.2f×", v))
		}
		fmt.Fprintln(w)
	}

	writePaired(w, byName, "faults")

	fmt.Fprint(w, "\n### Idle connections, Go child proxies (after runtime.GC)\n\n")
	fmt.Fprint(w, "| path | heap+stack KiB/idle conn | goroutines/idle conn |\n|---|---:|---:|\n")
	for _, r := range results {
		if !math.IsNaN(r.idleHeapKiB) {
			fmt.Fprintf(w, "| %s | %.1f | %.1f |\n", r.name, r.idleHeapKiB, r.idleGorPerCn)
		}
	}
	fmt.Fprint(w, "\n### Spread over the rounds (min–max)\n\n")
	fmt.Fprint(w, "| path | upload MiB/s | download MiB/s | conns/s | CPU ms/MiB up | CPU ms/MiB down | CPU µs/RTT | CPU µs/conn |\n"+
		"|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		if r.skipped == "" && len(r.ups) > 0 {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, spread(r.ups), spread(r.downs), spread(r.connRates),
				spreadf("%.3f", r.cpuUps), spreadf("%.3f", r.cpuDowns), spreadf("%.1f", r.cpuRTTs), spreadf("%.0f", r.cpuCns))
		}
	}
	fmt.Fprint(w, "\nThroughput, conns/s and CPU are medians of the rounds (rows in one order on even rounds, the reverse on odd ones), "+
		"RTT p50 the median of all rounds' samples (round trips on several connections at once, FAULTS_BENCH_RTT_CONNS). "+
		"CPU is the proxy process's own (sum of /proc/PID/task/*/schedstat around each measurement, divided by the work done); "+
		"KiB/idle conn is its VmRSS growth on a fresh process. Toxiproxy runs with LOG_LEVEL=error; "+
		"toxiproxy+latency0 has a 0 ms latency toxic on both streams.\n")
}

// spread formats the smallest and largest of v.
func spread(v []float64) string { return spreadf("%.0f", v) }

// spreadf formats the smallest and largest of v's values that are not NaN.
func spreadf(format string, v []float64) string {
	v = slices.DeleteFunc(slices.Clone(v), math.IsNaN)
	if len(v) == 0 {
		return "—"
	}
	return fmt.Sprintf(format+"–"+format, slices.Min(v), slices.Max(v))
}

// cell formats v, or "—" when it is NaN or infinite.
func cell(format string, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

// rowHead is what every report's row has: its name, why it was not
// measured, and what its endpoint says of itself.
type rowHead struct{ name, skipped, info string }

func (h *rowHead) head() *rowHead { return h }

// reportRow is a report's row type (a pointer to a struct embedding rowHead).
type reportRow interface{ head() *rowHead }

// firstInfo is ", " and the first row's info that is not empty, or "".
func firstInfo[R any, P interface {
	*R
	reportRow
}](results []R) string {
	for i := range results {
		if info := P(&results[i]).head().info; info != "" {
			return ", " + info
		}
	}
	return ""
}

// rowsByName indexes results by row name.
func rowsByName[R any, P interface {
	*R
	reportRow
}](results []R) map[string]P {
	m := make(map[string]P, len(results))
	for i := range results {
		m[P(&results[i]).head().name] = &results[i]
	}
	return m
}

// writeHeader writes a Markdown table's header: first, then the right-aligned
// titles.
func writeHeader(w io.Writer, first string, titles []string) {
	fmt.Fprintf(w, "| %s |", first)
	for _, t := range titles {
		fmt.Fprintf(w, " %s |", t)
	}
	fmt.Fprint(w, "\n|---|")
	for range titles {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
}

// writeSkipped writes a table line for a row that was not measured, in a
// table of cols value columns.
func writeSkipped(w io.Writer, name, skipped string, cols int) {
	fmt.Fprintf(w, "| %s | skipped: %s |", name, skipped)
	for range cols - 1 {
		fmt.Fprint(w, " |")
	}
	fmt.Fprintln(w)
}

// writePairRatios writes one line a / b per pair of measured rows, with the
// ratio of each of gets.
func writePairRatios[P reportRow](w io.Writer, byName map[string]P, pairs [][2]string, gets ...func(P) float64) {
	for _, q := range pairs {
		a, ok := byName[q[0]]
		b, okb := byName[q[1]]
		if !ok || !okb || a.head().skipped != "" || b.head().skipped != "" {
			continue
		}
		fmt.Fprintf(w, "| %s / %s |", q[0], q[1])
		for _, get := range gets {
			fmt.Fprintf(w, " %s |", cell("%.2f×", get(a)/get(b)))
		}
		fmt.Fprintln(w)
	}
}

// target is one goal a report checks: a / b of a measure against a bound.
type target[P any] struct {
	a, b    string
	measure string
	get     func(P) float64
	atLeast bool // the ratio must be >= bound (else <=)
	bound   float64
}

// writeTargets writes the Targets table.
func writeTargets[P reportRow](w io.Writer, byName map[string]P, targets []target[P]) {
	fmt.Fprint(w, "\n### Targets\n\n| ratio | measured | target | met |\n|---|---:|---:|:---:|\n")
	for _, g := range targets {
		a, ok := byName[g.a]
		b, okb := byName[g.b]
		v := math.NaN()
		if ok && okb && a.head().skipped == "" && b.head().skipped == "" {
			v = g.get(a) / g.get(b)
		}
		op, met := "≤", "—"
		if g.atLeast {
			op = "≥"
		}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			met = "no"
			if g.atLeast && v >= g.bound || !g.atLeast && v <= g.bound {
				met = "yes"
			}
		}
		fmt.Fprintf(w, "| %s / %s %s | %s | %s %.2f× | %s |\n", g.a, g.b, g.measure, cell("%.2f×", v), op, g.bound, met)
	}
}

// emitReport prints the report and, with FAULTS_BENCH_OUT, writes it there.
func emitReport(t *testing.T, report string) {
	fmt.Print("\n", report)
	if path := os.Getenv(envBenchOut); path != "" {
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
}

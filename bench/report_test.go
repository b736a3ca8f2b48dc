package bench

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
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
	{"CPU ms/MiB", "%.3f", func(r *result) float64 { return r.cpuMsPerMiB }},
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
	{a: "faults+inspect", b: "faults"},
	{a: "toxiproxy", b: "faults", cols: []int{0, 1, 5, 6, 7}},
	{a: "faults+inspect", b: "toxiproxy+latency0"},
}

// writeReport renders the results as Markdown: the absolute numbers, the
// ratios, and the per-connection detail of the Go child proxies.
func writeReport(w io.Writer, results []result, cfg compareConfig) {
	info := ""
	for _, r := range results {
		if r.info != "" {
			info = ", " + r.info
			break
		}
	}
	fmt.Fprintf(w, "### Proxies side by side (%s %s/%s, %d CPUs, GOMAXPROCS %d%s; %d rounds of %v per measurement, %d idle conns)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), info, cfg.rounds, cfg.d, cfg.idle)
	fmt.Fprint(w, "| path |")
	for _, c := range columns {
		fmt.Fprintf(w, " %s |", c.title)
	}
	fmt.Fprint(w, "\n|---|")
	for range columns {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	byName := map[string]*result{}
	for i := range results {
		r := &results[i]
		byName[r.name] = r
		fmt.Fprintf(w, "| %s |", r.name)
		if r.skipped != "" {
			fmt.Fprintf(w, " skipped: %s |", r.skipped)
			for range columns[1:] {
				fmt.Fprint(w, " |")
			}
			fmt.Fprintln(w)
			continue
		}
		for _, c := range columns {
			fmt.Fprintf(w, " %s |", cell(c.format, c.get(r)))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprint(w, "\n### Ratios (a / b)\n\n")
	fmt.Fprint(w, "Throughput and conns/s: above 1 means a is faster. RTT, memory and CPU: below 1 means a is cheaper.\n\n| a / b |")
	for _, c := range columns {
		fmt.Fprintf(w, " %s |", c.title)
	}
	fmt.Fprint(w, "\n|---|")
	for range columns {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
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

	fmt.Fprint(w, "\n### Idle connections, Go child proxies (after runtime.GC)\n\n")
	fmt.Fprint(w, "| path | heap+stack KiB/idle conn | goroutines/idle conn |\n|---|---:|---:|\n")
	for _, r := range results {
		if !math.IsNaN(r.idleHeapKiB) {
			fmt.Fprintf(w, "| %s | %.1f | %.1f |\n", r.name, r.idleHeapKiB, r.idleGorPerCn)
		}
	}
	fmt.Fprint(w, "\n### Spread over the rounds (min–max)\n\n")
	fmt.Fprint(w, "| path | upload MiB/s | download MiB/s | conns/s |\n|---|---:|---:|---:|\n")
	for _, r := range results {
		if r.skipped == "" && len(r.ups) > 0 {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.name, spread(r.ups), spread(r.downs), spread(r.connRates))
		}
	}
	fmt.Fprint(w, "\nThroughput and conns/s are medians of the rounds, RTT p50 the median of all rounds' samples. "+
		"CPU is the proxy process's own (sum of /proc/PID/task/*/schedstat over all rounds, divided by the work done); "+
		"KiB/idle conn is its VmRSS growth on a fresh process. Toxiproxy runs with LOG_LEVEL=error; "+
		"toxiproxy+latency0 has a 0 ms latency toxic on both streams.\n")
}

// spread formats the smallest and largest of v.
func spread(v []float64) string {
	if len(v) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f–%.0f", slices.Min(v), slices.Max(v))
}

// cell formats v, or "—" when it is NaN or infinite.
func cell(format string, v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	return fmt.Sprintf(format, v)
}

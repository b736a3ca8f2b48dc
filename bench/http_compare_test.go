package bench

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Environment of TestCompareHTTP (besides FAULTS_BENCH, FAULTS_BENCH_ROWS and
// FAULTS_BENCH_OUT, read as by TestCompare).
const (
	envBenchWrk      = "FAULTS_BENCH_WRK"         // wrk's options, default "-t2 -c32 -d3s"
	envBenchHTTPRnds = "FAULTS_BENCH_HTTP_ROUNDS" // rounds, default 3
	envBenchBodyTime = "FAULTS_BENCH_BODY_TIME"   // large-body time per row and round, default 1s
)

const (
	defaultWrkArgs = "-t2 -c32 -d3s"
	bigBody        = 64 << 20 // the large-body row's response size
)

// httpRows are the ways TestCompareHTTP reaches the hello-world server.
var httpRows = []row{
	{name: "direct"},
	{name: "plain", child: kindPlain},
	{name: "faults", child: kindFaults},
	{name: "faults-http", child: kindFaultsHTTP},
	{name: "faults-http+capture", child: kindHTTPCapture},
	{name: "toxiproxy", toxi: true},
}

// httpResult is one row of TestCompareHTTP's report.
type httpResult struct {
	rowHead

	// wrk: hello world over keep-alive connections
	rps             []float64 // per round
	p50s, p99s      []time.Duration
	requests        int64
	wrkCPU          time.Duration
	socketErrs, bad int64 // wrk's socket errors and non-2xx answers
	errDetail       string
	wrkNoCPU        bool

	// large body: GET of bigBody bytes, one at a time, keep-alive
	bodyBytes int64
	bodyCPU   time.Duration
	bodyRates []float64 // MiB/s per round
	bodyNoCPU bool
}

func (r *httpResult) wrkRPS() float64 { return median(r.rps) }

func (r *httpResult) cpuUsPerReq() float64 {
	return cpuPer(r.wrkNoCPU, us(r.wrkCPU), float64(r.requests))
}

// bodyMiBs is the median of the rounds' large-body throughputs.
func (r *httpResult) bodyMiBs() float64 { return median(r.bodyRates) }

func (r *httpResult) cpuMsPerMiB() float64 {
	return cpuPer(r.bodyNoCPU, ms(r.bodyCPU), float64(r.bodyBytes)/mib)
}

// TestCompareHTTP measures HTTP through each proxy, side by side in one run:
// wrk (hello world, keep-alive) for requests/s and the proxy's CPU per
// request, then a large body (GET of 64 MiB with Content-Length) for MiB/s
// and the proxy's CPU per MiB. The server, like every proxy, is a child
// process of its own, so that no CPU reading mixes two of them. Rows are
// interleaved per round. It runs only with FAULTS_BENCH=1 (about 70 s with
// the defaults); without wrk the wrk rows are skipped and the large-body rows
// still run.
func TestCompareHTTP(t *testing.T) {
	requireBench(t, "the HTTP comparison (about 70 s)")
	wrkArgs := strings.Fields(defaultWrkArgs)
	if s := os.Getenv(envBenchWrk); s != "" {
		wrkArgs = strings.Fields(s)
	}
	wrkDur, err := wrkDuration(wrkArgs)
	if err != nil || wrkDur <= 0 || wrkDur > 60*time.Second {
		t.Fatalf("%s=%q: want wrk options with a -d in (0, 60s]", envBenchWrk, strings.Join(wrkArgs, " "))
	}
	rounds := envInt(t, envBenchHTTPRnds, 3, 1, 10)
	bodyTime := envDuration(t, envBenchBodyTime, time.Second)
	selected := selectRows(httpRows)
	wrkMissing := ""
	if _, err := exec.LookPath("wrk"); err != nil {
		wrkMissing = errNoWrk.Error()
		t.Logf("skipping the wrk rows: %s", wrkMissing)
	}

	server, err := startChild(kindHTTPHello, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := server.Close(); err != nil {
			t.Errorf("server: %v", err)
		}
	}()

	results := make([]httpResult, len(selected))
	eps := make([]*endpoint, len(selected))
	defer closeEndpoints(t, selected, eps)
	startRows(t, selected, server.Addr(), eps, results, checkHello)

	start := time.Now()
	for round := range rounds {
		if wrkMissing == "" {
			eachEndpoint(t, selected, eps, "wrk", round, func(i int, ep *endpoint) error {
				return measureWrk(ep, wrkArgs, wrkDur, &results[i])
			})
		}
		eachEndpoint(t, selected, eps, fmt.Sprintf("%d MiB body", bigBody>>20), round, func(i int, ep *endpoint) error {
			return measureBody(ep, bodyTime, &results[i])
		})
	}
	for _, r := range results {
		if r.bad > 0 {
			t.Errorf("%s: wrk got %d answers that were not 2xx/3xx", r.name, r.bad)
		}
	}

	var sb strings.Builder
	writeHTTPReport(&sb, results, wrkArgs, wrkMissing, rounds, bodyTime, time.Since(start))
	emitReport(t, sb.String())
}

// checkHello makes one request through addr and checks the answer.
func checkHello(addr string) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: guard}
	resp, err := c.Get("http://" + addr + "/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || string(b) != helloBody {
		return fmt.Errorf("GET /: %s %q, %v; want 200 %q", resp.Status, b, err, helloBody)
	}
	return nil
}

// measureWrk runs wrk once through ep and adds what it saw, and the proxy's
// CPU meanwhile, to res.
func measureWrk(ep *endpoint, args []string, d time.Duration, res *httpResult) error {
	var w wrkResult
	err := addProxyCPU(ep, &res.wrkCPU, &res.wrkNoCPU, func() (err error) {
		w, _, err = runWrk(args, "http://"+ep.addr+"/", d+15*time.Second)
		return err
	})
	if err != nil {
		return err
	}
	res.rps = append(res.rps, w.rps)
	res.p50s = append(res.p50s, w.p50)
	res.p99s = append(res.p99s, w.p99)
	res.requests += w.requests
	res.socketErrs += w.socketErrors
	res.bad += w.non2xx
	if w.errDetail != "" {
		res.errDetail = w.errDetail
	}
	return nil
}

// measureBody GETs the large body through ep, one at a time on one
// keep-alive connection, for about d (at least twice), and adds the bytes,
// the time and the proxy's CPU to res.
func measureBody(ep *endpoint, d time.Duration, res *httpResult) error {
	tr := &http.Transport{DisableCompression: true, ReadBufferSize: 256 << 10}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: guard}
	url := "http://" + ep.addr + "/bytes/" + strconv.Itoa(bigBody)
	buf := make([]byte, 256<<10)
	var n int64
	var elapsed time.Duration
	err := addProxyCPU(ep, &res.bodyCPU, &res.bodyNoCPU, func() (err error) {
		elapsed, err = repeatFor(d, func() error {
			got, err := getBody(c, url, buf)
			n += got
			return err
		})
		return err
	})
	if err != nil {
		return err
	}
	res.bodyBytes += n
	res.bodyRates = append(res.bodyRates, float64(n)/mib/elapsed.Seconds())
	return nil
}

// getBody GETs url and reads the whole body into buf, over and over, and
// checks its length.
func getBody(c *http.Client, url string, buf []byte) (int64, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != bigBody {
		return 0, fmt.Errorf("GET %s: %s, Content-Length %d", url, resp.Status, resp.ContentLength)
	}
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("after %d bytes: %w", n, err)
		}
	}
	if n != bigBody {
		return n, fmt.Errorf("read %d bytes, want %d", n, bigBody)
	}
	return n, nil
}

var httpTargets = []target[*httpResult]{
	{"faults-http", "plain", "req/s", (*httpResult).wrkRPS, true, 0.85},
	{"faults-http", "plain", "CPU µs/req", (*httpResult).cpuUsPerReq, false, 1.3},
	{"faults-http", "plain", "64 MiB body MiB/s", (*httpResult).bodyMiBs, true, 0.7},
	{"faults-http+capture", "faults-http", "CPU µs/req", (*httpResult).cpuUsPerReq, false, 2},
	{"faults-http+capture", "faults-http", "CPU ms/MiB", (*httpResult).cpuMsPerMiB, false, 2},
}

// writeHTTPReport renders TestCompareHTTP's results as Markdown.
func writeHTTPReport(w io.Writer, results []httpResult, wrkArgs []string, wrkMissing string, rounds int, bodyTime, took time.Duration) {
	info := firstInfo(results)
	byName := rowsByName(results)
	fmt.Fprintf(w, "### HTTP through each proxy (%s %s/%s, %d CPUs%s; %d rounds; took %.0fs)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), info, rounds, took.Seconds())

	fmt.Fprintf(w, "wrk %s --latency, GET / (14-byte body), keep-alive:\n\n", strings.Join(wrkArgs, " "))
	if wrkMissing != "" {
		fmt.Fprintf(w, "skipped: %s\n", wrkMissing)
	} else {
		fmt.Fprint(w, "| path | req/s | spread req/s | p50 ms | p99 ms | proxy CPU µs/req | wrk errors |\n|---|---:|---:|---:|---:|---:|---:|\n")
	}
	for _, r := range results {
		switch {
		case wrkMissing != "":
		case r.skipped != "":
			writeSkipped(w, r.name, r.skipped, 6)
		default:
			errs := strconv.FormatInt(r.socketErrs+r.bad, 10)
			if r.socketErrs > 0 {
				errs += " (" + strings.TrimPrefix(r.errDetail, "Socket errors: ") + ")"
			}
			if r.bad > 0 {
				errs += fmt.Sprintf(" (%d non-2xx)", r.bad)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.name, cell("%.0f", r.wrkRPS()), spread(r.rps),
				cell("%.2f", durMedianMs(r.p50s)), cell("%.2f", durMedianMs(r.p99s)), cell("%.1f", r.cpuUsPerReq()), errs)
		}
	}

	fmt.Fprintf(w, "\nGET of a %d MiB body (Content-Length), one at a time on one keep-alive connection, %v per row and round:\n\n", bigBody>>20, bodyTime)
	fmt.Fprint(w, "| path | MiB/s | proxy CPU ms/MiB | spread MiB/s |\n|---|---:|---:|---:|\n")
	for _, r := range results {
		if r.skipped != "" {
			writeSkipped(w, r.name, r.skipped, 3)
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r.name, cell("%.0f", r.bodyMiBs()), cell("%.3f", r.cpuMsPerMiB()), spread(r.bodyRates))
	}

	fmt.Fprint(w, "\n### Ratios (a / b)\n\nreq/s and MiB/s: above 1 means a is faster. CPU: below 1 means a is cheaper.\n\n")
	fmt.Fprint(w, "| a / b | req/s | CPU µs/req | body MiB/s | CPU ms/MiB |\n|---|---:|---:|---:|---:|\n")
	writePairRatios(w, byName, [][2]string{{"faults-http", "plain"}, {"faults-http", "faults"}, {"faults-http", "toxiproxy"}, {"faults-http+capture", "faults-http"}, {"plain", "direct"}, {"toxiproxy", "plain"}},
		(*httpResult).wrkRPS, (*httpResult).cpuUsPerReq, (*httpResult).bodyMiBs, (*httpResult).cpuMsPerMiB)

	writeTargets(w, byName, httpTargets)
	fmt.Fprint(w, "\nreq/s, latencies and MiB/s are medians of the rounds; CPU is the proxy process's own "+
		"(sum of /proc/PID/task/*/schedstat over all rounds, divided by the requests or MiB). "+
		"The server is a Go net/http hello world in a child process; wrk, the server and the proxy share the machine's CPUs. "+
		"faults is the TCP (spliced) pass-through, faults-http the same with WithProtocol(HTTP()) and no fault, "+
		"faults-http+capture the same writing a capture of everything to a file on tmpfs (WithCapture). "+
		"Toxiproxy runs with LOG_LEVEL=error.\n")
}

func durMedianMs(ds []time.Duration) float64 {
	v := make([]float64, len(ds))
	for i, d := range ds {
		v[i] = ms(d)
	}
	return median(v)
}

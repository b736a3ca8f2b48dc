package bench

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// errNoWrk is returned (wrapped) when wrk is not on $PATH; the wrk rows of
// TestCompareHTTP are then skipped.
var errNoWrk = errors.New("wrk not found on $PATH; install it with `apt-get install -y wrk`")

// wrkResult is what one wrk run reports.
type wrkResult struct {
	requests     int64
	duration     time.Duration // as wrk reports it
	rps          float64       // Requests/sec
	p50, p99     time.Duration // from --latency
	socketErrors int64         // connect + read + write + timeout
	non2xx       int64         // "Non-2xx or 3xx responses"
	errDetail    string        // the Socket errors line, if any
}

// runWrk runs wrk with args (such as -t2 -c32 -d3s) and --latency against
// url and parses its report. The run is bounded by its -d plus a margin.
func runWrk(args []string, url string, limit time.Duration) (wrkResult, string, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return wrkResult{}, "", fmt.Errorf("%w: %v", errNoWrk, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(append(append([]string(nil), args...), "--latency"), url)...)
	dieWithParent(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, string(out), fmt.Errorf("wrk %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	r, err := parseWrk(string(out))
	return r, string(out), err
}

var (
	reWrkTotal   = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([\d.]+\w+),`)
	reWrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([\d.]+)`)
	reWrkLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$`)
	reWrkSocket  = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reWrkNon2xx  = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk 4's text report.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := reWrkTotal.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no \"N requests in T\" line in wrk's output:\n%s", out)
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	d, err := time.ParseDuration(m[2])
	if err != nil {
		return r, fmt.Errorf("wrk duration %q: %v", m[2], err)
	}
	r.duration = d
	m = reWrkRPS.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no Requests/sec line in wrk's output:\n%s", out)
	}
	r.rps, _ = strconv.ParseFloat(m[1], 64)
	for _, m := range reWrkLatency.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute}[m[3]]
		d := time.Duration(v * float64(unit))
		if m[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := reWrkSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			r.socketErrors += n
		}
		r.errDetail = strings.TrimSpace(m[0])
	}
	if m := reWrkNon2xx.FindStringSubmatch(out); m != nil {
		r.non2xx, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

// wrkDuration returns the -d of args (wrk's default is 10s).
func wrkDuration(args []string) (time.Duration, error) {
	for i, a := range args {
		var v string
		switch {
		case a == "-d" || a == "--duration":
			if i+1 < len(args) {
				v = args[i+1]
			}
		case strings.HasPrefix(a, "-d"):
			v = a[2:]
		case strings.HasPrefix(a, "--duration="):
			v = a[len("--duration="):]
		default:
			continue
		}
		if n, err := strconv.Atoi(v); err == nil {
			return time.Duration(n) * time.Second, nil
		}
		return time.ParseDuration(v)
	}
	return 10 * time.Second, nil
}

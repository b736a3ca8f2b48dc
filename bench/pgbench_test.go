package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// pgbenchEnv is the environment every pgbench run gets on top of the test's:
// no TLS, so that the framing proxy sees the messages and every row does the
// same work (the server may offer TLS, and pgbench's default, prefer, would
// take it where no proxy answers SSLRequest with 'N'); the sessions are named
// for whoever looks at pg_stat_activity.
var pgbenchEnv = []string{
	"PGSSLMODE=disable",
	"PGGSSENCMODE=disable",
	"PGAPPNAME=faults-bench",
}

// pgbenchArgs are pgbench's options for one select-only run (-S) of
// seconds, with prepared statements (-M prepared), over clients connections
// driven by threads threads, as user postgres on database test at
// host:port; -n skips the vacuum of the tables before the run.
func pgbenchArgs(host, port string, clients, threads, seconds int) []string {
	return []string{
		"-h", host, "-p", port, "-U", "postgres",
		"-n", "-S", "-M", "prepared",
		"-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads),
		"-T", strconv.Itoa(seconds),
		"test",
	}
}

// pgbenchInitArgs are pgbench's options to create its tables at scale 1 in
// database test at host:port, quietly (-q: a progress line every 5 s).
func pgbenchInitArgs(host, port string) []string {
	return []string{"-h", host, "-p", port, "-U", "postgres", "-i", "-s", "1", "-q", "test"}
}

// pgbenchRun is one pgbench run: wall is the time around the whole process;
// the rest is what pgbench reports.
type pgbenchRun struct {
	wall      time.Duration
	mode      string  // query mode
	scale     int     // scaling factor
	clients   int     // number of clients
	processed int64   // transactions actually processed
	failed    int64   // failed transactions
	latencyMs float64 // latency average
	connectMs float64 // initial connection time
	tps       float64 // tps without the initial connection time
}

// runPgbench runs pgbench with args, bounded by limit, and parses its
// report. As with the other load tools, anything it writes on stderr is an
// error too.
func runPgbench(bin string, args []string, limit time.Duration) (pgbenchRun, error) {
	out, errOut, wall, err := runToolEnv(bin, args, pgbenchEnv, limit)
	if err == nil && errOut != "" {
		err = fmt.Errorf("%s %s wrote on stderr:\n%s\nstdout: %s", filepath.Base(bin), strings.Join(args, " "), errOut, out)
	}
	if err != nil {
		return pgbenchRun{}, err
	}
	r, err := parsePgbench(out)
	r.wall = wall
	return r, err
}

// runToolEnv runs bin with args and env added to the test's environment,
// bounded by limit, and returns what it wrote on standard output and
// standard error and how long it ran. Unlike runTool it leaves the judgement
// of stderr to the caller: pgbench -i reports its progress there.
func runToolEnv(bin string, args, env []string, limit time.Duration) (stdout, stderr string, wall time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	dieWithParent(cmd)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	t0 := time.Now()
	err = cmd.Run()
	wall = time.Since(t0)
	if ctx.Err() != nil {
		err = fmt.Errorf("no end within %v: %v", limit, err)
	}
	if err != nil {
		return "", "", wall, fmt.Errorf("%s %s: %v\nstdout: %s\nstderr: %s", filepath.Base(bin), strings.Join(args, " "), err, out.Bytes(), errOut.Bytes())
	}
	return out.String(), errOut.String(), wall, nil
}

var (
	rePgbenchMode      = regexp.MustCompile(`(?m)^query mode: (\S+)`)
	rePgbenchScale     = regexp.MustCompile(`(?m)^scaling factor: (\d+)`)
	rePgbenchClients   = regexp.MustCompile(`(?m)^number of clients: (\d+)`)
	rePgbenchProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: (\d+)`)
	rePgbenchFailed    = regexp.MustCompile(`(?m)^number of failed transactions: (\d+)`)
	rePgbenchLatency   = regexp.MustCompile(`(?m)^latency average = ([\d.]+) ms`)
	rePgbenchConnect   = regexp.MustCompile(`(?m)^initial connection time = ([\d.]+) ms`)
	rePgbenchTPS       = regexp.MustCompile(`(?m)^tps = ([\d.]+) \(without initial connection time\)`)
)

// parsePgbench reads pgbench's report of a run. The failed transactions
// line is absent before pgbench 15 and then counts as 0; the others are
// required.
func parsePgbench(out string) (pgbenchRun, error) {
	var r pgbenchRun
	find := func(re *regexp.Regexp, what string) (string, error) {
		m := re.FindStringSubmatch(out)
		if m == nil {
			return "", fmt.Errorf("no %q line in pgbench's output:\n%s", what, out)
		}
		return m[1], nil
	}
	var err error
	var s string
	if r.mode, err = find(rePgbenchMode, "query mode"); err != nil {
		return r, err
	}
	for _, f := range []struct {
		re   *regexp.Regexp
		what string
		set  func(string) error
	}{
		{rePgbenchScale, "scaling factor", func(s string) (err error) { r.scale, err = strconv.Atoi(s); return }},
		{rePgbenchClients, "number of clients", func(s string) (err error) { r.clients, err = strconv.Atoi(s); return }},
		{rePgbenchProcessed, "transactions actually processed", func(s string) (err error) { r.processed, err = strconv.ParseInt(s, 10, 64); return }},
		{rePgbenchLatency, "latency average", func(s string) (err error) { r.latencyMs, err = strconv.ParseFloat(s, 64); return }},
		{rePgbenchConnect, "initial connection time", func(s string) (err error) { r.connectMs, err = strconv.ParseFloat(s, 64); return }},
		{rePgbenchTPS, "tps (without initial connection time)", func(s string) (err error) { r.tps, err = strconv.ParseFloat(s, 64); return }},
	} {
		if s, err = find(f.re, f.what); err != nil {
			return r, err
		}
		if err := f.set(s); err != nil {
			return r, fmt.Errorf("pgbench's %s %q: %v", f.what, s, err)
		}
	}
	if m := rePgbenchFailed.FindStringSubmatch(out); m != nil {
		if r.failed, err = strconv.ParseInt(m[1], 10, 64); err != nil {
			return r, fmt.Errorf("pgbench's failed transactions %q: %v", m[1], err)
		}
	}
	return r, nil
}

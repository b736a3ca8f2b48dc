package faults_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// The tests of this file run Redis's own tools, redis-cli and
// redis-benchmark, through a Redis proxy.

// rtRun runs a tool against addr, with stdin, for at most 30 s, and
// returns its stdout, stderr and exit code.
func rtRun(t testing.TB, addr string, stdin []byte, tool string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append([]string{"-h", host, "-p", port}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %q: %v", tool, args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %q did not end within 30 s:\n%s\n%s", tool, args, out.String(), errb.String())
	}
	return out.String(), errb.String(), code
}

// TestRedisToolsCLI runs redis-cli through the proxy: single commands,
// and --pipe mass insertion.
func TestRedisToolsCLI(t *testing.T) {
	cli := testenv.RequireCommand(t, "redis-cli")
	p := rtProxy(t, "")
	addr := redisAddr(t)
	direct := newRedisClient(t, addr)
	ctx := context.Background()
	k, h := testKey(t, direct, "k"), testKey(t, direct, "h")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG\n"},
		{[]string{"SET", k, "hello world"}, "OK\n"},
		{[]string{"GET", k}, "hello world\n"},
		{[]string{"APPEND", k, "!"}, "12\n"},
		{[]string{"GET", k + ":missing"}, "\n"},
		{[]string{"--no-raw", "GET", k + ":missing"}, "(nil)\n"},
		{[]string{"ECHO", "a\nb"}, "a\nb\n"},
		{[]string{"LPUSH", k, "x"}, "WRONGTYPE Operation against a key holding the wrong kind of value\n\n"},
	} {
		out, errs, code := rtRun(t, p.Addr(), nil, cli, c.args...)
		if out != c.want || errs != "" || code != 0 {
			t.Fatalf("redis-cli %q: %q, stderr %q, exit %d; want %q", c.args, out, errs, code, c.want)
		}
		if c.args[0] == "PING" || strings.HasPrefix(c.args[0], "-") || c.args[0] == "GET" || c.args[0] == "ECHO" || c.args[0] == "LPUSH" {
			// Read-only (or refused): the same directly.
			if d, _, _ := rtRun(t, addr, nil, cli, c.args...); d != out {
				t.Fatalf("redis-cli %q: %q through the proxy, %q directly", c.args, out, d)
			}
		}
	}
	if v := direct.Get(ctx, k).Val(); v != "hello world!" {
		t.Fatalf("value %q", v)
	}

	// Mass insertion: 10,000 HSETs in RESP, the way the Redis docs show.
	const n = 10000
	var in bytes.Buffer
	for i := range n {
		in.WriteString(rtCmd("HSET", h, "f"+strconv.Itoa(i), strconv.Itoa(i*i)))
	}
	before := p.Stats().Requests
	out, errs, code := rtRun(t, p.Addr(), in.Bytes(), cli, "--pipe")
	if code != 0 || errs != "" || !strings.HasSuffix(out, fmt.Sprintf("\nerrors: 0, replies: %d\n", n)) {
		t.Fatalf("redis-cli --pipe exited %d:\n%s\nstderr: %q", code, out, errs)
	}
	// redis-cli adds an ECHO to know the last reply.
	if d := p.Stats().Requests - before; d != n+1 {
		t.Fatalf("Requests grew by %d, want %d", d, n+1)
	}
	if l := direct.HLen(ctx, h).Val(); l != n {
		t.Fatalf("HLEN = %d, want %d", l, n)
	}
	if v := direct.HGet(ctx, h, "f9999").Val(); v != strconv.Itoa(9999*9999) {
		t.Fatalf("HGET f9999 = %q", v)
	}
}

// TestRedisToolsCLIPipeFaults: with a fault on 5% of the HSETs, redis-cli
// --pipe counts as many errors as the proxy injected, and prints each.
func TestRedisToolsCLIPipeFaults(t *testing.T) {
	cli := testenv.RequireCommand(t, "redis-cli")
	p := rtProxy(t, "", faults.WithSeed(1))
	direct := newRedisClient(t, redisAddr(t))
	h := testKey(t, direct, "h")
	if err := p.Set(faults.Error(faults.RedisError("ERR injected")).When(faults.Command("HSET")).Probability(0.05)); err != nil {
		t.Fatal(err)
	}
	const n = 10000
	var in bytes.Buffer
	for i := range n {
		in.WriteString(rtCmd("HSET", h, "f"+strconv.Itoa(i), "v"))
	}
	out, errs, code := rtRun(t, p.Addr(), in.Bytes(), cli, "--pipe")
	m := regexp.MustCompile(`\nerrors: (\d+), replies: (\d+)\n$`).FindStringSubmatch(out)
	if m == nil || code != 1 {
		t.Fatalf("redis-cli --pipe exited %d:\n%s", code, out)
	}
	nerr, _ := strconv.Atoi(m[1])
	if m[2] != strconv.Itoa(n) {
		t.Fatalf("replies: %s, want %d", m[2], n)
	}
	st := p.Stats()
	if int64(nerr) != st.Injected {
		t.Fatalf("redis-cli counted %d errors, the proxy injected %d", nerr, st.Injected)
	}
	if lines := strings.Count(errs, "ERR injected\n"); lines != nerr || len(errs) != nerr*len("ERR injected\n") {
		t.Fatalf("stderr has %d error lines, want %d:\n%.300s", lines, nerr, errs)
	}
	if r := float64(nerr) / n; math.Abs(r-0.05) > 0.015 {
		t.Fatalf("%d errors in %d commands: %.2f%%, want 5%% ± 1.5%%", nerr, n, 100*r)
	}
	if l := direct.HLen(context.Background(), h).Val(); l != int64(n-nerr) {
		t.Fatalf("HLEN = %d, want %d: the faulted HSETs must not reach the server", l, n-nerr)
	}
}

// rtBenchLine matches redis-benchmark -q's result of a test.
var rtBenchLine = regexp.MustCompile(`(?m)^(SET|GET): [0-9.]+ requests per second`)

// TestRedisToolsBenchmark runs redis-benchmark, pipelined, through the
// proxy to a private server (its keys are not unique to the test).
func TestRedisToolsBenchmark(t *testing.T) {
	bench := testenv.RequireCommand(t, "redis-benchmark")
	addr := startRedisServer(t)
	p := rtProxy(t, addr)
	args := []string{"-t", "set,get", "-n", "20000", "-P", "16", "-c", "10", "-q"}
	out, errs, code := rtRun(t, p.Addr(), nil, bench, args...)
	clean := strings.ReplaceAll(out, "\r", "\n")
	if code != 0 || errs != "" || strings.Contains(clean, "Error") || len(rtBenchLine.FindAllString(clean, -1)) != 2 {
		t.Fatalf("redis-benchmark exited %d:\n%s\nstderr: %q", code, clean, errs)
	}
	// 20,000 SETs and 20,000 GETs, and a CONFIG GET or two of the
	// benchmark's own.
	st := p.Stats()
	if st.Requests < 40000 || st.Requests > 40020 || st.Injected != 0 {
		t.Fatalf("Requests %d, Injected %d; want 40000 and a few, and 0", st.Requests, st.Injected)
	}
	c := newRedisClient(t, addr)
	if v, err := c.Get(context.Background(), "key:__rand_int__").Result(); err != nil || len(v) != 3 {
		t.Fatalf("the benchmark's key: %q, %v", v, err)
	}
}

// TestRedisToolsBenchmarkFaults: redis-benchmark 7 does not count error
// replies: it prints the first one, "Error from server: ...", on stderr
// and exits 1, with no result. With 5% of SETs and GETs failing, that is
// what a test sees through the proxy.
func TestRedisToolsBenchmarkFaults(t *testing.T) {
	bench := testenv.RequireCommand(t, "redis-benchmark")
	addr := startRedisServer(t)
	p := rtProxy(t, addr, faults.WithSeed(1))
	if err := p.Set(faults.Error(faults.RedisError("ERR injected")).When(faults.Command("SET", "GET")).Probability(0.05)); err != nil {
		t.Fatal(err)
	}
	out, errs, code := rtRun(t, p.Addr(), nil, bench, "-t", "set,get", "-n", "20000", "-P", "16", "-c", "10", "-q")
	clean := strings.ReplaceAll(out, "\r", "\n")
	if code != 1 || errs != "Error from server: ERR injected\n" || rtBenchLine.MatchString(clean) {
		t.Fatalf("redis-benchmark exited %d:\n%s\nstderr: %q; want exit 1 at the first error", code, clean, errs)
	}
	st := p.Stats()
	if st.Injected < 1 || st.Requests > 20000 {
		t.Fatalf("Requests %d, Injected %d: the benchmark should stop early, at an injected error", st.Requests, st.Injected)
	}
}

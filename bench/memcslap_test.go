package bench

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// memcslapArgs are memcslap's options for one run of test (get, set or
// mget) by concurrency threads, each with a connection of its own, against
// host:port: each thread runs the test on n keys (get and mget store the n
// keys first, over one connection).
func memcslapArgs(host, port, test string, concurrency, n int) []string {
	return []string{
		"--servers=" + host + ":" + port,
		"--test=" + test,
		"--concurrency=" + strconv.Itoa(concurrency),
		"--execute-number=" + strconv.Itoa(n),
	}
}

// memcslapRun is one memcslap run: wall is the time around the whole
// process; the rest is what memcslap reports: the keys its threads ran the
// test on and how long that took, and the keys it stored first.
type memcslapRun struct {
	wall    time.Duration
	test    string
	keys    int64         // operations of the test proper, all threads
	threads int           // threads that ran it
	took    time.Duration // how long the test proper took
	loaded  int64         // keys stored before (get, mget)
}

// ops is every operation of the run: the keys stored first and the test.
func (r memcslapRun) ops() int64 { return r.keys + r.loaded }

// runMemcslap runs memcslap with args, bounded by limit. It prints its
// errors to stderr, which makes the run fail.
func runMemcslap(bin string, args []string, limit time.Duration) (memcslapRun, error) {
	out, wall, err := runTool(bin, args, limit)
	if err != nil {
		return memcslapRun{}, err
	}
	r, err := parseMemcslap(out)
	r.wall = wall
	return r, err
}

var (
	reMemcslapTest = regexp.MustCompile(`(?m)^Time to (set|get|mget)\s+(\d+) keys by\s+(\d+) threads:\s+([\d.]+) seconds`)
	reMemcslapLoad = regexp.MustCompile(`(?m)^Time to set\s+(\d+) keys:\s+([\d.]+) seconds`)
)

// parseMemcslap reads memcslap's report: the line of the test ("Time to get
// 80000 keys by 8 threads: 3.867 seconds.") and, for get and mget, the
// line of the keys stored first ("Time to set 10000 keys: 1.463 seconds.").
func parseMemcslap(out string) (memcslapRun, error) {
	var r memcslapRun
	m := reMemcslapTest.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no \"Time to TEST N keys by T threads\" line in memcslap's output:\n%s", out)
	}
	r.test = m[1]
	r.keys, _ = strconv.ParseInt(m[2], 10, 64)
	r.threads, _ = strconv.Atoi(m[3])
	s, err := strconv.ParseFloat(m[4], 64)
	if err != nil || s <= 0 {
		return r, fmt.Errorf("memcslap seconds %q: %v", m[4], err)
	}
	r.took = time.Duration(s * float64(time.Second))
	if m := reMemcslapLoad.FindStringSubmatch(out); m != nil {
		r.loaded, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

// TestParseMemcslap reads memcslap 1.1's reports of a get and a set run.
func TestParseMemcslap(t *testing.T) {
	get := "Time to generate      10000 test keys:                0.097 seconds.\n" +
		"Time to set           10000 keys:                     1.463 seconds.\n" +
		"Time to start             8 threads:                  0.001 seconds.\n" +
		"--------------------------------------------------------------------\n" +
		"Time to get           80000 keys by    8 threads:     3.867 seconds.\n" +
		"--------------------------------------------------------------------\n" +
		"Time total:                                           5.428 seconds.\n"
	r, err := parseMemcslap(get)
	if err != nil || r.test != "get" || r.keys != 80000 || r.threads != 8 || r.took != 3867*time.Millisecond || r.loaded != 10000 || r.ops() != 90000 {
		t.Fatalf("get: %+v, %v", r, err)
	}
	set := "Time to generate      10000 test keys:                0.023 seconds.\n" +
		"Time to start             8 threads:                  0.000 seconds.\n" +
		"Time to set           80000 keys by    8 threads:     2.231 seconds.\n"
	if r, err := parseMemcslap(set); err != nil || r.test != "set" || r.loaded != 0 || r.ops() != 80000 {
		t.Fatalf("set: %+v, %v", r, err)
	}
	if _, err := parseMemcslap("Time total: 1 seconds.\n"); err == nil {
		t.Fatal("a report without the test's line was read")
	}
}

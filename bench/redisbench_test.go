package bench

import (
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// redisBenchArgs are redis-benchmark's options for one run of n copies of
// the command args against host:port, over clients connections with
// pipeline commands in flight on each, reported as CSV (-q --csv: a header
// and one line).
func redisBenchArgs(host, port string, n, pipeline, clients int, args ...string) []string {
	return append([]string{
		"-h", host, "-p", port,
		"-n", strconv.Itoa(n), "-P", strconv.Itoa(pipeline), "-c", strconv.Itoa(clients),
		"-q", "--csv",
	}, args...)
}

// redisBenchRun is one redis-benchmark run: wall is the time around the
// whole process, rps what redis-benchmark reports (its timing starts when
// its clients are connected).
type redisBenchRun struct {
	wall time.Duration
	test string
	rps  float64
	p50  float64 // ms
}

// runRedisBench runs redis-benchmark with args, bounded by limit:
// redis-benchmark 7 does not give up on a server it cannot reach, it
// retries forever. Anything it prints on stderr is an error too.
func runRedisBench(bin string, args []string, limit time.Duration) (redisBenchRun, error) {
	out, wall, err := runTool(bin, args, limit)
	if err != nil {
		return redisBenchRun{}, err
	}
	r, err := parseRedisBench(out)
	r.wall = wall
	return r, err
}

// parseRedisBench reads redis-benchmark's --csv report of one test: the
// header line ("test","rps","avg_latency_ms",...) and one line of values.
func parseRedisBench(out string) (redisBenchRun, error) {
	var r redisBenchRun
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		return r, fmt.Errorf("redis-benchmark's CSV: %v:\n%s", err, out)
	}
	if len(recs) != 2 || len(recs[0]) < 5 || recs[0][0] != "test" || recs[0][1] != "rps" || recs[0][4] != "p50_latency_ms" {
		return r, fmt.Errorf("redis-benchmark's CSV is not a header and one test:\n%s", out)
	}
	r.test = recs[1][0]
	if r.rps, err = strconv.ParseFloat(recs[1][1], 64); err != nil || r.rps <= 0 {
		return r, fmt.Errorf("redis-benchmark's rps %q: %v", recs[1][1], err)
	}
	if r.p50, err = strconv.ParseFloat(recs[1][4], 64); err != nil {
		return r, fmt.Errorf("redis-benchmark's p50 %q: %v", recs[1][4], err)
	}
	return r, nil
}

package bench

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// slapRun is one mariadb-slap run: wall is the time around the whole
// process (start, connections, queries, exit), reported what slap itself
// says it took to run all queries (its clients' connects included).
type slapRun struct {
	wall, reported time.Duration
	clients        int
	perClient      int64
}

// slapArgs are mariadb-slap's options for one run of queries copies of
// query, spread over concurrency clients, against host:port as root with no
// password on database test. --no-defaults keeps the machine's option files
// out; --no-drop makes sure slap never drops the schema it is pointed at
// (it would only with --create or --auto-generate-sql, but the schema is
// the shared test database).
func slapArgs(host, port, query string, concurrency, queries int) []string {
	return []string{
		"--no-defaults",
		"--host=" + host, "--port=" + port, "--user=root", "--protocol=TCP",
		"--create-schema=test", "--no-drop",
		"--query=" + query,
		"--concurrency=" + strconv.Itoa(concurrency),
		"--number-of-queries=" + strconv.Itoa(queries),
		"--iterations=1",
	}
}

// runSlap runs mariadb-slap with args, bounded by limit. A failed client
// connection only makes slap print to stderr (its exit status stays 0), so
// anything on stderr is an error too.
func runSlap(bin string, args []string, limit time.Duration) (slapRun, error) {
	out, wall, err := runTool(bin, args, limit)
	if err != nil {
		return slapRun{}, err
	}
	r, err := parseSlap(out)
	r.wall = wall
	return r, err
}

var (
	reSlapAvg     = regexp.MustCompile(`(?m)^\s*Average number of seconds to run all queries: ([\d.]+) seconds`)
	reSlapClients = regexp.MustCompile(`(?m)^\s*Number of clients running queries: (\d+)`)
	reSlapPer     = regexp.MustCompile(`(?m)^\s*Average number of queries per client: (\d+)`)
)

// parseSlap reads mariadb-slap's report (one iteration).
func parseSlap(out string) (slapRun, error) {
	var r slapRun
	m := reSlapAvg.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no \"Average number of seconds\" line in mariadb-slap's output:\n%s", out)
	}
	s, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return r, fmt.Errorf("mariadb-slap seconds %q: %v", m[1], err)
	}
	r.reported = time.Duration(s * float64(time.Second))
	if m = reSlapClients.FindStringSubmatch(out); m == nil {
		return r, fmt.Errorf("no \"Number of clients\" line in mariadb-slap's output:\n%s", out)
	}
	r.clients, _ = strconv.Atoi(m[1])
	if m = reSlapPer.FindStringSubmatch(out); m == nil {
		return r, fmt.Errorf("no \"queries per client\" line in mariadb-slap's output:\n%s", out)
	}
	r.perClient, _ = strconv.ParseInt(m[1], 10, 64)
	return r, nil
}

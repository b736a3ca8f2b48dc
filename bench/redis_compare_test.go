package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults/internal/testenv"
)

// Environment of TestCompareRedis (besides FAULTS_BENCH, FAULTS_BENCH_ROWS
// and FAULTS_BENCH_OUT, read as by the others, and FAULTS_REDIS_ADDR and
// FAULTS_REQUIRE_SERVICES, read by testenv.RedisAddr).
const (
	envBenchRedisRnds = "FAULTS_BENCH_REDIS_ROUNDS" // rounds, default 3
	envBenchRedisNP   = "FAULTS_BENCH_REDIS_N"      // commands per pipelined run, default 100000
	envBenchRedisN1   = "FAULTS_BENCH_REDIS_N1"     // commands per non-pipelined run, default 10000
)

const (
	redisClients    = 10               // redis-benchmark's -c
	redisPipeline   = 16               // -P of the pipelined runs
	redisValue      = "xxx"            // the SET's value: what -t set sends (-d 3)
	redisBenchLimit = 60 * time.Second // longest one redis-benchmark run may take
)

// redisRows are the ways TestCompareRedis reaches the server.
var redisRows = []row{
	{name: "direct"},
	{name: "plain", child: kindPlain},
	{name: "faults", child: kindFaults},
	{name: "faults-redis", child: kindFaultsRedis},
	{name: "faults-redis+capture", child: kindRedisCapture},
	{name: "toxiproxy", toxi: true},
}

// redisMode is one way redis-benchmark is run: with or without pipelining.
type redisMode struct {
	name     string
	pipeline int // -P
	n        int // -n, per command
}

// redisModeResult is what one row measured in one mode.
type redisModeResult struct {
	ops    []float64 // operations/s from the wall time around SET and GET, per round
	setRPS []float64 // redis-benchmark's own rps of the SET run, per round
	getRPS []float64 // the same of the GET run
	getP50 []float64 // the GET run's p50 latency, ms, per round
	count  int64     // operations, all rounds
	cpu    time.Duration
	noCPU  bool
}

func (m *redisModeResult) rate() float64 { return median(m.ops) }

func (m *redisModeResult) cpuUsPerOp() float64 {
	return cpuPer(m.noCPU, us(m.cpu), float64(m.count))
}

// redisResult is one row of TestCompareRedis's report: [0] pipelined,
// [1] not.
type redisResult struct {
	rowHead
	modes [2]redisModeResult
}

func (r *redisResult) pipeOps() float64 { return r.modes[0].rate() }
func (r *redisResult) pipeCPU() float64 { return r.modes[0].cpuUsPerOp() }
func (r *redisResult) oneOps() float64  { return r.modes[1].rate() }
func (r *redisResult) oneCPU() float64  { return r.modes[1].cpuUsPerOp() }

// TestCompareRedis measures Redis through each proxy, side by side in one
// run, against a real Redis server, with redis-benchmark: SET then GET of
// one key, N times each over 10 connections, once pipelined (-P 16) and
// once not (-P 1), for operations/s and the proxy's CPU per operation.
// Rows are interleaved per round and mode. It runs only with FAULTS_BENCH=1,
// a server at FAULTS_REDIS_ADDR (default 127.0.0.1:6379) and
// redis-benchmark; it takes about 70 s.
func TestCompareRedis(t *testing.T) {
	requireBench(t, "the Redis comparison (about 70 s)")
	rounds := envInt(t, envBenchRedisRnds, 3, 1, 10)
	modes := []redisMode{
		{name: "pipelined", pipeline: redisPipeline, n: envInt(t, envBenchRedisNP, 100000, 1000, 10_000_000)},
		{name: "not pipelined", pipeline: 1, n: envInt(t, envBenchRedisN1, 10000, 100, 1_000_000)},
	}
	bin, err := findTool("redis-benchmark", "redis-tools")
	if err != nil {
		t.Skip(err)
	}
	addr := redisServer(t)
	selected := selectRows(redisRows)

	admin := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 5 * time.Second, ReadTimeout: guard, WriteTimeout: guard})
	defer admin.Close()
	ctx := context.Background()
	version, err := redisInfoField(ctx, admin, "server", "redis_version")
	if err != nil {
		t.Fatal(err)
	}
	// The server is shared: every command of the run uses a key of its own.
	key := fmt.Sprintf("faults:bench:redis:%d:%d", os.Getpid(), time.Now().UnixNano())
	defer func() {
		if err := admin.Del(ctx, key).Err(); err != nil {
			t.Errorf("DEL %s: %v", key, err)
		}
	}()

	results := make([]redisResult, len(selected))
	eps := make([]*endpoint, len(selected))
	defer closeEndpoints(t, selected, eps)
	startRows(t, selected, addr, eps, results, func(addr string) error { return checkRedis(addr, key) })

	start := time.Now()
	for round := range rounds {
		for m, mode := range modes {
			eachEndpoint(t, selected, eps, "redis-benchmark "+mode.name, round, func(i int, ep *endpoint) error {
				return measureRedisBench(ep, bin, admin, key, mode, &results[i].modes[m])
			})
		}
	}

	var sb strings.Builder
	writeRedisReport(&sb, results, modes, key, version, rounds, time.Since(start))
	emitReport(t, sb.String())
}

// redisServer returns the address of the server to measure against,
// FAULTS_REDIS_ADDR or 127.0.0.1:6379, after a PING. Nothing answering
// skips the test (fails it under FAULTS_REQUIRE_SERVICES=1: see
// testenv.RedisAddr); a server that answers the PING with an error fails
// it.
func redisServer(t *testing.T) string {
	t.Helper()
	addr := testenv.RedisAddr(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, MaxRetries: -1})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis server at %s (%s) does not answer PING: %v", addr, testenv.EnvRedisAddr, err)
	}
	return addr
}

// checkRedis sets key to redisValue through addr with go-redis and reads it
// back.
func checkRedis(addr, key string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: guard, ReadTimeout: guard, WriteTimeout: guard, MaxRetries: -1})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, key, redisValue, 0).Err(); err != nil {
		return fmt.Errorf("SET: %v", err)
	}
	if v, err := rdb.Get(ctx, key).Result(); err != nil || v != redisValue {
		return fmt.Errorf("GET: %q, %v; want %q", v, err, redisValue)
	}
	return nil
}

// redisInfoField reads one field of a section of INFO.
func redisInfoField(ctx context.Context, rdb *redis.Client, section, field string) (string, error) {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO %s has no %s", section, field)
}

// redisCalls reads how many times the server has run SET and GET
// (INFO commandstats, all clients: the counts only ever grow).
func redisCalls(ctx context.Context, rdb *redis.Client) (set, get int64, err error) {
	for _, p := range []struct {
		name string
		n    *int64
	}{{"cmdstat_set", &set}, {"cmdstat_get", &get}} {
		v, err := redisInfoField(ctx, rdb, "commandstats", p.name)
		if err != nil {
			return 0, 0, err
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(v, "calls="), ",")
		if *p.n, err = strconv.ParseInt(calls, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("INFO commandstats %s:%s: %v", p.name, v, err)
		}
	}
	return set, get, nil
}

// measureRedisBench runs redis-benchmark twice through ep, SET key
// redisValue then GET key, n times each in the mode's pipelining, and adds
// the operations/s, redis-benchmark's own figures, and the proxy's CPU
// meanwhile, to res. The server's counts of SET and GET calls must have
// grown by at least n each.
func measureRedisBench(ep *endpoint, bin string, admin *redis.Client, key string, mode redisMode, res *redisModeResult) error {
	host, port, err := net.SplitHostPort(ep.addr)
	if err != nil {
		return err
	}
	ctx := context.Background()
	set0, get0, err := redisCalls(ctx, admin)
	if err != nil {
		return err
	}
	var set, get redisBenchRun
	err = addProxyCPU(ep, &res.cpu, &res.noCPU, func() (err error) {
		if set, err = runRedisBench(bin, redisBenchArgs(host, port, mode.n, mode.pipeline, redisClients, "SET", key, redisValue), redisBenchLimit); err != nil {
			return err
		}
		get, err = runRedisBench(bin, redisBenchArgs(host, port, mode.n, mode.pipeline, redisClients, "GET", key), redisBenchLimit)
		return err
	})
	if err != nil {
		return err
	}
	set1, get1, err := redisCalls(ctx, admin)
	if err != nil {
		return err
	}
	if set1-set0 < int64(mode.n) || get1-get0 < int64(mode.n) {
		return fmt.Errorf("the server ran %d SETs and %d GETs during the run, want at least %d each", set1-set0, get1-get0, mode.n)
	}
	if v, err := admin.Get(ctx, key).Result(); err != nil || v != redisValue {
		return fmt.Errorf("after the run, GET %s = %q, %v; want %q", key, v, err, redisValue)
	}
	res.ops = append(res.ops, float64(2*mode.n)/(set.wall+get.wall).Seconds())
	res.setRPS = append(res.setRPS, set.rps)
	res.getRPS = append(res.getRPS, get.rps)
	res.getP50 = append(res.getP50, get.p50)
	res.count += int64(2 * mode.n)
	return nil
}

var redisTargets = []target[*redisResult]{
	{"faults-redis", "plain", "pipelined ops/s", (*redisResult).pipeOps, true, 0.85},
	{"faults-redis", "plain", "not pipelined ops/s", (*redisResult).oneOps, true, 0.9},
	{"faults-redis", "plain", "pipelined CPU µs/op", (*redisResult).pipeCPU, false, 1.5},
	{"faults-redis", "plain", "not pipelined CPU µs/op", (*redisResult).oneCPU, false, 1.5},
	{"faults-redis+capture", "faults-redis", "pipelined CPU µs/op", (*redisResult).pipeCPU, false, 2},
	{"faults-redis+capture", "faults-redis", "not pipelined CPU µs/op", (*redisResult).oneCPU, false, 2},
}

// writeRedisReport renders TestCompareRedis's results as Markdown.
func writeRedisReport(w io.Writer, results []redisResult, modes []redisMode, key, version string, rounds int, took time.Duration) {
	info := firstInfo(results)
	byName := rowsByName(results)
	fmt.Fprintf(w, "### Redis through each proxy (%s %s/%s, %d CPUs, Redis %s%s; %d rounds; took %.0fs)\n\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), version, info, rounds, took.Seconds())
	for m, mode := range modes {
		fmt.Fprintf(w, "redis-benchmark -P %d -c %d -n %d -q --csv, once `SET KEY %s`, then once `GET KEY` (%s):\n\n",
			mode.pipeline, redisClients, mode.n, redisValue, mode.name)
		fmt.Fprint(w, "| path | ops/s | spread ops/s | SET rps (redis-benchmark) | GET rps (redis-benchmark) | GET p50 ms | proxy CPU µs/op |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, r := range results {
			if r.skipped != "" {
				writeSkipped(w, r.name, r.skipped, 6)
				continue
			}
			mr := &r.modes[m]
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", r.name, cell("%.0f", mr.rate()), spread(mr.ops),
				cell("%.0f", median(mr.setRPS)), cell("%.0f", median(mr.getRPS)), cell("%.3f", median(mr.getP50)), cell("%.2f", mr.cpuUsPerOp()))
		}
		fmt.Fprintln(w)
	}

	fmt.Fprint(w, "### Ratios (a / b)\n\nops/s: above 1 means a is faster. CPU: below 1 means a is cheaper.\n\n")
	fmt.Fprint(w, "| a / b | pipelined ops/s | pipelined CPU µs/op | not pipelined ops/s | not pipelined CPU µs/op |\n|---|---:|---:|---:|---:|\n")
	writePairRatios(w, byName, [][2]string{{"faults-redis", "plain"}, {"faults-redis", "faults"}, {"toxiproxy", "faults-redis"}, {"faults-redis+capture", "faults-redis"}, {"plain", "direct"}, {"toxiproxy", "plain"}},
		(*redisResult).pipeOps, (*redisResult).pipeCPU, (*redisResult).oneOps, (*redisResult).oneCPU)

	writeTargets(w, byName, redisTargets)
	fmt.Fprintf(w, "\nops/s are medians of the rounds, from the wall time around both redis-benchmark processes "+
		"(2 × -n operations; redis-benchmark's own rps, which leaves out its start and its connections, is shown beside). "+
		"CPU is the proxy process's own (sum of /proc/PID/task/*/schedstat over all rounds, divided by the operations; "+
		"redis-benchmark's connections included). The commands are those of `redis-benchmark -t set,get` (a 3-byte value) "+
		"on a key of the run's own (%s), since the server may be shared; the server's SET and GET counts must grow by -n "+
		"in each run. redis-benchmark, the server, the proxy and the test process share the machine's CPUs. "+
		"faults is the TCP (spliced) pass-through, faults-redis the same with WithProtocol(Redis()) and no fault, "+
		"faults-redis+capture the same writing a capture of everything to a file on tmpfs (WithCapture). "+
		"Toxiproxy runs with LOG_LEVEL=error.\n", key)
}

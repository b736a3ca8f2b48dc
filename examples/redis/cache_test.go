package rediscache

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// Settings of the tests: short, so that the file runs in a few seconds, and
// far enough apart that the timing checks hold on a loaded CI machine.
const (
	testTimeout = 2 * time.Second        // the client's timeouts, and the cache's Timeout unless a scenario is about it
	slowTimeout = 150 * time.Millisecond // the cache's Timeout in the slow-reply scenario
	slowDelay   = 2 * time.Second        // how long the proxy holds those replies
	cooldown    = time.Second            // the cache's Cooldown in the LOADING scenario
	slack       = 700 * time.Millisecond // upper bounds only
)

// source is a Source that counts its loads per id; ids in down fail.
type source struct {
	mu    sync.Mutex
	loads map[string]int
	down  map[string]bool
}

var errSourceDown = errors.New("source down")

func newSource(down ...string) *source {
	s := &source{loads: map[string]int{}, down: map[string]bool{}}
	for _, id := range down {
		s.down[id] = true
	}
	return s
}

func (s *source) Load(ctx context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads[id]++
	if s.down[id] {
		return "", errSourceDown
	}
	return valueOf(id), nil
}

// counts returns the loads per id, without the ids never loaded.
func (s *source) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]int{}
	for id, n := range s.loads {
		m[id] = n
	}
	return m
}

// valueOf is the source's value of id, which the tests also seed Redis
// with: a read must return it whichever way it went.
func valueOf(id string) string { return "value-of-" + id }

// redisErrs keeps what the cache reported to OnRedisError.
type redisErrs struct {
	mu   sync.Mutex
	list []string // "op: error"
	errs []error
}

func (r *redisErrs) add(op string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, op+": "+err.Error())
	r.errs = append(r.errs, err)
}

func (r *redisErrs) all() ([]string, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list), slices.Clone(r.errs)
}

// env is what every scenario gets: a cache over its own go-redis client
// (through the proxy), its source, what it reported, and a client of the
// server itself to seed and check keys.
type env struct {
	cache  *Cache
	rdb    *redis.Client // through the proxy
	src    *source
	errs   *redisErrs
	direct *redis.Client
	prefix string
}

func (e *env) seed(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := e.direct.Set(context.Background(), e.prefix+id, valueOf(id), time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// cached reports whether Redis itself holds id.
func (e *env) cached(t *testing.T, id string) bool {
	t.Helper()
	n, err := e.direct.Exists(context.Background(), e.prefix+id).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// lookup calls Lookup, which must succeed with id's value from origin.
func (e *env) lookup(t *testing.T, id string, origin Origin) Result {
	t.Helper()
	r, err := e.cache.Lookup(context.Background(), id)
	if err != nil || r.Value != valueOf(id) || r.Origin != origin {
		t.Fatalf("Lookup(%q) = %q from %v (Redis: %v), %v; want %q from %v", id, r.Value, r.Origin, r.RedisErr, err, valueOf(id), origin)
	}
	return r
}

// getMany calls GetMany, which must succeed with every id's value.
func (e *env) getMany(t *testing.T, ids ...string) {
	t.Helper()
	got, err := e.cache.GetMany(context.Background(), ids)
	want := make([]string, len(ids))
	for i, id := range ids {
		want[i] = valueOf(id)
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("GetMany(%q) = %q, %v; want %q", ids, got, err, want)
	}
}

func (e *env) wantStats(t *testing.T, want Stats) {
	t.Helper()
	if got := e.cache.Stats(); got != want {
		t.Fatalf("Stats =\n\t%+v, want\n\t%+v", got, want)
	}
}

func (e *env) wantLoads(t *testing.T, want map[string]int) {
	t.Helper()
	if got := e.src.counts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("source loads %v, want %v", got, want)
	}
}

// injected returns how many faults p has fired so far.
func injected(p *faults.Proxy) int64 { return p.Stats().Injected }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// TestCacheUnderFaults runs the cache through one Redis-aware proxy, one
// failure scenario at a time. Each scenario installs its faults (removed
// after it) and checks the values the cache returned (always right, never
// an error while the source is healthy), where they came from, how often
// the source was asked, and what reached Redis.
func TestCacheUnderFaults(t *testing.T) {
	addr := redisAddr(t)
	direct := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	t.Cleanup(func() { direct.Close() })
	// The server may be shared: every key of the run has a prefix of its
	// own, and they are all deleted at the end.
	runPrefix := fmt.Sprintf("faults:example:rediscache:%d:%d:", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() { deletePrefix(t, direct, runPrefix) })
	p := faulttest.NewProxy(t, addr, faults.WithProtocol(faults.Redis()))

	// start returns a fresh cache over a fresh client (closed at the end
	// of the scenario). The client's own timeouts are generous, so that a
	// loaded machine does not fail the scenarios that are not about time;
	// the cache's Timeout is too, unless cfg sets one.
	start := func(t *testing.T, cfg Config) *env {
		e := &env{src: newSource(), errs: &redisErrs{}, direct: direct, prefix: runPrefix + t.Name() + ":"}
		e.rdb = redis.NewClient(Options(p.Addr(), testTimeout))
		t.Cleanup(func() { e.rdb.Close() })
		if cfg.Timeout == 0 {
			cfg.Timeout = testTimeout
		}
		cfg.Prefix = e.prefix
		cfg.OnRedisError = e.errs.add
		e.cache = New(e.rdb, e.src, cfg)
		return e
	}

	faulttest.Run(t, p, []faulttest.Scenario{
		{
			Name: "healthy",
			Test: func(t *testing.T) {
				e := start(t, Config{})
				e.seed(t, "a")
				e.lookup(t, "a", FromCache)
				e.lookup(t, "b", FromSource) // a miss, filled
				if !e.cached(t, "b") {
					t.Fatal("b was not written to Redis after the miss")
				}
				e.lookup(t, "b", FromCache)
				e.getMany(t, "a", "b", "c") // c: a miss, filled
				if !e.cached(t, "c") {
					t.Fatal("c was not written to Redis after GetMany's miss")
				}
				e.getMany(t, "a", "b", "c")
				e.wantStats(t, Stats{Hits: 7, Misses: 2, Loads: 2, Fills: 2})
				e.wantLoads(t, map[string]int{"b": 1, "c": 1})
				if list, _ := e.errs.all(); len(list) > 0 {
					t.Fatalf("Redis errors reported: %q", list)
				}
			},
		},
		{
			// A server loading its dataset answers LOADING to data commands
			// (it still answers HELLO, so connections are made).
			Name:      "LOADING",
			Behaviors: []faults.Behavior{faults.Error(faults.RedisLoading).When(faults.Command("GET", "SET"))},
			Test: func(t *testing.T) {
				e := start(t, Config{Cooldown: cooldown})
				e.seed(t, "a")
				before := injected(p)
				r := e.lookup(t, "a", FromFallback)
				if !redis.IsLoadingError(r.RedisErr) {
					t.Fatalf("RedisErr = %v, want LOADING", r.RedisErr)
				}
				// go-redis retries LOADING 3 times with backoff by default;
				// Options turns that off: one GET.
				if n := injected(p) - before; n != 1 {
					t.Fatalf("the proxy answered %d GETs with LOADING, want 1 (no retries)", n)
				}
				// In the cooldown, Redis is not asked.
				if r := e.lookup(t, "a", FromFallback); r.RedisErr != ErrCooldown {
					t.Fatalf("RedisErr = %v, want ErrCooldown", r.RedisErr)
				}
				e.getMany(t, "a", "b")
				if n := injected(p) - before; n != 1 {
					t.Fatalf("the proxy answered %d commands with LOADING, want still 1: Redis was asked during the cooldown", n)
				}
				// After it, Redis is asked again: still loading.
				time.Sleep(cooldown + 100*time.Millisecond)
				if r := e.lookup(t, "a", FromFallback); !redis.IsLoadingError(r.RedisErr) {
					t.Fatalf("RedisErr = %v, want LOADING", r.RedisErr)
				}
				// The server is done loading; after the cooldown, hits again.
				p.Reset()
				time.Sleep(cooldown + 100*time.Millisecond)
				e.lookup(t, "a", FromCache)
				e.wantStats(t, Stats{Hits: 1, Fallbacks: 5, Skipped: 3, Loads: 5})
				e.wantLoads(t, map[string]int{"a": 4, "b": 1})
				if e.cached(t, "b") {
					t.Fatal("b was written to Redis after a fallback")
				}
			},
		},
		{
			Name:      "LOADING, source down",
			Behaviors: []faults.Behavior{faults.Error(faults.RedisLoading).When(faults.Command("GET", "SET"))},
			Test: func(t *testing.T) {
				e := start(t, Config{})
				e.src.down["x"] = true
				_, err := e.cache.Get(context.Background(), "x")
				if !errors.Is(err, errSourceDown) {
					t.Fatalf("Get = %v, want the source's error", err)
				}
				vals, err := e.cache.GetMany(context.Background(), []string{"y", "x"})
				if !errors.Is(err, errSourceDown) || !strings.Contains(err.Error(), `"x"`) || vals[0] != valueOf("y") || vals[1] != "" {
					t.Fatalf("GetMany = %q, %v; want y's value and the source's error for x", vals, err)
				}
				e.wantStats(t, Stats{Fallbacks: 3, Skipped: 2, Loads: 3, LoadErrors: 2})
			},
		},
		{
			// After a failover the node the client writes to is a
			// replica: writes fail with READONLY, reads still work.
			Name:      "READONLY on writes",
			Behaviors: []faults.Behavior{faults.Error(faults.RedisReadOnly).When(faults.Command("SET"))},
			Test: func(t *testing.T) {
				e := start(t, Config{})
				e.seed(t, "a")
				e.lookup(t, "a", FromCache)
				e.lookup(t, "b", FromSource) // the fill fails, silently
				e.lookup(t, "b", FromSource) // so b is loaded again
				e.getMany(t, "a", "b", "c")  // a from Redis; b, c loaded, fills fail
				e.wantStats(t, Stats{Hits: 2, Misses: 4, Loads: 4, FillErrors: 4})
				e.wantLoads(t, map[string]int{"b": 3, "c": 1})
				list, errs := e.errs.all()
				if len(errs) != 3 || slices.ContainsFunc(errs, func(err error) bool { return !redis.IsReadOnlyError(err) }) {
					t.Fatalf("Redis errors reported: %q; want 3 READONLY (2 fills, 1 pipelined fill)", list)
				}
				if e.cached(t, "b") || e.cached(t, "c") {
					t.Fatal("a refused write reached Redis")
				}
			},
		},
		{
			// The client's own read timeout is 2 s (testTimeout): only
			// the deadline of the cache's context (ContextTimeoutEnabled)
			// ends the wait after 150 ms.
			Name:      "slow replies",
			Behaviors: []faults.Behavior{faults.DelayResponse(slowDelay).When(faults.Command("GET"))},
			Test: func(t *testing.T) {
				e := start(t, Config{Timeout: slowTimeout})
				e.seed(t, "a", "b")
				t0 := time.Now()
				r := e.lookup(t, "a", FromFallback)
				el := time.Since(t0)
				if !isTimeout(r.RedisErr) {
					t.Fatalf("RedisErr = %v, want a timeout", r.RedisErr)
				}
				if el < slowTimeout-20*time.Millisecond || el > slowTimeout+slack {
					t.Fatalf("Lookup took %v, want about the cache's Timeout (%v), far less than the reply's delay (%v)", el, slowTimeout, slowDelay)
				}
				t0 = time.Now()
				e.getMany(t, "a", "b")
				if el := time.Since(t0); el > slowTimeout+slack {
					t.Fatalf("GetMany took %v, want about one Timeout (%v): one pipeline, one deadline", el, slowTimeout)
				}
				e.wantStats(t, Stats{Fallbacks: 3, Loads: 3})
				e.wantLoads(t, map[string]int{"a": 2, "b": 1})
				if list, errs := e.errs.all(); len(errs) != 2 || !isTimeout(errs[0]) || !isTimeout(errs[1]) {
					t.Fatalf("Redis errors reported: %q; want 2 timeouts", list)
				}
				// The server is fast again: the connections that timed out
				// were discarded, new ones answer (read here through a cache
				// with a generous Timeout over the same client, so that a
				// loaded machine does not fail the check).
				p.Reset()
				e.cache = New(e.rdb, e.src, Config{Prefix: e.prefix, Timeout: testTimeout})
				e.lookup(t, "a", FromCache)
				e.getMany(t, "a", "b")
				e.wantStats(t, Stats{Hits: 3})
			},
		},
		{
			// The connection breaks after the server answered two of the
			// pipeline's five GETs: the third reaches the server, its
			// answer does not come back, the last two never leave the
			// proxy.
			Name:      "reset mid-pipeline",
			Behaviors: []faults.Behavior{faults.Abort().When(faults.Command("GET")).After(2).Times(1)},
			Test: func(t *testing.T) {
				e := start(t, Config{})
				ids := []string{"a", "b", "c", "d", "e"}
				e.seed(t, ids...)
				before := injected(p)
				e.getMany(t, ids...)
				// go-redis (v9.23, retries off) marks every command of a
				// pipeline whose connection broke with the error, even
				// those whose replies it had read: all five fall back.
				e.wantStats(t, Stats{Fallbacks: 5, Loads: 5})
				e.wantLoads(t, map[string]int{"a": 1, "b": 1, "c": 1, "d": 1, "e": 1})
				if list, errs := e.errs.all(); len(errs) != 1 || isTimeout(errs[0]) {
					t.Fatalf("Redis errors reported: %q; want one broken connection", list)
				}
				// The broken connection left the pool; the next pipeline
				// gets a good one, and single reads are unaffected.
				e.getMany(t, ids...)
				e.lookup(t, "a", FromCache)
				e.wantStats(t, Stats{Hits: 6, Fallbacks: 5, Loads: 5})
				if n := injected(p) - before; n != 1 {
					t.Fatalf("%d faults fired, want 1", n)
				}
				// Pipelines have a pool of their own: it dialed twice and
				// holds one connection, the broken one having been removed.
				if pp := e.rdb.PoolStats().PipelineStats; pp == nil || pp.Misses != 2 || pp.TotalConns != 1 {
					t.Fatalf("pipeline pool %+v; want 2 dials (misses) and 1 connection left", pp)
				}
			},
		},
	})
}

// deletePrefix deletes every key that starts with prefix.
func deletePrefix(t *testing.T, rdb *redis.Client, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("SCAN %s*: %v", prefix, err)
		return
	}
	if len(keys) > 0 {
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			t.Errorf("DEL: %v", err)
		}
	}
}

package mccache

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// Settings of the tests: the source is slow enough that the readers of a
// round, started together, all ask while its load is in flight, even on a
// loaded CI machine.
const (
	loadTime = 100 * time.Millisecond // how long the source takes per load
	latency  = 100 * time.Millisecond // the network's, each way, in the latency test
	slack    = time.Second            // upper bounds only
)

// source is a Source that takes loadTime per load and counts its loads.
type source struct {
	mu    sync.Mutex
	loads map[string]int
}

func newSource() *source { return &source{loads: map[string]int{}} }

func (s *source) Load(ctx context.Context, id string) (string, error) {
	time.Sleep(loadTime)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads[id]++
	return valueOf(id), nil
}

// total returns the loads so far, all ids together.
func (s *source) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.loads {
		n += c
	}
	return n
}

// valueOf is the source's value of id, which the tests also seed memcached
// with: a read must return it whichever way it went.
func valueOf(id string) string { return "value-of-" + id }

// fixture is a cache reading through a memcached proxy, a client of the
// server itself (around the proxy), and the key prefix of the test, whose
// keys are deleted at cleanup.
type fixture struct {
	p      *faults.Proxy
	mc     *memcache.Client
	direct *memcache.Client
	src    *source
	cache  *Cache
	prefix string
}

func newFixture(t *testing.T, timeout time.Duration, ids ...string) *fixture {
	t.Helper()
	addr := memcachedAddr(t)
	f := &fixture{
		p:      faulttest.NewProxy(t, addr, faults.WithProtocol(faults.Memcached())),
		direct: memcache.New(addr),
		src:    newSource(),
		prefix: fmt.Sprintf("faults:example:mccache:%d:%d:", os.Getpid(), time.Now().UnixNano()),
	}
	f.mc = memcache.New(f.p.Addr())
	f.mc.Timeout = timeout
	f.mc.MaxIdleConns = 256
	t.Cleanup(func() {
		for _, id := range ids {
			f.direct.Delete(f.prefix + id)
		}
		f.mc.Close()
		f.direct.Close()
	})
	f.cache = New(f.mc, f.src, Config{Prefix: f.prefix, TTL: time.Minute})
	return f
}

// seed stores the source's value of each id in memcached, directly.
func (f *fixture) seed(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := f.direct.Set(&memcache.Item{Key: f.prefix + id, Value: []byte(valueOf(id))}); err != nil {
			t.Fatal(err)
		}
	}
}

// readTogether starts readers readers of each id at once, each reading it
// with Get, and waits for all: every read must return the id's value.
func (f *fixture) readTogether(t *testing.T, ids []string, readers int) {
	t.Helper()
	start := make(chan struct{})
	errs := make(chan error, len(ids)*readers)
	var wg sync.WaitGroup
	for _, id := range ids {
		for range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				v, err := f.cache.Get(context.Background(), id)
				if err == nil && v != valueOf(id) {
					err = fmt.Errorf("read %q", v)
				}
				if err != nil {
					errs <- fmt.Errorf("Get(%s): %v", id, err)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// TestHealthy: a miss loads once and fills; the next read hits.
func TestHealthy(t *testing.T) {
	f := newFixture(t, 2*time.Second, "a", "b", "c")
	f.seed(t, "c")
	for range 2 {
		if v, err := f.cache.Get(context.Background(), "a"); err != nil || v != valueOf("a") {
			t.Fatalf("Get(a): %q, %v", v, err)
		}
	}
	got, err := f.cache.GetMany(context.Background(), []string{"a", "b", "c"})
	if err != nil || len(got) != 3 || got["b"] != valueOf("b") {
		t.Fatalf("GetMany: %v, %v", got, err)
	}
	if s := f.cache.Stats(); s != (Stats{Hits: 3, Misses: 2, Loads: 2, Fills: 2}) {
		t.Fatalf("stats %+v", s)
	}
}

// TestEveryKeyMissed is the cold cache after a restart, made permanent:
// the proxy answers every read as a miss, while the cache's fills still
// reach memcached. Rounds of 20 readers per id, started together, must
// cost the database about one load per id and round, not one per read.
func TestEveryKeyMissed(t *testing.T) {
	const nIDs, readers, rounds = 10, 20, 5
	all := ids("item:", nIDs)
	f := newFixture(t, 2*time.Second, all...)
	faulttest.Set(t, f.p, faults.Miss())
	for range rounds {
		f.readTogether(t, all, readers)
	}
	reads := nIDs * readers * rounds
	loads := f.src.total()
	t.Logf("%d reads, every one a miss: %d database loads (%.2f per id and round; %d without coalescing)",
		reads, loads, float64(loads)/nIDs/rounds, reads)
	if loads < nIDs*rounds || loads > 3*nIDs*rounds {
		t.Fatalf("%d database loads for %d ids in %d rounds: want one per id and round (at most 3)", loads, nIDs, rounds)
	}
	s := f.cache.Stats()
	if s.Misses != int64(reads) || s.Hits != 0 || s.Loads != int64(loads) || s.Fills != int64(loads) {
		t.Fatalf("stats %+v", s)
	}
	if n := f.p.Stats().Injected; n != int64(reads) {
		t.Fatalf("%d misses injected, want one per read (%d)", n, reads)
	}
	// The fills reached memcached: the proxy, not the server, lost them.
	if it, err := f.direct.Get(f.prefix + all[0]); err != nil || string(it.Value) != valueOf(all[0]) {
		t.Fatalf("memcached holds %v, %v", it, err)
	}
}

// TestSomeKeysMissed: with the hot keys missed, a multi-key read serves
// the others from memcached and loads the missed ones only, again on the
// next read.
func TestSomeKeysMissed(t *testing.T) {
	hot, cold := ids("hot:", 3), ids("cold:", 3)
	all := append(append([]string{}, hot...), cold...)
	f := newFixture(t, 2*time.Second, all...)
	f.seed(t, all...)
	faulttest.Set(t, f.p, faults.Miss().When(faults.Key(f.prefix+"hot:*")))
	for round := 1; round <= 2; round++ {
		got, err := f.cache.GetMany(context.Background(), all)
		if err != nil || len(got) != len(all) {
			t.Fatalf("GetMany: %v, %v", got, err)
		}
		for _, id := range all {
			if got[id] != valueOf(id) {
				t.Fatalf("%s: %q", id, got[id])
			}
		}
		if s := f.cache.Stats(); s.Hits != int64(3*round) || s.Misses != int64(3*round) || s.Loads != int64(3*round) {
			t.Fatalf("round %d: stats %+v; want the cold ids hit, the hot ones loaded", round, s)
		}
	}
}

// TestLatency: a slow network to memcached. Within the client's timeout
// reads still hit, slower by the round trip; past it, they fall back to
// the database, together: one load for all the readers of an id, and
// nothing written back to a cache that just failed.
func TestLatency(t *testing.T) {
	t.Run("within the timeout", func(t *testing.T) {
		f := newFixture(t, 2*time.Second, "a")
		f.seed(t, "a")
		faulttest.Set(t, f.p, faults.Latency(latency))
		start := time.Now()
		if v, err := f.cache.Get(context.Background(), "a"); err != nil || v != valueOf("a") {
			t.Fatalf("Get: %q, %v", v, err)
		}
		if took := time.Since(start); took < 2*latency || took > 2*latency+slack {
			t.Fatalf("a hit took %v with %v each way", took, latency)
		}
		if s := f.cache.Stats(); s.Hits != 1 || s.Loads != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("past the timeout", func(t *testing.T) {
		const timeout, readers = latency, 20
		f := newFixture(t, timeout, "a")
		f.seed(t, "a")
		faulttest.Set(t, f.p, faults.Latency(latency))
		start := time.Now()
		f.readTogether(t, []string{"a"}, readers)
		if took := time.Since(start); took > timeout+loadTime+slack {
			t.Fatalf("%d reads past the timeout took %v", readers, took)
		}
		s := f.cache.Stats()
		t.Logf("%d reads timed out: %d database loads", readers, s.Loads)
		if s.Fallbacks != readers || s.Loads < 1 || s.Loads > 3 || s.Fills != 0 {
			t.Fatalf("stats %+v; want every read a fallback, sharing about one load, nothing filled", s)
		}
	})
}

// Package mccache is a cache-aside reader over memcached, written for the
// day the cache is empty. A cache in front of a database hides the
// database's real load: after an eviction storm, a restart of the cache or
// a deploy that changed the keys, every read misses at once, and a reader
// that loads on every miss sends the database one query per read — a
// thundering herd, just when the database is least ready for it.
//
// This one coalesces: concurrent misses of one id share one load
// (golang.org/x/sync/singleflight), so the database sees at most one query
// per id in flight, however many readers ask. A memcached that fails or
// is too slow (gomemcache's Timeout) is treated as a miss that is not
// filled: the read goes to the database, coalesced the same way.
//
// Its tests (cache_test.go) put a [github.com/gofaults/faults] memcached
// proxy between the reader and a real memcached and measure the database's
// load with every key missed, some keys missed, and latency. See
// README.md.
package mccache

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"golang.org/x/sync/singleflight"
)

// Source is the source of truth the cache sits in front of, such as a
// database. Load returns the value of id; it must be safe for concurrent
// use. Its errors are returned to the readers that shared the load.
type Source interface {
	Load(ctx context.Context, id string) (string, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, id string) (string, error)

// Load calls f.
func (f SourceFunc) Load(ctx context.Context, id string) (string, error) { return f(ctx, id) }

// Config sets a Cache up. Its zero value gives the defaults.
type Config struct {
	// Prefix is prepended to an id to make its key, such as "item:".
	Prefix string
	// TTL is the expiry of the entries the cache writes, in whole
	// seconds; 0 means 10 minutes.
	TTL time.Duration
}

// Stats counts what a Cache did since it was made. Every read of an id
// counts once in Hits, Misses or Fallbacks.
type Stats struct {
	Hits      int64 // memcached had the value
	Misses    int64 // memcached had no entry: loaded (or shared a load), then filled
	Fallbacks int64 // memcached failed or timed out: loaded (or shared a load), not filled
	Loads     int64 // calls to Source.Load: the database's load; Misses + Fallbacks - Loads reads shared one
	Fills     int64 // entries written to memcached
	FillErrs  int64 // entries that could not be written (ignored)
}

// Cache reads ids through memcached, falling back to a Source. Make one
// with New; it is safe for concurrent use.
type Cache struct {
	mc      *memcache.Client
	src     Source
	prefix  string
	ttl     int32
	flights singleflight.Group

	hits, misses, fallbacks, loads, fills, fillErrs atomic.Int64
}

// New returns a cache of src over mc. Each memcached call is bounded by
// mc.Timeout (gomemcache has no contexts): set it to the budget a read may
// spend on the cache. The cache does not close mc.
func New(mc *memcache.Client, src Source, cfg Config) *Cache {
	ttl := int32(cfg.TTL / time.Second)
	if ttl <= 0 {
		ttl = 600
	}
	return &Cache{mc: mc, src: src, prefix: cfg.Prefix, ttl: ttl}
}

// Get returns the value of id: from memcached if it has it, else from the
// source, once for all the readers of id that miss meanwhile; the value
// loaded after a miss is written back (best effort). It returns an error
// only if the source does, or ctx ends first: a memcached failure only
// sends the read to the source.
func (c *Cache) Get(ctx context.Context, id string) (string, error) {
	it, err := c.mc.Get(c.prefix + id)
	switch {
	case err == nil:
		c.hits.Add(1)
		return string(it.Value), nil
	case errors.Is(err, memcache.ErrCacheMiss):
		c.misses.Add(1)
		return c.load(ctx, id, true)
	}
	c.fallbacks.Add(1)
	return c.load(ctx, id, false)
}

// GetMany returns the values of ids, read from memcached in one multi-key
// get; the ids it does not have are loaded (each coalesced with the other
// readers of that id) concurrently, and the misses written back. The
// error, if any, is the first of the loads that failed; the values of the
// others are returned.
func (c *Cache) GetMany(ctx context.Context, ids []string) (map[string]string, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = c.prefix + id
	}
	items, err := c.mc.GetMulti(keys)
	fill := err == nil
	values := make(map[string]string, len(ids))
	type loaded struct {
		id, v string
		err   error
	}
	results := make(chan loaded, len(ids))
	pending := 0
	for _, id := range ids {
		if it, ok := items[c.prefix+id]; ok {
			c.hits.Add(1)
			values[id] = string(it.Value)
			continue
		}
		if fill {
			c.misses.Add(1)
		} else {
			c.fallbacks.Add(1)
		}
		pending++
		go func() {
			v, err := c.load(ctx, id, fill)
			results <- loaded{id, v, err}
		}()
	}
	var first error
	for range pending {
		r := <-results
		if r.err != nil {
			if first == nil {
				first = r.err
			}
			continue
		}
		values[r.id] = r.v
	}
	return values, first
}

// load loads id from the source, sharing the load with every other reader
// of id meanwhile, and writes it back if fill (the leader's fill decides).
// The load runs on without ctx's cancellation, for the readers sharing it;
// a reader whose ctx ends stops waiting.
func (c *Cache) load(ctx context.Context, id string, fill bool) (string, error) {
	ch := c.flights.DoChan(id, func() (any, error) {
		c.loads.Add(1)
		v, err := c.src.Load(context.WithoutCancel(ctx), id)
		if err == nil && fill {
			if err := c.mc.Set(&memcache.Item{Key: c.prefix + id, Value: []byte(v), Expiration: c.ttl}); err != nil {
				c.fillErrs.Add(1)
			} else {
				c.fills.Add(1)
			}
		}
		return v, err
	})
	select {
	case r := <-ch:
		v, _ := r.Val.(string)
		return v, r.Err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Stats returns the counts so far.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Fallbacks: c.fallbacks.Load(),
		Loads: c.loads.Load(), Fills: c.fills.Load(), FillErrs: c.fillErrs.Load(),
	}
}

// Package rediscache is a cache-aside layer over Redis, written the way a
// cache in front of a source of truth has to be: Redis makes reads fast
// but is never needed for them. Every Redis call is bounded by a short
// deadline; any Redis failure (an error reply such as LOADING, a timeout, a
// connection reset in the middle of a pipeline) makes the read fall back to
// the source; filling the cache is best effort; and when Redis says it
// cannot serve for a while (LOADING, BUSY, MASTERDOWN) the cache stops
// asking it for a short cooldown instead of paying a round trip per read.
//
// Its tests (cache_test.go) put a [github.com/gofaults/faults] Redis proxy
// between the cache and a real Redis server and check each of those rules
// against injected error replies, slow replies and aborted connections.
// See README.md.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Source is the source of truth the cache sits in front of, such as a
// database. Load returns the value of id; it must be safe for concurrent
// use. Its errors are returned to the cache's callers as they are
// (wrapped).
type Source interface {
	Load(ctx context.Context, id string) (string, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, id string) (string, error)

// Load calls f.
func (f SourceFunc) Load(ctx context.Context, id string) (string, error) { return f(ctx, id) }

// Defaults for the zero values of Config's fields.
const (
	DefaultTimeout  = 50 * time.Millisecond
	DefaultTTL      = 10 * time.Minute
	DefaultCooldown = time.Second
)

// Config sets a Cache up. Its zero value gives the defaults.
type Config struct {
	// Prefix is prepended to an id to make its Redis key, such as
	// "item:". It may be empty.
	Prefix string

	// Timeout bounds each Redis call: a Get's read, a GetMany's
	// pipeline, each fill. A call past it is abandoned and the read falls
	// back to the source, so a read that misses the cache takes at most
	// about Timeout more than the source itself (twice that with the
	// fill). 0 means DefaultTimeout.
	Timeout time.Duration

	// TTL is the expiry of the entries the cache writes. 0 means
	// DefaultTTL.
	TTL time.Duration

	// Cooldown is how long the cache leaves Redis alone after Redis
	// answered that it cannot serve at all for now (LOADING while it
	// loads its dataset, BUSY while a script runs, MASTERDOWN on a
	// replica without its master): reads go straight to the source
	// meanwhile. 0 means DefaultCooldown; a negative value disables it.
	Cooldown time.Duration

	// OnRedisError, if set, is called with every Redis failure the cache
	// hides from its callers (a miss is not a failure), and where it
	// happened: "get", "fill", "getmany" or "fillmany". For logs and
	// metrics; it must be quick and safe for concurrent use.
	OnRedisError func(op string, err error)
}

// Origin says where a value came from.
type Origin int

const (
	// FromCache: Redis had the value.
	FromCache Origin = iota + 1
	// FromSource: Redis answered that it had no entry, and the value was
	// loaded from the source (and written to Redis, best effort).
	FromSource
	// FromFallback: Redis failed or was in its cooldown, and the value
	// was loaded from the source; Result.RedisErr says why.
	FromFallback
)

func (o Origin) String() string {
	switch o {
	case FromCache:
		return "cache"
	case FromSource:
		return "source"
	case FromFallback:
		return "fallback"
	}
	return fmt.Sprintf("Origin(%d)", int(o))
}

// Result is what Lookup found.
type Result struct {
	Value  string
	Origin Origin
	// RedisErr is the Redis failure behind a FromFallback result
	// (ErrCooldown if Redis was not asked), or nil.
	RedisErr error
}

// ErrCooldown is the RedisErr of a read that did not ask Redis because it
// was in its cooldown.
var ErrCooldown = errors.New("rediscache: Redis skipped during its cooldown")

// Stats counts what a Cache did since it was made. Every read of an id
// counts once in Hits, Misses or Fallbacks.
type Stats struct {
	Hits       int64 // answered from Redis
	Misses     int64 // Redis had no entry: loaded from the source
	Fallbacks  int64 // Redis failed or was skipped: loaded from the source
	Skipped    int64 // of Fallbacks, those during a cooldown, which did not ask Redis
	Loads      int64 // calls to Source.Load
	LoadErrors int64 // of Loads, those that failed
	Fills      int64 // entries written to Redis
	FillErrors int64 // entries that could not be written (ignored)
}

// Cache reads ids through Redis, falling back to a Source. Make one with
// New; it is safe for concurrent use.
type Cache struct {
	rdb      redis.Cmdable
	src      Source
	prefix   string
	timeout  time.Duration
	ttl      time.Duration
	cooldown time.Duration
	onErr    func(op string, err error)

	coolUntil atomic.Int64 // unix ns until which Redis is skipped
	hits, misses, fallbacks, skipped,
	loads, loadErrs, fills, fillErrs atomic.Int64
}

// New returns a cache of src over rdb: a *redis.Client (made from Options,
// or with options to the same effect), or a cluster or ring client. The
// cache does not close rdb.
func New(rdb redis.Cmdable, src Source, cfg Config) *Cache {
	c := &Cache{rdb: rdb, src: src, prefix: cfg.Prefix, timeout: cfg.Timeout, ttl: cfg.TTL, cooldown: cfg.Cooldown, onErr: cfg.OnRedisError}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.ttl <= 0 {
		c.ttl = DefaultTTL
	}
	if c.cooldown == 0 {
		c.cooldown = DefaultCooldown
	}
	return c
}

// Options returns go-redis options for a client of the Redis at addr that
// suit a cache whose calls are bounded by timeout (0 means
// DefaultTimeout):
//
//   - MaxRetries -1: no retries. go-redis retries LOADING, READONLY,
//     timeouts and broken connections 3 times by default, with backoff;
//     a cache has a better plan (the source), and retries would only
//     spend its deadline or pile load on a sick server.
//   - ContextTimeoutEnabled: the deadline of each call's context bounds
//     its socket reads and writes; without it go-redis only uses
//     ReadTimeout and WriteTimeout.
//   - ReadTimeout, WriteTimeout, DialTimeout and PoolTimeout: timeout, so
//     that no path waits longer even without a context deadline; a
//     single dial attempt (DialerRetries 1) for the same reason.
//   - DisableIdentity and maintenance notifications off: a new connection
//     sends one command (HELLO) before its first, instead of four (two
//     CLIENT SETINFO and, in go-redis v9.23, a maintenance-notifications opt-in).
//     It matters after timeouts and resets: go-redis closes a connection
//     that failed that way and dials a new one.
//
// Tune PoolSize for the concurrency (the default, 10 per CPU, suits
// most); pipelines use a pool of their own (PipelinePoolSize, default 10).
func Options(addr string, timeout time.Duration) *redis.Options {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &redis.Options{
		Addr:                     addr,
		MaxRetries:               -1,
		ContextTimeoutEnabled:    true,
		DialTimeout:              timeout,
		DialerRetries:            1,
		ReadTimeout:              timeout,
		WriteTimeout:             timeout,
		PoolTimeout:              timeout,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// Get returns the value of id: from Redis if it has it, else from the
// source. It returns an error only if the source does (or ctx ends):
// a Redis failure is never returned, it only makes Get load from the
// source. See Lookup.
func (c *Cache) Get(ctx context.Context, id string) (string, error) {
	r, err := c.Lookup(ctx, id)
	return r.Value, err
}

// Lookup is Get that also says where the value came from. It reads Redis
// with a deadline of the cache's Timeout; on a hit it returns. On a miss
// it loads from the source and writes the value to Redis (with its own
// deadline, even if ctx ends meanwhile; a failed write is counted and
// ignored). On any other outcome (an error reply, a timeout, a broken
// connection, a cooldown) it loads from the source and does not write to
// Redis, which has just failed. If ctx itself ends while Redis is asked,
// Lookup returns ctx's error.
func (c *Cache) Lookup(ctx context.Context, id string) (Result, error) {
	if c.cooling() {
		c.fallbacks.Add(1)
		c.skipped.Add(1)
		return c.load(ctx, id, FromFallback, ErrCooldown)
	}
	key := c.prefix + id
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	v, err := c.rdb.Get(rctx, key).Result()
	cancel()
	switch {
	case err == nil:
		c.hits.Add(1)
		return Result{Value: v, Origin: FromCache}, nil
	case errors.Is(err, redis.Nil):
		c.misses.Add(1)
		r, err := c.load(ctx, id, FromSource, nil)
		if err == nil {
			c.fill(ctx, "fill", map[string]string{key: r.Value})
		}
		return r, err
	case ctx.Err() != nil:
		return Result{}, ctx.Err() // the caller gave up, not Redis
	}
	c.redisFailed("get", err)
	c.fallbacks.Add(1)
	return c.load(ctx, id, FromFallback, err)
}

// GetMany returns the values of ids, in order, reading all of them from
// Redis in one pipeline (one round trip, one deadline). Each id Redis does
// not answer with a value is loaded from the source, as by Lookup: a
// miss is then written back (all of them in one more pipeline, best
// effort), a Redis failure is not. A failure of some of the pipeline's
// commands (a connection reset half way, an error reply to one) falls
// back for those ids only.
//
// If the source fails for some ids, GetMany returns an error naming them
// (joined) and leaves their values empty; the others are set.
func (c *Cache) GetMany(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	values := make([]string, len(ids))
	redisErrs := make([]error, len(ids)) // why each id fell back, if it did
	needs := make([]bool, len(ids))      // from the source
	if c.cooling() {
		for i := range ids {
			c.fallbacks.Add(1)
			c.skipped.Add(1)
			needs[i], redisErrs[i] = true, ErrCooldown
		}
	} else {
		rctx, cancel := context.WithTimeout(ctx, c.timeout)
		pipe := c.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.Get(rctx, c.prefix+id)
		}
		_, _ = pipe.Exec(rctx) // each command carries its own outcome
		cancel()
		if ctx.Err() != nil && slices.ContainsFunc(cmds, failedCmd) {
			return nil, ctx.Err() // the caller gave up, not Redis
		}
		var failed error
		for i, cmd := range cmds {
			v, err := cmd.Result()
			switch {
			case err == nil:
				c.hits.Add(1)
				values[i] = v
			case errors.Is(err, redis.Nil):
				c.misses.Add(1)
				needs[i] = true
			default:
				c.fallbacks.Add(1)
				needs[i], redisErrs[i] = true, err
				if failed == nil {
					failed = err
				}
			}
		}
		if failed != nil {
			c.redisFailed("getmany", failed)
		}
	}

	fill := map[string]string{}
	var errs []error
	for i, id := range ids {
		if !needs[i] {
			continue
		}
		r, err := c.load(ctx, id, FromSource, nil)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		values[i] = r.Value
		if redisErrs[i] == nil {
			fill[c.prefix+id] = r.Value
		}
	}
	if len(fill) > 0 {
		c.fill(ctx, "fillmany", fill)
	}
	return values, errors.Join(errs...)
}

// failedCmd reports whether cmd failed (a miss is not a failure).
func failedCmd(cmd *redis.StringCmd) bool {
	err := cmd.Err()
	return err != nil && !errors.Is(err, redis.Nil)
}

// Stats returns the cache's counts so far.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Fallbacks: c.fallbacks.Load(), Skipped: c.skipped.Load(),
		Loads: c.loads.Load(), LoadErrors: c.loadErrs.Load(), Fills: c.fills.Load(), FillErrors: c.fillErrs.Load(),
	}
}

// load reads id from the source.
func (c *Cache) load(ctx context.Context, id string, origin Origin, redisErr error) (Result, error) {
	c.loads.Add(1)
	v, err := c.src.Load(ctx, id)
	if err != nil {
		c.loadErrs.Add(1)
		return Result{}, fmt.Errorf("rediscache: load %q: %w", id, err)
	}
	return Result{Value: v, Origin: origin, RedisErr: redisErr}, nil
}

// fill writes entries (key → value) to Redis with the cache's TTL, in one
// pipeline bounded by the cache's Timeout. It does not end when ctx does:
// the values are good, and a caller that gave up is no reason to lose
// them. Failures are counted and reported to OnRedisError only.
func (c *Cache) fill(ctx context.Context, op string, entries map[string]string) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	defer cancel()
	cmds := make([]*redis.StatusCmd, 0, len(entries))
	if len(entries) == 1 {
		for k, v := range entries {
			cmds = append(cmds, c.rdb.Set(fctx, k, v, c.ttl))
		}
	} else {
		pipe := c.rdb.Pipeline()
		for k, v := range entries {
			cmds = append(cmds, pipe.Set(fctx, k, v, c.ttl))
		}
		_, _ = pipe.Exec(fctx)
	}
	var failed error
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			c.fillErrs.Add(1)
			if failed == nil {
				failed = err
			}
			continue
		}
		c.fills.Add(1)
	}
	if failed != nil {
		c.redisFailed(op, failed)
	}
}

// redisFailed reports err and, if Redis said it cannot serve for now,
// starts a cooldown.
func (c *Cache) redisFailed(op string, err error) {
	if c.onErr != nil {
		c.onErr(op, err)
	}
	if c.cooldown > 0 && notServing(err) {
		c.coolUntil.Store(time.Now().Add(c.cooldown).UnixNano())
	}
}

// cooling reports whether Redis is in a cooldown.
func (c *Cache) cooling() bool {
	until := c.coolUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// notServing reports whether err is Redis saying it serves no data for
// now, whatever the command: loading its dataset, running a script past
// its time limit, or a replica that lost its master.
func notServing(err error) bool {
	return redis.IsLoadingError(err) || redis.IsMasterDownError(err) || redis.HasErrorPrefix(err, "BUSY ")
}

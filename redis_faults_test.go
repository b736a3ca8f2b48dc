package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
)

// mustSetRedis installs bs on p, failing the test if p refuses them.
func mustSetRedis(t *testing.T, p *faults.Proxy, bs ...faults.Behavior) {
	t.Helper()
	if err := p.Set(bs...); err != nil {
		t.Fatal(err)
	}
}

// noRetries makes go-redis report every error as it comes.
func noRetries(o *redis.Options) { o.MaxRetries = -1 }

// TestRedisGoRedisRetries shows what a go-redis user sees of each error the
// client retries by itself (LOADING, READONLY, TRYAGAIN, CLUSTERDOWN,
// MASTERDOWN, NOREPLICAS, max clients) and of one it does not (OOM): with
// default options, two injected errors are retried away and the third
// attempt succeeds; with MaxRetries -1, the first error is the result.
func TestRedisGoRedisRetries(t *testing.T) {
	replies := []struct {
		reply   faults.RedisReply
		retried bool
	}{
		{faults.RedisLoading, true},
		{faults.RedisReadOnly, true},
		{faults.RedisTryAgain, true},
		{faults.RedisClusterDown, true},
		{faults.RedisMasterDown, true},
		{faults.RedisNoReplicas, true},
		{faults.RedisMaxClients, true},
		{faults.RedisOOM, false},
	}
	p := newRedisProxy(t)
	ctx := context.Background()
	direct := newRedisClient(t, redisAddr(t))
	k := testKey(t, direct, "k")
	if err := direct.Set(ctx, k, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range replies {
		t.Run(tc.reply.String(), func(t *testing.T) {
			t.Run("default options", func(t *testing.T) {
				c := newRedisClient(t, p.Addr(), func(o *redis.Options) { o.MinRetryBackoff, o.MaxRetryBackoff = time.Millisecond, 2*time.Millisecond })
				mustSetRedis(t, p, faults.Error(tc.reply).When(faults.Command("GET")).Times(2))
				before := p.Stats().Injected
				got, err := c.Get(ctx, k).Result()
				fired := p.Stats().Injected - before
				if tc.retried {
					if err != nil || got != "v" || fired != 2 {
						t.Fatalf("GET = %q, %v after %d injected errors; want v after go-redis retried 2", got, err, fired)
					}
					return
				}
				if err == nil || err.Error() != tc.reply.Text() || fired != 1 {
					t.Fatalf("GET = %q, %v after %d injected errors; want the error itself, once", got, err, fired)
				}
			})
			t.Run("MaxRetries -1", func(t *testing.T) {
				c := newRedisClient(t, p.Addr(), noRetries)
				mustSetRedis(t, p, faults.Error(tc.reply).When(faults.Command("GET")).Times(1))
				before := p.Stats().Injected
				_, err := c.Get(ctx, k).Result()
				var rerr redis.Error
				if fired := p.Stats().Injected - before; !errors.As(err, &rerr) || err.Error() != tc.reply.Text() || fired != 1 {
					t.Fatalf("GET error %v (%T) after %d injected; want %q once", err, err, fired, tc.reply.Text())
				}
				if v, err := c.Get(ctx, k).Result(); err != nil || v != "v" {
					t.Fatalf("next GET = %q, %v; want v: the connection stays usable", v, err)
				}
			})
		})
	}
}

// TestRedisGoRedisGivesUpAfterMaxRetries: a lasting LOADING costs a
// default go-redis client 1 + MaxRetries attempts, then fails with it.
func TestRedisGoRedisGivesUpAfterMaxRetries(t *testing.T) {
	p := newRedisProxy(t)
	c := newRedisClient(t, p.Addr(), func(o *redis.Options) {
		o.MaxRetries = 3
		o.MinRetryBackoff, o.MaxRetryBackoff = time.Millisecond, 2*time.Millisecond
	})
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	mustSetRedis(t, p, faults.Error(faults.RedisLoading).When(faults.Command("GET")))
	err := c.Get(ctx, "faults:test:any").Err()
	if err == nil || err.Error() != faults.RedisLoading.Text() {
		t.Fatalf("GET error %v, want %q", err, faults.RedisLoading.Text())
	}
	if n := p.Stats().Injected; n != 4 {
		t.Fatalf("%d attempts faulted, want 4 (1 + MaxRetries 3)", n)
	}
}

// TestRedisDelayRequestAndResponse tells the two delays apart by when the
// command reaches the server: during DelayRequest a direct client still
// reads the old counter, during DelayResponse the new one.
func TestRedisDelayRequestAndResponse(t *testing.T) {
	const d = 400 * time.Millisecond
	for _, tc := range []struct {
		b       faults.Behavior
		reached bool
	}{
		{faults.DelayRequest(d).When(faults.Command("INCR")), false},
		{faults.DelayResponse(d).When(faults.Command("INCR")), true},
	} {
		t.Run(tc.b.String(), func(t *testing.T) {
			p := newRedisProxy(t)
			c := newRedisClient(t, p.Addr(), noRetries)
			direct := newRedisClient(t, redisAddr(t))
			ctx := context.Background()
			k := testKey(t, direct, "n")
			if err := c.Ping(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			mustSetRedis(t, p, tc.b)
			start := time.Now()
			done := make(chan error, 1)
			go func() { done <- c.Incr(ctx, k).Err() }()
			time.Sleep(d / 2)
			mid, _ := direct.Get(ctx, k).Int()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			elapsed := time.Since(start)
			if elapsed < d || elapsed > d+3*time.Second {
				t.Fatalf("INCR took %v, want %v and a little", elapsed, d)
			}
			if reached := mid == 1; reached != tc.reached {
				t.Fatalf("halfway through the delay the server's counter was %d; reached = %v, want %v", mid, reached, tc.reached)
			}
			// Other commands are not delayed.
			start = time.Now()
			if err := c.Get(ctx, k).Err(); err != nil || time.Since(start) >= d {
				t.Fatalf("GET: %v after %v; want at once", err, time.Since(start))
			}
		})
	}
}

// TestRedisDropResponse: the command reaches the server and the client
// waits until its own timeout.
func TestRedisDropResponse(t *testing.T) {
	p := newRedisProxy(t)
	c := newRedisClient(t, p.Addr(), noRetries, func(o *redis.Options) { o.ReadTimeout = 300 * time.Millisecond })
	direct := newRedisClient(t, redisAddr(t))
	ctx := context.Background()
	k := testKey(t, direct, "n")
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	mustSetRedis(t, p, faults.DropResponse().When(faults.Command("INCR")).Times(1))
	start := time.Now()
	err := c.Incr(ctx, k).Err()
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("INCR error %v, want a timeout", err)
	}
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Fatalf("timed out after %v, before the client's 300ms", el)
	}
	if v, _ := direct.Get(ctx, k).Int(); v != 1 {
		t.Fatalf("server counter %d, want 1: a dropped reply's command reaches the server", v)
	}
	// go-redis throws the timed-out connection away; the next works.
	if v, err := c.Incr(ctx, k).Result(); err != nil || v != 2 {
		t.Fatalf("next INCR = %d, %v; want 2", v, err)
	}
}

// TestRedisAbort: the command reaches the server, the connection closes
// before its reply. Without retries the client sees the loss; with
// go-redis's defaults, it retries the INCR on a new connection, and the
// server applies it twice: the case that makes retrying unsafe.
func TestRedisAbort(t *testing.T) {
	for _, tc := range []struct {
		name    string
		adjust  func(*redis.Options)
		wantErr bool
		counter int
	}{
		{"MaxRetries -1", noRetries, true, 1},
		{"default options", func(*redis.Options) {}, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newRedisProxy(t)
			c := newRedisClient(t, p.Addr(), tc.adjust)
			direct := newRedisClient(t, redisAddr(t))
			ctx := context.Background()
			k := testKey(t, direct, "n")
			if err := c.Ping(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			mustSetRedis(t, p, faults.Abort().When(faults.Command("INCR")).Times(1))
			v, err := c.Incr(ctx, k).Result()
			if (err != nil) != tc.wantErr {
				t.Fatalf("INCR = %d, %v; want error: %v", v, err, tc.wantErr)
			}
			if got, _ := direct.Get(ctx, k).Int(); got != tc.counter {
				t.Fatalf("server counter %d, want %d", got, tc.counter)
			}
			if n := p.Stats().ConnsTotal; n < 2 && !tc.wantErr {
				t.Fatalf("%d connections; the retry needs a second", n)
			}
		})
	}
}

// TestRedisTruncateResponse: the client reads part of a reply, then finds
// the connection closed; the next command gets a new connection.
func TestRedisTruncateResponse(t *testing.T) {
	p := newRedisProxy(t)
	c := newRedisClient(t, p.Addr(), noRetries)
	ctx := context.Background()
	k := testKey(t, c, "big")
	value := strings.Repeat("x", 1000)
	if err := c.Set(ctx, k, value, 0).Err(); err != nil {
		t.Fatal(err)
	}
	mustSetRedis(t, p, faults.TruncateResponse(100).When(faults.Command("GET")).Times(1))
	if v, err := c.Get(ctx, k).Result(); err == nil {
		t.Fatalf("GET = %d bytes, no error; want the reply cut at 100 bytes", len(v))
	}
	if p.Stats().BytesDownstream > 1000 {
		t.Fatalf("%d bytes reached the client, more than the reply's first 100 and the handshake", p.Stats().BytesDownstream)
	}
	if v, err := c.Get(ctx, k).Result(); err != nil || v != value {
		t.Fatalf("next GET: %d bytes, %v; want the value", len(v), err)
	}
}

// TestRedisSlowResponse paces one reply: 20 kB at 40 kB/s takes about half
// a second.
func TestRedisSlowResponse(t *testing.T) {
	p := newRedisProxy(t)
	c := newRedisClient(t, p.Addr(), noRetries)
	ctx := context.Background()
	k := testKey(t, c, "big")
	value := strings.Repeat("y", 20000)
	if err := c.Set(ctx, k, value, 0).Err(); err != nil {
		t.Fatal(err)
	}
	mustSetRedis(t, p, faults.SlowResponse(40000).When(faults.Command("GET")))
	start := time.Now()
	v, err := c.Get(ctx, k).Result()
	el := time.Since(start)
	if err != nil || v != value {
		t.Fatalf("GET: %d bytes, %v", len(v), err)
	}
	if el < 400*time.Millisecond || el > 3*time.Second {
		t.Fatalf("20 kB at 40 kB/s took %v, want about 500ms", el)
	}
}

// TestRedisMatchers: Command ignores case (go-redis sends names in lower
// case), Key matches the first argument by glob.
func TestRedisMatchers(t *testing.T) {
	p := newRedisProxy(t)
	c := newRedisClient(t, p.Addr(), noRetries)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	mustSetRedis(t, p, faults.Error(faults.RedisError("ERR session store down")).When(faults.Command("get", "MGet"), faults.Key("session:*")))
	cases := []struct {
		cmd     *redis.Cmd
		faulted bool
	}{
		{c.Do(ctx, "GET", "session:1"), true},
		{c.Do(ctx, "get", "session:"), true},
		{c.Do(ctx, "MGET", "session:9", "other"), true},
		{c.Do(ctx, "GET", "other:1"), false},
		{c.Do(ctx, "MGET", "other", "session:9"), false},
		{c.Do(ctx, "SET", "session:1", "x"), false},
		{c.Do(ctx, "DEL", "session:1"), false},
	}
	for i, tc := range cases {
		err := tc.cmd.Err()
		if err == redis.Nil {
			err = nil
		}
		if faulted := err != nil && err.Error() == "ERR session store down"; faulted != tc.faulted || !faulted && err != nil {
			t.Errorf("case %d %v: error %v, want faulted %v", i, tc.cmd.Args(), err, tc.faulted)
		}
	}
	ev := p.Events()
	want := []string{"GET session:1", "GET session:", "MGET session:9"}
	if len(ev) != len(want) {
		t.Fatalf("events %+v, want %q", ev, want)
	}
	for i := range want {
		if ev[i].Request != want[i] {
			t.Errorf("event %d names %q, want %q", i, ev[i].Request, want[i])
		}
	}
}

// TestRedisProbabilityIsSeeded: a 20% error on GET fails about a fifth of
// 500 GETs, and the same seed fails the same ones.
func TestRedisProbabilityIsSeeded(t *testing.T) {
	run := func(seed int64) []int {
		p := newRedisProxy(t, faults.WithSeed(seed))
		c := newRedisClient(t, p.Addr(), noRetries, func(o *redis.Options) { o.PoolSize = 1 })
		ctx := context.Background()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		mustSetRedis(t, p, faults.Error(faults.RedisLoading).When(faults.Command("GET")).Probability(0.2))
		var failed []int
		for i := range 500 {
			if err := c.Get(ctx, "faults:test:absent").Err(); err != nil && err != redis.Nil {
				failed = append(failed, i)
			}
		}
		if n := p.Stats().Injected; int(n) != len(failed) {
			t.Fatalf("Injected %d, but %d GETs failed", n, len(failed))
		}
		return failed
	}
	a, b := run(42), run(42)
	if len(a) < 70 || len(a) > 130 {
		t.Fatalf("%d of 500 GETs failed, want about 100", len(a))
	}
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("the same seed failed different GETs:\n%v\n%v", a, b)
	}
	if c := run(43); fmt.Sprint(c) == fmt.Sprint(a) {
		t.Fatal("another seed failed the same GETs")
	}
}

// TestRedisRedirections: MOVED and ASK read as go-redis reads a cluster's.
func TestRedisRedirections(t *testing.T) {
	p := newRedisProxy(t)
	c := newRedisClient(t, p.Addr(), noRetries)
	ctx := context.Background()
	mustSetRedis(t, p,
		faults.Error(faults.RedisMoved(3999, "127.0.0.1:6381")).When(faults.Key("moved")),
		faults.Error(faults.RedisAsk(12182, "10.0.0.7:7002")).When(faults.Key("asked")))
	if err := c.Get(ctx, "moved").Err(); err == nil || err.Error() != "MOVED 3999 127.0.0.1:6381" {
		t.Fatalf("GET moved: %v", err)
	}
	if err := c.Get(ctx, "asked").Err(); err == nil || err.Error() != "ASK 12182 10.0.0.7:7002" {
		t.Fatalf("GET asked: %v", err)
	}
}

// TestRedisTransactionSpoiledByFault: an error the proxy answers for a
// command queued in MULTI makes EXEC fail with EXECABORT, as the server's
// own refusal would; none of the transaction's commands runs, and the
// connection is out of the transaction afterwards. A refused EXEC ends the
// transaction at the server too.
func TestRedisTransactionSpoiledByFault(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b       faults.Behavior
		wantErr string
	}{
		{"queued command refused", faults.Error(faults.RedisOOM).When(faults.Command("INCR"), faults.Key("*:b")), faults.RedisExecAbort.Text()},
		{"EXEC refused", faults.Error(faults.RedisError("ERR injected")).When(faults.Command("EXEC")), "ERR injected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newRedisProxy(t)
			c := newRedisClient(t, p.Addr(), noRetries, func(o *redis.Options) { o.PoolSize = 1 })
			direct := newRedisClient(t, redisAddr(t))
			ctx := context.Background()
			keys := []string{testKey(t, direct, "a"), testKey(t, direct, "b"), testKey(t, direct, "c")}
			if err := c.Ping(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			mustSetRedis(t, p, tc.b)
			_, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				for _, k := range keys {
					pipe.Incr(ctx, k)
				}
				return nil
			})
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("EXEC error %v, want %q", err, tc.wantErr)
			}
			for _, k := range keys {
				if n, _ := direct.Exists(ctx, k).Result(); n != 0 {
					t.Fatalf("%s exists: a command of the refused transaction ran", k)
				}
			}
			// Out of the transaction: commands run at once, not QUEUED.
			if v, err := c.Incr(ctx, keys[0]).Result(); err != nil || v != 1 {
				t.Fatalf("INCR after the transaction = %d, %v; want 1", v, err)
			}
		})
	}
}

// TestRedisClosingRepliesBehindLatency: behind a downstream Latency, what
// the proxy passes on just before it closes the connection is still in
// the stream layer when the close comes; it arrives, then the connection
// ends with a FIN: the bytes TruncateResponse lets through, and the
// replies owed to the commands pipelined before one that Abort acts on.
func TestRedisClosingRepliesBehindLatency(t *testing.T) {
	latency := faults.Latency(300 * time.Millisecond).Downstream()
	p := newRedisProxy(t)
	direct := newRedisClient(t, redisAddr(t))
	ctx := context.Background()
	k := testKey(t, direct, "big")
	value := strings.Repeat("x", 1000)
	if err := direct.Set(ctx, k, value, 0).Err(); err != nil {
		t.Fatal(err)
	}
	get := fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(k), k)

	mustSetRedis(t, p, faults.TruncateResponse(100).When(faults.Command("GET")), latency)
	c := dial(t, p.Addr())
	io.WriteString(c, get)
	got, err := readUntilEnd(t, c, 5*time.Second)
	if want := "$1000\r\n" + value[:93]; string(got) != want || err != io.EOF {
		t.Errorf("TruncateResponse(100): %q, %v; want %q, then EOF", got, err, want)
	}

	n := testKey(t, direct, "n")
	mustSetRedis(t, p, faults.Abort().When(faults.Command("INCR")), latency)
	c = dial(t, p.Addr())
	io.WriteString(c, get+fmt.Sprintf("*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n", len(n), n))
	got, err = readUntilEnd(t, c, 5*time.Second)
	if want := "$1000\r\n" + value + "\r\n"; string(got) != want || err != io.EOF {
		t.Errorf("GET then an aborted INCR: %q, %v; want the GET's reply, then EOF", got, err)
	}
	waitUntil(t, 5*time.Second, "the aborted INCR to run", func() bool {
		v, _ := direct.Get(ctx, n).Int()
		return v == 1
	})
}

package faults_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// redisAddr returns the address of the tests' Redis server, or skips or
// fails the test: see testenv.RedisAddr.
func redisAddr(t testing.TB) string {
	t.Helper()
	return testenv.RedisAddr(t)
}

// newRedisProxy starts a Redis-aware proxy to the tests' server, closed at
// cleanup.
func newRedisProxy(t testing.TB, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	addr := redisAddr(t)
	p, err := faults.NewProxy(addr, append([]faults.Option{faults.WithProtocol(faults.Redis())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// newRedisClient returns a go-redis client of addr, closed at cleanup,
// with opts adjusting its options.
func newRedisClient(t testing.TB, addr string, adjust ...func(*redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: addr, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
	for _, f := range adjust {
		f(o)
	}
	c := redis.NewClient(o)
	t.Cleanup(func() { c.Close() })
	return c
}

// testKey returns a key unique to the test, deleted at cleanup.
func testKey(t testing.TB, c *redis.Client, suffix string) string {
	t.Helper()
	k := fmt.Sprintf("faults:test:%s:%d:%s", t.Name(), time.Now().UnixNano(), suffix)
	t.Cleanup(func() { c.Del(context.Background(), k) })
	return k
}

func TestRedisPassThroughSetGet(t *testing.T) {
	p := newRedisProxy(t)
	c := newRedisClient(t, p.Addr())
	ctx := context.Background()
	k := testKey(t, c, "k")
	if err := c.Set(ctx, k, "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, k).Result()
	if err != nil || got != "v1" {
		t.Fatalf("GET = %q, %v; want v1", got, err)
	}
	if n := p.Stats().Requests; n < 2 {
		t.Fatalf("Requests = %d, want at least 2", n)
	}
}

func TestRedisErrorInPipelineKeepsPairing(t *testing.T) {
	p := newRedisProxy(t)
	c := newRedisClient(t, p.Addr(), func(o *redis.Options) { o.MaxRetries = -1 })
	ctx := context.Background()
	k := testKey(t, c, "counter")
	if err := c.Ping(ctx).Err(); err != nil { // the handshake, before the fault
		t.Fatal(err)
	}
	if err := p.Set(faults.Error(faults.RedisReadOnly).When(faults.Command("INCR")).After(2).Times(1)); err != nil {
		t.Fatal(err)
	}
	pipe := c.Pipeline()
	cmds := make([]*redis.IntCmd, 5)
	for i := range cmds {
		cmds[i] = pipe.Incr(ctx, k)
	}
	pipe.Exec(ctx)
	var got []string
	for _, cmd := range cmds {
		v, err := cmd.Result()
		if err != nil {
			got = append(got, err.Error())
		} else {
			got = append(got, fmt.Sprint(v))
		}
	}
	want := []string{"1", "2", faults.RedisReadOnly.Text(), "3", "4"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("replies %q, want %q", got, want)
	}
	var rerr redis.Error
	if !errors.As(cmds[2].Err(), &rerr) {
		t.Fatalf("error %T is not a redis.Error", cmds[2].Err())
	}
	p.Reset()
	if v, err := c.Get(ctx, k).Int(); err != nil || v != 4 {
		t.Fatalf("server counted %d, %v; want 4: the faulted INCR must not reach it", v, err)
	}
	ev := p.Events()
	if len(ev) != 1 || ev[0].Request != "INCR "+k {
		t.Fatalf("events %+v, want one for INCR %s", ev, k)
	}
}

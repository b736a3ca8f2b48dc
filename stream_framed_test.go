package faults_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
)

// bigHandler answers /x with "x", /big with 20 KiB of a known pattern.
func bigHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/big" {
		w.Write(bytes.Repeat([]byte("0123456789abcdef"), 20<<10/16))
		return
	}
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, r.URL.Path)
}

// Stream behaviors act on an HTTP-aware proxy as on a TCP one, alongside
// request behaviors: latency on each direction of a round trip whose
// answer is injected; a slowed body next to an injected 503; a reset in
// the middle of a response; a stall released with nothing lost.
func TestHTTPStreamBehaviors(t *testing.T) {
	s := newHTTPServer(t, bigHandler)
	p := newHTTPProxy(t, s.addr())
	c, tr := newHTTPClient(t, 10*time.Second)
	get := func(path string) (*http.Response, string, time.Duration, error) {
		req, _ := http.NewRequest("GET", "http://"+p.Addr()+path, nil)
		start := time.Now()
		resp, body, err := fetch(c, req)
		return resp, body, time.Since(start), err
	}

	t.Run("latency with an injected answer", func(t *testing.T) {
		mustSet(t, p, faults.Latency(100*time.Millisecond), faults.Error(faults.HTTPStatus(503)).When(faults.Path("/fail")))
		defer p.Reset()
		tr.CloseIdleConnections()
		for _, c := range []struct {
			path   string
			status int
		}{{"/fail", 503}, {"/x", 200}} {
			resp, _, d, err := get(c.path)
			if err != nil || resp.StatusCode != c.status {
				t.Fatalf("GET %s: %v, %v", c.path, resp, err)
			}
			// 100 ms each way; the request and the answer each wait.
			if d < 190*time.Millisecond {
				t.Fatalf("GET %s took %v with 100 ms of latency each way", c.path, d)
			}
		}
	})

	t.Run("slowed body next to a 503", func(t *testing.T) {
		mustSet(t, p, faults.Bandwidth(40<<10).Downstream(), faults.Error(faults.HTTPStatus(503)).When(faults.Path("/fail")))
		defer p.Reset()
		tr.CloseIdleConnections()
		resp, body, d, err := get("/big")
		if err != nil || resp.StatusCode != 200 || len(body) != 20<<10 {
			t.Fatalf("GET /big: %v, %d bytes, %v", resp, len(body), err)
		}
		if d < 350*time.Millisecond {
			t.Fatalf("20 KiB at 40 KiB/s took %v", d)
		}
		if resp, _, _, err := get("/fail"); err != nil || resp.StatusCode != 503 {
			t.Fatalf("GET /fail: %v, %v", resp, err)
		}
	})

	t.Run("reset in the middle of a response", func(t *testing.T) {
		mustSet(t, p, faults.ResetAfterBytes(1000).Downstream())
		defer p.Reset()
		tr.CloseIdleConnections()
		_, body, _, err := get("/big")
		if err == nil || len(body) >= 20<<10 {
			t.Fatalf("GET /big read %d bytes, %v; want a reset before the end", len(body), err)
		}
		if !isReset(err) && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("GET /big: %v, want a reset", err)
		}
	})

	t.Run("stall and release", func(t *testing.T) {
		mustSet(t, p, faults.Stall().Downstream())
		tr.CloseIdleConnections()
		type result struct {
			body string
			err  error
		}
		done := make(chan result, 1)
		go func() {
			_, body, _, err := get("/big")
			done <- result{body, err}
		}()
		select {
		case r := <-done:
			t.Fatalf("a stalled response came: %d bytes, %v", len(r.body), r.err)
		case <-time.After(300 * time.Millisecond):
		}
		if err := p.Reset(); err != nil {
			t.Fatal(err)
		}
		r := <-done
		want := sha256.Sum256(bytes.Repeat([]byte("0123456789abcdef"), 20<<10/16))
		if r.err != nil || sha256.Sum256([]byte(r.body)) != want {
			t.Fatalf("after the release: %d bytes, %v; want the whole body", len(r.body), r.err)
		}
	})
}

// Latency on a MySQL-aware proxy delays a statement's round trip, and an
// injected error on the same proxy comes just as late.
func TestMySQLStreamLatencyWithError(t *testing.T) {
	p := startMySQLProxy(t)
	db := openMySQL(t, p.Addr(), "")
	ctx := mysqlCtx(t, 20*time.Second)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustSet(t, p, faults.Latency(50*time.Millisecond), faults.Error(faults.MySQLDeadlock).When(faults.Query(`^SELECT 2`)))
	start := time.Now()
	var one int
	if err := conn.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d, %v", one, err)
	}
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Fatalf("a round trip took %v with 50 ms of latency each way", d)
	}
	start = time.Now()
	_, err = conn.ExecContext(ctx, "SELECT 2")
	checkDriverError(t, "SELECT 2", err, faults.MySQLDeadlock)
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Fatalf("the injected error came after %v with 50 ms of latency each way", d)
	}
}

// On a Redis-aware proxy, a reset after n bytes cuts a reply in the
// middle, and a stall holds commands until it is lifted, losing none.
func TestRedisStreamResetAndStall(t *testing.T) {
	p := newRedisProxy(t)
	c := newRedisClient(t, p.Addr(), noRetries)
	ctx := context.Background()
	k := testKey(t, c, "big")
	if err := c.Set(ctx, k, strings.Repeat("v", 100<<10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	mustSet(t, p, faults.ResetAfterBytes(1000).Downstream())
	err := c.Get(ctx, k).Err()
	if err == nil || !(isReset(err) || strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), syscall.ECONNRESET.Error())) {
		t.Fatalf("GET of 100 KiB with a reset after 1000 bytes: %v", err)
	}
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	mustSet(t, p, faults.Stall().Upstream())
	c2 := newRedisClient(t, p.Addr(), noRetries, func(o *redis.Options) { o.ReadTimeout = 10 * time.Second })
	n := testKey(t, c, "n")
	done := make(chan error, 1)
	go func() { done <- c2.Incr(ctx, n).Err() }()
	select {
	case err := <-done:
		t.Fatalf("a stalled INCR came back: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("INCR after the release: %v", err)
	}
	if v, err := c.Get(ctx, n).Int(); err != nil || v != 1 {
		t.Fatalf("the counter is %d, %v; want 1: nothing lost, nothing doubled", v, err)
	}
}

// On a PostgreSQL-aware proxy, latency and an injected error compose.
func TestPostgresStreamLatencyWithError(t *testing.T) {
	p := newPostgresProxy(t)
	conn := pgConnect(t, p.Addr(), "")
	ctx := pgCtx(t, 20*time.Second)
	mustSet(t, p, faults.Latency(50*time.Millisecond), faults.Error(faults.PostgresSerializationFailure).When(faults.Query(`^SELECT 2`)))
	start := time.Now()
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d, %v", one, err)
	}
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Fatalf("a round trip took %v with 50 ms of latency each way", d)
	}
	_, err := conn.Exec(ctx, "SELECT 2")
	checkPgReply(t, err, faults.PostgresSerializationFailure)
}

// Each protocol-aware proxy takes every kind of stream behavior: latency
// next to an injected error on Redis, and a reset in the middle of a
// result on MySQL and PostgreSQL.
func TestStreamBehaviorsOnEveryProtocol(t *testing.T) {
	t.Run("redis latency with an error", func(t *testing.T) {
		p := newRedisProxy(t)
		c := newRedisClient(t, p.Addr(), noRetries)
		ctx := context.Background()
		mustSet(t, p, faults.Latency(50*time.Millisecond), faults.Error(faults.RedisLoading).When(faults.Command("GET")))
		start := time.Now()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 95*time.Millisecond {
			t.Fatalf("PING took %v with 50 ms of latency each way", d)
		}
		if err := c.Get(ctx, "k").Err(); err == nil || !strings.HasPrefix(err.Error(), "LOADING") {
			t.Fatalf("GET: %v, want the injected LOADING", err)
		}
	})
	t.Run("mysql reset in the middle of a result", func(t *testing.T) {
		p := startMySQLProxy(t)
		db := openMySQL(t, p.Addr(), "")
		ctx := mysqlCtx(t, 20*time.Second)
		if err := db.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		mustSet(t, p, faults.ResetAfterBytes(2000).Downstream())
		rows, err := db.QueryContext(ctx, "SELECT REPEAT('x', 1000) FROM information_schema.COLLATIONS")
		n := 0
		if err == nil {
			for rows.Next() {
				n++
			}
			err = rows.Err()
			rows.Close()
		}
		if err == nil {
			t.Fatalf("read %d rows of 1000 bytes through a reset after 2000 bytes, and no error", n)
		}
	})
	t.Run("postgres reset in the middle of rows", func(t *testing.T) {
		p := newPostgresProxy(t)
		conn := pgConnect(t, p.Addr(), "")
		ctx := pgCtx(t, 20*time.Second)
		mustSet(t, p, faults.ResetAfterBytes(4000).Downstream())
		rows, _ := conn.Query(ctx, "SELECT repeat('x', 1000) FROM generate_series(1, 100)")
		n := 0
		for rows.Next() {
			n++
		}
		if rows.Err() == nil || n >= 100 {
			t.Fatalf("read %d rows, then %v; want the connection reset before the end", n, rows.Err())
		}
	})
}

// On a memcached-aware proxy, latency composes with misses and errors,
// and a stall holds commands until it is lifted, losing none.
func TestMemcachedStreamBehaviors(t *testing.T) {
	k := mcKeys(t, 2)
	mcSet(t, k[0], "v")
	p := newMemcachedProxy(t, "")
	c := newMemcacheClient(t, p.Addr())
	mustSet(t, p, faults.Latency(50*time.Millisecond), faults.Miss().When(faults.Key(k[0])))
	start := time.Now()
	if _, err := c.Get(k[0]); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get: %v, want the injected miss", err)
	}
	if d := time.Since(start); d < 95*time.Millisecond {
		t.Fatalf("the miss came after %v with 50 ms of latency each way", d)
	}
	mustSet(t, p, faults.Stall().Upstream())
	done := make(chan error, 1)
	go func() { done <- c.Set(&memcache.Item{Key: k[1], Value: []byte("x")}) }()
	select {
	case err := <-done:
		t.Fatalf("a stalled set came back: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("set after the release: %v", err)
	}
	if v, _ := mcHeld(t, k[1]); v != "x" {
		t.Fatalf("the server holds %q after the stall", v)
	}
}

// TestHTTPClosingReplyThroughDownstreamBehaviors: the proxy's own answer to
// a request that asks to close (Connection: close) reaches the client
// before the FIN, through a downstream latency or slicing. It used to be
// dropped with the pump that held it: the client read an empty reply.
func TestHTTPClosingReplyThroughDownstreamBehaviors(t *testing.T) {
	const lat = 100 * time.Millisecond
	srv := newHTTPServer(t, pathHandler)
	for _, stream := range []faults.Behavior{
		faults.Latency(lat).Downstream(),
		faults.Slice(10, time.Millisecond).Downstream(),
	} {
		t.Run(stream.String(), func(t *testing.T) {
			p := newHTTPProxy(t, srv.addr())
			mustSet(t, p, faults.Error(faults.HTTPStatus(503)), stream)
			c := dial(t, p.Addr())
			c.SetDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			all, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read %q, then %v; want the reply, then EOF", all, err)
			}
			if !strings.HasPrefix(string(all), "HTTP/1.1 503 ") {
				t.Fatalf("client read %q; want the 503 the proxy answered", all)
			}
			if strings.Contains(stream.String(), "Latency") && time.Since(start) < lat {
				t.Errorf("reply came after %v; want it delayed by the latency, %v", time.Since(start), lat)
			}
		})
	}
}

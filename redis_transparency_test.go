package faults_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
)

// The tests of this file prove that a Redis proxy with no fault installed
// is transparent: what clients get through it is what they get from the
// server, byte for byte, whatever the RESP version, the pipelining or the
// mode of the connection (transactions, blocking commands, pub/sub,
// MONITOR, client-side caching).

// rtProxy starts a Redis proxy to addr (the shared server if ""), closed
// at cleanup. A Close that does not return within 10 s (a relay goroutine
// stuck) fails the test instead of hanging the suite.
func rtProxy(t testing.TB, addr string, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	if addr == "" {
		addr = redisAddr(t)
	}
	return guardedProxy(t, addr, append([]faults.Option{faults.WithProtocol(faults.Redis())}, opts...)...)
}

// guardedProxy starts a proxy to addr, closed at cleanup. A Close that
// does not return within 10 s (a relay goroutine stuck) fails the test
// instead of hanging the suite.
func guardedProxy(t testing.TB, addr string, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	p, err := faults.NewProxy(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		closed := make(chan struct{})
		go func() { p.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Errorf("Proxy.Close still blocked after 10 s: a relay goroutine is stuck")
		}
	})
	return p
}

// rtConn is a raw connection (RESP, memcached's text protocol): what is
// written and read are bytes, so that replies can be compared as the
// server sent them.
type rtConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func rtDial(t testing.TB, addr string) *rtConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rtConn{t: t, c: c, r: bufio.NewReaderSize(c, 64<<10)}
}

func (c *rtConn) send(b string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c.c, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the bytes of the next value (an attribute and the value it
// is about count as one), failing the test if none comes within 10 s.
func (c *rtConn) read() string {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b bytes.Buffer
	if err := rtReadValue(c.r, &b); err != nil {
		c.t.Fatalf("read after %q: %v", b.String(), err)
	}
	return b.String()
}

// readUntil reads values until one equal to last, and returns them all,
// last included.
func (c *rtConn) readUntil(last string) []string {
	c.t.Helper()
	var vs []string
	for len(vs) < 100000 {
		v := c.read()
		vs = append(vs, v)
		if v == last {
			return vs
		}
	}
	c.t.Fatalf("no %q in %d values", last, len(vs))
	return nil
}

// rtReadValue copies one RESP value from r to b.
func rtReadValue(r *bufio.Reader, b *bytes.Buffer) error {
	line, err := r.ReadString('\n')
	b.WriteString(line)
	if err != nil {
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("bad line %q", line)
	}
	head := line[1 : len(line)-2]
	switch line[0] {
	case '+', '-', ':', ',', '(', '#', '_':
		return nil
	case '$', '!', '=':
		n, err := strconv.Atoi(head)
		if err != nil || n < 0 {
			return err
		}
		_, err = io.CopyN(b, r, int64(n)+2)
		return err
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(head)
		if err != nil {
			return err
		}
		switch line[0] {
		case '%':
			n *= 2
		case '|':
			n = 2*n + 1
		}
		for i := 0; i < n; i++ {
			if err := rtReadValue(r, b); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("bad type byte in %q", line)
}

// rtCmd encodes a command as a RESP array of bulk strings.
func rtCmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// rtBulk encodes s as a RESP bulk string.
func rtBulk(s string) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(s), s) }

// rtUniq returns a name unique to the test, for keys and channels that
// testKey does not make (it needs a client).
func rtUniq(t testing.TB, suffix string) string {
	return fmt.Sprintf("faults:test:%s:%d:%s", t.Name(), time.Now().UnixNano(), suffix)
}

// rtDo runs each command on c and returns its result, or its error's
// text, as go-redis decodes it.
func rtDo(ctx context.Context, c *redis.Client, cmds [][]any) []any {
	out := make([]any, len(cmds))
	for i, args := range cmds {
		v, err := c.Do(ctx, args...).Result()
		if err != nil {
			out[i] = "error: " + err.Error()
		} else {
			out[i] = v
		}
	}
	return out
}

// TestRedisTransparencyGoRedis compares what go-redis decodes from the
// server and through the proxy, RESP2 and RESP3, for strings, integers,
// nil, maps, sets and doubles.
func TestRedisTransparencyGoRedis(t *testing.T) {
	addr := redisAddr(t)
	p := rtProxy(t, addr)
	ctx := context.Background()
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			setProto := func(o *redis.Options) { o.Protocol = proto }
			direct := newRedisClient(t, addr, setProto)
			proxied := newRedisClient(t, p.Addr(), setProto)
			s, n, h := testKey(t, direct, "s"), testKey(t, direct, "n"), testKey(t, direct, "h")
			set, z, missing := testKey(t, direct, "set"), testKey(t, direct, "z"), testKey(t, direct, "missing")
			// Written through the proxy, read both ways.
			writes := [][]any{
				{"SET", s, "héllo\r\nworld\x00"},
				{"INCRBY", n, -42},
				{"HSET", h, "f1", "v1", "f2", "v2"},
				{"SADD", set, "a", "b", "c"},
				{"ZADD", z, 1.5, "x", 2.25, "y", "-inf", "w"},
			}
			for i, v := range rtDo(ctx, proxied, writes) {
				if s, ok := v.(string); ok && strings.HasPrefix(s, "error: ") {
					t.Fatalf("%v: %s", writes[i], s)
				}
			}
			reads := [][]any{
				{"GET", s}, {"GET", n}, {"GET", missing}, {"STRLEN", s},
				{"HGETALL", h}, {"SMEMBERS", set}, {"ZRANGE", z, 0, -1, "WITHSCORES"},
				{"ZSCORE", z, "y"}, {"INCRBYFLOAT", missing + "f", "0.5"}, {"EXISTS", s, missing},
				{"HGET", s, "f"}, {"OBJECT", "ENCODING", set}, {"ECHO", ""},
			}
			t.Cleanup(func() { direct.Del(ctx, missing+"f") })
			got := rtDo(ctx, proxied, reads)
			direct.Del(ctx, missing+"f")
			want := rtDo(ctx, direct, reads)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("through the proxy:\n%#v\ndirect:\n%#v", got, want)
			}
			// And they are what they should be.
			if got[0] != "héllo\r\nworld\x00" || got[1] != "-42" || got[2] != "error: redis: nil" || got[3] != int64(14) {
				t.Fatalf("string replies %#v", got[:4])
			}
			if !strings.HasPrefix(got[10].(string), "error: WRONGTYPE") {
				t.Fatalf("HGET of a string: %#v", got[10])
			}
			if proto == 3 {
				if _, ok := got[4].(map[any]any); !ok {
					t.Fatalf("RESP3 HGETALL gave %T, want a map", got[4])
				}
				if got[7] != 2.25 {
					t.Fatalf("RESP3 ZSCORE gave %#v, want the double 2.25", got[7])
				}
			} else if _, ok := got[4].([]any); !ok {
				t.Fatalf("RESP2 HGETALL gave %T, want an array", got[4])
			}
			// The typed API too.
			hm, err := proxied.HGetAll(ctx, h).Result()
			if err != nil || !reflect.DeepEqual(hm, map[string]string{"f1": "v1", "f2": "v2"}) {
				t.Fatalf("HGetAll = %v, %v", hm, err)
			}
			zs, err := proxied.ZRangeWithScores(ctx, z, 0, -1).Result()
			wantZ := []redis.Z{{Score: negInf(), Member: "w"}, {Score: 1.5, Member: "x"}, {Score: 2.25, Member: "y"}}
			if err != nil || !reflect.DeepEqual(zs, wantZ) {
				t.Fatalf("ZRangeWithScores = %v, %v", zs, err)
			}
			members, err := proxied.SMembers(ctx, set).Result()
			if err != nil || len(members) != 3 {
				t.Fatalf("SMembers = %v, %v", members, err)
			}
		})
	}
}

func negInf() float64 { f, _ := strconv.ParseFloat("-inf", 64); return f }

// rtCompareRaw sends script's bytes in one write, directly and through the
// proxy, and fails unless the replies are the same bytes. script builds
// the bytes from a prefix for the keys, different for each run but of the
// same length. It returns the replies.
func rtCompareRaw(t *testing.T, direct, proxied string, script func(prefix string) string) []string {
	t.Helper()
	const end = "__rt_end__"
	run := func(addr, prefix string) []string {
		c := rtDial(t, addr)
		c.send(script(prefix) + rtCmd("ECHO", end))
		return c.readUntil(rtBulk(end))
	}
	d := run(direct, rtUniq(t, "d"))
	p := run(proxied, rtUniq(t, "p"))
	if len(d) != len(p) {
		t.Fatalf("%d replies through the proxy, %d direct:\nproxy:  %q\ndirect: %q", len(p), len(d), p, d)
	}
	for i := range d {
		if d[i] != p[i] {
			t.Fatalf("reply %d through the proxy is %q, direct %q", i, p[i], d[i])
		}
	}
	return p
}

// rtDataScript writes and reads keys under the prefix k, with replies
// that do not name them.
func rtDataScript() func(string) string {
	return func(k string) string {
		var b strings.Builder
		for _, c := range [][]string{
			{"SET", k + "s", "v\r\n\x00\xff"}, {"GET", k + "s"}, {"GET", k + "none"},
			{"INCR", k + "n"}, {"INCRBYFLOAT", k + "f", "1.25"},
			{"HSET", k + "h", "a", "1", "b", "2"}, {"HGETALL", k + "h"},
			{"SADD", k + "set", "3", "1", "2"}, {"SMEMBERS", k + "set"},
			{"ZADD", k + "z", "1.5", "a", "2", "b"}, {"ZRANGE", k + "z", "0", "-1", "WITHSCORES"},
			{"ZSCORE", k + "z", "a"}, {"ZSCORE", k + "z", "nope"}, {"MGET", k + "s", k + "none"},
			{"LPUSH", k + "s", "x"}, {"NOSUCHCOMMAND", "x"}, {"TYPE", k + "h"},
			{"EXISTS", k + "s", k + "none"}, {"PING"}, {"PING", "p"},
			{"DEL", k + "s", k + "n", k + "f", k + "h", k + "set", k + "z"},
		} {
			b.WriteString(rtCmd(c...))
		}
		return b.String()
	}
}

// TestRedisTransparencyRawBytes compares the bytes of the replies direct
// and through the proxy, RESP2 and RESP3, on the shared server.
func TestRedisTransparencyRawBytes(t *testing.T) {
	addr := redisAddr(t)
	p := rtProxy(t, addr)
	t.Run("RESP2", func(t *testing.T) {
		got := rtCompareRaw(t, addr, p.Addr(), rtDataScript())
		if got[2] != "$-1\r\n" || got[6] != "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n" {
			t.Fatalf("RESP2 replies %q", got)
		}
	})
	t.Run("RESP3", func(t *testing.T) {
		hello := rtCmd("HELLO", "3")
		script := rtDataScript()
		// HELLO's reply holds the connection's id: read it apart.
		const end = "__rt_end__"
		var replies [2][]string
		for i, a := range []string{addr, p.Addr()} {
			c := rtDial(t, a)
			c.send(hello)
			if h := c.read(); !strings.HasPrefix(h, "%") {
				t.Fatalf("HELLO 3 reply %q", h)
			}
			c.send(script(rtUniq(t, "k")) + rtCmd("ECHO", end))
			replies[i] = c.readUntil(rtBulk(end))
		}
		if !reflect.DeepEqual(replies[0], replies[1]) {
			t.Fatalf("through the proxy:\n%q\ndirect:\n%q", replies[1], replies[0])
		}
		got := replies[1]
		if got[2] != "_\r\n" || got[6] != "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n" ||
			!strings.HasPrefix(got[8], "~3\r\n") || got[11] != ",1.5\r\n" {
			t.Fatalf("RESP3 replies %q", got)
		}
	})
}

// TestRedisTransparencyDebugProtocol compares every reply type RESP3 has
// (big numbers, verbatim strings, attributes, pushes, booleans, ...),
// made by DEBUG PROTOCOL on a private server, direct and through the
// proxy: bytes, and what go-redis decodes.
func TestRedisTransparencyDebugProtocol(t *testing.T) {
	addr := startRedisServer(t, "--enable-debug-command", "yes")
	p := rtProxy(t, addr)
	types := []string{"string", "integer", "double", "bignum", "null", "array", "set", "map",
		"attrib", "push", "verbatim", "true", "false"}
	script := func(string) string {
		var b strings.Builder
		for _, ty := range types {
			b.WriteString(rtCmd("DEBUG", "PROTOCOL", ty))
		}
		return b.String()
	}
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			var got [2][]string
			for i, a := range []string{addr, p.Addr()} {
				c := rtDial(t, a)
				if proto == 3 {
					c.send(rtCmd("HELLO", "3"))
					c.read()
				}
				c.send(script("") + rtCmd("ECHO", "end"))
				got[i] = c.readUntil(rtBulk("end"))
			}
			if !reflect.DeepEqual(got[0], got[1]) {
				t.Fatalf("through the proxy:\n%q\ndirect:\n%q", got[1], got[0])
			}
			all := strings.Join(got[1], "")
			if proto == 3 {
				// Every RESP3 type went through.
				for _, want := range []string{"(1234567999999999999999999999999999999\r\n", "=29\r\ntxt:This is a verbatim\nstring\r\n",
					"|1\r\n", ">2\r\n", "#t\r\n", "#f\r\n", "_\r\n", ",3.141", "%3\r\n", "~3\r\n"} {
					if !strings.Contains(all, want) {
						t.Fatalf("RESP3 replies lack %q:\n%q", want, got[1])
					}
				}
				// The push comes before the reply to DEBUG PROTOCOL push.
				if len(got[1]) != len(types)+2 {
					t.Fatalf("%d values, want %d (a push and a reply for push):\n%q", len(got[1]), len(types)+2, got[1])
				}
			}
			setProto := func(o *redis.Options) { o.Protocol = proto }
			cmds := make([][]any, len(types))
			for i, ty := range types {
				cmds[i] = []any{"DEBUG", "PROTOCOL", ty}
			}
			d := rtDo(context.Background(), newRedisClient(t, addr, setProto), cmds)
			pr := rtDo(context.Background(), newRedisClient(t, p.Addr(), setProto), cmds)
			if !reflect.DeepEqual(d, pr) {
				t.Fatalf("go-redis through the proxy:\n%#v\ndirect:\n%#v", pr, d)
			}
		})
	}
}

// TestRedisTransparencyBigPipeline sends 5,001 commands in one go-redis
// pipeline: every reply comes back to its command.
func TestRedisTransparencyBigPipeline(t *testing.T) {
	p := rtProxy(t, "")
	c := newRedisClient(t, p.Addr(), noRetries)
	ctx := context.Background()
	k, n := testKey(t, c, "k"), testKey(t, c, "n")
	const rounds = 1667
	pipe := c.Pipeline()
	sets := make([]*redis.StatusCmd, rounds)
	gets := make([]*redis.StringCmd, rounds)
	incrs := make([]*redis.IntCmd, rounds)
	for i := range rounds {
		sets[i] = pipe.Set(ctx, k, "value-"+strconv.Itoa(i), 0)
		gets[i] = pipe.Get(ctx, k)
		incrs[i] = pipe.Incr(ctx, n)
	}
	if err := c.Ping(ctx).Err(); err != nil { // the handshake, before counting
		t.Fatal(err)
	}
	before := p.Stats().Requests
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range rounds {
		if v, err := sets[i].Result(); v != "OK" || err != nil {
			t.Fatalf("SET %d = %q, %v", i, v, err)
		}
		if v, err := gets[i].Result(); v != "value-"+strconv.Itoa(i) || err != nil {
			t.Fatalf("GET %d = %q, %v", i, v, err)
		}
		if v, err := incrs[i].Result(); v != int64(i+1) || err != nil {
			t.Fatalf("INCR %d = %d, %v", i, v, err)
		}
	}
	// go-redis may open a new connection for the pipeline: its
	// handshake (HELLO, CLIENT SETINFO ...) counts too.
	if d := p.Stats().Requests - before; d < 3*rounds || d > 3*rounds+8 {
		t.Fatalf("Requests grew by %d, want %d and a handshake at most", d, 3*rounds)
	}
}

// TestRedisTransparencyRawPipeline writes 20,000 PINGs in one write, every
// thousandth with a message, and reads exactly their replies, in order.
func TestRedisTransparencyRawPipeline(t *testing.T) {
	p := rtProxy(t, "")
	c := rtDial(t, p.Addr())
	const n = 20000
	var req, want strings.Builder
	for i := range n {
		if i%1000 == 999 {
			req.WriteString(rtCmd("PING", strconv.Itoa(i)))
			want.WriteString(rtBulk(strconv.Itoa(i)))
		} else {
			req.WriteString("*1\r\n$4\r\nPING\r\n")
			want.WriteString("+PONG\r\n")
		}
	}
	errc := make(chan error, 1)
	go func() {
		c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := io.WriteString(c.c, req.String())
		errc <- err
	}()
	got := make([]byte, want.Len())
	c.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.ReadFull(c.r, got)
	if werr := <-errc; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatalf("read %d of %d bytes: %v", len(got), want.Len(), err)
	}
	if string(got) != want.String() {
		i := 0
		for i < len(got) && got[i] == want.String()[i] {
			i++
		}
		t.Fatalf("replies differ at byte %d: %q, want %q", i, got[i:min(i+40, len(got))], want.String()[i:min(i+40, len(got))])
	}
	// Nothing more.
	c.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if b, err := c.r.ReadByte(); err == nil {
		t.Fatalf("an extra byte %q", b)
	}
	if r := p.Stats().Requests; r != n {
		t.Fatalf("Requests = %d, want %d", r, n)
	}
}

// TestRedisTransparencyTransactions runs MULTI/EXEC and a WATCH conflict
// through the proxy.
func TestRedisTransparencyTransactions(t *testing.T) {
	p := rtProxy(t, "")
	c := newRedisClient(t, p.Addr(), noRetries)
	other := newRedisClient(t, redisAddr(t))
	ctx := context.Background()
	k, n := testKey(t, c, "k"), testKey(t, c, "n")

	var incr *redis.IntCmd
	var get *redis.StringCmd
	cmds, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, k, "a", 0)
		pipe.Incr(ctx, n)
		incr = pipe.IncrBy(ctx, n, 10)
		get = pipe.Get(ctx, k)
		return nil
	})
	if err != nil || len(cmds) != 4 || incr.Val() != 11 || get.Val() != "a" {
		t.Fatalf("TxPipelined: %v, %v; INCRBY %d, GET %q", cmds, err, incr.Val(), get.Val())
	}

	// A transaction whose watched key another client changes fails.
	attempts := 0
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		attempts++
		v, err := tx.Get(ctx, k).Result()
		if err != nil {
			return err
		}
		if err := other.Set(ctx, k, "changed", 0).Err(); err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Set(ctx, k, v+"-mine", 0)
			return nil
		})
		return err
	}, k)
	if !errors.Is(err, redis.TxFailedErr) || attempts != 1 {
		t.Fatalf("Watch = %v after %d attempts, want redis.TxFailedErr after 1", err, attempts)
	}
	if v := c.Get(ctx, k).Val(); v != "changed" {
		t.Fatalf("value %q, want the other client's", v)
	}
	// Without a conflict it commits.
	err = c.Watch(ctx, func(tx *redis.Tx) error {
		_, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Append(ctx, k, "+mine")
			return nil
		})
		return err
	}, k)
	if v := other.Get(ctx, k).Val(); err != nil || v != "changed+mine" {
		t.Fatalf("Watch = %v, value %q", err, v)
	}
}

// TestRedisTransparencyBlocking: BLPOP blocks through the proxy until
// another client pushes, and times out to redis.Nil.
func TestRedisTransparencyBlocking(t *testing.T) {
	p := rtProxy(t, "")
	c := newRedisClient(t, p.Addr(), noRetries)
	other := newRedisClient(t, redisAddr(t))
	ctx := context.Background()
	k := testKey(t, c, "list")
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	type result struct {
		v   []string
		err error
		d   time.Duration
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		v, err := c.BLPop(ctx, 5*time.Second, k).Result()
		done <- result{v, err, time.Since(start)}
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("BLPOP returned before the push: %v, %v", r.v, r.err)
	default:
	}
	if err := other.RPush(ctx, k, "pushed").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || !reflect.DeepEqual(r.v, []string{k, "pushed"}) || r.d < 150*time.Millisecond {
			t.Fatalf("BLPOP = %q, %v after %v", r.v, r.err, r.d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BLPOP still blocked 5 s after the push")
	}
	start = time.Now()
	v, err := c.Do(ctx, "BLPOP", k, "0.2").Result() // BLPop rounds up to 1 s
	if !errors.Is(err, redis.Nil) || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("BLPOP timeout = %v, %v after %v; want redis.Nil after 200ms", v, err, time.Since(start))
	}
	// The connection still pairs replies.
	if err := c.Set(ctx, k, "after", 0).Err(); err != nil || c.Get(ctx, k).Val() != "after" {
		t.Fatalf("after BLPOP: %v", err)
	}
}

// TestRedisTransparencyPubSub: pub/sub and sharded pub/sub through the
// proxy, subscriber and publisher, RESP2 and RESP3.
func TestRedisTransparencyPubSub(t *testing.T) {
	addr := redisAddr(t)
	p := rtProxy(t, addr)
	for _, proto := range []int{2, 3} {
		for _, sharded := range []bool{false, true} {
			name := fmt.Sprintf("RESP%d", proto)
			if sharded {
				name += "/sharded"
			}
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				setProto := func(o *redis.Options) { o.Protocol = proto }
				subc := newRedisClient(t, p.Addr(), setProto)
				pubc := newRedisClient(t, p.Addr(), setProto)
				ch := rtUniq(t, "ch")
				var sub *redis.PubSub
				publish := func(msg string) *redis.IntCmd { return pubc.Publish(ctx, ch, msg) }
				if sharded {
					sub = subc.SSubscribe(ctx, ch)
					publish = func(msg string) *redis.IntCmd { return pubc.SPublish(ctx, ch, msg) }
				} else {
					sub = subc.Subscribe(ctx, ch)
				}
				defer sub.Close()
				kind := "subscribe"
				if sharded {
					kind = "ssubscribe"
				}
				if m, err := sub.Receive(ctx); err != nil || !reflect.DeepEqual(m, &redis.Subscription{Kind: kind, Channel: ch, Count: 1}) {
					t.Fatalf("confirmation %#v, %v", m, err)
				}
				batch := func(from, to int) {
					for i := from; i < to; i++ {
						if n, err := publish(fmt.Sprint("m", i)).Result(); err != nil || n != 1 {
							t.Fatalf("publish %d: %d receivers, %v", i, n, err)
						}
					}
					for i := from; i < to; i++ {
						m, err := sub.Receive(ctx)
						msg, ok := m.(*redis.Message)
						if err != nil || !ok || msg.Channel != ch || msg.Payload != fmt.Sprint("m", i) {
							t.Fatalf("message %d: %#v, %v", i, m, err)
						}
					}
				}
				batch(0, 100)
				if err := sub.Ping(ctx, "hi"); err != nil {
					t.Fatal(err)
				}
				if m, err := sub.Receive(ctx); err != nil || !reflect.DeepEqual(m, &redis.Pong{Payload: "hi"}) {
					t.Fatalf("PING in the subscription: %#v, %v", m, err)
				}
				batch(100, 200)
				var err error
				if sharded {
					err = sub.SUnsubscribe(ctx, ch)
				} else {
					err = sub.Unsubscribe(ctx, ch)
				}
				if err != nil {
					t.Fatal(err)
				}
				if m, err := sub.Receive(ctx); err != nil || !reflect.DeepEqual(m, &redis.Subscription{Kind: strings.Replace(kind, "sub", "unsub", 1), Channel: ch, Count: 0}) {
					t.Fatalf("unsubscribe: %#v, %v", m, err)
				}
				if n, err := publish("late").Result(); err != nil || n != 0 {
					t.Fatalf("publish after unsubscribe: %d receivers, %v", n, err)
				}
			})
		}
	}
}

// TestRedisTransparencyMonitor: MONITOR through the proxy sees the commands
// of other clients.
func TestRedisTransparencyMonitor(t *testing.T) {
	addr := redisAddr(t)
	p := rtProxy(t, addr)
	m := rtDial(t, p.Addr())
	m.send(rtCmd("MONITOR"))
	if r := m.read(); r != "+OK\r\n" {
		t.Fatalf("MONITOR = %q", r)
	}
	other := newRedisClient(t, addr)
	proxied := newRedisClient(t, p.Addr())
	ctx := context.Background()
	k := testKey(t, other, "k")
	if err := other.Set(ctx, k, "direct", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := proxied.Set(ctx, k, "proxied", 0).Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf(`"set" "%s" "direct"`, k), fmt.Sprintf(`"set" "%s" "proxied"`, k)}
	deadline := time.Now().Add(5 * time.Second)
	for len(want) > 0 && time.Now().Before(deadline) {
		line := m.read() // the shared server's other commands too
		if !strings.HasPrefix(line, "+") {
			t.Fatalf("MONITOR line %q", line)
		}
		if strings.Contains(line, want[0]) {
			want = want[1:]
		}
	}
	if len(want) > 0 {
		t.Fatalf("MONITOR did not show %q", want)
	}
}

// rtInvalidate is the RESP3 push of an invalidation of key.
func rtInvalidate(key string) string { return ">2\r\n" + rtBulk("invalidate") + "*1\r\n" + rtBulk(key) }

// TestRedisTransparencyTrackingPushes: client-side caching invalidations,
// RESP3 pushes, reach the tracking connection through the proxy where the
// server put them, its replies still paired; and with a fault answering
// PING on that connection, the injected replies keep their places.
func TestRedisTransparencyTrackingPushes(t *testing.T) {
	p := rtProxy(t, "")
	other := newRedisClient(t, redisAddr(t))
	ctx := context.Background()
	k := testKey(t, other, "cached")
	c := rtDial(t, p.Addr())
	c.send(rtCmd("HELLO", "3"))
	if h := c.read(); !strings.HasPrefix(h, "%") {
		t.Fatalf("HELLO 3 = %q", h)
	}
	c.send(rtCmd("CLIENT", "TRACKING", "ON"))
	if r := c.read(); r != "+OK\r\n" {
		t.Fatalf("CLIENT TRACKING ON = %q", r)
	}
	set := func(v string) {
		t.Helper()
		if err := other.Set(ctx, k, v, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	set("v0")
	c.send(rtCmd("GET", k))
	if r := c.read(); r != rtBulk("v0") {
		t.Fatalf("GET = %q", r)
	}
	// Each SET of another client invalidates the key read before it: the
	// server sends the push before the next reply.
	for i := 1; i <= 20; i++ {
		v := fmt.Sprint("v", i)
		set(v)
		c.send(rtCmd("GET", k) + rtCmd("ECHO", v))
		got := []string{c.read(), c.read(), c.read()}
		want := []string{rtInvalidate(k), rtBulk(v), rtBulk(v)}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: %q, want %q", i, got, want)
		}
	}

	// With a fault on PING, the proxy's replies take their commands'
	// places; the pushes stay before the server's next reply.
	if err := p.Set(faults.Error(faults.RedisLoading).When(faults.Command("PING"))); err != nil {
		t.Fatal(err)
	}
	loading := "-" + faults.RedisLoading.Text() + "\r\n"
	for i := 21; i <= 40; i++ {
		v := fmt.Sprint("v", i)
		set(v)
		c.send(rtCmd("PING") + rtCmd("GET", k) + rtCmd("PING") + rtCmd("ECHO", v) + rtCmd("PING"))
		var replies []string
		pushAt := -1
		for len(replies) < 5 {
			r := c.read()
			if strings.HasPrefix(r, ">") {
				if pushAt >= 0 || r != rtInvalidate(k) {
					t.Fatalf("round %d: push %q after %d (pushes so far at %d)", i, r, len(replies), pushAt)
				}
				pushAt = len(replies)
				continue
			}
			replies = append(replies, r)
		}
		want := []string{loading, rtBulk(v), loading, rtBulk(v), loading}
		if !reflect.DeepEqual(replies, want) {
			t.Fatalf("round %d: %q, want %q", i, replies, want)
		}
		// The push may come before or after the first PING's reply,
		// which the proxy writes at once, but not after GET's.
		if pushAt < 0 || pushAt > 1 {
			t.Fatalf("round %d: push after reply %d, want before GET's", i, pushAt)
		}
	}
	if n := p.Stats().Injected; n != 60 {
		t.Fatalf("Injected = %d, want 60", n)
	}
}

// TestRedisTransparencyInline: inline commands through the proxy, and a
// fault on one.
func TestRedisTransparencyInline(t *testing.T) {
	p := rtProxy(t, "")
	other := newRedisClient(t, redisAddr(t))
	k := testKey(t, other, "inline")
	c := rtDial(t, p.Addr())
	c.send("PING\r\n")
	if r := c.read(); r != "+PONG\r\n" {
		t.Fatalf("PING = %q", r)
	}
	c.send("SET " + k + " v1\r\nGET " + k + "\r\n\r\nECHO x\n")
	got := []string{c.read(), c.read(), c.read()}
	if want := []string{"+OK\r\n", "$2\r\nv1\r\n", "$1\r\nx\r\n"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("inline pipeline: %q, want %q", got, want)
	}
	if err := p.Set(faults.Error(faults.RedisError("ERR injected inline")).When(faults.Command("GET"))); err != nil {
		t.Fatal(err)
	}
	c.send("GET " + k + "\r\nPING\r\nget " + k + "\r\nSET " + k + " v2\r\nGET " + k + "\r\n")
	got = []string{c.read(), c.read(), c.read(), c.read(), c.read()}
	inj := "-ERR injected inline\r\n"
	if want := []string{inj, "+PONG\r\n", inj, "+OK\r\n", inj}; !reflect.DeepEqual(got, want) {
		t.Fatalf("inline with a fault on GET: %q, want %q", got, want)
	}
	if v := other.Get(context.Background(), k).Val(); v != "v2" {
		t.Fatalf("value %q, want v2", v)
	}
	if n := p.Stats().Injected; n != 3 {
		t.Fatalf("Injected = %d, want 3", n)
	}
}

// TestRedisTransparencyLargeValues: a 10 MiB value and a 100,000-element
// list round-trip through the proxy.
func TestRedisTransparencyLargeValues(t *testing.T) {
	p := rtProxy(t, "")
	c := newRedisClient(t, p.Addr(), noRetries, func(o *redis.Options) { o.ReadTimeout = 20 * time.Second })
	ctx := context.Background()
	k, l := testKey(t, c, "big"), testKey(t, c, "list")
	big := make([]byte, 10<<20)
	rand.Read(big)
	if err := c.Set(ctx, k, big, 0).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, k).Bytes()
	if err != nil || sha256.Sum256(got) != sha256.Sum256(big) {
		t.Fatalf("GET of 10 MiB: %d bytes, %v; the value differs", len(got), err)
	}
	const n = 100000
	pipe := c.Pipeline()
	for i := 0; i < n; i += 10000 {
		vals := make([]any, 10000)
		for j := range vals {
			vals[j] = i + j
		}
		pipe.RPush(ctx, l, vals...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	vs, err := c.LRange(ctx, l, 0, -1).Result()
	if err != nil || len(vs) != n {
		t.Fatalf("LRANGE: %d elements, %v", len(vs), err)
	}
	for i, v := range vs {
		if v != strconv.Itoa(i) {
			t.Fatalf("element %d = %q", i, v)
		}
	}
}

// TestRedisTransparencyRequestsCount: Stats().Requests counts every
// command, multibulk or inline, and not empty lines.
func TestRedisTransparencyRequestsCount(t *testing.T) {
	p := rtProxy(t, "")
	c := rtDial(t, p.Addr())
	var b strings.Builder
	for i := range 30 {
		b.WriteString(rtCmd("ECHO", strconv.Itoa(i)))
	}
	b.WriteString("PING\r\n\r\nPING\r\n*0\r\nPING\r\n") // 3 inline, an empty line, an empty array
	b.WriteString(rtCmd("ECHO", "end"))
	c.send(b.String())
	vs := c.readUntil(rtBulk("end"))
	if len(vs) != 34 {
		t.Fatalf("%d replies, want 34: %q", len(vs), vs)
	}
	if r := p.Stats().Requests; r != 34 {
		t.Fatalf("Requests = %d, want 34", r)
	}
}

// TestRedisTransparencyConcurrent: 8 goroutines share a pooled client
// through one proxy; every reply is its command's.
func TestRedisTransparencyConcurrent(t *testing.T) {
	p := rtProxy(t, "")
	const workers, ops = 8, 500
	c := newRedisClient(t, p.Addr(), noRetries, func(o *redis.Options) { o.PoolSize = workers })
	ctx := context.Background()
	keys := make([]string, workers)
	for i := range keys {
		keys[i] = testKey(t, c, strconv.Itoa(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ops / 2 {
				v := fmt.Sprint(w, "-", i)
				if err := c.Set(ctx, keys[w], v, 0).Err(); err != nil {
					errs <- err
					return
				}
				if got, err := c.Get(ctx, keys[w]).Result(); err != nil || got != v {
					errs <- fmt.Errorf("worker %d: GET = %q, %v; want %q", w, got, err, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if r := p.Stats().Requests; r < workers*ops {
		t.Fatalf("Requests = %d, want at least %d", r, workers*ops)
	}
}

// TestRedisTransparencyReplySplitMidLine: a reply whose line arrives in
// two reads (here "+PO", then "NG\r\n" 100 ms later; with real servers,
// any read that ends inside a reply's line, as in a long pipeline) must
// reach the client whole.
func TestRedisTransparencyReplySplitMidLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		s, err := l.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		s.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 64)
		if _, err := s.Read(buf); err != nil {
			return
		}
		s.Write([]byte("+PO"))
		time.Sleep(100 * time.Millisecond)
		s.Write([]byte("NG\r\n"))
		s.Read(buf) // until the proxy closes
	}()
	p := rtProxy(t, l.Addr().String())
	c := rtDial(t, p.Addr())
	c.send("*1\r\n$4\r\nPING\r\n")
	c.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	got, err := c.r.ReadString('\n')
	if err != nil || got != "+PONG\r\n" {
		t.Errorf("reply %q, %v; want \"+PONG\\r\\n\" (the relay's replies side spins on a partial line)", got, err)
	}
	c.c.Close()
	t.Cleanup(func() { <-served })
}

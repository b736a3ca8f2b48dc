package faults_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// TestRedisMissGoRedis: with go-redis speaking RESP3 (its default) or
// RESP2, Miss answers the reads of matching keys as the server answers
// reads of keys it does not have, and an MGET asks the server for the
// other keys only, its reply merged in the client's order.
func TestRedisMissGoRedis(t *testing.T) {
	for _, protocol := range []int{3, 2} {
		t.Run(fmt.Sprintf("RESP%d", protocol), func(t *testing.T) {
			ctx := context.Background()
			direct := newRedisClient(t, redisAddr(t))
			hot := []string{testKey(t, direct, "hot:1"), testKey(t, direct, "hot:2")}
			cold := []string{testKey(t, direct, "cold:1"), testKey(t, direct, "cold:2")}
			hash := testKey(t, direct, "hot:hash")
			for _, k := range append(hot, cold...) {
				if err := direct.Set(ctx, k, "v:"+k, 0).Err(); err != nil {
					t.Fatal(err)
				}
			}
			if err := direct.HSet(ctx, hash, "f1", "a", "f2", "b").Err(); err != nil {
				t.Fatal(err)
			}
			rec := testenv.NewRecorder(t, redisAddr(t), nil)
			p := newProxy(t, rec.Addr(), faults.WithProtocol(faults.Redis()))
			mustSet(t, p, faults.Miss().When(faults.Key("*:hot:*")))
			c := newRedisClient(t, p.Addr(), noRetries, func(o *redis.Options) { o.Protocol = protocol })

			if err := c.Get(ctx, hot[0]).Err(); !errors.Is(err, redis.Nil) {
				t.Errorf("GET of a missed key: %v, want redis.Nil", err)
			}
			if v, err := c.Get(ctx, cold[0]).Result(); err != nil || v != "v:"+cold[0] {
				t.Errorf("GET of another key: %q, %v", v, err)
			}
			got, err := c.MGet(ctx, hot[0], cold[0], hot[1], cold[1]).Result()
			if want := []any{nil, "v:" + cold[0], nil, "v:" + cold[1]}; err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("MGET: %v, %v; want %v", got, err, want)
			}
			if got, err := c.MGet(ctx, hot[1], hot[0]).Result(); err != nil || fmt.Sprint(got) != "[<nil> <nil>]" {
				t.Errorf("MGET of missed keys only: %v, %v", got, err)
			}
			if err := c.HGet(ctx, hash, "f1").Err(); !errors.Is(err, redis.Nil) {
				t.Errorf("HGET: %v, want redis.Nil", err)
			}
			if got, err := c.HMGet(ctx, hash, "f1", "f2", "f3").Result(); err != nil || fmt.Sprint(got) != "[<nil> <nil> <nil>]" {
				t.Errorf("HMGET: %v, %v", got, err)
			}
			if got, err := c.HGetAll(ctx, hash).Result(); err != nil || len(got) != 0 {
				t.Errorf("HGETALL: %v, %v; want an empty hash", got, err)
			}
			if err := c.GetDel(ctx, hot[0]).Err(); !errors.Is(err, redis.Nil) {
				t.Errorf("GETDEL: %v, want redis.Nil", err)
			}
			if err := c.GetEx(ctx, hot[1], 0).Err(); !errors.Is(err, redis.Nil) {
				t.Errorf("GETEX: %v, want redis.Nil", err)
			}
			if v, err := direct.Get(ctx, hot[0]).Result(); err != nil || v != "v:"+hot[0] {
				t.Errorf("the server lost %s (%q, %v): a missed GETDEL never reached it", hot[0], v, err)
			}
			c.Close()
			rec.Close()
			sent := sentToServer(rec)
			for _, k := range append(hot, hash) {
				if strings.Contains(sent, k) {
					t.Errorf("the server read the missed key %s in %q", k, sent)
				}
			}
			if want := fmt.Sprintf("*3\r\n$4\r\nmget\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(cold[0]), cold[0], len(cold[1]), cold[1]); !strings.Contains(sent, want) {
				t.Errorf("the server did not read the MGET of the other keys, %q, in %q", want, sent)
			}
			var requests []string
			for _, e := range p.Events() {
				requests = append(requests, e.Request)
			}
			if want := "GET " + hot[0] + "|MGET " + hot[0] + "|MGET " + hot[1] + "|MGET " + hot[1] + "|MGET " + hot[0] +
				"|HGET " + hash + "|HMGET " + hash + "|HGETALL " + hash + "|GETDEL " + hot[0] + "|GETEX " + hot[1]; strings.Join(requests, "|") != want {
				t.Errorf("events name %q, want one per missed key", requests)
			}
		})
	}
}

// TestRedisMissBytes: each missed read's reply is, byte for byte, what
// the server sends for a key it does not have, in RESP2 and RESP3,
// including when HELLO and the read are sent in one write, and after a
// RESET has taken the connection back to RESP2.
func TestRedisMissBytes(t *testing.T) {
	ctx := context.Background()
	direct := newRedisClient(t, redisAddr(t))
	k := testKey(t, direct, "k")
	h := testKey(t, direct, "h")
	gone := testKey(t, direct, "gone")
	p := newRedisProxy(t)
	mustSet(t, p, faults.Miss().When(faults.Key(k)), faults.Miss().When(faults.Key(h)))
	reads := func(key, hash string) string {
		return resp3Cmd("GET", key) + resp3Cmd("MGET", key, key) + resp3Cmd("GETEX", key, "PERSIST") + resp3Cmd("HGET", hash, "f") +
			resp3Cmd("HMGET", hash, "f", "g") + resp3Cmd("HGETALL", hash) + resp3Cmd("GETDEL", key) + "PING\r\n"
	}
	// RESET takes a connection back to RESP2, as a pool does before
	// handing it out again.
	for _, hello := range []string{"HELLO 2\r\n", "HELLO 3\r\n", "HELLO 3\r\nRESET\r\n"} {
		if err := direct.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := direct.HSet(ctx, h, "f", "1").Err(); err != nil {
			t.Fatal(err)
		}
		want := rtExchange(t, redisAddr(t), hello, reads(gone, gone))
		got := rtExchange(t, p.Addr(), hello, reads(k, h))
		if got != want {
			t.Errorf("after %q the proxy's misses are %q; the server's %q", hello, got, want)
		}
	}
}

// resp3Cmd encodes a command as a client sends it.
func resp3Cmd(args ...string) string {
	s := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		s += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	return s
}

// rtExchange sends hello and cmds (ended by a PING) in one write and
// returns what came back after HELLO's reply, up to PONG.
func rtExchange(t *testing.T, addr, hello, cmds string) string {
	t.Helper()
	c := rtDial(t, addr)
	c.send(hello + cmds)
	c.read() // HELLO's reply: it names the server's connection id
	var b strings.Builder
	for range 20 {
		v := c.read()
		b.WriteString(v)
		if v == "+PONG\r\n" {
			return b.String()
		}
	}
	t.Fatalf("no PONG in %q", b.String())
	return ""
}

// TestRedisMissInTransaction: reads queued in MULTI are answered in EXEC's
// reply, which the proxy does not rewrite: Miss passes them. After the
// transaction ends (EXEC, DISCARD or RESET), reads are missed again.
func TestRedisMissInTransaction(t *testing.T) {
	ctx := context.Background()
	direct := newRedisClient(t, redisAddr(t))
	k := testKey(t, direct, "k")
	if err := direct.Set(ctx, k, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	p := newRedisProxy(t)
	mustSet(t, p, faults.Miss())
	c := newRedisClient(t, p.Addr(), noRetries)
	var get *redis.StringCmd
	if _, err := c.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		get = pipe.Get(ctx, k)
		return nil
	}); err != nil || get.Val() != "v" {
		t.Fatalf("GET in MULTI: %q, %v", get.Val(), err)
	}
	if err := c.Get(ctx, k).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after: %v, want the miss", err)
	}
	// RESET ends a transaction as DISCARD does: the GET after it is a
	// read of its own again, which the proxy misses.
	if got := rtExchange(t, p.Addr(), "MULTI\r\n", "RESET\r\n"+resp3Cmd("GET", k)+"PING\r\n"); got != "+RESET\r\n$-1\r\n+PONG\r\n" {
		t.Fatalf("MULTI, RESET, GET: read %q after MULTI's reply, want the miss", got)
	}
}

package faults_test

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
)

// An error injected inside MULTI leaves the connection as the server's own
// refusal of a queued command does: EXEC answers EXECABORT, nothing of the
// transaction runs, and the keys WATCHed before it are no longer watched
// (a later transaction on the connection commits whatever others wrote).
// The real refusal is provoked with a command of the wrong arity.
func TestRedisErrorInTransactionLeavesTheRealState(t *testing.T) {
	type outcome struct {
		exec      string // EXEC's error
		ran       bool   // a command of the refused transaction ran
		unwatched bool   // a later transaction commits after another client's write
	}
	observe := func(t *testing.T, addr string, refused func(ctx context.Context, conn *redis.Conn, key string) error) outcome {
		c := newRedisClient(t, addr, noRetries)
		other := newRedisClient(t, redisAddr(t))
		ctx := context.Background()
		watched, written := testKey(t, c, "watched"), testKey(t, c, "written")
		conn := c.Conn()
		defer conn.Close()
		var o outcome
		for _, args := range [][]any{{"WATCH", watched}, {"MULTI"}, {"SET", written, "v"}} {
			if err := conn.Do(ctx, args...).Err(); err != nil {
				t.Fatalf("%v: %v", args, err)
			}
		}
		if err := refused(ctx, conn, written); err == nil {
			t.Fatal("the refused command was queued")
		}
		err := conn.Do(ctx, "EXEC").Err()
		if err != nil {
			o.exec, _, _ = strings.Cut(err.Error(), " ")
		}
		o.ran = other.Exists(ctx, written).Val() == 1
		if err := other.Set(ctx, watched, "changed", 0).Err(); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]any{{"MULTI"}, {"SET", written, "later"}} {
			if err := conn.Do(ctx, args...).Err(); err != nil {
				t.Fatalf("%v: %v", args, err)
			}
		}
		res, err := conn.Do(ctx, "EXEC").Result()
		o.unwatched = err == nil && res != nil
		return o
	}
	real := observe(t, redisAddr(t), func(ctx context.Context, conn *redis.Conn, key string) error {
		return conn.Do(ctx, "SET", key).Err() // wrong number of arguments
	})
	p := newRedisProxy(t)
	mustSet(t, p, faults.Error(faults.RedisOOM).When(faults.Command("INCR")))
	injected := observe(t, p.Addr(), func(ctx context.Context, conn *redis.Conn, key string) error {
		return conn.Do(ctx, "INCR", key).Err()
	})
	t.Logf("real: %+v; injected: %+v", real, injected)
	if want := (outcome{exec: "EXECABORT", ran: false, unwatched: true}); real != want {
		t.Errorf("the real refusal left %+v, expected %+v", real, want)
	}
	if injected != real {
		t.Errorf("the injected refusal left %+v, the real one %+v", injected, real)
	}
}

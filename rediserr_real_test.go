package faults_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
)

// The catalog's texts, checked against what real servers send: each error
// is provoked on a private server (startRedisServer) and read off the
// socket, byte for byte. Nothing is taken from the server's binary: a text
// counts only if a live server wrote it, which rawRedis.live checks by an
// ECHO of a fresh nonce on the same connection where it can.

// rawRedis is a RESP2 connection that reads replies as they are.
type rawRedis struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

func dialRawRedis(t testing.TB, addr string) *rawRedis {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawRedis{t: t, c: c, r: bufio.NewReader(c)}
}

// send writes a command without reading its reply.
func (rc *rawRedis) send(args ...string) {
	rc.t.Helper()
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	rc.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.c.Write(b); err != nil {
		rc.t.Fatalf("%q: %v", args, err)
	}
}

// reply reads one reply, within timeout: a simple string, error or
// integer as its line (type byte included, CRLF not), a bulk string as its
// payload, an array as its elements joined by newlines.
func (rc *rawRedis) reply(timeout time.Duration) string {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(timeout))
	s, err := rc.read()
	if err != nil {
		rc.t.Fatalf("reading a reply: %v", err)
	}
	return s
}

func (rc *rawRedis) read() (string, error) {
	line, err := rc.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty line")
	}
	switch line[0] {
	case '$', '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return line, err
		}
		if line[0] == '$' {
			b := make([]byte, n+2)
			_, err := io.ReadFull(rc.r, b)
			return string(b[:n]), err
		}
		var elems []string
		for i := 0; i < n; i++ {
			e, err := rc.read()
			if err != nil {
				return "", err
			}
			elems = append(elems, e)
		}
		return strings.Join(elems, "\n"), nil
	}
	return line, nil
}

// do sends a command and returns its reply.
func (rc *rawRedis) do(args ...string) string {
	rc.t.Helper()
	rc.send(args...)
	return rc.reply(5 * time.Second)
}

// live checks that a live server answers on the connection.
func (rc *rawRedis) live() {
	rc.t.Helper()
	nonce := fmt.Sprintf("nonce-%d", time.Now().UnixNano())
	if got := rc.do("ECHO", nonce); got != nonce {
		rc.t.Fatalf("ECHO %s = %q: no live server", nonce, got)
	}
}

// checkServerText compares the error the server sent with the catalog's.
func checkServerText(t testing.TB, got string, want faults.RedisReply) {
	t.Helper()
	if got != "-"+want.Text() {
		t.Fatalf("the server sent\n\t%q\n%s says\n\t%q", got, want, "-"+want.Text())
	}
}

// deadPort returns a port of 127.0.0.1 nothing listens on.
func deadPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	return port
}

// waitFor calls f every 50 ms until it reports true, at most for 15 s.
func waitFor(t testing.TB, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !f(); {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 15 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRedisCatalogMatchesServer(t *testing.T) {
	t.Run("RedisOOM", func(t *testing.T) {
		rc := dialRawRedis(t, startRedisServer(t, "--maxmemory", "1"))
		checkServerText(t, rc.do("SET", "k", "v"), faults.RedisOOM)
		rc.live()
	})
	t.Run("RedisReadOnly", func(t *testing.T) {
		rc := dialRawRedis(t, startRedisServer(t))
		if r := rc.do("REPLICAOF", "127.0.0.1", deadPort(t)); r != "+OK" {
			t.Fatalf("REPLICAOF: %q", r)
		}
		checkServerText(t, rc.do("SET", "k", "v"), faults.RedisReadOnly)
		rc.live()
	})
	t.Run("RedisMasterDown", func(t *testing.T) {
		rc := dialRawRedis(t, startRedisServer(t, "--replica-serve-stale-data", "no"))
		if r := rc.do("REPLICAOF", "127.0.0.1", deadPort(t)); r != "+OK" {
			t.Fatalf("REPLICAOF: %q", r)
		}
		checkServerText(t, rc.do("GET", "k"), faults.RedisMasterDown)
	})
	t.Run("RedisNoScript", func(t *testing.T) {
		rc := dialRawRedis(t, startRedisServer(t))
		checkServerText(t, rc.do("EVALSHA", strings.Repeat("0f", 20), "0"), faults.RedisNoScript)
		rc.live()
	})
	t.Run("RedisNoAuth", func(t *testing.T) {
		rc := dialRawRedis(t, startRedisServer(t, "--requirepass", "x"))
		checkServerText(t, rc.do("GET", "k"), faults.RedisNoAuth)
		if r := rc.do("AUTH", "x"); r != "+OK" {
			t.Fatalf("AUTH: %q", r)
		}
		rc.live()
	})
	t.Run("RedisExecAbort", func(t *testing.T) {
		rc := dialRawRedis(t, startRedisServer(t))
		if r := rc.do("MULTI"); r != "+OK" {
			t.Fatalf("MULTI: %q", r)
		}
		if r := rc.do("GET"); !strings.HasPrefix(r, "-ERR wrong number of arguments") {
			t.Fatalf("GET without a key: %q", r)
		}
		checkServerText(t, rc.do("EXEC"), faults.RedisExecAbort)
		rc.live()
	})
	t.Run("RedisNoReplicas", func(t *testing.T) {
		rc := dialRawRedis(t, startRedisServer(t, "--min-replicas-to-write", "1"))
		checkServerText(t, rc.do("SET", "k", "v"), faults.RedisNoReplicas)
		rc.live()
	})
	t.Run("RedisClusterDown", func(t *testing.T) {
		// A cluster node that serves the key's slot but not all the
		// others (cluster-require-full-coverage is yes): the cluster
		// is down.
		rc := dialRawRedis(t, startRedisServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"))
		slot := strings.TrimPrefix(rc.do("CLUSTER", "KEYSLOT", "k"), ":")
		if r := rc.do("CLUSTER", "ADDSLOTS", slot); r != "+OK" {
			t.Fatalf("CLUSTER ADDSLOTS %s: %q", slot, r)
		}
		checkServerText(t, rc.do("GET", "k"), faults.RedisClusterDown)
		rc.live()
	})
	t.Run("RedisClusterDownSlot", func(t *testing.T) {
		// A cluster node that serves no slot: the key's has no node.
		rc := dialRawRedis(t, startRedisServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"))
		checkServerText(t, rc.do("GET", "k"), faults.RedisClusterDownSlot)
		rc.live()
	})
	t.Run("RedisMaxClients", func(t *testing.T) {
		addr := startRedisServer(t, "--maxclients", "1")
		// The first client in, once startRedisServer's probe is gone.
		waitFor(t, "first client", func() bool {
			rc := dialRawRedis(t, addr)
			if rc.do("PING") == "+PONG" {
				return true
			}
			rc.c.Close()
			return false
		})
		second := dialRawRedis(t, addr)
		checkServerText(t, second.reply(5*time.Second), faults.RedisMaxClients)
		second.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := second.r.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("after the error: %d bytes, %v; want the connection closed", n, err)
		}
	})
	t.Run("RedisBusy", func(t *testing.T) {
		addr := startRedisServer(t, "--busy-reply-threshold", "100")
		script := dialRawRedis(t, addr)
		script.send("EVAL", "while true do end", "0")
		other := dialRawRedis(t, addr)
		// Until the script has run 100 ms, PING waits or (sent
		// before the script) gets PONG.
		var got string
		waitFor(t, "BUSY", func() bool {
			got = other.do("PING")
			return got != "+PONG"
		})
		checkServerText(t, got, faults.RedisBusy)
		if r := other.do("SCRIPT", "KILL"); r != "+OK" {
			t.Fatalf("SCRIPT KILL: %q", r)
		}
		if r := script.reply(5 * time.Second); !strings.HasPrefix(r, "-") || !strings.Contains(r, "SCRIPT KILL") {
			t.Fatalf("the killed script's reply: %q", r)
		}
		other.live()
	})
	t.Run("RedisMisconf", func(t *testing.T) {
		// A snapshot that cannot be written (its directory is gone),
		// with a save point set: writes are refused.
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		rc := dialRawRedis(t, startRedisServer(t, "--dir", dir, "--save", "3600 1"))
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if r := rc.do("BGSAVE"); r != "+Background saving started" {
			t.Fatalf("BGSAVE: %q", r)
		}
		waitFor(t, "failed BGSAVE", func() bool {
			info := rc.do("INFO", "persistence")
			return strings.Contains(info, "rdb_bgsave_in_progress:0") && strings.Contains(info, "rdb_last_bgsave_status:err")
		})
		checkServerText(t, rc.do("SET", "k", "v"), faults.RedisMisconf)
		rc.live()
	})
	t.Run("RedisLoading", func(t *testing.T) {
		// A snapshot of 50000 keys, loaded at 100 µs a key.
		dir := t.TempDir()
		first := dialRawRedis(t, startRedisServer(t, "--dir", dir, "--enable-debug-command", "yes"))
		if r := first.do("DEBUG", "POPULATE", "50000"); r != "+OK" {
			t.Fatalf("DEBUG POPULATE: %q", r)
		}
		if r := first.do("SAVE"); r != "+OK" {
			t.Fatalf("SAVE: %q", r)
		}
		rc := dialRawRedis(t, startRedisServer(t, "--dir", dir, "--key-load-delay", "100",
			"--loading-process-events-interval-bytes", "1024"))
		checkServerText(t, rc.do("GET", "k"), faults.RedisLoading)
	})
}

// TestRedisClusterRepliesMatchServer provokes TRYAGAIN, ASK and MOVED on a
// cluster of two private nodes: A serves every slot, and migrates the
// slot of {t} to B.
func TestRedisClusterRepliesMatchServer(t *testing.T) {
	cluster := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"}
	addrA, addrB := startRedisServer(t, cluster...), startRedisServer(t, cluster...)
	a, b := dialRawRedis(t, addrA), dialRawRedis(t, addrB)
	if r := a.do("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); r != "+OK" {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %q", r)
	}
	waitFor(t, "cluster_state:ok", func() bool { return strings.Contains(a.do("CLUSTER", "INFO"), "cluster_state:ok") })
	if r := a.do("SET", "{t}a", "1"); r != "+OK" {
		t.Fatalf("SET: %q", r)
	}
	slot, err := strconv.Atoi(strings.TrimPrefix(a.do("CLUSTER", "KEYSLOT", "{t}a"), ":"))
	if err != nil {
		t.Fatal(err)
	}
	idB := b.do("CLUSTER", "MYID")
	_, portB, _ := net.SplitHostPort(addrB)
	if r := a.do("CLUSTER", "MEET", "127.0.0.1", portB); r != "+OK" {
		t.Fatalf("CLUSTER MEET: %q", r)
	}
	waitFor(t, "B known to A", func() bool {
		for _, line := range strings.Split(a.do("CLUSTER", "NODES"), "\n") {
			if strings.HasPrefix(line, idB+" ") && !strings.Contains(line, "handshake") {
				return true
			}
		}
		return false
	})
	if r := a.do("CLUSTER", "SETSLOT", strconv.Itoa(slot), "MIGRATING", idB); r != "+OK" {
		t.Fatalf("CLUSTER SETSLOT MIGRATING: %q", r)
	}
	// Of two keys of the migrating slot, one is here, one is not.
	checkServerText(t, a.do("MGET", "{t}a", "{t}b"), faults.RedisTryAgain)
	// A key of it that is not here is asked of B.
	checkServerText(t, a.do("GET", "{t}b"), faults.RedisAsk(slot, addrB))
	// B, once it knows the slots, sends the key's readers to A.
	var moved string
	waitFor(t, "MOVED from B", func() bool {
		moved = b.do("GET", "{t}a")
		return strings.HasPrefix(moved, "-MOVED")
	})
	checkServerText(t, moved, faults.RedisMoved(slot, addrA))
	a.live()
	b.live()
}

// TestRedisCatalogThroughProxy: the error the proxy injects reads, through
// go-redis, as the one the real server sends does.
func TestRedisCatalogThroughProxy(t *testing.T) {
	ctx := context.Background()
	noRetry := func(o *redis.Options) { o.MaxRetries = -1 }
	for _, tc := range []struct {
		reply   faults.RedisReply
		args    []string // of a real server that sends reply
		prepare []string // a command to send it first, if any
		cmd     []any
	}{
		{faults.RedisOOM, []string{"--maxmemory", "1"}, nil, []any{"SET", "k", "v"}},
		{faults.RedisReadOnly, nil, []string{"REPLICAOF", "127.0.0.1", deadPort(t)}, []any{"SET", "k", "v"}},
		{faults.RedisMasterDown, []string{"--replica-serve-stale-data", "no"}, []string{"REPLICAOF", "127.0.0.1", deadPort(t)}, []any{"GET", "k"}},
		{faults.RedisNoScript, nil, nil, []any{"EVALSHA", strings.Repeat("0f", 20), "0"}},
		{faults.RedisNoReplicas, []string{"--min-replicas-to-write", "1"}, nil, []any{"SET", "k", "v"}},
	} {
		t.Run(tc.reply.String(), func(t *testing.T) {
			real := startRedisServer(t, tc.args...)
			if tc.prepare != nil {
				if r := dialRawRedis(t, real).do(tc.prepare...); r != "+OK" {
					t.Fatalf("%q: %q", tc.prepare, r)
				}
			}
			want := newRedisClient(t, real, noRetry).Do(ctx, tc.cmd...).Err()
			var rerr redis.Error
			if !errors.As(want, &rerr) || want.Error() != tc.reply.Text() {
				t.Fatalf("the real server: %v (%T), want %q", want, want, tc.reply.Text())
			}

			p, err := faults.NewProxy(startRedisServer(t), faults.WithProtocol(faults.Redis()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			if err := p.Set(faults.Error(tc.reply).When(faults.Command(tc.cmd[0].(string)))); err != nil {
				t.Fatal(err)
			}
			got := newRedisClient(t, p.Addr(), noRetry).Do(ctx, tc.cmd...).Err()
			if got == nil || got.Error() != want.Error() || !errors.As(got, &rerr) {
				t.Fatalf("through the proxy: %v (%T); the real server: %v (%T)", got, got, want, want)
			}
			if redis.HasErrorPrefix(got, tc.reply.Code()) != redis.HasErrorPrefix(want, tc.reply.Code()) {
				t.Fatalf("go-redis classifies %v and %v apart", got, want)
			}
		})
	}
}

// TestRedisProxyPassesProtocolErrors: a command whose multibulk head ends
// with LF alone gets the server's protocol error through the proxy, as it
// does directly. A regression test (see TestRESPPeekCommandLFWithoutCR):
// the proxy once waited for more bytes and never passed the command on.
func TestRedisProxyPassesProtocolErrors(t *testing.T) {
	addr := startRedisServer(t)
	p, err := faults.NewProxy(addr, faults.WithProtocol(faults.Redis()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	const in = "*1\n$4\r\nPING\r\n"
	var replies []string
	for _, target := range []string{addr, p.Addr()} {
		rc := dialRawRedis(t, target)
		rc.c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := rc.c.Write([]byte(in)); err != nil {
			t.Fatal(err)
		}
		line, err := rc.r.ReadString('\n')
		replies = append(replies, fmt.Sprintf("%q, %v", line, err))
	}
	if want := fmt.Sprintf("%q, %v", "-ERR Protocol error: invalid multibulk length\r\n", nil); replies[0] != want {
		t.Fatalf("the server: %s, want %s", replies[0], want)
	}
	if replies[1] != replies[0] {
		t.Fatalf("through the proxy: %s; directly: %s", replies[1], replies[0])
	}
}

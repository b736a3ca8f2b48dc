package faults_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/tcpcap"
	"github.com/gofaults/faults/internal/testenv"
)

// requireEveryMessageSegmented fails the test unless the splitter's
// messages start every captured segment: a segment holds one message (or
// a piece of one longer than a segment), as a protocol-aware capture must.
func requireSegmentsStart(t *testing.T, conns []*tcpcap.Conn, starts func(side tcpcap.Side, b []byte) bool) {
	t.Helper()
	for _, c := range conns {
		for _, s := range c.Segments {
			if len(s.Data) > 0 && len(s.Data) < tcpcap.MaxSegment && !starts(s.From, s.Data) {
				t.Fatalf("a %s segment does not start a message: % x", s.From, s.Data[:min(len(s.Data), 16)])
			}
		}
	}
}

// TestCaptureMySQL: tshark's MySQL dissector, on the real server's port,
// finds every statement of a session through the proxy, the ERR packet of
// an injected deadlock marked with its fault, and nothing its TCP analysis
// flags.
func TestCaptureMySQL(t *testing.T) {
	cf := newCaptureFile(t)
	p := startMySQLProxy(t, faults.WithCapture(cf.f))
	mustSet(t, p, faults.Error(faults.MySQLDeadlock).When(faults.Query(`^UPDATE faults_capture`)))
	db := openMySQL(t, p.Addr(), "")
	db.SetMaxOpenConns(1)
	ctx := mysqlCtx(t, 30*time.Second)
	stmts := []string{
		"SELECT 1",
		"CREATE TEMPORARY TABLE faults_capture (id INT PRIMARY KEY, n INT)",
		"INSERT INTO faults_capture VALUES (1, 10), (2, 20)",
		"SELECT id, n FROM faults_capture ORDER BY id",
		"UPDATE faults_capture SET n = n + 1 WHERE id = 1",
		"DO SLEEP(0)",
	}
	for _, s := range stmts {
		_, err := db.ExecContext(ctx, s)
		var me *mysql.MySQLError
		if strings.HasPrefix(s, "UPDATE") {
			if !errors.As(err, &me) || me.Number != 1213 {
				t.Fatalf("%s: %v, want the injected deadlock", s, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	db.Close()
	cf.finish(t, p)

	requireCleanAnalysis(t, cf.path)
	queries := testenv.Tshark(t, cf.path, "-Y", "mysql.query", "-T", "fields", "-e", "mysql.query")
	for _, s := range stmts {
		if !contains(queries, s) {
			t.Errorf("tshark did not find %q among %q", s, queries)
		}
	}
	requireOneMarked(t, cf.path, "mysql.error_code", "1213", "Error(MySQLDeadlock)")
	requireSegmentsStart(t, cf.conns(t), func(_ tcpcap.Side, b []byte) bool {
		return len(b) >= 4 && len(b) == 4+int(b[0])|int(b[1])<<8|int(b[2])<<16
	})
}

// requireOneMarked fails the test unless exactly one packet of the
// capture has a comment, the one where tshark's field reads value (the
// injected error), and the comment names behavior as the events print it.
func requireOneMarked(t *testing.T, path, field, value, behavior string) {
	t.Helper()
	marked := testenv.Tshark(t, path, "-Y", "frame.comment", "-T", "fields", "-e", field, "-e", "frame.comment")
	if len(marked) != 1 || !strings.HasPrefix(marked[0], value+"\tfaults: ") || !strings.Contains(marked[0], behavior) {
		t.Errorf("comments (%s, comment): %q, want one, on %s, naming %s", field, marked, value, behavior)
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// TestCapturePostgres: tshark's PostgreSQL dissector finds every query of
// sessions through the proxy, simple and extended, one of them after an
// SSLRequest the proxy refused, and the SQLSTATE of an injected
// serialization failure, marked with its fault.
func TestCapturePostgres(t *testing.T) {
	cf := newCaptureFile(t)
	p := newProxy(t, testenv.PostgresAddr(t), faults.WithProtocol(faults.Postgres()), faults.WithCapture(cf.f))
	mustSet(t, p, faults.Error(faults.PostgresSerializationFailure).When(faults.Query(`^SELECT 3`)))
	conn := pgConnect(t, p.Addr(), "sslmode=disable")
	ctx := pgCtx(t, 30*time.Second)
	simple := []string{"SELECT 1", "SELECT 2", "SELECT 3"}
	for _, q := range simple {
		_, err := conn.Exec(ctx, q)
		if (err != nil) != (q == "SELECT 3") {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT $1::int + 1", 41).Scan(&n); err != nil || n != 42 {
		t.Fatalf("extended query: %d, %v", n, err)
	}
	conn.Close(context.Background())
	// pgx's default asks for TLS first, which the proxy refuses with 'N'.
	prefer := pgConnect(t, p.Addr(), "")
	if _, err := prefer.Exec(ctx, "SELECT 4"); err != nil {
		t.Fatal(err)
	}
	prefer.Close(context.Background())
	simple = append(simple, "SELECT 4")
	cf.finish(t, p)

	requireCleanAnalysis(t, cf.path)
	queries := testenv.Tshark(t, cf.path, "-Y", "pgsql.query", "-T", "fields", "-e", "pgsql.query")
	for _, q := range []string{"SELECT 1", "SELECT 2", "SELECT 4", "SELECT $1::int + 1"} {
		if !contains(queries, q) {
			t.Errorf("tshark did not find %q among %q", q, queries)
		}
	}
	requireOneMarked(t, cf.path, "pgsql.code", "40001", "Error(PostgresSerializationFailure)")
}

// TestCaptureRedis: tshark's RESP dissector finds every command of a
// go-redis session through the proxy, and the injected error marked with
// its fault; each command and reply is a segment of its own, pipelined
// ones included.
func TestCaptureRedis(t *testing.T) {
	cf := newCaptureFile(t)
	p := newRedisProxy(t, faults.WithCapture(cf.f))
	mustSet(t, p, faults.Error(faults.RedisLoading).When(faults.Command("GET")).Times(1))
	c := newRedisClient(t, p.Addr(), func(o *redis.Options) { o.MaxRetries = -1; o.Protocol = 2 })
	ctx := context.Background()
	key := "faults:capture:" + t.Name()
	if err := c.Set(ctx, key, "v", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, key).Err(); err == nil || !strings.HasPrefix(err.Error(), "LOADING") {
		t.Fatalf("GET: %v, want the injected LOADING", err)
	}
	pipe := c.Pipeline()
	pipe.Incr(ctx, key+":n")
	pipe.Incr(ctx, key+":n")
	pipe.Del(ctx, key, key+":n")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	cf.finish(t, p)

	requireCleanAnalysis(t, cf.path)
	// The command names, as tshark reads the arrays' first strings.
	values := testenv.Tshark(t, cf.path, "-Y", "resp.array", "-T", "fields", "-e", "resp.bulk_string.value")
	var names []string
	for _, v := range values {
		first, _, _ := strings.Cut(v, ",")
		b, _ := hex.DecodeString(first)
		names = append(names, strings.ToUpper(string(b)))
	}
	for _, want := range []string{"SET", "GET", "INCR", "DEL"} {
		if !contains(names, want) {
			t.Errorf("tshark did not find %s among %q", want, names)
		}
	}
	requireOneMarked(t, cf.path, "resp.error", "LOADING Redis is loading the dataset in memory", "Error(RedisLoading)")
	// Each command is an array of N bulk strings: 1+2N lines; each reply
	// here a simple value (one line), a bulk string (two), or the array
	// answering the client's HELLO.
	requireSegmentsStart(t, cf.conns(t), func(side tcpcap.Side, b []byte) bool {
		lines := strings.Count(string(b), "\r\n")
		if side == tcpcap.Client {
			n, err := strconv.Atoi(string(b[1:bytes.IndexByte(b, '\r')]))
			return b[0] == '*' && err == nil && lines == 1+2*n
		}
		return strings.IndexByte("+-:", b[0]) >= 0 && lines == 1 || b[0] == '$' && lines == 2 || b[0] == '*' // HELLO's

	})
}

// TestCaptureMemcached: tshark's memcache dissector, on the real server's
// port, finds every command of a gomemcache session through the proxy,
// the error line of an injected refusal marked with its fault, and nothing
// its TCP analysis flags; every segment holds one command or one reply.
func TestCaptureMemcached(t *testing.T) {
	k := mcKeys(t, 2)
	cf := newCaptureFile(t)
	p := newMemcachedProxy(t, "", faults.WithCapture(cf.f))
	mustSet(t, p, faults.Error(faults.MemcachedOutOfMemory).When(faults.Command("set"), faults.Key(k[1])), faults.Miss().When(faults.Key(k[1])))
	c := newMemcacheClient(t, p.Addr())
	if err := c.Set(&memcache.Item{Key: k[0], Value: []byte(strings.Repeat("v", 3000))}); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(&memcache.Item{Key: k[1], Value: []byte("x")}); err == nil {
		t.Fatal("set of the refused key: no error")
	}
	if got, err := c.GetMulti(k); err != nil || len(got) != 1 {
		t.Fatalf("GetMulti: %v, %v", got, err)
	}
	if _, err := c.Increment(k[0], 1); err == nil {
		t.Fatal("incr of a string: no error")
	}
	c.Close()
	cf.finish(t, p)

	requireCleanAnalysis(t, cf.path)
	commands := testenv.Tshark(t, cf.path, "-Y", "memcache.command", "-T", "fields", "-e", "memcache.command")
	for _, want := range []string{"set", "gets", "incr"} {
		if !contains(commands, want) {
			t.Errorf("tshark did not find %s among %q", want, commands)
		}
	}
	// The dissector names no field of an error line: the comments are
	// checked on the segments' bytes. The miss leaves the missed key out
	// of the values.
	marked := testenv.Tshark(t, cf.path, "-Y", "frame.comment", "-T", "fields", "-e", "tcp.payload", "-e", "frame.comment")
	var got []string
	for _, m := range marked {
		payload, comment, _ := strings.Cut(m, "\t")
		b, _ := hex.DecodeString(payload)
		switch line, _, _ := strings.Cut(string(b), "\r\n"); {
		case line == "SERVER_ERROR out of memory storing object" && strings.Contains(comment, "Error(MemcachedOutOfMemory)"):
			got = append(got, "error")
		case strings.HasPrefix(line, "VALUE "+k[0]+" 0 3000 ") && strings.Contains(comment, "Miss()") && !strings.Contains(string(b), k[1]):
			got = append(got, "miss")
		default:
			got = append(got, fmt.Sprintf("%q: %s", line, comment))
		}
	}
	if want := []string{"error", "miss"}; !slices.Equal(got, want) {
		t.Errorf("marked segments %q, want %q", got, want)
	}
	requireSegmentsStart(t, cf.conns(t), func(side tcpcap.Side, b []byte) bool {
		line, _, _ := strings.Cut(string(b), "\r\n")
		word, _, _ := strings.Cut(line, " ")
		if side == tcpcap.Client {
			return contains([]string{"set", "gets", "incr"}, word)
		}
		return contains([]string{"STORED", "VALUE", "END", "SERVER_ERROR", "CLIENT_ERROR"}, word)
	})
}

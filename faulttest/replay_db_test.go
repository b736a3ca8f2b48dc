package faulttest_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
	"github.com/gofaults/faults/internal/testenv"
)

// requireNoMismatch fails the test if the replay's report has errors or
// mismatches.
func requireNoMismatch(t *testing.T, rep *faulttest.Report, requests int64) {
	t.Helper()
	if rep.Requests() != requests || rep.Errors() != 0 || len(rep.Mismatches()) != 0 {
		t.Fatalf("report %v (want %d requests, no error), samples %q, mismatches %v", rep, requests, rep.ErrorSamples(), rep.Mismatches())
	}
}

// TestReplayMySQL: a MySQL session captured through the proxy (queries,
// prepared statements, a transaction) replays against the real server:
// the table's counter shows every INSERT run again, with no mismatch;
// once for root, whose login has no password and replays as recorded, and
// once for a user with a password, which the replay performs itself with
// the live server's scramble.
func TestReplayMySQL(t *testing.T) {
	addr := testenv.MySQLAddr(t)
	admin := openDB(t, "mysql", testenv.MySQLDSN(addr, "root", ""))
	ctx := context.Background()
	suffix := fmt.Sprintf("%08x", rand.Uint32())
	table := "faults_replay_" + suffix
	user := "faults_replay_" + suffix
	for _, q := range []string{
		"CREATE TABLE " + table + " (id INT AUTO_INCREMENT PRIMARY KEY, n INT)",
		"CREATE USER '" + user + "'@'%' IDENTIFIED BY 'secret'",
		"GRANT ALL ON test.* TO '" + user + "'@'%'",
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		admin.Exec("DROP TABLE IF EXISTS " + table)
		admin.Exec("DROP USER IF EXISTS '" + user + "'@'%'")
	})
	count := func() int {
		var n int
		if err := admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct{ user, password string }{{"root", ""}, {user, "secret"}} {
		t.Run(c.user[:4], func(t *testing.T) {
			before := count()
			capture := captured(t, addr, faults.MySQL(), nil, func(proxy string) {
				db := openDB(t, "mysql", testenv.MySQLDSN(proxy, c.user, c.password))
				db.SetMaxOpenConns(1)
				for i := range 3 {
					mustExec(t, db, "INSERT INTO "+table+" (n) VALUES ("+fmt.Sprint(i)+")")
					mustExec(t, db, "INSERT INTO "+table+" (n) VALUES (?)", i) // prepared, executed, closed
				}
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := tx.ExecContext(ctx, "UPDATE "+table+" SET n = n + 1"); err != nil {
					t.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				var n int
				if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
					t.Fatal(err)
				}
				db.Close()
			})
			captured := count() - before
			if captured != 6 {
				t.Fatalf("the capture inserted %d rows, want 6", captured)
			}
			opts := faulttest.ReplayOptions{Speed: 2, Protocol: faults.MySQL(), Password: c.password}
			rep := faulttest.Replay(t, bytes.NewReader(capture), addr, opts)
			if got := count() - before; got != 2*captured {
				t.Errorf("after the replay the table holds %d rows more, want %d: each INSERT ran again", got, 2*captured)
			}
			// 3 INSERTs as queries, 3 prepared (COM_STMT_PREPARE, then
			// COM_STMT_EXECUTE; COM_STMT_CLOSE is owed nothing), START
			// TRANSACTION, UPDATE, COMMIT, SELECT: 13 answers.
			requireNoMismatch(t, rep, 13)
			if c.password != "" {
				// Without the password, the login cannot be replayed, and
				// the report says why.
				rep, err := faulttest.ReplayCapture(ctx, bytes.NewReader(capture), addr, faulttest.ReplayOptions{Protocol: faults.MySQL()})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Errors() != 13 || !strings.Contains(strings.Join(rep.ErrorSamples(), " "), "ReplayOptions.Password") {
					t.Errorf("without the password: %v, samples %q", rep, rep.ErrorSamples())
				}
			}
		})
	}
}

func openDB(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestReplayPostgres: a pgx session captured through the proxy (simple
// queries, extended ones with parameters, a transaction) replays against
// the real server under trust: the counter shows every INSERT run again,
// with no mismatch.
func TestReplayPostgres(t *testing.T) {
	addr := testenv.PostgresAddr(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, testenv.PostgresDSN(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	table := fmt.Sprintf("faults_replay_%08x", rand.Uint32())
	if _, err := admin.Exec(ctx, "CREATE TABLE "+table+" (id serial PRIMARY KEY, n int)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	count := func() int {
		var n int
		if err := admin.QueryRow(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	capture := captured(t, addr, faults.Postgres(), nil, func(proxy string) {
		conn, err := pgx.Connect(ctx, testenv.PostgresDSN(proxy))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for i := range 3 {
			if _, err := conn.Exec(ctx, "INSERT INTO "+table+" (n) VALUES ("+fmt.Sprint(i)+")"); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, "INSERT INTO "+table+" (n) VALUES ($1)", i); err != nil {
				t.Fatal(err)
			}
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "UPDATE "+table+" SET n = n + 1"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if got := count(); got != 6 {
		t.Fatalf("the capture inserted %d rows, want 6", got)
	}
	rep := faulttest.Replay(t, bytes.NewReader(capture), addr, faulttest.ReplayOptions{Speed: 2, Protocol: faults.Postgres()})
	if got := count(); got != 12 {
		t.Errorf("after the replay the table holds %d rows, want 12: each INSERT ran again", got)
	}
	if rep.Requests() < 9 || rep.Errors() != 0 || len(rep.Mismatches()) != 0 {
		t.Errorf("report %v, samples %q, mismatches %v", rep, rep.ErrorSamples(), rep.Mismatches())
	}
}

// TestReplayRedis: a go-redis session captured through the proxy, with a
// pipeline and an injected error, replays against the real server: the
// counter shows every INCR run again; the only mismatch is the command
// the proxy answered LOADING at capture.
func TestReplayRedis(t *testing.T) {
	addr := testenv.RedisAddr(t)
	ctx := context.Background()
	key := fmt.Sprintf("faults:replay:%08x", rand.Uint32())
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	t.Cleanup(func() { admin.Del(context.Background(), key, key+":v") })
	capture := captured(t, addr, faults.Redis(), func(p *faults.Proxy) {
		p.Set(faults.Error(faults.RedisLoading).When(faults.Command("GET")).Times(1))
	}, func(proxy string) {
		c := redis.NewClient(&redis.Options{Addr: proxy, MaxRetries: -1, Protocol: 2})
		defer c.Close()
		for range 3 {
			if err := c.Incr(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Get(ctx, key).Err(); err == nil || !strings.HasPrefix(err.Error(), "LOADING") {
			t.Fatalf("GET: %v, want the injected LOADING", err)
		}
		pipe := c.Pipeline()
		pipe.Incr(ctx, key)
		pipe.Incr(ctx, key)
		pipe.Set(ctx, key+":v", "x", time.Minute)
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if n, _ := admin.Get(ctx, key).Int(); n != 5 {
		t.Fatalf("the counter is %d after the capture, want 5", n)
	}
	rep := faulttest.Replay(t, bytes.NewReader(capture), addr, faulttest.ReplayOptions{Speed: 2, Protocol: faults.Redis()})
	if n, _ := admin.Get(ctx, key).Int(); n != 10 {
		t.Errorf("the counter is %d after the replay, want 10: each INCR ran again", n)
	}
	mm := rep.Mismatches()
	if len(mm) != 1 || mm[0].Request != "GET "+key || mm[0].Recorded != "LOADING" || mm[0].Replayed != "OK" {
		t.Errorf("mismatches %v, want the GET answered LOADING at capture", mm)
	}
	if rep.Errors() != 0 {
		t.Errorf("report %v, samples %q", rep, rep.ErrorSamples())
	}
}

// TestReplayRedisRedactedAuth: a capture made with RedactSecrets holds no
// password; replayed with Password, the login of the capture succeeds on a
// server that requires it, and the commands after it run again; replayed
// without, the server refuses the login and each command.
func TestReplayRedisRedactedAuth(t *testing.T) {
	addr := testenv.StartRedisServer(t, "--requirepass", "hunter2")
	ctx := context.Background()
	var buf bytes.Buffer
	p, err := faults.NewProxy(addr, faults.WithProtocol(faults.Redis()), faults.WithCapture(&buf, faults.RedactSecrets()))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: p.Addr(), Password: "hunter2", Protocol: 2})
	for range 2 {
		if err := c.Incr(ctx, "n").Err(); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("hunter2")) {
		t.Fatal("the redacted capture holds the password")
	}
	admin := redis.NewClient(&redis.Options{Addr: addr, Password: "hunter2"})
	defer admin.Close()
	rep := faulttest.Replay(t, bytes.NewReader(buf.Bytes()), addr, faulttest.ReplayOptions{Protocol: faults.Redis(), Password: "hunter2"})
	if n, _ := admin.Get(ctx, "n").Int(); n != 4 || rep.Errors() != 0 || len(rep.Mismatches()) != 0 {
		t.Errorf("after the replay n = %d (want 4); report %v, mismatches %v", n, rep, rep.Mismatches())
	}
	rep = faulttest.Replay(t, bytes.NewReader(buf.Bytes()), addr, faulttest.ReplayOptions{Protocol: faults.Redis()})
	mm := rep.Mismatches()
	// go-redis logs in with HELLO 2 AUTH default <password>.
	if len(mm) != 3 || mm[0].Request != "HELLO 2" || mm[0].Recorded != "OK" || mm[0].Replayed != "WRONGPASS" || mm[1].Replayed != "NOAUTH" {
		t.Errorf("without the password: mismatches %v, want the login refused, then the commands", mm)
	}
}

// TestReplayMemcached: a gomemcache session captured through the proxy,
// with a get the proxy answered as a miss, a quiet meta set and a noreply
// delete among raw commands, replays against the real server: every incr
// runs again; the only mismatch is the get missed at capture, a hit now.
func TestReplayMemcached(t *testing.T) {
	addr := testenv.MemcachedAddr(t)
	key := fmt.Sprintf("faults:replay:%08x", rand.Uint32())
	direct := memcache.New(addr)
	defer direct.Close()
	t.Cleanup(func() { direct.Delete(key); direct.Delete(key + ":q") })
	capture := captured(t, addr, faults.Memcached(), func(p *faults.Proxy) {
		p.Set(faults.Miss().When(faults.Command("gets")).Times(1))
	}, func(proxy string) {
		c := memcache.New(proxy)
		defer c.Close()
		if err := c.Set(&memcache.Item{Key: key, Value: []byte("0")}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := c.Increment(key, 1); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Get(key); err != memcache.ErrCacheMiss {
			t.Fatalf("Get: %v, want the injected miss", err)
		}
		raw, err := net.Dial("tcp", proxy)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(raw, "ms %s:q 1 q\r\nx\r\ndelete %s:none noreply\r\nincr %s 1\r\n", key, key, key)
		if line, err := bufio.NewReader(raw).ReadString('\n'); err != nil || line != "4\r\n" {
			t.Fatalf("incr after quiet and noreply commands: %q, %v", line, err)
		}
	})
	rep := faulttest.Replay(t, bytes.NewReader(capture), addr, faulttest.ReplayOptions{Speed: 2, Protocol: faults.Memcached()})
	if it, err := direct.Get(key); err != nil || string(it.Value) != "4" {
		t.Errorf("the counter is %v, %v after the replay, want 4: set to 0, then each incr ran again", it, err)
	}
	mm := rep.Mismatches()
	if len(mm) != 1 || mm[0].Request != "gets "+key || mm[0].Recorded != "miss" || mm[0].Replayed != "hit" {
		t.Errorf("mismatches %v, want the gets missed at capture", mm)
	}
	// set, 3 incr, gets, incr: the quiet ms and the noreply delete are
	// sent, and owed nothing.
	if rep.Requests() != 6 || rep.Errors() != 0 {
		t.Errorf("report %v (want 6 requests, no error), samples %q", rep, rep.ErrorSamples())
	}
}

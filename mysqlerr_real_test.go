package faults_test

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// mysqlAddr returns the address of the tests' MySQL or MariaDB server, or
// skips or fails the test: see testenv.MySQLAddr.
func mysqlAddr(t testing.TB) string {
	t.Helper()
	return testenv.MySQLAddr(t)
}

// mysqlOpen opens a pool on the server at addr, closed at the end of the
// test.
func mysqlOpen(t *testing.T, addr string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", testenv.MySQLDSN(addr, "root", ""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mysqlConn takes a connection of db for the test, returned at its end.
func mysqlConn(t *testing.T, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mysqlExec(t *testing.T, c interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string) {
	t.Helper()
	if _, err := c.ExecContext(context.Background(), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// mysqlConnID returns the server's id of connection c.
func mysqlConnID(t *testing.T, c *sql.Conn) int64 {
	t.Helper()
	var id int64
	if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// mysqlWaitFor polls query (a count) on db until it is positive.
func mysqlWaitFor(t *testing.T, db *sql.DB, what, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.QueryRow(query, args...).Scan(&n); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// mysqlServerError returns err as the driver's *mysql.MySQLError, failing
// the test if it is not one.
func mysqlServerError(t *testing.T, err error) *mysql.MySQLError {
	t.Helper()
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Fatalf("error %v (%T) is not a server's error", err, err)
	}
	return me
}

// mysqlQuoted matches the names a message quotes.
var mysqlQuoted = regexp.MustCompile(`'[^']*'`)

// mysqlShape returns msg with each quoted name replaced by '?'.
func mysqlShape(msg string) string { return mysqlQuoted.ReplaceAllString(msg, "'?'") }

// checkMySQLReply compares the server's error got with the catalog's
// reply want: number and SQLSTATE exactly, the message exactly if exact
// is not "" (the real text with the test's names), and the message's
// shape (quoted names aside) always.
func checkMySQLReply(t *testing.T, want faults.MySQLReply, got *mysql.MySQLError, exact string) {
	t.Helper()
	t.Logf("server: %d (%s) %q", got.Number, got.SQLState[:], got.Message)
	if got.Number != want.Number() || string(got.SQLState[:]) != want.SQLState() {
		t.Errorf("server sent %d (%s), catalog %v has %d (%s)", got.Number, got.SQLState[:], want, want.Number(), want.SQLState())
	}
	if exact != "" && got.Message != exact {
		t.Errorf("server's message %q, expected %q", got.Message, exact)
	}
	if mysqlShape(got.Message) != mysqlShape(want.Message()) {
		t.Errorf("server's message %q does not have the shape of the catalog's %q", got.Message, want.Message())
	}
}

// TestMySQLCatalogMatchesServer provokes each catalog error that a test
// can provoke without reconfiguring the server, and compares what the
// server sends with the catalog (see the catalog's comment in mysqlerr.go
// for the list).
func TestMySQLCatalogMatchesServer(t *testing.T) {
	addr := mysqlAddr(t)
	db := mysqlOpen(t, addr)
	table := fmt.Sprintf("faults_catalog_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	mysqlExec(t, db, "CREATE TABLE "+table+" (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB")
	t.Cleanup(func() { db.Exec("DROP TABLE IF EXISTS " + table) })
	mysqlExec(t, db, "INSERT INTO "+table+" VALUES (1, 0), (2, 0)")
	ctx := context.Background()

	t.Run("MySQLDeadlock", func(t *testing.T) {
		a, b := mysqlConn(t, db), mysqlConn(t, db)
		idA := mysqlConnID(t, a)
		mysqlExec(t, a, "BEGIN")
		mysqlExec(t, a, "UPDATE "+table+" SET v = v + 1 WHERE id = 1")
		mysqlExec(t, b, "BEGIN")
		mysqlExec(t, b, "UPDATE "+table+" SET v = v + 1 WHERE id = 2")
		errA := make(chan error, 1)
		go func() {
			_, err := a.ExecContext(ctx, "UPDATE "+table+" SET v = v + 1 WHERE id = 2")
			errA <- err
		}()
		mysqlWaitFor(t, db, "a's lock wait",
			"SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'", idA)
		_, errB := b.ExecContext(ctx, "UPDATE "+table+" SET v = v + 1 WHERE id = 1")
		err := <-errA
		mysqlExec(t, a, "ROLLBACK")
		mysqlExec(t, b, "ROLLBACK")
		if (err == nil) == (errB == nil) {
			t.Fatalf("expected exactly one deadlock victim, got %v and %v", err, errB)
		}
		if err == nil {
			err = errB
		}
		checkMySQLReply(t, faults.MySQLDeadlock, mysqlServerError(t, err), faults.MySQLDeadlock.Message())
	})

	t.Run("MySQLLockWaitTimeout", func(t *testing.T) {
		a, b := mysqlConn(t, db), mysqlConn(t, db)
		mysqlExec(t, a, "BEGIN")
		mysqlExec(t, a, "SELECT v FROM "+table+" WHERE id = 1 FOR UPDATE")
		mysqlExec(t, b, "SET SESSION innodb_lock_wait_timeout = 1")
		_, err := b.ExecContext(ctx, "UPDATE "+table+" SET v = v + 1 WHERE id = 1")
		mysqlExec(t, b, "SET SESSION innodb_lock_wait_timeout = DEFAULT")
		mysqlExec(t, a, "ROLLBACK")
		checkMySQLReply(t, faults.MySQLLockWaitTimeout, mysqlServerError(t, err), faults.MySQLLockWaitTimeout.Message())
	})

	// killDuringSleep runs SELECT SLEEP(10) on a connection of its own and
	// ends it with kill (KILL QUERY or KILL CONNECTION) from another,
	// returning the sleeper's error.
	killDuringSleep := func(t *testing.T, kill string) error {
		a := mysqlConn(t, db)
		id := mysqlConnID(t, a)
		errA := make(chan error, 1)
		go func() {
			_, err := a.ExecContext(ctx, "SELECT SLEEP(10)")
			errA <- err
		}()
		mysqlWaitFor(t, db, "the sleep",
			"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO = 'SELECT SLEEP(10)'", id)
		mysqlExec(t, db, kill+" "+strconv.FormatInt(id, 10))
		select {
		case err := <-errA:
			return err
		case <-time.After(8 * time.Second):
			t.Fatal(kill + " did not end the sleep")
			return nil
		}
	}

	t.Run("MySQLQueryInterrupted", func(t *testing.T) {
		err := killDuringSleep(t, "KILL QUERY")
		checkMySQLReply(t, faults.MySQLQueryInterrupted, mysqlServerError(t, err), faults.MySQLQueryInterrupted.Message())
	})

	// A killed connection gets no ERR: the server just closes it, and
	// the catalog has no reply for it (it is a connection fault).
	t.Run("KillConnection", func(t *testing.T) {
		err := killDuringSleep(t, "KILL CONNECTION")
		var me *mysql.MySQLError
		if errors.As(err, &me) {
			t.Errorf("KILL CONNECTION: the server sent %v; the catalog should have it", me)
		}
		if !errors.Is(err, driver.ErrBadConn) && !errors.Is(err, mysql.ErrInvalidConn) {
			t.Errorf("KILL CONNECTION: %v, expected a lost connection", err)
		}
	})

	t.Run("MySQLQueryTimeout", func(t *testing.T) {
		_, err := db.ExecContext(ctx, "SET STATEMENT max_statement_time = 0.1 FOR SELECT SLEEP(5)")
		checkMySQLReply(t, faults.MySQLQueryTimeout, mysqlServerError(t, err), faults.MySQLQueryTimeout.Message())
	})

	t.Run("MySQLReadOnlyTransaction", func(t *testing.T) {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		_, err = tx.ExecContext(ctx, "INSERT INTO "+table+" VALUES (100, 0)")
		checkMySQLReply(t, faults.MySQLReadOnlyTransaction, mysqlServerError(t, err), faults.MySQLReadOnlyTransaction.Message())
	})

	t.Run("MySQLTableNotFound", func(t *testing.T) {
		missing := table + "_missing"
		_, err := db.ExecContext(ctx, "SELECT * FROM "+missing)
		checkMySQLReply(t, faults.MySQLTableNotFound, mysqlServerError(t, err), "Table 'test."+missing+"' doesn't exist")
	})

	t.Run("MySQLDuplicateKey", func(t *testing.T) {
		_, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1, 0)")
		checkMySQLReply(t, faults.MySQLDuplicateKey, mysqlServerError(t, err), faults.MySQLDuplicateKey.Message())
	})

	t.Run("MySQLAccessDenied", func(t *testing.T) {
		bad, err := sql.Open("mysql", testenv.MySQLDSN(addr, "root", "wrong-password"))
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		err = bad.PingContext(ctx)
		me := mysqlServerError(t, err)
		checkMySQLReply(t, faults.MySQLAccessDenied, me, "")
		if !strings.HasPrefix(me.Message, "Access denied for user 'root'@'") || !strings.HasSuffix(me.Message, "' (using password: YES)") {
			t.Errorf("server's message %q does not name root and a password", me.Message)
		}
	})
}

// TestMySQLCatalogMatchesErrmsgFile compares the catalog entries no test
// can provoke (a server at max_connections, shutting down, or read-only)
// with the English texts of the server's message file, errmsg-utf8.txt
// (installed with MariaDB as /usr/share/mysql/errmsg-utf8.txt; set
// FAULTS_MYSQL_ERRMSG to another path). The server's compiled messages
// (errmsg.sys) are built from it.
func TestMySQLCatalogMatchesErrmsgFile(t *testing.T) {
	path := os.Getenv("FAULTS_MYSQL_ERRMSG")
	if path == "" {
		path = "/usr/share/mysql/errmsg-utf8.txt"
	}
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no server message file (set FAULTS_MYSQL_ERRMSG to errmsg-utf8.txt's path): %v", err)
	}
	defer f.Close()
	type entry struct{ name, sqlstate, eng string }
	entries := map[int]*entry{}
	next, cur := 0, (*entry)(nil)
	entryLine := regexp.MustCompile(`^([A-Z][A-Z0-9_]*)(?:\s+(\S+))?`)
	engLine := regexp.MustCompile(`^\s*eng\s+"(.*)"\s*$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "start-error-number "); ok {
			next, _ = strconv.Atoi(strings.TrimSpace(n))
			continue
		}
		if n, ok := strings.CutPrefix(line, "skip-to-error-number "); ok {
			next, _ = strconv.Atoi(strings.TrimSpace(n))
			continue
		}
		if m := entryLine.FindStringSubmatch(line); m != nil {
			cur = &entry{name: m[1], sqlstate: m[2]}
			if cur.sqlstate == "" {
				cur.sqlstate = "HY000"
			}
			entries[next] = cur
			next++
			continue
		}
		if m := engLine.FindStringSubmatch(line); m != nil && cur != nil && cur.eng == "" {
			cur.eng = m[1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if e := entries[1213]; e == nil || e.name != "ER_LOCK_DEADLOCK" {
		t.Fatalf("%s: could not number the entries (1213 is %+v)", path, e)
	}
	for _, c := range []struct {
		reply faults.MySQLReply
		name  string
		args  []any
	}{
		{faults.MySQLTooManyConnections, "ER_CON_COUNT_ERROR", nil},
		{faults.MySQLServerShutdown, "ER_SERVER_SHUTDOWN", nil},
		{faults.MySQLReadOnly, "ER_OPTION_PREVENTS_STATEMENT", []any{"--read-only"}},
	} {
		e := entries[int(c.reply.Number())]
		if e == nil || e.name != c.name {
			t.Errorf("%v: %s has %+v at %d", c.reply, path, e, c.reply.Number())
			continue
		}
		want := e.eng
		if c.args != nil {
			want = fmt.Sprintf(want, c.args...)
		}
		if e.sqlstate != c.reply.SQLState() || want != c.reply.Message() {
			t.Errorf("%v: %s has %s (%s) %q", c.reply, path, e.name, e.sqlstate, want)
		}
	}
}

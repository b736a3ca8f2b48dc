package faults_test

// Faults injected by a MySQL-aware proxy, seen through go-sql-driver/mysql
// and database/sql against the real server (mysqlAddr), and malformed
// bytes from either side.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults"
)

// sqlState returns s as go-sql-driver's MySQLError holds it.
func sqlState(s string) [5]byte {
	var b [5]byte
	copy(b[:], s)
	return b
}

// checkDriverError fails the test unless err is a *mysql.MySQLError
// carrying want's number, SQLSTATE and message.
func checkDriverError(t *testing.T, what string, err error, want faults.MySQLReply) {
	t.Helper()
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		t.Fatalf("%s: %v (%T), want *mysql.MySQLError %d", what, err, err, want.Number())
	}
	if me.Number != want.Number() || me.SQLState != sqlState(want.SQLState()) || me.Message != want.Message() {
		t.Fatalf("%s: %d %q %q, want %d %q %q", what, me.Number, me.SQLState[:], me.Message, want.Number(), want.SQLState(), want.Message())
	}
}

// TestMySQLDeadlockTimes: an injected deadlock, twice, on the statements
// matching ^UPDATE stock: go-sql-driver returns the catalog's error, the
// server never sees either statement (the row and the session's
// Com_update counter are unchanged), the same connection goes on serving,
// and the third UPDATE reaches the server.
func TestMySQLDeadlockTimes(t *testing.T) {
	p := startMySQLProxy(t)
	tbl, direct := mysqlTable(t, "stock", "id INT PRIMARY KEY, qty INT")
	if _, err := direct.Exec("INSERT INTO " + tbl + " VALUES (1, 10)"); err != nil {
		t.Fatal(err)
	}
	db := openMySQL(t, p.Addr(), "")
	ctx := mysqlCtx(t, 10*time.Second)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var connID int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&connID); err != nil {
		t.Fatal(err)
	}
	qty := func() int {
		t.Helper()
		var q int
		if err := direct.QueryRowContext(ctx, "SELECT qty FROM "+tbl+" WHERE id = 1").Scan(&q); err != nil {
			t.Fatal(err)
		}
		return q
	}
	updates := func() string { return sessionStatus(t, conn, "Com_update") }
	before := updates()

	b := faults.Error(faults.MySQLDeadlock).When(faults.Query(`^UPDATE stock`)).Times(2)
	mustSet(t, p, b)
	update := "UPDATE " + tbl + " SET qty = qty - 1 WHERE id = 1"
	for i := range 2 {
		_, err := conn.ExecContext(ctx, update)
		checkDriverError(t, fmt.Sprintf("UPDATE %d", i+1), err, faults.MySQLDeadlock)
		if q := qty(); q != 10 {
			t.Fatalf("after injected deadlock %d: qty %d, want 10 (the server ran the UPDATE)", i+1, q)
		}
		// The connection serves on, and it is the same server session.
		var id int64
		if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil || id != connID {
			t.Fatalf("after the error: connection id %d, %v; want %d", id, err, connID)
		}
	}
	if u := updates(); u != before {
		t.Errorf("the session's Com_update went from %s to %s: the server saw a faulted UPDATE", before, u)
	}
	if _, err := conn.ExecContext(ctx, update); err != nil {
		t.Fatalf("third UPDATE: %v", err)
	}
	if q := qty(); q != 9 {
		t.Errorf("after the third UPDATE: qty %d, want 9", q)
	}
	checkInjected(t, p, 2)
	events := p.Events()
	if len(events) != 2 {
		t.Fatalf("%d events, want 2: %v", len(events), events)
	}
	for _, e := range events {
		if !strings.Contains(e.Request, update) || e.Behavior != b.String() || e.Conn != events[0].Conn || e.Conn == 0 {
			t.Errorf("event %+v: want the request naming %q, behavior %s, on one connection", e, update, b)
		}
	}
	t.Logf("event: %+v", events[0])
}

// TestMySQLPreparedStatementFaults: Query matches a prepared statement's
// executions, by the text it was prepared with, and not the preparation
// itself: the COM_STMT_PREPARE succeeds (a real server's deadlock or lock
// wait never comes at PREPARE, and a delay or an Abort would otherwise act
// twice per statement), each COM_STMT_EXECUTE is answered with the error,
// and the server runs none of them. database/sql's Exec with arguments
// (prepare, execute, close) and interpolateParams=true (one COM_QUERY)
// see the error just the same.
func TestMySQLPreparedStatementFaults(t *testing.T) {
	p := startMySQLProxy(t)
	tbl, direct := mysqlTable(t, "orders", "id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(20)")
	db := openMySQL(t, p.Addr(), "")
	interp := openMySQL(t, p.Addr(), "interpolateParams=true")
	ctx := mysqlCtx(t, 10*time.Second)
	insert := "INSERT INTO " + tbl + " (item) VALUES (?)"
	count := func() int {
		t.Helper()
		var n int
		if err := direct.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	mustSet(t, p, faults.Error(faults.MySQLLockWaitTimeout).When(faults.Query(`INSERT INTO orders`)))
	stmt, err := db.PrepareContext(ctx, insert)
	if err != nil {
		t.Fatalf("PREPARE under the rule: %v", err)
	}
	defer stmt.Close()
	for i := range 2 {
		_, err := stmt.ExecContext(ctx, fmt.Sprint("stmt", i))
		checkDriverError(t, "stmt.Exec", err, faults.MySQLLockWaitTimeout)
	}
	_, err = db.ExecContext(ctx, insert, "db.Exec")
	checkDriverError(t, "db.Exec with arguments", err, faults.MySQLLockWaitTimeout)
	_, err = interp.ExecContext(ctx, insert, "interpolated")
	checkDriverError(t, "db.Exec, interpolateParams=true", err, faults.MySQLLockWaitTimeout)
	// Other prepared statements pass.
	var one int
	if err := db.QueryRowContext(ctx, "SELECT ?", 1).Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT ?: %d, %v", one, err)
	}
	if n := count(); n != 0 {
		t.Errorf("%d rows: the server ran a faulted INSERT", n)
	}
	checkInjected(t, p, 4)
	var kinds []string
	for _, e := range p.Events() {
		kind, text, _ := strings.Cut(e.Request, " ")
		kinds = append(kinds, kind)
		want := insert // the executions name the prepared text
		if kind == "COM_QUERY" {
			want = strings.Replace(insert, "?", "'interpolated'", 1)
		}
		if text != want {
			t.Errorf("event names %q, want the statement %q", e.Request, want)
		}
	}
	if got := strings.Join(kinds, " "); got != "COM_STMT_EXECUTE COM_STMT_EXECUTE COM_STMT_EXECUTE COM_QUERY" {
		t.Errorf("faulted commands: %s", got)
	}

	// Without the rule the statement prepared under it runs.
	mustSet(t, p)
	if _, err := stmt.ExecContext(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Errorf("%d rows after the rule is removed, want 1", n)
	}
}

// TestMySQLHandshakeErrors: too many connections (in place of the
// greeting, without SQLSTATE, as a server at max_connections sends it) and
// access denied (in answer to the login) fail db.Ping with the
// *mysql.MySQLError; database/sql does not retry them (they are not
// driver.ErrBadConn), so one dial is made per Ping. With Times(1) the
// next connection logs in.
func TestMySQLHandshakeErrors(t *testing.T) {
	for _, tc := range []struct {
		reply faults.MySQLReply
		state string
	}{
		{faults.MySQLTooManyConnections, ""},
		{faults.MySQLAccessDenied, "28000"},
	} {
		t.Run(tc.reply.String(), func(t *testing.T) {
			p := startMySQLProxy(t)
			db := openMySQL(t, p.Addr(), "")
			ctx := mysqlCtx(t, 10*time.Second)
			mustSet(t, p, faults.Error(tc.reply))
			for i := range 2 {
				err := db.PingContext(ctx)
				var me *mysql.MySQLError
				if !errors.As(err, &me) || me.Number != tc.reply.Number() || me.SQLState != sqlState(tc.state) || me.Message != tc.reply.Message() {
					t.Fatalf("Ping %d: %v (%T), want %d %q %q", i+1, err, err, tc.reply.Number(), tc.state, tc.reply.Message())
				}
				if n := p.Stats().ConnsTotal; n != int64(i+1) {
					t.Errorf("after Ping %d: %d connections, want %d (database/sql retried)", i+1, n, i+1)
				}
			}
			checkInjected(t, p, 2)

			mustSet(t, p, faults.Error(tc.reply).Times(1))
			if err := db.PingContext(ctx); err == nil {
				t.Fatal("Ping under Times(1): no error")
			}
			if err := db.PingContext(ctx); err != nil {
				t.Fatalf("next Ping: %v", err)
			}
			var one int
			if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
				t.Fatal(err)
			}
			checkInjected(t, p, 3)
			for _, e := range p.Events() {
				if e.Request != "handshake " {
					t.Errorf("event request %q", e.Request)
				}
			}
		})
	}
}

// TestMySQLDelays: DelayResponse holds the answer (the server ran the
// statement on time), DelayRequest the statement (the server ran it late);
// other statements are not delayed.
func TestMySQLDelays(t *testing.T) {
	p := startMySQLProxy(t)
	db := openMySQL(t, p.Addr(), "")
	ctx := mysqlCtx(t, 10*time.Second)
	const d = 300 * time.Millisecond
	// timed runs query and returns how long it took and how long after
	// it was sent the server ran it (by the server's clock, on this host).
	timed := func(query string) (took, ranAfter time.Duration) {
		t.Helper()
		start := time.Now()
		var x string
		var ran float64
		if err := db.QueryRowContext(ctx, query).Scan(&x, &ran); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		took = time.Since(start)
		ranAt := time.UnixMicro(int64(ran * 1e6))
		return took, ranAt.Sub(start)
	}
	timed("SELECT 'warm', UNIX_TIMESTAMP(NOW(6))")

	mustSet(t, p, faults.DelayResponse(d).When(faults.Query(`^SELECT 1`)))
	took, ran := timed("SELECT 1, UNIX_TIMESTAMP(NOW(6))")
	t.Logf("DelayResponse(%v): took %v, the server ran it after %v", d, took, ran)
	if took < d || took > d+2*time.Second || ran > d/2 {
		t.Errorf("DelayResponse(%v): took %v, ran after %v", d, took, ran)
	}
	took, _ = timed("SELECT 2, UNIX_TIMESTAMP(NOW(6))")
	if took > d*2/3 {
		t.Errorf("unmatched statement took %v", took)
	}

	mustSet(t, p, faults.DelayRequest(d).When(faults.Query(`^SELECT 1`)))
	took, ran = timed("SELECT 1, UNIX_TIMESTAMP(NOW(6))")
	t.Logf("DelayRequest(%v): took %v, the server ran it after %v", d, took, ran)
	if took < d || took > d+2*time.Second || ran < d-20*time.Millisecond {
		t.Errorf("DelayRequest(%v): took %v, ran after %v", d, took, ran)
	}
	took, _ = timed("SELECT 2, UNIX_TIMESTAMP(NOW(6))")
	if took > d*2/3 {
		t.Errorf("unmatched statement took %v", took)
	}
	checkInjected(t, p, 2)
}

// TestMySQLDropResponse: the server runs the statement, its answer never
// comes; go-sql-driver gives up at its readTimeout with an error that is
// not a MySQLError, database/sql discards the connection, and the next
// statement runs on a new one.
func TestMySQLDropResponse(t *testing.T) {
	p := startMySQLProxy(t)
	tbl, direct := mysqlTable(t, "t", "id INT PRIMARY KEY AUTO_INCREMENT, v INT")
	db := openMySQL(t, p.Addr(), "readTimeout=500ms")
	ctx := mysqlCtx(t, 10*time.Second)
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	mustSet(t, p, faults.DropResponse().When(faults.Query(`^INSERT`)))
	start := time.Now()
	_, err := db.ExecContext(ctx, "INSERT INTO "+tbl+" (v) VALUES (1)")
	took := time.Since(start)
	t.Logf("dropped answer: %v after %v", err, took)
	var me *mysql.MySQLError
	if err == nil || errors.As(err, &me) {
		t.Fatalf("INSERT with its answer dropped: %v", err)
	}
	if took < 450*time.Millisecond || took > 3*time.Second {
		t.Errorf("the error came after %v, want about the 500ms readTimeout", took)
	}
	waitUntil(t, 5*time.Second, "the proxied connection to end", func() bool { return p.Stats().ConnsOpen == 0 })
	if n := db.Stats().OpenConnections; n != 0 {
		t.Errorf("database/sql keeps %d connections", n)
	}
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("next statement: %v", err)
	}
	if n := p.Stats().ConnsTotal; n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	var rows int
	if err := direct.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tbl).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("the server holds %d rows (%v), want 1: it ran the INSERT once", rows, err)
	}
	checkInjected(t, p, 1)
}

// TestMySQLAbort: the statement reaches the server, then the proxy closes
// the connection before any byte of the answer: go-sql-driver returns an
// error that is not driver.ErrBadConn (the statement was written), so
// database/sql does not retry it: the row is inserted exactly once. The
// next statement runs on a new connection. A fast answer (SELECT) never
// slips through before the close.
func TestMySQLAbort(t *testing.T) {
	p := startMySQLProxy(t)
	tbl, direct := mysqlTable(t, "t", "id INT PRIMARY KEY AUTO_INCREMENT, v INT")
	db := openMySQL(t, p.Addr(), "")
	ctx := mysqlCtx(t, 20*time.Second)
	mustSet(t, p, faults.Abort().When(faults.Query(`^INSERT|^SELECT 'abort'`)))

	_, err := db.ExecContext(ctx, "INSERT INTO "+tbl+" (v) VALUES (1)")
	t.Logf("aborted INSERT: %v", err)
	var me *mysql.MySQLError
	if err == nil || errors.As(err, &me) {
		t.Fatalf("aborted INSERT: %v", err)
	}
	// The INSERT reached the server, which runs it even though its
	// client is gone: by the time it has, the table holds exactly one
	// row. (The proxy closes as soon as the statement is passed on, so
	// the server may still be running it when the client returns.)
	count := func() int {
		var rows int
		if err := direct.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tbl).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		return rows
	}
	waitUntil(t, 10*time.Second, "the aborted INSERT to run at the server", func() bool { return count() != 0 })
	if rows := count(); rows != 1 {
		t.Errorf("the server holds %d rows, want exactly 1", rows)
	}
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("next statement: %v", err)
	}
	const n = 20
	for i := range n {
		var s string
		if err := db.QueryRowContext(ctx, "SELECT 'abort'").Scan(&s); err == nil {
			t.Fatalf("aborted SELECT %d answered %q", i+1, s)
		}
	}
	checkInjected(t, p, 1+n)
	// The first aborted SELECT runs on SELECT 1's connection.
	if c := p.Stats().ConnsTotal; c != 1+n {
		t.Errorf("%d connections, want %d: one per aborted statement", c, 1+n)
	}
}

// TestMySQLTruncateResponse: a result set cut after its first bytes: the
// client sees a lost connection in the middle of the rows, and the next
// statement runs on a new connection.
func TestMySQLTruncateResponse(t *testing.T) {
	p := startMySQLProxy(t)
	db := openMySQL(t, p.Addr(), "")
	ctx := mysqlCtx(t, 10*time.Second)
	mustSet(t, p, faults.TruncateResponse(2000).When(faults.Query(`^SELECT seq`)).Times(1))
	rows, err := db.QueryContext(ctx, "SELECT seq, REPEAT('r', 50) FROM seq_1_to_1000")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
	}
	err = rows.Err()
	rows.Close()
	t.Logf("cut result set: %d rows, then %v", n, err)
	if err == nil || n == 0 || n >= 1000 {
		t.Errorf("cut result set: %d rows, then %v; want some rows, then an error", n, err)
	}
	var count int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM seq_1_to_1000").Scan(&count); err != nil || count != 1000 {
		t.Errorf("next statement: %d, %v", count, err)
	}
	checkInjected(t, p, 1)
}

// TestMySQLTruncateRows: a result set cut after n rows reaches the client
// as exactly n rows and then a lost connection, in the text protocol and in
// the binary one (a prepared statement); a shorter result passes whole; the
// pool goes on on a new connection.
func TestMySQLTruncateRows(t *testing.T) {
	p := startMySQLProxy(t)
	db := openMySQL(t, p.Addr(), "")
	ctx := mysqlCtx(t, 10*time.Second)
	mustSet(t, p, faults.TruncateRows(10).When(faults.Query(`FROM seq_1_to_`)))
	count := func(query string, args ...any) (int, error) { return countRows(ctx, db, query, args...) }
	for _, tc := range []struct {
		name  string
		query string
		args  []any
	}{
		{"text", "SELECT seq, REPEAT('r', 50) FROM seq_1_to_1000", nil},
		{"binary", "SELECT seq, REPEAT('r', 50) FROM seq_1_to_1000 WHERE seq > ?", []any{0}},
	} {
		n, err := count(tc.query, tc.args...)
		if n != 10 || err == nil {
			t.Errorf("%s: %d rows, then %v; want 10 rows, then an error", tc.name, n, err)
		}
	}
	if n, err := count("SELECT seq FROM seq_1_to_5"); n != 5 || err != nil {
		t.Errorf("5-row result: %d rows, %v; want all 5, no error", n, err)
	}
	if n, err := count("SELECT seq FROM seq_1_to_10"); n != 10 || err != nil {
		t.Errorf("10-row result: %d rows, %v; want all 10, no error", n, err)
	}
	var total int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES").Scan(&total); err != nil {
		t.Errorf("next statement: %v", err)
	}
	checkInjected(t, p, 4)
}

// TestMySQLInTransaction: InTransaction matches the statements sent while
// a transaction is open — begun with BEGIN or by autocommit off — and not
// those outside; with Query("^COMMIT") it fails exactly the commits, and
// the transaction's changes never land.
func TestMySQLInTransaction(t *testing.T) {
	table, direct := mysqlTable(t, "intrans", "id INT PRIMARY KEY, v INT")
	p := startMySQLProxy(t)
	db := openMySQL(t, p.Addr(), "")
	ctx := mysqlCtx(t, 10*time.Second)
	if _, err := direct.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	mustSet(t, p, faults.Error(faults.MySQLDeadlock).When(faults.Query(`^COMMIT`), faults.InTransaction()))
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(q string) error { _, err := conn.ExecContext(ctx, q); return err }
	// Outside a transaction, nothing is faulted (a stray COMMIT included).
	for _, q := range []string{"SELECT 1", "UPDATE " + table + " SET v = 1 WHERE id = 1", "COMMIT"} {
		if err := exec(q); err != nil {
			t.Fatalf("%s outside a transaction: %v", q, err)
		}
	}
	// Inside one, the COMMIT fails as a deadlock; the server never saw it.
	for _, q := range []string{"BEGIN", "UPDATE " + table + " SET v = 2 WHERE id = 1"} {
		if err := exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	checkDriverError(t, "COMMIT in a transaction", exec("COMMIT"), faults.MySQLDeadlock)
	if err := exec("ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	var v int
	if err := direct.QueryRowContext(ctx, "SELECT v FROM "+table+" WHERE id = 1").Scan(&v); err != nil || v != 1 {
		t.Fatalf("after the failed COMMIT and a ROLLBACK: v = %d, %v; want 1", v, err)
	}
	// autocommit off opens a transaction implicitly.
	for _, q := range []string{"SET autocommit = 0", "UPDATE " + table + " SET v = 3 WHERE id = 1"} {
		if err := exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	checkDriverError(t, "COMMIT with autocommit off", exec("COMMIT"), faults.MySQLDeadlock)
	if err := exec("ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	checkInjected(t, p, 2)
}

// TestMySQLRestartUnderLoad: Restart under 8 goroutines querying through a
// database/sql pool: statements fail while connections are reset and the
// proxy refuses, and once the window has passed and the pool has
// recovered, none fails.
func TestMySQLRestartUnderLoad(t *testing.T) {
	p := startMySQLProxy(t)
	db := openMySQL(t, p.Addr(), "timeout=2s&readTimeout=2s&writeTimeout=2s")
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	ctx := mysqlCtx(t, 20*time.Second)
	const (
		workers = 8
		down    = 500 * time.Millisecond
		before  = 500 * time.Millisecond // load before the restart
		settle  = time.Second            // after the window, for the pool to recover
		watch   = 1200 * time.Millisecond
	)
	type result struct {
		at  time.Duration // since start, when the statement ended
		err error
	}
	start := time.Now()
	end := start.Add(before + down + settle + watch)
	results := make([][]result, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000 && time.Now().Before(end); i++ {
				qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				var one int
				err := db.QueryRowContext(qctx, "SELECT 1").Scan(&one)
				cancel()
				results[w] = append(results[w], result{time.Since(start), err})
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(before)
	installed := time.Since(start)
	if err := p.Set(faults.Restart(down)); err != nil {
		t.Error(err)
	}
	wg.Wait()

	var all []result
	for _, rs := range results {
		all = append(all, rs...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at < all[j].at })
	var errs, early, late, okAfter int
	var lastErr time.Duration
	kinds := map[string]int{}
	for _, r := range all {
		switch {
		case r.err == nil && r.at > installed+down:
			okAfter++
		case r.err != nil:
			errs++
			lastErr = r.at
			msg := r.err.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "dial") {
				msg = "dial: " + msg[i+2:]
			}
			kinds[msg]++
			if r.at < installed {
				early++
			}
			if r.at > installed+down+settle {
				late++
			}
		}
	}
	var recovered time.Duration // the first success after the last error
	for _, r := range all {
		if r.err == nil && r.at > lastErr {
			recovered = r.at
			break
		}
	}
	observed := all[len(all)-1].at - (installed + down + settle)
	t.Logf("%d statements; %d errors, the last %v after Restart(%v) was installed, the next success %v after; %d statements succeeded after the window; %v watched after window+%v",
		len(all), errs, lastErr-installed, down, recovered-installed, okAfter, observed, settle)
	t.Logf("errors: %v", kinds)
	if errs == 0 {
		t.Error("no statement failed during the restart")
	}
	if early > 0 || late > 0 {
		t.Errorf("%d errors before the restart, %d after the window and %v for the pool to recover", early, late, settle)
	}
	if observed < time.Second {
		t.Errorf("watched only %v after the recovery", observed)
	}
	if okAfter < 100 {
		t.Errorf("only %d statements succeeded after the window", okAfter)
	}
}

// TestMySQLMalformedClient: garbage from a client, before and after its
// login, never panics the proxy, which goes on serving other clients.
func TestMySQLMalformedClient(t *testing.T) {
	p := startMySQLProxy(t)
	rng := rand.New(rand.NewPCG(5, 6))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	for _, tc := range []struct {
		name  string
		login bool
		send  []byte
	}{
		{"16MiB header then close", false, []byte{0xff, 0xff, 0xff, 0x01, 'x'}},
		{"random bytes", false, garbage},
		{"empty first packet", false, []byte{0, 0, 0, 1}},
		{"empty command", true, []byte{0, 0, 0, 0}},
		{"short execute", true, []byte{2, 0, 0, 0, 0x17, 1}},
		{"short close", true, []byte{2, 0, 0, 0, 0x19, 1}},
		{"16MiB command then close", true, []byte{0xff, 0xff, 0xff, 0, 0x03, 'S'}},
		{"random command", true, append([]byte{0, 0x10, 0, 0}, garbage...)},
		{"random bytes after login", true, garbage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRawMySQL(t, p.Addr())
			if tc.login {
				if err := r.login(); err != nil {
					t.Fatalf("login: %v", err)
				}
			}
			if _, err := r.c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			r.c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, r.c) // whatever comes, until the proxy or server closes
			r.c.Close()
		})
	}
	waitUntil(t, 5*time.Second, "every connection to end", func() bool { return p.Stats().ConnsOpen == 0 })
	db := openMySQL(t, p.Addr(), "")
	var one int
	if err := db.QueryRow("SELECT 1").Scan(&one); err != nil {
		t.Fatalf("a client after the garbage: %v", err)
	}
}

// TestMySQLMalformedServer: a "server" that answers with garbage instead
// of a greeting, then closes, gives the client an error or EOF promptly,
// never the proxy a panic; with handshake errors installed too.
// (go-sql-driver v1.10.1 itself panics on a HandshakeV10 greeting cut
// short, which the proxy passes on as it came; a raw client reads those.)
func TestMySQLMalformedServer(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	greetings := []struct {
		b      []byte
		driver bool // go-sql-driver survives it
	}{
		{garbage, true},
		{[]byte{0xff, 0xff, 0xff, 0x00, 10, '5'}, true},                                     // announces 16 MiB
		{[]byte{0, 0, 0, 0}, true},                                                          // empty packet
		{[]byte{3, 0, 0, 0, 0xff, 0x10}, true},                                              // a short ERR
		{[]byte{6, 0, 0, 0, 10, '5', '.', '5', 0, 1}, false},                                // protocol 10, cut short
		{[]byte{1, 0, 0, 0, 10}, false},                                                     // protocol 10, nothing else
		{append([]byte{40, 0, 0, 0, 10}, bytes.Repeat([]byte{'v'}, 39)...), false},          // a version with no end
		{append([]byte{20, 0, 0, 0, 10, '5', 0}, bytes.Repeat([]byte{0xff}, 13)...), false}, // capabilities, then nothing
	}
	var mu sync.Mutex
	next := 0
	b := newBackend(t, func(c net.Conn) {
		mu.Lock()
		g := greetings[next%len(greetings)].b
		next++
		mu.Unlock()
		c.Write(g)
		c.Close()
	})
	p := newProxy(t, b.addr(), faults.WithProtocol(faults.MySQL()))
	db := openMySQL(t, p.Addr(), "timeout=2s&readTimeout=2s&writeTimeout=2s")
	db.SetMaxIdleConns(0)
	ctx := mysqlCtx(t, 30*time.Second)
	for round, bs := range [][]faults.Behavior{
		nil,
		{faults.Error(faults.MySQLTooManyConnections)},
		{faults.Error(faults.MySQLAccessDenied)},
	} {
		mustSet(t, p, bs...)
		for i, g := range greetings {
			start := time.Now()
			if g.driver {
				if err := db.PingContext(ctx); err == nil {
					t.Errorf("round %d, greeting %d: Ping succeeded", round, i)
				}
			} else {
				// The proxy may reset the connection before the dial
				// returns: an error is what the client is due.
				c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
				if err == nil {
					c.SetDeadline(time.Now().Add(5 * time.Second))
					_, err = io.Copy(io.Discard, c)
					c.Close()
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Errorf("round %d, greeting %d: the client still waits after 5s", round, i)
				}
			}
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Errorf("round %d, greeting %d: the client waited %v", round, i, d)
			}
		}
	}
	waitUntil(t, 5*time.Second, "every connection to end", func() bool { return p.Stats().ConnsOpen == 0 })
}

// TestMySQLUnsupported: behaviors that cannot act on MySQL, and MySQL
// replies on another protocol, are refused by Set; so is a Query pattern
// that is not a regular expression.
func TestMySQLUnsupported(t *testing.T) {
	my := newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.MySQL()))
	web := newProxy(t, "127.0.0.1:9", faults.WithProtocol(faults.HTTP()))
	for _, tc := range []struct {
		p *faults.Proxy
		b faults.Behavior
	}{
		{my, faults.TruncateRows(1).When(faults.Command("GET"))},
		{my, faults.Error(faults.HTTPStatus(503))},
		{web, faults.Error(faults.MySQLDeadlock)},
	} {
		checkUnsupported(t, tc.b.String(), tc.p.Set(tc.b))
	}
	checkInvalid(t, `Query("(")`, my.Set(faults.Error(faults.MySQLDeadlock).When(faults.Query("("))))
	checkInvalid(t, `MySQLError(0, …)`, my.Set(faults.Error(faults.MySQLError(0, "HY000", "no error"))))
	checkInvalid(t, `MySQLError(…, "4000", …)`, my.Set(faults.Error(faults.MySQLError(1213, "4000", "short state"))))
	if bs := my.Behaviors(); len(bs) != 0 {
		t.Errorf("refused behaviors installed: %v", bs)
	}
}

// TestMySQLClosingRepliesBehindLatency: behind a downstream Latency, what
// the proxy writes to the client just before it closes the connection is
// still in the stream layer when the close comes; it arrives, then the
// connection ends: the ERR in place of the greeting or in answer to the
// login, the ERR of an error that ends the session, the bytes TruncateResponse lets through, the rows
// TruncateRows lets through.
func TestMySQLClosingRepliesBehindLatency(t *testing.T) {
	latency := faults.Latency(300 * time.Millisecond).Downstream()
	for _, reply := range []faults.MySQLReply{faults.MySQLTooManyConnections, faults.MySQLAccessDenied} {
		t.Run(reply.String(), func(t *testing.T) {
			p := startMySQLProxy(t)
			db := openMySQL(t, p.Addr(), "")
			mustSet(t, p, faults.Error(reply), latency)
			err := db.PingContext(mysqlCtx(t, 10*time.Second))
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != reply.Number() {
				t.Fatalf("Ping: %v (%T), want the ERR %d", err, err, reply.Number())
			}
		})
	}
	t.Run("shutdown", func(t *testing.T) {
		p := startMySQLProxy(t)
		db := openMySQL(t, p.Addr(), "")
		mustSet(t, p, faults.Error(faults.MySQLServerShutdown).When(faults.Query(`^SELECT 2`)), latency)
		_, err := db.ExecContext(mysqlCtx(t, 10*time.Second), "SELECT 2")
		checkDriverError(t, "SELECT 2", err, faults.MySQLServerShutdown)
	})
	t.Run("TruncateResponse", func(t *testing.T) {
		p := startMySQLProxy(t)
		db := openMySQL(t, p.Addr(), "")
		mustSet(t, p, faults.TruncateResponse(2000).When(faults.Query(`^SELECT seq`)), latency)
		n, err := countRows(mysqlCtx(t, 10*time.Second), db, "SELECT seq, REPEAT('r', 50) FROM seq_1_to_1000")
		if err == nil || n == 0 || n >= 1000 {
			t.Errorf("cut result set: %d rows, then %v; want some rows, then an error", n, err)
		}
	})
	t.Run("TruncateRows", func(t *testing.T) {
		p := startMySQLProxy(t)
		db := openMySQL(t, p.Addr(), "")
		mustSet(t, p, faults.TruncateRows(10).When(faults.Query(`FROM seq_1_to_`)), latency)
		n, err := countRows(mysqlCtx(t, 10*time.Second), db, "SELECT seq, REPEAT('r', 50) FROM seq_1_to_1000")
		if n != 10 || err == nil {
			t.Errorf("%d rows, then %v; want 10 rows, then an error", n, err)
		}
	})
}

// countRows runs query on db and counts the rows it returns.
func countRows(ctx context.Context, db *sql.DB, query string, args ...any) (int, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

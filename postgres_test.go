package faults_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// newPostgresProxy starts a PostgreSQL-aware proxy in front of the tests'
// server, closed at cleanup.
func newPostgresProxy(t *testing.T) *faults.Proxy {
	t.Helper()
	return newProxy(t, testenv.PostgresAddr(t), faults.WithProtocol(faults.Postgres()))
}

// pgCtx returns a context that ends with the test or after d.
func pgCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// pgConnect connects pgx to addr as the tests' user, with dsnExtra added to
// the connection string (sslmode=prefer, pgx's default, unless it says
// otherwise), closed at cleanup.
func pgConnect(t *testing.T, addr, dsnExtra string) *pgx.Conn {
	t.Helper()
	dsn := "postgres://postgres@" + addr + "/test?connect_timeout=5"
	if dsnExtra != "" {
		dsn += "&" + dsnExtra
	}
	c, err := pgx.Connect(pgCtx(t, 10*time.Second), dsn)
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// pgTable creates a table with columns cols, directly on the server, and
// drops it at cleanup; it returns its name and the direct connection.
func pgTable(t *testing.T, cols string) (string, *pgx.Conn) {
	t.Helper()
	direct := pgConnect(t, testenv.PostgresAddr(t), "sslmode=disable")
	name := fmt.Sprintf("faults_pg_%08x", rand.Uint32())
	if _, err := direct.Exec(pgCtx(t, 5*time.Second), "CREATE TABLE "+name+" ("+cols+")"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Exec(context.Background(), "DROP TABLE IF EXISTS "+name) })
	return name, direct
}

// pgError returns err as the server's error, failing the test if it is
// not one.
func pgError(t *testing.T, err error) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a server's error", err, err)
	}
	return pe
}

// checkPgReply checks that the client saw reply, field by field.
func checkPgReply(t *testing.T, err error, reply faults.PostgresReply) {
	t.Helper()
	pe := pgError(t, err)
	if pe.Severity != reply.Severity() || pe.SeverityUnlocalized != reply.Severity() || pe.Code != reply.Code() ||
		pe.Message != reply.Message() || pe.Detail != reply.DetailText() || pe.Hint != reply.HintText() {
		t.Fatalf("got %s %s %q (detail %q, hint %q), want %v", pe.Severity, pe.Code, pe.Message, pe.Detail, pe.Hint, reply)
	}
}

// Through the proxy, pgx works as directly: the SSLRequest of
// sslmode=prefer is refused and the session goes on in clear; simple and
// extended queries, prepared statements, transactions, batches and a pool.
func TestPostgresPassThrough(t *testing.T) {
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 20*time.Second)
	table, direct := pgTable(t, "id int PRIMARY KEY, v text")
	c := pgConnect(t, p.Addr(), "")
	if c.PgConn().TxStatus() != 'I' {
		t.Fatalf("status %q after connecting", c.PgConn().TxStatus())
	}
	var n int
	if err := c.QueryRow(ctx, "SELECT $1::int + 1", 41).Scan(&n); err != nil || n != 42 {
		t.Fatalf("extended query: %d, %v", n, err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO "+table+" VALUES (1, 'a'), (2, 'b')", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatalf("simple query: %v", err)
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "UPDATE "+table+" SET v = $1 WHERE id = $2", "c", 2); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b := &pgx.Batch{}
	for i := range 50 {
		b.Queue("SELECT $1::int * 2", i)
	}
	br := c.SendBatch(ctx, b)
	for i := range 50 {
		var got int
		if err := br.QueryRow().Scan(&got); err != nil || got != 2*i {
			t.Fatalf("batch %d: %d, %v", i, got, err)
		}
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := direct.QueryRow(ctx, "SELECT string_agg(v, ',' ORDER BY id) FROM "+table).Scan(&v); err != nil || v != "a,c" {
		t.Fatalf("rows %q, %v; want a,c", v, err)
	}
	rows, _ := c.Query(ctx, "SELECT g FROM generate_series(1, 20000) g")
	sum := 0
	for rows.Next() {
		var g int
		rows.Scan(&g)
		sum += g
	}
	if rows.Err() != nil || sum != 20000*20001/2 {
		t.Fatalf("large result: sum %d, %v", sum, rows.Err())
	}
	pool, err := pgxpool.New(ctx, "postgres://postgres@"+p.Addr()+"/test?pool_max_conns=4")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	for i := range 20 {
		if err := pool.QueryRow(ctx, "SELECT $1::int", i).Scan(&n); err != nil || n != i {
			t.Fatalf("pool query %d: %d, %v", i, n, err)
		}
	}
	if got := p.Stats().Requests; got < 70 {
		t.Fatalf("Stats().Requests = %d after at least 70 statements", got)
	}
}

// An injected ERROR inside a transaction block leaves the session as the
// real error does: the client reads the reply's fields, the block is
// aborted (25P02 until ROLLBACK), and nothing of it lands. The real error
// (a division by zero) is provoked on the same kind of session first.
func TestPostgresErrorInBlockLeavesTheRealState(t *testing.T) {
	table, direct := pgTable(t, "id int PRIMARY KEY")
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 20*time.Second)
	type outcome struct {
		next    string // SQLSTATE of the statement after the error
		status  byte   // ReadyForQuery's status after it
		landed  bool   // the block's earlier write is in the table after COMMIT
		samePid bool   // the connection is the same backend afterwards
	}
	observe := func(c *pgx.Conn, failing string, check func(error)) outcome {
		var o outcome
		pid := c.PgConn().PID()
		for _, q := range []string{"TRUNCATE " + table, "BEGIN", "INSERT INTO " + table + " VALUES (1)"} {
			if _, err := c.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		_, err := c.Exec(ctx, failing)
		check(err)
		_, err = c.Exec(ctx, "SELECT 1")
		o.next = pgError(t, err).Code
		o.status = c.PgConn().TxStatus()
		c.Exec(ctx, "COMMIT")
		var n int
		direct.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n)
		o.landed = n > 0
		var now uint32
		if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&now); err != nil {
			t.Fatal(err)
		}
		o.samePid = now == pid
		return o
	}
	real := observe(pgConnect(t, testenv.PostgresAddr(t), "sslmode=disable"), "SELECT 1/0", func(err error) {
		if pgError(t, err).Code != "22012" {
			t.Fatalf("the real error: %v", err)
		}
	})
	mustSet(t, p, faults.Error(faults.PostgresDeadlock).When(faults.Query(`^UPDATE`), faults.InTransaction()))
	for _, mode := range []struct {
		name string
		dsn  string
	}{{"extended", ""}, {"simple", "default_query_exec_mode=simple_protocol"}} {
		t.Run(mode.name, func(t *testing.T) {
			injected := observe(pgConnect(t, p.Addr(), mode.dsn), "UPDATE "+table+" SET id = 2", func(err error) {
				checkPgReply(t, err, faults.PostgresDeadlock)
			})
			t.Logf("real: %+v; injected: %+v", real, injected)
			if want := (outcome{next: "25P02", status: 'E', landed: false, samePid: true}); real != want {
				t.Errorf("the real error left %+v, expected %+v", real, want)
			}
			if injected != real {
				t.Errorf("the injected error left %+v, the real one %+v", injected, real)
			}
		})
	}
}

// An injected ERROR in the middle of a pipeline (a pgx batch, one Sync)
// rolls back the pipeline's implicit transaction, as a real one does:
// none of the batch's rows exist afterwards.
func TestPostgresErrorInPipelineRollsItBack(t *testing.T) {
	for _, c := range []struct {
		name   string
		inject bool
	}{{"real", false}, {"injected", true}} {
		t.Run(c.name, func(t *testing.T) {
			table, direct := pgTable(t, "id int PRIMARY KEY")
			ctx := pgCtx(t, 20*time.Second)
			addr := testenv.PostgresAddr(t)
			second := "INSERT INTO " + table + " VALUES (1)" // a duplicate: the real error
			if c.inject {
				p := newPostgresProxy(t)
				mustSet(t, p, faults.Error(faults.PostgresUniqueViolation).When(faults.Query(`VALUES \(2\)`)))
				addr = p.Addr()
				second = "INSERT INTO " + table + " VALUES (2)"
			}
			conn := pgConnect(t, addr, "sslmode=disable")
			b := &pgx.Batch{}
			b.Queue("INSERT INTO " + table + " VALUES (1)")
			b.Queue(second)
			b.Queue("INSERT INTO " + table + " VALUES (3)")
			err := conn.SendBatch(ctx, b).Close()
			if pgError(t, err).Code != "23505" {
				t.Fatalf("batch: %v", err)
			}
			var n int
			if err := direct.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%d rows of the batch landed (%v); want none", n, err)
			}
			var one int
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				t.Fatalf("the connection after the batch: %v", err)
			}
		})
	}
}

// A FATAL ends the connection after it, as the server ends the session;
// a pool recovers on a new connection.
func TestPostgresFatal(t *testing.T) {
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 20*time.Second)
	mustSet(t, p, faults.Error(faults.PostgresAdminShutdown).When(faults.Query(`^SELECT 2`)).Times(1))
	c := pgConnect(t, p.Addr(), "")
	_, err := c.Exec(ctx, "SELECT 2")
	checkPgReply(t, err, faults.PostgresAdminShutdown)
	if !c.IsClosed() {
		if _, err := c.Exec(ctx, "SELECT 3"); err == nil {
			t.Fatal("the connection went on after a FATAL")
		}
	}
	pool, err := pgxpool.New(ctx, "postgres://postgres@"+p.Addr()+"/test")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(ctx, "SELECT 2").Scan(&n); err != nil || n != 2 {
		t.Fatalf("the pool after the FATAL: %d, %v", n, err)
	}
}

// Startup errors answer the StartupMessage: the connection is refused as a
// server at max_connections refuses it, and a password error names the
// user of the StartupMessage.
func TestPostgresStartupErrors(t *testing.T) {
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 10*time.Second)
	mustSet(t, p, faults.Error(faults.PostgresTooManyConnections).Times(1))
	_, err := pgx.Connect(ctx, "postgres://postgres@"+p.Addr()+"/test?sslmode=disable")
	checkPgReply(t, err, faults.PostgresTooManyConnections)
	mustSet(t, p, faults.Error(faults.PostgresInvalidPassword).Times(1))
	_, err = pgx.Connect(ctx, "postgres://app@"+p.Addr()+"/test?sslmode=disable")
	if pe := pgError(t, err); pe.Code != "28P01" || pe.Message != `password authentication failed for user "app"` {
		t.Fatalf("got %s %q", pe.Code, pe.Message)
	}
	c := pgConnect(t, p.Addr(), "")
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("a connection after the faults: %v", err)
	}
}

// Request behaviors act per statement: a delay, rows cut off after n.
func TestPostgresRequestBehaviors(t *testing.T) {
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 20*time.Second)
	c := pgConnect(t, p.Addr(), "")
	mustSet(t, p, faults.DelayResponse(300*time.Millisecond).When(faults.Query(`pg_backend_pid`)))
	start := time.Now()
	var pid int
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("the delayed statement took %v", d)
	}
	mustSet(t, p, faults.TruncateRows(5).When(faults.Query(`generate_series`)))
	rows, _ := c.Query(ctx, "SELECT g FROM generate_series(1, 100) g")
	n := 0
	for rows.Next() {
		n++
	}
	if rows.Err() == nil || n != 5 {
		t.Fatalf("read %d rows, then %v; want 5 and a lost connection", n, rows.Err())
	}
}

// An ERROR injected on COMMIT ends the transaction, rolled back, as a
// COMMIT the server refuses (a serialization failure at commit) does: the
// client gets the error, the session is idle (pgx keeps the connection),
// and nothing of the transaction lands.
func TestPostgresErrorOnCommitEndsTheTransaction(t *testing.T) {
	table, direct := pgTable(t, "id int PRIMARY KEY")
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 20*time.Second)
	c := pgConnect(t, p.Addr(), "")
	mustSet(t, p, faults.Error(faults.PostgresSerializationFailure).When(faults.Query(`(?i)^commit`), faults.InTransaction()))
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", 1); err != nil {
		t.Fatal(err)
	}
	checkPgReply(t, tx.Commit(ctx), faults.PostgresSerializationFailure)
	if c.IsClosed() || c.PgConn().TxStatus() != 'I' {
		t.Fatalf("after the failed COMMIT: closed %v, status %q; want an idle, open connection", c.IsClosed(), c.PgConn().TxStatus())
	}
	var n int
	if err := direct.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows of the failed transaction landed (%v)", n, err)
	}
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
		t.Fatalf("the connection after the failed COMMIT: %v", err)
	}
}

// Abort passes the statement on, in either protocol, then closes the
// connection before any byte of its answer: the statement ran, the client
// lost the connection.
func TestPostgresAbort(t *testing.T) {
	for _, mode := range []string{"", "default_query_exec_mode=simple_protocol"} {
		t.Run("mode="+mode, func(t *testing.T) {
			table, direct := pgTable(t, "id int PRIMARY KEY")
			p := newPostgresProxy(t)
			ctx := pgCtx(t, 20*time.Second)
			c := pgConnect(t, p.Addr(), mode)
			mustSet(t, p, faults.Abort().When(faults.Query(`^INSERT`)))
			_, err := c.Exec(ctx, "INSERT INTO "+table+" VALUES ($1)", 1)
			if err == nil || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("INSERT with Abort: %v, want a lost connection", err)
			}
			var n int
			if err := direct.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 1 {
				t.Fatalf("%d rows (%v): the aborted INSERT must have run", n, err)
			}
		})
	}
}

// Behind a downstream Latency, what the proxy writes to the client just
// before it closes the connection is still in the stream layer when the
// close comes; it arrives, then the connection ends: a startup error, a
// FATAL, the bytes TruncateResponse and the rows TruncateRows let through, and the
// answers owed to the statements pipelined before one that Abort acts on.
func TestPostgresClosingRepliesBehindLatency(t *testing.T) {
	latency := faults.Latency(300 * time.Millisecond).Downstream()
	count := func(ctx context.Context, c *pgx.Conn, query string) (int, error) {
		rows, _ := c.Query(ctx, query)
		n := 0
		for rows.Next() {
			n++
		}
		return n, rows.Err()
	}
	t.Run("startup", func(t *testing.T) {
		p := newPostgresProxy(t)
		mustSet(t, p, faults.Error(faults.PostgresTooManyConnections), latency)
		_, err := pgx.Connect(pgCtx(t, 10*time.Second), "postgres://postgres@"+p.Addr()+"/test?sslmode=disable")
		checkPgReply(t, err, faults.PostgresTooManyConnections)
	})
	t.Run("FATAL", func(t *testing.T) {
		// Written and drained by the replies side (a reply of the
		// proxy's that closes: sides.deliverAnswers).
		p := newPostgresProxy(t)
		ctx := pgCtx(t, 10*time.Second)
		c := pgConnect(t, p.Addr(), "")
		mustSet(t, p, faults.Error(faults.PostgresAdminShutdown).When(faults.Query(`^SELECT 2`)), latency)
		_, err := c.Exec(ctx, "SELECT 2")
		checkPgReply(t, err, faults.PostgresAdminShutdown)
	})
	t.Run("TruncateResponse", func(t *testing.T) {
		p := newPostgresProxy(t)
		ctx := pgCtx(t, 10*time.Second)
		c := pgConnect(t, p.Addr(), "")
		mustSet(t, p, faults.TruncateResponse(200).When(faults.Query(`generate_series`)), latency)
		if n, err := count(ctx, c, "SELECT g FROM generate_series(1, 100) g"); n == 0 || n >= 100 || err == nil {
			t.Errorf("read %d rows, then %v; want some rows and a lost connection", n, err)
		}
	})
	t.Run("TruncateRows", func(t *testing.T) {
		p := newPostgresProxy(t)
		ctx := pgCtx(t, 10*time.Second)
		c := pgConnect(t, p.Addr(), "")
		mustSet(t, p, faults.TruncateRows(5).When(faults.Query(`generate_series`)), latency)
		if n, err := count(ctx, c, "SELECT g FROM generate_series(1, 100) g"); n != 5 || err == nil {
			t.Errorf("read %d rows, then %v; want 5 and a lost connection", n, err)
		}
	})
	t.Run("Abort", func(t *testing.T) {
		table, _ := pgTable(t, "id int PRIMARY KEY")
		p := newPostgresProxy(t)
		ctx := pgCtx(t, 10*time.Second)
		c := pgConnect(t, p.Addr(), "")
		mustSet(t, p, faults.Abort().When(faults.Query(`^INSERT`)), latency)
		pl := c.PgConn().StartPipeline(ctx)
		defer pl.Close()
		pl.SendQueryParams("SELECT 7", nil, nil, nil, nil)
		pl.SendQueryParams("INSERT INTO "+table+" VALUES (1)", nil, nil, nil, nil)
		if err := pl.Sync(); err != nil {
			t.Fatal(err)
		}
		res, err := pl.GetResults()
		rr, ok := res.(*pgconn.ResultReader)
		if err != nil || !ok {
			t.Fatalf("the first statement's answer: %T, %v", res, err)
		}
		if r := rr.Read(); r.Err != nil || len(r.Rows) != 1 || string(r.Rows[0][0]) != "7" {
			t.Fatalf("the first statement's answer: %q, %v; want 7", r.Rows, r.Err)
		}
		res, err = pl.GetResults()
		if rr, ok := res.(*pgconn.ResultReader); ok {
			err = rr.Read().Err
		}
		if err == nil {
			t.Fatalf("the aborted statement's answer: %T, no error; want a lost connection", res)
		}
	})
}

package faults_test

// How the PostgreSQL drivers meet the proxy and its faults: lib/pq through
// database/sql, pgx and pgxpool.

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lib/pq"

	"github.com/gofaults/faults"
)

// pqOpen opens a database/sql pool with lib/pq on addr, sslmode as given,
// closed at cleanup.
func pqOpen(t *testing.T, addr, sslmode string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", "postgres://postgres@"+addr+"/test?connect_timeout=5&sslmode="+sslmode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The proxy answers an SSLRequest with 'N': lib/pq with sslmode=require
// (its default) fails at once with its own error, and with sslmode=disable
// it works.
func TestPostgresLibPQSSLMode(t *testing.T) {
	p := newPostgresProxy(t)
	t.Run("require", func(t *testing.T) {
		db := pqOpen(t, p.Addr(), "require")
		start := time.Now()
		err := db.PingContext(pgCtx(t, 10*time.Second))
		took := time.Since(start)
		if !errors.Is(err, pq.ErrSSLNotSupported) {
			t.Fatalf("sslmode=require through the proxy: %v (%T), want %v", err, err, pq.ErrSSLNotSupported)
		}
		if took > 5*time.Second {
			t.Fatalf("the refusal took %v", took)
		}
		t.Logf("lib/pq, sslmode=require: %v after %v", err, took)
	})
	t.Run("disable", func(t *testing.T) {
		db := pqOpen(t, p.Addr(), "disable")
		var n int
		if err := db.QueryRowContext(pgCtx(t, 10*time.Second), "SELECT $1::int * 2", 21).Scan(&n); err != nil || n != 42 {
			t.Fatalf("sslmode=disable through the proxy: %d, %v", n, err)
		}
	})
}

// pgx with sslmode=require fails as fast, with an error that says the
// server refused TLS.
func TestPostgresPgxSSLRequire(t *testing.T) {
	p := newPostgresProxy(t)
	start := time.Now()
	c, err := pgx.Connect(pgCtx(t, 10*time.Second), "postgres://postgres@"+p.Addr()+"/test?sslmode=require&connect_timeout=5")
	took := time.Since(start)
	if err == nil {
		c.Close(context.Background())
		t.Fatal("sslmode=require connected through the proxy")
	}
	if !strings.Contains(err.Error(), "server refused TLS connection") || took > 5*time.Second {
		t.Fatalf("sslmode=require through the proxy: %v after %v; want pgx's refused-TLS error at once", err, took)
	}
	t.Logf("pgx, sslmode=require: %v after %v", err, took)
}

// lib/pq turns a FATAL into driver.ErrBadConn, so database/sql retries the
// statement on a new connection: an injected FATAL is invisible to its
// users, the statement's result is right, and only the proxy's counter
// tells that the fault fired.
func TestPostgresLibPQHidesFatal(t *testing.T) {
	p := newPostgresProxy(t)
	db := pqOpen(t, p.Addr(), "disable")
	ctx := pgCtx(t, 10*time.Second)
	mustSet(t, p, faults.Error(faults.PostgresAdminShutdown).When(faults.Query(`^SELECT 40 \+ 2`)).Times(1))
	var n int
	if err := db.QueryRowContext(ctx, "SELECT 40 + 2").Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT 40 + 2 with a FATAL injected once: %d, %v; want 42 and no error", n, err)
	}
	s := p.Stats()
	if s.Injected != 1 {
		t.Fatalf("Stats().Injected = %d, want 1", s.Injected)
	}
	if s.ConnsTotal < 2 {
		t.Fatalf("%d connections: the retry must have taken a new one", s.ConnsTotal)
	}
}

// The other side of that retry: a non-idempotent INSERT that reached the
// server, whose connection is lost before the answer (Abort), is run
// again by database/sql on a new connection, since lib/pq reports the EOF
// as driver.ErrBadConn: the caller sees success and the row is there
// twice. (An injected FATAL would not show this: the proxy answers it in
// the statement's place, so the statement never reaches the server.)
func TestPostgresLibPQRetriesAStatementThatRan(t *testing.T) {
	table, direct := pgTable(t, "id int")
	p := newPostgresProxy(t)
	db := pqOpen(t, p.Addr(), "disable")
	ctx := pgCtx(t, 10*time.Second)
	mustSet(t, p, faults.Abort().When(faults.Query(`^INSERT INTO`)).Times(1))
	if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1)"); err != nil {
		t.Fatalf("the INSERT after a lost answer: %v; database/sql with lib/pq should have retried it", err)
	}
	if got := p.Stats().Injected; got != 1 {
		t.Fatalf("Stats().Injected = %d, want 1", got)
	}
	// The first INSERT's backend commits it and then finds its client
	// gone: wait for it, boundedly.
	var n int
	for deadline := time.Now().Add(3 * time.Second); ; {
		if err := direct.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n != 2 {
		t.Fatalf("%d rows after one INSERT whose answer was lost, want 2 (it ran, and ran again)", n)
	}
}

// pgxpool: an injected FATAL reaches the caller of the query it answers;
// the pool drops that connection and its next query succeeds. The
// statements go in the simple protocol: see
// TestPostgresFatalOnExecute for the extended one.
func TestPostgresPgxPoolAfterFatal(t *testing.T) {
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 20*time.Second)
	pool, err := pgxpool.New(ctx, "postgres://postgres@"+p.Addr()+"/test?sslmode=disable&pool_max_conns=2&default_query_exec_mode=simple_protocol")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	mustSet(t, p, faults.Error(faults.PostgresAdminShutdown).When(faults.Query(`^SELECT 7`)).Times(1))
	var n int
	err = pool.QueryRow(ctx, "SELECT 7").Scan(&n)
	checkPgReply(t, err, faults.PostgresAdminShutdown)
	if err := pool.QueryRow(ctx, "SELECT 7").Scan(&n); err != nil || n != 7 {
		t.Fatalf("the pool's next query: %d, %v", n, err)
	}
	if got := p.Stats().Injected; got != 1 {
		t.Fatalf("Stats().Injected = %d, want 1", got)
	}
}

// A FATAL injected on an Execute of the extended protocol (pgx's default
// for a query) reaches the client at once, and the connection ends.
func TestPostgresFatalOnExecute(t *testing.T) {
	p := newPostgresProxy(t)
	mustSet(t, p, faults.Error(faults.PostgresAdminShutdown).When(faults.Query(`^SELECT 7`)).Times(1))
	c := pgConnect(t, p.Addr(), "sslmode=disable")
	start := time.Now()
	var n int
	err := c.QueryRow(pgCtx(t, 5*time.Second), "SELECT 7", pgx.QueryExecModeExec).Scan(&n)
	checkPgReply(t, err, faults.PostgresAdminShutdown)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the FATAL took %v", d)
	}
	if !c.IsClosed() {
		t.Fatal("the connection is open after a FATAL")
	}
}

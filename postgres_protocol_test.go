package faults_test

// Parts of the protocol beyond one statement and its rows, through a
// PostgreSQL-aware proxy with pgx: notifications, COPY both ways, several
// statements in one Query, a large row, a CancelRequest.

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/gofaults/faults/internal/testenv"
)

// A NotificationResponse that another session causes reaches the
// proxied listening connection while it waits, with no request of its
// outstanding.
func TestPostgresListenNotify(t *testing.T) {
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 15*time.Second)
	listener := pgConnect(t, p.Addr(), "sslmode=disable")
	notifier := pgConnect(t, testenv.PostgresAddr(t), "sslmode=disable")
	channel := fmt.Sprintf("faults_ch_%d", time.Now().UnixNano())
	pgExec(t, ctx, listener, "LISTEN "+channel)
	got := make(chan *pgconn.Notification, 1)
	errc := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		n, err := listener.WaitForNotification(wctx)
		if err != nil {
			errc <- err
			return
		}
		got <- n
	}()
	// Notify once the listener is waiting (it has sent nothing since
	// LISTEN's answer, so there is nothing to observe: a pause will do).
	time.Sleep(200 * time.Millisecond)
	pgExec(t, ctx, notifier, "SELECT pg_notify('"+channel+"', 'hello through the proxy')")
	select {
	case n := <-got:
		if n.Channel != channel || n.Payload != "hello through the proxy" || n.PID != notifier.PgConn().PID() {
			t.Fatalf("notification %+v, want channel %s, the payload, pid %d", n, channel, notifier.PgConn().PID())
		}
	case err := <-errc:
		t.Fatalf("waiting for the notification: %v", err)
	}
	var one int
	if err := listener.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the listening connection afterwards: %v", err)
	}
}

// COPY FROM STDIN of 10,000 rows through the proxy lands them all.
func TestPostgresCopyFrom(t *testing.T) {
	table, direct := pgTable(t, "id int, v text")
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 20*time.Second)
	c := pgConnect(t, p.Addr(), "sslmode=disable")
	const n = 10000
	rows := make([][]any, n)
	for i := range rows {
		rows[i] = []any{i + 1, fmt.Sprintf("row %d", i+1)}
	}
	copied, err := c.CopyFrom(ctx, pgx.Identifier{table}, []string{"id", "v"}, pgx.CopyFromRows(rows))
	if err != nil || copied != n {
		t.Fatalf("CopyFrom: %d rows, %v", copied, err)
	}
	var count, sum int
	var last string
	if err := direct.QueryRow(ctx, "SELECT count(*), sum(id), max(v) FILTER (WHERE id = $1) FROM "+table, n).Scan(&count, &sum, &last); err != nil {
		t.Fatal(err)
	}
	if count != n || sum != n*(n+1)/2 || last != fmt.Sprintf("row %d", n) {
		t.Fatalf("after CopyFrom: %d rows, sum %d, last %q", count, sum, last)
	}
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the connection after CopyFrom: %v", err)
	}
}

// COPY TO STDOUT through the proxy gives the bytes a direct one gives.
func TestPostgresCopyTo(t *testing.T) {
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 20*time.Second)
	const q = "COPY (SELECT g, md5(g::text), repeat('x', g % 100) FROM generate_series(1, 20000) g) TO STDOUT"
	var viaProxy, direct bytes.Buffer
	for _, side := range []struct {
		addr string
		buf  *bytes.Buffer
	}{{p.Addr(), &viaProxy}, {testenv.PostgresAddr(t), &direct}} {
		c := pgConnect(t, side.addr, "sslmode=disable")
		tag, err := c.PgConn().CopyTo(ctx, side.buf, q)
		if err != nil || tag.RowsAffected() != 20000 {
			t.Fatalf("CopyTo via %s: %v, %v", side.addr, tag, err)
		}
	}
	if !bytes.Equal(viaProxy.Bytes(), direct.Bytes()) {
		t.Fatalf("COPY TO through the proxy: %d bytes differing from the %d of a direct one", viaProxy.Len(), direct.Len())
	}
}

// One Query with two statements gives two results through the proxy.
func TestPostgresMultiStatementQuery(t *testing.T) {
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 10*time.Second)
	c := pgConnect(t, p.Addr(), "sslmode=disable")
	results, err := c.PgConn().Exec(ctx, "SELECT 1; SELECT 2").ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 2 {
		t.Fatalf("%d results, want 2", len(results))
	}
	for i, r := range results {
		want := fmt.Sprint(i + 1)
		if r.Err != nil || len(r.Rows) != 1 || len(r.Rows[0]) != 1 || string(r.Rows[0][0]) != want || r.CommandTag.String() != "SELECT 1" {
			t.Fatalf("result %d: rows %q, tag %q, %v; want one row %s", i, r.Rows, r.CommandTag, r.Err, want)
		}
	}
	if c.PgConn().TxStatus() != 'I' {
		t.Fatalf("status %q afterwards", c.PgConn().TxStatus())
	}
}

// A row of 8 MiB goes to the server as a parameter and comes back whole.
func TestPostgresLargeRow(t *testing.T) {
	p := newPostgresProxy(t)
	ctx := pgCtx(t, 30*time.Second)
	c := pgConnect(t, p.Addr(), "sslmode=disable")
	sent := make([]byte, 8<<20)
	rand.Read(sent)
	var got []byte
	var length int
	if err := c.QueryRow(ctx, "SELECT $1::bytea, length($1::bytea)", sent).Scan(&got, &length); err != nil {
		t.Fatal(err)
	}
	if length != len(sent) || !bytes.Equal(got, sent) {
		t.Fatalf("sent %d bytes; the server counted %d, and %d came back (equal: %v)", len(sent), length, len(got), bytes.Equal(got, sent))
	}
}

// pgx's CancelRequestContextWatcherHandler sends a CancelRequest on a new
// connection when the query's context ends; through the proxy it reaches
// the server, which cancels the statement running there: the query gets
// the server's 57014 within a few seconds, and the connection stays
// usable.
func TestPostgresCancelRequest(t *testing.T) {
	p := newPostgresProxy(t)
	cfg, err := pgx.ParseConfig(testenv.PostgresDSN(p.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: 8 * time.Second}
	}
	c, err := pgx.ConnectConfig(pgCtx(t, 10*time.Second), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	qctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Exec(qctx, "SELECT pg_sleep(10)")
	took := time.Since(start)
	t.Logf("%v after %v", err, took)
	pe := pgError(t, err)
	if pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
		t.Fatalf("got %s %q, want 57014 canceling statement due to user request", pe.Code, pe.Message)
	}
	if took > 4*time.Second {
		t.Fatalf("the cancel took %v", took)
	}
	if s := p.Stats(); s.ConnsTotal < 2 {
		t.Fatalf("%d connections through the proxy: the CancelRequest did not come through it", s.ConnsTotal)
	}
	var one int
	if err := c.QueryRow(pgCtx(t, 5*time.Second), "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("the connection after the cancel: %v", err)
	}
}

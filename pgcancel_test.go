package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/gofaults/faults"
)

// pgConnectCancelling connects pgx so that a context ending during a
// statement sends a CancelRequest (on a new connection, to the proxy) and
// waits for the statement's answer, as lib/pq and psql do.
func pgConnectCancelling(t *testing.T, addr string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig("postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
	}
	c, err := pgx.ConnectConfig(pgCtx(t, 10*time.Second), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// A CancelRequest for a statement the proxy is holding is answered by the
// proxy, on the statement's connection, with the cancel's error, as the
// server answers a statement cancelled while it runs; the connection then
// goes on. A statement held before it reaches the server is raised as
// cancelled by the server itself, so that a transaction block is aborted
// as after a real cancel.
func TestPostgresCancelOfAHeldStatement(t *testing.T) {
	for _, c := range []struct {
		name  string
		b     faults.Behavior
		query string
	}{
		{"held before the server", faults.DelayRequest(time.Minute), "SELECT 42"},
		{"answer held", faults.DelayResponse(time.Minute), "SELECT 42"},
		{"answer dropped", faults.DropResponse(), "SELECT 42"},
		// Cancelled while the server still runs it: its answer, which
		// the proxy will drop, has not begun. The server stops it.
		{"answer to be dropped", faults.DropResponse(), "SELECT 42, pg_sleep(5)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newPostgresProxy(t)
			conn := pgConnectCancelling(t, p.Addr())
			mustSet(t, p, c.b.When(faults.Query(`^SELECT 42`)))
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := conn.Exec(ctx, c.query)
			if d := time.Since(start); d > 4*time.Second {
				t.Fatalf("the cancelled statement returned after %v", d)
			}
			checkPgReply(t, err, faults.PostgresQueryCanceled)
			var n int
			if err := conn.QueryRow(context.Background(), "SELECT 7").Scan(&n); err != nil || n != 7 {
				t.Fatalf("the connection after the cancel: %d, %v", n, err)
			}
		})
	}
}

// A CancelRequest for a statement the server is running reaches the
// server, through the proxy.
func TestPostgresCancelReachesTheServer(t *testing.T) {
	p := newPostgresProxy(t)
	conn := pgConnectCancelling(t, p.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := conn.Exec(ctx, "SELECT pg_sleep(30)")
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the cancelled statement returned after %v", d)
	}
	if pe := pgError(t, err); pe.Code != "57014" || pe.Message != faults.PostgresQueryCanceled.Message() {
		t.Fatalf("got %s %q, want the server's cancel", pe.Code, pe.Message)
	}
}

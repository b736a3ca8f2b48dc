package pgwire

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"

	"github.com/gofaults/faults/internal/testenv"
)

// The captured sessions: each recorded from the real server by
// TestCaptureSessions (FAULTS_CAPTURE=1) through a recording relay while
// pgx ran it, as testdata/<name>.client (what pgx sent, startup packet
// first) and testdata/<name>.server (what the server answered), with
// testdata/<name>.json holding what pgx reported (sessionFacts).
var capturedSessions = []string{
	"simple",      // simple queries: rows, two statements in one Query, a SET (ParameterStatus)
	"extended",    // a query with arguments prepared, then executed twice
	"errors",      // a unique violation (with detail) in the extended protocol, a syntax error in the simple one
	"transaction", // BEGIN, a division by zero, then 25P02, ROLLBACK
	"notify",      // a LISTENing session notified by another
	"cancel",      // a query cancelled by a context deadline: pgx sends a CancelRequest
}

// sessionFacts is what the client saw of a captured session.
type sessionFacts struct {
	ServerVersion string         `json:",omitempty"`
	Errors        []ErrorFields  `json:",omitempty"` // pgx's PgErrors, in the order reported
	Notifications []notification `json:",omitempty"`
}

type notification struct {
	PID     uint32
	Channel string
	Payload string
}

// errorFieldsOf converts what pgx reports of a server's error.
func errorFieldsOf(e *pgconn.PgError) ErrorFields {
	num := func(n int32) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(int(n))
	}
	return ErrorFields{
		Severity: e.Severity, SeverityUnlocalized: e.SeverityUnlocalized, Code: e.Code,
		Message: e.Message, Detail: e.Detail, Hint: e.Hint, Position: num(e.Position),
		InternalPosition: num(e.InternalPosition), InternalQuery: e.InternalQuery, Where: e.Where,
		SchemaName: e.SchemaName, TableName: e.TableName, ColumnName: e.ColumnName,
		DataTypeName: e.DataTypeName, ConstraintName: e.ConstraintName, File: e.File,
		Line: num(e.Line), Routine: e.Routine,
	}
}

// TestCaptureSessions records capturedSessions from the real server and
// writes them to testdata. It runs only under FAULTS_CAPTURE=1: the
// fixtures are checked in, and TestCapturedSessions checks them without a
// server.
func TestCaptureSessions(t *testing.T) {
	if !capturing() {
		t.Skip("captures fixtures from the real server with FAULTS_CAPTURE=1")
	}
	addr := testenv.PostgresAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	direct, err := pgx.Connect(ctx, testenv.PostgresDSN(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(context.Background())
	var version string
	if err := direct.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	const table = "faults_capture_pg"
	exec := func(c *pgx.Conn, sql string, args ...any) {
		t.Helper()
		if _, err := c.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(direct, "DROP TABLE IF EXISTS "+table)
	exec(direct, "CREATE TABLE "+table+" (id int PRIMARY KEY, name text)")
	defer direct.Exec(context.Background(), "DROP TABLE IF EXISTS "+table)

	for _, name := range capturedSessions {
		rec := testenv.NewRecorder(t, addr, nil)
		cfg, err := pgx.ParseConfig(testenv.PostgresDSN(rec.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		if name == "cancel" {
			// Cancel on the server at once when the context ends, and
			// wait for its answer (pgx's default closes the connection).
			cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
				return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 5 * time.Second}
			}
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		facts := sessionFacts{ServerVersion: version}
		pgErr := func(err error) {
			t.Helper()
			var e *pgconn.PgError
			if !errors.As(err, &e) {
				t.Fatalf("%s: not a server's error: %v", name, err)
			}
			facts.Errors = append(facts.Errors, errorFieldsOf(e))
		}
		switch name {
		case "simple":
			// pgconn's Exec is the simple protocol, whatever the text.
			for _, sql := range []string{
				"SELECT g, 'row ' || g AS name, NULL AS nothing FROM generate_series(1, 3) g",
				"SELECT 1 AS a; SELECT 'two' AS b",
				"SET application_name = 'faults-capture'",
			} {
				if _, err := conn.PgConn().Exec(ctx, sql).ReadAll(); err != nil {
					t.Fatal(err)
				}
			}
		case "extended":
			for range 2 {
				rows, err := conn.Query(ctx, "SELECT g, $1::text FROM generate_series(1, $2::int) g", "x", 3)
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
				}
				if rows.Close(); rows.Err() != nil {
					t.Fatal(rows.Err())
				}
			}
		case "errors":
			exec(conn, "INSERT INTO "+table+" VALUES ($1, $2)", 1, "one")
			_, err := conn.Exec(ctx, "INSERT INTO "+table+" VALUES ($1, $2)", 1, "again")
			pgErr(err)
			_, err = conn.Exec(ctx, "SELEC id FROM "+table)
			pgErr(err)
		case "transaction":
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = tx.Exec(ctx, "SELECT 1/0")
			pgErr(err)
			_, err = tx.Exec(ctx, "SELECT 1")
			pgErr(err)
			if err := tx.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
		case "notify":
			exec(conn, "LISTEN faults_capture_ch")
			exec(direct, "NOTIFY faults_capture_ch, 'hello from the notifier'")
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			n, err := conn.WaitForNotification(wctx)
			wcancel()
			if err != nil {
				t.Fatal(err)
			}
			if n.PID != direct.PgConn().PID() {
				t.Fatalf("notified by %d, not %d", n.PID, direct.PgConn().PID())
			}
			facts.Notifications = append(facts.Notifications, notification{n.PID, n.Channel, n.Payload})
		case "cancel":
			cctx, ccancel := context.WithTimeout(ctx, 300*time.Millisecond)
			_, err := conn.Exec(cctx, "SELECT pg_sleep(5)")
			ccancel()
			pgErr(err)
		}
		conn.Close(ctx)
		rec.Close()
		recs := rec.Recordings()
		want := 1
		if name == "cancel" {
			want = 2
		}
		if len(recs) != want {
			t.Fatalf("%s: %d connections recorded", name, len(recs))
		}
		client, server := recs[0].Streams()
		writeFixture(t, name+".client", client)
		writeFixture(t, name+".server", server)
		if name == "cancel" {
			req, _ := recs[1].Streams()
			writeFixture(t, "cancel-request.client", req)
		}
		js, err := json.MarshalIndent(facts, "", "\t")
		if err != nil {
			t.Fatal(err)
		}
		writeFixture(t, name+".json", append(js, '\n'))
	}
}

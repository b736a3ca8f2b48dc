package faults_test

// The catalog of PostgreSQL replies against the real server: each entry
// that can be provoked is provoked, and the error the server sends is
// compared with the catalog's, field by field. The fields the catalog does
// not export (File, Line, Routine) are read from the error pgx reports when
// a proxy injects the catalog's reply.
//
// PostgresCannotConnectNow (57P03) is not provoked: the server sends it
// only while it starts up (or shuts down, with another text), a window of
// a few milliseconds that a test cannot hit reliably.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/internal/testenv"
)

// pgQuotedName matches a quoted name in a message: a relation, a
// constraint, a user.
var pgQuotedName = regexp.MustCompile(`"[^"]*"`)

// pgShape returns msg with its quoted names replaced by "…".
func pgShape(msg string) string { return pgQuotedName.ReplaceAllString(msg, `"…"`) }

// pgInjected returns the error pgx reports when a proxy in front of target
// injects reply: on a statement for a reply to statements, on the login of
// user for a startup one.
func pgInjected(t *testing.T, target string, reply faults.PostgresReply, user, password string) *pgconn.PgError {
	t.Helper()
	p := newProxy(t, target, faults.WithProtocol(faults.Postgres()))
	ctx := pgCtx(t, 10*time.Second)
	if reply.Code() == "53300" || reply.Code() == "57P03" || reply.Code() == "28P01" {
		mustSet(t, p, faults.Error(reply).Times(1))
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s/postgres?sslmode=disable&connect_timeout=5", user, password, p.Addr()))
		if err == nil {
			c.Close(ctx)
			t.Fatalf("a login through a proxy injecting %v succeeded", reply)
		}
		return pgError(t, err)
	}
	mustSet(t, p, faults.Error(reply).When(faults.Query(`faults_inject`)).Times(1))
	c := pgConnect(t, p.Addr(), "sslmode=disable")
	_, err := c.Exec(ctx, "SELECT 'faults_inject'")
	if err == nil {
		t.Fatalf("a statement through a proxy injecting %v succeeded", reply)
	}
	if got := p.Stats().Injected; got != 1 {
		t.Fatalf("Stats().Injected = %d, want 1", got)
	}
	return pgError(t, err)
}

// pgCompare checks the server's error real against the catalog's reply
// and against injected, what a client reads of that reply through the
// proxy. exactMessage says whether the real text can be compared as it is
// or only in its shape (its quoted names being the test's). Detail is
// compared when withDetail (the catalog's detail names nothing of the
// test's), else the catalog must have none.
func pgCompare(t *testing.T, real, injected *pgconn.PgError, reply faults.PostgresReply, exactMessage, withDetail bool) {
	t.Helper()
	t.Logf("server: %s/%s %s %q detail %q hint %q at %s:%d %s", real.Severity, real.SeverityUnlocalized, real.Code, real.Message, real.Detail, real.Hint, real.File, real.Line, real.Routine)
	t.Logf("proxy:  %s/%s %s %q detail %q hint %q at %s:%d %s", injected.Severity, injected.SeverityUnlocalized, injected.Code, injected.Message, injected.Detail, injected.Hint, injected.File, injected.Line, injected.Routine)
	check := func(field, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: the server says %q, the catalog's %v %q", field, got, reply, want)
		}
	}
	check("Severity", real.Severity, reply.Severity())
	check("SeverityUnlocalized", real.SeverityUnlocalized, reply.Severity())
	check("Code", real.Code, reply.Code())
	if exactMessage {
		check("Message", real.Message, reply.Message())
	} else {
		check("Message (shape)", pgShape(real.Message), pgShape(reply.Message()))
	}
	if withDetail {
		check("Detail", real.Detail, reply.DetailText())
	} else {
		check("Detail (the catalog has none)", "", reply.DetailText())
	}
	check("Hint", real.Hint, reply.HintText())
	check("File", real.File, injected.File)
	check("Line", fmt.Sprint(real.Line), fmt.Sprint(injected.Line))
	check("Routine", real.Routine, injected.Routine)
	// What the client reads of the injected reply is the catalog's.
	check("injected Severity", injected.Severity, reply.Severity())
	check("injected SeverityUnlocalized", injected.SeverityUnlocalized, reply.Severity())
	check("injected Code", injected.Code, reply.Code())
	if exactMessage {
		check("injected Message", injected.Message, reply.Message())
	} else {
		check("injected Message (shape)", pgShape(injected.Message), pgShape(reply.Message()))
	}
	check("injected Detail", injected.Detail, reply.DetailText())
	check("injected Hint", injected.Hint, reply.HintText())
	if injected.File == "" || injected.Line == 0 || injected.Routine == "" {
		t.Errorf("the injected reply names no source place: %q:%d %q", injected.File, injected.Line, injected.Routine)
	}
}

// pgExec runs q on c, failing the test on an error.
func pgExec(t *testing.T, ctx context.Context, c *pgx.Conn, q string) {
	t.Helper()
	if _, err := c.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// pgWaitActive waits until the backend pid runs a statement that has
// waitFor in its text (it is then sleeping in it).
func pgWaitActive(t *testing.T, ctx context.Context, observer *pgx.Conn, pid uint32, waitFor string) {
	t.Helper()
	for {
		var n int
		err := observer.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%' || $2 || '%'", int32(pid), waitFor).Scan(&n)
		if err != nil {
			t.Fatalf("watching backend %d: %v", pid, err)
		}
		if n > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("backend %d never ran %q", pid, waitFor)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Each catalog reply to a statement, provoked on the shared server as the
// catalog's comment says, is what the server sends, field by field.
func TestPostgresCatalogAgainstServer(t *testing.T) {
	addr := testenv.PostgresAddr(t)
	direct := func(t *testing.T) *pgx.Conn { return pgConnect(t, addr, "sslmode=disable") }
	cases := []struct {
		name         string
		reply        faults.PostgresReply
		exactMessage bool
		withDetail   bool
		provoke      func(t *testing.T, ctx context.Context) error
	}{
		{"deadlock", faults.PostgresDeadlock, true, false, func(t *testing.T, ctx context.Context) error {
			// Two blocks lock a row each, then each wants the other's:
			// the deadlock detector fails one of them after
			// deadlock_timeout; the other goes on once the victim rolls
			// back.
			table, d := pgTable(t, "id int PRIMARY KEY, v int")
			pgExec(t, ctx, d, "INSERT INTO "+table+" VALUES (1, 0), (2, 0)")
			a, b := direct(t), direct(t)
			for i, c := range []*pgx.Conn{a, b} {
				pgExec(t, ctx, c, "BEGIN")
				pgExec(t, ctx, c, fmt.Sprintf("UPDATE %s SET v = 1 WHERE id = %d", table, i+1))
			}
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, c := range []*pgx.Conn{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, errs[i] = c.Exec(ctx, fmt.Sprintf("UPDATE %s SET v = 2 WHERE id = %d", table, 2-i))
					if errs[i] != nil {
						c.Exec(ctx, "ROLLBACK")
					}
				}()
			}
			wg.Wait()
			a.Exec(ctx, "ROLLBACK")
			b.Exec(ctx, "ROLLBACK")
			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("want exactly one victim: %v, %v", errs[0], errs[1])
			}
			return errors.Join(errs...)
		}},
		{"serialization failure", faults.PostgresSerializationFailure, true, false, func(t *testing.T, ctx context.Context) error {
			// A REPEATABLE READ block updates a row that another session
			// changed after the block's snapshot.
			table, d := pgTable(t, "id int PRIMARY KEY, v int")
			pgExec(t, ctx, d, "INSERT INTO "+table+" VALUES (1, 0)")
			c := direct(t)
			pgExec(t, ctx, c, "BEGIN ISOLATION LEVEL REPEATABLE READ")
			pgExec(t, ctx, c, "SELECT * FROM "+table)
			pgExec(t, ctx, d, "UPDATE "+table+" SET v = 1 WHERE id = 1")
			_, err := c.Exec(ctx, "UPDATE "+table+" SET v = 2 WHERE id = 1")
			c.Exec(ctx, "ROLLBACK")
			return err
		}},
		{"lock not available", faults.PostgresLockNotAvailable, false, false, func(t *testing.T, ctx context.Context) error {
			table, d := pgTable(t, "id int PRIMARY KEY")
			pgExec(t, ctx, d, "INSERT INTO "+table+" VALUES (1)")
			c := direct(t)
			pgExec(t, ctx, d, "BEGIN")
			pgExec(t, ctx, d, "SELECT * FROM "+table+" WHERE id = 1 FOR UPDATE")
			defer d.Exec(ctx, "ROLLBACK")
			_, err := c.Exec(ctx, "SELECT * FROM "+table+" WHERE id = 1 FOR UPDATE NOWAIT")
			return err
		}},
		{"statement timeout", faults.PostgresStatementTimeout, true, false, func(t *testing.T, ctx context.Context) error {
			c := direct(t)
			pgExec(t, ctx, c, "SET statement_timeout = 100")
			_, err := c.Exec(ctx, "SELECT pg_sleep(5)")
			return err
		}},
		{"cancel", faults.PostgresQueryCanceled, true, false, func(t *testing.T, ctx context.Context) error {
			c, observer := direct(t), direct(t)
			done := make(chan error, 1)
			go func() {
				_, err := c.Exec(ctx, "SELECT pg_sleep(10) -- faults_cancel_me")
				done <- err
			}()
			pgWaitActive(t, ctx, observer, c.PgConn().PID(), "faults_cancel_me")
			var ok bool
			if err := observer.QueryRow(ctx, "SELECT pg_cancel_backend($1)", int32(c.PgConn().PID())).Scan(&ok); err != nil || !ok {
				t.Fatalf("pg_cancel_backend: %v, %v", ok, err)
			}
			return <-done
		}},
		{"terminate", faults.PostgresAdminShutdown, true, false, func(t *testing.T, ctx context.Context) error {
			c, observer := direct(t), direct(t)
			done := make(chan error, 1)
			go func() {
				_, err := c.Exec(ctx, "SELECT pg_sleep(10) -- faults_terminate_me")
				done <- err
			}()
			pgWaitActive(t, ctx, observer, c.PgConn().PID(), "faults_terminate_me")
			var ok bool
			if err := observer.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(c.PgConn().PID())).Scan(&ok); err != nil || !ok {
				t.Fatalf("pg_terminate_backend: %v, %v", ok, err)
			}
			err := <-done
			if !c.IsClosed() {
				t.Errorf("pgx kept the connection open after the FATAL")
			}
			return err
		}},
		{"read-only transaction", faults.PostgresReadOnlyTransaction, true, false, func(t *testing.T, ctx context.Context) error {
			table, _ := pgTable(t, "id int PRIMARY KEY")
			c := direct(t)
			pgExec(t, ctx, c, "BEGIN READ ONLY")
			_, err := c.Exec(ctx, "INSERT INTO "+table+" VALUES (1)")
			c.Exec(ctx, "ROLLBACK")
			return err
		}},
		{"unique violation", faults.PostgresUniqueViolation, false, true, func(t *testing.T, ctx context.Context) error {
			table, d := pgTable(t, "id int PRIMARY KEY")
			pgExec(t, ctx, d, "INSERT INTO "+table+" VALUES (1)")
			_, err := d.Exec(ctx, "INSERT INTO "+table+" VALUES (1)")
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := pgCtx(t, 30*time.Second)
			err := c.provoke(t, ctx)
			if err == nil {
				t.Fatal("the server did not fail the statement")
			}
			real := pgError(t, err)
			pgCompare(t, real, pgInjected(t, addr, c.reply, "", ""), c.reply, c.exactMessage, c.withDetail)
		})
	}
}

// The startup refusals, provoked on the throw-away cluster: a login past
// max_connections (53300, sent by the server before any authentication)
// and a login with a wrong password (28P01, which names the user: the
// proxy names the user of the StartupMessage, so its text is compared
// exactly).
func TestPostgresStartupCatalogAgainstServer(t *testing.T) {
	addr := pgThrowAway(t)
	t.Run("too many clients", func(t *testing.T) {
		ctx := pgCtx(t, 30*time.Second)
		var real *pgconn.PgError
		// Take every slot: the login after the last one is refused.
		for i := 0; i <= pgClusterMaxConns+2 && real == nil; i++ {
			c, err := pgx.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable&connect_timeout=5")
			if err != nil {
				real = pgError(t, err)
				break
			}
			t.Cleanup(func() { c.Close(context.Background()) })
		}
		if real == nil {
			t.Fatalf("%d logins on a server with max_connections=%d all succeeded", pgClusterMaxConns+3, pgClusterMaxConns)
		}
		injected := pgInjected(t, addr, faults.PostgresTooManyConnections, "postgres", "")
		pgCompare(t, real, injected, faults.PostgresTooManyConnections, true, false)
	})
	t.Run("invalid password", func(t *testing.T) {
		ctx := pgCtx(t, 30*time.Second)
		for _, user := range []string{pgClusterMD5, pgClusterSCRAM, pgClusterPlain} {
			t.Run(user, func(t *testing.T) {
				c, err := pgClusterConnect(ctx, addr, user, "wrong")
				if err == nil {
					c.Close(ctx)
					t.Fatal("a wrong password logged in")
				}
				real := pgError(t, err)
				injected := pgInjected(t, addr, faults.PostgresInvalidPassword, user, "wrong")
				pgCompare(t, real, injected, faults.PostgresInvalidPassword, false, false)
				want := `password authentication failed for user "` + user + `"`
				if real.Message != want || injected.Message != want {
					t.Errorf("the server says %q, the proxy %q; want %q", real.Message, injected.Message, want)
				}
			})
		}
	})
}

package bank

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/lib/pq"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// What the drivers do with the proxy's faults, which the README's driver
// notes state: lib/pq under database/sql hides a FATAL and runs an
// aborted statement twice; the proxy's refusal of SSL lets
// sslmode=prefer (pgx's default) go on in clear and fails
// sslmode=require (lib/pq's default) at once.
func TestPostgresDriverNotes(t *testing.T) {
	p := faulttest.NewProxy(t, postgresAddr(t), faults.WithProtocol(faults.Postgres()))
	ctx := ctxFor(t)

	// lib/pq turns a FATAL or a connection lost before the answer into
	// driver.ErrBadConn, and database/sql then runs the statement again
	// on a new connection.
	t.Run("lib/pq", func(t *testing.T) {
		db, err := sql.Open("postgres", "postgres://postgres@"+p.Addr()+"/test?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		table := fmt.Sprintf("pq_log_%08x", rand.Uint32())
		if _, err := db.ExecContext(ctx, "CREATE TABLE "+table+" (n int)"); err != nil {
			t.Fatal(err)
		}
		defer db.ExecContext(context.Background(), "DROP TABLE "+table)
		count := func(n int) int {
			var c int
			if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM %s WHERE n = %d", table, n)).Scan(&c); err != nil {
				t.Fatal(err)
			}
			return c
		}

		before := p.Stats().Injected
		faulttest.WithBehavior(t, p, faults.Error(faults.PostgresAdminShutdown).When(faults.Query(`^INSERT`)).Times(1), func() {
			if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1)"); err != nil {
				t.Fatalf("INSERT after a FATAL: %v; lib/pq was expected to hide it", err)
			}
		})
		if n := p.Stats().Injected - before; n != 1 || count(1) != 1 {
			t.Fatalf("%d FATALs fired, %d rows; want 1 FATAL, invisible, and the INSERT run once on a new connection", n, count(1))
		}

		faulttest.WithBehavior(t, p, faults.Abort().When(faults.Query(`^INSERT`)).Times(1), func() {
			if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (2)"); err != nil {
				t.Fatalf("INSERT after its connection was lost: %v; lib/pq was expected to hide it", err)
			}
		})
		// The aborted INSERT was sent on to the server before the
		// connection closed; the server usually runs it before it sees
		// the connection go (then there are 2 rows), not always.
		switch n := count(2); n {
		case 1, 2:
			t.Logf("%d rows after an aborted INSERT that database/sql ran again", n)
		default:
			t.Fatalf("%d rows after an aborted INSERT; want 2, or 1 if the server did not run the first", n)
		}

		// lib/pq's default sslmode is require.
		strict, err := sql.Open("postgres", "postgres://postgres@"+p.Addr()+"/test")
		if err != nil {
			t.Fatal(err)
		}
		defer strict.Close()
		if err := strict.PingContext(ctx); err == nil {
			t.Fatal("lib/pq with its default sslmode=require connected through the proxy")
		} else {
			t.Logf("lib/pq, sslmode=require: %v", err)
		}
	})

	t.Run("pgx sslmode", func(t *testing.T) {
		c, err := pgx.Connect(ctx, "postgres://postgres@"+p.Addr()+"/test?sslmode=prefer")
		if err != nil {
			t.Fatalf("sslmode=prefer: %v", err)
		}
		c.Close(ctx)
		t0 := time.Now()
		if _, err := pgx.Connect(ctx, "postgres://postgres@"+p.Addr()+"/test?sslmode=require"); err == nil {
			t.Fatal("sslmode=require connected through the proxy")
		} else if d := time.Since(t0); d > 2*time.Second {
			t.Fatalf("sslmode=require failed after %v, want at once", d)
		} else {
			t.Logf("pgx, sslmode=require: %v", err)
		}
	})
}

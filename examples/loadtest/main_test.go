package loadtest

import (
	"context"
	"fmt"
	"io"
	"log"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/gofaults/faults/internal/testenv"
)

// TestMain runs the tests and fails the run if a goroutine they started
// (the proxy's, the pools', the load generator's) outlives them.
func TestMain(m *testing.M) {
	// The driver logs every connection the restart kills ("closing bad idle
	// connection", "unexpected EOF"); the tests count the errors instead.
	_ = mysql.SetLogger(log.New(io.Discard, "", 0))
	goleak.VerifyTestMain(m)
}

// mysqlAddr returns the address of the MySQL or MariaDB server the tests
// use (user root, no password, database test), or skips or fails the test:
// see testenv.MySQLAddr.
func mysqlAddr(t testing.TB) string {
	t.Helper()
	return testenv.MySQLAddr(t)
}

var tableSeq atomic.Int64

// newService returns a Service on a pool that reaches the server through
// addr (a proxy's), with a table of users unique to the test that the
// server direct holds. The table is dropped and the pools are closed at
// cleanup.
//
// Its calls time out after 5 s, not the service's default: on a loaded CI
// machine, under -race, a healthy call can take longer than 500 ms, and
// the tests that are not about deadlines must not fail for it.
func newService(t *testing.T, server, addr string, users int) *Service {
	t.Helper()
	table := fmt.Sprintf("users_%d_%d", time.Now().UnixNano()%1e9, tableSeq.Add(1))
	direct, err := OpenDB(DSN(server, "root", "test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	admin := &Service{DB: direct, Table: table}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.CreateTable(ctx, users); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := admin.DropTable(ctx); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	db, err := OpenDB(DSN(addr, "root", "test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Service{DB: db, Table: table, Timeout: 5 * time.Second}
}

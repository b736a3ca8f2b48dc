package loadtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"
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
// use: FAULTS_MYSQL_ADDR, or 127.0.0.1:3306, with user root, no password
// and database test. It skips the test if no server answers there, or
// fails it if FAULTS_REQUIRE_SERVICES=1; it fails the test if a server
// answers but refuses the login.
func mysqlAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("FAULTS_MYSQL_ADDR")
	if addr == "" {
		addr = "127.0.0.1:3306"
	}
	db, err := sql.Open("mysql", DSN(addr, "root", "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		var opErr *net.OpError
		if !errors.As(err, &opErr) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("MySQL server at %s (FAULTS_MYSQL_ADDR) refuses the tests' login (root, no password, database test): %v", addr, err)
		}
		msg := fmt.Sprintf("no MySQL server at %s (set FAULTS_MYSQL_ADDR to host:port): %v", addr, err)
		if os.Getenv("FAULTS_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg + "; FAULTS_REQUIRE_SERVICES=1")
		}
		t.Skip(msg)
	}
	return addr
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

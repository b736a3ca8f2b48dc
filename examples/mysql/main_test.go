package shop

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"go.uber.org/goleak"

	"github.com/gofaults/faults/internal/testenv"
)

// mysqlAddr is the host:port of the MySQL or MariaDB server the tests front
// with proxies (user root, empty password, database test).
var mysqlAddr string

// TestMain finds a MySQL server, runs the tests, and fails the run if a
// goroutine the tests started outlives them (as goleak.VerifyTestMain does).
//
// The server is, in order: a MariaDB container started with testcontainers
// (if Docker runs here), the server at FAULTS_MYSQL_ADDR, or the one at
// 127.0.0.1:3306. With none of them, every test is skipped: the run prints
// why and exits 0, unless FAULTS_REQUIRE_SERVICES=1, when it exits 1.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The driver logs each connection the proxy cuts; the tests check the
	// errors Checkout returns instead.
	mysql.SetLogger(log.New(io.Discard, "", 0))
	addr, stop, why := findMySQL()
	if addr == "" {
		msg := "examples/mysql: no MySQL server, skipping all tests: " + why
		if testenv.Required() {
			fmt.Fprintln(os.Stderr, msg+"; "+testenv.EnvRequireServices+"=1, failing")
			return 1
		}
		fmt.Println(msg)
		return 0
	}
	mysqlAddr = addr
	// Goroutines that exist now (testcontainers' Docker client, the
	// driver's) are not the tests' leaks.
	baseline := goleak.IgnoreCurrent()
	code := m.Run()
	if stop != nil {
		stop()
	}
	if code == 0 {
		if err := goleak.Find(baseline); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			return 1
		}
	}
	return code
}

// findMySQL returns the address of a usable server, a function that stops
// it if the tests started it, or why there is none.
func findMySQL() (addr string, stop func(), why string) {
	caddr, cstop, cerr := startContainer(45 * time.Second)
	if cerr == nil {
		if err := ping(caddr); err == nil {
			fmt.Printf("examples/mysql: using a MariaDB container at %s\n", caddr)
			return caddr, cstop, ""
		} else {
			cstop()
			cerr = err
		}
	}
	addr = testenv.MySQLAddrFromEnv()
	if err := ping(addr); err != nil {
		return "", nil, fmt.Sprintf("testcontainers: %v; and %s (%s, user root, no password, database test): %v", cerr, addr, testenv.EnvMySQLAddr, err)
	}
	fmt.Printf("examples/mysql: no container (%v); using the server at %s\n", cerr, addr)
	return addr, nil, ""
}

// startContainer starts a MariaDB container with testcontainers, giving up
// after timeout. Without a Docker engine it fails within a second or so.
func startContainer(timeout time.Duration) (addr string, stop func(), err error) {
	defer func() {
		// Some testcontainers paths panic when no Docker host can be found.
		if r := recover(); r != nil {
			err = fmt.Errorf("testcontainers panicked: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := testcontainers.Run(ctx, "mariadb:10.11",
		testcontainers.WithExposedPorts("3306/tcp"),
		testcontainers.WithEnv(map[string]string{
			"MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "1",
			"MARIADB_DATABASE":                  "test",
		}),
		testcontainers.WithWaitStrategyAndDeadline(timeout,
			wait.ForLog("ready for connections").WithOccurrence(2),
			wait.ForListeningPort("3306/tcp")),
	)
	stop = func() {
		if c != nil {
			testcontainers.TerminateContainer(c)
		}
	}
	if err != nil {
		stop()
		return "", nil, err
	}
	addr, err = c.PortEndpoint(ctx, "3306/tcp", "")
	if err != nil {
		stop()
		return "", nil, err
	}
	return addr, stop, nil
}

// dsn is the driver's DSN for the tests' login at addr, with timeouts that
// bound any hung I/O.
func dsn(addr string) string {
	cfg := testenv.MySQLConfig(addr, "root", "")
	cfg.Timeout = 2 * time.Second
	cfg.ReadTimeout = 5 * time.Second
	cfg.WriteTimeout = 5 * time.Second
	return cfg.FormatDSN()
}

// ping logs in to the server at addr (a real login: a port that accepts
// connections is not enough).
func ping(addr string) error {
	db, err := sql.Open("mysql", dsn(addr))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

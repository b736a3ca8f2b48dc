// Package testenv is test support, not part of the faults API: it finds the
// services the tests of this repository (the package's, its examples' and
// the benchmarks') run against, with one convention for all of them.
//
// The contract:
//
//   - A service's address comes from its environment variable,
//     FAULTS_MYSQL_ADDR (default 127.0.0.1:3306), FAULTS_REDIS_ADDR
//     (default 127.0.0.1:6379), FAULTS_POSTGRES_ADDR (default
//     127.0.0.1:5432) or FAULTS_MEMCACHED_ADDR (default 127.0.0.1:11211).
//   - If the service (or a binary a test needs) cannot be reached, the test
//     is skipped with a message that names the variable to set, or fails
//     (t.Fatal) when FAULTS_REQUIRE_SERVICES=1, so that CI cannot pass by
//     skipping everything.
//   - A MySQL server that answers but refuses the tests' login (user root,
//     no password, database test), or a PostgreSQL server that does (user
//     postgres, trust authentication, database test), fails the test:
//     that is a broken setup, not a missing service.
//
// It must not import package faults: the package's internal tests import it.
package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The environment variables of the contract, and the default addresses.
const (
	EnvMySQLAddr       = "FAULTS_MYSQL_ADDR"       // the MySQL or MariaDB server, host:port
	EnvRedisAddr       = "FAULTS_REDIS_ADDR"       // the Redis server, host:port
	EnvPostgresAddr    = "FAULTS_POSTGRES_ADDR"    // the PostgreSQL server, host:port
	EnvRequireServices = "FAULTS_REQUIRE_SERVICES" // "1": a missing service fails the test instead of skipping it

	DefaultMySQLAddr    = "127.0.0.1:3306"
	DefaultRedisAddr    = "127.0.0.1:6379"
	DefaultPostgresAddr = "127.0.0.1:5432"
)

// Required reports whether missing services must fail the tests
// (FAULTS_REQUIRE_SERVICES=1) rather than skip them.
func Required() bool {
	return os.Getenv(EnvRequireServices) == "1"
}

// Unavailable stops the test because something it needs is missing: it
// skips the test with msg, or, under FAULTS_REQUIRE_SERVICES=1, fails it
// with msg and a note saying why it is not skipped.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if Required() {
		t.Fatal(msg + "; " + EnvRequireServices + "=1")
	}
	t.Skip(msg)
}

// MySQLAddrFromEnv returns the address of the tests' MySQL server,
// FAULTS_MYSQL_ADDR or 127.0.0.1:3306, without checking it. For code that
// has no testing.TB (a TestMain); tests use MySQLAddr.
func MySQLAddrFromEnv() string {
	return fromEnv(EnvMySQLAddr, DefaultMySQLAddr)
}

// MySQLAddr returns the address of the MySQL or MariaDB server the tests
// run against (user root, no password, database test): FAULTS_MYSQL_ADDR,
// or 127.0.0.1:3306. It checks it with a real login rather than a bare TCP
// connection, which a server counts against the host (max_connect_errors).
// If nothing answers there, the test is skipped, or fails under
// FAULTS_REQUIRE_SERVICES=1; if a server answers but refuses the login, the
// test fails.
func MySQLAddr(t testing.TB) string {
	t.Helper()
	addr := MySQLAddrFromEnv()
	db, err := sql.Open("mysql", MySQLDSN(addr, "root", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		var opErr *net.OpError
		if !errors.As(err, &opErr) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("MySQL server at %s (%s) refuses the tests' login (root, no password, database test): %v", addr, EnvMySQLAddr, err)
		}
		Unavailable(t, fmt.Sprintf("no MySQL server at %s (set %s to host:port): %v", addr, EnvMySQLAddr, err))
	}
	return addr
}

// MySQLConfig returns go-sql-driver's configuration for user with password
// on database test at addr over TCP, with a 5 s dial timeout; callers may
// adjust it before FormatDSN.
func MySQLConfig(addr, user, password string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = user, password
	cfg.Net, cfg.Addr, cfg.DBName = "tcp", addr, "test"
	cfg.Timeout = 5 * time.Second
	return cfg
}

// MySQLDSN returns go-sql-driver's DSN of MySQLConfig(addr, user, password).
func MySQLDSN(addr, user, password string) string {
	return MySQLConfig(addr, user, password).FormatDSN()
}

// RedisAddr returns the address of the Redis server the tests use,
// FAULTS_REDIS_ADDR or 127.0.0.1:6379, after checking that it accepts a
// TCP connection. If it does not, the test is skipped, or fails under
// FAULTS_REQUIRE_SERVICES=1.
func RedisAddr(t testing.TB) string {
	t.Helper()
	addr := fromEnv(EnvRedisAddr, DefaultRedisAddr)
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		Unavailable(t, fmt.Sprintf("no Redis server at %s (set %s to host:port): %v", addr, EnvRedisAddr, err))
	}
	c.Close()
	return addr
}

// PostgresAddrFromEnv returns the address of the tests' PostgreSQL
// server, FAULTS_POSTGRES_ADDR or 127.0.0.1:5432, without checking it.
// For code that has no testing.TB (a TestMain); tests use PostgresAddr.
func PostgresAddrFromEnv() string {
	return fromEnv(EnvPostgresAddr, DefaultPostgresAddr)
}

// PostgresAddr returns the address of the PostgreSQL server the tests run
// against (user postgres, trust authentication, database test):
// FAULTS_POSTGRES_ADDR, or 127.0.0.1:5432. It checks it with a real
// login in clear (a StartupMessage, then a Terminate once the server
// says the user is authenticated) rather than a bare TCP connection,
// which the server logs as an incomplete startup packet. If nothing
// answers there, the test is skipped, or fails under
// FAULTS_REQUIRE_SERVICES=1; if a server answers but refuses the login or
// asks for a password, the test fails.
func PostgresAddr(t testing.TB) string {
	t.Helper()
	addr := PostgresAddrFromEnv()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		Unavailable(t, fmt.Sprintf("no PostgreSQL server at %s (set %s to host:port): %v", addr, EnvPostgresAddr, err))
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := postgresLogin(c); err != nil {
		t.Fatalf("PostgreSQL server at %s (%s) refuses the tests' login (postgres, trust, database test): %v", addr, EnvPostgresAddr, err)
	}
	return addr
}

// PostgresDSN returns the connection string of user postgres on database
// test at addr, in clear (sslmode=disable: a framing proxy cannot see
// into TLS), with a 5 s connect timeout.
func PostgresDSN(addr string) string {
	return "postgres://postgres@" + addr + "/test?sslmode=disable&connect_timeout=5"
}

// postgresLogin sends a StartupMessage of protocol 3.0 for user postgres
// and database test on c and reads the server's first message: it must
// be AuthenticationOk. It then says goodbye with a Terminate.
func postgresLogin(c net.Conn) error {
	params := "user\x00postgres\x00database\x00test\x00application_name\x00faults-testenv\x00\x00"
	pkt := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
	pkt = binary.BigEndian.AppendUint32(pkt, 3<<16)
	pkt = append(pkt, params...)
	if _, err := c.Write(pkt); err != nil {
		return err
	}
	var head [5]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(head[1:]))
	if n < 4 || n > 64<<10 {
		return fmt.Errorf("not a PostgreSQL server: message %q of length %d", head[0], n)
	}
	payload := make([]byte, n-4)
	if _, err := io.ReadFull(c, payload); err != nil {
		return err
	}
	switch {
	case head[0] == 'E':
		return fmt.Errorf("error response %q", bytes.ReplaceAll(payload, []byte{0}, []byte{' '}))
	case head[0] != 'R' || len(payload) < 4:
		return fmt.Errorf("not a PostgreSQL server: message %q first", head[0])
	case binary.BigEndian.Uint32(payload) != 0:
		return fmt.Errorf("the server asks for authentication (request %d); the tests need trust", binary.BigEndian.Uint32(payload))
	}
	_, err := c.Write([]byte{'X', 0, 0, 0, 4})
	return err
}

// RequireCommand returns the path of the program name (such as
// redis-server or redis-cli) on PATH. If there is none, the test is
// skipped, or fails under FAULTS_REQUIRE_SERVICES=1.
func RequireCommand(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, fmt.Sprintf("no %s on PATH: %v", name, err))
	}
	return path
}

// fromEnv returns the value of the environment variable name, or def if it
// is empty or unset.
func fromEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

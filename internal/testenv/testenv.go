// Package testenv is test support, not part of the faults API: it finds the
// services the tests of this repository (the package's, its examples' and
// the benchmarks') run against, with one convention for all of them.
//
// The contract:
//
//   - A service's address comes from its environment variable,
//     FAULTS_MYSQL_ADDR (default 127.0.0.1:3306) or FAULTS_REDIS_ADDR
//     (default 127.0.0.1:6379).
//   - If the service (or a binary a test needs) cannot be reached, the test
//     is skipped with a message that names the variable to set, or fails
//     (t.Fatal) when FAULTS_REQUIRE_SERVICES=1, so that CI cannot pass by
//     skipping everything.
//   - A MySQL server that answers but refuses the tests' login (user root,
//     no password, database test) fails the test: that is a broken setup,
//     not a missing service.
//
// It must not import package faults: the package's internal tests import it.
package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	EnvRequireServices = "FAULTS_REQUIRE_SERVICES" // "1": a missing service fails the test instead of skipping it

	DefaultMySQLAddr = "127.0.0.1:3306"
	DefaultRedisAddr = "127.0.0.1:6379"
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

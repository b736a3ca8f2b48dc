package testenv

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestAddressesFromEnv(t *testing.T) {
	t.Setenv(EnvMySQLAddr, "")
	if got := MySQLAddrFromEnv(); got != DefaultMySQLAddr {
		t.Errorf("unset: %q, want %q", got, DefaultMySQLAddr)
	}
	t.Setenv(EnvMySQLAddr, "db.example:3307")
	if got := MySQLAddrFromEnv(); got != "db.example:3307" {
		t.Errorf("set: %q", got)
	}
	t.Setenv(EnvPostgresAddr, "")
	if got := PostgresAddrFromEnv(); got != DefaultPostgresAddr {
		t.Errorf("unset: %q, want %q", got, DefaultPostgresAddr)
	}
	t.Setenv(EnvMemcachedAddr, "")
	if got := MemcachedAddrFromEnv(); got != DefaultMemcachedAddr {
		t.Errorf("unset: %q, want %q", got, DefaultMemcachedAddr)
	}
	for v, want := range map[string]bool{"": false, "0": false, "1": true, "yes": false} {
		t.Setenv(EnvRequireServices, v)
		if Required() != want {
			t.Errorf("%s=%q: Required() = %v, want %v", EnvRequireServices, v, !want, want)
		}
	}
}

func TestMySQLDSN(t *testing.T) {
	cfg := MySQLConfig("127.0.0.1:1", "u", "p")
	if cfg.Addr != "127.0.0.1:1" || cfg.User != "u" || cfg.Passwd != "p" || cfg.DBName != "test" {
		t.Errorf("config %+v", cfg)
	}
	if dsn := MySQLDSN("127.0.0.1:1", "u", "p"); dsn != cfg.FormatDSN() {
		t.Errorf("DSN %q, want %q", dsn, cfg.FormatDSN())
	}
}

// TestUnreachableServicesSkip: with nothing listening at the address and
// services not required, the helpers skip the test (run in a subtest,
// whose skip the parent sees).
func TestUnreachableServicesSkip(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	t.Setenv(EnvRequireServices, "")
	t.Setenv(EnvRedisAddr, dead)
	t.Setenv(EnvMySQLAddr, dead)
	t.Setenv(EnvPostgresAddr, dead)
	t.Setenv(EnvMemcachedAddr, dead)
	for name, find := range map[string]func(testing.TB) string{"Redis": RedisAddr, "MySQL": MySQLAddr, "PostgreSQL": PostgresAddr, "memcached": MemcachedAddr} {
		var reached bool
		t.Run(name, func(t *testing.T) {
			find(t)
			reached = true
		})
		if reached {
			t.Errorf("%s: the helper returned an address with no server at %s", name, dead)
		}
	}
	t.Run("command", func(t *testing.T) {
		if path := RequireCommand(t, "sh"); path == "" {
			t.Error("sh not found")
		}
	})
}

// TestPostgresAddr logs in to the tests' PostgreSQL server, when there is
// one (or must be one).
func TestPostgresAddr(t *testing.T) {
	if addr := PostgresAddr(t); addr != PostgresAddrFromEnv() {
		t.Errorf("address %q, want %q", addr, PostgresAddrFromEnv())
	}
}

// TestMemcachedAddr checks the tests' memcached server, when there is one
// (or must be one), and that a private one starts and answers.
func TestMemcachedAddr(t *testing.T) {
	if addr := MemcachedAddr(t); addr != MemcachedAddrFromEnv() {
		t.Errorf("address %q, want %q", addr, MemcachedAddrFromEnv())
	}
	addr := StartMemcached(t, "-m", "2")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := memcachedVersion(c); err != nil || v == "" {
		t.Errorf("private memcached at %s: version %q, %v", addr, v, err)
	}
}

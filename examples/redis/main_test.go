package rediscache

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine outlives the tests: the proxies and
// the go-redis clients (their pools and dialers) must all be closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// redisAddr returns the address of the Redis server the tests use
// (FAULTS_REDIS_ADDR, by default 127.0.0.1:6379), skipping the test if none
// answers, or failing it if FAULTS_REQUIRE_SERVICES=1.
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("FAULTS_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		msg := fmt.Sprintf("no Redis server at %s (set FAULTS_REDIS_ADDR to host:port): %v", addr, err)
		if os.Getenv("FAULTS_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg + "; FAULTS_REQUIRE_SERVICES=1")
		}
		t.Skip(msg)
	}
	c.Close()
	return addr
}

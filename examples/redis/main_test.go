package rediscache

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/gofaults/faults/internal/testenv"
)

// TestMain fails the run if a goroutine outlives the tests: the proxies and
// the go-redis clients (their pools and dialers) must all be closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// redisAddr returns the address of the Redis server the tests use, or
// skips or fails the test: see testenv.RedisAddr.
func redisAddr(t testing.TB) string {
	t.Helper()
	return testenv.RedisAddr(t)
}

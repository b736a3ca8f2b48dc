package mccache

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/gofaults/faults/internal/testenv"
)

// TestMain fails the run if a goroutine outlives the tests: the proxies and
// the loads the cache started must all have ended.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memcachedAddr returns the address of the memcached server the tests use,
// or skips or fails the test: see testenv.MemcachedAddr.
func memcachedAddr(t testing.TB) string {
	t.Helper()
	return testenv.MemcachedAddr(t)
}

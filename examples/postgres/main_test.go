package bank

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/gofaults/faults/internal/testenv"
)

// TestMain fails the run if a goroutine outlives the tests: the proxies,
// the pools (their background health checks) and the load workers must
// all be gone.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// postgresAddr returns the address of the PostgreSQL server the tests
// use, or skips or fails the test: see testenv.PostgresAddr.
func postgresAddr(t testing.TB) string {
	t.Helper()
	return testenv.PostgresAddr(t)
}

package faults_test

import (
	"testing"

	"github.com/gofaults/faults/internal/testenv"
)

// startRedisServer starts a private redis-server for the test, with args
// after the defaults, and returns its address; it is killed at cleanup.
// See testenv.StartRedisServer.
func startRedisServer(t testing.TB, args ...string) string {
	t.Helper()
	return testenv.StartRedisServer(t, args...)
}

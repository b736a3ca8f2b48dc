package faults_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(stopAfter{m})
}

// stopAfter runs the tests, then stops what they started for the whole
// run of the package (the throw-away PostgreSQL cluster).
type stopAfter struct{ m *testing.M }

func (s stopAfter) Run() int {
	code := s.m.Run()
	pgClusterStop()
	return code
}

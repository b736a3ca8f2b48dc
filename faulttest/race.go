//go:build race

package faulttest

// defaultMaxInFlight is the highest default MaxInFlight. The race detector
// allows no more than 8,128 goroutines at once, and the code under test
// needs its share.
const defaultMaxInFlight = 2_000

//go:build !race

package faulttest

// defaultMaxInFlight is the highest default MaxInFlight.
const defaultMaxInFlight = 10_000

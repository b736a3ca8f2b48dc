package faulttest

// RaceEnabled tells the tests whether the race detector is on: it slows
// the code under test down several times, so load tests ask for less.
const RaceEnabled = defaultMaxInFlight < 10_000

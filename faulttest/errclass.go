package faulttest

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
)

// An ErrorClass is the kind of failure a call of a load run ended with, as
// [Classify] tells it.
type ErrorClass int

// The error classes, in the order [Bucket.ByClass] and the report list them.
const (
	ClassTimeout ErrorClass = iota // a deadline passed: context.DeadlineExceeded or a net.Error whose Timeout is true
	ClassRefused                   // connection refused (ECONNREFUSED)
	ClassReset                     // connection reset by peer (ECONNRESET), broken pipe (EPIPE), or a client library's lost connection
	ClassOther                     // any other error: an unexpected EOF, a bad status, a wrong answer…

	// NumClasses is the number of error classes.
	NumClasses = 4
)

var classNames = [NumClasses]string{"timeout", "refused", "reset", "other"}

// String returns the class's name: "timeout", "refused", "reset" or "other".
func (c ErrorClass) String() string {
	if c < 0 || int(c) >= NumClasses {
		return "ErrorClass(?)"
	}
	return classNames[c]
}

// Classify tells which class a non-nil error belongs to. It looks first at
// the underlying error, through wrapped errors ([errors.Is], [errors.As]):
// a deadline, then the system's ECONNREFUSED, ECONNRESET or EPIPE. Then it
// recognizes the errors client libraries return in their place, which do
// not wrap the system's: [driver.ErrBadConn] and go-sql-driver/mysql's
// "invalid connection" (its answer to a connection lost mid-command) are
// resets, and an error whose text says "connection refused", "connection
// reset by peer" or "broken pipe" is of that class. A timeout wins over
// the other classes: an error that is both a deadline and a reset counts
// as a timeout. Classify(nil) is [ClassOther]; a load run does not
// classify the calls that succeed.
func Classify(err error) ErrorClass {
	if err == nil {
		return ClassOther
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return ClassTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ClassTimeout
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ClassReset
	case errors.Is(err, driver.ErrBadConn), anyText(err, isInvalidConnection):
		return ClassReset
	}
	text := err.Error()
	switch {
	case strings.Contains(text, "connection refused"):
		return ClassRefused
	case strings.Contains(text, "connection reset by peer"), strings.Contains(text, "broken pipe"):
		return ClassReset
	}
	return ClassOther
}

// isInvalidConnection matches go-sql-driver/mysql's ErrInvalidConn, by its
// text, so as not to depend on the driver.
func isInvalidConnection(s string) bool { return s == "invalid connection" }

// anyText reports whether the text of err or of an error it wraps
// satisfies match.
func anyText(err error, match func(string) bool) bool {
	if err == nil {
		return false
	}
	if match(err.Error()) {
		return true
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return anyText(u.Unwrap(), match)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if anyText(e, match) {
				return true
			}
		}
	}
	return false
}

package faulttest

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
)

// An ErrorClass is the kind of failure a call of a load run ended with, as
// [Classify] tells it.
type ErrorClass int

// The error classes, in the order [Bucket.ByClass] and the report list them.
const (
	ClassTimeout ErrorClass = iota // a deadline passed: context.DeadlineExceeded or a net.Error whose Timeout is true
	ClassRefused                   // connection refused (ECONNREFUSED)
	ClassReset                     // connection reset by peer (ECONNRESET) or broken pipe (EPIPE)
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

// Classify tells which class a non-nil error belongs to, looking through
// wrapped errors ([errors.Is], [errors.As]). A timeout wins over the other
// classes: an error that is both a deadline and a reset counts as a
// timeout. Classify(nil) is [ClassOther]; a load run does not classify the
// calls that succeed.
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
	}
	return ClassOther
}

package faults

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalid is matched (with [errors.Is]) by every error that reports a bad
// argument: an invalid option given to [NewProxy] or an invalid behavior given
// to [Proxy.Set]. The concrete error is an [*InvalidError].
var ErrInvalid = errors.New("faults: invalid argument")

// ErrUnsupported is matched by the error [Proxy.Set] returns for a behavior
// that cannot act on the proxy's protocol. The concrete error is an
// [*UnsupportedError].
var ErrUnsupported = errors.New("faults: behavior not supported by protocol")

// ErrClosed is returned by [Proxy.Set], [Proxy.Reset], [Proxy.Add] and
// [Proxy.Remove] after [Proxy.Close].
var ErrClosed = errors.New("faults: proxy closed")

// ErrNoBehavior is matched by the error [Proxy.Remove] returns when no
// behavior is installed under the name given.
var ErrNoBehavior = errors.New("faults: no behavior by that name")

// InvalidError describes one bad argument: which option or behavior, the
// value given, and why it was refused.
type InvalidError struct {
	What   string // the option or behavior, e.g. "WithDialTimeout" or "Latency"
	Value  any    // the value that was refused
	Reason string // why, e.g. "must not be negative"
}

func (e *InvalidError) Error() string {
	if strings.HasSuffix(e.What, ")") { // a behavior, rendered with its arguments
		return fmt.Sprintf("faults: %s: %s", e.What, e.Reason)
	}
	return fmt.Sprintf("faults: %s(%v): %s", e.What, e.Value, e.Reason)
}

// Is reports whether target is [ErrInvalid].
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// UnsupportedError reports a behavior given to [Proxy.Set] that the proxy's
// protocol cannot carry out.
type UnsupportedError struct {
	Behavior string // the behavior, as its String method renders it
	Protocol string // the protocol's name
	Reason   string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("faults: %s on a %s proxy: %s", e.Behavior, e.Protocol, e.Reason)
}

// Is reports whether target is [ErrUnsupported].
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

func invalid(what string, value any, reason string) error {
	return &InvalidError{What: what, Value: value, Reason: reason}
}

package faults

import (
	"fmt"
	"time"
)

type (
	errorReply       struct{ reply Reply }
	delayRequest     struct{ d time.Duration }
	delayResponse    struct{ d time.Duration }
	dropResponse     struct{}
	abort            struct{}
	truncateResponse struct{ n int64 }
	truncateRows     struct{ n int64 }
	slowResponse     struct{ rate int64 }
)

func (errorReply) family() family       { return familyRequest }
func (delayRequest) family() family     { return familyRequest }
func (delayResponse) family() family    { return familyRequest }
func (dropResponse) family() family     { return familyRequest }
func (abort) family() family            { return familyRequest }
func (truncateResponse) family() family { return familyRequest }
func (truncateRows) family() family     { return familyRequest }
func (slowResponse) family() family     { return familyRequest }

func (a errorReply) describe() string {
	if a.reply == nil {
		return "Error(nil)"
	}
	return "Error(" + a.reply.String() + ")"
}
func (a delayRequest) describe() string     { return fmt.Sprintf("DelayRequest(%v)", a.d) }
func (a delayResponse) describe() string    { return fmt.Sprintf("DelayResponse(%v)", a.d) }
func (dropResponse) describe() string       { return "DropResponse()" }
func (abort) describe() string              { return "Abort()" }
func (a truncateResponse) describe() string { return fmt.Sprintf("TruncateResponse(%d)", a.n) }
func (a truncateRows) describe() string     { return fmt.Sprintf("TruncateRows(%d)", a.n) }
func (a slowResponse) describe() string     { return fmt.Sprintf("SlowResponse(%d)", a.rate) }

// Error answers a request with reply instead of passing it on: the server
// never sees the request, and the client reads reply where the server's
// answer would have been, in order with the answers to the requests around
// it. The reply must be of the proxy's protocol ([HTTPStatus] for HTTP,
// [MySQLError] for MySQL, [RedisError] for Redis).
func Error(reply Reply) Behavior {
	b := newBehavior(errorReply{reply})
	if reply == nil {
		return b.invalid("nil reply", "nil")
	}
	if why := reply.check(); why != "" {
		return b.invalid(why, reply.refused())
	}
	return b
}

// DelayRequest holds a request for d before passing it to the server.
// d must not be negative.
func DelayRequest(d time.Duration) Behavior {
	b := newBehavior(delayRequest{d})
	if d < 0 {
		return b.invalid("delay must not be negative", d)
	}
	return b
}

// DelayResponse holds the server's answer to a request for d before
// passing it to the client. d must not be negative.
func DelayResponse(d time.Duration) Behavior {
	b := newBehavior(delayResponse{d})
	if d < 0 {
		return b.invalid("delay must not be negative", d)
	}
	return b
}

// DropResponse passes a request to the server and never passes its answer
// on: the client waits until its own timeout. The connection stays open,
// and nothing more reaches the client on it, since later answers would
// come after the missing one.
func DropResponse() Behavior { return newBehavior(dropResponse{}) }

// Abort passes a request to the server, then closes the connection before
// any byte of the answer reaches the client: the client cannot tell whether
// the server acted on it, the case that makes retrying a POST unsafe.
func Abort() Behavior { return newBehavior(abort{}) }

// TruncateResponse passes on only the first n bytes of the server's answer
// (head included), then closes the connection. n must not be negative.
func TruncateResponse(n int64) Behavior {
	b := newBehavior(truncateResponse{n})
	if n < 0 {
		return b.invalid("byte count must not be negative", n)
	}
	return b
}

// TruncateRows passes on only the first n rows of an answer (its result
// sets counted together), then closes the connection: the client reads
// those rows and then finds the connection lost in the middle of the
// result, as when a server dies while it streams one. An answer with n rows
// or fewer passes whole. It applies to [MySQL] proxies. n must not be
// negative.
func TruncateRows(n int64) Behavior {
	b := newBehavior(truncateRows{n})
	if n < 0 {
		return b.invalid("row count must not be negative", n)
	}
	return b
}

// SlowResponse paces the server's answer (head and body) to
// bytesPerSecond. bytesPerSecond must be positive.
func SlowResponse(bytesPerSecond int64) Behavior {
	b := newBehavior(slowResponse{bytesPerSecond})
	if bytesPerSecond <= 0 {
		return b.invalid("rate must be positive", bytesPerSecond)
	}
	return b
}

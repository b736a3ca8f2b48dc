package faults

// A Protocol tells the proxy what the bytes it carries mean: how each
// direction of a connection splits into requests and replies, how replies
// pair with requests, and how to write an error reply that a client of that
// protocol understands. With a protocol, behaviors can act on single
// requests; without one ([TCP]) they act on connections and streams.
//
// The handshake and every message a fault does not touch pass through byte
// for byte, whatever the protocol.
//
// Protocols are provided by this package (see [TCP]); the interface has
// unexported methods so that it can grow as protocols are added.
type Protocol interface {
	// Name is the protocol's short name, such as "tcp".
	Name() string

	// supports reports, as an [*UnsupportedError], whether b can act on
	// connections of this protocol.
	supports(b Behavior) error

	// relay forwards a connection's bytes both ways once the upstream is
	// dialed, until both directions have ended or the connection is
	// ended.
	relay(c *conn)

	// requestShape returns a request of the protocol, zero-valued, to
	// tell which matchers can match its requests; nil if it has none.
	requestShape() request

	// framed reports whether relay reads the plan per message rather
	// than per copy path: its reads must not be interrupted by a change of
	// plan.
	framed() bool
}

// TCP is the protocol of raw byte streams, the default: the proxy knows no
// message boundaries, so every behavior acts on whole connections or on
// chunks of bytes as they arrive, and [Behavior.Probability] is decided per
// connection.
func TCP() Protocol { return tcpProtocol{} }

type tcpProtocol struct{}

func (tcpProtocol) Name() string { return "tcp" }

func (tcpProtocol) framed() bool { return false }

func (tcpProtocol) requestShape() request { return nil }

// relay runs one copy per direction, downstream on a goroutine of its own.
func (tcpProtocol) relay(c *conn) {
	c.p.wg.Add(1)
	downDone := make(chan struct{})
	go c.copyDownstream(downDone)
	c.copyUpstream()
	<-downDone
}

func (tcpProtocol) supports(b Behavior) error {
	switch b.act.family() {
	case familyListener, familyConnection, familyStream, familyTimer:
		return nil
	}
	return &UnsupportedError{Behavior: b.String(), Protocol: "tcp", Reason: "raw TCP has no requests; use a protocol-aware proxy such as WithProtocol(HTTP())"}
}

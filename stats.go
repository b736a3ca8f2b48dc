package faults

import "sync/atomic"

// Stats is a snapshot of a proxy's counters, which are live: they move while
// traffic flows.
type Stats struct {
	ConnsOpen  int64 // connections open now
	ConnsTotal int64 // connections accepted since NewProxy

	// Bytes forwarded from client to server and from server to client. On
	// the spliced pass-through path a connection's bytes are added as each
	// chunk of 256 KiB or more is through (every few milliseconds in a
	// flood), when its behaviors change and when it ends.
	BytesUpstream   int64
	BytesDownstream int64

	// Requests counts the requests a protocol framed. Raw [TCP] has no
	// requests: it stays zero there.
	Requests int64

	// Injected counts the faults that fired (see [Behavior]), including
	// those whose events the ledger has dropped.
	Injected int64

	// DialFailures counts the upstream dials that failed or timed out: a
	// wrong or dead target. Each such client's connection was reset, and
	// each failure is logged (see [WithLogger]).
	DialFailures int64

	// CaptureDropped counts the bytes of traffic left out of the capture
	// (see [WithCapture]) because its writer fell behind. The traffic
	// itself went through.
	CaptureDropped int64
}

type counters struct {
	connsOpen, connsTotal atomic.Int64
	bytesUp, bytesDown    atomic.Int64
	requests, injected    atomic.Int64
	dialFailures          atomic.Int64
	captureDropped        atomic.Int64
}

func (c *counters) snapshot() Stats {
	return Stats{
		ConnsOpen:       c.connsOpen.Load(),
		ConnsTotal:      c.connsTotal.Load(),
		BytesUpstream:   c.bytesUp.Load(),
		BytesDownstream: c.bytesDown.Load(),
		Requests:        c.requests.Load(),
		Injected:        c.injected.Load(),
		DialFailures:    c.dialFailures.Load(),
		CaptureDropped:  c.captureDropped.Load(),
	}
}

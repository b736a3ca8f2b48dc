package bench

import (
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
)

// The bounded runs TestCompare makes of each workload. Each one stops after d
// or after its count limit, whichever comes first.

const (
	mib          = 1 << 20
	maxChunks    = 1 << 20 // 64 GiB of 64 KiB writes or reads
	maxRTTs      = 1 << 20
	maxConnects  = 100000 // the server closes first, so TIME_WAIT stays off the client's ports
	idleSettle   = 200 * time.Millisecond
	teardownWait = 200 * time.Millisecond
)

// runUpload streams into the sink for d and returns the bytes the sink
// confirmed and the time until it confirmed them.
func runUpload(addr string, be *backend, d time.Duration) (int64, time.Duration, error) {
	u, err := dialUpload(addr, be)
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	if _, _, err := runFor(d, maxChunks, u.step); err != nil {
		u.abort()
		return 0, 0, err
	}
	if err := u.finish(); err != nil {
		return 0, 0, err
	}
	return u.sent, time.Since(start), nil
}

// runDownload reads from the source for d and returns the bytes read and the
// time taken.
func runDownload(addr string, d time.Duration) (int64, time.Duration, error) {
	dl, err := dialDownload(addr)
	if err != nil {
		return 0, 0, err
	}
	defer dl.Close()
	_, elapsed, err := runFor(d, maxChunks, dl.step)
	return dl.got, elapsed, err
}

// runRTT makes 64-byte round trips on conns connections at once, each
// one after another, for d and returns each one's duration. Several
// connections keep the proxy busy, so that its CPU per round trip is what
// relaying costs more than how long its threads spin before they park,
// which decides the cost of a lone connection's round trip and varies
// from one second to the next.
func runRTT(addr string, conns int, d time.Duration) ([]time.Duration, error) {
	perConn := make([][]time.Duration, conns)
	var g errgroup.Group
	for i := range conns {
		g.Go(func() error {
			p, err := dialPing(addr)
			if err != nil {
				return err
			}
			defer p.Close()
			samples := make([]time.Duration, 0, 1<<14)
			_, _, err = runFor(d, maxRTTs/conns, func() error {
				t0 := time.Now()
				err := p.step()
				samples = append(samples, time.Since(t0))
				return err
			})
			perConn[i] = samples
			return err
		})
	}
	err := g.Wait()
	return slices.Concat(perConn...), err
}

// runConnects opens, echoes one byte through and closes connections one
// after another for d, and returns how many and the time taken.
func runConnects(addr string, d time.Duration) (int, time.Duration, error) {
	return runFor(d, maxConnects, func() error { return connectOnce(addr) })
}

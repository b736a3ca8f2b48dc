package faults

import (
	"errors"
	"net"
	"time"
)

// listenLocked opens the listener on addr and starts serving it. The caller
// holds p.mu.
func (p *Proxy) listenLocked(addr string) error {
	ln, err := listenTCP(addr)
	if err != nil {
		return err
	}
	p.ln = ln
	p.wg.Add(1)
	go p.serve(ln)
	return nil
}

// syncListenerLocked takes the listener down while a Refuse or a Restart's
// refusal is in force, and brings it back on the same address after.
//
// While the listener is down, a socket bound to its port and not listening
// holds the port (where the system allows it: see holdPort): dials are
// refused as by a closed port, and no other listener on the machine, such
// as a parallel test's on port 0, can take the port meanwhile. The caller
// holds p.mu.
func (p *Proxy) syncListenerLocked(now time.Time) error {
	want := true
	for _, r := range p.rules {
		switch r.b.act.(type) {
		case refuse:
			want = want && !r.active(now)
		case restart:
			want = want && !now.Before(r.downUntil)
		}
	}
	switch {
	case want && p.ln == nil:
		if err := p.listenLocked(p.addr); err != nil {
			return err
		}
		p.releasePortLocked()
		p.log.Info("faults: listening again", "addr", p.addr)
	case !want && p.ln != nil:
		hold, err := holdPort(p.ln.Addr())
		if err != nil {
			p.log.Warn("faults: cannot hold the port while refusing; another listener may take it", "addr", p.addr, "err", err)
		}
		p.held = hold
		p.ln.Close()
		p.ln = nil
		p.log.Info("faults: refusing connections", "addr", p.addr)
	}
	return nil
}

// releasePortLocked closes the socket holding the port, if any. The caller
// holds p.mu.
func (p *Proxy) releasePortLocked() {
	if p.held != nil {
		p.held.Close()
		p.held = nil
	}
}

// Bounds of the retries of a failed listen, when a refusal ends.
const (
	minRelistenRetry = 10 * time.Millisecond
	maxRelistenRetry = time.Second
)

// relistenLaterLocked schedules another attempt to listen after a failed
// one, backing off up to maxRelistenRetry. Changing behaviors or closing
// the proxy cancels it. The caller holds p.mu.
func (p *Proxy) relistenLaterLocked(err error) {
	p.relistenWait = min(max(2*p.relistenWait, minRelistenRetry), maxRelistenRetry)
	p.log.Error("faults: listening again failed; retrying", "addr", p.addr, "err", err, "retry_in", p.relistenWait)
	p.stopRelistenLocked()
	p.relisten = time.AfterFunc(p.relistenWait, p.refresh)
}

// stopRelistenLocked cancels the scheduled retry of a failed listen, if
// any. The caller holds p.mu.
func (p *Proxy) stopRelistenLocked() {
	if p.relisten != nil {
		p.relisten.Stop()
		p.relisten = nil
	}
}

// serve accepts connections on ln until ln is closed.
func (p *Proxy) serve(ln net.Listener) {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors or similar: wait, then try again.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Warn("faults: accept failed", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-p.ctx.Done():
				return
			}
		}
		backoff = 0
		p.accept(ln, nc)
	}
}

package faults

import (
	"errors"
	"net"
	"time"
)

// listenLocked opens the listener on addr and starts serving it. The caller
// holds p.mu.
func (p *Proxy) listenLocked(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	p.ln = ln
	p.wg.Add(1)
	go p.serve(ln)
	return nil
}

// syncListenerLocked takes the listener down while a Refuse or a Restart's
// refusal is in force, and brings it back on the same address after. The
// caller holds p.mu.
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
		p.log.Info("faults: listening again", "addr", p.addr)
	case !want && p.ln != nil:
		p.ln.Close()
		p.ln = nil
		p.log.Info("faults: refusing connections", "addr", p.addr)
	}
	return nil
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

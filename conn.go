package faults

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// endKind says how a connection ends when the proxy ends it.
type endKind uint8

const (
	endNone  endKind = iota // still running, or ended by its peers
	endClose                // FIN to both peers, then close
	endReset                // RST to both peers
	endKill                 // the proxy is closing: close at once
	endDone                 // both directions ended by the peers
)

// conn is one proxied connection: the client's socket, the upstream socket
// once dialed, and the goroutines copying between them.
type conn struct {
	p      *Proxy
	id     uint64
	client net.Conn

	plan       atomic.Pointer[connPlan]
	admitted   atomic.Bool    // past admission: dialing or forwarding
	blackedOut bool           // Blackout fired at accept; set before run starts
	active     atomic.Int64   // unix nanoseconds of the last byte forwarded, for IdleTimeout
	reading    [2]atomic.Bool // per direction (see dirIndex): a read of its source may be parked

	ackMu sync.Mutex
	acks  [2]chan struct{} // per direction: closed when its copy loads the current plan (see planack.go)

	// Guarded by p.mu.
	decided map[*rule]bool
	leaders map[string]*rule // per Together name, the rule whose decision the others follow
	timers  map[*rule]*time.Timer
	reqRng  *rand.Rand // request decisions; made on first use (see requestRng)

	mu     sync.Mutex
	server net.Conn      // nil until dialed
	ending endKind       // set once, by end
	done   chan struct{} // closed by end
}

// accept takes on a connection that ln accepted.
func (p *Proxy) accept(ln net.Listener, nc net.Conn) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		nc.Close()
		return
	}
	if p.ln != ln {
		// ln was taken down (Refuse, Restart) while nc waited for this
		// lock: nc was still in its queue, and those are reset.
		p.mu.Unlock()
		reset(nc)
		return
	}
	p.nextID++
	c := &conn{
		p:       p,
		id:      p.nextID,
		client:  nc,
		decided: make(map[*rule]bool),
		leaders: make(map[string]*rule),
		timers:  make(map[*rule]*time.Timer),
		done:    make(chan struct{}),
	}
	if p.capture != nil {
		c.client = p.capture.tap(c.id, nc) // before a fault can fire on it
	}
	now := time.Now()
	c.active.Store(now.UnixNano())
	plan := p.planFor(c, now, true)
	// A Blackout decided now is carried out even if its rule is gone
	// before run gets to it: it fired, and was counted.
	c.blackedOut = plan.blackout
	c.plan.Store(plan)
	c.syncTimers(plan)
	p.conns[c.id] = c
	p.stats.connsOpen.Add(1)
	p.stats.connsTotal.Add(1)
	p.wg.Add(1)
	p.mu.Unlock()
	go c.run()
}

// run serves the connection from accept to close.
func (c *conn) run() {
	defer c.p.wg.Done()
	defer c.forget()
	if c.admit() && c.dial() {
		c.p.cfg.protocol.relay(c)
	}
	c.finish()
}

// forget removes c from the proxy's books.
func (c *conn) forget() {
	c.p.mu.Lock()
	delete(c.p.conns, c.id)
	for r, t := range c.timers {
		t.Stop()
		delete(c.timers, r)
	}
	c.p.mu.Unlock()
	c.p.stats.connsOpen.Add(-1)
}

// admit carries out the admission behaviors: Blackout, Hang, ConnectDelay.
// It reports whether the connection goes on to the upstream.
func (c *conn) admit() bool {
	start := time.Now()
	for {
		plan := c.plan.Load()
		var wait <-chan time.Time
		switch {
		case c.blackedOut:
			c.end(endClose)
			return false
		case plan.hang:
		case plan.delay > 0 && time.Since(start) < plan.delay:
			t := time.NewTimer(plan.delay - time.Since(start))
			defer t.Stop()
			wait = t.C
		default:
			c.admitted.Store(true)
			return true
		}
		select {
		case <-plan.changed:
		case <-wait:
			c.admitted.Store(true)
			return true
		case <-c.done:
			return false
		}
	}
}

// dial opens the upstream connection. On failure the client is reset, as
// if the server had refused it.
func (c *conn) dial() bool {
	ctx, cancel := context.WithTimeout(c.p.ctx, c.p.cfg.dialTimeout)
	defer cancel()
	sc, err := c.p.cfg.dialer.DialContext(ctx, "tcp", c.p.target)
	if err != nil {
		if c.p.ctx.Err() == nil { // not the proxy closing
			c.p.stats.dialFailures.Add(1)
		}
		c.p.log.Warn("faults: upstream dial failed", "conn", c.id, "target", c.p.target, "err", err)
		c.end(endReset)
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ending != endNone {
		sc.Close()
		return false
	}
	c.server = sc
	return true
}

// end asks the connection to end in the given way and wakes every goroutine
// serving it. Only the first call counts; it reports whether it was the
// first. endKill overrides any other end still in progress.
func (c *conn) end(how endKind) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.ending == endNone
	if first {
		c.ending = how
		close(c.done)
	} else if how == endKill {
		c.ending = endKill
	}
	if first || how == endKill {
		past := time.Unix(1, 0)
		c.client.SetDeadline(past)
		if c.server != nil {
			c.server.SetDeadline(past)
		}
	}
	return first
}

// replan publishes a new plan and wakes the copying goroutines so that they
// take it up. It returns the channels to wait on for the plan to be in
// force, if any. The caller holds p.mu.
//
// A read deadline in the past wakes a parked read, and a read that has not
// parked yet fails on it before reading; the copying goroutine clears it
// before loading the plan. That alone is not enough: a read that the
// deadline woke is told its socket is ready instead if bytes arrive before
// it runs, and it takes them under the old plan. So a direction whose read
// may be parked must acknowledge the plan (by loading it, which it does
// only after that read has returned) before the plan counts as in force.
// A direction whose copy may go on as it is (see streamPlan.sameCopy) is
// neither woken nor waited for.
func (c *conn) replan(plan *connPlan) []chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ending != endNone {
		return nil
	}
	if c.p.cfg.protocol.framed() {
		// Framed relays load the plan for each message. A read of the
		// client's socket is woken when upstream stream behaviors come
		// or change, so that it goes through the stream layer's pump
		// (see streamConn.Read), or the pump takes up the new plan.
		old := c.plan.Swap(plan)
		close(old.changed)
		c.syncTimers(plan)
		if plan.up.acts() || old.up.acts() {
			c.client.SetReadDeadline(time.Unix(1, 0))
		}
		return nil
	}
	old := c.plan.Swap(plan)
	close(old.changed)
	c.syncTimers(plan)
	var wait []chan struct{}
	for _, d := range [...]Direction{Upstream, Downstream} {
		src := c.client
		if d == Downstream {
			src = c.server
		}
		if src == nil || old.stream(d).sameCopy(plan.stream(d)) {
			continue // the copy may go on as it is
		}
		if i := dirIndex(d); c.reading[i].Load() {
			wait = append(wait, c.pendingAck(i))
		}
		src.SetReadDeadline(time.Unix(1, 0))
	}
	return wait
}

// syncTimers arms the timers of the plan's timer rules that c has not armed
// yet and stops those of rules no longer in force. The caller holds p.mu.
func (c *conn) syncTimers(plan *connPlan) {
	for r, t := range c.timers {
		if !containsRule(plan.timers, r) {
			t.Stop()
			delete(c.timers, r)
		}
	}
	for _, r := range plan.timers {
		if _, ok := c.timers[r]; ok {
			continue
		}
		switch a := r.b.act.(type) {
		case timeout:
			c.timers[r] = time.AfterFunc(a.d, func() { c.end(endClose) })
		case resetAfter:
			c.timers[r] = time.AfterFunc(a.d, func() { c.end(endReset) })
		case idleTimeout:
			c.timers[r] = c.idleTimer(r, a.d)
		}
	}
}

// idleTimer ends c with a FIN once nothing has flowed for d. It re-arms
// itself while traffic flows and r is in force. The caller holds p.mu.
func (c *conn) idleTimer(r *rule, d time.Duration) *time.Timer {
	c.active.Store(time.Now().UnixNano())
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		idle := time.Since(time.Unix(0, c.active.Load()))
		if idle >= d {
			c.end(endClose)
			return
		}
		c.p.mu.Lock()
		defer c.p.mu.Unlock()
		if c.timers[r] == t {
			t.Reset(d - idle)
		}
	})
	return t
}

func containsRule(rs []*rule, r *rule) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

// touch notes that bytes flowed, for IdleTimeout, if one is in force.
func (c *conn) touch() {
	if c.plan.Load().up.track {
		c.active.Store(time.Now().UnixNano())
	}
}

// requestRng returns the source of c's request decisions, derived from the
// proxy's seed and c's number in accept order: what one connection's
// requests draw does not depend on how many requests other connections
// sent meanwhile. The caller holds p.mu.
func (c *conn) requestRng() *rand.Rand {
	if c.reqRng == nil {
		c.reqRng = rand.New(rand.NewPCG(uint64(c.p.seed)^c.id*0x9e3779b97f4a7c15, 0x72657175657374))
	}
	return c.reqRng
}

// rngFor returns a random source for one direction of c, derived from the
// proxy's seed and c's number, so that a direction's random choices do not
// depend on how goroutines interleave.
func (c *conn) rngFor(d Direction) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(c.p.seed)^c.id*0x9e3779b97f4a7c15, uint64(d)))
}

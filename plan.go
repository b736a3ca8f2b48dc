package faults

import (
	"math/rand/v2"
	"time"
)

// rule is one installed behavior and its counters. Its mutable fields are
// guarded by the proxy's mutex.
type rule struct {
	b         Behavior
	name      string        // given to Proxy.Add; "" for rules installed by Set
	timers    []*time.Timer // its For window and Restart refusal, which refresh the proxy
	until     time.Time     // end of the For window; zero if none
	downUntil time.Time     // Restart: end of the refusal
	seen      int64         // chances to fire so far
	fired     int64
}

func (r *rule) active(now time.Time) bool {
	return r.until.IsZero() || now.Before(r.until)
}

// decide counts one chance to fire and reports whether r fires on it:
// After, then Probability, then Times. rng is consumed only when the
// probability is rolled, so decisions replay exactly from a seed.
func (r *rule) decide(rng *rand.Rand) bool {
	r.seen++
	if r.seen <= r.b.after {
		return false
	}
	if r.b.timeSet && r.fired >= r.b.times {
		return false
	}
	if r.b.probSet && rng.Float64() >= r.b.prob {
		return false
	}
	r.fired++
	return true
}

// decideOn decides r for connection c, which has not met it: on its own,
// or, for a rule decided Together with others, as the first of them that
// c met and that is still installed was decided. The caller holds p.mu.
func (p *Proxy) decideOn(c *conn, r *rule) bool {
	name := r.b.with
	if name == "" {
		return r.decide(p.rng)
	}
	if leader := c.leaders[name]; leader != nil {
		if fires, met := c.decided[leader]; met {
			r.seen++
			if fires {
				r.fired++
			}
			return fires
		}
	}
	c.leaders[name] = r
	return r.decide(p.rng)
}

// connPlan is what one connection must do, computed by the proxy under its
// mutex and published to the connection's goroutines through an atomic
// pointer. A plan is immutable; changed is closed when a newer plan
// replaces it.
type connPlan struct {
	changed chan struct{}

	// Admission, before the upstream dial.
	hang     bool
	blackout bool
	delay    time.Duration

	up, down streamPlan
	timers   []*rule // timer-family rules holding this connection
	requests []*rule // request-family rules, decided per request
}

func dirIndex(d Direction) int {
	if d == Upstream {
		return 0
	}
	return 1
}

// streamPlan is what one direction must do to its bytes.
type streamPlan struct {
	stall     bool
	halfClose bool
	latency   time.Duration
	jitter    time.Duration
	rate      int64 // bytes per second; zero: unlimited
	sliceSize int
	sliceVary int // each slice is sliceSize ± up to sliceVary bytes
	sliceGap  time.Duration
	corrupt   float64
	cut       *rule // CloseAfterBytes or ResetAfterBytes holding this direction
	cutAt     int64
	cutReset  bool
	slowClose time.Duration
	track     bool // note activity, for IdleTimeout
}

// sameCopy reports whether a copy running under s may go on under t
// without taking t up: they differ at most in what the copy reads from the
// latest plan when it needs it (the SlowClose delay, at EOF).
func (s *streamPlan) sameCopy(t *streamPlan) bool {
	a, b := *s, *t
	a.slowClose, b.slowClose = 0, 0
	return a == b
}

// inspects reports whether the direction must see its bytes, ruling out the
// spliced copy.
func (s *streamPlan) inspects() bool {
	return s.latency > 0 || s.jitter > 0 || s.rate > 0 || s.sliceSize > 0 ||
		s.corrupt > 0 || s.cut != nil || s.track
}

// add merges one stream rule into the plan: latencies add up, the lowest
// bandwidth and the smallest byte limit win, corruption odds combine.
func (s *streamPlan) add(r *rule) {
	switch a := r.b.act.(type) {
	case latency:
		s.latency += a.d
		s.jitter += a.jitter
	case bandwidth:
		if s.rate == 0 || a.rate < s.rate {
			s.rate = a.rate
		}
	case slice:
		if s.sliceSize == 0 || a.size < s.sliceSize {
			s.sliceSize, s.sliceVary = a.size, a.vary
		}
		s.sliceGap = max(s.sliceGap, a.delay)
	case corrupt:
		s.corrupt = 1 - (1-s.corrupt)*(1-a.p)
	case closeAfterBytes:
		if s.cut == nil || a.n < s.cutAt {
			s.cut, s.cutAt, s.cutReset = r, a.n, false
		}
	case resetAfterBytes:
		if s.cut == nil || a.n < s.cutAt {
			s.cut, s.cutAt, s.cutReset = r, a.n, true
		}
	case stall:
		s.stall = true
	case halfClose:
		s.halfClose = true
	case slowClose:
		s.slowClose = max(s.slowClose, a.d)
	}
}

// planFor computes c's plan from the installed rules, deciding each rule
// that c has not met yet. At accept, connection rules are decided too;
// later they only carry on while c is still being admitted. The caller
// holds p.mu.
func (p *Proxy) planFor(c *conn, now time.Time, accept bool) *connPlan {
	plan := &connPlan{changed: make(chan struct{})}
	for _, r := range p.rules {
		if !r.active(now) {
			continue
		}
		switch r.b.act.family() {
		case familyListener:
			continue
		case familyRequest:
			plan.requests = append(plan.requests, r)
			continue
		case familyConnection:
			if accept {
				fires := p.decideOn(c, r)
				c.decided[r] = fires
				if fires {
					p.fire(r, c.id, now)
				}
			}
			if !c.decided[r] || c.admitted.Load() {
				continue
			}
			switch a := r.b.act.(type) {
			case hang:
				plan.hang = true
			case blackout:
				plan.blackout = true
			case connectDelay:
				plan.delay += a.d
			}
			if plan.blackout && accept {
				return plan // the connection ends here; spend no more chances on it
			}
			continue
		}
		fires, met := c.decided[r]
		if !met {
			fires = p.decideOn(c, r)
			c.decided[r] = fires
			if fires {
				p.fire(r, c.id, now)
			}
		}
		if !fires {
			continue
		}
		if r.b.act.family() == familyTimer {
			plan.timers = append(plan.timers, r)
			if _, ok := r.b.act.(idleTimeout); ok {
				plan.up.track, plan.down.track = true, true
			}
			continue
		}
		dir := r.b.direction()
		if dir&Upstream != 0 {
			plan.up.add(r)
		}
		if dir&Downstream != 0 {
			plan.down.add(r)
		}
	}
	return plan
}

// fire counts and records one firing of r. The caller holds p.mu.
func (p *Proxy) fire(r *rule, connID uint64, now time.Time) {
	p.fireOn(r, connID, "", now)
}

// fireOn counts and records one firing of r on a request.
func (p *Proxy) fireOn(r *rule, connID uint64, request string, now time.Time) {
	p.stats.injected.Add(1)
	e := Event{Time: now, Conn: connID, Request: request, Behavior: r.b.String()}
	p.ledger.record(e)
	if p.capture != nil && connID != 0 {
		p.capture.comment(connID, e)
	}
}

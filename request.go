package faults

import "time"

// effects is what the request behaviors that fired on one request do to it.
type effects struct {
	reply         Reply         // answer with this instead of passing the request on
	delayRequest  time.Duration // hold the request this long first
	delayResponse time.Duration // hold the answer this long
	drop          bool          // never pass the answer on
	abort         bool          // close the connection once the request is passed on
	truncate      int64         // pass on this many bytes of the answer, then close; -1: all
	rows          int64         // pass on this many rows of a result, then reset; -1: all
	slow          int64         // pace the answer to this many bytes per second; 0: no pacing
	miss          bool          // answer the read as a miss instead of passing it on
	missed        []bool        // of a read of several keys, those answered as misses (some, not all); nil: none
}

func noEffects() effects { return effects{truncate: -1, rows: -1} }

// any reports whether e does anything to the request.
func (e effects) any() bool {
	return e.reply != nil || e.delayRequest > 0 || e.delayResponse > 0 || e.drop || e.abort || e.truncate >= 0 || e.rows >= 0 || e.slow > 0 ||
		e.miss || e.missed != nil
}

// phase says when a request behavior acts. The proxy decides the phases in
// order and skips those that can no longer act: once a request is answered
// by the proxy or aborted, its answer's behaviors have nothing to act on and
// are neither counted nor recorded.
type phase uint8

const (
	phaseAnswer   phase = iota // Error, Abort, Miss: what becomes of the request
	phaseRequest               // DelayRequest
	phaseResponse              // DelayResponse, DropResponse, TruncateResponse, SlowResponse
)

func phaseOf(a action) phase {
	switch a.(type) {
	case errorReply, abort, miss:
		return phaseAnswer
	case delayRequest:
		return phaseRequest
	}
	return phaseResponse
}

// settled reports whether the request's fate is decided: later answer
// behaviors and all response behaviors have nothing left to act on.
func (e *effects) settled() bool { return e.reply != nil || e.abort || e.miss }

// add merges what one behavior does: delays add up, the smallest
// truncation and the slowest pace win.
func (e *effects) add(a action) {
	switch a := a.(type) {
	case errorReply:
		e.reply = a.reply
	case delayRequest:
		e.delayRequest += a.d
	case delayResponse:
		e.delayResponse += a.d
	case dropResponse:
		e.drop = true
	case abort:
		e.abort = true
	case miss:
		e.miss = true
	case truncateResponse:
		if e.truncate < 0 || a.n < e.truncate {
			e.truncate = a.n
		}
	case truncateRows:
		if e.rows < 0 || a.n < e.rows {
			e.rows = a.n
		}
	case slowResponse:
		if e.slow == 0 || a.rate < e.slow {
			e.slow = a.rate
		}
	}
}

// applies reports whether a behavior of phase ph can still act on a
// request with effects e.
func (e *effects) applies(ph phase) bool {
	switch ph {
	case phaseAnswer, phaseResponse:
		return !e.settled()
	}
	return true
}

// moment is when r acts: the moment of its reply if it answers with one
// (see [Reply]), in answer to a request otherwise.
func (r *rule) moment() replyMoment {
	if e, ok := r.b.act.(errorReply); ok && e.reply != nil {
		return e.reply.moment()
	}
	return momentRequest
}

// decide counts one request in [Stats.Requests], decides it against the
// plan's request rules and returns what those that fire do to it; each
// firing is counted and recorded. Rules are decided phase by phase (see
// phase), each phase in the order the rules were installed.
//
// keep, if not nil, says which rules may act on this request at all: a
// protocol uses it to keep apart rules that act at different moments
// (MySQL's handshake errors and statement errors), by [rule.moment].
func (c *conn) decide(plan *connPlan, req request, keep func(*rule) bool) effects {
	c.p.stats.requests.Add(1)
	return c.decideUncounted(plan, req, keep)
}

// decideUncounted is decide for what is not a request of its own, such as
// MySQL's handshake: it is not counted in [Stats.Requests], while the
// rules that fire are counted and recorded as by decide.
func (c *conn) decideUncounted(plan *connPlan, req request, keep func(*rule) bool) effects {
	e := noEffects()
	c.decideInto(&e, plan, req, keep)
	return e
}

// decideInto is decideUncounted adding to e what the rules that fire do,
// for a request decided in parts (see decideRead): a rule whose phase e
// has settled is skipped.
func (c *conn) decideInto(e *effects, plan *connPlan, req request, keep func(*rule) bool) {
	p := c.p
	if len(plan.requests) == 0 {
		return
	}
	var summary string
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for ph := phaseAnswer; ph <= phaseResponse; ph++ {
		for _, r := range plan.requests {
			if phaseOf(r.b.act) != ph || !e.applies(ph) || keep != nil && !keep(r) {
				continue
			}
			if !r.active(now) || !r.b.matches(req) || !r.decide(c.requestRng()) {
				continue
			}
			if summary == "" {
				summary = req.summary()
			}
			p.fireOn(r, c.id, summary, now)
			e.add(r.b.act)
		}
	}
}

// addInBand adds behaviors chosen for this one request (see
// [WithFaultHeader]) to e, phase by phase, recording each that acts.
func (c *conn) addInBand(e *effects, bs []Behavior, req request) {
	now := time.Now()
	for ph := phaseAnswer; ph <= phaseResponse; ph++ {
		for _, b := range bs {
			if phaseOf(b.act) != ph || !e.applies(ph) {
				continue
			}
			c.p.fireOn(&rule{b: b}, c.id, req.summary(), now)
			e.add(b.act)
		}
	}
}

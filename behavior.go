package faults

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// A Behavior is one way the proxy misbehaves: a fault, the direction it acts
// in, and when it fires. Behaviors are made by constructors such as
// [Latency], [Blackout] or [Refuse] and refined by chained modifiers, each
// of which returns a modified copy:
//
//	faults.Latency(80 * time.Millisecond).Downstream().Probability(0.5)
//	faults.Blackout().After(2).Times(1)
//
// A Behavior is a plain value, safe to copy, share and reuse; the counting
// done by [Behavior.Times] and [Behavior.After] starts afresh each time the
// behavior is installed with [Proxy.Set]. The zero Behavior does nothing.
//
// Arguments are checked when the behavior is installed: a negative
// duration, a probability outside [0, 1] or a modifier that makes no sense
// for the fault makes [Proxy.Set] return an [*InvalidError].
//
// # When a behavior fires
//
// Connection behaviors ([Hang], [Blackout], [ConnectDelay]) decide once per
// accepted connection. Stream behaviors ([Latency], [Bandwidth], [Stall],
// …) and connection timers ([Timeout], [ResetAfter], [IdleTimeout]) decide
// once per connection too, when it is accepted or, for connections already
// open, when the behavior is installed: a firing is the behavior taking
// hold of one connection, and that decision is never re-rolled for the
// connection's life. Listener behaviors ([Refuse], [Restart]) fire once, when
// installed. Each firing is counted in [Stats.Injected] and recorded as an
// [Event].
type Behavior struct {
	act     action
	dir     Direction // zero: the action's default
	prob    float64
	probSet bool
	times   int64
	timeSet bool
	after   int64
	window  time.Duration
	with    string // Together's name; "" decides alone
	when    []Matcher
	err     error  // the first invalid argument, reported by Proxy.Set
	refused string // the modifier call that set err, such as ".For(-1s)", for String
}

// Direction names which way bytes flow: from the client to the server
// (Upstream), from the server to the client (Downstream), or both.
type Direction uint8

const (
	Upstream   Direction = 1 << iota // client to server
	Downstream                       // server to client
	Both       = Upstream | Downstream
)

func (d Direction) String() string {
	switch d {
	case Upstream:
		return "upstream"
	case Downstream:
		return "downstream"
	case Both:
		return "both"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// family says where an action acts, and so which modifiers it accepts.
type family uint8

const (
	familyListener   family = iota + 1 // on the listening socket: Refuse, Restart
	familyConnection                   // at accept, before the upstream dial
	familyStream                       // on the bytes of one or both directions
	familyTimer                        // on a whole connection, after a time
	familyRequest                      // on one request and its reply, on a protocol-aware proxy
)

// action is what a behavior does; each constructor has its own type.
type action interface {
	family() family
	describe() string // e.g. "Latency(80ms)"
}

// directed is implemented by stream actions whose default direction is not
// Both.
type directed interface {
	defaultDirection() Direction
}

func newBehavior(a action) Behavior { return Behavior{act: a} }

func (b Behavior) invalid(reason string, value any) Behavior {
	if b.err == nil {
		name := "Behavior"
		if b.act != nil {
			name = b.act.describe()
		}
		b.err = &InvalidError{What: name, Value: value, Reason: reason}
	}
	return b
}

// invalidModifier records that the modifier mod refused value: the error
// names the behavior as built so far followed by the call, such as
// "Refuse().For(-1s)".
func (b Behavior) invalidModifier(mod string, value any, reason string) Behavior {
	if b.err == nil {
		refused := fmt.Sprintf(".%s(%v)", mod, value)
		b.err = &InvalidError{What: b.String() + refused, Value: value, Reason: reason}
		b.refused = refused
	}
	return b
}

// Upstream makes b act only on bytes from the client to the server. It
// applies to stream behaviors only.
func (b Behavior) Upstream() Behavior { b.dir = Upstream; return b }

// Downstream makes b act only on bytes from the server to the client. It
// applies to stream behaviors only.
func (b Behavior) Downstream() Behavior { b.dir = Downstream; return b }

// BothWays makes b act on both directions, the default of every stream
// behavior except [HalfClose].
func (b Behavior) BothWays() Behavior { b.dir = Both; return b }

// Probability makes b fire with probability p each time it could fire: per
// connection for connection and stream behaviors, per request for request
// behaviors. p must be in [0, 1].
// Together with [WithSeed] the outcome is reproducible.
func (b Behavior) Probability(p float64) Behavior {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return b.invalidModifier("Probability", p, "must be in [0, 1]")
	}
	b.prob, b.probSet = p, true
	return b
}

// Times makes b fire at most n times, then pass (Vaurien's "transient").
// Times(0) never fires. n must not be negative.
func (b Behavior) Times(n int) Behavior {
	if n < 0 {
		return b.invalidModifier("Times", n, "must not be negative")
	}
	b.times, b.timeSet = int64(n), true
	return b
}

// After makes b pass its first n chances to fire, then fire (Vaurien's
// "warmup"). Chances are counted before [Behavior.Probability] is rolled, so
// After(2).Times(1) passes two connections, faults the third and passes
// every later one. n must not be negative.
func (b Behavior) After(n int) Behavior {
	if n < 0 {
		return b.invalidModifier("After", n, "must not be negative")
	}
	b.after = int64(n)
	return b
}

// For limits b to a window of d from the moment it is installed. When the
// window closes, b stops firing and what it was doing stops: delayed or
// stalled streams flow again, a refused listener comes back. d must be
// positive.
func (b Behavior) For(d time.Duration) Behavior {
	if d <= 0 {
		return b.invalidModifier("For", d, "must be positive")
	}
	b.window = d
	return b
}

// Together makes b decide together with every other installed behavior
// given the same name, as parts of one fault: on each connection, the
// first of them to be decided counts and rolls its own chances (After,
// Probability, Times), and the others fire on that connection if and only
// if it fired. Parts set with different odds follow the first one decided
// (the order of Set, or of Add). It applies to the behaviors decided once
// per connection: admission, stream and timer behaviors, not those of
// requests or the listener. name must not be empty.
func (b Behavior) Together(name string) Behavior {
	if name == "" {
		return b.invalidModifier("Together", `""`, "the name must not be empty")
	}
	b.with = name
	return b
}

// When makes b fire only on requests that every matcher in ms matches. It
// applies to request behaviors only, on protocol-aware proxies. Chances
// counted by [Behavior.After] and [Behavior.Times] are matching requests
// only.
func (b Behavior) When(ms ...Matcher) Behavior {
	for _, m := range ms {
		if m == nil {
			return b.invalidModifier("When", "nil", "nil Matcher")
		}
	}
	b.when = append(b.when[:len(b.when):len(b.when)], ms...)
	return b
}

// direction reports which directions a stream behavior acts on.
func (b Behavior) direction() Direction {
	if b.dir != 0 {
		return b.dir
	}
	if d, ok := b.act.(directed); ok {
		return d.defaultDirection()
	}
	return Both
}

// String describes b in the Go syntax that builds it, e.g.
// "Latency(80ms).Downstream().Times(3)", which [ParseBehavior] reads back.
// Events name behaviors this way. The modifiers come in a fixed order
// whatever the order of the calls; a modifier call that was refused comes
// last, so that the text of an invalid behavior is invalid too.
func (b Behavior) String() string {
	var s strings.Builder
	if b.act == nil {
		s.WriteString("Behavior{}")
	} else {
		s.WriteString(b.act.describe())
	}
	switch b.dir {
	case Upstream:
		s.WriteString(".Upstream()")
	case Downstream:
		s.WriteString(".Downstream()")
	case Both:
		s.WriteString(".BothWays()")
	}
	if len(b.when) > 0 {
		s.WriteString(".When(")
		for i, m := range b.when {
			if i > 0 {
				s.WriteString(", ")
			}
			s.WriteString(m.String())
		}
		s.WriteString(")")
	}
	if b.probSet {
		fmt.Fprintf(&s, ".Probability(%g)", b.prob)
	}
	if b.after > 0 {
		fmt.Fprintf(&s, ".After(%d)", b.after)
	}
	if b.timeSet {
		fmt.Fprintf(&s, ".Times(%d)", b.times)
	}
	if b.window > 0 {
		fmt.Fprintf(&s, ".For(%v)", b.window)
	}
	if b.with != "" {
		fmt.Fprintf(&s, ".Together(%q)", b.with)
	}
	s.WriteString(b.refused)
	return s.String()
}

// validate reports the first problem with b on a proxy speaking proto.
func (b Behavior) validate(proto Protocol) error {
	if err := b.wellFormed(); err != nil || b.act == nil {
		return err
	}
	if err := proto.supports(b); err != nil {
		return err
	}
	if _, ok := b.act.(miss); ok {
		if err := checkMiss(b, proto); err != nil {
			return err
		}
	}
	if shape := proto.requestShape(); shape != nil {
		return checkMatchers(b, proto, shape)
	}
	return nil
}

// wellFormed reports the first problem with b that makes every protocol
// refuse it: an invalid argument, or a modifier that does not apply to its
// fault.
func (b Behavior) wellFormed() error {
	if b.err != nil {
		return b.err
	}
	for _, m := range b.when {
		if c, ok := m.(interface{ check() error }); ok {
			if err := c.check(); err != nil {
				return &InvalidError{What: b.String(), Value: m.String(), Reason: err.Error()}
			}
		}
	}
	return b.modifiersError()
}

// modifiersError reports a modifier that no fault of b's kind takes, b.err
// and the matchers' own checks aside (wellFormed makes those first).
func (b Behavior) modifiersError() error {
	if b.act == nil {
		return nil
	}
	fam := b.act.family()
	if b.dir != 0 && fam != familyStream {
		return &InvalidError{What: b.String(), Value: b.dir, Reason: "a direction applies to stream behaviors only; this one acts on the whole connection"}
	}
	if len(b.when) > 0 && fam != familyRequest {
		return &InvalidError{What: b.String(), Value: "When", Reason: "matchers apply to request behaviors only"}
	}
	if b.with != "" && (fam == familyListener || fam == familyRequest) {
		return &InvalidError{What: b.String(), Value: "Together", Reason: "applies to behaviors decided once per connection, not to those of requests or the listener"}
	}
	if fam == familyListener && (b.probSet || b.timeSet || b.after > 0) {
		return &InvalidError{What: b.String(), Value: b.act.describe(), Reason: "acts on the listener, once: Probability, Times and After do not apply"}
	}
	if _, ok := b.act.(restart); ok && b.window > 0 {
		return &InvalidError{What: b.String(), Value: b.window, Reason: "Restart has its own window; For does not apply"}
	}
	return nil
}

package faults

import (
	"fmt"
	"time"
)

type (
	refuse       struct{}
	restart      struct{ down time.Duration }
	hang         struct{}
	blackout     struct{}
	connectDelay struct{ d time.Duration }
)

func (refuse) family() family       { return familyListener }
func (restart) family() family      { return familyListener }
func (hang) family() family         { return familyConnection }
func (blackout) family() family     { return familyConnection }
func (connectDelay) family() family { return familyConnection }

func (refuse) describe() string         { return "Refuse()" }
func (a restart) describe() string      { return fmt.Sprintf("Restart(%v)", a.down) }
func (hang) describe() string           { return "Hang()" }
func (blackout) describe() string       { return "Blackout()" }
func (a connectDelay) describe() string { return fmt.Sprintf("ConnectDelay(%v)", a.d) }

// Refuse takes the proxy's listener down: new dials get "connection refused"
// (ECONNREFUSED), as from a server that is not running. Connections already
// open are left alone. When Refuse is removed (by [Proxy.Set],
// [Proxy.Reset] or the end of its [Behavior.For] window) the proxy listens
// again on the same address. Refuse fires once, when installed; it takes no
// Probability, Times or After.
func Refuse() Behavior { return newBehavior(refuse{}) }

// Restart simulates the upstream server restarting: when installed, it
// resets (RST) every open connection, refuses new dials for down, and then
// accepts and passes traffic again. It fires once, when installed, and
// records an event for the listener and one for each connection it resets.
// down must not be negative; zero resets the connections without refusing.
func Restart(down time.Duration) Behavior {
	b := newBehavior(restart{down})
	if down < 0 {
		return b.invalid("down must not be negative", down)
	}
	return b
}

// Hang accepts connections and never answers: the proxy neither dials the
// upstream nor reads what the client sends, so the client waits until its
// own timeout. Connections held this way go on to the upstream, with the
// bytes they sent meanwhile, when Hang is removed; [Proxy.Close] closes them.
func Hang() Behavior { return newBehavior(hang{}) }

// Blackout accepts connections and closes them at once with a clean FIN,
// before dialing the upstream: the client reads EOF.
func Blackout() Behavior { return newBehavior(blackout{}) }

// ConnectDelay holds each accepted connection for d before dialing the
// upstream, as a slow or distant server would; what the client sends
// meanwhile is delivered afterwards. The client's connect itself succeeds
// at once (the kernel accepts for the proxy): the delay shows as a late
// first reply. d must not be negative.
func ConnectDelay(d time.Duration) Behavior {
	b := newBehavior(connectDelay{d})
	if d < 0 {
		return b.invalid("delay must not be negative", d)
	}
	return b
}

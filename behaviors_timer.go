package faults

import (
	"fmt"
	"time"
)

type (
	timeout     struct{ d time.Duration }
	idleTimeout struct{ d time.Duration }
	resetAfter  struct{ d time.Duration }
)

func (timeout) family() family     { return familyTimer }
func (idleTimeout) family() family { return familyTimer }
func (resetAfter) family() family  { return familyTimer }

func (a timeout) describe() string     { return fmt.Sprintf("Timeout(%v)", a.d) }
func (a idleTimeout) describe() string { return fmt.Sprintf("IdleTimeout(%v)", a.d) }
func (a resetAfter) describe() string  { return fmt.Sprintf("ResetAfter(%v)", a.d) }

// Timeout closes each connection it takes hold of d after that moment (its
// accept, or the installation of Timeout for connections already open),
// whatever the traffic: both peers get a clean FIN, as from a proxy or load
// balancer with a hard connection lifetime. d must be positive.
func Timeout(d time.Duration) Behavior {
	b := newBehavior(timeout{d})
	if d <= 0 {
		return b.invalid("timeout must be positive", d)
	}
	return b
}

// IdleTimeout closes a connection once no byte has flowed in either
// direction for d: both peers get a clean FIN. Traffic in either direction
// restarts the clock. d must be positive.
func IdleTimeout(d time.Duration) Behavior {
	b := newBehavior(idleTimeout{d})
	if d <= 0 {
		return b.invalid("idle timeout must be positive", d)
	}
	return b
}

// ResetAfter resets (RST) each connection it takes hold of d after that
// moment: both peers see ECONNRESET. d must be positive.
func ResetAfter(d time.Duration) Behavior {
	b := newBehavior(resetAfter{d})
	if d <= 0 {
		return b.invalid("delay must be positive", d)
	}
	return b
}

package faults

import "time"

// A change of behaviors is in force when [Proxy.Set] returns. On the raw TCP
// path that means more than publishing a new plan: a copy parked in a read
// under the old plan must come out of it and load the new one. Each
// direction of a connection has at most one pending acknowledgement, a
// channel that its copy closes the next time it loads the plan that is
// current by then. A plan replaced before its copy got to it is covered by
// the same channel: loading the newest plan acknowledges every older one.

// maxAckWait bounds how long Set waits for copies to take up a new plan. A
// copy only fails to do so at once when it is busy writing to a peer that
// does not read, and such a copy checks the plan before its next read
// anyway.
const maxAckWait = time.Second

// pendingAck returns the channel closed once direction i's copy loads the
// current plan. The caller holds c.mu and has just published that plan:
// made before the swap, the channel could be closed by a copy that loaded
// the plan being replaced.
func (c *conn) pendingAck(i int) chan struct{} {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	if c.acks[i] == nil {
		c.acks[i] = make(chan struct{})
	}
	return c.acks[i]
}

// loaded records that direction d's copy has loaded plan and reads no more
// under an older one. It releases the waiters only if plan is still the
// current one; otherwise the copy is about to be interrupted and load the
// newer plan, which acknowledges both.
func (c *conn) loaded(d Direction, plan *connPlan) {
	i := dirIndex(d)
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	if c.acks[i] != nil && c.plan.Load() == plan {
		close(c.acks[i])
		c.acks[i] = nil
	}
}

// stopped records that direction d's copy has ended: it reads no more, so
// nobody need wait for it.
func (c *conn) stopped(d Direction) {
	i := dirIndex(d)
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	if c.acks[i] != nil {
		close(c.acks[i])
		c.acks[i] = nil
	}
}

// awaitAcks waits until every channel in acks is closed, up to maxAckWait.
func awaitAcks(acks []chan struct{}) {
	if len(acks) == 0 {
		return
	}
	t := time.NewTimer(maxAckWait)
	defer t.Stop()
	for _, ack := range acks {
		select {
		case <-ack:
		case <-t.C:
			return
		}
	}
}

package faults

import "sync"

// redisOwed is what one command is owed.
type redisOwed struct {
	fx       *effects // what request behaviors do to its reply; nil: nothing
	reply    []byte   // the proxy's reply: instead of the server's, or in place of it (replace)
	replace  bool     // the server's reply comes, and is dropped for reply
	unframed bool     // framing ends where its replies begin
}

// plain reports whether the server's reply passes on untouched.
func (o *redisOwed) plain() bool { return o.fx == nil && o.reply == nil && !o.unframed }

// proxyAnswer reports whether the proxy answers instead of the server,
// which owes nothing.
func (o *redisOwed) proxyAnswer() bool { return o.reply != nil && !o.replace }

// redisQueue is the FIFO of what a connection's commands are owed, in the
// order they were sent: appended by the commands side, taken by the
// replies side. Entries do not change once appended, so the replies side
// may act on what it has read of them without the lock.
type redisQueue struct {
	mu      sync.Mutex
	entries []redisOwed // entries[head:] are owed
	head    int
	base    uint64        // the serial number of entries[head]
	popped  chan struct{} // if not nil, closed at the next pop
	stopped bool          // the replies pass through unframed
}

// push appends plain entries for n commands, then o if not nil, and
// returns the serial number of the last entry appended. Once the queue is
// stopped, it refuses a reply of the proxy's: it could not be placed
// among replies passing through unframed.
func (q *redisQueue) push(n int, o *redisOwed) (uint64, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped && o != nil && o.proxyAnswer() {
		return 0, false
	}
	for range n {
		q.entries = append(q.entries, redisOwed{})
	}
	if o != nil {
		q.entries = append(q.entries, *o)
	}
	return q.base + uint64(len(q.entries)-q.head) - 1, true
}

// scan counts the plain entries from the i-th owed one, and returns the
// entry after them, if there is one.
func (q *redisQueue) scan(i int) (plain int, next redisOwed, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	owed := q.entries[q.head:]
	for i+plain < len(owed) && owed[i+plain].plain() {
		plain++
	}
	if i+plain < len(owed) {
		return plain, owed[i+plain], true
	}
	return plain, redisOwed{}, false
}

// pop forgets the first n owed entries, then those the proxy answers
// itself that follow, if keep is 0, and returns their replies.
func (q *redisQueue) pop(n, keep int) [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.forgetLocked(n)
	var replies [][]byte
	for keep == 0 && q.head < len(q.entries) && q.entries[q.head].proxyAnswer() {
		replies = append(replies, q.entries[q.head].reply)
		q.forgetLocked(1)
	}
	return replies
}

func (q *redisQueue) forgetLocked(n int) {
	if n == 0 {
		return
	}
	clear(q.entries[q.head : q.head+n])
	q.head += n
	q.base += uint64(n)
	switch {
	case q.head == len(q.entries):
		// Empty: start again at the front of the same array.
		q.entries, q.head = q.entries[:0], 0
	case q.head >= 1024 && q.head >= len(q.entries)/2:
		// Never empty: move the owed entries down so that the array
		// does not grow for ever.
		n := copy(q.entries, q.entries[q.head:])
		clear(q.entries[n:])
		q.entries, q.head = q.entries[:n], 0
	}
	if q.popped != nil {
		close(q.popped)
		q.popped = nil
	}
}

// stop marks the replies as passing through unframed, and reports whether
// an entry from the i-th owed one on is not plain: a reply of the proxy's
// or a behavior on a reply still to come.
func (q *redisQueue) stop(i int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopped = true
	for _, o := range q.entries[q.head+min(i, len(q.entries)-q.head):] {
		if !o.plain() {
			return true
		}
	}
	return false
}

// awaitTurn waits until every entry before serial number s has been
// popped, or none will be (a dropped reply is in the way), or stop or
// done is closed.
func (q *redisQueue) awaitTurn(s uint64, stop, done <-chan struct{}) {
	for {
		q.mu.Lock()
		if q.base >= s || q.head < len(q.entries) && q.entries[q.head].fx != nil && q.entries[q.head].fx.drop {
			q.mu.Unlock()
			return
		}
		if q.popped == nil {
			q.popped = make(chan struct{})
		}
		popped := q.popped
		q.mu.Unlock()
		select {
		case <-popped:
		case <-stop:
			return
		case <-done:
			return
		}
	}
}

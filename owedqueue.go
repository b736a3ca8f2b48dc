package faults

import "sync"

// maxHeld bounds the entries a connection's queue holds one by one: the
// replies of the proxy's own and the requests a behavior acts on (plain
// requests cost a counter however many). A client that pipelines such
// requests without reading the answers fills it, and the proxy then stops
// reading from it, so that TCP pushes back on the client as a server's
// full buffers would, instead of the proxy's memory growing with every
// request.
const maxHeld = 4096

// owed is what one request is owed: the entry of a framed relay's queue.
type owed struct {
	fx       *effects // what request behaviors do to the server's reply; nil: nothing
	reply    []byte   // the proxy's reply: instead of the server's, or in place of it (replace)
	replace  bool     // the server's reply comes, and is dropped for reply
	closes   bool     // the connection closes once reply is written
	unframed bool     // framing ends where its replies begin

	// note is what the replies' framer must know of the request to
	// frame its reply, "" if nothing: on HTTP, a HEAD or CONNECT method.
	note string
}

// light reports whether the server's reply passes on untouched: entries
// that are light and have the same note are stored as one run.
func (o *owed) light() bool { return o.fx == nil && o.reply == nil && !o.unframed }

// plain reports whether the reply passes on untouched and needs nothing
// of its request to be framed.
func (o *owed) plain() bool { return o.light() && o.note == "" }

// proxyAnswer reports whether the proxy answers instead of the server,
// which owes nothing.
func (o *owed) proxyAnswer() bool { return o.reply != nil && !o.replace }

// owedQueue is the FIFO of what a connection's requests are owed, in the
// order they were sent: appended by the requests side, taken by the
// replies side, which alone writes to the client. Entries do not change
// once appended, so the replies side may act on what it has read of them
// without the lock.
//
// Consecutive light entries with the same note are stored as one run, so
// that a client pipelining millions of requests costs a counter, not an
// entry each.
type owedQueue struct {
	mu      sync.Mutex
	items   []owedRun // items[head:] are owed, oldest first
	head    int
	count   int           // entries owed
	base    uint64        // the serial number of the first owed entry
	held    int           // entries owed that are not light
	popped  chan struct{} // if not nil, closed at the next pop
	stopped bool          // the replies pass through unframed
}

// owedRun is n entries equal to o: n > 1 only if o is light.
type owedRun struct {
	o owed
	n int
}

// pushRun appends n light entries with note. It returns the serial number
// of the last entry appended.
func (q *owedQueue) pushRun(n int, note string) uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.appendLocked(owed{note: note}, n)
	return q.base + uint64(q.count) - 1
}

// full reports whether an entry that is not light would wait for room
// (see maxHeld).
func (q *owedQueue) full() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.held >= maxHeld && !q.stopped
}

// next returns the serial number the next entry appended will have.
func (q *owedQueue) next() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.base + uint64(q.count)
}

// push appends n plain entries, then o, and returns the serial number of
// o. An entry that is not light waits for room (see maxHeld) until stop or
// done is closed; a reply of the proxy's own is refused once the queue is
// stopped: it could not be placed among replies passing through unframed.
// ok is false if o was not appended.
func (q *owedQueue) push(n int, o owed, stop, done <-chan struct{}) (serial uint64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for !o.light() && q.held >= maxHeld && !q.stopped {
		if !q.waitPopLocked(stop, done) {
			return 0, false
		}
	}
	if q.stopped && o.proxyAnswer() {
		return 0, false
	}
	q.appendLocked(owed{}, n)
	q.appendLocked(o, 1)
	if !o.light() {
		q.held++
	}
	return q.base + uint64(q.count) - 1, true
}

func (q *owedQueue) appendLocked(o owed, n int) {
	if n == 0 {
		return
	}
	q.count += n
	if last := len(q.items) - 1; last >= q.head && o.light() && q.items[last].o.light() && q.items[last].o.note == o.note {
		q.items[last].n += n
		return
	}
	q.items = append(q.items, owedRun{o, n})
}

// waitPopLocked waits, without the lock, for the next pop; it reports
// false if stop or done was closed first. The caller holds q.mu.
func (q *owedQueue) waitPopLocked(stop, done <-chan struct{}) bool {
	if q.popped == nil {
		q.popped = make(chan struct{})
	}
	popped := q.popped
	q.mu.Unlock()
	defer q.mu.Lock()
	select {
	case <-popped:
		return true
	case <-stop:
	case <-done:
	}
	return false
}

// at returns the i-th owed entry and how many equal light entries start
// there (1 for any other entry), or false if fewer than i+1 are owed.
func (q *owedQueue) at(i int) (o owed, n int, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, run := range q.items[q.head:] {
		if i < run.n {
			return run.o, run.n - i, true
		}
		i -= run.n
	}
	return owed{}, 0, false
}

// pop forgets the first n owed entries and then, if keep is 0, returns
// the replies of the proxy's own that follow, in order, up to the first
// that closes the connection (closes reports whether there is one). Those
// stay owed until the caller, having written them, pops them too.
func (q *owedQueue) pop(n, keep int) (replies [][]byte, closes bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.forgetLocked(n)
	if keep > 0 {
		return nil, false
	}
	for _, run := range q.items[q.head:] {
		if !run.o.proxyAnswer() || closes {
			break
		}
		replies = append(replies, run.o.reply)
		closes = run.o.closes
	}
	return replies, closes
}

func (q *owedQueue) forgetLocked(n int) {
	if n == 0 {
		return
	}
	q.count -= n
	q.base += uint64(n)
	for n > 0 {
		run := &q.items[q.head]
		take := min(run.n, n)
		run.n -= take
		n -= take
		if run.n > 0 {
			break
		}
		if !run.o.light() {
			q.held--
		}
		*run = owedRun{}
		q.head++
	}
	switch {
	case q.head == len(q.items):
		// Empty: start again at the front of the same array.
		q.items, q.head = q.items[:0], 0
	case q.head >= 1024 && q.head >= len(q.items)/2:
		// Never empty: move the owed entries down so that the array
		// does not grow for ever.
		m := copy(q.items, q.items[q.head:])
		clear(q.items[m:])
		q.items, q.head = q.items[:m], 0
	}
	if q.popped != nil {
		close(q.popped)
		q.popped = nil
	}
}

// stop marks the replies as passing through unframed, and reports whether
// an entry from the i-th owed one on is not light: a reply of the proxy's
// or a behavior on a reply still to come.
func (q *owedQueue) stop(i int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopped = true
	if q.popped != nil {
		// Wake a requests side waiting for room: it will be refused.
		close(q.popped)
		q.popped = nil
	}
	for _, run := range q.items[q.head:] {
		if i < run.n && !run.o.light() {
			return true
		}
		i = max(i-run.n, 0)
	}
	return false
}

// awaitTurn waits until every entry before serial number s has been
// popped, or none will be (a dropped reply is in the way), or stop or
// done is closed.
func (q *owedQueue) awaitTurn(s uint64, stop, done <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.base < s {
		if front := q.items[q.head].o; front.fx != nil && front.fx.drop {
			return
		}
		if !q.waitPopLocked(stop, done) {
			return
		}
	}
}

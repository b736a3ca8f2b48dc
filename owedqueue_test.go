package faults

import (
	"testing"
	"time"
)

// A pipeline of plain requests costs the queue one run, however long.
func TestOwedQueueCountsRuns(t *testing.T) {
	var q owedQueue
	for range 1_000_000 {
		q.pushRun(1, "")
	}
	q.pushRun(3, "HEAD")
	q.pushRun(2, "HEAD")
	if len(q.items) != 2 || q.count != 1_000_005 {
		t.Fatalf("%d runs, %d entries; want 2 runs, 1000005 entries", len(q.items), q.count)
	}
	o, n, ok := q.at(999_998)
	if !ok || !o.plain() || n != 2 {
		t.Fatalf("at(999998) = %+v, %d, %v; want a plain run with 2 left", o, n, ok)
	}
	o, n, ok = q.at(1_000_000)
	if !ok || o.note != "HEAD" || n != 5 {
		t.Fatalf("at(1000000) = %+v, %d, %v; want 5 HEAD entries", o, n, ok)
	}
	q.pop(1_000_001, 1)
	if _, n, _ := q.at(0); n != 4 || q.base != 1_000_001 {
		t.Fatalf("after pop: %d HEAD entries from serial %d; want 4 from 1000001", n, q.base)
	}
}

// Replies of the proxy's own are returned in order behind the server's,
// stay owed until popped, and stop at one that closes the connection.
func TestOwedQueueAnswers(t *testing.T) {
	var q owedQueue
	q.pushRun(1, "")
	q.push(0, owed{reply: []byte("a")}, nil, nil)
	q.push(0, owed{reply: []byte("b"), closes: true}, nil, nil)
	q.push(0, owed{reply: []byte("c")}, nil, nil)
	if replies, _ := q.pop(0, 0); len(replies) != 0 {
		t.Fatalf("replies before the server's: %q", replies)
	}
	replies, closes := q.pop(1, 0)
	if len(replies) != 2 || string(replies[0]) != "a" || string(replies[1]) != "b" || !closes {
		t.Fatalf("pop = %q, %v; want a, b and a close", replies, closes)
	}
	if q.held != 3 {
		t.Fatalf("%d answers owed before they are popped; want 3", q.held)
	}
	q.pop(2, 1)
	if replies, _ := q.pop(0, 0); len(replies) != 1 || q.held != 1 {
		t.Fatalf("after popping two: %q, %d owed", replies, q.held)
	}
}

// Past maxHeld, a reply of the proxy's waits for room, and gives
// up when the connection ends.
func TestOwedQueueBoundsAnswers(t *testing.T) {
	var q owedQueue
	q.pushRun(1, "") // a server's reply that does not come
	for i := range maxHeld {
		if _, ok := q.push(0, owed{reply: []byte("x")}, nil, nil); !ok {
			t.Fatalf("answer %d refused", i)
		}
	}
	pushed := make(chan bool)
	done := make(chan struct{})
	go func() {
		_, ok := q.push(0, owed{reply: []byte("y")}, nil, done)
		pushed <- ok
	}()
	select {
	case <-pushed:
		t.Fatal("an answer past the bound was queued at once")
	case <-time.After(50 * time.Millisecond):
	}
	q.pop(2, 1) // the server's reply and one answer are out
	if ok := <-pushed; !ok {
		t.Fatal("an answer waiting for room was refused after room was made")
	}
	go func() {
		_, ok := q.push(0, owed{reply: []byte("z")}, nil, done)
		pushed <- ok
	}()
	close(done)
	if ok := <-pushed; ok {
		t.Fatal("an answer waiting for room was queued after the connection ended")
	}
}

package faults

import (
	"sync"
	"time"
)

// An Event records one fault that fired.
type Event struct {
	Time     time.Time // when it fired
	Conn     uint64    // the connection, numbered from 1 in accept order; 0 for the listener
	Request  string    // the request it fired on, where the protocol knows one
	Behavior string    // the behavior, as its String method renders it
}

// ledger keeps the most recent events and calls the OnFault hook.
type ledger struct {
	mu     sync.Mutex
	limit  int
	events []Event // a ring once full
	next   int     // where the next event goes once full
	hook   func(Event)
}

func (l *ledger) record(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit > 0 {
		if len(l.events) < l.limit {
			l.events = append(l.events, e)
		} else {
			l.events[l.next] = e
			l.next = (l.next + 1) % l.limit
		}
	}
	if l.hook != nil {
		l.hook(e)
	}
}

// snapshot returns the kept events, oldest first.
func (l *ledger) snapshot() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Event, 0, len(l.events))
	out = append(out, l.events[l.next:]...)
	return append(out, l.events[:l.next]...)
}

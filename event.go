package faults

import (
	"strconv"
	"strings"
	"sync"
	"time"
)

// An Event records one fault that fired.
type Event struct {
	Time     time.Time // when it fired, wall clock only (no monotonic reading)
	Conn     uint64    // the connection, numbered from 1 in accept order; 0 for the listener
	Request  string    // the request it fired on, where the protocol knows one
	Behavior string    // the behavior, as its String method renders it
}

// String renders e on one line, as logs and load reports show it: the
// local time to the microsecond, the connection ("listener" for 0), the
// request quoted in Go syntax if there is one, and the behavior in the
// syntax of [Behavior.String]:
//
//	15:04:05.123456 conn 3 "GET /orders/7" Error(HTTPStatus(503)).Probability(0.5)
//	15:04:05.200000 listener Restart(2s)
func (e Event) String() string {
	var s strings.Builder
	s.WriteString(e.Time.Format("15:04:05.000000"))
	if e.Conn == 0 {
		s.WriteString(" listener")
	} else {
		s.WriteString(" conn ")
		s.WriteString(strconv.FormatUint(e.Conn, 10))
	}
	if e.Request != "" {
		s.WriteByte(' ')
		s.WriteString(strconv.Quote(e.Request))
	}
	s.WriteByte(' ')
	s.WriteString(e.Behavior)
	return s.String()
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
	e.Time = e.Time.Round(0) // the wall clock alone prints as people read it
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

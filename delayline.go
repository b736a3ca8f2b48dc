package faults

import (
	"sync/atomic"
	"time"
)

// delayLineDepth bounds the chunks a Latency holds in flight per direction
// (each up to largeBuffer): at most 4 MiB. When it is full the reader
// waits, and TCP flow control slows the sender.
const delayLineDepth = 32

// delayLine carries chunks from a direction's reader to a writer goroutine
// that sends each one when its delay has passed, so that a delayed stream
// keeps its throughput and its order.
type delayLine struct {
	h       *half
	sp      *streamPlan
	plan    *connPlan
	chunks  chan delayed
	done    chan struct{}
	err     error // the write error that stopped the writer; read after done
	failing atomic.Bool
}

type delayed struct {
	buf *[]byte
	n   int
	at  time.Time // when it was read
	due time.Time
}

func (h *half) startDelayLine(plan *connPlan, sp *streamPlan) *delayLine {
	l := &delayLine{h: h, sp: sp, plan: plan, chunks: make(chan delayed, delayLineDepth), done: make(chan struct{})}
	h.c.p.wg.Add(1)
	go l.write()
	return l
}

// push hands buf, holding n bytes, to the writer, to be sent after d. The
// writer owns buf from then on.
func (l *delayLine) push(buf *[]byte, n int, d time.Duration) {
	select {
	case l.chunks <- delayed{buf: buf, n: n, at: time.Now(), due: time.Now().Add(d)}:
	case <-l.h.c.done:
		putBuffer(buf)
	}
}

// failed reports whether the writer has stopped on an error.
func (l *delayLine) failed() bool { return l.failing.Load() }

// stop waits until every chunk pushed has been written, then returns the
// writer's error. It may be called more than once.
func (l *delayLine) stop() error {
	select {
	case <-l.done:
	default:
		close(l.chunks)
		<-l.done
	}
	return l.err
}

// write sends the chunks in order, each when it is due.
func (l *delayLine) write() {
	defer l.h.c.p.wg.Done()
	defer close(l.done)
	for ch := range l.chunks {
		if l.err == nil {
			l.err = l.send(ch)
			if l.err != nil {
				l.failing.Store(true)
			}
		}
		putBuffer(ch.buf)
	}
}

func (l *delayLine) send(ch delayed) error {
	plan := l.plan
	for d := time.Until(ch.due); d > 0; d = time.Until(ch.due) {
		switch l.h.c.sleep(d, plan.changed) {
		case ended:
			return errEnded
		case woken:
			// The behaviors changed: a chunk waits no longer than the
			// new latency would have held it, so that removing Latency
			// releases the bytes it holds.
			plan = l.h.c.plan.Load()
			if due := ch.at.Add(plan.stream(l.h.dir).latency); due.Before(ch.due) {
				ch.due = due
			}
		}
	}
	return l.h.emit((*ch.buf)[:ch.n], l.sp, l.plan)
}

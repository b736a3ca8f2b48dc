package faults_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// TestTimerResetAfter: the connection is reset d after it opened, idle or
// not.
func TestTimerResetAfter(t *testing.T) {
	const d = 300 * time.Millisecond
	p, _ := newEchoProxy(t)
	mustSet(t, p, faults.ResetAfter(d))
	start := time.Now()
	c := dial(t, p.Addr())
	echoes(t, c, "alive", ioWait)
	_, err := readUntilEnd(t, c, ioWait)
	at := time.Since(start)
	if !isReset(err) {
		t.Fatalf("read ended with %v; want ECONNRESET", err)
	}
	checkDue(t, "reset after the dial", at, d)
	checkInjected(t, p, 1)
}

// TestTimerTimeout: a hard timeout ends the connection with a clean EOF d
// after it opened, even while traffic flows.
func TestTimerTimeout(t *testing.T) {
	const d = 400 * time.Millisecond
	p, _ := newEchoProxy(t)
	mustSet(t, p, faults.Timeout(d))
	start := time.Now()
	c := dial(t, p.Addr())

	// Write a little every 10 ms; read the echoes until the connection ends.
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for deadline := time.Now().Add(ioWait); time.Now().Before(deadline); {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := c.Write([]byte("tick tock")); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); <-wrote }()

	c.SetReadDeadline(time.Now().Add(ioWait))
	buf := make([]byte, 4096)
	var last time.Duration // when the last echo arrived
	var err error
	for {
		var n int
		n, err = c.Read(buf)
		if n > 0 {
			last = time.Since(start)
		}
		if err != nil {
			break
		}
	}
	end := time.Since(start)
	if err != io.EOF {
		t.Fatalf("read ended with %v after %v; want EOF", err, end)
	}
	t.Logf("EOF at %v, last echo at %v", end, last)
	checkDue(t, "EOF after the dial", end, d)
	if last < d-150*time.Millisecond {
		t.Errorf("the last echo came at %v; traffic should have flowed until about %v", last, d)
	}
	checkInjected(t, p, 1)
}

// TestTimerTimeoutOnOpenConnection: for a connection already open, the
// timeout runs from the moment Timeout is installed, not from the accept.
func TestTimerTimeoutOnOpenConnection(t *testing.T) {
	const d = 300 * time.Millisecond
	p, _ := newEchoProxy(t)
	c := dial(t, p.Addr())
	echoes(t, c, "old", ioWait)
	time.Sleep(d / 2) // the connection is d/2 old when Timeout comes
	start := time.Now()
	mustSet(t, p, faults.Timeout(d))
	_, err := readUntilEnd(t, c, ioWait)
	if err != io.EOF {
		t.Fatalf("read ended with %v; want EOF", err)
	}
	checkDue(t, "EOF after Set", time.Since(start), d)
	checkInjected(t, p, 1)
}

// TestTimerIdleTimeout: traffic every d/3 keeps the connection alive well
// past d; once idle, it is closed (EOF) d after the last byte.
func TestTimerIdleTimeout(t *testing.T) {
	const d = 300 * time.Millisecond
	p, _ := newEchoProxy(t)
	mustSet(t, p, faults.IdleTimeout(d))
	start := time.Now()
	c := dial(t, p.Addr())
	var lastSent time.Time
	for time.Since(start) < 3*d+100*time.Millisecond {
		time.Sleep(d / 3)
		lastSent = time.Now()
		echoes(t, c, "keepalive", ioWait)
	}
	_, err := readUntilEnd(t, c, ioWait)
	idle := time.Since(lastSent)
	if err != io.EOF {
		t.Fatalf("read ended with %v; want EOF", err)
	}
	t.Logf("alive for %v with traffic; closed %v after the last byte", lastSent.Sub(start), idle)
	checkDue(t, "closed after the last byte", idle, d)
	checkInjected(t, p, 1)
}

// TestTimerNoDirection: a direction makes no sense on a timer, and Set
// refuses it clearly, changing nothing.
func TestTimerNoDirection(t *testing.T) {
	p, _ := newEchoProxy(t)
	mustSet(t, p, faults.Latency(time.Millisecond))
	for _, b := range []faults.Behavior{
		faults.Timeout(time.Second).Downstream(),
		faults.IdleTimeout(time.Second).Upstream(),
		faults.ResetAfter(time.Second).BothWays(),
	} {
		err := p.Set(b)
		if !errors.Is(err, faults.ErrInvalid) {
			t.Errorf("Set(%v) = %v; want ErrInvalid", b, err)
			continue
		}
		if !strings.Contains(err.Error(), "direction") {
			t.Errorf("Set(%v) error %q does not say the direction is the problem", b, err)
		}
	}
	// The latency installed before is still in force.
	c := dial(t, p.Addr())
	if rt := roundTrip(t, c, []byte("x")); rt < 2*time.Millisecond {
		t.Errorf("round trip %v; the earlier Latency should still be in force", rt)
	}
	checkInjected(t, p, 1)
}

// checkDue checks that what the proxy scheduled d ahead happened after
// got: not early, and at most a second late on a loaded machine.
func checkDue(t *testing.T, what string, got, d time.Duration) {
	t.Helper()
	if got < d || got > d+time.Second {
		t.Errorf("%s: %v; want %v (+1s)", what, got, d)
	}
}

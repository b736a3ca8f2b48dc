package faulttest_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// fakeT records what the helpers do with a test. Like testing.T, its Logf
// is safe from any goroutine: a proxy logs from its connections'.
type fakeT struct {
	fatals   []string
	logMu    sync.Mutex
	logs     []string
	cleanups []func()
	failed   bool
}

func (f *fakeT) Helper()           {}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Failed() bool      { return f.failed }
func (f *fakeT) Logf(format string, a ...any) {
	f.logMu.Lock()
	defer f.logMu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, a...))
}
func (f *fakeT) Fatalf(format string, a ...any) {
	f.failed = true
	f.fatals = append(f.fatals, fmt.Sprintf(format, a...))
}

func (f *fakeT) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.cleanups = nil
}

// echoServer returns the address of an echo server that lives until the
// end of the test.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go io.Copy(c, c)
		}
	}()
	return ln.Addr().String()
}

// roundTrip dials addr, sends a line and reports whether it came back.
func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	return nil
}

func TestNewProxyFailsTestOnError(t *testing.T) {
	ft := &fakeT{}
	p := faulttest.NewProxy(ft, "no-port")
	if p != nil || len(ft.fatals) != 1 || !strings.Contains(ft.fatals[0], "faulttest:") {
		t.Fatalf("NewProxy(bad target) = %v, fatals %q; want nil and one fatal", p, ft.fatals)
	}
}

func TestNewProxyClosesAtCleanupAndLogsSeedOnFailure(t *testing.T) {
	ft := &fakeT{}
	p := faulttest.NewProxy(ft, echoServer(t), faults.WithSeed(1234))
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	ft.failed = true
	ft.runCleanups()
	if err := p.Set(); !errors.Is(err, faults.ErrClosed) {
		t.Errorf("Set after cleanup = %v, want ErrClosed", err)
	}
	if len(ft.logs) != 1 || !strings.Contains(ft.logs[0], "faults.WithSeed(1234)") {
		t.Errorf("logs %q, want the seed", ft.logs)
	}
}

func TestSetRestoresPreviousBehaviors(t *testing.T) {
	p := faulttest.NewProxy(t, echoServer(t))
	base := faults.Latency(time.Millisecond)
	if err := p.Set(base); err != nil {
		t.Fatal(err)
	}
	ft := &fakeT{}
	faulttest.Set(ft, p, faults.Refuse())
	if err := roundTrip(p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("with Refuse installed: %v, want connection refused", err)
	}
	ft.runCleanups()
	if got := p.Behaviors(); len(got) != 1 || got[0].String() != base.String() {
		t.Fatalf("after cleanup: %v, want [%v]", got, base)
	}
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after cleanup: %v", err)
	}
}

func TestSetFailsTestOnInvalidBehavior(t *testing.T) {
	p := faulttest.NewProxy(t, echoServer(t))
	ft := &fakeT{}
	faulttest.Set(ft, p, faults.Latency(-time.Second))
	if len(ft.fatals) != 1 || !strings.Contains(ft.fatals[0], "Latency") {
		t.Fatalf("fatals %q, want one naming Latency", ft.fatals)
	}
	// Nothing was installed, so nothing is restored: the proxy keeps the
	// behaviors it had.
	if err := p.Set(faults.Latency(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	ft.runCleanups()
	if got := p.Behaviors(); len(got) != 1 {
		t.Fatalf("cleanups of a refused Set changed the behaviors to %v", got)
	}
}

func TestWithBehaviorScopesToFunction(t *testing.T) {
	p := faulttest.NewProxy(t, echoServer(t))
	ran := false
	faulttest.WithBehavior(t, p, faults.Blackout(), func() {
		ran = true
		if err := roundTrip(p.Addr()); err == nil {
			t.Error("round trip succeeded during Blackout")
		}
	})
	if !ran {
		t.Fatal("fn did not run")
	}
	if got := p.Behaviors(); len(got) != 0 {
		t.Fatalf("after WithBehavior: %v installed, want none", got)
	}
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after WithBehavior: %v", err)
	}
	if got := p.Stats().Injected; got != 1 {
		t.Fatalf("Injected = %d, want 1", got)
	}
}

func TestWithBehaviorRestoresWhenFnPanics(t *testing.T) {
	p := faulttest.NewProxy(t, echoServer(t))
	func() {
		defer func() { recover() }()
		faulttest.WithBehavior(t, p, faults.Refuse(), func() { panic("boom") })
	}()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("after a panicking fn: %v", err)
	}
}

func TestRunInstallsEachScenario(t *testing.T) {
	p := faulttest.NewProxy(t, echoServer(t))
	var seen []string
	faulttest.Run(t, p, []faulttest.Scenario{
		{Name: "healthy", Test: func(t *testing.T) {
			seen = append(seen, fmt.Sprint(p.Behaviors()))
			if err := roundTrip(p.Addr()); err != nil {
				t.Error(err)
			}
		}},
		{Name: "refused", Behaviors: []faults.Behavior{faults.Refuse()}, Test: func(t *testing.T) {
			seen = append(seen, fmt.Sprint(p.Behaviors()))
			if err := roundTrip(p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("got %v, want connection refused", err)
			}
		}},
		{Name: "recovered", Test: func(t *testing.T) {
			seen = append(seen, fmt.Sprint(p.Behaviors()))
			if err := roundTrip(p.Addr()); err != nil {
				t.Error(err)
			}
		}},
	})
	want := []string{"[]", "[Refuse()]", "[]"}
	if !slices.Equal(seen, want) {
		t.Fatalf("behaviors per scenario %q, want %q", seen, want)
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestUseLogsSharedProxy: a proxy made outside the test, as in TestMain,
// and named: each failing test that used it logs its name, seed and the
// faults it fired during that test, not those of other tests.
func TestUseLogsSharedProxy(t *testing.T) {
	p, err := faults.NewProxy(echoServer(t), faults.WithName("shared"), faults.WithSeed(77))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	first := &fakeT{}
	faulttest.Use(first, p)
	faulttest.Set(first, p, faults.Blackout())
	roundTrip(p.Addr())
	first.failed = true
	first.runCleanups()

	second := &fakeT{}
	faulttest.WithBehavior(second, p, faults.Latency(time.Millisecond), func() {
		if err := roundTrip(p.Addr()); err != nil {
			t.Error(err)
		}
	})
	faulttest.Use(second, p) // again: no second report
	second.failed = true
	second.runCleanups()

	if len(first.logs) != 1 {
		t.Fatalf("first test logged %q, want one report", first.logs)
	}
	log := first.logs[0]
	for _, want := range []string{"proxy shared (" + p.Addr() + " → ", "faults.WithSeed(77)", "1 faults fired", "conn 1 Blackout()"} {
		if !strings.Contains(log, want) {
			t.Errorf("first test's log lacks %q:\n%s", want, log)
		}
	}
	if len(second.logs) != 1 {
		t.Fatalf("second test logged %q, want one report", second.logs)
	}
	if log := second.logs[0]; !strings.Contains(log, "faults.WithSeed(77); 1 faults fired") || strings.Contains(log, "Blackout") {
		t.Errorf("second test's log names the wrong faults:\n%s", log)
	}

	// A test that passes logs nothing.
	third := &fakeT{}
	faulttest.Use(third, p)
	third.runCleanups()
	if len(third.logs) != 0 {
		t.Errorf("a passing test logged %q", third.logs)
	}
}

// TestDialFailuresLogged: a dead target is not silent: each failed
// upstream dial is logged to the test while it runs, and counted at its
// end.
func TestDialFailuresLogged(t *testing.T) {
	ft := &fakeT{}
	p := faulttest.NewProxy(ft, closedAddr(t))
	for range 2 {
		if err := roundTrip(p.Addr()); err == nil {
			t.Fatal("a round trip to a dead target succeeded")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().DialFailures < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ft.runCleanups()
	var dials, summary int
	for _, l := range ft.logs {
		if strings.Contains(l, "upstream dial failed") && strings.Contains(l, p.Target()) {
			dials++
		}
		if strings.Contains(l, "2 upstream dials to "+p.Target()+" failed") {
			summary++
		}
	}
	if dials != 2 || summary != 1 {
		t.Errorf("logs %q; want each failed dial and a summary", ft.logs)
	}
	if got := p.Stats().DialFailures; got != 2 {
		t.Errorf("DialFailures = %d, want 2", got)
	}
}

// TestHelperAfterTestEnded: a helper called after its test ended panics
// with the reason it would have failed the test, not Go's bare "Fail in
// goroutine after … has completed".
func TestHelperAfterTestEnded(t *testing.T) {
	p := faulttest.NewProxy(t, echoServer(t))
	var ended *testing.T
	t.Run("ends", func(t *testing.T) { ended = t })
	got := func() (v any) {
		defer func() { v = recover() }()
		faulttest.Set(ended, p, faults.Latency(-time.Second))
		return nil
	}()
	msg, _ := got.(string)
	for _, want := range []string{"faulttest.Set called after " + ended.Name() + " ended", "Latency(-1s)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("panic %v; want it to say %q", got, want)
		}
	}
}

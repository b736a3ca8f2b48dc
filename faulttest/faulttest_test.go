package faulttest_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// fakeT records what the helpers do with a test.
type fakeT struct {
	fatals   []string
	logs     []string
	cleanups []func()
	failed   bool
}

func (f *fakeT) Helper()                      {}
func (f *fakeT) Cleanup(fn func())            { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) Failed() bool                 { return f.failed }
func (f *fakeT) Logf(format string, a ...any) { f.logs = append(f.logs, fmt.Sprintf(format, a...)) }
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
	if len(ft.cleanups) != 0 {
		t.Fatal("a refused Set registered a cleanup")
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

package faults_test

import (
	"errors"
	"io"
	"math"
	"net"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// checkUnsupported fails the test unless err reports, in both documented
// ways, a behavior the proxy's protocol cannot carry out.
func checkUnsupported(t *testing.T, what string, err error) {
	t.Helper()
	var ue *faults.UnsupportedError
	if !errors.Is(err, faults.ErrUnsupported) || !errors.As(err, &ue) {
		t.Errorf("%s: %v, want ErrUnsupported", what, err)
	}
}

// checkInvalid fails the test unless err reports a bad argument in both
// documented ways.
func checkInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error; want ErrInvalid", what)
		return
	}
	if !errors.Is(err, faults.ErrInvalid) {
		t.Errorf("%s: %v; want errors.Is ErrInvalid", what, err)
	}
	var ie *faults.InvalidError
	if !errors.As(err, &ie) {
		t.Errorf("%s: %T; want *faults.InvalidError", what, err)
	} else if ie.Reason == "" || ie.What == "" {
		t.Errorf("%s: %#v does not say what was refused and why", what, ie)
	}
}

func TestNewProxyInvalidTarget(t *testing.T) {
	for _, target := range []string{
		"",
		"nohostport",
		"host:99999",
		"host:",
		"127.0.0.1:0",
		"127.0.0.1:-1",
		"[::1",
		"127.0.0.1:no-such-service-name",
	} {
		p, err := faults.NewProxy(target)
		checkInvalid(t, "NewProxy("+target+")", err)
		if p != nil {
			t.Errorf("NewProxy(%q) returned a proxy with its error", target)
			p.Close()
		}
	}
}

func TestNewProxyInvalidOptions(t *testing.T) {
	b := newBackend(t, echo)
	for _, tc := range []struct {
		name string
		opt  faults.Option
	}{
		{"WithListenAddr(bogus)", faults.WithListenAddr("bogus")},
		{"WithListenAddr(empty)", faults.WithListenAddr("")},
		{"WithListenAddr(port out of range)", faults.WithListenAddr("127.0.0.1:70000")},
		{"WithDialTimeout(-1)", faults.WithDialTimeout(-1)},
		{"WithLogger(nil)", faults.WithLogger(nil)},
		{"WithDialer(nil)", faults.WithDialer(nil)},
		{"WithDialer((*net.Dialer)(nil))", faults.WithDialer((*net.Dialer)(nil))},
		{"WithProtocol(nil)", faults.WithProtocol(nil)},
		{"OnFault(nil)", faults.OnFault(nil)},
		{"WithEventLimit(-1)", faults.WithEventLimit(-1)},
	} {
		p, err := faults.NewProxy(b.addr(), faults.WithSeed(1), tc.opt)
		checkInvalid(t, tc.name, err)
		if p != nil {
			t.Errorf("%s: NewProxy returned a proxy with its error", tc.name)
			p.Close()
		}
	}
}

// TestNewProxyListenInUse: a listen address already taken is reported as
// the listen failure, not as a bad argument.
func TestNewProxyListenInUse(t *testing.T) {
	b := newBackend(t, echo)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p, err := faults.NewProxy(b.addr(), faults.WithListenAddr(ln.Addr().String()))
	if err == nil {
		p.Close()
		t.Fatal("NewProxy on an address in use succeeded")
	}
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Errorf("NewProxy on an address in use: %T %v; want *net.OpError", err, err)
	}
	if errors.Is(err, faults.ErrInvalid) {
		t.Errorf("a listen failure reported as ErrInvalid: %v", err)
	}
}

// TestSetInvalid: every bad argument or modifier makes Set fail with
// ErrInvalid and leaves the installed behaviors in force.
func TestSetInvalid(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		bs   []faults.Behavior
	}{
		{"Latency(-1)", []faults.Behavior{faults.Latency(-1)}},
		{"Jitter(-1)", []faults.Behavior{faults.Latency(ms).Jitter(-1)}},
		{"Bandwidth(0)", []faults.Behavior{faults.Bandwidth(0)}},
		{"Bandwidth(-5)", []faults.Behavior{faults.Bandwidth(-5)}},
		{"Slice(0, 1ms)", []faults.Behavior{faults.Slice(0, ms)}},
		{"Slice(1, -1)", []faults.Behavior{faults.Slice(1, -1)}},
		{"Corrupt(1.5)", []faults.Behavior{faults.Corrupt(1.5)}},
		{"Corrupt(-0.1)", []faults.Behavior{faults.Corrupt(-0.1)}},
		{"Corrupt(NaN)", []faults.Behavior{faults.Corrupt(math.NaN())}},
		{"CloseAfterBytes(-1)", []faults.Behavior{faults.CloseAfterBytes(-1)}},
		{"ResetAfterBytes(-1)", []faults.Behavior{faults.ResetAfterBytes(-1)}},
		{"SlowClose(-1)", []faults.Behavior{faults.SlowClose(-1)}},
		{"Timeout(0)", []faults.Behavior{faults.Timeout(0)}},
		{"Timeout(-1)", []faults.Behavior{faults.Timeout(-1)}},
		{"IdleTimeout(0)", []faults.Behavior{faults.IdleTimeout(0)}},
		{"ResetAfter(0)", []faults.Behavior{faults.ResetAfter(0)}},
		{"ConnectDelay(-1)", []faults.Behavior{faults.ConnectDelay(-1)}},
		{"Restart(-1)", []faults.Behavior{faults.Restart(-1)}},
		{"Probability(1.5)", []faults.Behavior{faults.Latency(ms).Probability(1.5)}},
		{"Probability(-0.1)", []faults.Behavior{faults.Latency(ms).Probability(-0.1)}},
		{"Probability(NaN)", []faults.Behavior{faults.Blackout().Probability(math.NaN())}},
		{"Probability(+Inf)", []faults.Behavior{faults.Blackout().Probability(math.Inf(1))}},
		{"Times(-1)", []faults.Behavior{faults.Latency(ms).Times(-1)}},
		{"After(-1)", []faults.Behavior{faults.Latency(ms).After(-1)}},
		{"For(0)", []faults.Behavior{faults.Latency(ms).For(0)}},
		{"For(-1)", []faults.Behavior{faults.Stall().For(-1)}},
		{"Bandwidth.Jitter", []faults.Behavior{faults.Bandwidth(100).Jitter(ms)}},
		{"Stall.Jitter", []faults.Behavior{faults.Stall().Jitter(ms)}},
		{"Blackout.Upstream", []faults.Behavior{faults.Blackout().Upstream()}},
		{"Hang.Downstream", []faults.Behavior{faults.Hang().Downstream()}},
		{"Timeout.Upstream", []faults.Behavior{faults.Timeout(time.Second).Upstream()}},
		{"Refuse.BothWays", []faults.Behavior{faults.Refuse().BothWays()}},
		{"Refuse.Probability", []faults.Behavior{faults.Refuse().Probability(0.5)}},
		{"Refuse.Times", []faults.Behavior{faults.Refuse().Times(1)}},
		{"Refuse.After", []faults.Behavior{faults.Refuse().After(1)}},
		{"Restart.Times", []faults.Behavior{faults.Restart(0).Times(1)}},
		{"Restart.For", []faults.Behavior{faults.Restart(time.Second).For(time.Second)}},
		// The first bad argument survives later valid modifiers.
		{"Latency(-1).Times(3).Downstream()", []faults.Behavior{faults.Latency(-1).Times(3).Downstream()}},
		{"Probability(2).Probability(0.5)", []faults.Behavior{faults.Latency(ms).Probability(2).Probability(0.5)}},
		// One bad behavior among good ones: nothing changes.
		{"good and bad", []faults.Behavior{faults.Latency(ms), faults.Refuse(), faults.Latency(-1)}},
	}
	p, _ := newEchoProxy(t)
	mustSet(t, p, faults.Blackout()) // must stay in force throughout
	for _, tc := range cases {
		checkInvalid(t, "Set("+tc.name+")", p.Set(tc.bs...))
		// Blackout still acts: a new client reads EOF at once. (Had the
		// "good and bad" Refuse gone in, the dial would be refused.)
		c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
		if err != nil {
			t.Fatalf("after Set(%s): dial: %v", tc.name, err)
		}
		got, err := readUntilEnd(t, c, 5*time.Second)
		c.Close()
		if err != io.EOF || len(got) != 0 {
			t.Fatalf("after the failed Set(%s) a client read %q, %v; want EOF from the Blackout still installed", tc.name, got, err)
		}
	}
	if st := p.Stats(); st.Injected != int64(len(cases)) {
		t.Errorf("Injected = %d, want %d (one blackout per client, nothing from the refused sets)", st.Injected, len(cases))
	}
	// The zero Behavior is valid and does nothing.
	mustSet(t, p, faults.Behavior{})
	echoes(t, dial(t, p.Addr()), "zero behavior passes", 5*time.Second)
}

// TestModifierErrorsNameTheModifier: an argument a modifier refuses is
// reported with the behavior as built and the modifier's call, so that the
// message points at the wrong call.
func TestModifierErrorsNameTheModifier(t *testing.T) {
	p, _ := newEchoProxy(t)
	for _, tc := range []struct {
		b    faults.Behavior
		want string
	}{
		{faults.Refuse().For(-time.Second), "faults: Refuse().For(-1s): must be positive"},
		{faults.Latency(time.Second).Probability(1.5), "faults: Latency(1s).Probability(1.5): must be in [0, 1]"},
		{faults.Blackout().Times(-1), "faults: Blackout().Times(-1): must not be negative"},
		{faults.Blackout().After(-2), "faults: Blackout().After(-2): must not be negative"},
		{faults.Latency(time.Second).Downstream().Jitter(-time.Millisecond), "faults: Latency(1s).Downstream().Jitter(-1ms): must not be negative"},
		{faults.Stall().Jitter(time.Millisecond), "faults: Stall().Jitter(1ms): applies to Latency only"},
		{faults.DropResponse().When(nil), "faults: DropResponse().When(nil): nil Matcher"},
		// The first refused argument is the one reported.
		{faults.Hang().For(0).Times(-1), "faults: Hang().For(0s): must be positive"},
	} {
		err := p.Set(tc.b)
		checkInvalid(t, tc.want, err)
		if err != nil && err.Error() != tc.want {
			t.Errorf("Set: %v\nwant     %s", err, tc.want)
		}
	}
}

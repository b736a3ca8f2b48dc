// Package faulttest wires [faults] proxies into Go tests: it fails the test
// on errors, closes proxies at cleanup, scopes behaviors to a test, a
// function or a table of scenarios, and, when a test fails, logs the seed
// and the faults of every proxy the test used, so that its faults can be
// replayed.
//
// A proxy's behaviors are state shared by every connection through it: do
// not change them from parallel subtests. Give each parallel test its own
// proxy instead; proxies are cheap.
//
// Proxies that a package's tests share are made in TestMain with
// [faults.NewProxy], named with [faults.WithName]; each test that relies on
// one declares it with [Use] (the helpers taking a proxy do so
// themselves), and a failing test then logs that proxy's seed and the
// faults it fired during the test:
//
//	var db *faults.Proxy
//
//	func TestMain(m *testing.M) {
//		db, _ = faults.NewProxy("127.0.0.1:3306", faults.WithName("mysql"), faults.WithProtocol(faults.MySQL()))
//		code := m.Run()
//		db.Close()
//		os.Exit(code)
//	}
//
//	func TestCheckout(t *testing.T) {
//		faulttest.Use(t, db)
//		...
//	}
//
// The helpers must be called from the test's goroutine while the test
// runs, as t.Fatal must. Called after the test has ended, from a goroutine
// that outlived it, they cannot fail it: Go then panics with "Fail in
// goroutine after … has completed". Where a helper knows why it would have
// failed, it panics with that reason instead.
package faulttest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// TB is the part of [testing.TB] the helpers use.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
}

var _ TB = testing.TB(nil)

// NewProxy starts a proxy to target with [faults.NewProxy] and closes it at
// the end of the test. It fails the test at once if the proxy cannot start.
// While the test runs, what the proxy logs at level Warn or above, such as
// an upstream dial that failed (a wrong or dead target), is logged to the
// test, unless opts give a logger of their own ([faults.WithLogger]). If
// the test fails, the proxy's seed and faults are logged as by [Use]: pass
// the seed to [faults.WithSeed] to replay the same faults.
func NewProxy(t TB, target string, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	tl := &testLog{t: t}
	logger := slog.New(slog.NewTextHandler(tl, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	p, err := faults.NewProxy(target, append([]faults.Option{faults.WithLogger(logger)}, opts...)...)
	if err != nil {
		fatalf(t, "NewProxy", "faulttest: %v", err)
		return nil
	}
	t.Cleanup(func() {
		p.Close() // every goroutine that could log has ended
		tl.stop()
	})
	Use(t, p)
	return p
}

// testLog passes what a proxy logs to a test, until stopped.
type testLog struct {
	mu      sync.Mutex
	t       TB
	stopped bool
}

func (l *testLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("%s", strings.TrimSuffix(string(b), "\n"))
	}
	return len(b), nil
}

func (l *testLog) stop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped = true
}

var _ io.Writer = (*testLog)(nil)

// Use declares that the test uses the proxies ps, made elsewhere: in
// TestMain, or shared by several tests. At the end of the test, Use logs
// how many upstream dials of each proxy failed during the test, if any
// did; and if the test failed, it logs each proxy's seed and the faults it
// fired during the test ([faults.Event] lines), so that a shared proxy's
// faults can be replayed. The other helpers call Use on the proxies they
// are given; calling it again for the same test and proxy does nothing.
func Use(t TB, ps ...*faults.Proxy) {
	t.Helper()
	for _, p := range ps {
		if p == nil {
			fatalf(t, "Use", "faulttest: Use: nil proxy")
			return
		}
		use(t, p)
	}
}

// maxLoggedEvents bounds the events a failing test logs per proxy.
const maxLoggedEvents = 50

// usage is one proxy's use by one test.
type usage struct {
	since time.Time
	stats faults.Stats
}

// uses records which proxies each running test has used.
var uses struct {
	sync.Mutex
	m map[any]map[*faults.Proxy]*usage
}

// use records that t uses p, once, and arranges the report at its end.
func use(t TB, p *faults.Proxy) {
	if !reflect.TypeOf(t).Comparable() || ended(t) {
		return // no test to report to
	}
	uses.Lock()
	defer uses.Unlock()
	if uses.m == nil {
		uses.m = make(map[any]map[*faults.Proxy]*usage)
	}
	byProxy := uses.m[t]
	if byProxy == nil {
		byProxy = make(map[*faults.Proxy]*usage)
		uses.m[t] = byProxy
	}
	if byProxy[p] != nil {
		return
	}
	u := &usage{since: time.Now().Round(0), stats: p.Stats()}
	byProxy[p] = u
	t.Cleanup(func() {
		uses.Lock()
		delete(uses.m[t], p)
		if len(uses.m[t]) == 0 {
			delete(uses.m, t)
		}
		uses.Unlock()
		report(t, p, u)
	})
}

// report logs what t should know of its use of p, at its end.
func report(t TB, p *faults.Proxy, u *usage) {
	st := p.Stats()
	if n := st.DialFailures - u.stats.DialFailures; n > 0 {
		t.Logf("faulttest: proxy %v: %d upstream dials to %s failed during the test (a wrong or dead target?); their clients were reset",
			p, n, p.Target())
	}
	if !t.Failed() {
		return
	}
	var evs []faults.Event
	for _, e := range p.Events() {
		if !e.Time.Before(u.since) {
			evs = append(evs, e)
		}
	}
	var s strings.Builder
	fmt.Fprintf(&s, "faulttest: proxy %v ran with faults.WithSeed(%d); %d faults fired during the test",
		p, p.Seed(), st.Injected-u.stats.Injected)
	for i, e := range evs {
		if i == maxLoggedEvents {
			fmt.Fprintf(&s, "\n\t… and %d more", len(evs)-i)
			break
		}
		fmt.Fprintf(&s, "\n\t%v", e)
	}
	t.Logf("%s", s.String())
}

// Set installs bs on p for the rest of the test, then restores the
// behaviors p had before (their counters and windows start afresh). It
// fails the test at once if p refuses bs.
func Set(t TB, p *faults.Proxy, bs ...faults.Behavior) {
	t.Helper()
	Use(t, p)
	prev := p.Behaviors()
	if err := p.Set(bs...); err != nil {
		fatalf(t, "Set", "faulttest: Set: %v", err)
		return
	}
	t.Cleanup(func() { restore(t, p, prev) })
}

// WithBehavior installs b on p, runs fn, and then restores the behaviors p
// had before, even if fn fails the test. It fails the test at once if p
// refuses b.
func WithBehavior(t TB, p *faults.Proxy, b faults.Behavior, fn func()) {
	t.Helper()
	Use(t, p)
	prev := p.Behaviors()
	if err := p.Set(b); err != nil {
		fatalf(t, "WithBehavior", "faulttest: Set: %v", err)
		return
	}
	defer restore(t, p, prev)
	fn()
}

func restore(t TB, p *faults.Proxy, prev []faults.Behavior) {
	t.Helper()
	if err := p.Set(prev...); err != nil && err != faults.ErrClosed {
		t.Fatalf("faulttest: restoring behaviors: %v", err)
	}
}

// fatalf fails t with the message, or, if t has ended (its context is
// done), panics with it: failing an ended test only panics with Go's
// "Fail in goroutine after … has completed", which loses the reason.
func fatalf(t TB, helper, format string, args ...any) {
	t.Helper()
	if ended(t) {
		name := "its test"
		if n, ok := t.(interface{ Name() string }); ok {
			name = n.Name()
		}
		panic(fmt.Sprintf("faulttest.%s called after %s ended, so it cannot fail it: %s", helper, name, fmt.Sprintf(format, args...)))
	}
	t.Fatalf(format, args...)
}

// ended reports whether t's context is done: t has ended, or is running
// its cleanup functions.
func ended(t TB) bool {
	c, ok := t.(interface{ Context() context.Context })
	return ok && c.Context().Err() != nil
}

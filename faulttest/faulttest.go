// Package faulttest wires [faults] proxies into Go tests: it fails the test
// on errors, closes proxies at cleanup, scopes behaviors to a test, a
// function or a table of scenarios, and logs the seed of a failed test so
// that its faults can be replayed.
//
// A proxy's behaviors are state shared by every connection through it: do
// not change them from parallel subtests. Give each parallel test its own
// proxy instead; proxies are cheap.
package faulttest

import (
	"testing"

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
// If the test fails, the proxy's seed is logged: pass it to
// [faults.WithSeed] to replay the same faults.
func NewProxy(t TB, target string, opts ...faults.Option) *faults.Proxy {
	t.Helper()
	p, err := faults.NewProxy(target, opts...)
	if err != nil {
		t.Fatalf("faulttest: %v", err)
		return nil
	}
	t.Cleanup(func() {
		p.Close()
		if t.Failed() {
			t.Logf("faulttest: proxy %s → %s ran with faults.WithSeed(%d); %d faults fired",
				p.Addr(), p.Target(), p.Seed(), p.Stats().Injected)
		}
	})
	return p
}

// Set installs bs on p for the rest of the test, then restores the
// behaviors p had before (their counters and windows start afresh). It
// fails the test at once if p refuses bs.
func Set(t TB, p *faults.Proxy, bs ...faults.Behavior) {
	t.Helper()
	prev := p.Behaviors()
	if err := p.Set(bs...); err != nil {
		t.Fatalf("faulttest: Set: %v", err)
		return
	}
	t.Cleanup(func() { restore(t, p, prev) })
}

// WithBehavior installs b on p, runs fn, and then restores the behaviors p
// had before, even if fn fails the test. It fails the test at once if p
// refuses b.
func WithBehavior(t TB, p *faults.Proxy, b faults.Behavior, fn func()) {
	t.Helper()
	prev := p.Behaviors()
	if err := p.Set(b); err != nil {
		t.Fatalf("faulttest: Set: %v", err)
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

package loadtest

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// The scenario: 100 calls/s for 6 s (after a 500 ms warm-up that fills the
// pool), the database restarting 2 s in and staying down for 1.5 s.
const (
	rate      = 100
	duration  = 6 * time.Second
	warmup    = 500 * time.Millisecond
	restartAt = 2 * time.Second // into the recorded run
	down      = 1500 * time.Millisecond
	users     = 50
)

// TestServiceRecoversFromDatabaseRestart runs the service under load while
// its database restarts, and checks that it fails while the database is
// down and that errors are back to zero within a second of it coming back,
// for the rest of the run. With FAULTS_REPORT_DIR set, the run's HTML
// report is written there.
func TestServiceRecoversFromDatabaseRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("a 6.5 s load run; skipped with -short")
	}
	svc, p := newProxied(t, users)

	// The restart is scheduled on Load's clock: from its first call, at
	// the start of the warm-up.
	first := make(chan time.Time, 1)
	var once sync.Once
	finish := scheduleRestart(p, first, warmup+restartAt, down)
	defer finish() // if Load fails the test

	// The calls' 5 s timeout (newService's) is far more than the service's
	// default. The database refuses connections while it is down, so the
	// calls of this test fail fast and never need a deadline
	// (TestGetGivesUpAtItsDeadline covers that); and on a loaded CI
	// machine, under -race, a healthy call queued behind others for a
	// pooled connection can take seconds. Timing out would count it as an
	// error long after the database came back.
	rep := faulttest.Load(t, faulttest.LoadOptions{
		Rate:     rate,
		Duration: duration,
		Warmup:   warmup,
		Timeout:  6 * time.Second, // Get gives up after its own Timeout first
		Proxies:  []*faults.Proxy{p},
	}, func(ctx context.Context) error {
		once.Do(func() { first <- time.Now() })
		_, err := svc.Get(ctx, 1+rand.Int64N(users))
		return err
	})
	t.Log(rep)
	o := finish()
	if o.err != nil {
		t.Fatalf("restarting the database: %v", o.err)
	}
	if o.back.IsZero() {
		t.Fatal("the load run ended before the database came back")
	}
	installed, back := o.installed, o.back
	from, to := rep.Offset(installed), rep.Offset(back)
	t.Logf("database down from %v to %v into the run", from.Round(time.Millisecond), to.Round(time.Millisecond))

	// The margins below are for calls that started late: a call counts at
	// its scheduled start, and on a loaded machine (CI runs packages in
	// parallel, under -race) one due well before the restart may wait for
	// a connection until after it, and one due before the database came
	// back may run after.
	//
	// Healthy before: no error (the tolerance is for calls that started
	// over a second late).
	faulttest.RequireErrorRate(t, rep, faulttest.Window{From: 0, To: from - time.Second}, 0, 0.05)
	// Down: most calls fail (all of them, unless the machine is loaded).
	faulttest.RequireErrorRate(t, rep, faulttest.Window{From: from + 100*time.Millisecond, To: to - 600*time.Millisecond}, 1, 0.5)
	// Back: errors stop within a second and do not come back.
	faulttest.RequireRecovery(t, rep, back, time.Second)
	rec, _ := rep.RecoveryTime(back)
	t.Logf("errors stopped %v after the database came back", rec.Round(time.Millisecond))
}

// outage is when the database behind a proxy was restarted and when it
// accepted connections again; zero times if that did not happen.
type outage struct {
	installed, back time.Time
	err             error
}

// scheduleRestart restarts the database behind p, from its own goroutine:
// Restart(down) is installed at after the time first receives, and
// removed when p accepts connections again. (The proxy listens again by
// itself after down; removing the behavior then closes the fault window
// of the report there, instead of at the end of the run.) finish stops
// the goroutine if it is still waiting, and returns what it did; it may be
// called more than once.
func scheduleRestart(p *faults.Proxy, first <-chan time.Time, after, down time.Duration) (finish func() outage) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan outage, 1)
	go func() {
		var o outage
		defer func() { done <- o }()
		var start time.Time
		select {
		case start = <-first:
		case <-ctx.Done():
			return
		}
		if !sleep(ctx, time.Until(start.Add(after))) {
			return
		}
		installed := time.Now()
		if o.err = p.Set(faults.Restart(down)); o.err != nil {
			return
		}
		if !sleep(ctx, time.Until(installed.Add(down))) {
			return
		}
		back, err := waitListening(ctx, p.Addr())
		if err != nil {
			if ctx.Err() == nil { // not stopped by finish: the proxy stayed down
				o.err = err
			}
			return
		}
		o.installed, o.back = installed, back
		o.err = p.Reset()
	}()
	return sync.OnceValue(func() outage {
		cancel()
		return <-done
	})
}

// sleep waits for d, or until ctx is done; it reports whether it waited
// the whole d.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

package faults_test

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gofaults/faults"
)

// TestAddKeepsOtherCounters: adding, replacing or removing a named behavior
// leaves another's Times count where it was. Set would restart it, and the
// spent Error would fire again.
func TestAddKeepsOtherCounters(t *testing.T) {
	srv := newHTTPServer(t, pathHandler)
	p := newHTTPProxy(t, srv.addr())
	client, _ := newHTTPClient(t, 10*time.Second)
	status := func() int {
		t.Helper()
		resp, _, err := fetch(client, mustRequest(t, "GET", "http://"+p.Addr()+"/x"))
		require.NoError(t, err)
		return resp.StatusCode
	}

	require.NoError(t, p.Add("once", faults.Error(faults.HTTPStatus(503)).Times(1)))
	require.Equal(t, 503, status())
	require.Equal(t, 200, status())

	require.NoError(t, p.Add("other", faults.Latency(time.Millisecond)))
	require.Equal(t, 200, status(), "Add restarted another behavior's Times")
	require.NoError(t, p.Add("other", faults.Latency(2*time.Millisecond)))
	require.Equal(t, 200, status(), "replacing a behavior restarted another's Times")
	require.NoError(t, p.Remove("other"))
	require.Equal(t, 200, status(), "Remove restarted another behavior's Times")

	// Replacing the behavior itself starts it afresh.
	require.NoError(t, p.Add("once", faults.Error(faults.HTTPStatus(502)).Times(1)))
	require.Equal(t, 502, status())
	require.Equal(t, 200, status())
}

// TestAddKeepsDecisionsOnOpenConnections: a behavior decided per connection
// by Probability is not decided again on the connections already open when
// another is added or removed, while the added one is decided on them once.
func TestAddKeepsDecisionsOnOpenConnections(t *testing.T) {
	const conns = 16
	p, _ := newEchoProxy(t, faults.WithSeed(7))
	for range conns {
		c := dial(t, p.Addr())
		echoes(t, c, "open", 10*time.Second) // accepted and forwarding
	}
	held := faults.CloseAfterBytes(1 << 40).Probability(0.5)
	require.NoError(t, p.Add("held", held))
	firings := func(b faults.Behavior) int {
		n := 0
		for _, e := range p.Events() {
			if e.Behavior == b.String() {
				n++
			}
		}
		return n
	}
	first := firings(held)
	require.Greater(t, first, 0, "Probability(0.5) fired on none of %d connections", conns)
	require.Less(t, first, conns, "Probability(0.5) fired on all %d connections", conns)

	other := faults.CloseAfterBytes(1 << 41)
	require.NoError(t, p.Add("other", other))
	require.Equal(t, conns, firings(other), "the added behavior is decided once on each open connection")
	require.NoError(t, p.Remove("other"))
	require.NoError(t, p.Add("third", faults.CloseAfterBytes(1<<42)))
	require.Equal(t, first, firings(held), "adding and removing others decided %v again", held)

	// Set, by contrast, decides everything again.
	require.NoError(t, p.Set(held))
	require.Greater(t, firings(held), first)
}

// TestAddReplacesInPlaceAndRemoves: Behaviors lists Set's behaviors, then the
// added ones; a replacement keeps its place; Remove takes one out; Set and
// Reset drop the names.
func TestAddReplacesInPlaceAndRemoves(t *testing.T) {
	p, _ := newEchoProxy(t)
	lat := faults.Latency(time.Millisecond)
	require.NoError(t, p.Set(lat))
	require.NoError(t, p.Add("a", faults.Latency(2*time.Millisecond)))
	require.NoError(t, p.Add("b", faults.Latency(3*time.Millisecond)))
	require.NoError(t, p.Add("a", faults.Latency(4*time.Millisecond)))
	require.Equal(t, []string{"Latency(1ms)", "Latency(4ms)", "Latency(3ms)"}, behaviorStrings(p))

	require.NoError(t, p.Remove("a"))
	require.Equal(t, []string{"Latency(1ms)", "Latency(3ms)"}, behaviorStrings(p))

	err := p.Remove("a")
	require.ErrorIs(t, err, faults.ErrNoBehavior)
	require.Contains(t, err.Error(), `"a"`)
	require.ErrorIs(t, p.Remove(""), faults.ErrNoBehavior, "the behaviors Set installed have no name")

	require.NoError(t, p.Add("b", faults.Behavior{}), "the zero Behavior removes")
	require.Equal(t, []string{"Latency(1ms)"}, behaviorStrings(p))
	require.NoError(t, p.Add("never", faults.Behavior{}), "removing nothing is no error")

	require.NoError(t, p.Add("c", lat))
	require.NoError(t, p.Reset())
	require.ErrorIs(t, p.Remove("c"), faults.ErrNoBehavior, "Reset dropped the name")
}

func behaviorStrings(p *faults.Proxy) []string {
	var out []string
	for _, b := range p.Behaviors() {
		out = append(out, b.String())
	}
	return out
}

// TestAddRefusesBadInput: an empty name, an invalid behavior and one the
// protocol cannot carry out change nothing; a closed proxy refuses both.
func TestAddRefusesBadInput(t *testing.T) {
	p, _ := newEchoProxy(t)
	require.NoError(t, p.Add("keep", faults.Latency(time.Millisecond)))

	var inv *faults.InvalidError
	require.ErrorAs(t, p.Add("", faults.Latency(time.Millisecond)), &inv)
	require.ErrorAs(t, p.Add("keep", faults.Latency(-time.Second)), &inv)
	var uns *faults.UnsupportedError
	require.ErrorAs(t, p.Add("keep", faults.Error(faults.HTTPStatus(503))), &uns)
	require.Equal(t, []string{"Latency(1ms)"}, behaviorStrings(p))

	require.NoError(t, p.Close())
	require.ErrorIs(t, p.Add("x", faults.Latency(time.Millisecond)), faults.ErrClosed)
	require.ErrorIs(t, p.Remove("keep"), faults.ErrClosed)
	var zero faults.Proxy
	require.ErrorIs(t, zero.Add("x", faults.Latency(time.Millisecond)), faults.ErrClosed)
	require.ErrorIs(t, zero.Remove("x"), faults.ErrClosed)
}

// TestAddRefuseAndRemove: a named Refuse takes the listener down and its
// removal brings it back, while a named latency on the open connection
// stays in force throughout.
func TestAddRefuseAndRemove(t *testing.T) {
	const lat = 200 * time.Millisecond
	p, _ := newEchoProxy(t)
	c := dial(t, p.Addr())
	echoes(t, c, "accepted", 10*time.Second) // not in the backlog, which Refuse resets
	require.NoError(t, p.Add("slow", faults.Latency(lat).Downstream()))
	require.NoError(t, p.Add("down", faults.Refuse()))
	_, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	require.Error(t, err, "dial while a named Refuse is installed")
	require.NoError(t, p.Remove("down"))
	c2 := dial(t, p.Addr())
	echoes(t, c2, "back", 10*time.Second)
	if rtt := roundTripTime(t, c, "still slow"); rtt < lat {
		t.Errorf("round trip took %v after Refuse came and went; the named latency of %v was lost", rtt, lat)
	}
}

// TestControlCallsAreQuickOnAnIdleConnection: a plan replaced before a
// copy loaded it is acknowledged by the newer plan's load, so a Set whose
// For window closes at once does not wait for the acknowledgement bound.
// It used to take a whole second, every time.
func TestControlCallsAreQuickOnAnIdleConnection(t *testing.T) {
	p, _ := newEchoProxy(t)
	c := dial(t, p.Addr())
	echoes(t, c, "idle", 10*time.Second)
	var slowest time.Duration
	for range 10 {
		start := time.Now()
		require.NoError(t, p.Set(faults.Latency(time.Millisecond).For(time.Nanosecond)))
		slowest = max(slowest, time.Since(start))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 20 {
		wg.Go(func() {
			start := time.Now()
			if err := p.Add("x", faults.Latency(time.Millisecond).For(time.Nanosecond)); err != nil {
				t.Error(err)
			}
			mu.Lock()
			slowest = max(slowest, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	// The bound of a copy that never acknowledges is a second; a generous
	// bound well under it tells the two apart on a loaded machine.
	if slowest >= 500*time.Millisecond {
		t.Errorf("slowest control call took %v; want well under the second a lost acknowledgement costs", slowest)
	}
	echoes(t, c, "still forwarding", 10*time.Second)
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(""))
	require.NoError(t, err)
	return req
}

// TestTogether: behaviors decided Together fire on the same connections,
// whereas the same behaviors decided alone, from the same seed, do not;
// Together applies to per-connection behaviors only, and needs a name.
func TestTogether(t *testing.T) {
	const conns = 24
	firedOn := func(together bool) (a, b map[uint64]bool) {
		p, _ := newEchoProxy(t, faults.WithSeed(7))
		first := faults.CloseAfterBytes(1 << 40).Probability(0.5)
		second := faults.Timeout(time.Hour).Probability(0.5)
		if together {
			first, second = first.Together("x"), second.Together("x")
		}
		require.NoError(t, p.Set(first, second))
		for range conns {
			echoes(t, dial(t, p.Addr()), "open", 10*time.Second)
		}
		a, b = map[uint64]bool{}, map[uint64]bool{}
		for _, e := range p.Events() {
			a[e.Conn] = a[e.Conn] || e.Behavior == first.String()
			b[e.Conn] = b[e.Conn] || e.Behavior == second.String()
		}
		return a, b
	}
	a, b := firedOn(true)
	require.Equal(t, a, b, "the parts fired on different connections")
	require.NotEmpty(t, a)
	require.Less(t, len(a), conns, "Probability(0.5) fired on every connection")
	a, b = firedOn(false)
	require.NotEqual(t, a, b, "decided alone, the two agreed on all %d connections: the test shows nothing", conns)

	p, _ := newEchoProxy(t, faults.WithProtocol(faults.HTTP()))
	checkInvalid(t, "Together on a request behavior", p.Set(faults.Abort().Together("x")))
	checkInvalid(t, "Together on a listener behavior", p.Set(faults.Refuse().Together("x")))
	checkInvalid(t, `Together("")`, p.Set(faults.Stall().Together("")))
	require.Equal(t, `Stall().Downstream().Probability(0.5).Together("toxic:t")`, faults.Stall().Downstream().Probability(0.5).Together("toxic:t").String())
}

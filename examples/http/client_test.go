package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gofaults/faults"
	"github.com/gofaults/faults/faulttest"
)

// TestMain fails the run if a goroutine outlives the tests: the proxies, the
// server and the clients' connections must all be closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Client settings of the tests: short, so that the whole file runs in a few
// seconds, and far enough apart that the timing checks are not flaky.
const (
	attemptTimeout = 250 * time.Millisecond // each attempt's bound (http.Client.Timeout)
	backoff        = 20 * time.Millisecond
	maxRetries     = 2                      // three attempts in all
	slack          = 500 * time.Millisecond // upper bounds only: room for a loaded CI machine
)

// recorder keeps the attempts a client reports.
type recorder struct {
	mu       sync.Mutex
	attempts []Attempt
}

func (r *recorder) add(a Attempt) {
	r.mu.Lock()
	r.attempts = append(r.attempts, a)
	r.mu.Unlock()
}

func (r *recorder) all() []Attempt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.attempts)
}

// statuses is the status of each attempt, 0 for one without an answer.
func (r *recorder) statuses() []int {
	var s []int
	for _, a := range r.all() {
		s = append(s, a.Status)
	}
	return s
}

// newClient returns a client of base with the test settings and its own
// connection pool (closed at the end of the test), and the recorder of its
// attempts.
func newClient(t *testing.T, base string) (*Client, *recorder) {
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	t.Cleanup(tr.CloseIdleConnections)
	rec := &recorder{}
	return &Client{
		Base:       base,
		HTTP:       &http.Client{Timeout: attemptTimeout, Transport: tr},
		MaxRetries: maxRetries,
		Backoff:    backoff,
		OnAttempt:  rec.add,
	}, rec
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// eventually waits up to 2 s for cond, which the server side of a request
// the client gave up on may need.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestClientUnderFaults runs the client through one HTTP-aware proxy, one
// failure scenario at a time. Each scenario installs its faults (removed
// after it), and checks both what the client observed (its result, its
// attempts, how long it took) and what reached the server.
func TestClientUnderFaults(t *testing.T) {
	srv := startAPI(t)
	p := faulttest.NewProxy(t, srv.addr(), faults.WithProtocol(faults.HTTP()))
	base := "http://" + p.Addr()
	ctx := context.Background()
	order := Order{ItemID: "42", Qty: 1}

	// start resets the server's counts and returns a fresh client, and the
	// proxy's fault count so far.
	start := func(t *testing.T) (*Client, *recorder, int64) {
		srv.reset()
		c, rec := newClient(t, base)
		return c, rec, p.Stats().Injected
	}

	faulttest.Run(t, p, []faulttest.Scenario{
		{
			Name: "healthy",
			Test: func(t *testing.T) {
				c, rec, _ := start(t)
				item, err := c.GetItem(ctx, "42")
				if err != nil || item.ID != "42" {
					t.Fatalf("GetItem = %+v, %v", item, err)
				}
				if got := rec.statuses(); !slices.Equal(got, []int{200}) {
					t.Errorf("attempt statuses %v, want [200]", got)
				}
				if got := srv.counts().itemHits["42"]; got != 1 {
					t.Errorf("server saw %d GETs, want 1", got)
				}
			},
		},
		{
			// The proxy answers the first two GETs itself: the server
			// never sees them. The third passes.
			Name:      "two 503s, then success on the third attempt",
			Behaviors: []faults.Behavior{faults.Error(faults.HTTPStatus(503)).Times(2)},
			Test: func(t *testing.T) {
				c, rec, injected := start(t)
				item, err := c.GetItem(ctx, "42")
				if err != nil || item.ID != "42" {
					t.Fatalf("GetItem = %+v, %v; want item 42 after retries", item, err)
				}
				if got := rec.statuses(); !slices.Equal(got, []int{503, 503, 200}) {
					t.Errorf("attempt statuses %v, want [503 503 200]", got)
				}
				if got := srv.counts().itemHits["42"]; got != 1 {
					t.Errorf("server saw %d GETs, want 1 (the 503s came from the proxy)", got)
				}
				if got := p.Stats().Injected - injected; got != 2 {
					t.Errorf("proxy injected %d faults, want 2", got)
				}
			},
		},
		{
			Name:      "429 with Retry-After: 1 is waited for",
			Behaviors: []faults.Behavior{faults.Error(faults.HTTPStatus(429).Header("Retry-After", "1")).Times(1)},
			Test: func(t *testing.T) {
				c, rec, _ := start(t)
				c.MaxRetryAfter = 2 * time.Second
				t0 := time.Now()
				_, err := c.GetItem(ctx, "42")
				elapsed := time.Since(t0)
				if err != nil {
					t.Fatalf("GetItem: %v", err)
				}
				if elapsed < time.Second {
					t.Errorf("GetItem took %v: it did not wait the 1s Retry-After asked for", elapsed)
				}
				if elapsed > time.Second+slack {
					t.Errorf("GetItem took %v, want about 1s", elapsed)
				}
				as := rec.all()
				if len(as) != 2 || as[0].Status != 429 || as[0].Wait != time.Second {
					t.Errorf("attempts %+v, want a 429 with a 1s wait, then a success", as)
				}
				if got := srv.counts().itemHits["42"]; got != 1 {
					t.Errorf("server saw %d GETs, want 1", got)
				}
			},
		},
		{
			Name:      "Retry-After beyond the cap is waited for the cap only",
			Behaviors: []faults.Behavior{faults.Error(faults.HTTPStatus(429).Header("Retry-After", "30")).Times(1)},
			Test: func(t *testing.T) {
				c, rec, _ := start(t)
				c.MaxRetryAfter = 300 * time.Millisecond
				t0 := time.Now()
				_, err := c.GetItem(ctx, "42")
				elapsed := time.Since(t0)
				if err != nil {
					t.Fatalf("GetItem: %v", err)
				}
				if elapsed < c.MaxRetryAfter || elapsed > c.MaxRetryAfter+slack {
					t.Errorf("GetItem took %v, want about the %v cap", elapsed, c.MaxRetryAfter)
				}
				if as := rec.all(); as[0].Wait != c.MaxRetryAfter {
					t.Errorf("first wait %v, want the cap %v", as[0].Wait, c.MaxRetryAfter)
				}
			},
		},
		{
			// Each answer is held 2 s, the client gives each attempt
			// 250 ms: every attempt times out, the call fails in well
			// under a second, and works again once the fault is gone.
			Name:      "response slower than the timeout: timeout, then recovery after Reset",
			Behaviors: []faults.Behavior{faults.DelayResponse(2 * time.Second)},
			Test: func(t *testing.T) {
				c, rec, _ := start(t)
				t0 := time.Now()
				_, err := c.GetItem(ctx, "42")
				elapsed := time.Since(t0)
				if !isTimeout(err) {
					t.Fatalf("GetItem = %v, want a timeout", err)
				}
				budget := (maxRetries+1)*attemptTimeout + (1+2)*backoff + slack
				if elapsed > budget {
					t.Errorf("GetItem took %v, want at most %v (3 attempts of %v)", elapsed, budget, attemptTimeout)
				}
				as := rec.all()
				if len(as) != maxRetries+1 {
					t.Errorf("%d attempts, want %d", len(as), maxRetries+1)
				}
				for _, a := range as {
					if !isTimeout(a.Err) || a.Elapsed > attemptTimeout+slack {
						t.Errorf("attempt %d: %v after %v, want a timeout after %v", a.N, a.Err, a.Elapsed, attemptTimeout)
					}
				}
				// The requests did reach the server: only the answers
				// were held.
				if got := srv.counts().itemHits["42"]; got != maxRetries+1 {
					t.Errorf("server saw %d GETs, want %d", got, maxRetries+1)
				}

				if err := p.Reset(); err != nil {
					t.Fatal(err)
				}
				if _, err := c.GetItem(ctx, "42"); err != nil {
					t.Fatalf("after Reset: %v", err)
				}
				if got := rec.statuses(); got[len(got)-1] != 200 || len(got) != maxRetries+2 {
					t.Errorf("after Reset: attempt statuses %v, want one more, a 200", got)
				}
			},
		},
		{
			Name:      "POST answered 503 is retried",
			Behaviors: []faults.Behavior{faults.Error(faults.HTTPStatus(503)).When(faults.Method("POST")).Times(1)},
			Test: func(t *testing.T) {
				c, rec, _ := start(t)
				o, err := c.CreateOrder(ctx, order, "")
				if err != nil || o.ID == "" {
					t.Fatalf("CreateOrder = %+v, %v", o, err)
				}
				if got := rec.statuses(); !slices.Equal(got, []int{503, 201}) {
					t.Errorf("attempt statuses %v, want [503 201]", got)
				}
				if cs := srv.counts(); cs.posts != 1 || len(cs.orders) != 1 {
					t.Errorf("server saw %d POSTs and made %d orders, want 1 and 1", cs.posts, len(cs.orders))
				}
			},
		},
		{
			// A 500 may come after the order was made: not retried.
			Name:      "POST answered 500 is not retried",
			Behaviors: []faults.Behavior{faults.Error(faults.HTTPStatus(500)).When(faults.Method("POST")).Times(1)},
			Test: func(t *testing.T) {
				c, rec, _ := start(t)
				_, err := c.CreateOrder(ctx, order, "")
				var se *StatusError
				if !errors.As(err, &se) || se.Status != 500 {
					t.Fatalf("CreateOrder = %v, want a 500 StatusError", err)
				}
				if got := rec.statuses(); !slices.Equal(got, []int{500}) {
					t.Errorf("attempt statuses %v, want [500]", got)
				}
			},
		},
		{
			// The proxy passes the POST to the server, then closes the
			// connection before the answer: the order exists, the client
			// cannot know it, and must not retry.
			Name:      "aborted POST without an idempotency key is not retried",
			Behaviors: []faults.Behavior{faults.Abort().When(faults.Method("POST")).Times(1)},
			Test: func(t *testing.T) {
				c, rec, injected := start(t)
				_, err := c.CreateOrder(ctx, order, "")
				if !errors.Is(err, ErrOutcomeUnknown) {
					t.Fatalf("CreateOrder = %v, want ErrOutcomeUnknown", err)
				}
				if as := rec.all(); len(as) != 1 || as[0].Status != 0 {
					t.Errorf("attempts %+v, want one, without an answer", as)
				}
				eventually(t, "the server to get the POST", func() bool { return srv.counts().posts >= 1 })
				time.Sleep(100 * time.Millisecond) // room for a retry, were there one
				if cs := srv.counts(); cs.posts != 1 || len(cs.orders) != 1 {
					t.Errorf("server saw %d POSTs and made %d orders, want exactly 1 and 1", cs.posts, len(cs.orders))
				}
				if got := p.Stats().Injected - injected; got != 1 {
					t.Errorf("proxy injected %d faults, want 1", got)
				}
			},
		},
		{
			// With a key the POST is retried; the server sees it twice and
			// makes one order, which the client gets.
			Name:      "aborted POST with an idempotency key is retried and deduplicated",
			Behaviors: []faults.Behavior{faults.Abort().When(faults.Method("POST")).Times(1)},
			Test: func(t *testing.T) {
				c, rec, _ := start(t)
				o, err := c.CreateOrder(ctx, order, "key-1")
				if err != nil {
					t.Fatalf("CreateOrder: %v", err)
				}
				cs := srv.counts()
				if cs.keyPosts["key-1"] != 2 || len(cs.orders) != 1 {
					t.Errorf("server saw %d POSTs with the key and made %d orders, want 2 and 1", cs.keyPosts["key-1"], len(cs.orders))
				}
				if len(cs.orders) == 1 && o != cs.orders[0] {
					t.Errorf("client got %+v, the server made %+v", o, cs.orders[0])
				}
				// Who resent it: this client (2 attempts), or net/http's
				// Transport, which replays a keyed request once by itself
				// when a reused connection breaks before the answer (1).
				as := rec.all()
				if n := len(as); n < 1 || n > 2 || as[n-1].Status != 201 {
					t.Errorf("attempts %+v, want a 201 within 2", as)
				}
				t.Logf("attempts made by the client: %d", len(as))
			},
		},
		{
			// Faults switched on and off while requests flow: errors while
			// they are on (and the server sees nothing), none after.
			Name: "faults on mid-run: errors; off again: no errors",
			Test: func(t *testing.T) {
				c, _, _ := start(t)
				c.MaxRetries = 1
				c.Backoff = 5 * time.Millisecond
				testRecovery(t, p, c, srv)
			},
		},
	})
}

// call is one GetItem of the load in testRecovery.
type call struct {
	start, end time.Time
	err        error
}

func testRecovery(t *testing.T, p *faults.Proxy, c *Client, srv *api) {
	ctx := context.Background()
	var mu sync.Mutex
	var calls []call
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				_, err := c.GetItem(ctx, fmt.Sprint("load-", w))
				mu.Lock()
				calls = append(calls, call{t0, time.Now(), err})
				mu.Unlock()
			}
		})
	}
	hits := func() (n int) {
		for _, v := range srv.counts().itemHits {
			n += v
		}
		return n
	}

	time.Sleep(200 * time.Millisecond)
	on := time.Now()
	if err := p.Set(faults.Error(faults.HTTPStatus(503)).When(faults.Method("GET"))); err != nil {
		t.Fatal(err)
	}
	onDone := time.Now()
	time.Sleep(50 * time.Millisecond) // requests sent before Set finish
	hitsOn := hits()
	time.Sleep(250 * time.Millisecond)
	hitsOff := hits()
	off := time.Now()
	if err := p.Reset(); err != nil {
		t.Fatal(err)
	}
	offDone := time.Now()
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	var before, during, after, beforeErr, duringOK, afterErr int
	for _, c := range calls {
		switch {
		case c.end.Before(on):
			before++
			if c.err != nil {
				beforeErr++
				t.Logf("before the fault: %v", c.err)
			}
		case c.start.After(onDone) && c.end.Before(off):
			during++
			var se *StatusError
			if !errors.As(c.err, &se) || se.Status != 503 {
				duringOK++
				t.Logf("during the fault: %v, want a 503", c.err)
			}
		case c.start.After(offDone):
			after++
			if c.err != nil {
				afterErr++
				t.Logf("after Reset: %v", c.err)
			}
		}
	}
	t.Logf("calls before/during/after the fault: %d/%d/%d", before, during, after)
	if before == 0 || during == 0 || after == 0 {
		t.Fatalf("too few calls to judge: %d/%d/%d", before, during, after)
	}
	if beforeErr != 0 || duringOK != 0 || afterErr != 0 {
		t.Errorf("errors before the fault: %d (want 0); non-503 results during it: %d (want 0); errors after Reset: %d (want 0)",
			beforeErr, duringOK, afterErr)
	}
	if hitsOff != hitsOn {
		t.Errorf("the server got %d GETs while every GET was answered 503 by the proxy", hitsOff-hitsOn)
	}
}

// TestFaultHeaderParallel shows WithFaultHeader: each request names its own
// fault in a header, so parallel tests share one proxy without stepping on
// each other. Each subtest uses its own item IDs, so the server's counts
// tell them apart too.
func TestFaultHeaderParallel(t *testing.T) {
	srv := startAPI(t)
	p := faulttest.NewProxy(t, srv.addr(), faults.WithProtocol(faults.HTTP()), faults.WithFaultHeader("X-Faults"))
	base := "http://" + p.Addr()
	ctx := context.Background()

	// Runs once every parallel subtest is done.
	t.Cleanup(func() {
		if n := srv.counts().faultHdrs; n != 0 {
			t.Errorf("%d requests reached the server with the X-Faults header: the proxy must remove it", n)
		}
	})
	client := func(t *testing.T, fault string) (*Client, *recorder) {
		c, rec := newClient(t, base)
		if fault != "" {
			c.Header = http.Header{"X-Faults": {fault}}
		}
		return c, rec
	}

	t.Run("no fault", func(t *testing.T) {
		t.Parallel()
		c, _ := client(t, "")
		if _, err := c.GetItem(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		if got := srv.counts().itemHits["h1"]; got != 1 {
			t.Errorf("server saw %d GETs, want 1", got)
		}
	})
	t.Run("503 on every attempt", func(t *testing.T) {
		t.Parallel()
		c, rec := client(t, "status=503")
		_, err := c.GetItem(ctx, "h2")
		var se *StatusError
		if !errors.As(err, &se) || se.Status != 503 {
			t.Fatalf("GetItem = %v, want a 503 StatusError", err)
		}
		if got := rec.statuses(); !slices.Equal(got, []int{503, 503, 503}) {
			t.Errorf("attempt statuses %v, want three 503s", got)
		}
		if got := srv.counts().itemHits["h2"]; got != 0 {
			t.Errorf("server saw %d GETs, want 0", got)
		}
	})
	t.Run("429 with Retry-After on every attempt", func(t *testing.T) {
		t.Parallel()
		c, rec := client(t, "status=429, retry-after=1")
		c.MaxRetries = 1
		t0 := time.Now()
		_, err := c.GetItem(ctx, "h3")
		var se *StatusError
		if !errors.As(err, &se) || se.Status != 429 {
			t.Fatalf("GetItem = %v, want a 429 StatusError", err)
		}
		if elapsed := time.Since(t0); elapsed < time.Second {
			t.Errorf("gave up after %v, before the 1s Retry-After", elapsed)
		}
		if got := rec.statuses(); !slices.Equal(got, []int{429, 429}) {
			t.Errorf("attempt statuses %v, want two 429s", got)
		}
	})
	t.Run("slow answer", func(t *testing.T) {
		t.Parallel()
		c, _ := client(t, "delay-response=1s")
		c.MaxRetries = 0
		if _, err := c.GetItem(ctx, "h4"); !isTimeout(err) {
			t.Fatalf("GetItem = %v, want a timeout", err)
		}
	})
	t.Run("aborted POST", func(t *testing.T) {
		t.Parallel()
		c, _ := client(t, "abort")
		_, err := c.CreateOrder(ctx, Order{ItemID: "h5", Qty: 1}, "")
		if !errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("CreateOrder = %v, want ErrOutcomeUnknown", err)
		}
		eventually(t, "the server to get the POST", func() bool { return srv.counts().itemPosts["h5"] >= 1 })
		if got := srv.counts().itemPosts["h5"]; got != 1 {
			t.Errorf("server saw %d POSTs, want 1", got)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", -1},
		{"0", 0},
		{"3", 3 * time.Second},
		{"-1", -1},
		{"soon", -1},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second},
		{now.Add(-5 * time.Second).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

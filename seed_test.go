package faults_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// blackoutPattern runs n sequential connections through a fresh echo proxy
// with the given options and Blackout().Probability(0.5) installed, and
// returns which of them were blacked out.
func blackoutPattern(t *testing.T, n int, opts ...faults.Option) ([]bool, *faults.Proxy) {
	t.Helper()
	p, _ := newEchoProxy(t, opts...)
	mustSet(t, p, faults.Blackout().Probability(0.5))
	pattern := make([]bool, n)
	for i := range pattern {
		c := dial(t, p.Addr())
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "ping")
		got := make([]byte, 4)
		_, err := io.ReadFull(c, got)
		switch {
		case err == nil && string(got) == "ping":
		case err == io.EOF:
			pattern[i] = true
		default:
			t.Fatalf("connection %d: %q, %v; want an echo or EOF", i, got, err)
		}
		c.Close()
	}
	blackouts := int64(0)
	for _, b := range pattern {
		if b {
			blackouts++
		}
	}
	if st := p.Stats(); st.Injected != blackouts {
		t.Errorf("Injected = %d, but %d connections were blacked out", st.Injected, blackouts)
	}
	// The ledger names the blacked-out connections, numbered from 1.
	var want, got []uint64
	for i, b := range pattern {
		if b {
			want = append(want, uint64(i+1))
		}
	}
	for _, e := range p.Events() {
		got = append(got, e.Conn)
	}
	if !slices.Equal(got, want) {
		t.Errorf("events name connections %v, want %v", got, want)
	}
	return pattern, p
}

func patternString(p []bool) string {
	b := make([]byte, len(p))
	for i, x := range p {
		b[i] = '.'
		if x {
			b[i] = 'X'
		}
	}
	return string(b)
}

// TestSeedReplaysConnectionFaults: the same seed and the same traffic
// black out the same connections; another seed, others.
func TestSeedReplaysConnectionFaults(t *testing.T) {
	const n = 40
	a, pa := blackoutPattern(t, n, faults.WithSeed(42))
	b, _ := blackoutPattern(t, n, faults.WithSeed(42))
	c, _ := blackoutPattern(t, n, faults.WithSeed(43))
	t.Logf("seed 42: %s", patternString(a))
	t.Logf("seed 42: %s", patternString(b))
	t.Logf("seed 43: %s", patternString(c))
	if pa.Seed() != 42 {
		t.Errorf("Seed() = %d, want 42", pa.Seed())
	}
	if patternString(a) != patternString(b) {
		t.Error("the same seed gave different blackout patterns")
	}
	if patternString(a) == patternString(c) {
		t.Error("seeds 42 and 43 gave the same blackout pattern")
	}
	if s := patternString(a); !bytes.ContainsRune([]byte(s), 'X') || !bytes.ContainsRune([]byte(s), '.') {
		t.Errorf("Probability(0.5) over %d connections gave %s", n, s)
	}

	// Without WithSeed the seed is random, and reported so that a run can
	// be replayed.
	r, pr := blackoutPattern(t, n)
	replay, _ := blackoutPattern(t, n, faults.WithSeed(pr.Seed()))
	if patternString(r) != patternString(replay) {
		t.Errorf("replaying seed %d: %s, first run %s", pr.Seed(), patternString(replay), patternString(r))
	}
}

// corruptedEcho sends data through a fresh echo proxy with Corrupt(p)
// installed and returns what came back.
func corruptedEcho(t *testing.T, data []byte, p float64, seed int64) []byte {
	t.Helper()
	px, _ := newEchoProxy(t, faults.WithSeed(seed))
	mustSet(t, px, faults.Corrupt(p))
	c := dial(t, px.Addr())
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		c.Write(data)
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(data) {
		t.Fatalf("Corrupt changed the stream's length: sent %d, got %d", len(data), len(got))
	}
	return got
}

// TestSeedReplaysCorruption: with the same seed, Corrupt flips the same
// bits on the first connection of two proxies, however the bytes are
// chunked on the way.
func TestSeedReplaysCorruption(t *testing.T) {
	data := randomBytes(7, 256<<10)
	a := corruptedEcho(t, data, 0.01, 7)
	b := corruptedEcho(t, data, 0.01, 7)
	c := corruptedEcho(t, data, 0.01, 8)
	diffs := 0
	for i := range data {
		if a[i] != data[i] {
			diffs++
		}
	}
	// Two passes (there and back) at 1% each: about 2% of the bytes.
	if lo, hi := len(data)/100, len(data)*4/100; diffs < lo || diffs > hi {
		t.Errorf("%d of %d bytes corrupted; want about 2%%", diffs, len(data))
	}
	if !bytes.Equal(a, b) {
		t.Errorf("the same seed corrupted different bytes (first difference at %d)", firstDiff(a, b))
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 7 and 8 corrupted the same bytes")
	}
}

// requestFaultPatterns opens conns connections to a fresh HTTP-aware proxy
// with the given seed, one after the other, then sends perConn requests on
// each, the connections running concurrently, with
// Error(HTTPStatus(503)).Probability(0.5) installed. It returns, per
// connection in the order opened, which requests got the injected 503.
func requestFaultPatterns(t *testing.T, seed int64, conns, perConn int) []string {
	t.Helper()
	srv := newHTTPServer(t, pathHandler)
	p := newHTTPProxy(t, srv.addr(), faults.WithSeed(seed))
	mustSet(t, p, faults.Error(faults.HTTPStatus(503)).Probability(0.5))
	cs := make([]*net.TCPConn, conns)
	for i := range cs {
		cs[i] = dial(t, p.Addr())
		// Accepted before the next is dialed: accept order is dial order.
		deadline := time.Now().Add(5 * time.Second)
		for p.Stats().ConnsTotal < int64(i+1) {
			if time.Now().After(deadline) {
				t.Fatalf("connection %d not accepted within 5s", i+1)
			}
			time.Sleep(time.Millisecond)
		}
	}
	patterns := make([]string, conns)
	errs := make(chan error, conns)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			got := make([]bool, perConn)
			for j := range got {
				if _, err := fmt.Fprintf(c, "GET /c%d/r%d HTTP/1.1\r\nHost: x\r\n\r\n", i, j); err != nil {
					errs <- err
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Errorf("connection %d, request %d: %v", i+1, j, err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				got[j] = resp.StatusCode == 503
			}
			patterns[i] = patternString(got)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return patterns
}

// TestSeedReplaysConcurrentRequestFaults: two proxies with the same seed,
// four connections opened in the same order, 60 requests sent on each,
// the connections concurrently, with a Probability(0.5) error: each
// connection gets the same faults on both proxies, whatever the
// interleaving. Another seed gives others.
func TestSeedReplaysConcurrentRequestFaults(t *testing.T) {
	const conns, perConn = 4, 60
	a := requestFaultPatterns(t, 42, conns, perConn)
	b := requestFaultPatterns(t, 42, conns, perConn)
	c := requestFaultPatterns(t, 43, conns, perConn)
	for i := range a {
		t.Logf("connection %d, seed 42: %s", i+1, a[i])
		t.Logf("connection %d, seed 42: %s", i+1, b[i])
		t.Logf("connection %d, seed 43: %s", i+1, c[i])
		if a[i] != b[i] {
			t.Errorf("connection %d: the same seed gave different request faults", i+1)
		}
		if !strings.Contains(a[i], "X") || !strings.Contains(a[i], ".") {
			t.Errorf("connection %d: Probability(0.5) over %d requests gave %s", i+1, perConn, a[i])
		}
	}
	if slices.Equal(a, c) {
		t.Error("seeds 42 and 43 gave the same request faults")
	}
	// The connections do not share a source: they differ from each other.
	if a[0] == a[1] && a[1] == a[2] && a[2] == a[3] {
		t.Error("every connection got the same pattern")
	}
}

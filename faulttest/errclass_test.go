package faulttest_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gofaults/faults/faulttest"
)

// refusedErr dials a port nobody listens on.
func refusedErr(t *testing.T) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		t.Fatal("dialing a closed port succeeded")
	}
	return err
}

// dialLoopback returns a client connection to a listener on loopback,
// both closed at cleanup.
func dialLoopback(t *testing.T) (net.Conn, net.Listener) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, ln
}

// resetErr reads from a connection the server resets.
func resetErr(t *testing.T) error {
	c, ln := dialLoopback(t)
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.(*net.TCPConn).SetLinger(0) // close sends RST
	s.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

// readTimeoutErr reads from a silent connection with a short deadline.
func readTimeoutErr(t *testing.T) error {
	c, _ := dialLoopback(t)
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return err
}

// httpTimeoutErr is what a net/http client returns when its context
// expires while the server stays silent.
func httpTimeoutErr(t *testing.T) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+"/", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request to a silent server succeeded")
	}
	return err
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want faulttest.ErrorClass
	}{
		{"refused", refusedErr(t), faulttest.ClassRefused},
		{"reset", resetErr(t), faulttest.ClassReset},
		{"read deadline", readTimeoutErr(t), faulttest.ClassTimeout},
		{"http client context", httpTimeoutErr(t), faulttest.ClassTimeout},
		{"wrapped deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), faulttest.ClassTimeout},
		{"unexpected EOF", io.ErrUnexpectedEOF, faulttest.ClassOther},
		{"bad status", errors.New("GET /: 503 Service Unavailable"), faulttest.ClassOther},
		{"canceled", context.Canceled, faulttest.ClassOther},
	} {
		if got := faulttest.Classify(tc.err); got != tc.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
	if s := faulttest.ErrorClass(7).String(); !strings.Contains(s, "?") {
		t.Errorf("ErrorClass(7) = %q", s)
	}
}

func TestLoadCountsErrorsPerClassAndSamplesTexts(t *testing.T) {
	errs := []error{
		refusedErr(t), resetErr(t), readTimeoutErr(t),
		errors.New("other 1"), errors.New("other 2"), errors.New("other 3"), errors.New("other 4"), errors.New("other 1"),
	}
	var i int // the closed model's only caller makes the calls one by one
	rep := faulttest.Load(t, faulttest.LoadOptions{Concurrency: 1, Duration: 5 * time.Second, MaxRequests: 2 * int64(len(errs))},
		func(context.Context) error {
			err := errs[i%len(errs)]
			i++
			return err
		})
	want := map[faulttest.ErrorClass]int64{
		faulttest.ClassRefused: 2, faulttest.ClassReset: 2, faulttest.ClassTimeout: 2, faulttest.ClassOther: 10,
	}
	for c, n := range want {
		if got := rep.ErrorsOf(c); got != n {
			t.Errorf("ErrorsOf(%v) = %d, want %d", c, got, n)
		}
	}
	var byClass int64
	for _, b := range rep.Timeline() {
		byClass += b.ByClass[faulttest.ClassOther]
	}
	if byClass != 10 {
		t.Errorf("the timeline's buckets count %d errors of class other, want 10", byClass)
	}
	s := rep.ErrorSamples()
	t.Logf("samples: %q", s)
	if len(s) != 6 {
		t.Fatalf("%d samples, want 6: one per class but 3 for other", len(s))
	}
	wantPrefix := []string{"timeout: ", "refused: ", "reset: ", "other: other 1", "other: other 2", "other: other 3"}
	for i, p := range wantPrefix {
		if !strings.HasPrefix(s[i], p) {
			t.Errorf("sample %d = %q, want it to start with %q", i, s[i], p)
		}
	}
}

// TestClassifyDriverErrors: errors that client libraries return in place
// of the system's are classed by what they mean: go-sql-driver's "invalid
// connection" after a lost connection and database/sql's ErrBadConn are
// resets; an error that only says "connection refused" in its text is a
// refusal. The underlying error decides first.
func TestClassifyDriverErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want faulttest.ErrorClass
	}{
		{mysql.ErrInvalidConn, faulttest.ClassReset},
		{fmt.Errorf("checkout: %w", mysql.ErrInvalidConn), faulttest.ClassReset},
		{driver.ErrBadConn, faulttest.ClassReset},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), faulttest.ClassRefused},
		{fmt.Errorf("redis: %s", "read tcp 127.0.0.1:5->127.0.0.1:6: read: connection reset by peer"), faulttest.ClassReset},
		{errors.New("write: broken pipe"), faulttest.ClassReset},
		{errors.Join(errors.New("x"), mysql.ErrInvalidConn), faulttest.ClassReset},
		// The underlying error first: a timeout whose text mentions a refusal.
		{fmt.Errorf("connection refused earlier: %w", context.DeadlineExceeded), faulttest.ClassTimeout},
		{errors.New("invalid connection string"), faulttest.ClassOther},
		{io.ErrUnexpectedEOF, faulttest.ClassOther},
	} {
		if got := faulttest.Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%q) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

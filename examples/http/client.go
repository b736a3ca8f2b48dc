// Package apiclient is a small client for an HTTP API of items and orders,
// written the way a client of a flaky service has to be: every attempt is
// bounded in time, idempotent reads are retried with backoff, Retry-After is
// honored up to a cap, and a POST is retried only when a retry cannot create
// a second order.
//
// Its tests (client_test.go) put a [github.com/gofaults/faults] HTTP proxy
// between the client and an in-process server and check each of those rules
// against injected 503s, 429s, slow responses and connections cut after the
// server got the request. See README.md.
package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Item is what GET /items/{id} returns.
type Item struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Price int    `json:"price"`
}

// Order is what POST /orders takes and returns (with its ID set).
type Order struct {
	ID     string `json:"id,omitempty"`
	ItemID string `json:"item_id"`
	Qty    int    `json:"qty"`
}

// Defaults for the zero values of Client's fields.
const (
	DefaultBackoff       = 100 * time.Millisecond
	DefaultMaxRetryAfter = 5 * time.Second
	maxBody              = 1 << 20 // longest response body read
)

// Client calls the API at Base. Its zero value (with Base set) works; the
// fields may not change while calls are in flight.
type Client struct {
	// Base is the API's root URL, such as "http://127.0.0.1:8080".
	Base string

	// HTTP sends the requests; its Timeout bounds each attempt, not the
	// whole call (the call's context does that). nil means
	// http.DefaultClient, which has no timeout: set one.
	HTTP *http.Client

	// MaxRetries is how many times a failed attempt may be retried; 0
	// means no retries.
	MaxRetries int

	// Backoff is the wait before the first retry, doubled before each
	// next one. 0 means DefaultBackoff.
	Backoff time.Duration

	// MaxRetryAfter caps the wait a Retry-After header can ask for: a
	// longer one is waited for MaxRetryAfter only. 0 means
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration

	// Header holds headers sent with every request, such as
	// Authorization. It may be nil.
	Header http.Header

	// OnAttempt, if set, is called after every attempt with what it saw
	// (for logs, metrics, or a test).
	OnAttempt func(Attempt)
}

// Attempt describes one attempt of a call, for Client.OnAttempt.
type Attempt struct {
	Op      string        // "GetItem" or "CreateOrder"
	N       int           // 1 for the first attempt
	Status  int           // the response's status, 0 if none came
	Err     error         // what went wrong, nil if the attempt succeeded
	Elapsed time.Duration // how long the attempt took
	Retry   bool          // whether another attempt follows
	Wait    time.Duration // how long the client waits before it, if Retry
}

// StatusError is returned when the API answered with a status that is not a
// success, after any retries.
type StatusError struct {
	Status int
	Body   string // the start of the response body
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%d %s: %q", e.Status, http.StatusText(e.Status), e.Body)
}

// ErrOutcomeUnknown is wrapped in the error of a CreateOrder whose request
// may have reached the server while its answer never reached the client (the
// connection broke or the attempt timed out after the request was sent).
// The order may or may not exist; without an idempotency key the client does
// not retry, since a retry could create a second order.
var ErrOutcomeUnknown = errors.New("outcome unknown: the server may have processed the request")

// GetItem fetches item id. It is idempotent, so it is retried on 429 and
// 5xx answers, on broken connections and on timeouts.
func (c *Client) GetItem(ctx context.Context, id string) (Item, error) {
	var item Item
	err := c.do(ctx, "GetItem", func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, c.Base+"/items/"+url.PathEscape(id), nil)
	}, getPolicy, &item)
	if err != nil {
		return Item{}, fmt.Errorf("apiclient: GetItem %q: %w", id, err)
	}
	return item, nil
}

// CreateOrder creates an order and returns it with its ID.
//
// A POST is retried only when a retry cannot create a second order: after a
// 503 or a 429 (the server says it did not process the request), or when
// the connection could not be made at all. After a connection that broke
// or timed out once the request was sent, it is retried only if
// idempotencyKey is not empty: it is sent as the Idempotency-Key header, and
// the server returns the order it created for that key instead of creating
// another. Otherwise the error wraps ErrOutcomeUnknown.
func (c *Client) CreateOrder(ctx context.Context, o Order, idempotencyKey string) (Order, error) {
	body, err := json.Marshal(o)
	if err != nil {
		return Order{}, err
	}
	policy := postPolicy
	if idempotencyKey != "" {
		policy = keyedPostPolicy
	}
	var created Order
	err = c.do(ctx, "CreateOrder", func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/orders", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		if idempotencyKey != "" {
			// Note: with this header net/http's Transport itself may
			// resend the request once, on a new connection, when a
			// reused keep-alive connection fails before the first byte
			// of the answer. The server's deduplication makes that safe.
			req.Header.Set("Idempotency-Key", idempotencyKey)
		}
		return req, nil
	}, policy, &created)
	if err != nil {
		return Order{}, fmt.Errorf("apiclient: CreateOrder: %w", err)
	}
	return created, nil
}

// A policy decides whether an attempt that ended with status (0 if no
// response) or err may be retried. When it may not and the outcome is
// uncertain, it returns the error to report instead.
type policy func(status int, err error) (retry bool, final error)

// getPolicy: a GET can be repeated at will.
func getPolicy(status int, err error) (bool, error) {
	if err != nil {
		return true, err
	}
	return retryableStatus(status), nil
}

// postPolicy: a POST without an idempotency key is repeated only when the
// server surely did not act on it.
func postPolicy(status int, err error) (bool, error) {
	switch {
	case err == nil:
		return status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests, nil
	case isDialError(err):
		return true, err // nothing was sent
	default:
		return false, fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
}

// keyedPostPolicy: a POST with an idempotency key may also be repeated
// after a broken connection or a timeout: the server deduplicates.
func keyedPostPolicy(status int, err error) (bool, error) {
	if err != nil {
		return true, err
	}
	return status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests, nil
}

func retryableStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// isDialError reports whether err happened while connecting, before any
// byte of the request was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// do runs attempts until one succeeds, the policy stops, the retries run
// out, or ctx ends, and decodes a successful answer's JSON into out.
func (c *Client) do(ctx context.Context, op string, newReq func(context.Context) (*http.Request, error), retryable policy, out any) error {
	for n := 1; ; n++ {
		start := time.Now()
		status, ans, err := c.attempt(ctx, newReq, out)
		a := Attempt{Op: op, N: n, Status: status, Err: err, Elapsed: time.Since(start)}
		if err == nil && status/100 == 2 {
			c.report(a)
			return nil
		}
		final := err
		if err == nil {
			final = &StatusError{Status: status, Body: string(ans.body)}
		}
		retry, why := retryable(status, err)
		if why != nil {
			final = why
		}
		if ctx.Err() != nil {
			retry = false // the caller gave up: what failed is its deadline
		}
		if retry && n <= c.MaxRetries {
			a.Wait = c.wait(n, ans.after)
			// Do not start a wait the caller's deadline would cut short.
			if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > a.Wait {
				a.Retry = true
			}
		}
		if !a.Retry {
			a.Wait = 0
		}
		c.report(a)
		if !a.Retry {
			if n > 1 {
				return fmt.Errorf("after %d attempts: %w", n, final)
			}
			return final
		}
		t := time.NewTimer(a.Wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("after %d attempts: %w (last: %w)", n, ctx.Err(), final)
		case <-t.C:
		}
	}
}

func (c *Client) report(a Attempt) {
	if c.OnAttempt != nil {
		c.OnAttempt(a)
	}
}

// answer is what the client keeps of a failed answer.
type answer struct {
	after time.Duration // Retry-After, or -1
	body  []byte
}

// attempt sends one request and reads the whole answer. A success's body is
// decoded into out. An error means no complete answer came.
func (c *Client) attempt(ctx context.Context, newReq func(context.Context) (*http.Request, error), out any) (int, answer, error) {
	ans := answer{after: -1}
	req, err := newReq(ctx)
	if err != nil {
		return 0, ans, err
	}
	for k, vs := range c.Header {
		req.Header[k] = append(req.Header[k], vs...)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, ans, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		// The head came but the body was cut: as uncertain as no answer.
		return 0, ans, fmt.Errorf("%d answer cut short: %w", resp.StatusCode, err)
	}
	if resp.StatusCode/100 != 2 {
		ans.body = body[:min(len(body), 200)]
		ans.after = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return resp.StatusCode, ans, nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return 0, ans, fmt.Errorf("%d answer: bad JSON: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, ans, nil
}

// wait is how long to wait before attempt n+1: the backoff doubled n-1
// times, or what Retry-After asked for (capped at MaxRetryAfter) if longer.
func (c *Client) wait(n int, retryAfter time.Duration) time.Duration {
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = DefaultBackoff
	}
	w := backoff << min(n-1, 16)
	capRA := c.MaxRetryAfter
	if capRA <= 0 {
		capRA = DefaultMaxRetryAfter
	}
	if retryAfter >= 0 {
		w = max(w, min(retryAfter, capRA))
	}
	return w
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
// It returns -1 if there is none or it cannot be read.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return -1
		}
		return time.Duration(min(s, 1<<30)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

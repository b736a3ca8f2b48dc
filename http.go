package faults

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HTTP is the protocol of HTTP/1.1 (and 1.0) connections. The proxy frames
// each request and response — Content-Length and chunked bodies, HEAD,
// 1xx, 204 and 304, keep-alive and pipelining — and forwards every byte as
// received, streaming bodies of any size. Request behaviors ([Error] with
// [HTTPStatus], [DelayRequest], [DelayResponse], [DropResponse], [Abort],
// [TruncateResponse], [SlowResponse]) act on single requests, chosen with
// [Behavior.When] and the matchers [Method], [Path] and [Header];
// [Behavior.Probability] is decided per request.
//
// A connection that switches protocols (Upgrade, such as WebSocket, or
// CONNECT) is passed through as raw bytes from the switch on. A connection
// whose bytes are not valid HTTP/1.x falls back to raw pass-through from
// where framing failed, or is closed if the proxy had already answered a
// request on it. TLS is not decrypted: an HTTPS connection falls back at
// its first byte.
//
// Connection, listener and timer behaviors act as on [TCP], and so do
// stream behaviors ([Latency], [Bandwidth], [Stall], [ResetAfterBytes], ...),
// with their TCP meaning, on the network between the client and the proxy:
// on the client's bytes before they are framed (upstream) and on the bytes
// written to the client (downstream); they compose with request behaviors.
func HTTP() Protocol { return httpProtocol{} }

type httpProtocol struct{}

func (httpProtocol) Name() string { return "http" }

func (httpProtocol) framed() bool { return true }

func (httpProtocol) requestShape() request { return &httpRequest{} }

func (httpProtocol) supports(b Behavior) error {
	switch b.act.family() {
	case familyListener, familyConnection, familyTimer, familyStream:
		// Stream behaviors act on the client's side (streamconn.go).
		return nil
	case familyRequest:
		if _, ok := b.act.(truncateRows); ok {
			return &UnsupportedError{Behavior: b.String(), Protocol: "http", Reason: "HTTP answers have no rows; use TruncateResponse"}
		}
		if e, ok := b.act.(errorReply); ok && e.reply.protocol() != "http" {
			return &UnsupportedError{Behavior: b.String(), Protocol: "http", Reason: "the reply is not an HTTP response; use HTTPStatus"}
		}
		return nil
	}
	return nil
}

func (httpProtocol) relay(c *conn) { newHTTPRelay(c).run() }

// WithFaultHeader lets each HTTP request choose a fault for itself with a
// request header called name, so that parallel tests can share one proxy.
// The proxy removes the header before the request goes upstream. Its value
// is a comma-separated list of:
//
//	status=CODE           answer with HTTP status CODE (Error(HTTPStatus(CODE)))
//	retry-after=SECONDS   with status: add a Retry-After header
//	close                 with status: close the connection after the answer
//	delay-request=DUR     DelayRequest(DUR), DUR as time.ParseDuration reads it
//	delay-response=DUR    DelayResponse(DUR)
//	drop                  DropResponse()
//	abort                 Abort()
//	truncate=N            TruncateResponse(N)
//	slow=BYTES_PER_SEC    SlowResponse(BYTES_PER_SEC)
//
// such as "X-Faults: status=503, retry-after=2". A value that cannot be
// read is answered with 400 Bad Request, naming the problem. Faults chosen
// this way are counted and recorded like any other. It applies to
// [HTTP] proxies; name must not be empty.
func WithFaultHeader(name string) Option {
	return optionFunc(func(c *config) {
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			c.fail(invalid("WithFaultHeader", name, "invalid header name"))
			return
		}
		c.faultHeader = name
	})
}

// parseFaultHeader reads the value of the in-band fault header into
// behaviors.
func parseFaultHeader(value string) ([]Behavior, error) {
	var bs []Behavior
	var items []string // the item each of bs comes from, for errors
	var reply *HTTPReply
	var replyItem string
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		key, arg, _ := strings.Cut(item, "=")
		key, arg = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(arg)
		var b Behavior
		switch key {
		case "status":
			code, err := strconv.Atoi(arg)
			if err != nil {
				return nil, fmt.Errorf("status %q: not a number", arg)
			}
			r := HTTPStatus(code)
			reply, replyItem = &r, item
			continue
		case "retry-after", "close":
			if reply == nil {
				return nil, fmt.Errorf("%s needs a status before it", key)
			}
			if key == "close" {
				*reply = reply.CloseConnection()
			} else {
				*reply = reply.Header("Retry-After", arg)
			}
			continue
		case "delay-request", "delay-response":
			d, err := time.ParseDuration(arg)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", key, err)
			}
			if key == "delay-request" {
				b = DelayRequest(d)
			} else {
				b = DelayResponse(d)
			}
		case "drop":
			b = DropResponse()
		case "abort":
			b = Abort()
		case "truncate", "slow":
			n, err := strconv.ParseInt(arg, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s %q: not a number", key, arg)
			}
			if key == "truncate" {
				b = TruncateResponse(n)
			} else {
				b = SlowResponse(n)
			}
		default:
			return nil, fmt.Errorf("unknown fault %q", key)
		}
		bs, items = append(bs, b), append(items, item)
	}
	if reply != nil {
		bs, items = append(bs, Error(*reply)), append(items, replyItem)
	}
	for i, b := range bs {
		var ie *InvalidError
		switch {
		case errors.As(b.err, &ie):
			return nil, fmt.Errorf("%s: %s", items[i], ie.Reason)
		case b.err != nil:
			return nil, b.err
		}
	}
	return bs, nil
}

// httpRequest is what matchers see of an HTTP request: its method, path
// and headers, for [Method], [Path] and [Header].
type httpRequest struct {
	method string
	target string // as sent, with the query
	path   string // without the query
	header func(name string) (string, bool)
}

// summary is the request line without its version: "GET /api/x?y=1".
func (r *httpRequest) summary() string { return capSummary(r.method + " " + r.target) }

func (r *httpRequest) httpMethod() string { return r.method }

func (r *httpRequest) httpPath() string { return r.path }

func (r *httpRequest) httpHeader(name string) (string, bool) {
	if r.header == nil {
		return "", false
	}
	return r.header(name)
}

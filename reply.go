package faults

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// A Reply is what a protocol-aware proxy answers in place of the server,
// for [Error]. Replies are made per protocol: [HTTPStatus] for HTTP.
type Reply interface {
	// A reply describes itself through these unexported methods, so that
	// the code shared by all protocols never looks at its concrete type:
	// only the relay of its protocol does, to encode it.

	// protocol is the name of the protocol the reply is written in, the
	// Name of the [Protocol] whose proxies accept it.
	protocol() string

	// check reports what is wrong with the reply, or "" if it can be
	// sent as it is. [Error] refuses a reply whose check is not "".
	check() string

	// refused is the value an [*InvalidError] names when check is not
	// "": the part of the reply a user chose, such as an HTTP status.
	refused() any

	// moment is when the reply is due on the wire. A relay answers with
	// it only at that moment, and keeps the rules of other moments out
	// of its decision.
	moment() replyMoment

	// endsConnection reports whether the proxy closes the connection
	// once it has written the reply, as a server does after it.
	endsConnection() bool

	String() string
}

// replyMoment says when a reply is due on the wire, so that a relay can
// tell the rules it decides at each point of a connection apart.
type replyMoment uint8

const (
	// momentRequest: in answer to a request (an HTTP request, a Redis
	// command, a SQL statement), which then never reaches the server.
	momentRequest replyMoment = iota
	// momentGreeting: in place of the server's greeting, before the
	// client has said anything.
	momentGreeting
	// momentLogin: in answer to the client's login (its handshake
	// response).
	momentLogin
)

// HTTPReply is an HTTP response the proxy writes in place of the server's.
// Make one with [HTTPStatus] and refine it with its methods, each of which
// returns a modified copy.
type HTTPReply struct {
	status int
	header map[string]string
	body   string
	close  bool
}

// HTTPStatus returns a reply with status code, a short text body naming
// the status, and the connection kept open. code must be in [200, 999]:
// a 1xx response is interim, and a client reading one waits on for the
// final response.
func HTTPStatus(code int) HTTPReply {
	return HTTPReply{status: code, body: httpDefaultBody(code)}
}

// httpDefaultBody is the body of HTTPStatus(code), such as "503 Service
// Unavailable (injected by faults)\n".
func httpDefaultBody(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code) + " (injected by faults)\n"
}

// Header returns r with header name set to value, such as
// HTTPStatus(429).Header("Retry-After", "1"). Content-Length and
// Connection are managed by the proxy and cannot be set.
func (r HTTPReply) Header(name, value string) HTTPReply {
	h := make(map[string]string, len(r.header)+1)
	for k, v := range r.header {
		h[k] = v
	}
	h[http.CanonicalHeaderKey(name)] = value
	r.header = h
	return r
}

// Body returns r with body as its body.
func (r HTTPReply) Body(body string) HTTPReply {
	r.body = body
	return r
}

// CloseConnection returns r sent with "Connection: close", after which the
// proxy closes the connection, as a server shedding load does.
func (r HTTPReply) CloseConnection() HTTPReply {
	r.close = true
	return r
}

func (HTTPReply) protocol() string { return "http" }

func (r HTTPReply) refused() any { return r.status }

// moment is always momentRequest: HTTP has no handshake.
func (HTTPReply) moment() replyMoment { return momentRequest }

func (r HTTPReply) endsConnection() bool { return r.close }

func (r HTTPReply) String() string {
	s := fmt.Sprintf("HTTPStatus(%d)", r.status)
	for _, k := range r.headerNames() {
		s += fmt.Sprintf(".Header(%q, %q)", k, r.header[k])
	}
	if r.body != httpDefaultBody(r.status) {
		s += fmt.Sprintf(".Body(%q)", r.body)
	}
	if r.close {
		s += ".CloseConnection()"
	}
	return s
}

func (r HTTPReply) headerNames() []string {
	names := make([]string, 0, len(r.header))
	for k := range r.header {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// check reports what is wrong with r, or "".
func (r HTTPReply) check() string {
	switch {
	case r.status == 101:
		return "101 Switching Protocols cannot be injected"
	case r.status < 100 || r.status > 999:
		return "status must be in [200, 999]"
	case r.status < 200:
		return "a 1xx response is interim: the client would wait on for the final one"
	}
	for k, v := range r.header {
		switch {
		case k == "Content-Length" || k == "Connection" || k == "Transfer-Encoding":
			return k + " is set by the proxy"
		case k == "" || strings.ContainsAny(k, " \t\r\n:") || strings.ContainsAny(v, "\r\n"):
			return fmt.Sprintf("invalid header %q: %q", k, v)
		}
	}
	return ""
}

// encode writes r as an HTTP/1.1 response to a request made with method.
func (r HTTPReply) encode(method string) []byte {
	var b strings.Builder
	text := http.StatusText(r.status)
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", r.status, text)
	for _, k := range r.headerNames() {
		fmt.Fprintf(&b, "%s: %s\r\n", k, r.header[k])
	}
	if _, ok := r.header["Content-Type"]; !ok && r.body != "" {
		b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	}
	noBody := r.status < 200 || r.status == 204 || r.status == 304
	if !noBody {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
	}
	if r.close {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	if !noBody && method != "HEAD" {
		b.WriteString(r.body)
	}
	return []byte(b.String())
}

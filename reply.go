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
	// protocol is the name of the protocol the reply is written in.
	protocol() string
	String() string
}

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
	return HTTPReply{status: code, body: strconv.Itoa(code) + " " + http.StatusText(code) + " (injected by faults)\n"}
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

func (r HTTPReply) String() string {
	s := fmt.Sprintf("HTTPStatus(%d)", r.status)
	for _, k := range r.headerNames() {
		s += fmt.Sprintf(".Header(%q, %q)", k, r.header[k])
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

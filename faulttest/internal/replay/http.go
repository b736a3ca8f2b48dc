package replay

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/gofaults/faults/internal/split"
)

// httpProtocol replays HTTP/1.x: each request head, with its body, is
// owed a final response, whose outcome is its status code.
type httpProtocol struct{}

func (httpProtocol) name() string                   { return "http" }
func (httpProtocol) splitter() split.Splitter       { return split.HTTP() }
func (httpProtocol) newSession(Credentials) session { return httpSession{} }

type httpSession struct{}

// client: a message that starts with a request line is a request; one
// that does not is the body of the request before, sent once the server
// said 100 Continue.
func (httpSession) client(msg []byte) (msgKind, string, any) {
	line, _, _ := bytes.Cut(msg, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) != 3 || !bytes.HasPrefix(fields[2], []byte("HTTP/")) {
		return msgPlain, "", nil
	}
	return msgRequest, summarize(string(fields[0]) + " " + string(fields[1])), nil
}

func (httpSession) sent(*Step) {}

// server: a final response ends an answer; an interim one (1xx but 101)
// does not.
func (httpSession) server(head []byte, _ int) (bool, string, error) {
	line, _, _ := bytes.Cut(head, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 2 || !bytes.HasPrefix(fields[0], []byte("HTTP/")) {
		return false, "", fmt.Errorf("not an HTTP response: %q", clip(line))
	}
	code, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return false, "", fmt.Errorf("status %q", clip(fields[1]))
	}
	if code >= 100 && code < 200 && code != 101 {
		return false, "", nil
	}
	return true, strconv.Itoa(code), nil
}

func (httpSession) login(*liveConn, *Script) error { return nil }
func (httpSession) rewrite(b []byte) []byte        { return b }

// maxSummary bounds a request's summary, in bytes.
const maxSummary = 120

// summarize cuts s to maxSummary bytes.
func summarize(s string) string {
	if len(s) > maxSummary {
		return s[:maxSummary-3] + "..."
	}
	return s
}

// clip cuts b for an error message.
func clip(b []byte) []byte { return b[:min(len(b), 40)] }
